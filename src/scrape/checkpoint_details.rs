//! The `checkpoint_details` collector: for each running job's newest completed
//! checkpoint, reads `operator_checkpoint_groups` once per new epoch (bytes and phase
//! spans per chained operator) and keeps the answer until a newer epoch completes.
//!
//! Its calls are budgeted by `collectors.checkpoint-detail-calls-per-second`, jobs with
//! no details at all first.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use futures::stream::{self, StreamExt};
use parking_lot::Mutex;
use tokio::time::Instant;

use super::budget::CallBudget;
use super::checkpoints::CheckpointJob;
use super::{now_micros, Scraper, Singleflight};
use crate::arroyo::error::UpstreamError;
use crate::arroyo::hint;
use crate::model::{CheckpointDetails, CheckpointSummary};

/// The details of one checkpoint, as the API answered, with when (seconds since the
/// epoch).
type DetailsAnswer = Result<(f64, Arc<CheckpointDetails>), UpstreamError>;

/// What one run of the collector found.
#[derive(Default)]
pub(super) struct DetailsOut {
    /// Every running job's newest details known.
    pub details: BTreeMap<String, Arc<CheckpointDetails>>,
    /// When each was read, seconds since the epoch.
    pub reads: BTreeMap<String, f64>,
    /// Whether every call succeeded.
    pub ok: bool,
}

/// What the collector keeps across scrapes.
pub(super) struct DetailsState {
    /// Calls allowed (`collectors.checkpoint-detail-calls-per-second`).
    pub budget: Mutex<CallBudget>,
    /// Newest details read per job id, with when they were read (seconds since the
    /// epoch).
    cache: Mutex<HashMap<String, (f64, Arc<CheckpointDetails>)>>,
    /// One call per (job, epoch) for concurrent scrapes.
    flights: Singleflight<(String, u64), DetailsAnswer>,
}

impl DetailsState {
    /// An empty state with a full budget of `per_second` calls.
    pub(super) fn new(per_second: f64) -> DetailsState {
        DetailsState {
            budget: Mutex::new(CallBudget::new(per_second, None)),
            cache: Mutex::new(HashMap::new()),
            flights: Singleflight::default(),
        }
    }
}

impl Scraper {
    /// Reads the details of the newest completed checkpoint of running jobs
    /// (with their checkpoint `summaries`) whose details are not
    /// known yet, as many as the budget allows now; returns every running job's newest
    /// details, when they were read, and whether every call succeeded.
    pub(super) async fn collect_checkpoint_details(
        &self,
        jobs: &[CheckpointJob],
        summaries: &BTreeMap<String, CheckpointSummary>,
        deadline: Instant,
    ) -> DetailsOut {
        let Some(rest) = self.rest.clone() else {
            return DetailsOut::default();
        };
        let to_fetch: Vec<(String, String, u64)> = {
            let mut cache = self.details.cache.lock();
            let running: HashSet<&String> = jobs.iter().map(|j| &j.job_id).collect();
            cache.retain(|j, _| running.contains(j));
            let mut wanted: Vec<(bool, f64, String, String, u64)> = jobs
                .iter()
                .filter_map(|j| {
                    let epoch = summaries.get(&j.job_id)?.last_epoch?;
                    let known = cache.get(&j.job_id);
                    if known.is_some_and(|d| d.1.epoch == epoch) {
                        return None;
                    }
                    Some((
                        known.is_some(),
                        known.map_or(0.0, |d| d.0),
                        j.job_id.clone(),
                        j.pipeline_id.clone(),
                        epoch,
                    ))
                })
                .collect();
            // Jobs with no details at all first, then the oldest read.
            wanted.sort_by(|a, b| {
                a.0.cmp(&b.0)
                    .then(a.1.total_cmp(&b.1))
                    .then_with(|| a.2.cmp(&b.2))
            });
            let calls = self
                .details
                .budget
                .lock()
                .take(Instant::now(), wanted.len());
            wanted
                .into_iter()
                .take(calls)
                .map(|(_, _, j, p, e)| (j, p, e))
                .collect()
        };
        let concurrency = self.cfg.scrape.concurrency;
        let results: Vec<(String, DetailsAnswer)> = stream::iter(to_fetch)
            .map(|(job_id, pid, epoch)| {
                let rest = Arc::clone(&rest);
                let metrics = Arc::clone(&self.metrics);
                let task_job = job_id.clone();
                let work = async move {
                    let out = rest.checkpoint_groups(&pid, &task_job, epoch).await;
                    metrics.record_call("api", out.as_ref().err().map(|e| e.kind));
                    if let Err(e) = &out {
                        tracing::warn!(job_id = %task_job, epoch, kind = e.kind.as_str(), error = %e.message, hint = hint::api(e.kind), "reading checkpoint details failed");
                    }
                    out.map(|d| (now_micros() as f64 / 1e6, Arc::new(d)))
                };
                let flight = self
                    .details
                    .flights
                    .run_until((job_id.clone(), epoch), deadline, work);
                async move {
                    let out = flight
                        .await
                        .unwrap_or_else(|e| Err(e.into_error("reading checkpoint details")));
                    (job_id, out)
                }
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        let mut ok = true;
        let mut cache = self.details.cache.lock();
        for (job_id, r) in results {
            match r {
                Ok((read, details)) => {
                    // A slow answer for an older epoch never replaces a newer one.
                    if cache
                        .get(&job_id)
                        .is_none_or(|d| d.1.epoch <= details.epoch)
                    {
                        cache.insert(job_id, (read, details));
                    }
                }
                Err(_) => ok = false,
            }
        }
        let mut out = DetailsOut {
            ok,
            ..DetailsOut::default()
        };
        for j in jobs {
            if let Some((read, d)) = cache.get(&j.job_id) {
                out.details.insert(j.job_id.clone(), Arc::clone(d));
                out.reads.insert(j.job_id.clone(), *read);
            }
        }
        out
    }
}
