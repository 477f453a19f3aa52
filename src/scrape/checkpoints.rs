//! The `checkpoints` collector: reads the checkpoint lists of running jobs within the
//! call budget `collectors.checkpoint-calls-per-second` (most urgent first: never read,
//! looking late, a checkpoint due since the last read; then the oldest read) and
//! summarises each job's last answer as of when it was read.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use futures::stream::{self, StreamExt};
use tokio::time::Instant;

use super::budget::{self, LastRead};
use super::{now_micros, CheckpointAnswer, Scraper};
use crate::arroyo::hint;
use crate::model::{Checkpoint, CheckpointSummary};

/// The checkpoint interval assumed for a job whose pipeline does not say (Arroyo's
/// default, 10 s).
const DEFAULT_INTERVAL_MICROS: u64 = 10_000_000;

/// A running job the collector covers.
#[derive(Debug, Clone)]
pub(super) struct CheckpointJob {
    /// The job id.
    pub job_id: String,
    /// Its pipeline id.
    pub pipeline_id: String,
    /// Its pipeline's checkpoint interval, µs, when known.
    pub interval_micros: Option<u64>,
}

/// A job's last checkpoint list and what its read showed.
#[derive(Debug, Clone)]
pub(super) struct CachedCheckpoints {
    /// When it was read and the newest completion it showed.
    pub read: LastRead,
    /// The list.
    pub list: Arc<Vec<Checkpoint>>,
}

/// What one run of the collector found.
pub(super) struct CheckpointsOut {
    /// Summaries of every covered job read so far, as of their reads.
    pub summaries: BTreeMap<String, CheckpointSummary>,
    /// When each of them was read, seconds since the epoch.
    pub reads: BTreeMap<String, f64>,
    /// Whether every call succeeded.
    pub ok: bool,
}

impl Scraper {
    /// Reads the checkpoint lists of the running `jobs` that the budget allows now, most
    /// urgent first; the other jobs keep their last answer.
    pub(super) async fn collect_checkpoints(
        &self,
        jobs: &[CheckpointJob],
        deadline: Instant,
    ) -> CheckpointsOut {
        let Some(rest) = self.rest.clone() else {
            return CheckpointsOut {
                summaries: BTreeMap::new(),
                reads: BTreeMap::new(),
                ok: true,
            };
        };
        let now = Instant::now();
        let wall = now_micros();
        let to_fetch: Vec<(String, String)> = {
            let mut cache = self.checkpoint_cache.lock();
            let present: HashSet<&String> = jobs.iter().map(|j| &j.job_id).collect();
            cache.retain(|k, _| present.contains(k));
            let calls = self.budgets.checkpoints.lock().take(now, jobs.len());
            let ranked = jobs
                .iter()
                .enumerate()
                .map(|(i, j)| {
                    let last = cache.get(&j.job_id).map(|c| c.read);
                    let interval = j.interval_micros.unwrap_or(DEFAULT_INTERVAL_MICROS);
                    (
                        i,
                        budget::urgency(last.as_ref(), interval, wall),
                        last.map(|l| l.at),
                    )
                })
                .collect();
            budget::plan(ranked, calls)
                .into_iter()
                .map(|i| (jobs[i].job_id.clone(), jobs[i].pipeline_id.clone()))
                .collect()
        };
        let concurrency = self.cfg.scrape.concurrency;
        let results: Vec<(String, CheckpointAnswer)> = stream::iter(to_fetch)
            .map(|(job_id, pid)| {
                let rest = Arc::clone(&rest);
                let metrics = Arc::clone(&self.metrics);
                let task_job = job_id.clone();
                let work = async move {
                    let out = rest.checkpoints(&pid, &task_job).await;
                    metrics.record_call("api", out.as_ref().err().map(|e| e.kind));
                    if let Err(e) = &out {
                        tracing::warn!(job_id = %task_job, kind = e.kind.as_str(), error = %e.message, hint = hint::api(e.kind), "reading checkpoints failed");
                    }
                    out.map(|list| (now_micros(), Arc::new(list)))
                };
                let flight = self
                    .checkpoint_flights
                    .run_until(job_id.clone(), deadline, work);
                async move {
                    let out = flight
                        .await
                        .unwrap_or_else(|e| Err(e.into_error("reading checkpoints")));
                    (job_id, out)
                }
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        let mut ok = true;
        let done = Instant::now();
        let mut cache = self.checkpoint_cache.lock();
        for (job_id, r) in results {
            match r {
                Ok((read_micros, list)) => {
                    let summary = CheckpointSummary::from_checkpoints(&list, read_micros);
                    let read = LastRead {
                        at: done,
                        wall_micros: read_micros,
                        completed_micros: summary.last_completed_seconds.map(|s| (s * 1e6) as u64),
                    };
                    // A slower answer of a concurrent scrape never replaces a newer one.
                    if cache
                        .get(&job_id)
                        .is_none_or(|c| c.read.wall_micros <= read_micros)
                    {
                        cache.insert(job_id, CachedCheckpoints { read, list });
                    }
                }
                Err(_) => ok = false,
            }
        }
        let mut summaries = BTreeMap::new();
        let mut reads = BTreeMap::new();
        for j in jobs {
            if let Some(c) = cache.get(&j.job_id) {
                summaries.insert(
                    j.job_id.clone(),
                    CheckpointSummary::from_checkpoints(&c.list, c.read.wall_micros),
                );
                reads.insert(j.job_id.clone(), c.read.wall_micros as f64 / 1e6);
            }
        }
        CheckpointsOut {
            summaries,
            reads,
            ok,
        }
    }
}
