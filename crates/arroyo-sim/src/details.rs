//! What the simulated API says about one checkpoint's operators
//! (`.../checkpoints/{epoch}/operator_checkpoint_groups`) and about a job's error log
//! (`.../jobs/{id}/errors`), shaped like each release.
//!
//! Like Arroyo, checkpoint details are per *chained operator*, not per graph node: a node
//! holds the plan's operators from its own node id up to the next node's (v0.13 and
//! later; node ids ascend along the chain here), each named after its kind and its index
//! in the plan (`source_0`, `value_1`, `watermark_2`, `sink_6`). On v0.11 every node is
//! one operator named like the node. Sources, windows and watermarks keep state; a job's
//! `state_growth_bytes` makes every stateful subtask grow by that much per epoch.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::docgen::hash;
use crate::release::{wire_node_id, Release};
use crate::state::{SimJob, SimJobError, SimPipeline};

/// A checkpoint phase: (span name on main and v0.15, `spanType` up to v0.14).
const ALIGNMENT: (&str, &str) = ("Alignment", "alignment");
const SYNC: (&str, &str) = ("Sync", "sync");
const ASYNC: (&str, &str) = ("Async", "async");
const COMMITTING: (&str, &str) = ("Committing", "committing");

/// One subtask's part of a checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct SimSubtaskCheckpoint {
    /// Subtask index.
    pub index: u32,
    /// Bytes written.
    pub bytes: u64,
    /// `(phase, start µs, finish µs)`; phase as on main (`Alignment`, ...).
    pub spans: Vec<(&'static str, u64, u64)>,
}

/// One chained operator's part of a checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct SimOperatorCheckpoint {
    /// Arroyo's operator id (`value_1`).
    pub operator_id: String,
    /// The graph node holding it, as the release writes node ids.
    pub node_id: String,
    /// Per subtask.
    pub subtasks: Vec<SimSubtaskCheckpoint>,
}

impl SimOperatorCheckpoint {
    /// The operator's bytes: the sum over its subtasks.
    pub fn bytes(&self) -> u64 {
        self.subtasks.iter().map(|s| s.bytes).sum()
    }
}

/// The plan's operators of `pipeline`: `(operator id, wire node id, keeps state)`.
pub fn plan_operators(release: Release, pipeline: &SimPipeline) -> Vec<(String, String, bool)> {
    let count = pipeline.nodes.len();
    let mut out = Vec::new();
    for (pos, node) in pipeline.nodes.iter().enumerate() {
        let wire = wire_node_id(release, node.node_id, pos, count);
        if !release.numeric_node_ids() {
            out.push((wire.clone(), wire, pos == 0));
            continue;
        }
        let first = node.node_id;
        let end = match pipeline.nodes.get(pos + 1) {
            Some(next) if next.node_id > first => next.node_id,
            _ => first + 1,
        };
        for index in first..end {
            let (name, stateful) = if pos == 0 && index == first {
                ("source", true)
            } else if pos + 1 == count {
                ("sink", false)
            } else {
                match index % 4 {
                    0 => ("window", true),
                    1 => ("value", false),
                    2 => ("watermark", true),
                    _ => ("key", false),
                }
            };
            out.push((format!("{name}_{index}"), wire.clone(), stateful));
        }
    }
    out
}

/// The details of checkpoint `epoch` (started at `start` µs) of `job`.
pub fn checkpoint_groups(
    release: Release,
    pipeline: &SimPipeline,
    job: &SimJob,
    epoch: u64,
    start: u64,
) -> Vec<SimOperatorCheckpoint> {
    let growth = job
        .state_growth_bytes
        .saturating_mul(epoch.saturating_sub(job.state_growth_since_epoch));
    let count = pipeline.nodes.len();
    let parallelism: BTreeMap<String, u32> = pipeline
        .nodes
        .iter()
        .enumerate()
        .map(|(pos, n)| (wire_node_id(release, n.node_id, pos, count), n.parallelism))
        .collect();
    let first_node = pipeline
        .nodes
        .first()
        .map(|n| wire_node_id(release, n.node_id, 0, count));
    let last_node = pipeline
        .nodes
        .last()
        .map(|n| wire_node_id(release, n.node_id, count - 1, count));
    plan_operators(release, pipeline)
        .into_iter()
        .enumerate()
        .map(|(k, (operator_id, node_id, stateful))| {
            let subtasks = (0..parallelism.get(&node_id).copied().unwrap_or(1))
                .map(|index| {
                    let h = hash(&[job.seed, epoch, k as u64, u64::from(index)]);
                    let bytes = if stateful {
                        600 + hash(&[job.seed, k as u64, u64::from(index)]) % 400 + growth
                    } else {
                        0
                    };
                    let mut spans = Vec::new();
                    let mut t = start + 100;
                    let mut span = |phase: &'static str, micros: u64| {
                        spans.push((phase, t, t + micros));
                        t += micros;
                    };
                    if Some(&node_id) != first_node.as_ref() {
                        span(ALIGNMENT.0, 1 + h % 300);
                    }
                    span(SYNC.0, 2 + (h >> 8) % 500);
                    span(ASYNC.0, 1000 + (h >> 16) % 9000);
                    if Some(&node_id) == last_node.as_ref() {
                        span(COMMITTING.0, 50 + (h >> 24) % 2000);
                    }
                    SimSubtaskCheckpoint {
                        index,
                        bytes,
                        spans,
                    }
                })
                .collect();
            SimOperatorCheckpoint {
                operator_id,
                node_id,
                subtasks,
            }
        })
        .collect()
}

