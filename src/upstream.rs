//! The one HTTP client to the backend, and the one function that builds backend URLs.
//!
//! Invariants: every upstream URL is built by [`Base::url`] and stays on `PY_BASE_URL`'s origin and
//! under its path prefix (segments are percent-encoded, `.`/`..` refused); redirects are never
//! followed; bodies are capped while streaming.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use http::HeaderMap;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use url::Url;

use crate::resilience::class::{ErrorClass, PayloadKind, TransientKind};

/// Characters escaped inside one path segment: everything that could end or alter the segment.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// Why a URL could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("path segment {0:?} would leave the configured base path")]
    DotSegment(String),
    #[error("empty path segment")]
    EmptySegment,
}

/// The configured backend: origin plus path prefix. The only source of upstream URLs.
#[derive(Debug, Clone)]
pub struct Base {
    /// `PY_BASE_URL` with its path normalised to end without `/` (root is empty).
    url: Url,
    prefix: String,
}

impl Base {
    /// From a validated `PY_BASE_URL`.
    pub fn new(url: &Url) -> Base {
        let mut url = url.clone();
        url.set_query(None);
        url.set_fragment(None);
        let prefix = url.path().trim_end_matches('/').to_string();
        Base { url, prefix }
    }

    /// `scheme://host:port` of the backend.
    pub fn origin(&self) -> String {
        self.url.origin().ascii_serialization()
    }

    /// The backend's identity for saved state: origin (scheme, lower-case host, port unless the
    /// scheme's default) followed by the path prefix without a trailing `/`, e.g.
    /// `https://api.example.com/py`. No user info, query or fragment.
    pub fn key(&self) -> String {
        format!("{}{}", self.origin(), self.prefix)
    }

    /// The path prefix (`/py`), empty for the root.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Build `base + /seg1/seg2…?k=v…`. Each segment is percent-encoded, so no value can add a
    /// segment, a query or leave the origin; `.` and `..` are refused.
    pub fn url(&self, segments: &[String], query: &[(String, String)]) -> Result<Url, UrlError> {
        let mut path = String::with_capacity(self.prefix.len() + 64);
        path.push_str(&self.prefix);
        for s in segments {
            if s.is_empty() {
                return Err(UrlError::EmptySegment);
            }
            if s == "." || s == ".." {
                return Err(UrlError::DotSegment(s.clone()));
            }
            path.push('/');
            path.extend(utf8_percent_encode(s, SEGMENT));
        }
        if path.is_empty() {
            path.push('/');
        }
        let mut url = self.url.clone();
        url.set_path(&path);
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        }
        Ok(url)
    }

    /// Build from a template path string such as `/advanced/etf/flows` (no placeholders).
    pub fn url_for_path(&self, path: &str, query: &[(String, String)]) -> Result<Url, UrlError> {
        let segs: Vec<String> = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        self.url(&segs, query)
    }
}

/// A complete response from the backend, body already read within the cap.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Connection settings of the client.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub connect_timeout: Duration,
    pub max_body: usize,
    /// Most requests in flight at once through this client (`SNIPER_MAX_IN_FLIGHT`); further
    /// requests wait for a slot, within their own timeout.
    pub max_in_flight: usize,
}

/// The one pooled HTTP client to the backend.
#[derive(Debug, Clone)]
pub struct Upstream {
    http: reqwest::Client,
    base: Base,
    max_body: usize,
    in_flight: std::sync::Arc<tokio::sync::Semaphore>,
    max_in_flight: usize,
}

