//! The exposition checked by parsers that share no code with it.
//!
//! Every rendering here must pass:
//! - OpenMetrics 1.0.0: the Python reference client's parser
//!   (`prometheus_client.openmetrics.parser`, run in a `python3` child process) and a
//!   strict checker of the OpenMetrics ABNF and its family rules, written below from the
//!   specification;
//! - Prometheus text 0.0.4: `promtool check metrics` (Prometheus's own Go parser and
//!   linter) and a strict checker of the format, below.
//!
//! The Python package and promtool are required: a missing one fails the tests with
//! the command that installs it (`pip install prometheus_client`,
//! `apt-get install -y prometheus`); nothing is skipped.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};

use arroyo_exporter::arroyo::error::ErrorKind;
use arroyo_exporter::exposition::{render, Format, MetricType, Writer};
use arroyo_exporter::model::{
    ArroyoBuild, CheckpointDetails, CheckpointPhase, CollectorStatus, Edge, ErrorCount,
    ExporterStats, Job, JobErrorCounts, JobMetrics, JobSnapshot, MetricKind, MetricsOutcome,
    Operator, OperatorCheckpoint, Pipeline, Point, ReloadStatus, Snapshot, SubtaskSample,
};
use proptest::prelude::*;
use proptest::sample::select;

// ---------------------------------------------------------------------------------------
// A strict OpenMetrics 1.0.0 checker.

/// One sample as a parser saw it: name, labels in written order (unescaped), value text.
#[derive(Debug, Clone, PartialEq)]
struct ParsedSample {
    name: String,
    labels: Vec<(String, String)>,
    value: String,
}

/// One family as a parser saw it.
#[derive(Debug, Clone, Default)]
struct ParsedFamily {
    name: String,
    kind: Option<String>,
    unit: Option<String>,
    help: Option<String>,
    samples: Vec<ParsedSample>,
}

/// A cursor over one line.
struct Cursor<'a> {
    rest: &'a str,
}

impl<'a> Cursor<'a> {
    fn eat(&mut self, s: &str) -> bool {
        match self.rest.strip_prefix(s) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    fn expect(&mut self, s: &str) -> Result<(), String> {
        if self.eat(s) {
            Ok(())
        } else {
            Err(format!("expected {s:?} at {:?}", self.rest))
        }
    }

    fn take_while(&mut self, f: impl Fn(usize, char) -> bool) -> &'a str {
        let end = self
            .rest
            .char_indices()
            .enumerate()
            .find(|&(n, (_, c))| !f(n, c))
            .map(|(_, (i, _))| i)
            .unwrap_or(self.rest.len());
        let (taken, rest) = self.rest.split_at(end);
        self.rest = rest;
        taken
    }

    fn metric_name(&mut self) -> Result<&'a str, String> {
        let name = self.take_while(|n, c| {
            c.is_ascii_alphabetic() || c == '_' || c == ':' || (n > 0 && c.is_ascii_digit())
        });
        if name.is_empty() {
            Err(format!("expected a metric name at {:?}", self.rest))
        } else {
            Ok(name)
        }
    }

    fn label_name(&mut self) -> Result<&'a str, String> {
        let name = self.take_while(|n, c| {
            c.is_ascii_alphabetic() || c == '_' || (n > 0 && c.is_ascii_digit())
        });
        if name.is_empty() {
            Err(format!("expected a label name at {:?}", self.rest))
        } else {
            Ok(name)
        }
    }

    /// An escaped string up to (not including) a closing `"` when `quoted`, else to
    /// the end. `quote_escape`: whether `\"` is an escape; `bare_quote`: whether a bare
    /// `"` may appear (only in unquoted text).
    fn escaped(&mut self, quoted: bool, quote_escape: bool) -> Result<String, String> {
        let mut out = String::new();
        let mut chars = self.rest.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' if quoted => {
                    self.rest = &self.rest[i..];
                    return Ok(out);
                }
                '"' if quote_escape => return Err("bare '\"' in escaped text".into()),
                '\n' => return Err("raw newline in escaped text".into()),
                '\\' => match chars.next() {
                    Some((_, '\\')) => out.push('\\'),
                    Some((_, 'n')) => out.push('\n'),
                    Some((_, '"')) if quote_escape => out.push('"'),
                    other => return Err(format!("invalid escape \\{other:?}")),
                },
                c => out.push(c),
            }
        }
        if quoted {
            Err("unterminated quoted string".into())
        } else {
            self.rest = "";
            Ok(out)
        }
    }

    fn labels(&mut self) -> Result<Vec<(String, String)>, String> {
        let mut labels = Vec::new();
        if !self.eat("{") {
            return Ok(labels);
        }
        if self.eat("}") {
            return Ok(labels);
        }
        loop {
            let name = self.label_name()?.to_string();
            self.expect("=\"")?;
            let value = self.escaped(true, true)?;
            self.expect("\"")?;
            if labels.iter().any(|(n, _)| *n == name) {
                return Err(format!("label {name} twice"));
            }
            labels.push((name, value));
            if self.eat("}") {
                return Ok(labels);
            }
            self.expect(",")?;
        }
    }
}

/// OpenMetrics `realnumber`: `[sign] (1*DIGIT ["." *DIGIT] / *DIGIT "." 1*DIGIT)
/// ["e" [sign] 1*DIGIT]`, case-insensitive `e`.
fn is_realnumber(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = digits(int)
        && frac.is_none_or(digits)
        && (!int.is_empty() || frac.is_some_and(|f| !f.is_empty()));
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    mantissa_ok && exponent_ok
}

fn is_openmetrics_number(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    let unsigned = lower.strip_prefix(['+', '-']).unwrap_or(&lower);
    is_realnumber(s) || unsigned == "inf" || unsigned == "infinity" || lower == "nan"
}

fn parse_value(s: &str) -> f64 {
    s.parse::<f64>()
        .unwrap_or_else(|e| panic!("value {s:?} does not parse: {e}"))
}

