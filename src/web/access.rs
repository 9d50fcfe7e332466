//! Who may reach what on a sniper listener: one axum layer ([`layer`]) for `serve`, `demo` and
//! `proxy`, in this order:
//!
//! 1. `/health` and `/ready` always answer (probes use whatever Host they like, and they reveal
//!    nothing).
//! 2. `Host` must be allowed ([`HostRule`]), else `421` — a page on another site reaching a
//!    loopback daemon by DNS rebinding sends its own host name.
//! 3. Unsafe methods (not GET/HEAD/OPTIONS) outside the gateway refuse cross-site requests
//!    (`Sec-Fetch-Site` other than `same-origin`/`none`, or an `Origin` whose host differs
//!    from `Host`) with `403`.
//! 4. With `SNIPER_API_KEY`, the page `/`, `/api/*` and `/metrics` need the key (Bearer,
//!    `X-API-Key`, or Basic with the key as password, so a browser can log in to the page):
//!    writes always, reads unless `SNIPER_API_PUBLIC_READS=on`. Else `401`.
//!
//! The gateway (`/gpts/*`) checks its own `GPTS_API_KEY`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use subtle::ConstantTimeEq as _;

use crate::config::ConfigError;

/// Flags of the operator surface (`serve`, `demo`).
#[derive(Debug, Clone, clap::Args)]
pub struct AccessArgs {
    /// Key for the status page, `/api/*` and `/metrics` (Bearer, X-API-Key, or Basic password).
    #[arg(long, env = "SNIPER_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// With SNIPER_API_KEY: let anyone read (GET) the page, `/api/*` and `/metrics` (on/off).
    #[arg(long, env = "SNIPER_API_PUBLIC_READS", default_value = "off")]
    pub api_public_reads: String,
}

/// Which `Host` values a listener answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostRule {
    /// `*`: any host (behind a proxy that already checks it).
    Any,
    /// `(host, port)`: lower-case host (IPv6 in brackets), `None` port = any port.
    List(Vec<(String, Option<u16>)>),
}

