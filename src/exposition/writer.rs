//! Rendering of a [`Snapshot`] as OpenMetrics 1.0.0 text or Prometheus text 0.0.4, and
//! the choice between the two from a request's `Accept` header.
//!
//! Everything here is pure: no I/O, no clock. The caller hands in the snapshot and a
//! buffer and gets the body back in that buffer.
//!
//! The text is written by hand, straight into the output buffer, on purpose:
//! - `prometheus-client` (the official Rust client) writes label values without
//!   escaping them (client_rust#151), and our label values are user text: pipeline
//!   names and operator descriptions with quotes, backslashes and newlines;
//! - the `prometheus` crate (tikv) has no OpenMetrics output at all;
//! - both want a registry of long-lived metric objects, while one scrape here is a
//!   fresh set of values; writing the lines directly is the fastest way and the one
//!   kube-state-metrics takes for the same reason.
//!
//! [`Writer`] is the reusable part: it knows both formats' rules for family headers
//! (`# TYPE`, `# UNIT`, `# HELP`), counter / info / stateset naming, escaping and
//! number syntax. [`render`] uses it for the families of one scrape; more collectors
//! add families through it.

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::model::{
    CheckpointSummary, Job, JobMetrics, JobSnapshot, MetricKind, MetricsOutcome, Operator,
    Pipeline, Snapshot, SubtaskSample, JOB_STATES,
};

/// An exposition format we can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// OpenMetrics 1.0.0 text (what Prometheus asks for by default).
    OpenMetrics,
    /// Prometheus text format 0.0.4 (browsers, curl, older scrapers).
    Text004,
}

impl Format {
    /// The exact `Content-Type` header value of a body in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Text004 => "text/plain; version=0.0.4; charset=utf-8",
        }
    }
}

/// Picks the format for a request's `Accept` header.
///
/// OpenMetrics when the header offers `application/openmetrics-text` (version 1.0.0, or
/// no version) with a quality above zero and at least as high as the best `text/plain`
/// offer (any version); Prometheus text 0.0.4 otherwise, including when there is no
/// header. Other parameters (`charset`, `escaping`, ...) are ignored: every name we
/// write is a legacy name, valid under any escaping scheme.
pub fn negotiate(accept: Option<&str>) -> Format {
    let Some(accept) = accept else {
        return Format::Text004;
    };
    let mut openmetrics_q = 0.0_f64;
    let mut text_q = 0.0_f64;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim();
        let is_openmetrics = media.eq_ignore_ascii_case("application/openmetrics-text");
        let is_text = media.eq_ignore_ascii_case("text/plain");
        if !is_openmetrics && !is_text {
            continue;
        }
        let mut q = Some(1.0_f64);
        let mut version_ok = true;
        for param in parts {
            let Some((key, value)) = param.split_once('=') else {
                continue;
            };
            let key = key.trim();
            let value = value.trim().trim_matches('"');
            if key.eq_ignore_ascii_case("q") {
                q = value
                    .parse::<f64>()
                    .ok()
                    .filter(|q| q.is_finite())
                    .map(|q| q.clamp(0.0, 1.0));
            } else if key.eq_ignore_ascii_case("version") {
                version_ok = value == "1.0.0";
            }
        }
        // A malformed quality value makes the whole offer void.
        let Some(q) = q else { continue };
        if is_openmetrics && version_ok {
            openmetrics_q = openmetrics_q.max(q);
        } else if is_text {
            text_q = text_q.max(q);
        }
    }
    if openmetrics_q > 0.0 && openmetrics_q >= text_q {
        Format::OpenMetrics
    } else {
        Format::Text004
    }
}

/// The type of a metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricType {
    /// A value that goes up and down.
    Gauge,
    /// A monotonic total. The family name has no `_total`; samples get it.
    Counter,
    /// Constant-1 samples carrying text in labels. The family name has no `_info`;
    /// samples get it. Prometheus text 0.0.4 has no info type: a gauge `<name>_info`.
    Info,
    /// One 0/1 sample per state, the state in a label named like the family.
    /// Prometheus text 0.0.4 has no stateset type: a gauge.
    StateSet,
    /// No type (`unknown` in OpenMetrics, `untyped` in 0.0.4).
    Unknown,
}

impl MetricType {
    fn openmetrics_name(self) -> &'static str {
        match self {
            MetricType::Gauge => "gauge",
            MetricType::Counter => "counter",
            MetricType::Info => "info",
            MetricType::StateSet => "stateset",
            MetricType::Unknown => "unknown",
        }
    }

    fn text004_name(self) -> &'static str {
        match self {
            MetricType::Gauge | MetricType::Info | MetricType::StateSet => "gauge",
            MetricType::Counter => "counter",
            MetricType::Unknown => "untyped",
        }
    }

    /// What a sample name adds to the family name.
    fn sample_suffix(self) -> &'static str {
        match self {
            MetricType::Counter => "_total",
            MetricType::Info => "_info",
            _ => "",
        }
    }
}

/// A sample value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// An unsigned integer, written in decimal.
    U64(u64),
    /// A signed integer, written in decimal.
    I64(i64),
    /// A float: shortest round-trip decimal, `NaN`, `+Inf` or `-Inf`.
    F64(f64),
}

impl From<u64> for Value {
    fn from(v: u64) -> Self {
        Value::U64(v)
    }
}

impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Value::U64(u64::from(v))
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::I64(v)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::F64(v)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::U64(u64::from(v))
    }
}

impl Value {
    /// Whether OpenMetrics allows this as a counter total (not NaN, not negative).
    fn valid_total(self) -> bool {
        match self {
            Value::U64(_) => true,
            Value::I64(v) => v >= 0,
            Value::F64(v) => v >= 0.0,
        }
    }
}

/// Writes metric families in one format into a byte buffer.
///
/// Call [`Writer::family`], then its samples, for each family; then [`Writer::finish`]
/// (without it an OpenMetrics body lacks its closing `# EOF`).
/// A family that gets no sample is removed again, so callers may open families freely.
/// Metric, unit and label names must be valid legacy names (`[a-zA-Z_:][a-zA-Z0-9_:]*`,
/// labels without `:`), which debug builds assert; label values and help are any text.
/// Each family's name must be unique in the output and each series unique in its family:
/// the writer does not check that.
pub struct Writer<'a> {
    out: &'a mut Vec<u8>,
    format: Format,
    kind: MetricType,
    /// Family name as in the OpenMetrics descriptors (no `_total` / `_info`).
    family: String,
    /// Start of the current family's header in `out`.
    family_start: usize,
    samples: usize,
    open: bool,
}

impl<'a> Writer<'a> {
    /// A writer appending to `out`.
    pub fn new(out: &'a mut Vec<u8>, format: Format) -> Self {
        Writer {
            out,
            format,
            kind: MetricType::Gauge,
            family: String::with_capacity(64),
            family_start: 0,
            samples: 0,
            open: false,
        }
    }

    /// The format being written.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Starts a family. `name` is the OpenMetrics family name: without `_total` for a
    /// counter and without `_info` for an info. `unit`, when given, must be the last
    /// `_`-separated part of `name` (OpenMetrics requires it); it is written only in
    /// OpenMetrics, which allows no unit on info and stateset families. `help` may be any
    /// text (it is escaped) but should not be empty: `promtool check metrics` flags that.
    pub fn family(&mut self, name: &str, help: &str, kind: MetricType, unit: Option<&str>) {
        debug_assert!(is_metric_name(name), "bad metric name {name:?}");
        debug_assert!(
            unit.is_none_or(|u| name.len() > u.len()
                && name.ends_with(u)
                && name.as_bytes()[name.len() - u.len() - 1] == b'_'),
            "unit {unit:?} is not a suffix of {name:?}"
        );
        debug_assert!(
            unit.is_none() || !matches!(kind, MetricType::Info | MetricType::StateSet),
            "no unit allowed on {kind:?}"
        );
        self.close_family();
        self.kind = kind;
        self.family.clear();
        self.family.push_str(name);
        self.family_start = self.out.len();
        self.samples = 0;
        self.open = true;
        let out = &mut *self.out;
        match self.format {
            Format::OpenMetrics => {
                out.extend_from_slice(b"# TYPE ");
                out.extend_from_slice(name.as_bytes());
                out.push(b' ');
                out.extend_from_slice(kind.openmetrics_name().as_bytes());
                out.push(b'\n');
                if let Some(unit) = unit {
                    out.extend_from_slice(b"# UNIT ");
                    out.extend_from_slice(name.as_bytes());
                    out.push(b' ');
                    out.extend_from_slice(unit.as_bytes());
                    out.push(b'\n');
                }
                out.extend_from_slice(b"# HELP ");
                out.extend_from_slice(name.as_bytes());
                out.push(b' ');
                escape_into(out, help, true);
                out.push(b'\n');
            }
            Format::Text004 => {
                let suffix = kind.sample_suffix().as_bytes();
                out.extend_from_slice(b"# HELP ");
                out.extend_from_slice(name.as_bytes());
                out.extend_from_slice(suffix);
                out.push(b' ');
                escape_into(out, help, false);
                out.push(b'\n');
                out.extend_from_slice(b"# TYPE ");
                out.extend_from_slice(name.as_bytes());
                out.extend_from_slice(suffix);
                out.push(b' ');
                out.extend_from_slice(kind.text004_name().as_bytes());
                out.push(b'\n');
            }
        }
    }

