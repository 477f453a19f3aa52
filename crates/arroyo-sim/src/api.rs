//! The simulated REST API (`/api/v1`, release-shaped JSON), the simulator's own
//! control endpoints (`/sim/...`), and the admin port (`/details`, `/status`).

use std::borrow::Cow;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{json, Map, Value};

use crate::details;
use crate::docgen::mix;
use crate::facts::job_state_runs;
use crate::grpc::malformed;
use crate::release::{wire_node_id, Release};
use crate::scenario::Scenario;
use crate::state::{ApiFaults, DocPlan, SimCheckpoint, SimJob, SimPipeline, SimState, World};

/// Most pipelines one page may hold.
const MAX_PAGE: usize = 1000;

/// The REST router.
pub(crate) fn router(state: SimState) -> axum::Router {
    axum::Router::new()
        .route("/sim/scenario", get(get_scenario))
        .route("/sim/scenario/{name}", post(set_scenario))
        .fallback(api)
        .with_state(state)
}

async fn get_scenario(State(state): State<SimState>) -> Response {
    json_response(StatusCode::OK, &scenario_body(&state))
}

async fn set_scenario(State(state): State<SimState>, Path(name): Path<String>) -> Response {
    match Scenario::parse(&name) {
        Some(s) => {
            state.set_scenario(s);
            tracing::info!(scenario = s.name(), "simulator: scenario switched");
            json_response(StatusCode::OK, &scenario_body(&state))
        }
        None => {
            let names: Vec<&str> = Scenario::ALL.iter().map(|s| s.name()).collect();
            json_response(
                StatusCode::BAD_REQUEST,
                &json!({"error": format!("unknown scenario {name:?}"), "available": names}),
            )
        }
    }
}

fn scenario_body(state: &SimState) -> Value {
    let w = state.lock();
    let names: Vec<&str> = Scenario::ALL.iter().map(|s| s.name()).collect();
    json!({
        "scenario": w.scenario.name(),
        "since_micros": w.scenario_since_micros,
        "job_id": w.scenario_job,
        "live": w.live,
        "release": w.release.name(),
        "available": names,
    })
}

fn json_response(status: StatusCode, v: &Value) -> Response {
    bytes_response(status, "application/json", v.to_string().into_bytes())
}

fn bytes_response(status: StatusCode, content_type: &'static str, body: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    r
}

fn error(status: StatusCode, msg: &str) -> Response {
    json_response(status, &json!({ "error": msg }))
}

/// Every `/api/v1` call: count, advance, faults, auth, route.
async fn api(
    State(state): State<SimState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let path = uri.path().to_string();
    let (faults, token) = {
        let mut w = state.lock();
        *w.rest_calls.entry(path.clone()).or_insert(0) += 1;
        w.call_seq += 1;
        let now = w.now_micros();
        w.advance(now);
        let faults = if w.api_faults.applies_to(&path) {
            w.api_faults.clone()
        } else {
            ApiFaults::default()
        };
        (faults, w.api_token.clone())
    };
    if let Some(d) = faults.delay {
        tokio::time::sleep(d).await;
    }
    if faults.html_body {
        let status = faults
            .status
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or(StatusCode::OK);
        return bytes_response(
            status,
            "text/html; charset=utf-8",
            b"<!DOCTYPE html><html><head><title>Sign in</title></head>\
              <body><h1>Please sign in</h1><form method=\"post\"></form></body></html>"
                .to_vec(),
        );
    }
    if let Some(s) = faults.status {
        let status = StatusCode::from_u16(s).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return error(status, status.canonical_reason().unwrap_or("error"));
    }
    if let Some(token) = token {
        let ok = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|t| t.trim() == token);
        if !ok {
            return error(StatusCode::UNAUTHORIZED, "Unauthorized");
        }
    }
    let (status, body) = match route(&state, &method, &uri) {
        Routed::Done(status, body) => (status, body),
        Routed::Metrics(plan) => {
            let doc = match plan {
                Some(p) => match p.render_async().await {
                    Some(d) => Some(d),
                    None => return error(StatusCode::INTERNAL_SERVER_ERROR, "rendering failed"),
                },
                None => None,
            };
            let mut body = String::with_capacity(doc.as_ref().map_or(0, |d| d.len()) + 10);
            body.push_str("{\"data\":");
            body.push_str(doc.as_deref().unwrap_or("[]"));
            body.push('}');
            (StatusCode::OK, body)
        }
    };
    let mut body = body.into_bytes();
    if status.is_success() {
        if faults.malformed_json {
            body = match std::str::from_utf8(&body) {
                Ok(s) => malformed(s).into_bytes(),
                Err(_) => body,
            };
        }
        if faults.invalid_utf8 {
            let at = body
                .iter()
                .position(|b| *b == b'"')
                .map(|i| i + 1)
                .unwrap_or(0);
            body.splice(at..at, [0xC3, 0x28, 0xFF]);
        }
    }
    bytes_response(status, "application/json", body)
}

