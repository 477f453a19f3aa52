//! Checkpoint size and phases, job error counters and Arroyo's version, end to end: the
//! exporter (real HTTP server) against the simulated Arroyo (real REST API and admin
//! port), on the real captures and on every release shape, with exact values; and the
//! failure of each new call kept to its own collector.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use arroyo_exporter::config::Config;
use arroyo_sim::{
    checkpoint_groups, expected_by_node, fixture_world, ApiFaults, FakeArroyo, Release,
    SimCheckpoint, SimJob, SimJobError, SimNode, SimPipeline, SimState,
};
use common::{config_for, fixtures, now_micros, Exporter, Scrape, PROMETHEUS_ACCEPT};

const PID: &str = "pl_Details001";
const JID: &str = "job_Details001";

fn nexmark(id: &str) -> SimPipeline {
    SimPipeline::new(
        id,
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
    )
}

/// A completed checkpoint `epoch` that started `ago` µs before `now`.
fn checkpoint(epoch: u64, now: u64, ago: u64) -> SimCheckpoint {
    SimCheckpoint {
        epoch,
        start_time: now - ago,
        finish_time: Some(now - ago + 300_000),
        checkpoint_type: "scheduled".into(),
    }
}

/// `release` with the nexmark pipeline and its running job (checkpoints 1..=3), at a
/// fixed "now".
async fn world(release: Release, now: u64) -> FakeArroyo {
    let arroyo = FakeArroyo::start(release).await.unwrap();
    let s = arroyo.state();
    s.set_fixed_now(Some(now));
    s.add_pipeline(nexmark(PID));
    let mut job = SimJob::running(JID, PID, now - 600_000_000);
    job.checkpoints = (1..=3)
        .map(|e| checkpoint(e, now, 40_000_000 - e * 10_000_000))
        .collect();
    s.add_job(job);
    arroyo
}

async fn scrape(ex: &Exporter) -> Scrape {
    let s = ex.scrape(Some(PROMETHEUS_ACCEPT)).await;
    assert_eq!(s.status, 200);
    s
}

fn success(s: &Scrape, collector: &str) -> f64 {
    s.value(
        "arroyo_exporter_collector_success",
        &[("collector", collector)],
    )
}

/// Per node id: (bytes, phase → seconds) as exported for job `job`.
fn exported_by_node(s: &Scrape, job: &str) -> BTreeMap<String, (u64, BTreeMap<String, f64>)> {
    let mut out: BTreeMap<String, (u64, BTreeMap<String, f64>)> = BTreeMap::new();
    for x in s.find("arroyo_operator_last_checkpoint_bytes", &[("job_id", job)]) {
        let node = x.labels.get("node_id").expect("a mapped node").clone();
        out.entry(node).or_default().0 = x.value as u64;
    }
    for x in s.find(
        "arroyo_operator_last_checkpoint_phase_seconds",
        &[("job_id", job)],
    ) {
        let node = x.labels.get("node_id").expect("a mapped node").clone();
        out.entry(node)
            .or_default()
            .1
            .insert(x.labels["phase"].clone(), x.value);
    }
    out
}

/// What the simulator serves for checkpoint `epoch` of the job, per node.
fn sim_expected(state: &SimState, epoch: u64) -> BTreeMap<String, (u64, BTreeMap<String, f64>)> {
    let w = state.lock();
    let job = w.job(JID).unwrap();
    let start = job
        .checkpoints
        .iter()
        .find(|c| c.epoch == epoch)
        .unwrap()
        .start_time;
    let ops = checkpoint_groups(w.release, w.pipeline(PID).unwrap(), job, epoch, start);
    expected_by_node(&ops)
        .into_iter()
        .map(|(node, (bytes, phases))| {
            let phases = phases
                .into_iter()
                .map(|(p, v)| (p.to_string(), v))
                .collect();
            (node, (bytes, phases))
        })
        .collect()
}

