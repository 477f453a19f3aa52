//! Loads the real captures (tests/fixtures) into a simulator world.

use std::io;
use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use crate::release::Release;
use crate::state::{MetricsSource, SimCheckpoint, SimJob, SimNode, SimPipeline, World};

fn invalid(file: &Path, what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{}: {what}", file.display()),
    )
}

fn read_json(file: &Path) -> io::Result<Value> {
    let text = std::fs::read_to_string(file)?;
    serde_json::from_str(&text).map_err(|e| invalid(file, &e.to_string()))
}

fn str_field(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

fn u64_field(v: &Value, key: &str) -> Option<u64> {
    v.get(key).and_then(Value::as_u64)
}

/// The world of a real capture: the pipeline, its job (Running, with the captured
/// `JobMetrics` document served verbatim), its checkpoints and, where captured, the
/// details of its newest checkpoint, exactly as Arroyo gave them.
///
/// `fixtures_dir` is the folder holding `arroyo-main-addb390/` (main) and `arroyo-v0.15.0/`
/// (v0.15), e.g. `tests/fixtures`. Other releases have no capture:
/// [`io::ErrorKind::Unsupported`].
pub fn fixture_world(release: Release, fixtures_dir: &Path) -> io::Result<World> {
    let dir = match release {
        Release::Main => fixtures_dir.join("arroyo-main-addb390"),
        Release::V0_15 => fixtures_dir.join("arroyo-v0.15.0"),
        other => {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("no real capture of Arroyo {other}"),
            ))
        }
    };
    let mut world = World::new(release);

    let pfile = dir.join("pipeline.json");
    let p = read_json(&pfile)?;
    let pid = str_field(&p, "id").ok_or_else(|| invalid(&pfile, "no pipeline id"))?;
    let mut nodes = Vec::new();
    for n in p
        .pointer("/graph/nodes")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid(&pfile, "no graph.nodes"))?
    {
        let id = u64_field(n, "node_id").ok_or_else(|| invalid(&pfile, "node without node_id"))?;
        nodes.push(SimNode::new(
            u32::try_from(id).map_err(|_| invalid(&pfile, "node_id out of range"))?,
            str_field(n, "operator").unwrap_or_default(),
            str_field(n, "description").unwrap_or_default(),
            u64_field(n, "parallelism").unwrap_or(1) as u32,
        ));
    }
    // Chain order (source first) from the edges, so generated metrics get the roles right.
    if let Some(edges) = p.pointer("/graph/edges").and_then(Value::as_array) {
        let pairs: Vec<(u64, u64)> = edges
            .iter()
            .filter_map(|e| Some((u64_field(e, "src_id")?, u64_field(e, "dest_id")?)))
            .collect();
        nodes.sort_by_key(|n| {
            let mut depth = 0u32;
            let mut cur = n.node_id as u64;
            while let Some((src, _)) = pairs.iter().find(|(_, d)| *d == cur) {
                depth += 1;
                cur = *src;
                if depth as usize > pairs.len() {
                    break;
                }
            }
            depth
        });
    }
    let mut pipeline = SimPipeline::new(
        pid.clone(),
        str_field(&p, "name").unwrap_or_default(),
        nodes,
    );
    pipeline.query = str_field(&p, "query").unwrap_or_default();
    pipeline.checkpoint_interval_micros =
        u64_field(&p, "checkpoint_interval_micros").unwrap_or(10_000_000);
    pipeline.created_at = u64_field(&p, "created_at").unwrap_or(0);
    if let Some(tags) = p.get("tags").and_then(Value::as_object) {
        for (k, v) in tags {
            if let Some(v) = v.as_str() {
                pipeline.tags.insert(k.clone(), v.to_string());
            }
        }
    }
    world.pipelines.push(pipeline);

    let doc: Arc<str> = std::fs::read_to_string(dir.join("job_metrics_rpc.json"))?.into();
    let cfile = dir.join("checkpoints.json");
    let checkpoints: Vec<SimCheckpoint> = read_json(&cfile)?
        .get("data")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid(&cfile, "no data"))?
        .iter()
        .filter_map(|c| {
            Some(SimCheckpoint {
                epoch: u64_field(c, "epoch")?,
                start_time: u64_field(c, "start_time")?,
                finish_time: u64_field(c, "finish_time"),
                checkpoint_type: str_field(c, "checkpoint_type")
                    .unwrap_or_else(|| "scheduled".to_string()),
            })
        })
        .collect();

    // The captured details of the newest checkpoint, where there is one (main: epoch 17).
    let groups_file = dir.join("operator_checkpoint_groups_epoch17.json");
    let groups: Option<(u64, Arc<str>)> = if groups_file.exists() {
        Some((17, std::fs::read_to_string(&groups_file)?.into()))
    } else {
        None
    };

    let jfile = dir.join("jobs.json");
    for j in read_json(&jfile)?
        .get("data")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid(&jfile, "no data"))?
    {
        let id = str_field(j, "id").ok_or_else(|| invalid(&jfile, "job without id"))?;
        let start = u64_field(j, "start_time").unwrap_or(0);
        let mut job = SimJob::running(
            id,
            str_field(j, "pipeline_id").unwrap_or(pid.clone()),
            start,
        );
        job.state = str_field(j, "state").unwrap_or_else(|| "Running".to_string());
        job.running_desired = j
            .get("running_desired")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        job.run_id = u64_field(j, "run_id").unwrap_or(1);
        job.finish_time = u64_field(j, "finish_time");
        job.created_at = u64_field(j, "created_at").unwrap_or(0);
        job.tasks = u64_field(j, "tasks");
        job.failure_message = str_field(j, "failure_message").or_else(|| {
            j.pointer("/failure_reason/error")
                .and_then(Value::as_str)
                .map(str::to_string)
        });
        job.failure_domain = j
            .pointer("/failure_reason/domain")
            .and_then(Value::as_str)
            .map(str::to_string);
        job.checkpoints = checkpoints.clone();
        job.checkpoint_groups_raw = groups.clone();
        job.metrics = MetricsSource::Raw(doc.clone());
        world.jobs.push(job);
    }
    Ok(world)
}
