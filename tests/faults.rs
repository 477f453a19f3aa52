//! The fault matrix gaps (beyond tests/e2e.rs), each against the real in-repo servers:
//! bad values in the controller's document (wrong types, huge numbers, negative rates,
//! duplicate subtasks, unknown metric names), a controller that resets the connection
//! mid-call, and a controller that restarts between scrapes or during a call.
//!
//! Every case checks: HTTP 200 within the scrape deadline, the failing source marked in
//! its success metric, a clear log line, the other sources still served, and recovery on
//! the next scrape without restarting the exporter.

mod common;

use std::collections::HashSet;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use arroyo_exporter::config::Config;
use arroyo_sim::{
    FakeArroyo, MetricsSource as SimMetrics, Release, RpcFaults, SimNode, SimPipeline,
};
use common::{now_micros, Exporter, Scrape};

/// Prometheus's scrape timeout for these scrapes, and the bound on their wall time.
const DEADLINE_SECS: &str = "4";
const DEADLINE: Duration = Duration::from_secs(4);

// ---------------------------------------------------------------------------------------
// Log capture: one global subscriber for this test binary; each test looks for its own
// job ids.

#[derive(Clone)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn logs() -> &'static Capture {
    static LOGS: OnceLock<Capture> = OnceLock::new();
    LOGS.get_or_init(|| {
        let cap = Capture(Arc::new(Mutex::new(Vec::new())));
        let writer = cap.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter("arroyo_exporter=debug")
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
        cap
    })
}

/// Log lines that mention `needle`.
fn log_lines(needle: &str) -> Vec<String> {
    let all = String::from_utf8_lossy(&logs().0.lock().unwrap()).to_string();
    all.lines()
        .filter(|l| l.contains(needle))
        .map(str::to_string)
        .collect()
}

// ---------------------------------------------------------------------------------------
// World and checks

const VICTIM: &str = "job_Victim0001";
const OTHER: &str = "job_Other00001";

/// A world with two running jobs of two pipelines; returns the simulator.
async fn two_jobs(release: Release) -> FakeArroyo {
    let arroyo = FakeArroyo::start(release).await.unwrap();
    let st = arroyo.state();
    st.set_fixed_now(Some(now_micros()));
    for (pid, job, par) in [("pl_Victim0001", VICTIM, 2), ("pl_Other00001", OTHER, 3)] {
        common::add_running_job(
            st,
            SimPipeline::new(
                pid,
                pid,
                vec![
                    SimNode::new(0, "nexmark", "source", par),
                    SimNode::new(1, "blackhole", "sink", par),
                ],
            ),
            job,
            now_micros() - 60_000_000,
        );
    }
    arroyo
}

fn config_for(rpc_url: &str, api_url: &str) -> Config {
    let mut c = Config::default();
    c.controller.endpoint = rpc_url.parse().unwrap();
    c.api.endpoint = Some(api_url.parse().unwrap());
    c.admin.endpoint = None;
    c.controller.timeout = Duration::from_secs(2);
    c.controller.connect_timeout = Duration::from_millis(500);
    c
}

async fn scrape(ex: &Exporter) -> Scrape {
    let s = ex
        .scrape_with(
            None,
            &[("X-Prometheus-Scrape-Timeout-Seconds", DEADLINE_SECS)],
        )
        .await;
    assert_eq!(s.status, 200, "{}", s.body);
    assert!(s.elapsed < DEADLINE, "scrape took {:?}", s.elapsed);
    assert_no_duplicate_series(&s);
    s
}

/// Prometheus refuses a whole scrape with a duplicate series: there must be none.
fn assert_no_duplicate_series(s: &Scrape) {
    let mut seen = HashSet::new();
    for x in &s.samples {
        let key = format!("{}{:?}", x.name, x.labels);
        assert!(
            seen.insert(key.clone()),
            "duplicate series {key}\n{}",
            s.body
        );
    }
}

