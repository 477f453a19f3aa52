//! Configuration: built-in defaults < TOML file (`--config`) < environment
//! (`ARROYO_EXPORTER__SECTION__KEY`) < command-line flags, layered with figment.
//!
//! Every error names the key and the source it came from (file, environment variable or
//! flag), so a bad value stops start-up with a message a user can act on.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use figment::providers::{Env, Format as _, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::{Deserialize, Serialize};

mod targets;

pub use targets::{is_target_name, CLUSTER_SECTIONS};

/// Default listen port, in the Prometheus exporters' 9100–9999 range.
pub const DEFAULT_PORT: u16 = 9731;

/// Prefix of environment variables; `__` separates the section from the key.
pub const ENV_PREFIX: &str = "ARROYO_EXPORTER__";

/// The whole configuration, as read from every layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Config {
    /// HTTP server settings.
    pub web: WebConfig,
    /// Logging settings.
    pub log: LogConfig,
    /// The controller's gRPC endpoint.
    pub controller: ControllerConfig,
    /// Arroyo's REST API.
    pub api: ApiConfig,
    /// What one scrape does.
    pub scrape: ScrapeConfig,
    /// Which collectors run.
    pub collectors: CollectorsConfig,
    /// Arroyo's admin port (`GET /details`: Arroyo's version).
    pub admin: AdminConfig,
    /// Named targets (`/probe?target=<name>`) as written: each maps per-cluster section
    /// names ([`CLUSTER_SECTIONS`]) to the keys it sets over the top-level values.
    /// [`load_settings`] resolves them into full configurations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub targets: BTreeMap<String, Dict>,
}

/// The configuration resolved for serving: the top-level settings, every named target's
/// own full configuration (its sections merged over the top-level ones), and whether
/// `/metrics` scrapes the top-level cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The top-level configuration (web, log, and the top-level cluster's sections).
    pub config: Config,
    /// Each target's configuration by name: the top-level one with the target's
    /// sections merged over it (`targets` left empty).
    pub targets: BTreeMap<String, Config>,
    /// Whether `/metrics` scrapes the top-level cluster: always without targets; with
    /// targets only when `controller.endpoint` or `api.endpoint` is set at the top level.
    pub top_level_cluster: bool,
}

/// HTTP server settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct WebConfig {
    /// Address to listen on.
    pub listen_address: SocketAddr,
    /// Path of the metrics endpoint.
    pub telemetry_path: String,
    /// Optional web configuration file (exporter-toolkit format: TLS, basic auth).
    pub config_file: Option<PathBuf>,
    /// Offer OpenMetrics when the client asks for it; false always answers text 0.0.4
    /// (for scrapers that mishandle OpenMetrics).
    pub openmetrics: bool,
}

/// Log level names accepted by `--log.level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Everything.
    Trace,
    /// Debugging detail.
    Debug,
    /// Normal operation.
    Info,
    /// Problems that do not stop the exporter.
    Warn,
    /// Failures.
    Error,
}

impl LogLevel {
    /// The `tracing` filter directive for this level.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

/// Log line formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable `key=value` lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Logging settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct LogConfig {
    /// Minimum level.
    pub level: LogLevel,
    /// Line format.
    pub format: LogFormat,
}

/// Which gRPC service generation answers `JobMetrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ControllerService {
    /// Try `JobControllerGrpc` (main), fall back to `ControllerGrpc` on `UNIMPLEMENTED`.
    Auto,
    /// `arroyo_rpc.JobControllerGrpc` (Arroyo main / 0.16-dev).
    JobController,
    /// `arroyo_rpc.ControllerGrpc` (Arroyo v0.11 to v0.15).
    Controller,
}

/// TLS settings of an outbound connection.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ClientTlsConfig {
    /// PEM file of the CA that signed the server's certificate (system roots otherwise).
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate for mutual TLS.
    pub cert_file: Option<PathBuf>,
    /// PEM private key of the client certificate.
    pub key_file: Option<PathBuf>,
    /// Name to verify the server certificate against (defaults to the endpoint's host).
    pub server_name: Option<String>,
}

/// The controller's gRPC endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ControllerConfig {
    /// `http://` or `https://` URL of the controller's RPC port.
    pub endpoint: url::Url,
    /// Service generation: `auto`, `job-controller` or `controller`.
    pub service: ControllerService,
    /// Deadline of one `JobMetrics` call.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Deadline to establish the connection.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Largest decoded response accepted, in bytes.
    pub max_message_size: usize,
    /// TLS (used with an `https://` endpoint).
    #[serde(default)]
    pub tls: ClientTlsConfig,
}