#[tokio::test]
async fn checkpoint_size_and_phases_of_the_real_capture() {
    let world = fixture_world(Release::Main, &fixtures()).unwrap();
    let (job, pid) = (world.jobs[0].id.clone(), world.pipelines[0].id.clone());
    let arroyo = FakeArroyo::builder(Release::Main)
        .world(world)
        .start()
        .await
        .unwrap();
    let mut cfg = config_for(&arroyo);
    cfg.scrape.max_sample_age = Duration::ZERO;
    let ex = Exporter::start(cfg).await;
    let s = scrape(&ex).await;
    assert_eq!(success(&s, "checkpoint_details"), 1.0);
    let labels = [
        ("job_id", job.as_str()),
        ("pipeline_id", pid.as_str()),
        ("pipeline_name", "nexmark_bids_per_auction"),
    ];
    assert_eq!(s.value("arroyo_job_last_checkpoint_epoch", &labels), 17.0);
    // 1396 + 1246 + 9133 + 0 bytes: the sum of the capture's operators.
    assert_eq!(
        s.value("arroyo_job_last_checkpoint_bytes", &labels),
        11775.0
    );
    let by_node = exported_by_node(&s, &job);
    let phases = |pairs: &[(&str, f64)]| -> BTreeMap<String, f64> {
        pairs.iter().map(|(p, v)| (p.to_string(), *v)).collect()
    };
    let want: BTreeMap<String, (u64, BTreeMap<String, f64>)> = [
        // source_nexmark_0
        ("0", 1396, phases(&[("sync", 11e-6), ("async", 5071e-6)])),
        // value_1, watermark_2, key_3
        (
            "1",
            1246,
            phases(&[("alignment", 5e-6), ("sync", 26e-6), ("async", 5001e-6)]),
        ),
        // tumbling_4, value_5
        (
            "4",
            9133,
            phases(&[("alignment", 146e-6), ("sync", 445e-6), ("async", 7060e-6)]),
        ),
        // sink_bids_per_auction_6
        (
            "6",
            0,
            phases(&[("alignment", 1e-6), ("sync", 6e-6), ("async", 3715e-6)]),
        ),
    ]
    .into_iter()
    .map(|(n, b, p)| (n.to_string(), (b, p)))
    .collect();
    assert_eq!(by_node, want);
    assert_eq!(
        s.find("arroyo_operator_last_checkpoint_bytes", &[("node_id", "4")])[0].labels
            ["operator_name"],
        "TumblingWindow<TumblingWindow> -> sink projection"
    );
    // Read once per epoch, however often Prometheus scrapes.
    for _ in 0..3 {
        let again = scrape(&ex).await;
        assert_eq!(
            again.value("arroyo_job_last_checkpoint_bytes", &labels),
            11775.0
        );
    }
    let path =
        format!("/api/v1/pipelines/{pid}/jobs/{job}/checkpoints/17/operator_checkpoint_groups");
    assert_eq!(arroyo.state().rest_calls(&path), 1);
}

#[tokio::test]
async fn checkpoint_size_of_every_release_shape_follows_new_epochs() {
    let now = now_micros();
    for release in Release::ALL {
        let arroyo = world(release, now).await;
        let state = arroyo.state();
        let ex = Exporter::start(config_for(&arroyo)).await;
        let s = scrape(&ex).await;
        assert_eq!(success(&s, "checkpoint_details"), 1.0, "{release}");
        let want = sim_expected(state, 3);
        assert_eq!(want.len(), 4);
        assert_eq!(exported_by_node(&s, JID), want, "{release}");
        let total: u64 = want.values().map(|v| v.0).sum();
        assert!(total > 0);
        assert_eq!(
            s.value("arroyo_job_last_checkpoint_bytes", &[("job_id", JID)]),
            total as f64,
            "{release}"
        );

        // The state grows; epoch 4 completes: its details replace epoch 3's.
        state.with_job(JID, |j| {
            j.state_growth_bytes = 1_000_000;
            j.state_growth_since_epoch = 3;
            j.checkpoints.push(checkpoint(4, now, 1_000_000));
        });
        let s = scrape(&ex).await;
        let want4 = sim_expected(state, 4);
        assert_eq!(exported_by_node(&s, JID), want4, "{release}");
        let total4: u64 = want4.values().map(|v| v.0).sum();
        // Three stateful operators (one on v0.11, where each node is one operator),
        // two subtasks each, grew by 1 MB.
        let stateful = if release == Release::V0_11 { 1 } else { 3 };
        assert_eq!(total4 - total, stateful * 2 * 1_000_000, "{release}");
        assert_eq!(
            s.value("arroyo_job_last_checkpoint_bytes", &[("job_id", JID)]),
            total4 as f64
        );
        scrape(&ex).await;
        let base = format!("/api/v1/pipelines/{PID}/jobs/{JID}/checkpoints");
        assert_eq!(
            state.rest_calls(&format!("{base}/3/operator_checkpoint_groups")),
            1
        );
        assert_eq!(
            state.rest_calls(&format!("{base}/4/operator_checkpoint_groups")),
            1
        );
        ex.stop().await;
    }
}

