//! The exporter's own health: counters kept across scrapes, the last status of each
//! upstream (for the landing page), and process figures read from `/proc`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;

use crate::model::{ErrorCount, ExporterStats};

/// Git revision baked in by `build.rs`.
pub const REVISION: &str = match option_env!("ARROYO_EXPORTER_REVISION") {
    Some(r) => r,
    None => "unknown",
};

/// Last known state of one upstream, for the landing page.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UpstreamStatus {
    /// `ok`, or the last error kind.
    pub status: String,
    /// Seconds since the epoch of the last call.
    pub at_seconds: f64,
}

/// Counters shared by every scrape.
#[derive(Debug)]
pub struct SelfMetrics {
    scrapes: AtomicU64,
    unknown_groups: AtomicU64,
    null_values: AtomicU64,
    stale_dropped: AtomicU64,
    errors: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    requests: Mutex<BTreeMap<&'static str, u64>>,
    last: Mutex<BTreeMap<&'static str, UpstreamStatus>>,
    start_time_seconds: f64,
}

impl Default for SelfMetrics {
    fn default() -> Self {
        SelfMetrics {
            scrapes: AtomicU64::new(0),
            unknown_groups: AtomicU64::new(0),
            null_values: AtomicU64::new(0),
            stale_dropped: AtomicU64::new(0),
            errors: Mutex::new(BTreeMap::new()),
            requests: Mutex::new(BTreeMap::new()),
            last: Mutex::new(BTreeMap::new()),
            start_time_seconds: now_seconds(),
        }
    }
}

/// Seconds since the Unix epoch, as a float.
pub fn now_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

impl SelfMetrics {
    /// Counts one served scrape.
    pub fn scrape_started(&self) {
        self.scrapes.fetch_add(1, Ordering::Relaxed);
    }

    /// Records a call to `source` and its outcome (`None` = success).
    pub fn record_call(&self, source: &'static str, error: Option<&'static str>) {
        *self.requests.lock().entry(source).or_insert(0) += 1;
        if let Some(kind) = error {
            *self.errors.lock().entry((source, kind)).or_insert(0) += 1;
        }
        self.last.lock().insert(
            source,
            UpstreamStatus {
                status: error.unwrap_or("ok").to_string(),
                at_seconds: now_seconds(),
            },
        );
    }

    /// Adds decode counters of one document.
    pub fn record_decode(&self, unknown_groups: u64, null_values: u64) {
        self.unknown_groups
            .fetch_add(unknown_groups, Ordering::Relaxed);
        self.null_values.fetch_add(null_values, Ordering::Relaxed);
    }

    /// Adds series dropped for being older than the maximum sample age.
    pub fn record_stale(&self, n: u64) {
        self.stale_dropped.fetch_add(n, Ordering::Relaxed);
    }

    /// Last status of every upstream called so far.
    pub fn upstream_status(&self) -> BTreeMap<&'static str, UpstreamStatus> {
        self.last.lock().clone()
    }

    /// The counters and process figures as plain values for the renderer.
    pub fn stats(&self) -> ExporterStats {
        let process = read_process();
        ExporterStats {
            version: env!("CARGO_PKG_VERSION").to_string(),
            revision: REVISION.to_string(),
            scrapes_total: self.scrapes.load(Ordering::Relaxed),
            upstream_errors: self
                .errors
                .lock()
                .iter()
                .map(|(&(source, kind), &count)| ErrorCount {
                    source,
                    kind,
                    count,
                })
                .collect(),
            unknown_metric_groups_total: self.unknown_groups.load(Ordering::Relaxed),
            null_values_total: self.null_values.load(Ordering::Relaxed),
            stale_series_dropped_total: self.stale_dropped.load(Ordering::Relaxed),
            upstream_requests: self.requests.lock().iter().map(|(&s, &n)| (s, n)).collect(),
            start_time_seconds: self.start_time_seconds,
            resident_memory_bytes: process.rss_bytes,
            cpu_seconds_total: process.cpu_seconds,
            open_fds: process.open_fds,
        }
    }
}

/// Process figures; every field is `None` where `/proc` is not readable.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct ProcessFigures {
    /// Resident set size in bytes.
    pub rss_bytes: Option<u64>,
    /// User + system CPU seconds.
    pub cpu_seconds: Option<f64>,
    /// Open file descriptors.
    pub open_fds: Option<u64>,
}

/// Reads this process's figures from `/proc/self` (Linux); hand-written because the
/// usual crate for it (procfs) is far larger than these three numbers need.
pub fn read_process() -> ProcessFigures {
    let rss_bytes = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| parse_vm_rss(&s));
    let cpu_seconds = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| parse_cpu_ticks(&s))
        .map(|ticks| ticks as f64 / 100.0);
    let open_fds = std::fs::read_dir("/proc/self/fd")
        .ok()
        .map(|d| d.count() as u64);
    ProcessFigures {
        rss_bytes,
        cpu_seconds,
        open_fds,
    }
}

/// `VmRSS:   1234 kB` → bytes.
fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// utime + stime (fields 14 and 15) of `/proc/self/stat`, in clock ticks (100 Hz on
/// Linux for user space). The command name may hold spaces, so count from the `)`.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files() {
        assert_eq!(
            parse_vm_rss("Name:\tx\nVmRSS:\t  2048 kB\n"),
            Some(2048 * 1024)
        );
        let stat = "42 (a b) S 1 1 1 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 1 0";
        assert_eq!(parse_cpu_ticks(stat), Some(10));
        let p = read_process();
        assert!(p.rss_bytes.unwrap_or(0) > 0);
        assert!(p.open_fds.unwrap_or(0) > 0);
    }

    #[test]
    fn counts_errors_by_source_and_kind() {
        let m = SelfMetrics::default();
        m.record_call("controller", None);
        m.record_call("controller", Some("timeout"));
        m.record_call("controller", Some("timeout"));
        let s = m.stats();
        assert_eq!(s.upstream_requests, vec![("controller", 3)]);
        assert_eq!(
            s.upstream_errors,
            vec![ErrorCount {
                source: "controller",
                kind: "timeout",
                count: 2
            }]
        );
        assert_eq!(m.upstream_status()["controller"].status, "timeout");
    }
}