    /// Writes one sample of the current family, named by the family's type (`_total`
    /// for counters, `_info` for infos). A counter value that is NaN or negative is not
    /// written: OpenMetrics forbids it.
    pub fn sample(&mut self, labels: &[(&str, &str)], value: impl Into<Value>) {
        let value = value.into();
        debug_assert!(self.open, "sample outside a family");
        debug_assert!(
            self.kind != MetricType::Info || value == Value::U64(1) || value == Value::F64(1.0),
            "info samples must be 1"
        );
        if self.kind == MetricType::Counter && !value.valid_total() {
            return;
        }
        self.write_sample(labels, None, value);
    }

    /// Writes an info sample (value 1) of the current info family.
    pub fn info(&mut self, labels: &[(&str, &str)]) {
        debug_assert_eq!(self.kind, MetricType::Info);
        self.write_sample(labels, None, Value::U64(1));
    }

    /// Writes the samples of one stateset: one per `(state, active)` pair, each with
    /// `labels` plus a label named like the family holding the state, value 1 for an
    /// active state and 0 otherwise.
    pub fn state_set<'s>(
        &mut self,
        labels: &[(&str, &str)],
        states: impl IntoIterator<Item = (&'s str, bool)>,
    ) {
        debug_assert_eq!(self.kind, MetricType::StateSet);
        for (state, active) in states {
            self.write_sample(labels, Some(state), Value::U64(u64::from(active)));
        }
    }

    /// Ends the output (`# EOF` in OpenMetrics).
    pub fn finish(mut self) {
        self.close_family();
        if self.format == Format::OpenMetrics {
            self.out.extend_from_slice(b"# EOF\n");
        }
    }

    /// Drops the open family's header when it got no sample.
    fn close_family(&mut self) {
        if self.open && self.samples == 0 {
            self.out.truncate(self.family_start);
        }
        self.open = false;
    }

    fn write_sample(&mut self, labels: &[(&str, &str)], state: Option<&str>, value: Value) {
        let out = &mut *self.out;
        out.extend_from_slice(self.family.as_bytes());
        out.extend_from_slice(self.kind.sample_suffix().as_bytes());
        if !labels.is_empty() || state.is_some() {
            out.push(b'{');
            let mut first = true;
            for (name, value) in labels {
                debug_assert!(is_label_name(name), "bad label name {name:?}");
                if !first {
                    out.push(b',');
                }
                first = false;
                write_label(out, name, value);
            }
            if let Some(state) = state {
                if !first {
                    out.push(b',');
                }
                write_label(out, &self.family, state);
            }
            out.push(b'}');
        }
        out.push(b' ');
        write_value(out, value);
        out.push(b'\n');
        self.samples += 1;
    }
}

fn write_label(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"=\"");
    escape_into(out, value, true);
    out.push(b'"');
}

/// Appends `s` escaped: `\` → `\\`, newline → `\n`, and `"` → `\"` when `quotes`.
///
/// Label values need all three in both formats. HELP needs the quote escaped in
/// OpenMetrics (its `escaped-string` has no bare `"`) and must not have it escaped in
/// 0.0.4 (whose parser knows only `\\` and `\n` there).
fn escape_into(out: &mut Vec<u8>, s: &str, quotes: bool) {
    let bytes = s.as_bytes();
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escaped: &[u8] = match b {
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'"' if quotes => b"\\\"",
            _ => continue,
        };
        // Every escaped byte is ASCII, so the runs between them are whole characters.
        out.extend_from_slice(&bytes[run..i]);
        out.extend_from_slice(escaped);
        run = i + 1;
    }
    out.extend_from_slice(&bytes[run..]);
}

/// Writes a value in syntax both formats accept: decimal integers; floats in ryu's
/// shortest round-trip form (`1.5`, `1e300`, `1e-7`, `-0.0`), which matches
/// OpenMetrics' `realnumber` and Go's `ParseFloat`; and `NaN`, `+Inf`, `-Inf`.
fn write_value(out: &mut Vec<u8>, value: Value) {
    match value {
        Value::U64(v) => out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes()),
        Value::I64(v) => out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes()),
        Value::F64(v) if v.is_nan() => out.extend_from_slice(b"NaN"),
        Value::F64(v) if v == f64::INFINITY => out.extend_from_slice(b"+Inf"),
        Value::F64(v) if v == f64::NEG_INFINITY => out.extend_from_slice(b"-Inf"),
        Value::F64(v) => out.extend_from_slice(ryu::Buffer::new().format_finite(v).as_bytes()),
    }
}

fn is_metric_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_' | b':'))
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

/// Whether `s` is a valid label name for both formats (`[a-zA-Z_][a-zA-Z0-9_]*`).
pub fn is_label_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_'))
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Longest `operator_name` label value, in characters (COMPAT.md, Decisions).
pub const OPERATOR_NAME_MAX_CHARS: usize = 128;

/// The `operator_name` label value for a graph node's `description`: the text itself
/// when it has at most [`OPERATOR_NAME_MAX_CHARS`] characters, else its first 127
/// characters and `…`, 128 characters in all. Cuts between characters, never inside one.
pub fn operator_name(description: &str) -> Cow<'_, str> {
    let mut chars = description.char_indices();
    match chars.nth(OPERATOR_NAME_MAX_CHARS - 1) {
        Some((cut, _)) if chars.next().is_some() => {
            let mut s = String::with_capacity(cut + '…'.len_utf8());
            s.push_str(&description[..cut]);
            s.push('…');
            Cow::Owned(s)
        }
        _ => Cow::Borrowed(description),
    }
}

/// Orders node ids numerically when both are numbers, numbers before words, words
/// by their text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum NodeKey<'s> {
    Number(u64, &'s str),
    Word(&'s str),
}

impl<'s> NodeKey<'s> {
    fn of(id: &'s str) -> Self {
        match id.parse::<u64>() {
            Ok(n) if id.bytes().all(|b| b.is_ascii_digit()) => NodeKey::Number(n, id),
            _ => NodeKey::Word(id),
        }
    }
}

/// The per-operator aggregate of one metric kind.
struct OperatorValue<'s> {
    kind: MetricKind,
    node_id: &'s str,
    value: f64,
}

/// One job, prepared for writing: samples sorted and deduplicated.
struct JobView<'s> {
    job: &'s JobSnapshot,
    metrics: Option<&'s JobMetrics>,
    /// Sorted by (kind, node, subtask); one per series (the newest when repeated).
    samples: Vec<&'s SubtaskSample>,
    /// Sorted by (kind, node).
    operators: Vec<OperatorValue<'s>>,
    /// `operator_name` label per node id, from the pipeline graph.
    names: BTreeMap<&'s str, Cow<'s, str>>,
}

impl<'s> JobView<'s> {
    fn new(job: &'s JobSnapshot) -> Self {
        let metrics = match &job.metrics {
            MetricsOutcome::Ok(m) => Some(m),
            _ => None,
        };
        let mut keyed: Vec<_> = metrics
            .map(|m| m.samples.as_slice())
            .unwrap_or_default()
            .iter()
            .map(|s| (s.kind, NodeKey::of(&s.node_id), s.subtask_idx, s))
            .collect();
        // Newest first within a series, so that dedup keeps the newest.
        keyed.sort_by(|a, b| {
            (a.0, a.1, a.2)
                .cmp(&(b.0, b.1, b.2))
                .then(b.3.point.time_micros.cmp(&a.3.point.time_micros))
        });
        keyed.dedup_by(|next, prev| (next.0, next.1, next.2) == (prev.0, prev.1, prev.2));
        let samples: Vec<&SubtaskSample> = keyed.into_iter().map(|k| k.3).collect();

        let mut operators: Vec<OperatorValue<'s>> = Vec::new();
        for s in &samples {
            match operators.last_mut() {
                Some(op) if op.kind == s.kind && op.node_id == s.node_id => {
                    op.value = if s.kind == MetricKind::Backpressure {
                        op.value.max(s.point.value)
                    } else {
                        op.value + s.point.value
                    };
                }
                _ => operators.push(OperatorValue {
                    kind: s.kind,
                    node_id: &s.node_id,
                    value: s.point.value,
                }),
            }
        }

        let names = job
            .pipeline
            .as_deref()
            .map(|p| {
                p.operators
                    .iter()
                    .map(|(id, op)| (id.as_str(), operator_name(&op.description)))
                    .collect()
            })
            .unwrap_or_default();
        JobView {
            job,
            metrics,
            samples,
            operators,
            names,
        }
    }

    fn operator_name(&self, node_id: &str) -> &str {
        self.names.get(node_id).map(|n| n.as_ref()).unwrap_or("")
    }

    fn labels(&self) -> [(&'s str, &'s str); 3] {
        [
            ("job_id", self.job.job.id.as_str()),
            ("pipeline_id", self.job.pipeline_id()),
            ("pipeline_name", self.job.pipeline_name()),
        ]
    }
}

