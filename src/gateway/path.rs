//! Path safety of the `/gpts` gateway: the only place a backend request target is built.
//!
//! Invariant: a target built here is `base_path` followed by the client's remainder, and the
//! remainder contains no segment a server or a later proxy could read as a step up (`..`,
//! `%2e%2e` in any case, `..;x`), across (`%2f`, `\`, `%5c`) or away to another authority
//! (`//`). Anything else is kept byte-for-byte, query included.

/// Why a client path was refused (all map to 400).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PathRejection {
    /// The remainder after the prefix does not start with `/` (should be unreachable via routing).
    #[error("path does not continue the prefix")]
    NotUnderPrefix,
    /// An empty segment (`//`), which some clients and servers read as an authority.
    #[error("empty path segment")]
    EmptySegment,
    /// A `.` or `..` segment, plain or percent-encoded.
    #[error("dot segment in path")]
    DotSegment,
    /// An encoded slash, any backslash, or an encoded NUL inside a segment.
    #[error("encoded separator in path")]
    EncodedSeparator,
}

/// Builds the backend path-and-query: `base_path` + `rest` (or `/` when `rest` is empty) +
/// `?query` exactly as received. `base_path` is the configured base without a trailing `/`
/// (`""` for a root base); `rest` is the raw request path after the prefix.
pub fn target(base_path: &str, rest: &str, query: Option<&str>) -> Result<String, PathRejection> {
    check_rest(rest)?;
    let rest = if rest.is_empty() { "/" } else { rest };
    let q_len = query.map_or(0, |q| q.len() + 1);
    let mut out = String::with_capacity(base_path.len() + rest.len() + q_len);
    out.push_str(base_path);
    out.push_str(rest);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    Ok(out)
}

/// Checks the raw remainder after the prefix; see the module invariant.
pub fn check_rest(rest: &str) -> Result<(), PathRejection> {
    if rest.is_empty() {
        return Ok(());
    }
    let Some(body) = rest.strip_prefix('/') else {
        return Err(PathRejection::NotUnderPrefix);
    };
    let mut segments = body.split('/').peekable();
    while let Some(seg) = segments.next() {
        let last = segments.peek().is_none();
        if seg.is_empty() {
            if last {
                break; // trailing slash
            }
            return Err(PathRejection::EmptySegment);
        }
        check_segment(seg.as_bytes())?;
    }
    Ok(())
}

/// One segment: decode `%XX` on the fly (no allocation), refuse separators and dot segments.
/// Matrix parameters (`..;a=b`) are ignored when looking for dots, as Tomcat-style servers do.
fn check_segment(seg: &[u8]) -> Result<(), PathRejection> {
    let mut dots = 0usize;
    let mut only_dots = true;
    let mut in_params = false;
    let mut i = 0;
    while i < seg.len() {
        let mut b = seg[i];
        if b == b'%'
            && let (Some(h), Some(l)) = (seg.get(i + 1).and_then(hex), seg.get(i + 2).and_then(hex))
        {
            b = h << 4 | l;
            i += 2;
        }
        i += 1;
        if matches!(b, b'/' | b'\\' | 0) {
            return Err(PathRejection::EncodedSeparator);
        }
        if in_params {
            continue;
        }
        match b {
            b'.' => dots += 1,
            b';' => in_params = true,
            _ => only_dots = false,
        }
    }
    if only_dots && (dots == 1 || dots == 2) {
        return Err(PathRejection::DotSegment);
    }
    Ok(())
}

fn hex(b: &u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn root_and_plain_paths_map_under_base() {
        assert_eq!(target("", "", None).unwrap(), "/");
        assert_eq!(target("", "/", None).unwrap(), "/");
        assert_eq!(target("/py", "", Some("x=1")).unwrap(), "/py/?x=1");
        assert_eq!(target("/py", "/a/b/", Some("")).unwrap(), "/py/a/b/?");
        assert_eq!(
            target("", "/api/v1/x%20y", Some("a=%2F..&b=//c")).unwrap(),
            "/api/v1/x%20y?a=%2F..&b=//c"
        );
        assert_eq!(
            target("", "/a/.../b.c/..x/.hidden", None).unwrap(),
            "/a/.../b.c/..x/.hidden"
        );
    }

    #[test]
    fn hostile_remainders_are_refused() {
        use PathRejection::*;
        let cases = [
            ("/..", DotSegment),
            ("/../etc", DotSegment),
            ("/a/./b", DotSegment),
            ("/a/..", DotSegment),
            ("/%2e%2e/x", DotSegment),
            ("/%2E%2e/x", DotSegment),
            ("/.%2E/x", DotSegment),
            ("/..;jsessionid=1/x", DotSegment),
            ("/%2e", DotSegment),
            ("/a%2fb", EncodedSeparator),
            ("/a%2F..%2Fb", EncodedSeparator),
            ("/a\\b", EncodedSeparator),
            ("/a%5cb", EncodedSeparator),
            ("/a%00b", EncodedSeparator),
            ("//evil.example/x", EmptySegment),
            ("/a//b", EmptySegment),
            ("x", NotUnderPrefix),
            ("x/../..", NotUnderPrefix),
        ];
        for (rest, want) in cases {
            assert_eq!(target("/py", rest, None), Err(want), "{rest}");
        }
    }

    proptest! {
        /// Oracle: a WHATWG URL parser (which resolves `..`, `%2e`, `\` and `//` the way
        /// browsers and many servers do) leaves every accepted target unchanged, on the same
        /// host and under the base path.
        #[test]
        fn accepted_targets_survive_url_normalisation(
            rest in "(/[a.%25eE2fF5cC\\\\;0]{0,6}){0,5}/?",
            base in prop::sample::select(vec!["", "/py", "/a/b"]),
        ) {
            if let Ok(t) = target(base, &rest, None) {
                let url = url::Url::parse(&format!("http://127.0.0.1:9{t}")).unwrap();
                prop_assert_eq!(url.host_str(), Some("127.0.0.1"));
                prop_assert_eq!(url.path(), t.as_str());
                let under = format!("{}/", base);
                prop_assert!(url.path().starts_with(&under));
            }
        }
    }
}
