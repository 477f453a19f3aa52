//! Decoders of the documents behind checkpoint size, job errors and Arroyo's version:
//! `.../checkpoints/{epoch}/operator_checkpoint_groups`, `.../jobs/{job_id}/errors` (a
//! page) and the admin port's `GET /details`. camelCase (up to v0.14) and snake_case
//! (v0.15+) keys are both accepted; unknown keys are ignored.

use std::collections::BTreeMap;
use std::marker::PhantomData;

use serde::{Deserialize, Deserializer};

use super::{run_seed, DecodeError};
use crate::model::{
    ArroyoBuild, CheckpointDetails, CheckpointPhase, JobErrorPage, JobErrorRow, OperatorCheckpoint,
};

const DOC_CHECKPOINT_GROUPS: &str = "operator_checkpoint_groups response";
const DOC_JOB_ERRORS: &str = "job errors page";
const DOC_ADMIN_DETAILS: &str = "admin /details response";

/// Decodes `GET .../checkpoints/{epoch}/operator_checkpoint_groups` of checkpoint `epoch`.
///
/// `{"data": [{operator_id, bytes, subtasks: [{index, bytes, event_spans: [{start_time,
/// finish_time, event}]}]}]}` (v0.14: `operatorId`, `eventSpans`, `startTime`,
/// `finishTime` and the phase as lower-case `spanType`). `data`, `operator_id` and
/// `bytes` are required, as are a span's start and finish; `subtasks` and spans may be
/// missing or `null`. Each phase's duration is the longest span of that phase over the
/// operator's subtasks (a span that ends before it starts lasts 0); spans of an unknown
/// phase are skipped.
pub fn decode_checkpoint_groups(body: &[u8], epoch: u64) -> Result<CheckpointDetails, DecodeError> {
    let raw: RawGroups = run_seed(DOC_CHECKPOINT_GROUPS, body, PhantomData)?;
    let operators = raw
        .data
        .into_iter()
        .map(|g| {
            let mut phase_seconds: BTreeMap<CheckpointPhase, f64> = BTreeMap::new();
            for span in g.subtasks.iter().flat_map(|s| &s.event_spans) {
                let name = span.event.as_deref().or(span.span_type.as_deref());
                let Some(phase) = name.and_then(CheckpointPhase::from_wire) else {
                    continue;
                };
                let seconds = span.finish_time.saturating_sub(span.start_time) as f64 / 1e6;
                let slot = phase_seconds.entry(phase).or_insert(seconds);
                *slot = slot.max(seconds);
            }
            OperatorCheckpoint {
                operator_id: g.operator_id,
                bytes: g.bytes,
                phase_seconds,
            }
        })
        .collect();
    Ok(CheckpointDetails { epoch, operators })
}

/// Decodes one page of `GET .../jobs/{job_id}/errors`: `{"data": [row, ...], "hasMore"}`,
/// rows newest first.
///
/// `data` is required (`null` reads as empty); a missing `hasMore` reads as `false`. Of a
/// row, `created_at` is required; `id`, `operator_id`, `task_index`, `level`, `message`
/// and `error_domain` (Arroyo main) may be missing or `null`. The level is lower-cased.
pub fn decode_job_errors_page(body: &[u8]) -> Result<JobErrorPage, DecodeError> {
    let raw: RawErrorsPage = run_seed(DOC_JOB_ERRORS, body, PhantomData)?;
    Ok(JobErrorPage {
        rows: raw
            .data
            .into_iter()
            .map(|r| JobErrorRow {
                id: r.id,
                created_at_micros: r.created_at,
                operator_id: r.operator_id,
                task_index: r.task_index,
                level: r.level.unwrap_or_default().to_ascii_lowercase(),
                message: r.message.unwrap_or_default(),
                error_domain: r.error_domain,
            })
            .collect(),
        has_more: raw.has_more,
    })
}

