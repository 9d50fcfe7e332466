//! OpenAPI 3.0 / 3.1 and Swagger 2.0 parsing: the backend's own description of its routes, reduced
//! to the few facts discovery needs (GET operations, their parameters, a relative prefix).
//!
//! The document comes from the backend we are about to call, so it is treated as untrusted input:
//! its size and nesting depth are checked on the raw bytes *before* `serde_json` builds a tree, every
//! part is walked by hand so that a broken part is skipped (and reported in [`Spec::ignored`]) instead
//! of failing the whole document, local `$ref`s are followed with a bounded chain, and nothing in it
//! can move sniper off its configured origin: absolute `servers`, Swagger `host`, and hostile path
//! keys are ignored and reported.

use percent_encoding::percent_decode_str;
use serde::Serialize;
use serde_json::{Map, Value};

/// Bounds applied to a fetched document before it is parsed.
///
/// They exist because the document is served by the backend itself: a broken or hostile build could
/// send a 50 MB body or `[[[[…` nested 100 000 deep, and discovery must refuse it fast instead of
/// allocating or overflowing the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecLimits {
    /// Largest accepted document, in bytes.
    pub max_bytes: usize,
    /// Deepest accepted nesting of JSON arrays/objects.
    pub max_depth: usize,
}

impl Default for SpecLimits {
    /// 8 MiB (the largest real spec seen is 688 KB) and depth 64 (the real specs nest at most 19
    /// deep; serde_json itself would stop at 128).
    fn default() -> Self {
        SpecLimits {
            max_bytes: 8 * 1024 * 1024,
            max_depth: 64,
        }
    }
}

/// Why a document was refused as a whole. Anything less severe is skipped and listed in
/// [`Spec::ignored`] instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("document is {size} bytes, larger than the {max}-byte cap")]
    TooLarge { size: usize, max: usize },
    #[error("document nests deeper than {max} levels")]
    TooDeep { max: usize },
    #[error("document is not JSON: {0}")]
    NotJson(String),
    #[error("document is JSON but not an object")]
    NotAnObject,
    #[error("document has none of `openapi`, `swagger` or `paths`: not an OpenAPI document")]
    NotOpenApi,
}

/// Which dialect the document declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SpecVersion {
    Swagger2,
    OpenApi30,
    OpenApi31,
    /// No (or an unrecognised) version field, but a `paths` object: parsed as OpenAPI 3.
    Unknown,
}

/// A part of the document that was skipped, and why; the lead logs these once per document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ignored {
    /// What was skipped (`servers[0] https://prod.example`, `path //evil/x`…).
    pub what: String,
    /// Why.
    pub why: String,
}

/// Where a parameter goes, as the spec says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamLocation {
    Path,
    Query,
    Header,
    Cookie,
    /// Swagger 2 `body` / `formData`: sniper never sends a body.
    Body,
}

/// One parameter of an operation, after `$ref` resolution and path-level merging.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpecParam {
    pub name: String,
    pub location: ParamLocation,
    pub required: bool,
    /// `string`, `integer`… (`schema.type` in OpenAPI 3, `type` in Swagger 2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_type: Option<String>,
    /// `enum` values rendered as strings.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub enum_values: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `example` / `examples` from the parameter and its schema, rendered as strings.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<String>,
}

/// One operation (method + path) of the document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Operation {
    /// Upper-case HTTP method.
    pub method: String,
    /// The path key as written in the document (without the server/basePath prefix).
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    pub params: Vec<SpecParam>,
    /// The operation requires a request body (OpenAPI 3 `requestBody.required`).
    pub body_required: bool,
    pub deprecated: bool,
}

/// The parsed document: what discovery matches modules against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Spec {
    pub version: SpecVersion,
    /// Relative prefix from a relative `servers[].url` or Swagger `basePath` (`/py`), or empty.
    /// Always starts with `/` when non-empty and never ends with one.
    pub prefix: String,
    pub operations: Vec<Operation>,
    pub ignored: Vec<Ignored>,
}

