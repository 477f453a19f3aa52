//! The jobs of one snapshot prepared for writing: deduplicated, series sorted and
//! deduplicated, per-operator aggregates computed, `operator_name` labels looked up.
//! Every Arroyo family file reads jobs through [`JobView`].

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::model::{JobMetrics, JobSnapshot, MetricKind, MetricsOutcome, Snapshot, SubtaskSample};

/// Longest `operator_name` label value, in characters (docs/arroyo-compat.md, Decisions).
pub const OPERATOR_NAME_MAX_CHARS: usize = 128;

/// The `operator_name` label value for a graph node's `description`: the text itself
/// when it has at most [`OPERATOR_NAME_MAX_CHARS`] characters, else its first 127
/// characters and `…`, 128 characters in all. Cuts between characters, never inside one.
pub fn operator_name(description: &str) -> Cow<'_, str> {
    let mut chars = description.char_indices();
    match chars.nth(OPERATOR_NAME_MAX_CHARS - 1) {
        Some((cut, _)) if chars.next().is_some() => {
            let mut s = String::with_capacity(cut + '…'.len_utf8());
            s.push_str(&description[..cut]);
            s.push('…');
            Cow::Owned(s)
        }
        _ => Cow::Borrowed(description),
    }
}

/// Orders node ids numerically when both are numbers, numbers before words, words
/// by their text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum NodeKey<'s> {
    Number(u64, &'s str),
    Word(&'s str),
}

impl<'s> NodeKey<'s> {
    /// The ordering key of the node id `id`.
    pub(super) fn of(id: &'s str) -> Self {
        match id.parse::<u64>() {
            Ok(n) if id.bytes().all(|b| b.is_ascii_digit()) => NodeKey::Number(n, id),
            _ => NodeKey::Word(id),
        }
    }
}

/// The per-operator aggregate of one metric kind.
pub(super) struct OperatorValue<'s> {
    /// Which series.
    pub(super) kind: MetricKind,
    /// The graph node.
    pub(super) node_id: &'s str,
    /// Sum of the subtasks' rates, or their highest backpressure.
    pub(super) value: f64,
}

/// One job, prepared for writing: samples sorted and deduplicated.
pub(super) struct JobView<'s> {
    /// The job as the snapshot holds it.
    pub(super) job: &'s JobSnapshot,
    /// Its metrics document, when the fetch succeeded.
    pub(super) metrics: Option<&'s JobMetrics>,
    /// Sorted by (kind, node, subtask); one per series (the newest when repeated).
    pub(super) samples: Vec<&'s SubtaskSample>,
    /// Sorted by (kind, node).
    pub(super) operators: Vec<OperatorValue<'s>>,
    /// `operator_name` label per node id, from the pipeline graph.
    names: BTreeMap<&'s str, Cow<'s, str>>,
}

impl<'s> JobView<'s> {
    /// Prepares `job` for writing.
    fn new(job: &'s JobSnapshot) -> Self {
        let metrics = match &job.metrics {
            MetricsOutcome::Ok(m) => Some(m),
            _ => None,
        };
        let mut keyed: Vec<_> = metrics
            .map(|m| m.samples.as_slice())
            .unwrap_or_default()
            .iter()
            .map(|s| (s.kind, NodeKey::of(&s.node_id), s.subtask_idx, s))
            .collect();
        // Newest first within a series, so that dedup keeps the newest.
        keyed.sort_by(|a, b| {
            (a.0, a.1, a.2)
                .cmp(&(b.0, b.1, b.2))
                .then(b.3.point.time_micros.cmp(&a.3.point.time_micros))
        });
        keyed.dedup_by(|next, prev| (next.0, next.1, next.2) == (prev.0, prev.1, prev.2));
        let samples: Vec<&SubtaskSample> = keyed.into_iter().map(|k| k.3).collect();

        let mut operators: Vec<OperatorValue<'s>> = Vec::new();
        for s in &samples {
            match operators.last_mut() {
                Some(op) if op.kind == s.kind && op.node_id == s.node_id => {
                    op.value = if s.kind == MetricKind::Backpressure {
                        op.value.max(s.point.value)
                    } else {
                        op.value + s.point.value
                    };
                }
                _ => operators.push(OperatorValue {
                    kind: s.kind,
                    node_id: &s.node_id,
                    value: s.point.value,
                }),
            }
        }

        let names = job
            .pipeline
            .as_deref()
            .map(|p| {
                p.operators
                    .iter()
                    .map(|(id, op)| (id.as_str(), operator_name(&op.description)))
                    .collect()
            })
            .unwrap_or_default();
        JobView {
            job,
            metrics,
            samples,
            operators,
            names,
        }
    }

