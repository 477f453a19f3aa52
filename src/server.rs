//! HTTP: `/metrics` (content negotiation, gzip), the landing page, `/-/healthy`,
//! `/-/ready`, graceful shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio::time::Instant;
use tower_http::compression::CompressionLayer;

use crate::exposition;
use crate::scrape::Scraper;
use crate::selfmetrics::{now_seconds, REVISION};

/// Header Prometheus sends with its scrape timeout in seconds.
pub const SCRAPE_TIMEOUT_HEADER: &str = "x-prometheus-scrape-timeout-seconds";

/// Builds the router serving every endpoint.
pub fn router(scraper: Arc<Scraper>) -> Router {
    let path = scraper.config().web.telemetry_path.clone();
    Router::new()
        .route(
            &path,
            get(metrics).layer(
                CompressionLayer::new()
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

/// An endpoint URL without user name, password or query (which may hold secrets).
pub fn redact_url(url: &url::Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.set_query(None);
    u.to_string()
}

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

/// Serves until `shutdown` resolves, then finishes in-flight requests.
pub async fn serve(
    listener: TcpListener,
    scraper: Arc<Scraper>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(scraper))
        .with_graceful_shutdown(shutdown)
        .await
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
