//! The `job_errors` collector: reads each job's error log (`.../jobs/{id}/errors`, newest
//! first) incrementally and counts its rows by error domain and operator.
//!
//! Rules (README, "Job errors"):
//! - On first sight of a job (in this process) the newest page is read and its rows are
//!   counted once; older history is not paged through.
//! - After that, pages are read newest first until a row already seen (or an older one)
//!   comes up; every newer row is counted once. A row is identified by its creation time
//!   and id, so a restarted exporter counts again from a first sight (a counter reset,
//!   which Prometheus handles), but no row is counted twice within one process:
//!   concurrent scrapes share one poll per job, which applies its rows itself.
//! - Every page is one call of the budget `collectors.job-error-calls-per-second` (and
//!   `job-error-calls-per-scrape`, when set); jobs polled longest ago go first. When the budget ends inside a burst, the rows not
//!   read are skipped (the counter undercounts, as Arroyo's rate-limited rows do anyway).
//! - A failing call leaves the job's counts and position as they were and marks the
//!   collector failed; other jobs go on.
//! - The message is logged at debug level, cut to [`MESSAGE_LOG_CHARS`] characters; it is
//!   never a label.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use futures::stream::{self, StreamExt};
use parking_lot::Mutex;
use tokio::time::Instant;

use super::budget::CallBudget;
use super::{Scraper, Singleflight};
use crate::arroyo::error::UpstreamError;
use crate::arroyo::hint;
use crate::arroyo::rest::RestClient;
use crate::model::{JobErrorCounts, JobErrorRow};

/// Characters of an error message written to the debug log.
pub const MESSAGE_LOG_CHARS: usize = 200;

/// Upper bound on pages read for one job in one poll, whatever the budget.
const MAX_PAGES_PER_POLL: usize = 50;

/// The `error_domain` label of rows without one (releases before Arroyo main).
pub const UNKNOWN_DOMAIN: &str = "unknown";

/// Where a job's log was read up to.
#[derive(Debug, Clone, Default, PartialEq)]
struct Cursor {
    /// Creation time of the newest row seen (µs).
    newest_micros: u64,
    /// Ids of the rows seen with exactly that creation time.
    ids_at_newest: BTreeSet<String>,
}

impl Cursor {
    /// Whether `row` is newer than everything seen.
    fn is_new(&self, row: &JobErrorRow) -> bool {
        match row.created_at_micros.cmp(&self.newest_micros) {
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Less => false,
            std::cmp::Ordering::Equal => row
                .id
                .as_ref()
                .is_some_and(|id| !self.ids_at_newest.contains(id)),
        }
    }

    /// Moves past `rows`.
    fn advance(&mut self, rows: &[JobErrorRow]) {
        for row in rows {
            if row.created_at_micros > self.newest_micros {
                self.newest_micros = row.created_at_micros;
                self.ids_at_newest.clear();
            }
            if row.created_at_micros == self.newest_micros {
                if let Some(id) = &row.id {
                    self.ids_at_newest.insert(id.clone());
                }
            }
        }
    }
}

/// What is known of one job's log.
#[derive(Debug, Clone, Default)]
struct JobLog {
    cursor: Cursor,
    counts: JobErrorCounts,
    polled: Option<Instant>,
    /// When the log was last read, seconds since the epoch.
    read_seconds: Option<f64>,
}

/// What the collector keeps across scrapes.
pub(super) struct ErrorsState {
    /// Pages allowed (`collectors.job-error-calls-per-second`).
    budget: Mutex<CallBudget>,
    logs: Arc<Mutex<HashMap<String, JobLog>>>,
    /// One poll per job for concurrent scrapes; the poll applies its own rows.
    flights: Singleflight<String, Result<(), UpstreamError>>,
}

impl ErrorsState {
    /// An empty state with a full budget.
    pub(super) fn new(per_second: f64, per_scrape: Option<usize>) -> ErrorsState {
        ErrorsState {
            budget: Mutex::new(CallBudget::new(per_second, per_scrape)),
            logs: Arc::default(),
            flights: Singleflight::default(),
        }
    }
}