/// Sample-name suffixes each OpenMetrics type allows (first one: what we write).
fn type_suffixes(kind: &str) -> &'static [&'static str] {
    match kind {
        "counter" => &["_total", "_created"],
        "info" => &["_info"],
        "summary" => &["", "_count", "_sum", "_created"],
        "histogram" => &["_count", "_sum", "_bucket", "_created"],
        "gaugehistogram" => &["_gcount", "_gsum", "_bucket"],
        _ => &[""],
    }
}

/// Checks `text` against the OpenMetrics 1.0.0 ABNF and family rules, plus the house
/// rules of this exporter (every family has TYPE and HELP; no timestamps; no
/// exemplars). Returns the families.
fn check_openmetrics(text: &str) -> Result<Vec<ParsedFamily>, String> {
    let body = text
        .strip_suffix("# EOF\n")
        .ok_or("does not end with \"# EOF\\n\"")?;
    if !(body.is_empty() || body.ends_with('\n')) {
        return Err("# EOF is not on its own line".into());
    }
    let mut families: Vec<ParsedFamily> = Vec::new();
    let mut names: HashSet<String> = HashSet::new();
    for (n, line) in body.lines().enumerate() {
        let at = |e: String| format!("line {}: {e}: {line:?}", n + 1);
        if line.is_empty() {
            return Err(at("blank line".into()));
        }
        let mut c = Cursor { rest: line };
        if c.eat("#") {
            c.expect(" ").map_err(at)?;
            let keyword = c.take_while(|_, ch| ch.is_ascii_uppercase());
            c.expect(" ").map_err(at)?;
            let name = c.metric_name().map_err(at)?.to_string();
            let fresh = families.last().is_none_or(|f| f.name != name);
            if fresh {
                if !names.insert(name.clone()) {
                    return Err(at(format!("family {name} appears twice")));
                }
                families.push(ParsedFamily {
                    name: name.clone(),
                    ..ParsedFamily::default()
                });
            }
            let family = families.last_mut().ok_or("no family")?;
            if !family.samples.is_empty() {
                return Err(at("metadata after samples".into()));
            }
            match keyword {
                "TYPE" => {
                    c.expect(" ").map_err(at)?;
                    let kind = c.rest;
                    let known = [
                        "counter",
                        "gauge",
                        "histogram",
                        "gaugehistogram",
                        "stateset",
                        "info",
                        "summary",
                        "unknown",
                    ];
                    if !known.contains(&kind) {
                        return Err(at(format!("unknown type {kind:?}")));
                    }
                    if family.kind.replace(kind.to_string()).is_some() {
                        return Err(at("second TYPE".into()));
                    }
                }
                "UNIT" => {
                    c.expect(" ").map_err(at)?;
                    let unit =
                        c.take_while(|_, ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == ':');
                    if !c.rest.is_empty() {
                        return Err(at("bad unit".into()));
                    }
                    if family.unit.replace(unit.to_string()).is_some() {
                        return Err(at("second UNIT".into()));
                    }
                }
                "HELP" => {
                    c.expect(" ").map_err(at)?;
                    let help = c.escaped(false, true).map_err(at)?;
                    if family.help.replace(help).is_some() {
                        return Err(at("second HELP".into()));
                    }
                }
                other => return Err(at(format!("unknown descriptor {other:?}"))),
            }
            continue;
        }
        let name = c.metric_name().map_err(at)?.to_string();
        let labels = c.labels().map_err(at)?;
        c.expect(" ").map_err(at)?;
        let value = c.take_while(|_, ch| ch != ' ').to_string();
        if !c.rest.is_empty() {
            return Err(at("timestamp, exemplar or trailing text".into()));
        }
        if !is_openmetrics_number(&value) {
            return Err(at(format!("bad number {value:?}")));
        }
        let family = families
            .last_mut()
            .ok_or_else(|| at("sample before any TYPE".into()))?;
        let kind = family
            .kind
            .clone()
            .ok_or_else(|| at("sample of a family without TYPE".into()))?;
        let suffix = name.strip_prefix(family.name.as_str()).unwrap_or("\u{0}");
        if !type_suffixes(&kind).contains(&suffix) {
            return Err(at(format!(
                "sample {name} does not belong to {kind} {}",
                family.name
            )));
        }
        let v = parse_value(&value);
        match kind.as_str() {
            "counter" if v.is_nan() || v < 0.0 => return Err(at("counter NaN or negative".into())),
            "info" if v != 1.0 => return Err(at("info value is not 1".into())),
            "stateset" if v != 0.0 && v != 1.0 => return Err(at("stateset value not 0/1".into())),
            "stateset" if !labels.iter().any(|(n, _)| *n == family.name) => {
                return Err(at("stateset sample without its state label".into()))
            }
            _ => {}
        }
        let mut key: Vec<_> = labels.clone();
        key.sort();
        if family.samples.iter().any(|s| {
            s.name == name && {
                let mut k = s.labels.clone();
                k.sort();
                k == key
            }
        }) {
            return Err(at("series appears twice".into()));
        }
        family.samples.push(ParsedSample {
            name,
            labels,
            value,
        });
    }
    let mut owner: HashMap<String, &str> = HashMap::new();
    for f in &families {
        let kind = f.kind.as_deref().ok_or(format!("{}: no TYPE", f.name))?;
        if f.help.is_none() {
            return Err(format!("{}: no HELP", f.name));
        }
        if let Some(unit) = f.unit.as_deref().filter(|u| !u.is_empty()) {
            if !f.name.ends_with(&format!("_{unit}")) {
                return Err(format!("{}: unit {unit} is not its suffix", f.name));
            }
            if kind == "info" || kind == "stateset" {
                return Err(format!("{}: unit on {kind}", f.name));
            }
        }
        // A family owns its name and the sample names its type can produce.
        let owned: BTreeSet<String> = type_suffixes(kind)
            .iter()
            .chain(&[""])
            .map(|suffix| format!("{}{suffix}", f.name))
            .collect();
        for n in owned {
            if let Some(other) = owner.insert(n.clone(), &f.name) {
                return Err(format!("{}: name {n} clashes with family {other}", f.name));
            }
        }
    }
    Ok(families)
}

