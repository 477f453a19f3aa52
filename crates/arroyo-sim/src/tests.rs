//! Tests of the simulator servers (real sockets on 127.0.0.1).

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use tonic::codec::CompressionEncoding;
use tonic::transport::Channel;
use tonic::Code;

use super::*;
use crate::pb::controller_grpc_client::ControllerGrpcClient;
use crate::pb::job_controller_grpc_client::JobControllerGrpcClient;
use crate::pb::JobMetricsReq;

const NOW: u64 = 1_795_608_672_000_000;
const PID: &str = "pl_89EzD1DdVl";
const JID: &str = "job_DsH3Sq8cSj";

/// Starts `release` with one pipeline (nodes 0, 1, 4, 6; parallelism 2) and one Running
/// job with generated metrics, at a fixed "now".
async fn start_world(release: Release) -> FakeArroyo {
    let arroyo = FakeArroyo::start(release).await.unwrap();
    let s = arroyo.state();
    s.set_fixed_now(Some(NOW));
    s.add_pipeline(SimPipeline::new(
        PID,
        "nexmark_bids_per_auction",
        vec![
            SimNode::new(0, "nexmark", "Nexmark<200 eps>", 2),
            SimNode::new(1, "chained_op", "nexmark -> watermark -> ArrowKey<_>", 2),
            SimNode::new(
                4,
                "chained_op",
                "TumblingWindow<TumblingWindow> -> sink projection",
                2,
            ),
            SimNode::new(6, "blackhole", "Blackhole", 2),
        ],
    ));
    s.add_job(SimJob::running(JID, PID, NOW - 182_000_000));
    arroyo
}

async fn channel(url: &str) -> Channel {
    Channel::from_shared(url.to_string())
        .unwrap()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(10))
        .connect()
        .await
        .unwrap()
}

