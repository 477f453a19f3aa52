//! Decoders of the REST documents: pipelines (a page and one pipeline), jobs and
//! checkpoints, in camelCase (up to v0.14) or snake_case (v0.15+).

use std::collections::BTreeMap;
use std::marker::PhantomData;

use serde::de::DeserializeSeed;
use serde::{Deserialize, Deserializer};

use super::serde_decoder::NodeIdSeed;
use super::{run_seed, DecodeError, DOC_CHECKPOINTS, DOC_JOBS, DOC_PIPELINE, DOC_PIPELINES};
use crate::model;

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
/// keyed by node id (numbers in decimal), its graph edges (`src_id`, `dest_id`,
/// `edge_type`; absent or `null` is none), and its `tags` (main only; absent or `null` is
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
    #[serde(default, deserialize_with = "null_as_default")]
    edges: Vec<RawEdge>,
}

/// `{src_id, dest_id, edge_type}` (camelCase up to v0.14; ids are words before v0.13).
#[derive(Deserialize)]
struct RawEdge {
    #[serde(alias = "srcId", deserialize_with = "node_id_string")]
    src_id: String,
    #[serde(alias = "destId", deserialize_with = "node_id_string")]
    dest_id: String,
    #[serde(alias = "edgeType")]
    edge_type: Option<String>,
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
        let (nodes, edges) = self.graph.map(|g| (g.nodes, g.edges)).unwrap_or_default();
        let edges = edges
            .into_iter()
            .map(|e| model::Edge {
                src_node_id: e.src_id,
                dst_node_id: e.dest_id,
                edge_type: e.edge_type.unwrap_or_default(),
            })
            .collect();
        let operators = nodes
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
            edges,
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
    use crate::arroyo::wire::test_support::*;
    use serde_json::Value;

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
        let edges: Vec<(&str, &str, &str)> = p
            .edges
            .iter()
            .map(|e| {
                (
                    e.src_node_id.as_str(),
                    e.dst_node_id.as_str(),
                    e.edge_type.as_str(),
                )
            })
            .collect();
        assert_eq!(
            edges,
            [
                ("0", "1", "Forward"),
                ("1", "4", "Shuffle"),
                ("4", "6", "Forward")
            ]
        );
        let roles: Vec<_> = ["0", "1", "4", "6", "7"]
            .iter()
            .map(|n| p.role(n).map(model::OperatorRole::as_str))
            .collect();
        assert_eq!(
            roles,
            [
                Some("source"),
                Some("operator"),
                Some("operator"),
                Some("sink"),
                None
            ]
        );
    }

    #[test]
    fn pipeline_edges_variants() {
        // v0.11/v0.12: camelCase, word node ids.
        let p = decode_pipeline(
            br#"{"id":"pl_x","graph":{
                 "nodes":[{"nodeId":"source_0"},{"nodeId":"value_1"},{"nodeId":"sink_2"}],
                 "edges":[{"srcId":"source_0","destId":"value_1","keyType":"()","edgeType":"Forward"},
                          {"srcId":"value_1","destId":"sink_2","edgeType":null}]}}"#,
        )
        .unwrap();
        assert_eq!(
            p.edges,
            vec![
                model::Edge {
                    src_node_id: "source_0".into(),
                    dst_node_id: "value_1".into(),
                    edge_type: "Forward".into(),
                },
                model::Edge {
                    src_node_id: "value_1".into(),
                    dst_node_id: "sink_2".into(),
                    edge_type: String::new(),
                },
            ]
        );
        assert_eq!(p.role("source_0"), Some(model::OperatorRole::Source));
        assert_eq!(p.role("value_1"), Some(model::OperatorRole::Operator));
        assert_eq!(p.role("sink_2"), Some(model::OperatorRole::Sink));
        // v0.13/v0.14: camelCase with numbers; fan-in and fan-out.
        let p = decode_pipeline(
            br#"{"id":"pl_y","graph":{
                 "nodes":[{"nodeId":1},{"nodeId":2},{"nodeId":3},{"nodeId":4},{"nodeId":5}],
                 "edges":[{"srcId":1,"destId":3,"edgeType":"Shuffle"},{"srcId":2,"destId":3,"edgeType":"Shuffle"},
                          {"srcId":3,"destId":4,"edgeType":"Forward"},{"srcId":3,"destId":5,"edgeType":"Forward"}]}}"#,
        )
        .unwrap();
        let roles: Vec<&str> = p
            .operators
            .keys()
            .map(|n| p.role(n).unwrap().as_str())
            .collect();
        assert_eq!(roles, ["source", "source", "operator", "sink", "sink"]);
        // No edges: one node is a source; several nodes have no known role.
        let one = decode_pipeline(br#"{"id":"p","graph":{"nodes":[{"node_id":0}],"edges":null}}"#)
            .unwrap();
        assert!(one.edges.is_empty());
        assert_eq!(one.role("0"), Some(model::OperatorRole::Source));
        let two = decode_pipeline(br#"{"id":"p","graph":{"nodes":[{"node_id":0},{"node_id":1}]}}"#)
            .unwrap();
        assert_eq!((two.role("0"), two.role("1")), (None, None));
        for (body, want) in [
            (
                r#"{"id":"pl","graph":{"edges":[{"dest_id":1}]}}"#,
                "missing field `src_id`",
            ),
            (
                r#"{"id":"pl","graph":{"edges":[{"src_id":1}]}}"#,
                "missing field `dest_id`",
            ),
            (
                r#"{"id":"pl","graph":{"edges":[{"src_id":1,"dest_id":2.5}]}}"#,
                "node id",
            ),
            (
                r#"{"id":"pl","graph":{"edges":[{"src_id":1,"dest_id":2,"edge_type":3}]}}"#,
                "invalid type",
            ),
            (r#"{"id":"pl","graph":{"edges":{}}}"#, "invalid type"),
        ] {
            let err = decode_pipeline(body.as_bytes()).unwrap_err().to_string();
            assert!(
                err.starts_with("cannot decode pipeline: ") && err.contains(want),
                "{body}: {err}"
            );
        }
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
}
