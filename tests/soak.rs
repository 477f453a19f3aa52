//! Soak: the real exporter binary scraped N times by 20 concurrent clients against a
//! medium job on the simulated Arroyo. Zero failed scrapes, and resident memory and open
//! file descriptors without a growing trend over the second half of the run (a line
//! with one free step fitted to the samples, see tests/common/trend.rs: allocator steps
//! pass, leaks do not).
//!
//! N is 1,000 in the test command; the full run is
//! `SOAK_SCRAPES=10000 cargo test --release --test soak -- --nocapture`
//! (docs/reliability.md). Figures are printed at the end.
//!
//! `a_real_leak_is_caught` runs the same scrape loop against a small HTTP server in a
//! child process that leaks on purpose, and shows the verdict fails it.

mod common;
#[path = "common/trend.rs"]
mod trend;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arroyo_sim::{FakeArroyo, Release, SimNode, SimPipeline};
use common::now_micros;

const BIN: &str = env!("CARGO_BIN_EXE_arroyo-exporter");
const CLIENTS: usize = 20;
/// About this many quiescent samples are taken over a run (more points make the fitted
/// slope steadier; the batch between two samples is a whole number of rounds of the
/// clients, so every client scrapes as often as the others).
const SAMPLES: usize = 40;
/// Per-request timeout of the clients. Generous on purpose: under a CPU hog a debug
/// build's scrape takes seconds (docs/reliability.md); a scrape this slow is a hang.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);
/// VmRSS of `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

