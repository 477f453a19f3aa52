//! Interop: the exporter's `JobMetrics` client against a second, independent gRPC
//! implementation. `tests/interop/grpc_server.py` (Python grpcio, its own protobuf
//! encoding, no tonic anywhere) serves the real captures of `tests/fixtures` byte for
//! byte; the exporter runs in-process, discovers jobs through the REST API of a
//! simulated Arroyo ([`FakeArroyo`] with the capture's world) and asks the grpcio server
//! for the metrics.
//!
//! These tests would have failed before the fix of issue 9 (item 1): the exporter then
//! sent its request zstd-compressed, which grpcio refuses (INTERNAL, "Error parsing
//! 'grpc-encoding' metadata"), so every job failed. Every grpcio case below passing is
//! the proof; [`grpcio_refuses_a_zstd_compressed_request`] keeps the premise honest by
//! showing that grpcio still refuses such a request.
//!
//! Cases, for both captures (Arroyo main → `JobControllerGrpc`, v0.15.0 → `ControllerGrpc`):
//! * every service layout of the server (`both`, `controller`, `job-controller`) against
//!   every client mode (`auto`, `job-controller`, `controller`): where the method is
//!   served, every `arroyo_*` sample line is exactly what the same exporter gives with
//!   the tonic simulator as controller; where it is not, the `UNIMPLEMENTED` is visible
//!   (`arroyo_up` 0, `upstream_errors{kind="grpc_unimplemented"}`) and the scrape answers;
//! * plain and gzip-compressed answers (zstd answers are covered by the tonic simulator
//!   tests: grpcio cannot send zstd);
//! * `NOT_FOUND` for a job the server does not know (no series, not an error) and
//!   `FAILED_PRECONDITION` (a leader worker asked about another job: an error);
//! * a slow answer, cut by the controller timeout and by the scrape deadline;
//! * a 40 MB answer, every series of it counted.
//!
//! The server runs from `.tmp/venv/bin/python` (or `ARROYO_TEST_PYTHON`) with grpcio
//! installed; `scripts/test.sh` sets that up from `scripts/requirements-test.txt`. A
//! missing python or grpcio fails the tests with that hint; they are never skipped.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use arroyo_exporter::arroyo::pb::controller_grpc_client::ControllerGrpcClient;
use arroyo_exporter::arroyo::pb::job_controller_grpc_client::JobControllerGrpcClient;
use arroyo_exporter::arroyo::pb::{JobMetricsReq, JobMetricsResp};
use arroyo_exporter::config::{Config, ControllerService};
use arroyo_sim::{fixture_world, FakeArroyo, Release, SimJob, SimPipeline, World};
use common::{fixtures, Exporter, Scrape, PROMETHEUS_ACCEPT};
use tonic::codec::CompressionEncoding;

// ---------------------------------------------------------------------------------
// The grpcio server as a child process
// ---------------------------------------------------------------------------------

const INSTALL_HINT: &str = "run scripts/test.sh (it installs scripts/requirements-test.txt \
     into .tmp/venv), or by hand: python3 -m venv .tmp/venv && \
     .tmp/venv/bin/pip install -r scripts/requirements-test.txt";

/// The python that has grpcio: `ARROYO_TEST_PYTHON`, else `.tmp/venv/bin/python`.
fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("ARROYO_TEST_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".tmp/venv/bin/python");
    assert!(
        venv.exists(),
        "{} does not exist: the grpcio interop tests need a python with grpcio; {INSTALL_HINT} \
         (or set ARROYO_TEST_PYTHON)",
        venv.display()
    );
    venv
}

fn server_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/grpc_server.py")
}

/// Options of one grpcio server.
#[derive(Clone, Default)]
struct Spec {
    services: &'static str,
    compression: &'static str,
    serve: Vec<(String, PathBuf)>,
    delay: Vec<(String, f64)>,
    fail: Vec<(String, String)>,
}

impl Spec {
    fn new(services: &'static str, compression: &'static str) -> Spec {
        Spec {
            services,
            compression,
            ..Spec::default()
        }
    }

    fn serve(mut self, job: &str, file: impl Into<PathBuf>) -> Spec {
        self.serve.push((job.to_string(), file.into()));
        self
    }
}

/// A grpcio server started but maybe not serving yet.
struct Starting {
    child: Child,
    stdin: Option<ChildStdin>,
    dir: tempfile::TempDir,
    what: String,
}

