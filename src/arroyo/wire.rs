//! Decoding of the JSON documents Arroyo sends: pure, bytes in and values out (no I/O,
//! no clock).
//!
//! Every release from v0.11 to main is accepted (see `shared/arroyo/COMPAT.md`):
//!
//! * the `JobMetrics` document (`JobMetricsResp.metrics`) and its REST bridge
//!   `operator_metric_groups` (`{"data": [...]}`), with the operator key `operatorId`
//!   (string, v0.11/v0.12), `nodeId` (number, v0.13/v0.14) or `node_id` (v0.15+), and
//!   the group key `metricGroups` or `metric_groups`;
//! * the REST pipelines, jobs and checkpoints, in camelCase (up to v0.14) or snake_case
//!   (v0.15+).
//!
//! Unknown keys are ignored everywhere. REST fields that the model keeps as optional may be
//! missing or `null`. The structural keys of the metrics document (operator id, groups,
//! `name`, `subtasks`, `index`, `metrics`, `time`) are required: a renamed key in a future
//! release must surface as a decode error, not as a silently empty scrape.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::model::{self, MetricKind, Point, SubtaskSample};

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

/// A document could not be decoded: which document, what was wrong, and where.
///
/// The message comes from `serde_json` and ends with `at line L column C` when a position
/// is known (Arroyo sends compact JSON on one line, so the column is then the byte offset
/// plus one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    document: &'static str,
    message: String,
    line: usize,
    column: usize,
}

impl DecodeError {
    fn new(document: &'static str, err: &serde_json::Error) -> Self {
        DecodeError {
            document,
            message: err.to_string(),
            line: err.line(),
            column: err.column(),
        }
    }

    /// Which document failed (`JobMetrics document`, `jobs list`, ...).
    pub fn document(&self) -> &'static str {
        self.document
    }

    /// 1-based line of the error, or 0 when unknown.
    pub fn line(&self) -> usize {
        self.line
    }

    /// 1-based column of the error, or 0 when unknown.
    pub fn column(&self) -> usize {
        self.column
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot decode {}: {}", self.document, self.message)
    }
}

impl std::error::Error for DecodeError {}

const DOC_METRICS: &str = "JobMetrics document";
const DOC_METRICS_ENVELOPE: &str = "operator_metric_groups response";
const DOC_PIPELINES: &str = "pipelines page";
const DOC_PIPELINE: &str = "pipeline";
const DOC_JOBS: &str = "jobs list";
const DOC_CHECKPOINTS: &str = "checkpoints list";

/// Runs `seed` over the whole of `body`, rejecting trailing non-whitespace.
fn run_seed<'de, S>(
    document: &'static str,
    body: &'de [u8],
    seed: S,
) -> Result<S::Value, DecodeError>
where
    S: DeserializeSeed<'de>,
{
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = seed
        .deserialize(&mut de)
        .map_err(|e| DecodeError::new(document, &e))?;
    de.end().map_err(|e| DecodeError::new(document, &e))?;
    Ok(value)
}

// ---------------------------------------------------------------------------------------
// The JobMetrics document
// ---------------------------------------------------------------------------------------

/// Decodes the `JobMetricsResp.metrics` JSON string: a list of operator groups.
///
/// Keeps only the newest non-null point (largest `time`; on a tie the later one) of each
/// (node, subtask, metric) series, also across duplicate series. `null` values (and points
/// without a `value`) are skipped and counted in `null_values`; groups with a name we do
/// not export are skipped and counted in `unknown_metric_groups` (their nulls are not
/// counted). The samples come sorted by (`node_id` as a string, `subtask_idx`, `kind`).
///
/// Values come out bit-for-bit as Arroyo serialized them (correctly rounded parse). A
/// `time` that is negative, fractional or beyond `u64` is a decode error (no saturation),
/// as is a `value` that is not a number; a value outside the `f64` range (e.g. `1e400`)
/// is an error when it is the one kept (older points' values are only checked to be
/// numbers, not converted).
///
/// A hand-written scanner reads well-formed documents (see "Fast path" below); the
/// streaming serde decoder takes over whenever the scanner gives up, and reports errors.
pub fn decode_job_metrics(doc: &[u8]) -> Result<model::JobMetrics, DecodeError> {
    match fast_job_metrics(doc) {
        Some(metrics) => Ok(metrics),
        None => serde_job_metrics(doc),
    }
}

/// [`decode_job_metrics`] through serde only.
fn serde_job_metrics(doc: &[u8]) -> Result<model::JobMetrics, DecodeError> {
    let mut acc = Acc::default();
    run_seed(DOC_METRICS, doc, OperatorListSeed(&mut acc))?;
    Ok(acc.finish())
}

/// Decodes the REST bridge `operator_metric_groups` answer, `{"data": [ <same list as
/// the JobMetrics document> ]}`, with the same rules as [`decode_job_metrics`].
pub fn decode_metric_groups_envelope(body: &[u8]) -> Result<model::JobMetrics, DecodeError> {
    match fast_envelope(body) {
        Some(metrics) => Ok(metrics),
        None => serde_envelope(body),
    }
}

/// [`decode_metric_groups_envelope`] through serde only.
fn serde_envelope(body: &[u8]) -> Result<model::JobMetrics, DecodeError> {
    let mut acc = Acc::default();
    run_seed(DOC_METRICS_ENVELOPE, body, EnvelopeSeed(&mut acc))?;
    Ok(acc.finish())
}

/// What the streaming decoder collects while it walks the document.
#[derive(Default)]
struct Acc {
    samples: Vec<SubtaskSample>,
    unknown_metric_groups: u64,
    null_values: u64,
}

impl Acc {
    /// Sorts the samples and merges duplicate series, keeping the newest point.
    fn finish(self) -> model::JobMetrics {
        let Acc {
            mut samples,
            unknown_metric_groups,
            null_values,
        } = self;
        // Stable sort: among duplicates, document order is kept, so on equal times the
        // point that came later in the document wins, as within one series.
        samples.sort_by(|a, b| {
            a.node_id
                .cmp(&b.node_id)
                .then(a.subtask_idx.cmp(&b.subtask_idx))
                .then(a.kind.cmp(&b.kind))
        });
        samples.dedup_by(|later, kept| {
            let same = later.node_id == kept.node_id
                && later.subtask_idx == kept.subtask_idx
                && later.kind == kept.kind;
            if same && later.point.time_micros >= kept.point.time_micros {
                kept.point = later.point;
            }
            same
        });
        model::JobMetrics {
            samples,
            unknown_metric_groups,
            null_values,
        }
    }
}

// Why this part is hand-written rather than `#[derive(Deserialize)]` on nested structs:
// the document holds every point of the last five minutes (~150 per series, tens of MB
// for large jobs), but we keep only the newest point of each series. The seeds below
// stream through the document and fold each `metrics` array into its newest point as it
// goes, so no point is ever stored in a `Vec` and nothing is allocated per point (values
// are borrowed as raw text and only the kept one is converted); metric names are matched
// without copying them, and groups with unknown names are skipped with `IgnoredAny`
// without building their points. Samples are appended straight into one
// shared `Vec` (`Acc`), and keys that may come in any order (an operator's id after its
// groups, a group's name after its subtasks) are patched in when the object ends.

fn duplicate<E: de::Error>(field: &'static str) -> E {
    E::duplicate_field(field)
}

/// `{"data": [operator, ...], ...}`.
struct EnvelopeSeed<'a>(&'a mut Acc);

#[derive(Deserialize)]
#[serde(field_identifier)]
enum EnvelopeKey {
    #[serde(rename = "data")]
    Data,
    #[serde(other)]
    Other,
}

impl<'de> DeserializeSeed<'de> for EnvelopeSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EnvelopeSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object with a `data` list of operator metric groups")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen_data = false;
        while let Some(key) = map.next_key::<EnvelopeKey>()? {
            match key {
                EnvelopeKey::Data => {
                    if seen_data {
                        return Err(duplicate("data"));
                    }
                    seen_data = true;
                    map.next_value_seed(OperatorListSeed(&mut *self.0))?;
                }
                EnvelopeKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !seen_data {
            return Err(de::Error::missing_field("data"));
        }
        Ok(())
    }
}

/// `[operator, ...]`.
struct OperatorListSeed<'a>(&'a mut Acc);

impl<'de> DeserializeSeed<'de> for OperatorListSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for OperatorListSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of operator metric groups")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(OperatorSeed(&mut *self.0))?.is_some() {}
        Ok(())
    }
}

/// `{"node_id"|"nodeId"|"operatorId": id, "metric_groups"|"metricGroups": [group, ...]}`.
struct OperatorSeed<'a>(&'a mut Acc);

#[derive(Deserialize)]
#[serde(field_identifier)]
enum OperatorKey {
    #[serde(rename = "node_id", alias = "nodeId", alias = "operatorId")]
    NodeId,
    #[serde(rename = "metric_groups", alias = "metricGroups")]
    Groups,
    #[serde(other)]
    Other,
}

impl<'de> DeserializeSeed<'de> for OperatorSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for OperatorSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an operator object with `node_id` and `metric_groups`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let acc = self.0;
        let start = acc.samples.len();
        let mut node_id: Option<String> = None;
        let mut seen_groups = false;
        while let Some(key) = map.next_key::<OperatorKey>()? {
            match key {
                OperatorKey::NodeId => {
                    if node_id.is_some() {
                        return Err(duplicate("node_id"));
                    }
                    node_id = Some(map.next_value_seed(NodeIdSeed)?);
                }
                OperatorKey::Groups => {
                    if seen_groups {
                        return Err(duplicate("metric_groups"));
                    }
                    seen_groups = true;
                    map.next_value_seed(GroupListSeed(&mut *acc))?;
                }
                OperatorKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let node_id = node_id.ok_or_else(|| de::Error::missing_field("node_id"))?;
        if !seen_groups {
            return Err(de::Error::missing_field("metric_groups"));
        }
        for sample in acc.samples.iter_mut().skip(start) {
            sample.node_id.clone_from(&node_id);
        }
        Ok(())
    }
}

/// A node id: a string (before v0.13) or an integer (written in decimal).
struct NodeIdSeed;

impl<'de> DeserializeSeed<'de> for NodeIdSeed {
    type Value = String;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<String, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for NodeIdSeed {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a node id (string or integer)")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        Ok(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
}

/// `[group, ...]` of one operator.
struct GroupListSeed<'a>(&'a mut Acc);

impl<'de> DeserializeSeed<'de> for GroupListSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for GroupListSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of metric groups")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(GroupSeed(&mut *self.0))?.is_some() {}
        Ok(())
    }
}

/// `{"name": str, "subtasks": [subtask, ...]}`.
struct GroupSeed<'a>(&'a mut Acc);

#[derive(Deserialize)]
#[serde(field_identifier)]
enum GroupKey {
    #[serde(rename = "name")]
    Name,
    #[serde(rename = "subtasks")]
    Subtasks,
    #[serde(other)]
    Other,
}

impl<'de> DeserializeSeed<'de> for GroupSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for GroupSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a metric group object with `name` and `subtasks`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let acc = self.0;
        let start = acc.samples.len();
        // None: not seen yet; Some(None): a name we do not export.
        let mut name: Option<Option<MetricKind>> = None;
        let mut seen_subtasks = false;
        let mut nulls = 0u64;
        while let Some(key) = map.next_key::<GroupKey>()? {
            match key {
                GroupKey::Name => {
                    if name.is_some() {
                        return Err(duplicate("name"));
                    }
                    name = Some(map.next_value_seed(KindSeed)?);
                }
                GroupKey::Subtasks => {
                    if seen_subtasks {
                        return Err(duplicate("subtasks"));
                    }
                    seen_subtasks = true;
                    match name {
                        // Known to be skipped: do not build any point.
                        Some(None) => {
                            map.next_value::<IgnoredAny>()?;
                        }
                        // Known kind, or name not seen yet (kind patched below).
                        Some(Some(_)) | None => {
                            map.next_value_seed(SubtaskListSeed {
                                acc: &mut *acc,
                                nulls: &mut nulls,
                            })?;
                        }
                    }
                }
                GroupKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let name = name.ok_or_else(|| de::Error::missing_field("name"))?;
        if !seen_subtasks {
            return Err(de::Error::missing_field("subtasks"));
        }
        match name {
            Some(kind) => {
                for sample in acc.samples.iter_mut().skip(start) {
                    sample.kind = kind;
                }
                acc.null_values = acc.null_values.saturating_add(nulls);
            }
            None => {
                acc.samples.truncate(start);
                acc.unknown_metric_groups = acc.unknown_metric_groups.saturating_add(1);
            }
        }
        Ok(())
    }
}

/// A metric group name, matched without copying it; `None` for names we do not export.
struct KindSeed;

impl<'de> DeserializeSeed<'de> for KindSeed {
    type Value = Option<MetricKind>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KindSeed {
    type Value = Option<MetricKind>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a metric name string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(MetricKind::from_wire(v))
    }
}

/// `[subtask, ...]` of one group.
struct SubtaskListSeed<'a> {
    acc: &'a mut Acc,
    nulls: &'a mut u64,
}

impl<'de> DeserializeSeed<'de> for SubtaskListSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for SubtaskListSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of subtasks")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(sub) = seq.next_element_seed(SubtaskSeed {
            nulls: &mut *self.nulls,
        })? {
            if let Some(point) = sub.newest {
                self.acc.samples.push(SubtaskSample {
                    // Both patched when the enclosing objects end.
                    node_id: String::new(),
                    kind: MetricKind::MessagesRecv,
                    subtask_idx: sub.index,
                    point,
                });
            }
        }
        Ok(())
    }
}

