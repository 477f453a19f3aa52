//! End-to-end scrape benchmark (issue 5): the exporter against the in-repo simulated
//! Arroyo (real tonic gRPC and REST servers, SIMULATED data) holding one large job.
//!
//! ```text
//! cargo bench --bench scrape_e2e                   # full: 1,000 subtasks, more rounds
//! BENCH_SHORT=1 cargo bench --bench scrape_e2e     # short (test command): fewer rounds
//! E2E_SUBTASKS=10000 cargo bench --bench scrape_e2e  # another job size
//! E2E_ONLY_INTEROP=1 cargo bench --bench scrape_e2e  # only against the grpcio server
//! E2E_INTEROP=0 cargo bench --bench scrape_e2e      # only against the simulator
//! E2E_WINDOW_SWEEP=1 BENCH_SHORT=1 ...               # the window sweep in short mode
//! E2E_COMPARE_BIN=path ...                           # another exporter build alongside
//! E2E_ONLY_TARGETS=1 cargo bench --bench scrape_e2e  # only the many-targets benchmark
//! E2E_TARGETS=0 cargo bench --bench scrape_e2e       # without it
//! ```
//!
//! Then, against a gRPC server that is not tonic (`interop`, issue 9): a bare fetch, the
//! real binary and a straightforward Python exporter in interleaved rounds, with the
//! ratios and `bench-target:` lines (latency against a bare fetch, CPU per scrape
//! against the Python baseline, peak RSS); see `benches/interop/mod.rs`. It needs a
//! python with grpcio and prometheus_client (`.tmp/venv`, scripts/requirements-test.txt)
//! and fails with the install hint without one.
//!
//! What it measures, printed as a table:
//! * scrape latency (median, p99) with 1 client and with 20 concurrent clients, against
//!   the exporter started in-process (`Scraper::new` + `server::serve`), scraping like
//!   Prometheus (OpenMetrics `Accept`, gzip);
//! * upstream `JobMetrics` calls, counted by the simulator: one per scrape for one
//!   client, one per round of 20 concurrent scrapes (singleflight);
//! * one upstream call alone (the exporter's gRPC client on tonic's channel, zstd, decoded
//!   as it arrives), for scale;
//! * memory: peak RSS (`VmHWM`) during scrapes against the largest upstream message, for
//!   the in-process exporter (this benchmark's own process, so it includes the 20
//!   clients) and for the real binary (`target/release/arroyo-exporter`, its own
//!   process); idle RSS and start-up-to-ready time of the real binary.
//!
//! Then many clusters behind one exporter (issue 13, `benches/targets/mod.rs`): the real
//! binary with 20 named targets of 50 jobs each, 1,000 probes, RSS and CPU per probe
//! against the same binary with one target.
//!
//! The simulator runs in a child process (this executable again), so that its memory
//! and its own copies of the document do not count in the exporter's RSS.
//! Without `--bench` (`cargo test --all-targets`) it runs a small smoke version.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arroyo_exporter::arroyo::rpc::{RpcAnswer, RpcClient};
use arroyo_exporter::config::Config;
use arroyo_exporter::scrape::Scraper;
use arroyo_exporter::server;
use arroyo_sim::{FakeArroyo, Release, RpcFaults, SimJob, SimNode, SimPipeline};

mod interop;
mod targets;

const JOB: &str = "job_bench00001";
const PIPELINE: &str = "pl_bench00001";
/// Set in the environment of the child process that serves the simulator.
const SIM_ROLE: &str = "SCRAPE_E2E_SIM_SUBTASKS";
/// What Prometheus 2.x sends.
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
const CONCURRENT_CLIENTS: usize = 20;

