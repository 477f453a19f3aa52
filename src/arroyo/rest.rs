//! Arroyo's REST API (`/api/v1`): job discovery, pipeline names and graphs, checkpoints,
//! and the `operator_metric_groups` bridge.
//!
//! Bodies are read with a size cap and handed to the pure decoders in [`super::wire`].

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION};

use crate::arroyo::error::{ErrorKind, UpstreamError};
use crate::arroyo::hint;
use crate::arroyo::wire::{self, DecodeError};
use crate::config::{AdminConfig, ApiConfig, ClientTlsConfig};
use crate::model::{
    ArroyoBuild, Checkpoint, CheckpointDetails, Job, JobErrorPage, JobMetrics, Pipeline,
};

/// A decode error of the answer to `GET {path}`.
fn decode_error(path: &str, e: DecodeError) -> UpstreamError {
    UpstreamError::new(ErrorKind::Decode, format!("GET {path}: {e}"))
}

/// Upper bound on pages read from the pipeline list in one refresh.
const MAX_PAGES: usize = 10_000;

/// Largest `/details` answer of the admin port (a few hundred bytes in practice).
const ADMIN_MAX_BODY: usize = 64 * 1024;

/// What differs between the clients of the REST API and of the admin port.
struct Settings<'a> {
    /// Configuration section, for messages (`api`, `admin`).
    section: &'static str,
    timeout: Duration,
    tls: &'a ClientTlsConfig,
    max_body: usize,
    page_size: u32,
}

/// A client of Arroyo's REST API (or of its admin port, see [`RestClient::admin`]).
pub struct RestClient {
    http: reqwest::Client,
    base: url::Url,
    page_size: u32,
    max_body: usize,
}

/// Maps an HTTP status to a bounded error kind.
fn status_kind(status: reqwest::StatusCode) -> ErrorKind {
    match status.as_u16() {
        401 => ErrorKind::Http401,
        403 => ErrorKind::Http403,
        404 => ErrorKind::Http404,
        429 => ErrorKind::Http429,
        400..=499 => ErrorKind::Http4xx,
        500 => ErrorKind::Http500,
        502 => ErrorKind::Http502,
        503 => ErrorKind::Http503,
        504 => ErrorKind::Http504,
        _ => ErrorKind::Http5xx,
    }
}

/// Maps a transport failure (no HTTP status) to a bounded error kind.
fn transport_kind(e: &reqwest::Error) -> ErrorKind {
    if e.is_timeout() {
        ErrorKind::Timeout
    } else if e.is_connect() {
        ErrorKind::Connect
    } else {
        ErrorKind::HttpTransport
    }
}

impl RestClient {
    /// Creates a client for `base` (the API's root URL, without `/api/v1`).
    pub fn new(cfg: &ApiConfig, base: url::Url, token: Option<&str>) -> Result<RestClient, String> {
        RestClient::build(
            Settings {
                section: "api",
                timeout: cfg.timeout,
                tls: &cfg.tls,
                max_body: cfg.max_response_size,
                page_size: cfg.page_size,
            },
            base,
            token,
        )
    }

    /// Creates a client of Arroyo's admin port (`base` = its root URL), for `/details`.
    pub fn admin(
        cfg: &AdminConfig,
        base: url::Url,
        token: Option<&str>,
    ) -> Result<RestClient, String> {
        RestClient::build(
            Settings {
                section: "admin",
                timeout: cfg.timeout,
                tls: &cfg.tls,
                max_body: ADMIN_MAX_BODY,
                page_size: 1,
            },
            base,
            token,
        )
    }

    fn build(s: Settings<'_>, base: url::Url, token: Option<&str>) -> Result<RestClient, String> {
        let section = s.section;
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        if let Some(token) = token {
            let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
                .map_err(|_| format!("{section} token holds characters not allowed in a header"))?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        let mut builder = reqwest::Client::builder()
            .default_headers(headers)
            .timeout(s.timeout)
            .connect_timeout(s.timeout.min(Duration::from_secs(3)))
            .pool_idle_timeout(Duration::from_secs(60))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("arroyo-exporter/", env!("CARGO_PKG_VERSION")));
        let material = crate::arroyo::tls::load(section, s.tls)?;
        if let (Some(pem), Some(path)) = (&material.ca_pem, &s.tls.ca_file) {
            let cert = reqwest::Certificate::from_pem(pem)
                .map_err(|e| format!("{section}.tls.ca-file {}: {e}", path.display()))?;
            builder = builder.add_root_certificate(cert);
        }
        if let Some(id) = material.identity {
            let mut pem = id.cert_pem;
            pem.extend(id.key_pem);
            let id =
                reqwest::Identity::from_pem(&pem).map_err(|e| format!("{section}.tls: {e}"))?;
            builder = builder.identity(id);
        }
        let http = builder
            .build()
            .map_err(|e| format!("{section} client: {e}"))?;
        // `join` replaces the last path segment unless the base ends with `/`: keep a
        // path prefix such as `http://host/arroyo` in every call.
        let mut base = base;
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        Ok(RestClient {
            http,
            base,
            page_size: s.page_size,
            max_body: s.max_body,
        })
    }