/// How many `$ref` hops are followed before giving up (cycles and long chains alike).
const MAX_REF_HOPS: usize = 8;
/// How many ignored parts are listed; the rest are counted in one final entry.
const MAX_IGNORED: usize = 200;
/// How many examples are kept per parameter.
const MAX_EXAMPLES: usize = 8;
/// HTTP methods that are operations in a path item.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Parse an OpenAPI 3.0/3.1 or Swagger 2.0 document.
///
/// Refuses the whole document only when it is too large, too deep, not JSON, not an object or not
/// OpenAPI at all; every other defect skips the broken part and is listed in [`Spec::ignored`].
pub fn parse_spec(bytes: &[u8], limits: &SpecLimits) -> Result<Spec, SpecError> {
    if bytes.len() > limits.max_bytes {
        return Err(SpecError::TooLarge {
            size: bytes.len(),
            max: limits.max_bytes,
        });
    }
    check_depth(bytes, limits.max_depth)?;
    let doc: Value = serde_json::from_slice::<Pruned>(bytes)
        .map_err(|e| SpecError::NotJson(e.to_string()))?
        .0;
    let root = doc.as_object().ok_or(SpecError::NotAnObject)?;
    let mut p = Parser {
        root: &doc,
        ignored: Vec::new(),
        dropped: 0,
    };
    let version = version_of(root);
    if version == SpecVersion::Unknown && !root.contains_key("paths") {
        return Err(SpecError::NotOpenApi);
    }
    let prefix = p.prefix(root, version);
    let operations = match root.get("paths") {
        None => {
            p.ignore("paths", "missing: the document lists no routes");
            Vec::new()
        }
        Some(Value::Object(paths)) => p.paths(paths),
        Some(_) => {
            p.ignore("paths", "not an object");
            Vec::new()
        }
    };
    let mut ignored = p.ignored;
    if p.dropped > 0 {
        ignored.push(Ignored {
            what: format!("{} more", p.dropped),
            why: "too many ignored parts to list".into(),
        });
    }
    Ok(Spec {
        version,
        prefix,
        operations,
        ignored,
    })
}

/// Object keys whose values discovery never reads; they are skipped while deserializing instead
/// of being built into the tree. `responses` alone is 86% of the largest real spec (594 of 688 KB),
/// so skipping it is most of the parse time.
const PRUNED_KEYS: [&str; 3] = ["responses", "content", "securitySchemes"];

/// A `serde_json::Value` built without the subtrees under [`PRUNED_KEYS`]. serde_json's own
/// recursion limit still applies (it lives in the deserializer, not in `Value`).
struct Pruned(Value);

impl<'de> serde::Deserialize<'de> for Pruned {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(PrunedVisitor).map(Pruned)
    }
}

struct PrunedVisitor;

impl<'de> serde::de::Visitor<'de> for PrunedVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(Pruned(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if PRUNED_KEYS.contains(&key.as_ref()) {
                map.next_value::<serde::de::IgnoredAny>()?;
            } else {
                let Pruned(v) = map.next_value()?;
                out.insert(key.into_owned(), v);
            }
        }
        Ok(Value::Object(out))
    }
}

/// Refuse documents nested deeper than `max` without building anything: one pass over the bytes
/// counting `[`/`{` outside strings. Malformed JSON is left for serde_json to report.
fn check_depth(bytes: &[u8], max: usize) -> Result<(), SpecError> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in bytes {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return Err(SpecError::TooDeep { max });
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

fn version_of(root: &Map<String, Value>) -> SpecVersion {
    if let Some(v) = root.get("swagger").and_then(Value::as_str)
        && v.starts_with('2')
    {
        return SpecVersion::Swagger2;
    }
    match root.get("openapi").and_then(Value::as_str) {
        Some(v) if v.starts_with("3.0") => SpecVersion::OpenApi30,
        Some(v) if v.starts_with("3.1") => SpecVersion::OpenApi31,
        _ => SpecVersion::Unknown,
    }
}

/// Why a path key (or a relative prefix) must not be requested, or `None` when it is safe.
///
/// A safe key is a plain absolute path on our origin: it starts with one `/`, names no scheme or
/// host, and can neither climb (`..`, also percent-encoded in any case) nor smuggle a separator
/// (`\`, `%2f`, `%5c`) or a query/fragment.
pub fn hostile_path(key: &str) -> Option<&'static str> {
    if key.contains("://") {
        return Some("absolute URL: sniper only calls its configured origin");
    }
    if key.starts_with("//") {
        return Some("protocol-relative URL (`//host`): sniper only calls its configured origin");
    }
    if !key.starts_with('/') {
        return Some("does not start with `/`");
    }
    if key.contains('\\') {
        return Some("contains a backslash");
    }
    let lower = key.to_ascii_lowercase();
    if lower.contains("%2f") || lower.contains("%5c") {
        return Some("contains an encoded path separator (%2f/%5c)");
    }
    let decoded = percent_decode_str(key).decode_utf8_lossy();
    // Decode twice so that `%252e%252e` is caught as well.
    let twice = percent_decode_str(&decoded)
        .decode_utf8_lossy()
        .into_owned();
    for s in [key, decoded.as_ref(), twice.as_str()] {
        if s.split('/').any(|seg| seg == ".." || seg == ".") || s.contains("..") {
            return Some("contains `..` (path traversal)");
        }
    }
    if key.contains('?') || key.contains('#') {
        return Some("contains a query or fragment");
    }
    if key.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Some("contains whitespace or control characters");
    }
    None
}

