//! Job, checkpoint and topology collectors, cardinality controls and filters, against the
//! simulated Arroyo's real gRPC and REST servers; and a real Prometheus ingesting the
//! StateSet and info families.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use arroyo_exporter::model::JOB_STATES;
use arroyo_sim::{
    fixture_world, ApiFaults, FakeArroyo, Release, SimCheckpoint, SimJob, SimNode, SimPipeline,
};
use common::prometheus::Prometheus;
use common::{config_for, fixtures, now_micros, Exporter, PROMETHEUS_ACCEPT};

/// Two pipelines: "orders" (tags team/env, a running job with checkpoints, one in
/// progress) and "clicks" (a failed job).
fn world(arroyo: &FakeArroyo, now: u64) {
    let state = arroyo.state();
    state.set_fixed_now(Some(now));
    let mut orders = SimPipeline::new(
        "pl_Orders0001",
        "orders",
        vec![
            SimNode::new(0, "kafka", "Kafka<orders>", 4),
            SimNode::new(2, "chained_op", "filter -> project", 2),
        ],
    );
    orders.checkpoint_interval_micros = 10_000_000;
    orders.tags = BTreeMap::from([
        ("team".to_string(), "payments".to_string()),
        ("env-name".to_string(), "prod \"eu\"".to_string()),
        ("secret".to_string(), "not exported".to_string()),
    ]);
    state.add_pipeline(orders);
    state.add_pipeline(SimPipeline::new(
        "pl_Clicks0001",
        "clicks",
        vec![SimNode::new(1, "nexmark", "Nexmark", 1)],
    ));
    let mut running = SimJob::running("job_Orders0001", "pl_Orders0001", now - 600_000_000);
    running.run_id = 3;
    running.tasks = Some(6);
    running.checkpoints = vec![
        SimCheckpoint {
            epoch: 40,
            start_time: now - 30_000_000,
            finish_time: Some(now - 29_500_000),
            checkpoint_type: "scheduled".into(),
        },
        SimCheckpoint {
            epoch: 41,
            start_time: now - 20_000_000,
            finish_time: Some(now - 18_750_000),
            checkpoint_type: "scheduled".into(),
        },
        SimCheckpoint {
            epoch: 42,
            start_time: now - 7_000_000,
            finish_time: None,
            checkpoint_type: "scheduled".into(),
        },
    ];
    state.add_job(running);
    let mut failed = SimJob::running("job_Clicks0001", "pl_Clicks0001", now - 900_000_000);
    failed.state = "Failed".into();
    failed.running_desired = true;
    failed.failure_message = Some("operator panicked: boom".into());
    failed.failure_domain = Some("user".into());
    failed.finish_time = Some(now - 100_000_000);
    state.add_job(failed);
}

