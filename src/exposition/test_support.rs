//! Builders of snapshots for the exposition tests (here and in
//! [`crate::selfmetrics`]), and helpers to render one and read its lines back.

use std::sync::Arc;

use super::{render, Format};
use crate::arroyo::error::ErrorKind;
use crate::model::{
    CollectorStatus, ErrorCount, ExporterStats, Job, JobMetrics, JobSnapshot, MetricKind,
    MetricsOutcome, Operator, Pipeline, Point, Snapshot, SubtaskSample,
};

/// A subtask sample of `kind` with one point.
pub(crate) fn sample(
    node: &str,
    subtask: u32,
    kind: MetricKind,
    time: u64,
    value: f64,
) -> SubtaskSample {
    SubtaskSample {
        node_id: node.to_string(),
        subtask_idx: subtask,
        kind,
        point: Point {
            time_micros: time,
            value,
        },
    }
}

/// A pipeline whose graph has `nodes` as (node id, description), parallelism 2.
pub(crate) fn pipeline(id: &str, name: &str, nodes: &[(&str, &str)]) -> Arc<Pipeline> {
    Arc::new(Pipeline {
        id: id.to_string(),
        name: name.to_string(),
        operators: nodes
            .iter()
            .map(|(node, description)| {
                (
                    node.to_string(),
                    Operator {
                        node_id: node.to_string(),
                        operator: "chained_op".to_string(),
                        description: description.to_string(),
                        parallelism: 2,
                    },
                )
            })
            .collect(),
        ..Pipeline::default()
    })
}

/// A Running job with `pipeline` and `metrics`.
pub(crate) fn job(
    id: &str,
    pipeline: Option<Arc<Pipeline>>,
    metrics: MetricsOutcome,
) -> JobSnapshot {
    JobSnapshot {
        job: Job {
            id: id.to_string(),
            state: "Running".to_string(),
            ..Job::default()
        },
        pipeline,
        metrics,
    }
}

/// A fetched metrics document holding `samples`.
pub(crate) fn ok(samples: Vec<SubtaskSample>) -> MetricsOutcome {
    MetricsOutcome::Ok(JobMetrics {
        samples,
        ..JobMetrics::default()
    })
}

/// The snapshot of the golden tests: three jobs (one with metrics and a graph, one
/// failed, one skipped), two collectors and every exporter figure.
pub(crate) fn small_snapshot() -> Snapshot {
    use MetricKind::*;
    let t = 1_732_530_000_000_000;
    let mut failed = job("job_0", None, MetricsOutcome::Failed(ErrorKind::Timeout));
    failed.job.pipeline_id = Some("pl_9".to_string());
    Snapshot {
        up: true,
        jobs: vec![
            job(
                "job_a",
                Some(pipeline(
                    "pl_1",
                    "orders",
                    &[("0", "Nexmark<200 eps>"), ("4", "Blackhole")],
                )),
                ok(vec![
                    sample("4", 0, MessagesRecv, t, 10.5),
                    sample("0", 1, MessagesSent, t + 2_000_000, 3.0),
                    sample("0", 0, MessagesSent, t, 2.0),
                    sample("0", 0, Backpressure, t, 0.25),
                    sample("0", 1, Backpressure, t + 500_000, 0.5),
                ]),
            ),
            failed,
            job("job_c", None, MetricsOutcome::Skipped),
        ],
        collectors: vec![
            CollectorStatus {
                name: "job_metrics",
                success: true,
                duration_seconds: 0.25,
            },
            CollectorStatus {
                name: "discovery",
                success: false,
                duration_seconds: 0.125,
            },
        ],
        subtask_series: true,
        job_families: false,
        topology: false,
        pipeline_tags: Vec::new(),
        checkpoints: Default::default(),
        checkpoint_details: Default::default(),
        job_errors: Default::default(),
        arroyo_build: None,
        exporter: ExporterStats {
            version: "0.1.0".to_string(),
            revision: "abc123".to_string(),
            scrapes_total: 3,
            upstream_errors: vec![ErrorCount {
                source: "controller",
                kind: "timeout",
                count: 2,
            }],
            unknown_metric_groups_total: 1,
            null_values_total: 0,
            stale_series_dropped_total: 0,
            upstream_requests: vec![("controller", 5), ("api", 7)],
            start_time_seconds: 1_700_000_000.5,
            resident_memory_bytes: Some(1_048_576),
            cpu_seconds_total: Some(1.25),
            open_fds: Some(12),
            targets: Vec::new(),
            reload: None,
        },
        bottleneck_threshold: Default::default(),
        scope: Default::default(),
        freshness: Default::default(),
    }
}

/// `snapshot` rendered in `format`, as text.
pub(crate) fn render_str(snapshot: &Snapshot, format: Format) -> String {
    let mut out = Vec::new();
    render(snapshot, format, &mut out);
    String::from_utf8(out).expect("rendered text is UTF-8")
}

/// Sample lines (no comments) whose metric name is exactly `name`.
pub(crate) fn lines_of<'t>(text: &'t str, name: &str) -> Vec<&'t str> {
    text.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .collect()
}
