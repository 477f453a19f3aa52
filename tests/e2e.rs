//! End to end: the exporter (real HTTP server) against the simulated Arroyo (real tonic
//! gRPC server and real HTTP REST API), for every release shape, plus the failure cases.

mod common;

use std::time::Duration;

use arroyo_exporter::config::{Config, ControllerService, MetricsSource, StaticJob};
use arroyo_exporter::model::MetricKind;
use arroyo_sim::{
    fixture_world, ApiFaults, FakeArroyo, MetricsSource as SimMetrics, Release, RpcFaults,
    Scenario, SimNode, SimPipeline, BOTTLENECK_MOVE_PERIOD_MICROS,
};
use common::{fixtures, now_micros, Exporter, PROMETHEUS_ACCEPT};

const OM: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A config pointing at `arroyo`, with a short RPC deadline.
fn config_for(arroyo: &FakeArroyo) -> Config {
    let mut c = common::config_for(arroyo);
    c.controller.timeout = Duration::from_secs(3);
    c
}

fn family(kind: MetricKind) -> &'static str {
    match kind {
        MetricKind::MessagesRecv => "arroyo_subtask_received_messages_per_second",
        MetricKind::MessagesSent => "arroyo_subtask_sent_messages_per_second",
        MetricKind::BytesRecv => "arroyo_subtask_received_bytes_per_second",
        MetricKind::BytesSent => "arroyo_subtask_sent_bytes_per_second",
        MetricKind::Backpressure => "arroyo_subtask_backpressure_ratio",
    }
}

/// Newest point of every series of a captured document, computed independently of the
/// exporter's decoder: (node_id, subtask, metric name) → value.
fn newest_from_capture(doc: &str) -> Vec<(String, u64, String, f64)> {
    let v: serde_json::Value = serde_json::from_str(doc).unwrap();
    let mut out = Vec::new();
    for op in v.as_array().unwrap() {
        let node = op["node_id"].to_string();
        for g in op["metric_groups"].as_array().unwrap() {
            for s in g["subtasks"].as_array().unwrap() {
                let last = s["metrics"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .max_by_key(|p| p["time"].as_u64().unwrap())
                    .unwrap();
                out.push((
                    node.clone(),
                    s["index"].as_u64().unwrap(),
                    g["name"].as_str().unwrap().to_string(),
                    last["value"].as_f64().unwrap(),
                ));
            }
        }
    }
    out
}

fn wire_to_family(name: &str) -> &'static str {
    family(MetricKind::from_wire(name).unwrap())
}

