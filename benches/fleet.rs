//! Fleet scale (issue 18): how a scrape grows with the number of jobs.
//!
//! ```text
//! cargo bench --bench fleet                  # full: 1, 100, 1,000 and 5,000 jobs
//! BENCH_SHORT=1 cargo bench --bench fleet    # short (test command): 1, 100, 1,000 jobs
//! FLEET_SIZES=1:100,2000:5 cargo bench --bench fleet   # <jobs>:<scrapes>,… of your own
//! ```
//!
//! For each size, a fresh simulated Arroyo (in this process, release main) holds a fleet
//! ([`arroyo_sim::FleetSpec`]): that many running jobs of two operators each (a Kafka
//! source and sink, parallelism 1 or 2), checkpointing every 10 s with checkpoints
//! completed in real time by the simulator's clock task, running for hours (full metrics
//! window). The real exporter binary (`target/release/arroyo-exporter`) runs in its own
//! process with DEFAULT settings, pointed at the simulator's controller, API and admin
//! port. After a few warm-up scrapes, one client scrapes it like Prometheus (OpenMetrics
//! `Accept`, gzip, `X-Prometheus-Scrape-Timeout-Seconds: 10`, Prometheus' default)
//! several times in a row.
//!
//! Recorded per size: scrape duration (median, p90, max), the exporter's CPU per scrape
//! (utime + stime from `/proc/<pid>/stat`), CPU per job against the single-job run, the
//! exporter's RSS after the scrapes and per job ((RSS_N − RSS_1) / N), upstream calls per
//! scrape as the simulator counts them (`JobMetrics` RPCs, REST API calls, admin calls),
//! series per scrape, and whether every scrape was complete: `arroyo_up 1`, every
//! `arroyo_exporter_collector_success` 1, one `arroyo_exporter_job_scrape_success` of 1
//! per job and one `arroyo_subtask_backpressure_ratio` series per subtask.
//!
//! Then `bench-target: <name> <value> <limit> met|NOT met` lines for the goals of issue
//! 18 (scripts/test.sh lists unmet ones): 1,000 jobs under 2 s, 5,000 under 10 s (every
//! scrape: the slowest one), CPU per job within 2× of the single-job cost, RSS linear
//! in the jobs (the slope from 1,000 to 5,000 jobs within 1.5× of the slope from 1 to
//! 1,000), every scrape complete.
//!
//! Without `--bench` (`cargo test --all-targets`) it runs a smoke version with a few
//! tiny fleets and fails if a scrape is incomplete.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use arroyo_sim::{spawn_checkpoint_clock, FakeArroyo, FleetSpec, Release, SimState};

/// What Prometheus 2.x sends.
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
/// Prometheus' default scrape timeout, in seconds, as its header says it.
const SCRAPE_TIMEOUT_SECONDS: f64 = 10.0;

/// How much to measure.
#[derive(Debug, Clone)]
struct Settings {
    name: &'static str,
    /// `(jobs, measured scrapes)`, smallest first; the first is the baseline.
    sizes: Vec<(usize, usize)>,
    /// Scrapes before measuring (connections, pipeline cache, first error-log reads).
    warm_up: usize,
    /// Whether incomplete scrapes fail the run (the smoke run of `cargo test`).
    strict: bool,
}

fn settings() -> Settings {
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let short = std::env::var("BENCH_SHORT").is_ok_and(|v| !v.is_empty() && v != "0");
    let custom: Option<Vec<(usize, usize)>> = std::env::var("FLEET_SIZES").ok().map(|v| {
        v.split(',')
            .map(|pair| {
                let (jobs, scrapes) = pair.split_once(':').unwrap_or((pair, "10"));
                (
                    jobs.trim()
                        .parse()
                        .expect("FLEET_SIZES: <jobs>:<scrapes>,…"),
                    scrapes
                        .trim()
                        .parse()
                        .expect("FLEET_SIZES: <jobs>:<scrapes>,…"),
                )
            })
            .collect()
    });
    let (name, sizes, warm_up, strict) = if !benchmarking {
        ("smoke (cargo test)", vec![(1, 5), (3, 3), (10, 3)], 1, true)
    } else if short {
        (
            "short (BENCH_SHORT=1)",
            vec![(1, 50), (100, 10), (1000, 5)],
            2,
            false,
        )
    } else {
        (
            "full",
            vec![(1, 200), (100, 50), (1000, 20), (5000, 10)],
            3,
            false,
        )
    };
    Settings {
        name,
        sizes: custom.unwrap_or(sizes),
        warm_up,
        strict,
    }
}