/// Decodes the admin port's `GET /details`: `{service, git_sha, version,
/// build_timestamp}`. `version` is required; `service` and `git_sha` may be missing or
/// `null` (empty).
pub fn decode_admin_details(body: &[u8]) -> Result<ArroyoBuild, DecodeError> {
    let raw: RawDetails = run_seed(DOC_ADMIN_DETAILS, body, PhantomData)?;
    Ok(ArroyoBuild {
        service: raw.service.unwrap_or_default(),
        version: raw.version,
        git_sha: raw.git_sha.unwrap_or_default(),
    })
}

/// Reads `null` as the type's default.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

#[derive(Deserialize)]
struct RawGroups {
    #[serde(deserialize_with = "null_as_default")]
    data: Vec<RawGroup>,
}

#[derive(Deserialize)]
struct RawGroup {
    #[serde(alias = "operatorId")]
    operator_id: String,
    bytes: u64,
    #[serde(default, deserialize_with = "null_as_default")]
    subtasks: Vec<RawSubtask>,
}

#[derive(Deserialize)]
struct RawSubtask {
    #[serde(alias = "eventSpans", default, deserialize_with = "null_as_default")]
    event_spans: Vec<RawSpan>,
}

#[derive(Deserialize)]
struct RawSpan {
    #[serde(alias = "startTime")]
    start_time: u64,
    #[serde(alias = "finishTime")]
    finish_time: u64,
    event: Option<String>,
    #[serde(alias = "spanType")]
    span_type: Option<String>,
}

#[derive(Deserialize)]
struct RawErrorsPage {
    #[serde(deserialize_with = "null_as_default")]
    data: Vec<RawErrorRow>,
    #[serde(
        rename = "hasMore",
        alias = "has_more",
        default,
        deserialize_with = "null_as_default"
    )]
    has_more: bool,
}

#[derive(Deserialize)]
struct RawErrorRow {
    id: Option<String>,
    #[serde(alias = "createdAt")]
    created_at: u64,
    #[serde(alias = "operatorId")]
    operator_id: Option<String>,
    #[serde(alias = "taskIndex")]
    task_index: Option<u64>,
    level: Option<String>,
    message: Option<String>,
    #[serde(alias = "errorDomain")]
    error_domain: Option<String>,
}

#[derive(Deserialize)]
struct RawDetails {
    service: Option<String>,
    version: String,
    #[serde(alias = "gitSha")]
    git_sha: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arroyo::wire::test_support::*;
    use crate::model::node_of_operator;
    use serde_json::Value;

    const EPOCH17: &str = "arroyo-main-addb390/operator_checkpoint_groups_epoch17.json";

    /// Rewrites the capture as v0.14 wrote it: camelCase keys, the phase as a lower-case
    /// `spanType`, no `started_metadata_write` / `finish_time` on operators.
    fn as_v014(v: &Value) -> Value {
        let mut v = v.clone();
        for op in v["data"].as_array_mut().unwrap() {
            let m = op.as_object_mut().unwrap();
            m.remove("started_metadata_write");
            m.remove("finish_time");
            let id = m.remove("operator_id").unwrap();
            m.insert("operatorId".into(), id);
            for sub in m["subtasks"].as_array_mut().unwrap() {
                let s = sub.as_object_mut().unwrap();
                let mut spans = s.remove("event_spans").unwrap();
                for span in spans.as_array_mut().unwrap() {
                    let sp = span.as_object_mut().unwrap();
                    let event = sp.remove("event").unwrap();
                    let start = sp.remove("start_time").unwrap();
                    let finish = sp.remove("finish_time").unwrap();
                    sp.insert(
                        "spanType".into(),
                        Value::String(event.as_str().unwrap().to_lowercase()),
                    );
                    sp.insert("startTime".into(), start);
                    sp.insert("finishTime".into(), finish);
                }
                s.insert("eventSpans".into(), spans);
            }
        }
        v
    }

