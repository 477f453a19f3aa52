//! The `checkpoint_details` collector: for each running job's newest completed
//! checkpoint, reads `operator_checkpoint_groups` once per new epoch (bytes and phase
//! spans per chained operator) and keeps the answer until a newer epoch completes.
//!
//! Its calls share the budget `collectors.checkpoint-calls-per-scrape` with the
//! checkpoint lists: the lists go first, but leave up to half the budget (rounded up) to
//! the epochs already known to lack details, so neither starves the other when there are
//! more jobs than calls.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use futures::stream::{self, StreamExt};
use parking_lot::Mutex;
use tokio::time::Instant;

use super::{Scraper, Singleflight};
use crate::arroyo::error::UpstreamError;
use crate::arroyo::hint;
use crate::model::{CheckpointDetails, CheckpointSummary};

/// The details of one checkpoint, as the API answered.
type DetailsAnswer = Result<Arc<CheckpointDetails>, UpstreamError>;

/// What the collector keeps across scrapes.
#[derive(Default)]
pub(super) struct DetailsState {
    /// Newest details read per job id.
    cache: Mutex<HashMap<String, Arc<CheckpointDetails>>>,
    /// One call per (job, epoch) for concurrent scrapes.
    flights: Singleflight<(String, u64), DetailsAnswer>,
}

impl DetailsState {
    /// How many of `jobs` (job id → newest completed epoch) lack the details of that
    /// epoch.
    fn missing(&self, newest: &BTreeMap<String, u64>) -> usize {
        let cache = self.cache.lock();
        newest
            .iter()
            .filter(|(job, epoch)| cache.get(*job).is_none_or(|d| d.epoch != **epoch))
            .count()
    }
}

impl Scraper {
    /// How many of this scrape's checkpoint calls to keep for details: the number of
    /// running jobs (`(job id, pipeline id)`) whose newest completed epoch, as last read,
    /// has no details yet, at most half the budget (rounded up, so a budget of one
    /// alternates between a list and a details call). 0 when the collector is off.
    pub(super) fn checkpoint_details_reserve(&self, jobs: &[(String, String)]) -> usize {
        if !self.cfg.collectors.checkpoint_details {
            return 0;
        }
        let newest: BTreeMap<String, u64> = {
            let lists = self.checkpoint_cache.lock();
            jobs.iter()
                .filter_map(|(j, _)| {
                    let (_, list) = lists.get(j)?;
                    let epoch = list
                        .iter()
                        .filter(|c| c.finish_time_micros.is_some())
                        .map(|c| c.epoch)
                        .max()?;
                    Some((j.clone(), epoch))
                })
                .collect()
        };
        self.details
            .missing(&newest)
            .min(self.cfg.collectors.checkpoint_calls_per_scrape.div_ceil(2))
    }

    /// Reads the details of the newest completed checkpoint of running jobs
    /// (`(job id, pipeline id)`, with their checkpoint `summaries`) whose details are not
    /// known yet, at most `budget` calls; returns every running job's newest details and
    /// whether every call succeeded.
    pub(super) async fn collect_checkpoint_details(
        &self,
        jobs: &[(String, String)],
        summaries: &BTreeMap<String, CheckpointSummary>,
        budget: usize,
        deadline: Instant,
    ) -> (BTreeMap<String, Arc<CheckpointDetails>>, bool) {
        let Some(rest) = self.rest.clone() else {
            return (BTreeMap::new(), true);
        };
        let to_fetch: Vec<(String, String, u64)> = {
            let mut cache = self.details.cache.lock();
            let running: HashSet<&String> = jobs.iter().map(|(j, _)| j).collect();
            cache.retain(|j, _| running.contains(j));
            let mut wanted: Vec<(bool, String, String, u64)> = jobs
                .iter()
                .filter_map(|(j, p)| {
                    let epoch = summaries.get(j)?.last_epoch?;
                    let known = cache.get(j);
                    if known.is_some_and(|d| d.epoch == epoch) {
                        return None;
                    }
                    Some((known.is_some(), j.clone(), p.clone(), epoch))
                })
                .collect();
            // Jobs with no details at all first, then by id.
            wanted.sort();
            wanted
                .into_iter()
                .take(budget)
                .map(|(_, j, p, e)| (j, p, e))
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
                    out.map(Arc::new)
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
                Ok(details) => {
                    // A slow answer for an older epoch never replaces a newer one.
                    if cache.get(&job_id).is_none_or(|d| d.epoch <= details.epoch) {
                        cache.insert(job_id, details);
                    }
                }
                Err(_) => ok = false,
            }
        }
        let out = jobs
            .iter()
            .filter_map(|(j, _)| cache.get(j).map(|d| (j.clone(), Arc::clone(d))))
            .collect();
        (out, ok)
    }
}
