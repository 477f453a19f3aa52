//! The operations files against the real binaries: `arroyo-exporter-sim` and
//! `arroyo-exporter` run as child processes (as a user runs them) and a real Prometheus
//! scrapes them with the rules of `deploy/prometheus/rules/` loaded.
//!
//! One Prometheus (1 s scrape and evaluation interval) scrapes ten simulator+exporter
//! pairs, each on its own ports and with its own `scenario` target label: one stays
//! steady, the nine others start steady and are switched to their failure scenario
//! after a warm-up (so the rules that compare a pipeline with its own recent past have
//! one). Then:
//!
//! 1. while everything is steady: every PromQL expression of the dashboards and rules
//!    (`tests/ops/extract_queries.py`) is accepted by Prometheus and returns data unless
//!    the extractor marks it `may_be_empty`; no rule reports an evaluation error; no
//!    alert is active; the steady pair's graph families (roles, edges, bottleneck) have
//!    the demo world's shape and name no bottleneck;
//! 2. after the switch: each failure scenario turns its alert(s) pending or firing for
//!    its own exporter instance and the simulator's scenario job (with the labels the
//!    case asks for: the backpressure alert names the bottleneck), within a deadline; the
//!    steady pair stays silent (the alerts of `STEADY_SILENT`), and no pair raises an
//!    alert its scenario does not explain; rules keep evaluating without error.
//!
//! Every problem is collected and reported in one assertion message at the end.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::prometheus::{free_port, ureq_get, urlencode, Prometheus};
use serde_json::Value;

const EXPORTER_BIN: &str = env!("CARGO_BIN_EXE_arroyo-exporter");
/// The simulator's binary name (package `arroyo-sim`).
const SIM_BIN_NAME: &str = "arroyo-exporter-sim";

/// The simulator's binary. It belongs to another package of the workspace
/// (`crates/arroyo-sim`), so cargo neither builds it for this test nor gives its path
/// (`CARGO_BIN_EXE_*` covers this package's binaries only). `cargo test --workspace`
/// builds it for the simulator's own integration test (crates/arroyo-sim/tests/cli.rs),
/// into the same target directory and profile as the exporter's binary, where this finds
/// it; `$ARROYO_SIM_BIN` names another one. Missing (e.g. `cargo test -p
/// arroyo-exporter`): the test fails with the command to run.
fn sim_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("ARROYO_SIM_BIN") {
        let p = PathBuf::from(p);
        assert!(p.is_file(), "ARROYO_SIM_BIN={} is not a file", p.display());
        return p;
    }
    let exporter = Path::new(EXPORTER_BIN);
    let bin = exporter.with_file_name(format!("{SIM_BIN_NAME}{}", std::env::consts::EXE_SUFFIX));
    let profile = match exporter
        .parent()
        .and_then(Path::file_name)
        .and_then(|n| n.to_str())
    {
        Some("debug") | None => String::new(),
        Some("release") => " --release".to_string(),
        Some(other) => format!(" --profile {other}"),
    };
    assert!(
        bin.is_file(),
        "simulator binary {} not found: build it first with \
         `cargo build{profile} --locked -p arroyo-sim --bin {SIM_BIN_NAME}` \
         (scripts/test.sh does), or set ARROYO_SIM_BIN",
        bin.display()
    );
    bin
}

/// Prometheus's scrape and rule evaluation interval.
const INTERVAL: &str = "1s";
/// Time from the first scrape to the expression checks: a few rule evaluations, and
/// enough samples for every `rate(…[1m])`.
const SETTLE: Duration = Duration::from_secs(12);
/// Time from the first scrape to the scenario switch: the steady past the
/// "against its own recent past" rules compare with. It also sets how long
/// ArroyoOperatorBackpressure (5 min average above 0.5 at 0.8-0.95) takes: ~1.3 x this.
const WARM_UP: Duration = Duration::from_secs(30);
/// The warm-up of the throughput-drop pair: ArroyoThroughputDrop compares the median of
/// the last 5 minutes with the median of the hour (a job this young has nothing older),
/// so the steady past must outweigh the first minutes of the drop in that hour.
const DROP_WARM_UP: Duration = Duration::from_secs(200);

