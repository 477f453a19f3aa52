//! Rendering of a [`Snapshot`] as OpenMetrics 1.0.0 text or Prometheus text 0.0.4, and
//! the choice between the two from a request's `Accept` header.
//!
//! Everything here is pure: no I/O, no clock. The caller hands in the snapshot and a
//! buffer and gets the body back in that buffer.
//!
//! The files of this module:
//! - `writer.rs`: the generic writer ([`Writer`], [`Format`], [`negotiate`], escaping,
//!   number syntax, name checks); it knows nothing of Arroyo;
//! - `view.rs`: the snapshot's jobs prepared for writing, shared by the families;
//! - one file per source of Arroyo families, in the order [`render`] writes them:
//!   `job_metrics.rs` (the controller's `JobMetrics` documents), `jobs.rs` (the job
//!   list), `checkpoints.rs` (checkpoint summaries), `checkpoint_details.rs`
//!   (checkpoint size and phases), `job_errors.rs` (error-log counters), `topology.rs`
//!   (pipelines and their graphs), `bottleneck.rs` (the bottleneck operator, from graph
//!   and backpressure), `admin.rs` (Arroyo's build).
//!
//! The exporter's own and process families live next to their counters, in
//! [`crate::selfmetrics::render`], which [`render`] calls last.

mod admin;
mod bottleneck;
mod checkpoint_details;
mod checkpoints;
mod freshness;
mod job_errors;
mod job_metrics;
mod jobs;
mod topology;
mod view;
mod writer;

#[cfg(test)]
pub(crate) mod test_support;
#[cfg(test)]
mod tests;

pub use topology::tag_label;
pub use view::{operator_name, OPERATOR_NAME_MAX_CHARS};
pub use writer::{is_label_name, negotiate, Format, MetricType, Value, Writer};

use crate::model::{Scope, Snapshot};
use view::JobView;

/// A gauge family read from `T`: name, help, unit, and the value (if any).
type GaugeOf<T> = (
    &'static str,
    &'static str,
    Option<&'static str>,
    fn(&T) -> Option<f64>,
);

/// Renders one scrape's snapshot in `format`, appending to `out`.
///
/// Output is deterministic: jobs by id, nodes by id (numerically when numeric),
/// subtasks by index; label sets by name. Repeated entries (same job id, series,
/// collector, ...) are written once. No sample carries a timestamp.
///
/// [`Snapshot::scope`] picks the families: everything (`/metrics`), one cluster without
/// the exporter-wide families (`/probe`), or the exporter's own families only.
pub fn render(snapshot: &Snapshot, format: Format, out: &mut Vec<u8>) {
    if snapshot.scope == Scope::OwnOnly {
        let mut w = Writer::new(out, format);
        crate::selfmetrics::render_exporter(&mut w, &snapshot.exporter, false);
        w.finish();
        return;
    }
    let views = view::job_views(snapshot);

    let series: usize = views
        .iter()
        .map(|v| {
            v.operators.len()
                + if snapshot.subtask_series {
                    v.samples.len()
                } else {
                    0
                }
        })
        .sum();
    out.reserve(8 * 1024 + series * 256);

    let mut w = Writer::new(out, format);

    w.family(
        "arroyo_up",
        "1 when the Arroyo metrics source (controller RPC or REST bridge) answered this scrape, else 0.",
        MetricType::Gauge,
        None,
    );
    w.sample(&[], snapshot.up);

    job_metrics::render(&mut w, snapshot, &views);

    // Jobs the API described (they have a state); statically configured ones are not.
    let api_views: Vec<&JobView<'_>> = views
        .iter()
        .filter(|v| !v.job.job.state.is_empty())
        .collect();
    jobs::render(&mut w, snapshot, &api_views);
    checkpoints::render(&mut w, snapshot, &views);
    checkpoint_details::render(&mut w, snapshot, &views);
    job_errors::render(&mut w, snapshot, &views);
    topology::render(&mut w, snapshot, &views, &api_views);
    bottleneck::render(&mut w, snapshot, &views);
    admin::render(&mut w, snapshot);
    freshness::render(&mut w, snapshot, &views);

    if snapshot.scope == Scope::Probe {
        crate::selfmetrics::render_collectors(&mut w, &snapshot.collectors);
    } else {
        crate::selfmetrics::render(&mut w, &snapshot.collectors, &snapshot.exporter);
    }

    w.finish();
}
