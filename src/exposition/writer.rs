//! The generic exposition writer: the two text formats (OpenMetrics 1.0.0 and
//! Prometheus text 0.0.4), the choice between them from an `Accept` header, family
//! headers, escaping, number syntax and name checks. It knows nothing of Arroyo.
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
//! [`Writer`] knows both formats' rules for family headers (`# TYPE`, `# UNIT`,
//! `# HELP`), counter / info / stateset naming, escaping and number syntax; the
//! renderer and every collector add their families through it.

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

#[cfg(test)]
mod tests {
    use super::*;

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
            // curl with the header; spacing and case do not matter.
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