/// Switches every pair whose warm-up (counted from `first_scrape`) is over and that has
/// not switched yet, noting its scenario job and when it switched.
fn switch_due(
    pairs: &[Pair],
    first_scrape: Instant,
    scenario_jobs: &mut BTreeMap<&'static str, String>,
    switch_at: &mut BTreeMap<&'static str, Instant>,
) {
    for (case, pair) in CASES.iter().zip(&pairs[1..]) {
        assert_eq!(case.scenario, pair.scenario);
        if !switch_at.contains_key(case.scenario)
            && first_scrape.elapsed() >= warm_up(case.scenario)
        {
            scenario_jobs.insert(case.scenario, pair.switch(case.scenario));
            switch_at.insert(case.scenario, Instant::now());
        }
    }
}

/// How long `scenario` runs steady before its switch.
fn warm_up(scenario: &str) -> Duration {
    if scenario == "throughput-drop" {
        DROP_WARM_UP
    } else {
        WARM_UP
    }
}
/// How long after its switch a scenario's alerts may take to become pending. The
/// slowest is checkpoints-stalled (~115 s: the newest checkpoint's age must exceed
/// max(3 x interval, 2 min)); the whole test takes about six minutes, most of it the
/// throughput-drop pair's warm-up (`DROP_WARM_UP`) and that alert's windows.
const SCENARIO_DEADLINE: Duration = Duration::from_secs(240);

/// The pair that is never switched.
const STEADY: &str = "steady";

/// Alerts the steady pair must never raise: every alert of the rules files (the test
/// checks this list against the loaded rules, so a new alert has to be added here).
const STEADY_SILENT: &[&str] = &[
    "ArroyoExporterDown",
    "ArroyoControllerUnreachable",
    "ArroyoExporterCollectorFailing",
    "ArroyoMetricsStale",
    "ArroyoJobNotRunning",
    "ArroyoJobFailed",
    "ArroyoJobRestartLoop",
    "ArroyoThroughputDrop",
    "ArroyoInputStopped",
    "ArroyoOperatorBackpressure",
    "ArroyoSubtaskSkew",
    "ArroyoCheckpointsStalled",
    "ArroyoExporterTargetMissing",
    "ArroyoApiUnreachable",
    "ArroyoCheckpointsSlow",
    "ArroyoCheckpointStateGrowing",
    "ArroyoJobErrors",
];

/// A failure scenario of the simulator and what it must (and may) set off.
struct Case {
    /// Simulator scenario name.
    scenario: &'static str,
    /// Alerts that must become pending or firing for this pair's instance (and, when
    /// the alert carries a `job_id`, for the simulator's scenario job).
    expect: &'static [&'static str],
    /// Consequences the scenario may also set off on this pair. Anything else this pair
    /// raises is reported.
    tolerate: &'static [Tolerated],
    /// Labels the expected alerts must carry (for the scenario job); the same alert with
    /// other values is reported as unexpected.
    labels: &'static [(&'static str, &'static str)],
}

/// An alert a scenario may set off besides the expected ones.
struct Tolerated {
    alert: &'static str,
    /// For any job of the pair (true) or only for the scenario job (false).
    every_job: bool,
    /// Why it is a consequence of the scenario and not a false alarm.
    why: &'static str,
}

