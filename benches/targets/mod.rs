//! Many clusters behind one exporter (issue 13): the real binary with 20 named targets,
//! each a simulated cluster of 50 running jobs (half Arroyo main, half v0.15 shapes),
//! probed 1,000 times round-robin through `/probe?target=<name>`; and, in the same run,
//! the baseline: the same binary with one target, probed the same way.
//!
//! Printed: the exporter's RSS after start-up, after every target was probed once,
//! after 100 probes and after 1,000; the "no growth" check judges the trend of 40
//! readings with the soak's verdict (tests/common/trend.rs: second half, floor, a line
//! with one free step; allocator steps pass, a leak does not); CPU time per probe, open
//! file descriptors (connections stay bounded), and the ratios against the
//! single-target exporter.
//!
//! The clusters run in a child process (this executable again), so that their memory
//! and CPU do not count as the exporter's.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use arroyo_sim::{FakeArroyo, Release, SimJob, SimNode, SimPipeline};

#[path = "../../tests/common/trend.rs"]
mod trend;

use super::interop::{bench_target, bench_verdict};
use super::{cpu_seconds, mb, memory, now_micros, percentiles, verdict, RealExporter, Settings};

/// Set in the environment of the child that serves the clusters: `<clusters>x<jobs>`.
const CLUSTERS_ROLE: &str = "SCRAPE_E2E_TARGETS_SIM";

/// Rounds over every target before the measured probes.
const WARM_UP_ROUNDS: usize = 10;

/// `scrape.concurrency` of the benchmark's configuration (the default).
const CONCURRENCY: usize = 8;

/// RSS and open descriptors are read this many times over the measured probes.
const TRACE_SAMPLES: usize = 40;

/// The "no growth" bound: 1 MiB of resident memory per 1,000 probes (1 KiB per probe).
const RSS_BOUND_KIB_PER_1000: f64 = 1024.0;

/// What Prometheus 2.x sends.
const ACCEPT: &str = super::PROMETHEUS_ACCEPT;

/// Whether this process is the clusters child; serves them if so (until stdin closes).
pub fn child_role() -> bool {
    let Ok(spec) = std::env::var(CLUSTERS_ROLE) else {
        return false;
    };
    let (clusters, jobs) = spec.split_once('x').expect("<clusters>x<jobs>");
    serve_clusters(
        clusters.parse().expect("cluster count"),
        jobs.parse().expect("job count"),
    );
    true
}

/// Serves `clusters` simulated clusters of `jobs` running jobs each (two operators of
/// two subtasks per job); prints one `CLUSTER <rpc> <api>` line each, then `READY`.
fn serve_clusters(clusters: usize, jobs: usize) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut running = Vec::new();
        for c in 0..clusters {
            let release = if c % 2 == 0 {
                Release::Main
            } else {
                Release::V0_15
            };
            let arroyo = FakeArroyo::start(release).await.expect("simulator");
            let state = arroyo.state().clone();
            for j in 0..jobs {
                let pipeline = format!("pl_c{c:02}j{j:03}");
                state.add_pipeline(SimPipeline::new(
                    pipeline.clone(),
                    format!("cluster {c} pipeline {j}"),
                    vec![
                        SimNode::new(0, "nexmark", "Nexmark<100 eps>", 2),
                        SimNode::new(2, "blackhole", "Blackhole", 2),
                    ],
                ));
                state.add_job(SimJob::running(
                    format!("job_c{c:02}j{j:03}"),
                    pipeline,
                    now_micros() - 600_000_000,
                ));
            }
            println!("CLUSTER {} {}", arroyo.rpc_url(), arroyo.api_url());
            running.push(arroyo);
        }
        println!("READY");
        std::io::stdout().flush().expect("stdout");
        // Until the benchmark closes our stdin.
        let _ = tokio::task::spawn_blocking(|| {
            let mut sink = String::new();
            while std::io::stdin().read_line(&mut sink).is_ok_and(|n| n > 0) {}
        })
        .await;
        for a in running {
            a.shutdown().await;
        }
    });
}

/// The clusters child and its endpoints (rpc, api).
struct Clusters {
    child: Child,
    endpoints: Vec<(String, String)>,
}