// ---------------------------------------------------------------------------------------
// A strict Prometheus text 0.0.4 checker.

/// Checks `text` against the text format 0.0.4 (as Prometheus's Go parser reads it)
/// plus the house rules: HELP and TYPE before each family's samples, families
/// contiguous, sample names equal to the family name, unique series, no timestamps.
fn check_text004(text: &str) -> Result<Vec<ParsedFamily>, String> {
    if !text.ends_with('\n') {
        return Err("no final newline".into());
    }
    let mut families: Vec<ParsedFamily> = Vec::new();
    let mut names: HashSet<String> = HashSet::new();
    for (n, line) in text.lines().enumerate() {
        let at = |e: String| format!("line {}: {e}: {line:?}", n + 1);
        let mut c = Cursor { rest: line };
        if c.eat("# ") {
            let keyword = c.take_while(|_, ch| ch.is_ascii_uppercase());
            c.expect(" ").map_err(at)?;
            let name = c.metric_name().map_err(at)?.to_string();
            if families.last().is_none_or(|f| f.name != name) {
                if !names.insert(name.clone()) {
                    return Err(at(format!("family {name} appears twice")));
                }
                families.push(ParsedFamily {
                    name: name.clone(),
                    ..ParsedFamily::default()
                });
            }
            let family = families.last_mut().ok_or("no family")?;
            if !family.samples.is_empty() {
                return Err(at("HELP/TYPE after samples".into()));
            }
            match keyword {
                "HELP" => {
                    c.expect(" ").map_err(at)?;
                    let help = c.escaped(false, false).map_err(at)?;
                    if family.help.replace(help).is_some() {
                        return Err(at("second HELP".into()));
                    }
                }
                "TYPE" => {
                    c.expect(" ").map_err(at)?;
                    let kind = c.rest;
                    if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                        return Err(at(format!("unknown type {kind:?}")));
                    }
                    if family.kind.replace(kind.to_string()).is_some() {
                        return Err(at("second TYPE".into()));
                    }
                }
                other => return Err(at(format!("unexpected comment {other:?}"))),
            }
            continue;
        }
        let name = c.metric_name().map_err(at)?.to_string();
        let labels = c.labels().map_err(at)?;
        c.expect(" ").map_err(at)?;
        let value = c.take_while(|_, ch| ch != ' ').to_string();
        if !c.rest.is_empty() {
            return Err(at("timestamp or trailing text".into()));
        }
        let lower = value.to_ascii_lowercase();
        if !(is_realnumber(&value) || ["nan", "+inf", "-inf", "inf"].contains(&lower.as_str())) {
            return Err(at(format!("bad number {value:?}")));
        }
        let family = families
            .last_mut()
            .filter(|f| f.name == name)
            .ok_or_else(|| at("sample without its HELP/TYPE right before".into()))?;
        let kind = family.kind.as_deref().ok_or_else(|| at("no TYPE".into()))?;
        let v = parse_value(&value);
        if kind == "counter" && (v.is_nan() || v < 0.0) {
            return Err(at("counter NaN or negative".into()));
        }
        let mut key = labels.clone();
        key.sort();
        if family.samples.iter().any(|s| {
            let mut k = s.labels.clone();
            k.sort();
            k == key
        }) {
            return Err(at("series appears twice".into()));
        }
        family.samples.push(ParsedSample {
            name,
            labels,
            value,
        });
    }
    for f in &families {
        if f.help.is_none() || f.kind.is_none() {
            return Err(format!("{}: HELP or TYPE missing", f.name));
        }
    }
    Ok(families)
}

// ---------------------------------------------------------------------------------------
// The Python reference parser, in one long-lived child process.

const PY_CHECKER: &str = r#"
import json, sys
try:
    from prometheus_client.openmetrics.parser import text_string_to_metric_families
except Exception as e:
    sys.stdout.write(json.dumps({"fatal": repr(e)}) + "\n")
    sys.stdout.flush()
    sys.exit(0)
sys.stdout.write(json.dumps({"ready": True}) + "\n")
sys.stdout.flush()
inp = sys.stdin.buffer
while True:
    header = inp.readline()
    if not header:
        break
    doc = inp.read(int(header)).decode("utf-8")
    try:
        fams = []
        for f in text_string_to_metric_families(doc):
            fams.append({"name": f.name, "type": f.type, "unit": f.unit, "help": f.documentation,
                         "samples": [[s.name, s.labels, repr(s.value), s.timestamp is not None,
                                      s.exemplar is not None] for s in f.samples]})
        out = {"ok": fams}
    except Exception as e:
        out = {"error": type(e).__name__ + ": " + str(e)}
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
"#;