/// `{"index": u32, "metrics": [point, ...]}`.
struct SubtaskSeed<'a> {
    nulls: &'a mut u64,
}

/// One subtask reduced to its newest non-null point.
struct Subtask {
    index: u32,
    newest: Option<Point>,
}

#[derive(Deserialize)]
#[serde(field_identifier)]
enum SubtaskKey {
    #[serde(rename = "index")]
    Index,
    #[serde(rename = "metrics")]
    Metrics,
    #[serde(other)]
    Other,
}

impl<'de> DeserializeSeed<'de> for SubtaskSeed<'_> {
    type Value = Subtask;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Subtask, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for SubtaskSeed<'_> {
    type Value = Subtask;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a subtask object with `index` and `metrics`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Subtask, A::Error> {
        let mut index: Option<u32> = None;
        let mut newest: Option<Option<Point>> = None;
        while let Some(key) = map.next_key::<SubtaskKey>()? {
            match key {
                SubtaskKey::Index => {
                    if index.is_some() {
                        return Err(duplicate("index"));
                    }
                    index = Some(map.next_value()?);
                }
                SubtaskKey::Metrics => {
                    if newest.is_some() {
                        return Err(duplicate("metrics"));
                    }
                    newest = Some(map.next_value_seed(NewestPointSeed {
                        nulls: &mut *self.nulls,
                    })?);
                }
                SubtaskKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let index = index.ok_or_else(|| de::Error::missing_field("index"))?;
        let newest = newest.ok_or_else(|| de::Error::missing_field("metrics"))?;
        Ok(Subtask { index, newest })
    }
}

/// One point as it comes on the wire. The value is kept as its raw JSON text and only
/// the kept point's text is converted (see [`NewestPointSeed`]). A missing `value` reads
/// as `null`.
#[derive(Deserialize)]
struct RawPoint<'a> {
    time: u64,
    #[serde(borrow)]
    value: Option<&'a RawValue>,
}

/// `[point, ...]` folded into the newest non-null point while streaming.
///
/// Values are borrowed as raw JSON text (`&RawValue`, no allocation) and only the newest
/// one is converted, with Rust's correctly rounded `f64` parser: this is no slower than
/// letting serde_json convert every value, and the result is bit-for-bit the `f64` Arroyo
/// serialized (serde_json's default fast float parser can be one ULP off). Every value
/// is still checked to be a number; the range (e.g. `1e400`) is only checked on the kept
/// one.
struct NewestPointSeed<'a> {
    nulls: &'a mut u64,
}

impl<'de> DeserializeSeed<'de> for NewestPointSeed<'_> {
    type Value = Option<Point>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for NewestPointSeed<'_> {
    type Value = Option<Point>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of {time, value} points")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut newest: Option<(u64, &'de str)> = None;
        while let Some(raw) = seq.next_element::<RawPoint<'de>>()? {
            let Some(value) = raw.value else {
                *self.nulls = self.nulls.saturating_add(1);
                continue;
            };
            let text = value.get();
            check_number::<A::Error>(text)?;
            if newest.is_none_or(|(time, _)| raw.time >= time) {
                newest = Some((raw.time, text));
            }
        }
        let Some((time_micros, text)) = newest else {
            return Ok(None);
        };
        let value = parse_number::<A::Error>(text)?;
        Ok(Some(Point { time_micros, value }))
    }
}

/// Checks that a raw JSON value (valid JSON, not `null`) is a number.
fn check_number<E: de::Error>(text: &str) -> Result<(), E> {
    let unexpected = match text.as_bytes().first() {
        Some(b'-' | b'0'..=b'9') => return Ok(()),
        Some(b'"') => de::Unexpected::Other("string"),
        Some(b't') => de::Unexpected::Bool(true),
        Some(b'f') => de::Unexpected::Bool(false),
        Some(b'[') => de::Unexpected::Seq,
        Some(b'{') => de::Unexpected::Map,
        _ => de::Unexpected::Other("value"),
    };
    Err(E::invalid_type(unexpected, &"a number value"))
}

/// Converts a JSON number's text (checked by [`check_number`]) to a finite `f64`.
fn parse_number<E: de::Error>(text: &str) -> Result<f64, E> {
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err(E::custom(format_args!("number out of range: {text}"))),
        Err(e) => Err(E::custom(format_args!("bad number {text}: {e}"))),
    }
}

// ---------------------------------------------------------------------------------------
// Fast path: a hand-written scanner for the JobMetrics document
// ---------------------------------------------------------------------------------------
//
// Why a second, hand-written decoder: the streaming serde decoder above allocates nothing
// per point, but it still walks every point through serde's generic machinery (a key
// visitor per key, a `RawValue` per value, error plumbing per call), which tops out around
// 750 MB/s; a 1,000-subtask job sends 35 MB per scrape and a 10,000-subtask one 350 MB.
// The scanner below reads the same grammar directly from the bytes: the compact point
// `{"time":<digits>,"value":<number>}` that Arroyo writes is matched with two fixed
// literals, digit runs are found eight bytes at a time (SWAR), `time` is converted eight
// digits at a time, and a value's text is only checked against the JSON number grammar;
// only the kept point's value is converted to `f64`. Anything else (other key orders,
// whitespace, extra keys, `null`s) goes through a general but still allocation-free path.
//
// Correctness rests on one rule: the scanner may give up ([`Bail`]) on anything, but when
// it returns a result, the serde decoder would have returned the very same result. So it
// is at least as strict as serde_json everywhere (it also gives up on every escape in a
// string and on deep nesting, which serde handles), and on any doubt the caller runs the
// serde decoder, which also produces the error messages and positions. The unit tests
// check the rule differentially, on fixtures, generated documents of every release and
// mutated (corrupted) documents. Every access is bounds-checked (`get`): no input panics.

/// The fast scanner gave up; the serde decoder decides (and explains any error).
struct Bail;

type Scan<T> = Result<T, Bail>;

/// A value's text inside the document, `start..end`.
type Span = (usize, usize);

/// Nesting depth up to which [`Scanner::skip_value`] follows ignored values itself.
const SKIP_DEPTH: u32 = 64;

/// Number of consecutive ASCII digits at `b[i..]`.
#[inline(always)]
fn digit_run(b: &[u8], i: usize) -> usize {
    let mut j = i;
    while let Some(chunk) = b.get(j..).and_then(|s| s.first_chunk::<8>()) {
        // Digits become 0..=9 in every byte; any other byte gets a bit in its high nibble
        // either as is or after adding 6 (a carry only reaches bytes after a non-digit, so
        // the lowest flagged byte is exact).
        let t = u64::from_le_bytes(*chunk) ^ 0x3030_3030_3030_3030;
        let flags = (t | t.wrapping_add(0x0606_0606_0606_0606)) & 0xF0F0_F0F0_F0F0_F0F0;
        if flags != 0 {
            return j - i + (flags.trailing_zeros() / 8) as usize;
        }
        j += 8;
    }
    while b.get(j).is_some_and(u8::is_ascii_digit) {
        j += 1;
    }
    j - i
}

/// The value of eight ASCII digits, the first one in the lowest byte.
#[inline(always)]
fn eight_digits(chunk: [u8; 8]) -> u64 {
    let v = u64::from_le_bytes(chunk) & 0x0F0F_0F0F_0F0F_0F0F;
    let v = (v.wrapping_mul(10 * 256 + 1) >> 8) & 0x00FF_00FF_00FF_00FF;
    let v = (v.wrapping_mul(100 * 65_536 + 1) >> 16) & 0x0000_FFFF_0000_FFFF;
    v.wrapping_mul(10_000 * (1 << 32) + 1) >> 32
}