/// Walks the document, collecting what it had to skip.
struct Parser<'a> {
    root: &'a Value,
    ignored: Vec<Ignored>,
    dropped: usize,
}

impl<'a> Parser<'a> {
    fn ignore(&mut self, what: impl Into<String>, why: impl Into<String>) {
        if self.ignored.len() < MAX_IGNORED {
            self.ignored.push(Ignored {
                what: what.into(),
                why: why.into(),
            });
        } else {
            self.dropped += 1;
        }
    }

    /// The relative prefix from `servers` (OpenAPI 3) or `basePath` (Swagger 2).
    fn prefix(&mut self, root: &Map<String, Value>, version: SpecVersion) -> String {
        let mut chosen: Option<String> = None;
        if version == SpecVersion::Swagger2 {
            if let Some(host) = root.get("host") {
                self.ignore(
                    format!("host {}", short(host)),
                    "Swagger `host` names another origin: sniper only calls its configured origin",
                );
            }
            match root.get("basePath") {
                None => {}
                Some(Value::String(bp)) => chosen = self.relative_prefix("basePath", bp),
                Some(_) => self.ignore("basePath", "not a string"),
            }
        }
        match root.get("servers") {
            None => {}
            Some(Value::Array(servers)) => {
                for (i, s) in servers.iter().enumerate() {
                    let what = format!("servers[{i}]");
                    let Some(url) = s.get("url").and_then(Value::as_str) else {
                        self.ignore(what, "no string `url`");
                        continue;
                    };
                    if chosen.is_some() {
                        self.ignore(
                            format!("{what} {url}"),
                            "a relative prefix was already chosen",
                        );
                        continue;
                    }
                    chosen = self.relative_prefix(&format!("{what} {url}"), url);
                }
            }
            Some(_) => self.ignore("servers", "not an array"),
        }
        chosen.unwrap_or_default()
    }

    /// Accept `url` as a prefix if it is a safe relative path; record why not otherwise.
    fn relative_prefix(&mut self, what: &str, url: &str) -> Option<String> {
        let trimmed = url.trim_end_matches('/');
        if trimmed.is_empty() && url.starts_with('/') {
            return Some(String::new());
        }
        if url.contains("://") || url.starts_with("//") {
            self.ignore(
                what,
                "absolute server URL (points at another host, e.g. production): never called; \
                 sniper stays on its configured origin",
            );
            return None;
        }
        if url.contains('{') {
            self.ignore(what, "server URL with variables is not supported");
            return None;
        }
        if let Some(why) = hostile_path(trimmed) {
            self.ignore(what, why);
            return None;
        }
        Some(trimmed.to_string())
    }

    fn paths(&mut self, paths: &'a Map<String, Value>) -> Vec<Operation> {
        let mut ops = Vec::new();
        for (key, item) in paths {
            if key.starts_with("x-") {
                continue;
            }
            if let Some(why) = hostile_path(key) {
                self.ignore(format!("path {key}"), why);
                continue;
            }
            let Some(item) = self.resolve(item, &format!("path {key}")) else {
                continue;
            };
            let Some(item) = item.as_object() else {
                self.ignore(format!("path {key}"), "path item is not an object");
                continue;
            };
            if item.contains_key("servers") {
                self.ignore(
                    format!("path {key} servers"),
                    "per-path servers are not honoured: sniper stays on its configured origin",
                );
            }
            let shared = self.params(item.get("parameters"), &format!("path {key}"));
            for method in METHODS {
                let Some(op) = item.get(method) else { continue };
                let what = format!("{} {key}", method.to_ascii_uppercase());
                let Some(op) = op.as_object() else {
                    self.ignore(what, "operation is not an object");
                    continue;
                };
                ops.push(self.operation(key, method, op, &shared, &what));
            }
        }
        ops
    }

