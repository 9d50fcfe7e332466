//! Header rules of the `/gpts` gateway: hop-by-hop removal, forwarding headers, inbound API key.
//!
//! Every header decision the gateway makes lives here, so the hot path calls a few small,
//! separately tested functions instead of scattering header edits through the handler.

use std::io::Write as _;
use std::net::IpAddr;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// Headers that describe one connection, never the message, and so are never forwarded
/// (RFC 9110 §7.6.1, plus the legacy `Keep-Alive` and `Proxy-Connection`).
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    // Credentials for a proxy in front of the gateway, never for the backend.
    header::PROXY_AUTHORIZATION,
];

/// `X-Forwarded-Prefix`: the path prefix the gateway stripped.
pub const X_FORWARDED_PREFIX: HeaderName = HeaderName::from_static("x-forwarded-prefix");
/// `X-Forwarded-Proto`: scheme the client used to reach the public side.
pub const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
/// `X-Forwarded-Host`: `Host` the client asked for on the public side.
pub const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
/// `X-Forwarded-For`: client addresses, each proxy appending its peer.
pub const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
/// `X-API-Key`: the second way a client may present the gateway key.
pub use crate::web::access::X_API_KEY;

/// Removes hop-by-hop headers in place: `Connection`, every header it names, and the fixed
/// list above. Used on requests going to the backend and on responses coming back.
///
/// Allocates only when a `Connection` header names a real header (rare: clients and backends
/// mostly send none, `keep-alive` or `close`, which name nothing to remove).
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    if headers.contains_key(header::CONNECTION) {
        let named: Vec<HeaderName> = headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            // The usual tokens name no header; skipping them keeps `collect` from allocating.
            .filter(|t| !t.eq_ignore_ascii_case("keep-alive") && !t.eq_ignore_ascii_case("close"))
            .filter_map(|token| HeaderName::from_bytes(token.as_bytes()).ok())
            .collect();
        for name in named {
            headers.remove(name);
        }
    }
    for name in &HOP_BY_HOP {
        headers.remove(name);
    }
}

/// What the gateway knows about the inbound hop, to write the forwarding headers.
#[derive(Debug, Clone, Copy)]
pub struct Hop<'a> {
    /// The TCP peer, when the server was started with connect info.
    pub peer: Option<IpAddr>,
    /// Pre-built `X-Forwarded-Prefix` value (the configured prefix).
    pub prefix: &'a HeaderValue,
    /// Pre-built `Host` value for the backend.
    pub backend_host: &'a HeaderValue,
}

/// Rewrites a request's headers for the backend: `Host` becomes the backend's (the design's
/// `changeOrigin`), `X-Forwarded-For` gets the peer appended to any existing list,
/// `X-Forwarded-Host`/`-Proto` are set from this hop unless a front proxy (TLS terminator)
/// already set them, and `X-Forwarded-Prefix` is set to the stripped prefix.
///
/// Call after [`strip_hop_by_hop`], so a `Connection` header naming `X-Forwarded-*` cannot
/// remove what this function adds.
pub fn set_forwarding(headers: &mut HeaderMap, hop: Hop<'_>) {
    let inbound_host = headers.remove(header::HOST);
    if !headers.contains_key(X_FORWARDED_HOST)
        && let Some(host) = inbound_host
    {
        headers.insert(X_FORWARDED_HOST, host);
    }
    if !headers.contains_key(X_FORWARDED_PROTO) {
        headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static("http"));
    }
    headers.insert(header::HOST, hop.backend_host.clone());
    headers.insert(X_FORWARDED_PREFIX, hop.prefix.clone());
    if let Some(peer) = hop.peer {
        append_forwarded_for(headers, peer);
    }
}

/// Appends `peer` to `X-Forwarded-For`, merging existing lines into one comma-separated value
/// (some backends read only the last line of a repeated header).
fn append_forwarded_for(headers: &mut HeaderMap, peer: IpAddr) {
    // An IPv6 address is at most 45 bytes; existing values are copied only when present.
    let mut buf = [0u8; 64];
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    if write!(cursor, "{peer}").is_err() {
        return;
    }
    let len = usize::try_from(cursor.position()).unwrap_or(0);
    let ip = &buf[..len];
    let value = if headers.contains_key(X_FORWARDED_FOR) {
        let mut joined: Vec<u8> = Vec::with_capacity(64);
        for v in headers.get_all(X_FORWARDED_FOR) {
            let v = v.as_bytes().trim_ascii();
            if !v.is_empty() {
                joined.extend_from_slice(v);
                joined.extend_from_slice(b", ");
            }
        }
        joined.extend_from_slice(ip);
        HeaderValue::from_bytes(&joined)
    } else {
        HeaderValue::from_bytes(ip)
    };
    if let Ok(value) = value {
        headers.insert(X_FORWARDED_FOR, value);
    }
}

