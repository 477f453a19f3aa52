//! The `job_metrics` collector: every running job's metrics from the configured
//! [`MetricsSource`], shared with concurrent scrapes, with series older than the
//! maximum sample age dropped. Also decides `arroyo_up`: whether the source answered.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use futures::stream::{self, StreamExt};
use tokio::time::Instant;

use super::{now_micros, FlightError, Scraper};
use crate::arroyo::error::{ErrorKind, UpstreamError};
use crate::arroyo::source::{JobMetricsAnswer, MetricsSource};
use crate::model::{state_runs, Job, JobSnapshot, MetricsOutcome, Pipeline};
use crate::selfmetrics::SelfMetrics;

/// What the `job_metrics` collector found.
pub(super) struct JobMetricsRun {
    /// One snapshot per job.
    pub(super) snapshots: Vec<JobSnapshot>,
    /// Whether the metrics source answered (`arroyo_up`).
    pub(super) up: bool,
    /// Whether every fetch succeeded (the collector's success).
    pub(super) all_ok: bool,
}

impl Scraper {
    /// Fetches metrics of every job that can have them.
    pub(super) async fn collect_job_metrics(
        &self,
        jobs: Vec<(Job, Option<Arc<Pipeline>>)>,
        deadline: Instant,
    ) -> JobMetricsRun {
        let concurrency = self.cfg.scrape.concurrency;
        let has_state = self.rest.is_some();
        let not_asked = AtomicUsize::new(0);
        let not_asked = &not_asked;
        let fetches = stream::iter(jobs)
            .map(|(job, pipeline)| async move {
                // A job whose state is known and does not run has no live metrics; with
                // a static list and no API, the sample age is the guard.
                let runs = !has_state || job.state.is_empty() || state_runs(&job.state);
                let metrics = if !runs {
                    MetricsOutcome::Skipped
                } else if Instant::now() >= deadline {
                    // Past the deadline no new call starts: each would run on its own
                    // task, outside the concurrency bound (thousands at once for a large
                    // fleet), for an answer this scrape no longer waits for.
                    not_asked.fetch_add(1, Ordering::Relaxed);
                    MetricsOutcome::Failed(ErrorKind::Timeout)
                } else {
                    self.fetch_job(&job, deadline).await
                };
                JobSnapshot {
                    job,
                    pipeline,
                    metrics,
                }
            })
            .buffer_unordered(concurrency);
        let mut snapshots: Vec<JobSnapshot> = fetches.collect().await;
        let not_asked = not_asked.load(Ordering::Relaxed);
        if not_asked > 0 {
            tracing::warn!(
                jobs = not_asked,
                hint = "raise scrape.timeout and Prometheus' scrape_timeout together, or scrape.concurrency if the controller keeps up",
                "scrape deadline reached before these jobs' metrics were asked for"
            );
        }

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
                    answered_any |= kind.answered();
                }
                MetricsOutcome::Skipped => {}
            }
        }
        if attempted == 0 {
            answered_any = self.probe(deadline).await;
            all_ok = answered_any;
        }
        self.drop_stale(&mut snapshots);
        JobMetricsRun {
            snapshots,
            up: answered_any,
            all_ok,
        }
    }

    /// With no job to ask about, checks that the metrics source answers at all.
    async fn probe(&self, deadline: Instant) -> bool {
        let source = match &self.source {
            Some(source) if source.can_probe() => source.clone(),
            // The REST bridge has no cheap probe; the discovery call already tells
            // whether the API answers.
            _ => {
                return self
                    .metrics
                    .upstream_status()
                    .get("api")
                    .is_some_and(|s| s.error.is_none())
            }
        };
        let metrics = Arc::clone(&self.metrics);
        let work = async move {
            match source.probe().await {
                Ok(()) => {
                    metrics.record_call(source.upstream(), None);
                    MetricsOutcome::NoMetrics
                }
                Err(e) => {
                    metrics.record_call(source.upstream(), Some(e.kind));
                    tracing::warn!(kind = e.kind.as_str(), error = %e.message, hint = source.hint(e.kind), "controller did not answer the probe call");
                    MetricsOutcome::Failed(e.kind)
                }
            }
        };
        match self
            .job_flights
            .run_until(String::new(), deadline, work)
            .await
        {
            Ok(MetricsOutcome::Failed(kind)) => kind.answered(),
            Ok(_) => true,
            Err(_) => false,
        }
    }

    /// Fetches one job's metrics, sharing the call with concurrent scrapes.
    async fn fetch_job(&self, job: &Job, deadline: Instant) -> MetricsOutcome {
        let Some(source) = self.source.clone() else {
            return MetricsOutcome::Failed(ErrorKind::Config);
        };
        let metrics = Arc::clone(&self.metrics);
        let job_id = job.id.clone();
        let pipeline_id = job.pipeline_id.clone();
        let work = async move {
            let answer = source.job_metrics(&job_id, pipeline_id.as_deref()).await;
            finish(&source, &job_id, answer, &metrics)
        };
        match self
            .job_flights
            .run_until(job.id.clone(), deadline, work)
            .await
        {
            Ok(outcome) => outcome,
            Err(FlightError::TaskFailed) => MetricsOutcome::Failed(ErrorKind::Internal),
            Err(FlightError::DeadlineReached) => {
                tracing::warn!(
                    job_id = %job.id,
                    hint = "the answer may still come for the next scrape; raise scrape.timeout and Prometheus' scrape_timeout together for large jobs",
                    "scrape deadline reached before the job's metrics arrived"
                );
                MetricsOutcome::Failed(ErrorKind::Timeout)
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

/// Records the answer of one upstream fetch and turns it into a [`MetricsOutcome`].
fn finish(
    source: &MetricsSource,
    job_id: &str,
    answer: Result<JobMetricsAnswer, UpstreamError>,
    metrics: &SelfMetrics,
) -> MetricsOutcome {
    let upstream = source.upstream();
    match answer {
        Ok(JobMetricsAnswer::Metrics(m)) => {
            metrics.record_call(upstream, None);
            metrics.record_decode(m.unknown_metric_groups, m.null_values);
            MetricsOutcome::Ok(m)
        }
        Ok(JobMetricsAnswer::NoMetrics) => {
            metrics.record_call(upstream, None);
            MetricsOutcome::NoMetrics
        }
        Err(e) => {
            metrics.record_call(upstream, Some(e.kind));
            let hint = source.hint(e.kind);
            tracing::warn!(job_id, source = upstream, kind = e.kind.as_str(), error = %e.message, hint, "fetching job metrics failed");
            MetricsOutcome::Failed(e.kind)
        }
    }
}
