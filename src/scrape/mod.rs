//! One scrape: discover jobs through the REST API (or the static list), fetch every
//! running job's metrics concurrently (bounded), and assemble a [`Snapshot`].
//!
//! Every failure becomes data in the snapshot (a collector's success, a job's outcome,
//! `arroyo_up`), never an early return: the scrape always answers. Concurrent scrapes
//! share upstream calls ([`Singleflight`]), so an HA pair of Prometheus servers costs
//! the controller one RPC per job.
//!
//! This file orchestrates; each collector lives in its own file: [`discovery`] (job
//! list, pipelines cache, static jobs), `jobs` (filters, failure logs), `topology`
//! (pipeline refresh), `job_metrics` and `checkpoints`. [`execute`] times every
//! collector and records its success.

mod admin;
mod budget;
mod checkpoint_details;
mod checkpoints;
mod discovery;
mod job_errors;
mod job_metrics;
mod jobs;
mod singleflight;
mod topology;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use tokio::time::Instant;

use crate::arroyo::error::UpstreamError;
use crate::arroyo::rest::RestClient;
use crate::arroyo::rpc::RpcClient;
use crate::arroyo::source::MetricsSource;
use crate::config::{self, Config};
use crate::model::bottleneck::Threshold;
use crate::model::{
    state_runs, Checkpoint, CollectorStatus, Freshness, Job, JobSnapshot, MetricsOutcome, Pipeline,
    Scope, Snapshot,
};
use crate::selfmetrics::SelfMetrics;

pub use singleflight::{FlightError, Singleflight};

use checkpoints::{CachedCheckpoints, CheckpointJob};
use discovery::PipelineCache;

/// Everything a scrape needs, shared by all scrapes.
pub struct Scraper {
    cfg: Arc<Config>,
    /// Where job metrics come from; `None` when the REST source has no `api.endpoint`.
    source: Option<MetricsSource>,
    rest: Option<Arc<RestClient>>,
    cache: tokio::sync::Mutex<PipelineCache>,
    job_flights: Singleflight<String, MetricsOutcome>,
    list_flights: Singleflight<&'static str, Result<Arc<Vec<Job>>, UpstreamError>>,
    checkpoint_flights: Singleflight<String, CheckpointAnswer>,
    /// Last checkpoint answer per job, with when it was read.
    checkpoint_cache: Mutex<HashMap<String, CachedCheckpoints>>,
    /// Call budgets of the collectors that read per job.
    budgets: Budgets,
    logged_failures: Mutex<HashSet<(String, u64)>>,
    /// Newest checkpoint details per job (`checkpoint_details` collector).
    details: checkpoint_details::DetailsState,
    /// Error-log positions and counts per job (`job_errors` collector).
    errors: job_errors::ErrorsState,
    /// Arroyo's version (`admin` collector).
    admin: admin::AdminState,
    include: Option<regex::Regex>,
    exclude: Option<regex::Regex>,
    /// The exporter's own counters.
    pub metrics: Arc<SelfMetrics>,
}

/// The call budgets of the collectors not in `ErrorsState` / `DetailsState`.
struct Budgets {
    /// Checkpoint lists (`collectors.checkpoint-calls-per-second`).
    checkpoints: Mutex<budget::CallBudget>,
}

/// The checkpoints API's answer for one job, with when it was read (µs since the epoch).
type CheckpointAnswer = Result<(u64, Arc<Vec<Checkpoint>>), UpstreamError>;

/// A discovered job with its pipeline, when known.
type DiscoveredJob = (Job, Option<Arc<Pipeline>>);

/// Microseconds since the Unix epoch (0 if the clock is before it).
fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Runs one collector's `work`, timing it, and returns its output with the collector's
/// status; `success` says from the output whether the collector succeeded.
async fn execute<T>(
    name: &'static str,
    work: impl Future<Output = T>,
    success: impl FnOnce(&T) -> bool,
) -> (T, CollectorStatus) {
    let started = Instant::now();
    let out = work.await;
    let status = CollectorStatus {
        name,
        success: success(&out),
        duration_seconds: started.elapsed().as_secs_f64(),
    };
    (out, status)
}

impl Scraper {
    /// Builds the clients for `cfg`. Nothing connects until the first scrape.
    pub fn new(cfg: Arc<Config>) -> Result<Scraper, String> {
        Scraper::with_metrics(cfg, Arc::new(SelfMetrics::default()))
    }