/// The value of a run of ASCII digits; `None` when it does not fit a `u64`.
#[inline(always)]
fn digits_value(digits: &[u8]) -> Option<u64> {
    let mut v = 0u64;
    let mut rest = digits;
    while let Some((chunk, tail)) = rest.split_first_chunk::<8>() {
        v = v
            .checked_mul(100_000_000)?
            .checked_add(eight_digits(*chunk))?;
        rest = tail;
    }
    for &d in rest {
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(v)
}

/// End of the JSON number starting at `b[i]` (`-? int frac? exp?`), or `None` when no
/// valid number starts there. What follows is the caller's to check.
#[inline(always)]
fn number_end(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i;
    if b.get(j) == Some(&b'-') {
        j += 1;
    }
    match b.get(j) {
        Some(b'0') => j += 1,
        Some(b'1'..=b'9') => j += 1 + digit_run(b, j + 1),
        _ => return None,
    }
    if b.get(j) == Some(&b'.') {
        let n = digit_run(b, j + 1);
        if n == 0 {
            return None;
        }
        j += 1 + n;
    }
    if matches!(b.get(j), Some(b'e' | b'E')) {
        j += 1;
        if matches!(b.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        let n = digit_run(b, j);
        if n == 0 {
            return None;
        }
        j += n;
    }
    Some(j)
}

/// One point: its time and its value's text (`None` for `null` or no value).
type RawFastPoint = (u64, Option<Span>);

/// How far ahead of the cursor [`Scanner::warm_ahead`] keeps the document in cache.
const WARM_DISTANCE: usize = 128 * 1024;
/// How much it reads ahead at once.
const WARM_CHUNK: usize = 64 * 1024;

/// A cursor over the document.
struct Scanner<'a> {
    b: &'a [u8],
    p: usize,
    /// End of the part [`Scanner::warm_ahead`] has read ahead.
    warmed: usize,
}

impl<'a> Scanner<'a> {
    fn new(b: &'a [u8]) -> Self {
        Scanner { b, p: 0, warmed: 0 }
    }

    /// Reads the document a little ahead of the cursor (one independent read per cache
    /// line), so that the byte-by-byte scan finds it in cache. On this project's machines
    /// the scan of a document larger than the L2 cache otherwise waits on memory (about
    /// 1.4 GB/s instead of 2.4 GB/s on the 35 MB document). Called once per subtask
    /// (about 7 KB of points).
    #[inline(always)]
    fn warm_ahead(&mut self) {
        if self.p + WARM_DISTANCE > self.warmed && self.warmed < self.b.len() {
            let end = self.b.len().min(self.warmed + WARM_CHUNK);
            if let Some(chunk) = self.b.get(self.warmed..end) {
                // One read per cache line; the result is irrelevant, `black_box` keeps
                // the reads.
                let touched = chunk.iter().step_by(64).fold(0u8, |acc, b| acc ^ b);
                std::hint::black_box(touched);
            }
            self.warmed = end;
        }
    }

    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.p).copied()
    }

    /// Skips JSON whitespace.
    #[inline(always)]
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.p += 1;
        }
    }

    /// Consumes `c` (after whitespace).
    #[inline(always)]
    fn expect(&mut self, c: u8) -> Scan<()> {
        self.ws();
        if self.peek() == Some(c) {
            self.p += 1;
            Ok(())
        } else {
            Err(Bail)
        }
    }

    /// Consumes `c` (after whitespace) when it comes next.
    #[inline(always)]
    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.peek() == Some(c) {
            self.p += 1;
            true
        } else {
            false
        }
    }

    /// After an element of an object or list: `true` on `,`, `false` on `close`.
    #[inline(always)]
    fn more(&mut self, close: u8) -> Scan<bool> {
        self.ws();
        match self.peek() {
            Some(b',') => {
                self.p += 1;
                Ok(true)
            }
            Some(c) if c == close => {
                self.p += 1;
                Ok(false)
            }
            _ => Err(Bail),
        }
    }

    /// A string's content (the cursor at its opening quote, after whitespace). Gives up
    /// on escapes and control characters; checks that the content is UTF-8.
    fn string(&mut self) -> Scan<&'a [u8]> {
        if self.peek() != Some(b'"') {
            return Err(Bail);
        }
        let start = self.p + 1;
        let mut i = start;
        let mut high = 0u8;
        loop {
            match self.b.get(i) {
                Some(b'"') => break,
                Some(b'\\') | None => return Err(Bail),
                Some(&c) if c < 0x20 => return Err(Bail),
                Some(&c) => high |= c,
            }
            i += 1;
        }
        let s = self.b.get(start..i).ok_or(Bail)?;
        if high >= 0x80 && std::str::from_utf8(s).is_err() {
            return Err(Bail);
        }
        self.p = i + 1;
        Ok(s)
    }

    /// A string as text.
    fn str(&mut self) -> Scan<&'a str> {
        self.ws();
        let s = self.string()?;
        std::str::from_utf8(s).map_err(|_| Bail)
    }

    /// An object key and its colon.
    #[inline(always)]
    fn key(&mut self) -> Scan<&'a [u8]> {
        self.ws();
        let k = self.string()?;
        self.expect(b':')?;
        Ok(k)
    }

    /// A plain non-negative integer up to `max` (what serde reads as a `u64`/`u32`).
    fn uint(&mut self, max: u64) -> Scan<u64> {
        self.ws();
        let start = self.p;
        let n = digit_run(self.b, start);
        let digits = self.b.get(start..start + n).ok_or(Bail)?;
        match digits {
            [] => return Err(Bail),
            [b'0', _, ..] => return Err(Bail),
            _ => {}
        }
        let v = digits_value(digits).filter(|v| *v <= max).ok_or(Bail)?;
        self.p = start + n;
        if matches!(self.peek(), Some(b'.' | b'e' | b'E')) {
            return Err(Bail);
        }
        Ok(v)
    }

    /// A number's text.
    fn number(&mut self) -> Scan<Span> {
        self.ws();
        let start = self.p;
        let end = number_end(self.b, start).ok_or(Bail)?;
        self.p = end;
        Ok((start, end))
    }

    /// `true`, `false` or `null`.
    fn literal(&mut self, word: &[u8]) -> Scan<()> {
        if self.b.get(self.p..self.p + word.len()) == Some(word) {
            self.p += word.len();
            Ok(())
        } else {
            Err(Bail)
        }
    }

    /// Skips any JSON value, checking it, without recursion.
    fn skip_value(&mut self) -> Scan<()> {
        // Bit `d` of `objects` tells whether nesting level `d + 1` is an object.
        let mut objects = 0u64;
        let mut depth = 0u32;
        'value: loop {
            self.ws();
            match self.peek().ok_or(Bail)? {
                open @ (b'{' | b'[') => {
                    self.p += 1;
                    let close = if open == b'{' { b'}' } else { b']' };
                    if !self.eat(close) {
                        if depth == SKIP_DEPTH {
                            return Err(Bail);
                        }
                        if open == b'{' {
                            objects |= 1 << depth;
                            depth += 1;
                            self.key()?;
                        } else {
                            objects &= !(1 << depth);
                            depth += 1;
                        }
                        continue 'value;
                    }
                }
                b'"' => {
                    self.string()?;
                }
                b'-' | b'0'..=b'9' => {
                    self.number()?;
                }
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.literal(b"null")?,
                _ => return Err(Bail),
            }
            // After a value: close levels until one goes on with `,`.
            while depth > 0 {
                let in_object = objects & (1 << (depth - 1)) != 0;
                if self.more(if in_object { b'}' } else { b']' })? {
                    if in_object {
                        self.key()?;
                    }
                    continue 'value;
                }
                depth -= 1;
            }
            return Ok(());
        }
    }

    /// `[operator, ...]`.
    fn operator_list(&mut self, acc: &mut Acc) -> Scan<()> {
        self.expect(b'[')?;
        if self.eat(b']') {
            return Ok(());
        }
        loop {
            self.operator(acc)?;
            if !self.more(b']')? {
                return Ok(());
            }
        }
    }

    /// `{"data": [operator, ...], ...}`.
    fn envelope(&mut self, acc: &mut Acc) -> Scan<()> {
        self.expect(b'{')?;
        let mut seen_data = false;
        if !self.eat(b'}') {
            loop {
                match self.key()? {
                    b"data" => {
                        if seen_data {
                            return Err(Bail);
                        }
                        seen_data = true;
                        self.operator_list(acc)?;
                    }
                    _ => self.skip_value()?,
                }
                if !self.more(b'}')? {
                    break;
                }
            }
        }
        if seen_data {
            Ok(())
        } else {
            Err(Bail)
        }
    }

    /// One operator: see [`OperatorSeed`].
    fn operator(&mut self, acc: &mut Acc) -> Scan<()> {
        let start = acc.samples.len();
        let mut node_id: Option<&'a str> = None;
        let mut seen_groups = false;
        self.expect(b'{')?;
        if self.eat(b'}') {
            return Err(Bail);
        }
        loop {
            match self.key()? {
                b"node_id" | b"nodeId" | b"operatorId" => {
                    if node_id.is_some() {
                        return Err(Bail);
                    }
                    node_id = Some(self.node_id()?);
                }
                b"metric_groups" | b"metricGroups" => {
                    if seen_groups {
                        return Err(Bail);
                    }
                    seen_groups = true;
                    self.group_list(acc)?;
                }
                _ => self.skip_value()?,
            }
            if !self.more(b'}')? {
                break;
            }
        }
        let node_id = node_id.ok_or(Bail)?;
        if !seen_groups {
            return Err(Bail);
        }
        for sample in acc.samples.iter_mut().skip(start) {
            sample.node_id.clear();
            sample.node_id.push_str(node_id);
        }
        Ok(())
    }

    /// A node id: a string, or a non-negative integer (its digits are its decimal form;
    /// negative ids are left to serde).
    fn node_id(&mut self) -> Scan<&'a str> {
        self.ws();
        if self.peek() == Some(b'"') {
            return self.str();
        }
        let start = self.p;
        self.uint(u64::MAX)?;
        let digits = self.b.get(start..self.p).ok_or(Bail)?;
        std::str::from_utf8(digits).map_err(|_| Bail)
    }

    /// `[group, ...]`.
    fn group_list(&mut self, acc: &mut Acc) -> Scan<()> {
        self.expect(b'[')?;
        if self.eat(b']') {
            return Ok(());
        }
        loop {
            self.group(acc)?;
            if !self.more(b']')? {
                return Ok(());
            }
        }
    }

    /// One metric group: see [`GroupSeed`].
    fn group(&mut self, acc: &mut Acc) -> Scan<()> {
        let start = acc.samples.len();
        // None: not seen yet; Some(None): a name we do not export.
        let mut name: Option<Option<MetricKind>> = None;
        let mut seen_subtasks = false;
        let mut nulls = 0u64;
        self.expect(b'{')?;
        if self.eat(b'}') {
            return Err(Bail);
        }
        loop {
            match self.key()? {
                b"name" => {
                    if name.is_some() {
                        return Err(Bail);
                    }
                    name = Some(MetricKind::from_wire(self.str()?));
                }
                b"subtasks" => {
                    if seen_subtasks {
                        return Err(Bail);
                    }
                    seen_subtasks = true;
                    match name {
                        Some(None) => self.skip_value()?,
                        Some(Some(_)) | None => self.subtask_list(acc, &mut nulls)?,
                    }
                }
                _ => self.skip_value()?,
            }
            if !self.more(b'}')? {
                break;
            }
        }
        let name = name.ok_or(Bail)?;
        if !seen_subtasks {
            return Err(Bail);
        }
        match name {
            Some(kind) => {
                for sample in acc.samples.iter_mut().skip(start) {
                    sample.kind = kind;
                }
                acc.null_values = acc.null_values.saturating_add(nulls);
            }
            None => {
                acc.samples.truncate(start);
                acc.unknown_metric_groups = acc.unknown_metric_groups.saturating_add(1);
            }
        }
        Ok(())
    }

    /// `[subtask, ...]`: appends one sample per subtask that has a non-null point.
    fn subtask_list(&mut self, acc: &mut Acc, nulls: &mut u64) -> Scan<()> {
        self.expect(b'[')?;
        if self.eat(b']') {
            return Ok(());
        }
        loop {
            self.warm_ahead();
            let (index, newest) = self.subtask(nulls)?;
            if let Some(point) = newest {
                acc.samples.push(SubtaskSample {
                    // Both patched when the enclosing objects end.
                    node_id: String::new(),
                    kind: MetricKind::MessagesRecv,
                    subtask_idx: index,
                    point,
                });
            }
            if !self.more(b']')? {
                return Ok(());
            }
        }
    }

    /// One subtask: see [`SubtaskSeed`].
    fn subtask(&mut self, nulls: &mut u64) -> Scan<(u32, Option<Point>)> {
        let mut index: Option<u32> = None;
        let mut newest: Option<Option<Point>> = None;
        self.expect(b'{')?;
        if self.eat(b'}') {
            return Err(Bail);
        }
        loop {
            match self.key()? {
                b"index" => {
                    if index.is_some() {
                        return Err(Bail);
                    }
                    let v = self.uint(u64::from(u32::MAX))?;
                    index = Some(u32::try_from(v).map_err(|_| Bail)?);
                }
                b"metrics" => {
                    if newest.is_some() {
                        return Err(Bail);
                    }
                    newest = Some(self.points(nulls)?);
                }
                _ => self.skip_value()?,
            }
            if !self.more(b'}')? {
                break;
            }
        }
        Ok((index.ok_or(Bail)?, newest.ok_or(Bail)?))
    }

    /// `[point, ...]` folded into the newest non-null point: see [`NewestPointSeed`].
    fn points(&mut self, nulls: &mut u64) -> Scan<Option<Point>> {
        self.expect(b'[')?;
        if self.eat(b']') {
            return Ok(None);
        }
        let mut newest: Option<(u64, Span)> = None;
        loop {
            let (time, value) = match self.compact_point() {
                Some(point) => point,
                None => self.point()?,
            };
            match value {
                None => *nulls = nulls.saturating_add(1),
                Some(span) => {
                    if newest.is_none_or(|(t, _)| time >= t) {
                        newest = Some((time, span));
                    }
                }
            }
            // `,` right after the point is the common case.
            match self.peek() {
                Some(b',') => self.p += 1,
                Some(b']') => {
                    self.p += 1;
                    break;
                }
                _ => {
                    if !self.more(b']')? {
                        break;
                    }
                }
            }
        }
        let Some((time_micros, (start, end))) = newest else {
            return Ok(None);
        };
        let text = self.b.get(start..end).ok_or(Bail)?;
        let text = std::str::from_utf8(text).map_err(|_| Bail)?;
        let value = text
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or(Bail)?;
        Ok(Some(Point { time_micros, value }))
    }

    /// The point exactly as Arroyo writes it, `{"time":<digits>,"value":<number|null>}`
    /// (the cursor right at `{`). `None`, with the cursor unmoved, for anything else.
    #[inline(always)]
    fn compact_point(&mut self) -> Option<RawFastPoint> {
        let b = self.b;
        let mut q = self.p;
        if b.get(q..q + 8)? != b"{\"time\":" {
            return None;
        }
        q += 8;
        let n = digit_run(b, q);
        let digits = b.get(q..q + n)?;
        if matches!(digits, [] | [b'0', _, ..]) {
            return None;
        }
        q += n;
        let time = digits_value(digits)?;
        if b.get(q..q + 9)? != b",\"value\":" {
            return None;
        }
        q += 9;
        let value = if b.get(q..q + 4)? == b"null" {
            q += 4;
            None
        } else {
            let end = number_end(b, q)?;
            let span = (q, end);
            q = end;
            Some(span)
        };
        if b.get(q) != Some(&b'}') {
            return None;
        }
        self.p = q + 1;
        Some((time, value))
    }

    /// Any point: `time` and `value` in any order, whitespace, other keys.
    fn point(&mut self) -> Scan<RawFastPoint> {
        let mut time: Option<u64> = None;
        let mut value: Option<Option<Span>> = None;
        self.expect(b'{')?;
        if self.eat(b'}') {
            return Err(Bail);
        }
        loop {
            match self.key()? {
                b"time" => {
                    if time.is_some() {
                        return Err(Bail);
                    }
                    time = Some(self.uint(u64::MAX)?);
                }
                b"value" => {
                    if value.is_some() {
                        return Err(Bail);
                    }
                    self.ws();
                    value = Some(match self.peek() {
                        Some(b'n') => {
                            self.literal(b"null")?;
                            None
                        }
                        Some(b'-' | b'0'..=b'9') => Some(self.number()?),
                        _ => return Err(Bail),
                    });
                }
                _ => self.skip_value()?,
            }
            if !self.more(b'}')? {
                break;
            }
        }
        Ok((time.ok_or(Bail)?, value.flatten()))
    }
}

/// The fast path of [`decode_job_metrics`]; `None` when the serde decoder must decide.
fn fast_job_metrics(doc: &[u8]) -> Option<model::JobMetrics> {
    let mut acc = Acc::default();
    let mut sc = Scanner::new(doc);
    sc.operator_list(&mut acc).ok()?;
    sc.ws();
    (sc.p == doc.len()).then(|| acc.finish())
}

/// The fast path of [`decode_metric_groups_envelope`].
fn fast_envelope(body: &[u8]) -> Option<model::JobMetrics> {
    let mut acc = Acc::default();
    let mut sc = Scanner::new(body);
    sc.envelope(&mut acc).ok()?;
    sc.ws();
    (sc.p == body.len()).then(|| acc.finish())
}

// ---------------------------------------------------------------------------------------
// REST documents
// ---------------------------------------------------------------------------------------

/// One page of `GET /api/v1/pipelines`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PipelinesPage {
    /// The pipelines of this page.
    pub pipelines: Vec<model::Pipeline>,
    /// Whether another page follows (ask again with `starting_after=<last id>`).
    pub has_more: bool,
}

/// Decodes `GET /api/v1/pipelines`: `{"data": [pipeline, ...], "hasMore": bool}`.
///
/// `data` is required (`null` reads as empty); a missing or `null` `hasMore` (also
/// accepted as `has_more`) reads as `false`.
pub fn decode_pipelines_page(body: &[u8]) -> Result<PipelinesPage, DecodeError> {
    let raw: RawPage = run_seed(DOC_PIPELINES, body, PhantomData)?;
    Ok(PipelinesPage {
        pipelines: raw.data.into_iter().map(RawPipeline::into_model).collect(),
        has_more: raw.has_more,
    })
}

/// Decodes `GET /api/v1/pipelines/{id}`: one pipeline, its graph nodes as `operators`
/// keyed by node id (numbers in decimal), and its `tags` (main only; absent or `null` is
/// empty, `null` tag values are dropped).
pub fn decode_pipeline(body: &[u8]) -> Result<model::Pipeline, DecodeError> {
    let raw: RawPipeline = run_seed(DOC_PIPELINE, body, PhantomData)?;
    Ok(raw.into_model())
}