fn job_ok(s: &Scrape, job: &str) -> f64 {
    s.value("arroyo_exporter_job_scrape_success", &[("job_id", job)])
}

fn collector(s: &Scrape, name: &str) -> f64 {
    s.value("arroyo_exporter_collector_success", &[("collector", name)])
}

fn series(s: &Scrape, job: &str) -> usize {
    s.find(
        "arroyo_subtask_sent_messages_per_second",
        &[("job_id", job)],
    )
    .len()
}

/// The job failed and the rest was served.
fn assert_failed_alone(s: &Scrape, job: &str) {
    assert_eq!(
        job_ok(s, job),
        0.0,
        "{job} should be marked failed\n{}",
        s.body
    );
    assert_eq!(collector(s, "job_metrics"), 0.0);
    assert_eq!(series(s, job), 0, "{}", s.body);
    assert_eq!(job_ok(s, OTHER), 1.0);
    assert_eq!(
        series(s, OTHER),
        6,
        "the other job is still served\n{}",
        s.body
    );
    assert_eq!(collector(s, "discovery"), 1.0);
}

/// Everything is back.
fn assert_recovered(s: &Scrape) {
    assert_eq!(job_ok(s, VICTIM), 1.0, "{}", s.body);
    assert_eq!(collector(s, "job_metrics"), 1.0);
    assert_eq!(series(s, VICTIM), 4, "{}", s.body);
    assert_eq!(series(s, OTHER), 6);
    assert_eq!(s.value("arroyo_up", &[]), 1.0);
}

// ---------------------------------------------------------------------------------------
// Bad values in the document

/// A document in main's shape for node 0 and 1 with 2 subtasks each, whose
/// `messages_sent` group of node 0 is replaced by `group` (raw JSON).
fn doc_with(group: &str) -> String {
    let t = now_micros() - 1_000_000;
    let mut ops = Vec::new();
    for node in [0, 1] {
        let mut groups = Vec::new();
        for name in [
            "messages_recv",
            "messages_sent",
            "bytes_recv",
            "bytes_sent",
            "backpressure",
        ] {
            if node == 0 && name == "messages_sent" {
                groups.push(group.to_string());
                continue;
            }
            let subtasks: Vec<String> = (0..2)
                .map(|i| {
                    format!(
                        r#"{{"index":{i},"metrics":[{{"time":{},"value":1.5}},{{"time":{t},"value":2.5}}]}}"#,
                        t - 2_000_000
                    )
                })
                .collect();
            groups.push(format!(
                r#"{{"name":"{name}","subtasks":[{}]}}"#,
                subtasks.join(",")
            ));
        }
        ops.push(format!(
            r#"{{"node_id":{node},"metric_groups":[{}]}}"#,
            groups.join(",")
        ));
    }
    format!("[{}]", ops.join(","))
}