struct PyChecker {
    _child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl PyChecker {
    fn start() -> PyChecker {
        let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_string());
        let mut child = Command::new(&python)
            .args(["-c", PY_CHECKER])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("`{python}` is required for the OpenMetrics check and did not start: {e}")
            });
        let stdin = child.stdin.take().expect("piped stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("read from python");
        let hello: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("python checker said {line:?} ({e})"));
        if let Some(fatal) = hello.get("fatal") {
            panic!(
                "the Python package prometheus_client is required for the OpenMetrics check \
                 (pip install prometheus_client): {fatal}"
            );
        }
        PyChecker {
            _child: child,
            stdin,
            stdout,
        }
    }

    /// Parses `text`; the families or the parser's error.
    fn parse(&mut self, text: &str) -> Result<Vec<ParsedFamily>, String> {
        writeln!(self.stdin, "{}", text.len()).expect("write to python");
        self.stdin
            .write_all(text.as_bytes())
            .expect("write to python");
        self.stdin.flush().expect("write to python");
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("read from python");
        let answer: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("python said {line:?} ({e})"));
        if let Some(error) = answer.get("error") {
            return Err(error.as_str().unwrap_or("?").to_string());
        }
        let families = answer["ok"].as_array().expect("families").iter();
        Ok(families
            .map(|f| ParsedFamily {
                name: f["name"].as_str().unwrap_or_default().to_string(),
                kind: f["type"].as_str().map(str::to_string),
                unit: f["unit"].as_str().map(str::to_string),
                help: f["help"].as_str().map(str::to_string),
                samples: f["samples"]
                    .as_array()
                    .expect("samples")
                    .iter()
                    .map(|s| {
                        assert_eq!(s[3], false, "python saw a timestamp");
                        assert_eq!(s[4], false, "python saw an exemplar");
                        ParsedSample {
                            name: s[0].as_str().unwrap_or_default().to_string(),
                            labels: s[1]
                                .as_object()
                                .expect("labels")
                                .iter()
                                .map(|(k, v)| {
                                    (k.clone(), v.as_str().unwrap_or_default().to_string())
                                })
                                .collect(),
                            value: s[2].as_str().unwrap_or_default().to_string(),
                        }
                    })
                    .collect(),
            })
            .collect())
    }
}

fn python() -> &'static Mutex<PyChecker> {
    static PY: OnceLock<Mutex<PyChecker>> = OnceLock::new();
    PY.get_or_init(|| Mutex::new(PyChecker::start()))
}

fn python_parse(text: &str) -> Result<Vec<ParsedFamily>, String> {
    python()
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .parse(text)
}

// ---------------------------------------------------------------------------------------
// promtool.

/// `promtool check metrics` on `text`: Ok when it parses and lints clean.
fn promtool_check(text: &str) -> Result<(), String> {
    let promtool = std::env::var("PROMTOOL").unwrap_or_else(|_| "promtool".to_string());
    let mut child = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "`{promtool}` is required for the text 0.0.4 check \
                 (apt-get install -y prometheus): {e}"
            )
        });
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = text.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output().expect("promtool ran");
    writer
        .join()
        .expect("writer thread")
        .expect("write to promtool");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if output.status.success() && said.trim().is_empty() {
        Ok(())
    } else {
        Err(format!("promtool: {} {said}", output.status))
    }
}

// ---------------------------------------------------------------------------------------
// What to expect from a snapshot, derived here independently of the renderer.

fn expected_operator_name(description: &str) -> String {
    if description.chars().count() <= 128 {
        description.to_string()
    } else {
        description.chars().take(127).chain(['…']).collect()
    }
}

fn subtask_family(kind: MetricKind) -> &'static str {
    match kind {
        MetricKind::MessagesRecv => "arroyo_subtask_received_messages_per_second",
        MetricKind::MessagesSent => "arroyo_subtask_sent_messages_per_second",
        MetricKind::BytesRecv => "arroyo_subtask_received_bytes_per_second",
        MetricKind::BytesSent => "arroyo_subtask_sent_bytes_per_second",
        MetricKind::Backpressure => "arroyo_subtask_backpressure_ratio",
    }
}

fn operator_family(kind: MetricKind) -> String {
    subtask_family(kind).replace("arroyo_subtask_", "arroyo_operator_")
}

type SeriesKey = (String, Vec<(String, String)>);

/// Expected subtask and operator series: (sample name, sorted labels) → value.
fn expected_rates(snapshot: &Snapshot) -> BTreeMap<SeriesKey, f64> {
    let mut expected = BTreeMap::new();
    let mut seen_jobs = HashSet::new();
    for j in &snapshot.jobs {
        if !seen_jobs.insert(j.job.id.clone()) {
            continue;
        }
        let MetricsOutcome::Ok(metrics) = &j.metrics else {
            continue;
        };
        let pipeline_id = match (&j.pipeline, &j.job.pipeline_id) {
            (Some(p), _) => p.id.clone(),
            (None, Some(id)) => id.clone(),
            (None, None) => String::new(),
        };
        let pipeline_name = j
            .pipeline
            .as_ref()
            .map(|p| p.name.clone())
            .unwrap_or_default();
        let operator_name = |node: &str| {
            j.pipeline
                .as_ref()
                .and_then(|p| p.operators.get(node))
                .map(|op| expected_operator_name(&op.description))
                .unwrap_or_default()
        };
        // Newest point per series; the first of equally new ones.
        let mut newest: BTreeMap<(MetricKind, String, u32), Point> = BTreeMap::new();
        for s in &metrics.samples {
            let key = (s.kind, s.node_id.clone(), s.subtask_idx);
            match newest.get(&key) {
                Some(p) if p.time_micros >= s.point.time_micros => {}
                _ => {
                    newest.insert(key, s.point);
                }
            }
        }
        let base = |node: &str| {
            vec![
                ("job_id".to_string(), j.job.id.clone()),
                ("pipeline_id".to_string(), pipeline_id.clone()),
                ("pipeline_name".to_string(), pipeline_name.clone()),
                ("node_id".to_string(), node.to_string()),
                ("operator_name".to_string(), operator_name(node)),
            ]
        };
        // BTreeMap order: by kind, node, then subtask index ascending.
        let mut operators: BTreeMap<(MetricKind, String), f64> = BTreeMap::new();
        for ((kind, node, subtask), point) in &newest {
            if snapshot.subtask_series {
                let mut labels = base(node);
                labels.push(("subtask_idx".to_string(), subtask.to_string()));
                labels.sort();
                expected.insert((subtask_family(*kind).to_string(), labels), point.value);
            }
            operators
                .entry((*kind, node.clone()))
                .and_modify(|v| {
                    *v = if *kind == MetricKind::Backpressure {
                        v.max(point.value)
                    } else {
                        *v + point.value
                    }
                })
                .or_insert(point.value);
        }
        for ((kind, node), value) in operators {
            let mut labels = base(&node);
            labels.sort();
            expected.insert((operator_family(kind), labels), value);
        }
    }
    expected
}