/// Decodes `GET /api/v1/jobs` and `GET /api/v1/pipelines/{id}/jobs`: `{"data": [job, ...]}`.
///
/// `id` and `state` are required; everything else may be missing or `null`. The failure
/// text is `failure_reason.error` (main) or else `failure_message` (older releases).
pub fn decode_jobs(body: &[u8]) -> Result<Vec<model::Job>, DecodeError> {
    let raw: DataList<RawJob> = run_seed(DOC_JOBS, body, PhantomData)?;
    Ok(raw.data.into_iter().map(RawJob::into_model).collect())
}

/// Decodes `GET .../jobs/{job_id}/checkpoints`: `{"data": [checkpoint, ...]}`.
///
/// `epoch` and `start_time` are required; `finish_time` (`null` while in progress) and
/// `checkpoint_type` (main only) may be missing or `null`.
pub fn decode_checkpoints(body: &[u8]) -> Result<Vec<model::Checkpoint>, DecodeError> {
    let raw: DataList<RawCheckpoint> = run_seed(DOC_CHECKPOINTS, body, PhantomData)?;
    Ok(raw
        .data
        .into_iter()
        .map(RawCheckpoint::into_model)
        .collect())
}

/// Reads `null` as the type's default.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Reads a node id given as a string or an integer.
fn node_id_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    NodeIdSeed.deserialize(deserializer)
}

/// `{"data": [...]}`; `data` must be present, `null` reads as empty.
#[derive(Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
struct DataList<T> {
    #[serde(deserialize_with = "null_as_default")]
    data: Vec<T>,
}

#[derive(Deserialize)]
struct RawPage {
    #[serde(deserialize_with = "null_as_default")]
    data: Vec<RawPipeline>,
    #[serde(
        rename = "hasMore",
        alias = "has_more",
        default,
        deserialize_with = "null_as_default"
    )]
    has_more: bool,
}

#[derive(Deserialize)]
struct RawPipeline {
    id: String,
    name: Option<String>,
    #[serde(alias = "checkpointIntervalMicros")]
    checkpoint_interval_micros: Option<u64>,
    graph: Option<RawGraph>,
    tags: Option<BTreeMap<String, Option<String>>>,
}

#[derive(Deserialize)]
struct RawGraph {
    #[serde(default, deserialize_with = "null_as_default")]
    nodes: Vec<RawNode>,
}

#[derive(Deserialize)]
struct RawNode {
    #[serde(alias = "nodeId", deserialize_with = "node_id_string")]
    node_id: String,
    operator: Option<String>,
    description: Option<String>,
    parallelism: Option<u32>,
}

impl RawPipeline {
    fn into_model(self) -> model::Pipeline {
        let operators = self
            .graph
            .map(|g| g.nodes)
            .unwrap_or_default()
            .into_iter()
            .map(|n| {
                let op = model::Operator {
                    node_id: n.node_id.clone(),
                    operator: n.operator.unwrap_or_default(),
                    description: n.description.unwrap_or_default(),
                    parallelism: n.parallelism.unwrap_or_default(),
                };
                (n.node_id, op)
            })
            .collect();
        let tags = self
            .tags
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect();
        model::Pipeline {
            id: self.id,
            name: self.name.unwrap_or_default(),
            checkpoint_interval_micros: self.checkpoint_interval_micros,
            operators,
            tags,
        }
    }
}

#[derive(Deserialize)]
struct RawJob {
    id: String,
    state: String,
    #[serde(alias = "pipelineId")]
    pipeline_id: Option<String>,
    #[serde(alias = "runningDesired")]
    running_desired: Option<bool>,
    #[serde(alias = "runId")]
    run_id: Option<u64>,
    #[serde(alias = "startTime")]
    start_time: Option<u64>,
    #[serde(alias = "finishTime")]
    finish_time: Option<u64>,
    tasks: Option<u64>,
    #[serde(alias = "failureMessage")]
    failure_message: Option<String>,
    #[serde(alias = "failureReason")]
    failure_reason: Option<RawFailureReason>,
}

#[derive(Deserialize)]
struct RawFailureReason {
    error: Option<String>,
    domain: Option<String>,
}

impl RawJob {
    fn into_model(self) -> model::Job {
        let (reason_error, failure_domain) = match self.failure_reason {
            Some(r) => (r.error, r.domain),
            None => (None, None),
        };
        model::Job {
            id: self.id,
            pipeline_id: self.pipeline_id,
            state: self.state,
            running_desired: self.running_desired.unwrap_or(false),
            run_id: self.run_id.unwrap_or(0),
            start_time_micros: self.start_time,
            finish_time_micros: self.finish_time,
            tasks: self.tasks,
            failure_message: reason_error.or(self.failure_message),
            failure_domain,
        }
    }
}

#[derive(Deserialize)]
struct RawCheckpoint {
    epoch: u64,
    #[serde(alias = "startTime")]
    start_time: u64,
    #[serde(alias = "finishTime")]
    finish_time: Option<u64>,
    #[serde(alias = "checkpointType")]
    checkpoint_type: Option<String>,
}

