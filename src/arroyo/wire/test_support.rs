//! Fixtures and helpers shared by the unit tests of the `wire` modules: the captures in
//! `tests/fixtures`, the naive reference decoder, and the document generator.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::decode_job_metrics;
use crate::model::{self, MetricKind, Point, SubtaskSample};

pub(crate) const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");

pub(crate) fn fixture(rel: &str) -> Vec<u8> {
    let path = format!("{FIXTURES}{rel}");
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

pub(crate) fn fixture_value(rel: &str) -> Value {
    serde_json::from_slice(&fixture(rel)).unwrap()
}

/// Raw `JobMetricsResp.metrics` captures.
pub(crate) const METRICS_DOCS: [&str; 8] = [
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
pub(crate) const ENVELOPES: [&str; 5] = [
    "arroyo-main-addb390/operator_metric_groups.json",
    "arroyo-main-addb390/operator_metric_groups_stopped.json",
    "arroyo-main-addb390/operator_metric_groups_stopped_after_controller_restart.json",
    "arroyo-v0.15.0/operator_metric_groups.json",
    "arroyo-v0.15.0/operator_metric_groups_stopped.json",
];

pub(crate) type SeriesKey = (String, u32, MetricKind);

pub(crate) fn node_id_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => panic!("bad node id {other}"),
    }
}

pub(crate) fn get<'v>(obj: &'v Value, keys: &[&str]) -> &'v Value {
    keys.iter()
        .find_map(|k| obj.get(*k))
        .unwrap_or_else(|| panic!("none of {keys:?} in {obj}"))
}

/// The reference decoder: a naive walk over a `serde_json::Value`.
pub(crate) fn naive(list: &Value) -> model::JobMetrics {
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
pub(crate) fn last_elements(list: &Value) -> BTreeMap<SeriesKey, Point> {
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

pub(crate) fn as_map(m: &model::JobMetrics) -> BTreeMap<SeriesKey, Point> {
    m.samples
        .iter()
        .map(|s| ((s.node_id.clone(), s.subtask_idx, s.kind), s.point))
        .collect()
}

pub(crate) fn decode_str(doc: &str) -> model::JobMetrics {
    decode_job_metrics(doc.as_bytes()).unwrap()
}

pub(crate) fn decode_err(doc: &str) -> String {
    match decode_job_metrics(doc.as_bytes()) {
        Ok(m) => panic!("{doc:?} decoded to {m:?}"),
        Err(e) => e.to_string(),
    }
}

pub(crate) fn check_fixture_metrics(m: &model::JobMetrics, list: &Value) {
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

/// Rewrites the v0.15 keys of a metrics list into an older release's keys.
pub(crate) fn rewrite_operators(
    list: &Value,
    node_key: &str,
    groups_key: &str,
    word_ids: bool,
) -> Value {
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

pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub(crate) fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            v.swap(i, j);
        }
    }
}

/// Every other round, one byte of `doc` replaced by, inserted before, or removed: one
/// of `bytes` at a random place.
pub(crate) fn mutate_odd_rounds(rng: &mut Rng, round: usize, doc: &mut Vec<u8>, bytes: &[u8]) {
    if round.is_multiple_of(2) || doc.is_empty() || bytes.is_empty() {
        return;
    }
    let at = rng.below(doc.len() as u64) as usize;
    let byte = bytes[rng.below(bytes.len() as u64) as usize];
    match rng.below(3) {
        0 => doc[at] = byte,
        1 => doc.insert(at, byte),
        _ => {
            doc.remove(at);
        }
    }
}

pub(crate) fn object(rng: &mut Rng, mut entries: Vec<String>) -> String {
    if rng.below(4) == 0 {
        entries.push(r#""extra":{"a":[1,"two",null,{"b":false}]}"#.to_string());
    }
    rng.shuffle(&mut entries);
    format!("{{{}}}", entries.join(","))
}

pub(crate) fn generated_doc(rng: &mut Rng) -> String {
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
