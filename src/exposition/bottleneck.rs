//! `arroyo_operator_bottleneck`: per running job whose graph is known, 1 for the
//! operators the rule of [`crate::model::bottleneck`] names, 0 for the others.

use std::collections::BTreeMap;

use super::view::JobView;
use super::{MetricType, Writer};
use crate::model::bottleneck::bottlenecks;
use crate::model::{state_runs, MetricKind, MetricsOutcome, Snapshot};

/// Writes the bottleneck family for `views` (jobs by id).
///
/// Written with the topology families (`collectors.topology`): the alert that reads it
/// needs the edges too, and falls back on per-operator backpressure without both. A job
/// gets series when the API says it runs, its metrics were fetched (or the source had
/// none: an idle job, 0 everywhere) and its graph tells the roles (it has edges, or a
/// single node). A failed fetch or a graph without edges writes nothing: unknown is not
/// "no bottleneck".
pub(super) fn render(w: &mut Writer<'_>, snapshot: &Snapshot, views: &[JobView<'_>]) {
    if !snapshot.topology {
        return;
    }
    w.family(
        "arroyo_operator_bottleneck",
        "1 for the operator holding the job back: not backpressured itself while a direct upstream operator is (highest subtask backpressure at or above the exporter's threshold); 0 for the job's other operators.",
        MetricType::Gauge,
        None,
    );
    for v in views {
        if !state_runs(&v.job.job.state)
            || !matches!(
                v.job.metrics,
                MetricsOutcome::Ok(_) | MetricsOutcome::NoMetrics
            )
        {
            continue;
        }
        let Some(p) = v.job.pipeline.as_deref() else {
            continue;
        };
        let known = p
            .operators
            .keys()
            .next()
            .is_some_and(|n| p.role(n).is_some());
        if !known {
            continue;
        }
        let backpressure: BTreeMap<&str, f64> = v
            .operators
            .iter()
            .filter(|o| o.kind == MetricKind::Backpressure)
            .map(|o| (o.node_id, o.value))
            .collect();
        let named = bottlenecks(
            p.edges
                .iter()
                .map(|e| (e.src_node_id.as_str(), e.dst_node_id.as_str())),
            &backpressure,
            snapshot.bottleneck_threshold,
        );
        let [a, b, c] = v.labels();
        for op in super::topology::sorted_operators(p) {
            let node = op.node_id.as_str();
            w.sample(
                &[
                    a,
                    b,
                    c,
                    ("node_id", node),
                    ("operator_name", v.operator_name(node)),
                ],
                u64::from(named.contains(node)),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::Arc;

    use serde_json::Value;

    use crate::arroyo::error::ErrorKind;
    use crate::arroyo::wire::{decode_job_metrics, decode_pipeline};
    use crate::exposition::test_support::{job, lines_of, ok, pipeline, render_str, sample};
    use crate::exposition::Format;
    use crate::model::bottleneck::Threshold;
    use crate::model::{Edge, JobSnapshot, MetricKind, MetricsOutcome, Pipeline, Snapshot};

    /// `(node_id, value)` of every `arroyo_operator_bottleneck` sample of job `job_id`.
    fn bottleneck_values(text: &str, job_id: &str) -> Vec<(String, String)> {
        lines_of(text, "arroyo_operator_bottleneck")
            .into_iter()
            .filter(|l| l.contains(&format!("job_id=\"{job_id}\"")))
            .map(|l| {
                let node = l.split("node_id=\"").nth(1).unwrap().split('"').next();
                let value = l.rsplit(' ').next().unwrap();
                (node.unwrap().to_string(), value.to_string())
            })
            .collect()
    }

    fn chain(nodes: &[(&str, &str)]) -> Arc<Pipeline> {
        let mut p = (*pipeline("pl_1", "orders", nodes)).clone();
        p.edges = nodes
            .windows(2)
            .map(|w| Edge {
                src_node_id: w[0].0.to_string(),
                dst_node_id: w[1].0.to_string(),
                edge_type: "Forward".to_string(),
            })
            .collect();
        Arc::new(p)
    }

    fn bp(node: &str, subtask: u32, value: f64) -> crate::model::SubtaskSample {
        sample(node, subtask, MetricKind::Backpressure, 1_000, value)
    }

    const NODES: [(&str, &str); 4] = [("0", "Src"), ("1", "Map"), ("4", "Window"), ("6", "Sink")];

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn one_for_the_bottleneck_zero_for_the_others() {
        let snap = Snapshot {
            jobs: vec![job(
                "j",
                Some(chain(&NODES)),
                ok(vec![
                    bp("0", 0, 0.2),
                    bp("0", 1, 0.9),
                    bp("1", 0, 0.7),
                    bp("1", 1, 0.1),
                    bp("4", 0, 0.3),
                    bp("4", 1, 0.0),
                    bp("6", 0, 0.0),
                ]),
            )],
            topology: true,
            ..Snapshot::default()
        };
        let text = render_str(&snap, Format::OpenMetrics);
        assert_eq!(
            bottleneck_values(&text, "j"),
            pairs(&[("0", "0"), ("1", "0"), ("4", "1"), ("6", "0")])
        );
        assert!(text.contains(
            "arroyo_operator_bottleneck{job_id=\"j\",pipeline_id=\"pl_1\",pipeline_name=\"orders\",node_id=\"4\",operator_name=\"Window\"} 1\n"
        ));
        // A lower threshold moves it: 4 (0.3) is backpressured now, the sink is named.
        let low = Snapshot {
            bottleneck_threshold: Threshold::new(0.25).unwrap(),
            ..snap
        };
        assert_eq!(
            bottleneck_values(&render_str(&low, Format::Text004), "j"),
            pairs(&[("0", "0"), ("1", "0"), ("4", "0"), ("6", "1")])
        );
    }

    #[test]
    fn idle_failed_stopped_and_unknown_graphs() {
        let running = |id: &str, p: Arc<Pipeline>, m: MetricsOutcome| job(id, Some(p), m);
        let mut stopped = running("d_stopped", chain(&NODES), ok(vec![bp("0", 0, 0.9)]));
        stopped.job.state = "Stopped".to_string();
        let snap = Snapshot {
            jobs: vec![
                running("a_idle", chain(&NODES), MetricsOutcome::NoMetrics),
                running("b_empty", chain(&NODES), ok(vec![])),
                running(
                    "c_failed",
                    chain(&NODES),
                    MetricsOutcome::Failed(ErrorKind::Timeout),
                ),
                stopped,
                running(
                    "e_no_edges",
                    pipeline("pl_2", "n", &NODES),
                    ok(vec![bp("0", 0, 0.9), bp("1", 0, 0.0)]),
                ),
                job("f_no_pipeline", None, ok(vec![bp("0", 0, 0.9)])),
                running(
                    "g_single",
                    pipeline("pl_3", "n", &[("0", "Only")]),
                    ok(vec![bp("0", 0, 0.9)]),
                ),
            ],
            topology: true,
            ..Snapshot::default()
        };
        let text = render_str(&snap, Format::OpenMetrics);
        let zeros = pairs(&[("0", "0"), ("1", "0"), ("4", "0"), ("6", "0")]);
        assert_eq!(bottleneck_values(&text, "a_idle"), zeros);
        assert_eq!(bottleneck_values(&text, "b_empty"), zeros);
        for unknown in ["c_failed", "d_stopped", "e_no_edges", "f_no_pipeline"] {
            assert!(bottleneck_values(&text, unknown).is_empty(), "{unknown}");
        }
        assert_eq!(bottleneck_values(&text, "g_single"), pairs(&[("0", "0")]));
        // Without the topology families, no bottleneck either.
        let off = Snapshot {
            topology: false,
            ..snap
        };
        let text = render_str(&off, Format::OpenMetrics);
        assert!(lines_of(&text, "arroyo_operator_bottleneck").is_empty());
    }

    /// `(src, dst)` node id pairs.
    type Edges = BTreeSet<(String, String)>;

    /// Reads a capture on its own (serde_json, not the exporter's decoders): each node's
    /// highest newest backpressure over its subtasks, and the graph's edges.
    fn read_capture(release: &str) -> (Edges, Vec<(String, f64)>) {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");
        let read = |name: &str| -> Value {
            let path = format!("{dir}{release}/{name}");
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
        };
        let id = |v: &Value| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let edges = read("pipeline.json")["graph"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (id(&e["src_id"]), id(&e["dest_id"])))
            .collect();
        let mut bp = Vec::new();
        for op in read("job_metrics_rpc.json").as_array().unwrap() {
            for group in op["metric_groups"].as_array().unwrap() {
                if group["name"] != "backpressure" {
                    continue;
                }
                let max = group["subtasks"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| {
                        let points = s["metrics"].as_array().unwrap();
                        let newest = points
                            .iter()
                            .max_by_key(|p| p["time"].as_u64().unwrap())
                            .unwrap();
                        newest["value"].as_f64().unwrap()
                    })
                    .fold(f64::MIN, f64::max);
                bp.push((id(&op["node_id"]), max));
            }
        }
        (edges, bp)
    }

    #[test]
    fn real_captures_both_releases() {
        let thresholds = [0.5, 0.1, 0.01, 0.005, 0.001, 0.0002];
        let mut seen: BTreeSet<Vec<String>> = BTreeSet::new();
        for release in ["arroyo-main-addb390", "arroyo-v0.15.0"] {
            let (edges, bp) = read_capture(release);
            assert_eq!(edges.len(), 3, "{release}");
            let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");
            let p =
                decode_pipeline(&std::fs::read(format!("{dir}{release}/pipeline.json")).unwrap())
                    .unwrap();
            let metrics = decode_job_metrics(
                &std::fs::read(format!("{dir}{release}/job_metrics_rpc.json")).unwrap(),
            )
            .unwrap();
            for t in thresholds {
                // Edge by edge: upstream at or above t, downstream below it.
                let value = |node: &str| bp.iter().find(|(n, _)| n == node).map(|(_, v)| *v);
                let expected: BTreeSet<String> = edges
                    .iter()
                    .filter(|(src, dst)| {
                        value(src).is_some_and(|v| v >= t) && value(dst).is_some_and(|v| v < t)
                    })
                    .map(|(_, dst)| dst.clone())
                    .collect();
                let snap = Snapshot {
                    jobs: vec![JobSnapshot {
                        metrics: MetricsOutcome::Ok(metrics.clone()),
                        ..job("job_x", Some(Arc::new(p.clone())), MetricsOutcome::Skipped)
                    }],
                    bottleneck_threshold: Threshold::new(t).unwrap(),
                    topology: true,
                    ..Snapshot::default()
                };
                let got = bottleneck_values(&render_str(&snap, Format::OpenMetrics), "job_x");
                let nodes: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
                assert_eq!(nodes, ["0", "1", "4", "6"], "{release} {t}");
                let named: BTreeSet<String> = got
                    .iter()
                    .filter(|(_, v)| v == "1")
                    .map(|(n, _)| n.clone())
                    .collect();
                assert_eq!(named, expected, "{release} at {t}");
                assert!(got.iter().all(|(_, v)| v == "0" || v == "1"));
                seen.insert(named.into_iter().collect());
            }
        }
        // The thresholds cover no bottleneck as well as several different ones.
        assert!(seen.contains(&Vec::new()), "{seen:?}");
        assert!(seen.len() >= 3, "{seen:?}");
    }
}