/// Name and help of the subtask and operator families, by [`MetricKind::index`].
struct RateFamily {
    subtask: &'static str,
    subtask_help: &'static str,
    operator: &'static str,
    operator_help: &'static str,
    unit: Option<&'static str>,
}

const RATE_FAMILIES: [RateFamily; 5] = [
    RateFamily {
        subtask: "arroyo_subtask_received_messages_per_second",
        subtask_help: "Messages per second received by the subtask: the Arroyo controller's EWMA per-second rate (messages_recv).",
        operator: "arroyo_operator_received_messages_per_second",
        operator_help: "Messages per second received by the operator: sum over its subtasks of the Arroyo controller's EWMA per-second rates (messages_recv).",
        unit: None,
    },
    RateFamily {
        subtask: "arroyo_subtask_sent_messages_per_second",
        subtask_help: "Messages per second sent by the subtask: the Arroyo controller's EWMA per-second rate (messages_sent).",
        operator: "arroyo_operator_sent_messages_per_second",
        operator_help: "Messages per second sent by the operator: sum over its subtasks of the Arroyo controller's EWMA per-second rates (messages_sent).",
        unit: None,
    },
    RateFamily {
        subtask: "arroyo_subtask_received_bytes_per_second",
        subtask_help: "Bytes per second received by the subtask: the Arroyo controller's EWMA per-second rate (bytes_recv).",
        operator: "arroyo_operator_received_bytes_per_second",
        operator_help: "Bytes per second received by the operator: sum over its subtasks of the Arroyo controller's EWMA per-second rates (bytes_recv).",
        unit: None,
    },
    RateFamily {
        subtask: "arroyo_subtask_sent_bytes_per_second",
        subtask_help: "Bytes per second sent by the subtask: the Arroyo controller's EWMA per-second rate (bytes_sent).",
        operator: "arroyo_operator_sent_bytes_per_second",
        operator_help: "Bytes per second sent by the operator: sum over its subtasks of the Arroyo controller's EWMA per-second rates (bytes_sent).",
        unit: None,
    },
    RateFamily {
        subtask: "arroyo_subtask_backpressure_ratio",
        subtask_help: "Backpressure of the subtask: fill ratio (0..1) of its output queue, as the Arroyo controller reports it (backpressure).",
        operator: "arroyo_operator_backpressure_ratio",
        operator_help: "Backpressure of the operator: highest output-queue fill ratio (0..1) among its subtasks, as the Arroyo controller reports it (backpressure).",
        unit: Some("ratio"),
    },
];

/// Renders one scrape's snapshot in `format`, appending to `out`.
///
/// Output is deterministic: jobs by id, nodes by id (numerically when numeric),
/// subtasks by index; label sets by name. Repeated entries (same job id, series,
/// collector, ...) are written once. No sample carries a timestamp.
pub fn render(snapshot: &Snapshot, format: Format, out: &mut Vec<u8>) {
    let mut jobs: Vec<&JobSnapshot> = snapshot.jobs.iter().collect();
    jobs.sort_by(|a, b| a.job.id.cmp(&b.job.id));
    jobs.dedup_by(|next, prev| next.job.id == prev.job.id);
    let views: Vec<JobView<'_>> = jobs.into_iter().map(JobView::new).collect();

    let series: usize = views
        .iter()
        .map(|v| {
            v.operators.len()
                + if snapshot.subtask_series {
                    v.samples.len()
                } else {
                    0
                }
        })
        .sum();
    out.reserve(8 * 1024 + series * 256);

    let mut w = Writer::new(out, format);

    w.family(
        "arroyo_up",
        "1 when the Arroyo metrics source (controller RPC or REST bridge) answered this scrape, else 0.",
        MetricType::Gauge,
        None,
    );
    w.sample(&[], snapshot.up);

    let mut idx = itoa::Buffer::new();
    if snapshot.subtask_series {
        for kind in MetricKind::ALL {
            let fam = &RATE_FAMILIES[kind.index()];
            w.family(fam.subtask, fam.subtask_help, MetricType::Gauge, fam.unit);
            for v in &views {
                let [job, pid, pname] = v.labels();
                let start = v.samples.partition_point(|s| s.kind < kind);
                for s in v.samples[start..].iter().take_while(|s| s.kind == kind) {
                    let labels = [
                        job,
                        pid,
                        pname,
                        ("node_id", s.node_id.as_str()),
                        ("operator_name", v.operator_name(&s.node_id)),
                        ("subtask_idx", idx.format(s.subtask_idx)),
                    ];
                    w.sample(&labels, s.point.value);
                }
            }
        }
    }

    for kind in MetricKind::ALL {
        let fam = &RATE_FAMILIES[kind.index()];
        w.family(fam.operator, fam.operator_help, MetricType::Gauge, fam.unit);
        for v in &views {
            let [job, pid, pname] = v.labels();
            let start = v.operators.partition_point(|o| o.kind < kind);
            for o in v.operators[start..].iter().take_while(|o| o.kind == kind) {
                let labels = [
                    job,
                    pid,
                    pname,
                    ("node_id", o.node_id),
                    ("operator_name", v.operator_name(o.node_id)),
                ];
                w.sample(&labels, o.value);
            }
        }
    }

    w.family(
        "arroyo_job_metrics_last_sample_timestamp_seconds",
        "Time of the newest point the Arroyo controller had for the job, in seconds since the Unix epoch.",
        MetricType::Gauge,
        Some("seconds"),
    );
    for v in &views {
        if let Some(t) = v.metrics.and_then(JobMetrics::newest_time_micros) {
            w.sample(&v.labels(), t as f64 / 1e6);
        }
    }

    w.family(
        "arroyo_exporter_job_scrape_success",
        "1 when the job's metrics were fetched this scrape (or the source had none), 0 when the fetch or decode failed.",
        MetricType::Gauge,
        None,
    );
    for v in &views {
        let success = match v.job.metrics {
            MetricsOutcome::Ok(_) | MetricsOutcome::NoMetrics => true,
            MetricsOutcome::Failed(_) => false,
            MetricsOutcome::Skipped => continue,
        };
        w.sample(&v.labels(), success);
    }

    // Jobs the API described (they have a state); statically configured ones are not.
    let api_views: Vec<&JobView<'_>> = views
        .iter()
        .filter(|v| !v.job.job.state.is_empty())
        .collect();
    render_job_families(&mut w, snapshot, &views, &api_views);
    render_topology(&mut w, snapshot, &views, &api_views);

    let mut collectors: Vec<_> = snapshot.collectors.iter().collect();
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

    let stats = &snapshot.exporter;
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
    w.sample(&[], stats.scrapes_total);

    let mut errors: Vec<(&str, &str, u64)> = stats
        .upstream_errors
        .iter()
        .map(|e| (e.source, e.kind, e.count))
        .collect();
    errors.sort_unstable();
    w.family(
        "arroyo_exporter_upstream_errors",
        "Failed calls to Arroyo since the exporter started, by upstream and error kind.",
        MetricType::Counter,
        None,
    );
    for (i, &(source, kind, _)) in errors.iter().enumerate() {
        if i > 0 && errors[i - 1].0 == source && errors[i - 1].1 == kind {
            continue;
        }
        let total = errors[i..]
            .iter()
            .take_while(|e| e.0 == source && e.1 == kind)
            .fold(0_u64, |sum, e| sum.saturating_add(e.2));
        w.sample(&[("source", source), ("kind", kind)], total);
    }

    let mut requests: Vec<(&str, u64)> = stats.upstream_requests.clone();
    requests.sort_unstable();
    w.family(
        "arroyo_exporter_upstream_requests",
        "Calls to Arroyo since the exporter started, by upstream.",
        MetricType::Counter,
        None,
    );
    for (i, &(source, _)) in requests.iter().enumerate() {
        if i > 0 && requests[i - 1].0 == source {
            continue;
        }
        let total = requests[i..]
            .iter()
            .take_while(|r| r.0 == source)
            .fold(0_u64, |sum, r| sum.saturating_add(r.1));
        w.sample(&[("source", source)], total);
    }

    w.family(
        "arroyo_exporter_unknown_metric_groups",
        "Metric groups with a name the exporter does not know, skipped since it started.",
        MetricType::Counter,
        None,
    );
    w.sample(&[], stats.unknown_metric_groups_total);
    w.family(
        "arroyo_exporter_null_values",
        "Null values in Arroyo's metrics documents, skipped since the exporter started.",
        MetricType::Counter,
        None,
    );
    w.sample(&[], stats.null_values_total);
    w.family(
        "arroyo_exporter_stale_series_dropped",
        "Series not exported because their newest point was older than the maximum sample age, since the exporter started.",
        MetricType::Counter,
        None,
    );
    w.sample(&[], stats.stale_series_dropped_total);

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

    w.finish();
}

/// A gauge family read from `T`: name, help, unit, and the value (if any).
type GaugeOf<T> = (
    &'static str,
    &'static str,
    Option<&'static str>,
    fn(&T) -> Option<f64>,
);

