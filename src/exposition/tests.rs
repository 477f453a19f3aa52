//! Tests of [`super::render`] as a whole: the golden outputs in both formats,
//! determinism, user text end to end, and the families every scrape has.

use super::test_support::{job, lines_of, ok, pipeline, render_str, sample, small_snapshot};
use super::{render, Format};
use crate::model::{MetricKind, Snapshot};

const GOLDEN_OPENMETRICS: &str = r##"# TYPE arroyo_up gauge
# HELP arroyo_up 1 when the Arroyo metrics source (controller RPC or REST bridge) answered this scrape, else 0.
arroyo_up 1
# TYPE arroyo_subtask_received_messages_per_second gauge
# HELP arroyo_subtask_received_messages_per_second Messages per second received by the subtask: the Arroyo controller's EWMA per-second rate (messages_recv).
arroyo_subtask_received_messages_per_second{job_id="job_a",pipeline_id="pl_1",pipeline_name="orders",node_id="4",operator_name="Blackhole",subtask_idx="0"} 10.5
# TYPE arroyo_subtask_sent_messages_per_second gauge
# HELP arroyo_subtask_sent_messages_per_second Messages per second sent by the subtask: the Arroyo controller's EWMA per-second rate (messages_sent).
arroyo_subtask_sent_messages_per_second{job_id="job_a",pipeline_id="pl_1",pipeline_name="orders",node_id="0",operator_name="Nexmark<200 eps>",subtask_idx="0"} 2.0
arroyo_subtask_sent_messages_per_second{job_id="job_a",pipeline_id="pl_1",pipeline_name="orders",node_id="0",operator_name="Nexmark<200 eps>",subtask_idx="1"} 3.0
# TYPE arroyo_subtask_backpressure_ratio gauge
# UNIT arroyo_subtask_backpressure_ratio ratio
# HELP arroyo_subtask_backpressure_ratio Backpressure of the subtask: fill ratio (0..1) of its output queue, as the Arroyo controller reports it (backpressure).
arroyo_subtask_backpressure_ratio{job_id="job_a",pipeline_id="pl_1",pipeline_name="orders",node_id="0",operator_name="Nexmark<200 eps>",subtask_idx="0"} 0.25
arroyo_subtask_backpressure_ratio{job_id="job_a",pipeline_id="pl_1",pipeline_name="orders",node_id="0",operator_name="Nexmark<200 eps>",subtask_idx="1"} 0.5
# TYPE arroyo_operator_received_messages_per_second gauge
# HELP arroyo_operator_received_messages_per_second Messages per second received by the operator: sum over its subtasks of the Arroyo controller's EWMA per-second rates (messages_recv).
arroyo_operator_received_messages_per_second{job_id="job_a",pipeline_id="pl_1",pipeline_name="orders",node_id="4",operator_name="Blackhole"} 10.5
# TYPE arroyo_operator_sent_messages_per_second gauge
# HELP arroyo_operator_sent_messages_per_second Messages per second sent by the operator: sum over its subtasks of the Arroyo controller's EWMA per-second rates (messages_sent).
arroyo_operator_sent_messages_per_second{job_id="job_a",pipeline_id="pl_1",pipeline_name="orders",node_id="0",operator_name="Nexmark<200 eps>"} 5.0
# TYPE arroyo_operator_backpressure_ratio gauge
# UNIT arroyo_operator_backpressure_ratio ratio
# HELP arroyo_operator_backpressure_ratio Backpressure of the operator: highest output-queue fill ratio (0..1) among its subtasks, as the Arroyo controller reports it (backpressure).
arroyo_operator_backpressure_ratio{job_id="job_a",pipeline_id="pl_1",pipeline_name="orders",node_id="0",operator_name="Nexmark<200 eps>"} 0.5
# TYPE arroyo_job_metrics_last_sample_timestamp_seconds gauge
# UNIT arroyo_job_metrics_last_sample_timestamp_seconds seconds
# HELP arroyo_job_metrics_last_sample_timestamp_seconds Time of the newest point the Arroyo controller had for the job, in seconds since the Unix epoch.
arroyo_job_metrics_last_sample_timestamp_seconds{job_id="job_a",pipeline_id="pl_1",pipeline_name="orders"} 1732530002.0
# TYPE arroyo_exporter_job_scrape_success gauge
# HELP arroyo_exporter_job_scrape_success 1 when the job's metrics were fetched this scrape (or the source had none), 0 when the fetch or decode failed.
arroyo_exporter_job_scrape_success{job_id="job_0",pipeline_id="pl_9",pipeline_name=""} 0
arroyo_exporter_job_scrape_success{job_id="job_a",pipeline_id="pl_1",pipeline_name="orders"} 1
# TYPE arroyo_exporter_collector_success gauge
# HELP arroyo_exporter_collector_success 1 when the collector fully succeeded this scrape, else 0.
arroyo_exporter_collector_success{collector="discovery"} 0
arroyo_exporter_collector_success{collector="job_metrics"} 1
# TYPE arroyo_exporter_collector_duration_seconds gauge
# UNIT arroyo_exporter_collector_duration_seconds seconds
# HELP arroyo_exporter_collector_duration_seconds Time the collector took this scrape, in seconds.
arroyo_exporter_collector_duration_seconds{collector="discovery"} 0.125
arroyo_exporter_collector_duration_seconds{collector="job_metrics"} 0.25
# TYPE arroyo_exporter_build info
# HELP arroyo_exporter_build Version and git revision of the running arroyo-exporter; always 1.
arroyo_exporter_build_info{version="0.1.0",revision="abc123"} 1
# TYPE arroyo_exporter_scrapes counter
# HELP arroyo_exporter_scrapes Scrapes served since the exporter started.
arroyo_exporter_scrapes_total 3
# TYPE arroyo_exporter_upstream_errors counter
# HELP arroyo_exporter_upstream_errors Failed calls to Arroyo since the exporter started, by upstream and error kind.
arroyo_exporter_upstream_errors_total{source="controller",kind="timeout"} 2
# TYPE arroyo_exporter_upstream_requests counter
# HELP arroyo_exporter_upstream_requests Calls to Arroyo since the exporter started, by upstream.
arroyo_exporter_upstream_requests_total{source="api"} 7
arroyo_exporter_upstream_requests_total{source="controller"} 5
# TYPE arroyo_exporter_unknown_metric_groups counter
# HELP arroyo_exporter_unknown_metric_groups Metric groups with a name the exporter does not know, skipped since it started.
arroyo_exporter_unknown_metric_groups_total 1
# TYPE arroyo_exporter_null_values counter
# HELP arroyo_exporter_null_values Null values in Arroyo's metrics documents, skipped since the exporter started.
arroyo_exporter_null_values_total 0
# TYPE arroyo_exporter_stale_series_dropped counter
# HELP arroyo_exporter_stale_series_dropped Series not exported because their newest point was older than the maximum sample age, since the exporter started.
arroyo_exporter_stale_series_dropped_total 0
# TYPE process_start_time_seconds gauge
# UNIT process_start_time_seconds seconds
# HELP process_start_time_seconds Start time of the process since the Unix epoch, in seconds.
process_start_time_seconds 1700000000.5
# TYPE process_resident_memory_bytes gauge
# UNIT process_resident_memory_bytes bytes
# HELP process_resident_memory_bytes Resident memory size, in bytes.
process_resident_memory_bytes 1048576
# TYPE process_cpu_seconds counter
# UNIT process_cpu_seconds seconds
# HELP process_cpu_seconds Total user and system CPU time spent, in seconds.
process_cpu_seconds_total 1.25
# TYPE process_open_fds gauge
# HELP process_open_fds Number of open file descriptors.
process_open_fds 12
# EOF
"##;