fn label<'s>(sample: &'s ParsedSample, name: &str) -> &'s str {
    sample
        .labels
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no label {name} on {sample:?}"))
}

fn same_value(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
}

/// Checks both renderings of `snapshot` with every parser and against the expected
/// series.
fn check_snapshot(snapshot: &Snapshot) -> Result<(), String> {
    let mut om = Vec::new();
    render(snapshot, Format::OpenMetrics, &mut om);
    let om = String::from_utf8(om).map_err(|e| e.to_string())?;
    let mut text = Vec::new();
    render(snapshot, Format::Text004, &mut text);
    let text = String::from_utf8(text).map_err(|e| e.to_string())?;

    check_openmetrics(&om).map_err(|e| format!("strict OpenMetrics check: {e}\n{om}"))?;
    let families = python_parse(&om).map_err(|e| format!("prometheus_client: {e}\n{om}"))?;
    check_text004(&text).map_err(|e| format!("strict 0.0.4 check: {e}\n{text}"))?;
    promtool_check(&text).map_err(|e| format!("{e}\n{text}"))?;

    // Both formats carry the same sample lines; only the descriptors differ.
    let samples = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| !l.starts_with('#'))
            .map(str::to_string)
            .collect()
    };
    if samples(&om) != samples(&text) {
        return Err("sample lines differ between the formats".into());
    }

    // Values and label values survive the trip through a foreign parser.
    let expected = expected_rates(snapshot);
    let mut got: BTreeMap<SeriesKey, f64> = BTreeMap::new();
    for f in &families {
        let rate_family = (f.name.starts_with("arroyo_subtask_")
            || f.name.starts_with("arroyo_operator_"))
            && !matches!(
                f.name.as_str(),
                "arroyo_operator_parallelism"
                    | "arroyo_operator_edge"
                    | "arroyo_operator_bottleneck"
            )
            && !f.name.starts_with("arroyo_operator_last_checkpoint_");
        if !rate_family {
            continue;
        }
        for s in &f.samples {
            let mut labels = s.labels.clone();
            labels.sort();
            got.insert((s.name.clone(), labels), parse_value(&s.value));
        }
    }
    if got.len() != expected.len() {
        return Err(format!(
            "{} rate series, expected {}\n{om}",
            got.len(),
            expected.len()
        ));
    }
    for (key, want) in &expected {
        match got.get(key) {
            Some(v) if same_value(*v, *want) => {}
            other => return Err(format!("{key:?}: got {other:?}, expected {want}\n{om}")),
        }
    }
    let build: Vec<&ParsedSample> = families
        .iter()
        .filter(|f| f.name == "arroyo_exporter_build")
        .flat_map(|f| &f.samples)
        .collect();
    let want_build = vec![
        ("revision".to_string(), snapshot.exporter.revision.clone()),
        ("version".to_string(), snapshot.exporter.version.clone()),
    ];
    match build.as_slice() {
        [s] if s.name == "arroyo_exporter_build_info" && {
            let mut l = s.labels.clone();
            l.sort();
            l == want_build
        } => {}
        other => return Err(format!("build info: {other:?}")),
    }
    // Bottleneck values are 0 or 1.
    for f in families
        .iter()
        .filter(|f| f.name == "arroyo_operator_bottleneck")
    {
        for s in &f.samples {
            if !matches!(s.value.as_str(), "0" | "1") {
                return Err(format!("bottleneck value {:?}", s.value));
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Fixed cases.

fn nasty_snapshot() -> Snapshot {
    let nodes = [
        ("0", "Nexmark<200 eps>"),
        ("1", "nexmark -> watermark -> ArrowKey<_>"),
        (
            "4",
            "say \"hi\" \\ then\nnewline, {braces}=\"x\" # not a comment",
        ),
        ("6", "ünïcödé 🎉 日本語 e\u{301}"),
        ("source_1", ""),
    ];
    let long = "Tumbling\"Window\\ ".repeat(20);
    let pipeline = Arc::new(Pipeline {
        id: "pl_\"q\"\\".to_string(),
        name: "orders \"eu\"\\west\nline2 ☃".to_string(),
        operators: nodes
            .iter()
            .map(|(id, d)| (id.to_string(), d.to_string()))
            .chain([("9".to_string(), long)])
            .map(|(id, description)| {
                (
                    id.clone(),
                    Operator {
                        node_id: id,
                        operator: "chained_op".to_string(),
                        description,
                        parallelism: 2,
                    },
                )
            })
            .collect(),
        edges: [
            ("source_1", "0", "Forward"),
            ("0", "1", "Sh\"uf\\fle\n"),
            ("1", "4", ""),
            ("4", "6", "Forward"),
            ("6", "9\"\\\n", "Forward"),
        ]
        .iter()
        .map(|(src, dst, edge_type)| Edge {
            src_node_id: src.to_string(),
            dst_node_id: dst.to_string(),
            edge_type: edge_type.to_string(),
        })
        .collect(),
        ..Pipeline::default()
    });
    let mut samples = Vec::new();
    let values = [
        0.0,
        -0.0,
        1.5,
        1e300,
        1e-7,
        -3.25,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::MIN_POSITIVE / 4.0,
        f64::MAX,
        123456789.125,
    ];
    let mut i = 0;
    for node in ["0", "1", "4", "6", "9", "source_1", "unknown\"node"] {
        for subtask in [0, 1, 10] {
            for kind in MetricKind::ALL {
                samples.push(SubtaskSample {
                    node_id: node.to_string(),
                    subtask_idx: subtask,
                    kind,
                    point: Point {
                        time_micros: 1_732_530_000_000_000 + i as u64 * 1_000_001,
                        value: values[i % values.len()],
                    },
                });
                i += 1;
            }
        }
    }
    Snapshot {
        up: true,
        jobs: vec![
            JobSnapshot {
                job: Job {
                    id: "job_\"1\"\n".to_string(),
                    state: "Running".to_string(),
                    ..Job::default()
                },
                pipeline: Some(pipeline),
                metrics: MetricsOutcome::Ok(JobMetrics {
                    samples,
                    unknown_metric_groups: 2,
                    null_values: 3,
                }),
            },
            JobSnapshot {
                job: Job {
                    id: "job_2".to_string(),
                    pipeline_id: Some("pl\\2".to_string()),
                    ..Job::default()
                },
                pipeline: None,
                metrics: MetricsOutcome::Failed(ErrorKind::GrpcUnavailable),
            },
        ],
        collectors: vec![
            CollectorStatus {
                name: "job_metrics",
                success: true,
                duration_seconds: 0.012,
            },
            CollectorStatus {
                name: "dis\"co\\very\n",
                success: false,
                duration_seconds: f64::NAN,
            },
        ],
        subtask_series: true,
        job_families: true,
        topology: true,
        pipeline_tags: vec!["team".to_string(), "env \"x\"".to_string()],
        checkpoints: Default::default(),
        bottleneck_threshold: Default::default(),
        checkpoint_details: [(
            "job_\"1\"\n".to_string(),
            std::sync::Arc::new(CheckpointDetails {
                epoch: 3,
                operators: vec![
                    OperatorCheckpoint {
                        operator_id: "value_1".to_string(),
                        bytes: u64::MAX,
                        phase_seconds: [(CheckpointPhase::Sync, 1e-6)].into(),
                    },
                    OperatorCheckpoint {
                        operator_id: "op \"\\\n".to_string(),
                        bytes: 7,
                        phase_seconds: [(CheckpointPhase::Committing, 2.5)].into(),
                    },
                ],
            }),
        )]
        .into(),
        job_errors: [(
            "job_2".to_string(),
            JobErrorCounts {
                counts: [(("user".to_string(), "o\"p\n".to_string()), u64::MAX)].into(),
                last_error_seconds: Some(1_795_608_670.000001),
            },
        )]
        .into(),
        arroyo_build: Some(ArroyoBuild {
            service: "cluster".to_string(),
            version: "0.16.0-\"dev\"\n".to_string(),
            git_sha: "\\sha".to_string(),
        }),
        exporter: ExporterStats {
            version: "0.1.0-\"dev\"".to_string(),
            revision: "abc\\123\n".to_string(),
            scrapes_total: u64::MAX,
            upstream_errors: vec![ErrorCount {
                source: "controller",
                kind: "ti\"me\\out",
                count: 7,
            }],
            unknown_metric_groups_total: 2,
            null_values_total: 3,
            stale_series_dropped_total: 4,
            upstream_requests: vec![("controller", 9), ("api", 1)],
            start_time_seconds: 1_700_000_000.25,
            resident_memory_bytes: Some(123_456_789),
            cpu_seconds_total: Some(12.5),
            open_fds: Some(17),
            targets: vec![(
                "prod-eu_1".to_string(),
                ExporterStats {
                    scrapes_total: 3,
                    upstream_requests: vec![("api", 2), ("controller", 1)],
                    upstream_errors: vec![ErrorCount {
                        source: "api",
                        kind: "connect",
                        count: 1,
                    }],
                    ..ExporterStats::default()
                },
            )],
            reload: Some(ReloadStatus {
                successful: false,
                success_timestamp_seconds: 1_700_000_000.5,
            }),
        },
        scope: Default::default(),
        freshness: Default::default(),
    }
}

#[test]
fn nasty_snapshot_passes_every_parser() {
    check_snapshot(&nasty_snapshot()).unwrap_or_else(|e| panic!("{e}"));
    let mut off = nasty_snapshot();
    off.subtask_series = false;
    check_snapshot(&off).unwrap_or_else(|e| panic!("{e}"));
    check_snapshot(&Snapshot::default()).unwrap_or_else(|e| panic!("{e}"));
    // The escaped node ids reach the edge and bottleneck families too.
    let mut om = Vec::new();
    render(&nasty_snapshot(), Format::OpenMetrics, &mut om);
    let om = String::from_utf8(om).unwrap();
    let count = |prefix: &str| om.lines().filter(|l| l.starts_with(prefix)).count();
    assert_eq!(count("arroyo_operator_edge_info{"), 5, "{om}");
    assert_eq!(count("arroyo_operator_bottleneck{"), 6, "{om}");
    assert!(
        om.contains(r#"dst_node_id="9\"\\\n",edge_type="Forward"} 1"#),
        "{om}"
    );
}

#[test]
fn writer_stateset_and_info_families_pass_every_parser() {
    let states = [
        "Created",
        "Running",
        "Stopped",
        "Failed",
        "we\"ird\\state\n",
    ];
    let jobs = [("job_1", "Running"), ("job_\"2\"", "we\"ird\\state\n")];
    for format in [Format::OpenMetrics, Format::Text004] {
        let mut out = Vec::new();
        let mut w = Writer::new(&mut out, format);
        w.family(
            "arroyo_job_state",
            "Arroyo state of the job; \"quoted\" \\ help\nsecond line.",
            MetricType::StateSet,
            None,
        );
        for (job, state) in jobs {
            w.state_set(&[("job_id", job)], states.iter().map(|s| (*s, *s == state)));
        }
        w.family("arroyo_job_failure", "Failed job.", MetricType::Info, None);
        w.info(&[("job_id", "job_\"2\""), ("domain", "us\ner")]);
        w.family(
            "arroyo_job_last_checkpoint_duration_seconds",
            "Duration.",
            MetricType::Gauge,
            Some("seconds"),
        );
        w.sample(&[("job_id", "job_1")], 1.5);
        w.family(
            "arroyo_job_restarts",
            "Restarts.",
            MetricType::Counter,
            None,
        );
        w.sample(&[("job_id", "job_1")], 3_u64);
        w.finish();
        let text = String::from_utf8(out).expect("UTF-8");
        match format {
            Format::OpenMetrics => {
                check_openmetrics(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
                let families = python_parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
                let state = &families[0];
                assert_eq!(state.kind.as_deref(), Some("stateset"));
                assert_eq!(
                    state.help.as_deref(),
                    Some("Arroyo state of the job; \"quoted\" \\ help\nsecond line.")
                );
                assert_eq!(state.samples.len(), 10);
                assert_eq!(
                    label(&state.samples[9], "arroyo_job_state"),
                    "we\"ird\\state\n"
                );
                assert_eq!(label(&state.samples[9], "job_id"), "job_\"2\"");
                assert_eq!(state.samples[9].value, "1");
                assert_eq!(families[1].kind.as_deref(), Some("info"));
                assert_eq!(label(&families[1].samples[0], "domain"), "us\ner");
                assert_eq!(families[2].unit.as_deref(), Some("seconds"));
                assert_eq!(families[3].samples[0].name, "arroyo_job_restarts_total");
            }
            Format::Text004 => {
                let families = check_text004(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
                assert_eq!(
                    families.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
                    [
                        "arroyo_job_state",
                        "arroyo_job_failure_info",
                        "arroyo_job_last_checkpoint_duration_seconds",
                        "arroyo_job_restarts_total"
                    ]
                );
                promtool_check(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
            }
        }
    }
}

/// The checkers are only worth something if they reject what is wrong.
#[test]
fn the_checkers_reject_bad_text() {
    let good_om = "# TYPE a gauge\n# HELP a x\na{l=\"v\"} 1\n# EOF\n";
    check_openmetrics(good_om).expect("good");
    python_parse(good_om).expect("good");
    let bad_om = [
        ("no EOF", "# TYPE a gauge\n# HELP a x\na 1\n"),
        ("bare quote in HELP", "# TYPE a gauge\n# HELP a say \"x\"\na 1\n# EOF\n"),
        ("bad escape", "# TYPE a gauge\n# HELP a x\na{l=\"\\t\"} 1\n# EOF\n"),
        ("unescaped quote", "# TYPE a gauge\n# HELP a x\na{l=\"a\"b\"} 1\n# EOF\n"),
        ("duplicate series", "# TYPE a gauge\n# HELP a x\na 1\na 2\n# EOF\n"),
        ("family reopened", "# TYPE a gauge\n# HELP a x\na 1\n# TYPE b gauge\n# HELP b x\nb 1\n# TYPE a gauge\n# EOF\n"),
        ("counter without _total", "# TYPE a counter\n# HELP a x\na 1\n# EOF\n"),
        ("counter NaN", "# TYPE a counter\n# HELP a x\na_total NaN\n# EOF\n"),
        ("counter negative", "# TYPE a counter\n# HELP a x\na_total -1\n# EOF\n"),
        ("unit not a suffix", "# TYPE a gauge\n# UNIT a seconds\n# HELP a x\na 1\n# EOF\n"),
        ("info not 1", "# TYPE a info\n# HELP a x\na_info 2\n# EOF\n"),
        ("stateset without label", "# TYPE a stateset\n# HELP a x\na{b=\"c\"} 1\n# EOF\n"),
        ("timestamp", "# TYPE a gauge\n# HELP a x\na 1 123\n# EOF\n"),
        ("bad number", "# TYPE a gauge\n# HELP a x\na 1.2.3\n# EOF\n"),
        ("metadata after samples", "# TYPE a gauge\na 1\n# HELP a x\n# EOF\n"),
        ("blank line", "# TYPE a gauge\n# HELP a x\n\na 1\n# EOF\n"),
        ("text after EOF", "# TYPE a gauge\n# HELP a x\na 1\n# EOF\na 1\n"),
        ("label name", "# TYPE a gauge\n# HELP a x\na{1l=\"v\"} 1\n# EOF\n"),
    ];
    for (what, text) in bad_om {
        assert!(
            check_openmetrics(text).is_err(),
            "strict OpenMetrics check took {what}"
        );
    }
    // What the Python parser is known to reject too.
    for (what, text) in [
        bad_om[0], bad_om[3], bad_om[6], bad_om[7], bad_om[9], bad_om[10], bad_om[15],
    ] {
        assert!(python_parse(text).is_err(), "prometheus_client took {what}");
    }

    let good_text = "# HELP a say \"x\" \\\\\n# TYPE a gauge\na{l=\"v\"} 1\n";
    check_text004(good_text).expect("good");
    promtool_check(good_text).expect("good");
    let bad_text = [
        (
            "escaped quote in HELP",
            "# HELP a say \\\"x\\\"\n# TYPE a gauge\na 1\n",
        ),
        (
            "bad label escape",
            "# HELP a x\n# TYPE a gauge\na{l=\"\\t\"} 1\n",
        ),
        (
            "two TYPEs",
            "# HELP a x\n# TYPE a gauge\n# TYPE a gauge\na 1\n",
        ),
        (
            "family split",
            "# HELP a x\n# TYPE a gauge\na 1\n# HELP b x\n# TYPE b gauge\nb 1\na{l=\"1\"} 1\n",
        ),
        ("bad number", "# HELP a x\n# TYPE a gauge\na one\n"),
        (
            "counter without _total (promtool lint)",
            "# HELP a x\n# TYPE a counter\na 1\n",
        ),
    ];
    for (what, text) in &bad_text[..5] {
        assert!(
            check_text004(text).is_err(),
            "strict 0.0.4 check took {what}"
        );
    }
    for (what, text) in [
        bad_text[0],
        bad_text[1],
        bad_text[2],
        bad_text[4],
        bad_text[5],
    ] {
        assert!(promtool_check(text).is_err(), "promtool took {what}");
    }
}

// ---------------------------------------------------------------------------------------
// Random snapshots.

const NAMES: &[&str] = &[
    "discovery",
    "job_metrics",
    "controller",
    "api",
    "timeout",
    "a\"b",
    "back\\slash",
    "new\nline",
    "ünï 🎉",
    "",
];

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z_0-9]{0,8}",
        3 => "[\"\\\\\n\r\t a-zé🎉#{}=,]{0,12}",
        2 => prop::collection::vec(any::<char>(), 0..16).prop_map(String::from_iter),
        1 => prop::collection::vec(any::<char>(), 120..140).prop_map(String::from_iter),
    ]
}

fn node_id() -> impl Strategy<Value = String> {
    prop_oneof![3 => "[0-9]{1,3}", 1 => "0[0-9]", 1 => text()]
}

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => any::<f64>(),
        2 => -1e6_f64..1e6,
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(-0.0),
        1 => Just(1e300),
        1 => Just(1e-7),
        1 => Just(f64::MIN_POSITIVE / 8.0),
    ]
}

fn time() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0_u64),
        any::<u64>(),
        1_600_000_000_000_000_u64..1_800_000_000_000_000
    ]
}

