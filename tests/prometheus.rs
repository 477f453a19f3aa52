//! A real Prometheus scrapes the exporter in both exposition formats (OpenMetrics, which
//! Prometheus asks for by default, and text 0.0.4) with no scrape error, and queries
//! prove the values and the escaped label values arrived intact.

mod common;

use std::time::Duration;

use arroyo_sim::{FakeArroyo, Release, SimNode, SimPipeline};
use common::prometheus::Prometheus;
use common::Exporter;

const NASTY: &str = "bids \"per\" auction \\ ünïcödé\nline2 ✓";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_both_formats_without_error() {
    let arroyo = FakeArroyo::start(Release::Main).await.unwrap();
    let now = common::now_micros();
    let state = arroyo.state();
    state.set_fixed_now(Some(now));
    common::add_running_job(
        state,
        SimPipeline::new(
            "pl_Prom000001",
            NASTY,
            vec![
                SimNode::new(0, "nexmark", "Nexmark<200 eps> \"q\"", 2),
                SimNode::new(3, "chained_op", "a \\ b\nc -> 日本語", 3),
            ],
        ),
        "job_Prom000001",
        now - 120_000_000,
    );
    let expected = state.expected_newest("job_Prom000001").unwrap();

    let mut cfg = common::config_for(&arroyo);
    // The simulated clock is frozen at start; keep its samples for the test's length.
    cfg.scrape.max_sample_age = Duration::from_secs(600);
    let om = Exporter::start(cfg.clone()).await;
    let mut text_cfg = cfg;
    text_cfg.web.openmetrics = false;
    let text = Exporter::start(text_cfg).await;

    // Confirm what each exporter answers to Prometheus's own Accept header.
    let s = om.scrape(Some(common::PROMETHEUS_ACCEPT)).await;
    assert!(s
        .content_type
        .starts_with("application/openmetrics-text; version=1.0.0"));
    let s = text.scrape(Some(common::PROMETHEUS_ACCEPT)).await;
    assert!(s.content_type.starts_with("text/plain; version=0.0.4"));

    let scrape_configs = format!(
        "  - job_name: arroyo-exporter\n    static_configs:\n      - targets: ['{}']\n        labels: {{format: openmetrics}}\n      - targets: ['{}']\n        labels: {{format: text}}\n",
        om.addr, text.addr
    );
    let prom = tokio::task::spawn_blocking(move || {
        let p = Prometheus::start(&scrape_configs, &[], "1s");
        let targets = p.wait_scraped(2, Duration::from_secs(30));
        (p, targets)
    })
    .await
    .unwrap();
    let (prom, targets) = prom;
    for t in &targets {
        assert_eq!(t["health"], "up", "target {t}");
        assert_eq!(t["lastError"], "", "target {t}");
    }

    let results = tokio::task::spawn_blocking(move || {
        let up = prom.wait_for("arroyo_up == 1", Duration::from_secs(10));
        let series =
            prom.query("arroyo_subtask_sent_messages_per_second{job_id=\"job_Prom000001\"}");
        let all = prom.query("{__name__=~\"arroyo_subtask_.*\", job_id=\"job_Prom000001\"}");
        let build = prom.query("arroyo_exporter_build_info");
        let scrape_up = prom.query("up{job=\"arroyo-exporter\"} == 1");
        let counters = prom.query("arroyo_exporter_scrapes_total");
        let op = prom.query("arroyo_operator_received_messages_per_second{node_id=\"3\"}");
        (up, series, all, build, scrape_up, counters, op)
    })
    .await
    .unwrap();
    let (up, series, all, build, scrape_up, counters, op) = results;
    assert_eq!(up.len(), 2, "arroyo_up in both formats: {up:?}");
    assert_eq!(scrape_up.len(), 2);
    assert_eq!(build.len(), 2, "{build:?}");
    assert_eq!(counters.len(), 2, "{counters:?}");
    assert_eq!(op.len(), 2, "{op:?}");
    assert_eq!(series.len(), 10, "5 subtasks x 2 formats: {series:?}");
    assert_eq!(all.len(), 50, "5 families x 5 subtasks x 2 formats");
    for s in &all {
        let m = &s["metric"];
        assert_eq!(m["pipeline_name"], NASTY, "escaped name round-trips: {m}");
        let node = m["node_id"].as_str().unwrap();
        let desc = if node == "0" {
            "Nexmark<200 eps> \"q\""
        } else {
            "a \\ b\nc -> 日本語"
        };
        assert_eq!(m["operator_name"], desc);
        let kind = match m["__name__"].as_str().unwrap() {
            "arroyo_subtask_received_messages_per_second" => "messages_recv",
            "arroyo_subtask_sent_messages_per_second" => "messages_sent",
            "arroyo_subtask_received_bytes_per_second" => "bytes_recv",
            "arroyo_subtask_sent_bytes_per_second" => "bytes_sent",
            "arroyo_subtask_backpressure_ratio" => "backpressure",
            other => panic!("unexpected family {other}"),
        };
        let idx: u32 = m["subtask_idx"].as_str().unwrap().parse().unwrap();
        let want = expected
            .iter()
            .find(|e| e.node_id == node && e.subtask_idx == idx && e.name.wire_name() == kind)
            .unwrap_or_else(|| panic!("no expected value for {m}"));
        let got: f64 = s["value"][1].as_str().unwrap().parse().unwrap();
        let tol = want.point.value.abs() * 1e-12;
        assert!(
            (got - want.point.value).abs() <= tol,
            "{m}: {got} vs {}",
            want.point.value
        );
    }
    om.stop().await;
    text.stop().await;
}