impl HostRule {
    /// `SNIPER_ALLOWED_HOSTS` when given, else the default for `listen` and `public_url`: the
    /// listen address, `localhost`/`127.0.0.1`/`[::1]` on the listen port, and PUBLIC_URL's
    /// host (its explicit port, else any port).
    ///
    /// # Errors
    /// An entry that is not `host`, `host:port` or `*`, naming `SNIPER_ALLOWED_HOSTS`.
    pub fn new(
        configured: Option<&str>,
        listen: SocketAddr,
        public_url: Option<&url::Url>,
    ) -> Result<HostRule, ConfigError> {
        if let Some(v) = configured.map(str::trim).filter(|v| !v.is_empty()) {
            if v == "*" {
                return Ok(HostRule::Any);
            }
            let list = v
                .split(',')
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .map(|e| {
                    split_host(e).ok_or_else(|| {
                        ConfigError::new(
                            "SNIPER_ALLOWED_HOSTS",
                            v,
                            "a comma-separated list of host or host:port (e.g. gw.example.com,127.0.0.1:8080), or *",
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(HostRule::List(list));
        }
        let port = Some(listen.port());
        let mut list = vec![
            ("localhost".to_owned(), port),
            ("127.0.0.1".to_owned(), port),
            ("[::1]".to_owned(), port),
        ];
        if !listen.ip().is_unspecified() {
            let ip = match listen {
                SocketAddr::V4(a) => a.ip().to_string(),
                SocketAddr::V6(a) => format!("[{}]", a.ip()),
            };
            list.push((ip, port));
        }
        if let Some(u) = public_url
            && let Some(h) = u.host_str()
        {
            list.push((h.to_ascii_lowercase(), u.port()));
        }
        Ok(HostRule::List(list))
    }

    /// Whether a request's `Host` (`host[:port]`) is allowed.
    pub fn allows(&self, host: &str) -> bool {
        match self {
            HostRule::Any => true,
            HostRule::List(list) => split_host(host).is_some_and(|(h, p)| {
                list.iter()
                    .any(|(lh, lp)| *lh == h && (lp.is_none() || *lp == p))
            }),
        }
    }
}

/// `host[:port]` → (lower-case host without a trailing dot, port).
fn split_host(v: &str) -> Option<(String, Option<u16>)> {
    let v = v.trim();
    let (host, port) = if v.starts_with('[') {
        let end = v.find(']')?;
        let rest = &v[end + 1..];
        let port = match rest.strip_prefix(':') {
            Some(p) => Some(p.parse().ok()?),
            None if rest.is_empty() => None,
            None => return None,
        };
        (&v[..=end], port)
    } else {
        match v.rsplit_once(':') {
            Some((h, p)) => (h, Some(p.parse().ok()?)),
            None => (v, None),
        }
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let ok = !host.is_empty()
        && host.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':' | b'[' | b']')
        });
    ok.then_some((host, port))
}

/// Everything the layer decides on.
#[derive(Debug, Clone)]
pub struct AccessPolicy {
    pub hosts: HostRule,
    /// `SNIPER_API_KEY` (trimmed, non-empty).
    pub api_key: Option<String>,
    /// `SNIPER_API_PUBLIC_READS`.
    pub public_reads: bool,
    /// The gateway prefix (`/gpts`): its paths are the gateway's business.
    pub gpts_prefix: String,
}

impl AccessPolicy {
    /// Surfaces anyone who can reach the listener may use, for the start-up warning.
    pub fn open_surfaces(&self, gpts_key: bool, metrics_here: bool) -> Vec<String> {
        let mut open = Vec::new();
        match (&self.api_key, self.public_reads) {
            (None, _) => {
                open.push("the status page / and /api/* reads (set SNIPER_API_KEY)".to_owned());
                open.push("POST /api/run (set SNIPER_API_KEY)".to_owned());
                if metrics_here {
                    open.push("/metrics (set SNIPER_API_KEY)".to_owned());
                }
            }
            (Some(_), true) => open
                .push("reads of / , /api/* and /metrics (SNIPER_API_PUBLIC_READS=on)".to_owned()),
            (Some(_), false) => {}
        }
        if !gpts_key {
            open.push(format!("{}/* (set GPTS_API_KEY)", self.gpts_prefix));
        }
        if self.hosts == HostRule::Any {
            open.push("any Host (SNIPER_ALLOWED_HOSTS=*)".to_owned());
        }
        open
    }
}

/// `router` behind the access rules of `policy`.
pub fn layer(router: Router, policy: AccessPolicy) -> Router {
    router.layer(axum::middleware::from_fn_with_state(
        Arc::new(policy),
        guard,
    ))
}

async fn guard(State(p): State<Arc<AccessPolicy>>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if path == "/health" || path == "/ready" {
        return next.run(req).await;
    }
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()));
    if !host.is_some_and(|h| p.hosts.allows(h)) {
        return refuse(
            StatusCode::MISDIRECTED_REQUEST,
            r#"{"error":"host_not_allowed","message":"this Host is not served here (see SNIPER_ALLOWED_HOSTS)"}"#,
        );
    }
    let in_gateway = path == p.gpts_prefix
        || path
            .strip_prefix(p.gpts_prefix.as_str())
            .is_some_and(|r| r.starts_with('/'));
    if in_gateway {
        return next.run(req).await;
    }
    let write = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if write && cross_site(req.headers(), host.unwrap_or_default()) {
        return refuse(
            StatusCode::FORBIDDEN,
            r#"{"error":"cross_site","message":"cross-site requests may not change anything here"}"#,
        );
    }
    // The old gateway path only redirects to the gateway, which checks its own key.
    let legacy = path == "/api/gpts" || path.starts_with("/api/gpts/");
    let guarded = !legacy && (path == "/" || path.starts_with("/api/") || path == "/metrics");
    if let Some(key) = &p.api_key
        && guarded
        && (write || !p.public_reads)
        && !key_ok(req.headers(), key.as_bytes())
    {
        let mut res = refuse(
            StatusCode::UNAUTHORIZED,
            r#"{"error":"unauthorized","message":"missing or invalid SNIPER_API_KEY: send Authorization: Bearer <key>, X-API-Key: <key>, or Basic with the key as password"}"#,
        );
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"Basic realm="sniper", charset="UTF-8""#),
        );
        return res;
    }
    next.run(req).await
}

/// A request a browser marks as coming from another site.
fn cross_site(h: &HeaderMap, host: &str) -> bool {
    if let Some(site) = h.get("sec-fetch-site")
        && !matches!(site.as_bytes(), b"same-origin" | b"none")
    {
        return true;
    }
    match h.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        None => false,
        Some(origin) => {
            let authority = origin.split_once("://").map(|(_, a)| a);
            !authority.is_some_and(|a| a.eq_ignore_ascii_case(host))
        }
    }
}

/// The key in Bearer, `X-API-Key` or Basic (password part); constant-time comparison.
fn key_ok(h: &HeaderMap, key: &[u8]) -> bool {
    if check_key(h, key).is_some() {
        return true;
    }
    let Some(v) = h.get(header::AUTHORIZATION).map(HeaderValue::as_bytes) else {
        return false;
    };
    if v.len() < 6 || !v[..6].eq_ignore_ascii_case(b"basic ") {
        return false;
    }
    let Some(decoded) = base64_decode(v[6..].trim_ascii()) else {
        return false;
    };
    let password = match decoded.iter().position(|b| *b == b':') {
        Some(i) => &decoded[i + 1..],
        None => &decoded[..],
    };
    bool::from(password.ct_eq(key))
}