    #[test]
    fn checkpoint_groups_of_the_real_capture() {
        let d = decode_checkpoint_groups(&fixture(EPOCH17), 17).unwrap();
        assert_eq!(d.epoch, 17);
        let bytes: Vec<(&str, u64)> = d
            .operators
            .iter()
            .map(|o| (o.operator_id.as_str(), o.bytes))
            .collect();
        assert_eq!(
            bytes,
            [
                ("watermark_2", 1246),
                ("source_nexmark_0", 1396),
                ("value_1", 0),
                ("key_3", 0),
                ("value_5", 0),
                ("sink_bids_per_auction_6", 0),
                ("tumbling_4", 9133),
            ]
        );
        assert_eq!(d.total_bytes(), 11775);
        let tumbling = &d.operators[6];
        // Subtask 1: alignment 146 µs, sync 445 µs, async 7060 µs (the longest of both).
        assert_eq!(
            tumbling.phase_seconds,
            BTreeMap::from([
                (CheckpointPhase::Alignment, 146e-6),
                (CheckpointPhase::Sync, 445e-6),
                (CheckpointPhase::Async, 7060e-6),
            ])
        );
        let source = &d.operators[1];
        assert_eq!(
            source.phase_seconds,
            BTreeMap::from([
                (CheckpointPhase::Sync, 11e-6),
                (CheckpointPhase::Async, 5071e-6),
            ])
        );
        // v0.14's shape gives the same values.
        let v014 = serde_json::to_vec(&as_v014(&fixture_value(EPOCH17))).unwrap();
        assert!(!String::from_utf8_lossy(&v014).contains("operator_id"));
        assert_eq!(decode_checkpoint_groups(&v014, 17).unwrap(), d);
    }

    #[test]
    fn operators_of_the_capture_map_to_graph_nodes() {
        let d = decode_checkpoint_groups(&fixture(EPOCH17), 17).unwrap();
        let nodes = ["0", "1", "4", "6"];
        let mut per_node: BTreeMap<&str, u64> = BTreeMap::new();
        for o in &d.operators {
            let node = node_of_operator(&o.operator_id, nodes.iter().copied()).unwrap();
            *per_node.entry(node).or_default() += o.bytes;
        }
        assert_eq!(
            per_node,
            BTreeMap::from([("0", 1396), ("1", 1246), ("4", 9133), ("6", 0)])
        );
        assert_eq!(node_of_operator("value_1", nodes), Some("1"));
        assert_eq!(node_of_operator("key_3", nodes), Some("1"));
        assert_eq!(node_of_operator("value_5", nodes), Some("4"));
        assert_eq!(node_of_operator("sink_9", nodes), Some("6"));
        assert_eq!(node_of_operator("nonumber", nodes), None);
        assert_eq!(node_of_operator("x_", nodes), None);
        assert_eq!(node_of_operator("x_2", ["3", "5"]), None);
        // Word node ids (v0.11/v0.12): the same id, or nothing.
        assert_eq!(
            node_of_operator("source_0", ["source_0", "sink_1"]),
            Some("source_0")
        );
        assert_eq!(node_of_operator("value_4", ["source_0", "sink_1"]), None);
    }