/// A serving grpcio server. Dropping it closes its stdin (it runs with
/// `--exit-with-stdin`, so it stops by itself, also if this process dies) and waits for
/// it, killing it after a few seconds.
struct GrpcServer {
    child: Child,
    stdin: Option<ChildStdin>,
    port: u16,
    dir: tempfile::TempDir,
    what: String,
}

fn start(spec: &Spec) -> Starting {
    let dir = tempfile::tempdir().unwrap();
    let stderr = File::create(dir.path().join("stderr.txt")).unwrap();
    let mut cmd = Command::new(python());
    cmd.arg(server_script())
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--port-file")
        .arg(dir.path().join("port"))
        .arg("--services")
        .arg(spec.services)
        .arg("--compression")
        .arg(spec.compression)
        .arg("--exit-with-stdin");
    for (job, file) in &spec.serve {
        cmd.arg("--serve").arg(format!("{job}={}", file.display()));
    }
    for (job, secs) in &spec.delay {
        cmd.arg("--delay").arg(format!("{job}={secs}"));
    }
    for (job, code) in &spec.fail {
        cmd.arg("--fail").arg(format!("{job}={code}"));
    }
    let what = format!(
        "grpcio server (--services {} --compression {})",
        spec.services, spec.compression
    );
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::from(stderr))
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} ({e}): the grpcio interop tests need a python with grpcio; \
                 {INSTALL_HINT} (or set ARROYO_TEST_PYTHON)",
                python().display()
            )
        });
    let stdin = child.stdin.take();
    Starting {
        child,
        stdin,
        dir,
        what,
    }
}

