//! The checkpoint families, read from the REST API's checkpoint list: the newest
//! completed checkpoint's epoch, end time and duration, and the age of the one in
//! progress.

use super::view::JobView;
use super::{GaugeOf, MetricType, Writer};
use crate::model::{CheckpointSummary, Snapshot};

/// Writes the checkpoint families of `views` (jobs by id) that have a checkpoint
/// summary in the snapshot.
pub(super) fn render(w: &mut Writer<'_>, snapshot: &Snapshot, views: &[JobView<'_>]) {
    let checkpoint_families: [GaugeOf<CheckpointSummary>; 4] = [
        (
            "arroyo_job_last_checkpoint_epoch",
            "Epoch of the job's newest completed checkpoint.",
            None,
            |c| c.last_epoch.map(|e| e as f64),
        ),
        (
            "arroyo_job_last_checkpoint_completed_timestamp_seconds",
            "When the job's newest completed checkpoint finished, in seconds since the Unix epoch.",
            Some("seconds"),
            |c| c.last_completed_seconds,
        ),
        (
            "arroyo_job_last_checkpoint_duration_seconds",
            "How long the job's newest completed checkpoint took, in seconds.",
            Some("seconds"),
            |c| c.last_duration_seconds,
        ),
        (
            "arroyo_job_checkpoint_in_progress_seconds",
            "Age of the job's checkpoint in progress, in seconds; 0 when none is running.",
            Some("seconds"),
            |c| Some(c.in_progress_seconds),
        ),
    ];
    for (name, help, unit, get) in checkpoint_families {
        w.family(name, help, MetricType::Gauge, unit);
        for v in views {
            if let Some(x) = snapshot.checkpoints.get(&v.job.job.id).and_then(get) {
                w.sample(&v.labels(), x);
            }
        }
    }
}