struct Binary(Child);

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A medium job (6 operators × 16 subtasks = 96 subtasks, 5 series each, 150 points per
/// series: a ~3.5 MB document per call) and three small ones, values moving with time.
async fn medium_world() -> (FakeArroyo, usize) {
    let arroyo = FakeArroyo::start(Release::Main).await.unwrap();
    let st = arroyo.state();
    let start = now_micros() - 600_000_000;
    let nodes: Vec<SimNode> = (0..6)
        .map(|i| SimNode::new(i * 2, "chained_op", format!("operator {i}"), 16))
        .collect();
    common::add_running_job(
        st,
        SimPipeline::new("pl_Medium0001", "medium", nodes),
        "job_Medium0001",
        start,
    );
    let mut subtasks = 96;
    for i in 0..3 {
        let pid = format!("pl_Small{i:05}");
        common::add_running_job(
            st,
            SimPipeline::new(pid, format!("small {i}"), common::source_only(2)),
            format!("job_Small{i:05}"),
            start,
        );
        subtasks += 2;
    }
    (arroyo, subtasks)
}

/// One quiescent sample: after `scrapes` scrapes, none in flight.
#[derive(Debug, Clone, Copy)]
struct Sample {
    scrapes: usize,
    rss_kib: u64,
    fds: usize,
}

/// Judges a scrape's body: `Err` says what is wrong with it.
type Check = Arc<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

/// What one soak loop saw.
struct Run {
    samples: Vec<Sample>,
    /// Sorted.
    latencies: Vec<Duration>,
    failures: usize,
    first_failure: Option<String>,
    elapsed: Duration,
}

impl Run {
    fn percentile(&self, p: f64) -> Duration {
        self.latencies[((self.latencies.len() as f64 - 1.0) * p) as usize]
    }

    /// Resident memory: the trend verdict of tests/common/trend.rs.
    fn memory(&self) -> trend::Growth {
        let points: Vec<(f64, f64)> = self
            .samples
            .iter()
            .map(|s| (s.scrapes as f64, s.rss_kib as f64))
            .collect();
        trend::judge_rss(&points, trend::RSS_BOUND_KIB_PER_1000)
    }

    /// Open descriptors: the same trend verdict.
    fn fds(&self) -> trend::Growth {
        let points: Vec<(f64, f64)> = self
            .samples
            .iter()
            .map(|s| (s.scrapes as f64, s.fds as f64))
            .collect();
        trend::judge(
            "open fds",
            "fds",
            &points,
            trend::FDS_BOUND_PER_1000,
            trend::FDS_MAX_STEP,
        )
    }
}

/// Scrapes `url` `total` times from `CLIENTS` concurrent clients (each one kept-alive
/// connection), in batches of whole rounds; after every batch, with no scrape in
/// flight, samples the resident memory and open descriptors of process `pid`.
async fn soak(url: &str, pid: u32, total: usize, time_limit: Duration, check: Check) -> Run {
    let clients: Vec<reqwest::Client> = (0..CLIENTS)
        .map(|_| {
            // One kept-alive connection per client, as a Prometheus server holds per
            // target: the server's descriptors then measure the server, not how many
            // spare connections a client pool chose to keep.
            reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .timeout(CLIENT_TIMEOUT)
                .build()
                .unwrap()
        })
        .collect();
    let rounds = (total / SAMPLES / CLIENTS).max(1);
    let batch = rounds * CLIENTS;
    let mut run = Run {
        samples: Vec::new(),
        latencies: Vec::with_capacity(total),
        failures: 0,
        first_failure: None,
        elapsed: Duration::ZERO,
    };
    let started = Instant::now();
    let mut done = 0;
    while done < total {
        assert!(
            started.elapsed() < time_limit,
            "soak did not finish within {time_limit:?} ({done} of {total} scrapes done)"
        );
        let this_batch = batch.min(total - done);
        let per_client = this_batch.div_ceil(CLIENTS);
        let mut tasks = Vec::new();
        let mut remaining = this_batch;
        for c in &clients {
            let n = per_client.min(remaining);
            remaining -= n;
            let c = c.clone();
            let url = url.to_string();
            let check = Arc::clone(&check);
            tasks.push(tokio::spawn(async move {
                let mut out = Vec::new();
                for _ in 0..n {
                    let t = Instant::now();
                    let verdict = match c.get(&url).send().await {
                        Ok(r) if r.status() == 200 => match r.text().await {
                            Ok(body) => check(&body),
                            Err(e) => Err(format!("body: {e}")),
                        },
                        Ok(r) => Err(format!("status {}", r.status())),
                        Err(e) => Err(format!("request: {e}")),
                    };
                    out.push((t.elapsed(), verdict));
                }
                out
            }));
        }
        for t in tasks {
            for (lat, verdict) in t.await.unwrap() {
                run.latencies.push(lat);
                done += 1;
                if let Err(e) = verdict {
                    run.failures += 1;
                    run.first_failure.get_or_insert(e);
                }
            }
        }
        // Quiescent point: no scrape in flight.
        run.samples.push(Sample {
            scrapes: done,
            rss_kib: rss_kib(pid),
            fds: open_fds(pid),
        });
    }
    run.elapsed = started.elapsed();
    run.latencies.sort();
    run
}

/// A duration from the environment variable `name` in seconds, or `default`.
fn seconds_from_env(name: &str, default: u64) -> Duration {
    Duration::from_secs(
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_concurrent_scrapes_memory_and_fds_stay_flat() {
    let total: usize = std::env::var("SOAK_SCRAPES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000);
    // Under four CPU hogs on a busy 2-core machine the debug run took 273 s; a hang is
    // caught sooner by the clients' timeout.
    let time_limit = seconds_from_env("SOAK_MAX_SECONDS", 1_200);
    let (arroyo, subtasks) = medium_world().await;
    let port = common::prometheus::free_port();
    // The exporter's own deadlines are raised well above the defaults (10 s scrape,
    // 8 s controller, 5 s API): the soak judges failures, memory and descriptors, not
    // latency, and on a loaded 2-core machine a debug build's scrape of this job may
    // take seconds. They stay under the client timeout, so a hang still fails.
    let child = Command::new(BIN)
        .args([
            "--web.listen-address",
            &format!("127.0.0.1:{port}"),
            "--controller.endpoint",
            &arroyo.rpc_url(),
            "--api.endpoint",
            &arroyo.api_url(),
            "--admin.endpoint",
            &arroyo.admin_url(),
            "--scrape.timeout",
            "45s",
            "--log.level",
            "warn",
        ])
        .env("ARROYO_EXPORTER__CONTROLLER__TIMEOUT", "40s")
        .env("ARROYO_EXPORTER__API__TIMEOUT", "40s")
        .env("ARROYO_EXPORTER__ADMIN__TIMEOUT", "40s")
        // glibc: buffers of 1 MiB and more (a 3.5 MB document) are mapped and unmapped
        // whole, and one arena serves every thread, so that a sample read between rounds
        // measures what the process keeps, not which arena last held a document (without
        // these, samples flip between levels 3 MB apart). Memory never freed stays
        // resident either way: a leak still shows.
        .env("MALLOC_MMAP_THRESHOLD_", "1048576")
        .env("MALLOC_ARENA_MAX", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let _guard = Binary(child);
    let ready = Instant::now();
    while reqwest::get(format!("http://127.0.0.1:{port}/-/ready"))
        .await
        .is_err()
    {
        assert!(
            ready.elapsed() < Duration::from_secs(60),
            "exporter not ready"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Every subtask has 5 series; a scrape is good when all of them are there, every
    // collector succeeded and the controller answered.
    let want_series = subtasks;
    let url = format!("http://127.0.0.1:{port}/metrics");
    let run = soak(
        &url,
        pid,
        total,
        time_limit,
        Arc::new(move |body: &str| check(body, want_series)),
    )
    .await;

    let memory = run.memory();
    let fds = run.fds();
    let first = run.samples[0];
    let last = *run.samples.last().unwrap();
    println!(
        "soak: {total} scrapes by {CLIENTS} clients in {:.1} s ({:.0}/s), {} failed; \
         latency p50 {:?} p99 {:?} max {:?}; {} subtasks; \
         RSS first sample {} KiB, at end {} KiB, max {} KiB; fds first {}, at end {}, max {}; \
         upstream RPC calls {}",
        run.elapsed.as_secs_f64(),
        total as f64 / run.elapsed.as_secs_f64(),
        run.failures,
        run.percentile(0.5),
        run.percentile(0.99),
        run.latencies.last().unwrap(),
        subtasks,
        first.rss_kib,
        last.rss_kib,
        run.samples.iter().map(|s| s.rss_kib).max().unwrap(),
        first.fds,
        last.fds,
        run.samples.iter().map(|s| s.fds).max().unwrap(),
        arroyo.state().total_rpc_calls(),
    );
    println!("soak: {memory}");
    println!("soak: {fds}");
    if std::env::var_os("SOAK_DUMP").is_some() {
        println!("{}", describe_fds(pid));
        if let Ok(o) = Command::new("ss").args(["-tanp"]).output() {
            let me = format!("pid={},", std::process::id());
            for l in String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter(|l| l.contains(&me))
            {
                println!("client: {l}");
            }
        }
    }
    assert_eq!(
        run.failures, 0,
        "failed scrapes; first: {:?}",
        run.first_failure
    );
    assert!(memory.holds(), "resident memory grows: {memory}");
    assert!(
        fds.holds(),
        "open descriptors grow: {fds}\n{}",
        describe_fds(pid)
    );
}

/// Set in the environment of the leaking server child: bytes leaked per request.
const LEAK_ROLE: &str = "SOAK_LEAK_SERVER_BYTES";

/// Not a test: the body of the child process that `a_real_leak_is_caught` starts (this
/// test executable again, running only this function, with `SOAK_LEAK_SERVER_BYTES`
/// set). Without that variable it returns at once.
///
/// A small HTTP/1.1 server, one thread per connection, keep-alive, answering `ok` to
/// every request after allocating the given number of bytes, writing to every page of
/// them and forgetting them: resident memory grows by that much per request. It prints
/// `LEAK_SERVER_PORT <port>` and serves until its stdin closes (the parent is gone).
#[test]
fn leak_server_child() {
    let Ok(bytes) = std::env::var(LEAK_ROLE) else {
        return;
    };
    let leak: usize = bytes.parse().expect("bytes per request");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    println!("LEAK_SERVER_PORT {}", listener.local_addr().unwrap().port());
    std::io::stdout().flush().unwrap();
    std::thread::spawn(|| {
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        std::process::exit(0);
    });
    for conn in listener.incoming() {
        let Ok(mut conn) = conn else { continue };
        std::thread::spawn(move || {
            let mut pending: Vec<u8> = Vec::new();
            let mut chunk = [0u8; 4096];
            loop {
                while !pending.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => pending.extend_from_slice(&chunk[..n]),
                    }
                }
                let end = pending.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                pending.drain(..end);
                if leak > 0 {
                    let mut lost = vec![0u8; leak];
                    for i in (0..leak).step_by(256) {
                        lost[i] = 1;
                    }
                    std::mem::forget(std::hint::black_box(lost));
                }
                let answer =
                    b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 3\r\n\r\nok\n";
                if conn.write_all(answer).is_err() {
                    return;
                }
            }
        });
    }
}

/// Starts the leaking server child, leaking `bytes` per request; its port.
fn leak_server(bytes: usize) -> (Binary, u16) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "leak_server_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(LEAK_ROLE, bytes.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let guard = Binary(child);
    // The harness prints its own words before ours on the same line.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let port = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|l| {
                l.split_once("LEAK_SERVER_PORT ")?
                    .1
                    .trim()
                    .parse::<u16>()
                    .ok()
            });
        let _ = tx.send(port);
    });
    let port = rx
        .recv_timeout(Duration::from_secs(30))
        .ok()
        .flatten()
        .expect("the leak server's port");
    (guard, port)
}

