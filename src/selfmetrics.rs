//! The exporter's own health: counters kept across scrapes, the last status of each
//! upstream (for the landing page), process figures read from `/proc`, and the
//! families that expose them ([`render`], called by [`crate::exposition::render`]).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;

use crate::arroyo::error::ErrorKind;
use crate::exposition::{MetricType, Writer};
use crate::model::{CollectorStatus, ErrorCount, ExporterStats};

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
    /// The last call's error kind; `None` when it succeeded.
    pub error: Option<ErrorKind>,
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
    errors: Mutex<BTreeMap<(&'static str, ErrorKind), u64>>,
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
            start_time_seconds: process_start_seconds(),
        }
    }
}

/// When the process started (first asked), seconds since the Unix epoch.
pub fn process_start_seconds() -> f64 {
    static START: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *START.get_or_init(now_seconds)
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
    pub fn record_call(&self, source: &'static str, error: Option<ErrorKind>) {
        *self.requests.lock().entry(source).or_insert(0) += 1;
        if let Some(kind) = error {
            *self.errors.lock().entry((source, kind)).or_insert(0) += 1;
        }
        self.last.lock().insert(
            source,
            UpstreamStatus {
                status: error.map_or("ok", ErrorKind::as_str).to_string(),
                error,
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
            resident_memory_bytes: process.rss_bytes,
            cpu_seconds_total: process.cpu_seconds,
            open_fds: process.open_fds,
            ..self.stats_counters()
        }
    }

    /// The build and process figures without any cluster's counters (`/metrics`
    /// without a top-level cluster).
    pub fn process_stats() -> ExporterStats {
        SelfMetrics::default().stats()
    }

    /// The counters alone (no process figures read).
    pub fn stats_counters(&self) -> ExporterStats {
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
                    kind: kind.as_str(),
                    count,
                })
                .collect(),
            unknown_metric_groups_total: self.unknown_groups.load(Ordering::Relaxed),
            null_values_total: self.null_values.load(Ordering::Relaxed),
            stale_series_dropped_total: self.stale_dropped.load(Ordering::Relaxed),
            upstream_requests: self.requests.lock().iter().map(|(&s, &n)| (s, n)).collect(),
            start_time_seconds: self.start_time_seconds,
            resident_memory_bytes: None,
            cpu_seconds_total: None,
            open_fds: None,
            targets: Vec::new(),
            reload: None,
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

/// Writes the exporter's own families (collector status, build info, counters kept
/// across scrapes) and the process families, from one scrape's `collectors` and the
/// figures `stats` that [`SelfMetrics::stats`] read. Collectors are written by name,
/// each name once.
pub fn render(w: &mut Writer<'_>, collectors: &[CollectorStatus], stats: &ExporterStats) {
    render_collectors(w, collectors);
    render_exporter(w, stats, true);
}

/// Writes the two collector families of one scrape (all that `/probe` adds of the
/// exporter's own).
pub fn render_collectors(w: &mut Writer<'_>, collectors: &[CollectorStatus]) {
    let mut collectors: Vec<&CollectorStatus> = collectors.iter().collect();
    collectors.sort_by_key(|c| c.name);
    collectors.dedup_by_key(|c| c.name);
    w.family(
        "arroyo_exporter_collector_success",
        "1 when the collector fully succeeded this scrape, else 0.",
        MetricType::Gauge,
        None,
    );
    for c in &collectors {
        w.sample(&[("collector", c.name)], c.success);
    }
    w.family(
        "arroyo_exporter_collector_duration_seconds",
        "Time the collector took this scrape, in seconds.",
        MetricType::Gauge,
        Some("seconds"),
    );
    for c in &collectors {
        w.sample(&[("collector", c.name)], c.duration_seconds);
    }
}

/// The per-cluster counters to write: the top-level cluster's (no `target` label) when
/// `top_level`, then each named target's (with its `target` label).
fn clusters(stats: &ExporterStats, top_level: bool) -> Vec<(Option<&str>, &ExporterStats)> {
    let mut out = Vec::with_capacity(stats.targets.len() + 1);
    if top_level {
        out.push((None, stats));
    }
    out.extend(
        stats
            .targets
            .iter()
            .map(|(name, s)| (Some(name.as_str()), s)),
    );
    out
}

/// A per-cluster counter family: name, help, and its value in one cluster's stats.
type TotalFamily = (&'static str, &'static str, fn(&ExporterStats) -> u64);

/// `labels` with `target` first when the counters are a named target's.
fn with_target<'a>(
    target: Option<&'a str>,
    labels: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut out = Vec::with_capacity(labels.len() + 1);
    if let Some(t) = target {
        out.push(("target", t));
    }
    out.extend_from_slice(labels);
    out
}

