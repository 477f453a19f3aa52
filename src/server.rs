//! HTTP: `/metrics` (content negotiation, gzip), `/probe?target=<name>` (one named
//! cluster, same rules), `POST /-/reload` (with `--web.enable-lifecycle`), the landing
//! page, `/-/healthy`, `/-/ready`, graceful shutdown, and the `--web.config.file` layers
//! (TLS, basic auth, response headers, rate limit; see [`crate::webconfig`]). What is
//! served comes from the [`Registry`]'s current generation, read per request (per
//! connection for TLS), so a reload applies without a restart.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::time::Instant;
use tower_http::compression::CompressionLayer;

use crate::clusters::Registry;
use crate::exposition;
use crate::model::{Scope, Snapshot};
use crate::scrape::Scraper;
use crate::selfmetrics::{now_seconds, REVISION};
use crate::webconfig::{Access, WebSecurity};

/// Header Prometheus sends with its scrape timeout in seconds.
pub const SCRAPE_TIMEOUT_HEADER: &str = "x-prometheus-scrape-timeout-seconds";

/// Path of the multi-target endpoint.
pub const PROBE_PATH: &str = "/probe";

/// The gzip layer of the scrape endpoints.
fn gzip() -> CompressionLayer {
    // The fastest level: a 1,000-subtask answer (1.1 MB) deflates ~3.5x faster than at the
    // default level for ~15 % more bytes, and the scrape waits for it (BENCHMARKS.md,
    // issue 9).
    CompressionLayer::new()
        .quality(tower_http::CompressionLevel::Fastest)
        .gzip(true)
        .no_br()
        .no_deflate()
        .no_zstd()
}

/// Builds the router serving every endpoint for `scraper` alone (no targets, no reload).
pub fn router(scraper: Arc<Scraper>) -> Router {
    registry_router(Arc::new(Registry::single(
        scraper,
        Arc::new(WebSecurity::default()),
    )))
}

/// Builds the router serving every endpoint of `registry`.
pub fn registry_router(registry: Arc<Registry>) -> Router {
    let path = registry.telemetry_path().to_string();
    let mut router = Router::new().route(&path, get(metrics).layer(gzip()));
    if path != PROBE_PATH {
        router = router.route(PROBE_PATH, get(probe).layer(gzip()));
    }
    router
        .route("/", get(landing))
        .route("/-/healthy", get(|| async { "Healthy\n" }))
        .route("/-/ready", get(|| async { "Ready\n" }))
        .route("/-/reload", post(reload))
        .with_state(registry)
}

/// The time budget of one scrape: Prometheus's timeout minus the offset, else the
/// configured timeout.
pub fn scrape_budget(headers: &HeaderMap, offset: Duration, fallback: Duration) -> Duration {
    let from_header = headers
        .get(SCRAPE_TIMEOUT_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|t| t.is_finite() && *t > 0.0 && *t < 86_400.0)
        .map(Duration::from_secs_f64);
    match from_header {
        // Never spend less than half of what Prometheus allows, however large the offset.
        Some(t) => t.saturating_sub(offset).max(t / 2),
        None => fallback,
    }
}

/// Renders `snapshot` in the format the request asks for (text 0.0.4 only when
/// `web.openmetrics` is off).
fn exposition_response(snapshot: &Snapshot, openmetrics: bool, headers: &HeaderMap) -> Response {
    let format = if openmetrics {
        exposition::negotiate(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()))
    } else {
        exposition::Format::Text004
    };
    let mut body = Vec::with_capacity(64 * 1024);
    exposition::render(snapshot, format, &mut body);
    let mut resp = body.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    resp
}

/// Scrapes `scraper` within the request's budget.
async fn scrape_cluster(scraper: &Scraper, headers: &HeaderMap) -> Snapshot {
    let cfg = scraper.config();
    let budget = scrape_budget(headers, cfg.scrape.timeout_offset, cfg.scrape.timeout);
    scraper.scrape(Instant::now() + budget).await
}

/// `/metrics`: the top-level cluster (when one is configured) and the exporter's own
/// families, with every target's per-cluster counters labelled `target`.
async fn metrics(State(registry): State<Arc<Registry>>, headers: HeaderMap) -> Response {
    let served = registry.current();
    let mut snapshot = match &served.top_level {
        Some(scraper) => scrape_cluster(scraper, &headers).await,
        None => Snapshot {
            scope: Scope::OwnOnly,
            exporter: crate::selfmetrics::SelfMetrics::process_stats(),
            ..Snapshot::default()
        },
    };
    snapshot.exporter.targets = served
        .targets
        .iter()
        .map(|(name, scraper)| (name.clone(), scraper.metrics.stats_counters()))
        .collect();
    snapshot.exporter.reload = registry.reload_status();
    exposition_response(&snapshot, served.config.web.openmetrics, &headers)
}