    /// [`Scraper::new`] counting into `metrics` (kept across configuration reloads).
    pub fn with_metrics(cfg: Arc<Config>, metrics: Arc<SelfMetrics>) -> Result<Scraper, String> {
        let rpc = match cfg.scrape.metrics_source {
            config::MetricsSource::Rpc => Some(Arc::new(RpcClient::new(&cfg.controller)?)),
            config::MetricsSource::Rest => None,
        };
        let rest = match &cfg.api.endpoint {
            Some(base) => {
                let token = config::api_token(&cfg.api).map_err(|e| e.to_string())?;
                Some(Arc::new(RestClient::new(
                    &cfg.api,
                    base.clone(),
                    token.as_deref(),
                )?))
            }
            None => None,
        };
        let source = match (rpc, &rest) {
            (Some(rpc), _) => Some(MetricsSource::Rpc(rpc)),
            (None, Some(rest)) => Some(MetricsSource::Rest(Arc::clone(rest))),
            (None, None) => None,
        };
        let compile = |key: &str, re: &Option<String>| -> Result<Option<regex::Regex>, String> {
            re.as_deref()
                .map(|r| regex::Regex::new(r).map_err(|e| format!("{key}: {e}")))
                .transpose()
        };
        let admin_client = match &cfg.admin.endpoint {
            Some(base) => {
                let token = config::admin_token(&cfg.admin).map_err(|e| e.to_string())?;
                Some(Arc::new(RestClient::admin(
                    &cfg.admin,
                    base.clone(),
                    token.as_deref(),
                )?))
            }
            None => None,
        };
        let include = compile("scrape.include-pipelines", &cfg.scrape.include_pipelines)?;
        let exclude = compile("scrape.exclude-pipelines", &cfg.scrape.exclude_pipelines)?;
        let c = &cfg.collectors;
        let budgets = Budgets {
            checkpoints: Mutex::new(budget::CallBudget::new(
                c.checkpoint_calls_per_second,
                c.checkpoint_calls_per_scrape,
            )),
        };
        let details = checkpoint_details::DetailsState::new(c.checkpoint_detail_calls_per_second);
        let errors = job_errors::ErrorsState::new(
            c.job_error_calls_per_second,
            c.job_error_calls_per_scrape,
        );
        Ok(Scraper {
            cfg,
            source,
            rest,
            cache: tokio::sync::Mutex::new(PipelineCache::default()),
            job_flights: Singleflight::default(),
            list_flights: Singleflight::default(),
            checkpoint_flights: Singleflight::default(),
            checkpoint_cache: Mutex::new(HashMap::new()),
            budgets,
            logged_failures: Mutex::new(HashSet::new()),
            details,
            errors,
            admin: admin::AdminState::new(admin_client),
            include,
            exclude,
            metrics,
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The RPC service generation learned so far (landing page).
    pub fn learned_service(&self) -> Option<&'static str> {
        match &self.source {
            Some(MetricsSource::Rpc(rpc)) => Some(rpc.learned_service()),
            _ => None,
        }
    }

    /// Runs one scrape that ends by `deadline`.
    pub async fn scrape(&self, deadline: Instant) -> Snapshot {
        self.metrics.scrape_started();
        let c = &self.cfg.collectors;
        let api = self.rest.is_some();
        let mut collectors = Vec::new();

        let (discovered, discovery) = execute("discovery", self.discover(deadline), |d| {
            d.jobs_status.success && d.topology_status.success
        })
        .await;
        let jobs_ok = discovered.jobs_status.success;
        if api {
            collectors.push(discovery);
            if c.jobs {
                collectors.push(discovered.jobs_status);
            }
            if c.topology {
                collectors.push(discovered.topology_status);
            }
        }
        let jobs = self.filter(discovered.jobs);
        if c.jobs {
            self.log_failures(&jobs);
        }

        let checkpoint_jobs: Vec<CheckpointJob> = jobs
            .iter()
            .filter(|(j, _)| state_runs(&j.state))
            .filter_map(|(j, p)| {
                j.pipeline_id.clone().map(|pipeline_id| CheckpointJob {
                    job_id: j.id.clone(),
                    pipeline_id,
                    interval_micros: p.as_ref().and_then(|p| p.checkpoint_interval_micros),
                })
            })
            .collect();
        let error_jobs: Vec<(String, String)> = jobs
            .iter()
            .filter(|(j, _)| job_errors::polls_errors(&j.state, j.running_desired))
            .filter_map(|(j, _)| j.pipeline_id.clone().map(|p| (j.id.clone(), p)))
            .collect();
        let error_jobs_count = error_jobs.len();
        let known_jobs: HashSet<String> = jobs.iter().map(|(j, _)| j.id.clone()).collect();
        let metrics_fut = async {
            if c.job_metrics {
                let (out, status) = execute(
                    "job_metrics",
                    self.collect_job_metrics(jobs, deadline),
                    |o| o.all_ok,
                )
                .await;
                (out.snapshots, out.up, Some(status))
            } else {
                let skipped = jobs
                    .into_iter()
                    .map(|(job, pipeline)| JobSnapshot {
                        job,
                        pipeline,
                        metrics: MetricsOutcome::Skipped,
                    })
                    .collect();
                (skipped, false, None)
            }
        };
        let checkpoints_fut = async {
            if c.checkpoints && api {
                // With no job list, nothing was checked: not a healthy upstream.
                let (out, status) = execute(
                    "checkpoints",
                    self.collect_checkpoints(&checkpoint_jobs, deadline),
                    |o| o.ok && jobs_ok,
                )
                .await;
                let details = if c.checkpoint_details {
                    Some(
                        execute(
                            "checkpoint_details",
                            self.collect_checkpoint_details(
                                &checkpoint_jobs,
                                &out.summaries,
                                deadline,
                            ),
                            |d| d.ok && jobs_ok,
                        )
                        .await,
                    )
                } else {
                    None
                };
                Some((out, status, details))
            } else {
                None
            }
        };
        let errors_fut = async {
            if c.job_errors && api {
                let (out, status) = execute(
                    "job_errors",
                    self.collect_job_errors(error_jobs, &known_jobs, jobs_ok, deadline),
                    |o| o.ok && jobs_ok,
                )
                .await;
                Some((out, status))
            } else {
                None
            }
        };
        let admin_fut = async {
            if c.admin && self.admin.enabled() {
                Some(execute("admin", self.collect_admin(deadline), |(_, ok)| *ok).await)
            } else {
                None
            }
        };
        let ((mut jobs, up, metrics_status), checkpoints, job_errors, admin) =
            tokio::join!(metrics_fut, checkpoints_fut, errors_fut, admin_fut);
        collectors.extend(metrics_status);
        let mut checkpoint_details = BTreeMap::new();
        let mut freshness = Freshness::default();
        let mut read = |collector: &str, reads: BTreeMap<String, f64>| {
            for (job, t) in reads {
                let r = freshness.jobs.entry(job).or_default();
                match collector {
                    "checkpoints" => r.checkpoints = Some(t),
                    "checkpoint_details" => r.checkpoint_details = Some(t),
                    _ => r.job_errors = Some(t),
                }
            }
        };
        let checkpoints = match checkpoints {
            Some((out, status, details)) => {
                collectors.push(status);
                read("checkpoints", out.reads);
                if let Some((d, status)) = details {
                    collectors.push(status);
                    checkpoint_details = d.details;
                    read("checkpoint_details", d.reads);
                }
                out.summaries
            }
            None => BTreeMap::new(),
        };
        let job_errors = match job_errors {
            Some((out, status)) => {
                collectors.push(status);
                read("job_errors", out.reads);
                out.counts
            }
            None => BTreeMap::new(),
        };
        freshness.budgets = self.budget_periods(checkpoint_jobs.len(), error_jobs_count);
        freshness.admin_read_seconds = self.admin.read_seconds();
        let arroyo_build = match admin {
            Some(((build, _), status)) => {
                collectors.push(status);
                build
            }
            None => None,
        };

        jobs.sort_by(|a, b| a.job.id.cmp(&b.job.id));
        Snapshot {
            up,
            jobs,
            collectors,
            subtask_series: self.cfg.scrape.subtask_series,
            job_families: c.jobs && api,
            topology: c.topology && api,
            pipeline_tags: c.pipeline_tags.clone(),
            checkpoints,
            exporter: self.metrics.stats(),
            bottleneck_threshold: Threshold::new(self.cfg.scrape.bottleneck_threshold)
                .unwrap_or_default(),
            checkpoint_details,
            job_errors,
            arroyo_build,
            scope: Scope::Full,
            freshness,
        }
    }

    /// `(collector, calls per second, refresh period)` of each budgeted collector that
    /// runs, for `running` jobs with checkpoints and `polled` jobs with error logs.
    fn budget_periods(&self, running: usize, polled: usize) -> Vec<(&'static str, f64, f64)> {
        let c = &self.cfg.collectors;
        let mut out = Vec::new();
        if self.rest.is_none() {
            return out;
        }
        if c.checkpoints {
            let b = self.budgets.checkpoints.lock();
            out.push(("checkpoints", b.per_second(), b.period_seconds(running)));
            if c.checkpoint_details {
                let b = self.details.budget.lock();
                out.push((
                    "checkpoint_details",
                    b.per_second(),
                    b.period_seconds(running),
                ));
            }
        }
        if c.job_errors {
            let rate = self.errors.per_second();
            out.push(("job_errors", rate, polled as f64 / rate));
        }
        out
    }
}