/// How much to measure.
#[derive(Debug, Clone)]
struct Settings {
    name: &'static str,
    subtasks: u32,
    single_scrapes: usize,
    concurrent_rounds: usize,
    clients: usize,
    startup_runs: usize,
    /// Whether this is a measuring run (short or full), not the smoke run of `cargo test`:
    /// the real binary's phases and the `bench-target:` lines.
    real_binary: bool,
    /// Rounds against the grpcio server (bare fetch, exporter, Python baseline).
    interop_rounds: usize,
    /// Rounds at an emulated 1 ms round trip (0: none).
    rtt_rounds: usize,
    /// Sweep HTTP/2 windows and frame sizes for the bare fetch.
    window_sweep: bool,
    /// Calls per setting in the sweep.
    sweep_calls: usize,
    /// Only the many-targets benchmark (`E2E_ONLY_TARGETS=1`).
    only_targets: bool,
    /// Only the benchmark against the grpcio server (`E2E_ONLY_INTEROP=1`).
    only_interop: bool,
}

fn settings() -> Settings {
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let short = std::env::var("BENCH_SHORT").is_ok_and(|v| !v.is_empty() && v != "0");
    let subtasks = std::env::var("E2E_SUBTASKS")
        .ok()
        .and_then(|v| v.parse().ok());
    let flag = |name: &str| std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0");
    let only_interop = flag("E2E_ONLY_INTEROP");
    let sweep = flag("E2E_WINDOW_SWEEP");
    let only_targets = flag("E2E_ONLY_TARGETS");
    if !benchmarking {
        return Settings {
            name: "smoke (cargo test)",
            subtasks: subtasks.unwrap_or(20),
            single_scrapes: 3,
            concurrent_rounds: 1,
            clients: 5,
            startup_runs: 0,
            real_binary: false,
            interop_rounds: 1,
            rtt_rounds: 0,
            window_sweep: false,
            sweep_calls: 1,
            only_interop,
            only_targets,
        };
    }
    if short {
        return Settings {
            name: "short (BENCH_SHORT=1)",
            subtasks: subtasks.unwrap_or(1000),
            single_scrapes: 10,
            concurrent_rounds: 3,
            clients: CONCURRENT_CLIENTS,
            startup_runs: 5,
            real_binary: true,
            interop_rounds: 5,
            rtt_rounds: 0,
            window_sweep: sweep,
            sweep_calls: 5,
            only_interop,
            only_targets,
        };
    }
    Settings {
        name: "full",
        subtasks: subtasks.unwrap_or(1000),
        single_scrapes: 40,
        concurrent_rounds: 10,
        clients: CONCURRENT_CLIENTS,
        startup_runs: 20,
        real_binary: true,
        interop_rounds: 20,
        rtt_rounds: 10,
        window_sweep: true,
        sweep_calls: 10,
        only_interop,
        only_targets,
    }
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// The job's graph: 10 operators of `subtasks / 10` subtasks (5 below 100 subtasks).
fn graph(subtasks: u32) -> Vec<SimNode> {
    let count = if subtasks >= 100 { 10 } else { 5 };
    let parallelism = (subtasks / count).max(1);
    (0..count)
        .map(|i| {
            let (kind, description) = match i {
                0 => ("nexmark", "Nexmark<200 eps>".to_string()),
                i if i + 1 == count => ("blackhole", "Blackhole".to_string()),
                i => (
                    "chained_op",
                    format!("stage {i} -> watermark -> ArrowKey<_>"),
                ),
            };
            SimNode::new(i * 2, kind, description, parallelism)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// The simulator child
// ---------------------------------------------------------------------------------------

/// Serves the simulator with one running job; answers `calls` (upstream calls so far)
/// and `size` (bytes of the document it would send now) on stdin, and takes `delay <ms>`
/// (every JobMetrics answer waits that long); exits on EOF.
fn sim_child(subtasks: u32) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let arroyo = FakeArroyo::start(Release::Main).await.expect("simulator");
        let state = arroyo.state().clone();
        state.add_pipeline(SimPipeline::new(PIPELINE, "nexmark_bench", graph(subtasks)));
        // Running for 10 minutes: every series holds its full 150 points.
        state.add_job(SimJob::running(JOB, PIPELINE, now_micros() - 600_000_000));
        println!("READY {} {}", arroyo.rpc_url(), arroyo.api_url());
        std::io::stdout().flush().expect("stdout");
        let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(4);
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                if tx.blocking_send(line).is_err() {
                    break;
                }
            }
        });
        while let Some(cmd) = rx.recv().await {
            let answer = match cmd.trim() {
                "calls" => state.rpc_calls(JOB),
                delay if delay.starts_with("delay ") => {
                    match delay["delay ".len()..].parse::<u64>() {
                        Ok(ms) => {
                            state.set_rpc_faults(None, RpcFaults::delay(Duration::from_millis(ms)));
                            0
                        }
                        Err(_) => u64::MAX,
                    }
                }
                "size" => {
                    let plan = state.lock().controller_doc(JOB, now_micros());
                    plan.map(|p| p.render().len() as u64).unwrap_or(0)
                }
                _ => u64::MAX,
            };
            println!("{answer}");
            std::io::stdout().flush().expect("stdout");
        }
        arroyo.shutdown().await;
    });
}