/// `/probe?target=<name>`: one named cluster's series, with the same formats, deadline
/// and degradation rules as `/metrics`, and no exporter-wide families. An unknown or
/// missing target answers 400 with one line naming the known targets.
async fn probe(
    State(registry): State<Arc<Registry>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let served = registry.current();
    let wanted = query.as_deref().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "target")
            .map(|(_, v)| v.into_owned())
    });
    let known = if served.targets.is_empty() {
        "no targets are configured".to_string()
    } else {
        format!("known targets: {}", served.target_names())
    };
    let scraper = match wanted.as_deref() {
        None | Some("") => {
            return (
                StatusCode::BAD_REQUEST,
                format!("missing parameter `target`; {known}\n"),
            )
                .into_response()
        }
        Some(name) => match served.targets.get(name) {
            Some(s) => Arc::clone(s),
            None => {
                let shown: String = name
                    .chars()
                    .take(64)
                    .collect::<String>()
                    .escape_default()
                    .to_string();
                return (
                    StatusCode::BAD_REQUEST,
                    format!("unknown target \"{shown}\"; {known}\n"),
                )
                    .into_response();
            }
        },
    };
    let mut snapshot = scrape_cluster(&scraper, &headers).await;
    snapshot.scope = Scope::Probe;
    exposition_response(&snapshot, served.config.web.openmetrics, &headers)
}

/// `POST /-/reload`: re-reads the configuration files (403 unless
/// `--web.enable-lifecycle`, as in Prometheus; 500 with the reason when they do not load).
async fn reload(State(registry): State<Arc<Registry>>) -> Response {
    if !registry.lifecycle() {
        return (StatusCode::FORBIDDEN, "Lifecycle API is not enabled.\n").into_response();
    }
    let outcome = {
        let registry = Arc::clone(&registry);
        tokio::task::spawn_blocking(move || registry.reload()).await
    };
    let error = match outcome {
        Ok(Ok(())) => return (StatusCode::OK, "configuration reloaded\n").into_response(),
        Ok(Err(e)) => e.to_string(),
        Err(e) => e.to_string(),
    };
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("failed to reload config: {error}\n"),
    )
        .into_response()
}

/// Escapes text for HTML.
fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub use crate::arroyo::hint::redact_url;

/// The landing page's rows for one cluster (`cluster` empty for the top-level one).
fn upstream_rows(cluster: &str, scraper: &Scraper, now: f64) -> String {
    let cfg = scraper.config();
    let statuses = scraper.metrics.upstream_status();
    let row = |name: &str, key: &str, endpoint: String, extra: String| {
        let (status, age) = match statuses.get(key) {
            Some(s) => (
                s.status.clone(),
                format!("{:.0} s ago", (now - s.at_seconds).max(0.0)),
            ),
            None => ("not called yet".to_string(), String::new()),
        };
        format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            html_escape(cluster),
            html_escape(name),
            html_escape(&endpoint),
            html_escape(&extra),
            html_escape(&status),
            html_escape(&age)
        )
    };
    let mut rows = row(
        "controller (JobMetrics RPC)",
        "controller",
        redact_url(&cfg.controller.endpoint),
        scraper
            .learned_service()
            .map(|s| format!("service: {s}"))
            .unwrap_or_else(|| "not used (metrics source: rest)".into()),
    );
    if let Some(api) = &cfg.api.endpoint {
        rows.push_str(&row(
            "REST API",
            "api",
            redact_url(api),
            "discovery, names, states".into(),
        ));
    }
    if let Some(admin) = &cfg.admin.endpoint {
        rows.push_str(&row(
            "admin port",
            "admin",
            redact_url(admin),
            "Arroyo's version (/details)".into(),
        ));
    }
    rows
}

async fn landing(State(registry): State<Arc<Registry>>) -> impl IntoResponse {
    let served = registry.current();
    let path = html_escape(registry.telemetry_path());
    let now = now_seconds();
    let mut rows = String::new();
    if let Some(scraper) = &served.top_level {
        rows.push_str(&upstream_rows("", scraper, now));
    }
    let mut targets = String::new();
    for (name, scraper) in &served.targets {
        rows.push_str(&upstream_rows(name, scraper, now));
        targets.push_str(&format!(
            "<li><a href=\"{PROBE_PATH}?target={name}\">{name}</a></li>",
            name = html_escape(name)
        ));
    }
    let targets = if targets.is_empty() {
        String::new()
    } else {
        format!("<h2>Targets</h2>\n<ul>{targets}</ul>\n")
    };
    Html(format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Arroyo Exporter</title></head>\n\
<body>\n<h1>Arroyo Exporter</h1>\n<p>Version {version} (revision {revision})</p>\n\
<ul><li><a href=\"{path}\">Metrics</a></li><li><a href=\"/-/healthy\">Health</a></li>\
<li><a href=\"/-/ready\">Readiness</a></li></ul>\n{targets}<h2>Upstreams</h2>\n\
<table border=\"1\"><tr><th>target</th><th>upstream</th><th>endpoint</th><th>detail</th><th>last status</th><th>when</th></tr>\n{rows}</table>\n\
</body></html>\n",
        version = html_escape(env!("CARGO_PKG_VERSION")),
        revision = html_escape(REVISION),
    ))
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}

