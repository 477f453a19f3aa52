//! The `jobs` collector: the API's job list (shared by concurrent scrapes), the
//! pipeline-name and state filters, and the one-time log of each failed run.

use std::sync::Arc;

use tokio::time::Instant;

use super::{DiscoveredJob, Scraper};
use crate::arroyo::error::UpstreamError;
use crate::arroyo::hint;
use crate::arroyo::rest::RestClient;
use crate::model::Job;

impl Scraper {
    /// Every job (`GET /api/v1/jobs`), waiting until `deadline`.
    pub(super) async fn list_jobs(
        &self,
        rest: Arc<RestClient>,
        deadline: Instant,
    ) -> Result<Arc<Vec<Job>>, UpstreamError> {
        let metrics = Arc::clone(&self.metrics);
        let work = async move {
            let out = rest.jobs().await;
            metrics.record_call("api", out.as_ref().err().map(|e| e.kind));
            if let Err(e) = &out {
                tracing::warn!(kind = e.kind.as_str(), error = %e.message, hint = hint::api(e.kind), "listing jobs through the API failed");
            }
            out.map(Arc::new)
        };
        match self.list_flights.run_until("jobs", deadline, work).await {
            Ok(listed) => listed,
            Err(e) => Err(e.into_error("listing jobs")),
        }
    }

    /// Applies the pipeline-name and state filters.
    pub(super) fn filter(&self, jobs: Vec<DiscoveredJob>) -> Vec<DiscoveredJob> {
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
    pub(super) fn log_failures(&self, jobs: &[DiscoveredJob]) {
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
}