/// Per graph node (wire id): bytes of its operators, and per phase (lower case) the
/// longest span over its operators and their subtasks, in seconds. What an exporter
/// should report for these details.
pub fn expected_by_node(
    ops: &[SimOperatorCheckpoint],
) -> BTreeMap<String, (u64, BTreeMap<&'static str, f64>)> {
    let mut out: BTreeMap<String, (u64, BTreeMap<&'static str, f64>)> = BTreeMap::new();
    for op in ops {
        let entry = out.entry(op.node_id.clone()).or_default();
        entry.0 += op.bytes();
        for s in &op.subtasks {
            for (phase, start, finish) in &s.spans {
                let lower = [ALIGNMENT, SYNC, ASYNC, COMMITTING]
                    .into_iter()
                    .find(|p| p.0 == *phase)
                    .map_or("unknown", |p| p.1);
                let secs = (finish - start) as f64 / 1e6;
                let slot = entry.1.entry(lower).or_insert(secs);
                *slot = slot.max(secs);
            }
        }
    }
    out
}

/// The `{"data": [...]}` answer for `ops`, in `release`'s shape.
pub fn checkpoint_groups_json(release: Release, ops: &[SimOperatorCheckpoint]) -> Value {
    let data: Vec<Value> = ops
        .iter()
        .map(|op| {
            let subtasks: Vec<Value> = op
                .subtasks
                .iter()
                .map(|s| {
                    let spans: Vec<Value> = s
                        .spans
                        .iter()
                        .map(|(phase, start, finish)| {
                            if release.snake_case() {
                                json!({"start_time": start, "finish_time": finish,
                                       "event": phase, "description": describe(phase)})
                            } else {
                                json!({"startTime": start, "finishTime": finish,
                                       "spanType": phase.to_ascii_lowercase(),
                                       "description": describe(phase)})
                            }
                        })
                        .collect();
                    let mut m = Map::new();
                    m.insert("index".into(), json!(s.index));
                    m.insert("bytes".into(), json!(s.bytes));
                    m.insert(release.key("event_spans").into_owned(), json!(spans));
                    Value::Object(m)
                })
                .collect();
            let mut m = Map::new();
            m.insert(
                release.key("operator_id").into_owned(),
                json!(op.operator_id),
            );
            m.insert("bytes".into(), json!(op.bytes()));
            if release.snake_case() {
                let end = op
                    .subtasks
                    .iter()
                    .flat_map(|s| s.spans.iter().map(|x| x.2))
                    .max()
                    .unwrap_or(0);
                m.insert("started_metadata_write".into(), json!(end + 10));
                m.insert("finish_time".into(), json!(end + 12));
            }
            m.insert("subtasks".into(), json!(subtasks));
            Value::Object(m)
        })
        .collect();
    json!({ "data": data })
}

fn describe(phase: &str) -> &'static str {
    match phase {
        "Alignment" => "Time spent waiting for alignment barriers",
        "Sync" => "The synchronous part of checkpointing",
        "Async" => "The asynchronous part of checkpointing",
        _ => "Committing the checkpoint",
    }
}