/// Arroyo's REST API.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ApiConfig {
    /// Base URL of the API (without `/api/v1`); an empty string disables discovery.
    #[serde(deserialize_with = "optional_url")]
    pub endpoint: Option<url::Url>,
    /// Bearer token (prefer `token-file` or the environment; never logged).
    pub token: Option<String>,
    /// File holding the bearer token.
    pub token_file: Option<PathBuf>,
    /// Deadline of one API call.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Page size for the pipeline list.
    pub page_size: u32,
    /// How long pipeline names and graphs are cached.
    #[serde(with = "humantime_serde")]
    pub pipeline_cache_ttl: Duration,
    /// Largest response body accepted, in bytes.
    pub max_response_size: usize,
    /// TLS (used with an `https://` endpoint).
    #[serde(default)]
    pub tls: ClientTlsConfig,
}

impl std::fmt::Debug for ApiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiConfig")
            .field("endpoint", &self.endpoint)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("token_file", &self.token_file)
            .field("timeout", &self.timeout)
            .field("page_size", &self.page_size)
            .field("pipeline_cache_ttl", &self.pipeline_cache_ttl)
            .field("max_response_size", &self.max_response_size)
            .field("tls", &self.tls)
            .finish()
    }
}

/// Arroyo's admin HTTP port (`/details`, `/status`, `/metrics`; default 5114), read by
/// the `admin` collector for Arroyo's version.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct AdminConfig {
    /// Base URL of the admin port; an empty string disables the `admin` collector.
    #[serde(deserialize_with = "optional_url")]
    pub endpoint: Option<url::Url>,
    /// Bearer token (Arroyo main can put its admin port behind one; never logged).
    pub token: Option<String>,
    /// File holding the bearer token.
    pub token_file: Option<PathBuf>,
    /// Deadline of one admin call.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// How long Arroyo's version is reused before `/details` is read again.
    #[serde(with = "humantime_serde")]
    pub cache_ttl: Duration,
    /// TLS (used with an `https://` endpoint).
    #[serde(default)]
    pub tls: ClientTlsConfig,
}

impl std::fmt::Debug for AdminConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminConfig")
            .field("endpoint", &self.endpoint)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("token_file", &self.token_file)
            .field("timeout", &self.timeout)
            .field("cache_ttl", &self.cache_ttl)
            .field("tls", &self.tls)
            .finish()
    }
}

/// Where the metrics document comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MetricsSource {
    /// The controller's `JobMetrics` RPC (default).
    Rpc,
    /// The REST API's `operator_metric_groups` bridge (works in leader mode).
    Rest,
}

/// A job given in the configuration, scraped without the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct StaticJob {
    /// The job id (`job_...`).
    pub id: String,
    /// Its pipeline id, for the `pipeline_id` label.
    #[serde(default)]
    pub pipeline_id: Option<String>,
    /// Its pipeline name, for the `pipeline_name` label.
    #[serde(default)]
    pub pipeline_name: Option<String>,
}

/// What one scrape does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ScrapeConfig {
    /// `rpc` or `rest`.
    pub metrics_source: MetricsSource,
    /// Scrape deadline when Prometheus does not send `X-Prometheus-Scrape-Timeout-Seconds`.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Subtracted from Prometheus's scrape timeout to leave time for the answer.
    #[serde(with = "humantime_serde")]
    pub timeout_offset: Duration,
    /// Jobs fetched at once.
    pub concurrency: usize,
    /// Jobs to scrape without discovery (the API is then only used for names, if set).
    pub jobs: Vec<StaticJob>,
    /// Series whose newest point is older than this are dropped (0 disables).
    #[serde(with = "humantime_serde")]
    pub max_sample_age: Duration,
    /// Write per-subtask series (false: operator level only).
    pub subtask_series: bool,
    /// Only jobs whose pipeline name matches this regular expression (all when unset).
    pub include_pipelines: Option<String>,
    /// Leave out jobs whose pipeline name matches this regular expression.
    pub exclude_pipelines: Option<String>,
    /// Only jobs in these states (all when empty).
    pub include_states: Vec<String>,
    /// Leave out jobs in these states.
    pub exclude_states: Vec<String>,
    /// Backpressure (0 < t <= 1) at or above which an operator counts as backpressured
    /// for `arroyo_operator_bottleneck`.
    pub bottleneck_threshold: f64,
}

