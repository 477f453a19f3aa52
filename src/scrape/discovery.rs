//! Discovery: the jobs to scrape and their pipelines. Reads the job list (`jobs`
//! collector) and the pipelines cache (`topology` collector) through the REST API, keeps
//! the job → pipeline map for releases whose jobs do not carry `pipeline_id`, and
//! completes the configured static jobs.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::{execute, DiscoveredJob, Scraper};
use crate::arroyo::hint;
use crate::model::{CollectorStatus, Job, Pipeline};

/// Pipeline names and graphs, refreshed at most once per TTL.
#[derive(Default)]
pub(super) struct PipelineCache {
    refreshed_at: Option<Instant>,
    attempted_at: Option<Instant>,
    by_id: HashMap<String, Arc<Pipeline>>,
    /// Job → pipeline, for releases whose jobs do not carry `pipeline_id`.
    job_pipeline: HashMap<String, String>,
}

/// Shortest wait between two refreshes forced by an unknown pipeline.
const MIN_FORCED_REFRESH: Duration = Duration::from_secs(5);

/// Result of discovery: jobs with their pipelines, and how each API read went.
pub(super) struct Discovered {
    pub(super) jobs: Vec<DiscoveredJob>,
    /// The job list read (`jobs` collector).
    pub(super) jobs_status: CollectorStatus,
    /// The pipelines read (`topology` collector).
    pub(super) topology_status: CollectorStatus,
}

/// A consistent copy of the pipeline cache for one scrape.
#[derive(Default, Clone)]
pub(super) struct PipelineView {
    by_id: HashMap<String, Arc<Pipeline>>,
    job_pipeline: HashMap<String, String>,
}

/// A collector that did not run because there is no API: it counts as a success.
fn no_call(name: &'static str) -> CollectorStatus {
    CollectorStatus {
        name,
        success: true,
        duration_seconds: 0.0,
    }
}

impl Scraper {
    /// Finds the jobs to scrape, with their pipelines.
    pub(super) async fn discover(&self, deadline: Instant) -> Discovered {
        let Some(rest) = self.rest.clone() else {
            return Discovered {
                jobs: self.static_jobs(None, &PipelineView::default()),
                jobs_status: no_call("jobs"),
                topology_status: no_call("topology"),
            };
        };
        let (listed, jobs_status) =
            execute("jobs", self.list_jobs(rest, deadline), Result::is_ok).await;
        let api_jobs = listed.ok();

        let empty = Vec::new();
        let job_list: &Vec<Job> = api_jobs.as_deref().unwrap_or(&empty);
        let (pipelines, topology_status) = execute(
            "topology",
            self.pipelines_for(job_list, deadline),
            Result::is_ok,
        )
        .await;
        let pipelines = pipelines.unwrap_or_else(|stale| stale);

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
            jobs_status,
            topology_status,
        }
    }

    /// The configured static jobs, completed from the API's job list when there is one.
    fn static_jobs(
        &self,
        api: Option<&HashMap<String, Job>>,
        pipelines: &PipelineView,
    ) -> Vec<DiscoveredJob> {
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
                        let listed: HashSet<&str> = jobs.iter().map(|j| j.id.as_str()).collect();
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
                    tracing::warn!(kind = e.kind.as_str(), error = %e.message, hint = hint::api(e.kind), "refreshing pipelines through the API failed");
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
}

/// The pipeline of `job`, by its `pipeline_id` or the job → pipeline map.
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

/// The pipeline of `job` in `view`, when known.
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