const CASES: &[Case] = &[
    Case {
        scenario: "throughput-drop",
        // Input falls to 10 %: a drop, not a stop (ArroyoInputStopped wants < 0.01/s).
        expect: &["ArroyoThroughputDrop"],
        tolerate: &[],
        labels: &[],
    },
    Case {
        scenario: "backpressure",
        expect: &["ArroyoOperatorBackpressure"],
        tolerate: &[],
        // The simulator backpressures node 1 of the nexmark chain 0 -> 1 -> 4 -> 6: the
        // alert names the bottleneck behind it, node 4, not node 1 itself.
        labels: &[("node_id", "4")],
    },
    Case {
        scenario: "skew",
        expect: &["ArroyoSubtaskSkew"],
        tolerate: &[],
        labels: &[],
    },
    Case {
        scenario: "job-failed",
        expect: &["ArroyoJobFailed", "ArroyoJobNotRunning"],
        tolerate: &[],
        labels: &[],
    },
    Case {
        scenario: "restart-loop",
        expect: &["ArroyoJobRestartLoop"],
        tolerate: &[
            Tolerated {
                alert: "ArroyoJobNotRunning",
                every_job: false,
                why: "the job spends 4 s of every 20 s in Restarting (pending only, for: 10m)",
            },
            Tolerated {
                alert: "ArroyoMetricsStale",
                every_job: false,
                why: "each new run is Running for a moment before the controller holds its \
                      first metrics point, as in Arroyo (pending only, for: 5m)",
            },
        ],
        labels: &[],
    },
    Case {
        scenario: "checkpoints-stalled",
        expect: &["ArroyoCheckpointsStalled"],
        tolerate: &[],
        labels: &[],
    },
    Case {
        scenario: "growing-state",
        // 4 MiB more per stateful subtask and epoch: past 64 MiB within a minute, and
        // predict_linear sees the trend from its second point.
        expect: &["ArroyoCheckpointStateGrowing"],
        tolerate: &[],
        labels: &[],
    },
    Case {
        scenario: "error-burst",
        // 25 rows at once, then one per 5 s per subtask: 24 rows a minute.
        expect: &["ArroyoJobErrors"],
        tolerate: &[],
        labels: &[],
    },
    Case {
        scenario: "controller-down",
        expect: &["ArroyoControllerUnreachable"],
        tolerate: &[Tolerated {
            alert: "ArroyoExporterCollectorFailing",
            every_job: true,
            why: "the scrape that straddles the controller's death gets one job's metrics \
                  and fails the other's, so job_metrics fails while arroyo_up still says 1 \
                  (pending only, for: 15m; the next scrapes say arroyo_up 0)",
        }],
        labels: &[],
    },
];

/// A child process killed (and reaped) when dropped, also when the test panics.
struct Proc {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn spawn(name: String, cmd: &mut Command, log: PathBuf) -> Proc {
        let out = File::create(&log).unwrap();
        let err = out.try_clone().unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Proc { name, child, log }
    }