/// The verdict catches a real leak: the soak loop (the same function, the same
/// sampling through /proc) against a child process that leaks 2 KiB per request fails
/// the memory verdict; against the same server without the leak, both verdicts hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_leak_is_caught() {
    let check: Check = Arc::new(|body: &str| {
        (body == "ok\n")
            .then_some(())
            .ok_or_else(|| format!("body {body:?}"))
    });
    for (bytes, leaks) in [(2048, true), (1024, true), (0, false)] {
        let (server, port) = leak_server(bytes);
        let pid = server.0.id();
        let url = format!("http://127.0.0.1:{port}/metrics");
        let run = soak(
            &url,
            pid,
            1_000,
            Duration::from_secs(120),
            Arc::clone(&check),
        )
        .await;
        drop(server);
        assert_eq!(
            run.failures, 0,
            "{bytes} B/request: {:?}",
            run.first_failure
        );
        let (memory, fds) = (run.memory(), run.fds());
        println!(
            "leak {bytes} B/request: {:.1} s; {memory}\n{fds}",
            run.elapsed.as_secs_f64()
        );
        assert_eq!(
            !memory.holds(),
            leaks,
            "{bytes} B/request: the memory verdict should {}: {memory}",
            if leaks { "fail" } else { "hold" }
        );
        assert!(fds.holds(), "{bytes} B/request: {fds}");
    }
}