fn job() -> impl Strategy<Value = JobSnapshot> {
    let nodes = prop::collection::vec((node_id(), text()), 0..4);
    let samples = prop::collection::vec(
        (0..6_usize, node_id(), 0..4_u32, 0..5_usize, time(), value()),
        0..14,
    );
    (
        prop_oneof![Just("job_dup".to_string()), text()],
        text(),
        prop::option::of(text()),
        any::<bool>(),
        text(),
        nodes,
        samples,
        0..4_u8,
        select(ErrorKind::ALL.to_vec()),
    )
        .prop_map(
            |(
                id,
                pipeline_id,
                job_pipeline_id,
                has_pipeline,
                name,
                nodes,
                samples,
                outcome,
                failure,
            )| {
                let samples = samples
                    .into_iter()
                    .map(
                        |(choice, stray, subtask_idx, kind, time_micros, value)| SubtaskSample {
                            node_id: nodes.get(choice).map(|n| n.0.clone()).unwrap_or(stray),
                            subtask_idx,
                            kind: MetricKind::ALL[kind],
                            point: Point { time_micros, value },
                        },
                    )
                    .collect();
                let pipeline = has_pipeline.then(|| {
                    let edges = nodes
                        .windows(2)
                        .map(|pair| Edge {
                            src_node_id: pair[0].0.clone(),
                            dst_node_id: pair[1].0.clone(),
                            edge_type: pair[1].1.clone(),
                        })
                        .collect();
                    Arc::new(Pipeline {
                        id: pipeline_id,
                        name,
                        edges,
                        operators: nodes
                            .into_iter()
                            .map(|(node_id, description)| {
                                (
                                    node_id.clone(),
                                    Operator {
                                        node_id,
                                        description,
                                        ..Operator::default()
                                    },
                                )
                            })
                            .collect(),
                        ..Pipeline::default()
                    })
                });
                JobSnapshot {
                    job: Job {
                        id,
                        pipeline_id: job_pipeline_id,
                        ..Job::default()
                    },
                    pipeline,
                    metrics: match outcome {
                        0 => MetricsOutcome::Ok(JobMetrics {
                            samples,
                            ..JobMetrics::default()
                        }),
                        1 => MetricsOutcome::NoMetrics,
                        2 => MetricsOutcome::Failed(failure),
                        _ => MetricsOutcome::Skipped,
                    },
                }
            },
        )
}