#[tokio::test]
async fn every_job_checkpoint_and_topology_family() {
    let arroyo = FakeArroyo::start(Release::Main).await.unwrap();
    let now = now_micros();
    world(&arroyo, now);
    let mut cfg = config_for(&arroyo);
    cfg.collectors.pipeline_tags = vec!["team".into(), "env-name".into()];
    let exporter = Exporter::start(cfg).await;
    let s = exporter.scrape(Some(PROMETHEUS_ACCEPT)).await;
    assert_eq!(s.status, 200);
    assert!(
        s.body.contains("# TYPE arroyo_job_state stateset\n"),
        "{}",
        s.body
    );
    assert!(s.body.contains("# TYPE arroyo_operator info\n"));
    let orders = [("job_id", "job_Orders0001"), ("pipeline_name", "orders")];
    let clicks = [("job_id", "job_Clicks0001"), ("pipeline_name", "clicks")];

    // StateSet: one sample per state, exactly one set.
    for (job, current) in [(&orders, "Running"), (&clicks, "Failed")] {
        let states = s.find("arroyo_job_state", job);
        assert_eq!(states.len(), JOB_STATES.len());
        for st in states {
            let want = if st.labels["arroyo_job_state"] == current {
                1.0
            } else {
                0.0
            };
            assert_eq!(st.value, want, "{st:?}");
        }
    }
    assert_eq!(s.value("arroyo_job_run_id", &orders), 3.0);
    assert_eq!(s.value("arroyo_job_running_desired", &orders), 1.0);
    assert_eq!(s.value("arroyo_job_tasks", &orders), 6.0);
    assert_eq!(
        s.value("arroyo_job_start_time_seconds", &orders),
        (now - 600_000_000) as f64 / 1e6
    );
    // Failure info only for the failed job, domain as a label, no message.
    assert_eq!(s.find("arroyo_job_failure_info", &orders).len(), 0);
    assert_eq!(
        s.value(
            "arroyo_job_failure_info",
            &[("job_id", "job_Clicks0001"), ("domain", "user")]
        ),
        1.0
    );
    assert!(
        !s.body.contains("boom"),
        "the failure message is not a label"
    );

    // Checkpoints of the running job.
    assert_eq!(s.value("arroyo_job_last_checkpoint_epoch", &orders), 41.0);
    assert_eq!(
        s.value(
            "arroyo_job_last_checkpoint_completed_timestamp_seconds",
            &orders
        ),
        (now - 18_750_000) as f64 / 1e6
    );
    assert_eq!(
        s.value("arroyo_job_last_checkpoint_duration_seconds", &orders),
        1.25
    );
    let age = s.value("arroyo_job_checkpoint_in_progress_seconds", &orders);
    assert!((7.0..30.0).contains(&age), "in-progress age {age}");
    assert_eq!(
        s.find("arroyo_job_last_checkpoint_epoch", &clicks).len(),
        0,
        "failed job: no checkpoint calls"
    );

    // Topology.
    let info = s.find("arroyo_pipeline_info", &[("pipeline_id", "pl_Orders0001")]);
    assert_eq!(info.len(), 1);
    assert_eq!(info[0].labels["tag_team"], "payments");
    assert_eq!(info[0].labels["tag_env_name"], "prod \"eu\"");
    assert!(
        !info[0].labels.contains_key("tag_secret"),
        "tags not allow-listed stay out"
    );
    assert_eq!(
        s.value(
            "arroyo_pipeline_checkpoint_interval_seconds",
            &[("pipeline_id", "pl_Orders0001")]
        ),
        10.0
    );
    let op = s.find(
        "arroyo_operator_info",
        &[("job_id", "job_Orders0001"), ("node_id", "2")],
    );
    assert_eq!(op.len(), 1);
    assert_eq!(op[0].labels["operator"], "chained_op");
    assert_eq!(op[0].labels["description"], "filter -> project");
    assert_eq!(op[0].labels["operator_name"], "filter -> project");
    assert_eq!(
        s.value(
            "arroyo_operator_parallelism",
            &[("job_id", "job_Orders0001"), ("node_id", "0")]
        ),
        4.0
    );
    // Operator-level rates alongside.
    assert_eq!(
        s.find("arroyo_operator_sent_messages_per_second", &orders)
            .len(),
        2
    );
    for c in [
        "discovery",
        "jobs",
        "topology",
        "checkpoints",
        "job_metrics",
    ] {
        assert_eq!(
            s.value("arroyo_exporter_collector_success", &[("collector", c)]),
            1.0,
            "{c}"
        );
        assert_eq!(
            s.find(
                "arroyo_exporter_collector_duration_seconds",
                &[("collector", c)]
            )
            .len(),
            1
        );
    }
    exporter.stop().await;
}

#[tokio::test]
async fn every_state_including_unknown_ones() {
    let arroyo = FakeArroyo::start(Release::V0_15).await.unwrap();
    let now = now_micros();
    arroyo.state().set_fixed_now(Some(now));
    common::add_running_job(
        arroyo.state(),
        SimPipeline::new(
            "pl_States0001",
            "states",
            vec![SimNode::new(0, "src", "src", 1)],
        ),
        "job_States0001",
        now - 5_000_000,
    );
    let exporter = Exporter::start(config_for(&arroyo)).await;
    for state in JOB_STATES.iter().copied().chain(["Hibernating"]) {
        arroyo.state().set_job_state("job_States0001", state);
        let s = exporter.scrape(None).await;
        let set: Vec<_> = s
            .find("arroyo_job_state", &[("job_id", "job_States0001")])
            .into_iter()
            .filter(|x| x.value == 1.0)
            .map(|x| x.labels["arroyo_job_state"].clone())
            .collect();
        assert_eq!(set, vec![state.to_string()], "state {state}");
        let expected_len = if state == "Hibernating" {
            JOB_STATES.len() + 1
        } else {
            JOB_STATES.len()
        };
        assert_eq!(
            s.find("arroyo_job_state", &[("job_id", "job_States0001")])
                .len(),
            expected_len
        );
        // Series of the rates only while the state runs.
        let runs = arroyo_exporter::model::state_runs(state);
        assert_eq!(
            s.find(
                "arroyo_subtask_sent_messages_per_second",
                &[("job_id", "job_States0001")]
            )
            .len(),
            usize::from(runs),
            "{state}"
        );
    }
    exporter.stop().await;
}