impl Starting {
    /// Waits until the server has written its port file.
    fn ready(mut self) -> GrpcServer {
        let port_file = self.dir.path().join("port");
        let started = Instant::now();
        loop {
            if let Ok(text) = std::fs::read_to_string(&port_file) {
                let port: u16 = text.trim().parse().unwrap();
                return GrpcServer {
                    child: self.child,
                    stdin: self.stdin,
                    port,
                    dir: self.dir,
                    what: self.what,
                };
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                let stderr =
                    std::fs::read_to_string(self.dir.path().join("stderr.txt")).unwrap_or_default();
                panic!(
                    "{} exited ({status}) before serving:\n{stderr}\n\
                     If grpcio is missing: {INSTALL_HINT}",
                    self.what
                );
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{} did not write its port file within 60 s",
                self.what
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Starts every spec at once and waits until all serve.
fn start_all(specs: &[Spec]) -> Vec<GrpcServer> {
    let starting: Vec<Starting> = specs.iter().map(start).collect();
    starting.into_iter().map(Starting::ready).collect()
}

impl GrpcServer {
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.txt")).unwrap_or_default()
    }

    /// Sends SIGTERM and returns how the server exited.
    fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success(), "kill -TERM {pid}");
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{} still running 10 s after SIGTERM",
                self.what
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for GrpcServer {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------
// The captures and the exporter
// ---------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
struct Capture {
    release: Release,
    dir: &'static str,
    job: &'static str,
    pipeline: &'static str,
}

const MAIN: Capture = Capture {
    release: Release::Main,
    dir: "arroyo-main-addb390",
    job: "job_DsH3Sq8cSj",
    pipeline: "pl_89EzD1DdVl",
};

const V0_15: Capture = Capture {
    release: Release::V0_15,
    dir: "arroyo-v0.15.0",
    job: "job_sX6HjY6eoa",
    pipeline: "pl_inmhsYVAPs",
};

impl Capture {
    /// The captured `JobMetricsResp.metrics`, byte-exact.
    fn document(&self) -> PathBuf {
        fixtures().join(self.dir).join("job_metrics_rpc.json")
    }

    fn world(&self) -> World {
        fixture_world(self.release, &fixtures()).unwrap()
    }
}

/// Adds to `world` a copy of its first pipeline as `pipeline_id` (named `name`) and a job
/// `job_id` of it, running since the first job started.
fn add_pipeline_copy(world: &mut World, pipeline_id: &str, name: &str, job_id: &str) {
    let start = world.jobs[0].start_time.unwrap();
    let nodes = world.pipelines[0].nodes.clone();
    world
        .pipelines
        .push(SimPipeline::new(pipeline_id, name, nodes));
    world.jobs.push(SimJob::running(job_id, pipeline_id, start));
}

async fn fake_arroyo(world: World) -> FakeArroyo {
    FakeArroyo::builder(world.release)
        .world(world)
        .start()
        .await
        .unwrap()
}

const SUBTASK_FAMILIES: [&str; 5] = [
    "arroyo_subtask_received_messages_per_second",
    "arroyo_subtask_sent_messages_per_second",
    "arroyo_subtask_received_bytes_per_second",
    "arroyo_subtask_sent_bytes_per_second",
    "arroyo_subtask_backpressure_ratio",
];

const OPERATOR_FAMILIES: [&str; 5] = [
    "arroyo_operator_received_messages_per_second",
    "arroyo_operator_sent_messages_per_second",
    "arroyo_operator_received_bytes_per_second",
    "arroyo_operator_sent_bytes_per_second",
    "arroyo_operator_backpressure_ratio",
];

/// An exporter config: REST API of `api`, controller at `controller`, in `mode`. The
/// captures are hours old, so the sample-age guard is off.
fn config(api: &FakeArroyo, controller: &str, mode: ControllerService) -> Config {
    let mut c = common::config_for(api);
    c.controller.endpoint = controller.parse().unwrap();
    c.controller.service = mode;
    c.controller.timeout = Duration::from_secs(5);
    c.scrape.max_sample_age = Duration::ZERO;
    c
}

/// Starts an exporter for `cfg`, scrapes it once, stops it.
async fn scrape_once(cfg: Config) -> (Scrape, Option<&'static str>) {
    scrape_once_with(cfg, &[]).await
}

async fn scrape_once_with(cfg: Config, headers: &[(&str, &str)]) -> (Scrape, Option<&'static str>) {
    let exporter = Exporter::start(cfg).await;
    let s = exporter.scrape_with(Some(PROMETHEUS_ACCEPT), headers).await;
    let learned = exporter.scraper.learned_service();
    exporter.stop().await;
    assert_eq!(s.status, 200, "{}", s.body);
    assert!(s.body.ends_with("# EOF\n"), "{}", s.body);
    (s, learned)
}

/// Metric families whose sample lines legitimately differ between two exporters that
/// scraped the same world through different controllers:
/// * `arroyo_exporter_collector_duration_seconds`: wall time of each collector in that
///   scrape;
/// * `arroyo_exporter_job_read_timestamp_seconds`, `arroyo_exporter_read_timestamp_seconds`:
///   when each exporter read the API, by its own clock;
/// * `process_*` (not `arroyo_*` anyway): the test process's memory, CPU and file
///   descriptors, start time.
///
/// Everything else, including the exporter's own call and error counters, the build
/// info and the scrape counter, must be the same line for line.
const DIFFERING: [&str; 3] = [
    "arroyo_exporter_collector_duration_seconds",
    "arroyo_exporter_job_read_timestamp_seconds",
    "arroyo_exporter_read_timestamp_seconds",
];

/// The `arroyo_*` sample lines of a scrape, sorted, minus [`DIFFERING`].
fn comparable(body: &str) -> Vec<String> {
    let mut lines: Vec<String> = body
        .lines()
        .filter(|l| l.starts_with("arroyo_"))
        .filter(|l| {
            let name = &l[..l.find(['{', ' ']).unwrap_or(l.len())];
            !DIFFERING.contains(&name)
        })
        .map(str::to_string)
        .collect();
    lines.sort();
    lines
}

/// Panics with the lines only one side has.
fn assert_same_lines(want: &[String], got: &[String], what: &str) {
    if want == got {
        return;
    }
    let w: BTreeSet<&String> = want.iter().collect();
    let g: BTreeSet<&String> = got.iter().collect();
    let missing: Vec<&&String> = w.difference(&g).take(20).collect();
    let extra: Vec<&&String> = g.difference(&w).take(20).collect();
    panic!(
        "{what}: {} lines with tonic, {} with grpcio\nonly with tonic: {missing:#?}\nonly with grpcio: {extra:#?}",
        want.len(),
        got.len()
    );
}

/// Number of subtask series (groups × subtasks with at least one point) of a document,
/// counted without the exporter's decoder.
fn series_in(doc: &str) -> usize {
    let v: serde_json::Value = serde_json::from_str(doc).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .flat_map(|op| op["metric_groups"].as_array().unwrap())
        .flat_map(|g| g["subtasks"].as_array().unwrap())
        .filter(|s| !s["metrics"].as_array().unwrap().is_empty())
        .count()
}

fn job_series(s: &Scrape, job: &str) -> usize {
    SUBTASK_FAMILIES
        .iter()
        .map(|f| s.find(f, &[("job_id", job)]).len())
        .sum()
}

fn mode_name(mode: ControllerService) -> &'static str {
    match mode {
        ControllerService::Auto => "auto",
        ControllerService::JobController => "job-controller",
        ControllerService::Controller => "controller",
    }
}

/// Whether a server with `layout` serves the method a client in `mode` calls.
fn served(layout: &str, mode: ControllerService) -> bool {
    match layout {
        "controller" => mode != ControllerService::JobController,
        "job-controller" => mode != ControllerService::Controller,
        _ => true,
    }
}

/// The service an `auto` client settles on against `layout`.
fn learned_for(layout: &str) -> &'static str {
    match layout {
        "controller" => "arroyo_rpc.ControllerGrpc",
        _ => "arroyo_rpc.JobControllerGrpc",
    }
}

/// What a scrape shows when the only job's call got `UNIMPLEMENTED`.
fn assert_unimplemented_visible(s: &Scrape, cap: Capture, what: &str) {
    assert_eq!(s.value("arroyo_up", &[]), 0.0, "{what}\n{}", s.body);
    assert_eq!(
        s.value(
            "arroyo_exporter_upstream_errors_total",
            &[("source", "controller"), ("kind", "grpc_unimplemented")]
        ),
        1.0,
        "{what}"
    );
    assert_eq!(
        s.value("arroyo_exporter_job_scrape_success", &[("job_id", cap.job)]),
        0.0,
        "{what}"
    );
    assert_eq!(
        s.value(
            "arroyo_exporter_collector_success",
            &[("collector", "job_metrics")]
        ),
        0.0,
        "{what}"
    );
    assert_eq!(job_series(s, cap.job), 0, "{what}");
    // Discovery still worked: the job's REST families are there.
    assert_eq!(
        s.find("arroyo_job_run_id", &[("job_id", cap.job)]).len(),
        1,
        "{what}"
    );
}

/// Every layout of `layouts` × every client mode × both captures, against the tonic
/// simulator's answer for the same capture.
async fn service_matrix(layouts: &[&'static str], compression: &'static str) {
    let specs: Vec<Spec> = layouts
        .iter()
        .map(|layout| {
            Spec::new(layout, compression)
                .serve(MAIN.job, MAIN.document())
                .serve(V0_15.job, V0_15.document())
        })
        .collect();
    let servers = start_all(&specs);
    let mut compared = 0;
    let mut unimplemented = 0;
    let mut lines = Vec::new();
    for cap in [MAIN, V0_15] {
        let arroyo = fake_arroyo(cap.world()).await;
        let doc = std::fs::read_to_string(cap.document()).unwrap();
        let (reference, _) =
            scrape_once(config(&arroyo, &arroyo.rpc_url(), ControllerService::Auto)).await;
        assert_eq!(reference.value("arroyo_up", &[]), 1.0, "{}", reference.body);
        assert_eq!(job_series(&reference, cap.job), series_in(&doc));
        assert_eq!(series_in(&doc), 40);
        let want = comparable(&reference.body);
        lines.push(want.len());

        for (layout, server) in layouts.iter().zip(&servers) {
            for mode in [
                ControllerService::Auto,
                ControllerService::JobController,
                ControllerService::Controller,
            ] {
                let what = format!(
                    "{:?} capture, grpcio --services {layout} --compression {compression}, \
                     controller.service {}",
                    cap.release,
                    mode_name(mode)
                );
                let (s, learned) = scrape_once(config(&arroyo, &server.url(), mode)).await;
                if served(layout, mode) {
                    assert_eq!(s.value("arroyo_up", &[]), 1.0, "{what}\n{}", s.body);
                    assert_same_lines(&want, &comparable(&s.body), &what);
                    if mode == ControllerService::Auto {
                        assert_eq!(learned, Some(learned_for(layout)), "{what}");
                    }
                    compared += 1;
                } else {
                    assert_unimplemented_visible(&s, cap, &what);
                    unimplemented += 1;
                }
            }
        }
    }
    let stderr: String = servers.iter().map(GrpcServer::stderr).collect();
    assert!(compared > 0, "{stderr}");
    eprintln!(
        "compression {compression}: {compared} scrapes through grpcio identical to tonic \
         ({} + {} lines compared each for main + v0.15), {unimplemented} UNIMPLEMENTED",
        lines[0], lines[1]
    );
}

// ---------------------------------------------------------------------------------
// The cases
// ---------------------------------------------------------------------------------

/// Plain answers, every service layout and client mode, both captures: identical
/// series where the method is served, a visible `UNIMPLEMENTED` where it is not (the
/// server has only the other service and the client is forced to the wrong one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_answers_every_service_layout_match_tonic() {
    service_matrix(&["both", "controller", "job-controller"], "none").await;
}

/// gzip-compressed answers (the exporter accepts zstd and gzip; grpcio cannot send
/// zstd, so zstd answers are covered by the tonic simulator tests only).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_answers_match_tonic() {
    service_matrix(&["both"], "gzip").await;
}

/// The premise of these tests, checked with plain tonic clients: grpcio refuses a
/// zstd-compressed request (what the exporter sent before the fix of issue 9), takes
/// an uncompressed one, and the gzip server really compresses its answers. The server
/// also stops cleanly on SIGTERM (the benchmarks rely on it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpcio_refuses_a_zstd_compressed_request() {
    let mut servers = start_all(&[
        Spec::new("both", "none").serve(MAIN.job, MAIN.document()),
        Spec::new("both", "gzip").serve(MAIN.job, MAIN.document()),
    ]);
    let doc = std::fs::read_to_string(MAIN.document()).unwrap();
    let req = || {
        tonic::Request::new(JobMetricsReq {
            job_id: MAIN.job.to_string(),
        })
    };

