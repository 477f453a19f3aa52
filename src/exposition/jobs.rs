//! The job families, read from the REST API's job list: state (a StateSet), whether
//! the user wants the job running, run id, start time, tasks, and failure info.

use super::view::JobView;
use super::{GaugeOf, MetricType, Writer};
use crate::model::{Job, Snapshot, JOB_STATES};

/// Writes the job families of `api_views` (the jobs the API described, by id) when
/// the snapshot asks for them.
pub(super) fn render(w: &mut Writer<'_>, snapshot: &Snapshot, api_views: &[&JobView<'_>]) {
    if !snapshot.job_families {
        return;
    }
    w.family(
        "arroyo_job_state",
        "Arroyo job state: 1 for the current state, 0 for the others.",
        MetricType::StateSet,
        None,
    );
    for v in api_views {
        let current = v.job.job.state.as_str();
        let known = JOB_STATES.contains(&current);
        let states = JOB_STATES
            .iter()
            .map(|s| (*s, *s == current))
            .chain((!known).then_some((current, true)));
        w.state_set(&v.labels(), states);
    }

    let gauges: [GaugeOf<Job>; 4] = [
        (
            "arroyo_job_running_desired",
            "1 when the user wants the Arroyo job running, else 0.",
            None,
            |j| Some(if j.running_desired { 1.0 } else { 0.0 }),
        ),
        (
            "arroyo_job_run_id",
            "Arroyo's run id of the job; it grows by one at each restart, so changes() counts restarts.",
            None,
            |j| Some(j.run_id as f64),
        ),
        (
            "arroyo_job_start_time_seconds",
            "When the job's current run started, in seconds since the Unix epoch.",
            Some("seconds"),
            |j| j.start_time_micros.map(|t| t as f64 / 1e6),
        ),
        (
            "arroyo_job_tasks",
            "Number of tasks of the job.",
            None,
            |j| j.tasks.map(|t| t as f64),
        ),
    ];
    for (name, help, unit, get) in gauges {
        w.family(name, help, MetricType::Gauge, unit);
        for v in api_views {
            if let Some(x) = get(&v.job.job) {
                w.sample(&v.labels(), x);
            }
        }
    }

    w.family(
        "arroyo_job_failure",
        "Present (value 1) only while the job is Failed or Failing; domain is Arroyo's failure domain (the message is logged, not labelled).",
        MetricType::Info,
        None,
    );
    for v in api_views {
        let j = &v.job.job;
        if matches!(j.state.as_str(), "Failed" | "Failing") {
            let [a, b, c] = v.labels();
            let domain = j.failure_domain.as_deref().unwrap_or("unknown");
            w.info(&[a, b, c, ("domain", domain)]);
        }
    }
}
