//! Layers only point down: every `crate::<module>` and `super::` path in `src/**/*.rs` names a
//! module of the same top-level module or of a lower layer, as the ordered list in
//! `ARCHITECTURE.md` ("Layers — who may import whom") states. The list is read from that file, so
//! the document and the check cannot drift apart.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A path that climbs: `file:line: <from> (layer n) imports <to> (layer m)`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Violation {
    file: String,
    line: usize,
    from: String,
    to: String,
    why: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: `{}` imports `{}`: {}",
            self.file, self.line, self.from, self.to, self.why
        )
    }
}

/// Top-level module → layer rank (1 = lowest), from ARCHITECTURE.md's numbered list: each item
/// `N. `a`, `b` — text` puts the backticked names before the dash in layer N.
fn layers_from_architecture(doc: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    let mut inside = false;
    for line in doc.lines() {
        if line.starts_with("## ") {
            inside = line.contains("who may import whom");
            continue;
        }
        if !inside {
            continue;
        }
        let t = line.trim_start();
        let Some((num, rest)) = t.split_once(". ") else {
            continue;
        };
        let Ok(rank) = num.parse::<usize>() else {
            continue;
        };
        let names = rest.split(" — ").next().unwrap_or("");
        for part in names.split('`').skip(1).step_by(2) {
            out.insert(part.to_string(), rank);
        }
    }
    out
}