/// The job families: state (a StateSet), desired running, run id, start time, tasks,
/// failure info, and the checkpoint summary.
fn render_job_families(
    w: &mut Writer<'_>,
    snapshot: &Snapshot,
    views: &[JobView<'_>],
    api_views: &[&JobView<'_>],
) {
    if snapshot.job_families {
        w.family(
            "arroyo_job_state",
            "Arroyo job state: 1 for the current state, 0 for the others.",
            MetricType::StateSet,
            None,
        );
        for v in api_views {
            let current = v.job.job.state.as_str();
            let known = JOB_STATES.contains(&current);
            let states = JOB_STATES
                .iter()
                .map(|s| (*s, *s == current))
                .chain((!known).then_some((current, true)));
            w.state_set(&v.labels(), states);
        }

        let gauges: [GaugeOf<Job>; 4] = [
            (
                "arroyo_job_running_desired",
                "1 when the user wants the Arroyo job running, else 0.",
                None,
                |j| Some(if j.running_desired { 1.0 } else { 0.0 }),
            ),
            (
                "arroyo_job_run_id",
                "Arroyo's run id of the job; it grows by one at each restart, so changes() counts restarts.",
                None,
                |j| Some(j.run_id as f64),
            ),
            (
                "arroyo_job_start_time_seconds",
                "When the job's current run started, in seconds since the Unix epoch.",
                Some("seconds"),
                |j| j.start_time_micros.map(|t| t as f64 / 1e6),
            ),
            (
                "arroyo_job_tasks",
                "Number of tasks of the job.",
                None,
                |j| j.tasks.map(|t| t as f64),
            ),
        ];
        for (name, help, unit, get) in gauges {
            w.family(name, help, MetricType::Gauge, unit);
            for v in api_views {
                if let Some(x) = get(&v.job.job) {
                    w.sample(&v.labels(), x);
                }
            }
        }

        w.family(
            "arroyo_job_failure",
            "Present (value 1) only while the job is Failed or Failing; domain is Arroyo's failure domain (the message is logged, not labelled).",
            MetricType::Info,
            None,
        );
        for v in api_views {
            let j = &v.job.job;
            if matches!(j.state.as_str(), "Failed" | "Failing") {
                let [a, b, c] = v.labels();
                let domain = j.failure_domain.as_deref().unwrap_or("unknown");
                w.info(&[a, b, c, ("domain", domain)]);
            }
        }
    }

    let checkpoint_families: [GaugeOf<CheckpointSummary>; 4] = [
        (
            "arroyo_job_last_checkpoint_epoch",
            "Epoch of the job's newest completed checkpoint.",
            None,
            |c| c.last_epoch.map(|e| e as f64),
        ),
        (
            "arroyo_job_last_checkpoint_completed_timestamp_seconds",
            "When the job's newest completed checkpoint finished, in seconds since the Unix epoch.",
            Some("seconds"),
            |c| c.last_completed_seconds,
        ),
        (
            "arroyo_job_last_checkpoint_duration_seconds",
            "How long the job's newest completed checkpoint took, in seconds.",
            Some("seconds"),
            |c| c.last_duration_seconds,
        ),
        (
            "arroyo_job_checkpoint_in_progress_seconds",
            "Age of the job's checkpoint in progress, in seconds; 0 when none is running.",
            Some("seconds"),
            |c| Some(c.in_progress_seconds),
        ),
    ];
    for (name, help, unit, get) in checkpoint_families {
        w.family(name, help, MetricType::Gauge, unit);
        for v in views {
            if let Some(x) = snapshot.checkpoints.get(&v.job.job.id).and_then(get) {
                w.sample(&v.labels(), x);
            }
        }
    }
}

/// Turns a pipeline tag name into a label name: `tag_` + the name with every character
/// that a label name cannot hold replaced by `_`.
pub fn tag_label(tag: &str) -> String {
    let mut out = String::with_capacity(4 + tag.len());
    out.push_str("tag_");
    for c in tag.chars() {
        out.push(if c.is_ascii_alphanumeric() || c == '_' {
            c
        } else {
            '_'
        });
    }
    out
}

/// Pipeline and operator topology: info series, parallelism, checkpoint interval.
fn render_topology(
    w: &mut Writer<'_>,
    snapshot: &Snapshot,
    views: &[JobView<'_>],
    api_views: &[&JobView<'_>],
) {
    if !snapshot.topology {
        return;
    }
    let mut pipelines: Vec<&Pipeline> = views
        .iter()
        .filter_map(|v| v.job.pipeline.as_deref())
        .filter(|p| !p.id.is_empty())
        .collect();
    pipelines.sort_by(|a, b| a.id.cmp(&b.id));
    pipelines.dedup_by(|a, b| a.id == b.id);

    let mut tags: Vec<(String, &str)> = snapshot
        .pipeline_tags
        .iter()
        .map(|t| (tag_label(t), t.as_str()))
        .collect();
    tags.sort();
    tags.dedup_by(|a, b| a.0 == b.0);
    w.family(
        "arroyo_pipeline",
        "Arroyo pipeline; allow-listed pipeline tags are labels prefixed with tag_. Always 1.",
        MetricType::Info,
        None,
    );
    for p in &pipelines {
        let mut labels: Vec<(&str, &str)> = vec![
            ("pipeline_id", p.id.as_str()),
            ("pipeline_name", p.name.as_str()),
        ];
        for (label, tag) in &tags {
            if let Some(value) = p.tags.get(*tag) {
                labels.push((label.as_str(), value.as_str()));
            }
        }
        w.info(&labels);
    }
    w.family(
        "arroyo_pipeline_checkpoint_interval_seconds",
        "Checkpoint interval configured for the pipeline, in seconds.",
        MetricType::Gauge,
        Some("seconds"),
    );
    for p in &pipelines {
        if let Some(micros) = p.checkpoint_interval_micros {
            w.sample(
                &[
                    ("pipeline_id", p.id.as_str()),
                    ("pipeline_name", p.name.as_str()),
                ],
                micros as f64 / 1e6,
            );
        }
    }

    w.family(
        "arroyo_operator",
        "Operator of an Arroyo job's graph: operator is its kind, description the full text Arroyo's UI shows. Always 1.",
        MetricType::Info,
        None,
    );
    for v in api_views {
        let Some(p) = v.job.pipeline.as_deref() else {
            continue;
        };
        let [a, b, c] = v.labels();
        for op in sorted_operators(p) {
            w.info(&[
                a,
                b,
                c,
                ("node_id", op.node_id.as_str()),
                ("operator_name", v.operator_name(&op.node_id)),
                ("operator", op.operator.as_str()),
                ("description", op.description.as_str()),
            ]);
        }
    }
    w.family(
        "arroyo_operator_parallelism",
        "Number of subtasks of the operator.",
        MetricType::Gauge,
        None,
    );
    for v in api_views {
        let Some(p) = v.job.pipeline.as_deref() else {
            continue;
        };
        let [a, b, c] = v.labels();
        for op in sorted_operators(p) {
            w.sample(
                &[
                    a,
                    b,
                    c,
                    ("node_id", op.node_id.as_str()),
                    ("operator_name", v.operator_name(&op.node_id)),
                ],
                u64::from(op.parallelism),
            );
        }
    }
}

/// A pipeline's operators, numeric node ids in numeric order.
fn sorted_operators(p: &Pipeline) -> Vec<&Operator> {
    let mut ops: Vec<&Operator> = p.operators.values().collect();
    ops.sort_by(|a, b| NodeKey::of(&a.node_id).cmp(&NodeKey::of(&b.node_id)));
    ops
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{
        CollectorStatus, ErrorCount, ExporterStats, Job, Operator, Pipeline, Point,
    };
    use std::sync::Arc;

    fn sample(node: &str, subtask: u32, kind: MetricKind, time: u64, value: f64) -> SubtaskSample {
        SubtaskSample {
            node_id: node.to_string(),
            subtask_idx: subtask,
            kind,
            point: Point {
                time_micros: time,
                value,
            },
        }
    }

    fn pipeline(id: &str, name: &str, nodes: &[(&str, &str)]) -> Arc<Pipeline> {
        Arc::new(Pipeline {
            id: id.to_string(),
            name: name.to_string(),
            operators: nodes
                .iter()
                .map(|(node, description)| {
                    (
                        node.to_string(),
                        Operator {
                            node_id: node.to_string(),
                            operator: "chained_op".to_string(),
                            description: description.to_string(),
                            parallelism: 2,
                        },
                    )
                })
                .collect(),
            ..Pipeline::default()
        })
    }

    fn job(id: &str, pipeline: Option<Arc<Pipeline>>, metrics: MetricsOutcome) -> JobSnapshot {
        JobSnapshot {
            job: Job {
                id: id.to_string(),
                state: "Running".to_string(),
                ..Job::default()
            },
            pipeline,
            metrics,
        }
    }

    fn ok(samples: Vec<SubtaskSample>) -> MetricsOutcome {
        MetricsOutcome::Ok(JobMetrics {
            samples,
            ..JobMetrics::default()
        })
    }

    fn small_snapshot() -> Snapshot {
        use MetricKind::*;
        let t = 1_732_530_000_000_000;
        let mut failed = job("job_0", None, MetricsOutcome::Failed("timeout"));
        failed.job.pipeline_id = Some("pl_9".to_string());
        Snapshot {
            up: true,
            jobs: vec![
                job(
                    "job_a",
                    Some(pipeline(
                        "pl_1",
                        "orders",
                        &[("0", "Nexmark<200 eps>"), ("4", "Blackhole")],
                    )),
                    ok(vec![
                        sample("4", 0, MessagesRecv, t, 10.5),
                        sample("0", 1, MessagesSent, t + 2_000_000, 3.0),
                        sample("0", 0, MessagesSent, t, 2.0),
                        sample("0", 0, Backpressure, t, 0.25),
                        sample("0", 1, Backpressure, t + 500_000, 0.5),
                    ]),
                ),
                failed,
                job("job_c", None, MetricsOutcome::Skipped),
            ],
            collectors: vec![
                CollectorStatus {
                    name: "job_metrics",
                    success: true,
                    duration_seconds: 0.25,
                },
                CollectorStatus {
                    name: "discovery",
                    success: false,
                    duration_seconds: 0.125,
                },
            ],
            subtask_series: true,
            job_families: false,
            topology: false,
            pipeline_tags: Vec::new(),
            checkpoints: Default::default(),
            exporter: ExporterStats {
                version: "0.1.0".to_string(),
                revision: "abc123".to_string(),
                scrapes_total: 3,
                upstream_errors: vec![ErrorCount {
                    source: "controller",
                    kind: "timeout",
                    count: 2,
                }],
                unknown_metric_groups_total: 1,
                null_values_total: 0,
                stale_series_dropped_total: 0,
                upstream_requests: vec![("controller", 5), ("api", 7)],
                start_time_seconds: 1_700_000_000.5,
                resident_memory_bytes: Some(1_048_576),
                cpu_seconds_total: Some(1.25),
                open_fds: Some(12),
            },
        }
    }

    fn render_str(snapshot: &Snapshot, format: Format) -> String {
        let mut out = Vec::new();
        render(snapshot, format, &mut out);
        String::from_utf8(out).expect("rendered text is UTF-8")
    }

    /// Sample lines (no comments) whose metric name is exactly `name`.
    fn lines_of<'t>(text: &'t str, name: &str) -> Vec<&'t str> {
        text.lines()
            .filter(|l| {
                l.strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
            })
            .collect()
    }

    const GOLDEN_OPENMETRICS: &str = r##"# TYPE arroyo_up gauge
# HELP arroyo_up 1 when the Arroyo metrics source (controller RPC or REST bridge) answered this scrape, else 0.
arroyo_up 1
# TYPE arroyo_subtask_received_messages_per_second gauge
# HELP arroyo_subtask_received_messages_per_second Messages per second received by the subtask: the Arroyo controller's EWMA per-second rate (messages_recv).
arroyo_subtask_received_messages_per_second{job_id="job_a",pipeline_id="pl_1",pipeline_name="orders",node_id="4",operator_name="Blackhole",subtask_idx="0"} 10.5
# TYPE arroyo_subtask_sent_messages_per_second gauge
# HELP arroyo_subtask_sent_messages_per_second Messages per second sent by the subtask: the Arroyo controller's EWMA per-second rate (messages_sent).
arroyo_subtask_sent_messages_per_second{job_id="job_a",pipeline_id="pl_1",pipeline_name="orders",node_id="0",operator_name="Nexmark<200 eps>",subtask_idx="0"} 2.0
arroyo_subtask_sent_messages_per_second{job_id="job_a",pipeline_id="pl_1",pipeline_name="orders",node_id="0",operator_name="Nexmark<200 eps>",subtask_idx="1"} 3.0
# TYPE arroyo_subtask_backpressure_ratio gauge
# UNIT arroyo_subtask_backpressure_ratio ratio
# HELP arroyo_subtask_backpressure_ratio Backpressure of the subtask: fill ratio (0..1) of its output queue, as the Arroyo controller reports it (backpressure).
arroyo_subtask_backpressure_ratio{job_id="job_a",pipeline_id="pl_1",pipeline_name="orders",node_id="0",operator_name="Nexmark<200 eps>",subtask_idx="0"} 0.25
arroyo_subtask_backpressure_ratio{job_id="job_a",pipeline_id="pl_1",pipeline_name="orders",node_id="0",operator_name="Nexmark<200 eps>",subtask_idx="1"} 0.5
# TYPE arroyo_operator_received_messages_per_second gauge
# HELP arroyo_operator_received_messages_per_second Messages per second received by the operator: sum over its subtasks of the Arroyo controller's EWMA per-second rates (messages_recv).
arroyo_operator_received_messages_per_second{job_id="job_a",pipeline_id="pl_1",pipeline_name="orders",node_id="4",operator_name="Blackhole"} 10.5
# TYPE arroyo_operator_sent_messages_per_second gauge
# HELP arroyo_operator_sent_messages_per_second Messages per second sent by the operator: sum over its subtasks of the Arroyo controller's EWMA per-second rates (messages_sent).
arroyo_operator_sent_messages_per_second{job_id="job_a",pipeline_id="pl_1",pipeline_name="orders",node_id="0",operator_name="Nexmark<200 eps>"} 5.0
# TYPE arroyo_operator_backpressure_ratio gauge
# UNIT arroyo_operator_backpressure_ratio ratio
# HELP arroyo_operator_backpressure_ratio Backpressure of the operator: highest output-queue fill ratio (0..1) among its subtasks, as the Arroyo controller reports it (backpressure).
arroyo_operator_backpressure_ratio{job_id="job_a",pipeline_id="pl_1",pipeline_name="orders",node_id="0",operator_name="Nexmark<200 eps>"} 0.5
# TYPE arroyo_job_metrics_last_sample_timestamp_seconds gauge
# UNIT arroyo_job_metrics_last_sample_timestamp_seconds seconds
# HELP arroyo_job_metrics_last_sample_timestamp_seconds Time of the newest point the Arroyo controller had for the job, in seconds since the Unix epoch.
arroyo_job_metrics_last_sample_timestamp_seconds{job_id="job_a",pipeline_id="pl_1",pipeline_name="orders"} 1732530002.0
# TYPE arroyo_exporter_job_scrape_success gauge
# HELP arroyo_exporter_job_scrape_success 1 when the job's metrics were fetched this scrape (or the source had none), 0 when the fetch or decode failed.
arroyo_exporter_job_scrape_success{job_id="job_0",pipeline_id="pl_9",pipeline_name=""} 0
arroyo_exporter_job_scrape_success{job_id="job_a",pipeline_id="pl_1",pipeline_name="orders"} 1
# TYPE arroyo_exporter_collector_success gauge
# HELP arroyo_exporter_collector_success 1 when the collector fully succeeded this scrape, else 0.
arroyo_exporter_collector_success{collector="discovery"} 0
arroyo_exporter_collector_success{collector="job_metrics"} 1
# TYPE arroyo_exporter_collector_duration_seconds gauge
# UNIT arroyo_exporter_collector_duration_seconds seconds
# HELP arroyo_exporter_collector_duration_seconds Time the collector took this scrape, in seconds.
arroyo_exporter_collector_duration_seconds{collector="discovery"} 0.125
arroyo_exporter_collector_duration_seconds{collector="job_metrics"} 0.25
# TYPE arroyo_exporter_build info
# HELP arroyo_exporter_build Version and git revision of the running arroyo-exporter; always 1.
arroyo_exporter_build_info{version="0.1.0",revision="abc123"} 1
# TYPE arroyo_exporter_scrapes counter
# HELP arroyo_exporter_scrapes Scrapes served since the exporter started.
arroyo_exporter_scrapes_total 3
# TYPE arroyo_exporter_upstream_errors counter
# HELP arroyo_exporter_upstream_errors Failed calls to Arroyo since the exporter started, by upstream and error kind.
arroyo_exporter_upstream_errors_total{source="controller",kind="timeout"} 2
# TYPE arroyo_exporter_upstream_requests counter
# HELP arroyo_exporter_upstream_requests Calls to Arroyo since the exporter started, by upstream.
arroyo_exporter_upstream_requests_total{source="api"} 7
arroyo_exporter_upstream_requests_total{source="controller"} 5
# TYPE arroyo_exporter_unknown_metric_groups counter
# HELP arroyo_exporter_unknown_metric_groups Metric groups with a name the exporter does not know, skipped since it started.
arroyo_exporter_unknown_metric_groups_total 1
# TYPE arroyo_exporter_null_values counter
# HELP arroyo_exporter_null_values Null values in Arroyo's metrics documents, skipped since the exporter started.
arroyo_exporter_null_values_total 0
# TYPE arroyo_exporter_stale_series_dropped counter
# HELP arroyo_exporter_stale_series_dropped Series not exported because their newest point was older than the maximum sample age, since the exporter started.
arroyo_exporter_stale_series_dropped_total 0
# TYPE process_start_time_seconds gauge
# UNIT process_start_time_seconds seconds
# HELP process_start_time_seconds Start time of the process since the Unix epoch, in seconds.
process_start_time_seconds 1700000000.5
# TYPE process_resident_memory_bytes gauge
# UNIT process_resident_memory_bytes bytes
# HELP process_resident_memory_bytes Resident memory size, in bytes.
process_resident_memory_bytes 1048576
# TYPE process_cpu_seconds counter
# UNIT process_cpu_seconds seconds
# HELP process_cpu_seconds Total user and system CPU time spent, in seconds.
process_cpu_seconds_total 1.25
# TYPE process_open_fds gauge
# HELP process_open_fds Number of open file descriptors.
process_open_fds 12
# EOF
"##;

    const GOLDEN_TEXT004: &str = r##"# HELP arroyo_up 1 when the Arroyo metrics source (controller RPC or REST bridge) answered this scrape, else 0.
# TYPE arroyo_up gauge
arroyo_up 1
# HELP arroyo_subtask_received_messages_per_second Messages per second received by the subtask: the Arroyo controller's EWMA per-second rate (messages_recv).
# TYPE arroyo_subtask_received_messages_per_second gauge
arroyo_subtask_received_messages_per_second{job_id="job_a",pipeline_id="pl_1",pipeline_name="orders",node_id="4",operator_name="Blackhole",subtask_idx="0"} 10.5
# HELP arroyo_subtask_sent_messages_per_second Messages per second sent by the subtask: the Arroyo controller's EWMA per-second rate (messages_sent).
# TYPE arroyo_subtask_sent_messages_per_second gauge
arroyo_subtask_sent_messages_per_second{job_id="job_a",pipeline_id="pl_1",pipeline_name="orders",node_id="0",operator_name="Nexmark<200 eps>",subtask_idx="0"} 2.0
arroyo_subtask_sent_messages_per_second{job_id="job_a",pipeline_id="pl_1",pipeline_name="orders",node_id="0",operator_name="Nexmark<200 eps>",subtask_idx="1"} 3.0
# HELP arroyo_subtask_backpressure_ratio Backpressure of the subtask: fill ratio (0..1) of its output queue, as the Arroyo controller reports it (backpressure).
# TYPE arroyo_subtask_backpressure_ratio gauge
arroyo_subtask_backpressure_ratio{job_id="job_a",pipeline_id="pl_1",pipeline_name="orders",node_id="0",operator_name="Nexmark<200 eps>",subtask_idx="0"} 0.25
arroyo_subtask_backpressure_ratio{job_id="job_a",pipeline_id="pl_1",pipeline_name="orders",node_id="0",operator_name="Nexmark<200 eps>",subtask_idx="1"} 0.5
# HELP arroyo_operator_received_messages_per_second Messages per second received by the operator: sum over its subtasks of the Arroyo controller's EWMA per-second rates (messages_recv).
# TYPE arroyo_operator_received_messages_per_second gauge
arroyo_operator_received_messages_per_second{job_id="job_a",pipeline_id="pl_1",pipeline_name="orders",node_id="4",operator_name="Blackhole"} 10.5
# HELP arroyo_operator_sent_messages_per_second Messages per second sent by the operator: sum over its subtasks of the Arroyo controller's EWMA per-second rates (messages_sent).
# TYPE arroyo_operator_sent_messages_per_second gauge
arroyo_operator_sent_messages_per_second{job_id="job_a",pipeline_id="pl_1",pipeline_name="orders",node_id="0",operator_name="Nexmark<200 eps>"} 5.0
# HELP arroyo_operator_backpressure_ratio Backpressure of the operator: highest output-queue fill ratio (0..1) among its subtasks, as the Arroyo controller reports it (backpressure).
# TYPE arroyo_operator_backpressure_ratio gauge
arroyo_operator_backpressure_ratio{job_id="job_a",pipeline_id="pl_1",pipeline_name="orders",node_id="0",operator_name="Nexmark<200 eps>"} 0.5
# HELP arroyo_job_metrics_last_sample_timestamp_seconds Time of the newest point the Arroyo controller had for the job, in seconds since the Unix epoch.
# TYPE arroyo_job_metrics_last_sample_timestamp_seconds gauge
arroyo_job_metrics_last_sample_timestamp_seconds{job_id="job_a",pipeline_id="pl_1",pipeline_name="orders"} 1732530002.0
# HELP arroyo_exporter_job_scrape_success 1 when the job's metrics were fetched this scrape (or the source had none), 0 when the fetch or decode failed.
# TYPE arroyo_exporter_job_scrape_success gauge
arroyo_exporter_job_scrape_success{job_id="job_0",pipeline_id="pl_9",pipeline_name=""} 0
arroyo_exporter_job_scrape_success{job_id="job_a",pipeline_id="pl_1",pipeline_name="orders"} 1
# HELP arroyo_exporter_collector_success 1 when the collector fully succeeded this scrape, else 0.
# TYPE arroyo_exporter_collector_success gauge
arroyo_exporter_collector_success{collector="discovery"} 0
arroyo_exporter_collector_success{collector="job_metrics"} 1
# HELP arroyo_exporter_collector_duration_seconds Time the collector took this scrape, in seconds.
# TYPE arroyo_exporter_collector_duration_seconds gauge
arroyo_exporter_collector_duration_seconds{collector="discovery"} 0.125
arroyo_exporter_collector_duration_seconds{collector="job_metrics"} 0.25
# HELP arroyo_exporter_build_info Version and git revision of the running arroyo-exporter; always 1.
# TYPE arroyo_exporter_build_info gauge
arroyo_exporter_build_info{version="0.1.0",revision="abc123"} 1
# HELP arroyo_exporter_scrapes_total Scrapes served since the exporter started.
# TYPE arroyo_exporter_scrapes_total counter
arroyo_exporter_scrapes_total 3
# HELP arroyo_exporter_upstream_errors_total Failed calls to Arroyo since the exporter started, by upstream and error kind.
# TYPE arroyo_exporter_upstream_errors_total counter
arroyo_exporter_upstream_errors_total{source="controller",kind="timeout"} 2
# HELP arroyo_exporter_upstream_requests_total Calls to Arroyo since the exporter started, by upstream.
# TYPE arroyo_exporter_upstream_requests_total counter
arroyo_exporter_upstream_requests_total{source="api"} 7
arroyo_exporter_upstream_requests_total{source="controller"} 5
# HELP arroyo_exporter_unknown_metric_groups_total Metric groups with a name the exporter does not know, skipped since it started.
# TYPE arroyo_exporter_unknown_metric_groups_total counter
arroyo_exporter_unknown_metric_groups_total 1
# HELP arroyo_exporter_null_values_total Null values in Arroyo's metrics documents, skipped since the exporter started.
# TYPE arroyo_exporter_null_values_total counter
arroyo_exporter_null_values_total 0
# HELP arroyo_exporter_stale_series_dropped_total Series not exported because their newest point was older than the maximum sample age, since the exporter started.
# TYPE arroyo_exporter_stale_series_dropped_total counter
arroyo_exporter_stale_series_dropped_total 0
# HELP process_start_time_seconds Start time of the process since the Unix epoch, in seconds.
# TYPE process_start_time_seconds gauge
process_start_time_seconds 1700000000.5
# HELP process_resident_memory_bytes Resident memory size, in bytes.
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 1048576
# HELP process_cpu_seconds_total Total user and system CPU time spent, in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 1.25
# HELP process_open_fds Number of open file descriptors.
# TYPE process_open_fds gauge
process_open_fds 12
"##;

    #[test]
    fn golden_openmetrics() {
        assert_eq!(
            render_str(&small_snapshot(), Format::OpenMetrics),
            GOLDEN_OPENMETRICS
        );
    }

    #[test]
    fn golden_text004() {
        assert_eq!(
            render_str(&small_snapshot(), Format::Text004),
            GOLDEN_TEXT004
        );
    }

    #[test]
    fn render_appends_and_is_deterministic() {
        let snap = small_snapshot();
        let mut reversed = snap.clone();
        reversed.jobs.reverse();
        reversed.collectors.reverse();
        reversed.exporter.upstream_requests.reverse();
        for format in [Format::OpenMetrics, Format::Text004] {
            assert_eq!(render_str(&snap, format), render_str(&reversed, format));
            let mut out = b"prefix\n".to_vec();
            render(&snap, format, &mut out);
            assert!(out.starts_with(b"prefix\n# "));
        }
    }

    #[test]
    fn escaping_of_user_text() {
        let nasty = "a\"b\\c\nd ünï 🎉 \\n \r\t";
        let snap = Snapshot {
            jobs: vec![job(
                "job_\"x\"",
                Some(pipeline("pl_\\1", nasty, &[("7", "say \"hi\"\\\n")])),
                ok(vec![sample("7", 0, MetricKind::BytesSent, 1, 1.0)]),
            )],
            subtask_series: true,
            ..Snapshot::default()
        };
        let expected = concat!(
            r#"arroyo_subtask_sent_bytes_per_second{job_id="job_\"x\"",pipeline_id="pl_\\1","#,
            r#"pipeline_name="a\"b\\c\nd ünï 🎉 \\n "#,
            "\r\t",
            r#"",node_id="7",operator_name="say \"hi\"\\\n",subtask_idx="0"} 1.0"#
        );
        for format in [Format::OpenMetrics, Format::Text004] {
            let text = render_str(&snap, format);
            assert_eq!(
                lines_of(&text, "arroyo_subtask_sent_bytes_per_second"),
                [expected],
                "{format:?}"
            );
        }
    }

    #[test]
    fn help_escaping_differs_per_format() {
        let help = "say \"hi\" \\ then\nnext";
        let mut om = Vec::new();
        let mut w = Writer::new(&mut om, Format::OpenMetrics);
        w.family("x", help, MetricType::Gauge, None);
        w.sample(&[], 1_u64);
        w.finish();
        assert_eq!(
            String::from_utf8(om).unwrap(),
            "# TYPE x gauge\n# HELP x say \\\"hi\\\" \\\\ then\\nnext\nx 1\n# EOF\n"
        );
        let mut text = Vec::new();
        let mut w = Writer::new(&mut text, Format::Text004);
        w.family("x", help, MetricType::Gauge, None);
        w.sample(&[], 1_u64);
        w.finish();
        assert_eq!(
            String::from_utf8(text).unwrap(),
            "# HELP x say \"hi\" \\\\ then\\nnext\n# TYPE x gauge\nx 1\n"
        );
    }

    #[test]
    fn values_in_both_formats() {
        let cases: [(Value, &str); 12] = [
            (Value::F64(f64::NAN), "NaN"),
            (Value::F64(f64::INFINITY), "+Inf"),
            (Value::F64(f64::NEG_INFINITY), "-Inf"),
            (Value::F64(1e300), "1e300"),
            (Value::F64(1e-7), "1e-7"),
            (Value::F64(-2.5e-300), "-2.5e-300"),
            (Value::F64(-0.0), "-0.0"),
            (Value::F64(0.1), "0.1"),
            (Value::F64(123456789.0), "123456789.0"),
            (Value::U64(u64::MAX), "18446744073709551615"),
            (Value::I64(i64::MIN), "-9223372036854775808"),
            (Value::from(true), "1"),
        ];
        for (value, expected) in cases {
            let mut out = Vec::new();
            write_value(&mut out, value);
            assert_eq!(String::from_utf8(out).unwrap(), expected);
        }
    }

    #[test]
    fn operator_aggregation_sums_rates_and_takes_max_backpressure() {
        use MetricKind::*;
        let snap = Snapshot {
            jobs: vec![job(
                "j",
                None,
                ok(vec![
                    sample("1", 0, MessagesRecv, 10, 1.5),
                    sample("1", 1, MessagesRecv, 10, 2.25),
                    sample("1", 2, MessagesRecv, 10, -0.75),
                    sample("2", 0, MessagesRecv, 10, 100.0),
                    sample("1", 0, BytesRecv, 10, 1e300),
                    sample("1", 1, BytesRecv, 10, 1e300),
                    sample("1", 0, Backpressure, 10, 0.2),
                    sample("1", 1, Backpressure, 10, 0.9),
                    sample("1", 2, Backpressure, 10, 0.4),
                    sample("2", 0, Backpressure, 10, f64::NAN),
                    sample("2", 1, Backpressure, 10, 0.3),
                ]),
            )],
            ..Snapshot::default()
        };
        let text = render_str(&snap, Format::OpenMetrics);
        let labels = |node: &str| {
            format!(
                r#"{{job_id="j",pipeline_id="",pipeline_name="",node_id="{node}",operator_name=""}}"#
            )
        };
        assert_eq!(
            lines_of(&text, "arroyo_operator_received_messages_per_second"),
            [
                format!(
                    "arroyo_operator_received_messages_per_second{} 3.0",
                    labels("1")
                ),
                format!(
                    "arroyo_operator_received_messages_per_second{} 100.0",
                    labels("2")
                ),
            ]
        );
        assert_eq!(
            lines_of(&text, "arroyo_operator_received_bytes_per_second"),
            [format!(
                "arroyo_operator_received_bytes_per_second{} 2e300",
                labels("1")
            )]
        );
        assert_eq!(
            lines_of(&text, "arroyo_operator_backpressure_ratio"),
            [
                format!("arroyo_operator_backpressure_ratio{} 0.9", labels("1")),
                format!("arroyo_operator_backpressure_ratio{} 0.3", labels("2")),
            ]
        );
        // Kinds without samples get no family at all; subtask series are off.
        assert!(!text.contains("sent_messages"));
        assert!(!text.contains("arroyo_subtask_"));
    }

    #[test]
    fn repeated_series_are_written_once_newest_wins() {
        use MetricKind::*;
        let snap = Snapshot {
            jobs: vec![
                job(
                    "j",
                    None,
                    ok(vec![
                        sample("1", 0, MessagesRecv, 10, 1.0),
                        sample("1", 0, MessagesRecv, 30, 3.0),
                        sample("1", 0, MessagesRecv, 20, 2.0),
                    ]),
                ),
                job("j", None, MetricsOutcome::Failed("decode")),
            ],
            subtask_series: true,
            ..Snapshot::default()
        };
        let text = render_str(&snap, Format::Text004);
        assert_eq!(
            lines_of(&text, "arroyo_subtask_received_messages_per_second").len(),
            1
        );
        assert!(text.contains(r#"subtask_idx="0"} 3.0"#));
        assert!(text.contains(r#"operator_name=""} 3.0"#));
        assert_eq!(
            lines_of(&text, "arroyo_exporter_job_scrape_success").len(),
            1
        );
        assert!(text.contains(
            r#"arroyo_exporter_job_scrape_success{job_id="j",pipeline_id="",pipeline_name=""} 1"#
        ));
    }

    #[test]
    fn nodes_sort_numerically_then_words_and_subtasks_numerically() {
        use MetricKind::*;
        let snap = Snapshot {
            jobs: vec![job(
                "j",
                None,
                ok(vec![
                    sample("10", 0, MessagesSent, 1, 1.0),
                    sample("word_b", 0, MessagesSent, 1, 1.0),
                    sample("9", 10, MessagesSent, 1, 1.0),
                    sample("9", 2, MessagesSent, 1, 1.0),
                    sample("word_a", 0, MessagesSent, 1, 1.0),
                    sample("+1", 0, MessagesSent, 1, 1.0),
                ]),
            )],
            subtask_series: true,
            ..Snapshot::default()
        };
        let text = render_str(&snap, Format::OpenMetrics);
        let order: Vec<(&str, &str)> = lines_of(&text, "arroyo_subtask_sent_messages_per_second")
            .into_iter()
            .map(|l| {
                let node = l
                    .split("node_id=\"")
                    .nth(1)
                    .unwrap()
                    .split('"')
                    .next()
                    .unwrap();
                let idx = l
                    .split("subtask_idx=\"")
                    .nth(1)
                    .unwrap()
                    .split('"')
                    .next()
                    .unwrap();
                (node, idx)
            })
            .collect();
        assert_eq!(
            order,
            [
                ("9", "2"),
                ("9", "10"),
                ("10", "0"),
                ("+1", "0"),
                ("word_a", "0"),
                ("word_b", "0")
            ]
        );
    }

    #[test]
    fn operator_name_is_description_truncated_to_128_chars() {
        let exact: String = "x".repeat(128);
        assert!(matches!(operator_name(&exact), Cow::Borrowed(s) if s == exact));
        assert_eq!(operator_name(""), "");

        let long = "y".repeat(129);
        let cut = operator_name(&long);
        assert_eq!(cut.chars().count(), 128);
        assert_eq!(cut, format!("{}…", "y".repeat(127)));

        // Multi-byte characters: counted as characters, cut between them.
        let accents = "é".repeat(128);
        assert_eq!(operator_name(&accents), accents);
        for unit in ["é", "🎉", "日本", "e\u{301}"] {
            let long = unit.repeat(200);
            let cut = operator_name(&long);
            assert_eq!(cut.chars().count(), 128, "{unit}");
            assert!(cut.ends_with('…'));
            assert!(long.starts_with(cut.trim_end_matches('…')));
        }

        // And in the output.
        let description = format!("{}\"tail", "ä".repeat(126));
        let snap = Snapshot {
            jobs: vec![job(
                "j",
                Some(pipeline("p", "n", &[("3", description.as_str())])),
                ok(vec![sample("3", 0, MetricKind::BytesRecv, 1, 1.0)]),
            )],
            ..Snapshot::default()
        };
        let text = render_str(&snap, Format::OpenMetrics);
        let expected = format!("operator_name=\"{}\\\"…\"}}", "ä".repeat(126));
        assert!(text.contains(&expected), "{text}");
    }

    #[test]
    fn unknown_node_has_empty_operator_name() {
        let snap = Snapshot {
            jobs: vec![job(
                "j",
                Some(pipeline("p", "n", &[("1", "Known")])),
                ok(vec![sample("2", 0, MetricKind::BytesRecv, 1, 1.0)]),
            )],
            ..Snapshot::default()
        };
        let text = render_str(&snap, Format::Text004);
        assert!(
            text.contains(r#"node_id="2",operator_name=""} 1.0"#),
            "{text}"
        );
    }

    #[test]
    fn negotiate_table() {
        use Format::*;
        let cases: &[(Option<&str>, Format)] = &[
            (None, Text004),
            (Some(""), Text004),
            (Some("*/*"), Text004),
            (Some("text/html,application/xhtml+xml,*/*;q=0.8"), Text004),
            (Some("text/plain"), Text004),
            (Some("text/plain;version=0.0.4"), Text004),
            // Prometheus 2.x default.
            (
                Some(
                    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
                ),
                OpenMetrics,
            ),
            // Prometheus 3 defaults (escaping parameter, text 1.0.0).
            (
                Some(
                    "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
                ),
                OpenMetrics,
            ),
            (
                Some(
                    "application/openmetrics-text;version=1.0.0;escaping=underscores;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=underscores;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
                ),
                OpenMetrics,
            ),
            // Prometheus 3 with protobuf first (native histograms).
            (
                Some(
                    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1",
                ),
                OpenMetrics,
            ),
            // Prometheus 3 with scrape_protocols: [PrometheusText1.0.0, OpenMetricsText1.0.0].
            (
                Some(
                    "text/plain;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,*/*;q=0.4",
                ),
                Text004,
            ),
            // curl with the issue's header; spacing and case do not matter.
            (Some("application/openmetrics-text; version=1.0.0"), OpenMetrics),
            (Some("Application/OpenMetrics-Text; Version=\"1.0.0\"; charset=utf-8"), OpenMetrics),
            (Some("application/openmetrics-text"), OpenMetrics),
            // Only the old draft version: we do not write it.
            (Some("application/openmetrics-text;version=0.0.1"), Text004),
            (Some("application/openmetrics-text;version=2.0.0"), Text004),
            // Quality values.
            (Some("application/openmetrics-text;q=0"), Text004),
            (Some("application/openmetrics-text;q=0.5,text/plain;q=0.5"), OpenMetrics),
            (Some("application/openmetrics-text;q=0.4,text/plain;q=0.5"), Text004),
            (Some("text/plain;q=0.5, application/openmetrics-text ;q=0.9"), OpenMetrics),
            (Some("application/openmetrics-text;q=bogus,text/plain;q=0.1"), Text004),
            (Some("application/openmetrics-text;q=7"), OpenMetrics),
            (Some(";;,,=;q=,application/openmetrics-text;=;q"), OpenMetrics),
        ];
        for (accept, expected) in cases {
            assert_eq!(negotiate(*accept), *expected, "{accept:?}");
        }
    }

    #[test]
    fn content_types() {
        assert_eq!(
            Format::OpenMetrics.content_type(),
            "application/openmetrics-text; version=1.0.0; charset=utf-8"
        );
        assert_eq!(
            Format::Text004.content_type(),
            "text/plain; version=0.0.4; charset=utf-8"
        );
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
    fn invalid_counter_values_are_not_written() {
        for cpu in [f64::NAN, -1.0] {
            let mut snap = Snapshot::default();
            snap.exporter.cpu_seconds_total = Some(cpu);
            for format in [Format::OpenMetrics, Format::Text004] {
                assert!(!render_str(&snap, format).contains("process_cpu"), "{cpu}");
            }
        }
    }

    #[test]
    fn empty_snapshot_has_only_always_present_families() {
        let snap = Snapshot::default();
        let om = render_str(&snap, Format::OpenMetrics);
        let types: Vec<&str> = om.lines().filter(|l| l.starts_with("# TYPE ")).collect();
        assert_eq!(
            types,
            [
                "# TYPE arroyo_up gauge",
                "# TYPE arroyo_exporter_build info",
                "# TYPE arroyo_exporter_scrapes counter",
                "# TYPE arroyo_exporter_unknown_metric_groups counter",
                "# TYPE arroyo_exporter_null_values counter",
                "# TYPE arroyo_exporter_stale_series_dropped counter",
                "# TYPE process_start_time_seconds gauge",
            ]
        );
        assert!(om.starts_with("# TYPE arroyo_up gauge\n"));
        assert!(om.contains("\narroyo_up 0\n"));
        assert!(om.ends_with("\n# EOF\n"));
        assert!(!render_str(&snap, Format::Text004).contains("EOF"));
    }

    #[test]
    fn subtask_series_can_be_turned_off() {
        let mut snap = small_snapshot();
        snap.subtask_series = false;
        for format in [Format::OpenMetrics, Format::Text004] {
            let text = render_str(&snap, format);
            assert!(!text.contains("arroyo_subtask_"));
            assert!(text.contains("arroyo_operator_sent_messages_per_second{"));
        }
    }

    #[test]
    fn job_labels_and_scrape_success_per_outcome() {
        let snap = Snapshot {
            jobs: vec![
                job("a", None, MetricsOutcome::NoMetrics),
                job("b", None, MetricsOutcome::Failed("connect")),
                job("c", None, MetricsOutcome::Skipped),
                job("d", None, ok(vec![])),
            ],
            ..Snapshot::default()
        };
        let text = render_str(&snap, Format::OpenMetrics);
        assert_eq!(
            lines_of(&text, "arroyo_exporter_job_scrape_success"),
            [
                r#"arroyo_exporter_job_scrape_success{job_id="a",pipeline_id="",pipeline_name=""} 1"#,
                r#"arroyo_exporter_job_scrape_success{job_id="b",pipeline_id="",pipeline_name=""} 0"#,
                r#"arroyo_exporter_job_scrape_success{job_id="d",pipeline_id="",pipeline_name=""} 1"#,
            ]
        );
        // No points, no timestamp family.
        assert!(!text.contains("arroyo_job_metrics_last_sample_timestamp_seconds"));
    }

    #[test]
    fn last_sample_timestamp_keeps_microseconds() {
        let snap = Snapshot {
            jobs: vec![job(
                "j",
                None,
                ok(vec![sample(
                    "0",
                    0,
                    MetricKind::BytesSent,
                    1_732_530_000_123_456,
                    1.0,
                )]),
            )],
            ..Snapshot::default()
        };
        let text = render_str(&snap, Format::OpenMetrics);
        assert!(text.contains(
            "arroyo_job_metrics_last_sample_timestamp_seconds{job_id=\"j\",pipeline_id=\"\",pipeline_name=\"\"} 1732530000.123456\n"
        ));
    }

    #[test]
    fn writer_stateset_info_and_empty_families() {
        let states = [("Running", true), ("Stopped", false), ("Wëird\"", false)];
        let labels = [("job_id", "j\n1")];

        let mut om = Vec::new();
        let mut w = Writer::new(&mut om, Format::OpenMetrics);
        w.family(
            "empty",
            "never written",
            MetricType::Gauge,
            Some("x").filter(|_| false),
        );
        w.family("arroyo_job_state", "State.", MetricType::StateSet, None);
        w.state_set(&labels, states);
        w.family("arroyo_job_failure", "Failure.", MetricType::Info, None);
        w.info(&[("domain", "user")]);
        w.family(
            "also_empty_total_less",
            "never written",
            MetricType::Counter,
            None,
        );
        w.finish();
        assert_eq!(
            String::from_utf8(om).unwrap(),
            concat!(
                "# TYPE arroyo_job_state stateset\n",
                "# HELP arroyo_job_state State.\n",
                "arroyo_job_state{job_id=\"j\\n1\",arroyo_job_state=\"Running\"} 1\n",
                "arroyo_job_state{job_id=\"j\\n1\",arroyo_job_state=\"Stopped\"} 0\n",
                "arroyo_job_state{job_id=\"j\\n1\",arroyo_job_state=\"Wëird\\\"\"} 0\n",
                "# TYPE arroyo_job_failure info\n",
                "# HELP arroyo_job_failure Failure.\n",
                "arroyo_job_failure_info{domain=\"user\"} 1\n",
                "# EOF\n",
            )
        );

        let mut text = Vec::new();
        let mut w = Writer::new(&mut text, Format::Text004);
        assert_eq!(w.format(), Format::Text004);
        w.family("arroyo_job_state", "State.", MetricType::StateSet, None);
        w.state_set(&[], [("Running", true)]);
        w.family("arroyo_job_failure", "Failure.", MetricType::Info, None);
        w.info(&[]);
        w.family("u", "Untyped.", MetricType::Unknown, None);
        w.sample(&[], -3_i64);
        w.finish();
        assert_eq!(
            String::from_utf8(text).unwrap(),
            concat!(
                "# HELP arroyo_job_state State.\n",
                "# TYPE arroyo_job_state gauge\n",
                "arroyo_job_state{arroyo_job_state=\"Running\"} 1\n",
                "# HELP arroyo_job_failure_info Failure.\n",
                "# TYPE arroyo_job_failure_info gauge\n",
                "arroyo_job_failure_info 1\n",
                "# HELP u Untyped.\n",
                "# TYPE u untyped\n",
                "u -3\n",
            )
        );
    }

    #[test]
    fn name_checks() {
        assert!(is_label_name("job_id"));
        assert!(is_label_name("_x9"));
        assert!(!is_label_name("9x"));
        assert!(!is_label_name("a:b"));
        assert!(!is_label_name("ä"));
        assert!(!is_label_name(""));
        assert!(is_metric_name("a:b_c"));
        assert!(!is_metric_name("a-b"));
        assert!(!is_metric_name(""));
    }
}