// ---------------------------------------------------------------------------------------
// Process figures
// ---------------------------------------------------------------------------------------

/// `VmRSS` and `VmHWM` of a process, in bytes.
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// CPU time (user + system) a process has used so far, in seconds.
fn cpu_seconds(pid: u32, ticks_per_second: f64) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // After the command name (in parentheses), utime and stime are the 12th and 13th
    // fields (the 14th and 15th of the line).
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / ticks_per_second
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

fn mb(bytes: f64) -> f64 {
    bytes / 1e6
}

/// Nearest-rank quantile of sorted values.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let n = sorted.len();
    sorted[((q * n as f64).ceil() as usize).clamp(1, n) - 1]
}

// ---------------------------------------------------------------------------------------
// The exporter
// ---------------------------------------------------------------------------------------

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

/// The real binary with default settings, pointed at one simulator.
struct Exporter {
    child: Child,
    addr: SocketAddr,
    /// Its log (warnings and errors), read at the end.
    log: tempfile::NamedTempFile,
}

impl Exporter {
    fn start(arroyo: &FakeArroyo) -> Exporter {
        let addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let log = tempfile::NamedTempFile::new().expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_arroyo-exporter"))
            .args([
                "--web.listen-address",
                &addr.to_string(),
                "--log.level",
                "warn",
                "--controller.endpoint",
                &arroyo.rpc_url(),
                "--api.endpoint",
                &arroyo.api_url(),
                "--admin.endpoint",
                &arroyo.admin_url(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log.reopen().expect("log file"))
            .spawn()
            .expect("start arroyo-exporter");
        let mut exporter = Exporter { child, addr, log };
        let started = Instant::now();
        while !ready(addr) {
            if let Ok(Some(status)) = exporter.child.try_wait() {
                panic!("arroyo-exporter exited during start-up: {status}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "not ready in 10 s"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        exporter
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Lines the exporter logged so far.
    fn log_lines(&self) -> Vec<String> {
        std::fs::read_to_string(self.log.path())
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        // Our own child, by its handle.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------
// One scrape
// ---------------------------------------------------------------------------------------

/// What one scrape returned and cost upstream.
#[derive(Debug, Clone, Default)]
struct Scrape {
    seconds: f64,
    series: usize,
    /// `JobMetrics` RPCs, REST API calls and admin-port calls during the scrape.
    rpc: u64,
    api: u64,
    admin: u64,
    /// Jobs with checkpoint series (`arroyo_job_last_checkpoint_epoch`).
    checkpointed_jobs: usize,
    /// Bytes of the (decompressed) answer.
    body_bytes: usize,
    /// What the exporter says its `discovery` and `job_metrics` collectors took (s).
    discovery_seconds: f64,
    job_metrics_seconds: f64,
    /// What was missing, when incomplete.
    problems: Vec<String>,
}

/// Calls the simulator counted so far: (RPC, REST, admin).
fn calls(state: &SimState) -> (u64, u64, u64) {
    (
        state.total_rpc_calls(),
        state.total_rest_calls(),
        state.total_admin_calls(),
    )
}

/// A collector's duration as the exporter reports it in `body`.
fn collector_seconds(body: &str, collector: &str) -> f64 {
    let prefix =
        format!("arroyo_exporter_collector_duration_seconds{{collector=\"{collector}\"}} ");
    body.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(f64::NAN)
}

/// Checks a scrape's body against the fleet; returns the series count, the jobs with
/// checkpoint series and what was missing.
fn check_body(body: &str, jobs: usize, subtasks: u64) -> (usize, usize, Vec<String>) {
    let mut series = 0usize;
    let mut up = None;
    let mut failed_collectors = Vec::new();
    let mut collectors = 0usize;
    let mut job_ok = 0usize;
    let mut job_not_ok = 0usize;
    let mut subtask_series = 0u64;
    let mut checkpointed = 0usize;
    for line in body.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        series += 1;
        let value = line.rsplit_once(' ').map_or("", |(_, v)| v);
        if let Some(v) = line.strip_prefix("arroyo_up ") {
            up = Some(v.to_string());
        } else if line.starts_with("arroyo_exporter_collector_success{") {
            collectors += 1;
            if value != "1" {
                failed_collectors.push(line.to_string());
            }
        } else if line.starts_with("arroyo_exporter_job_scrape_success{") {
            if value == "1" {
                job_ok += 1;
            } else {
                job_not_ok += 1;
            }
        } else if line.starts_with("arroyo_subtask_backpressure_ratio{") {
            subtask_series += 1;
        } else if line.starts_with("arroyo_job_last_checkpoint_epoch{") {
            checkpointed += 1;
        }
    }
    let mut problems = Vec::new();
    if up.as_deref() != Some("1") {
        problems.push(format!("arroyo_up is {up:?}"));
    }
    if collectors == 0 {
        problems.push("no arroyo_exporter_collector_success".to_string());
    }
    problems.extend(failed_collectors);
    if job_ok != jobs || job_not_ok != 0 {
        problems.push(format!(
            "arroyo_exporter_job_scrape_success: {job_ok} jobs at 1, {job_not_ok} not, {jobs} expected"
        ));
    }
    if subtask_series != subtasks {
        problems.push(format!(
            "arroyo_subtask_backpressure_ratio: {subtask_series} series, {subtasks} expected"
        ));
    }
    (series, checkpointed, problems)
}

/// One Prometheus-like scrape of `url`.
async fn scrape(
    client: &reqwest::Client,
    url: &str,
    state: &SimState,
    jobs: usize,
    subtasks: u64,
) -> Scrape {
    let before = calls(state);
    let started = Instant::now();
    let resp = client
        .get(url)
        .header("accept", PROMETHEUS_ACCEPT)
        .header(
            "x-prometheus-scrape-timeout-seconds",
            SCRAPE_TIMEOUT_SECONDS.to_string(),
        )
        .send()
        .await
        .expect("scrape request");
    let status = resp.status();
    let body = resp.text().await.expect("scrape body");
    let seconds = started.elapsed().as_secs_f64();
    let after = calls(state);
    let (series, checkpointed_jobs, mut problems) = check_body(&body, jobs, subtasks);
    if !status.is_success() {
        problems.insert(0, format!("HTTP {status}"));
    }
    Scrape {
        seconds,
        series,
        rpc: after.0 - before.0,
        api: after.1 - before.1,
        admin: after.2 - before.2,
        checkpointed_jobs,
        body_bytes: body.len(),
        discovery_seconds: collector_seconds(&body, "discovery"),
        job_metrics_seconds: collector_seconds(&body, "job_metrics"),
        problems,
    }
}

// ---------------------------------------------------------------------------------------
// One size
// ---------------------------------------------------------------------------------------

/// What one fleet size measured.
#[derive(Debug, Clone)]
struct SizeRun {
    jobs: usize,
    subtasks: u64,
    scrapes: Vec<Scrape>,
    /// Exporter CPU per measured scrape (s).
    cpu_per_scrape: f64,
    /// This process's CPU per measured scrape (s): the simulator and the client.
    sim_cpu_per_scrape: f64,
    /// Exporter RSS before the first scrape, after the scrapes, and its peak (bytes).
    idle_rss: u64,
    rss: u64,
    peak_rss: u64,
    /// Exporter log lines.
    log_lines: Vec<String>,
}

impl SizeRun {
    fn durations(&self) -> Vec<f64> {
        let mut d: Vec<f64> = self.scrapes.iter().map(|s| s.seconds).collect();
        d.sort_by(f64::total_cmp);
        d
    }

    fn incomplete(&self) -> usize {
        self.scrapes
            .iter()
            .filter(|s| !s.problems.is_empty())
            .count()
    }

    fn max_seconds(&self) -> f64 {
        self.durations().last().copied().unwrap_or(f64::NAN)
    }
}

/// Runs one fleet size: a fresh simulator and a fresh exporter.
async fn run_size(
    client: &reqwest::Client,
    jobs: usize,
    scrapes: usize,
    warm_up: usize,
    ticks: f64,
) -> SizeRun {
    let arroyo = FakeArroyo::start(Release::Main).await.expect("simulator");
    let spec = FleetSpec::new(jobs);
    let state = arroyo.state().clone();
    let built = Instant::now();
    state.add_fleet(&spec);
    let clock = spawn_checkpoint_clock(state.clone(), Duration::from_secs(1));
    let subtasks = spec.subtasks();
    eprintln!(
        "fleet of {jobs} jobs ({subtasks} subtasks) built in {:.0} ms",
        built.elapsed().as_secs_f64() * 1e3
    );

    let exporter = Exporter::start(&arroyo);
    let pid = exporter.pid();
    let url = format!("http://{}/metrics", exporter.addr);
    std::thread::sleep(Duration::from_millis(200));
    let (idle_rss, _) = memory(pid);
    for i in 0..warm_up {
        let s = scrape(client, &url, &state, jobs, subtasks).await;
        eprintln!(
            "  warm-up {}: {:.3} s, {} series, {} RPC, {} API{}",
            i + 1,
            s.seconds,
            s.series,
            s.rpc,
            s.api,
            if s.problems.is_empty() {
                String::new()
            } else {
                format!(", incomplete: {:?}", s.problems)
            }
        );
    }
    let own = std::process::id();
    let cpu_before = cpu_seconds(pid, ticks);
    let sim_cpu_before = cpu_seconds(own, ticks);
    let mut measured = Vec::with_capacity(scrapes);
    for _ in 0..scrapes {
        let s = scrape(client, &url, &state, jobs, subtasks).await;
        if !s.problems.is_empty() {
            eprintln!("  incomplete scrape ({:.3} s): {:?}", s.seconds, s.problems);
        }
        measured.push(s);
    }
    let n = scrapes.max(1) as f64;
    let cpu_per_scrape = (cpu_seconds(pid, ticks) - cpu_before) / n;
    let sim_cpu_per_scrape = (cpu_seconds(own, ticks) - sim_cpu_before) / n;
    let (rss, peak_rss) = memory(pid);
    let log_lines = exporter.log_lines();
    drop(exporter);
    clock.abort();
    arroyo.shutdown().await;
    let run = SizeRun {
        jobs,
        subtasks,
        scrapes: measured,
        cpu_per_scrape,
        sim_cpu_per_scrape,
        idle_rss,
        rss,
        peak_rss,
        log_lines,
    };
    let d = run.durations();
    eprintln!(
        "  {jobs} jobs: median {:.3} s, max {:.3} s, CPU {:.1} ms per scrape, RSS {:.1} MB, {} incomplete",
        quantile(&d, 0.5),
        run.max_seconds(),
        run.cpu_per_scrape * 1e3,
        mb(run.rss as f64),
        run.incomplete()
    );
    run
}

// ---------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------

/// `bench-target:` line, as the other benchmarks print it.
fn bench_target(name: &str, value: f64, limit: f64) -> bool {
    let met = value <= limit;
    println!(
        "bench-target: {name} {value:.3} {limit:.3} {}",
        if met { "met" } else { "NOT met" }
    );
    met
}

/// `min–max` of some counts, or one number when they are all equal.
fn spread(values: impl Iterator<Item = u64>) -> String {
    let v: Vec<u64> = values.collect();
    let (lo, hi) = (
        v.iter().copied().min().unwrap_or(0),
        v.iter().copied().max().unwrap_or(0),
    );
    if lo == hi {
        lo.to_string()
    } else {
        format!("{lo}–{hi}")
    }
}

fn report(s: &Settings, runs: &[SizeRun]) {
    let base = &runs[0];
    let base_cpu_per_job = base.cpu_per_scrape / base.jobs.max(1) as f64;
    println!("\n## fleet scale: {} mode\n", s.name);
    println!(
        "Real binary, default settings, against the simulator (release main) holding N running \
         jobs of 2 operators (parallelism 1–2), checkpoints every 10 s; one client, \
         OpenMetrics + gzip, `X-Prometheus-Scrape-Timeout-Seconds: 10`; {} warm-up scrapes \
         per size. Ratios against the {}-job run of the same run.\n",
        s.warm_up, base.jobs
    );
    println!(
        "| jobs | subtasks | scrapes | duration median / p90 / max | exporter CPU per scrape | CPU per job | CPU per job vs {} job | RSS after | RSS per job | peak RSS | RPC per scrape | API calls per scrape | admin calls | series per scrape | complete |",
        base.jobs
    );
    println!("|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for r in runs {
        let d = r.durations();
        let per_job = r.cpu_per_scrape / r.jobs.max(1) as f64;
        let rss_per_job = if r.jobs > base.jobs {
            format!(
                "{:.1} KB",
                (r.rss as f64 - base.rss as f64) / r.jobs as f64 / 1e3
            )
        } else {
            "–".to_string()
        };
        println!(
            "| {} | {} | {} | {:.1} / {:.1} / {:.1} ms | {:.1} ms | {:.3} ms | {:.2}x | {:.1} MB | {} | {:.1} MB | {} | {} | {} | {} | {} |",
            r.jobs,
            r.subtasks,
            r.scrapes.len(),
            quantile(&d, 0.5) * 1e3,
            quantile(&d, 0.9) * 1e3,
            r.max_seconds() * 1e3,
            r.cpu_per_scrape * 1e3,
            per_job * 1e3,
            per_job / base_cpu_per_job.max(1e-12),
            mb(r.rss as f64),
            rss_per_job,
            mb(r.peak_rss as f64),
            spread(r.scrapes.iter().map(|x| x.rpc)),
            spread(r.scrapes.iter().map(|x| x.api)),
            spread(r.scrapes.iter().map(|x| x.admin)),
            spread(r.scrapes.iter().map(|x| x.series as u64)),
            if r.incomplete() == 0 {
                "all".to_string()
            } else {
                format!("**{} of {} incomplete**", r.incomplete(), r.scrapes.len())
            },
        );
    }
    println!("\nRatios against the {}-job run:\n", base.jobs);
    println!("| jobs | duration median | exporter CPU per scrape | RSS after | series | simulator + client CPU per scrape (this process) | idle RSS before scraping | jobs with checkpoint series after the scrapes | exporter log lines |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let base_median = quantile(&base.durations(), 0.5);
    let base_series = base.scrapes.last().map_or(1, |x| x.series.max(1)) as f64;
    for r in runs {
        let series = r.scrapes.last().map_or(0, |x| x.series) as f64;
        println!(
            "| {} | {:.1}x | {:.1}x | {:.2}x | {:.0}x | {:.1} ms | {:.1} MB | {} | {} |",
            r.jobs,
            quantile(&r.durations(), 0.5) / base_median,
            r.cpu_per_scrape / base.cpu_per_scrape.max(1e-12),
            r.rss as f64 / base.rss.max(1) as f64,
            series / base_series,
            r.sim_cpu_per_scrape * 1e3,
            mb(r.idle_rss as f64),
            r.scrapes.last().map_or(0, |x| x.checkpointed_jobs),
            r.log_lines.len(),
        );
    }
    println!("\nWhere a scrape's time goes (medians; the rest is rendering, gzip and transfer after the collectors):\n");
    println!("| jobs | scrape | discovery collector | job_metrics collector | rest | answer (uncompressed) |");
    println!("|---:|---:|---:|---:|---:|---:|");
    for r in runs {
        let median = |f: &dyn Fn(&Scrape) -> f64| {
            let mut v: Vec<f64> = r.scrapes.iter().map(f).collect();
            v.sort_by(f64::total_cmp);
            quantile(&v, 0.5)
        };
        let total = median(&|x| x.seconds);
        let discovery = median(&|x| x.discovery_seconds);
        let metrics = median(&|x| x.job_metrics_seconds);
        let rest = median(&|x| x.seconds - x.discovery_seconds - x.job_metrics_seconds);
        println!(
            "| {} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms | {:.2} MB |",
            r.jobs,
            total * 1e3,
            discovery * 1e3,
            metrics * 1e3,
            rest * 1e3,
            mb(median(&|x| x.body_bytes as f64)),
        );
    }
    for r in runs {
        for line in r.log_lines.iter().take(3) {
            println!("\nexporter log at {} jobs: {line:.300}", r.jobs);
        }
    }

    // The goals of issue 18.
    println!();
    let find = |jobs: usize| runs.iter().find(|r| r.jobs == jobs);
    let mut rows: Vec<(String, String, bool)> = Vec::new();
    for (jobs, limit) in [(1000usize, 2.0f64), (5000, SCRAPE_TIMEOUT_SECONDS)] {
        if let Some(r) = find(jobs) {
            let max = r.max_seconds();
            let met = bench_target(
                &format!("fleet-{jobs}-jobs-slowest-scrape-seconds"),
                max,
                limit,
            );
            rows.push((
                format!("{jobs} jobs: every scrape under {limit} s"),
                format!(
                    "slowest {:.2} s, median {:.2} s",
                    max,
                    quantile(&r.durations(), 0.5)
                ),
                met,
            ));
        }
    }
    let worst = runs[1..]
        .iter()
        .map(|r| {
            (
                r.jobs,
                r.cpu_per_scrape / r.jobs as f64 / base_cpu_per_job.max(1e-12),
            )
        })
        .max_by(|a, b| a.1.total_cmp(&b.1));
    if let Some((jobs, ratio)) = worst {
        let met = bench_target("fleet-cpu-per-job-vs-one-job", ratio, 2.0);
        rows.push((
            "CPU per job within 2x of the single-job cost".to_string(),
            format!("worst {ratio:.2}x (at {jobs} jobs)"),
            met,
        ));
    }
    // RSS at most linear: the slope over the largest step against the slope up to the
    // size before it, on the peak RSS (VmHWM only grows, so it is the steadier reading;
    // the RSS after the scrapes depends on what the allocator handed back last).
    if runs.len() >= 3 {
        let (a, b) = (&runs[runs.len() - 2], &runs[runs.len() - 1]);
        let slope = |from: &SizeRun, to: &SizeRun, f: fn(&SizeRun) -> u64| {
            (f(to) as f64 - f(from) as f64) / (to.jobs - from.jobs).max(1) as f64
        };
        let (low, high) = (slope(base, a, |r| r.peak_rss), slope(a, b, |r| r.peak_rss));
        let (low_after, high_after) = (slope(base, a, |r| r.rss), slope(a, b, |r| r.rss));
        let ratio = high / low.max(1.0);
        let met = bench_target("fleet-peak-rss-slope-ratio", ratio, 1.5);
        rows.push((
            format!(
                "RSS at most linear: peak RSS slope {}→{} jobs within 1.5x of slope {}→{}",
                a.jobs, b.jobs, base.jobs, a.jobs
            ),
            format!(
                "{:.1} KB per job vs {:.1} KB per job ({ratio:.2}x); RSS after the scrapes: {:.1} vs {:.1} KB per job",
                high / 1e3,
                low / 1e3,
                high_after / 1e3,
                low_after / 1e3
            ),
            met,
        ));
    }
    let incomplete: usize = runs.iter().map(SizeRun::incomplete).sum();
    let total: usize = runs.iter().map(|r| r.scrapes.len()).sum();
    let met = bench_target("fleet-incomplete-scrapes", incomplete as f64, 0.0);
    rows.push((
        "every scrape complete".to_string(),
        format!("{incomplete} of {total} incomplete"),
        met,
    ));
    println!("\n| target | measured | verdict |");
    println!("|---|---|---|");
    for (what, measured, met) in &rows {
        println!(
            "| {what} | {measured} | {} |",
            if *met { "**met**" } else { "**not met**" }
        );
    }
}

async fn run(s: Settings) {
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("HTTP client");
    let ticks = clock_ticks();
    let mut runs = Vec::new();
    for &(jobs, scrapes) in &s.sizes {
        runs.push(run_size(&client, jobs, scrapes, s.warm_up, ticks).await);
    }
    report(&s, &runs);
    if s.strict {
        for r in &runs {
            for sc in &r.scrapes {
                assert!(
                    sc.problems.is_empty(),
                    "incomplete scrape at {} jobs: {:?}",
                    r.jobs,
                    sc.problems
                );
                assert_eq!(sc.rpc, r.jobs as u64, "one JobMetrics call per job");
            }
        }
    }
}

fn main() {
    let s = settings();
    eprintln!("fleet: {s:?}");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run(s));
}