    // Before the fix: request zstd-compressed.
    let mut zstd = JobControllerGrpcClient::connect(servers[0].url())
        .await
        .unwrap()
        .send_compressed(CompressionEncoding::Zstd)
        .accept_compressed(CompressionEncoding::Zstd);
    let status = zstd.job_metrics(req()).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Internal, "{status:?}");
    assert!(
        status.message().contains("grpc-encoding"),
        "{:?}",
        status.message()
    );

    // After the fix: request plain, answers accepted as zstd or gzip.
    for (server, encoding) in [(&servers[0], None), (&servers[1], Some("gzip"))] {
        let mut client = ControllerGrpcClient::connect(server.url())
            .await
            .unwrap()
            .accept_compressed(CompressionEncoding::Zstd)
            .accept_compressed(CompressionEncoding::Gzip);
        let resp = client.job_metrics(req()).await.unwrap();
        let got = resp
            .metadata()
            .get("grpc-encoding")
            .map(|v| v.to_str().unwrap().to_string());
        assert_eq!(got.as_deref(), encoding, "{}", server.what);
        let JobMetricsResp { metrics } = resp.into_inner();
        assert_eq!(metrics, doc, "the document arrives byte for byte");
    }

    let gzip = servers.pop().unwrap();
    assert!(gzip.terminate().success(), "exit status after SIGTERM");
    let plain = servers.pop().unwrap();
    assert!(plain.terminate().success(), "exit status after SIGTERM");
}