/// What the process's descriptors point at, and its TCP connections (for a failure).
fn describe_fds(pid: u32) -> String {
    let mut out = String::new();
    if let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
        for e in dir.flatten() {
            if let Ok(t) = std::fs::read_link(e.path()) {
                out.push_str(&format!(
                    "{} -> {}\n",
                    e.file_name().to_string_lossy(),
                    t.display()
                ));
            }
        }
    }
    if let Ok(o) = Command::new("ss").args(["-tanp"]).output() {
        let text = String::from_utf8_lossy(&o.stdout);
        for l in text.lines().filter(|l| l.contains(&format!("pid={pid},"))) {
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}

/// A scrape is good when every collector succeeded, the controller answered and every
/// subtask's `messages_sent` series is there.
fn check(body: &str, want_series: usize) -> Result<(), String> {
    if !body.contains("\narroyo_up 1\n") {
        return Err("arroyo_up is not 1".into());
    }
    for c in ["discovery", "job_metrics"] {
        let line = format!("arroyo_exporter_collector_success{{collector=\"{c}\"}} 1\n");
        if !body.contains(&line) {
            return Err(format!("collector {c} failed"));
        }
    }
    let n = body
        .lines()
        .filter(|l| l.starts_with("arroyo_subtask_sent_messages_per_second{"))
        .count();
    if n != want_series {
        return Err(format!("{n} subtask series, want {want_series}"));
    }
    Ok(())
}