fn sent_group(subtasks: &str) -> String {
    format!(r#"{{"name":"messages_sent","subtasks":[{subtasks}]}}"#)
}

fn point(t: u64, v: &str) -> String {
    format!(r#"{{"time":{t},"value":{v}}}"#)
}

/// Serves `doc` for the victim job, scrapes, runs `check`, then restores generated
/// metrics and checks that the next scrape recovers.
async fn document_case(
    ex: &Exporter,
    arroyo: &FakeArroyo,
    what: &str,
    doc: String,
    check: impl FnOnce(&Scrape),
) {
    arroyo
        .state()
        .set_job_metrics(VICTIM, SimMetrics::Raw(Arc::from(doc.as_str())));
    let s = scrape(ex).await;
    check(&s);
    arroyo
        .state()
        .set_job_metrics(VICTIM, SimMetrics::Generated);
    let s = scrape(ex).await;
    assert_recovered(&s);
    let _ = what;
}

/// A document the decoder must refuse: the job is marked failed with kind `decode` and a
/// log line names the job and the problem.
async fn refused(ex: &Exporter, arroyo: &FakeArroyo, what: &str, doc: String, hint: &str) {
    let before = log_lines(VICTIM).len();
    document_case(ex, arroyo, what, doc, |s| {
        assert_failed_alone(s, VICTIM);
        assert!(
            s.value(
                "arroyo_exporter_upstream_errors_total",
                &[("source", "controller"), ("kind", "decode")]
            ) >= 1.0,
            "{what}\n{}",
            s.body
        );
    })
    .await;
    let lines = log_lines(VICTIM);
    let new: Vec<&String> = lines[before..]
        .iter()
        .filter(|l| l.contains("WARN") && l.contains("decode"))
        .collect();
    assert!(
        new.iter().any(|l| l.contains(hint)),
        "{what}: no clear log line mentioning `{hint}`: {new:#?}"
    );
}

#[tokio::test]
async fn wrong_types_fail_that_job_only() {
    logs();
    let arroyo = two_jobs(Release::Main).await;
    let ex = Exporter::start(config_for(&arroyo.rpc_url(), &arroyo.api_url())).await;
    assert_recovered(&scrape(&ex).await);
    let t = now_micros();
    let cases = [
        (
            "value as a string",
            sent_group(&format!(
                r#"{{"index":0,"metrics":[{}]}}"#,
                point(t, "\"12.5\"")
            )),
            "JobMetrics document",
        ),
        (
            "time as a string",
            sent_group(&format!(
                r#"{{"index":0,"metrics":[{{"time":"{t}","value":1}}]}}"#
            )),
            "JobMetrics document",
        ),
        (
            "index as a float",
            sent_group(&format!(r#"{{"index":0.5,"metrics":[{}]}}"#, point(t, "1"))),
            "JobMetrics document",
        ),
        (
            "subtasks as an object",
            r#"{"name":"messages_sent","subtasks":{"index":0}}"#.to_string(),
            "JobMetrics document",
        ),
        (
            "metrics as a number",
            sent_group(r#"{"index":0,"metrics":7}"#),
            "JobMetrics document",
        ),
        (
            "value as an object",
            sent_group(&format!(
                r#"{{"index":0,"metrics":[{{"time":{t},"value":{{"v":1}}}}]}}"#
            )),
            "JobMetrics document",
        ),
    ];
    for (what, group, hint) in cases {
        refused(&ex, &arroyo, what, doc_with(&group), hint).await;
    }
    // The whole document of the wrong type.
    refused(
        &ex,
        &arroyo,
        "an object instead of a list",
        r#"{"node_id":0}"#.into(),
        "JobMetrics document",
    )
    .await;
    ex.stop().await;
}

#[tokio::test]
async fn huge_numbers_are_refused_or_kept_exactly() {
    logs();
    let arroyo = two_jobs(Release::Main).await;
    let ex = Exporter::start(config_for(&arroyo.rpc_url(), &arroyo.api_url())).await;
    let t = now_micros();
    // Out of range: refused, never saturated or turned into +Inf.
    for (what, group) in [
        (
            "value 1e400",
            sent_group(&format!(
                r#"{{"index":0,"metrics":[{}]}}"#,
                point(t, "1e400")
            )),
        ),
        (
            "time beyond u64",
            sent_group(r#"{"index":0,"metrics":[{"time":18446744073709551616,"value":1}]}"#),
        ),
        (
            "negative time",
            sent_group(r#"{"index":0,"metrics":[{"time":-5,"value":1}]}"#),
        ),
        (
            "index beyond u32",
            sent_group(&format!(
                r#"{{"index":4294967296,"metrics":[{}]}}"#,
                point(t, "1")
            )),
        ),
    ] {
        refused(&ex, &arroyo, what, doc_with(&group), "JobMetrics document").await;
    }
    // Large but finite: kept exactly.
    let group = sent_group(&format!(
        r#"{{"index":0,"metrics":[{}]}},{{"index":1,"metrics":[{}]}}"#,
        point(t, "1.7976931348623157e308"),
        point(t, "123456789012345678901234567890")
    ));
    document_case(&ex, &arroyo, "huge finite", doc_with(&group), |s| {
        assert_eq!(job_ok(s, VICTIM), 1.0);
        let v = |idx: &str| {
            s.value(
                "arroyo_subtask_sent_messages_per_second",
                &[("job_id", VICTIM), ("node_id", "0"), ("subtask_idx", idx)],
            )
        };
        assert_eq!(v("0"), f64::MAX);
        assert_eq!(v("1"), 1.2345678901234568e29);
    })
    .await;
    ex.stop().await;
}

#[tokio::test]
async fn negative_rates_are_passed_through_as_sent() {
    logs();
    let arroyo = two_jobs(Release::Main).await;
    let ex = Exporter::start(config_for(&arroyo.rpc_url(), &arroyo.api_url())).await;
    let t = now_micros();
    let group = sent_group(&format!(
        r#"{{"index":0,"metrics":[{}]}},{{"index":1,"metrics":[{}]}}"#,
        point(t, "-42.25"),
        point(t, "-0.0")
    ));
    document_case(&ex, &arroyo, "negative", doc_with(&group), |s| {
        assert_eq!(job_ok(s, VICTIM), 1.0);
        assert_eq!(collector(s, "job_metrics"), 1.0);
        let v = |idx: &str| {
            s.value(
                "arroyo_subtask_sent_messages_per_second",
                &[("job_id", VICTIM), ("node_id", "0"), ("subtask_idx", idx)],
            )
        };
        // The exporter does not invent data: a negative rate from the controller is
        // shown as it came (alerts can catch it), not clamped to zero.
        assert_eq!(v("0"), -42.25);
        assert_eq!(v("1"), 0.0);
        assert_eq!(series(s, OTHER), 6);
    })
    .await;
    ex.stop().await;
}

#[tokio::test]
async fn duplicate_subtasks_become_one_series_with_the_newest_point() {
    logs();
    let arroyo = two_jobs(Release::Main).await;
    let ex = Exporter::start(config_for(&arroyo.rpc_url(), &arroyo.api_url())).await;
    let t = now_micros();
    // Subtask 0 three times (newest in the middle), subtask 1 twice with equal times.
    let group = sent_group(&format!(
        r#"{{"index":0,"metrics":[{}]}},{{"index":0,"metrics":[{}]}},{{"index":0,"metrics":[{}]}},{{"index":1,"metrics":[{}]}},{{"index":1,"metrics":[{}]}}"#,
        point(t - 4_000_000, "1"),
        point(t, "3"),
        point(t - 2_000_000, "2"),
        point(t, "10"),
        point(t, "11"),
    ));
    // The whole group twice, too.
    let doubled = format!(
        "{group},{}",
        sent_group(&format!(
            r#"{{"index":0,"metrics":[{}]}}"#,
            point(t - 1, "99")
        ))
    );
    document_case(&ex, &arroyo, "duplicates", doc_with(&doubled), |s| {
        assert_eq!(job_ok(s, VICTIM), 1.0);
        let found = s.find(
            "arroyo_subtask_sent_messages_per_second",
            &[("job_id", VICTIM), ("node_id", "0")],
        );
        assert_eq!(found.len(), 2, "{found:?}");
        let v = |idx: &str| {
            s.value(
                "arroyo_subtask_sent_messages_per_second",
                &[("job_id", VICTIM), ("node_id", "0"), ("subtask_idx", idx)],
            )
        };
        assert_eq!(v("0"), 3.0, "the newest point wins");
        assert_eq!(v("1"), 11.0, "on equal times the later one wins");
    })
    .await;
    ex.stop().await;
}

#[tokio::test]
async fn unknown_metric_names_are_skipped_and_counted() {
    logs();
    let arroyo = two_jobs(Release::Main).await;
    let ex = Exporter::start(config_for(&arroyo.rpc_url(), &arroyo.api_url())).await;
    let t = now_micros();
    let extra = format!(
        r#"{},{{"name":"tx_queue_size","subtasks":[{{"index":0,"metrics":[{}]}}]}},{{"name":"some_future_metric","subtasks":[{{"index":0,"metrics":[{{"time":{t},"value":"not even a number"}}]}}]}}"#,
        sent_group(&format!(
            r#"{{"index":0,"metrics":[{}]}},{{"index":1,"metrics":[{}]}}"#,
            point(t, "5"),
            point(t, "6")
        )),
        point(t, "1"),
    );
    let before = ex
        .scrape(None)
        .await
        .value("arroyo_exporter_unknown_metric_groups_total", &[]);
    document_case(&ex, &arroyo, "unknown names", doc_with(&extra), |s| {
        assert_eq!(job_ok(s, VICTIM), 1.0);
        assert_eq!(series(s, VICTIM), 4);
        assert_eq!(
            s.value("arroyo_exporter_unknown_metric_groups_total", &[]) - before,
            2.0,
            "{}",
            s.body
        );
        assert!(!s.body.contains("tx_queue_size") && !s.body.contains("some_future_metric"));
    })
    .await;
    ex.stop().await;
}

// ---------------------------------------------------------------------------------------
// Connection resets and restarts

/// A TCP proxy in front of the controller. In "reset" mode every connection forwards
/// the request but only the first bytes of the answer, then resets (RST) the
/// connection: a controller that dies mid-call. Switching modes kills open connections.
struct ResetProxy {
    addr: SocketAddr,
    reset: Arc<AtomicBool>,
    generation: tokio::sync::watch::Sender<u64>,
    task: tokio::task::JoinHandle<()>,
}

/// Bytes of the answer let through before the reset: enough for the HTTP/2 preface and
/// settings, not for the whole answer.
const BYTES_BEFORE_RESET: usize = 120;

impl ResetProxy {
    async fn start(upstream: SocketAddr) -> ResetProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let reset = Arc::new(AtomicBool::new(false));
        let (generation, _) = tokio::sync::watch::channel(0u64);
        let gen_tx = generation.clone();
        let mode = Arc::clone(&reset);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let resetting = mode.load(Ordering::SeqCst);
                let mut killed = gen_tx.subscribe();
                tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = pipe(client, server, resetting) => {}
                        _ = killed.changed() => {}
                    }
                });
            }
        });
        ResetProxy {
            addr,
            reset,
            generation,
            task,
        }
    }

    fn set_reset(&self, on: bool) {
        self.reset.store(on, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }
}

impl Drop for ResetProxy {
    fn drop(&mut self) {
        self.task.abort();
        self.generation.send_modify(|g| *g += 1);
    }
}

async fn pipe(client: tokio::net::TcpStream, server: tokio::net::TcpStream, reset: bool) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    if reset {
        // SO_LINGER 0: closing the socket at the cut sends an RST.
        let _ = client.set_zero_linger();
    }
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let up = async {
        let _ = tokio::io::copy(&mut cr, &mut sw).await;
        let _ = sw.shutdown().await;
    };
    let down = async {
        let mut buf = vec![0u8; 16 * 1024];
        let mut sent = 0usize;
        loop {
            let n = match sr.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let n = if reset {
                n.min(BYTES_BEFORE_RESET - sent)
            } else {
                n
            };
            if cw.write_all(&buf[..n]).await.is_err() {
                break;
            }
            sent += n;
            if reset && sent >= BYTES_BEFORE_RESET {
                break;
            }
        }
    };
    if reset {
        // Stop at the cut, whatever the request side is doing; the halves drop here.
        tokio::select! {
            _ = up => {}
            _ = down => {}
        }
    } else {
        tokio::join!(up, down);
    }
}

