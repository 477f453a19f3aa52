//! The baseline of the decode + render benchmark: the obvious implementation, written
//! the way most exporters would write it first. Bench and test code only.
//!
//! * Decode: `serde_json::from_slice` into owned structs that mirror the whole
//!   `JobMetrics` document (every point of every series in a `Vec`), then a pass that
//!   keeps the newest non-null point per (node, subtask, metric) series with the same
//!   rules as `arroyo_exporter::arroyo::wire::decode_job_metrics` (so the two can be
//!   compared result for result).
//! * Render: the tikv `prometheus` crate: one long-lived `Registry` with a `GaugeVec` per
//!   family, reset and refilled on every scrape (so series of vanished subtasks go away),
//!   then `gather()` and `TextEncoder` (Prometheus text 0.0.4; the crate has no
//!   OpenMetrics output).
//!
//! Note: `serde_json` is built with the `float_roundtrip` feature here, because the
//! exporter crate enables it (exact `f64` parsing); the baseline shares that build.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};

use arroyo_exporter::model::{
    JobMetrics, JobSnapshot, MetricKind, MetricsOutcome, Point, Snapshot, SubtaskSample,
};
use prometheus::{Encoder, Gauge, GaugeVec, Opts, Registry, TextEncoder};
use serde::Deserialize;

/// One operator of the document, every release's key spelling.
#[derive(Debug, Deserialize)]
pub struct Operator {
    /// `node_id` (v0.15+), `nodeId` (v0.13/v0.14) or `operatorId` (v0.11/v0.12).
    #[serde(alias = "nodeId", alias = "operatorId")]
    pub node_id: serde_json::Value,
    /// The operator's metric groups.
    #[serde(alias = "metricGroups")]
    pub metric_groups: Vec<MetricGroup>,
}

/// One metric group: a name and a series per subtask.
#[derive(Debug, Deserialize)]
pub struct MetricGroup {
    /// `messages_recv`, `backpressure`, ...
    pub name: String,
    /// One entry per subtask.
    pub subtasks: Vec<SubtaskSeries>,
}

/// One subtask's series.
#[derive(Debug, Deserialize)]
pub struct SubtaskSeries {
    /// Subtask index.
    pub index: u32,
    /// Every point of the last five minutes, oldest first.
    pub metrics: Vec<RawPoint>,
}

/// One point.
#[derive(Debug, Deserialize)]
pub struct RawPoint {
    /// Microseconds since the epoch.
    pub time: u64,
    /// The value; `null` or missing reads as `None`.
    #[serde(default)]
    pub value: Option<f64>,
}

/// Why the baseline decoder failed.
#[derive(Debug)]
pub enum BaselineError {
    /// Not JSON of the expected shape.
    Json(serde_json::Error),
    /// A node id that is neither a string nor an integer.
    NodeId(String),
}

/// Decodes a `JobMetricsResp.metrics` document the obvious way: the whole document into
/// owned structs, then the newest point per series.
pub fn decode(doc: &[u8]) -> Result<JobMetrics, BaselineError> {
    let operators: Vec<Operator> = serde_json::from_slice(doc).map_err(BaselineError::Json)?;
    newest_points(&operators)
}

/// The newest non-null point of every series (largest time; on a tie the later one),
/// sorted like the exporter's decoder sorts them.
pub fn newest_points(operators: &[Operator]) -> Result<JobMetrics, BaselineError> {
    let mut out = JobMetrics::default();
    let mut series: BTreeMap<(String, u32, MetricKind), Point> = BTreeMap::new();
    for op in operators {
        let node_id = match &op.node_id {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) if n.is_u64() || n.is_i64() => n.to_string(),
            other => return Err(BaselineError::NodeId(other.to_string())),
        };
        for group in &op.metric_groups {
            let Some(kind) = MetricKind::from_wire(&group.name) else {
                out.unknown_metric_groups += 1;
                continue;
            };
            for sub in &group.subtasks {
                for p in &sub.metrics {
                    let Some(value) = p.value else {
                        out.null_values += 1;
                        continue;
                    };
                    let point = Point {
                        time_micros: p.time,
                        value,
                    };
                    let slot = series
                        .entry((node_id.clone(), sub.index, kind))
                        .or_insert(point);
                    if p.time >= slot.time_micros {
                        *slot = point;
                    }
                }
            }
        }
    }
    out.samples = series
        .into_iter()
        .map(|((node_id, subtask_idx, kind), point)| SubtaskSample {
            node_id,
            subtask_idx,
            kind,
            point,
        })
        .collect();
    Ok(out)
}