#[tokio::test]
async fn restarts_move_run_id_and_checkpoint_progress_ages() {
    let arroyo = FakeArroyo::start(Release::Main).await.unwrap();
    let now = now_micros();
    world(&arroyo, now);
    let mut cfg = config_for(&arroyo);
    cfg.collectors.checkpoint_calls_per_scrape = Some(1);
    let exporter = Exporter::start(cfg).await;
    let s = exporter.scrape(None).await;
    let orders = [("job_id", "job_Orders0001")];
    assert_eq!(s.value("arroyo_job_run_id", &orders), 3.0);
    let first_age = s.value("arroyo_job_checkpoint_in_progress_seconds", &orders);

    arroyo
        .state()
        .with_job("job_Orders0001", |j| j.run_id = 4)
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let s = exporter.scrape(None).await;
    assert_eq!(s.value("arroyo_job_run_id", &orders), 4.0);
    let second_age = s.value("arroyo_job_checkpoint_in_progress_seconds", &orders);
    assert!(second_age > first_age, "{second_age} > {first_age}");

    // The checkpoint completes: in progress goes back to 0, the epoch moves.
    arroyo
        .state()
        .with_job("job_Orders0001", |j| {
            j.checkpoints[2].finish_time = Some(now - 1_000_000)
        })
        .unwrap();
    let s = exporter.scrape(None).await;
    assert_eq!(
        s.value("arroyo_job_checkpoint_in_progress_seconds", &orders),
        0.0
    );
    assert_eq!(s.value("arroyo_job_last_checkpoint_epoch", &orders), 42.0);
    exporter.stop().await;
}

#[tokio::test]
async fn checkpoint_calls_are_bounded_per_scrape() {
    let arroyo = FakeArroyo::start(Release::Main).await.unwrap();
    let now = now_micros();
    arroyo.state().set_fixed_now(Some(now));
    for i in 0..6 {
        let pid = format!("pl_Bound{i:05}");
        arroyo.state().add_pipeline(SimPipeline::new(
            pid.clone(),
            format!("p{i}"),
            vec![SimNode::new(0, "s", "s", 1)],
        ));
        let mut job = SimJob::running(format!("job_Bound{i:05}"), pid, now - 60_000_000);
        job.checkpoints = vec![SimCheckpoint {
            epoch: 5,
            start_time: now - 2_000_000,
            finish_time: Some(now - 1_000_000),
            checkpoint_type: "scheduled".into(),
        }];
        arroyo.state().add_job(job);
    }
    let mut cfg = config_for(&arroyo);
    cfg.collectors.checkpoint_calls_per_scrape = Some(2);
    // The lists alone.
    cfg.collectors.checkpoint_details = false;
    let exporter = Exporter::start(cfg).await;
    let count_calls = || {
        arroyo
            .state()
            .rest_call_counts()
            .iter()
            .filter(|(k, _)| k.ends_with("/checkpoints"))
            .map(|(_, v)| *v)
            .sum::<u64>()
    };
    let mut covered = Vec::new();
    for round in 1..=3 {
        arroyo.state().reset_counters();
        let s = exporter.scrape(None).await;
        assert_eq!(count_calls(), 2, "round {round}");
        covered.push(s.count("arroyo_job_last_checkpoint_epoch"));
    }
    // Oldest answers are refreshed first, so three scrapes of two calls cover all six.
    assert_eq!(covered, vec![2, 4, 6]);
    exporter.stop().await;
}