const GOLDEN_TEXT004: &str = r##"# HELP arroyo_up 1 when the Arroyo metrics source (controller RPC or REST bridge) answered this scrape, else 0.
# TYPE arroyo_up gauge
arroyo_up 1
# HELP arroyo_subtask_received_messages_per_second Messages per second received by the subtask: the Arroyo controller's EWMA per-second rate (messages_recv).
# TYPE arroyo_subtask_received_messages_per_second gauge
arroyo_subtask_received_messages_per_second{job_id="job_a",pipeline_id="pl_1",pipeline_name="orders",node_id="4",operator_name="Blackhole",subtask_idx="0"} 10.5
# HELP arroyo_subtask_sent_messages_per_second Messages per second sent by the subtask: the Arroyo controller's EWMA per-second rate (messages_sent).
# TYPE arroyo_subtask_sent_messages_per_second gauge
arroyo_subtask_sent_messages_per_second{job_id="job_a",pipeline_id="pl_1",pipeline_name="orders",node_id="0",operator_name="Nexmark<200 eps>",subtask_idx="0"} 2.0
arroyo_subtask_sent_messages_per_second{job_id="job_a",pipeline_id="pl_1",pipeline_name="orders",node_id="0",operator_name="Nexmark<200 eps>",subtask_idx="1"} 3.0
# HELP arroyo_subtask_backpressure_ratio Backpressure of the subtask: fill ratio (0..1) of its output queue, as the Arroyo controller reports it (backpressure).
# TYPE arroyo_subtask_backpressure_ratio gauge
arroyo_subtask_backpressure_ratio{job_id="job_a",pipeline_id="pl_1",pipeline_name="orders",node_id="0",operator_name="Nexmark<200 eps>",subtask_idx="0"} 0.25
arroyo_subtask_backpressure_ratio{job_id="job_a",pipeline_id="pl_1",pipeline_name="orders",node_id="0",operator_name="Nexmark<200 eps>",subtask_idx="1"} 0.5
# HELP arroyo_operator_received_messages_per_second Messages per second received by the operator: sum over its subtasks of the Arroyo controller's EWMA per-second rates (messages_recv).
# TYPE arroyo_operator_received_messages_per_second gauge
arroyo_operator_received_messages_per_second{job_id="job_a",pipeline_id="pl_1",pipeline_name="orders",node_id="4",operator_name="Blackhole"} 10.5
# HELP arroyo_operator_sent_messages_per_second Messages per second sent by the operator: sum over its subtasks of the Arroyo controller's EWMA per-second rates (messages_sent).
# TYPE arroyo_operator_sent_messages_per_second gauge
arroyo_operator_sent_messages_per_second{job_id="job_a",pipeline_id="pl_1",pipeline_name="orders",node_id="0",operator_name="Nexmark<200 eps>"} 5.0
# HELP arroyo_operator_backpressure_ratio Backpressure of the operator: highest output-queue fill ratio (0..1) among its subtasks, as the Arroyo controller reports it (backpressure).
# TYPE arroyo_operator_backpressure_ratio gauge
arroyo_operator_backpressure_ratio{job_id="job_a",pipeline_id="pl_1",pipeline_name="orders",node_id="0",operator_name="Nexmark<200 eps>"} 0.5
# HELP arroyo_job_metrics_last_sample_timestamp_seconds Time of the newest point the Arroyo controller had for the job, in seconds since the Unix epoch.
# TYPE arroyo_job_metrics_last_sample_timestamp_seconds gauge
arroyo_job_metrics_last_sample_timestamp_seconds{job_id="job_a",pipeline_id="pl_1",pipeline_name="orders"} 1732530002.0
# HELP arroyo_exporter_job_scrape_success 1 when the job's metrics were fetched this scrape (or the source had none), 0 when the fetch or decode failed.
# TYPE arroyo_exporter_job_scrape_success gauge
arroyo_exporter_job_scrape_success{job_id="job_0",pipeline_id="pl_9",pipeline_name=""} 0
arroyo_exporter_job_scrape_success{job_id="job_a",pipeline_id="pl_1",pipeline_name="orders"} 1
# HELP arroyo_exporter_collector_success 1 when the collector fully succeeded this scrape, else 0.
# TYPE arroyo_exporter_collector_success gauge
arroyo_exporter_collector_success{collector="discovery"} 0
arroyo_exporter_collector_success{collector="job_metrics"} 1
# HELP arroyo_exporter_collector_duration_seconds Time the collector took this scrape, in seconds.
# TYPE arroyo_exporter_collector_duration_seconds gauge
arroyo_exporter_collector_duration_seconds{collector="discovery"} 0.125
arroyo_exporter_collector_duration_seconds{collector="job_metrics"} 0.25
# HELP arroyo_exporter_build_info Version and git revision of the running arroyo-exporter; always 1.
# TYPE arroyo_exporter_build_info gauge
arroyo_exporter_build_info{version="0.1.0",revision="abc123"} 1
# HELP arroyo_exporter_scrapes_total Scrapes served since the exporter started.
# TYPE arroyo_exporter_scrapes_total counter
arroyo_exporter_scrapes_total 3
# HELP arroyo_exporter_upstream_errors_total Failed calls to Arroyo since the exporter started, by upstream and error kind.
# TYPE arroyo_exporter_upstream_errors_total counter
arroyo_exporter_upstream_errors_total{source="controller",kind="timeout"} 2
# HELP arroyo_exporter_upstream_requests_total Calls to Arroyo since the exporter started, by upstream.
# TYPE arroyo_exporter_upstream_requests_total counter
arroyo_exporter_upstream_requests_total{source="api"} 7
arroyo_exporter_upstream_requests_total{source="controller"} 5
# HELP arroyo_exporter_unknown_metric_groups_total Metric groups with a name the exporter does not know, skipped since it started.
# TYPE arroyo_exporter_unknown_metric_groups_total counter
arroyo_exporter_unknown_metric_groups_total 1
# HELP arroyo_exporter_null_values_total Null values in Arroyo's metrics documents, skipped since the exporter started.
# TYPE arroyo_exporter_null_values_total counter
arroyo_exporter_null_values_total 0
# HELP arroyo_exporter_stale_series_dropped_total Series not exported because their newest point was older than the maximum sample age, since the exporter started.
# TYPE arroyo_exporter_stale_series_dropped_total counter
arroyo_exporter_stale_series_dropped_total 0
# HELP process_start_time_seconds Start time of the process since the Unix epoch, in seconds.
# TYPE process_start_time_seconds gauge
process_start_time_seconds 1700000000.5
# HELP process_resident_memory_bytes Resident memory size, in bytes.
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 1048576
# HELP process_cpu_seconds_total Total user and system CPU time spent, in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 1.25
# HELP process_open_fds Number of open file descriptors.
# TYPE process_open_fds gauge
process_open_fds 12
"##;

