//! One scrape: discover jobs through the REST API (or the static list), fetch every
//! running job's metrics concurrently (bounded), and assemble a [`Snapshot`].
//!
//! Every failure becomes data in the snapshot (a collector's success, a job's outcome,
//! `arroyo_up`), never an early return: the scrape always answers. Concurrent scrapes
//! share upstream calls ([`Singleflight`]), so an HA pair of Prometheus servers costs
//! the controller one RPC per job.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::future::{BoxFuture, FutureExt, Shared};
use futures::stream::{self, StreamExt};
use parking_lot::Mutex;
use tokio::time::Instant;

use crate::arroyo::hint;
use crate::arroyo::rest::{decode_off_thread, RestClient, RestError};
use crate::arroyo::rpc::{RpcAnswer, RpcClient};
use crate::arroyo::wire;
use crate::config::{self, Config, MetricsSource};
use crate::model::{
    state_runs, Checkpoint, CheckpointSummary, CollectorStatus, Job, JobSnapshot, MetricsOutcome,
    Pipeline, Snapshot,
};
use crate::selfmetrics::SelfMetrics;

/// Coalesces concurrent calls with the same key into one: the first caller starts the
/// work on its own task, later callers wait for the same result. The entry is removed
/// when the work ends, so the next call after that starts fresh work.
pub struct Singleflight<K, V: Clone> {
    flights: Arc<Mutex<HashMap<K, Shared<BoxFuture<'static, V>>>>>,
}

impl<K, V: Clone> Default for Singleflight<K, V> {
    fn default() -> Self {
        Singleflight {
            flights: Arc::new(Mutex::new(HashMap::new())),
        }
    }
}

impl<K, V> Singleflight<K, V>
where
    K: Eq + Hash + Clone + Send + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Runs `work` unless a call with `key` is already in flight, and returns its result.
    /// `on_panic` is the value returned if the work's task dies.
    pub fn run<F>(&self, key: K, work: F, on_panic: V) -> Shared<BoxFuture<'static, V>>
    where
        F: Future<Output = V> + Send + 'static,
    {
        let mut flights = self.flights.lock();
        if let Some(existing) = flights.get(&key) {
            return existing.clone();
        }
        let map = Arc::clone(&self.flights);
        let task_key = key.clone();
        let handle = tokio::spawn(async move {
            let out = work.await;
            map.lock().remove(&task_key);
            out
        });
        let shared = async move { handle.await.unwrap_or(on_panic) }
            .boxed()
            .shared();
        flights.insert(key, shared.clone());
        shared
    }
}

/// Pipeline names and graphs, refreshed at most once per TTL.
#[derive(Default)]
struct PipelineCache {
    refreshed_at: Option<Instant>,
    attempted_at: Option<Instant>,
    by_id: HashMap<String, Arc<Pipeline>>,
    /// Job → pipeline, for releases whose jobs do not carry `pipeline_id`.
    job_pipeline: HashMap<String, String>,
}

/// Shortest wait between two refreshes forced by an unknown pipeline.
const MIN_FORCED_REFRESH: Duration = Duration::from_secs(5);

/// Everything a scrape needs, shared by all scrapes.
pub struct Scraper {
    cfg: Arc<Config>,
    rpc: Option<Arc<RpcClient>>,
    rest: Option<Arc<RestClient>>,
    cache: tokio::sync::Mutex<PipelineCache>,
    job_flights: Singleflight<String, MetricsOutcome>,
    list_flights: Singleflight<&'static str, Result<Arc<Vec<Job>>, RestError>>,
    checkpoint_flights: Singleflight<String, CheckpointAnswer>,
    /// Last checkpoint answer per job, with when it was read.
    checkpoint_cache: Mutex<HashMap<String, CachedCheckpoints>>,
    logged_failures: Mutex<std::collections::HashSet<(String, u64)>>,
    include: Option<regex::Regex>,
    exclude: Option<regex::Regex>,
    /// The exporter's own counters.
    pub metrics: Arc<SelfMetrics>,
}

/// A job's last checkpoint list and when it was read.
type CachedCheckpoints = (Instant, Arc<Vec<Checkpoint>>);

/// The checkpoints API's answer for one job.
type CheckpointAnswer = Result<Arc<Vec<Checkpoint>>, RestError>;

/// A discovered job with its pipeline, when known.
type DiscoveredJob = (Job, Option<Arc<Pipeline>>);

