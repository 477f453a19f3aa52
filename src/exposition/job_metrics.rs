//! The families read from the Arroyo controller's `JobMetrics` documents: the
//! per-subtask rates and backpressure, their per-operator aggregates, the newest
//! sample's time, and whether each job's document was fetched this scrape.

use super::view::JobView;
use super::{MetricType, Writer};
use crate::model::{JobMetrics, MetricKind, MetricsOutcome, Snapshot};

/// Name and help of the subtask and operator families, by [`MetricKind::index`].
struct RateFamily {
    subtask: &'static str,
    subtask_help: &'static str,
    operator: &'static str,
    operator_help: &'static str,
    unit: Option<&'static str>,
}

const RATE_FAMILIES: [RateFamily; 5] = [
    RateFamily {
        subtask: "arroyo_subtask_received_messages_per_second",
        subtask_help: "Messages per second received by the subtask: the Arroyo controller's EWMA per-second rate (messages_recv).",
        operator: "arroyo_operator_received_messages_per_second",
        operator_help: "Messages per second received by the operator: sum over its subtasks of the Arroyo controller's EWMA per-second rates (messages_recv).",
        unit: None,
    },
    RateFamily {
        subtask: "arroyo_subtask_sent_messages_per_second",
        subtask_help: "Messages per second sent by the subtask: the Arroyo controller's EWMA per-second rate (messages_sent).",
        operator: "arroyo_operator_sent_messages_per_second",
        operator_help: "Messages per second sent by the operator: sum over its subtasks of the Arroyo controller's EWMA per-second rates (messages_sent).",
        unit: None,
    },
    RateFamily {
        subtask: "arroyo_subtask_received_bytes_per_second",
        subtask_help: "Bytes per second received by the subtask: the Arroyo controller's EWMA per-second rate (bytes_recv).",
        operator: "arroyo_operator_received_bytes_per_second",
        operator_help: "Bytes per second received by the operator: sum over its subtasks of the Arroyo controller's EWMA per-second rates (bytes_recv).",
        unit: None,
    },
    RateFamily {
        subtask: "arroyo_subtask_sent_bytes_per_second",
        subtask_help: "Bytes per second sent by the subtask: the Arroyo controller's EWMA per-second rate (bytes_sent).",
        operator: "arroyo_operator_sent_bytes_per_second",
        operator_help: "Bytes per second sent by the operator: sum over its subtasks of the Arroyo controller's EWMA per-second rates (bytes_sent).",
        unit: None,
    },
    RateFamily {
        subtask: "arroyo_subtask_backpressure_ratio",
        subtask_help: "Backpressure of the subtask: fill ratio (0..1) of its output queue, as the Arroyo controller reports it (backpressure).",
        operator: "arroyo_operator_backpressure_ratio",
        operator_help: "Backpressure of the operator: highest output-queue fill ratio (0..1) among its subtasks, as the Arroyo controller reports it (backpressure).",
        unit: Some("ratio"),
    },
];

