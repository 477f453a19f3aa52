//! The `topology` collector's upstream reads: every pipeline (names and graphs) and,
//! for releases whose jobs lack `pipeline_id`, each pipeline's job list. The cache that
//! holds the answers is in [`super::discovery`].

use std::collections::HashMap;
use std::sync::Arc;

use futures::stream::{self, StreamExt};

use super::Scraper;
use crate::arroyo::error::UpstreamError;
use crate::arroyo::hint;
use crate::arroyo::rest::RestClient;
use crate::model::{Job, Pipeline};

/// What one refresh of the pipeline cache read.
pub(super) struct Refreshed {
    pub(super) by_id: HashMap<String, Arc<Pipeline>>,
    pub(super) job_pipeline: HashMap<String, String>,
    /// False when some pipeline's job list could not be read.
    pub(super) complete: bool,
}

impl Scraper {
    /// Reads every pipeline (paginated) and, when needed, every pipeline's jobs. A
    /// failed `/pipelines/{id}/jobs` call leaves that pipeline out of the job map and
    /// marks the refresh incomplete; the other pipelines' answers are kept.
    pub(super) async fn refresh(
        &self,
        rest: &Arc<RestClient>,
        need_job_map: bool,
    ) -> Result<Refreshed, UpstreamError> {
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
        let results: Vec<(String, Result<Vec<Job>, UpstreamError>)> = stream::iter(ids)
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
                    tracing::warn!(pipeline_id = %pid, kind = e.kind.as_str(), error = %e.message, hint = hint::api(e.kind), "listing a pipeline's jobs failed");
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
}