    fn operation(
        &mut self,
        path: &str,
        method: &str,
        op: &'a Map<String, Value>,
        shared: &[SpecParam],
        what: &str,
    ) -> Operation {
        let own = self.params(op.get("parameters"), what);
        // Operation-level parameters override path-level ones with the same name and location.
        let mut params: Vec<SpecParam> = shared
            .iter()
            .filter(|s| {
                !own.iter()
                    .any(|o| o.name == s.name && o.location == s.location)
            })
            .cloned()
            .collect();
        params.extend(own);
        let body_required = op
            .get("requestBody")
            .and_then(|b| self.resolve(b, what))
            .and_then(|b| b.get("required"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let tags = match op.get("tags") {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            _ => Vec::new(),
        };
        Operation {
            method: method.to_ascii_uppercase(),
            path: path.to_string(),
            operation_id: str_field(op, "operationId"),
            summary: str_field(op, "summary"),
            description: str_field(op, "description"),
            tags,
            params,
            body_required,
            deprecated: op.get("deprecated").and_then(Value::as_bool) == Some(true),
        }
    }

    fn params(&mut self, list: Option<&'a Value>, what: &str) -> Vec<SpecParam> {
        let list = match list {
            None => return Vec::new(),
            Some(Value::Array(a)) => a,
            Some(_) => {
                self.ignore(format!("{what} parameters"), "not an array");
                return Vec::new();
            }
        };
        let mut out: Vec<SpecParam> = Vec::new();
        for (i, raw) in list.iter().enumerate() {
            let w = format!("{what} parameters[{i}]");
            let Some(p) = self.resolve(raw, &w) else {
                continue;
            };
            match self.param(p, &w) {
                Some(sp) => {
                    out.retain(|o| !(o.name == sp.name && o.location == sp.location));
                    out.push(sp);
                }
                None => continue,
            }
        }
        out
    }

    fn param(&mut self, p: &'a Value, what: &str) -> Option<SpecParam> {
        let Some(obj) = p.as_object() else {
            self.ignore(what, "parameter is not an object");
            return None;
        };
        let Some(name) = obj.get("name").and_then(Value::as_str) else {
            self.ignore(what, "parameter has no string `name`");
            return None;
        };
        let location = match obj.get("in").and_then(Value::as_str) {
            Some("path") => ParamLocation::Path,
            Some("query") => ParamLocation::Query,
            Some("header") => ParamLocation::Header,
            Some("cookie") => ParamLocation::Cookie,
            Some("body") | Some("formData") => ParamLocation::Body,
            _ => {
                self.ignore(
                    format!("{what} {name}"),
                    "parameter has no known `in` location",
                );
                return None;
            }
        };
        // Path parameters are always required, whatever the document says.
        let required = location == ParamLocation::Path
            || obj.get("required").and_then(Value::as_bool) == Some(true);
        // OpenAPI 3 keeps type/enum/pattern/default in `schema`; Swagger 2 puts them on the parameter.
        let schema = obj
            .get("schema")
            .and_then(|s| self.resolve(s, what))
            .and_then(Value::as_object)
            .map(|s| effective_schema(s, self.root));
        let pick = |key: &str| -> Option<&'a Value> {
            schema.and_then(|s| s.get(key)).or_else(|| obj.get(key))
        };
        let schema_type = match pick("type") {
            Some(Value::String(t)) => Some(t.clone()),
            Some(Value::Array(ts)) => ts
                .iter()
                .filter_map(Value::as_str)
                .find(|t| *t != "null")
                .map(str::to_string),
            _ => None,
        };
        let enum_values = match pick("enum") {
            Some(Value::Array(vs)) => vs.iter().filter_map(scalar).collect(),
            _ => Vec::new(),
        };
        let pattern = pick("pattern").and_then(Value::as_str).map(str::to_string);
        let default = pick("default").and_then(scalar);
        let description = obj
            .get("description")
            .or_else(|| schema.and_then(|s| s.get("description")))
            .and_then(Value::as_str)
            .map(str::to_string);
        let mut examples = Vec::new();
        for src in [Some(obj), schema].into_iter().flatten() {
            if let Some(e) = src.get("example").and_then(scalar) {
                examples.push(e);
            }
            match src.get("examples") {
                Some(Value::Array(a)) => examples.extend(a.iter().filter_map(scalar)),
                Some(Value::Object(m)) => {
                    examples.extend(m.values().filter_map(|e| e.get("value")).filter_map(scalar))
                }
                _ => {}
            }
        }
        examples.dedup();
        examples.truncate(MAX_EXAMPLES);
        Some(SpecParam {
            name: name.to_string(),
            location,
            required,
            schema_type,
            enum_values,
            pattern,
            default,
            description,
            examples,
        })
    }

    /// Follow a local `$ref` chain (at most [`MAX_REF_HOPS`] hops). `None` (and an ignored entry)
    /// when the chain is external, dangling or too long (which includes cycles).
    fn resolve(&mut self, v: &'a Value, what: &str) -> Option<&'a Value> {
        match follow_ref(self.root, v) {
            Ok(v) => Some(v),
            Err(why) => {
                self.ignore(what, why);
                None
            }
        }
    }
}

/// Follow `$ref`s from `v` within `root`.
fn follow_ref<'a>(root: &'a Value, mut v: &'a Value) -> Result<&'a Value, &'static str> {
    for _ in 0..=MAX_REF_HOPS {
        let Some(r) = v.get("$ref") else {
            return Ok(v);
        };
        let Some(r) = r.as_str() else {
            return Err("`$ref` is not a string");
        };
        let Some(pointer) = r.strip_prefix('#') else {
            return Err("external `$ref` (only local `#/...` references are followed)");
        };
        v = root
            .pointer(pointer)
            .ok_or("dangling `$ref` (points at nothing)")?;
    }
    Err("`$ref` chain too long or cyclic")
}

/// A schema's own object, or its first non-null `anyOf`/`oneOf` branch when it declares no type
/// itself (FastAPI renders `Optional[str]` as `anyOf: [{type: string}, {type: null}]`).
fn effective_schema<'a>(s: &'a Map<String, Value>, root: &'a Value) -> &'a Map<String, Value> {
    if s.contains_key("type") || s.contains_key("enum") {
        return s;
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(Value::Array(branches)) = s.get(key) {
            let found = branches
                .iter()
                .filter_map(|b| follow_ref(root, b).ok())
                .filter_map(Value::as_object)
                .find(|b| b.get("type").and_then(Value::as_str) != Some("null"));
            if let Some(b) = found {
                return b;
            }
        }
    }
    s
}

fn str_field(obj: &Map<String, Value>, key: &str) -> Option<String> {
    obj.get(key).and_then(Value::as_str).map(str::to_string)
}

/// A scalar rendered the way it would appear in a URL; `None` for arrays, objects and null.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A short rendering of a value for an ignored entry.
fn short(v: &Value) -> String {
    let s = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    s.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_scan_ignores_brackets_inside_strings() {
        let doc = format!(
            r#"{{"openapi":"3.0.0","x":"{}","paths":{{}}}}"#,
            "[".repeat(500)
        );
        assert!(parse_spec(doc.as_bytes(), &SpecLimits::default()).is_ok());
    }

    #[test]
    fn escaped_quote_does_not_end_string() {
        let doc = format!(
            r#"{{"openapi":"3.0.0","x":"\"{}","paths":{{}}}}"#,
            "{".repeat(500)
        );
        assert!(parse_spec(doc.as_bytes(), &SpecLimits::default()).is_ok());
    }

    #[test]
    fn hostile_keys() {
        for k in [
            "http://evil/x",
            "//evil/x",
            "/a/../b",
            "/a/%2e%2E/b",
            "/a/%252e%252e/b",
            "/a\\b",
            "/a%2Fb",
            "a/b",
            "/a?x=1",
        ] {
            assert!(hostile_path(k).is_some(), "{k} should be hostile");
        }
        for k in ["/advanced/spot/orderbook/{symbol}", "/py/a-b_c", "/"] {
            assert!(hostile_path(k).is_none(), "{k} should be fine");
        }
    }
}