/// What a route produced: a finished body, or a metrics document still to render
/// (outside the lock).
enum Routed {
    Done(StatusCode, String),
    Metrics(Option<DocPlan>),
}

fn route(state: &SimState, method: &Method, uri: &Uri) -> Routed {
    let path = uri.path().trim_end_matches('/');
    let Some(rest) = path.strip_prefix("/api/v1/") else {
        return not_found("Not found");
    };
    if method != Method::GET {
        return Routed::Done(
            StatusCode::METHOD_NOT_ALLOWED,
            json!({"error": "the simulator's API is read-only"}).to_string(),
        );
    }
    let segs: Vec<&str> = rest.split('/').collect();
    let w = state.lock();
    match segs.as_slice() {
        ["pipelines"] => list_pipelines(&w, uri.query().unwrap_or("")),
        ["pipelines", pid] => match w.pipeline(pid) {
            Some(p) => ok(pipeline_json(&w, p)),
            None => not_found("Pipeline not found"),
        },
        ["jobs"] => ok(data(
            w.jobs.iter().map(|j| job_json(w.release, j)).collect(),
        )),
        ["pipelines", pid, "jobs"] => match w.pipeline(pid) {
            Some(p) => ok(data(
                w.jobs
                    .iter()
                    .filter(|j| j.pipeline_id == p.id)
                    .map(|j| job_json(w.release, j))
                    .collect(),
            )),
            None => not_found("Pipeline not found"),
        },
        ["pipelines", pid, "jobs", jid, what] => {
            let Some(job) = w.job(jid).filter(|j| j.pipeline_id == *pid) else {
                return not_found("Job not found");
            };
            match *what {
                "checkpoints" => ok(data(
                    job.checkpoints
                        .iter()
                        .map(|c| checkpoint_json(w.release, c))
                        .collect(),
                )),
                "errors" => job_errors(w.release, job, uri.query().unwrap_or("")),
                "operator_metric_groups" => {
                    if !w.leader_mode && !state.rpc_wanted_up() {
                        return Routed::Done(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            json!({"error": "Failed to connect to controller"}).to_string(),
                        );
                    }
                    let now = w.now_micros();
                    let order = mix(job.seed ^ w.call_seq.wrapping_mul(0x9E37_79B9));
                    Routed::Metrics(w.controller_doc_with_order(jid, now, Some(order)))
                }
                _ => not_found("Not found"),
            }
        }
        ["pipelines", pid, "jobs", jid, "checkpoints", epoch, "operator_checkpoint_groups"] => {
            let Some(job) = w.job(jid).filter(|j| j.pipeline_id == *pid) else {
                return not_found("Job not found");
            };
            let Some(pipeline) = w.pipeline(pid) else {
                return not_found("Pipeline not found");
            };
            let Ok(epoch) = epoch.parse::<u64>() else {
                return Routed::Done(
                    StatusCode::BAD_REQUEST,
                    json!({"error": format!("invalid epoch {epoch:?}")}).to_string(),
                );
            };
            if let Some((raw_epoch, doc)) = &job.checkpoint_groups_raw {
                if *raw_epoch == epoch {
                    return Routed::Done(StatusCode::OK, doc.to_string());
                }
            }
            match job.checkpoints.iter().find(|c| c.epoch == epoch) {
                Some(c) => {
                    let ops =
                        details::checkpoint_groups(w.release, pipeline, job, epoch, c.start_time);
                    ok(details::checkpoint_groups_json(w.release, &ops))
                }
                None => not_found("Checkpoint not found"),
            }
        }
        _ => not_found("Not found"),
    }
}

/// `limit` (clamped to 1..=[`MAX_PAGE`], `default` without one) and `starting_after` of a
/// paginated call; a limit that is not a number is a 400.
fn page_query(query: &str, default: usize) -> Result<(usize, Option<String>), Routed> {
    let mut limit = default;
    let mut after: Option<String> = None;
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "limit" => match v.parse::<usize>() {
                Ok(n) => limit = n.clamp(1, MAX_PAGE),
                Err(_) => {
                    return Err(Routed::Done(
                        StatusCode::BAD_REQUEST,
                        json!({"error": format!("invalid limit {v:?}")}).to_string(),
                    ))
                }
            },
            "starting_after" if !v.is_empty() => after = Some(v.into_owned()),
            _ => {}
        }
    }
    Ok((limit, after))
}