/// Family names by [`MetricKind::index`]: (subtask family, operator family).
const FAMILIES: [(&str, &str); 5] = [
    (
        "arroyo_subtask_received_messages_per_second",
        "arroyo_operator_received_messages_per_second",
    ),
    (
        "arroyo_subtask_sent_messages_per_second",
        "arroyo_operator_sent_messages_per_second",
    ),
    (
        "arroyo_subtask_received_bytes_per_second",
        "arroyo_operator_received_bytes_per_second",
    ),
    (
        "arroyo_subtask_sent_bytes_per_second",
        "arroyo_operator_sent_bytes_per_second",
    ),
    (
        "arroyo_subtask_backpressure_ratio",
        "arroyo_operator_backpressure_ratio",
    ),
];

const JOB_LABELS: [&str; 3] = ["job_id", "pipeline_id", "pipeline_name"];

/// The same families as the exporter's job metrics, held in a `prometheus::Registry`.
pub struct Exporter {
    registry: Registry,
    up: Gauge,
    subtask: Vec<GaugeVec>,
    operator: Vec<GaugeVec>,
    last_sample: GaugeVec,
}

fn gauge_vec(registry: &Registry, name: &str, labels: &[&str]) -> GaugeVec {
    let g = GaugeVec::new(Opts::new(name, format!("{name} (baseline)")), labels)
        .expect("valid metric definition");
    registry
        .register(Box::new(g.clone()))
        .expect("unique metric name");
    g
}

impl Default for Exporter {
    fn default() -> Self {
        Exporter::new()
    }
}

impl Exporter {
    /// Registers every family.
    pub fn new() -> Exporter {
        let registry = Registry::new();
        let up = Gauge::new("arroyo_up", "arroyo_up (baseline)").expect("valid metric");
        registry
            .register(Box::new(up.clone()))
            .expect("unique metric name");
        let subtask_labels = [
            "job_id",
            "pipeline_id",
            "pipeline_name",
            "node_id",
            "operator_name",
            "subtask_idx",
        ];
        let operator_labels = &subtask_labels[..5];
        let subtask = FAMILIES
            .iter()
            .map(|(name, _)| gauge_vec(&registry, name, &subtask_labels))
            .collect();
        let operator = FAMILIES
            .iter()
            .map(|(_, name)| gauge_vec(&registry, name, operator_labels))
            .collect();
        let last_sample = gauge_vec(
            &registry,
            "arroyo_job_metrics_last_sample_timestamp_seconds",
            &JOB_LABELS,
        );
        Exporter {
            registry,
            up,
            subtask,
            operator,
            last_sample,
        }
    }

    /// Fills the registry from `snapshot` and encodes it as Prometheus text.
    pub fn render(&self, snapshot: &Snapshot) -> Vec<u8> {
        for g in self.subtask.iter().chain(&self.operator) {
            g.reset();
        }
        self.last_sample.reset();
        self.up.set(if snapshot.up { 1.0 } else { 0.0 });
        for job in &snapshot.jobs {
            self.fill_job(job);
        }
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("encoding into a Vec");
        out
    }

    fn fill_job(&self, job: &JobSnapshot) {
        let MetricsOutcome::Ok(metrics) = &job.metrics else {
            return;
        };
        let job_id = job.job.id.as_str();
        let pipeline_id = job.pipeline_id();
        let pipeline_name = job.pipeline_name();
        let operator_name = |node: &str| {
            job.pipeline
                .as_deref()
                .and_then(|p| p.operators.get(node))
                .map(|o| o.description.clone())
                .unwrap_or_default()
        };
        let mut operators: HashMap<(&str, MetricKind), f64> = HashMap::new();
        for s in &metrics.samples {
            let name = operator_name(&s.node_id);
            let idx = s.subtask_idx.to_string();
            self.subtask[s.kind.index()]
                .with_label_values(&[
                    job_id,
                    pipeline_id,
                    pipeline_name,
                    s.node_id.as_str(),
                    name.as_str(),
                    idx.as_str(),
                ])
                .set(s.point.value);
            let agg = operators.entry((s.node_id.as_str(), s.kind)).or_insert(
                if s.kind == MetricKind::Backpressure {
                    f64::MIN
                } else {
                    0.0
                },
            );
            if s.kind == MetricKind::Backpressure {
                *agg = agg.max(s.point.value);
            } else {
                *agg += s.point.value;
            }
        }
        for ((node, kind), value) in operators {
            let name = operator_name(node);
            self.operator[kind.index()]
                .with_label_values(&[job_id, pipeline_id, pipeline_name, node, name.as_str()])
                .set(value);
        }
        if let Some(t) = metrics.newest_time_micros() {
            self.last_sample
                .with_label_values(&[job_id, pipeline_id, pipeline_name])
                .set(t as f64 / 1e6);
        }
    }
}