impl ErrorsState {
    /// The budget's calls per second.
    pub(super) fn per_second(&self) -> f64 {
        self.budget.lock().per_second()
    }
}

/// What one run of the collector found.
pub(super) struct ErrorsOut {
    /// The counts of every known job.
    pub counts: BTreeMap<String, JobErrorCounts>,
    /// When each known job's log was last read, seconds since the epoch.
    pub reads: BTreeMap<String, f64>,
    /// Whether every call succeeded.
    pub ok: bool,
}

/// Whether the errors of a job in `state` are read: while it runs, and while it fails
/// or has failed although the user wants it running (its `task failed` / `job failed`
/// rows are the interesting ones then).
pub(super) fn polls_errors(state: &str, running_desired: bool) -> bool {
    crate::model::state_runs(state)
        || (running_desired && matches!(state, "Failing" | "Failed" | "Scheduling"))
}

/// Reads the new rows of one job's log, at most what `budget` allows, and applies them.
async fn poll_job(
    rest: Arc<RestClient>,
    logs: Arc<Mutex<HashMap<String, JobLog>>>,
    metrics: Arc<crate::selfmetrics::SelfMetrics>,
    budget: Arc<AtomicUsize>,
    job_id: String,
    pipeline_id: String,
) -> Result<(), UpstreamError> {
    let cursor = logs.lock().get(&job_id).map(|l| l.cursor.clone());
    let first_sight = cursor.is_none();
    let cursor = cursor.unwrap_or_default();
    let mut fresh: Vec<JobErrorRow> = Vec::new();
    let mut after: Option<String> = None;
    let mut complete = false;
    let mut pages = 0;
    for _ in 0..MAX_PAGES_PER_POLL {
        let took = budget.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |b| b.checked_sub(1));
        if took.is_err() {
            break;
        }
        pages += 1;
        let page = rest
            .job_errors_page(&pipeline_id, &job_id, after.as_deref())
            .await;
        metrics.record_call("api", page.as_ref().err().map(|e| e.kind));
        let page = match page {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(job_id = %job_id, kind = e.kind.as_str(), error = %e.message, hint = hint::api(e.kind), "reading job errors failed");
                return Err(e);
            }
        };
        let mut reached = false;
        for row in page.rows {
            if !first_sight && !cursor.is_new(&row) {
                reached = true;
                break;
            }
            fresh.push(row);
        }
        let last_id = fresh.last().and_then(|r| r.id.clone());
        if first_sight || reached || !page.has_more {
            complete = true;
            break;
        }
        match last_id {
            Some(id) if after.as_deref() != Some(id.as_str()) => after = Some(id),
            // No id to page on (older releases), or the same page again: stop here.
            _ => {
                complete = true;
                break;
            }
        }
    }
    if pages == 0 {
        // No call left for this job this scrape: nothing read, nothing changes.
        return Ok(());
    }
    if !complete && !fresh.is_empty() {
        tracing::debug!(job_id = %job_id, read = fresh.len(), "job errors: call budget ended inside a burst; older new rows are not counted");
    }
    for row in &fresh {
        let message: String = row.message.chars().take(MESSAGE_LOG_CHARS).collect();
        tracing::debug!(
            job_id = %job_id,
            operator_id = row.operator_id.as_deref().unwrap_or(""),
            task_index = row.task_index,
            level = %row.level,
            error_domain = row.error_domain.as_deref().unwrap_or(UNKNOWN_DOMAIN),
            message = %message,
            "Arroyo job error"
        );
    }
    let mut logs = logs.lock();
    let log = logs.entry(job_id).or_default();
    log.polled = Some(Instant::now());
    log.read_seconds = Some(super::now_micros() as f64 / 1e6);
    for row in &fresh {
        let key = (
            row.error_domain
                .clone()
                .unwrap_or_else(|| UNKNOWN_DOMAIN.to_string()),
            row.operator_id.clone().unwrap_or_default(),
        );
        *log.counts.counts.entry(key).or_insert(0) += 1;
    }
    log.cursor.advance(&fresh);
    if log.cursor.newest_micros > 0 {
        log.counts.last_error_seconds = Some(log.cursor.newest_micros as f64 / 1e6);
    }
    Ok(())
}