/// A job the server does not know answers `NOT_FOUND` ("No metrics for job"): the job
/// has no series and its fetch counts as a success, not an error, as in Arroyo's own
/// API client. `FAILED_PRECONDITION` (what a leader worker says about another job) is
/// an error of that job, though the controller did answer (`arroyo_up` stays 1).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_found_is_no_series_not_an_error() {
    const UNKNOWN: &str = "job_NotServed1";
    const LEADER: &str = "job_Leader0001";
    let server = start_all(&[Spec {
        fail: vec![(
            LEADER.to_string(),
            "FAILED_PRECONDITION:not the leader of this job".to_string(),
        )],
        ..Spec::new("both", "none").serve(MAIN.job, MAIN.document())
    }])
    .pop()
    .unwrap();

    let mut world = MAIN.world();
    let start = world.jobs[0].start_time.unwrap();
    world
        .jobs
        .push(SimJob::running(UNKNOWN, MAIN.pipeline, start));
    add_pipeline_copy(&mut world, "pl_Leader00001", "leader_pipeline", LEADER);
    let arroyo = fake_arroyo(world).await;

    // The capture's job and one the server does not know.
    let mut cfg = config(&arroyo, &server.url(), ControllerService::Auto);
    cfg.scrape.exclude_pipelines = Some("^leader_pipeline$".to_string());
    let (s, _) = scrape_once(cfg).await;
    assert_eq!(s.value("arroyo_up", &[]), 1.0, "{}", s.body);
    assert_eq!(job_series(&s, MAIN.job), 40);
    assert_eq!(job_series(&s, UNKNOWN), 0);
    for fam in OPERATOR_FAMILIES {
        assert!(s.find(fam, &[("job_id", UNKNOWN)]).is_empty(), "{fam}");
    }
    assert!(s
        .find(
            "arroyo_job_metrics_last_sample_timestamp_seconds",
            &[("job_id", UNKNOWN)]
        )
        .is_empty());
    for job in [MAIN.job, UNKNOWN] {
        assert_eq!(
            s.value("arroyo_exporter_job_scrape_success", &[("job_id", job)]),
            1.0,
            "{job}"
        );
    }
    assert_eq!(
        s.value(
            "arroyo_exporter_collector_success",
            &[("collector", "job_metrics")]
        ),
        1.0
    );
    assert!(
        s.find(
            "arroyo_exporter_upstream_errors_total",
            &[("source", "controller")]
        )
        .is_empty(),
        "{}",
        s.body
    );
    assert_eq!(
        s.value(
            "arroyo_exporter_upstream_requests_total",
            &[("source", "controller")]
        ),
        2.0
    );
    // The job itself is known (from the REST API).
    assert_eq!(s.find("arroyo_job_run_id", &[("job_id", UNKNOWN)]).len(), 1);

    // FAILED_PRECONDITION.
    let mut cfg = config(&arroyo, &server.url(), ControllerService::Auto);
    cfg.scrape.include_pipelines = Some("^leader_pipeline$".to_string());
    let (s, _) = scrape_once(cfg).await;
    assert_eq!(s.value("arroyo_up", &[]), 1.0, "{}", s.body);
    assert_eq!(
        s.value("arroyo_exporter_job_scrape_success", &[("job_id", LEADER)]),
        0.0
    );
    assert_eq!(
        s.value(
            "arroyo_exporter_upstream_errors_total",
            &[
                ("source", "controller"),
                ("kind", "grpc_failed_precondition")
            ]
        ),
        1.0
    );
    assert_eq!(
        s.value(
            "arroyo_exporter_collector_success",
            &[("collector", "job_metrics")]
        ),
        0.0
    );
    assert_eq!(job_series(&s, LEADER), 0);

    // v0.15: the server knows none of its jobs; every answer is NOT_FOUND.
    let arroyo = fake_arroyo(V0_15.world()).await;
    let (s, _) = scrape_once(config(&arroyo, &server.url(), ControllerService::Auto)).await;
    assert_eq!(s.value("arroyo_up", &[]), 1.0, "{}", s.body);
    assert_eq!(job_series(&s, V0_15.job), 0);
    assert_eq!(
        s.value(
            "arroyo_exporter_job_scrape_success",
            &[("job_id", V0_15.job)]
        ),
        1.0
    );
    assert_eq!(
        s.value(
            "arroyo_exporter_collector_success",
            &[("collector", "job_metrics")]
        ),
        1.0
    );
}

