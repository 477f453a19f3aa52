//! The streaming serde decoder of the metrics documents: the reference behaviour, the
//! fallback whenever the fast [`scanner`](super::scanner) gives up, and the source of every
//! decode error message and position.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::{run_seed, Acc, DecodeError, DOC_METRICS, DOC_METRICS_ENVELOPE};
use crate::model::{self, MetricKind, Point};

/// [`decode_job_metrics`] through serde only.
pub(super) fn serde_job_metrics(doc: &[u8]) -> Result<model::JobMetrics, DecodeError> {
    let mut acc = Acc::default();
    run_seed(DOC_METRICS, doc, operator_list(&mut acc))?;
    Ok(acc.finish())
}

/// [`decode_metric_groups_envelope`] through serde only.
pub(super) fn serde_envelope(body: &[u8]) -> Result<model::JobMetrics, DecodeError> {
    let mut acc = Acc::default();
    run_seed(DOC_METRICS_ENVELOPE, body, EnvelopeSeed(&mut acc))?;
    Ok(acc.finish())
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

/// Every seed below is its own [`Visitor`]: its `DeserializeSeed::deserialize` only hands
/// the seed to the deserializer method that says what shape is expected (`deserialize_map`
/// for an object, `deserialize_seq` for a list, ...), and the `Visitor` impl does the
/// work. This writes those forwarding impls once.
macro_rules! seed_is_its_own_visitor {
    ($($seed:ty => $method:ident),* $(,)?) => {$(
        impl<'de> DeserializeSeed<'de> for $seed {
            type Value = <Self as Visitor<'de>>::Value;

            fn deserialize<D: Deserializer<'de>>(
                self,
                deserializer: D,
            ) -> Result<Self::Value, D::Error> {
                deserializer.$method(self)
            }
        }
    )*};
}

seed_is_its_own_visitor! {
    EnvelopeSeed<'_> => deserialize_map,
    &mut OperatorSeed<'_> => deserialize_map,
    NodeIdSeed => deserialize_any,
    &mut GroupSeed<'_> => deserialize_map,
    KindSeed => deserialize_str,
    &mut SubtaskSeed<'_> => deserialize_map,
    NewestPointSeed<'_> => deserialize_seq,
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
                    map.next_value_seed(operator_list(&mut *self.0))?;
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

/// `[element, ...]`: a list whose every element is read by the same reusable seed
/// `element` (through `&mut S`), for the operator, group and subtask lists alike.
///
/// Why not `Vec<T>`: serde's `Vec<T>` would build and allocate every element, including
/// the groups and points the decoder skips; here each element is folded into [`Acc`] as it
/// is read and nothing is kept per element. `expecting` is what an error message says was
/// expected instead.
struct ListSeed<S> {
    expecting: &'static str,
    element: S,
}

impl<'de, S> DeserializeSeed<'de> for ListSeed<S>
where
    for<'s> &'s mut S: DeserializeSeed<'de, Value = ()>,
{
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, S> Visitor<'de> for ListSeed<S>
where
    for<'s> &'s mut S: DeserializeSeed<'de, Value = ()>,
{
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(&mut self.element)?.is_some() {}
        Ok(())
    }
}

/// `[operator, ...]`.
fn operator_list(acc: &mut Acc) -> ListSeed<OperatorSeed<'_>> {
    ListSeed {
        expecting: "a list of operator metric groups",
        element: OperatorSeed(acc),
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

impl<'de> Visitor<'de> for &mut OperatorSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an operator object with `node_id` and `metric_groups`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let acc = &mut *self.0;
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
                    map.next_value_seed(ListSeed {
                        expecting: "a list of metric groups",
                        element: GroupSeed(&mut *acc),
                    })?;
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
        acc.end_operator(start, &node_id);
        Ok(())
    }
}

/// A node id: a string (before v0.13) or an integer (written in decimal).
pub(super) struct NodeIdSeed;

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

impl<'de> Visitor<'de> for &mut GroupSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a metric group object with `name` and `subtasks`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let acc = &mut *self.0;
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
                            map.next_value_seed(ListSeed {
                                expecting: "a list of subtasks",
                                element: SubtaskSeed {
                                    acc: &mut *acc,
                                    nulls: &mut nulls,
                                },
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
        acc.end_group(start, name, nulls);
        Ok(())
    }
}

/// A metric group name, matched without copying it; `None` for names we do not export.
struct KindSeed;

impl<'de> Visitor<'de> for KindSeed {
    type Value = Option<MetricKind>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a metric name string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(MetricKind::from_wire(v))
    }
}

/// `{"index": u32, "metrics": [point, ...]}`: appends the subtask's newest point (if any)
/// to `acc`, its node id and kind patched in when the enclosing objects end.
struct SubtaskSeed<'a> {
    acc: &'a mut Acc,
    nulls: &'a mut u64,
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

impl<'de> Visitor<'de> for &mut SubtaskSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a subtask object with `index` and `metrics`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
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
        if let Some(point) = newest {
            self.acc.push_subtask(index, point);
        }
        Ok(())
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

#[cfg(test)]
mod tests {

    use crate::arroyo::wire::test_support::*;
    use crate::arroyo::wire::{decode_job_metrics, decode_jobs, decode_metric_groups_envelope};

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
}