/// Writes the `JobMetrics` families of `views` (jobs by id): subtask series (when the
/// snapshot asks for them), operator aggregates, newest sample time, scrape success.
pub(super) fn render(w: &mut Writer<'_>, snapshot: &Snapshot, views: &[JobView<'_>]) {
    let mut idx = itoa::Buffer::new();
    if snapshot.subtask_series {
        for kind in MetricKind::ALL {
            let fam = &RATE_FAMILIES[kind.index()];
            w.family(fam.subtask, fam.subtask_help, MetricType::Gauge, fam.unit);
            for v in views {
                let [job, pid, pname] = v.labels();
                let start = v.samples.partition_point(|s| s.kind < kind);
                for s in v.samples[start..].iter().take_while(|s| s.kind == kind) {
                    let labels = [
                        job,
                        pid,
                        pname,
                        ("node_id", s.node_id.as_str()),
                        ("operator_name", v.operator_name(&s.node_id)),
                        ("subtask_idx", idx.format(s.subtask_idx)),
                    ];
                    w.sample(&labels, s.point.value);
                }
            }
        }
    }

    for kind in MetricKind::ALL {
        let fam = &RATE_FAMILIES[kind.index()];
        w.family(fam.operator, fam.operator_help, MetricType::Gauge, fam.unit);
        for v in views {
            let [job, pid, pname] = v.labels();
            let start = v.operators.partition_point(|o| o.kind < kind);
            for o in v.operators[start..].iter().take_while(|o| o.kind == kind) {
                let labels = [
                    job,
                    pid,
                    pname,
                    ("node_id", o.node_id),
                    ("operator_name", v.operator_name(o.node_id)),
                ];
                w.sample(&labels, o.value);
            }
        }
    }

    w.family(
        "arroyo_job_metrics_last_sample_timestamp_seconds",
        "Time of the newest point the Arroyo controller had for the job, in seconds since the Unix epoch.",
        MetricType::Gauge,
        Some("seconds"),
    );
    for v in views {
        if let Some(t) = v.metrics.and_then(JobMetrics::newest_time_micros) {
            w.sample(&v.labels(), t as f64 / 1e6);
        }
    }

    w.family(
        "arroyo_exporter_job_scrape_success",
        "1 when the job's metrics were fetched this scrape (or the source had none), 0 when the fetch or decode failed.",
        MetricType::Gauge,
        None,
    );
    for v in views {
        let success = match v.job.metrics {
            MetricsOutcome::Ok(_) | MetricsOutcome::NoMetrics => true,
            MetricsOutcome::Failed(_) => false,
            MetricsOutcome::Skipped => continue,
        };
        w.sample(&v.labels(), success);
    }
}

#[cfg(test)]
mod tests {
    use crate::arroyo::error::ErrorKind;
    use crate::exposition::test_support::{job, lines_of, ok, render_str, sample, small_snapshot};
    use crate::exposition::Format;
    use crate::model::{MetricKind, MetricsOutcome, Snapshot};

    #[test]
    fn subtask_series_can_be_turned_off() {
        let mut snap = small_snapshot();
        snap.subtask_series = false;
        for format in [Format::OpenMetrics, Format::Text004] {
            let text = render_str(&snap, format);
            assert!(!text.contains("arroyo_subtask_"));
            assert!(text.contains("arroyo_operator_sent_messages_per_second{"));
        }
    }

    #[test]
    fn job_labels_and_scrape_success_per_outcome() {
        let snap = Snapshot {
            jobs: vec![
                job("a", None, MetricsOutcome::NoMetrics),
                job("b", None, MetricsOutcome::Failed(ErrorKind::Connect)),
                job("c", None, MetricsOutcome::Skipped),
                job("d", None, ok(vec![])),
            ],
            ..Snapshot::default()
        };
        let text = render_str(&snap, Format::OpenMetrics);
        assert_eq!(
            lines_of(&text, "arroyo_exporter_job_scrape_success"),
            [
                r#"arroyo_exporter_job_scrape_success{job_id="a",pipeline_id="",pipeline_name=""} 1"#,
                r#"arroyo_exporter_job_scrape_success{job_id="b",pipeline_id="",pipeline_name=""} 0"#,
                r#"arroyo_exporter_job_scrape_success{job_id="d",pipeline_id="",pipeline_name=""} 1"#,
            ]
        );
        // No points, no timestamp family.
        assert!(!text.contains("arroyo_job_metrics_last_sample_timestamp_seconds"));
    }

    #[test]
    fn last_sample_timestamp_keeps_microseconds() {
        let snap = Snapshot {
            jobs: vec![job(
                "j",
                None,
                ok(vec![sample(
                    "0",
                    0,
                    MetricKind::BytesSent,
                    1_732_530_000_123_456,
                    1.0,
                )]),
            )],
            ..Snapshot::default()
        };
        let text = render_str(&snap, Format::OpenMetrics);
        assert!(text.contains(
            "arroyo_job_metrics_last_sample_timestamp_seconds{job_id=\"j\",pipeline_id=\"\",pipeline_name=\"\"} 1732530000.123456\n"
        ));
    }
}