/// A slow answer: cut by the controller timeout (the other job still arrives), and cut
/// by the scrape deadline Prometheus sends when that comes first. Either way the job is
/// marked failed, `arroyo_up` is 0 when no job answered, and the scrape answers in time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_answer_is_cut_and_marked_down() {
    const SLOW: &str = "job_Slow000001";
    let server = start_all(&[Spec {
        delay: vec![(SLOW.to_string(), 30.0)],
        ..Spec::new("both", "none")
            .serve(MAIN.job, MAIN.document())
            .serve(SLOW, MAIN.document())
    }])
    .pop()
    .unwrap();
    let mut world = MAIN.world();
    add_pipeline_copy(&mut world, "pl_Slow000001", "slow_pipeline", SLOW);
    let arroyo = fake_arroyo(world).await;

    // Controller timeout 1 s; both jobs.
    let mut both = config(&arroyo, &server.url(), ControllerService::Auto);
    both.controller.timeout = Duration::from_secs(1);
    // Controller timeout 1 s; the slow job alone.
    let mut alone = both.clone();
    alone.scrape.include_pipelines = Some("^slow_pipeline$".to_string());
    // Controller timeout 8 s, but Prometheus allows 2 s (minus the 0.5 s offset).
    let mut deadline = alone.clone();
    deadline.controller.timeout = Duration::from_secs(8);
    let header = [("x-prometheus-scrape-timeout-seconds", "2")];

    // The bounds on each scrape's time below are loose (the machine may be busy); what
    // matters is that the cut comes from the right limit, long before the server's 30 s.
    let ((both, _), (alone, _), (deadline, _)) = tokio::join!(
        scrape_once(both),
        scrape_once(alone),
        scrape_once_with(deadline, &header),
    );

    // The other job still arrives.
    assert!(
        both.elapsed >= Duration::from_millis(950) && both.elapsed < Duration::from_secs(6),
        "{:?}",
        both.elapsed
    );
    assert_eq!(both.value("arroyo_up", &[]), 1.0, "{}", both.body);
    assert_eq!(job_series(&both, MAIN.job), 40);
    assert_eq!(job_series(&both, SLOW), 0);
    assert_eq!(
        both.value("arroyo_exporter_job_scrape_success", &[("job_id", SLOW)]),
        0.0
    );
    assert_eq!(
        both.value(
            "arroyo_exporter_upstream_errors_total",
            &[("source", "controller"), ("kind", "timeout")]
        ),
        1.0
    );

    // Nothing answered: down.
    for (s, what) in [
        (&alone, "controller timeout"),
        (&deadline, "scrape deadline"),
    ] {
        assert_eq!(s.value("arroyo_up", &[]), 0.0, "{what}\n{}", s.body);
        assert_eq!(
            s.value("arroyo_exporter_job_scrape_success", &[("job_id", SLOW)]),
            0.0,
            "{what}"
        );
        assert_eq!(
            s.value(
                "arroyo_exporter_collector_success",
                &[("collector", "job_metrics")]
            ),
            0.0,
            "{what}"
        );
        assert_eq!(job_series(s, SLOW), 0, "{what}");
        // The REST families are there all the same.
        assert_eq!(
            s.find("arroyo_job_run_id", &[("job_id", SLOW)]).len(),
            1,
            "{what}"
        );
    }
    assert!(
        alone.elapsed >= Duration::from_millis(950) && alone.elapsed < Duration::from_secs(6),
        "{:?}",
        alone.elapsed
    );
    assert_eq!(
        alone.value(
            "arroyo_exporter_upstream_errors_total",
            &[("source", "controller"), ("kind", "timeout")]
        ),
        1.0
    );
    // Cut at the 1.5 s budget, well before the 8 s controller timeout.
    assert!(
        deadline.elapsed >= Duration::from_millis(1450)
            && deadline.elapsed < Duration::from_secs(6),
        "{:?}",
        deadline.elapsed
    );
}