/// The simulator child, seen from the benchmark.
struct Sim {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    rpc_url: String,
    api_url: String,
}

impl Sim {
    fn start(subtasks: u32) -> Sim {
        let exe = std::env::current_exe().expect("own executable");
        let mut child = Command::new(exe)
            .env(SIM_ROLE, subtasks.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the simulator child");
        let stdin = child.stdin.take().expect("piped stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("simulator ready line");
        let mut words = line.split_whitespace();
        assert_eq!(words.next(), Some("READY"), "simulator said {line:?}");
        let rpc_url = words.next().expect("rpc url").to_string();
        let api_url = words.next().expect("api url").to_string();
        Sim {
            child,
            stdin,
            stdout,
            rpc_url,
            api_url,
        }
    }

    fn ask(&mut self, cmd: &str) -> u64 {
        writeln!(self.stdin, "{cmd}").expect("simulator stdin");
        self.stdin.flush().expect("simulator stdin");
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("simulator answer");
        line.trim().parse().expect("numeric answer")
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        // Our own child, by its handle.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------
// Measurements
// ---------------------------------------------------------------------------------------

/// `VmHWM` and `VmRSS` of a process, in bytes.
fn memory(pid: Option<u32>) -> (u64, u64) {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/status"),
        None => "/proc/self/status".to_string(),
    };
    let status = std::fs::read_to_string(path).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// CPU time (user + system) a process has used so far, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses): utime and stime are the
    // 14th and 15th fields of the line, the 12th and 13th after it.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / clock_ticks()
}

/// Clock ticks per second of `/proc/*/stat` (`getconf CLK_TCK`, else 100).
fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// Resets the peak RSS of a process to its current RSS (Linux `clear_refs` 5).
fn reset_peak(pid: Option<u32>) -> bool {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/clear_refs"),
        None => "/proc/self/clear_refs".to_string(),
    };
    std::fs::write(path, "5").is_ok()
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

/// Median and p99 (nearest rank) of latencies, in ms.
fn percentiles(latencies: &mut [Duration]) -> (f64, f64) {
    latencies.sort();
    let rank = |q: f64| {
        let n = latencies.len();
        let i = ((q * n as f64).ceil() as usize).clamp(1, n) - 1;
        latencies[i].as_secs_f64() * 1e3
    };
    (rank(0.5), rank(0.99))
}

/// One Prometheus-like scrape; checks that every subtask's series came back.
async fn scrape(client: &reqwest::Client, url: &str, subtasks: u32) -> Duration {
    let started = Instant::now();
    let resp = client
        .get(url)
        .header("accept", PROMETHEUS_ACCEPT)
        .header("x-prometheus-scrape-timeout-seconds", "60")
        .send()
        .await
        .expect("scrape request");
    assert_eq!(resp.status().as_u16(), 200);
    let body = resp.text().await.expect("scrape body");
    let took = started.elapsed();
    let series = body
        .lines()
        .filter(|l| l.starts_with("arroyo_subtask_backpressure_ratio{"))
        .count();
    assert_eq!(
        series, subtasks as usize,
        "incomplete scrape:\n{body:.2000}"
    );
    // `arroyo_up 1.0` from prometheus_client (the Python baseline).
    assert!(
        body.lines()
            .any(|l| l == "arroyo_up 1" || l == "arroyo_up 1.0"),
        "arroyo_up is not 1"
    );
    took
}

/// Latencies of one client scraping `n` times in a row, and upstream calls made.
async fn single_client(
    client: &reqwest::Client,
    url: &str,
    s: &Settings,
    sim: &mut Sim,
) -> (Vec<Duration>, u64) {
    let before = sim.ask("calls");
    let mut out = Vec::with_capacity(s.single_scrapes);
    for _ in 0..s.single_scrapes {
        out.push(scrape(client, url, s.subtasks).await);
    }
    (out, sim.ask("calls") - before)
}

/// Latencies of `clients` concurrent scrapes, `rounds` times, and upstream calls per
/// round.
async fn concurrent_clients(
    client: &reqwest::Client,
    url: &str,
    s: &Settings,
    rounds: usize,
    sim: &mut Sim,
) -> (Vec<Duration>, Vec<u64>) {
    let mut latencies = Vec::new();
    let mut calls = Vec::new();
    for _ in 0..rounds {
        let before = sim.ask("calls");
        let barrier = Arc::new(tokio::sync::Barrier::new(s.clients));
        let tasks: Vec<_> = (0..s.clients)
            .map(|_| {
                let client = client.clone();
                let url = url.to_string();
                let barrier = Arc::clone(&barrier);
                let subtasks = s.subtasks;
                tokio::spawn(async move {
                    barrier.wait().await;
                    scrape(&client, &url, subtasks).await
                })
            })
            .collect();
        for t in tasks {
            latencies.push(t.await.expect("scrape task"));
        }
        calls.push(sim.ask("calls") - before);
    }
    (latencies, calls)
}

/// A free loopback port (bound, then released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Whether `GET /-/ready` answers 200 now.
fn ready(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(50)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream
        .write_all(b"GET /-/ready HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200")
}

/// The real binary (`target/release/arroyo-exporter`, or another build), in its own
/// process.
struct RealExporter {
    child: Child,
    addr: SocketAddr,
    startup: Duration,
}

impl RealExporter {
    /// The real binary, with flags pointing at the simulator.
    fn start(sim: &Sim) -> RealExporter {
        let args = [
            "--controller.endpoint",
            &sim.rpc_url,
            "--api.endpoint",
            &sim.api_url,
            "--scrape.timeout",
            "60s",
            // The simulator child serves no admin port here: what is measured is the
            // metrics path, without a failing version call beside it.
            "--admin.endpoint",
            "",
        ];
        RealExporter::launch(Path::new(env!("CARGO_BIN_EXE_arroyo-exporter")), &args)
    }

    /// Starts `binary` with `args` (plus a free listen address and `--log.level warn`)
    /// and waits until it is ready.
    fn launch(binary: &Path, args: &[&str]) -> RealExporter {
        let addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let started = Instant::now();
        let child = Command::new(binary)
            .args([
                "--web.listen-address",
                &addr.to_string(),
                "--log.level",
                "warn",
            ])
            .args(args)
            .env("ARROYO_EXPORTER__CONTROLLER__TIMEOUT", "60s")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", binary.display()));
        let mut exporter = RealExporter {
            child,
            addr,
            startup: Duration::ZERO,
        };
        while !ready(addr) {
            if let Ok(Some(status)) = exporter.child.try_wait() {
                panic!("arroyo-exporter exited during start-up: {status}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "not ready in 10 s"
            );
            std::thread::sleep(Duration::from_micros(500));
        }
        exporter.startup = started.elapsed();
        exporter
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn url(&self) -> String {
        format!("http://{}/metrics", self.addr)
    }
}

impl Drop for RealExporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn verdict(met: bool) -> &'static str {
    if met {
        "**met**"
    } else {
        "**not met**"
    }
}

// ---------------------------------------------------------------------------------------

async fn run(s: Settings) {
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(64)
        .build()
        .expect("HTTP client");
    if s.only_targets {
        targets::run(&s, &client).await;
        return;
    }
    if !s.only_interop {
        against_simulator(&s, &client).await;
    }
    // `E2E_INTEROP=0` leaves it out (scripts/bench.sh, at 10,000 subtasks).
    if std::env::var("E2E_INTEROP").as_deref() != Ok("0") {
        interop::run(&s, &client).await;
    }
    if !s.only_interop && std::env::var("E2E_TARGETS").as_deref() != Ok("0") {
        targets::run(&s, &client).await;
    }
}

/// The benchmark against the in-repo simulator (issue 5).
async fn against_simulator(s: &Settings, client: &reqwest::Client) {
    let mut sim = Sim::start(s.subtasks);
    let message = sim.ask("size");
    if !s.real_binary {
        // Smoke mode's answer is small and quick: concurrent scrapes that start a few
        // milliseconds apart (a busy test machine) may each find no call in flight to
        // share. A slow controller makes the coalescing check certain; the figures of
        // this mode only show that the benchmark runs.
        assert_eq!(sim.ask("delay 250"), 0, "the simulator took no delay");
        eprintln!("smoke mode: the simulator answers JobMetrics after 250 ms");
    }
    eprintln!(
        "simulator up: {} subtasks, JobMetrics document {:.1} MB",
        s.subtasks,
        mb(message)
    );

    // One upstream call alone, with the exporter's own client.
    let mut cfg = Config::default();
    cfg.controller.endpoint = sim.rpc_url.parse().expect("rpc url");
    cfg.api.endpoint = Some(sim.api_url.parse().expect("api url"));
    cfg.admin.endpoint = None;
    cfg.controller.timeout = Duration::from_secs(60);
    cfg.scrape.timeout = Duration::from_secs(60);
    cfg.web.listen_address = "127.0.0.1:0".parse().expect("address");
    let rpc = RpcClient::new(&cfg.controller).expect("rpc client");
    let mut upstream = Vec::new();
    let own_cpu = cpu_seconds(std::process::id());
    for _ in 0..s.single_scrapes.min(10) {
        let started = Instant::now();
        let answer = rpc.job_metrics(JOB).await.expect("JobMetrics call");
        upstream.push(started.elapsed());
        assert!(matches!(answer, RpcAnswer::Metrics(ref m) if !m.samples.is_empty()));
    }
    drop(rpc);
    let upstream_cpu = (cpu_seconds(std::process::id()) - own_cpu) / upstream.len() as f64;
    let (upstream_median, _) = percentiles(&mut upstream);

    // The exporter in-process.
    let scraper = Arc::new(Scraper::new(Arc::new(cfg)).expect("scraper"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listen");
    let url = format!("http://{}/metrics", listener.local_addr().expect("address"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(server::serve(listener, Arc::clone(&scraper), async move {
        let _ = stopped.await;
    }));
    // Warm-up: connection, service generation, pipeline cache, 20 pooled connections.
    scrape(client, &url, s.subtasks).await;
    concurrent_clients(client, &url, s, 1, &mut sim).await;

    let can_reset = reset_peak(None);
    let (mut single, single_calls) = single_client(client, &url, s, &mut sim).await;
    let (single_peak, _) = memory(None);
    let (single_median, single_p99) = percentiles(&mut single);
    reset_peak(None);
    let (mut many, many_calls) =
        concurrent_clients(client, &url, s, s.concurrent_rounds, &mut sim).await;
    let (many_peak, rss_after) = memory(None);
    let (many_median, many_p99) = percentiles(&mut many);
    let _ = stop.send(());
    let _ = server.await;

    let coalesced = many_calls.iter().all(|c| *c == 1);
    let limit = 2 * message + 30_000_000;
    println!(
        "\n## scrape end to end: {} subtasks, {} mode\n",
        s.subtasks, s.name
    );
    println!(
        "Largest upstream message: {:.1} MB (JobMetrics JSON, sent zstd-compressed). \
         Memory target: peak RSS <= 2 x {:.1} + 30 = {:.1} MB.\n",
        mb(message),
        mb(message),
        mb(limit)
    );
    println!("| measurement | value |");
    println!("|---|---:|");
    println!(
        "| one upstream JobMetrics call alone (zstd, decoded as it arrives), median of {} | {upstream_median:.1} ms |",
        upstream.len()
    );
    println!(
        "| CPU time of the exporter's side of that call (receive, zstd, UTF-8 check, decode) | {:.1} ms |",
        upstream_cpu * 1e3
    );
    println!(
        "| 1 client, {} scrapes: median / p99 | {single_median:.1} ms / {single_p99:.1} ms |",
        single.len()
    );
    println!(
        "| {} concurrent clients, {} rounds ({} scrapes): median / p99 | {many_median:.1} ms / {many_p99:.1} ms |",
        s.clients,
        s.concurrent_rounds,
        many.len()
    );
    println!(
        "| upstream calls, 1 client | {single_calls} for {} scrapes |",
        single.len()
    );
    println!(
        "| upstream calls per round of {} concurrent scrapes | {:?} |",
        s.clients, many_calls
    );
    if can_reset {
        println!(
            "| peak RSS of this benchmark process (in-process exporter, simulator client, {} HTTP clients), 1 client | {:.1} MB |",
            s.clients,
            mb(single_peak)
        );
        println!(
            "| peak RSS of this benchmark process, {} concurrent clients | {:.1} MB (RSS after: {:.1} MB) |",
            s.clients,
            mb(many_peak),
            mb(rss_after)
        );
    } else {
        println!(
            "| peak RSS of the whole benchmark process (clear_refs unavailable) | {:.1} MB |",
            mb(many_peak)
        );
    }

    let mut targets = vec![
        (
            format!(
                "{} concurrent scrapes cost one upstream call per job",
                s.clients
            ),
            format!("{many_calls:?} calls per round"),
            coalesced,
        ),
        (
            format!("p99 with {} clients <= 2 x single-client median", s.clients),
            format!(
                "{many_p99:.1} ms vs {:.1} ms ({:.2}x)",
                2.0 * single_median,
                many_p99 / single_median
            ),
            many_p99 <= 2.0 * single_median,
        ),
    ];

    if s.real_binary {
        let mut startups = Vec::new();
        let mut idle = 0;
        for i in 0..s.startup_runs {
            let exporter = RealExporter::start(&sim);
            startups.push(exporter.startup);
            if i + 1 == s.startup_runs {
                std::thread::sleep(Duration::from_millis(1000));
                idle = memory(Some(exporter.pid())).1;
            }
        }
        let (startup_median, _) = percentiles(&mut startups);
        let startup_max = startups.last().map_or(0.0, |d| d.as_secs_f64() * 1e3);

        // Memory of the real binary under the same load.
        let exporter = RealExporter::start(&sim);
        let pid = Some(exporter.pid());
        let real_url = exporter.url();
        scrape(client, &real_url, s.subtasks).await;
        let (first_peak, _) = memory(pid);
        let cpu_before = cpu_seconds(exporter.pid());
        let (mut real_single, _) = single_client(client, &real_url, s, &mut sim).await;
        let cpu_single = (cpu_seconds(exporter.pid()) - cpu_before) / s.single_scrapes as f64;
        let (single_peak_real, _) = memory(pid);
        let cpu_before = cpu_seconds(exporter.pid());
        let (mut real_many, real_calls) =
            concurrent_clients(client, &real_url, s, s.concurrent_rounds, &mut sim).await;
        let cpu_round =
            (cpu_seconds(exporter.pid()) - cpu_before) / s.concurrent_rounds.max(1) as f64;
        let (peak_real, rss_real_after) = memory(pid);
        let plain = reqwest::Client::builder()
            .no_proxy()
            .no_gzip()
            .build()
            .expect("HTTP client");
        let cpu_before = cpu_seconds(exporter.pid());
        let (plain_scrapes, _) = single_client(&plain, &real_url, s, &mut sim).await;
        let cpu_plain =
            (cpu_seconds(exporter.pid()) - cpu_before) / plain_scrapes.len().max(1) as f64;
        let (real_single_median, real_single_p99) = percentiles(&mut real_single);
        let (real_many_median, real_many_p99) = percentiles(&mut real_many);
        drop(exporter);

        println!(
            "| real binary: start-up to ready, {} runs: median / max | {startup_median:.1} ms / {startup_max:.1} ms |",
            startups.len()
        );
        println!(
            "| real binary: idle RSS (1 s after ready, before any scrape) | {:.1} MB |",
            mb(idle)
        );
        println!(
            "| real binary: 1 client: median / p99 | {real_single_median:.1} ms / {real_single_p99:.1} ms |"
        );
        println!(
            "| real binary: {} concurrent clients: median / p99 | {real_many_median:.1} ms / {real_many_p99:.1} ms |",
            s.clients
        );
        println!(
            "| real binary: upstream calls per round of {} | {real_calls:?} |",
            s.clients
        );
        println!(
            "| real binary: CPU time per scrape, 1 client (zstd, decode, render, gzip, REST) | {:.1} ms |",
            cpu_single * 1e3
        );
        println!(
            "| real binary: CPU time per scrape, 1 client, response not gzipped | {:.1} ms |",
            cpu_plain * 1e3
        );
        println!(
            "| real binary: CPU time per round of {} concurrent scrapes | {:.1} ms |",
            s.clients,
            cpu_round * 1e3
        );
        println!(
            "| real binary: peak RSS after the first scrape / after {} more / after the concurrent rounds | {:.1} / {:.1} / {:.1} MB |",
            s.single_scrapes,
            mb(first_peak),
            mb(single_peak_real),
            mb(peak_real)
        );
        println!(
            "| real binary: RSS after the load (idle again) | {:.1} MB |",
            mb(rss_real_after)
        );
        targets.push((
            "real binary: peak RSS <= 2 x largest message + 30 MB".to_string(),
            format!("{:.1} MB vs {:.1} MB", mb(peak_real), mb(limit)),
            peak_real <= limit,
        ));
        targets.push((
            "real binary: idle RSS <= 15 MB".to_string(),
            format!("{:.1} MB", mb(idle)),
            idle <= 15_000_000,
        ));
        targets.push((
            "real binary: start-up to ready <= 100 ms".to_string(),
            format!("median {startup_median:.1} ms, max {startup_max:.1} ms"),
            startup_max <= 100.0,
        ));
        targets.push((
            format!(
                "real binary: {} concurrent scrapes cost one upstream call",
                s.clients
            ),
            format!("{real_calls:?}"),
            real_calls.iter().all(|c| *c == 1),
        ));
        targets.push((
            format!(
                "real binary: p99 with {} clients <= 2 x single-client median",
                s.clients
            ),
            format!(
                "{real_many_p99:.1} ms vs {:.1} ms",
                2.0 * real_single_median
            ),
            real_many_p99 <= 2.0 * real_single_median,
        ));
    }

    println!("\n| target | measured | verdict |");
    println!("|---|---|---|");
    for (what, measured, met) in &targets {
        println!("| {what} | {measured} | {} |", verdict(*met));
    }
    // Coalescing is a correctness property: fail loudly.
    assert!(
        coalesced,
        "concurrent scrapes were not coalesced: {many_calls:?}"
    );
    assert_eq!(
        single_calls,
        single.len() as u64,
        "one upstream call per single scrape"
    );
}

fn main() {
    if interop::child_role() || targets::child_role() {
        return;
    }
    if let Some(subtasks) = std::env::var_os(SIM_ROLE) {
        let subtasks = subtasks
            .to_str()
            .and_then(|s| s.parse().ok())
            .expect("subtask count");
        sim_child(subtasks);
        return;
    }
    let s = settings();
    eprintln!("scrape_e2e: {s:?}");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run(s));
}