/// One error-log row in `release`'s shape (`error_domain` on main only).
pub fn job_error_json(release: Release, e: &SimJobError) -> Value {
    let mut m = Map::new();
    let mut put = |k: &'static str, v: Value| {
        m.insert(release.key(k).into_owned(), v);
    };
    put("id", json!(e.id));
    put("created_at", json!(e.created_at));
    put("operator_id", json!(e.operator_id));
    put("task_index", json!(e.task_index));
    put("level", json!(e.level));
    put("message", json!(e.message));
    put("details", json!(e.details));
    if release == Release::Main {
        put("error_domain", json!(e.error_domain));
    }
    Value::Object(m)
}

/// One page of `job`'s error log, newest first: at most `limit` rows older than the row
/// `starting_after` (all when `None`; none when that id is unknown), and whether more
/// follow.
pub fn job_errors_page<'j>(
    job: &'j SimJob,
    limit: usize,
    starting_after: Option<&str>,
) -> (Vec<&'j SimJobError>, bool) {
    let newest_first: Vec<&SimJobError> = job.errors.iter().rev().collect();
    let start = match starting_after {
        None => 0,
        Some(id) => match newest_first.iter().position(|e| e.id == id) {
            Some(i) => i + 1,
            None => newest_first.len(),
        },
    };
    let page: Vec<&SimJobError> = newest_first
        .iter()
        .skip(start)
        .take(limit)
        .copied()
        .collect();
    let more = start + page.len() < newest_first.len();
    (page, more)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::SimNode;

    fn nexmark() -> SimPipeline {
        SimPipeline::new(
            "pl_1",
            "p",
            vec![
                SimNode::new(0, "nexmark", "src", 2),
                SimNode::new(1, "chained_op", "chain", 2),
                SimNode::new(4, "chained_op", "window", 2),
                SimNode::new(6, "blackhole", "sink", 2),
            ],
        )
    }

    #[test]
    fn operators_follow_the_plan_like_the_real_capture() {
        let ops: Vec<(String, String)> = plan_operators(Release::Main, &nexmark())
            .into_iter()
            .map(|(o, n, _)| (o, n))
            .collect();
        let want = [
            ("source_0", "0"),
            ("value_1", "1"),
            ("watermark_2", "1"),
            ("key_3", "1"),
            ("window_4", "4"),
            ("value_5", "4"),
            ("sink_6", "6"),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(ops, want);
        let legacy = plan_operators(Release::V0_11, &nexmark());
        assert_eq!(legacy[0].0, "source_0");
        assert_eq!(legacy[3].0, "sink_6");
    }

    #[test]
    fn state_grows_per_epoch_and_expected_values_add_up() {
        let mut job = SimJob::running("job_1", "pl_1", 0);
        let p = nexmark();
        let base = checkpoint_groups(Release::Main, &p, &job, 5, 1_000);
        job.state_growth_bytes = 1000;
        job.state_growth_since_epoch = 3;
        let grown = checkpoint_groups(Release::Main, &p, &job, 5, 1_000);
        let total = |ops: &[SimOperatorCheckpoint]| ops.iter().map(|o| o.bytes()).sum::<u64>();
        // Three stateful operators (source_0, watermark_2, window_4) × 2 subtasks × 2 epochs.
        assert_eq!(total(&grown) - total(&base), 3 * 2 * 2 * 1000);
        let by_node = expected_by_node(&base);
        assert_eq!(by_node.values().map(|v| v.0).sum::<u64>(), total(&base));
        assert_eq!(by_node["6"].0, 0);
        assert!(by_node["6"].1.contains_key("committing"));
        assert!(!by_node["0"].1.contains_key("alignment"));
        let json = checkpoint_groups_json(Release::V0_13, &base).to_string();
        assert!(json.contains("\"operatorId\"") && json.contains("\"spanType\":\"sync\""));
        assert!(!json.contains("started_metadata_write"));
    }

    #[test]
    fn error_pages_go_newest_first() {
        let mut job = SimJob::running("job_1", "pl_1", 0);
        job.errors = (0..5)
            .map(|i| SimJobError::invalid_data(i, 100 + i, "value_1", 0))
            .collect();
        let (p1, more) = job_errors_page(&job, 2, None);
        assert!(more);
        assert_eq!(p1[0].created_at, 104);
        let (p3, more) = job_errors_page(&job, 2, Some(&p1[1].id));
        assert!(more);
        let (p4, more) = job_errors_page(&job, 2, Some(&p3[1].id));
        assert!(!more);
        assert_eq!(p4.len(), 1);
        assert_eq!(p4[0].created_at, 100);
        let row = job_error_json(Release::V0_13, p4[0]);
        assert!(row.get("createdAt").is_some() && row.get("errorDomain").is_none());
    }
}