/// The main capture blown up to more than 40 MB (the same operators with hundreds of
/// subtasks each, the captured series repeated): far past gRPC's usual 4 MiB limit
/// both ways. Every series arrives with its value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_megabyte_answer_arrives_whole() {
    const TARGET: usize = 40 * 1000 * 1000;
    let capture = std::fs::read_to_string(MAIN.document()).unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&capture).unwrap();
    // Grow the parallelism until the document passes the target (the first guess is
    // close: the capture holds 2 subtasks per operator).
    let mut parallelism = TARGET / (capture.len() / 2) + 1;
    let doc = loop {
        let doc = blow_up(&capture, parallelism);
        if doc.len() > TARGET {
            break doc;
        }
        parallelism = parallelism * TARGET / doc.len() + 2;
    };
    // Every subtask entry of the document has points (the capture's all do), so the
    // series are its `{"index":` entries: 4 operators x 5 groups x the parallelism.
    let series = doc.matches("{\"index\":").count();
    assert_eq!(series, 4 * 5 * parallelism);

    // Expected newest values, from the capture, per (node, group, subtask % 2).
    let mut newest: HashMap<(String, String, u64), f64> = HashMap::new();
    for op in parsed.as_array().unwrap() {
        for g in op["metric_groups"].as_array().unwrap() {
            for s in g["subtasks"].as_array().unwrap() {
                let last = s["metrics"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .max_by_key(|p| p["time"].as_u64().unwrap())
                    .unwrap();
                newest.insert(
                    (
                        op["node_id"].to_string(),
                        g["name"].as_str().unwrap().to_string(),
                        s["index"].as_u64().unwrap(),
                    ),
                    last["value"].as_f64().unwrap(),
                );
            }
        }
    }

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.json");
    std::fs::write(&file, &doc).unwrap();
    let server = start_all(&[Spec::new("both", "none").serve(MAIN.job, &file)])
        .pop()
        .unwrap();
    // The server has read it; free the disk space now.
    drop(dir);

    let mut world = MAIN.world();
    for n in &mut world.pipelines[0].nodes {
        n.parallelism = parallelism as u32;
    }
    let arroyo = fake_arroyo(world).await;
    let mut cfg = config(&arroyo, &server.url(), ControllerService::Auto);
    cfg.controller.timeout = Duration::from_secs(60);
    cfg.scrape.timeout = Duration::from_secs(90);
    let (s, _) = scrape_once(cfg).await;
    assert_eq!(s.value("arroyo_up", &[]), 1.0, "{}", server.stderr());
    assert_eq!(
        s.value(
            "arroyo_exporter_job_scrape_success",
            &[("job_id", MAIN.job)]
        ),
        1.0
    );
    assert_eq!(job_series(&s, MAIN.job), series);
    for fam in SUBTASK_FAMILIES {
        assert_eq!(s.count(fam), 4 * parallelism, "{fam}");
    }
    for fam in OPERATOR_FAMILIES {
        assert_eq!(s.count(fam), 4, "{fam}");
    }
    let wire_name = |fam: &str| match fam {
        "arroyo_subtask_received_messages_per_second" => "messages_recv",
        "arroyo_subtask_sent_messages_per_second" => "messages_sent",
        "arroyo_subtask_received_bytes_per_second" => "bytes_recv",
        "arroyo_subtask_sent_bytes_per_second" => "bytes_sent",
        _ => "backpressure",
    };
    let mut checked = 0;
    for sample in &s.samples {
        if !SUBTASK_FAMILIES.contains(&sample.name.as_str()) {
            continue;
        }
        let idx: u64 = sample.labels["subtask_idx"].parse().unwrap();
        let key = (
            sample.labels["node_id"].clone(),
            wire_name(&sample.name).to_string(),
            idx % 2,
        );
        assert_eq!(sample.value, newest[&key], "{key:?} subtask {idx}");
        checked += 1;
    }
    assert_eq!(checked, series);
    eprintln!(
        "40 MB case: {} bytes, {parallelism} subtasks per operator, {series} series, scrape {:?}",
        doc.len(),
        s.elapsed
    );
}