#[tokio::test]
async fn checkpoint_and_detail_calls_keep_to_their_rates() {
    let now = now_micros();
    let arroyo = FakeArroyo::start(Release::Main).await.unwrap();
    let state = arroyo.state();
    state.set_fixed_now(Some(now));
    let jobs: Vec<String> = (0..12).map(|i| format!("job_Budget{i:04}")).collect();
    for (i, id) in jobs.iter().enumerate() {
        let pid = format!("pl_Budget{i:04}");
        state.add_pipeline(nexmark(&pid));
        let mut job = SimJob::running(id.clone(), pid, now - 600_000_000);
        job.checkpoints = vec![checkpoint(5, now, 20_000_000)];
        state.add_job(job);
    }
    let mut cfg = config_for(&arroyo);
    // A bucket holds a minute of calls: 6 list calls and 3 details calls at first, then
    // one list call every 10 s and one details call every 20 s.
    cfg.collectors.checkpoint_calls_per_second = 0.1;
    cfg.collectors.checkpoint_detail_calls_per_second = 0.05;
    let ex = Exporter::start(cfg).await;
    let calls = |state: &SimState, details: bool| -> u64 {
        state
            .rest_call_counts()
            .iter()
            .filter(|(p, _)| p.contains("/checkpoints"))
            .filter(|(p, _)| p.contains("operator_checkpoint_groups") == details)
            .map(|(_, n)| n)
            .sum()
    };
    let mut s = scrape(&ex).await;
    for _ in 0..4 {
        s = scrape(&ex).await;
    }
    assert_eq!(calls(state, false), 6, "list calls");
    assert_eq!(calls(state, true), 3, "details calls");
    assert_eq!(s.count("arroyo_job_last_checkpoint_epoch"), 6);
    assert_eq!(s.count("arroyo_job_last_checkpoint_bytes"), 3);
    // Every value comes with when it was read, and the periods the rates imply.
    assert_eq!(
        s.find(
            "arroyo_exporter_job_read_timestamp_seconds",
            &[("collector", "checkpoints")]
        )
        .len(),
        6
    );
    assert_eq!(
        s.find(
            "arroyo_exporter_job_read_timestamp_seconds",
            &[("collector", "checkpoint_details")]
        )
        .len(),
        3
    );
    assert_eq!(
        s.value(
            "arroyo_exporter_refresh_period_seconds",
            &[("collector", "checkpoints")]
        ),
        120.0
    );
    assert_eq!(
        s.value(
            "arroyo_exporter_refresh_period_seconds",
            &[("collector", "checkpoint_details")]
        ),
        240.0
    );
    assert_eq!(
        s.value(
            "arroyo_exporter_api_calls_per_second_limit",
            &[("collector", "checkpoints")]
        ),
        0.1
    );
    // Collectors that ran out of budget still succeed: nothing failed.
    assert_eq!(success(&s, "checkpoints"), 1.0);
    assert_eq!(success(&s, "checkpoint_details"), 1.0);
}

fn error_count(s: &Scrape, domain: &str, operator: &str) -> f64 {
    s.value(
        "arroyo_job_errors_total",
        &[
            ("job_id", JID),
            ("error_domain", domain),
            ("operator_id", operator),
        ],
    )
}