impl RawCheckpoint {
    fn into_model(self) -> model::Checkpoint {
        model::Checkpoint {
            epoch: self.epoch,
            start_time_micros: self.start_time,
            finish_time_micros: self.finish_time,
            checkpoint_type: self.checkpoint_type,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};
    use std::collections::BTreeSet;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");

    fn fixture(rel: &str) -> Vec<u8> {
        let path = format!("{FIXTURES}{rel}");
        std::fs::read(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
    }

    fn fixture_value(rel: &str) -> Value {
        serde_json::from_slice(&fixture(rel)).unwrap()
    }

    /// Raw `JobMetricsResp.metrics` captures.
    const METRICS_DOCS: [&str; 8] = [
        "arroyo-main-addb390/job_metrics_rpc.json",
        "arroyo-main-addb390/job_metrics_rpc_first_points.json",
        "arroyo-main-addb390/job_metrics_rpc_full_window.json",
        "arroyo-main-addb390/job_metrics_rpc_just_started.json",
        "arroyo-main-addb390/job_metrics_rpc_stopped.json",
        "arroyo-main-addb390/leader_mode/job_metrics_rpc_on_worker.json",
        "arroyo-v0.15.0/job_metrics_rpc.json",
        "arroyo-v0.15.0/job_metrics_rpc_stopped.json",
    ];

    /// REST `operator_metric_groups` captures (`{"data": [...]}`).
    const ENVELOPES: [&str; 5] = [
        "arroyo-main-addb390/operator_metric_groups.json",
        "arroyo-main-addb390/operator_metric_groups_stopped.json",
        "arroyo-main-addb390/operator_metric_groups_stopped_after_controller_restart.json",
        "arroyo-v0.15.0/operator_metric_groups.json",
        "arroyo-v0.15.0/operator_metric_groups_stopped.json",
    ];

    type SeriesKey = (String, u32, MetricKind);

    fn node_id_of(v: &Value) -> String {
        match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            other => panic!("bad node id {other}"),
        }
    }

    fn get<'v>(obj: &'v Value, keys: &[&str]) -> &'v Value {
        keys.iter()
            .find_map(|k| obj.get(*k))
            .unwrap_or_else(|| panic!("none of {keys:?} in {obj}"))
    }

    /// The reference decoder: a naive walk over a `serde_json::Value`.
    fn naive(list: &Value) -> model::JobMetrics {
        let mut series: BTreeMap<SeriesKey, Point> = BTreeMap::new();
        let mut out = model::JobMetrics::default();
        for op in list.as_array().unwrap() {
            let node = node_id_of(get(op, &["node_id", "nodeId", "operatorId"]));
            for group in get(op, &["metric_groups", "metricGroups"])
                .as_array()
                .unwrap()
            {
                let Some(kind) = MetricKind::from_wire(group["name"].as_str().unwrap()) else {
                    out.unknown_metric_groups += 1;
                    continue;
                };
                for sub in group["subtasks"].as_array().unwrap() {
                    let idx = u32::try_from(sub["index"].as_u64().unwrap()).unwrap();
                    for p in sub["metrics"].as_array().unwrap() {
                        let time = p["time"].as_u64().unwrap();
                        let Some(value) = p.get("value").and_then(Value::as_f64) else {
                            out.null_values += 1;
                            continue;
                        };
                        let point = Point {
                            time_micros: time,
                            value,
                        };
                        let slot = series.entry((node.clone(), idx, kind)).or_insert(point);
                        if time >= slot.time_micros {
                            *slot = point;
                        }
                    }
                }
            }
        }
        out.samples = series
            .into_iter()
            .map(|((node_id, subtask_idx, kind), point)| SubtaskSample {
                node_id,
                subtask_idx,
                kind,
                point,
            })
            .collect();
        out
    }

    /// For the captures (points oldest first): the last element of every series.
    fn last_elements(list: &Value) -> BTreeMap<SeriesKey, Point> {
        let mut out = BTreeMap::new();
        for op in list.as_array().unwrap() {
            let node = node_id_of(&op["node_id"]);
            for group in op["metric_groups"].as_array().unwrap() {
                let kind = MetricKind::from_wire(group["name"].as_str().unwrap()).unwrap();
                for sub in group["subtasks"].as_array().unwrap() {
                    let idx = sub["index"].as_u64().unwrap() as u32;
                    let last = sub["metrics"].as_array().unwrap().last().unwrap();
                    let point = Point {
                        time_micros: last["time"].as_u64().unwrap(),
                        value: last["value"].as_f64().unwrap(),
                    };
                    assert!(out.insert((node.clone(), idx, kind), point).is_none());
                }
            }
        }
        out
    }

    fn as_map(m: &model::JobMetrics) -> BTreeMap<SeriesKey, Point> {
        m.samples
            .iter()
            .map(|s| ((s.node_id.clone(), s.subtask_idx, s.kind), s.point))
            .collect()
    }

    fn decode_str(doc: &str) -> model::JobMetrics {
        decode_job_metrics(doc.as_bytes()).unwrap()
    }

    fn decode_err(doc: &str) -> String {
        match decode_job_metrics(doc.as_bytes()) {
            Ok(m) => panic!("{doc:?} decoded to {m:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn check_fixture_metrics(m: &model::JobMetrics, list: &Value) {
        let nodes: BTreeSet<&str> = m.samples.iter().map(|s| s.node_id.as_str()).collect();
        assert_eq!(nodes, BTreeSet::from(["0", "1", "4", "6"]));
        let subtasks: BTreeSet<u32> = m.samples.iter().map(|s| s.subtask_idx).collect();
        assert_eq!(subtasks, BTreeSet::from([0, 1]));
        assert_eq!(m.samples.len(), 4 * 2 * 5);
        assert_eq!(m.null_values, 0);
        assert_eq!(m.unknown_metric_groups, 0);
        assert_eq!(as_map(m), last_elements(list));
        assert_eq!(*m, naive(list));
    }

    #[test]
    fn fixtures_metrics_documents() {
        for rel in METRICS_DOCS {
            let bytes = fixture(rel);
            let m = decode_job_metrics(&bytes).unwrap_or_else(|e| panic!("{rel}: {e}"));
            let list: Value = serde_json::from_slice(&bytes).unwrap();
            if rel.ends_with("just_started.json") {
                assert_eq!(m, model::JobMetrics::default(), "{rel}");
                assert_eq!(m.newest_time_micros(), None);
            } else {
                check_fixture_metrics(&m, &list);
            }
        }
    }

    #[test]
    fn fixtures_envelopes() {
        for rel in ENVELOPES {
            let bytes = fixture(rel);
            let m = decode_metric_groups_envelope(&bytes).unwrap_or_else(|e| panic!("{rel}: {e}"));
            let v: Value = serde_json::from_slice(&bytes).unwrap();
            if rel.contains("after_controller_restart") {
                assert!(m.samples.is_empty());
            } else {
                check_fixture_metrics(&m, &v["data"]);
            }
            // The envelope's list decodes the same way as a bare document.
            let inner = serde_json::to_vec(&v["data"]).unwrap();
            assert_eq!(decode_job_metrics(&inner).unwrap(), m, "{rel}");
        }
    }

    #[test]
    fn fixture_concrete_values() {
        let m = decode_job_metrics(&fixture(
            "arroyo-main-addb390/job_metrics_rpc_first_points.json",
        ))
        .unwrap();
        let map = as_map(&m);
        // One point per rate series at that time.
        assert_eq!(
            map[&("0".to_string(), 0, MetricKind::MessagesSent)],
            Point {
                time_micros: 1795608837320183,
                value: 102.7635916321478
            }
        );
        // Two points per backpressure series: the second (newer) one is kept.
        assert_eq!(
            map[&("4".to_string(), 1, MetricKind::Backpressure)],
            Point {
                time_micros: 1795608837320167,
                value: 0.0039057732210423524
            }
        );
        let m = decode_job_metrics(&fixture("arroyo-main-addb390/job_metrics_rpc.json")).unwrap();
        let map = as_map(&m);
        assert_eq!(
            map[&("6".to_string(), 0, MetricKind::MessagesRecv)],
            Point {
                time_micros: 1795608672537751,
                value: 23.18069163566513
            }
        );
        // Sorted by (node_id, subtask, kind).
        let first = &m.samples[0];
        assert_eq!(
            (first.node_id.as_str(), first.subtask_idx, first.kind),
            ("0", 0, MetricKind::MessagesRecv)
        );
        let last = m.samples.last().unwrap();
        assert_eq!(
            (last.node_id.as_str(), last.subtask_idx, last.kind),
            ("6", 1, MetricKind::Backpressure)
        );
    }

    /// Rewrites the v0.15 keys of a metrics list into an older release's keys.
    fn rewrite_operators(list: &Value, node_key: &str, groups_key: &str, word_ids: bool) -> Value {
        let ops = list
            .as_array()
            .unwrap()
            .iter()
            .map(|op| {
                let mut obj = op.as_object().unwrap().clone();
                let id = obj.remove("node_id").unwrap();
                let groups = obj.remove("metric_groups").unwrap();
                let id = if word_ids {
                    Value::String(format!("op_{id}"))
                } else {
                    id
                };
                obj.insert(node_key.to_string(), id);
                obj.insert(groups_key.to_string(), groups);
                Value::Object(obj)
            })
            .collect();
        Value::Array(ops)
    }

    #[test]
    fn older_release_keys() {
        for rel in [
            "arroyo-main-addb390/job_metrics_rpc.json",
            "arroyo-v0.15.0/job_metrics_rpc.json",
        ] {
            let list = fixture_value(rel);
            let expected = decode_job_metrics(&fixture(rel)).unwrap();

            // v0.13/v0.14: nodeId (u32), metricGroups.
            let camel = rewrite_operators(&list, "nodeId", "metricGroups", false);
            let got = decode_job_metrics(&serde_json::to_vec(&camel).unwrap()).unwrap();
            assert_eq!(got, expected);

            // v0.11/v0.12: operatorId (string), metricGroups.
            let words = rewrite_operators(&list, "operatorId", "metricGroups", true);
            let got = decode_job_metrics(&serde_json::to_vec(&words).unwrap()).unwrap();
            let nodes: BTreeSet<&str> = got.samples.iter().map(|s| s.node_id.as_str()).collect();
            assert_eq!(nodes, BTreeSet::from(["op_0", "op_1", "op_4", "op_6"]));
            assert_eq!(got, naive(&words));
            let renamed: Vec<_> = expected
                .samples
                .iter()
                .map(|s| SubtaskSample {
                    node_id: format!("op_{}", s.node_id),
                    ..s.clone()
                })
                .collect();
            assert_eq!(got.samples, renamed);
        }
    }

    #[test]
    fn just_started_has_no_samples() {
        let m = decode_job_metrics(&fixture(
            "arroyo-main-addb390/job_metrics_rpc_just_started.json",
        ))
        .unwrap();
        assert!(m.samples.is_empty());
        assert_eq!((m.null_values, m.unknown_metric_groups), (0, 0));
        assert_eq!(decode_str("[]"), model::JobMetrics::default());
        assert!(decode_str(r#"[{"node_id":1,"metric_groups":[]}]"#)
            .samples
            .is_empty());
    }

    #[test]
    fn null_values_are_skipped_and_counted() {
        let m = decode_str(
            r#"[{"node_id":3,"metric_groups":[
                {"name":"messages_recv","subtasks":[
                    {"index":0,"metrics":[{"time":1,"value":1.5},{"time":2,"value":2.5},{"time":3,"value":null}]},
                    {"index":1,"metrics":[{"time":1,"value":null},{"time":2,"value":null}]},
                    {"index":2,"metrics":[{"time":5}]}
                ]}]}]"#,
        );
        assert_eq!(m.null_values, 4);
        assert_eq!(
            m.samples,
            vec![SubtaskSample {
                node_id: "3".into(),
                subtask_idx: 0,
                kind: MetricKind::MessagesRecv,
                point: Point {
                    time_micros: 2,
                    value: 2.5
                },
            }]
        );
    }

    #[test]
    fn unknown_metric_names_are_skipped_and_counted() {
        for doc in [
            // Name first: skipped without building points (nulls inside not counted).
            r#"[{"node_id":1,"metric_groups":[
                {"name":"tx_queue_size","subtasks":[{"index":0,"metrics":[{"time":9,"value":null},{"time":10,"value":4.0}]}]},
                {"name":"bytes_sent","subtasks":[{"index":0,"metrics":[{"time":1,"value":7.0}]}]},
                {"name":"Messages_Recv","subtasks":[]}]}]"#,
            // Name after the subtasks: same result.
            r#"[{"metric_groups":[
                {"subtasks":[{"index":0,"metrics":[{"time":9,"value":null},{"time":10,"value":4.0}]}],"name":"tx_queue_size"},
                {"subtasks":[{"index":0,"metrics":[{"time":1,"value":7.0}]}],"name":"bytes_sent"},
                {"subtasks":[],"name":"Messages_Recv"}],"node_id":1}]"#,
        ] {
            let m = decode_str(doc);
            assert_eq!(m.unknown_metric_groups, 2);
            assert_eq!(m.null_values, 0);
            assert_eq!(m.samples.len(), 1);
            assert_eq!(m.samples[0].kind, MetricKind::BytesSent);
            assert_eq!(m.samples[0].point.value, 7.0);
        }
    }

    #[test]
    fn duplicate_series_keep_newest_point() {
        let m = decode_str(
            r#"[
            {"node_id":2,"metric_groups":[{"name":"backpressure","subtasks":[
                {"index":0,"metrics":[{"time":10,"value":0.1},{"time":30,"value":0.3}]},
                {"index":0,"metrics":[{"time":20,"value":0.2}]}]}]},
            {"node_id":"2","metric_groups":[{"name":"backpressure","subtasks":[
                {"index":0,"metrics":[{"time":40,"value":0.4},{"time":5,"value":0.05}]}]}]},
            {"node_id":2,"metric_groups":[{"name":"backpressure","subtasks":[
                {"index":0,"metrics":[{"time":40,"value":0.45}]}]},
                {"name":"backpressure","subtasks":[{"index":1,"metrics":[{"time":1,"value":1.0}]}]}]}
            ]"#,
        );
        assert_eq!(m.samples.len(), 2);
        // Unordered points: the largest time wins; on a tie, the later one.
        assert_eq!(
            m.samples[0].point,
            Point {
                time_micros: 40,
                value: 0.45
            }
        );
        assert_eq!(m.samples[1].subtask_idx, 1);
        assert_eq!(m.newest_time_micros(), Some(40));
    }

    #[test]
    fn any_key_order_and_extra_keys() {
        let m = decode_str(
            r#"[{"extra":{"deep":[1,{"x":null}]},
                 "metric_groups":[{"subtasks":[{"metrics":[{"value":3.0,"time":7,"note":"x"}],
                                                "more":[],"index":5}],
                                   "unit":"per_second","name":"messages_sent"}],
                 "node_id":9,"trailing":true}]"#,
        );
        assert_eq!(
            m.samples,
            vec![SubtaskSample {
                node_id: "9".into(),
                subtask_idx: 5,
                kind: MetricKind::MessagesSent,
                point: Point {
                    time_micros: 7,
                    value: 3.0
                },
            }]
        );
        // Whitespace around everything is fine.
        let m = decode_str(" \n[ { \"nodeId\" : 1 , \"metricGroups\" : [ ] } ] \n");
        assert!(m.samples.is_empty());
    }

    #[test]
    fn numbers_at_the_edges() {
        let one = |time: &str, value: &str| {
            decode_job_metrics(
                format!(
                    r#"[{{"node_id":0,"metric_groups":[{{"name":"bytes_recv","subtasks":[{{"index":0,"metrics":[{{"time":{time},"value":{value}}}]}}]}}]}}]"#
                )
                .as_bytes(),
            )
        };
        let m = one("18446744073709551615", "-1e300").unwrap();
        assert_eq!(m.samples[0].point.time_micros, u64::MAX);
        assert_eq!(m.samples[0].point.value, -1e300);
        assert_eq!(one("0", "42").unwrap().samples[0].point.value, 42.0);
        assert_eq!(one("1", "-0.0").unwrap().samples[0].point.value, 0.0);
        for (time, value) in [
            ("18446744073709551616", "1"),
            ("99999999999999999999999999", "1"),
            ("-1", "1"),
            ("1.5", "1"),
            ("1e3", "1"),
            ("1", "1e400"),
            ("1", "-1e400"),
            ("1", "\"1.0\""),
            ("1", "true"),
            ("\"1\"", "1"),
            ("null", "1"),
        ] {
            let err = one(time, value).unwrap_err();
            assert!(err.line() >= 1 && err.column() > 1, "{time} {value}: {err}");
            assert!(err.to_string().contains("JobMetrics document"), "{err}");
        }
        // Node ids: any integer, written in decimal.
        for (id, want) in [("-3", "-3"), ("4294967296", "4294967296"), ("007", "")] {
            let r = decode_job_metrics(
                format!(
                    r#"[{{"node_id":{id},"metric_groups":[{{"name":"bytes_recv","subtasks":[{{"index":0,"metrics":[{{"time":1,"value":1}}]}}]}}]}}]"#
                )
                .as_bytes(),
            );
            match r {
                Ok(m) => assert_eq!(m.samples[0].node_id, want),
                Err(e) => assert!(want.is_empty(), "{id}: {e}"),
            }
        }
        for index in ["-1", "4294967296", "0.5", "\"0\""] {
            let doc = format!(
                r#"[{{"node_id":0,"metric_groups":[{{"name":"bytes_recv","subtasks":[{{"index":{index},"metrics":[]}}]}}]}}]"#
            );
            assert!(decode_job_metrics(doc.as_bytes()).is_err(), "{index}");
        }
    }

    #[test]
    fn malformed_documents_are_errors() {
        let cases: &[(&str, &str)] = &[
            ("", "EOF"),
            ("   ", "EOF"),
            ("not json", "expected"),
            ("{}", "list of operator metric groups"),
            ("null", "list of operator metric groups"),
            ("[1]", "operator object"),
            ("[[]]", "operator object"),
            (r#"[{"metric_groups":[]}]"#, "missing field `node_id`"),
            (r#"[{"node_id":1}]"#, "missing field `metric_groups`"),
            (
                r#"[{"node_id":1,"nodeId":1,"metric_groups":[]}]"#,
                "duplicate field `node_id`",
            ),
            (r#"[{"node_id":1.5,"metric_groups":[]}]"#, "node id"),
            (r#"[{"node_id":null,"metric_groups":[]}]"#, "node id"),
            (
                r#"[{"node_id":1,"metric_groups":{}}]"#,
                "list of metric groups",
            ),
            (
                r#"[{"node_id":1,"metric_groups":[{"subtasks":[]}]}]"#,
                "missing field `name`",
            ),
            (
                r#"[{"node_id":1,"metric_groups":[{"name":"bytes_recv"}]}]"#,
                "missing field `subtasks`",
            ),
            (
                r#"[{"node_id":1,"metric_groups":[{"name":7,"subtasks":[]}]}]"#,
                "metric name",
            ),
            (
                r#"[{"node_id":1,"metric_groups":[{"name":"bytes_recv","subtasks":null}]}]"#,
                "list of subtasks",
            ),
            (
                r#"[{"node_id":1,"metric_groups":[{"name":"bytes_recv","subtasks":[{"metrics":[]}]}]}]"#,
                "missing field `index`",
            ),
            (
                r#"[{"node_id":1,"metric_groups":[{"name":"bytes_recv","subtasks":[{"index":0}]}]}]"#,
                "missing field `metrics`",
            ),
            (
                r#"[{"node_id":1,"metric_groups":[{"name":"bytes_recv","subtasks":[{"index":0,"metrics":{"time":1}}]}]}]"#,
                "list of {time, value} points",
            ),
            (
                r#"[{"node_id":1,"metric_groups":[{"name":"bytes_recv","subtasks":[{"index":0,"metrics":[{"value":1}]}]}]}]"#,
                "missing field `time`",
            ),
            (
                r#"[{"node_id":1,"metric_groups":[{"name":"bytes_recv","subtasks":[{"index":0,"metrics":[5]}]}]}]"#,
                "invalid type",
            ),
            ("[] []", "trailing characters"),
            ("[],", "trailing characters"),
            (r#"[{"node_id":1,"metric_groups":[],}]"#, "trailing comma"),
            ("\"[]\"", "list of operator metric groups"),
        ];
        for (doc, want) in cases {
            let err = decode_err(doc);
            assert!(
                err.contains(want) && err.starts_with("cannot decode JobMetrics document: "),
                "{doc:?}: got {err:?}, want {want:?}"
            );
        }
        // A known error position.
        let err = decode_job_metrics(
            br#"[{"node_id":1,"metric_groups":[{"name":"bytes_recv","subtasks":5}]}]"#,
        )
        .unwrap_err();
        assert_eq!((err.line(), err.column()), (1, 64), "{err}");
        assert!(err.to_string().ends_with("at line 1 column 64"), "{err}");
        assert_eq!(err.document(), "JobMetrics document");
        // Invalid UTF-8 inside a string.
        assert!(decode_job_metrics(b"[{\"node_id\":\"\xff\",\"metric_groups\":[]}]").is_err());
        // Deep nesting: serde_json skips ignored values without recursing, and refuses
        // to recurse deeper than 128 levels elsewhere; either way, no stack overflow.
        let deep = format!(
            r#"[{{"node_id":1,"metric_groups":[],"x":{}{}}}]"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert!(decode_str(&deep).samples.is_empty());
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(decode_err(&deep).contains("operator object"));
        let deep = format!(
            r#"{{"data":[],"x":{}1{}}}"#,
            "{\"a\":".repeat(100_000),
            "}".repeat(100_000)
        );
        assert!(decode_jobs(deep.as_bytes()).unwrap().is_empty());
        let deep = format!(
            r#"{{"data":{}{}}}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert!(decode_jobs(deep.as_bytes()).is_err());
    }

    #[test]
    fn truncated_fixtures_are_errors() {
        for rel in [
            "arroyo-main-addb390/job_metrics_rpc.json",
            "arroyo-v0.15.0/job_metrics_rpc.json",
        ] {
            let bytes = fixture(rel);
            for cut in [1, 2, bytes.len() / 3, bytes.len() / 2, bytes.len() - 1] {
                let err = decode_job_metrics(&bytes[..cut]).unwrap_err();
                assert!(err.to_string().contains("EOF"), "{rel} cut at {cut}: {err}");
                assert_eq!(err.line(), 1);
            }
        }
        let bytes = fixture("arroyo-main-addb390/operator_metric_groups.json");
        let err = decode_metric_groups_envelope(&bytes[..bytes.len() / 2]).unwrap_err();
        assert!(err
            .to_string()
            .starts_with("cannot decode operator_metric_groups response: "));
        assert!(err.line() > 1, "{err}");
    }

    #[test]
    fn envelope_shapes() {
        assert!(decode_metric_groups_envelope(br#"{"data":[]}"#)
            .unwrap()
            .samples
            .is_empty());
        let m = decode_metric_groups_envelope(
            br#"{"hasMore":false,"data":[{"node_id":1,"metric_groups":[{"name":"bytes_sent","subtasks":[{"index":0,"metrics":[{"time":1,"value":2}]}]}]}],"x":{}}"#,
        )
        .unwrap();
        assert_eq!(m.samples.len(), 1);
        for (body, want) in [
            ("{}", "missing field `data`"),
            (r#"{"data":null}"#, "list of operator metric groups"),
            (r#"{"data":[],"data":[]}"#, "duplicate field `data`"),
            ("[]", "`data` list"),
        ] {
            let err = decode_metric_groups_envelope(body.as_bytes())
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "{body}: {err}");
        }
    }

    const AWKWARD: &str = "a \"quoted\" \\back\\slash\nnew\tline é ü 漢字 🚀 \u{0}\u{1f}";

    #[test]
    fn awkward_strings_survive() {
        let id = serde_json::to_string(AWKWARD).unwrap();
        let doc = format!(
            r#"[{{"operatorId":{id},"metricGroups":[{{"name":"messages\u005fsent","subtasks":[{{"index":0,"metrics":[{{"time":1,"value":2}}]}}]}},{{"name":"bytes_recv\n","subtasks":[]}}]}},
               {{"operatorId":"\ud83d\ude80 w\u00e9ird","metricGroups":[{{"name":"backpressure","subtasks":[{{"index":0,"metrics":[{{"time":1,"value":0}}]}}]}}]}}]"#
        );
        let m = decode_str(&doc);
        assert_eq!(m.unknown_metric_groups, 1);
        assert_eq!(m.samples.len(), 2);
        assert_eq!(m.samples[0].node_id, AWKWARD);
        assert_eq!(m.samples[0].kind, MetricKind::MessagesSent);
        assert_eq!(m.samples[1].node_id, "🚀 wéird");
        // A lone surrogate is not valid text.
        assert!(decode_job_metrics(br#"[{"operatorId":"\ud83d","metricGroups":[]}]"#).is_err());

        let body = json!({
            "id": "pl_1",
            "name": AWKWARD,
            "graph": {"nodes": [{"node_id": AWKWARD, "operator": AWKWARD, "description": AWKWARD, "parallelism": 1}]},
            "tags": {AWKWARD: AWKWARD}
        });
        let p = decode_pipeline(&serde_json::to_vec(&body).unwrap()).unwrap();
        assert_eq!(p.name, AWKWARD);
        assert_eq!(p.tags[AWKWARD], AWKWARD);
        let op = &p.operators[AWKWARD];
        assert_eq!(
            (
                op.node_id.as_str(),
                op.operator.as_str(),
                op.description.as_str()
            ),
            (AWKWARD, AWKWARD, AWKWARD)
        );
    }

    // --- differential test against the naive walk -----------------------------------

    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            // xorshift64*
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        fn shuffle<T>(&mut self, v: &mut [T]) {
            for i in (1..v.len()).rev() {
                let j = self.below(i as u64 + 1) as usize;
                v.swap(i, j);
            }
        }
    }

    fn object(rng: &mut Rng, mut entries: Vec<String>) -> String {
        if rng.below(4) == 0 {
            entries.push(r#""extra":{"a":[1,"two",null,{"b":false}]}"#.to_string());
        }
        rng.shuffle(&mut entries);
        format!("{{{}}}", entries.join(","))
    }

    fn generated_doc(rng: &mut Rng) -> String {
        const NAMES: [&str; 9] = [
            "bytes_recv",
            "bytes_sent",
            "messages_recv",
            "messages_sent",
            "backpressure",
            "tx_queue_size",
            "tx_queue_rem",
            "messages\\u005frecv",
            "weird \\\"name\\\"",
        ];
        const WORDS: [&str; 4] = [
            "source_0",
            "tumble \\\"4\\\"",
            "sink_\\u00e9_6",
            "a\\\\b\\nc",
        ];
        let style = rng.below(3);
        let (id_key, groups_key) = match style {
            0 => ("operatorId", "metricGroups"),
            1 => ("nodeId", "metricGroups"),
            _ => ("node_id", "metric_groups"),
        };
        let mut ops = Vec::new();
        for _ in 0..rng.below(5) {
            let id = if style == 0 {
                format!("\"{}\"", WORDS[rng.below(WORDS.len() as u64) as usize])
            } else {
                rng.below(8).to_string()
            };
            let mut groups = Vec::new();
            for _ in 0..rng.below(7) {
                let name = NAMES[rng.below(NAMES.len() as u64) as usize];
                let mut subtasks = Vec::new();
                for _ in 0..rng.below(4) {
                    let mut points = Vec::new();
                    for _ in 0..rng.below(6) {
                        let time = format!(r#""time":{}"#, 1_700_000_000_000_000 + rng.below(20));
                        let value = match rng.below(6) {
                            0 => Some("null".to_string()),
                            1 => None,
                            2 => Some(rng.below(1000).to_string()),
                            3 => Some(format!("-{}e-3", rng.below(1000))),
                            _ => Some(format!("{:?}", rng.below(1 << 40) as f64 / 7.0)),
                        };
                        let mut entries = vec![time];
                        entries.extend(value.map(|v| format!(r#""value":{v}"#)));
                        points.push(object(rng, entries));
                    }
                    let index = rng.below(3);
                    subtasks.push(object(
                        rng,
                        vec![
                            format!(r#""index":{index}"#),
                            format!(r#""metrics":[{}]"#, points.join(",")),
                        ],
                    ));
                }
                groups.push(object(
                    rng,
                    vec![
                        format!(r#""name":"{name}""#),
                        format!(r#""subtasks":[{}]"#, subtasks.join(",")),
                    ],
                ));
            }
            ops.push(object(
                rng,
                vec![
                    format!(r#""{id_key}":{id}"#),
                    format!(r#""{groups_key}":[{}]"#, groups.join(",")),
                ],
            ));
        }
        format!("[{}]", ops.join(","))
    }

    #[test]
    fn differential_against_naive_walk() {
        for rel in METRICS_DOCS {
            let bytes = fixture(rel);
            let v: Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(decode_job_metrics(&bytes).unwrap(), naive(&v), "{rel}");
        }
        for rel in ENVELOPES {
            let bytes = fixture(rel);
            let v: Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(
                decode_metric_groups_envelope(&bytes).unwrap(),
                naive(&v["data"]),
                "{rel}"
            );
        }
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut totals = (0, 0, 0);
        for i in 0..2000 {
            let doc = generated_doc(&mut rng);
            let v: Value = serde_json::from_str(&doc).unwrap_or_else(|e| panic!("{e}: {doc}"));
            let got =
                decode_job_metrics(doc.as_bytes()).unwrap_or_else(|e| panic!("#{i} {e}: {doc}"));
            assert_eq!(got, naive(&v), "doc #{i}: {doc}");
            totals.0 += got.samples.len();
            totals.1 += got.null_values;
            totals.2 += got.unknown_metric_groups;
        }
        // The generator exercises every path.
        assert!(
            totals.0 > 1000 && totals.1 > 1000 && totals.2 > 500,
            "{totals:?}"
        );
    }

    // --- REST -------------------------------------------------------------------------

    fn camel(key: &str) -> String {
        let mut out = String::new();
        let mut upper = false;
        for c in key.chars() {
            if c == '_' {
                upper = true;
            } else if upper {
                out.extend(c.to_uppercase());
                upper = false;
            } else {
                out.push(c);
            }
        }
        out
    }

    /// Rewrites every object key to camelCase (as up to v0.14), keeping `hasMore`.
    fn camel_case_keys(v: &Value) -> Value {
        match v {
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (camel(k), camel_case_keys(v)))
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.iter().map(camel_case_keys).collect()),
            other => other.clone(),
        }
    }

    fn camel_bytes(rel: &str) -> Vec<u8> {
        let v = camel_case_keys(&fixture_value(rel));
        let text = serde_json::to_string(&v).unwrap();
        assert!(!text.contains("\"start_time\"") && !text.contains("\"node_id\""));
        text.into_bytes()
    }

    #[test]
    fn jobs_main() {
        let jobs = decode_jobs(&fixture("arroyo-main-addb390/jobs.json")).unwrap();
        let running = model::Job {
            id: "job_DsH3Sq8cSj".into(),
            pipeline_id: Some("pl_89EzD1DdVl".into()),
            state: "Running".into(),
            running_desired: true,
            run_id: 1,
            start_time_micros: Some(1795608484061022),
            finish_time_micros: None,
            tasks: Some(8),
            failure_message: None,
            failure_domain: None,
        };
        assert_eq!(jobs, vec![running.clone()]);
        assert_eq!(
            decode_jobs(&fixture("arroyo-main-addb390/pipeline_jobs.json")).unwrap(),
            jobs
        );
        let stopped = decode_jobs(&fixture("arroyo-main-addb390/jobs_stopped.json")).unwrap();
        assert_eq!(
            stopped,
            vec![model::Job {
                state: "Stopped".into(),
                running_desired: false,
                finish_time_micros: Some(1795608703840653),
                ..running
            }]
        );
        let leader = decode_jobs(&fixture("arroyo-main-addb390/leader_mode/jobs.json")).unwrap();
        assert_eq!(leader.len(), 1);
        assert_eq!(leader[0].id, "job_8uy3LmD2aL");
        assert_eq!(leader[0].pipeline_id.as_deref(), Some("pl_QrhMdYRRb0"));
    }

    #[test]
    fn jobs_v015_and_camel_case() {
        let jobs = decode_jobs(&fixture("arroyo-v0.15.0/jobs.json")).unwrap();
        let running = model::Job {
            id: "job_sX6HjY6eoa".into(),
            pipeline_id: None,
            state: "Running".into(),
            running_desired: true,
            run_id: 1,
            start_time_micros: Some(1795610115692036),
            finish_time_micros: None,
            tasks: Some(8),
            failure_message: None,
            failure_domain: None,
        };
        assert_eq!(jobs, vec![running.clone()]);
        assert_eq!(
            decode_jobs(&fixture("arroyo-v0.15.0/jobs.raw.json")).unwrap(),
            jobs
        );
        assert_eq!(
            decode_jobs(&fixture("arroyo-v0.15.0/pipeline_jobs.json")).unwrap(),
            jobs
        );
        let stopped = decode_jobs(&fixture("arroyo-v0.15.0/jobs_stopped.json")).unwrap();
        assert_eq!(stopped[0].finish_time_micros, Some(1795610265673518));
        assert_eq!(stopped[0].state, "Stopped");

        for rel in [
            "arroyo-main-addb390/jobs.json",
            "arroyo-main-addb390/jobs_stopped.json",
            "arroyo-v0.15.0/jobs.json",
            "arroyo-v0.15.0/jobs_stopped.json",
        ] {
            assert_eq!(
                decode_jobs(&camel_bytes(rel)).unwrap(),
                decode_jobs(&fixture(rel)).unwrap(),
                "{rel}"
            );
        }
    }

    #[test]
    fn job_failures_and_optional_fields() {
        let jobs = decode_jobs(
            br#"{"data":[
                {"id":"job_a","state":"Failed","failure_reason":{"error":"boom \"x\"","domain":"user"},"pipeline_id":"pl_a"},
                {"id":"job_b","state":"Failed","failure_message":"old style"},
                {"id":"job_c","state":"Failed","failureMessage":"camel","runningDesired":false,"runId":7},
                {"id":"job_d","state":"Created","running_desired":null,"run_id":null,"start_time":null,
                 "finish_time":null,"tasks":null,"failure_message":null,"failure_reason":null,"pipeline_id":null,
                 "something_new":{"x":[1,2]}},
                {"id":"job_e","state":"Failing","failure_reason":{"error":null,"domain":"internal"},"failure_message":"fallback"},
                {"id":"job_f","state":"Running"}
            ],"hasMore":false}"#,
        )
        .unwrap();
        assert_eq!(jobs.len(), 6);
        assert_eq!(jobs[0].failure_message.as_deref(), Some("boom \"x\""));
        assert_eq!(jobs[0].failure_domain.as_deref(), Some("user"));
        assert_eq!(jobs[0].pipeline_id.as_deref(), Some("pl_a"));
        assert_eq!(jobs[1].failure_message.as_deref(), Some("old style"));
        assert_eq!(jobs[1].failure_domain, None);
        assert_eq!(jobs[2].failure_message.as_deref(), Some("camel"));
        assert_eq!(jobs[2].run_id, 7);
        let default_d = model::Job {
            id: "job_d".into(),
            state: "Created".into(),
            ..Default::default()
        };
        assert_eq!(jobs[3], default_d);
        assert_eq!(jobs[4].failure_message.as_deref(), Some("fallback"));
        assert_eq!(jobs[4].failure_domain.as_deref(), Some("internal"));
        assert_eq!(jobs[5].state, "Running");
        assert!(decode_jobs(br#"{"data":null}"#).unwrap().is_empty());
        assert!(decode_jobs(br#"{"data":[]}"#).unwrap().is_empty());
    }

    #[test]
    fn jobs_errors() {
        for (body, want) in [
            ("", "EOF"),
            ("[]", "invalid length 0"),
            ("{}", "missing field `data`"),
            (r#"{"data":{}}"#, "invalid type"),
            (r#"{"data":[{"state":"Running"}]}"#, "missing field `id`"),
            (r#"{"data":[{"id":"job_a"}]}"#, "missing field `state`"),
            (
                r#"{"data":[{"id":"job_a","state":null}]}"#,
                "invalid type: null",
            ),
            (
                r#"{"data":[{"id":"job_a","state":"Running","run_id":"1"}]}"#,
                "invalid type",
            ),
            (
                r#"{"data":[{"id":"job_a","state":"Running","start_time":-5}]}"#,
                "invalid value",
            ),
            (
                r#"{"data":[{"id":"job_a","state":"Running","running_desired":1}]}"#,
                "invalid type",
            ),
            (
                r#"{"data":[{"id":"job_a","state":"Running","failure_reason":"x"}]}"#,
                "invalid type",
            ),
            (
                r#"{"data":[{"id":"job_a","state":"Running","run_id":1,"runId":2}]}"#,
                "duplicate field",
            ),
            (r#"{"data":[{"id":7,"state":"Running"}]}"#, "invalid type"),
        ] {
            let err = decode_jobs(body.as_bytes()).unwrap_err().to_string();
            assert!(
                err.starts_with("cannot decode jobs list: ") && err.contains(want),
                "{body}: {err}"
            );
        }
        let bytes = fixture("arroyo-main-addb390/jobs.json");
        let err = decode_jobs(&bytes[..bytes.len() - 10]).unwrap_err();
        assert!(err.to_string().contains("EOF"), "{err}");
    }

    fn check_nexmark_pipeline(p: &model::Pipeline, id: &str) {
        assert_eq!(p.id, id);
        assert_eq!(p.name, "nexmark_bids_per_auction");
        assert_eq!(p.checkpoint_interval_micros, Some(10_000_000));
        let ids: Vec<&str> = p.operators.keys().map(String::as_str).collect();
        assert_eq!(ids, ["0", "1", "4", "6"]);
        let expect = [
            ("0", "nexmark", "Nexmark<200 eps>"),
            ("1", "chained_op", "nexmark -> watermark -> ArrowKey<_>"),
            (
                "4",
                "chained_op",
                "TumblingWindow<TumblingWindow> -> sink projection",
            ),
            ("6", "blackhole", "Blackhole"),
        ];
        for (node, operator, description) in expect {
            assert_eq!(
                p.operators[node],
                model::Operator {
                    node_id: node.into(),
                    operator: operator.into(),
                    description: description.into(),
                    parallelism: 2,
                }
            );
        }
        assert!(p.tags.is_empty());
    }

    #[test]
    fn pipeline_fixtures() {
        for rel in [
            "arroyo-main-addb390/pipeline.json",
            "arroyo-main-addb390/pipeline_stopped.json",
        ] {
            check_nexmark_pipeline(&decode_pipeline(&fixture(rel)).unwrap(), "pl_89EzD1DdVl");
        }
        for rel in [
            "arroyo-v0.15.0/pipeline.json",
            "arroyo-v0.15.0/pipeline_stopped.json",
            "arroyo-v0.15.0/stop_patch_response.json",
        ] {
            check_nexmark_pipeline(&decode_pipeline(&fixture(rel)).unwrap(), "pl_inmhsYVAPs");
        }
        for rel in [
            "arroyo-main-addb390/pipeline.json",
            "arroyo-v0.15.0/pipeline.json",
        ] {
            assert_eq!(
                decode_pipeline(&camel_bytes(rel)).unwrap(),
                decode_pipeline(&fixture(rel)).unwrap(),
                "{rel}"
            );
        }
    }

    #[test]
    fn pipelines_page_fixtures() {
        let page = decode_pipelines_page(&fixture("arroyo-main-addb390/pipelines.json")).unwrap();
        assert!(!page.has_more);
        assert_eq!(page.pipelines.len(), 1);
        check_nexmark_pipeline(&page.pipelines[0], "pl_89EzD1DdVl");
        let page = decode_pipelines_page(&fixture("arroyo-v0.15.0/pipelines.json")).unwrap();
        assert!(!page.has_more);
        check_nexmark_pipeline(&page.pipelines[0], "pl_inmhsYVAPs");
        // camelCase keys everywhere (hasMore is camelCase in every release anyway).
        let page2 = decode_pipelines_page(&camel_bytes("arroyo-v0.15.0/pipelines.json")).unwrap();
        assert_eq!(page2, page);

        for (body, more) in [
            (r#"{"data":[],"hasMore":true}"#, true),
            (r#"{"data":[],"has_more":true}"#, true),
            (r#"{"data":[]}"#, false),
            (r#"{"data":[],"hasMore":null}"#, false),
            (r#"{"data":null,"hasMore":false}"#, false),
        ] {
            let page = decode_pipelines_page(body.as_bytes()).unwrap();
            assert_eq!(page.has_more, more, "{body}");
            assert!(page.pipelines.is_empty());
        }
        for (body, want) in [
            (r#"{"hasMore":true}"#, "missing field `data`"),
            (r#"{"data":[],"hasMore":"yes"}"#, "invalid type"),
            (r#"{"data":[{"name":"x"}]}"#, "missing field `id`"),
            (r#"{"data":[1]}"#, "invalid type"),
        ] {
            let err = decode_pipelines_page(body.as_bytes())
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with("cannot decode pipelines page: ") && err.contains(want),
                "{body}: {err}"
            );
        }
    }

    #[test]
    fn pipeline_variants() {
        // v0.11/v0.12: string node ids; camelCase; tags and odd nulls.
        let p = decode_pipeline(
            br#"{"id":"pl_x","name":null,"checkpointIntervalMicros":null,
                 "graph":{"nodes":[
                    {"nodeId":"source_nexmark_0","operator":"nexmark","description":null,"parallelism":null},
                    {"nodeId":"sink_6","operator":"blackhole","description":"Blackhole","parallelism":3,"new":1}
                 ],"edges":[]},
                 "tags":{"team":"data","env":null,"":"empty key"}}"#,
        )
        .unwrap();
        assert_eq!(p.name, "");
        assert_eq!(p.checkpoint_interval_micros, None);
        assert_eq!(p.operators.len(), 2);
        let src = &p.operators["source_nexmark_0"];
        assert_eq!((src.description.as_str(), src.parallelism), ("", 0));
        assert_eq!(p.operators["sink_6"].parallelism, 3);
        assert_eq!(
            p.tags,
            BTreeMap::from([
                ("team".to_string(), "data".to_string()),
                (String::new(), "empty key".to_string())
            ])
        );
        // Minimal pipeline; graph and tags absent or null.
        for body in [
            r#"{"id":"pl_y"}"#,
            r#"{"id":"pl_y","graph":null,"tags":null}"#,
            r#"{"id":"pl_y","graph":{},"tags":{}}"#,
            r#"{"id":"pl_y","graph":{"nodes":null}}"#,
        ] {
            let p = decode_pipeline(body.as_bytes()).unwrap();
            assert_eq!(
                p,
                model::Pipeline {
                    id: "pl_y".into(),
                    ..Default::default()
                },
                "{body}"
            );
        }
        for (body, want) in [
            (r#"{"name":"x"}"#, "missing field `id`"),
            (
                r#"{"id":"pl","graph":{"nodes":[{"operator":"x"}]}}"#,
                "missing field `node_id`",
            ),
            (
                r#"{"id":"pl","graph":{"nodes":[{"node_id":1.5}]}}"#,
                "node id",
            ),
            (
                r#"{"id":"pl","graph":{"nodes":[{"node_id":1,"parallelism":-1}]}}"#,
                "invalid value",
            ),
            (r#"{"id":"pl","tags":{"a":1}}"#, "invalid type"),
            (r#"{"id":"pl","tags":[]}"#, "invalid type"),
            (r#"{"id":"pl"} x"#, "trailing characters"),
        ] {
            let err = decode_pipeline(body.as_bytes()).unwrap_err().to_string();
            assert!(
                err.starts_with("cannot decode pipeline: ") && err.contains(want),
                "{body}: {err}"
            );
        }
    }

    #[test]
    fn checkpoint_fixtures() {
        let cps = decode_checkpoints(&fixture("arroyo-main-addb390/checkpoints.json")).unwrap();
        let epochs: Vec<u64> = cps.iter().map(|c| c.epoch).collect();
        assert_eq!(epochs, (6..=17).collect::<Vec<_>>());
        assert_eq!(
            cps[0],
            model::Checkpoint {
                epoch: 6,
                start_time_micros: 1795608555821278,
                finish_time_micros: Some(1795608556108619),
                checkpoint_type: Some("scheduled".into()),
            }
        );
        let stopped =
            decode_checkpoints(&fixture("arroyo-main-addb390/checkpoints_stopped.json")).unwrap();
        let last = stopped.last().unwrap();
        assert_eq!(last.epoch, 21);
        assert_eq!(last.checkpoint_type.as_deref(), Some("stopping"));
        assert_eq!(last.finish_time_micros, Some(1795608703836659));

        let v15 = decode_checkpoints(&fixture("arroyo-v0.15.0/checkpoints.json")).unwrap();
        let epochs: Vec<u64> = v15.iter().map(|c| c.epoch).collect();
        assert_eq!(epochs, (8..=12).collect::<Vec<_>>());
        assert!(v15.iter().all(|c| c.checkpoint_type.is_none()));
        assert_eq!(v15[0].start_time_micros, 1795610203907835);
        assert_eq!(v15[0].finish_time_micros, Some(1795610204204351));
        let v15s = decode_checkpoints(&fixture("arroyo-v0.15.0/checkpoints_stopped.json")).unwrap();
        assert_eq!(v15s.last().unwrap().epoch, 14);

        for rel in [
            "arroyo-main-addb390/checkpoints.json",
            "arroyo-main-addb390/checkpoints_stopped.json",
            "arroyo-v0.15.0/checkpoints.json",
        ] {
            assert_eq!(
                decode_checkpoints(&camel_bytes(rel)).unwrap(),
                decode_checkpoints(&fixture(rel)).unwrap(),
                "{rel}"
            );
        }
    }

    #[test]
    fn checkpoint_variants_and_errors() {
        let cps = decode_checkpoints(
            br#"{"data":[{"epoch":3,"start_time":10,"finish_time":null,"checkpoint_type":null,"events":[]},
                         {"epoch":4,"startTime":20}]}"#,
        )
        .unwrap();
        assert_eq!(
            cps,
            vec![
                model::Checkpoint {
                    epoch: 3,
                    start_time_micros: 10,
                    finish_time_micros: None,
                    checkpoint_type: None,
                },
                model::Checkpoint {
                    epoch: 4,
                    start_time_micros: 20,
                    ..Default::default()
                },
            ]
        );
        for (body, want) in [
            (r#"{"data":[{"start_time":1}]}"#, "missing field `epoch`"),
            (r#"{"data":[{"epoch":1}]}"#, "missing field `start_time`"),
            (r#"{"data":[{"epoch":-1,"start_time":1}]}"#, "invalid value"),
            (
                r#"{"data":[{"epoch":1,"start_time":1,"finish_time":"x"}]}"#,
                "invalid type",
            ),
            (
                r#"{"data":[{"epoch":1,"start_time":1e400}]}"#,
                "number out of range",
            ),
        ] {
            let err = decode_checkpoints(body.as_bytes()).unwrap_err().to_string();
            assert!(
                err.starts_with("cannot decode checkpoints list: ") && err.contains(want),
                "{body}: {err}"
            );
        }
    }

    // --- the fast scanner ---------------------------------------------------------------

    /// The scanner's rule: when it answers, serde answers exactly the same. Returns
    /// whether the scanner answered.
    fn check_fast(doc: &[u8]) -> bool {
        let fast = fast_job_metrics(doc);
        if let Some(f) = &fast {
            assert_eq!(
                serde_job_metrics(doc).as_ref(),
                Ok(f),
                "{}",
                String::from_utf8_lossy(doc)
            );
        }
        // The public decoder never disagrees with serde, whichever path it took.
        assert_eq!(decode_job_metrics(doc), serde_job_metrics(doc));
        fast.is_some()
    }

    fn check_fast_envelope(body: &[u8]) -> bool {
        let fast = fast_envelope(body);
        if let Some(f) = &fast {
            assert_eq!(serde_envelope(body).as_ref(), Ok(f));
        }
        assert_eq!(decode_metric_groups_envelope(body), serde_envelope(body));
        fast.is_some()
    }

    #[test]
    fn digit_helpers() {
        for s in [
            "",
            "0",
            "7",
            "12345678",
            "123456789",
            "1795608672537751",
            "00000000000000000001",
            "18446744073709551615",
            "18446744073709551616",
            "99999999999999999999",
            "999999999999999999999999",
        ] {
            let want = if s.is_empty() {
                Some(0)
            } else {
                s.parse().ok()
            };
            assert_eq!(digits_value(s.as_bytes()), want, "{s}");
        }
        let mut rng = Rng(42);
        for _ in 0..10_000 {
            let v = rng.next() % 100_000_000;
            let text = format!("{v:08}");
            let chunk: [u8; 8] = text.as_bytes().try_into().unwrap();
            assert_eq!(eight_digits(chunk), v, "{text}");
        }
        for c in 0..=255u8 {
            assert_eq!(
                digit_run(&[c; 11], 0),
                if c.is_ascii_digit() { 11 } else { 0 },
                "{c}"
            );
            for len in 0..20 {
                let mut v = b"ab".to_vec();
                v.extend(std::iter::repeat_n(b'7', len));
                v.push(c);
                v.extend_from_slice(b"12");
                let want = if c.is_ascii_digit() { len + 3 } else { len };
                assert_eq!(digit_run(&v, 2), want, "{len} {c}");
            }
        }
    }

    #[test]
    fn number_grammar_matches_serde() {
        let texts = [
            "0",
            "-0",
            "1",
            "-1",
            "01",
            "-01",
            "00",
            "1.",
            "1.5",
            "-1.5",
            ".5",
            "1e",
            "1e5",
            "1E5",
            "1e+5",
            "1e-5",
            "1E-05",
            "1.5e300",
            "1e400",
            "-",
            "+1",
            "1.5.2",
            "0.0",
            "23.18069163566513",
            "0.0039057732210423524",
            "1e-7",
            "12345678901234567890123",
            "1x",
            "Infinity",
            "NaN",
            "0x10",
            "1_000",
            "--1",
            "1e+",
            "1.e5",
        ];
        for text in texts {
            let b = text.as_bytes();
            let ours = number_end(b, 0) == Some(b.len());
            let serde = serde_json::from_str::<IgnoredAny>(text).is_ok()
                && matches!(b[0], b'-' | b'0'..=b'9');
            assert_eq!(ours, serde, "{text}");
        }
    }

    #[test]
    fn fast_path_reads_every_capture() {
        for rel in METRICS_DOCS {
            assert!(check_fast(&fixture(rel)), "{rel}");
        }
        for rel in ENVELOPES {
            assert!(check_fast_envelope(&fixture(rel)), "{rel}");
        }
        // Pretty-printed (whitespace everywhere): the general path, still no serde.
        for rel in METRICS_DOCS {
            let pretty = serde_json::to_vec_pretty(&fixture_value(rel)).unwrap();
            assert!(check_fast(&pretty), "{rel}");
        }
        // Older releases' keys.
        let list = fixture_value("arroyo-v0.15.0/job_metrics_rpc.json");
        for (node_key, groups_key, words) in [
            ("nodeId", "metricGroups", false),
            ("operatorId", "metricGroups", true),
        ] {
            let doc = rewrite_operators(&list, node_key, groups_key, words);
            assert!(check_fast(&serde_json::to_vec(&doc).unwrap()));
        }
    }

    #[test]
    fn fast_path_on_generated_documents_of_every_release() {
        use crate::sim::{expected_newest, generate_metrics_document, Release};
        let end = 1_795_608_672_537_756;
        let nodes = [(0, 3), (1, 2), (4, 1), (6, 2)];
        for release in Release::ALL {
            for samples in [0, 1, 2, 3, 77, 150, 151, 400] {
                let doc = generate_metrics_document(release, &nodes, samples, end, 17);
                assert!(check_fast(doc.as_bytes()), "{release} {samples}");
                let got = decode_job_metrics(doc.as_bytes()).unwrap();
                let want: BTreeMap<SeriesKey, Point> =
                    expected_newest(release, &nodes, samples, end, 17)
                        .into_iter()
                        .map(|s| ((s.node_id, s.subtask_idx, s.kind), s.point))
                        .collect();
                assert_eq!(as_map(&got), want, "{release} {samples}");
                assert_eq!(got, naive(&serde_json::from_str(&doc).unwrap()));
                // The REST bridge's envelope around the same list.
                let envelope = format!(r#"{{"data":{doc}}}"#);
                assert!(check_fast_envelope(envelope.as_bytes()));
            }
        }
    }

    #[test]
    fn fast_path_on_random_documents() {
        let mut rng = Rng(0x005E_ED0F_FA57);
        let mut fast = 0;
        for _ in 0..3000 {
            let doc = generated_doc(&mut rng);
            fast += usize::from(check_fast(doc.as_bytes()));
        }
        // Escaped names and ids go to serde; the rest must not.
        assert!(fast > 500, "{fast}");
    }

    #[test]
    fn fast_path_edge_cases() {
        for doc in [
            r#"[]"#,
            " [ ] ",
            r#"[{"node_id":0,"metric_groups":[]}]"#,
            r#"[{"node_id":18446744073709551615,"metric_groups":[]}]"#,
            r#"[{"node_id":"","metric_groups":[]}]"#,
            r#"[{"node_id":"é 漢字 🚀","metric_groups":[{"name":"bytes_recv","subtasks":[{"index":0,"metrics":[{"time":1,"value":1}]}]}]}]"#,
            r#"[{"node_id":1,"metric_groups":[{"name":"bytes_recv","subtasks":[{"index":4294967295,"metrics":[{"time":18446744073709551615,"value":-1e300}]}]}]}]"#,
            r#"[{"node_id":1,"metric_groups":[{"name":"bytes_recv","subtasks":[{"index":0,"metrics":[{"time":2,"value":1e400},{"time":3,"value":5}]}]}]}]"#,
            r#"[{"node_id":1,"metric_groups":[{"name":"bytes_recv","subtasks":[{"index":0,"metrics":[{"time":3,"value":null},{"time":2},{"value":1,"time":1,"x":[{"y":[]},{}]}]}]}]}]"#,
            r#"[{"node_id":1,"metric_groups":[{"name":"other","subtasks":{"any":["thing",1.5e3,true,false,null]}}]}]"#,
            r#"[{"x":{"a":[[[[]]]],"b":{}},"node_id":1,"metric_groups":[{"subtasks":[{"metrics":[],"index":2}],"name":"backpressure"}]}]"#,
            r#"[{"node_id":1,"metric_groups":[{"name":"backpressure","subtasks":[{"index":0,"metrics":[{"time":5,"value":0.5},{"time":5,"value":0.25},{"time":4,"value":0.75}]}]}]}]"#,
        ] {
            assert!(check_fast(doc.as_bytes()), "{doc}");
        }
        // Left to serde (which accepts or rejects them).
        for doc in [
            r#"[{"node_id":-3,"metric_groups":[]}]"#,
            r#"[{"node_id":"a\"b","metric_groups":[]}]"#,
            r#"[{"node_id":1,"metric_groups":[{"name":"bytes\u005frecv","subtasks":[]}]}]"#,
            r#"[{"node_id":1,"metric_groups":[],"x":"\n"}]"#,
            r#"[{"node_id":1,"metric_groups":[{"name":"bytes_recv","subtasks":[{"index":0,"metrics":[{"time":1,"value":1e400}]}]}]}]"#,
            r#"[{"node_id":1,"metric_groups":[{"name":"bytes_recv","subtasks":[{"index":0,"metrics":[{"time":1,"value":"1"}]}]}]}]"#,
            r#"[{"node_id":1,"metric_groups":[{"name":"bytes_recv","subtasks":[{"index":0,"metrics":[{"time":1,"time":2,"value":1}]}]}]}]"#,
            r#"[{"node_id":1,"metric_groups":[{"name":"bytes_recv","subtasks":[{"index":0,"metrics":[{"time":1.0,"value":1}]}]}]}]"#,
            r#"[{"node_id":1,"metric_groups":[{"name":"bytes_recv","subtasks":[{"index":0,"metrics":[{"time":01,"value":1}]}]}]}]"#,
            r#"[{"node_id":1,"metric_groups":[{"name":"bytes_recv","subtasks":[{"index":0,"metrics":[{"time":1,"value":01}]}]}]}]"#,
            r#"[{"node_id":1,"metric_groups":[{"name":"bytes_recv","subtasks":[{"index":0,"metrics":[{"time":1,"value":1},]}]}]}]"#,
            "[] x",
            "\u{feff}[]",
        ] {
            assert!(!check_fast(doc.as_bytes()), "{doc}");
        }
        let deep = format!(
            r#"[{{"node_id":1,"metric_groups":[],"x":{}{}}}]"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        assert!(!check_fast(deep.as_bytes()));
        let shallow = format!(
            r#"[{{"node_id":1,"metric_groups":[],"x":{}1{}}}]"#,
            "[{\"a\":".repeat(31),
            "}]".repeat(31)
        );
        assert!(check_fast(shallow.as_bytes()));
    }

    /// Corrupted documents: whatever the scanner accepts, serde accepts identically, and
    /// nothing panics.
    #[test]
    fn fast_path_on_mutated_documents() {
        use crate::sim::{generate_metrics_document, Release};
        const BYTES: &[u8] = b"{}[]\",:0123456789.eE+- \n\\ntrufalsx\x00\xff\xc3";
        let mut rng = Rng(0xD1FF_E7E7);
        let mut bases: Vec<Vec<u8>> = Release::ALL
            .iter()
            .map(|r| generate_metrics_document(*r, &[(0, 2), (3, 1)], 4, 1_795_608_672_537_756, 3))
            .map(String::into_bytes)
            .collect();
        bases.extend((0..20).map(|_| generated_doc(&mut rng).into_bytes()));
        // Documents with escapes are serde's anyway.
        bases.retain(|doc| fast_job_metrics(doc).is_some());
        assert!(bases.len() > 8, "{}", bases.len());
        // `total`: mutated ASCII documents without escapes that serde accepts; `fast`:
        // those the scanner reads.
        let (mut fast, mut total) = (0, 0);
        for round in 0..40_000 {
            let base = &bases[round % bases.len()];
            let mut doc = base.clone();
            for _ in 0..=rng.below(2) {
                if doc.is_empty() {
                    break;
                }
                let at = rng.below(doc.len() as u64) as usize;
                let byte = BYTES[rng.below(BYTES.len() as u64) as usize];
                match rng.below(5) {
                    0 => doc[at] = byte,
                    1 => doc.insert(at, byte),
                    2 => {
                        doc.remove(at);
                    }
                    3 => doc.truncate(at),
                    _ => {
                        let end = (at + 1 + rng.below(40) as usize).min(doc.len());
                        let piece = doc[at..end].to_vec();
                        doc.splice(at..at, piece);
                    }
                }
            }
            let read = check_fast(&doc);
            // Escapes and non-ASCII text are left to serde on purpose.
            if serde_job_metrics(&doc).is_ok() && doc.iter().all(|b| *b != b'\\' && b.is_ascii()) {
                total += 1;
                fast += usize::from(read);
            }
            let envelope = [b"{\"data\":".as_slice(), &doc, b"}"].concat();
            check_fast_envelope(&envelope);
        }
        // Of the mutated documents that serde accepts, the scanner reads (nearly) all
        // but those it leaves to serde on purpose (escapes, non-ASCII, negative ids).
        assert!(
            total > 1000 && fast * 100 >= total * 99,
            "{fast} of {total}"
        );
        // Random bytes.
        for _ in 0..5000 {
            let len = rng.below(64) as usize;
            let doc: Vec<u8> = (0..len)
                .map(|_| BYTES[rng.below(BYTES.len() as u64) as usize])
                .collect();
            check_fast(&doc);
        }
    }

    /// `cargo test --release --lib arroyo::wire::tests::throughput -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn throughput() {
        let generated = crate::sim::generate_metrics_document(
            crate::sim::Release::Main,
            &[(0, 25), (1, 25), (2, 25), (3, 25)],
            151,
            1_795_608_672_537_756,
            1,
        );
        for (name, bytes) in [
            (
                "full-window capture",
                fixture("arroyo-main-addb390/job_metrics_rpc_full_window.json"),
            ),
            ("generated, 100 subtasks", generated.into_bytes()),
        ] {
            let rounds = (500_000_000 / bytes.len()).max(1);
            for (path, decode) in [
                ("decode_job_metrics", decode_job_metrics as fn(&[u8]) -> _),
                ("serde path", serde_job_metrics),
            ] {
                let start = std::time::Instant::now();
                for _ in 0..rounds {
                    std::hint::black_box(decode(std::hint::black_box(&bytes)).unwrap());
                }
                let secs = start.elapsed().as_secs_f64();
                println!(
                    "{name}: {path}: {:.0} MB/s",
                    (bytes.len() * rounds) as f64 / secs / 1e6
                );
            }
        }
    }
}
