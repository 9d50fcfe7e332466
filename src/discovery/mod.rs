//! Capability discovery: fetch the backend's `/openapi.json`, keep a route map, answer each module
//! with its request templates in rank order.
//!
//! IO lives here; matching is pure (see [`match_spec`]). The cache is single-flight (one fetch shared
//! by concurrent runs), conditional (`ETag`/`Last-Modified`), stale-if-error, and a run never waits
//! for it longer than the discovery timeout.
//!
//! The layer: [`openapi`] walks a spec (bounded, origin-locked), [`matcher`] scores operations per
//! module and builds [`template::RequestTemplate`]s, [`defaults`] holds the design's fallback shapes;
//! this file fetches and caches the spec and keeps the route map and the learned shapes.

pub mod cli;
pub mod defaults;
pub mod matcher;
pub mod openapi;
pub mod template;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};
use http::{HeaderMap, HeaderValue, header};
use serde::Serialize;
use tokio::time::Instant;

use self::matcher::{DiscoveryReport, MatchPrefs, match_all};
use self::openapi::{SpecLimits, parse_spec};
use self::template::{RequestTemplate, Source};
use crate::config::Config;
use crate::module_id::ModuleId;
use crate::upstream::{Base, ClientBuildError, ClientConfig, Upstream};

/// How long to wait before trying again after a failed fetch, so a broken backend is not hammered.
const RETRY_AFTER_ERROR: Duration = Duration::from_secs(30);

/// What discovery knows about the backend's routes.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RouteMap {
    /// True when the map came from a parsed spec.
    pub from_spec: bool,
    /// The operation chosen from the spec for each module, if any.
    pub chosen: HashMap<ModuleId, RequestTemplate>,
    /// Why the spec was not used (fetch or parse problem), for `sniper discover` and the logs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Bumped whenever the spec's choices change.
    pub generation: u64,
}

impl RouteMap {
    /// Candidates for a module, best first: the spec's choice, then the design's default shapes.
    pub fn candidates(&self, m: ModuleId) -> Vec<RequestTemplate> {
        let mut out = Vec::new();
        if let Some(t) = self.chosen.get(&m) {
            out.push(t.clone());
        }
        for t in defaults::default_candidates(m) {
            if !out.contains(&t) {
                out.push(t);
            }
        }
        out
    }
}

/// A URL shape that answered for a module, valid while the spec's choice for that module (its
/// `basis`) stays what it was when the shape was learned. Saved in the store across restarts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Learned {
    pub template: RequestTemplate,
    /// The spec's choice for the module when learned (`None`: no spec choice).
    pub basis: Option<RequestTemplate>,
}

#[derive(Debug)]
struct Cache {
    map: Arc<RouteMap>,
    /// When the map stops being fresh.
    fresh_until: Option<Instant>,
    etag: Option<HeaderValue>,
    last_modified: Option<HeaderValue>,
    last_fetch: Option<Instant>,
    /// Shape that answered for each module, for the current generation.
    learned: HashMap<ModuleId, Learned>,
    /// The generation a 404 on a spec route already refreshed (one refresh per generation).
    refreshed_404: Option<u64>,
    /// The matcher's report on the last parsed spec (for `sniper discover`).
    report: Option<Arc<DiscoveryReport>>,
}

type Inflight = Shared<BoxFuture<'static, ()>>;

/// Discovery settings.
#[derive(Debug, Clone)]
pub struct DiscoveryConfig {
    pub ttl: Duration,
    pub timeout: Duration,
    pub limits: SpecLimits,
    pub prefs: MatchPrefs,
}

/// The upstream client (one pool) and the route cache for `cfg`: what every run and
/// `sniper discover` use, built by the one rule here (`PY_BASE_URL`, connect timeout, body
/// cap, `SNIPER_MAX_IN_FLIGHT`, discovery TTL/timeout, symbol preferences).
///
/// # Errors
/// The HTTP client cannot be built (TLS roots).
pub fn from_config(cfg: &Config) -> Result<(Upstream, Arc<Discovery>), ClientBuildError> {
    let upstream = Upstream::new(
        Base::new(&cfg.base_url),
        &ClientConfig {
            connect_timeout: cfg.connect_timeout,
            max_body: cfg.max_body,
            max_in_flight: cfg.max_in_flight,
        },
    )?;
    let discovery = Discovery::new(
        upstream.clone(),
        DiscoveryConfig {
            ttl: cfg.discovery_ttl,
            timeout: cfg.discovery_timeout,
            limits: SpecLimits {
                max_bytes: cfg.max_body,
                ..SpecLimits::default()
            },
            prefs: prefs_from_config(cfg),
        },
    );
    Ok((upstream, discovery))
}

/// The route cache, shared by every run.
pub struct Discovery {
    upstream: Upstream,
    cfg: DiscoveryConfig,
    cache: Mutex<Cache>,
    inflight: Mutex<Option<Inflight>>,
}