async fn fixture_case(release: Release, dir: &str, job: &str, pipeline: &str) {
    let world = fixture_world(release, &fixtures()).unwrap();
    let arroyo = FakeArroyo::builder(release)
        .world(world)
        .start()
        .await
        .unwrap();
    let mut cfg = config_for(&arroyo);
    // The captures are hours old: switch the age guard off for them.
    cfg.scrape.max_sample_age = Duration::ZERO;
    let exporter = Exporter::start(cfg).await;
    let s = exporter.scrape(Some(PROMETHEUS_ACCEPT)).await;
    assert_eq!(s.status, 200);
    assert_eq!(s.content_type, OM);
    assert!(s.body.ends_with("# EOF\n"));
    assert_eq!(s.value("arroyo_up", &[]), 1.0);
    assert_eq!(
        s.value(
            "arroyo_exporter_collector_success",
            &[("collector", "job_metrics")]
        ),
        1.0
    );
    assert_eq!(
        s.value(
            "arroyo_exporter_collector_success",
            &[("collector", "discovery")]
        ),
        1.0
    );

    let doc = std::fs::read_to_string(fixtures().join(dir).join("job_metrics_rpc.json")).unwrap();
    let expected = newest_from_capture(&doc);
    assert_eq!(expected.len(), 40);
    let descriptions = [
        ("0", "Nexmark<200 eps>"),
        ("1", "nexmark -> watermark -> ArrowKey<_>"),
        ("4", "TumblingWindow<TumblingWindow> -> sink projection"),
        ("6", "Blackhole"),
    ];
    for (node, idx, name, value) in &expected {
        let desc = descriptions.iter().find(|d| d.0 == node).unwrap().1;
        let got = s.value(
            wire_to_family(name),
            &[
                ("job_id", job),
                ("pipeline_id", pipeline),
                ("pipeline_name", "nexmark_bids_per_auction"),
                ("node_id", node),
                ("operator_name", desc),
                ("subtask_idx", &idx.to_string()),
            ],
        );
        assert_eq!(got, *value, "{name} node {node} subtask {idx}");
    }
    for kind in MetricKind::ALL {
        assert_eq!(s.count(family(kind)), 8, "{kind:?}");
    }
    // The operator level sums the subtask rates.
    let sum: f64 = expected
        .iter()
        .filter(|e| e.0 == "0" && e.2 == "messages_sent")
        .map(|e| e.3)
        .sum();
    let op = s.value(
        "arroyo_operator_sent_messages_per_second",
        &[("job_id", job), ("node_id", "0")],
    );
    assert!(
        (op - sum).abs() < 1e-6 * sum.abs().max(1.0),
        "{op} vs {sum}"
    );

    // Roles and edges, read from the capture's graph on their own.
    let graph: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixtures().join(dir).join("pipeline.json")).unwrap())
            .unwrap();
    let edges: Vec<(String, String, String)> = graph["graph"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["src_id"].to_string(),
                e["dest_id"].to_string(),
                e["edge_type"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(s.count("arroyo_operator_edge_info"), edges.len());
    for (src, dst, kind) in &edges {
        let labels = [
            ("job_id", job),
            ("pipeline_id", pipeline),
            ("src_node_id", src.as_str()),
            ("dst_node_id", dst.as_str()),
            ("edge_type", kind.as_str()),
        ];
        assert_eq!(s.value("arroyo_operator_edge_info", &labels), 1.0);
    }
    let job_bp = |node: &str| {
        expected
            .iter()
            .filter(|e| e.0 == node && e.2 == "backpressure")
            .map(|e| e.3)
            .fold(f64::MIN, f64::max)
    };
    for (node, _) in descriptions {
        let incoming = edges.iter().any(|e| e.1 == node);
        let outgoing = edges.iter().any(|e| e.0 == node);
        let role = match (incoming, outgoing) {
            (false, _) => "source",
            (true, false) => "sink",
            (true, true) => "operator",
        };
        let info = [("job_id", job), ("node_id", node), ("role", role)];
        assert_eq!(s.value("arroyo_operator_info", &info), 1.0, "{node}");
        let named = edges
            .iter()
            .any(|e| e.1 == node && job_bp(&e.0) >= 0.5 && job_bp(node) < 0.5);
        assert_eq!(
            s.value(
                "arroyo_operator_bottleneck",
                &[("job_id", job), ("node_id", node)]
            ),
            f64::from(u8::from(named)),
            "{node}"
        );
    }
    assert_eq!(s.count("arroyo_operator_bottleneck"), 4);
    exporter.stop().await;
}

#[tokio::test]
async fn real_capture_main_every_subtask_series() {
    fixture_case(
        Release::Main,
        "arroyo-main-addb390",
        "job_DsH3Sq8cSj",
        "pl_89EzD1DdVl",
    )
    .await;
}

#[tokio::test]
async fn real_capture_v0_15_falls_back_to_controller_grpc() {
    fixture_case(
        Release::V0_15,
        "arroyo-v0.15.0",
        "job_sX6HjY6eoa",
        "pl_inmhsYVAPs",
    )
    .await;
}

/// A generated world with user text that needs escaping in names and descriptions.
fn nasty_world(arroyo: &FakeArroyo) -> (&'static str, &'static str) {
    let state = arroyo.state();
    state.set_fixed_now(Some(now_micros()));
    let name = "bids \"per\" auction \\ ünïcödé\nline2 ✓";
    common::add_running_job(
        state,
        SimPipeline::new(
            "pl_Nasty00001",
            name,
            vec![
                SimNode::new(0, "nexmark", "Nexmark<200 eps> \"quoted\"", 3),
                SimNode::new(5, "chained_op", "a \\ b\nc -> 日本語", 2),
            ],
        ),
        "job_Nasty00001",
        now_micros() - 60_000_000,
    );
    (name, "job_Nasty00001")
}

async fn generated_case(release: Release) {
    let arroyo = FakeArroyo::start(release).await.unwrap();
    let (name, job) = nasty_world(&arroyo);
    let exporter = Exporter::start(config_for(&arroyo)).await;
    for (accept, ct) in [
        (Some(PROMETHEUS_ACCEPT), OM),
        (None, TEXT),
        (Some("text/plain"), TEXT),
    ] {
        let s = exporter.scrape(accept).await;
        assert_eq!(s.status, 200);
        assert_eq!(s.content_type, ct, "{release:?} {accept:?}");
        let expected = arroyo.state().expected_newest(job).unwrap();
        assert_eq!(expected.len(), 25, "5 subtasks x 5 series");
        for e in &expected {
            let desc = if e.node_id.ends_with('0') || e.node_id == "0" {
                "Nexmark<200 eps> \"quoted\""
            } else {
                "a \\ b\nc -> 日本語"
            };
            let got = s.value(
                wire_to_family(e.name.wire_name()),
                &[
                    ("job_id", job),
                    ("pipeline_id", "pl_Nasty00001"),
                    ("pipeline_name", name),
                    ("node_id", &e.node_id),
                    ("operator_name", desc),
                    ("subtask_idx", &e.subtask_idx.to_string()),
                ],
            );
            assert_eq!(got, e.point.value, "{release:?} {e:?}");
        }
        // The graph's two nodes (word ids on v0.11): a source and a sink, one edge.
        let mut nodes: Vec<String> = expected.iter().map(|e| e.node_id.clone()).collect();
        nodes.dedup();
        let (src, dst) = (nodes[0].as_str(), nodes[1].as_str());
        let edge = [
            ("job_id", job),
            ("src_node_id", src),
            ("dst_node_id", dst),
            ("edge_type", "Forward"),
        ];
        assert_eq!(s.value("arroyo_operator_edge_info", &edge), 1.0);
        for (node, role) in [(src, "source"), (dst, "sink")] {
            let info = [("job_id", job), ("node_id", node), ("role", role)];
            assert_eq!(s.value("arroyo_operator_info", &info), 1.0, "{release:?}");
            let b = [("job_id", job), ("node_id", node)];
            assert_eq!(s.value("arroyo_operator_bottleneck", &b), 0.0);
        }
    }
    exporter.stop().await;
}

#[tokio::test]
async fn release_v0_11_camel_case_word_node_ids() {
    generated_case(Release::V0_11).await;
}

#[tokio::test]
async fn release_v0_13_camel_case_numeric_node_ids() {
    generated_case(Release::V0_13).await;
}

#[tokio::test]
async fn release_v0_15_snake_case() {
    generated_case(Release::V0_15).await;
}

#[tokio::test]
async fn release_main_job_controller() {
    generated_case(Release::Main).await;
}

#[tokio::test]
async fn gzip_when_asked() {
    let arroyo = FakeArroyo::start(Release::Main).await.unwrap();
    nasty_world(&arroyo);
    let exporter = Exporter::start(config_for(&arroyo)).await;
    let client = reqwest::Client::builder().no_gzip().build().unwrap();
    let resp = client
        .get(exporter.url("/metrics"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-encoding"], "gzip");
    let raw = resp.bytes().await.unwrap();
    let mut text = String::new();
    use std::io::Read;
    flate2::read::GzDecoder::new(&raw[..])
        .read_to_string(&mut text)
        .unwrap();
    assert!(text.contains("arroyo_subtask_sent_messages_per_second{"));
    exporter.stop().await;
}

#[tokio::test]
async fn controller_down_then_back() {
    let arroyo = FakeArroyo::start(Release::Main).await.unwrap();
    let (_, job) = nasty_world(&arroyo);
    let exporter = Exporter::start(config_for(&arroyo)).await;
    assert_eq!(exporter.scrape(None).await.value("arroyo_up", &[]), 1.0);

    arroyo.stop_rpc().await;
    let s = exporter.scrape(None).await;
    assert_eq!(s.status, 200);
    assert_eq!(s.value("arroyo_up", &[]), 0.0);
    assert_eq!(
        s.value(
            "arroyo_exporter_collector_success",
            &[("collector", "job_metrics")]
        ),
        0.0
    );
    assert_eq!(
        s.value(
            "arroyo_exporter_collector_success",
            &[("collector", "discovery")]
        ),
        1.0
    );
    assert_eq!(
        s.value("arroyo_exporter_job_scrape_success", &[("job_id", job)]),
        0.0
    );
    assert_eq!(s.count("arroyo_subtask_sent_messages_per_second"), 0);
    assert!(
        s.find(
            "arroyo_exporter_upstream_errors_total",
            &[("source", "controller")]
        )
        .iter()
        .any(|x| x.value >= 1.0),
        "{}",
        s.body
    );

    // A controller restart on the same port: the shared channel reconnects.
    arroyo.restart_rpc().await.unwrap();
    // A restarted controller collects afresh: let a few collection periods pass.
    arroyo.state().set_fixed_now(Some(now_micros() + 6_000_000));
    let mut up = 0.0;
    for _ in 0..20 {
        let s = exporter.scrape(None).await;
        up = s.value("arroyo_up", &[]);
        if up == 1.0 {
            assert_eq!(s.count("arroyo_subtask_sent_messages_per_second"), 5);
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        up, 1.0,
        "exporter did not recover after the controller restarted"
    );
    exporter.stop().await;
}

#[tokio::test]
async fn slow_controller_is_cut_at_the_prometheus_deadline() {
    let arroyo = FakeArroyo::start(Release::Main).await.unwrap();
    let (_, job) = nasty_world(&arroyo);
    common::add_running_job(
        arroyo.state(),
        SimPipeline::new("pl_Fast000001", "fast", common::source_only(1)),
        "job_Fast000001",
        now_micros() - 10_000_000,
    );
    arroyo
        .state()
        .set_rpc_faults(Some(job), RpcFaults::delay(Duration::from_secs(6)));
    let mut cfg = config_for(&arroyo);
    cfg.controller.timeout = Duration::from_secs(8);
    let exporter = Exporter::start(cfg).await;
    let s = exporter
        .scrape_with(None, &[("X-Prometheus-Scrape-Timeout-Seconds", "1.5")])
        .await;
    assert_eq!(s.status, 200);
    assert!(
        s.elapsed < Duration::from_millis(1900),
        "took {:?}",
        s.elapsed
    );
    assert_eq!(
        s.value("arroyo_exporter_job_scrape_success", &[("job_id", job)]),
        0.0
    );
    // The other job still answers, so the controller is up.
    assert_eq!(
        s.value(
            "arroyo_exporter_job_scrape_success",
            &[("job_id", "job_Fast000001")]
        ),
        1.0
    );
    assert_eq!(s.value("arroyo_up", &[]), 1.0);
    assert_eq!(s.count("arroyo_subtask_sent_messages_per_second"), 1);
    assert_eq!(
        s.value(
            "arroyo_exporter_collector_success",
            &[("collector", "job_metrics")]
        ),
        0.0
    );
    exporter.stop().await;
}

#[tokio::test]
async fn api_down_still_answers_and_static_jobs_keep_working() {
    let arroyo = FakeArroyo::start(Release::Main).await.unwrap();
    let (_, job) = nasty_world(&arroyo);
    arroyo.stop_api().await;
    let mut cfg = config_for(&arroyo);
    let exporter = Exporter::start(cfg.clone()).await;
    let s = exporter.scrape(None).await;
    assert_eq!(s.status, 200);
    assert_eq!(
        s.value(
            "arroyo_exporter_collector_success",
            &[("collector", "discovery")]
        ),
        0.0
    );
    // With no job to ask about, a probe call still tells the controller is up.
    assert_eq!(s.value("arroyo_up", &[]), 1.0);
    exporter.stop().await;

    cfg.scrape.jobs = vec![StaticJob {
        id: job.to_string(),
        pipeline_id: Some("pl_Nasty00001".into()),
        pipeline_name: Some("from config".into()),
    }];
    let exporter = Exporter::start(cfg).await;
    let s = exporter.scrape(None).await;
    assert_eq!(s.status, 200);
    assert_eq!(
        s.value(
            "arroyo_exporter_collector_success",
            &[("collector", "discovery")]
        ),
        0.0
    );
    assert_eq!(
        s.find(
            "arroyo_subtask_sent_messages_per_second",
            &[("job_id", job), ("pipeline_name", "from config")]
        )
        .len(),
        5
    );
    exporter.stop().await;
}

#[tokio::test]
async fn static_jobs_without_any_api() {
    let arroyo = FakeArroyo::start(Release::V0_13).await.unwrap();
    let (_, job) = nasty_world(&arroyo);
    let mut cfg = config_for(&arroyo);
    cfg.api.endpoint = None;
    cfg.scrape.jobs = vec![StaticJob {
        id: job.to_string(),
        pipeline_id: None,
        pipeline_name: None,
    }];
    let exporter = Exporter::start(cfg).await;
    let s = exporter.scrape(None).await;
    assert!(s
        .find(
            "arroyo_exporter_collector_success",
            &[("collector", "discovery")]
        )
        .is_empty());
    assert_eq!(
        s.find(
            "arroyo_subtask_sent_messages_per_second",
            &[("job_id", job)]
        )
        .len(),
        5
    );
    assert_eq!(arroyo.state().rest_call_counts().values().sum::<u64>(), 0);
    exporter.stop().await;
}

#[tokio::test]
async fn not_found_means_no_series_not_an_error() {
    let arroyo = FakeArroyo::start(Release::Main).await.unwrap();
    let (_, job) = nasty_world(&arroyo);
    arroyo
        .state()
        .with_job(job, |j| j.metrics = SimMetrics::None)
        .unwrap();
    let exporter = Exporter::start(config_for(&arroyo)).await;
    let s = exporter.scrape(None).await;
    assert_eq!(s.value("arroyo_up", &[]), 1.0);
    assert_eq!(
        s.value("arroyo_exporter_job_scrape_success", &[("job_id", job)]),
        1.0
    );
    assert_eq!(
        s.value(
            "arroyo_exporter_collector_success",
            &[("collector", "job_metrics")]
        ),
        1.0
    );
    assert_eq!(s.count("arroyo_subtask_sent_messages_per_second"), 0);
    assert!(s
        .find(
            "arroyo_exporter_upstream_errors_total",
            &[("source", "controller")]
        )
        .is_empty());
    exporter.stop().await;
}

#[tokio::test]
async fn unimplemented_fallback_and_forced_generations() {
    for (release, forced_ok, forced_bad) in [
        (
            Release::Main,
            ControllerService::JobController,
            ControllerService::Controller,
        ),
        (
            Release::V0_15,
            ControllerService::Controller,
            ControllerService::JobController,
        ),
    ] {
        let arroyo = FakeArroyo::start(release).await.unwrap();
        let (_, job) = nasty_world(&arroyo);
        for (service, works) in [
            (ControllerService::Auto, true),
            (forced_ok, true),
            (forced_bad, false),
        ] {
            let mut cfg = config_for(&arroyo);
            cfg.controller.service = service;
            let exporter = Exporter::start(cfg).await;
            for _ in 0..2 {
                let s = exporter.scrape(None).await;
                let n = s
                    .find(
                        "arroyo_subtask_sent_messages_per_second",
                        &[("job_id", job)],
                    )
                    .len();
                assert_eq!(n, if works { 5 } else { 0 }, "{release:?} {service:?}");
                if !works {
                    assert!(
                        s.value(
                            "arroyo_exporter_upstream_errors_total",
                            &[("source", "controller"), ("kind", "grpc_unimplemented")]
                        ) >= 1.0
                    );
                }
            }
            if service == ControllerService::Auto {
                let expect = if release == Release::Main {
                    "arroyo_rpc.JobControllerGrpc"
                } else {
                    "arroyo_rpc.ControllerGrpc"
                };
                assert_eq!(exporter.scraper.learned_service(), Some(expect));
            }
            exporter.stop().await;
        }
    }
}

#[tokio::test]
async fn malformed_document_fails_that_job_only() {
    let arroyo = FakeArroyo::start(Release::Main).await.unwrap();
    let (_, job) = nasty_world(&arroyo);
    common::add_running_job(
        arroyo.state(),
        SimPipeline::new("pl_Good000001", "good", common::source_only(2)),
        "job_Good000001",
        now_micros() - 10_000_000,
    );
    arroyo
        .state()
        .set_rpc_faults(Some(job), RpcFaults::malformed());
    let exporter = Exporter::start(config_for(&arroyo)).await;
    let s = exporter.scrape(None).await;
    assert_eq!(s.status, 200);
    assert_eq!(
        s.value("arroyo_exporter_job_scrape_success", &[("job_id", job)]),
        0.0
    );
    assert_eq!(
        s.value(
            "arroyo_exporter_job_scrape_success",
            &[("job_id", "job_Good000001")]
        ),
        1.0
    );
    assert_eq!(
        s.find(
            "arroyo_subtask_sent_messages_per_second",
            &[("job_id", "job_Good000001")]
        )
        .len(),
        2
    );
    assert_eq!(
        s.value(
            "arroyo_exporter_upstream_errors_total",
            &[("source", "controller"), ("kind", "decode")]
        ),
        1.0
    );
    assert_eq!(s.value("arroyo_up", &[]), 1.0);

    // Fixed upstream: the next scrape recovers.
    arroyo.state().clear_faults();
    let s = exporter.scrape(None).await;
    assert_eq!(
        s.find(
            "arroyo_subtask_sent_messages_per_second",
            &[("job_id", job)]
        )
        .len(),
        5
    );
    exporter.stop().await;
}

#[tokio::test]
async fn oversize_document_is_refused_and_marked() {
    let arroyo = FakeArroyo::start(Release::Main).await.unwrap();
    let (_, job) = nasty_world(&arroyo);
    arroyo
        .state()
        .set_rpc_faults(Some(job), RpcFaults::oversize(3 * 1024 * 1024));
    let mut cfg = config_for(&arroyo);
    cfg.controller.max_message_size = 1024 * 1024;
    let exporter = Exporter::start(cfg).await;
    let s = exporter.scrape(None).await;
    assert_eq!(s.status, 200);
    assert_eq!(
        s.value("arroyo_exporter_job_scrape_success", &[("job_id", job)]),
        0.0
    );
    assert_eq!(
        s.value(
            "arroyo_exporter_upstream_errors_total",
            &[("source", "controller"), ("kind", "too_large")]
        ),
        1.0
    );
    exporter.stop().await;
}

#[tokio::test]
async fn concurrent_scrapes_share_one_rpc_per_job() {
    let arroyo = FakeArroyo::start(Release::Main).await.unwrap();
    let (_, job) = nasty_world(&arroyo);
    arroyo
        .state()
        .set_rpc_faults(Some(job), RpcFaults::delay(Duration::from_millis(400)));
    let exporter = Exporter::start(config_for(&arroyo)).await;
    arroyo.state().reset_counters();
    let scrapes = (0..20).map(|_| exporter.scrape(None));
    let results = futures::future::join_all(scrapes).await;
    for s in &results {
        assert_eq!(s.status, 200);
        assert_eq!(
            s.find(
                "arroyo_subtask_sent_messages_per_second",
                &[("job_id", job)]
            )
            .len(),
            5
        );
    }
    assert_eq!(
        arroyo.state().rpc_calls(job),
        1,
        "20 concurrent scrapes, one RPC"
    );
    assert_eq!(
        arroyo.state().rest_calls("/api/v1/jobs"),
        1,
        "and one job listing"
    );
    exporter.stop().await;
}

#[tokio::test]
async fn pagination_token_and_pipeline_cache() {
    let arroyo = FakeArroyo::builder(Release::V0_13)
        .token("s3cret-token")
        .start()
        .await
        .unwrap();
    let state = arroyo.state();
    state.set_fixed_now(Some(now_micros()));
    for i in 0..35 {
        let pid = format!("pl_Page{i:06}");
        common::add_running_job(
            state,
            SimPipeline::new(
                pid,
                format!("pipeline {i}"),
                vec![SimNode::new(1, "source", format!("src {i}"), 1)],
            ),
            format!("job_Page{i:06}"),
            now_micros() - 10_000_000,
        );
    }
    let mut cfg = config_for(&arroyo);
    cfg.api.page_size = 10;
    cfg.api.token = Some("s3cret-token".into());
    let exporter = Exporter::start(cfg.clone()).await;
    state.reset_counters();
    let s = exporter.scrape(None).await;
    for i in 0..35 {
        let job = format!("job_Page{i:06}");
        let name = format!("pipeline {i}");
        let src = format!("src {i}");
        assert_eq!(
            s.find(
                "arroyo_subtask_sent_messages_per_second",
                &[
                    ("job_id", &job),
                    ("pipeline_name", &name),
                    ("operator_name", &src)
                ]
            )
            .len(),
            1,
            "{job}"
        );
    }
    assert_eq!(
        state.rest_calls("/api/v1/pipelines"),
        4,
        "35 pipelines in pages of 10"
    );
    // The next scrape reuses the cached graphs and lists only the jobs.
    state.reset_counters();
    exporter.scrape(None).await;
    assert_eq!(state.rest_calls("/api/v1/pipelines"), 0);
    assert_eq!(state.rest_calls("/api/v1/jobs"), 1);
    let landing = reqwest::get(exporter.url("/"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(landing.contains(env!("CARGO_PKG_VERSION")));
    assert!(landing.contains(&arroyo.rpc_url()));
    assert!(!landing.contains("s3cret-token"));
    exporter.stop().await;

    // A wrong token: discovery fails with 401, the scrape still answers.
    cfg.api.token = Some("wrong".into());
    let exporter = Exporter::start(cfg).await;
    let s = exporter.scrape(None).await;
    assert_eq!(s.status, 200);
    assert_eq!(
        s.value(
            "arroyo_exporter_collector_success",
            &[("collector", "discovery")]
        ),
        0.0
    );
    assert!(
        s.value(
            "arroyo_exporter_upstream_errors_total",
            &[("source", "api"), ("kind", "http_401")]
        ) >= 1.0
    );
    exporter.stop().await;
}

#[tokio::test]
async fn api_errors_are_marked_per_kind() {
    let arroyo = FakeArroyo::start(Release::Main).await.unwrap();
    nasty_world(&arroyo);
    let exporter = Exporter::start(config_for(&arroyo)).await;
    for (faults, kind) in [
        (
            ApiFaults {
                status: Some(500),
                ..ApiFaults::default()
            },
            "http_500",
        ),
        (
            ApiFaults {
                html_body: true,
                ..ApiFaults::default()
            },
            "decode",
        ),
        (
            ApiFaults {
                malformed_json: true,
                ..ApiFaults::default()
            },
            "decode",
        ),
        (
            ApiFaults {
                invalid_utf8: true,
                ..ApiFaults::default()
            },
            "decode",
        ),
    ] {
        arroyo.state().set_api_faults(faults);
        let s = exporter.scrape(None).await;
        assert_eq!(s.status, 200);
        assert_eq!(
            s.value(
                "arroyo_exporter_collector_success",
                &[("collector", "discovery")]
            ),
            0.0
        );
        assert!(
            s.value(
                "arroyo_exporter_upstream_errors_total",
                &[("source", "api"), ("kind", kind)]
            ) >= 1.0
        );
        arroyo.state().clear_faults();
        let s = exporter.scrape(None).await;
        assert_eq!(
            s.value(
                "arroyo_exporter_collector_success",
                &[("collector", "discovery")]
            ),
            1.0,
            "recovers after {kind}"
        );
    }
    exporter.stop().await;
}

#[tokio::test]
async fn stopped_job_with_frozen_rpc_data_is_not_exported() {
    let arroyo = FakeArroyo::start(Release::Main).await.unwrap();
    let (_, job) = nasty_world(&arroyo);
    let exporter = Exporter::start(config_for(&arroyo)).await;
    assert_eq!(
        exporter
            .scrape(None)
            .await
            .count("arroyo_subtask_sent_messages_per_second"),
        5
    );
    arroyo.state().set_job_state(job, "Stopped");
    arroyo.state().reset_counters();
    let s = exporter.scrape(None).await;
    assert_eq!(s.count("arroyo_subtask_sent_messages_per_second"), 0);
    assert_eq!(
        arroyo.state().rpc_calls(job),
        0,
        "a stopped job is not asked about"
    );
    exporter.stop().await;
}

#[tokio::test]
async fn stale_samples_are_dropped_and_counted() {
    let world = fixture_world(Release::Main, &fixtures()).unwrap();
    let arroyo = FakeArroyo::builder(Release::Main)
        .world(world)
        .start()
        .await
        .unwrap();
    let exporter = Exporter::start(config_for(&arroyo)).await;
    let s = exporter.scrape(None).await;
    assert_eq!(s.count("arroyo_subtask_sent_messages_per_second"), 0);
    assert_eq!(
        s.value("arroyo_exporter_stale_series_dropped_total", &[]),
        40.0
    );
    exporter.stop().await;
}

#[tokio::test]
async fn leader_mode_needs_the_rest_bridge() {
    let arroyo = FakeArroyo::start(Release::Main).await.unwrap();
    let (_, job) = nasty_world(&arroyo);
    arroyo.state().set_leader_mode(true);
    let exporter = Exporter::start(config_for(&arroyo)).await;
    let s = exporter.scrape(None).await;
    assert_eq!(
        s.count("arroyo_subtask_sent_messages_per_second"),
        0,
        "controller says NOT_FOUND"
    );
    exporter.stop().await;

    let mut cfg = config_for(&arroyo);
    cfg.scrape.metrics_source = MetricsSource::Rest;
    let exporter = Exporter::start(cfg).await;
    arroyo.state().reset_counters();
    let s = exporter.scrape(None).await;
    assert_eq!(
        s.find(
            "arroyo_subtask_sent_messages_per_second",
            &[("job_id", job)]
        )
        .len(),
        5
    );
    assert_eq!(s.value("arroyo_up", &[]), 1.0);
    assert_eq!(arroyo.state().total_rpc_calls(), 0);
    exporter.stop().await;
}

#[tokio::test]
async fn health_and_readiness_endpoints() {
    let arroyo = FakeArroyo::start(Release::Main).await.unwrap();
    let exporter = Exporter::start(config_for(&arroyo)).await;
    for p in ["/-/healthy", "/-/ready", "/"] {
        let r = reqwest::get(exporter.url(p)).await.unwrap();
        assert_eq!(r.status(), 200, "{p}");
    }
    assert_eq!(
        reqwest::get(exporter.url("/nope")).await.unwrap().status(),
        404
    );
    exporter.stop().await;
}

#[tokio::test]
async fn one_failed_pipeline_job_list_keeps_the_others_named() {
    // v0.15 jobs carry no pipeline id: the exporter maps them through each pipeline's
    // job list. One of those lists failing must not lose the others.
    let arroyo = FakeArroyo::start(Release::V0_15).await.unwrap();
    let state = arroyo.state();
    state.set_fixed_now(Some(now_micros()));
    for (pid, jid, name) in [
        ("pl_Good000001", "job_Good000001", "good"),
        ("pl_Bad0000001", "job_Bad0000001", "bad"),
    ] {
        common::add_running_job(
            state,
            SimPipeline::new(pid, name, vec![SimNode::new(0, "src", "source", 1)]),
            jid,
            now_micros() - 10_000_000,
        );
    }
    state.set_api_faults(ApiFaults {
        path_contains: Some("/pipelines/pl_Bad0000001/jobs".into()),
        status: Some(500),
        ..ApiFaults::default()
    });
    let exporter = Exporter::start(config_for(&arroyo)).await;
    let s = exporter.scrape(None).await;
    assert_eq!(s.status, 200);
    assert_eq!(
        s.value(
            "arroyo_exporter_collector_success",
            &[("collector", "topology")]
        ),
        0.0
    );
    assert_eq!(
        s.find(
            "arroyo_subtask_sent_messages_per_second",
            &[
                ("job_id", "job_Good000001"),
                ("pipeline_name", "good"),
                ("operator_name", "source")
            ]
        )
        .len(),
        1,
        "{}",
        s.body
    );
    // The failing list recovers: the next scrape names both.
    state.clear_faults();
    let s = exporter.scrape(None).await;
    assert_eq!(
        s.value(
            "arroyo_exporter_collector_success",
            &[("collector", "topology")]
        ),
        1.0
    );
    assert_eq!(
        s.find(
            "arroyo_subtask_sent_messages_per_second",
            &[("job_id", "job_Bad0000001"), ("pipeline_name", "bad")]
        )
        .len(),
        1
    );
    exporter.stop().await;
}

/// The bottleneck of `job` in `s`: the node ids whose `arroyo_operator_bottleneck` is 1,
/// after checking that every node of `nodes` has exactly one 0 or 1.
fn bottleneck_of(s: &common::Scrape, job: &str, nodes: &[&str]) -> Vec<String> {
    assert_eq!(
        s.find("arroyo_operator_bottleneck", &[("job_id", job)])
            .len(),
        nodes.len(),
        "{}",
        s.body
    );
    let mut named = Vec::new();
    for node in nodes {
        let v = s.value(
            "arroyo_operator_bottleneck",
            &[("job_id", job), ("node_id", node)],
        );
        assert!(v == 0.0 || v == 1.0, "{node}: {v}");
        if v == 1.0 {
            named.push(node.to_string());
        }
    }
    named
}

/// The simulator's bottleneck-moves scenario, scraped through the exporter: the node
/// after the source first, then the node before the sink, then back; the other job and
/// the steady scenario have none. Word node ids (v0.11) and numbers (main).
#[tokio::test]
async fn bottleneck_moves_with_the_simulator() {
    for (release, nodes) in [
        (Release::Main, ["0", "1", "4", "6"]),
        (Release::V0_11, ["source_0", "value_1", "value_4", "sink_6"]),
    ] {
        let arroyo = FakeArroyo::start(release).await.unwrap();
        let state = arroyo.state();
        let now = now_micros();
        state.set_fixed_now(Some(now));
        for (pid, jid) in [
            ("pl_Bottle0001", "job_Bottle0001"),
            ("pl_Other00001", "job_Other00001"),
        ] {
            common::add_running_job(
                state,
                SimPipeline::new(
                    pid,
                    "chain",
                    vec![
                        SimNode::new(0, "nexmark", "src", 2),
                        SimNode::new(1, "chained_op", "map", 2),
                        SimNode::new(4, "chained_op", "window", 2),
                        SimNode::new(6, "blackhole", "sink", 2),
                    ],
                ),
                jid,
                now - 600_000_000,
            );
        }
        let exporter = Exporter::start(config_for(&arroyo)).await;
        let s = exporter.scrape(Some(PROMETHEUS_ACCEPT)).await;
        assert!(bottleneck_of(&s, "job_Bottle0001", &nodes).is_empty());

        state.set_scenario(Scenario::BottleneckMoves);
        let period = BOTTLENECK_MOVE_PERIOD_MICROS;
        let mut seen = Vec::new();
        for (offset, want) in [
            (10_000_000, nodes[1]),
            (period + 10_000_000, nodes[2]),
            (2 * period + 10_000_000, nodes[1]),
        ] {
            state.set_fixed_now(Some(now + offset));
            let s = exporter.scrape(Some(PROMETHEUS_ACCEPT)).await;
            assert_eq!(
                bottleneck_of(&s, "job_Bottle0001", &nodes),
                [want],
                "{release:?} at +{offset} µs"
            );
            assert!(bottleneck_of(&s, "job_Other00001", &nodes).is_empty());
            // The operators upstream of the bottleneck carry the backpressure.
            let upstream = s.value(
                "arroyo_operator_backpressure_ratio",
                &[("job_id", "job_Bottle0001"), ("node_id", nodes[0])],
            );
            assert!(upstream >= 0.8, "{upstream}");
            seen.push(want);
        }
        assert_ne!(seen[0], seen[1], "the bottleneck moves");

        state.set_scenario(Scenario::Steady);
        state.set_fixed_now(Some(now + 2 * period + 20_000_000));
        let s = exporter.scrape(Some(PROMETHEUS_ACCEPT)).await;
        assert!(bottleneck_of(&s, "job_Bottle0001", &nodes).is_empty());
        exporter.stop().await;
    }
}