/// Serves plain HTTP until `shutdown` resolves, then finishes in-flight requests.
pub async fn serve(
    listener: TcpListener,
    scraper: Arc<Scraper>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(
        listener,
        scraper,
        Arc::new(WebSecurity::default()),
        shutdown,
    )
    .await
}

/// Longest a client may take to finish the TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest a client may take to send a request's headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest the shutdown waits for in-flight requests.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Applies the web configuration to every request, whatever its path (404s included):
/// rate limit, basic auth, then the configured response headers.
async fn guard(
    State(registry): State<Arc<Registry>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let web = Arc::clone(&registry.current().web);
    let mut resp = match web.check(req.headers()).await {
        Access::Allowed => next.run(req).await,
        Access::Unauthorized => {
            let mut r = (StatusCode::UNAUTHORIZED, "Unauthorized\n").into_response();
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic"));
            r
        }
        Access::TooManyRequests => {
            (StatusCode::TOO_MANY_REQUESTS, "Too Many Requests\n").into_response()
        }
    };
    for (name, value) in web.response_headers() {
        resp.headers_mut().insert(name.clone(), value.clone());
    }
    resp
}

/// The router with the web configuration's checks in front of every route.
pub fn secured_router(scraper: Arc<Scraper>, web: Arc<WebSecurity>) -> Router {
    secured_registry_router(Arc::new(Registry::single(scraper, web)))
}

/// [`secured_router`] for every cluster of `registry`.
pub fn secured_registry_router(registry: Arc<Registry>) -> Router {
    // Wrapping the whole router as a fallback service makes the guard see unknown paths too.
    Router::new()
        .fallback_service(registry_router(Arc::clone(&registry)))
        .layer(axum::middleware::from_fn_with_state(registry, guard))
}

/// Serves with the web configuration `web` (TLS, basic auth, headers, rate limit) until
/// `shutdown` resolves, then stops accepting and lets in-flight requests finish (up to
/// 30 s). A failed TLS handshake or a broken connection never stops the server.
pub async fn serve_with(
    listener: TcpListener,
    scraper: Arc<Scraper>,
    web: Arc<WebSecurity>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_registry(listener, Arc::new(Registry::single(scraper, web)), shutdown).await
}

/// Serves `registry` (its current web configuration applies to each new connection and
/// request) until `shutdown` resolves, then stops accepting and lets in-flight requests
/// finish (up to 30 s). TLS on or off is fixed at start-up.
pub async fn serve_registry(
    listener: TcpListener,
    registry: Arc<Registry>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = secured_registry_router(Arc::clone(&registry));
    let tls_on = registry.tls();
    let mut both = auto::Builder::new(TokioExecutor::new());
    both.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    // `http2: false` in the web configuration (it may change on a reload).
    let http1_only = both.clone().http1_only();
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            biased;
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        let svc = TowerToHyperService::new(app.clone());
        let watcher = graceful.watcher();
        // The web settings of the generation serving when the connection arrives.
        let web = Arc::clone(&registry.current().web);
        let builder = if web.http2() {
            both.clone()
        } else {
            http1_only.clone()
        };
        let tls = if tls_on {
            web.tls_config().map(tokio_rustls::TlsAcceptor::from)
        } else {
            None
        };
        tokio::spawn(async move {
            match tls {
                None => {
                    let conn = builder.serve_connection_with_upgrades(TokioIo::new(tcp), svc);
                    if let Err(e) = watcher.watch(conn.into_owned()).await {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                }
                Some(acceptor) => {
                    let stream =
                        match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(tcp))
                            .await
                        {
                            Ok(Ok(s)) => s,
                            Ok(Err(e)) => {
                                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                                return;
                            }
                            Err(_) => {
                                tracing::debug!(%peer, "TLS handshake timed out");
                                return;
                            }
                        };
                    let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), svc);
                    if let Err(e) = watcher.watch(conn.into_owned()).await {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                }
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("shutdown: connections still open after the grace period were closed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_uses_header_minus_offset() {
        let mut h = HeaderMap::new();
        let off = Duration::from_millis(500);
        let fb = Duration::from_secs(10);
        assert_eq!(scrape_budget(&h, off, fb), fb);
        h.insert(SCRAPE_TIMEOUT_HEADER, HeaderValue::from_static("3"));
        assert_eq!(scrape_budget(&h, off, fb), Duration::from_millis(2500));
        h.insert(SCRAPE_TIMEOUT_HEADER, HeaderValue::from_static("0.6"));
        assert_eq!(scrape_budget(&h, off, fb), Duration::from_millis(300));
        h.insert(SCRAPE_TIMEOUT_HEADER, HeaderValue::from_static("junk"));
        assert_eq!(scrape_budget(&h, off, fb), fb);
    }

    #[test]
    fn urls_lose_credentials() {
        let u = url::Url::parse("http://user:secret@host:5115/x?token=abc").unwrap();
        assert_eq!(redact_url(&u), "http://host:5115/x");
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            html_escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