    fn url(&self, path: &str, query: &[(&str, &str)]) -> Result<url::Url, UpstreamError> {
        let mut url = self.base.join(path).map_err(|e| {
            UpstreamError::new(
                ErrorKind::Config,
                format!("cannot build URL for {path}: {e}"),
            )
        })?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    /// GETs `path` and returns the body, capped at the configured size.
    async fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<Vec<u8>, UpstreamError> {
        let url = self.url(path, query)?;
        let shown = hint::redact_url(&url);
        let mut resp = self.http.get(url).send().await.map_err(|e| {
            UpstreamError::new(
                transport_kind(&e),
                format!("GET {shown}: {}", hint::cause_chain(&e.without_url())),
            )
        })?;
        let status = resp.status();
        if !status.is_success() {
            return Err(UpstreamError::new(
                status_kind(status),
                format!("GET {shown}: HTTP {status}"),
            ));
        }
        if let Some(len) = resp.content_length() {
            if len > self.max_body as u64 {
                return Err(self.too_large(path));
            }
        }
        let mut body = Vec::with_capacity(resp.content_length().unwrap_or(0) as usize);
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > self.max_body {
                        return Err(self.too_large(path));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok(body),
                Err(e) => {
                    return Err(UpstreamError::new(
                        transport_kind(&e),
                        format!(
                            "GET {shown}: reading body: {}",
                            hint::cause_chain(&e.without_url())
                        ),
                    ))
                }
            }
        }
    }

    fn too_large(&self, path: &str) -> UpstreamError {
        UpstreamError::new(
            ErrorKind::TooLarge,
            format!("GET {path}: body larger than {} bytes", self.max_body),
        )
    }

    /// Every pipeline, following `starting_after` until `hasMore` is false.
    pub async fn pipelines(&self) -> Result<Vec<Pipeline>, UpstreamError> {
        let path = "api/v1/pipelines";
        let limit = self.page_size.to_string();
        let mut out: Vec<Pipeline> = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut query = vec![("limit", limit.as_str())];
            if let Some(a) = &after {
                query.push(("starting_after", a.as_str()));
            }
            let body = self.get(path, &query).await?;
            let page = wire::decode_pipelines_page(&body).map_err(|e| decode_error(path, e))?;
            let last = page.pipelines.last().map(|p| p.id.clone());
            out.extend(page.pipelines);
            match (page.has_more, last) {
                (false, _) => return Ok(out),
                (true, None) => {
                    return Err(UpstreamError::new(
                        ErrorKind::Pagination,
                        format!("GET {path}: hasMore with an empty page"),
                    ))
                }
                (true, Some(last)) => {
                    if after.as_deref() == Some(last.as_str()) {
                        return Err(UpstreamError::new(
                            ErrorKind::Pagination,
                            format!("GET {path}: the same page came back twice"),
                        ));
                    }
                    after = Some(last);
                }
            }
        }
        Err(UpstreamError::new(
            ErrorKind::Pagination,
            format!("GET {path}: more than {MAX_PAGES} pages"),
        ))
    }

    /// Every job (`GET /api/v1/jobs`).
    pub async fn jobs(&self) -> Result<Vec<Job>, UpstreamError> {
        let path = "api/v1/jobs";
        let body = self.get(path, &[]).await?;
        wire::decode_jobs(&body).map_err(|e| decode_error(path, e))
    }

    /// The jobs of one pipeline (`GET /api/v1/pipelines/{id}/jobs`).
    pub async fn pipeline_jobs(&self, pipeline_id: &str) -> Result<Vec<Job>, UpstreamError> {
        let path = format!("api/v1/pipelines/{}/jobs", segment(pipeline_id));
        let body = self.get(&path, &[]).await?;
        wire::decode_jobs(&body).map_err(|e| decode_error(&path, e))
    }

    /// The checkpoints of one job.
    pub async fn checkpoints(
        &self,
        pipeline_id: &str,
        job_id: &str,
    ) -> Result<Vec<Checkpoint>, UpstreamError> {
        let path = format!(
            "api/v1/pipelines/{}/jobs/{}/checkpoints",
            segment(pipeline_id),
            segment(job_id)
        );
        let body = self.get(&path, &[]).await?;
        wire::decode_checkpoints(&body).map_err(|e| decode_error(&path, e))
    }

    /// The metrics document through the API's bridge; an empty list means no metrics.
    pub async fn operator_metric_groups(
        &self,
        pipeline_id: &str,
        job_id: &str,
    ) -> Result<Option<JobMetrics>, UpstreamError> {
        let path = format!(
            "api/v1/pipelines/{}/jobs/{}/operator_metric_groups",
            segment(pipeline_id),
            segment(job_id)
        );
        let body = self.get(&path, &[]).await?;
        let metrics = decode_off_thread(body, wire::decode_metric_groups_envelope)
            .await
            .map_err(|message| {
                UpstreamError::new(ErrorKind::Decode, format!("GET {path}: {message}"))
            })?;
        // `{"data": []}` is how the bridge says "no metrics" (the RPC's NOT_FOUND).
        if metrics == JobMetrics::default() {
            return Ok(None);
        }
        Ok(Some(metrics))
    }
}