impl Discovery {
    pub fn new(upstream: Upstream, cfg: DiscoveryConfig) -> Arc<Discovery> {
        Arc::new(Discovery {
            upstream,
            cfg,
            cache: Mutex::new(Cache {
                map: Arc::new(RouteMap {
                    note: Some("not fetched yet".into()),
                    ..RouteMap::default()
                }),
                fresh_until: None,
                etag: None,
                last_modified: None,
                last_fetch: None,
                learned: HashMap::new(),
                refreshed_404: None,
                report: None,
            }),
            inflight: Mutex::new(None),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        // A poisoned lock only means a panic elsewhere; the cache itself stays consistent.
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current route map: cached if fresh, else refreshed (single-flight), waiting at most the
    /// discovery timeout; on timeout or error the last good map (or defaults) is returned.
    pub async fn routes(self: &Arc<Self>) -> Arc<RouteMap> {
        {
            let c = self.lock();
            if c.fresh_until.is_some_and(|t| Instant::now() < t) {
                return c.map.clone();
            }
        }
        let fut = {
            let mut slot = self.inflight.lock().unwrap_or_else(|e| e.into_inner());
            match slot.as_ref() {
                Some(f) => f.clone(),
                None => {
                    let me = self.clone();
                    let handle = tokio::spawn(async move { me.refresh().await });
                    let f: Inflight = async move {
                        let _ = handle.await;
                    }
                    .boxed()
                    .shared();
                    *slot = Some(f.clone());
                    f
                }
            }
        };
        let _ = tokio::time::timeout(self.cfg.timeout, fut).await;
        self.lock().map.clone()
    }

    /// Fetch and parse the spec once; update the cache. Runs in its own task.
    async fn refresh(self: Arc<Self>) {
        let (etag, lm) = {
            let c = self.lock();
            (c.etag.clone(), c.last_modified.clone())
        };
        let mut headers = HeaderMap::new();
        if let Some(v) = etag {
            headers.insert(header::IF_NONE_MATCH, v);
        }
        if let Some(v) = lm {
            headers.insert(header::IF_MODIFIED_SINCE, v);
        }
        let url = self.upstream.base().url_for_path("/openapi.json", &[]);
        let result = match url {
            Ok(url) => {
                // The fetch has its own generous timeout: the run stopped waiting long ago if slow.
                self.upstream
                    .get(url, headers, self.cfg.timeout.max(Duration::from_secs(10)))
                    .await
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot build the spec URL");
                Err(crate::resilience::class::ErrorClass::RouteMissing)
            }
        };
        let now = Instant::now();
        {
            let mut c = self.lock();
            c.last_fetch = Some(now);
            match result {
                Ok(r) if r.status == 304 => {
                    c.fresh_until = Some(now + self.cfg.ttl);
                }
                Ok(r) if (200..300).contains(&r.status) => {
                    let parsed = match_spec(
                        &r.body,
                        &self.cfg.limits,
                        &self.cfg.prefs,
                        self.upstream.base().prefix(),
                    )
                    .map(|(map, report)| {
                        c.report = Some(Arc::new(report));
                        map
                    });
                    // A new generation only when the choice changes: learned shapes survive an
                    // identical re-fetch.
                    let generation = c.map.generation;
                    let mut map = match parsed {
                        Ok(map) => map,
                        Err(why) => {
                            tracing::warn!(%why, "backend spec unusable; using default routes");
                            if c.map.from_spec {
                                // stale-if-error: a broken new spec does not erase a good old map.
                                c.fresh_until = Some(now + RETRY_AFTER_ERROR);
                                drop(c);
                                self.clear_inflight();
                                return;
                            }
                            RouteMap {
                                note: Some(why),
                                ..RouteMap::default()
                            }
                        }
                    };
                    map.generation =
                        if map.chosen != c.map.chosen || map.from_spec != c.map.from_spec {
                            c.learned.clear();
                            generation + 1
                        } else {
                            generation
                        };
                    c.etag = r.headers.get(header::ETAG).cloned();
                    c.last_modified = r.headers.get(header::LAST_MODIFIED).cloned();
                    c.map = Arc::new(map);
                    c.fresh_until = Some(now + self.cfg.ttl);
                }
                other => {
                    let why = match other {
                        Ok(r) => format!("GET /openapi.json answered {}", r.status),
                        Err(class) => format!("GET /openapi.json failed: {}", class.label()),
                    };
                    tracing::warn!(%why, stale = c.map.from_spec, "discovery refresh failed");
                    if !c.map.from_spec {
                        let generation = c.map.generation;
                        c.map = Arc::new(RouteMap {
                            note: Some(why),
                            generation,
                            ..RouteMap::default()
                        });
                    }
                    c.fresh_until = Some(now + RETRY_AFTER_ERROR.min(self.cfg.ttl));
                }
            }
        }
        self.clear_inflight();
    }

    fn clear_inflight(&self) {
        *self.inflight.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Candidates for a module, learned shape first.
    pub fn candidates(&self, map: &RouteMap, m: ModuleId) -> Vec<RequestTemplate> {
        let mut out = map.candidates(m);
        // The design's shapes send the module's configured symbol form (HEATMAP_SYMBOL_FORM…).
        let form = self.cfg.prefs.module(m).symbol_form;
        for t in out.iter_mut().filter(|t| t.source == Source::Default) {
            for p in &mut t.params {
                if let crate::discovery::template::Role::Symbol(f) = &mut p.role {
                    *f = form;
                }
            }
        }
        let c = self.lock();
        if let Some(l) = c.learned.get(&m)
            && l.basis.as_ref() == map.chosen.get(&m)
            && let Some(i) = out.iter().position(|x| {
                // The same route, possibly with the symbol form learned from an `EMPTY` answer.
                x.method == l.template.method && x.path == l.template.path
            })
        {
            out.remove(i);
            out.insert(0, l.template.clone());
        }
        out
    }

    /// The matcher's report on the last parsed spec, if any.
    pub fn report(&self) -> Option<Arc<DiscoveryReport>> {
        self.lock().report.clone()
    }

    /// The route a module would use now: its learned shape, else the spec's choice, else the
    /// design's default. For the status page and `/api/modules`.
    pub fn current_route(&self, m: ModuleId) -> RequestTemplate {
        let map = self.lock().map.clone();
        self.candidates(&map, m)
            .into_iter()
            .next()
            .unwrap_or_else(|| defaults::default_candidates(m).remove(0))
    }

    /// Remember the shape that answered for a module (until the spec changes).
    pub fn learn(&self, map: &RouteMap, m: ModuleId, t: &RequestTemplate) {
        let mut c = self.lock();
        c.learned.insert(
            m,
            Learned {
                template: t.clone(),
                basis: map.chosen.get(&m).cloned(),
            },
        );
    }

    /// Every learned shape (for the store).
    pub fn learned(&self) -> HashMap<ModuleId, Learned> {
        self.lock().learned.clone()
    }

    /// Restore a learned shape saved by an earlier process; it is used only while the spec's
    /// choice for the module is still its basis.
    pub fn restore_learned(&self, m: ModuleId, l: Learned) {
        self.lock().learned.insert(m, l);
    }

    /// A route taken from the spec answered 404: the next run refreshes the spec, once per
    /// route-map generation (an unchanged spec is not re-fetched on every 404).
    pub fn route_missing(&self, t: &RequestTemplate) {
        if t.source != Source::Spec {
            return;
        }
        let mut c = self.lock();
        let generation = c.map.generation;
        if c.refreshed_404 != Some(generation) {
            tracing::info!(path = %t.path, "spec route answered 404; refreshing the spec once");
            c.refreshed_404 = Some(generation);
            c.fresh_until = None;
        }
    }
}

/// Parse a spec and choose a template per module. Pure.
///
/// `base_prefix` is `PY_BASE_URL`'s path: a relative server URL that repeats it (the spec was
/// fetched from under it) is not applied twice.
pub fn match_spec(
    body: &[u8],
    limits: &SpecLimits,
    prefs: &MatchPrefs,
    base_prefix: &str,
) -> Result<(RouteMap, DiscoveryReport), String> {
    let mut spec = parse_spec(body, limits).map_err(|e| e.to_string())?;
    for i in &spec.ignored {
        tracing::warn!(what = %i.what, why = %i.why, "ignored part of the backend spec");
    }
    if !base_prefix.is_empty()
        && let Some(rest) = spec.prefix.strip_prefix(base_prefix)
        && (rest.is_empty() || rest.starts_with('/'))
    {
        spec.prefix = rest.to_string();
    }
    let report = match_all(&spec, prefs);
    let chosen = ModuleId::ALL
        .into_iter()
        .filter_map(|m| report.chosen(m).map(|t| (m, t.clone())))
        .collect();
    Ok((
        RouteMap {
            from_spec: true,
            chosen,
            note: None,
            generation: 0,
        },
        report,
    ))
}

/// Matching preferences from the configuration: the first symbol, and each module's settings.
pub fn prefs_from_config(cfg: &Config) -> MatchPrefs {
    let mut prefs = MatchPrefs::default();
    if let Some(s) = cfg.symbols.first() {
        prefs.base = s.forms.base.clone();
        prefs.spot = s.forms.spot.clone();
        prefs.perp = s.forms.perp.clone();
    }
    for m in ModuleId::ALL {
        let mut mp = prefs.module(m);
        match m {
            ModuleId::Etf => mp.fixed_base = Some(cfg.etf_asset.clone()),
            ModuleId::Heatmap => {
                mp.timeframes = vec![cfg.heatmap_timeframe.clone()];
                if let Some(f) = cfg.heatmap_symbol_form {
                    mp.symbol_form = f;
                }
            }
            ModuleId::SpotOb => {
                mp.exchange = Some(cfg.spot_ob_exchange.clone());
                mp.depth = Some(cfg.spot_ob_depth);
            }
            ModuleId::WhaleAlerts | ModuleId::Bias => {}
        }
        prefs.modules.insert(m, mp);
    }
    prefs
}