/// Which collectors run, and their settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct CollectorsConfig {
    /// Per-subtask and per-operator rates from `JobMetrics`.
    pub job_metrics: bool,
    /// Job state, run id, start time, tasks and failures from the API.
    pub jobs: bool,
    /// Pipeline and operator info, parallelism, checkpoint interval from the API.
    pub topology: bool,
    /// Newest checkpoint and checkpoint in progress, per running job, from the API.
    pub checkpoints: bool,
    /// Checkpoint-list calls per second to Arroyo's API, on average: with N running
    /// jobs each job's list is re-read about every N / rate seconds (the refresh
    /// period, `arroyo_exporter_refresh_period_seconds`).
    pub checkpoint_calls_per_second: f64,
    /// Checkpoint-list calls one scrape makes at most (unset: only the rate bounds it).
    pub checkpoint_calls_per_scrape: Option<usize>,
    /// Pipeline tags (Arroyo main) copied as `tag_<name>` labels onto `arroyo_pipeline_info`.
    pub pipeline_tags: Vec<String>,
    /// Size and phases of each running job's newest completed checkpoint
    /// (`operator_checkpoint_groups`, read once per new epoch; needs `checkpoints`).
    /// Its calls are budgeted by `checkpoint-detail-calls-per-second`.
    pub checkpoint_details: bool,
    /// Checkpoint-details calls per second to Arroyo's API, on average.
    pub checkpoint_detail_calls_per_second: f64,
    /// Job error rows (`/jobs/{id}/errors`), read incrementally into counters.
    pub job_errors: bool,
    /// Error-log calls (pages) per second to Arroyo's API, on average.
    pub job_error_calls_per_second: f64,
    /// Error-log calls one scrape makes at most (unset: only the rate bounds it).
    pub job_error_calls_per_scrape: Option<usize>,
    /// Arroyo's version from the admin port's `/details` (needs `admin.endpoint`).
    pub admin: bool,
}

/// Collector names, as used by `--collector.<name>` and the `collector` label.
pub const COLLECTORS: [&str; 7] = [
    "job-metrics",
    "jobs",
    "topology",
    "checkpoints",
    "checkpoint-details",
    "job-errors",
    "admin",
];

impl Default for Config {
    fn default() -> Self {
        Config {
            web: WebConfig {
                listen_address: SocketAddr::from(([0, 0, 0, 0], DEFAULT_PORT)),
                telemetry_path: "/metrics".into(),
                config_file: None,
                openmetrics: true,
            },
            log: LogConfig {
                level: LogLevel::Info,
                format: LogFormat::Text,
            },
            controller: ControllerConfig {
                endpoint: default_url("http://localhost:5116"),
                service: ControllerService::Auto,
                timeout: Duration::from_secs(8),
                connect_timeout: Duration::from_secs(2),
                // 10,000 subtasks at about 35 KB each is 350 MB; leave headroom.
                max_message_size: 512 * 1024 * 1024,
                tls: ClientTlsConfig::default(),
            },
            api: ApiConfig {
                endpoint: Some(default_url("http://localhost:5115")),
                token: None,
                token_file: None,
                timeout: Duration::from_secs(5),
                page_size: 100,
                pipeline_cache_ttl: Duration::from_secs(60),
                max_response_size: 64 * 1024 * 1024,
                tls: ClientTlsConfig::default(),
            },
            scrape: ScrapeConfig {
                metrics_source: MetricsSource::Rpc,
                timeout: Duration::from_secs(10),
                timeout_offset: Duration::from_millis(500),
                concurrency: 8,
                jobs: Vec::new(),
                max_sample_age: Duration::from_secs(30),
                subtask_series: true,
                include_pipelines: None,
                exclude_pipelines: None,
                include_states: Vec::new(),
                exclude_states: Vec::new(),
                bottleneck_threshold: 0.5,
            },
            collectors: CollectorsConfig {
                job_metrics: true,
                jobs: true,
                topology: true,
                checkpoints: true,
                // 1,000 running jobs: each list re-read about every 250 s, so a stall
                // is alerted within 10 minutes (docs/alerts.md, "1,000 jobs").
                checkpoint_calls_per_second: 4.0,
                checkpoint_calls_per_scrape: None,
                pipeline_tags: Vec::new(),
                checkpoint_details: true,
                checkpoint_detail_calls_per_second: 1.0,
                job_errors: true,
                job_error_calls_per_second: 2.0,
                job_error_calls_per_scrape: None,
                admin: true,
            },
            admin: AdminConfig {
                endpoint: Some(default_url("http://localhost:5114")),
                token: None,
                token_file: None,
                timeout: Duration::from_secs(3),
                cache_ttl: Duration::from_secs(300),
                tls: ClientTlsConfig::default(),
            },
            targets: BTreeMap::new(),
        }
    }
}

