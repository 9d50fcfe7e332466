//! The GPT Actions view of the backend's spec: what `<prefix>/openapi.json` publishes, and the
//! rules [`check`] enforces (`sniper gpts check`).
//!
//! ChatGPT's Actions importer refuses a document with more than [`MAX_OPERATIONS`] operations,
//! an `operationId` outside `^[A-Za-z0-9_-]{1,64}$`, an operation summary/description over
//! [`MAX_DESCRIPTION`] characters, or a parameter description over [`MAX_PARAM_DESCRIPTION`];
//! it skips `$ref` parameters. [`publish`] turns any backend spec into one it accepts.

use std::collections::{BTreeMap, HashSet};

use serde_json::{Map, Value, json};

use crate::discovery::matcher::{MatchPrefs, match_all};
use crate::discovery::openapi::{SpecLimits, parse_spec};
use crate::module_id::ModuleId;

/// Most operations a GPT Action may hold.
pub const MAX_OPERATIONS: usize = 30;
/// Longest operation `summary` / `description`, in characters.
pub const MAX_DESCRIPTION: usize = 300;
/// Longest parameter `description`, in characters.
pub const MAX_PARAM_DESCRIPTION: usize = 700;
/// Longest `operationId`.
pub const MAX_OPERATION_ID: usize = 64;
/// Name of the security scheme added when the gateway key is set.
pub const SCHEME_NAME: &str = "gatewayKey";
/// Path segments that mark a route as not meant for a GPT (dropped from the default ranking).
const HIDDEN_WORDS: [&str; 6] = ["test", "debug", "internal", "metrics", "admin", "private"];
/// HTTP methods that are operations in a path item.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];
/// `$ref` hops followed when inlining a parameter.
const MAX_REF_HOPS: usize = 8;

/// One published operation: upper-case method and the path template (`/a/{symbol}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedOp {
    pub method: String,
    pub path: String,
}

impl PublishedOp {
    /// Whether a request `method` on the concrete `path` (prefix stripped) is this operation.
    /// `{name}` matches one non-empty segment; `HEAD` matches a `GET` operation.
    pub fn matches(&self, method: &str, path: &str) -> bool {
        let method_ok = self.method == method || (method == "HEAD" && self.method == "GET");
        method_ok && path_matches(&self.path, path)
    }
}

