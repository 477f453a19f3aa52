//! Soak: the real exporter binary scraped N times by 20 concurrent clients against a
//! medium job on the simulated Arroyo. Zero failed scrapes, resident memory flat after
//! warm-up (under 5 % growth) and open file descriptors stable.
//!
//! N is 1,000 in the test command; the full run is
//! `SOAK_SCRAPES=10000 cargo test --release --test soak -- --nocapture`
//! (docs/reliability.md). Figures are printed at the end.

mod common;

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arroyo_sim::{FakeArroyo, Release, SimNode, SimPipeline};
use common::now_micros;

const BIN: &str = env!("CARGO_BIN_EXE_arroyo-exporter");
const CLIENTS: usize = 20;
/// The share of scrapes run before the memory baseline is taken.
const WARM_UP_SHARE: f64 = 0.2;
/// Largest allowed RSS growth after warm-up.
const MAX_RSS_GROWTH: f64 = 0.05;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_concurrent_scrapes_memory_and_fds_stay_flat() {
    let total: usize = std::env::var("SOAK_SCRAPES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000);
    let time_limit = Duration::from_secs(
        std::env::var("SOAK_MAX_SECONDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(600),
    );
    let (arroyo, subtasks) = medium_world().await;
    let port = common::prometheus::free_port();
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
            "--log.level",
            "warn",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let _guard = Binary(child);
    let url = format!("http://127.0.0.1:{port}/metrics");
    let ready = Instant::now();
    while reqwest::get(format!("http://127.0.0.1:{port}/-/ready"))
        .await
        .is_err()
    {
        assert!(
            ready.elapsed() < Duration::from_secs(15),
            "exporter not ready"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Every subtask has 5 series; a scrape is good when all of them are there, every
    // collector succeeded and the controller answered.
    let want_series = subtasks;
    let clients: Vec<reqwest::Client> = (0..CLIENTS)
        .map(|_| {
            // One kept-alive connection per client, as a Prometheus server holds per
            // target: the exporter's descriptors then measure the exporter, not how
            // many spare connections a client pool chose to keep.
            reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap()
        })
        .collect();
    let failures = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let mut latencies: Vec<Duration> = Vec::with_capacity(total);
    let mut samples: Vec<(usize, u64, usize)> = Vec::new();
    let warm_up = ((total as f64) * WARM_UP_SHARE).ceil() as usize;
    let batch = (total / 20).max(CLIENTS);
    let started = Instant::now();
    let mut first_failure: Option<String> = None;
    while done.load(Ordering::SeqCst) < total {
        assert!(
            started.elapsed() < time_limit,
            "soak did not finish within {time_limit:?}"
        );
        let this_batch = batch.min(total - done.load(Ordering::SeqCst));
        let per_client = this_batch.div_ceil(CLIENTS);
        let mut tasks = Vec::new();
        let mut remaining = this_batch;
        for c in &clients {
            let n = per_client.min(remaining);
            remaining -= n;
            let c = c.clone();
            let url = url.clone();
            tasks.push(tokio::spawn(async move {
                let mut out = Vec::new();
                for _ in 0..n {
                    let t = Instant::now();
                    let res = c.get(&url).send().await;
                    let verdict = match res {
                        Ok(r) if r.status() == 200 => match r.text().await {
                            Ok(body) => check(&body, want_series),
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
                latencies.push(lat);
                done.fetch_add(1, Ordering::SeqCst);
                if let Err(e) = verdict {
                    failures.fetch_add(1, Ordering::SeqCst);
                    first_failure.get_or_insert(e);
                }
            }
        }
        // Quiescent point: no scrape in flight.
        samples.push((done.load(Ordering::SeqCst), rss_kib(pid), open_fds(pid)));
    }
    let elapsed = started.elapsed();

    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p) as usize];
    let baseline_rss = samples
        .iter()
        .filter(|s| s.0 <= warm_up)
        .map(|s| s.1)
        .max()
        .unwrap_or(samples[0].1);
    let baseline_fds = samples
        .iter()
        .filter(|s| s.0 <= warm_up)
        .map(|s| s.2)
        .max()
        .unwrap_or(samples[0].2);
    let last = *samples.last().unwrap();
    let after: Vec<&(usize, u64, usize)> = samples.iter().filter(|s| s.0 > warm_up).collect();
    let max_rss_after = after.iter().map(|s| s.1).max().unwrap_or(last.1);
    let max_fds_after = after.iter().map(|s| s.2).max().unwrap_or(last.2);
    let growth = (last.1 as f64 - baseline_rss as f64) / baseline_rss as f64;
    println!(
        "soak: {total} scrapes by {CLIENTS} clients in {:.1} s ({:.0}/s), {} failed; \
         latency p50 {:?} p99 {:?} max {:?}; {} subtasks; \
         RSS after warm-up {} KiB, at end {} KiB ({:+.2} %), max after warm-up {} KiB; \
         fds after warm-up {}, at end {}, max after warm-up {}; upstream RPC calls {}",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        failures.load(Ordering::SeqCst),
        pct(0.5),
        pct(0.99),
        latencies.last().unwrap(),
        subtasks,
        baseline_rss,
        last.1,
        growth * 100.0,
        max_rss_after,
        baseline_fds,
        last.2,
        max_fds_after,
        arroyo.state().total_rpc_calls(),
    );
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
        failures.load(Ordering::SeqCst),
        0,
        "failed scrapes; first: {first_failure:?}"
    );
    assert!(
        growth < MAX_RSS_GROWTH,
        "RSS grew {:.2} % after warm-up ({baseline_rss} → {} KiB); samples {samples:?}",
        growth * 100.0,
        last.1
    );
    assert!(
        last.2 <= baseline_fds + 6 && max_fds_after <= baseline_fds + 10,
        "open fds grew: {baseline_fds} → {} (max {max_fds_after}); samples {samples:?}\n{}",
        last.2,
        describe_fds(pid)
    );
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
