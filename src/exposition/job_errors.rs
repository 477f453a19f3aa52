//! The job error families, from the rows of each job's error log counted so far: a
//! counter per error domain and operator, and the time of the newest row.

use super::view::JobView;
use super::{MetricType, Writer};
use crate::model::Snapshot;

/// Writes the job error families of `views` (jobs by id) that have counts.
pub(super) fn render(w: &mut Writer<'_>, snapshot: &Snapshot, views: &[JobView<'_>]) {
    w.family(
        "arroyo_job_errors",
        "Rows of the job's error log (Arroyo rate-limits them: an undercount) seen by this exporter, by error domain (unknown before Arroyo main) and reporting operator (empty when none).",
        MetricType::Counter,
        None,
    );
    for v in views {
        let Some(c) = snapshot.job_errors.get(&v.job.job.id) else {
            continue;
        };
        let [a, b, cc] = v.labels();
        for ((domain, operator), n) in &c.counts {
            w.sample(
                &[
                    a,
                    b,
                    cc,
                    ("error_domain", domain.as_str()),
                    ("operator_id", operator.as_str()),
                ],
                *n,
            );
        }
    }
    w.family(
        "arroyo_job_last_error_timestamp_seconds",
        "When the newest row of the job's error log was written, in seconds since the Unix epoch.",
        MetricType::Gauge,
        Some("seconds"),
    );
    for v in views {
        if let Some(t) = snapshot
            .job_errors
            .get(&v.job.job.id)
            .and_then(|c| c.last_error_seconds)
        {
            w.sample(&v.labels(), t);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::exposition::test_support::{job, lines_of, render_str};
    use crate::exposition::Format;
    use crate::model::{JobErrorCounts, MetricsOutcome, Snapshot};

    #[test]
    fn counts_by_domain_and_operator() {
        let snap = Snapshot {
            jobs: vec![job("j", None, MetricsOutcome::Skipped)],
            job_errors: [(
                "j".to_string(),
                JobErrorCounts {
                    counts: [
                        (("user".to_string(), "value_1".to_string()), 3),
                        (("internal".to_string(), String::new()), 1),
                    ]
                    .into(),
                    last_error_seconds: Some(1_795_608_670.5),
                },
            )]
            .into(),
            ..Snapshot::default()
        };
        let l = r#"job_id="j",pipeline_id="",pipeline_name="""#;
        for (format, om) in [(Format::OpenMetrics, true), (Format::Text004, false)] {
            let text = render_str(&snap, format);
            assert_eq!(
                lines_of(&text, "arroyo_job_errors_total"),
                [
                    format!(
                        r#"arroyo_job_errors_total{{{l},error_domain="internal",operator_id=""}} 1"#
                    ),
                    format!(
                        r#"arroyo_job_errors_total{{{l},error_domain="user",operator_id="value_1"}} 3"#
                    ),
                ]
            );
            assert_eq!(
                lines_of(&text, "arroyo_job_last_error_timestamp_seconds"),
                [format!(
                    "arroyo_job_last_error_timestamp_seconds{{{l}}} 1795608670.5"
                )]
            );
            assert_eq!(text.contains("# TYPE arroyo_job_errors counter\n"), om);
        }
    }
}
