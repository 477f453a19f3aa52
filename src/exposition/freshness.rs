//! The freshness families: when the budgeted collectors last read each job (and the
//! admin port), the calls per second each may make, and the refresh period that implies.
//! With these, a rule can tell a stalled job from one not re-read yet.

use super::view::JobView;
use super::{MetricType, Writer};
use crate::model::Snapshot;

/// Writes the freshness families of `views` (jobs by id).
pub(super) fn render(w: &mut Writer<'_>, snapshot: &Snapshot, views: &[JobView<'_>]) {
    let f = &snapshot.freshness;
    w.family(
        "arroyo_exporter_job_read_timestamp_seconds",
        "When the collector last read this job from Arroyo's API (its values are as of then), in seconds since the Unix epoch.",
        MetricType::Gauge,
        Some("seconds"),
    );
    for v in views {
        let Some(reads) = f.jobs.get(&v.job.job.id) else {
            continue;
        };
        let [a, b, c] = v.labels();
        for (collector, t) in reads.each() {
            w.sample(&[a, b, c, ("collector", collector)], t);
        }
    }
    w.family(
        "arroyo_exporter_read_timestamp_seconds",
        "When the collector last read Arroyo (collectors not per job), in seconds since the Unix epoch.",
        MetricType::Gauge,
        Some("seconds"),
    );
    if let Some(t) = f.admin_read_seconds {
        w.sample(&[("collector", "admin")], t);
    }
    w.family(
        "arroyo_exporter_api_calls_per_second_limit",
        "Calls per second the collector may make to Arroyo's API, on average (its budget).",
        MetricType::Gauge,
        None,
    );
    for (collector, rate, _) in &f.budgets {
        w.sample(&[("collector", *collector)], *rate);
    }
    w.family(
        "arroyo_exporter_refresh_period_seconds",
        "How long the collector's budget takes to read every job it covers once: how old a job's values may get, in seconds.",
        MetricType::Gauge,
        Some("seconds"),
    );
    for (collector, _, period) in &f.budgets {
        w.sample(&[("collector", *collector)], *period);
    }
}

#[cfg(test)]
mod tests {
    use crate::exposition::test_support::{job, lines_of, render_str};
    use crate::exposition::Format;
    use crate::model::{Freshness, JobReads, MetricsOutcome, Snapshot};

    #[test]
    fn reads_budgets_and_periods() {
        let mut snap = Snapshot {
            jobs: vec![job("j", None, MetricsOutcome::NoMetrics)],
            ..Snapshot::default()
        };
        let text = render_str(&snap, Format::OpenMetrics);
        assert!(lines_of(&text, "arroyo_exporter_job_read_timestamp_seconds").is_empty());
        snap.freshness = Freshness {
            jobs: [(
                "j".to_string(),
                JobReads {
                    checkpoints: Some(1_700_000_000.5),
                    checkpoint_details: None,
                    job_errors: Some(1_700_000_001.0),
                },
            )]
            .into(),
            budgets: vec![("checkpoints", 4.0, 250.0)],
            admin_read_seconds: Some(1_700_000_002.0),
        };
        let text = render_str(&snap, Format::OpenMetrics);
        let reads = lines_of(&text, "arroyo_exporter_job_read_timestamp_seconds");
        assert_eq!(reads.len(), 2, "{text}");
        assert!(reads[0].contains(r#"collector="checkpoints""#), "{reads:?}");
        assert!(reads[0].contains(r#"job_id="j""#), "{reads:?}");
        assert!(reads[0].ends_with(" 1700000000.5"), "{reads:?}");
        assert!(reads[1].contains(r#"collector="job_errors""#), "{reads:?}");
        assert_eq!(
            lines_of(&text, "arroyo_exporter_refresh_period_seconds"),
            [r#"arroyo_exporter_refresh_period_seconds{collector="checkpoints"} 250.0"#]
        );
        assert_eq!(
            lines_of(&text, "arroyo_exporter_api_calls_per_second_limit"),
            [r#"arroyo_exporter_api_calls_per_second_limit{collector="checkpoints"} 4.0"#]
        );
        assert_eq!(
            lines_of(&text, "arroyo_exporter_read_timestamp_seconds"),
            [r#"arroyo_exporter_read_timestamp_seconds{collector="admin"} 1700000002.0"#]
        );
    }
}