    /// Why the process has exited (with its log), or `None` while it runs.
    fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(format!(
                "{} exited early ({status}):\n{}",
                self.name,
                log_tail(&self.log, 40)
            )),
            _ => None,
        }
    }

    /// Panics (with its log) when the process has exited.
    fn check_alive(&mut self) {
        if let Some(why) = self.exited() {
            panic!("{why}");
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The last `lines` lines of a log file.
fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Loopback ports for this test's processes, each handed out once. `free_port` releases
/// the port it finds and the kernel picks it at random, so two calls can name the same
/// port before the first process has bound it: over the 41 ports of a run that happened
/// in 5 % of runs (Linux, range 32768-60999), and the second process then exits with
/// "Address already in use".
#[derive(Default)]
struct Ports(BTreeSet<u16>);

impl Ports {
    /// A free `127.0.0.1:PORT` not handed out before.
    fn take(&mut self) -> String {
        loop {
            let port = free_port();
            if self.0.insert(port) {
                return format!("127.0.0.1:{port}");
            }
        }
    }
}

/// How often a pair is started when its ports are taken by another process between
/// `free_port` and the bind (other tests run on the same machine).
const START_ATTEMPTS: u32 = 3;

/// One simulated Arroyo and the exporter pointed at it.
struct Pair {
    scenario: &'static str,
    /// The simulator's seed and pipeline count, to start the pair again.
    seed: u64,
    pipelines: usize,
    /// The exporter's address: Prometheus's `instance` label.
    instance: String,
    api_url: String,
    sim: Proc,
    exporter: Proc,
}

impl Pair {
    fn start(
        sim_bin: &Path,
        scenario: &'static str,
        seed: u64,
        pipelines: usize,
        logs: &Path,
        ports: &mut Ports,
        attempt: u32,
    ) -> Pair {
        let rpc = ports.take();
        let api = ports.take();
        let admin = ports.take();
        let web = ports.take();
        let sim = Proc::spawn(
            format!("arroyo-exporter-sim ({scenario})"),
            Command::new(sim_bin)
                .args(["--arroyo-release", "main", "--scenario", "steady"])
                .args(["--rpc-listen", &rpc, "--api-listen", &api])
                .args(["--admin-listen", &admin])
                .args(["--pipelines", &pipelines.to_string(), "--parallelism", "2"])
                .args(["--seed", &seed.to_string()])
                .env("RUST_LOG", "info")
                .env("NO_COLOR", "1"),
            logs.join(format!("sim-{scenario}-{attempt}.log")),
        );
        let exporter = Proc::spawn(
            format!("arroyo-exporter ({scenario})"),
            Command::new(EXPORTER_BIN)
                .arg(format!("--web.listen-address={web}"))
                .arg(format!("--controller.endpoint=http://{rpc}"))
                .arg(format!("--api.endpoint=http://{api}"))
                .arg(format!("--admin.endpoint=http://{admin}"))
                .env("NO_COLOR", "1"),
            logs.join(format!("exporter-{scenario}-{attempt}.log")),
        );
        Pair {
            scenario,
            seed,
            pipelines,
            instance: web,
            api_url: format!("http://{api}"),
            sim,
            exporter,
        }
    }

    /// Waits until the simulator answers and the exporter reports `arroyo_up 1`; why
    /// not when one of the two exits first.
    fn wait_ready(&mut self, timeout: Duration) -> Result<(), String> {
        let started = Instant::now();
        loop {
            if let Some(why) = self.sim.exited().or_else(|| self.exporter.exited()) {
                return Err(why);
            }
            let sim_ok = matches!(
                ureq_get(&format!("{}/sim/scenario", self.api_url)),
                Ok((200, _))
            );
            let exporter_ok = sim_ok
                && matches!(
                    ureq_get(&format!("http://{}/metrics", self.instance)),
                    Ok((200, body)) if body.lines().any(|l| l.trim() == "arroyo_up 1")
                );
            if exporter_ok {
                return Ok(());
            }
            if started.elapsed() > timeout {
                panic!(
                    "pair {} not ready after {timeout:?}\n--- simulator:\n{}\n--- exporter:\n{}",
                    self.scenario,
                    log_tail(&self.sim.log, 20),
                    log_tail(&self.exporter.log, 20)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Switches the simulator's scenario; returns the scenario job's id.
    fn switch(&self, scenario: &str) -> String {
        let (status, body) = http_post(&format!("{}/sim/scenario/{scenario}", self.api_url))
            .unwrap_or_else(|e| panic!("switching {} to {scenario}: {e}", self.scenario));
        assert_eq!(status, 200, "switching to {scenario}: {body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["scenario"], scenario, "{v}");
        v["job_id"]
            .as_str()
            .unwrap_or_else(|| panic!("no scenario job: {v}"))
            .to_string()
    }
}

/// A POST without a body over std's TCP.
fn http_post(url: &str) -> Result<(u16, String), String> {
    let rest = url.strip_prefix("http://").ok_or("only http")?;
    let (host, path) = rest.split_at(rest.find('/').ok_or("no path")?);
    let mut s = std::net::TcpStream::connect(host).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    write!(
        s,
        "POST {path} HTTP/1.0\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&buf).to_string();
    let (head, body) = text.split_once("\r\n\r\n").ok_or("no header end")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("bad status line")?;
    Ok((status, body.to_string()))
}

/// One expression of `tests/ops/extract_queries.py`.
struct Query {
    source: String,
    expr: String,
    may_be_empty: bool,
}

/// Runs the extractor with the repository root as working directory.
fn extract_queries() -> Vec<Query> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("python3")
        .arg("tests/ops/extract_queries.py")
        .current_dir(root)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run python3 ({e}); scripts/test.sh puts .tmp/venv/bin on PATH")
        });
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("No module named 'yaml'") {
        panic!(
            "tests/ops/extract_queries.py needs PyYAML, which this python3 lacks:\n{stderr}\n\
             scripts/test.sh installs it into .tmp/venv (scripts/requirements-test.txt) and \
             puts .tmp/venv/bin first on PATH; by hand: \
             `.tmp/venv/bin/pip install -r scripts/requirements-test.txt`"
        );
    }
    assert!(
        out.status.success(),
        "tests/ops/extract_queries.py failed ({}):\n{stderr}",
        out.status
    );
    let queries: Vec<Query> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            Query {
                source: v["source"].as_str().unwrap().to_string(),
                expr: v["expr"].as_str().unwrap().to_string(),
                may_be_empty: v["may_be_empty"].as_bool().unwrap(),
            }
        })
        .collect();
    assert!(
        queries.len() > 20,
        "the extractor found only {} expressions",
        queries.len()
    );
    queries
}

/// Runs every expression as an instant query; returns one line per problem: rejected,
/// warnings, and (with `want_data`) no data where the extractor wants some.
fn check_queries(prom: &Prometheus, queries: &[Query], want_data: bool) -> Vec<String> {
    let mut problems = Vec::new();
    for q in queries {
        let v = prom.api(&format!("/api/v1/query?query={}", urlencode(&q.expr)));
        if v["status"] != "success" {
            problems.push(format!(
                "{}: rejected: {} {}\n    {}",
                q.source, v["errorType"], v["error"], q.expr
            ));
            continue;
        }
        if let Some(w) = v.get("warnings").filter(|w| !w.is_null()) {
            problems.push(format!("{}: warnings {w}\n    {}", q.source, q.expr));
        }
        let data = &v["data"];
        let empty = match data["resultType"].as_str() {
            Some("vector") | Some("matrix") => {
                data["result"].as_array().is_none_or(|r| r.is_empty())
            }
            _ => data["result"].is_null(),
        };
        if want_data && empty && !q.may_be_empty {
            problems.push(format!(
                "{}: no data in the steady scenario\n    {}",
                q.source, q.expr
            ));
        }
    }
    problems
}

/// The graph families of the steady pair `instance` (the demo world's four pipelines,
/// chains of 4, 4, 4 and 3 nodes, all steady): one source and one sink per job, 15
/// operators, 11 edges, and no bottleneck. One line per problem.
fn graph_problems(prom: &Prometheus, instance: &str) -> Vec<String> {
    let value = |expr: String| -> Option<f64> {
        let r = prom.query(&expr);
        r.first()
            .and_then(|s| s["value"][1].as_str())
            .and_then(|v| v.parse().ok())
    };
    let sel = format!("instance=\"{instance}\"");
    let checks = [
        (
            format!("count(arroyo_operator_info{{{sel}, role=\"source\"}})"),
            4.0,
        ),
        (
            format!("count(arroyo_operator_info{{{sel}, role=\"sink\"}})"),
            4.0,
        ),
        (
            format!("count(arroyo_operator_info{{{sel}, role=\"operator\"}})"),
            7.0,
        ),
        (format!("count(arroyo_operator_edge_info{{{sel}}})"), 11.0),
        (format!("count(arroyo_operator_bottleneck{{{sel}}})"), 15.0),
        (format!("sum(arroyo_operator_bottleneck{{{sel}}})"), 0.0),
    ];
    checks
        .into_iter()
        .filter_map(|(expr, want)| match value(expr.clone()) {
            Some(got) if got == want => None,
            got => Some(format!("steady graph: {expr} = {got:?}, expected {want}")),
        })
        .collect()
}

/// The loaded rules: alert names, and one line per rule that reports a problem.
fn rules_state(prom: &Prometheus) -> (BTreeSet<String>, BTreeSet<String>) {
    let v = prom.api("/api/v1/rules");
    assert_eq!(v["status"], "success", "{v}");
    let mut alerts = BTreeSet::new();
    let mut unhealthy = BTreeSet::new();
    for group in v["data"]["groups"].as_array().into_iter().flatten() {
        for rule in group["rules"].as_array().into_iter().flatten() {
            let name = rule["name"].as_str().unwrap_or("?");
            if rule["type"] == "alerting" {
                alerts.insert(name.to_string());
            }
            let err = rule["lastError"].as_str().unwrap_or("");
            if rule["health"] != "ok" || !err.is_empty() {
                unhealthy.insert(format!(
                    "rule {}/{name}: health {} lastError {err:?}",
                    group["name"], rule["health"]
                ));
            }
        }
    }
    (alerts, unhealthy)
}

/// An active alert: (instance, alertname, job_id or "", node_id or "").
type AlertKey = (String, String, String, String);

/// Active alerts: their state ("pending" or "firing") and all their labels.
fn active_alerts(prom: &Prometheus) -> BTreeMap<AlertKey, (String, String)> {
    let v = prom.api("/api/v1/alerts");
    assert_eq!(v["status"], "success", "{v}");
    let mut out = BTreeMap::new();
    for a in v["data"]["alerts"].as_array().into_iter().flatten() {
        let l = &a["labels"];
        let s = |k: &str| l[k].as_str().unwrap_or("").to_string();
        out.insert(
            (s("instance"), s("alertname"), s("job_id"), s("node_id")),
            (
                a["state"].as_str().unwrap_or("?").to_string(),
                l.to_string(),
            ),
        );
    }
    out
}

/// Set by `scripts/test.sh` for its `cargo test` run of every target: it runs this test
/// on its own afterwards (`cargo test --workspace --test ops_live`, without the variable),
/// in the background while the CPU-bound rule and deployment checks run, because the
/// test spends its six minutes mostly waiting for alert windows. Its outcome is a step of
/// the test command's summary of its own.
const DEFERRED_ENV: &str = "OPS_LIVE_DEFERRED";

#[test]
fn dashboards_and_rules_against_live_binaries() {
    if std::env::var_os(DEFERRED_ENV).is_some() {
        eprintln!("ops_live: {DEFERRED_ENV} is set: run on its own by scripts/test.sh");
        return;
    }
    let sim_bin = sim_bin();
    let queries = extract_queries();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let rule_files = [
        root.join("deploy/prometheus/rules/arroyo-recording.yml"),
        root.join("deploy/prometheus/rules/arroyo-alerts.yml"),
    ];
    let logs = tempfile::tempdir().unwrap();

    // The steady pair has four pipelines (every graph of the demo world); the others two
    // (their scenario acts on the first job only).
    let mut ports = Ports::default();
    let mut pairs = vec![Pair::start(
        &sim_bin,
        STEADY,
        1,
        4,
        logs.path(),
        &mut ports,
        1,
    )];
    for (i, case) in CASES.iter().enumerate() {
        pairs.push(Pair::start(
            &sim_bin,
            case.scenario,
            2 + i as u64,
            2,
            logs.path(),
            &mut ports,
            1,
        ));
    }
    for p in &mut pairs {
        let mut attempt = 1;
        while let Err(why) = p.wait_ready(Duration::from_secs(60)) {
            // A port clash with a process outside this test is no fault of the binaries:
            // start the pair again on other ports. Any other exit fails the test.
            assert!(
                why.contains("Address already in use") && attempt < START_ATTEMPTS,
                "pair {} (attempt {attempt} of {START_ATTEMPTS}): {why}",
                p.scenario
            );
            attempt += 1;
            eprintln!(
                "ops_live: pair {} lost a port to another process, starting it again",
                p.scenario
            );
            *p = Pair::start(
                &sim_bin,
                p.scenario,
                p.seed,
                p.pipelines,
                logs.path(),
                &mut ports,
                attempt,
            );
        }
    }
    let targets: String = pairs
        .iter()
        .map(|p| {
            format!(
                "      - targets: ['{}']\n        labels: {{scenario: {}}}\n",
                p.instance, p.scenario
            )
        })
        .collect();
    let scrape_configs = format!("  - job_name: arroyo-exporter\n    static_configs:\n{targets}");
    let prom = Prometheus::start(&scrape_configs, &rule_files, INTERVAL);
    prom.wait_scraped(pairs.len(), Duration::from_secs(60));
    let first_scrape = Instant::now();
    let mut problems: Vec<String> = Vec::new();

    // The alert names the test refers to exist, and every alert is named in STEADY_SILENT.
    let (alert_names, _) = rules_state(&prom);
    let silent: BTreeSet<String> = STEADY_SILENT.iter().map(|s| s.to_string()).collect();
    let referenced = CASES
        .iter()
        .flat_map(|c| c.expect.iter().chain(c.tolerate.iter().map(|t| &t.alert)));
    for name in referenced.chain(STEADY_SILENT) {
        if !alert_names.contains(*name) {
            problems.push(format!("alert {name} is not in the loaded rules"));
        }
    }
    for name in alert_names.difference(&silent) {
        problems.push(format!(
            "alert {name} of the rules is missing from STEADY_SILENT"
        ));
    }

    // 1. Steady: every expression, rule health, no alert.
    std::thread::sleep(SETTLE.saturating_sub(first_scrape.elapsed()));
    for p in &mut pairs {
        p.sim.check_alive();
        p.exporter.check_alive();
    }
    let targets = prom.api("/api/v1/targets");
    for t in targets["data"]["activeTargets"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if t["health"] != "up" {
            problems.push(format!(
                "target {} is {}: {}",
                t["scrapeUrl"], t["health"], t["lastError"]
            ));
        }
    }
    let query_problems = check_queries(&prom, &queries, true);
    problems.extend(graph_problems(&prom, &pairs[0].instance));
    let mut unhealthy = rules_state(&prom).1;
    let steady_alerts = active_alerts(&prom);
    for ((instance, name, job, _), (state, labels)) in &steady_alerts {
        problems.push(format!(
            "before any scenario: {name} is {state} for {instance} job {job:?}: {labels}"
        ));
    }
    eprintln!(
        "ops_live: {} expressions checked at {:?} after the first scrape, {} problem(s)",
        queries.len(),
        first_scrape.elapsed(),
        query_problems.len()
    );
    problems.extend(query_problems);

    // 2. Scenarios: switch after the warm-up, then poll the alerts.
    std::thread::sleep(WARM_UP.saturating_sub(first_scrape.elapsed()));
    let switched = Instant::now();
    let mut scenario_jobs: BTreeMap<&str, String> = BTreeMap::new();
    // When each scenario switched; a pair with a longer warm-up switches in the loop.
    let mut switch_at: BTreeMap<&str, Instant> = BTreeMap::new();
    switch_due(&pairs, first_scrape, &mut scenario_jobs, &mut switch_at);
    let last_switch = CASES
        .iter()
        .map(|c| warm_up(c.scenario))
        .max()
        .unwrap_or(WARM_UP)
        .saturating_sub(WARM_UP);
    let by_instance: BTreeMap<String, &str> = pairs
        .iter()
        .map(|p| (p.instance.clone(), p.scenario))
        .collect();
    // (scenario, alert) -> seconds after the switch it was first seen, and its state.
    let mut seen: BTreeMap<(&str, &str), (u64, String)> = BTreeMap::new();
    // Alerts no scenario explains: description -> first time seen.
    let mut unexpected: BTreeMap<String, u64> = BTreeMap::new();
    // Tolerated consequences: description -> (first, last) time seen.
    let mut tolerated_seen: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    loop {
        switch_due(&pairs, first_scrape, &mut scenario_jobs, &mut switch_at);
        for ((instance, name, job, _), (state, labels)) in active_alerts(&prom) {
            let scenario = by_instance.get(&instance).copied().unwrap_or("?");
            let t = switch_at
                .get(scenario)
                .unwrap_or(&switched)
                .elapsed()
                .as_secs();
            let case = CASES.iter().find(|c| c.scenario == scenario);
            let is_scenario_job = scenario_jobs.get(scenario) == Some(&job);
            let right_job = job.is_empty() || is_scenario_job;
            let labelled = case.is_none_or(|c| {
                let all: Value = serde_json::from_str(&labels).unwrap_or_default();
                c.labels.iter().all(|(k, v)| all[*k] == *v)
            });
            let expected = case
                .filter(|_| labelled)
                .and_then(|c| c.expect.iter().find(|e| **e == name));
            let tolerated = case.and_then(|c| {
                c.tolerate
                    .iter()
                    .find(|tol| tol.alert == name && (tol.every_job || right_job))
            });
            let what = format!("{name} {state} for pair {scenario} ({instance}) job {job:?}");
            match (expected, tolerated) {
                (Some(e), _) if right_job => {
                    let entry = seen.entry((scenario, e)).or_insert((t, state.clone()));
                    if state == "firing" {
                        entry.1 = state;
                    }
                }
                (_, Some(tol)) => {
                    tolerated_seen
                        .entry(format!("{what} ({})", tol.why))
                        .or_insert((t, t))
                        .1 = t;
                }
                _ => {
                    unexpected.entry(format!("{what}: {labels}")).or_insert(t);
                }
            }
        }
        unhealthy.extend(rules_state(&prom).1);
        let missing = CASES
            .iter()
            .flat_map(|c| c.expect.iter().map(move |e| (c.scenario, *e)))
            .filter(|k| !seen.contains_key(k))
            .count();
        if missing == 0 || switched.elapsed() > SCENARIO_DEADLINE + last_switch {
            break;
        }
        for p in &mut pairs {
            p.sim.check_alive();
            p.exporter.check_alive();
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    let elapsed = switched.elapsed();
    // The exporter names node 4 of the backpressure pair's scenario job as its bottleneck
    // (its node 1 is backpressured), and no other operator of that job.
    if let Some(pair) = pairs.iter().find(|p| p.scenario == "backpressure") {
        let job = &scenario_jobs["backpressure"];
        let named = prom.query(&format!(
            "arroyo_operator_bottleneck{{instance=\"{}\", job_id=\"{job}\"}} == 1",
            pair.instance
        ));
        let nodes: Vec<&str> = named
            .iter()
            .filter_map(|r| r["metric"]["node_id"].as_str())
            .collect();
        if nodes != ["4"] {
            problems.push(format!(
                "backpressure scenario: bottleneck of job {job} is {nodes:?}, expected [\"4\"]"
            ));
        }
    }
    // With the failure scenarios live (restarts, failed jobs, a controller gone), every
    // expression must still be accepted; empty answers are fine now.
    for problem in check_queries(&prom, &queries, false) {
        problems.push(format!("during the scenarios: {problem}"));
    }

    for case in CASES {
        for e in case.expect {
            match seen.get(&(case.scenario, *e)) {
                Some((t, state)) => eprintln!(
                    "ops_live: {}: {e} pending after {t} s (reached: {state})",
                    case.scenario
                ),
                None => {
                    let pair = pairs.iter().find(|p| p.scenario == case.scenario).unwrap();
                    problems.push(format!(
                        "scenario {}: {e} not pending or firing for instance {} job {} \
                         within {:?}\n--- exporter log:\n{}",
                        case.scenario,
                        pair.instance,
                        scenario_jobs[case.scenario],
                        SCENARIO_DEADLINE,
                        log_tail(&pair.exporter.log, 10)
                    ));
                }
            }
        }
    }
    for (what, (first, last)) in &tolerated_seen {
        eprintln!("ops_live: tolerated from {first} s to {last} s after the switch: {what}");
    }
    for (what, t) in &unexpected {
        problems.push(format!("unexpected alert, {t} s after the switch: {what}"));
    }
    problems.extend(unhealthy);
    eprintln!(
        "ops_live: scenarios done {elapsed:?} after the switch, {:?} after the first scrape",
        first_scrape.elapsed()
    );
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}