pub use crate::web::access::{KeySource, check_key};

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        m
    }

    #[test]
    fn strips_fixed_hop_by_hop_list() {
        let mut h = map(&[
            ("connection", "keep-alive"),
            ("keep-alive", "timeout=5"),
            ("proxy-connection", "keep-alive"),
            ("te", "trailers"),
            ("trailer", "x-checksum"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "websocket"),
            ("content-type", "application/json"),
            ("accept", "*/*"),
        ]);
        strip_hop_by_hop(&mut h);
        let mut left: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
        left.sort_unstable();
        assert_eq!(left, ["accept", "content-type"]);
    }

    #[test]
    fn strips_headers_named_by_connection_across_lines_and_case() {
        let mut h = map(&[
            ("connection", "X-Secret , close"),
            ("connection", "x-other"),
            ("x-secret", "1"),
            ("x-other", "2"),
            ("x-kept", "3"),
        ]);
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert_eq!(h["x-kept"], "3");
    }

    #[test]
    fn connection_with_junk_tokens_does_not_panic_and_still_strips() {
        let mut h = map(&[
            ("connection", ",, ,x-a,\"bad token\""),
            ("x-a", "1"),
            ("x-b", "2"),
        ]);
        strip_hop_by_hop(&mut h);
        assert!(!h.contains_key("x-a"));
        assert!(!h.contains_key("connection"));
        assert_eq!(h["x-b"], "2");
    }

    fn hop<'a>(peer: Option<IpAddr>, prefix: &'a HeaderValue, host: &'a HeaderValue) -> Hop<'a> {
        Hop {
            peer,
            prefix,
            backend_host: host,
        }
    }

    #[test]
    fn forwarding_headers_from_this_hop() {
        let (prefix, host) = (
            HeaderValue::from_static("/gpts"),
            HeaderValue::from_static("10.0.0.5:8000"),
        );
        let mut h = map(&[("host", "gw.example.com")]);
        set_forwarding(
            &mut h,
            hop(Some("203.0.113.7".parse().unwrap()), &prefix, &host),
        );
        assert_eq!(h["host"], "10.0.0.5:8000");
        assert_eq!(h["x-forwarded-host"], "gw.example.com");
        assert_eq!(h["x-forwarded-proto"], "http");
        assert_eq!(h["x-forwarded-prefix"], "/gpts");
        assert_eq!(h["x-forwarded-for"], "203.0.113.7");
    }

    #[test]
    fn forwarded_for_appends_and_merges_existing_lines() {
        let (prefix, host) = (
            HeaderValue::from_static("/gpts"),
            HeaderValue::from_static("b:1"),
        );
        let mut h = map(&[
            ("x-forwarded-for", "198.51.100.1, 10.1.1.1"),
            ("x-forwarded-for", "10.2.2.2"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "public.example"),
            ("host", "internal:5000"),
        ]);
        set_forwarding(&mut h, hop(Some("::1".parse().unwrap()), &prefix, &host));
        let xff: Vec<_> = h.get_all("x-forwarded-for").iter().collect();
        assert_eq!(xff, ["198.51.100.1, 10.1.1.1, 10.2.2.2, ::1"]);
        assert_eq!(h["x-forwarded-proto"], "https");
        assert_eq!(h["x-forwarded-host"], "public.example");
        assert_eq!(h["host"], "b:1");
    }

    #[test]
    fn key_accepted_by_bearer_or_x_api_key_only_when_equal() {
        let key = b"s3cret-key";
        assert_eq!(
            check_key(&map(&[("authorization", "Bearer s3cret-key")]), key),
            Some(KeySource::Bearer)
        );
        assert_eq!(
            check_key(&map(&[("authorization", "bearer   s3cret-key ")]), key),
            Some(KeySource::Bearer)
        );
        assert_eq!(
            check_key(&map(&[("x-api-key", "s3cret-key")]), key),
            Some(KeySource::ApiKey)
        );
        assert_eq!(
            check_key(&map(&[("authorization", "Bearer s3cret-kez")]), key),
            None
        );
        assert_eq!(
            check_key(&map(&[("authorization", "Basic s3cret-key")]), key),
            None
        );
        assert_eq!(
            check_key(&map(&[("authorization", "Bearer s3cret-key-longer")]), key),
            None
        );
        assert_eq!(check_key(&map(&[("x-api-key", "s3cret")]), key), None);
        assert_eq!(check_key(&map(&[("authorization", "Bearer ")]), key), None);
        assert_eq!(check_key(&HeaderMap::new(), key), None);
    }
}