/// Reads an optional URL where an empty string means "not set".
fn optional_url<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<url::Url>, D::Error> {
    let raw: Option<String> = Option::deserialize(d)?;
    match raw.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => url::Url::parse(s)
            .map(Some)
            .map_err(|e| serde::de::Error::custom(format!("invalid URL `{s}`: {e}"))),
    }
}

fn default_url(s: &str) -> url::Url {
    // The literals passed here are constants of this file.
    url::Url::parse(s).unwrap_or_else(|e| panic!("built-in URL {s} is invalid: {e}"))
}

/// Command-line flags, in the Prometheus exporters' dotted style.
#[derive(Debug, Clone, Default, Parser)]
#[command(
    name = "arroyo-exporter",
    version,
    about = "Prometheus exporter for Arroyo stream processing jobs"
)]
pub struct Flags {
    /// TOML configuration file.
    #[arg(long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 0.0.0.0:9731].
    #[arg(long = "web.listen-address", value_name = "ADDR")]
    pub listen_address: Option<String>,
    /// Path under which to expose metrics [default: /metrics].
    #[arg(long = "web.telemetry-path", value_name = "PATH")]
    pub telemetry_path: Option<String>,
    /// Web configuration file (TLS, basic auth) in the exporter-toolkit format.
    #[arg(long = "web.config.file", value_name = "FILE")]
    pub web_config_file: Option<String>,
    /// Serve `POST /-/reload` (re-read the configuration files), as Prometheus's flag.
    #[arg(long = "web.enable-lifecycle")]
    pub enable_lifecycle: bool,
    /// Arroyo controller gRPC endpoint [default: http://localhost:5116].
    #[arg(long = "controller.endpoint", value_name = "URL")]
    pub controller_endpoint: Option<String>,
    /// Controller service generation: auto, job-controller, controller [default: auto].
    #[arg(long = "controller.service", value_name = "NAME")]
    pub controller_service: Option<String>,
    /// Arroyo REST API endpoint [default: http://localhost:5115].
    #[arg(long = "api.endpoint", value_name = "URL")]
    pub api_endpoint: Option<String>,
    /// File holding the API bearer token.
    #[arg(long = "api.token-file", value_name = "FILE")]
    pub api_token_file: Option<String>,
    /// Metrics source: rpc or rest [default: rpc].
    #[arg(long = "scrape.metrics-source", value_name = "SOURCE")]
    pub metrics_source: Option<String>,
    /// Scrape deadline without a Prometheus timeout header [default: 10s].
    #[arg(long = "scrape.timeout", value_name = "DURATION")]
    pub scrape_timeout: Option<String>,
    /// Subtracted from Prometheus's scrape timeout [default: 500ms].
    #[arg(long = "scrape.timeout-offset", value_name = "DURATION")]
    pub timeout_offset: Option<String>,
    /// Log level: trace, debug, info, warn, error [default: info].
    #[arg(long = "log.level", value_name = "LEVEL")]
    pub log_level: Option<String>,
    /// Log format: text or json [default: text].
    #[arg(long = "log.format", value_name = "FORMAT")]
    pub log_format: Option<String>,
    /// Write per-subtask series (false: operator level only) [default: true].
    #[arg(long = "scrape.subtask-series", value_name = "BOOL")]
    pub subtask_series: Option<bool>,
    /// Backpressure at or above which an operator counts as backpressured, for
    /// arroyo_operator_bottleneck (0 < t <= 1) [default: 0.5].
    #[arg(long = "scrape.bottleneck-threshold", value_name = "RATIO")]
    pub bottleneck_threshold: Option<String>,
    /// Enable the job-metrics collector (subtask and operator rates).
    #[arg(long = "collector.job-metrics")]
    pub job_metrics: bool,
    /// Disable the job-metrics collector.
    #[arg(long = "no-collector.job-metrics")]
    pub no_job_metrics: bool,
    /// Enable the jobs collector (state, run id, start time, failures).
    #[arg(long = "collector.jobs")]
    pub jobs: bool,
    /// Disable the jobs collector.
    #[arg(long = "no-collector.jobs")]
    pub no_jobs: bool,
    /// Enable the topology collector (pipeline and operator info, parallelism).
    #[arg(long = "collector.topology")]
    pub topology: bool,
    /// Disable the topology collector.
    #[arg(long = "no-collector.topology")]
    pub no_topology: bool,
    /// Enable the checkpoints collector.
    #[arg(long = "collector.checkpoints")]
    pub checkpoints: bool,
    /// Disable the checkpoints collector.
    #[arg(long = "no-collector.checkpoints")]
    pub no_checkpoints: bool,
    /// Arroyo admin endpoint for its version (`/details`) [default: http://localhost:5114];
    /// empty disables.
    #[arg(long = "admin.endpoint", value_name = "URL")]
    pub admin_endpoint: Option<String>,
    /// Enable the checkpoint-details collector (checkpoint size and phases).
    #[arg(long = "collector.checkpoint-details")]
    pub checkpoint_details: bool,
    /// Disable the checkpoint-details collector.
    #[arg(long = "no-collector.checkpoint-details")]
    pub no_checkpoint_details: bool,
    /// Enable the job-errors collector (job error log counters).
    #[arg(long = "collector.job-errors")]
    pub job_errors: bool,
    /// Disable the job-errors collector.
    #[arg(long = "no-collector.job-errors")]
    pub no_job_errors: bool,
    /// Enable the admin collector (Arroyo's version).
    #[arg(long = "collector.admin")]
    pub admin: bool,
    /// Disable the admin collector.
    #[arg(long = "no-collector.admin")]
    pub no_admin: bool,
}