/// Errors building the client.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the HTTP client: {0}")]
pub struct ClientBuildError(#[from] reqwest::Error);

impl Upstream {
    pub fn new(base: Base, cfg: &ClientConfig) -> Result<Upstream, ClientBuildError> {
        let http = reqwest::Client::builder()
            .connect_timeout(cfg.connect_timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(cfg.max_in_flight.clamp(1, 256))
            .redirect(reqwest::redirect::Policy::none())
            .tcp_nodelay(true)
            .user_agent(concat!("sniper/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let max_in_flight = cfg.max_in_flight.max(1);
        Ok(Upstream {
            http,
            base,
            max_body: cfg.max_body,
            in_flight: std::sync::Arc::new(tokio::sync::Semaphore::new(max_in_flight)),
            max_in_flight,
        })
    }

    pub fn base(&self) -> &Base {
        &self.base
    }

    /// Requests in flight now (for metrics and tests).
    pub fn in_flight(&self) -> usize {
        self.max_in_flight - self.in_flight.available_permits()
    }

    /// GET `url` (built by [`Base::url`]) with `headers`, read the body within the cap, all within
    /// `timeout`. Transport failures are classified; any status is returned as a [`Response`].
    pub async fn get(
        &self,
        url: Url,
        headers: HeaderMap,
        timeout: Duration,
    ) -> Result<Response, ErrorClass> {
        let fut = async {
            // A slot of SNIPER_MAX_IN_FLIGHT, held until the body is read; waiting for it counts
            // against the request's timeout.
            let _slot = self
                .in_flight
                .acquire()
                .await
                .map_err(|_| ErrorClass::Transient {
                    kind: TransientKind::Connect,
                })?;
            let resp = self
                .http
                .get(url)
                .headers(headers)
                .send()
                .await
                .map_err(|e| transport_class(&e))?;
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            if let Some(len) = resp.content_length()
                && len > self.max_body as u64
            {
                return Err(ErrorClass::BadPayload {
                    kind: PayloadKind::TooLarge,
                });
            }
            let mut buf = BytesMut::new();
            let mut stream = resp.bytes_stream();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| transport_class(&e))?;
                if buf.len() + chunk.len() > self.max_body {
                    return Err(ErrorClass::BadPayload {
                        kind: PayloadKind::TooLarge,
                    });
                }
                buf.extend_from_slice(&chunk);
            }
            // A backend may compress without being asked (issue 22 item 5): decode, with the
            // cap applied to the decoded size (a gzip bomb stops at the cap).
            let body = match decode_body(&headers, &buf, self.max_body) {
                Ok(None) => buf.freeze(),
                Ok(Some(decoded)) => Bytes::from(decoded),
                Err(DecodeError::TooLarge { .. }) => {
                    return Err(ErrorClass::BadPayload {
                        kind: PayloadKind::TooLarge,
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "backend body not decodable");
                    return Err(ErrorClass::BadPayload {
                        kind: PayloadKind::Encoding,
                    });
                }
            };
            Ok(Response {
                status,
                headers,
                body,
            })
        };
        match tokio::time::timeout(timeout, fut).await {
            Ok(r) => r,
            Err(_) => Err(ErrorClass::Transient {
                kind: TransientKind::Timeout,
            }),
        }
    }
}

/// Why a compressed body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The decoded body is over the cap.
    #[error("decoded body over {limit} bytes")]
    TooLarge {
        /// The cap, bytes.
        limit: usize,
    },
    /// The body does not decode as the coding it claims.
    #[error("body does not decode as {coding}: {reason}")]
    Corrupt {
        coding: &'static str,
        reason: String,
    },
    /// A content coding sniper does not decode.
    #[error("content coding {0:?} is not decoded (gzip and deflate are)")]
    Unsupported(String),
}

/// Decode a body compressed with `gzip` or `deflate` (zlib-wrapped or raw), as its
/// `Content-Encoding` says (codings applied in order are undone in reverse, RFC 9110 §8.4) — or,
/// with no `Content-Encoding`, when the body starts with gzip's magic bytes `1f 8b` (a backend
/// that compresses regardless of `Accept-Encoding`, and a proxy that dropped the header).
///
/// `Ok(None)`: nothing to decode (identity). The decoded size is bounded by `limit` while
/// decoding: a body that would decode to more is [`DecodeError::TooLarge`], never held whole.
pub fn decode_body(
    headers: &HeaderMap,
    body: &[u8],
    limit: usize,
) -> Result<Option<Vec<u8>>, DecodeError> {
    let mut codings: Vec<String> = headers
        .get_all(http::header::CONTENT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|c| c.trim().to_ascii_lowercase())
        .filter(|c| !c.is_empty() && c != "identity")
        .collect();
    if codings.is_empty() && body.starts_with(&[0x1f, 0x8b]) {
        codings.push("gzip".into());
    }
    if codings.is_empty() {
        return Ok(None);
    }
    let mut cur: Vec<u8> = body.to_vec();
    for coding in codings.iter().rev() {
        cur = match coding.as_str() {
            "gzip" | "x-gzip" => {
                read_capped(flate2::read::MultiGzDecoder::new(&cur[..]), limit, "gzip")?
            }
            "deflate" => {
                match read_capped(flate2::read::ZlibDecoder::new(&cur[..]), limit, "deflate") {
                    Err(DecodeError::Corrupt { .. }) => read_capped(
                        flate2::read::DeflateDecoder::new(&cur[..]),
                        limit,
                        "deflate",
                    )?,
                    other => other?,
                }
            }
            other => return Err(DecodeError::Unsupported(other.chars().take(32).collect())),
        };
    }
    Ok(Some(cur))
}

fn read_capped(
    r: impl std::io::Read,
    limit: usize,
    coding: &'static str,
) -> Result<Vec<u8>, DecodeError> {
    use std::io::Read;
    let mut out = Vec::new();
    r.take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| DecodeError::Corrupt {
            coding,
            reason: e.to_string(),
        })?;
    if out.len() > limit {
        return Err(DecodeError::TooLarge { limit });
    }
    Ok(out)
}

/// Classify a reqwest transport error.
fn transport_class(e: &reqwest::Error) -> ErrorClass {
    let kind = if e.is_timeout() {
        TransientKind::Timeout
    } else if e.is_connect() {
        TransientKind::Connect
    } else {
        TransientKind::Reset
    };
    ErrorClass::Transient { kind }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(s: &str) -> Base {
        Base::new(&Url::parse(s).unwrap())
    }

    #[test]
    fn stays_on_origin_and_prefix() {
        let b = base("http://127.0.0.1:8000/py/");
        let u = b
            .url(
                &["advanced".into(), "x/../../etc".into(), "//evil.com".into()],
                &[("symbol".into(), "SOL&x=1".into())],
            )
            .unwrap();
        assert_eq!(u.host_str(), Some("127.0.0.1"));
        assert_eq!(u.port(), Some(8000));
        assert_eq!(u.path(), "/py/advanced/x%2F..%2F..%2Fetc/%2F%2Fevil.com");
        assert_eq!(u.query(), Some("symbol=SOL%26x%3D1"));
    }

    #[test]
    fn refuses_dot_segments() {
        let b = base("http://h:1/py");
        assert_eq!(
            b.url(&["..".into()], &[]),
            Err(UrlError::DotSegment("..".into()))
        );
        assert!(b.url(&[".".into()], &[]).is_err());
        assert!(b.url_for_path("/a/../b", &[]).is_err());
        assert!(b.url(&[String::new()], &[]).is_err());
    }

    fn gz(data: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn gzip_is_decoded_by_header_or_magic_bytes_within_the_cap() {
        let json = br#"{"bids":[["1","2"]]}"#;
        let body = gz(json);
        let mut h = HeaderMap::new();
        assert_eq!(
            decode_body(&h, &body, 1000).unwrap().as_deref(),
            Some(&json[..])
        );
        h.insert(http::header::CONTENT_ENCODING, "gzip".parse().unwrap());
        assert_eq!(
            decode_body(&h, &body, 1000).unwrap().as_deref(),
            Some(&json[..])
        );
        assert_eq!(decode_body(&HeaderMap::new(), json, 1000), Ok(None));
        // A bomb: 1 MB of zeros compresses to ~1 KB and must stop at the cap.
        let bomb = gz(&vec![b'0'; 1_000_000]);
        assert!(bomb.len() < 10_000);
        assert_eq!(
            decode_body(&h, &bomb, 100_000),
            Err(DecodeError::TooLarge { limit: 100_000 })
        );
        h.insert(http::header::CONTENT_ENCODING, "br".parse().unwrap());
        assert!(matches!(
            decode_body(&h, json, 1000),
            Err(DecodeError::Unsupported(c)) if c == "br"
        ));
        h.insert(http::header::CONTENT_ENCODING, "gzip".parse().unwrap());
        assert!(matches!(
            decode_body(&h, b"not gzip", 1000),
            Err(DecodeError::Corrupt { .. })
        ));
    }

    #[test]
    fn root_base() {
        let b = base("http://h:1");
        assert_eq!(b.prefix(), "");
        assert_eq!(
            b.url_for_path("/openapi.json", &[]).unwrap().as_str(),
            "http://h:1/openapi.json"
        );
        let b = base("http://h:1/py");
        assert_eq!(
            b.url_for_path("/openapi.json", &[]).unwrap().as_str(),
            "http://h:1/py/openapi.json"
        );
    }
}
