//! The "1,000 jobs" drill: a simulated Arroyo running a fleet of jobs (two operators
//! each, 10 s checkpoint interval, checkpoints completing in real time), the exporter
//! binary with its default settings, and a real Prometheus scraping it every 15 s with
//! the shipped rules (deploy/prometheus/rules). One job's checkpoints stop 60 s in.
//! Asserts: no checkpoint alert, firing or pending, for any healthy job over the whole
//! run (the exporter re-reads each job only every few minutes, and that delay must never
//! read as a stall), and the stalled job paged within the goal (10 minutes at 1,000 jobs,
//! 5 minutes up to 100).
//!
//! Long (12 minutes by default), so it is `#[ignore]`d in the test command; run it with
//! the release build, as users run the exporter:
//!
//! ```sh
//! FLEET_JOBS=1000 cargo test --release --test fleet_alerts -- --ignored --nocapture
//! FLEET_JOBS=100 FLEET_MINUTES=8 cargo test --release --test fleet_alerts -- --ignored --nocapture
//! ```
//!
//! Figures go to docs/alerts.md ("1,000 jobs") and BENCHMARKS.md.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use arroyo_sim::{FakeArroyo, FleetSpec, Release};
use common::prometheus::{free_port, Prometheus};

const BIN: &str = env!("CARGO_BIN_EXE_arroyo-exporter");

/// Stops the exporter when the test ends, whatever happens.
struct Binary(Child);

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn env_or<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The detection goal of issue 18 for a fleet of `jobs`.
fn goal(jobs: usize) -> Duration {
    if jobs <= 100 {
        Duration::from_secs(300)
    } else {
        Duration::from_secs(600)
    }
}

/// A label of a Prometheus result.
fn label<'a>(r: &'a serde_json::Value, name: &str) -> &'a str {
    r["metric"][name].as_str().unwrap_or("")
}

/// The value of a one-element Prometheus result, or NaN.
fn scalar(results: &[serde_json::Value]) -> f64 {
    results
        .first()
        .and_then(|r| r["value"][1].as_str())
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "12 minutes; run by hand (see the module comment)"]
async fn a_fleet_pages_only_for_the_stalled_job() {
    let jobs: usize = env_or("FLEET_JOBS", 1000);
    let minutes: u64 = env_or("FLEET_MINUTES", 12);
    let stall_after = Duration::from_secs(60);
    let stalled_index = jobs * 7 / 10;
    let stalled = FleetSpec::job_id(stalled_index);

    let arroyo = FakeArroyo::start(Release::Main).await.unwrap();
    let state = arroyo.state().clone();
    state.add_fleet(&FleetSpec::new(jobs));

    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let log = std::fs::File::create(dir.path().join("exporter.log")).unwrap();
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
        .stderr(log)
        .spawn()
        .unwrap();
    let _exporter = Binary(child);

    // Checkpoints complete in real time; the stalled job's stop at `stall_at` (the
    // ones the clock adds after it are taken away again, as if they never completed).
    let started = Instant::now();
    let stall_at_micros = common::now_micros() + stall_after.as_micros() as u64;
    let clock_state = state.clone();
    let clock_job = stalled.clone();
    let clock = tokio::spawn(async move {
        let mut ticks = tokio::time::interval(Duration::from_secs(1));
        loop {
            ticks.tick().await;
            clock_state.tick_checkpoints();
            clock_state.with_job(&clock_job, |j| {
                j.checkpoints.retain(|c| c.start_time < stall_at_micros)
            });
        }
    });

    let rules: Vec<PathBuf> = ["arroyo-recording.yml", "arroyo-alerts.yml"]
        .iter()
        .map(|f| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("deploy/prometheus/rules")
                .join(f)
        })
        .collect();
    let scrape_configs = format!(
        "  - job_name: arroyo-exporter\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
    );
    let prom =
        tokio::task::spawn_blocking(move || Prometheus::start(&scrape_configs, &rules, "15s"))
            .await
            .unwrap();
    let rest_calls_at_start = state.total_rest_calls();

    let run = Duration::from_secs(minutes * 60);
    let mut false_jobs: BTreeSet<String> = BTreeSet::new();
    let mut first_false: Option<(Duration, String, String)> = None;
    let mut caught: Option<Duration> = None;
    let mut refresh_period = f64::NAN;
    let mut oldest_read = 0.0f64;
    let mut scrape_seconds = 0.0f64;
    let mut failed_scrapes = 0.0f64;
    let mut probes = 0;
    while started.elapsed() < run {
        tokio::time::sleep(Duration::from_secs(15)).await;
        let (alerts, period, oldest, duration, up) = tokio::task::block_in_place(|| {
            (
                prom.query("ALERTS{alertname=\"ArroyoCheckpointsStalled\"}"),
                prom.query("max(arroyo_exporter_refresh_period_seconds{collector=\"checkpoints\"})"),
                prom.query("max(time() - arroyo_exporter_job_read_timestamp_seconds{collector=\"checkpoints\"})"),
                prom.query("max_over_time(scrape_duration_seconds{job=\"arroyo-exporter\"}[1m])"),
                prom.query("count_over_time(up{job=\"arroyo-exporter\"}[1m]) - sum_over_time(up{job=\"arroyo-exporter\"}[1m])"),
            )
        });
        probes += 1;
        let t = started.elapsed();
        for a in &alerts {
            let job = label(a, "job_id").to_string();
            let state = label(a, "alertstate").to_string();
            if job == stalled {
                if state == "firing" && caught.is_none() {
                    caught = Some(t);
                }
            } else {
                if first_false.is_none() {
                    first_false = Some((t, job.clone(), state));
                }
                false_jobs.insert(job);
            }
        }
        refresh_period = scalar(&period);
        let o = scalar(&oldest);
        if o.is_finite() && t > Duration::from_secs(300) {
            oldest_read = oldest_read.max(o);
        }
        scrape_seconds = scrape_seconds.max(scalar(&duration).max(0.0));
        failed_scrapes += scalar(&up).max(0.0);
        println!(
            "fleet: t={:>4}s alerts={} refresh_period={refresh_period:.0}s oldest_read={o:.0}s \
             slowest_scrape={:.2}s caught={caught:?}",
            t.as_secs(),
            alerts.len(),
            scalar(&duration)
        );
    }
    clock.abort();
    let api_rate =
        (state.total_rest_calls() - rest_calls_at_start) as f64 / started.elapsed().as_secs_f64();
    let delay = caught.map(|c| c.saturating_sub(stall_after));
    println!(
        "fleet summary: {jobs} jobs, {minutes} min, {probes} probes; stalled job {stalled}: \
         paged {delay:?} after the stall (goal {:?}); healthy jobs with a checkpoint alert \
         (pending or firing): {} (first: {first_false:?}); refresh period {refresh_period:.0} s; \
         oldest read after 5 min {oldest_read:.0} s; slowest scrape {scrape_seconds:.2} s; \
         failed scrapes {failed_scrapes}; API calls {api_rate:.2}/s",
        goal(jobs),
        false_jobs.len(),
    );
    assert!(
        false_jobs.is_empty(),
        "checkpoint alerts for {} healthy jobs, first {first_false:?}",
        false_jobs.len()
    );
    let delay = delay.expect("the stalled job was never paged");
    assert!(
        delay <= goal(jobs),
        "the stall was paged {delay:?} after it began, goal {:?}",
        goal(jobs)
    );
    assert_eq!(failed_scrapes, 0.0, "scrapes failed");
}