#[tokio::test]
async fn job_errors_are_counted_once_across_scrapes() {
    let now = now_micros();
    let arroyo = world(Release::Main, now).await;
    let state = arroyo.state();
    // Before the exporter first sees the job: 12 rows; the first sight counts the
    // newest page (10 rows at this page size) once.
    state.add_error_burst(JID, "value_1", 2, 12, now - 60_000_000, 100_000);
    let mut cfg = config_for(&arroyo);
    cfg.api.page_size = 10;
    let ex = Exporter::start(cfg).await;
    let s = scrape(&ex).await;
    assert_eq!(success(&s, "job_errors"), 1.0);
    assert_eq!(error_count(&s, "user", "value_1"), 10.0);
    assert!(
        s.body.contains("# TYPE arroyo_job_errors counter\n"),
        "{}",
        s.body
    );
    assert!(
        !s.body.contains("Dropping invalid data"),
        "no message label"
    );

    // A burst of 23 rows: three pages, read back to the newest row already seen.
    state.add_error_burst(JID, "value_1", 2, 23, now - 10_000_000, 200_000);
    let errors_path = format!("/api/v1/pipelines/{PID}/jobs/{JID}/errors");
    let before = state.rest_calls(&errors_path);
    let s = scrape(&ex).await;
    assert_eq!(error_count(&s, "user", "value_1"), 33.0);
    assert_eq!(state.rest_calls(&errors_path) - before, 3);
    assert_eq!(
        s.value(
            "arroyo_job_last_error_timestamp_seconds",
            &[("job_id", JID)]
        ),
        (now - 10_000_000) as f64 / 1e6
    );
    // Nothing new: the same count, one call.
    for _ in 0..2 {
        assert_eq!(error_count(&scrape(&ex).await, "user", "value_1"), 33.0);
    }

    // Five more, then two concurrent scrapes (an HA pair): counted once.
    state.add_error_burst(JID, "value_1", 2, 5, now - 5_000_000, 100_000);
    let (a, b) = tokio::join!(scrape(&ex), scrape(&ex));
    assert_eq!(error_count(&a, "user", "value_1"), 38.0);
    assert_eq!(error_count(&b, "user", "value_1"), 38.0);

    // Rows without an operator (a task that failed) and another domain.
    let seq = state.lock().error_seq;
    state.add_job_errors(
        JID,
        vec![SimJobError {
            id: format!("jle_{seq:010}"),
            created_at: now - 1_000_000,
            operator_id: None,
            task_index: None,
            level: "error".into(),
            message: "task failed: worker lost".into(),
            details: String::new(),
            error_domain: Some("internal".into()),
        }],
    );
    let s = scrape(&ex).await;
    assert_eq!(error_count(&s, "internal", ""), 1.0);
    assert_eq!(error_count(&s, "user", "value_1"), 38.0);
    assert_eq!(
        s.value(
            "arroyo_job_last_error_timestamp_seconds",
            &[("job_id", JID)]
        ),
        (now - 1_000_000) as f64 / 1e6
    );
}

#[tokio::test]
async fn job_errors_before_main_have_an_unknown_domain() {
    let now = now_micros();
    for release in [Release::V0_11, Release::V0_13, Release::V0_15] {
        let arroyo = world(release, now).await;
        arroyo
            .state()
            .add_error_burst(JID, "value_1", 2, 4, now - 1_000_000, 100_000);
        let ex = Exporter::start(config_for(&arroyo)).await;
        let s = scrape(&ex).await;
        assert_eq!(success(&s, "job_errors"), 1.0, "{release}");
        assert_eq!(error_count(&s, "unknown", "value_1"), 4.0, "{release}");
        assert_eq!(s.count("arroyo_job_errors_total"), 1, "{release}");
        arroyo
            .state()
            .add_error_burst(JID, "value_1", 2, 3, now - 500_000, 100_000);
        let s = scrape(&ex).await;
        assert_eq!(error_count(&s, "unknown", "value_1"), 7.0, "{release}");
        ex.stop().await;
    }
}

#[tokio::test]
async fn job_error_calls_stay_within_their_budget() {
    let now = now_micros();
    let arroyo = world(Release::Main, now).await;
    let state = arroyo.state();
    state.add_error_burst(JID, "value_1", 2, 5, now - 60_000_000, 100_000);
    let mut cfg = config_for(&arroyo);
    cfg.api.page_size = 5;
    cfg.collectors.job_error_calls_per_scrape = Some(2);
    let ex = Exporter::start(cfg).await;
    assert_eq!(error_count(&scrape(&ex).await, "user", "value_1"), 5.0);
    // 20 new rows need four pages; two calls read the newest ten, the rest are skipped.
    state.add_error_burst(JID, "value_1", 2, 20, now - 1_000_000, 100_000);
    let path = format!("/api/v1/pipelines/{PID}/jobs/{JID}/errors");
    let before = state.rest_calls(&path);
    let s = scrape(&ex).await;
    assert_eq!(state.rest_calls(&path) - before, 2);
    assert_eq!(error_count(&s, "user", "value_1"), 15.0);
    assert_eq!(success(&s, "job_errors"), 1.0);
    let s = scrape(&ex).await;
    assert_eq!(error_count(&s, "user", "value_1"), 15.0);
}