fn exporter() -> impl Strategy<Value = ExporterStats> {
    (
        text(),
        text(),
        any::<u64>(),
        prop::collection::vec((select(NAMES), select(NAMES), any::<u64>()), 0..4),
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
        prop::collection::vec((select(NAMES), any::<u64>()), 0..4),
        value(),
        prop::option::of(any::<u64>()),
        prop::option::of(value()),
        prop::option::of(any::<u64>()),
    )
        .prop_map(
            |(
                version,
                revision,
                scrapes_total,
                errors,
                unknown_metric_groups_total,
                null_values_total,
                stale_series_dropped_total,
                upstream_requests,
                start_time_seconds,
                resident_memory_bytes,
                cpu_seconds_total,
                open_fds,
            )| ExporterStats {
                version,
                revision,
                scrapes_total,
                upstream_errors: errors
                    .into_iter()
                    .map(|(source, kind, count)| ErrorCount {
                        source,
                        kind,
                        count,
                    })
                    .collect(),
                unknown_metric_groups_total,
                null_values_total,
                stale_series_dropped_total,
                upstream_requests,
                start_time_seconds,
                resident_memory_bytes,
                cpu_seconds_total,
                open_fds,
                targets: Vec::new(),
                reload: None,
            },
        )
}

fn snapshot() -> impl Strategy<Value = Snapshot> {
    (
        any::<bool>(),
        prop::collection::vec(job(), 0..4),
        prop::collection::vec((select(NAMES), any::<bool>(), value()), 0..4),
        any::<bool>(),
        exporter(),
    )
        .prop_map(
            |(up, jobs, collectors, subtask_series, exporter)| Snapshot {
                up,
                jobs,
                collectors: collectors
                    .into_iter()
                    .map(|(name, success, duration_seconds)| CollectorStatus {
                        name,
                        success,
                        duration_seconds,
                    })
                    .collect(),
                subtask_series,
                job_families: subtask_series,
                topology: up,
                pipeline_tags: vec!["team".to_string()],
                checkpoints: Default::default(),
                bottleneck_threshold: Default::default(),
                checkpoint_details: Default::default(),
                job_errors: Default::default(),
                arroyo_build: None,
                exporter,
                scope: Default::default(),
                freshness: Default::default(),
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 192,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_snapshots_pass_every_parser(snapshot in snapshot()) {
        if let Err(e) = check_snapshot(&snapshot) {
            return Err(TestCaseError::fail(e));
        }
    }
}