/// The budget goes where it matters: a job whose last read showed no checkpoint for
/// minutes is read again every scrape, to confirm the stall or see it end, while the
/// healthy ones take turns; every value comes with when it was read.
#[tokio::test]
async fn a_job_that_looks_stalled_is_read_again_first() {
    let arroyo = FakeArroyo::start(Release::Main).await.unwrap();
    let now = now_micros();
    arroyo.state().set_fixed_now(Some(now));
    for i in 0..8 {
        let pid = format!("pl_Late{i:05}");
        arroyo.state().add_pipeline(SimPipeline::new(
            pid.clone(),
            format!("p{i}"),
            vec![SimNode::new(0, "s", "s", 1)],
        ));
        // Job 0 completed its last checkpoint 5 minutes ago, the others a second ago.
        let done = if i == 0 {
            now - 300_000_000
        } else {
            now - 1_000_000
        };
        let mut job = SimJob::running(format!("job_Late{i:05}"), pid, now - 900_000_000);
        job.checkpoints = vec![SimCheckpoint {
            epoch: 5,
            start_time: done - 1_000_000,
            finish_time: Some(done),
            checkpoint_type: "scheduled".into(),
        }];
        arroyo.state().add_job(job);
    }
    let mut cfg = config_for(&arroyo);
    cfg.collectors.checkpoint_calls_per_scrape = Some(2);
    cfg.collectors.checkpoint_details = false;
    let exporter = Exporter::start(cfg).await;
    let calls_of = |job: &str| {
        arroyo
            .state()
            .rest_call_counts()
            .iter()
            .filter(|(k, _)| k.ends_with(&format!("{job}/checkpoints")))
            .map(|(_, v)| *v)
            .sum::<u64>()
    };
    // Four scrapes read the eight unknown jobs, two at a time.
    for _ in 0..4 {
        exporter.scrape(None).await;
    }
    for i in 0..8 {
        assert_eq!(calls_of(&format!("job_Late{i:05}")), 1, "job {i}");
    }
    let before = now_micros() as f64 / 1e6;
    let mut last = None;
    for _ in 0..4 {
        last = Some(exporter.scrape(None).await);
    }
    let s = last.unwrap();
    // The late job every time; the six healthy ones share the other four calls.
    assert_eq!(calls_of("job_Late00000"), 5);
    let healthy: u64 = (1..8).map(|i| calls_of(&format!("job_Late{i:05}"))).sum();
    assert_eq!(healthy, 7 + 4);
    let late = [("job_id", "job_Late00000"), ("collector", "checkpoints")];
    let read = s.value("arroyo_exporter_job_read_timestamp_seconds", &late);
    assert!(read >= before, "read at {read}, scrapes began at {before}");
    // What the read showed: the newest checkpoint and its age at the read, which the
    // rules compare (never the age "now", which counts the exporter's own delay).
    let completed = s.value(
        "arroyo_job_last_checkpoint_completed_timestamp_seconds",
        &[("job_id", "job_Late00000")],
    );
    assert_eq!(completed, (now - 300_000_000) as f64 / 1e6);
    assert_eq!(
        s.value(
            "arroyo_exporter_refresh_period_seconds",
            &[("collector", "checkpoints")]
        ),
        2.0,
        "8 jobs at the default 4 calls per second"
    );
    exporter.stop().await;
}