impl RestClient {
    /// The details of checkpoint `epoch` of a job, per chained operator
    /// (`.../checkpoints/{epoch}/operator_checkpoint_groups`).
    pub async fn checkpoint_groups(
        &self,
        pipeline_id: &str,
        job_id: &str,
        epoch: u64,
    ) -> Result<CheckpointDetails, UpstreamError> {
        let path = format!(
            "api/v1/pipelines/{}/jobs/{}/checkpoints/{epoch}/operator_checkpoint_groups",
            segment(pipeline_id),
            segment(job_id)
        );
        let body = self.get(&path, &[]).await?;
        wire::decode_checkpoint_groups(&body, epoch).map_err(|e| decode_error(&path, e))
    }

    /// One page of a job's error log, newest first (`.../jobs/{job_id}/errors`), of
    /// `api.page-size` rows, older than the row `starting_after` when given.
    pub async fn job_errors_page(
        &self,
        pipeline_id: &str,
        job_id: &str,
        starting_after: Option<&str>,
    ) -> Result<JobErrorPage, UpstreamError> {
        let path = format!(
            "api/v1/pipelines/{}/jobs/{}/errors",
            segment(pipeline_id),
            segment(job_id)
        );
        let limit = self.page_size.to_string();
        let mut query = vec![("limit", limit.as_str())];
        if let Some(after) = starting_after {
            query.push(("starting_after", after));
        }
        let body = self.get(&path, &query).await?;
        wire::decode_job_errors_page(&body).map_err(|e| decode_error(&path, e))
    }

    /// Arroyo's build from the admin port (`GET /details`).
    pub async fn admin_details(&self) -> Result<ArroyoBuild, UpstreamError> {
        let path = "details";
        let body = self.get(path, &[]).await?;
        wire::decode_admin_details(&body).map_err(|e| decode_error(path, e))
    }
}

/// Percent-encodes one path segment (ids come from the API; keep them inert).
fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes large documents on the blocking pool so a big answer does not stall the
/// runtime's workers; small ones are decoded in place. Errors come back as text.
pub async fn decode_off_thread<B, T>(
    body: B,
    decode: fn(&[u8]) -> Result<T, DecodeError>,
) -> Result<T, String>
where
    B: AsRef<[u8]> + Send + 'static,
    T: Send + 'static,
{
    if body.as_ref().len() < 256 * 1024 {
        return decode(body.as_ref()).map_err(|e| e.to_string());
    }
    match tokio::task::spawn_blocking(move || (decode(body.as_ref()), body)).await {
        Ok((r, body)) => {
            // Unmapping a buffer of tens of MB takes milliseconds: do it off the scrape's
            // critical path.
            tokio::task::spawn_blocking(move || drop(body));
            r.map_err(|e| e.to_string())
        }
        Err(e) => Err(format!("decoder task failed: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_prefix_of_the_endpoint_is_kept() {
        let cfg = crate::config::Config::default().api;
        for base in ["http://h:5115/arroyo", "http://h:5115/arroyo/"] {
            let c = RestClient::new(&cfg, url::Url::parse(base).unwrap(), None).unwrap();
            assert_eq!(
                c.url("api/v1/jobs", &[]).unwrap().as_str(),
                "http://h:5115/arroyo/api/v1/jobs"
            );
        }
        let c = RestClient::new(&cfg, url::Url::parse("http://h:5115").unwrap(), None).unwrap();
        assert_eq!(
            c.url("api/v1/jobs", &[("limit", "5")]).unwrap().as_str(),
            "http://h:5115/api/v1/jobs?limit=5"
        );
    }

    #[test]
    fn segments_are_encoded() {
        assert_eq!(segment("job_Ab1"), "job_Ab1");
        assert_eq!(segment("../x y"), "%2E%2E%2Fx%20y");
    }
}