/// A page of a job's error log: `limit` (default 10, as Arroyo's) rows newest first,
/// older than `starting_after`, and `hasMore`.
fn job_errors(release: Release, job: &SimJob, query: &str) -> Routed {
    let (limit, after) = match page_query(query, 10) {
        Ok(page) => page,
        Err(bad) => return bad,
    };
    let (rows, more) = details::job_errors_page(job, limit, after.as_deref());
    let data: Vec<Value> = rows
        .into_iter()
        .map(|e| details::job_error_json(release, e))
        .collect();
    ok(json!({ "data": data, "hasMore": more }))
}

/// The admin port's router: `GET /details` (Arroyo's build) and `GET /status`.
pub(crate) fn admin_router(state: SimState) -> axum::Router {
    axum::Router::new().fallback(admin).with_state(state)
}

async fn admin(State(state): State<SimState>, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path().to_string();
    let (faults, token, details) = {
        let mut w = state.lock();
        *w.admin_calls.entry(path.clone()).or_insert(0) += 1;
        (
            w.admin_faults.clone(),
            w.admin_token.clone(),
            w.admin_details.clone(),
        )
    };
    let faults = if faults.applies_to(&path) {
        faults
    } else {
        ApiFaults::default()
    };
    if let Some(d) = faults.delay {
        tokio::time::sleep(d).await;
    }
    if let Some(s) = faults.status {
        let status = StatusCode::from_u16(s).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return bytes_response(status, "text/plain", b"error".to_vec());
    }
    if faults.html_body {
        return bytes_response(
            StatusCode::OK,
            "text/html; charset=utf-8",
            b"<!DOCTYPE html><html><body>proxy</body></html>".to_vec(),
        );
    }
    if let Some(token) = token {
        let ok = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|t| t.trim() == token);
        if !ok {
            return bytes_response(
                StatusCode::UNAUTHORIZED,
                "text/plain",
                b"Unauthorized".to_vec(),
            );
        }
    }
    match path.as_str() {
        "/details" => {
            let body = json!({
                "service": details.service,
                "git_sha": details.git_sha,
                "version": details.version,
                "build_timestamp": details.build_timestamp,
            })
            .to_string();
            let body = if faults.malformed_json {
                malformed(&body)
            } else {
                body
            };
            bytes_response(StatusCode::OK, "application/json", body.into_bytes())
        }
        "/status" => bytes_response(StatusCode::OK, "text/plain", b"ok".to_vec()),
        _ => bytes_response(StatusCode::NOT_FOUND, "text/plain", b"Not found".to_vec()),
    }
}

fn ok(v: Value) -> Routed {
    Routed::Done(StatusCode::OK, v.to_string())
}

fn not_found(msg: &str) -> Routed {
    Routed::Done(StatusCode::NOT_FOUND, json!({ "error": msg }).to_string())
}

fn data(items: Vec<Value>) -> Value {
    json!({ "data": items })
}

fn list_pipelines(w: &World, query: &str) -> Routed {
    let (limit, starting_after) = match page_query(query, w.default_page_size.max(1)) {
        Ok(page) => page,
        Err(bad) => return bad,
    };
    let start = match &starting_after {
        None => 0,
        Some(id) => match w.pipelines.iter().position(|p| &p.id == id) {
            Some(i) => i + 1,
            None => w.pipelines.len(),
        },
    };
    let page: Vec<Value> = w
        .pipelines
        .iter()
        .skip(start)
        .take(limit)
        .map(|p| pipeline_json(w, p))
        .collect();
    let has_more = start + page.len() < w.pipelines.len();
    ok(json!({ "data": page, "hasMore": has_more }))
}

fn put(m: &mut Map<String, Value>, release: Release, key: &'static str, v: Value) {
    let k: Cow<'static, str> = release.key(key);
    m.insert(k.into_owned(), v);
}