impl Clusters {
    fn start(clusters: usize, jobs: usize) -> Clusters {
        let exe = std::env::current_exe().expect("own executable");
        let mut child = Command::new(exe)
            .env(CLUSTERS_ROLE, format!("{clusters}x{jobs}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the clusters child");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut endpoints = Vec::new();
        for line in stdout.lines() {
            let line = line.expect("clusters child output");
            let mut words = line.split_whitespace();
            match words.next() {
                Some("CLUSTER") => endpoints.push((
                    words.next().expect("rpc").to_string(),
                    words.next().expect("api").to_string(),
                )),
                Some("READY") => break,
                _ => panic!("clusters child said {line:?}"),
            }
        }
        assert_eq!(endpoints.len(), clusters);
        Clusters { child, endpoints }
    }
}

impl Drop for Clusters {
    fn drop(&mut self) {
        // Our own child, by its handle.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The configuration file of an exporter with targets `t00`… for `endpoints`.
fn config_file(dir: &std::path::Path, name: &str, endpoints: &[(String, String)]) -> String {
    // The simulated clusters serve no admin port here; every target inherits "off".
    let mut toml = String::from("[scrape]\ntimeout = \"60s\"\n[admin]\nendpoint = \"\"\n");
    for (i, (rpc, api)) in endpoints.iter().enumerate() {
        toml.push_str(&format!(
            "[targets.t{i:02}.controller]\nendpoint = \"{rpc}\"\n\
             [targets.t{i:02}.api]\nendpoint = \"{api}\"\n"
        ));
    }
    let path = dir.join(name);
    std::fs::write(&path, toml).expect("write the configuration");
    path.to_str().expect("UTF-8 path").to_string()
}

/// Open file descriptors of a process.
fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// One probe of `target`; checks that all of its jobs' series came back.
async fn probe(client: &reqwest::Client, base: &str, target: &str, jobs: usize) -> Duration {
    let started = Instant::now();
    let resp = client
        .get(format!("{base}/probe?target={target}"))
        .header("accept", ACCEPT)
        .header("x-prometheus-scrape-timeout-seconds", "60")
        .send()
        .await
        .expect("probe request");
    assert_eq!(resp.status().as_u16(), 200);
    let body = resp.text().await.expect("probe body");
    let took = started.elapsed();
    let series = body
        .lines()
        .filter(|l| l.starts_with("arroyo_subtask_backpressure_ratio{"))
        .count();
    assert_eq!(
        series,
        jobs * 4,
        "incomplete probe of {target}:\n{body:.2000}"
    );
    assert!(
        body.lines().any(|l| l == "arroyo_up 1"),
        "arroyo_up is not 1"
    );
    took
}

/// What one exporter measured.
struct Run {
    idle_rss: u64,
    warm_rss: u64,
    rss_at_100: u64,
    rss_at_half: u64,
    rss_at_end: u64,
    peak_rss: u64,
    cpu_per_probe: f64,
    fds_at_100: usize,
    fds: usize,
    /// `(probes done, RSS)` after every `TRACE_SAMPLES`-th part of the probes.
    trace: Vec<(usize, u64)>,
    /// Open file descriptors at the same points.
    fds_trace: Vec<u64>,
    median_ms: f64,
    p99_ms: f64,
}

/// Starts the binary with `config`, probes each of `targets` once, then `probes` times
/// round-robin.
async fn measure(
    client: &reqwest::Client,
    config: &str,
    targets: usize,
    jobs: usize,
    probes: usize,
) -> Run {
    let exporter = RealExporter::launch(
        std::path::Path::new(env!("CARGO_BIN_EXE_arroyo-exporter")),
        &["--config", config],
    );
    let pid = exporter.pid();
    let base = format!("http://{}", exporter.addr);
    std::thread::sleep(Duration::from_millis(300));
    let idle_rss = memory(Some(pid)).1;
    let name = |i: usize| format!("t{:02}", i % targets);
    for i in 0..targets {
        probe(client, &base, &name(i), jobs).await;
    }
    let warm_rss = memory(Some(pid)).1;
    // Warm-up: connection pools and allocator arenas settle over the first rounds.
    for i in 0..targets * WARM_UP_ROUNDS {
        probe(client, &base, &name(i), jobs).await;
    }
    let mut latencies = Vec::with_capacity(probes);
    let (mut rss_at_100, mut rss_at_half, mut fds_at_100) = (0, 0, 0);
    let mut trace = Vec::with_capacity(TRACE_SAMPLES);
    let mut fds_trace = Vec::with_capacity(TRACE_SAMPLES);
    let cpu_before = cpu_seconds(pid);
    for i in 0..probes {
        latencies.push(probe(client, &base, &name(i), jobs).await);
        if i + 1 == probes.min(100) {
            rss_at_100 = memory(Some(pid)).1;
            fds_at_100 = open_fds(pid);
        }
        if i + 1 == probes / 2 {
            rss_at_half = memory(Some(pid)).1;
        }
        if (i + 1) % (probes / TRACE_SAMPLES).max(1) == 0 {
            trace.push((i + 1, memory(Some(pid)).1));
            fds_trace.push(open_fds(pid) as u64);
        }
    }
    let cpu_per_probe = (cpu_seconds(pid) - cpu_before) / probes.max(1) as f64;
    let (peak_rss, rss_at_end) = memory(Some(pid));
    let fds = open_fds(pid);
    let (median_ms, p99_ms) = percentiles(&mut latencies);
    Run {
        idle_rss,
        warm_rss,
        rss_at_100,
        rss_at_half,
        rss_at_end,
        peak_rss,
        cpu_per_probe,
        fds_at_100,
        fds,
        trace,
        fds_trace,
        median_ms,
        p99_ms,
    }
}

/// The benchmark: 20 targets × 50 jobs (smaller in the `cargo test` smoke run), and the
/// single-target baseline.
pub async fn run(s: &Settings, client: &reqwest::Client) {
    let probes_wanted = std::env::var("E2E_TARGET_PROBES")
        .ok()
        .and_then(|v| v.parse::<usize>().ok());
    let (targets, jobs, probes) = if s.real_binary {
        (20, 50, probes_wanted.unwrap_or(1000))
    } else {
        (3, 5, 30)
    };
    let clusters = Clusters::start(targets, jobs);
    let dir = tempfile::tempdir().expect("temporary directory");
    let many_cfg = config_file(dir.path(), "many.toml", &clusters.endpoints);
    let one_cfg = config_file(dir.path(), "one.toml", &clusters.endpoints[..1]);

    let one = measure(client, &one_cfg, 1, jobs, probes / 5).await;
    let many = measure(client, &many_cfg, targets, jobs, probes).await;
    drop(clusters);

    // RSS moves by about a megabyte from one reading to the next (allocator arenas), and
    // under load it climbs by a step or two: growth is the soak's trend verdict.
    let kib: Vec<(f64, f64)> = many
        .trace
        .iter()
        .map(|(n, b)| (*n as f64, *b as f64 / 1024.0))
        .collect();
    let growth = trend::judge_rss(&kib, RSS_BOUND_KIB_PER_1000);
    // Per extra target: its controller connection, its admin port's, and its API
    // connections: after discovery the checkpoints and job-error collectors run side by
    // side, each with up to `scrape.concurrency` calls in flight, and the pool keeps those
    // connections; two more for connections being replaced.
    let fds_bound = one.fds + (targets - 1) * (2 + 2 * CONCURRENCY + 2);
    println!(
        "\n## many clusters behind one exporter: {targets} targets x {jobs} jobs ({} subtasks each), {} mode\n",
        jobs * 4,
        s.name
    );
    println!(
        "Real binary, `/probe?target=` round-robin, one client, after {WARM_UP_ROUNDS} warm-up rounds over every target. Baseline: the same binary with one target, {} probes.\n",
        probes / 5
    );
    println!("| measurement | {targets} targets | 1 target (baseline) | ratio |");
    println!("|---|---:|---:|---:|");
    let row = |what: &str, a: f64, b: f64, unit: &str| {
        println!(
            "| {what} | {a:.1} {unit} | {b:.1} {unit} | {:.2}x |",
            if b > 0.0 { a / b } else { f64::NAN }
        );
    };
    row(
        "RSS after start-up",
        mb(many.idle_rss),
        mb(one.idle_rss),
        "MB",
    );
    row(
        "RSS after each target was probed once",
        mb(many.warm_rss),
        mb(one.warm_rss),
        "MB",
    );
    row(
        "RSS after 100 probes",
        mb(many.rss_at_100),
        mb(one.rss_at_100),
        "MB",
    );
    row(
        &format!(
            "RSS after half the probes ({} / {})",
            probes / 2,
            probes / 10
        ),
        mb(many.rss_at_half),
        mb(one.rss_at_half),
        "MB",
    );
    row(
        &format!("RSS after all probes ({probes} / {})", probes / 5),
        mb(many.rss_at_end),
        mb(one.rss_at_end),
        "MB",
    );
    row("peak RSS", mb(many.peak_rss), mb(one.peak_rss), "MB");
    row(
        "CPU time per probe",
        many.cpu_per_probe * 1e3,
        one.cpu_per_probe * 1e3,
        "ms",
    );
    row("probe latency, median", many.median_ms, one.median_ms, "ms");
    row("probe latency, p99", many.p99_ms, one.p99_ms, "ms");
    row(
        "open file descriptors after 100 probes",
        many.fds_at_100 as f64,
        one.fds_at_100 as f64,
        "",
    );
    row(
        "open file descriptors after all probes",
        many.fds as f64,
        one.fds as f64,
        "",
    );

    let per_target = (many.warm_rss as f64 - one.warm_rss as f64) / (targets - 1).max(1) as f64;
    let fds_per_target = (many.fds as f64 - one.fds as f64) / (targets - 1).max(1) as f64;
    let checks = [
        (
            format!(
                "no RSS growth over {probes} probes: trend of the second half <= 1 MiB per 1,000 probes (tests/common/trend.rs)"
            ),
            format!(
                "{:+.2} MiB per 1,000 probes, step {:+.2} MiB",
                growth.fit.slope_per_1000 / 1024.0,
                growth.fit.step / 1024.0
            ),
            growth.holds(),
        ),
        (
            "CPU per probe with many targets <= 1.5 x single-target".to_string(),
            format!(
                "{:.1} ms vs {:.1} ms",
                many.cpu_per_probe * 1e3,
                one.cpu_per_probe * 1e3
            ),
            many.cpu_per_probe <= 1.5 * one.cpu_per_probe,
        ),
        (
            format!(
                "connections bounded: open fds <= single-target + {} more targets x (controller + admin + 2 x concurrency {CONCURRENCY} API + 2)",
                targets - 1
            ),
            format!("{} <= {fds_bound}", many.fds),
            many.fds <= fds_bound,
        ),
    ];
    println!(
        "\nPer additional target: {:.2} MB of RSS when warm, {fds_per_target:.1} file descriptors \
         (its controller connection and the API connections its concurrent calls keep open).",
        per_target / 1e6
    );
    let trace = |r: &Run| {
        r.trace
            .iter()
            .map(|(_, b)| format!("{:.1}", mb(*b)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "\nRSS (MB) after each {TRACE_SAMPLES}th of the probes: {targets} targets: {}; 1 target: {}.",
        trace(&many),
        trace(&one)
    );
    println!(
        "Open file descriptors after each {TRACE_SAMPLES}th of the probes, {targets} targets: {:?}.",
        many.fds_trace
    );
    println!("\n| target | measured | verdict |");
    println!("|---|---|---|");
    for (what, measured, met) in &checks {
        println!("| {what} | {measured} | {} |", verdict(*met));
    }
    // The same verdicts as `bench-target:` lines, which the test command's summary lists.
    println!("{growth}");
    bench_verdict(
        "targets-rss-growth-mb-per-1000-probes",
        growth.fit.slope_per_1000 / 1024.0,
        RSS_BOUND_KIB_PER_1000 / 1024.0,
        growth.holds(),
    );
    bench_target(
        "targets-cpu-per-probe-vs-one-target",
        many.cpu_per_probe / one.cpu_per_probe.max(1e-9),
        1.5,
    );
    bench_target("targets-open-fds", many.fds as f64, fds_bound as f64);
}