    /// The `operator_name` label of `node_id` (empty for a node not in the graph).
    pub(super) fn operator_name(&self, node_id: &str) -> &str {
        self.names.get(node_id).map(|n| n.as_ref()).unwrap_or("")
    }

    /// The labels every job series starts with: job id, pipeline id and name.
    pub(super) fn labels(&self) -> [(&'s str, &'s str); 3] {
        [
            ("job_id", self.job.job.id.as_str()),
            ("pipeline_id", self.job.pipeline_id()),
            ("pipeline_name", self.job.pipeline_name()),
        ]
    }
}

/// The snapshot's jobs by id, each written once (the first of a repeated id), prepared
/// for writing.
pub(super) fn job_views(snapshot: &Snapshot) -> Vec<JobView<'_>> {
    let mut jobs: Vec<&JobSnapshot> = snapshot.jobs.iter().collect();
    jobs.sort_by(|a, b| a.job.id.cmp(&b.job.id));
    jobs.dedup_by(|next, prev| next.job.id == prev.job.id);
    jobs.into_iter().map(JobView::new).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arroyo::error::ErrorKind;
    use crate::exposition::test_support::{job, lines_of, ok, pipeline, render_str, sample};
    use crate::exposition::Format;

    #[test]
    fn operator_aggregation_sums_rates_and_takes_max_backpressure() {
        use MetricKind::*;
        let snap = Snapshot {
            jobs: vec![job(
                "j",
                None,
                ok(vec![
                    sample("1", 0, MessagesRecv, 10, 1.5),
                    sample("1", 1, MessagesRecv, 10, 2.25),
                    sample("1", 2, MessagesRecv, 10, -0.75),
                    sample("2", 0, MessagesRecv, 10, 100.0),
                    sample("1", 0, BytesRecv, 10, 1e300),
                    sample("1", 1, BytesRecv, 10, 1e300),
                    sample("1", 0, Backpressure, 10, 0.2),
                    sample("1", 1, Backpressure, 10, 0.9),
                    sample("1", 2, Backpressure, 10, 0.4),
                    sample("2", 0, Backpressure, 10, f64::NAN),
                    sample("2", 1, Backpressure, 10, 0.3),
                ]),
            )],
            ..Snapshot::default()
        };
        let text = render_str(&snap, Format::OpenMetrics);
        let labels = |node: &str| {
            format!(
                r#"{{job_id="j",pipeline_id="",pipeline_name="",node_id="{node}",operator_name=""}}"#
            )
        };
        assert_eq!(
            lines_of(&text, "arroyo_operator_received_messages_per_second"),
            [
                format!(
                    "arroyo_operator_received_messages_per_second{} 3.0",
                    labels("1")
                ),
                format!(
                    "arroyo_operator_received_messages_per_second{} 100.0",
                    labels("2")
                ),
            ]
        );
        assert_eq!(
            lines_of(&text, "arroyo_operator_received_bytes_per_second"),
            [format!(
                "arroyo_operator_received_bytes_per_second{} 2e300",
                labels("1")
            )]
        );
        assert_eq!(
            lines_of(&text, "arroyo_operator_backpressure_ratio"),
            [
                format!("arroyo_operator_backpressure_ratio{} 0.9", labels("1")),
                format!("arroyo_operator_backpressure_ratio{} 0.3", labels("2")),
            ]
        );
        // Kinds without samples get no family at all; subtask series are off.
        assert!(!text.contains("sent_messages"));
        assert!(!text.contains("arroyo_subtask_"));
    }

    #[test]
    fn repeated_series_are_written_once_newest_wins() {
        use MetricKind::*;
        let snap = Snapshot {
            jobs: vec![
                job(
                    "j",
                    None,
                    ok(vec![
                        sample("1", 0, MessagesRecv, 10, 1.0),
                        sample("1", 0, MessagesRecv, 30, 3.0),
                        sample("1", 0, MessagesRecv, 20, 2.0),
                    ]),
                ),
                job("j", None, MetricsOutcome::Failed(ErrorKind::Decode)),
            ],
            subtask_series: true,
            ..Snapshot::default()
        };
        let text = render_str(&snap, Format::Text004);
        assert_eq!(
            lines_of(&text, "arroyo_subtask_received_messages_per_second").len(),
            1
        );
        assert!(text.contains(r#"subtask_idx="0"} 3.0"#));
        assert!(text.contains(r#"operator_name=""} 3.0"#));
        assert_eq!(
            lines_of(&text, "arroyo_exporter_job_scrape_success").len(),
            1
        );
        assert!(text.contains(
            r#"arroyo_exporter_job_scrape_success{job_id="j",pipeline_id="",pipeline_name=""} 1"#
        ));
    }

    #[test]
    fn nodes_sort_numerically_then_words_and_subtasks_numerically() {
        use MetricKind::*;
        let snap = Snapshot {
            jobs: vec![job(
                "j",
                None,
                ok(vec![
                    sample("10", 0, MessagesSent, 1, 1.0),
                    sample("word_b", 0, MessagesSent, 1, 1.0),
                    sample("9", 10, MessagesSent, 1, 1.0),
                    sample("9", 2, MessagesSent, 1, 1.0),
                    sample("word_a", 0, MessagesSent, 1, 1.0),
                    sample("+1", 0, MessagesSent, 1, 1.0),
                ]),
            )],
            subtask_series: true,
            ..Snapshot::default()
        };
        let text = render_str(&snap, Format::OpenMetrics);
        let order: Vec<(&str, &str)> = lines_of(&text, "arroyo_subtask_sent_messages_per_second")
            .into_iter()
            .map(|l| {
                let node = l
                    .split("node_id=\"")
                    .nth(1)
                    .unwrap()
                    .split('"')
                    .next()
                    .unwrap();
                let idx = l
                    .split("subtask_idx=\"")
                    .nth(1)
                    .unwrap()
                    .split('"')
                    .next()
                    .unwrap();
                (node, idx)
            })
            .collect();
        assert_eq!(
            order,
            [
                ("9", "2"),
                ("9", "10"),
                ("10", "0"),
                ("+1", "0"),
                ("word_a", "0"),
                ("word_b", "0")
            ]
        );
    }

    #[test]
    fn operator_name_is_description_truncated_to_128_chars() {
        let exact: String = "x".repeat(128);
        assert!(matches!(operator_name(&exact), Cow::Borrowed(s) if s == exact));
        assert_eq!(operator_name(""), "");

        let long = "y".repeat(129);
        let cut = operator_name(&long);
        assert_eq!(cut.chars().count(), 128);
        assert_eq!(cut, format!("{}…", "y".repeat(127)));

        // Multi-byte characters: counted as characters, cut between them.
        let accents = "é".repeat(128);
        assert_eq!(operator_name(&accents), accents);
        for unit in ["é", "🎉", "日本", "e\u{301}"] {
            let long = unit.repeat(200);
            let cut = operator_name(&long);
            assert_eq!(cut.chars().count(), 128, "{unit}");
            assert!(cut.ends_with('…'));
            assert!(long.starts_with(cut.trim_end_matches('…')));
        }

        // And in the output.
        let description = format!("{}\"tail", "ä".repeat(126));
        let snap = Snapshot {
            jobs: vec![job(
                "j",
                Some(pipeline("p", "n", &[("3", description.as_str())])),
                ok(vec![sample("3", 0, MetricKind::BytesRecv, 1, 1.0)]),
            )],
            ..Snapshot::default()
        };
        let text = render_str(&snap, Format::OpenMetrics);
        let expected = format!("operator_name=\"{}\\\"…\"}}", "ä".repeat(126));
        assert!(text.contains(&expected), "{text}");
    }

    #[test]
    fn unknown_node_has_empty_operator_name() {
        let snap = Snapshot {
            jobs: vec![job(
                "j",
                Some(pipeline("p", "n", &[("1", "Known")])),
                ok(vec![sample("2", 0, MetricKind::BytesRecv, 1, 1.0)]),
            )],
            ..Snapshot::default()
        };
        let text = render_str(&snap, Format::Text004);
        assert!(
            text.contains(r#"node_id="2",operator_name=""} 1.0"#),
            "{text}"
        );
    }
}