impl Scraper {
    /// Polls the error logs of `poll` (`(job id, pipeline id)`), longest unpolled first,
    /// within the call budget; forgets jobs not in `known` when `prune` (the job list
    /// was read).
    pub(super) async fn collect_job_errors(
        &self,
        poll: Vec<(String, String)>,
        known: &HashSet<String>,
        prune: bool,
        deadline: Instant,
    ) -> ErrorsOut {
        let Some(rest) = self.rest.clone() else {
            return ErrorsOut {
                counts: BTreeMap::new(),
                reads: BTreeMap::new(),
                ok: true,
            };
        };
        let logs = Arc::clone(&self.errors.logs);
        let mut order: Vec<(Option<Instant>, String, String)> = {
            let mut l = logs.lock();
            if prune {
                l.retain(|j, _| known.contains(j));
            }
            poll.into_iter()
                .map(|(j, p)| (l.get(&j).and_then(|x| x.polled), j, p))
                .collect()
        };
        order.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        let granted = self.errors.budget.lock().take(
            Instant::now(),
            order.len().saturating_mul(MAX_PAGES_PER_POLL),
        );
        let budget = Arc::new(AtomicUsize::new(granted));
        let concurrency = self.cfg.scrape.concurrency;
        let results: Vec<Result<(), UpstreamError>> = stream::iter(order)
            .filter(|_| {
                let left = budget.load(Ordering::SeqCst) > 0;
                async move { left }
            })
            .map(|(_, job_id, pid)| {
                let work = poll_job(
                    Arc::clone(&rest),
                    Arc::clone(&logs),
                    Arc::clone(&self.metrics),
                    Arc::clone(&budget),
                    job_id.clone(),
                    pid,
                );
                let flight = self.errors.flights.run_until(job_id, deadline, work);
                async move {
                    flight
                        .await
                        .unwrap_or_else(|e| Err(e.into_error("reading job errors")))
                }
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        self.errors
            .budget
            .lock()
            .refund(budget.load(Ordering::SeqCst));
        let ok = results.iter().all(Result::is_ok);
        let l = logs.lock();
        let mut out = ErrorsOut {
            counts: BTreeMap::new(),
            reads: BTreeMap::new(),
            ok,
        };
        for (j, log) in l.iter().filter(|(j, _)| known.contains(*j)) {
            out.counts.insert(j.clone(), log.counts.clone());
            if let Some(t) = log.read_seconds {
                out.reads.insert(j.clone(), t);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, at: u64) -> JobErrorRow {
        JobErrorRow {
            id: Some(id.into()),
            created_at_micros: at,
            ..Default::default()
        }
    }

    #[test]
    fn the_cursor_tells_new_rows_by_time_and_id() {
        let mut c = Cursor::default();
        c.advance(&[row("b", 20), row("a", 10), row("c", 20)]);
        assert_eq!(c.newest_micros, 20);
        assert!(!c.is_new(&row("b", 20)));
        assert!(!c.is_new(&row("c", 20)));
        assert!(c.is_new(&row("d", 20)));
        assert!(c.is_new(&row("e", 21)));
        assert!(!c.is_new(&row("f", 19)));
        assert!(!c.is_new(&JobErrorRow {
            id: None,
            created_at_micros: 20,
            ..Default::default()
        }));
        c.advance(&[row("e", 21)]);
        assert_eq!(c.ids_at_newest, BTreeSet::from(["e".to_string()]));
    }

    #[test]
    fn which_jobs_are_polled() {
        assert!(polls_errors("Running", true));
        assert!(polls_errors("Restarting", false));
        assert!(polls_errors("Failed", true));
        assert!(!polls_errors("Failed", false));
        assert!(!polls_errors("Stopped", false));
        assert!(!polls_errors("Finished", true));
    }
}