/// A pipeline as the release's REST API writes it.
pub(crate) fn pipeline_json(w: &World, p: &SimPipeline) -> Value {
    let r = w.release;
    let job = w.jobs.iter().rev().find(|j| j.pipeline_id == p.id);
    let running = job.is_some_and(|j| j.running_desired && job_state_runs(&j.state));
    let count = p.nodes.len();
    let node_id = |pos: usize, id: u32| -> Value {
        if r.numeric_node_ids() {
            json!(id)
        } else {
            json!(wire_node_id(r, id, pos, count))
        }
    };
    let nodes: Vec<Value> = p
        .nodes
        .iter()
        .enumerate()
        .map(|(pos, n)| {
            let mut m = Map::new();
            put(&mut m, r, "node_id", node_id(pos, n.node_id));
            put(&mut m, r, "operator", json!(n.operator));
            put(&mut m, r, "description", json!(n.description));
            put(&mut m, r, "parallelism", json!(n.parallelism));
            Value::Object(m)
        })
        .collect();
    let edges: Vec<Value> = p
        .nodes
        .windows(2)
        .enumerate()
        .map(|(pos, pair)| {
            let edge_type = if pos == 0 || pos + 2 == count {
                "Forward"
            } else {
                "Shuffle"
            };
            let mut m = Map::new();
            put(&mut m, r, "src_id", node_id(pos, pair[0].node_id));
            put(&mut m, r, "dest_id", node_id(pos + 1, pair[1].node_id));
            put(&mut m, r, "key_type", json!("()"));
            put(&mut m, r, "value_type", json!("()"));
            put(&mut m, r, "edge_type", json!(edge_type));
            Value::Object(m)
        })
        .collect();
    let mut m = Map::new();
    put(&mut m, r, "id", json!(p.id));
    put(&mut m, r, "name", json!(p.name));
    put(&mut m, r, "query", json!(p.query));
    put(&mut m, r, "udfs", json!([]));
    put(
        &mut m,
        r,
        "checkpoint_interval_micros",
        json!(p.checkpoint_interval_micros),
    );
    put(
        &mut m,
        r,
        "stop",
        json!(if running { "none" } else { "checkpoint" }),
    );
    put(&mut m, r, "created_at", json!(p.created_at));
    put(
        &mut m,
        r,
        "action",
        json!(if running { "checkpoint" } else { "none" }),
    );
    put(
        &mut m,
        r,
        "action_text",
        json!(if running { "Stop" } else { "Start" }),
    );
    put(&mut m, r, "action_in_progress", json!(false));
    put(
        &mut m,
        r,
        "graph",
        json!({ "nodes": nodes, "edges": edges }),
    );
    put(&mut m, r, "preview", json!(false));
    if r == Release::Main {
        put(&mut m, r, "state_url", Value::Null);
        put(&mut m, r, "tags", json!(p.tags));
    }
    Value::Object(m)
}

/// A job as the release's REST API writes it.
pub(crate) fn job_json(r: Release, j: &SimJob) -> Value {
    let mut m = Map::new();
    put(&mut m, r, "id", json!(j.id));
    if r == Release::Main {
        put(&mut m, r, "pipeline_id", json!(j.pipeline_id));
    }
    put(&mut m, r, "running_desired", json!(j.running_desired));
    put(&mut m, r, "state", json!(j.state));
    put(&mut m, r, "run_id", json!(j.run_id));
    put(&mut m, r, "start_time", json!(j.start_time));
    put(&mut m, r, "finish_time", json!(j.finish_time));
    put(&mut m, r, "tasks", json!(j.tasks));
    if r == Release::Main {
        let reason = match (&j.failure_message, &j.failure_domain) {
            (None, None) => Value::Null,
            (msg, domain) => json!({ "error": msg, "domain": domain }),
        };
        put(&mut m, r, "failure_reason", reason);
    } else {
        put(&mut m, r, "failure_message", json!(j.failure_message));
    }
    put(&mut m, r, "created_at", json!(j.created_at));
    if r == Release::Main {
        put(&mut m, r, "scheduler_config", json!({}));
        put(&mut m, r, "env_vars", json!({}));
    }
    Value::Object(m)
}

/// A checkpoint as the release's REST API writes it.
pub(crate) fn checkpoint_json(r: Release, c: &SimCheckpoint) -> Value {
    let event = |start: u64, finish: Option<u64>, name: &str, desc: &str| {
        let mut m = Map::new();
        put(&mut m, r, "start_time", json!(start));
        put(&mut m, r, "finish_time", json!(finish));
        put(&mut m, r, "event", json!(name));
        put(&mut m, r, "description", json!(desc));
        Value::Object(m)
    };
    let mut events = vec![event(
        c.start_time.saturating_sub(2_000),
        c.finish_time,
        "Checkpointing",
        "The entire checkpointing process",
    )];
    if let Some(f) = c.finish_time {
        let ops_end = c.start_time + (f.saturating_sub(c.start_time)) / 3;
        events.push(event(
            c.start_time.saturating_sub(1_998),
            Some(ops_end),
            "CheckpointingOperators",
            "The time spent checkpointing operator states",
        ));
        events.push(event(
            f.saturating_sub(600),
            Some(f.saturating_sub(5)),
            "WritingMetadata",
            "Writing the final checkpoint metadata",
        ));
    }
    let mut m = Map::new();
    put(&mut m, r, "epoch", json!(c.epoch));
    put(&mut m, r, "backend", json!("parquet"));
    if r == Release::Main {
        put(&mut m, r, "checkpoint_type", json!(c.checkpoint_type));
    }
    put(&mut m, r, "start_time", json!(c.start_time));
    put(&mut m, r, "finish_time", json!(c.finish_time));
    put(&mut m, r, "events", json!(events));
    Value::Object(m)
}