/// Writes the exporter's families apart from the collector ones: build info, the
/// per-cluster counters (the top-level cluster's when `top_level`, and every target's
/// with a `target` label), the reload status and the process families.
pub fn render_exporter(w: &mut Writer<'_>, stats: &ExporterStats, top_level: bool) {
    let clusters = clusters(stats, top_level);
    w.family(
        "arroyo_exporter_build",
        "Version and git revision of the running arroyo-exporter; always 1.",
        MetricType::Info,
        None,
    );
    w.info(&[
        ("version", stats.version.as_str()),
        ("revision", stats.revision.as_str()),
    ]);

    w.family(
        "arroyo_exporter_scrapes",
        "Scrapes served since the exporter started.",
        MetricType::Counter,
        None,
    );
    for &(target, s) in &clusters {
        w.sample(&with_target(target, &[]), s.scrapes_total);
    }

    w.family(
        "arroyo_exporter_upstream_errors",
        "Failed calls to Arroyo since the exporter started, by upstream and error kind.",
        MetricType::Counter,
        None,
    );
    for &(target, s) in &clusters {
        let mut errors: Vec<(&str, &str, u64)> = s
            .upstream_errors
            .iter()
            .map(|e| (e.source, e.kind, e.count))
            .collect();
        errors.sort_unstable();
        for (i, &(source, kind, _)) in errors.iter().enumerate() {
            if i > 0 && errors[i - 1].0 == source && errors[i - 1].1 == kind {
                continue;
            }
            let total = errors[i..]
                .iter()
                .take_while(|e| e.0 == source && e.1 == kind)
                .fold(0_u64, |sum, e| sum.saturating_add(e.2));
            w.sample(
                &with_target(target, &[("source", source), ("kind", kind)]),
                total,
            );
        }
    }

    w.family(
        "arroyo_exporter_upstream_requests",
        "Calls to Arroyo since the exporter started, by upstream.",
        MetricType::Counter,
        None,
    );
    for &(target, s) in &clusters {
        let mut requests: Vec<(&str, u64)> = s.upstream_requests.clone();
        requests.sort_unstable();
        for (i, &(source, _)) in requests.iter().enumerate() {
            if i > 0 && requests[i - 1].0 == source {
                continue;
            }
            let total = requests[i..]
                .iter()
                .take_while(|r| r.0 == source)
                .fold(0_u64, |sum, r| sum.saturating_add(r.1));
            w.sample(&with_target(target, &[("source", source)]), total);
        }
    }

    let totals: [TotalFamily; 3] = [
        (
            "arroyo_exporter_unknown_metric_groups",
            "Metric groups with a name the exporter does not know, skipped since it started.",
            |s| s.unknown_metric_groups_total,
        ),
        (
            "arroyo_exporter_null_values",
            "Null values in Arroyo's metrics documents, skipped since the exporter started.",
            |s| s.null_values_total,
        ),
        (
            "arroyo_exporter_stale_series_dropped",
            "Series not exported because their newest point was older than the maximum sample age, since the exporter started.",
            |s| s.stale_series_dropped_total,
        ),
    ];
    for (name, help, value) in totals {
        w.family(name, help, MetricType::Counter, None);
        for &(target, s) in &clusters {
            w.sample(&with_target(target, &[]), value(s));
        }
    }

    if let Some(reload) = stats.reload {
        w.family(
            "arroyo_exporter_config_last_reload_successful",
            "1 when the last configuration reload (or the start-up load) succeeded, else 0.",
            MetricType::Gauge,
            None,
        );
        w.sample(&[], reload.successful);
        w.family(
            "arroyo_exporter_config_last_reload_success_timestamp_seconds",
            "When the configuration was last loaded successfully, seconds since the Unix epoch.",
            MetricType::Gauge,
            Some("seconds"),
        );
        w.sample(&[], reload.success_timestamp_seconds);
    }

    w.family(
        "process_start_time_seconds",
        "Start time of the process since the Unix epoch, in seconds.",
        MetricType::Gauge,
        Some("seconds"),
    );
    w.sample(&[], stats.start_time_seconds);
    if let Some(bytes) = stats.resident_memory_bytes {
        w.family(
            "process_resident_memory_bytes",
            "Resident memory size, in bytes.",
            MetricType::Gauge,
            Some("bytes"),
        );
        w.sample(&[], bytes);
    }
    if let Some(seconds) = stats.cpu_seconds_total {
        w.family(
            "process_cpu_seconds",
            "Total user and system CPU time spent, in seconds.",
            MetricType::Counter,
            Some("seconds"),
        );
        w.sample(&[], seconds);
    }
    if let Some(fds) = stats.open_fds {
        w.family(
            "process_open_fds",
            "Number of open file descriptors.",
            MetricType::Gauge,
            None,
        );
        w.sample(&[], fds);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::test_support::{lines_of, render_str};
    use crate::exposition::Format;
    use crate::model::{CollectorStatus, Snapshot};

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
        m.record_call("controller", Some(ErrorKind::Timeout));
        m.record_call("controller", Some(ErrorKind::Timeout));
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

    #[test]
    fn build_info_per_format() {
        let mut snap = Snapshot::default();
        snap.exporter.version = "1.2.3".to_string();
        snap.exporter.revision = "dead\"beef".to_string();
        let om = render_str(&snap, Format::OpenMetrics);
        assert!(om.contains(concat!(
            "# TYPE arroyo_exporter_build info\n",
            "# HELP arroyo_exporter_build Version and git revision of the running arroyo-exporter; always 1.\n",
            "arroyo_exporter_build_info{version=\"1.2.3\",revision=\"dead\\\"beef\"} 1\n",
        )));
        let text = render_str(&snap, Format::Text004);
        assert!(text.contains(concat!(
            "# HELP arroyo_exporter_build_info Version and git revision of the running arroyo-exporter; always 1.\n",
            "# TYPE arroyo_exporter_build_info gauge\n",
            "arroyo_exporter_build_info{version=\"1.2.3\",revision=\"dead\\\"beef\"} 1\n",
        )));
    }

    #[test]
    fn counters_per_format() {
        let mut snap = Snapshot::default();
        snap.exporter.scrapes_total = 42;
        snap.exporter.cpu_seconds_total = Some(0.5);
        snap.exporter.upstream_requests = vec![("api", 1)];
        snap.exporter.upstream_errors = vec![
            ErrorCount {
                source: "controller",
                kind: "timeout",
                count: 2,
            },
            ErrorCount {
                source: "api",
                kind: "http_500",
                count: 1,
            },
            ErrorCount {
                source: "controller",
                kind: "timeout",
                count: 3,
            },
        ];
        let om = render_str(&snap, Format::OpenMetrics);
        assert!(om.contains(
            "# TYPE arroyo_exporter_scrapes counter\n# HELP arroyo_exporter_scrapes Scrapes served since the exporter started.\narroyo_exporter_scrapes_total 42\n"
        ));
        assert!(
            om.contains("# TYPE process_cpu_seconds counter\n# UNIT process_cpu_seconds seconds\n")
        );
        assert!(om.contains("\nprocess_cpu_seconds_total 0.5\n"));
        assert_eq!(
            lines_of(&om, "arroyo_exporter_upstream_errors_total"),
            [
                r#"arroyo_exporter_upstream_errors_total{source="api",kind="http_500"} 1"#,
                r#"arroyo_exporter_upstream_errors_total{source="controller",kind="timeout"} 5"#,
            ]
        );
        let text = render_str(&snap, Format::Text004);
        assert!(text.contains(
            "# HELP arroyo_exporter_scrapes_total Scrapes served since the exporter started.\n# TYPE arroyo_exporter_scrapes_total counter\narroyo_exporter_scrapes_total 42\n"
        ));
        assert!(text
            .contains("# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 0.5\n"));
        assert!(!text.contains("# UNIT"));
        for family in [
            "arroyo_exporter_upstream_requests",
            "arroyo_exporter_unknown_metric_groups",
            "arroyo_exporter_null_values",
            "arroyo_exporter_stale_series_dropped",
        ] {
            assert!(
                om.contains(&format!("# TYPE {family} counter\n")),
                "{family}"
            );
            assert!(
                text.contains(&format!("# TYPE {family}_total counter\n")),
                "{family}"
            );
        }
    }

    #[test]
    fn per_cluster_counters_carry_the_target_label_and_scopes_pick_families() {
        use crate::model::{ReloadStatus, Scope};
        let mut snap = Snapshot::default();
        snap.exporter.scrapes_total = 4;
        snap.exporter.upstream_requests = vec![("api", 1)];
        snap.exporter.targets = vec![(
            "prod".to_string(),
            ExporterStats {
                scrapes_total: 2,
                upstream_requests: vec![("controller", 3), ("controller", 1)],
                upstream_errors: vec![ErrorCount {
                    source: "api",
                    kind: "connect",
                    count: 1,
                }],
                null_values_total: 5,
                ..ExporterStats::default()
            },
        )];
        snap.exporter.reload = Some(ReloadStatus {
            successful: false,
            success_timestamp_seconds: 1.5,
        });
        snap.collectors = vec![CollectorStatus {
            name: "jobs",
            success: true,
            duration_seconds: 0.25,
        }];
        let om = render_str(&snap, Format::OpenMetrics);
        assert_eq!(
            lines_of(&om, "arroyo_exporter_scrapes_total"),
            [
                "arroyo_exporter_scrapes_total 4",
                r#"arroyo_exporter_scrapes_total{target="prod"} 2"#
            ]
        );
        assert_eq!(
            lines_of(&om, "arroyo_exporter_upstream_requests_total"),
            [
                r#"arroyo_exporter_upstream_requests_total{source="api"} 1"#,
                r#"arroyo_exporter_upstream_requests_total{target="prod",source="controller"} 4"#
            ]
        );
        assert_eq!(
            lines_of(&om, "arroyo_exporter_upstream_errors_total"),
            [
                r#"arroyo_exporter_upstream_errors_total{target="prod",source="api",kind="connect"} 1"#
            ]
        );
        assert_eq!(
            lines_of(&om, "arroyo_exporter_null_values_total"),
            [
                "arroyo_exporter_null_values_total 0",
                r#"arroyo_exporter_null_values_total{target="prod"} 5"#
            ]
        );
        assert_eq!(
            lines_of(&om, "arroyo_exporter_config_last_reload_successful"),
            ["arroyo_exporter_config_last_reload_successful 0"]
        );
        assert_eq!(
            lines_of(
                &om,
                "arroyo_exporter_config_last_reload_success_timestamp_seconds"
            ),
            ["arroyo_exporter_config_last_reload_success_timestamp_seconds 1.5"]
        );

        // /metrics without a top-level cluster: no cluster series, the targets' counters.
        snap.scope = Scope::OwnOnly;
        let own = render_str(&snap, Format::OpenMetrics);
        assert_eq!(
            lines_of(&own, "arroyo_exporter_scrapes_total"),
            [r#"arroyo_exporter_scrapes_total{target="prod"} 2"#]
        );
        assert!(lines_of(&own, "arroyo_up").is_empty());
        assert!(lines_of(&own, "arroyo_exporter_collector_success").is_empty());
        assert!(own.contains("\nprocess_start_time_seconds "));
        assert!(own.ends_with("# EOF\n"));

        // /probe: the cluster and its collectors, nothing process-wide.
        snap.scope = Scope::Probe;
        let probe = render_str(&snap, Format::OpenMetrics);
        assert_eq!(lines_of(&probe, "arroyo_up"), ["arroyo_up 0"]);
        assert_eq!(
            lines_of(&probe, "arroyo_exporter_collector_success"),
            [r#"arroyo_exporter_collector_success{collector="jobs"} 1"#]
        );
        for absent in [
            "arroyo_exporter_scrapes",
            "arroyo_exporter_upstream",
            "arroyo_exporter_build",
            "arroyo_exporter_config",
            "process_",
        ] {
            assert!(!probe.contains(absent), "{absent} on /probe:\n{probe}");
        }
    }

    #[test]
    fn invalid_counter_values_are_not_written() {
        for cpu in [f64::NAN, -1.0] {
            let mut snap = Snapshot::default();
            snap.exporter.cpu_seconds_total = Some(cpu);
            for format in [Format::OpenMetrics, Format::Text004] {
                assert!(!render_str(&snap, format).contains("process_cpu"), "{cpu}");
            }
        }
    }
}