impl Flags {
    /// The flags that were given, as (config key, value) pairs.
    fn pairs(&self) -> Vec<(&'static str, String)> {
        let all: [(&'static str, &Option<String>); 13] = [
            ("web.listen-address", &self.listen_address),
            ("web.telemetry-path", &self.telemetry_path),
            ("web.config-file", &self.web_config_file),
            ("controller.endpoint", &self.controller_endpoint),
            ("controller.service", &self.controller_service),
            ("api.endpoint", &self.api_endpoint),
            ("api.token-file", &self.api_token_file),
            ("scrape.metrics-source", &self.metrics_source),
            ("scrape.timeout", &self.scrape_timeout),
            ("scrape.timeout-offset", &self.timeout_offset),
            ("log.level", &self.log_level),
            ("log.format", &self.log_format),
            ("admin.endpoint", &self.admin_endpoint),
        ];
        let mut out: Vec<(&'static str, String)> = all
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| (*k, v.clone())))
            .collect();
        if let Some(b) = self.subtask_series {
            out.push(("scrape.subtask-series", b.to_string()));
        }
        if let Some(t) = &self.bottleneck_threshold {
            out.push(("scrape.bottleneck-threshold", t.clone()));
        }
        let toggles: [(&'static str, bool, bool); 7] = [
            (
                "collectors.job-metrics",
                self.job_metrics,
                self.no_job_metrics,
            ),
            ("collectors.jobs", self.jobs, self.no_jobs),
            ("collectors.topology", self.topology, self.no_topology),
            (
                "collectors.checkpoints",
                self.checkpoints,
                self.no_checkpoints,
            ),
            (
                "collectors.checkpoint-details",
                self.checkpoint_details,
                self.no_checkpoint_details,
            ),
            ("collectors.job-errors", self.job_errors, self.no_job_errors),
            ("collectors.admin", self.admin, self.no_admin),
        ];
        for (key, on, off) in toggles {
            if off {
                out.push((key, "false".into()));
            } else if on {
                out.push((key, "true".into()));
            }
        }
        out
    }
}

/// Keys of flags that take a number with a fraction: figment reads an integer from a
/// string but not a float, so these are handed over as numbers when they parse.
const NUMBER_FLAGS: [&str; 1] = ["scrape.bottleneck-threshold"];

/// The command-line flags as a figment provider, so errors name the flag.
struct FlagsProvider(Vec<(&'static str, String)>);

/// The flag that sets `key` (`web.listen-address` → `--web.listen-address`).
fn flag_for_key(key: &str) -> String {
    match key {
        "web.config-file" => "--web.config.file".to_string(),
        other => match other.strip_prefix("collectors.") {
            Some(name) => format!("--[no-]collector.{name}"),
            None => format!("--{other}"),
        },
    }
}

impl Provider for FlagsProvider {
    fn metadata(&self) -> Metadata {
        Metadata::named("command-line flag")
            .interpolater(|_: &Profile, keys: &[&str]| flag_for_key(&keys.join(".")))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut root = Dict::new();
        for (key, value) in &self.0 {
            let mut parts = key.split('.');
            let (Some(section), Some(leaf)) = (parts.next(), parts.next()) else {
                continue;
            };
            let entry = root
                .entry(section.to_string())
                .or_insert_with(|| Value::from(Dict::new()));
            if let Value::Dict(_, dict) = entry {
                let number = NUMBER_FLAGS
                    .contains(key)
                    .then(|| value.trim().parse::<f64>().ok())
                    .flatten();
                let v = match (value.as_str(), number) {
                    (_, Some(n)) => Value::from(n),
                    ("true", _) => Value::from(true),
                    ("false", _) => Value::from(false),
                    (other, _) => Value::from(other.to_string()),
                };
                dict.insert(leaf.to_string(), v);
            }
        }
        Ok(Profile::Default.collect(root))
    }
}

/// A configuration that could not be loaded; the message names key and source.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A layer could not be read or a value has the wrong type.
    #[error("invalid configuration: {0}")]
    Figment(String),
    /// A value has the right type but an unusable content.
    #[error("invalid configuration: key `{key}` (from {source_name}): {message}")]
    Invalid {
        /// Dotted key.
        key: String,
        /// Where the value came from.
        source_name: String,
        /// What is wrong.
        message: String,
    },
    /// The `--config` file is missing or unreadable.
    #[error("cannot read configuration file {path}: {message}")]
    File {
        /// Path given with `--config`.
        path: PathBuf,
        /// The I/O error.
        message: String,
    },
}

/// Environment variables as a figment provider (`ARROYO_EXPORTER__API__TOKEN_FILE` →
/// `api.token-file`); errors name the variable.
struct EnvProvider(Env);

/// The environment variable that sets `key` (`api.token-file` →
/// `ARROYO_EXPORTER__API__TOKEN_FILE`).
pub fn env_var_for_key(key: &[&str]) -> String {
    let parts: Vec<String> = key
        .iter()
        .map(|k| k.to_uppercase().replace('-', "_"))
        .collect();
    format!("{ENV_PREFIX}{}", parts.join("__"))
}

impl Provider for EnvProvider {
    fn metadata(&self) -> Metadata {
        Metadata::named("environment variable")
            .interpolater(|_: &Profile, keys: &[&str]| env_var_for_key(keys))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        self.0.data()
    }
}

fn env_provider() -> EnvProvider {
    EnvProvider(
        Env::prefixed(ENV_PREFIX)
            .map(|key| key.as_str().replace("__", ".").replace('_', "-").into()),
    )
}

/// Builds the layered figment: defaults < file < environment < flags.
pub fn figment(flags: &Flags) -> Result<Figment, ConfigError> {
    let mut fig = Figment::from(Serialized::defaults(Config::default()));
    if let Some(path) = &flags.config {
        std::fs::metadata(path).map_err(|e| ConfigError::File {
            path: path.clone(),
            message: e.to_string(),
        })?;
        fig = fig.merge(Toml::file_exact(path));
    }
    Ok(fig
        .merge(env_provider())
        .merge(FlagsProvider(flags.pairs())))
}

/// Loads and validates the configuration from every layer (targets included).
pub fn load(flags: &Flags) -> Result<Config, ConfigError> {
    load_settings(flags).map(|s| s.config)
}

/// Loads and validates the configuration from every layer and resolves its targets.
pub fn load_settings(flags: &Flags) -> Result<Settings, ConfigError> {
    extract(figment(flags)?)
}

/// Loads and validates a configuration from TOML text over the built-in defaults (no
/// environment, no flags): the `--config` file layer alone. Used by the fuzz target.
pub fn load_from_toml_str(toml: &str) -> Result<Config, ConfigError> {
    settings_from_toml_str(toml).map(|s| s.config)
}

/// [`load_from_toml_str`] with the targets resolved.
pub fn settings_from_toml_str(toml: &str) -> Result<Settings, ConfigError> {
    extract(Figment::from(Serialized::defaults(Config::default())).merge(Toml::string(toml)))
}

/// Extracts the typed configuration from `fig`, validates it and resolves its targets.
fn extract(fig: Figment) -> Result<Settings, ConfigError> {
    let config: Config = fig.extract().map_err(|e| {
        let lines: Vec<String> = e.into_iter().map(|e| e.to_string()).collect();
        ConfigError::Figment(lines.join("; "))
    })?;
    validate(&config, &Keys::top(&fig))?;
    let targets = targets::resolve(&config, &fig)?;
    let top_level_cluster = targets.is_empty()
        || ["controller.endpoint", "api.endpoint"]
            .iter()
            .any(|key| set_by_user(&fig, key));
    Ok(Settings {
        config,
        targets,
        top_level_cluster,
    })
}

/// Whether `key` was set by a layer other than the built-in defaults.
fn set_by_user(fig: &Figment, key: &str) -> bool {
    let defaults = Serialized::defaults(Config::default()).metadata().name;
    fig.find_metadata(key)
        .is_some_and(|meta| meta.name != defaults)
}

/// The keys being validated: the top level's, or one target's (`targets.<name>.` before
/// every key, and a value the target does not set is reported as inherited).
struct Keys<'a> {
    fig: &'a Figment,
    target: Option<&'a str>,
}

impl<'a> Keys<'a> {
    /// The top-level keys of `fig`.
    fn top(fig: &'a Figment) -> Keys<'a> {
        Keys { fig, target: None }
    }

    /// The full dotted name of `key`.
    fn full(&self, key: &str) -> String {
        match self.target {
            Some(name) => format!("targets.{name}.{key}"),
            None => key.to_string(),
        }
    }

    /// Where `key` was set, for error messages.
    fn source(&self, key: &str) -> String {
        let full = self.full(key);
        if self.target.is_none() || self.fig.contains(&full) {
            source_of(self.fig, &full)
        } else {
            format!(
                "{}, inherited from the top-level `{key}`",
                source_of(self.fig, key)
            )
        }
    }
}

/// Describes where `key` was set, for error messages.
fn source_of(fig: &Figment, key: &str) -> String {
    match fig.find_metadata(key) {
        Some(meta) => {
            let keys: Vec<&str> = key.split('.').collect();
            let name = meta.interpolate(&Profile::Default, &keys);
            match &meta.source {
                Some(src) => format!("{} `{}` in {}", meta.name, name, src),
                None => format!("{} `{}`", meta.name, name),
            }
        }
        None => "built-in default".to_string(),
    }
}

fn invalid(fig: &Keys<'_>, key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: fig.full(key),
        source_name: fig.source(key),
        message: message.into(),
    }
}

fn check_endpoint(fig: &Keys<'_>, key: &str, url: &url::Url) -> Result<(), ConfigError> {
    match url.scheme() {
        "http" | "https" => {}
        other => {
            return Err(invalid(
                fig,
                key,
                format!("scheme must be http or https, not `{other}`"),
            ))
        }
    }
    if url.host_str().is_none() {
        return Err(invalid(fig, key, "URL has no host"));
    }
    Ok(())
}

/// Checks the values of one configuration (the top level's, or a resolved target's).
fn validate(c: &Config, fig: &Keys<'_>) -> Result<(), ConfigError> {
    if !c.web.telemetry_path.starts_with('/') || c.web.telemetry_path.len() < 2 {
        return Err(invalid(
            fig,
            "web.telemetry-path",
            "must start with `/` and not be `/` itself",
        ));
    }
    check_endpoint(fig, "controller.endpoint", &c.controller.endpoint)?;
    if let Some(api) = &c.api.endpoint {
        check_endpoint(fig, "api.endpoint", api)?;
    }
    if let Some(admin) = &c.admin.endpoint {
        check_endpoint(fig, "admin.endpoint", admin)?;
    }
    let positive: [(&str, Duration); 7] = [
        ("controller.timeout", c.controller.timeout),
        ("controller.connect-timeout", c.controller.connect_timeout),
        ("api.timeout", c.api.timeout),
        ("api.pipeline-cache-ttl", c.api.pipeline_cache_ttl),
        ("scrape.timeout", c.scrape.timeout),
        ("admin.timeout", c.admin.timeout),
        ("admin.cache-ttl", c.admin.cache_ttl),
    ];
    for (key, d) in positive {
        if d.is_zero() {
            return Err(invalid(fig, key, "must be greater than zero"));
        }
    }
    let t = c.scrape.bottleneck_threshold;
    if !(t > 0.0 && t <= 1.0) {
        return Err(invalid(
            fig,
            "scrape.bottleneck-threshold",
            "must be a number greater than 0 and at most 1",
        ));
    }
    if c.scrape.concurrency == 0 {
        return Err(invalid(fig, "scrape.concurrency", "must be at least 1"));
    }
    if c.api.page_size == 0 {
        return Err(invalid(fig, "api.page-size", "must be at least 1"));
    }
    if c.controller.max_message_size < 1024 {
        return Err(invalid(
            fig,
            "controller.max-message-size",
            "must be at least 1024 bytes",
        ));
    }
    if c.api.max_response_size < 1024 {
        return Err(invalid(
            fig,
            "api.max-response-size",
            "must be at least 1024 bytes",
        ));
    }
    for (section, tls) in [
        ("controller", &c.controller.tls),
        ("api", &c.api.tls),
        ("admin", &c.admin.tls),
    ] {
        match (&tls.cert_file, &tls.key_file) {
            (Some(_), None) => {
                return Err(invalid(
                    fig,
                    &format!("{section}.tls.cert-file"),
                    format!("needs {section}.tls.key-file: cert-file and key-file go together"),
                ))
            }
            (None, Some(_)) => {
                return Err(invalid(
                    fig,
                    &format!("{section}.tls.key-file"),
                    format!("needs {section}.tls.cert-file: cert-file and key-file go together"),
                ))
            }
            _ => {}
        }
    }
    if c.api.endpoint.is_none() && c.scrape.jobs.is_empty() {
        return Err(invalid(
            fig,
            "api.endpoint",
            "without an API endpoint, list the jobs to scrape in scrape.jobs",
        ));
    }
    if c.api.endpoint.is_none() && c.scrape.metrics_source == MetricsSource::Rest {
        return Err(invalid(
            fig,
            "scrape.metrics-source",
            "`rest` needs api.endpoint",
        ));
    }
    for key in ["scrape.include-pipelines", "scrape.exclude-pipelines"] {
        let value = if key.ends_with("include-pipelines") {
            &c.scrape.include_pipelines
        } else {
            &c.scrape.exclude_pipelines
        };
        if let Some(re) = value {
            if let Err(e) = regex::Regex::new(re) {
                return Err(invalid(
                    fig,
                    key,
                    format!("not a valid regular expression: {e}"),
                ));
            }
        }
    }
    for (key, n) in [
        (
            "collectors.checkpoint-calls-per-scrape",
            c.collectors.checkpoint_calls_per_scrape,
        ),
        (
            "collectors.job-error-calls-per-scrape",
            c.collectors.job_error_calls_per_scrape,
        ),
    ] {
        if n == Some(0) {
            return Err(invalid(fig, key, "must be at least 1"));
        }
    }
    for (key, rate) in [
        (
            "collectors.checkpoint-calls-per-second",
            c.collectors.checkpoint_calls_per_second,
        ),
        (
            "collectors.checkpoint-detail-calls-per-second",
            c.collectors.checkpoint_detail_calls_per_second,
        ),
        (
            "collectors.job-error-calls-per-second",
            c.collectors.job_error_calls_per_second,
        ),
    ] {
        // At least one call an hour; at most 1,000 a second (a typo, not a budget).
        if !(rate.is_finite() && (1.0 / 3600.0..=1000.0).contains(&rate)) {
            return Err(invalid(
                fig,
                key,
                format!("must be a number of calls per second from 1/3600 (one an hour) to 1000, not {rate}"),
            ));
        }
    }
    for tag in &c.collectors.pipeline_tags {
        if tag.is_empty() {
            return Err(invalid(
                fig,
                "collectors.pipeline-tags",
                "a tag name is empty",
            ));
        }
    }
    let mut seen = BTreeMap::new();
    for job in &c.scrape.jobs {
        if job.id.trim().is_empty() {
            return Err(invalid(fig, "scrape.jobs", "a job id is empty"));
        }
        if seen.insert(job.id.clone(), ()).is_some() {
            return Err(invalid(
                fig,
                "scrape.jobs",
                format!("job `{}` is listed twice", job.id),
            ));
        }
    }
    Ok(())
}

/// Reads the API bearer token from `api.token` or `api.token-file` (trimmed).
pub fn api_token(c: &ApiConfig) -> Result<Option<String>, ConfigError> {
    read_token(&c.token, &c.token_file)
}

/// Reads the admin bearer token from `admin.token` or `admin.token-file` (trimmed).
pub fn admin_token(c: &AdminConfig) -> Result<Option<String>, ConfigError> {
    read_token(&c.token, &c.token_file)
}

/// A token given inline wins over one in a file; both are trimmed.
fn read_token(
    token: &Option<String>,
    token_file: &Option<PathBuf>,
) -> Result<Option<String>, ConfigError> {
    if let Some(t) = token {
        return Ok(Some(t.trim().to_string()));
    }
    match token_file {
        Some(path) => {
            let raw = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
                path: path.clone(),
                message: e.to_string(),
            })?;
            Ok(Some(raw.trim().to_string()))
        }
        None => Ok(None),
    }
}