#[test]
fn golden_openmetrics() {
    assert_eq!(
        render_str(&small_snapshot(), Format::OpenMetrics),
        GOLDEN_OPENMETRICS
    );
}

#[test]
fn golden_text004() {
    assert_eq!(
        render_str(&small_snapshot(), Format::Text004),
        GOLDEN_TEXT004
    );
}

#[test]
fn render_appends_and_is_deterministic() {
    let snap = small_snapshot();
    let mut reversed = snap.clone();
    reversed.jobs.reverse();
    reversed.collectors.reverse();
    reversed.exporter.upstream_requests.reverse();
    for format in [Format::OpenMetrics, Format::Text004] {
        assert_eq!(render_str(&snap, format), render_str(&reversed, format));
        let mut out = b"prefix\n".to_vec();
        render(&snap, format, &mut out);
        assert!(out.starts_with(b"prefix\n# "));
    }
}

#[test]
fn escaping_of_user_text() {
    let nasty = "a\"b\\c\nd ünï 🎉 \\n \r\t";
    let snap = Snapshot {
        jobs: vec![job(
            "job_\"x\"",
            Some(pipeline("pl_\\1", nasty, &[("7", "say \"hi\"\\\n")])),
            ok(vec![sample("7", 0, MetricKind::BytesSent, 1, 1.0)]),
        )],
        subtask_series: true,
        ..Snapshot::default()
    };
    let expected = concat!(
        r#"arroyo_subtask_sent_bytes_per_second{job_id="job_\"x\"",pipeline_id="pl_\\1","#,
        r#"pipeline_name="a\"b\\c\nd ünï 🎉 \\n "#,
        "\r\t",
        r#"",node_id="7",operator_name="say \"hi\"\\\n",subtask_idx="0"} 1.0"#
    );
    for format in [Format::OpenMetrics, Format::Text004] {
        let text = render_str(&snap, format);
        assert_eq!(
            lines_of(&text, "arroyo_subtask_sent_bytes_per_second"),
            [expected],
            "{format:?}"
        );
    }
}

#[test]
fn empty_snapshot_has_only_always_present_families() {
    let snap = Snapshot::default();
    let om = render_str(&snap, Format::OpenMetrics);
    let types: Vec<&str> = om.lines().filter(|l| l.starts_with("# TYPE ")).collect();
    assert_eq!(
        types,
        [
            "# TYPE arroyo_up gauge",
            "# TYPE arroyo_exporter_build info",
            "# TYPE arroyo_exporter_scrapes counter",
            "# TYPE arroyo_exporter_unknown_metric_groups counter",
            "# TYPE arroyo_exporter_null_values counter",
            "# TYPE arroyo_exporter_stale_series_dropped counter",
            "# TYPE process_start_time_seconds gauge",
        ]
    );
    assert!(om.starts_with("# TYPE arroyo_up gauge\n"));
    assert!(om.contains("\narroyo_up 0\n"));
    assert!(om.ends_with("\n# EOF\n"));
    assert!(!render_str(&snap, Format::Text004).contains("EOF"));
}