    #[test]
    fn checkpoint_groups_variants_and_errors() {
        let d = decode_checkpoint_groups(
            br#"{"data":[{"operator_id":"a_0","bytes":5,"subtasks":null},
                {"operator_id":"b_1","bytes":7,"subtasks":[{"index":0,"bytes":7,"event_spans":[
                  {"start_time":10,"finish_time":5,"event":"Committing"},
                  {"start_time":1,"finish_time":2000001,"event":"Committing"},
                  {"start_time":1,"finish_time":9,"event":"Flushing"},
                  {"start_time":1,"finish_time":9}]}]}]}"#,
            3,
        )
        .unwrap();
        assert_eq!(d.total_bytes(), 12);
        assert!(d.operators[0].phase_seconds.is_empty());
        assert_eq!(
            d.operators[1].phase_seconds,
            BTreeMap::from([(CheckpointPhase::Committing, 2.0)])
        );
        assert!(decode_checkpoint_groups(br#"{"data":null}"#, 1)
            .unwrap()
            .operators
            .is_empty());
        for (body, want) in [
            ("", "EOF"),
            ("{}", "missing field `data`"),
            (r#"{"data":[{"bytes":1}]}"#, "missing field `operator_id`"),
            (r#"{"data":[{"operator_id":"a"}]}"#, "missing field `bytes`"),
            (
                r#"{"data":[{"operator_id":"a","bytes":-1}]}"#,
                "invalid value",
            ),
            (
                r#"{"data":[{"operator_id":"a","bytes":1,"subtasks":[{"event_spans":[{"start_time":1}]}]}]}"#,
                "missing field `finish_time`",
            ),
            ("<html>", "expected value"),
        ] {
            let err = decode_checkpoint_groups(body.as_bytes(), 1)
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with("cannot decode operator_checkpoint_groups response: ")
                    && err.contains(want),
                "{body}: {err}"
            );
        }
    }

    #[test]
    fn job_errors_of_the_real_captures_and_shapes() {
        for rel in [
            "arroyo-main-addb390/errors.json",
            "arroyo-v0.15.0/errors.json",
        ] {
            assert_eq!(
                decode_job_errors_page(&fixture(rel)).unwrap(),
                JobErrorPage::default(),
                "{rel}"
            );
        }
        let main = decode_job_errors_page(
            br#"{"data":[{"id":"jlm_b","created_at":1795608670000000,"operator_id":"value_1",
                "task_index":1,"level":"error","message":"Dropping invalid data (3)",
                "details":"bad json","error_domain":"user"},
               {"id":"jlm_a","created_at":1795608660000000,"operator_id":null,"task_index":null,
                "level":"error","message":"job failed","details":"","error_domain":null}],
               "hasMore":true}"#,
        )
        .unwrap();
        assert!(main.has_more);
        assert_eq!(
            main.rows[0],
            JobErrorRow {
                id: Some("jlm_b".into()),
                created_at_micros: 1795608670000000,
                operator_id: Some("value_1".into()),
                task_index: Some(1),
                level: "error".into(),
                message: "Dropping invalid data (3)".into(),
                error_domain: Some("user".into()),
            }
        );
        assert_eq!(main.rows[1].operator_id, None);
        assert_eq!(main.rows[1].error_domain, None);
        let camel = decode_job_errors_page(
            br#"{"data":[{"id":"x","createdAt":5,"operatorId":"o_2","taskIndex":0,"level":"Error",
                "message":"m","details":"d"}],"hasMore":false}"#,
        )
        .unwrap();
        assert!(!camel.has_more);
        assert_eq!(camel.rows[0].created_at_micros, 5);
        assert_eq!(camel.rows[0].operator_id.as_deref(), Some("o_2"));
        assert_eq!(camel.rows[0].level, "error");
        // Older releases had no row id.
        let no_id = decode_job_errors_page(br#"{"data":[{"createdAt":5}]}"#).unwrap();
        assert_eq!(no_id.rows[0].id, None);
        for (body, want) in [
            ("{}", "missing field `data`"),
            (r#"{"data":[{"id":"x"}]}"#, "missing field `created_at`"),
            (r#"{"data":[{"created_at":"now"}]}"#, "invalid type"),
            (r#"{"data":[],"hasMore":"yes"}"#, "invalid type"),
            (r#"{"data":[]"#, "EOF"),
        ] {
            let err = decode_job_errors_page(body.as_bytes())
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with("cannot decode job errors page: ") && err.contains(want),
                "{body}: {err}"
            );
        }
    }

    #[test]
    fn admin_details() {
        let b = decode_admin_details(
            br#"{"service":"cluster","git_sha":"addb390f","version":"0.16.0-dev","build_timestamp":"2026-11-25T10:00:00Z"}"#,
        )
        .unwrap();
        assert_eq!(
            b,
            ArroyoBuild {
                service: "cluster".into(),
                version: "0.16.0-dev".into(),
                git_sha: "addb390f".into(),
            }
        );
        let minimal = decode_admin_details(br#"{"version":"0.11.3","git_sha":null}"#).unwrap();
        assert_eq!(
            (minimal.version.as_str(), minimal.git_sha.as_str()),
            ("0.11.3", "")
        );
        for (body, want) in [
            ("ok", "expected"),
            ("{}", "missing field `version`"),
            (r#"{"version":1}"#, "invalid type"),
        ] {
            let err = decode_admin_details(body.as_bytes())
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with("cannot decode admin /details response: ") && err.contains(want),
                "{body}: {err}"
            );
        }
    }
}