/// Calls `JobMetrics` on the given generation (`true` = JobControllerGrpc).
async fn call(ch: Channel, job_controller: bool, job_id: &str) -> Result<String, tonic::Status> {
    let req = JobMetricsReq {
        job_id: job_id.to_string(),
    };
    let resp = if job_controller {
        JobControllerGrpcClient::new(ch)
            .max_decoding_message_size(usize::MAX)
            .job_metrics(req)
            .await?
    } else {
        ControllerGrpcClient::new(ch)
            .max_decoding_message_size(usize::MAX)
            .job_metrics(req)
            .await?
    };
    Ok(resp.into_inner().metrics)
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn get_json(url: &str) -> (u16, Value) {
    let r = http().get(url).send().await.unwrap();
    let status = r.status().as_u16();
    let body = r.bytes().await.unwrap();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn each_release_answers_on_its_generation_only() {
    for release in Release::ALL {
        let arroyo = start_world(release).await;
        let ch = channel(&arroyo.rpc_url()).await;
        let main = release == Release::Main;
        let doc = call(ch.clone(), main, JID).await.unwrap();
        let v: Value = serde_json::from_str(&doc).unwrap();
        let ops = v.as_array().unwrap();
        assert_eq!(ops.len(), 4, "{release}");
        let key = match release {
            Release::V0_11 => "operatorId",
            Release::V0_13 => "nodeId",
            _ => "node_id",
        };
        assert!(ops.iter().all(|o| o.get(key).is_some()), "{release}: {key}");
        let err = call(ch.clone(), !main, JID).await.unwrap_err();
        assert_eq!(err.code(), Code::Unimplemented, "{release}");
        let nf = call(ch, main, "job_unknown0").await.unwrap_err();
        assert_eq!(nf.code(), Code::NotFound);
        assert_eq!(nf.message(), "No metrics for job");
        assert_eq!(arroyo.state().rpc_calls(JID), 1);
        assert_eq!(arroyo.state().rpc_calls("job_unknown0"), 1);
        arroyo.shutdown().await;
    }
}

#[tokio::test]
async fn document_matches_expected_newest() {
    let arroyo = start_world(Release::Main).await;
    let expected = arroyo.state().expected_newest(JID).unwrap();
    assert_eq!(expected.len(), 40);
    let doc = call(channel(&arroyo.rpc_url()).await, true, JID)
        .await
        .unwrap();
    let v: Value = serde_json::from_str(&doc).unwrap();
    let mut found = 0;
    for op in v.as_array().unwrap() {
        let node = op["node_id"].as_u64().unwrap().to_string();
        for g in op["metric_groups"].as_array().unwrap() {
            let kind = MetricName::from_wire(g["name"].as_str().unwrap()).unwrap();
            for s in g["subtasks"].as_array().unwrap() {
                let idx = s["index"].as_u64().unwrap() as u32;
                let pts = s["metrics"].as_array().unwrap();
                // 182 s of collection: 91 samples; rates one fewer.
                let want = if kind == MetricName::Backpressure {
                    91
                } else {
                    90
                };
                assert_eq!(pts.len(), want);
                let last = pts.last().unwrap();
                let e = expected
                    .iter()
                    .find(|e| e.node_id == node && e.subtask_idx == idx && e.name == kind)
                    .unwrap();
                assert_eq!(last["time"].as_u64().unwrap(), e.point.time_micros);
                assert_eq!(last["value"].as_f64().unwrap(), e.point.value);
                found += 1;
            }
        }
    }
    assert_eq!(found, 40);
}

#[tokio::test]
async fn zstd_both_ways() {
    let arroyo = start_world(Release::V0_15).await;
    let client = ControllerGrpcClient::new(channel(&arroyo.rpc_url()).await)
        .send_compressed(CompressionEncoding::Zstd)
        .accept_compressed(CompressionEncoding::Zstd);
    let resp = client
        .clone()
        .job_metrics(JobMetricsReq {
            job_id: JID.to_string(),
        })
        .await
        .unwrap();
    assert_eq!(
        resp.metadata()
            .get("grpc-encoding")
            .and_then(|v| v.to_str().ok()),
        Some("zstd")
    );
    assert!(resp.into_inner().metrics.starts_with("[{\"node_id\":"));
    // Without accept-encoding: plain.
    let plain = ControllerGrpcClient::new(channel(&arroyo.rpc_url()).await)
        .job_metrics(JobMetricsReq {
            job_id: JID.to_string(),
        })
        .await
        .unwrap();
    assert!(plain.metadata().get("grpc-encoding").is_none());
}

#[tokio::test]
async fn rpc_faults() {
    let arroyo = start_world(Release::Main).await;
    let s = arroyo.state();
    let ch = channel(&arroyo.rpc_url()).await;

    s.set_rpc_faults(
        Some(JID),
        RpcFaults::status(Code::Unavailable, "overloaded"),
    );
    let e = call(ch.clone(), true, JID).await.unwrap_err();
    assert_eq!((e.code(), e.message()), (Code::Unavailable, "overloaded"));

    s.clear_faults();
    s.set_rpc_faults(None, RpcFaults::status(Code::Internal, "boom"));
    assert_eq!(
        call(ch.clone(), true, JID).await.unwrap_err().code(),
        Code::Internal
    );
    // A per-job entry replaces the global one.
    s.set_rpc_faults(Some(JID), RpcFaults::default());
    assert!(call(ch.clone(), true, JID).await.is_ok());

    s.clear_faults();
    s.set_rpc_faults(None, RpcFaults::not_found());
    assert_eq!(
        call(ch.clone(), true, JID).await.unwrap_err().code(),
        Code::NotFound
    );

    s.clear_faults();
    s.set_rpc_faults(Some(JID), RpcFaults::malformed());
    let doc = call(ch.clone(), true, JID).await.unwrap();
    assert!(serde_json::from_str::<Value>(&doc).is_err());

    s.set_rpc_faults(Some(JID), RpcFaults::oversize(6 << 20));
    let big = call(ch.clone(), true, JID).await.unwrap();
    assert!(big.len() >= 6 << 20);
    assert!(serde_json::from_str::<Value>(&big).is_ok());
    // tonic's default 4 MiB decode limit refuses it.
    let e = JobControllerGrpcClient::new(ch.clone())
        .job_metrics(JobMetricsReq {
            job_id: JID.to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::OutOfRange, "{e:?}");

    s.set_rpc_faults(Some(JID), RpcFaults::delay(Duration::from_secs(3)));
    let mut client = JobControllerGrpcClient::new(ch.clone());
    let mut req = tonic::Request::new(JobMetricsReq {
        job_id: JID.to_string(),
    });
    req.set_timeout(Duration::from_millis(200));
    let t = std::time::Instant::now();
    let e = client.job_metrics(req).await.unwrap_err();
    assert_eq!(e.code(), Code::Cancelled, "{e:?}");
    assert!(t.elapsed() < Duration::from_secs(2));

    s.clear_faults();
    s.set_leader_mode(true);
    assert_eq!(
        call(ch.clone(), true, JID).await.unwrap_err().code(),
        Code::NotFound
    );
    let (status, body) = get_json(&format!(
        "{}/api/v1/pipelines/{PID}/jobs/{JID}/operator_metric_groups",
        arroyo.api_url()
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["data"].as_array().unwrap().len(), 4);
    assert!(s.rpc_calls(JID) >= 9);
}

#[tokio::test]
async fn restart_rpc_keeps_port_and_kills_connections() {
    let arroyo = start_world(Release::V0_15).await;
    let s = arroyo.state();
    // A stopped job keeps frozen metrics while the controller lives.
    s.add_job(SimJob {
        state: "Stopped".into(),
        running_desired: false,
        finish_time: Some(NOW - 60_000_000),
        ..SimJob::running("job_stopped001", PID, NOW - 300_000_000)
    });
    let port = arroyo.rpc_addr().port();
    let ch = channel(&arroyo.rpc_url()).await;
    assert!(call(ch.clone(), false, "job_stopped001").await.is_ok());
    assert!(call(ch.clone(), false, JID).await.is_ok());

    arroyo.stop_rpc().await;
    assert!(tokio::net::TcpStream::connect(arroyo.rpc_addr())
        .await
        .is_err());
    let e = call(ch.clone(), false, JID).await.unwrap_err();
    assert_eq!(e.code(), Code::Unavailable, "{e:?}");

    arroyo.restart_rpc().await.unwrap();
    assert_eq!(arroyo.rpc_addr().port(), port);
    // The same channel reconnects.
    let mut ok = false;
    for _ in 0..50 {
        if call(ch.clone(), false, JID).await.is_ok() {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ok);
    // After a controller restart the stopped job has no metrics; the running one has
    // restarted collection (no points yet at the fixed "now").
    let e = call(ch.clone(), false, "job_stopped001").await.unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    let doc = call(ch, false, JID).await.unwrap();
    assert!(doc.contains("\"subtasks\":[]"));

    // The REST API, too.
    let api_port = arroyo.api_addr().port();
    arroyo.stop_api().await;
    assert!(http()
        .get(format!("{}/api/v1/jobs", arroyo.api_url()))
        .send()
        .await
        .is_err());
    arroyo.restart_api().await.unwrap();
    assert_eq!(arroyo.api_addr().port(), api_port);
    let (status, _) = get_json(&format!("{}/api/v1/jobs", arroyo.api_url())).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn rest_shapes_per_release() {
    for release in Release::ALL {
        let arroyo = start_world(release).await;
        let s = arroyo.state();
        s.with_job(JID, |j| {
            j.failure_message = Some("oops".into());
            j.failure_domain = Some("user".into());
        });
        s.update(|w| {
            w.pipelines[0].tags.insert("team".into(), "a".into());
        });
        let base = format!("{}/api/v1", arroyo.api_url());
        let (st, jobs) = get_json(&format!("{base}/jobs")).await;
        assert_eq!(st, 200);
        let job = &jobs["data"][0];
        let (st, p) = get_json(&format!("{base}/pipelines/{PID}")).await;
        assert_eq!(st, 200);
        let node0 = &p["graph"]["nodes"][0];
        match release {
            Release::Main => {
                assert_eq!(job["pipeline_id"], PID);
                assert_eq!(job["failure_reason"]["domain"], "user");
                assert_eq!(job["running_desired"], true);
                assert_eq!(p["tags"]["team"], "a");
                assert_eq!(node0["node_id"], 0);
            }
            Release::V0_15 => {
                assert!(job.get("pipeline_id").is_none());
                assert_eq!(job["failure_message"], "oops");
                assert!(p.get("tags").is_none());
                assert_eq!(p["checkpoint_interval_micros"], 10_000_000);
            }
            Release::V0_13 => {
                assert_eq!(job["runningDesired"], true);
                assert_eq!(job["failureMessage"], "oops");
                assert_eq!(p["checkpointIntervalMicros"], 10_000_000);
                assert_eq!(node0["nodeId"], 0);
            }
            Release::V0_11 => {
                assert_eq!(node0["nodeId"], "source_0");
                assert_eq!(p["graph"]["nodes"][3]["nodeId"], "sink_6");
                assert_eq!(p["graph"]["edges"][0]["srcId"], "source_0");
            }
        }
        // Every release serves the graph's edges, in its casing and with its node ids.
        let (node_key, src_key, dst_key, type_key) = match release {
            Release::Main | Release::V0_15 => ("node_id", "src_id", "dest_id", "edge_type"),
            Release::V0_13 | Release::V0_11 => ("nodeId", "srcId", "destId", "edgeType"),
        };
        let ids: Vec<&serde_json::Value> = p["graph"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| &n[node_key])
            .collect();
        let edges = p["graph"]["edges"].as_array().unwrap();
        assert_eq!(edges.len(), ids.len() - 1, "{release:?}");
        for (i, e) in edges.iter().enumerate() {
            assert_eq!(&e[src_key], ids[i], "{release:?} {e}");
            assert_eq!(&e[dst_key], ids[i + 1], "{release:?} {e}");
            assert!(
                matches!(e[type_key].as_str(), Some("Forward" | "Shuffle")),
                "{e}"
            );
        }
        let (st, pj) = get_json(&format!("{base}/pipelines/{PID}/jobs")).await;
        assert_eq!((st, pj["data"].as_array().unwrap().len()), (200, 1));
        let (st, _) = get_json(&format!("{base}/pipelines/pl_nope/jobs")).await;
        assert_eq!(st, 404);
        // Metrics bridge: same document as the RPC; empty when no metrics.
        let omg = format!("{base}/pipelines/{PID}/jobs/{JID}/operator_metric_groups");
        let (st, body) = get_json(&omg).await;
        assert_eq!(st, 200);
        assert_eq!(body["data"].as_array().unwrap().len(), 4);
        s.set_job_metrics(JID, MetricsSource::None);
        let (_, body) = get_json(&omg).await;
        assert_eq!(body, serde_json::json!({"data": []}));
        assert_eq!(
            s.rest_calls(&format!(
                "/api/v1/pipelines/{PID}/jobs/{JID}/operator_metric_groups"
            )),
            2
        );
        assert_eq!(s.rest_calls("/api/v1/jobs"), 1);
        arroyo.shutdown().await;
    }
}

#[tokio::test]
async fn checkpoints_and_live_checkpointing() {
    let arroyo = start_world(Release::Main).await;
    let s = arroyo.state();
    s.update(|w| w.live = true);
    let url = format!(
        "{}/api/v1/pipelines/{PID}/jobs/{JID}/checkpoints",
        arroyo.api_url()
    );
    let (st, body) = get_json(&url).await;
    assert_eq!(st, 200);
    let cps = body["data"].as_array().unwrap();
    // 182 s at a 10 s interval: 12 kept (of 18 completed).
    assert_eq!(cps.len(), CHECKPOINTS_KEPT);
    assert_eq!(cps.last().unwrap()["epoch"], 18);
    assert_eq!(cps.last().unwrap()["checkpoint_type"], "scheduled");
    assert!(cps.last().unwrap()["finish_time"].is_u64());
    s.set_fixed_now(Some(NOW + 20_000_000));
    let (_, body) = get_json(&url).await;
    assert_eq!(
        body["data"].as_array().unwrap().last().unwrap()["epoch"],
        20
    );
}

#[tokio::test]
async fn pagination() {
    let arroyo = FakeArroyo::start(Release::V0_15).await.unwrap();
    let s = arroyo.state();
    for i in 0..25 {
        s.add_pipeline(SimPipeline::new(
            format!("pl_{i:010}"),
            format!("p{i}"),
            vec![SimNode::new(0, "impulse", "Impulse", 1)],
        ));
    }
    let base = format!("{}/api/v1/pipelines", arroyo.api_url());
    // Default page size (10): three pages.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let url = match &after {
            Some(a) => format!("{base}?starting_after={a}"),
            None => base.clone(),
        };
        let (st, body) = get_json(&url).await;
        assert_eq!(st, 200);
        pages += 1;
        let data = body["data"].as_array().unwrap();
        seen.extend(data.iter().map(|p| p["id"].as_str().unwrap().to_string()));
        after = seen.last().cloned();
        if !body["hasMore"].as_bool().unwrap() {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 25);
    let (_, body) = get_json(&format!("{base}?limit=25")).await;
    assert_eq!(body["data"].as_array().unwrap().len(), 25);
    assert_eq!(body["hasMore"], false);
    let (_, body) = get_json(&format!("{base}?limit=7&starting_after=pl_0000000020")).await;
    assert_eq!(body["data"].as_array().unwrap().len(), 4);
    assert_eq!(body["hasMore"], false);
    let (st, _) = get_json(&format!("{base}?limit=x")).await;
    assert_eq!(st, 400);
    assert_eq!(s.rest_calls("/api/v1/pipelines"), 6);
}

#[tokio::test]
async fn token_required() {
    let arroyo = FakeArroyo::builder(Release::Main)
        .token("s3cret")
        .start()
        .await
        .unwrap();
    let url = format!("{}/api/v1/jobs", arroyo.api_url());
    let r = http().get(&url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = http().get(&url).bearer_auth("wrong").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = http().get(&url).bearer_auth("s3cret").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.text().await.unwrap(), "{\"data\":[]}");
    arroyo.state().set_api_token(None);
    assert_eq!(
        http().get(&url).send().await.unwrap().status().as_u16(),
        200
    );
}

#[tokio::test]
async fn api_faults() {
    let arroyo = start_world(Release::Main).await;
    let s = arroyo.state();
    let jobs = format!("{}/api/v1/jobs", arroyo.api_url());
    let pipes = format!("{}/api/v1/pipelines", arroyo.api_url());

    s.set_api_faults(ApiFaults {
        status: Some(500),
        ..Default::default()
    });
    assert_eq!(
        http().get(&jobs).send().await.unwrap().status().as_u16(),
        500
    );

    s.set_api_faults(ApiFaults {
        status: Some(401),
        path_contains: Some("/jobs".into()),
        ..Default::default()
    });
    assert_eq!(
        http().get(&jobs).send().await.unwrap().status().as_u16(),
        401
    );
    assert_eq!(
        http().get(&pipes).send().await.unwrap().status().as_u16(),
        200
    );

    s.set_api_faults(ApiFaults {
        html_body: true,
        ..Default::default()
    });
    let r = http().get(&jobs).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(r.text().await.unwrap().starts_with("<!DOCTYPE html>"));

    s.set_api_faults(ApiFaults {
        malformed_json: true,
        ..Default::default()
    });
    let b = http()
        .get(&jobs)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(serde_json::from_slice::<Value>(&b).is_err());

    s.set_api_faults(ApiFaults {
        invalid_utf8: true,
        ..Default::default()
    });
    let b = http()
        .get(&jobs)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(std::str::from_utf8(&b).is_err());

    s.set_api_faults(ApiFaults {
        delay: Some(Duration::from_secs(3)),
        ..Default::default()
    });
    let slow = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    assert!(slow.get(&jobs).send().await.unwrap_err().is_timeout());

    s.clear_faults();
    let (st, body) = get_json(&jobs).await;
    assert_eq!((st, body["data"][0]["id"].as_str()), (200, Some(JID)));
}

#[tokio::test]
async fn scenario_over_http_and_controller_down() {
    let world = demo_world(Release::Main, 3, 2, 7, super::state::system_now_micros());
    let arroyo = FakeArroyo::builder(Release::Main)
        .world(world)
        .start()
        .await
        .unwrap();
    let api = arroyo.api_url();
    let (st, body) = get_json(&format!("{api}/sim/scenario")).await;
    assert_eq!((st, body["scenario"].as_str()), (200, Some("steady")));
    let ch = channel(&arroyo.rpc_url()).await;
    let victim = arroyo.state().lock().jobs[0].id.clone();
    assert!(call(ch.clone(), true, &victim).await.is_ok());

    let r = http()
        .post(format!("{api}/sim/scenario/controller-down"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let mut down = false;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(arroyo.rpc_addr())
            .await
            .is_err()
        {
            down = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(down);
    let (st, _) = get_json(&format!(
        "{api}/api/v1/pipelines/{}/jobs/{victim}/operator_metric_groups",
        arroyo.state().lock().jobs[0].pipeline_id
    ))
    .await;
    assert_eq!(st, 500);

    let r = http()
        .post(format!("{api}/sim/scenario/job-failed"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let (_, jobs) = get_json(&format!("{api}/api/v1/jobs")).await;
    assert_eq!(jobs["data"][0]["state"], "Failed");
    assert_eq!(jobs["data"][0]["failure_reason"]["domain"], "user");
    assert_eq!(jobs["data"][1]["state"], "Running");
    // The controller is back.
    let mut up = false;
    for _ in 0..100 {
        if call(ch.clone(), true, &victim).await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(up);

    let r = http()
        .post(format!("{api}/sim/scenario/nonsense"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(arroyo.state().scenario(), Scenario::JobFailed);
}

/// The real captures kept in the repository root's `tests/fixtures` (two levels above this
/// crate), or `$ARROYO_FIXTURES_DIR`; their absence fails the test.
fn fixtures_dir() -> PathBuf {
    let dir = std::env::var_os("ARROYO_FIXTURES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures"))
        });
    assert!(
        dir.join("arroyo-main-addb390/jobs.json").exists(),
        "fixtures not found in {} (set ARROYO_FIXTURES_DIR)",
        dir.display()
    );
    dir
}

#[tokio::test]
async fn fixture_worlds_serve_the_captures() {
    let dir = fixtures_dir();
    for (release, sub) in [
        (Release::Main, "arroyo-main-addb390"),
        (Release::V0_15, "arroyo-v0.15.0"),
    ] {
        let world = fixture_world(release, &dir).unwrap();
        let job_id = world.jobs[0].id.clone();
        let pid = world.pipelines[0].id.clone();
        assert_eq!(
            world.pipelines[0]
                .nodes
                .iter()
                .map(|n| n.node_id)
                .collect::<Vec<_>>(),
            [0, 1, 4, 6]
        );
        let arroyo = FakeArroyo::builder(release)
            .world(world)
            .start()
            .await
            .unwrap();
        let doc = call(
            channel(&arroyo.rpc_url()).await,
            release == Release::Main,
            &job_id,
        )
        .await
        .unwrap();
        let want = std::fs::read_to_string(dir.join(sub).join("job_metrics_rpc.json")).unwrap();
        assert_eq!(doc, want);
        let (st, jobs) =
            get_json(&format!("{}/api/v1/pipelines/{pid}/jobs", arroyo.api_url())).await;
        assert_eq!(st, 200);
        assert_eq!(jobs["data"][0]["id"], job_id.as_str());
        assert!(jobs["data"][0]["start_time"].as_u64().is_some());
        let epoch = if release == Release::Main { 17 } else { 12 };
        let groups = format!(
            "{}/api/v1/pipelines/{pid}/jobs/{job_id}/checkpoints/{epoch}/operator_checkpoint_groups",
            arroyo.api_url()
        );
        let body = http()
            .get(&groups)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if release == Release::Main {
            let want = std::fs::read_to_string(
                dir.join(sub)
                    .join("operator_checkpoint_groups_epoch17.json"),
            )
            .unwrap();
            assert_eq!(body, want);
        } else {
            // No capture: generated, per chained operator.
            let v: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(v["data"][1]["operator_id"], "value_1");
        }
    }
    assert!(fixture_world(Release::V0_13, &dir).is_err());
}

#[tokio::test]
async fn error_log_pages_and_admin_details() {
    let arroyo = start_world(Release::V0_13).await;
    let s = arroyo.state();
    assert!(s.add_error_burst(JID, "value_1", 2, 25, NOW, 200_000));
    let url = |q: &str| {
        format!(
            "{}/api/v1/pipelines/{PID}/jobs/{JID}/errors{q}",
            arroyo.api_url()
        )
    };
    let (st, first) = get_json(&url("")).await;
    assert_eq!(st, 200);
    // Arroyo's default page: 10 rows, newest first, camelCase before v0.15.
    let rows = first["data"].as_array().unwrap();
    assert_eq!(rows.len(), 10);
    assert_eq!(first["hasMore"], true);
    assert_eq!(rows[0]["createdAt"], NOW);
    assert!(rows[0].get("errorDomain").is_none());
    let mut seen = 0;
    let mut after: Option<String> = None;
    loop {
        let q = match &after {
            Some(a) => format!("?limit=7&starting_after={a}"),
            None => "?limit=7".to_string(),
        };
        let (_, page) = get_json(&url(&q)).await;
        let rows = page["data"].as_array().unwrap();
        seen += rows.len();
        after = rows.last().map(|r| r["id"].as_str().unwrap().to_string());
        if page["hasMore"] != true {
            break;
        }
    }
    assert_eq!(seen, 25);

    let (st, details) = get_json(&format!("{}/details", arroyo.admin_url())).await;
    assert_eq!(st, 200);
    assert_eq!(details["version"], "0.14.1");
    assert_eq!(s.admin_calls("/details"), 1);
    s.update(|w| w.admin_token = Some("adm".into()));
    let (st, _) = get_json(&format!("{}/details", arroyo.admin_url())).await;
    assert_eq!(st, 401);
    let ok = http()
        .get(format!("{}/details", arroyo.admin_url()))
        .bearer_auth("adm")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    arroyo.stop_admin().await;
    assert!(
        tokio::net::TcpStream::connect(arroyo.admin_url().trim_start_matches("http://"))
            .await
            .is_err()
    );
    arroyo.restart_admin().await.unwrap();
}

/// The module order drawn at the top of lib.rs: a module refers (`crate::…`) only to
/// modules above it, so imports go one way and there is no cycle.
#[test]
fn modules_import_only_modules_above_them() {
    const ORDER: [(&str, &str); 12] = [
        ("facts", include_str!("facts.rs")),
        ("release", include_str!("release.rs")),
        ("scenario", include_str!("scenario.rs")),
        ("net", include_str!("net.rs")),
        ("pb", ""),
        ("docgen", include_str!("docgen.rs")),
        ("state", include_str!("state.rs")),
        ("details", include_str!("details.rs")),
        ("autopilot", include_str!("autopilot.rs")),
        ("fixtures", include_str!("fixtures.rs")),
        ("grpc", include_str!("grpc.rs")),
        ("api", include_str!("api.rs")),
    ];
    for (i, (module, text)) in ORDER.iter().enumerate() {
        for (j, (other, _)) in ORDER.iter().enumerate() {
            let used = text.contains(&format!("crate::{other}::"));
            assert!(
                !used || j < i,
                "{module} refers to {other}, which is not above it"
            );
        }
    }
}