#[tokio::test]
async fn controller_resetting_the_connection_mid_call() {
    logs();
    let arroyo = two_jobs(Release::Main).await;
    let proxy = ResetProxy::start(arroyo.rpc_addr()).await;
    let ex = Exporter::start(config_for(
        &format!("http://{}", proxy.addr),
        &arroyo.api_url(),
    ))
    .await;
    assert_recovered(&scrape(&ex).await);
    let before = log_lines("fetching job metrics failed").len();

    proxy.set_reset(true);
    for _ in 0..2 {
        let s = scrape(&ex).await;
        // Both jobs go through the controller: both fail, the API is still served.
        assert_eq!(job_ok(&s, VICTIM), 0.0, "{}", s.body);
        assert_eq!(job_ok(&s, OTHER), 0.0);
        assert_eq!(collector(&s, "job_metrics"), 0.0);
        assert_eq!(s.value("arroyo_up", &[]), 0.0);
        assert_eq!(collector(&s, "discovery"), 1.0, "the API is still served");
        assert_eq!(
            s.value("arroyo_job_running_desired", &[("job_id", VICTIM)]),
            1.0
        );
        assert_eq!(series(&s, VICTIM), 0);
    }
    let lines = log_lines("fetching job metrics failed");
    assert!(
        lines[before..]
            .iter()
            .any(|l| l.contains("WARN") && l.contains("controller")),
        "no log line for the reset: {:#?}",
        &lines[before..]
    );

    proxy.set_reset(false);
    let mut recovered = false;
    for _ in 0..5 {
        let s = scrape(&ex).await;
        if job_ok(&s, VICTIM) == 1.0 {
            assert_recovered(&s);
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(recovered, "no recovery after the resets stopped");
    ex.stop().await;
}

#[tokio::test]
async fn controller_restarting_between_scrapes_and_during_a_call() {
    logs();
    let arroyo = two_jobs(Release::Main).await;
    let ex = Exporter::start(config_for(&arroyo.rpc_url(), &arroyo.api_url())).await;
    assert_recovered(&scrape(&ex).await);

    // Between scrapes: the next scrape answers, and at most one scrape later the
    // exporter is back on the restarted controller (same port, new process).
    for round in 0..3 {
        arroyo.restart_rpc().await.unwrap();
        // A restarted controller collects afresh; let some collection periods pass.
        arroyo
            .state()
            .set_fixed_now(Some(now_micros() + 6_000_000 * (round + 1)));
        let first = scrape(&ex).await;
        if job_ok(&first, VICTIM) == 1.0 {
            assert_recovered(&first);
        } else {
            // A reconnect may cost one scrape; it is marked, and the API is still served.
            assert_eq!(collector(&first, "job_metrics"), 0.0, "{}", first.body);
            assert_eq!(collector(&first, "discovery"), 1.0);
            assert_recovered(&scrape(&ex).await);
        }
    }

    // During a call: the controller dies while the victim's answer is delayed.
    arroyo
        .state()
        .set_rpc_faults(Some(VICTIM), RpcFaults::delay(Duration::from_millis(1500)));
    let before = log_lines(VICTIM).len();
    let scraping = async { scrape(&ex).await };
    let restarting = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        arroyo.restart_rpc().await.unwrap();
    };
    let (s, ()) = tokio::join!(scraping, restarting);
    assert_eq!(job_ok(&s, VICTIM), 0.0, "{}", s.body);
    assert_eq!(collector(&s, "job_metrics"), 0.0);
    assert_eq!(collector(&s, "discovery"), 1.0);
    let lines = log_lines(VICTIM);
    assert!(
        lines[before..].iter().any(|l| l.contains("WARN")),
        "no log line: {:#?}",
        &lines[before..]
    );
    arroyo.state().clear_faults();
    arroyo
        .state()
        .set_fixed_now(Some(now_micros() + 60_000_000));
    let mut recovered = false;
    for _ in 0..3 {
        let s = scrape(&ex).await;
        if job_ok(&s, VICTIM) == 1.0 {
            assert_recovered(&s);
            recovered = true;
            break;
        }
    }
    assert!(recovered, "no recovery after a restart during a call");
    ex.stop().await;
}