/// Result of discovery: jobs with their pipelines, and how each API read went.
struct Discovered {
    jobs: Vec<DiscoveredJob>,
    jobs_ok: bool,
    jobs_seconds: f64,
    pipelines_ok: bool,
    pipelines_seconds: f64,
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Whether an error kind means the upstream itself answered (as opposed to not being
/// reachable in time).
fn answered(kind: &str) -> bool {
    matches!(kind, "decode" | "too_large" | "grpc_failed_precondition")
}

impl Scraper {
    /// Builds the clients for `cfg`. Nothing connects until the first scrape.
    pub fn new(cfg: Arc<Config>) -> Result<Scraper, String> {
        let rpc = match cfg.scrape.metrics_source {
            MetricsSource::Rpc => Some(Arc::new(RpcClient::new(&cfg.controller)?)),
            MetricsSource::Rest => None,
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
        let compile = |key: &str, re: &Option<String>| -> Result<Option<regex::Regex>, String> {
            re.as_deref()
                .map(|r| regex::Regex::new(r).map_err(|e| format!("{key}: {e}")))
                .transpose()
        };
        let include = compile("scrape.include-pipelines", &cfg.scrape.include_pipelines)?;
        let exclude = compile("scrape.exclude-pipelines", &cfg.scrape.exclude_pipelines)?;
        Ok(Scraper {
            cfg,
            rpc,
            rest,
            cache: tokio::sync::Mutex::new(PipelineCache::default()),
            job_flights: Singleflight::default(),
            list_flights: Singleflight::default(),
            checkpoint_flights: Singleflight::default(),
            checkpoint_cache: Mutex::new(HashMap::new()),
            logged_failures: Mutex::new(std::collections::HashSet::new()),
            include,
            exclude,
            metrics: Arc::new(SelfMetrics::default()),
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The RPC service generation learned so far (landing page).
    pub fn learned_service(&self) -> Option<&'static str> {
        self.rpc.as_ref().map(|r| r.learned_service())
    }

    /// Runs one scrape that ends by `deadline`.
    pub async fn scrape(&self, deadline: Instant) -> Snapshot {
        self.metrics.scrape_started();
        let c = &self.cfg.collectors;
        let api = self.rest.is_some();
        let mut collectors = Vec::new();

        let started = Instant::now();
        let discovered = self.discover(deadline).await;
        let discovery_seconds = started.elapsed().as_secs_f64();
        if api {
            collectors.push(CollectorStatus {
                name: "discovery",
                success: discovered.jobs_ok && discovered.pipelines_ok,
                duration_seconds: discovery_seconds,
            });
            if c.jobs {
                collectors.push(CollectorStatus {
                    name: "jobs",
                    success: discovered.jobs_ok,
                    duration_seconds: discovered.jobs_seconds,
                });
            }
            if c.topology {
                collectors.push(CollectorStatus {
                    name: "topology",
                    success: discovered.pipelines_ok,
                    duration_seconds: discovered.pipelines_seconds,
                });
            }
        }
        let jobs = self.filter(discovered.jobs);
        if c.jobs {
            self.log_failures(&jobs);
        }

        let checkpoint_jobs: Vec<(String, String)> = jobs
            .iter()
            .filter(|(j, _)| state_runs(&j.state))
            .filter_map(|(j, _)| j.pipeline_id.clone().map(|p| (j.id.clone(), p)))
            .collect();
        let metrics_started = Instant::now();
        let metrics_fut = async {
            if c.job_metrics {
                let out = self.collect_job_metrics(jobs, deadline).await;
                (out, metrics_started.elapsed().as_secs_f64())
            } else {
                let skipped = jobs
                    .into_iter()
                    .map(|(job, pipeline)| JobSnapshot {
                        job,
                        pipeline,
                        metrics: MetricsOutcome::Skipped,
                    })
                    .collect();
                ((skipped, false, true), 0.0)
            }
        };
        let checkpoints_started = Instant::now();
        let checkpoints_fut = async {
            if c.checkpoints && api {
                let out = self.collect_checkpoints(checkpoint_jobs, deadline).await;
                Some((out, checkpoints_started.elapsed().as_secs_f64()))
            } else {
                None
            }
        };
        let (((mut jobs, up, metrics_ok), metrics_seconds), checkpoints) =
            tokio::join!(metrics_fut, checkpoints_fut);
        if c.job_metrics {
            collectors.push(CollectorStatus {
                name: "job_metrics",
                success: metrics_ok,
                duration_seconds: metrics_seconds,
            });
        }
        let checkpoints = match checkpoints {
            Some(((summaries, ok), seconds)) => {
                // With no job list, nothing was checked: not a healthy upstream.
                collectors.push(CollectorStatus {
                    name: "checkpoints",
                    success: ok && discovered.jobs_ok,
                    duration_seconds: seconds,
                });
                summaries
            }
            None => BTreeMap::new(),
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
        }
    }

    /// Applies the pipeline-name and state filters.
    fn filter(&self, jobs: Vec<DiscoveredJob>) -> Vec<DiscoveredJob> {
        let f = &self.cfg.scrape;
        jobs.into_iter()
            .filter(|(job, pipeline)| {
                let name = pipeline.as_deref().map(|p| p.name.as_str()).unwrap_or("");
                let included = self.include.as_ref().is_none_or(|re| re.is_match(name));
                let excluded = self.exclude.as_ref().is_some_and(|re| re.is_match(name));
                let state_in =
                    f.include_states.is_empty() || f.include_states.iter().any(|s| s == &job.state);
                let state_out = f.exclude_states.iter().any(|s| s == &job.state);
                included && !excluded && state_in && !state_out
            })
            .collect()
    }

    /// Logs the failure text of failed jobs once per run (it is not a label).
    fn log_failures(&self, jobs: &[DiscoveredJob]) {
        let mut logged = self.logged_failures.lock();
        for (job, _) in jobs {
            if !matches!(job.state.as_str(), "Failed" | "Failing") {
                continue;
            }
            if logged.insert((job.id.clone(), job.run_id)) {
                tracing::warn!(
                    job_id = %job.id,
                    state = %job.state,
                    domain = job.failure_domain.as_deref().unwrap_or("unknown"),
                    error = job.failure_message.as_deref().unwrap_or(""),
                    "Arroyo job failed"
                );
            }
        }
    }

    /// Reads checkpoints of running jobs: at most the configured number of calls per
    /// scrape, oldest answers first; the other jobs reuse their last answer.
    async fn collect_checkpoints(
        &self,
        jobs: Vec<(String, String)>,
        deadline: Instant,
    ) -> (BTreeMap<String, CheckpointSummary>, bool) {
        let Some(rest) = self.rest.clone() else {
            return (BTreeMap::new(), true);
        };
        let limit = self.cfg.collectors.checkpoint_calls_per_scrape;
        let mut order: Vec<(Option<Instant>, String, String)> = {
            let mut cache = self.checkpoint_cache.lock();
            let present: std::collections::HashSet<&String> = jobs.iter().map(|j| &j.0).collect();
            cache.retain(|k, _| present.contains(k));
            jobs.iter()
                .map(|(j, p)| (cache.get(j).map(|c| c.0), j.clone(), p.clone()))
                .collect()
        };
        order.sort_by_key(|(fetched, _, _)| *fetched);
        let to_fetch: Vec<(String, String)> = order
            .into_iter()
            .take(limit)
            .map(|(_, j, p)| (j, p))
            .collect();
        let concurrency = self.cfg.scrape.concurrency;
        let results: Vec<(String, CheckpointAnswer)> =
            stream::iter(to_fetch)
                .map(|(job_id, pid)| {
                    let rest = Arc::clone(&rest);
                    let metrics = Arc::clone(&self.metrics);
                    let task_job = job_id.clone();
                    let flight = self.checkpoint_flights.run(
                        job_id.clone(),
                        async move {
                            let out = rest.checkpoints(&pid, &task_job).await;
                            metrics.record_call("api", out.as_ref().err().map(|e| e.kind));
                            if let Err(e) = &out {
                                tracing::warn!(job_id = %task_job, kind = e.kind, error = %e.message, hint = hint::api(e.kind), "reading checkpoints failed");
                            }
                            out.map(Arc::new)
                        },
                        Err(RestError {
                            kind: "internal",
                            message: "checkpoint task failed".into(),
                        }),
                    );
                    async move {
                        let out = match tokio::time::timeout_at(deadline, flight).await {
                            Ok(r) => r,
                            Err(_) => Err(RestError {
                                kind: "timeout",
                                message: "scrape deadline reached".into(),
                            }),
                        };
                        (job_id, out)
                    }
                })
                .buffer_unordered(concurrency)
                .collect()
                .await;
        let mut ok = true;
        let now = Instant::now();
        let mut cache = self.checkpoint_cache.lock();
        for (job_id, r) in results {
            match r {
                Ok(list) => {
                    cache.insert(job_id, (now, list));
                }
                Err(_) => ok = false,
            }
        }
        let wall = now_micros();
        let summaries = jobs
            .iter()
            .filter_map(|(j, _)| {
                cache
                    .get(j)
                    .map(|(_, list)| (j.clone(), CheckpointSummary::from_checkpoints(list, wall)))
            })
            .collect();
        (summaries, ok)
    }

    /// Finds the jobs to scrape, with their pipelines.
    async fn discover(&self, deadline: Instant) -> Discovered {
        let Some(rest) = self.rest.clone() else {
            return Discovered {
                jobs: self.static_jobs(None, &PipelineView::default()),
                jobs_ok: true,
                jobs_seconds: 0.0,
                pipelines_ok: true,
                pipelines_seconds: 0.0,
            };
        };
        let started = Instant::now();
        let metrics = Arc::clone(&self.metrics);
        let flight = self.list_flights.run(
            "jobs",
            async move {
                let out = rest.jobs().await;
                metrics.record_call("api", out.as_ref().err().map(|e| e.kind));
                if let Err(e) = &out {
                    tracing::warn!(kind = e.kind, error = %e.message, hint = hint::api(e.kind), "listing jobs through the API failed");
                }
                out.map(Arc::new)
            },
            Err(RestError {
                kind: "internal",
                message: "job listing task failed".into(),
            }),
        );
        let listed = match tokio::time::timeout_at(deadline, flight).await {
            Ok(r) => r,
            Err(_) => Err(RestError {
                kind: "timeout",
                message: "scrape deadline reached while listing jobs".into(),
            }),
        };
        let (api_jobs, jobs_ok) = match listed {
            Ok(jobs) => (Some(jobs), true),
            Err(_) => (None, false),
        };
        let jobs_seconds = started.elapsed().as_secs_f64();

        let started = Instant::now();
        let empty = Vec::new();
        let job_list: &Vec<Job> = api_jobs.as_deref().unwrap_or(&empty);
        let (pipelines, pipelines_ok) = match self.pipelines_for(job_list, deadline).await {
            Ok(p) => (p, true),
            Err(p) => (p, false),
        };
        let pipelines_seconds = started.elapsed().as_secs_f64();

        let jobs = if self.cfg.scrape.jobs.is_empty() {
            job_list
                .iter()
                .map(|job| {
                    let p = pipeline_of(job, &pipelines);
                    (with_pipeline_id(job.clone(), &pipelines), p)
                })
                .collect()
        } else {
            let by_id: HashMap<String, Job> =
                job_list.iter().map(|j| (j.id.clone(), j.clone())).collect();
            self.static_jobs(api_jobs.as_ref().map(|_| &by_id), &pipelines)
        };
        Discovered {
            jobs,
            jobs_ok,
            jobs_seconds,
            pipelines_ok,
            pipelines_seconds,
        }
    }

    /// The configured static jobs, completed from the API's job list when there is one.
    fn static_jobs(
        &self,
        api: Option<&HashMap<String, Job>>,
        pipelines: &PipelineView,
    ) -> Vec<(Job, Option<Arc<Pipeline>>)> {
        self.cfg
            .scrape
            .jobs
            .iter()
            .map(|s| {
                let mut job = api
                    .and_then(|m| m.get(&s.id).cloned())
                    .unwrap_or_else(|| Job {
                        id: s.id.clone(),
                        ..Job::default()
                    });
                if job.pipeline_id.is_none() {
                    job.pipeline_id = s.pipeline_id.clone();
                }
                let job = with_pipeline_id(job, pipelines);
                let pipeline = pipeline_of(&job, pipelines).or_else(|| {
                    s.pipeline_name.as_ref().map(|name| {
                        Arc::new(Pipeline {
                            id: job.pipeline_id.clone().unwrap_or_default(),
                            name: name.clone(),
                            ..Pipeline::default()
                        })
                    })
                });
                (job, pipeline)
            })
            .collect()
    }

    /// Returns the pipeline view, refreshing the cache when stale or when a job's
    /// pipeline is unknown. `Err` carries the (possibly stale) view after a failed refresh.
    async fn pipelines_for(
        &self,
        jobs: &[Job],
        deadline: Instant,
    ) -> Result<PipelineView, PipelineView> {
        let Some(rest) = &self.rest else {
            return Ok(PipelineView::default());
        };
        let ttl = self.cfg.api.pipeline_cache_ttl;
        let mut cache = match tokio::time::timeout_at(deadline, self.cache.lock()).await {
            Ok(c) => c,
            Err(_) => return Err(PipelineView::default()),
        };
        let now = Instant::now();
        let expired = cache
            .refreshed_at
            .is_none_or(|t| now.duration_since(t) >= ttl);
        let unknown = jobs
            .iter()
            .any(|j| resolve(j, &cache.job_pipeline, &cache.by_id).is_none());
        let may_force = cache
            .attempted_at
            .is_none_or(|t| now.duration_since(t) >= MIN_FORCED_REFRESH);
        let mut ok = true;
        if expired || (unknown && may_force) {
            cache.attempted_at = Some(now);
            let need_job_map = jobs.iter().any(|j| j.pipeline_id.is_none());
            match tokio::time::timeout_at(deadline, self.refresh(rest, need_job_map)).await {
                Ok(Ok(fresh)) => {
                    cache.by_id = fresh.by_id;
                    // A job belongs to one pipeline for life: new answers add to the
                    // map; jobs the API no longer lists leave it.
                    cache.job_pipeline.extend(fresh.job_pipeline);
                    if !jobs.is_empty() {
                        let listed: std::collections::HashSet<&str> =
                            jobs.iter().map(|j| j.id.as_str()).collect();
                        cache
                            .job_pipeline
                            .retain(|j, _| listed.contains(j.as_str()));
                    }
                    if fresh.complete {
                        cache.refreshed_at = Some(now);
                    } else {
                        ok = false;
                    }
                }
                Ok(Err(e)) => {
                    tracing::warn!(kind = e.kind, error = %e.message, hint = hint::api(e.kind), "refreshing pipelines through the API failed");
                    ok = false;
                }
                Err(_) => {
                    tracing::warn!(
                        hint = "raise scrape.timeout, or api.timeout if the API is slow",
                        "scrape deadline reached while refreshing pipelines"
                    );
                    ok = false;
                }
            }
        }
        let view = PipelineView {
            by_id: cache.by_id.clone(),
            job_pipeline: cache.job_pipeline.clone(),
        };
        if ok {
            Ok(view)
        } else {
            Err(view)
        }
    }

    /// Reads every pipeline (paginated) and, when needed, every pipeline's jobs. A
    /// failed `/pipelines/{id}/jobs` call leaves that pipeline out of the job map and
    /// marks the refresh incomplete; the other pipelines' answers are kept.
    async fn refresh(
        &self,
        rest: &Arc<RestClient>,
        need_job_map: bool,
    ) -> Result<Refreshed, RestError> {
        let listed = rest.pipelines().await;
        self.metrics
            .record_call("api", listed.as_ref().err().map(|e| e.kind));
        let by_id: HashMap<String, Arc<Pipeline>> = listed?
            .into_iter()
            .map(|p| (p.id.clone(), Arc::new(p)))
            .collect();
        if !need_job_map {
            return Ok(Refreshed {
                by_id,
                job_pipeline: HashMap::new(),
                complete: true,
            });
        }
        let ids: Vec<String> = by_id.keys().cloned().collect();
        let results: Vec<(String, Result<Vec<Job>, RestError>)> = stream::iter(ids)
            .map(|pid| async move {
                let r = rest.pipeline_jobs(&pid).await;
                (pid, r)
            })
            .buffer_unordered(self.cfg.scrape.concurrency.min(8))
            .collect()
            .await;
        let mut job_pipeline = HashMap::new();
        let mut complete = true;
        for (pid, r) in results {
            self.metrics
                .record_call("api", r.as_ref().err().map(|e| e.kind));
            match r {
                Ok(jobs) => {
                    for job in jobs {
                        job_pipeline.insert(job.id, pid.clone());
                    }
                }
                Err(e) => {
                    tracing::warn!(pipeline_id = %pid, kind = e.kind, error = %e.message, hint = hint::api(e.kind), "listing a pipeline's jobs failed");
                    complete = false;
                }
            }
        }
        Ok(Refreshed {
            by_id,
            job_pipeline,
            complete,
        })
    }

    /// Fetches metrics of every job that can have them. Returns the job snapshots,
    /// whether the metrics source answered, and whether every fetch succeeded.
    async fn collect_job_metrics(
        &self,
        jobs: Vec<(Job, Option<Arc<Pipeline>>)>,
        deadline: Instant,
    ) -> (Vec<JobSnapshot>, bool, bool) {
        let concurrency = self.cfg.scrape.concurrency;
        let has_state = self.rest.is_some();
        let fetches = stream::iter(jobs)
            .map(|(job, pipeline)| async move {
                // A job whose state is known and does not run has no live metrics; with
                // a static list and no API, the sample age is the guard.
                let runs = !has_state || job.state.is_empty() || state_runs(&job.state);
                let metrics = if runs {
                    self.fetch_job(&job, deadline).await
                } else {
                    MetricsOutcome::Skipped
                };
                JobSnapshot {
                    job,
                    pipeline,
                    metrics,
                }
            })
            .buffer_unordered(concurrency);
        let mut snapshots: Vec<JobSnapshot> = fetches.collect().await;

        let mut attempted = 0usize;
        let mut answered_any = false;
        let mut all_ok = true;
        for s in &snapshots {
            match &s.metrics {
                MetricsOutcome::Ok(_) | MetricsOutcome::NoMetrics => {
                    attempted += 1;
                    answered_any = true;
                }
                MetricsOutcome::Failed(kind) => {
                    attempted += 1;
                    all_ok = false;
                    answered_any |= answered(kind);
                }
                MetricsOutcome::Skipped => {}
            }
        }
        if attempted == 0 {
            answered_any = self.probe(deadline).await;
            all_ok = answered_any;
        }
        self.drop_stale(&mut snapshots);
        (snapshots, answered_any, all_ok)
    }

    /// With no job to ask about, checks that the metrics source answers at all.
    async fn probe(&self, deadline: Instant) -> bool {
        let Some(rpc) = self.rpc.clone() else {
            // The REST bridge has no cheap probe; the discovery call already tells
            // whether the API answers.
            return self
                .metrics
                .upstream_status()
                .get("api")
                .is_some_and(|s| s.status == "ok");
        };
        let metrics = Arc::clone(&self.metrics);
        let flight = self.job_flights.run(
            String::new(),
            async move {
                match rpc.job_metrics("").await {
                    Ok(_) => {
                        metrics.record_call("controller", None);
                        MetricsOutcome::NoMetrics
                    }
                    Err(e) => {
                        metrics.record_call("controller", Some(e.kind));
                        tracing::warn!(kind = e.kind, error = %e.message, hint = hint::controller(e.kind), "controller did not answer the probe call");
                        MetricsOutcome::Failed(e.kind)
                    }
                }
            },
            MetricsOutcome::Failed("internal"),
        );
        match tokio::time::timeout_at(deadline, flight).await {
            Ok(MetricsOutcome::Failed(kind)) => answered(kind),
            Ok(_) => true,
            Err(_) => false,
        }
    }

    /// Fetches and decodes one job's document, sharing the call with concurrent scrapes.
    async fn fetch_job(&self, job: &Job, deadline: Instant) -> MetricsOutcome {
        let metrics = Arc::clone(&self.metrics);
        let job_id = job.id.clone();
        let work: BoxFuture<'static, MetricsOutcome> = match (&self.rpc, &self.rest) {
            (Some(rpc), _) => {
                let rpc = Arc::clone(rpc);
                async move {
                    let answer = rpc.job_metrics(&job_id).await;
                    let outcome = match answer {
                        Ok(RpcAnswer::NotFound) => Ok(MetricsOutcome::NoMetrics),
                        Ok(RpcAnswer::Document(doc)) => {
                            match decode_off_thread(doc, wire::decode_job_metrics).await {
                                Ok(m) => Ok(MetricsOutcome::Ok(m)),
                                Err(msg) => Err(("decode", msg)),
                            }
                        }
                        Err(e) => Err((e.kind, e.message)),
                    };
                    finish("controller", &job_id, outcome, &metrics)
                }
                .boxed()
            }
            (None, Some(rest)) => {
                let rest = Arc::clone(rest);
                let pipeline_id = job.pipeline_id.clone();
                async move {
                    let outcome = match pipeline_id {
                        None => Err(("no_pipeline", "job's pipeline is unknown".to_string())),
                        Some(pid) => match rest.operator_metric_groups(&pid, &job_id).await {
                            Ok(Some(m)) => Ok(MetricsOutcome::Ok(m)),
                            Ok(None) => Ok(MetricsOutcome::NoMetrics),
                            Err(e) => Err((e.kind, e.message)),
                        },
                    };
                    finish("api", &job_id, outcome, &metrics)
                }
                .boxed()
            }
            (None, None) => return MetricsOutcome::Failed("config"),
        };
        let flight = self
            .job_flights
            .run(job.id.clone(), work, MetricsOutcome::Failed("internal"));
        match tokio::time::timeout_at(deadline, flight).await {
            Ok(outcome) => outcome,
            Err(_) => {
                tracing::warn!(
                    job_id = %job.id,
                    hint = "the answer may still come for the next scrape; raise scrape.timeout and Prometheus' scrape_timeout together for large jobs",
                    "scrape deadline reached before the job's metrics arrived"
                );
                MetricsOutcome::Failed("timeout")
            }
        }
    }

    /// Drops series whose newest point is older than the maximum sample age.
    fn drop_stale(&self, snapshots: &mut [JobSnapshot]) {
        let max_age = self.cfg.scrape.max_sample_age;
        if max_age.is_zero() {
            return;
        }
        let cutoff = now_micros().saturating_sub(max_age.as_micros() as u64);
        let mut dropped = 0u64;
        for s in snapshots.iter_mut() {
            if let MetricsOutcome::Ok(m) = &mut s.metrics {
                let before = m.samples.len();
                m.samples.retain(|x| x.point.time_micros >= cutoff);
                let n = (before - m.samples.len()) as u64;
                if n > 0 {
                    tracing::debug!(job_id = %s.job.id, dropped = n, "dropped stale series");
                }
                dropped += n;
            }
        }
        if dropped > 0 {
            self.metrics.record_stale(dropped);
        }
    }
}

/// Records the outcome of one upstream fetch and turns it into a [`MetricsOutcome`].
fn finish(
    source: &'static str,
    job_id: &str,
    outcome: Result<MetricsOutcome, (&'static str, String)>,
    metrics: &SelfMetrics,
) -> MetricsOutcome {
    match outcome {
        Ok(out) => {
            metrics.record_call(source, None);
            if let MetricsOutcome::Ok(m) = &out {
                metrics.record_decode(m.unknown_metric_groups, m.null_values);
            }
            out
        }
        Err((kind, message)) => {
            metrics.record_call(source, Some(kind));
            let hint = if source == "api" {
                hint::api(kind)
            } else {
                hint::controller(kind)
            };
            tracing::warn!(job_id, source, kind, error = %message, hint, "fetching job metrics failed");
            MetricsOutcome::Failed(kind)
        }
    }
}

/// What one refresh of the pipeline cache read.
struct Refreshed {
    by_id: HashMap<String, Arc<Pipeline>>,
    job_pipeline: HashMap<String, String>,
    /// False when some pipeline's job list could not be read.
    complete: bool,
}

/// A consistent copy of the pipeline cache for one scrape.
#[derive(Default, Clone)]
struct PipelineView {
    by_id: HashMap<String, Arc<Pipeline>>,
    job_pipeline: HashMap<String, String>,
}

fn resolve<'a>(
    job: &Job,
    job_pipeline: &HashMap<String, String>,
    by_id: &'a HashMap<String, Arc<Pipeline>>,
) -> Option<&'a Arc<Pipeline>> {
    let pid = job
        .pipeline_id
        .as_ref()
        .or_else(|| job_pipeline.get(&job.id))?;
    by_id.get(pid)
}

fn pipeline_of(job: &Job, view: &PipelineView) -> Option<Arc<Pipeline>> {
    resolve(job, &view.job_pipeline, &view.by_id).cloned()
}

/// Fills `pipeline_id` from the job → pipeline map for releases that do not send it.
fn with_pipeline_id(mut job: Job, view: &PipelineView) -> Job {
    if job.pipeline_id.is_none() {
        job.pipeline_id = view.job_pipeline.get(&job.id).cloned();
    }
    job
}