fn path_matches(template: &str, path: &str) -> bool {
    let mut t = template.split('/');
    let mut p = path.split('/');
    loop {
        match (t.next(), p.next()) {
            (None, None) => return true,
            (Some(ts), Some(ps)) => {
                let var = ts.len() > 2 && ts.starts_with('{') && ts.ends_with('}');
                if var {
                    if ps.is_empty() {
                        return false;
                    }
                } else if ts != ps {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// What to publish.
#[derive(Debug, Clone, Default)]
pub struct PublishOptions {
    /// `GPTS_OPERATIONS`: operationIds or `METHOD /path`; empty = the default choice.
    pub operations: Vec<String>,
    /// A gateway key is required: add the security scheme and `security`.
    pub key_required: bool,
    /// Discovery preferences for choosing the five modules' routes first.
    pub prefs: Option<MatchPrefs>,
}

/// The rewritten spec (without `servers`, which depend on the request) and its operations.
#[derive(Debug, Clone)]
pub struct Published {
    pub doc: Value,
    pub ops: Vec<PublishedOp>,
    /// `GPTS_OPERATIONS` entries that named no operation (logged by the caller).
    pub unknown: Vec<String>,
}

impl Published {
    /// Whether a request is one of the published operations.
    pub fn allows(&self, method: &str, path: &str) -> bool {
        self.ops.iter().any(|op| op.matches(method, path))
    }

    /// The document with `servers` set to `servers_url`, serialised.
    pub fn render(&self, servers_url: &str) -> Vec<u8> {
        let mut doc = self.doc.clone();
        if let Some(obj) = doc.as_object_mut() {
            obj.insert("servers".to_owned(), json!([{ "url": servers_url }]));
        }
        serde_json::to_vec(&doc).unwrap_or_default()
    }
}

/// Why a spec cannot be published.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("the backend spec is not a JSON object")]
    NotAnObject,
    #[error("the backend spec is not OpenAPI 3 (GPT Actions need openapi 3.0 or 3.1)")]
    NotOpenApi3,
}

/// Builds the Actions document from the backend's spec bytes.
///
/// Chooses at most [`MAX_OPERATIONS`]: `opts.operations` when given, else the five modules'
/// discovered routes, then the rest ranked (GET first, then path, then method) without
/// test/debug/internal/metrics routes and deprecated ones. Every kept operation gets a valid
/// unique `operationId` (kept if already valid and unique, else derived from method + path),
/// clamped texts, inlined parameters (path-level ones merged in), and GETs are marked
/// `x-openai-isConsequential: false`.
pub fn publish(spec: &[u8], opts: &PublishOptions) -> Result<Published, PublishError> {
    let mut doc: Value = serde_json::from_slice(spec).map_err(|_| PublishError::NotAnObject)?;
    let version = doc
        .get("openapi")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if !version.starts_with("3.") {
        return Err(PublishError::NotOpenApi3);
    }
    let root = doc.clone();
    let Some(obj) = doc.as_object_mut() else {
        return Err(PublishError::NotAnObject);
    };
    let paths = match obj.remove("paths") {
        Some(Value::Object(p)) => p,
        _ => Map::new(),
    };

    // Every (method, path) in document order.
    let mut all: Vec<(String, String)> = Vec::new();
    for (path, item) in &paths {
        if let Some(item) = item.as_object() {
            for m in METHODS {
                if item.get(m).is_some_and(Value::is_object) {
                    all.push((m.to_ascii_uppercase(), path.clone()));
                }
            }
        }
    }
    let op_of = |method: &str, path: &str| -> Option<&Map<String, Value>> {
        paths
            .get(path)?
            .get(method.to_ascii_lowercase())?
            .as_object()
    };

    let mut chosen: Vec<(String, String)> = Vec::new();
    let mut unknown = Vec::new();
    if opts.operations.is_empty() {
        for (m, p) in module_routes(spec, opts.prefs.as_ref()) {
            if all.contains(&(m.clone(), p.clone())) && !chosen.contains(&(m.clone(), p.clone())) {
                chosen.push((m, p));
            }
        }
        let mut rest: Vec<&(String, String)> = all
            .iter()
            .filter(|k| !chosen.contains(k))
            .filter(|(m, p)| {
                let id = op_of(m, p)
                    .and_then(|o| o.get("operationId"))
                    .and_then(Value::as_str);
                !hidden(p, id)
                    && !op_of(m, p).is_some_and(|o| o.get("deprecated") == Some(&json!(true)))
            })
            .collect();
        rest.sort_by(|a, b| (a.0 != "GET", &a.1, &a.0).cmp(&(b.0 != "GET", &b.1, &b.0)));
        chosen.extend(rest.into_iter().cloned());
    } else {
        for want in &opts.operations {
            let want = want.trim();
            let hit = all.iter().find(|(m, p)| {
                op_of(m, p)
                    .and_then(|o| o.get("operationId"))
                    .and_then(Value::as_str)
                    == Some(want)
                    || want
                        .split_once(' ')
                        .is_some_and(|(wm, wp)| wm.eq_ignore_ascii_case(m) && wp.trim() == p)
            });
            match hit {
                Some(k) if !chosen.contains(k) => chosen.push(k.clone()),
                Some(_) => {}
                None => unknown.push(want.to_owned()),
            }
        }
    }
    chosen.truncate(MAX_OPERATIONS);

    // operationIds: keep valid unique ones, derive the rest; deterministic.
    let mut used: HashSet<String> = HashSet::new();
    let mut ids: Vec<String> = Vec::with_capacity(chosen.len());
    let originals: Vec<Option<String>> = chosen
        .iter()
        .map(|(m, p)| {
            op_of(m, p)
                .and_then(|o| o.get("operationId"))
                .and_then(Value::as_str)
                .filter(|id| valid_operation_id(id))
                .map(str::to_owned)
        })
        .collect();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for id in originals.iter().flatten() {
        *counts.entry(id).or_default() += 1;
    }
    for ((m, p), orig) in chosen.iter().zip(&originals) {
        let id = match orig {
            Some(id) if counts.get(id.as_str()) == Some(&1) => id.clone(),
            _ => derive_operation_id(m, p),
        };
        let id = if used.contains(&id) {
            with_hash(&id, m, p)
        } else {
            id
        };
        used.insert(id.clone());
        ids.push(id);
    }

    let mut out_paths = Map::new();
    for ((m, p), id) in chosen.iter().zip(ids) {
        let Some(item) = paths.get(p).and_then(Value::as_object) else {
            continue;
        };
        let Some(mut op) = op_of(m, p).cloned() else {
            continue;
        };
        op.insert("operationId".into(), Value::String(id));
        for key in ["summary", "description"] {
            if let Some(Value::String(s)) = op.get_mut(key) {
                *s = clamp(s, MAX_DESCRIPTION);
            }
        }
        let params = merge_params(&root, item.get("parameters"), op.get("parameters"));
        if params.is_empty() {
            op.remove("parameters");
        } else {
            op.insert("parameters".into(), Value::Array(params));
        }
        if opts.key_required {
            // The backend's own schemes are replaced by the gateway's.
            op.remove("security");
        }
        if m == "GET" {
            op.insert("x-openai-isConsequential".into(), Value::Bool(false));
        }
        let entry = out_paths
            .entry(p.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(e) = entry.as_object_mut() {
            e.insert(m.to_ascii_lowercase(), Value::Object(op));
        }
    }
    obj.insert("paths".into(), Value::Object(out_paths));
    if opts.key_required {
        let comps = obj
            .entry("components")
            .or_insert_with(|| Value::Object(Map::new()));
        if !comps.is_object() {
            *comps = Value::Object(Map::new());
        }
        if let Some(c) = comps.as_object_mut() {
            c.insert(
                "securitySchemes".into(),
                json!({ SCHEME_NAME: {"type": "http", "scheme": "bearer"} }),
            );
        }
        obj.insert("security".into(), json!([{ SCHEME_NAME: [] }]));
    }
    obj.remove("servers");
    let ops = chosen
        .into_iter()
        .map(|(method, path)| PublishedOp { method, path })
        .collect();
    Ok(Published { doc, ops, unknown })
}

/// The five modules' chosen `(METHOD, path key)` by discovery's matcher, in module order.
fn module_routes(spec: &[u8], prefs: Option<&MatchPrefs>) -> Vec<(String, String)> {
    let Ok(parsed) = parse_spec(spec, &SpecLimits::default()) else {
        return Vec::new();
    };
    let default;
    let prefs = match prefs {
        Some(p) => p,
        None => {
            default = MatchPrefs::default();
            &default
        }
    };
    let report = match_all(&parsed, prefs);
    ModuleId::ALL
        .into_iter()
        .filter_map(|m| {
            let t = report.chosen(m)?;
            let path = t.path.strip_prefix(parsed.prefix.as_str())?;
            Some((t.method.to_ascii_uppercase(), path.to_owned()))
        })
        .collect()
}

/// Not published: what discovery calls a decoy (one rule for both,
/// [`crate::discovery::matcher::decoy_word`], path and operationId), or a hidden word in the path.
fn hidden(path: &str, operation_id: Option<&str>) -> bool {
    crate::discovery::matcher::decoy_word(path, operation_id).is_some()
        || path
            .split(['/', '-', '_', '.'])
            .any(|w| HIDDEN_WORDS.iter().any(|h| w.eq_ignore_ascii_case(h)))
}

/// Whether `id` satisfies `^[A-Za-z0-9_-]{1,64}$`.
pub fn valid_operation_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_OPERATION_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `get_advanced_spot_orderbook_symbol` from `GET /advanced/spot/orderbook/{symbol}`: lower-case
/// method, then the path's alphanumeric runs joined by `_`; over 64 characters it is cut and
/// ends with a hash of method + path so distinct routes stay distinct.
pub fn derive_operation_id(method: &str, path: &str) -> String {
    let mut id = method.to_ascii_lowercase();
    for word in path.split(|c: char| !c.is_ascii_alphanumeric()) {
        if !word.is_empty() {
            id.push('_');
            id.push_str(word);
        }
    }
    if id.len() > MAX_OPERATION_ID {
        id.truncate(MAX_OPERATION_ID - 9);
        return with_hash(&id, method, path);
    }
    id
}

/// `base` (cut to leave room) + `_` + 8 hex digits of FNV-1a over method + path.
fn with_hash(base: &str, method: &str, path: &str) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for b in method.bytes().chain([b' ']).chain(path.bytes()) {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    let mut s: String = base.chars().take(MAX_OPERATION_ID - 9).collect();
    s.push_str(&format!("_{h:08x}"));
    s
}

/// `s` cut to at most `max` characters on a word boundary, ending with `…` when cut.
pub fn clamp(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let head: String = s.chars().take(max.saturating_sub(1)).collect();
    let cut = match head.rfind(char::is_whitespace) {
        Some(i) if i > max / 2 => &head[..i],
        _ => head.as_str(),
    };
    let mut out = cut.trim_end().to_owned();
    out.push('…');
    out
}

/// Path-level and operation-level parameters, `$ref`s resolved, operation ones overriding by
/// (name, in); parameter descriptions clamped. Unresolvable references are dropped.
fn merge_params(root: &Value, path_level: Option<&Value>, op_level: Option<&Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for list in [path_level, op_level].into_iter().flatten() {
        let Some(list) = list.as_array() else {
            continue;
        };
        for p in list {
            let Some(mut p) = resolve(root, p).cloned() else {
                continue;
            };
            if let Some(Value::String(d)) = p.get_mut("description") {
                *d = clamp(d, MAX_PARAM_DESCRIPTION);
            }
            let key = |v: &Value| (v.get("name").cloned(), v.get("in").cloned());
            let k = key(&p);
            out.retain(|q| key(q) != k);
            out.push(p);
        }
    }
    out
}

/// Follows a local `$ref` chain (`#/components/parameters/X`).
fn resolve<'a>(root: &'a Value, mut v: &'a Value) -> Option<&'a Value> {
    for _ in 0..MAX_REF_HOPS {
        let Some(r) = v.get("$ref").and_then(Value::as_str) else {
            return Some(v);
        };
        v = root.pointer(r.strip_prefix('#')?)?;
    }
    None
}

/// Every rule of GPT Actions `doc` breaks, one human-readable line each (empty = importable).
pub fn check(doc: &Value) -> Vec<String> {
    let mut v = Vec::new();
    let Some(root) = doc.as_object() else {
        return vec!["the document is not a JSON object".into()];
    };
    match root.get("openapi").and_then(Value::as_str) {
        Some(s) if s.starts_with("3.0") || s.starts_with("3.1") => {}
        other => v.push(format!("openapi must be 3.0.x or 3.1.x (got {other:?})")),
    }
    match root.get("servers").and_then(Value::as_array) {
        Some(list) if !list.is_empty() => {
            for s in list {
                let url = s.get("url").and_then(Value::as_str).unwrap_or_default();
                if !url.starts_with("https://") {
                    v.push(format!(
                        "servers url must be an absolute https:// URL (got {url:?})"
                    ));
                }
            }
        }
        _ => v.push("servers is missing or empty: the Action would not know where to call".into()),
    }
    let schemes = root
        .get("components")
        .and_then(|c| c.get("securitySchemes"))
        .and_then(Value::as_object);
    match root.get("security") {
        None => {}
        Some(Value::Array(reqs)) => {
            for r in reqs {
                for name in r.as_object().into_iter().flat_map(|o| o.keys()) {
                    if !schemes.is_some_and(|s| s.contains_key(name)) {
                        v.push(format!(
                            "security names {name:?}, which is not in components.securitySchemes"
                        ));
                    }
                }
            }
        }
        Some(_) => v.push("security must be a list of requirement objects".into()),
    }
    let mut ids: HashSet<&str> = HashSet::new();
    let mut count = 0usize;
    let paths = root.get("paths").and_then(Value::as_object);
    for (path, item) in paths.into_iter().flatten() {
        let Some(item) = item.as_object() else {
            continue;
        };
        if let Some(ps) = item.get("parameters") {
            check_params(&mut v, &format!("{path} (path level)"), ps);
        }
        for m in METHODS {
            let Some(op) = item.get(m).and_then(Value::as_object) else {
                continue;
            };
            count += 1;
            let here = format!("{} {path}", m.to_ascii_uppercase());
            match op.get("operationId").and_then(Value::as_str) {
                None => v.push(format!("{here}: no operationId")),
                Some(id) if !valid_operation_id(id) => v.push(format!(
                    "{here}: operationId {id:?} does not match ^[A-Za-z0-9_-]{{1,64}}$"
                )),
                Some(id) => {
                    if !ids.insert(id) {
                        v.push(format!("{here}: operationId {id:?} is not unique"));
                    }
                }
            }
            for key in ["summary", "description"] {
                if let Some(s) = op.get(key).and_then(Value::as_str) {
                    let n = s.chars().count();
                    if n > MAX_DESCRIPTION {
                        v.push(format!(
                            "{here}: {key} has {n} characters (max {MAX_DESCRIPTION})"
                        ));
                    }
                }
            }
            if let Some(ps) = op.get("parameters") {
                check_params(&mut v, &here, ps);
            }
        }
    }
    if count > MAX_OPERATIONS {
        v.push(format!("{count} operations (max {MAX_OPERATIONS})"));
    }
    v
}

fn check_params(v: &mut Vec<String>, here: &str, ps: &Value) {
    for p in ps.as_array().into_iter().flatten() {
        if p.get("$ref").is_some() {
            v.push(format!(
                "{here}: parameter is a $ref (GPT Actions skip referenced parameters)"
            ));
            continue;
        }
        let name = p.get("name").and_then(Value::as_str).unwrap_or("?");
        if let Some(d) = p.get("description").and_then(Value::as_str) {
            let n = d.chars().count();
            if n > MAX_PARAM_DESCRIPTION {
                v.push(format!(
                    "{here}: parameter {name:?} description has {n} characters (max {MAX_PARAM_DESCRIPTION})"
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(paths: Value) -> Vec<u8> {
        serde_json::to_vec(
            &json!({"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": paths}),
        )
        .unwrap()
    }

    fn ops(n: usize) -> Value {
        let mut m = Map::new();
        for i in 0..n {
            m.insert(
                format!("/r{i:02}"),
                json!({"get": {"operationId": format!("op{i}")}}),
            );
        }
        Value::Object(m)
    }

    #[test]
    fn path_templates_match_one_segment_per_variable() {
        let op = PublishedOp {
            method: "GET".into(),
            path: "/a/{s}/b".into(),
        };
        assert!(op.matches("GET", "/a/SOL/b"));
        assert!(op.matches("HEAD", "/a/SOL/b"));
        assert!(!op.matches("POST", "/a/SOL/b"));
        assert!(!op.matches("GET", "/a//b"));
        assert!(!op.matches("GET", "/a/SOL/b/c"));
        assert!(!op.matches("GET", "/a/SOL"));
    }

    #[test]
    fn at_most_thirty_operations_and_hidden_routes_dropped() {
        let mut paths = ops(40);
        paths["/debug/routes"] = json!({"get": {}});
        paths["/advanced/test-simple"] = json!({"get": {}});
        let p = publish(&spec(paths), &PublishOptions::default()).unwrap();
        assert_eq!(p.ops.len(), MAX_OPERATIONS);
        assert!(!p.allows("GET", "/debug/routes"));
        assert!(!p.allows("GET", "/advanced/test-simple"));
        assert!(check(&serde_json::from_slice(&p.render("https://gw/gpts")).unwrap()).is_empty());
    }

    #[test]
    fn explicit_operations_by_id_or_method_path() {
        let opts = PublishOptions {
            operations: vec!["op3".into(), "get /r07".into(), "nope".into()],
            ..Default::default()
        };
        let p = publish(&spec(ops(10)), &opts).unwrap();
        let paths: Vec<&str> = p.ops.iter().map(|o| o.path.as_str()).collect();
        assert_eq!(paths, ["/r03", "/r07"]);
        assert_eq!(p.unknown, ["nope"]);
    }

    #[test]
    fn operation_ids_fixed_unique_and_stable() {
        let long = "x".repeat(80);
        let paths = json!({
            "/a/{b}": {"get": {"operationId": long}},
            "/a-b": {"get": {"operationId": "dup"}},
            "/a_b": {"get": {"operationId": "dup"}},
            "/c": {"get": {"operationId": "has space"}},
        });
        let p1 = publish(&spec(paths.clone()), &PublishOptions::default()).unwrap();
        let p2 = publish(&spec(paths), &PublishOptions::default()).unwrap();
        assert_eq!(p1.doc, p2.doc);
        let doc = p1.render("https://gw/gpts");
        let doc: Value = serde_json::from_slice(&doc).unwrap();
        assert_eq!(check(&doc), Vec::<String>::new());
        assert_eq!(doc["paths"]["/c"]["get"]["operationId"], "get_c");
        // All three derive `get_a_b`: the first in rank order keeps it, the others get a hash.
        let id = |p: &str| {
            doc["paths"][p]["get"]["operationId"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        let three = [id("/a-b"), id("/a/{b}"), id("/a_b")];
        assert_eq!(three[0], "get_a_b");
        assert!(three[1].starts_with("get_a_b_") && three[2].starts_with("get_a_b_"));
        assert_ne!(three[1], three[2]);
        let very_long = derive_operation_id("GET", &format!("/{}", "seg/".repeat(30)));
        assert!(valid_operation_id(&very_long), "{very_long}");
    }

    #[test]
    fn texts_clamped_refs_inlined_key_scheme_added() {
        let word = "word ".repeat(200);
        let doc = json!({
            "openapi": "3.0.3",
            "paths": {"/x/{id}": {
                "parameters": [{"$ref": "#/components/parameters/Id"}],
                "get": {"summary": word, "description": word,
                        "parameters": [{"name": "q", "in": "query", "description": word.repeat(2)}]},
                "post": {"security": [{"backend": []}]}
            }},
            "components": {"parameters": {"Id": {"name": "id", "in": "path", "required": true}}}
        });
        let opts = PublishOptions {
            key_required: true,
            ..Default::default()
        };
        let p = publish(&serde_json::to_vec(&doc).unwrap(), &opts).unwrap();
        let out: Value = serde_json::from_slice(&p.render("https://gw/gpts")).unwrap();
        assert_eq!(check(&out), Vec::<String>::new());
        let get = &out["paths"]["/x/{id}"]["get"];
        let summary = get["summary"].as_str().unwrap();
        assert!(summary.chars().count() <= MAX_DESCRIPTION && summary.ends_with("word…"));
        assert_eq!(get["parameters"][0]["name"], "id");
        assert_eq!(get["x-openai-isConsequential"], false);
        assert!(
            out["paths"]["/x/{id}"]["post"]
                .get("x-openai-isConsequential")
                .is_none()
        );
        assert!(out["paths"]["/x/{id}"]["post"].get("security").is_none());
        assert_eq!(out["security"], json!([{SCHEME_NAME: []}]));
        assert_eq!(
            out["components"]["securitySchemes"][SCHEME_NAME]["scheme"],
            "bearer"
        );
    }

    #[test]
    fn check_names_each_violation() {
        let doc = json!({
            "openapi": "3.1.0",
            "servers": [{"url": "http://gw"}],
            "security": {"k": []},
            "paths": {"/a": {"get": {"operationId": "bad id", "description": "d".repeat(301),
                "parameters": [{"$ref": "#/x"}]}},
                      "/b": {"get": {"operationId": "bad id"}}}
        });
        let v = check(&doc);
        let all = v.join("\n");
        for needle in [
            "https://",
            "security must be a list",
            "does not match",
            "301 characters",
            "$ref",
        ] {
            assert!(all.contains(needle), "{needle} missing in {all}");
        }
        assert!(
            check(&json!({"openapi": "2.0"}))
                .iter()
                .any(|l| l.contains("3.0.x"))
        );
    }
}
