//! One scrape: discover jobs through the REST API (or the static list), fetch every
//! running job's metrics concurrently (bounded), and assemble a [`Snapshot`].
//!
//! Every failure becomes data in the snapshot (a collector's success, a job's outcome,
//! `arroyo_up`), never an early return: the scrape always answers. Concurrent scrapes
//! share upstream calls ([`Singleflight`]), so an HA pair of Prometheus servers costs
//! the controller one RPC per job.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::future::{BoxFuture, FutureExt, Shared};
use futures::stream::{self, StreamExt};
use parking_lot::Mutex;
use tokio::time::Instant;

use crate::arroyo::rest::{decode_off_thread, RestClient, RestError};
use crate::arroyo::rpc::{RpcAnswer, RpcClient};
use crate::arroyo::wire;
use crate::config::{self, Config, MetricsSource};
use crate::model::{
    state_runs, CollectorStatus, Job, JobSnapshot, MetricsOutcome, Pipeline, Snapshot,
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

    /// Calls in flight now (for tests).
    pub fn in_flight(&self) -> usize {
        self.flights.lock().len()
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
    /// The exporter's own counters.
    pub metrics: Arc<SelfMetrics>,
}

/// Result of discovery: jobs with their pipelines.
struct Discovered {
    jobs: Vec<(Job, Option<Arc<Pipeline>>)>,
    success: bool,
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
        Ok(Scraper {
            cfg,
            rpc,
            rest,
            cache: tokio::sync::Mutex::new(PipelineCache::default()),
            job_flights: Singleflight::default(),
            list_flights: Singleflight::default(),
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
        let mut collectors = Vec::new();

        let started = Instant::now();
        let discovered = self.discover(deadline).await;
        if self.rest.is_some() {
            collectors.push(CollectorStatus {
                name: "discovery",
                success: discovered.success,
                duration_seconds: started.elapsed().as_secs_f64(),
            });
        }

        let started = Instant::now();
        let (jobs, up, all_ok) = if self.cfg.collectors.job_metrics {
            self.collect_job_metrics(discovered.jobs, deadline).await
        } else {
            let jobs = discovered
                .jobs
                .into_iter()
                .map(|(job, pipeline)| JobSnapshot {
                    job,
                    pipeline,
                    metrics: MetricsOutcome::Skipped,
                })
                .collect();
            (jobs, false, true)
        };
        if self.cfg.collectors.job_metrics {
            collectors.push(CollectorStatus {
                name: "job_metrics",
                success: all_ok,
                duration_seconds: started.elapsed().as_secs_f64(),
            });
        }

        let mut jobs = jobs;
        jobs.sort_by(|a, b| a.job.id.cmp(&b.job.id));
        Snapshot {
            up,
            jobs,
            collectors,
            subtask_series: self.cfg.scrape.subtask_series,
            exporter: self.metrics.stats(),
        }
    }

    /// Finds the jobs to scrape, with their pipelines.
    async fn discover(&self, deadline: Instant) -> Discovered {
        let Some(rest) = self.rest.clone() else {
            return Discovered {
                jobs: self.static_jobs(None, &PipelineView::default()),
                success: true,
            };
        };
        let metrics = Arc::clone(&self.metrics);
        let flight = self.list_flights.run(
            "jobs",
            async move {
                let out = rest.jobs().await;
                metrics.record_call("api", out.as_ref().err().map(|e| e.kind));
                if let Err(e) = &out {
                    tracing::warn!(error = %e, "listing jobs through the API failed");
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
        let (api_jobs, mut success) = match listed {
            Ok(jobs) => (Some(jobs), true),
            Err(_) => (None, false),
        };

        let empty = Vec::new();
        let job_list: &Vec<Job> = api_jobs.as_deref().unwrap_or(&empty);
        let pipelines = match self.pipelines_for(job_list, deadline).await {
            Ok(p) => p,
            Err(p) => {
                success = false;
                p
            }
        };

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
        Discovered { jobs, success }
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
                Ok(Ok((by_id, job_pipeline))) => {
                    cache.by_id = by_id;
                    if let Some(map) = job_pipeline {
                        cache.job_pipeline = map;
                    }
                    cache.refreshed_at = Some(now);
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "refreshing pipelines through the API failed");
                    ok = false;
                }
                Err(_) => {
                    tracing::warn!("scrape deadline reached while refreshing pipelines");
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

    /// Reads every pipeline (paginated) and, when needed, every pipeline's jobs.
    async fn refresh(
        &self,
        rest: &Arc<RestClient>,
        need_job_map: bool,
    ) -> Result<
        (
            HashMap<String, Arc<Pipeline>>,
            Option<HashMap<String, String>>,
        ),
        RestError,
    > {
        let listed = rest.pipelines().await;
        self.metrics
            .record_call("api", listed.as_ref().err().map(|e| e.kind));
        let by_id: HashMap<String, Arc<Pipeline>> = listed?
            .into_iter()
            .map(|p| (p.id.clone(), Arc::new(p)))
            .collect();
        if !need_job_map {
            return Ok((by_id, None));
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
        let mut map = HashMap::new();
        for (pid, r) in results {
            self.metrics
                .record_call("api", r.as_ref().err().map(|e| e.kind));
            for job in r? {
                map.insert(job.id, pid.clone());
            }
        }
        Ok((by_id, Some(map)))
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
                        tracing::warn!(error = %e, "controller did not answer the probe call");
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
                tracing::warn!(job_id = %job.id, "scrape deadline reached before the job's metrics arrived");
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
            tracing::warn!(job_id, source, kind, error = %message, "fetching job metrics failed");
            MetricsOutcome::Failed(kind)
        }
    }
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
