//! The checkpoint size and phase families, read from the newest completed checkpoint's
//! `operator_checkpoint_groups`: the job's bytes, and per graph node its bytes and the
//! longest span of each phase.
//!
//! Arroyo reports chained operators (`value_1`, `tumbling_4`), not graph nodes; each is
//! mapped to the node that holds it ([`node_of_operator`]): a node's bytes are the sum of
//! its operators' and a phase's duration the longest over them and their subtasks. An
//! operator that maps to no node (no graph, or an id without a plan index) keeps its
//! own series, labelled `operator_id` instead of `node_id` and `operator_name`.

use std::collections::BTreeMap;

use super::view::{JobView, NodeKey};
use super::{MetricType, Writer};
use crate::model::{node_of_operator, CheckpointDetails, CheckpointPhase, Snapshot};

/// Where a chained operator's figures go: a graph node, or its own series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Target<'s> {
    Node(NodeKey<'s>),
    Unmapped(&'s str),
}

/// Bytes and phase durations summed up per target.
#[derive(Default)]
struct Figures {
    bytes: u64,
    phases: BTreeMap<CheckpointPhase, f64>,
}

/// The figures of `details` per target, for the job of `view`.
fn per_target<'s>(
    view: &JobView<'s>,
    details: &'s CheckpointDetails,
) -> BTreeMap<Target<'s>, Figures> {
    let nodes: Vec<&'s str> = view
        .job
        .pipeline
        .as_deref()
        .map(|p| p.operators.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let mut out: BTreeMap<Target<'s>, Figures> = BTreeMap::new();
    for op in &details.operators {
        let target = match node_of_operator(&op.operator_id, nodes.iter().copied()) {
            Some(node) => Target::Node(NodeKey::of(node)),
            None => Target::Unmapped(op.operator_id.as_str()),
        };
        let f = out.entry(target).or_default();
        f.bytes = f.bytes.saturating_add(op.bytes);
        for (phase, secs) in &op.phase_seconds {
            let slot = f.phases.entry(*phase).or_insert(*secs);
            *slot = slot.max(*secs);
        }
    }
    out
}

/// Writes the checkpoint size and phase families of `views` (jobs by id) that have
/// checkpoint details in the snapshot.
pub(super) fn render(w: &mut Writer<'_>, snapshot: &Snapshot, views: &[JobView<'_>]) {
    let with_details: Vec<(&JobView<'_>, &CheckpointDetails)> = views
        .iter()
        .filter_map(|v| {
            snapshot
                .checkpoint_details
                .get(&v.job.job.id)
                .map(|d| (v, d.as_ref()))
        })
        .collect();
    w.family(
        "arroyo_job_last_checkpoint_bytes",
        "Size of the job's newest completed checkpoint: the sum of its operators' bytes.",
        MetricType::Gauge,
        Some("bytes"),
    );
    for (v, d) in &with_details {
        w.sample(&v.labels(), d.total_bytes());
    }
    let targets: Vec<(&JobView<'_>, BTreeMap<Target<'_>, Figures>)> = with_details
        .iter()
        .map(|(v, d)| (*v, per_target(v, d)))
        .collect();
    w.family(
        "arroyo_operator_last_checkpoint_bytes",
        "Bytes the operator (graph node, all its chained operators) wrote in the job's newest completed checkpoint; labelled operator_id when Arroyo's operator maps to no graph node.",
        MetricType::Gauge,
        Some("bytes"),
    );
    for (v, by_target) in &targets {
        for (target, f) in by_target {
            w.sample(&target_labels(v, target), f.bytes);
        }
    }
    w.family(
        "arroyo_operator_last_checkpoint_phase_seconds",
        "Longest span of each checkpoint phase (alignment, sync, async, committing) over the operator's subtasks and chained operators, in the job's newest completed checkpoint, in seconds.",
        MetricType::Gauge,
        Some("seconds"),
    );
    for (v, by_target) in &targets {
        for (target, f) in by_target {
            let mut labels = target_labels(v, target);
            for (phase, secs) in &f.phases {
                labels.push(("phase", phase.label()));
                w.sample(&labels, *secs);
                labels.pop();
            }
        }
    }
}

/// The labels of a target's series: the job's, then the graph node's (`node_id`,
/// `operator_name`) or the unmapped operator's (`operator_id`).
fn target_labels<'a>(v: &'a JobView<'_>, target: &Target<'a>) -> Vec<(&'a str, &'a str)> {
    let mut labels = v.labels().to_vec();
    match target {
        Target::Node(node) => {
            let id = node_id(node);
            labels.push(("node_id", id));
            labels.push(("operator_name", v.operator_name(id)));
        }
        Target::Unmapped(op) => labels.push(("operator_id", op)),
    }
    labels
}

