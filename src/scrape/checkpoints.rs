//! The `checkpoints` collector: reads the checkpoints of running jobs, at most the
//! configured number of calls per scrape, and summarises each job's last answer.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use futures::stream::{self, StreamExt};
use tokio::time::Instant;

use super::{now_micros, CheckpointAnswer, Scraper};
use crate::arroyo::hint;
use crate::model::CheckpointSummary;

impl Scraper {
    /// Reads checkpoints of running jobs (`(job id, pipeline id)`): at most `limit` calls,
    /// oldest answers first; the other jobs reuse their last answer.
    /// Returns the summaries, whether every call succeeded, and the calls made.
    pub(super) async fn collect_checkpoints(
        &self,
        jobs: Vec<(String, String)>,
        limit: usize,
        deadline: Instant,
    ) -> (BTreeMap<String, CheckpointSummary>, bool, usize) {
        let Some(rest) = self.rest.clone() else {
            return (BTreeMap::new(), true, 0);
        };
        let mut order: Vec<(Option<Instant>, String, String)> = {
            let mut cache = self.checkpoint_cache.lock();
            let present: HashSet<&String> = jobs.iter().map(|j| &j.0).collect();
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
        let calls = to_fetch.len();
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
                    out.map(Arc::new)
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
        (summaries, ok, calls)
    }
}