/// Standard base64 (padding optional); `None` on any other byte.
fn base64_decode(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in s.iter().take_while(|c| **c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

fn refuse(status: StatusCode, body: &'static str) -> Response {
    let mut res = Response::new(Body::from(body));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// `X-API-Key`: the key header of the gateway and the operator surface.
pub const X_API_KEY: http::HeaderName = http::HeaderName::from_static("x-api-key");

/// Which inbound header carried a valid key (so the gateway can keep it from the backend).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// `Authorization: Bearer <key>`.
    Bearer,
    /// `X-API-Key: <key>`.
    ApiKey,
}

/// Checks the gateway key in `Authorization: Bearer <key>` or `X-API-Key: <key>`.
///
/// The comparison of key bytes is constant-time (`subtle`); only the length may leak,
/// which a 32-byte random key does not mind.
pub fn check_key(headers: &HeaderMap, key: &[u8]) -> Option<KeySource> {
    if let Some(v) = headers.get(header::AUTHORIZATION)
        && let Some(token) = bearer_token(v.as_bytes())
        && bool::from(token.ct_eq(key))
    {
        return Some(KeySource::Bearer);
    }
    if let Some(v) = headers.get(X_API_KEY)
        && bool::from(v.as_bytes().trim_ascii().ct_eq(key))
    {
        return Some(KeySource::ApiKey);
    }
    None
}

/// The token of an `Authorization: Bearer <token>` value (scheme case-insensitive).
fn bearer_token(value: &[u8]) -> Option<&[u8]> {
    const SCHEME: &[u8] = b"bearer ";
    if value.len() > SCHEME.len() && value[..SCHEME.len()].eq_ignore_ascii_case(SCHEME) {
        Some(value[SCHEME.len()..].trim_ascii())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listen(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn default_hosts_table() {
        let public: url::Url = "https://gw.example.com/base".parse().unwrap();
        let r = HostRule::new(None, listen("127.0.0.1:8080"), Some(&public)).unwrap();
        for (host, ok) in [
            ("127.0.0.1:8080", true),
            ("localhost:8080", true),
            ("LOCALHOST:8080", true),
            ("[::1]:8080", true),
            ("gw.example.com", true),
            ("gw.example.com:443", true),
            ("gw.example.com.", true),
            ("localhost:9090", false),
            ("localhost", false),
            ("evil.example:8080", false),
            ("127.0.0.1.evil.example:8080", false),
            ("", false),
            ("a b:8080", false),
        ] {
            assert_eq!(r.allows(host), ok, "{host}");
        }
        let r = HostRule::new(None, listen("0.0.0.0:80"), None).unwrap();
        assert!(!r.allows("0.0.0.0:80"));
        assert!(r.allows("localhost:80"));
        let r = HostRule::new(None, listen("[::1]:81"), None).unwrap();
        assert!(r.allows("[::1]:81"));
    }

    #[test]
    fn configured_hosts_and_errors() {
        let r = HostRule::new(
            Some("gw.example, 10.0.0.5:8080"),
            listen("0.0.0.0:8080"),
            None,
        )
        .unwrap();
        assert!(r.allows("gw.example:1234"));
        assert!(r.allows("10.0.0.5:8080"));
        assert!(!r.allows("10.0.0.5:8081"));
        assert!(!r.allows("localhost:8080"));
        assert_eq!(
            HostRule::new(Some("*"), listen("0.0.0.0:1"), None).unwrap(),
            HostRule::Any
        );
        let e = HostRule::new(Some("a/b"), listen("0.0.0.0:1"), None).unwrap_err();
        assert!(e.to_string().contains("SNIPER_ALLOWED_HOSTS"), "{e}");
        assert!(HostRule::new(Some("h:99999"), listen("0.0.0.0:1"), None).is_err());
    }

    #[test]
    fn cross_site_detection() {
        let mut h = HeaderMap::new();
        assert!(!cross_site(&h, "127.0.0.1:8080"));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        assert!(!cross_site(&h, "127.0.0.1:8080"));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://evil.example"),
        );
        assert!(cross_site(&h, "127.0.0.1:8080"));
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(cross_site(&h, "127.0.0.1:8080"));
        let mut h = HeaderMap::new();
        h.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(cross_site(&h, "x"));
        h.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert!(!cross_site(&h, "x"));
    }

    #[test]
    fn key_by_bearer_header_or_basic_password() {
        let key = b"k3y";
        let mk = |name: &'static str, v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(name, HeaderValue::from_static(v));
            h
        };
        assert!(key_ok(&mk("authorization", "Bearer k3y"), key));
        assert!(key_ok(&mk("x-api-key", "k3y"), key));
        // base64("admin:k3y") and base64(":k3y")
        assert!(key_ok(&mk("authorization", "Basic YWRtaW46azN5"), key));
        assert!(key_ok(&mk("authorization", "basic OmszeQ=="), key));
        // base64("admin:k3z")
        assert!(!key_ok(&mk("authorization", "Basic YWRtaW46azN6"), key));
        assert!(!key_ok(&mk("authorization", "Basic !!"), key));
        assert!(!key_ok(&HeaderMap::new(), key));
    }
}
