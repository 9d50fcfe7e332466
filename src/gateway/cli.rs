//! `sniper proxy`: only the `/gpts/*` gateway (with `/health`), on the runtime `main` builds for it
//! (a current-thread runtime: measured fastest for the gateway, no cross-thread wake-ups between
//! the client and backend connection tasks). `sniper gpts check`: the Actions rules on a spec.

use std::io::Write;
use std::net::SocketAddr;

use crate::command::{CommandError, Doing};
use crate::config::parse_base_url;
use crate::web::access::{self, AccessPolicy, HostRule};
use crate::web::{bind, not_found, parse_addr, termination};

use super::ProxyArgs;

/// Start-up warnings for a gateway config: a `PUBLIC_URL` that is not https (ChatGPT only
/// calls https servers).
pub fn warn_public_url(cfg: &super::ProxyConfig) {
    if let Some(u) = &cfg.public_url
        && u.scheme() != "https"
    {
        tracing::warn!(public_url = %u, "PUBLIC_URL is not https: ChatGPT Actions only call https:// servers");
        eprintln!("sniper: warning: PUBLIC_URL={u} is not https; ChatGPT Actions will refuse it");
    }
}

/// Prints the start-up warning naming every surface open to anyone on a non-loopback listener.
pub fn warn_open(listen: SocketAddr, open: &[String]) {
    if listen.ip().is_loopback() || open.is_empty() {
        return;
    }
    tracing::warn!(%listen, open = ?open, "listener is not loopback and has open surfaces");
    eprintln!(
        "sniper: warning: listening on {listen} (not loopback); open to anyone who reaches it: {}",
        open.join("; ")
    );
}

/// Warns when a non-loopback listener will refuse (421) every name but the local ones: neither
/// `SNIPER_ALLOWED_HOSTS` nor `PUBLIC_URL` is set.
pub fn warn_hosts(listen: SocketAddr, allowed_hosts: Option<&str>, public_url: Option<&url::Url>) {
    if !listen.ip().is_loopback() && allowed_hosts.is_none() && public_url.is_none() {
        eprintln!(
            "sniper: warning: listening on {listen} without SNIPER_ALLOWED_HOSTS or PUBLIC_URL: requests naming any other host than localhost/127.0.0.1/[::1]/{} get 421",
            listen.ip()
        );
    }
}

/// Serves the gateway to `base` on `listen` until SIGTERM/Ctrl-C.
pub async fn proxy(base: &str, listen: &str, gpts: ProxyArgs) -> Result<(), CommandError> {
    let base = parse_base_url("PY_BASE_URL", base)?;
    let listen = parse_addr("SNIPER_LISTEN", listen)?;
    let allowed = gpts.allowed_hosts.clone();
    let cfg = gpts.into_config(base.clone())?;
    let policy = AccessPolicy {
        hosts: HostRule::new(allowed.as_deref(), listen, cfg.public_url.as_ref())?,
        api_key: None,
        public_reads: false,
        gpts_prefix: cfg.prefix.trim_end_matches('/').to_owned(),
    };
    warn_public_url(&cfg);
    let public_url = cfg.public_url.clone();
    let gpts_key = cfg.api_key.is_some();
    let app = super::try_router(cfg)?
        .route(
            "/health",
            axum::routing::get(|| async { axum::Json(serde_json::json!({"ok": true})) }),
        )
        .fallback(not_found);
    crate::web::server::raise_nofile_limit();
    let mut open = Vec::new();
    if !gpts_key {
        open.push(format!("{}/* (set GPTS_API_KEY)", policy.gpts_prefix));
    }
    if policy.hosts == HostRule::Any {
        open.push("any Host (SNIPER_ALLOWED_HOSTS=*)".to_owned());
    }
    let listener = bind(listen)
        .await
        .doing(|| format!("binding SNIPER_LISTEN={listen}"))?;
    let local = listener
        .local_addr()
        .doing(|| "reading the bound address".into())?;
    // The bound address (port 0 is chosen now) is what clients send as Host.
    let policy = AccessPolicy {
        hosts: HostRule::new(allowed.as_deref(), local, public_url.as_ref())?,
        ..policy
    };
    let app = access::layer(app, policy);
    warn_open(local, &open);
    warn_hosts(local, allowed.as_deref(), public_url.as_ref());
    eprintln!("sniper proxy: listening on http://{local}/ — /gpts/* → {base}");
    crate::web::server::serve(
        listener,
        app,
        crate::web::server::HEADER_READ_TIMEOUT,
        termination(),
    )
    .await
    .doing(|| "serving the gateway".into())
}

/// `sniper gpts check [URL|FILE]`: prints every GPT Actions rule the spec breaks, one per line,
/// to `out`. Returns whether the spec is clean. `target` is an `http(s)://` URL or a file path.
pub async fn check(target: &str, out: &mut dyn Write) -> Result<bool, CommandError> {
    let bytes: Vec<u8> = if target.starts_with("http://") || target.starts_with("https://") {
        let res = reqwest::Client::new()
            .get(target)
            .send()
            .await
            .doing(|| format!("fetching {target}"))?;
        let status = res.status();
        let body = res.bytes().await.doing(|| format!("reading {target}"))?;
        if !status.is_success() {
            writeln!(out, "{target}: HTTP {status}").doing(|| "writing".into())?;
            return Ok(false);
        }
        body.to_vec()
    } else {
        std::fs::read(target).doing(|| format!("reading {target}"))?
    };
    let violations = match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(doc) => super::actions::check(&doc),
        Err(e) => vec![format!("not JSON: {e}")],
    };
    for v in &violations {
        writeln!(out, "{v}").doing(|| "writing".into())?;
    }
    if violations.is_empty() {
        writeln!(out, "ok: {target} is a valid GPT Actions spec").doing(|| "writing".into())?;
    } else {
        writeln!(out, "{} violation(s) in {target}", violations.len())
            .doing(|| "writing".into())?;
    }
    Ok(violations.is_empty())
}
