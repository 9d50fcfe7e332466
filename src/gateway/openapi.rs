//! `/gpts/openapi.json`: the backend's spec with `servers` pointing at the public gateway,
//! so a GPT Action imported by URL sends its calls through the gateway, prefix included.

/// The `servers[0].url` for the rewritten spec: `public` (without trailing `/`) + `prefix`.
pub fn servers_url(public: &str, prefix: &str) -> String {
    let public = public.trim_end_matches('/');
    let mut s = String::with_capacity(public.len() + prefix.len());
    s.push_str(public);
    s.push_str(prefix);
    s
}

/// Derives the public origin from the request when `PUBLIC_URL` is unset: the scheme is
/// `https` if the first `X-Forwarded-Proto` token says so (a TLS terminator in front), else
/// `http`; the host is the first `X-Forwarded-Host` token, else `Host`. Returns `None` when
/// the host is missing or is not a plain `host[:port]`.
pub fn derive_public(
    forwarded_proto: Option<&[u8]>,
    forwarded_host: Option<&[u8]>,
    host: Option<&[u8]>,
) -> Option<String> {
    let first = |v: &[u8]| -> Vec<u8> {
        v.split(|b| *b == b',')
            .next()
            .unwrap_or_default()
            .trim_ascii()
            .to_vec()
    };
    let https = forwarded_proto.is_some_and(|p| first(p).eq_ignore_ascii_case(b"https"));
    let host = match forwarded_host.map(first) {
        Some(h) if !h.is_empty() => h,
        _ => host?.trim_ascii().to_vec(),
    };
    let plain = !host.is_empty()
        && host
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    if !plain {
        return None;
    }
    let host = String::from_utf8(host).ok()?;
    Some(format!("{}://{host}", if https { "https" } else { "http" }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_url_joins_without_double_slash() {
        assert_eq!(
            servers_url("https://gw.example.com/", "/gpts"),
            "https://gw.example.com/gpts"
        );
        assert_eq!(
            servers_url("https://gw.example.com/api", "/gpts"),
            "https://gw.example.com/api/gpts"
        );
    }

    #[test]
    fn derive_prefers_forwarded_values_and_refuses_odd_hosts() {
        assert_eq!(
            derive_public(None, None, Some(b"gw:8080")).as_deref(),
            Some("http://gw:8080")
        );
        assert_eq!(
            derive_public(
                Some(b"HTTPS, http"),
                Some(b"pub.example, inner"),
                Some(b"gw:8080")
            )
            .as_deref(),
            Some("https://pub.example")
        );
        assert_eq!(
            derive_public(Some(b"gopher"), None, Some(b"[::1]:80")).as_deref(),
            Some("http://[::1]:80")
        );
        assert_eq!(derive_public(None, None, None), None);
        assert_eq!(derive_public(None, None, Some(b"evil.com/x")), None);
        assert_eq!(derive_public(None, None, Some(b"user@evil.com")), None);
        assert_eq!(derive_public(None, Some(b""), Some(b"")), None);
    }
}
