//! Decoding of the JSON documents Arroyo sends: pure, bytes in and values out (no I/O,
//! no clock).
//!
//! Every release from v0.11 to main is accepted (see `docs/arroyo-compat.md`):
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
//!
//! Layout: this file holds what the rest of the crate calls (the decode entry points,
//! [`DecodeError`]) and the accumulator shared by both metrics decoders; `scanner` is the
//! fast hand-written reader of the metrics document (`split` runs it on two threads for
//! large documents), `serde_decoder` the streaming serde decoder it falls back to, and `rest` the REST documents (pipelines, jobs,
//! checkpoints).

use std::fmt;

use serde::de::DeserializeSeed;

use crate::model::{self, MetricKind, Point, SubtaskSample};

mod details;
mod grpc_body;
mod rest;
mod scanner;
mod serde_decoder;
mod split;
mod stream;
#[cfg(test)]
mod test_support;

pub use details::{decode_admin_details, decode_checkpoint_groups, decode_job_errors_page};
pub use grpc_body::{BodyError, Encoding, UnaryBody};
pub use rest::{
    decode_checkpoints, decode_jobs, decode_pipeline, decode_pipelines_page, PipelinesPage,
};
pub use stream::{decode_whole, JobMetricsStream, StreamError};

use scanner::fast_envelope;
use serde_decoder::{serde_envelope, serde_job_metrics};
use split::fast_job_metrics_split;

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
    match fast_job_metrics_split(doc) {
        Some(metrics) => Ok(metrics),
        None => serde_job_metrics(doc),
    }
}

/// Decodes the REST bridge `operator_metric_groups` answer, `{"data": [ <same list as
/// the JobMetrics document> ]}`, with the same rules as [`decode_job_metrics`].
pub fn decode_metric_groups_envelope(body: &[u8]) -> Result<model::JobMetrics, DecodeError> {
    match fast_envelope(body) {
        Some(metrics) => Ok(metrics),
        None => serde_envelope(body),
    }
}

/// What the streaming decoder collects while it walks the document.
#[derive(Default)]
struct Acc {
    samples: Vec<SubtaskSample>,
    unknown_metric_groups: u64,
    null_values: u64,
}

impl Acc {
    /// Appends the newest point of subtask `index` in the current group; its node id and
    /// kind are patched in when the enclosing objects end ([`Acc::end_group`],
    /// [`Acc::end_operator`]).
    fn push_subtask(&mut self, index: u32, point: Point) {
        self.samples.push(SubtaskSample {
            node_id: String::new(),
            kind: MetricKind::MessagesRecv,
            subtask_idx: index,
            point,
        });
    }

    /// Ends a metric group whose samples start at `start`: sets their kind and counts the
    /// group's `nulls`, or, for a name we do not export (`None`), drops them and counts
    /// the group as unknown.
    fn end_group(&mut self, start: usize, kind: Option<MetricKind>, nulls: u64) {
        match kind {
            Some(kind) => {
                for sample in self.samples.iter_mut().skip(start) {
                    sample.kind = kind;
                }
                self.null_values = self.null_values.saturating_add(nulls);
            }
            None => {
                self.samples.truncate(start);
                self.unknown_metric_groups = self.unknown_metric_groups.saturating_add(1);
            }
        }
    }

    /// Ends an operator whose samples start at `start`: sets their node id.
    fn end_operator(&mut self, start: usize, node_id: &str) {
        for sample in self.samples.iter_mut().skip(start) {
            sample.node_id.clear();
            sample.node_id.push_str(node_id);
        }
    }

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arroyo::wire::test_support::*;
    use serde_json::{json, Value};
    use std::collections::BTreeSet;

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
}
