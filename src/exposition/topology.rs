//! The topology families, read from the REST API's pipelines: one info series per
//! pipeline (with its allow-listed tags), per graph node (with its role from the edges)
//! and per graph edge, operator parallelism, and the pipeline's checkpoint interval.

use super::view::{JobView, NodeKey};
use super::{MetricType, Writer};
use crate::model::{Edge, Operator, Pipeline, Snapshot};

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
            let mut labels = vec![
                a,
                b,
                c,
                ("node_id", op.node_id.as_str()),
                ("operator_name", v.operator_name(&op.node_id)),
                ("operator", op.operator.as_str()),
                ("description", op.description.as_str()),
            ];
            if let Some(role) = p.role(&op.node_id) {
                labels.push(("role", role.as_str()));
            }
            w.info(&labels);
        }
    }
    w.family(
        "arroyo_operator_edge",
        "Edge of an Arroyo job's graph: data flows from node src_node_id to node dst_node_id; edge_type is how records are routed (Forward, Shuffle, ...). Always 1.",
        MetricType::Info,
        None,
    );
    for v in api_views {
        let Some(p) = v.job.pipeline.as_deref() else {
            continue;
        };
        let [a, b, c] = v.labels();
        let mut edges: Vec<&Edge> = p.edges.iter().collect();
        edges.sort_by(|x, y| edge_key(x).cmp(&edge_key(y)));
        edges.dedup();
        for e in edges {
            w.info(&[
                a,
                b,
                c,
                ("src_node_id", e.src_node_id.as_str()),
                ("dst_node_id", e.dst_node_id.as_str()),
                ("edge_type", e.edge_type.as_str()),
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

/// The order of edges: upstream node, downstream node (numerically when numeric), type.
fn edge_key(e: &Edge) -> (NodeKey<'_>, NodeKey<'_>, &str) {
    (
        NodeKey::of(&e.src_node_id),
        NodeKey::of(&e.dst_node_id),
        e.edge_type.as_str(),
    )
}

/// A pipeline's operators, numeric node ids in numeric order.
pub(super) fn sorted_operators(p: &Pipeline) -> Vec<&Operator> {
    let mut ops: Vec<&Operator> = p.operators.values().collect();
    ops.sort_by(|a, b| NodeKey::of(&a.node_id).cmp(&NodeKey::of(&b.node_id)));
    ops
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::test_support::{job, lines_of, render_str};
    use crate::exposition::Format;
    use crate::model::MetricsOutcome;

    fn capture_pipeline(release: &str) -> std::sync::Arc<Pipeline> {
        let path = format!(
            "{}/tests/fixtures/{release}/pipeline.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let p = crate::arroyo::wire::decode_pipeline(&std::fs::read(path).unwrap()).unwrap();
        std::sync::Arc::new(p)
    }

    #[test]
    fn operator_roles_and_edges_from_the_captures() {
        for release in ["arroyo-main-addb390", "arroyo-v0.15.0"] {
            let snap = Snapshot {
                jobs: vec![job(
                    "job_x",
                    Some(capture_pipeline(release)),
                    MetricsOutcome::NoMetrics,
                )],
                topology: true,
                ..Snapshot::default()
            };
            let text = render_str(&snap, Format::OpenMetrics);
            let roles: Vec<(&str, &str)> = lines_of(&text, "arroyo_operator_info")
                .into_iter()
                .map(|l| {
                    let node = l.split("node_id=\"").nth(1).unwrap().split('"').next();
                    let role = l.split("role=\"").nth(1).unwrap().split('"').next();
                    (node.unwrap(), role.unwrap())
                })
                .collect();
            assert_eq!(
                roles,
                [
                    ("0", "source"),
                    ("1", "operator"),
                    ("4", "operator"),
                    ("6", "sink")
                ],
                "{release}"
            );
            let job = r#"job_id="job_x",pipeline_id="pl_"#;
            let edges = lines_of(&text, "arroyo_operator_edge_info");
            assert_eq!(edges.len(), 3, "{text}");
            for (line, (src, dst, kind)) in edges.iter().zip([
                ("0", "1", "Forward"),
                ("1", "4", "Shuffle"),
                ("4", "6", "Forward"),
            ]) {
                assert!(
                    line.starts_with(&format!("arroyo_operator_edge_info{{{job}")),
                    "{line}"
                );
                assert!(
                    line.ends_with(&format!(
                        r#"",src_node_id="{src}",dst_node_id="{dst}",edge_type="{kind}"}} 1"#
                    )),
                    "{line}"
                );
            }
        }
    }

    #[test]
    fn no_role_label_when_the_graph_has_no_edges() {
        let snap = Snapshot {
            jobs: vec![job(
                "j",
                Some(crate::exposition::test_support::pipeline(
                    "p",
                    "n",
                    &[("1", "A"), ("2", "B")],
                )),
                MetricsOutcome::NoMetrics,
            )],
            topology: true,
            ..Snapshot::default()
        };
        let text = render_str(&snap, Format::Text004);
        let info = lines_of(&text, "arroyo_operator_info");
        assert_eq!(info.len(), 2);
        assert!(info.iter().all(|l| !l.contains("role=")), "{info:?}");
        assert!(lines_of(&text, "arroyo_operator_edge_info").is_empty());
    }

    #[test]
    fn tag_labels_are_legacy_label_names() {
        assert_eq!(tag_label("team"), "tag_team");
        assert_eq!(tag_label("cost-center.eu"), "tag_cost_center_eu");
        assert_eq!(tag_label("ünï"), "tag__n_");
        assert!(crate::exposition::is_label_name(&tag_label("a b/c:d")));
    }
}