/// The capture `capture` with `parallelism` subtasks in every metric group: subtask `i`
/// carries the captured points of subtask `i % 2`, copied as text.
fn blow_up(capture: &str, parallelism: usize) -> String {
    #[derive(serde::Deserialize)]
    struct Op<'a> {
        node_id: u32,
        #[serde(borrow)]
        metric_groups: Vec<Group<'a>>,
    }
    #[derive(serde::Deserialize)]
    struct Group<'a> {
        name: &'a str,
        #[serde(borrow)]
        subtasks: Vec<Subtask<'a>>,
    }
    #[derive(serde::Deserialize)]
    struct Subtask<'a> {
        index: u64,
        #[serde(borrow)]
        metrics: &'a serde_json::value::RawValue,
    }
    let ops: Vec<Op<'_>> = serde_json::from_str(capture).unwrap();
    let mut out = String::with_capacity(capture.len() / 2 * parallelism + 1024);
    out.push('[');
    for (i, op) in ops.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&format!("{{\"node_id\":{},\"metric_groups\":[", op.node_id));
        for (j, g) in op.metric_groups.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            let mut template: Vec<&Subtask<'_>> = g.subtasks.iter().collect();
            template.sort_by_key(|s| s.index);
            // Every group of the capture has subtasks 0 and 1 (parallelism 2).
            assert_eq!(template.iter().map(|s| s.index).collect::<Vec<_>>(), [0, 1]);
            out.push_str(&format!("{{\"name\":\"{}\",\"subtasks\":[", g.name));
            for k in 0..parallelism {
                if k > 0 {
                    out.push(',');
                }
                out.push_str(&format!("{{\"index\":{k},\"metrics\":"));
                out.push_str(template[k % 2].metrics.get());
                out.push('}');
            }
            out.push_str("]}");
        }
        out.push_str("]}");
    }
    out.push(']');
    out
}