/// The source with comments, string and char literals blanked (newlines kept, so line numbers
/// stay right).
fn strip(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    let blank = |out: &mut String, s: &[u8]| {
        for &c in s {
            out.push(if c == b'\n' { '\n' } else { ' ' });
        }
    };
    while i < b.len() {
        let rest = &b[i..];
        if rest.starts_with(b"//") {
            let end = rest.iter().position(|&c| c == b'\n').unwrap_or(rest.len());
            blank(&mut out, &rest[..end]);
            i += end;
        } else if rest.starts_with(b"/*") {
            let mut depth = 0usize;
            let mut j = 0;
            while j < rest.len() {
                if rest[j..].starts_with(b"/*") {
                    depth += 1;
                    j += 2;
                } else if rest[j..].starts_with(b"*/") {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            blank(&mut out, &rest[..j]);
            i += j;
        } else if rest[0] == b'r'
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_'))
            && rest.len() > 1
            && (rest[1] == b'"' || rest[1] == b'#')
        {
            let hashes = rest[1..].iter().take_while(|&&c| c == b'#').count();
            if rest.get(1 + hashes) != Some(&b'"') {
                out.push('r');
                i += 1;
                continue;
            }
            let close: Vec<u8> = std::iter::once(b'"')
                .chain(std::iter::repeat_n(b'#', hashes))
                .collect();
            let start = 2 + hashes;
            let end = rest[start..]
                .windows(close.len())
                .position(|w| w == close.as_slice())
                .map(|p| start + p + close.len())
                .unwrap_or(rest.len());
            blank(&mut out, &rest[..end]);
            i += end;
        } else if rest[0] == b'"' {
            let mut j = 1;
            while j < rest.len() && rest[j] != b'"' {
                j += if rest[j] == b'\\' { 2 } else { 1 };
            }
            let end = (j + 1).min(rest.len());
            blank(&mut out, &rest[..end]);
            i += end;
        } else if rest[0] == b'\'' {
            // A char literal ('x', '\n', '\u{..}') or a lifetime ('a): blank only the literal.
            let lit = if rest.get(1) == Some(&b'\\') {
                rest[2..].iter().position(|&c| c == b'\'').map(|p| p + 3)
            } else if rest.get(2) == Some(&b'\'') {
                Some(3)
            } else {
                None
            };
            match lit {
                Some(n) => {
                    blank(&mut out, &rest[..n]);
                    i += n;
                }
                None => {
                    out.push('\'');
                    i += 1;
                }
            }
        } else {
            // Multi-byte UTF-8 stays as is (outside literals it never holds a path).
            let ch = src[i..].chars().next().unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

fn ident_at(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The module path of a file under `src/`: `run/runner.rs` → `[run, runner]`, `run/mod.rs` →
/// `[run]`, `config.rs` → `[config]`.
fn module_path(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// Every climbing path in one file's source. `module` is the file's module path (see
/// [`module_path`]); `layers` the ranks.
fn check_source(
    file: &str,
    module: &[String],
    src: &str,
    layers: &BTreeMap<String, usize>,
) -> Vec<Violation> {
    let mut found = Vec::new();
    let Some(from) = module.first() else {
        return found;
    };
    let Some(&from_rank) = layers.get(from) else {
        found.push(Violation {
            file: file.into(),
            line: 1,
            from: from.clone(),
            to: from.clone(),
            why: "this top-level module has no layer in ARCHITECTURE.md".into(),
        });
        return found;
    };
    let code = strip(src);
    // Inline `mod name {` blocks deepen the path `super::` starts from.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let bytes = code.as_bytes();
    let mut line = 1;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let prev_ident = i > 0
            && (bytes[i - 1].is_ascii_alphanumeric()
                || bytes[i - 1] == b'_'
                || bytes[i - 1] == b'$');
        match c {
            b'\n' => line += 1,
            b'{' => depth += 1,
            b'}' => {
                depth = depth.saturating_sub(1);
                while inline.last().is_some_and(|(_, d)| *d > depth) {
                    inline.pop();
                }
            }
            b'm' if !prev_ident && code[i..].starts_with("mod ") => {
                let name = ident_at(code[i + 4..].trim_start());
                let after = code[i + 4..].trim_start()[name.len()..].trim_start();
                if !name.is_empty() && after.starts_with('{') {
                    inline.push((name.to_string(), depth + 1));
                }
            }
            b'c' if !prev_ident && code[i..].starts_with("crate::") => {
                let target = ident_at(&code[i + 7..]);
                check_target(file, line, from, from_rank, target, layers, &mut found);
            }
            b's' if !prev_ident && code[i..].starts_with("super::") => {
                let mut here: Vec<String> = module.to_vec();
                here.extend(inline.iter().map(|(n, _)| n.clone()));
                let mut j = i;
                while code[j..].starts_with("super::") {
                    here.pop();
                    j += 7;
                }
                let target = if here.is_empty() {
                    ident_at(&code[j..]).to_string()
                } else {
                    here[0].clone()
                };
                check_target(file, line, from, from_rank, &target, layers, &mut found);
                i = j;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    found
}

fn check_target(
    file: &str,
    line: usize,
    from: &str,
    from_rank: usize,
    target: &str,
    layers: &BTreeMap<String, usize>,
    found: &mut Vec<Violation>,
) {
    if target.is_empty() || target == from {
        return;
    }
    match layers.get(target) {
        Some(&to_rank) if to_rank < from_rank => {}
        Some(&to_rank) => found.push(Violation {
            file: file.into(),
            line,
            from: from.into(),
            to: target.into(),
            why: format!("layer {from_rank} may only import layers below it, not layer {to_rank}"),
        }),
        // Not a top-level module (e.g. a type re-exported at the root): nothing to check.
        None => {}
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn layers() -> BTreeMap<String, usize> {
    let doc = std::fs::read_to_string(repo().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let l = layers_from_architecture(&doc);
    assert!(
        l.len() > 10,
        "ARCHITECTURE.md lists the layers (found {l:?})"
    );
    l
}

#[test]
fn every_import_points_down() {
    let layers = layers();
    let src = repo().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    assert!(
        files.len() > 50,
        "found the sources ({} files)",
        files.len()
    );
    let mut all = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(&src).expect("under src");
        // The crate roots are above every layer: lib.rs declares them, main.rs is the binary.
        if rel == Path::new("lib.rs") || rel == Path::new("main.rs") {
            continue;
        }
        let text = std::fs::read_to_string(f).expect("readable source");
        let name = format!("src/{}", rel.display());
        all.extend(check_source(&name, &module_path(rel), &text, &layers));
    }
    let msg: Vec<String> = all.iter().map(ToString::to_string).collect();
    assert!(
        msg.is_empty(),
        "imports that climb a layer:\n{}",
        msg.join("\n")
    );
}

#[test]
fn every_top_level_module_has_a_layer() {
    let layers = layers();
    let lib = std::fs::read_to_string(repo().join("src/lib.rs")).expect("lib.rs");
    let declared: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod "))
        .map(|l| l.trim_end_matches(';'))
        .collect();
    assert!(declared.len() > 10);
    let missing: Vec<&&str> = declared
        .iter()
        .filter(|m| !layers.contains_key(**m))
        .collect();
    assert!(
        missing.is_empty(),
        "modules with no layer in ARCHITECTURE.md: {missing:?}"
    );
}

fn planted_layers() -> BTreeMap<String, usize> {
    [
        ("config", 1),
        ("run", 2),
        ("obs", 2),
        ("store", 3),
        ("daemon", 4),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

fn path(p: &str) -> Vec<String> {
    p.split('/').map(String::from).collect()
}

#[test]
fn the_checker_names_a_planted_upward_import() {
    let l = planted_layers();
    let src = "use std::io;\n\nuse crate::config::Config;\nuse crate::daemon::metrics::Metrics;\n";
    let v = check_source("src/run/runner.rs", &path("run/runner"), src, &l);
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!((v[0].line, v[0].to.as_str()), (4, "daemon"));
    assert!(
        v[0].to_string()
            .starts_with("src/run/runner.rs:4: `run` imports `daemon`")
    );
    // A same-layer peer is refused too: layers are a strict order.
    let v = check_source(
        "src/run/x.rs",
        &path("run/x"),
        "fn f() { crate::run::g(); crate::obs::h() }",
        &l,
    );
    assert_eq!(v.len(), 1, "{v:?}");
}

#[test]
fn the_checker_resolves_super_paths_and_inline_modules() {
    let l = planted_layers();
    // `super::` from a root file is the crate: `super::daemon` in config.rs climbs.
    let v = check_source(
        "src/config.rs",
        &path("config"),
        "use super::daemon::App;\n",
        &l,
    );
    assert_eq!(v.len(), 1, "{v:?}");
    // Inside `mod tests { }` of run/runner.rs, `super::super::x` is `run::x`: fine.
    let src = "mod tests {\n    use super::super::budget;\n    use super::*;\n}\n";
    assert!(check_source("src/run/runner.rs", &path("run/runner"), src, &l).is_empty());
    // …but three levels up from there is the crate root, and `store` is above `run`.
    let src = "mod tests {\n    use super::super::super::store::S;\n}\n";
    let v = check_source("src/run/runner.rs", &path("run/runner"), src, &l);
    assert_eq!(v.iter().map(|v| v.line).collect::<Vec<_>>(), vec![2]);
}

#[test]
fn the_checker_ignores_comments_strings_and_macros_crate() {
    let l = planted_layers();
    let src = r##"
//! See [`crate::daemon::App`].
/* crate::daemon */
const S: &str = "crate::daemon::x";
const R: &str = r#"crate::daemon "quoted" "#;
const C: char = '"';
macro_rules! m { () => { $crate::daemon::x() } }
fn f<'a>(x: &'a str) -> &'a str { x }
"##;
    let v = check_source("src/run/x.rs", &path("run/x"), src, &l);
    assert!(v.is_empty(), "{v:?}");
    // The same path outside a literal is found, with its line after a multi-line string.
    let src = "const S: &str = \"a\nb\";\nuse crate::daemon::x;\n";
    let v = check_source("src/run/x.rs", &path("run/x"), src, &l);
    assert_eq!(v.iter().map(|v| v.line).collect::<Vec<_>>(), vec![3]);
}

#[test]
fn a_module_without_a_layer_is_refused() {
    let l = planted_layers();
    let v = check_source("src/newthing.rs", &path("newthing"), "", &l);
    assert_eq!(v.len(), 1);
}

#[test]
fn the_layer_list_is_read_from_the_document() {
    let doc = "# A\n## Layers — who may import whom\n\n1. `a`, `b` — base; `c` is not here\n2. `d` — above\n\n## Next\n3. `e` — not in the section\n";
    let l = layers_from_architecture(doc);
    assert_eq!(
        l.into_iter().collect::<Vec<_>>(),
        vec![
            ("a".to_string(), 1),
            ("b".to_string(), 1),
            ("d".to_string(), 2)
        ]
    );
}