#[tokio::test]
async fn one_collector_failing_leaves_the_others_answering() {
    let arroyo = FakeArroyo::start(Release::Main).await.unwrap();
    world(&arroyo, now_micros());
    let exporter = Exporter::start(config_for(&arroyo)).await;
    arroyo.state().set_api_faults(ApiFaults {
        path_contains: Some("/checkpoints".into()),
        status: Some(503),
        ..ApiFaults::default()
    });
    let s = exporter.scrape(None).await;
    assert_eq!(s.status, 200);
    assert_eq!(
        s.value(
            "arroyo_exporter_collector_success",
            &[("collector", "checkpoints")]
        ),
        0.0
    );
    for c in ["discovery", "jobs", "topology", "job_metrics"] {
        assert_eq!(
            s.value("arroyo_exporter_collector_success", &[("collector", c)]),
            1.0,
            "{c}"
        );
    }
    assert_eq!(s.count("arroyo_job_last_checkpoint_epoch"), 0);
    assert!(s.count("arroyo_job_state") > 0);
    assert!(s.count("arroyo_subtask_sent_messages_per_second") > 0);

    // The controller down: job metrics fail, the API collectors still answer.
    arroyo.state().clear_faults();
    arroyo.stop_rpc().await;
    let s = exporter.scrape(None).await;
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
            &[("collector", "checkpoints")]
        ),
        1.0
    );
    assert_eq!(
        s.value(
            "arroyo_job_last_checkpoint_epoch",
            &[("job_id", "job_Orders0001")]
        ),
        41.0
    );
    assert!(s.count("arroyo_job_state") > 0);
    exporter.stop().await;
}

#[tokio::test]
async fn disabled_collectors_and_operator_level_only() {
    let arroyo = FakeArroyo::start(Release::Main).await.unwrap();
    world(&arroyo, now_micros());
    let mut cfg = config_for(&arroyo);
    cfg.collectors.checkpoints = false;
    cfg.collectors.topology = false;
    cfg.scrape.subtask_series = false;
    let exporter = Exporter::start(cfg).await;
    arroyo.state().reset_counters();
    let s = exporter.scrape(None).await;
    assert_eq!(s.count("arroyo_subtask_sent_messages_per_second"), 0);
    assert_eq!(s.count("arroyo_operator_sent_messages_per_second"), 2);
    assert_eq!(s.count("arroyo_job_last_checkpoint_epoch"), 0);
    assert_eq!(s.count("arroyo_operator_info"), 0);
    assert_eq!(s.count("arroyo_operator_edge_info"), 0);
    assert_eq!(s.count("arroyo_operator_bottleneck"), 0);
    assert_eq!(s.count("arroyo_pipeline_info"), 0);
    assert!(s
        .find(
            "arroyo_exporter_collector_success",
            &[("collector", "checkpoints")]
        )
        .is_empty());
    assert!(s
        .find(
            "arroyo_exporter_collector_success",
            &[("collector", "topology")]
        )
        .is_empty());
    assert!(s.count("arroyo_job_state") > 0);
    assert!(
        !arroyo
            .state()
            .rest_call_counts()
            .keys()
            .any(|k| k.ends_with("/checkpoints")),
        "a disabled collector makes no calls"
    );
    exporter.stop().await;

    let mut cfg = config_for(&arroyo);
    cfg.collectors.job_metrics = false;
    cfg.collectors.jobs = false;
    let exporter = Exporter::start(cfg).await;
    arroyo.state().reset_counters();
    let s = exporter.scrape(None).await;
    assert_eq!(s.count("arroyo_job_state"), 0);
    assert_eq!(s.count("arroyo_operator_sent_messages_per_second"), 0);
    assert_eq!(arroyo.state().total_rpc_calls(), 0);
    assert!(s.count("arroyo_job_last_checkpoint_epoch") > 0);
    exporter.stop().await;
}

#[tokio::test]
async fn collector_flags_on_the_command_line() {
    use clap::Parser;
    let flags = arroyo_exporter::config::Flags::parse_from([
        "arroyo-exporter",
        "--no-collector.checkpoints",
        "--collector.topology",
        "--scrape.subtask-series",
        "false",
    ]);
    let cfg = arroyo_exporter::config::load(&flags).unwrap();
    assert!(!cfg.collectors.checkpoints);
    assert!(cfg.collectors.topology);
    assert!(!cfg.scrape.subtask_series);
}

/// Include regex, exclude regex, include states, exclude states, expected job ids.
type FilterCase = (
    Option<&'static str>,
    Option<&'static str>,
    Vec<&'static str>,
    Vec<&'static str>,
    Vec<&'static str>,
);