/// The node id a [`NodeKey`] was made from.
fn node_id<'s>(key: &NodeKey<'s>) -> &'s str {
    match key {
        NodeKey::Number(_, id) | NodeKey::Word(id) => id,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::exposition::test_support::{job, lines_of, pipeline, render_str};
    use crate::exposition::Format;
    use crate::model::{
        CheckpointDetails, CheckpointPhase, MetricsOutcome, OperatorCheckpoint, Snapshot,
    };

    fn op(id: &str, bytes: u64, phases: &[(CheckpointPhase, f64)]) -> OperatorCheckpoint {
        OperatorCheckpoint {
            operator_id: id.into(),
            bytes,
            phase_seconds: phases.iter().copied().collect(),
        }
    }

    #[test]
    fn operators_are_summed_per_graph_node_and_unmapped_ones_keep_their_id() {
        use CheckpointPhase::*;
        let p = pipeline("pl_1", "p", &[("0", "src"), ("1", "chain"), ("4", "win")]);
        let details = CheckpointDetails {
            epoch: 7,
            operators: vec![
                op("source_0", 10, &[(Sync, 0.5)]),
                op("value_1", 1, &[(Sync, 0.25), (Alignment, 2.0)]),
                op("key_3", 2, &[(Sync, 0.75)]),
                op("tumbling_4", 100, &[(Async, 3.0), (Committing, 1.5)]),
                op("mystery", 5, &[(Async, 0.125)]),
            ],
        };
        let snap = Snapshot {
            jobs: vec![
                job("j", Some(p), MetricsOutcome::Skipped),
                job("k", None, MetricsOutcome::Skipped),
            ],
            checkpoint_details: [
                ("j".to_string(), Arc::new(details)),
                (
                    "k".to_string(),
                    Arc::new(CheckpointDetails {
                        epoch: 1,
                        operators: vec![op("value_1", 9, &[])],
                    }),
                ),
            ]
            .into(),
            ..Snapshot::default()
        };
        let text = render_str(&snap, Format::OpenMetrics);
        let j = r#"job_id="j",pipeline_id="pl_1",pipeline_name="p""#;
        let k = r#"job_id="k",pipeline_id="",pipeline_name="""#;
        assert_eq!(
            lines_of(&text, "arroyo_job_last_checkpoint_bytes"),
            [
                format!("arroyo_job_last_checkpoint_bytes{{{j}}} 118"),
                format!("arroyo_job_last_checkpoint_bytes{{{k}}} 9"),
            ]
        );
        assert_eq!(
            lines_of(&text, "arroyo_operator_last_checkpoint_bytes"),
            [
                format!(
                    r#"arroyo_operator_last_checkpoint_bytes{{{j},node_id="0",operator_name="src"}} 10"#
                ),
                format!(
                    r#"arroyo_operator_last_checkpoint_bytes{{{j},node_id="1",operator_name="chain"}} 3"#
                ),
                format!(
                    r#"arroyo_operator_last_checkpoint_bytes{{{j},node_id="4",operator_name="win"}} 100"#
                ),
                format!(r#"arroyo_operator_last_checkpoint_bytes{{{j},operator_id="mystery"}} 5"#),
                format!(r#"arroyo_operator_last_checkpoint_bytes{{{k},operator_id="value_1"}} 9"#),
            ]
        );
        assert_eq!(
            lines_of(&text, "arroyo_operator_last_checkpoint_phase_seconds"),
            [
                format!(
                    r#"arroyo_operator_last_checkpoint_phase_seconds{{{j},node_id="0",operator_name="src",phase="sync"}} 0.5"#
                ),
                format!(
                    r#"arroyo_operator_last_checkpoint_phase_seconds{{{j},node_id="1",operator_name="chain",phase="alignment"}} 2.0"#
                ),
                format!(
                    r#"arroyo_operator_last_checkpoint_phase_seconds{{{j},node_id="1",operator_name="chain",phase="sync"}} 0.75"#
                ),
                format!(
                    r#"arroyo_operator_last_checkpoint_phase_seconds{{{j},node_id="4",operator_name="win",phase="async"}} 3.0"#
                ),
                format!(
                    r#"arroyo_operator_last_checkpoint_phase_seconds{{{j},node_id="4",operator_name="win",phase="committing"}} 1.5"#
                ),
                format!(
                    r#"arroyo_operator_last_checkpoint_phase_seconds{{{j},operator_id="mystery",phase="async"}} 0.125"#
                ),
            ]
        );
        assert!(text.contains("# UNIT arroyo_job_last_checkpoint_bytes bytes\n"));
    }

    #[test]
    fn nothing_without_details() {
        let text = render_str(&Snapshot::default(), Format::OpenMetrics);
        assert!(!text.contains("checkpoint_bytes"));
        assert!(!text.contains("phase_seconds"));
    }
}
