//! The topology families, read from the REST API's pipelines: one info series per
//! pipeline (with its allow-listed tags) and per graph node, operator parallelism, and
//! the pipeline's checkpoint interval.

use super::view::{JobView, NodeKey};
use super::{MetricType, Writer};
use crate::model::{Operator, Pipeline, Snapshot};

/// Turns a pipeline tag name into a label name: `tag_` + the name with every character
/// that a label name cannot hold replaced by `_`.
pub fn tag_label(tag: &str) -> String {
    let mut out = String::with_capacity(4 + tag.len());
    out.push_str("tag_");
    for c in tag.chars() {
        out.push(if c.is_ascii_alphanumeric() || c == '_' {
            c
        } else {
            '_'
        });
    }
    out
}

/// Writes the topology families when the snapshot asks for them: pipelines of
/// `views` (jobs by id), graph nodes of `api_views` (the jobs the API described).
pub(super) fn render(
    w: &mut Writer<'_>,
    snapshot: &Snapshot,
    views: &[JobView<'_>],
    api_views: &[&JobView<'_>],
) {
    if !snapshot.topology {
        return;
    }
    let mut pipelines: Vec<&Pipeline> = views
        .iter()
        .filter_map(|v| v.job.pipeline.as_deref())
        .filter(|p| !p.id.is_empty())
        .collect();
    pipelines.sort_by(|a, b| a.id.cmp(&b.id));
    pipelines.dedup_by(|a, b| a.id == b.id);

    let mut tags: Vec<(String, &str)> = snapshot
        .pipeline_tags
        .iter()
        .map(|t| (tag_label(t), t.as_str()))
        .collect();
    tags.sort();
    tags.dedup_by(|a, b| a.0 == b.0);
    w.family(
        "arroyo_pipeline",
        "Arroyo pipeline; allow-listed pipeline tags are labels prefixed with tag_. Always 1.",
        MetricType::Info,
        None,
    );
    for p in &pipelines {
        let mut labels: Vec<(&str, &str)> = vec![
            ("pipeline_id", p.id.as_str()),
            ("pipeline_name", p.name.as_str()),
        ];
        for (label, tag) in &tags {
            if let Some(value) = p.tags.get(*tag) {
                labels.push((label.as_str(), value.as_str()));
            }
        }
        w.info(&labels);
    }
    w.family(
        "arroyo_pipeline_checkpoint_interval_seconds",
        "Checkpoint interval configured for the pipeline, in seconds.",
        MetricType::Gauge,
        Some("seconds"),
    );
    for p in &pipelines {
        if let Some(micros) = p.checkpoint_interval_micros {
            w.sample(
                &[
                    ("pipeline_id", p.id.as_str()),
                    ("pipeline_name", p.name.as_str()),
                ],
                micros as f64 / 1e6,
            );
        }
    }

    w.family(
        "arroyo_operator",
        "Operator of an Arroyo job's graph: operator is its kind, description the full text Arroyo's UI shows. Always 1.",
        MetricType::Info,
        None,
    );
    for v in api_views {
        let Some(p) = v.job.pipeline.as_deref() else {
            continue;
        };
        let [a, b, c] = v.labels();
        for op in sorted_operators(p) {
            w.info(&[
                a,
                b,
                c,
                ("node_id", op.node_id.as_str()),
                ("operator_name", v.operator_name(&op.node_id)),
                ("operator", op.operator.as_str()),
                ("description", op.description.as_str()),
            ]);
        }
    }
    w.family(
        "arroyo_operator_parallelism",
        "Number of subtasks of the operator.",
        MetricType::Gauge,
        None,
    );
    for v in api_views {
        let Some(p) = v.job.pipeline.as_deref() else {
            continue;
        };
        let [a, b, c] = v.labels();
        for op in sorted_operators(p) {
            w.sample(
                &[
                    a,
                    b,
                    c,
                    ("node_id", op.node_id.as_str()),
                    ("operator_name", v.operator_name(&op.node_id)),
                ],
                u64::from(op.parallelism),
            );
        }
    }
}

/// A pipeline's operators, numeric node ids in numeric order.
fn sorted_operators(p: &Pipeline) -> Vec<&Operator> {
    let mut ops: Vec<&Operator> = p.operators.values().collect();
    ops.sort_by(|a, b| NodeKey::of(&a.node_id).cmp(&NodeKey::of(&b.node_id)));
    ops
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_labels_are_legacy_label_names() {
        assert_eq!(tag_label("team"), "tag_team");
        assert_eq!(tag_label("cost-center.eu"), "tag_cost_center_eu");
        assert_eq!(tag_label("ünï"), "tag__n_");
        assert!(crate::exposition::is_label_name(&tag_label("a b/c:d")));
    }
}