#[tokio::test]
async fn arroyo_version_is_read_and_cached() {
    let now = now_micros();
    for release in Release::ALL {
        let arroyo = world(release, now).await;
        let ex = Exporter::start(config_for(&arroyo)).await;
        let want = arroyo.state().lock().admin_details.clone();
        for _ in 0..3 {
            let s = scrape(&ex).await;
            assert_eq!(success(&s, "admin"), 1.0);
            assert_eq!(
                s.value(
                    "arroyo_build_info",
                    &[
                        ("version", want.version.as_str()),
                        ("git_sha", want.git_sha.as_str())
                    ]
                ),
                1.0,
                "{release}"
            );
            assert_eq!(s.count("arroyo_build_info"), 1);
        }
        assert_eq!(arroyo.state().admin_calls("/details"), 1, "{release}");
        ex.stop().await;
    }

    // Behind a bearer token; a short cache reads again.
    let arroyo = world(Release::Main, now).await;
    arroyo
        .state()
        .update(|w| w.admin_token = Some("admin-secret".into()));
    let mut cfg = config_for(&arroyo);
    cfg.admin.token = Some("admin-secret".into());
    cfg.admin.cache_ttl = Duration::from_millis(1);
    let ex = Exporter::start(cfg).await;
    for _ in 0..2 {
        let s = scrape(&ex).await;
        assert_eq!(s.count("arroyo_build_info"), 1);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(arroyo.state().admin_calls("/details"), 2);
    let s = scrape(&ex).await;
    assert!(!s.body.contains("admin-secret"));
}

/// The collectors that succeed, by name, of one scrape.
fn successes(s: &Scrape) -> BTreeMap<String, f64> {
    s.find("arroyo_exporter_collector_success", &[])
        .into_iter()
        .map(|x| (x.labels["collector"].clone(), x.value))
        .collect()
}

fn all_but(failed: &str) -> BTreeMap<String, f64> {
    [
        "discovery",
        "jobs",
        "topology",
        "job_metrics",
        "checkpoints",
        "checkpoint_details",
        "job_errors",
        "admin",
    ]
    .into_iter()
    .map(|c| (c.to_string(), if c == failed { 0.0 } else { 1.0 }))
    .collect()
}

fn fresh_config(arroyo: &FakeArroyo) -> Config {
    let mut cfg = config_for(arroyo);
    cfg.controller.timeout = Duration::from_secs(3);
    cfg
}

#[tokio::test]
async fn each_new_call_fails_alone() {
    let now = now_micros();
    let arroyo = world(Release::Main, now).await;
    let state = arroyo.state();
    state.add_error_burst(JID, "value_1", 2, 3, now - 1_000_000, 100_000);
    let labels = [("job_id", JID)];

    // Checkpoint details answer bad JSON: only checkpoint_details fails.
    state.set_api_faults(ApiFaults {
        path_contains: Some("operator_checkpoint_groups".into()),
        malformed_json: true,
        ..Default::default()
    });
    let ex = Exporter::start(fresh_config(&arroyo)).await;
    let s = scrape(&ex).await;
    assert_eq!(successes(&s), all_but("checkpoint_details"));
    assert_eq!(s.value("arroyo_up", &[]), 1.0);
    assert_eq!(s.value("arroyo_job_last_checkpoint_epoch", &labels), 3.0);
    assert_eq!(s.count("arroyo_job_last_checkpoint_bytes"), 0);
    assert_eq!(error_count(&s, "user", "value_1"), 3.0);
    assert!(s.count("arroyo_build_info") == 1);
    assert!(
        s.value(
            "arroyo_exporter_upstream_errors_total",
            &[("source", "api"), ("kind", "decode")]
        ) >= 1.0
    );
    // Healed: the details come.
    state.clear_faults();
    let s = scrape(&ex).await;
    assert_eq!(successes(&s), all_but(""));
    assert_eq!(s.count("arroyo_job_last_checkpoint_bytes"), 1);

    // The error log answers 500: only job_errors fails, its counts stay.
    state.add_error_burst(JID, "value_1", 2, 2, now - 500_000, 100_000);
    state.set_api_faults(ApiFaults {
        path_contains: Some("/errors".into()),
        status: Some(500),
        ..Default::default()
    });
    let s = scrape(&ex).await;
    assert_eq!(successes(&s), all_but("job_errors"));
    assert_eq!(error_count(&s, "user", "value_1"), 3.0);
    assert_eq!(s.count("arroyo_job_last_checkpoint_bytes"), 1);
    // And bad JSON there too.
    state.set_api_faults(ApiFaults {
        path_contains: Some("/errors".into()),
        malformed_json: true,
        ..Default::default()
    });
    let s = scrape(&ex).await;
    assert_eq!(successes(&s), all_but("job_errors"));
    state.clear_faults();
    let s = scrape(&ex).await;
    assert_eq!(successes(&s), all_but(""));
    assert_eq!(
        error_count(&s, "user", "value_1"),
        5.0,
        "healed, nothing lost"
    );
    ex.stop().await;

    // The admin port answers a proxy's HTML page, then bad JSON, then is down: only
    // admin fails (a fresh exporter each time: the version is cached).
    for faults in [
        ApiFaults {
            html_body: true,
            ..Default::default()
        },
        ApiFaults {
            malformed_json: true,
            ..Default::default()
        },
    ] {
        state.set_admin_faults(faults);
        let ex = Exporter::start(fresh_config(&arroyo)).await;
        let s = scrape(&ex).await;
        assert_eq!(successes(&s), all_but("admin"));
        assert_eq!(s.count("arroyo_build_info"), 0);
        assert!(
            s.value(
                "arroyo_exporter_upstream_errors_total",
                &[("source", "admin"), ("kind", "decode")]
            ) >= 1.0
        );
        ex.stop().await;
    }
    state.set_admin_faults(ApiFaults::default());
    arroyo.stop_admin().await;
    let ex = Exporter::start(fresh_config(&arroyo)).await;
    let s = scrape(&ex).await;
    assert_eq!(successes(&s), all_but("admin"));
    assert_eq!(s.count("arroyo_job_last_checkpoint_bytes"), 1);
    arroyo.restart_admin().await.unwrap();
    let s = scrape(&ex).await;
    assert_eq!(successes(&s), all_but(""));
    assert_eq!(s.count("arroyo_build_info"), 1);

    // A wrong admin token: admin fails with http_401, the rest is fine.
    state.update(|w| w.admin_token = Some("right".into()));
    let mut cfg = fresh_config(&arroyo);
    cfg.admin.token = Some("wrong".into());
    let ex = Exporter::start(cfg).await;
    let s = scrape(&ex).await;
    assert_eq!(successes(&s), all_but("admin"));
    assert!(
        s.value(
            "arroyo_exporter_upstream_errors_total",
            &[("source", "admin"), ("kind", "http_401")]
        ) >= 1.0
    );
}

#[tokio::test]
async fn switches_and_an_empty_admin_endpoint_turn_collectors_off() {
    let now = now_micros();
    let arroyo = world(Release::Main, now).await;
    arroyo
        .state()
        .add_error_burst(JID, "value_1", 2, 3, now - 1_000_000, 100_000);
    let mut cfg = config_for(&arroyo);
    cfg.collectors.checkpoint_details = false;
    cfg.collectors.job_errors = false;
    cfg.admin.endpoint = None;
    let ex = Exporter::start(cfg).await;
    let s = scrape(&ex).await;
    let names: Vec<String> = successes(&s).into_keys().collect();
    assert_eq!(
        names,
        [
            "checkpoints",
            "discovery",
            "job_metrics",
            "jobs",
            "topology"
        ]
    );
    for family in [
        "arroyo_job_last_checkpoint_bytes",
        "arroyo_job_errors_total",
        "arroyo_build_info",
    ] {
        assert_eq!(s.count(family), 0, "{family}");
    }
    let calls = arroyo.state().rest_call_counts();
    assert!(
        !calls
            .keys()
            .any(|p| p.ends_with("/errors") || p.ends_with("operator_checkpoint_groups")),
        "{calls:?}"
    );
    assert_eq!(arroyo.state().admin_calls("/details"), 0);
}
