//! HTTP: `/metrics` (content negotiation, gzip), the landing page, `/-/healthy`,
//! `/-/ready`, graceful shutdown, and the `--web.config.file` layers (TLS, basic auth,
//! response headers, rate limit; see [`crate::webconfig`]).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::time::Instant;
use tower_http::compression::CompressionLayer;

use crate::exposition;
use crate::scrape::Scraper;
use crate::selfmetrics::{now_seconds, REVISION};
use crate::webconfig::{Access, WebSecurity};

/// Header Prometheus sends with its scrape timeout in seconds.
pub const SCRAPE_TIMEOUT_HEADER: &str = "x-prometheus-scrape-timeout-seconds";

/// Builds the router serving every endpoint.
pub fn router(scraper: Arc<Scraper>) -> Router {
    let path = scraper.config().web.telemetry_path.clone();
    Router::new()
        .route(
            &path,
            get(metrics).layer(
                // The fastest level: a 1,000-subtask answer (1.1 MB) deflates ~3.5x faster
                // than at the default level for ~15 % more bytes, and the scrape waits for it
                // (BENCHMARKS.md, issue 9).
                CompressionLayer::new()
                    .quality(tower_http::CompressionLevel::Fastest)
                    .gzip(true)
                    .no_br()
                    .no_deflate()
                    .no_zstd(),
            ),
        )
        .route("/", get(landing))
        .route("/-/healthy", get(|| async { "Healthy\n" }))
        .route("/-/ready", get(|| async { "Ready\n" }))
        .with_state(scraper)
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

async fn metrics(State(scraper): State<Arc<Scraper>>, headers: HeaderMap) -> Response {
    let cfg = scraper.config();
    let budget = scrape_budget(&headers, cfg.scrape.timeout_offset, cfg.scrape.timeout);
    let format = if cfg.web.openmetrics {
        exposition::negotiate(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()))
    } else {
        exposition::Format::Text004
    };
    let snapshot = scraper.scrape(Instant::now() + budget).await;
    let mut body = Vec::with_capacity(64 * 1024);
    exposition::render(&snapshot, format, &mut body);
    let mut resp = body.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    resp
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

async fn landing(State(scraper): State<Arc<Scraper>>) -> impl IntoResponse {
    let cfg = scraper.config();
    let path = html_escape(&cfg.web.telemetry_path);
    let statuses = scraper.metrics.upstream_status();
    let now = now_seconds();
    let row = |name: &str, key: &str, endpoint: String, extra: String| {
        let (status, age) = match statuses.get(key) {
            Some(s) => (
                s.status.clone(),
                format!("{:.0} s ago", (now - s.at_seconds).max(0.0)),
            ),
            None => ("not called yet".to_string(), String::new()),
        };
        format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            html_escape(name),
            html_escape(&endpoint),
            html_escape(&extra),
            html_escape(&status),
            html_escape(&age)
        )
    };
    let mut rows = String::new();
    rows.push_str(&row(
        "controller (JobMetrics RPC)",
        "controller",
        redact_url(&cfg.controller.endpoint),
        scraper
            .learned_service()
            .map(|s| format!("service: {s}"))
            .unwrap_or_else(|| "not used (metrics source: rest)".into()),
    ));
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
    Html(format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Arroyo Exporter</title></head>\n\
<body>\n<h1>Arroyo Exporter</h1>\n<p>Version {version} (revision {revision})</p>\n\
<ul><li><a href=\"{path}\">Metrics</a></li><li><a href=\"/-/healthy\">Health</a></li>\
<li><a href=\"/-/ready\">Readiness</a></li></ul>\n<h2>Upstreams</h2>\n\
<table border=\"1\"><tr><th>upstream</th><th>endpoint</th><th>detail</th><th>last status</th><th>when</th></tr>\n{rows}</table>\n\
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
    State(web): State<Arc<WebSecurity>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
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
    // Wrapping the whole router as a fallback service makes the guard see unknown paths too.
    Router::new()
        .fallback_service(router(scraper))
        .layer(axum::middleware::from_fn_with_state(web, guard))
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
    let app = secured_router(scraper, Arc::clone(&web));
    let tls = web.tls_config().map(tokio_rustls::TlsAcceptor::from);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    if !web.http2() {
        builder = builder.http1_only();
    }
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
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let tls = tls.clone();
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