#[tokio::test]
async fn filters_by_pipeline_name_and_state() {
    let arroyo = FakeArroyo::start(Release::Main).await.unwrap();
    world(&arroyo, now_micros());
    let cases: Vec<FilterCase> = vec![
        (Some("^ord"), None, vec![], vec![], vec!["job_Orders0001"]),
        (None, Some("ord"), vec![], vec![], vec!["job_Clicks0001"]),
        (None, None, vec!["Failed"], vec![], vec!["job_Clicks0001"]),
        (None, None, vec![], vec!["Failed"], vec!["job_Orders0001"]),
        (
            None,
            None,
            vec![],
            vec![],
            vec!["job_Clicks0001", "job_Orders0001"],
        ),
    ];
    for (inc, exc, inc_states, exc_states, want) in cases {
        let mut cfg = config_for(&arroyo);
        cfg.scrape.include_pipelines = inc.map(String::from);
        cfg.scrape.exclude_pipelines = exc.map(String::from);
        cfg.scrape.include_states = inc_states.iter().map(|s| s.to_string()).collect();
        cfg.scrape.exclude_states = exc_states.iter().map(|s| s.to_string()).collect();
        let exporter = Exporter::start(cfg).await;
        let s = exporter.scrape(None).await;
        let mut jobs: Vec<String> = s
            .find("arroyo_job_run_id", &[])
            .iter()
            .map(|x| x.labels["job_id"].clone())
            .collect();
        jobs.sort();
        assert_eq!(jobs, want, "{inc:?} {exc:?}");
        exporter.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_ingests_stateset_and_info_families() {
    let world = fixture_world(Release::Main, &fixtures()).unwrap();
    let arroyo = FakeArroyo::builder(Release::Main)
        .world(world)
        .start()
        .await
        .unwrap();
    let now = now_micros();
    let state = arroyo.state();
    state.set_fixed_now(Some(now));
    let mut failed = SimJob::running("job_Failed0001", "pl_89EzD1DdVl", now - 5_000_000);
    failed.state = "Failed".into();
    failed.failure_domain = Some("internal".into());
    state.add_job(failed);
    let mut cfg = config_for(&arroyo);
    cfg.scrape.max_sample_age = Duration::ZERO;
    let om = Exporter::start(cfg.clone()).await;
    cfg.web.openmetrics = false;
    let text = Exporter::start(cfg).await;
    let scrape_configs = format!(
        "  - job_name: arroyo-exporter\n    static_configs:\n      - targets: ['{}', '{}']\n",
        om.addr, text.addr
    );
    let out = tokio::task::spawn_blocking(move || {
        let p = Prometheus::start(&scrape_configs, &[], "1s");
        let targets = p.wait_scraped(2, Duration::from_secs(30));
        let state = p.wait_for(
            "arroyo_job_state{job_id=\"job_DsH3Sq8cSj\", arroyo_job_state=\"Running\"} == 1",
            Duration::from_secs(10),
        );
        let failed = p.query("arroyo_job_failure_info{domain=\"internal\"}");
        let ops = p.query("arroyo_operator_info{job_id=\"job_DsH3Sq8cSj\"}");
        let ckpt = p.query("arroyo_job_last_checkpoint_epoch{job_id=\"job_DsH3Sq8cSj\"}");
        let restarts = p.query("changes(arroyo_job_run_id[5m])");
        let pinfo = p.query("arroyo_pipeline_info");
        (targets, state, failed, ops, ckpt, restarts, pinfo)
    })
    .await
    .unwrap();
    let (targets, state_q, failed, ops, ckpt, restarts, pinfo) = out;
    for t in &targets {
        assert_eq!(t["health"], "up", "{t}");
        assert_eq!(t["lastError"], "", "{t}");
    }
    assert_eq!(state_q.len(), 2, "both formats: {state_q:?}");
    assert_eq!(failed.len(), 2);
    assert_eq!(ops.len(), 8, "4 operators x 2 formats");
    assert!(
        ops.iter()
            .any(|o| o["metric"]["description"]
                == "TumblingWindow<TumblingWindow> -> sink projection")
    );
    assert_eq!(ckpt.len(), 2);
    assert_eq!(
        ckpt[0]["value"][1], "17",
        "the capture's newest completed epoch"
    );
    assert_eq!(restarts.len(), 4, "2 jobs x 2 formats");
    assert_eq!(pinfo.len(), 2);
    om.stop().await;
    text.stop().await;
}
