//! Scenarios of the autopilot, and the demo world the simulator binary serves.
//!
//! With [`World::live`] on, every RPC or REST call first calls [`World::advance`], which
//! moves the world to "now": running jobs complete a checkpoint every checkpoint interval
//! (the last 12 are kept), and the active [`Scenario`] acts on one job (the first one, see
//! [`World::scenario_job`]).

use std::collections::BTreeMap;

use crate::details::plan_operators;
use crate::docgen::{hash, Effect, Rng};
use crate::release::Release;
use crate::scenario::{bottleneck_position, Scenario, BOTTLENECK_MOVE_PERIOD_MICROS};
use crate::state::{
    MetricsSource, SimCheckpoint, SimJob, SimJobError, SimNode, SimPipeline, SimState, World,
};

/// Period of the restart loop.
pub const RESTART_PERIOD_MICROS: u64 = 20_000_000;
/// How long each restart of the loop stays in `Restarting`.
pub const RESTARTING_MICROS: u64 = 4_000_000;
/// Checkpoints kept (and listed) per job.
pub const CHECKPOINTS_KEPT: usize = 12;
/// Bytes each stateful subtask adds per epoch in the growing-state scenario.
pub const GROWTH_BYTES_PER_EPOCH: u64 = 4 * 1024 * 1024;
/// Rows of the error-burst scenario's first burst.
pub const ERROR_BURST_ROWS: u64 = 25;
/// Arroyo's rate limit of non-fatal errors: one row per this many µs per subtask.
pub const ERROR_ROW_INTERVAL_MICROS: u64 = 5_000_000;

impl World {
    /// Switches to `scenario` at `now`: undoes what the previous one did to its job, then
    /// starts the new one. Returns whether the gRPC listener should be up.
    pub fn switch_scenario(&mut self, scenario: Scenario, now: u64) -> bool {
        self.heal(now);
        self.scenario = scenario;
        self.scenario_since_micros = now;
        self.scenario_job = self.jobs.first().map(|j| j.id.clone());
        self.scenario_base_run_id = self.jobs.first().map(|j| j.run_id).unwrap_or(0);
        self.advance(now);
        scenario != Scenario::ControllerDown
    }

    /// Undoes the active scenario's lasting changes.
    fn heal(&mut self, now: u64) {
        let old = self.scenario;
        if old == Scenario::ControllerDown {
            self.controller_restarted(now);
        }
        let victim = self.scenario_job.clone();
        for job in &mut self.jobs {
            job.effects.clear();
            if Some(&job.id) != victim.as_ref() {
                continue;
            }
            job.state_growth_bytes = 0;
            match old {
                Scenario::JobFailed if job.state == "Failed" => {
                    // The operator restarts it.
                    restart_job(job, now);
                }
                Scenario::RestartLoop if job.state != "Running" => {
                    job.state = "Running".to_string();
                }
                _ => {}
            }
            if let Some(c) = job.checkpoints.last_mut() {
                if c.finish_time.is_none() {
                    c.finish_time = Some(now);
                }
            }
        }
    }

    /// Moves the world to `now` (no-op unless [`World::live`]).
    pub fn advance(&mut self, now: u64) {
        if !self.live {
            return;
        }
        let scenario = self.scenario;
        let since = self.scenario_since_micros;
        let victim = self.scenario_job.clone();
        let base_run = self.scenario_base_run_id;
        let pipelines: Vec<PipelineInfo> = self
            .pipelines
            .iter()
            .map(|p| {
                (
                    p.id.clone(),
                    p.checkpoint_interval_micros.max(1_000_000),
                    p.doc_nodes(),
                )
            })
            .collect();
        // The error-burst scenario's reporting operator: the victim's second plan
        // operator (the first after the source), with its node's parallelism.
        let reporter: Option<(String, u64)> = victim
            .as_ref()
            .and_then(|v| self.jobs.iter().find(|j| &j.id == v))
            .and_then(|j| self.pipelines.iter().find(|p| p.id == j.pipeline_id))
            .and_then(|p| {
                let ops = plan_operators(self.release, p);
                let (op, node, _) = ops.get(1).or(ops.first())?.clone();
                let count = p.nodes.len();
                let parallelism = p
                    .nodes
                    .iter()
                    .enumerate()
                    .find(|(pos, n)| {
                        crate::release::wire_node_id(self.release, n.node_id, *pos, count) == node
                    })
                    .map_or(1, |(_, n)| u64::from(n.parallelism.max(1)));
                Some((op, parallelism))
            });
        let mut error_seq = self.error_seq;
        let mut errors_until = self.errors_written_until;
        for job in &mut self.jobs {
            let Some((_, interval, nodes)) = pipelines.iter().find(|p| p.0 == job.pipeline_id)
            else {
                continue;
            };
            let is_victim = Some(&job.id) == victim.as_ref();
            let mut stalled = false;
            job.effects.clear();
            if is_victim {
                match scenario {
                    Scenario::ThroughputDrop => job.effects.push(Effect::ThroughputDrop {
                        since_micros: since,
                        factor: 0.1,
                    }),
                    Scenario::Backpressure => {
                        if let Some(&(node_id, _)) = nodes.get(nodes.len().saturating_sub(1) / 2) {
                            job.effects.push(Effect::Backpressure {
                                node_id,
                                since_micros: since,
                                low: 0.8,
                                high: 0.95,
                            });
                        }
                    }
                    Scenario::Skew => {
                        let mid = nodes.len() / 2;
                        let pick = nodes
                            .iter()
                            .skip(mid)
                            .chain(nodes.iter().take(mid))
                            .find(|(_, p)| *p >= 2)
                            .or(nodes.get(mid));
                        if let Some(&(node_id, _)) = pick {
                            job.effects.push(Effect::Skew {
                                node_id,
                                subtask: 0,
                                since_micros: since,
                                factor: 10.0,
                            });
                        }
                    }
                    Scenario::JobFailed => {
                        if job.state != "Failed" {
                            job.state = "Failed".to_string();
                            job.running_desired = true;
                            job.finish_time = Some(since);
                            job.failure_message = Some(
                                "operator value_1 panicked: called `Result::unwrap()` on an `Err` value: \
                                 DeserializeError(\"invalid JSON in field `price`\")"
                                    .to_string(),
                            );
                            job.failure_domain = Some("user".to_string());
                        }
                    }
                    Scenario::RestartLoop => {
                        let elapsed = now.saturating_sub(since);
                        let n = elapsed / RESTART_PERIOD_MICROS;
                        let phase = elapsed % RESTART_PERIOD_MICROS;
                        job.run_id = base_run + n + 1;
                        if phase < RESTARTING_MICROS {
                            job.state = "Restarting".to_string();
                        } else {
                            let start = since + n * RESTART_PERIOD_MICROS + RESTARTING_MICROS;
                            job.state = "Running".to_string();
                            if job.start_time != Some(start) {
                                job.start_time = Some(start);
                                if job.metrics == MetricsSource::Generated {
                                    job.metrics_since_micros = Some(start);
                                }
                            }
                        }
                    }
                    Scenario::CheckpointsStalled => stalled = true,
                    Scenario::BottleneckMoves => {
                        let elapsed = now.saturating_sub(since);
                        if let Some(pos) = bottleneck_position(nodes.len(), elapsed) {
                            let phase_start = now - elapsed % BOTTLENECK_MOVE_PERIOD_MICROS;
                            for &(node_id, _) in &nodes[..pos] {
                                job.effects.push(Effect::Backpressure {
                                    node_id,
                                    since_micros: phase_start,
                                    low: 0.8,
                                    high: 0.95,
                                });
                            }
                        }
                    }
                    Scenario::GrowingState => {
                        if job.state_growth_bytes == 0 {
                            job.state_growth_bytes = GROWTH_BYTES_PER_EPOCH;
                            job.state_growth_since_epoch =
                                job.checkpoints.last().map_or(0, |c| c.epoch);
                        }
                    }
                    Scenario::ErrorBurst => {
                        if let Some((op, subtasks)) = &reporter {
                            write_error_rows(
                                job,
                                op,
                                *subtasks,
                                since,
                                now,
                                &mut error_seq,
                                &mut errors_until,
                            );
                        }
                    }
                    Scenario::Steady | Scenario::ControllerDown => {}
                }
            }
            if job.state == "Running" {
                advance_checkpoints(job, *interval, now, stalled.then_some(since));
            }
        }
        self.error_seq = error_seq;
        self.errors_written_until = errors_until;
    }
}

/// The error-burst scenario's rows up to `now`: the burst of [`ERROR_BURST_ROWS`] rows
/// in the 5 s before `since` (once), then one row per [`ERROR_ROW_INTERVAL_MICROS`] per
/// subtask of `operator` (alternating subtasks), after `*until`.
fn write_error_rows(
    job: &mut SimJob,
    operator: &str,
    subtasks: u64,
    since: u64,
    now: u64,
    seq: &mut u64,
    until: &mut u64,
) {
    let mut push = |job: &mut SimJob, at: u64, task: u64| {
        job.errors
            .push(SimJobError::invalid_data(*seq, at, operator, task));
        *seq += 1;
    };
    if *until < since {
        let step = ERROR_ROW_INTERVAL_MICROS / ERROR_BURST_ROWS;
        for i in 0..ERROR_BURST_ROWS {
            let at = since.saturating_sub((ERROR_BURST_ROWS - 1 - i) * step);
            push(job, at, i % subtasks);
        }
        *until = since;
    }
    let every = ERROR_ROW_INTERVAL_MICROS / subtasks.max(1);
    while *until + every <= now {
        *until += every;
        let task = (*until / every) % subtasks.max(1);
        push(job, *until, task);
    }
}

impl SimState {
    /// Switches the scenario now (see [`Scenario`]); also turns the autopilot on.
    pub fn set_scenario(&self, scenario: Scenario) {
        let rpc_up = {
            let mut w = self.lock();
            w.live = true;
            let now = w.now_micros();
            w.switch_scenario(scenario, now)
        };
        if rpc_up != self.rpc_wanted_up() {
            self.set_rpc_up(rpc_up);
        }
    }
}

/// The operator (or Arroyo's recovery) restarts a job at `now`.
fn restart_job(job: &mut SimJob, now: u64) {
    job.state = "Running".to_string();
    job.running_desired = true;
    job.run_id += 1;
    job.start_time = Some(now);
    job.finish_time = None;
    job.failure_message = None;
    job.failure_domain = None;
    if job.metrics == MetricsSource::Generated {
        job.metrics_since_micros = Some(now);
    }
}

/// Completes the checkpoints due by `now`; with `stall_since`, the first one due after
/// that instant stays in progress.
fn advance_checkpoints(job: &mut SimJob, interval: u64, now: u64, stall_since: Option<u64>) {
    let start_floor = job.start_time.unwrap_or(now) + interval;
    if let Some(last) = job.checkpoints.last_mut() {
        if last.finish_time.is_none() {
            if stall_since.is_some() {
                return;
            }
            last.finish_time = Some(now.max(last.start_time));
        }
    }
    loop {
        let (epoch, next) = match job.checkpoints.last() {
            Some(c) => (c.epoch + 1, (c.start_time + interval).max(start_floor)),
            None => (1, start_floor),
        };
        if next > now {
            break;
        }
        let duration = 250_000 + hash(&[job.seed, epoch]) % 120_000;
        if let Some(s) = stall_since {
            if next >= s {
                job.checkpoints.push(SimCheckpoint {
                    epoch,
                    start_time: next,
                    finish_time: None,
                    checkpoint_type: "scheduled".to_string(),
                });
                break;
            }
        }
        if next + duration > now {
            break;
        }
        job.checkpoints.push(SimCheckpoint {
            epoch,
            start_time: next,
            finish_time: Some(next + duration),
            checkpoint_type: "scheduled".to_string(),
        });
        if job.checkpoints.len() > 4 * CHECKPOINTS_KEPT {
            let cut = job.checkpoints.len() - CHECKPOINTS_KEPT;
            job.checkpoints.drain(..cut);
        }
    }
    if job.checkpoints.len() > CHECKPOINTS_KEPT {
        let cut = job.checkpoints.len() - CHECKPOINTS_KEPT;
        job.checkpoints.drain(..cut);
    }
}

/// `(pipeline id, checkpoint interval, (node_id, parallelism) chain)`.
type PipelineInfo = (String, u64, Vec<(u32, u32)>);

struct Template {
    name: &'static str,
    rate: f64,
    interval_secs: u64,
    team: &'static str,
    nodes: &'static [(u32, &'static str, &'static str)],
    query: &'static str,
}

const TEMPLATES: [Template; 4] = [
    Template {
        name: "nexmark_bids_per_auction",
        rate: 200.0,
        interval_secs: 10,
        team: "auctions",
        nodes: &[
            (0, "nexmark", "Nexmark<200 eps>"),
            (1, "chained_op", "nexmark -> watermark -> ArrowKey<_>"),
            (
                4,
                "chained_op",
                "TumblingWindow<TumblingWindow> -> sink projection",
            ),
            (6, "blackhole", "Blackhole"),
        ],
        query: "INSERT INTO bids_per_auction SELECT auction, window.end, count(*), max(price) \
                FROM (SELECT bid.auction as auction, bid.price as price, \
                tumble(INTERVAL '5' second) as window FROM nexmark WHERE bid is not null) \
                GROUP BY 1, 2;",
    },
    Template {
        name: "orders_enrichment",
        rate: 5000.0,
        interval_secs: 10,
        team: "checkout",
        nodes: &[
            (0, "kafka_source", "KafkaSource<orders>"),
            (2, "chained_op", "value_projection -> watermark"),
            (3, "chained_op", "LookupJoin<customers> -> ArrowKey<_>"),
            (5, "kafka_sink", "KafkaSink<orders_enriched>"),
        ],
        query: "INSERT INTO orders_enriched SELECT o.*, c.segment FROM orders o \
                LEFT JOIN customers c ON o.customer_id = c.id;",
    },
    Template {
        name: "clickstream_sessions",
        rate: 1500.0,
        interval_secs: 30,
        team: "growth",
        nodes: &[
            (0, "kafka_source", "KafkaSource<clicks>"),
            (1, "chained_op", "watermark -> ArrowKey<_>"),
            (
                3,
                "chained_op",
                "SessionWindow<SessionWindow> -> sink projection",
            ),
            (4, "filesystem_sink", "FileSystemSink<parquet>"),
        ],
        query: "INSERT INTO sessions SELECT user_id, session(INTERVAL '30' second) as window, \
                count(*) FROM clicks GROUP BY 1, 2;",
    },
    Template {
        name: "sensor_anomalies",
        rate: 800.0,
        interval_secs: 10,
        team: "iot",
        nodes: &[
            (0, "impulse", "Impulse<800 eps>"),
            (2, "chained_op", "value_projection -> filter"),
            (7, "webhook_sink", "WebhookSink<alerts>"),
        ],
        query: "INSERT INTO alerts SELECT device, reading FROM sensors WHERE reading > 100;",
    },
];

/// A nanoid-like id: `prefix` + 10 alphanumerics, deterministic per `seed`.
pub fn sim_id(prefix: &str, seed: u64) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut rng = Rng::new(seed);
    let mut s = String::with_capacity(prefix.len() + 10);
    s.push_str(prefix);
    for _ in 0..10 {
        s.push(ALPHABET[rng.below(ALPHABET.len())] as char);
    }
    s
}

/// A demo world: `pipelines` pipelines (cycling through a few realistic graphs), every
/// node with `parallelism` subtasks, each with one Running job started 15 minutes before
/// `now` (so series hold full windows), generated metrics, and the autopilot on in the
/// steady scenario.
pub fn demo_world(
    release: Release,
    pipelines: usize,
    parallelism: u32,
    seed: u64,
    now: u64,
) -> World {
    let mut world = World::new(release);
    let parallelism = parallelism.max(1);
    for i in 0..pipelines {
        let t = &TEMPLATES[i % TEMPLATES.len()];
        let round = i / TEMPLATES.len();
        let name = if round == 0 {
            t.name.to_string()
        } else {
            format!("{}_{}", t.name, round + 1)
        };
        let pid = sim_id("pl_", hash(&[seed, i as u64, 1]));
        let jid = sim_id("job_", hash(&[seed, i as u64, 2]));
        let start = now.saturating_sub(15 * 60 * 1_000_000 + (i as u64) * 7_777_777);
        let created = (start.saturating_sub(1_000_000)) / 1_000_000 * 1_000_000;
        let mut tags = BTreeMap::new();
        tags.insert("team".to_string(), t.team.to_string());
        tags.insert("env".to_string(), "demo".to_string());
        let nodes: Vec<SimNode> = t
            .nodes
            .iter()
            .map(|(id, op, desc)| SimNode::new(*id, *op, *desc, parallelism))
            .collect();
        let tasks = nodes.iter().map(|n| n.parallelism as u64).sum();
        world.pipelines.push(SimPipeline {
            id: pid.clone(),
            name,
            query: t.query.to_string(),
            checkpoint_interval_micros: t.interval_secs * 1_000_000,
            created_at: created,
            nodes,
            tags,
        });
        let mut job = SimJob::running(jid, pid, start);
        job.created_at = created;
        job.tasks = Some(tasks);
        job.seed = hash(&[seed, i as u64, 3]);
        job.source_rate = t.rate * (1.0 + round as f64 * 0.5);
        world.jobs.push(job);
    }
    world.live = true;
    world.scenario = Scenario::Steady;
    world.scenario_since_micros = now;
    world.scenario_job = world.jobs.first().map(|j| j.id.clone());
    world.scenario_base_run_id = world.jobs.first().map(|j| j.run_id).unwrap_or(0);
    world.advance(now);
    world
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_795_608_672_000_000;

    #[test]
    fn demo_world_checkpoints_advance() {
        let mut w = demo_world(Release::Main, 5, 2, 1, NOW);
        assert_eq!(w.pipelines.len(), 5);
        assert_eq!(w.jobs.len(), 5);
        assert_eq!(w.pipelines[4].name, "nexmark_bids_per_auction_2");
        let ids: std::collections::HashSet<_> = w.jobs.iter().map(|j| j.id.clone()).collect();
        assert_eq!(ids.len(), 5);
        assert!(w.jobs[0].id.starts_with("job_") && w.jobs[0].id.len() == 14);
        let job = &w.jobs[0];
        assert_eq!(job.checkpoints.len(), CHECKPOINTS_KEPT);
        let last = job.checkpoints.last().unwrap().clone();
        assert!(last.finish_time.unwrap() <= NOW);
        assert!(NOW - last.start_time < 11_000_000);
        w.advance(NOW + 30_000_000);
        let newer = w.jobs[0].checkpoints.last().unwrap();
        assert_eq!(newer.epoch, last.epoch + 3);
    }

    #[test]
    fn failure_and_restart_scenarios() {
        let mut w = demo_world(Release::Main, 2, 1, 1, NOW);
        let id = w.jobs[0].id.clone();
        w.switch_scenario(Scenario::JobFailed, NOW);
        let j = w.job(&id).unwrap();
        assert_eq!(j.state, "Failed");
        assert!(j.running_desired);
        assert_eq!(j.failure_domain.as_deref(), Some("user"));
        assert_eq!(w.jobs[1].state, "Running");
        // Frozen metrics: the doc still exists.
        assert!(w.controller_doc(&id, NOW + 60_000_000).is_some());
        w.switch_scenario(Scenario::RestartLoop, NOW + 1_000_000);
        let base = w.job(&id).unwrap().run_id;
        assert_eq!(w.job(&id).unwrap().state, "Restarting");
        w.advance(NOW + 1_000_000 + 5_000_000);
        assert_eq!(w.job(&id).unwrap().state, "Running");
        assert_eq!(w.job(&id).unwrap().run_id, base);
        w.advance(NOW + 1_000_000 + 45_000_000);
        assert_eq!(w.job(&id).unwrap().run_id, base + 2);
        assert!(!w.switch_scenario(Scenario::ControllerDown, NOW + 50_000_000));
        assert!(w.switch_scenario(Scenario::Steady, NOW + 60_000_000));
        assert_eq!(w.job(&id).unwrap().state, "Running");
    }

    /// The scenario job's newest operator backpressure (max over subtasks) by node id.
    fn backpressure_at(w: &World, now: u64) -> Vec<(String, f64)> {
        use crate::facts::MetricName;
        use crate::state::DocPlan;
        let Some(DocPlan::Spec(spec)) = w.controller_doc(&w.jobs[0].id, now) else {
            panic!("no generated document");
        };
        let mut out: Vec<(String, f64)> = Vec::new();
        for p in spec.newest() {
            if p.name != MetricName::Backpressure {
                continue;
            }
            match out.iter_mut().find(|(n, _)| *n == p.node_id) {
                Some(e) => e.1 = e.1.max(p.point.value),
                None => out.push((p.node_id.clone(), p.point.value)),
            }
        }
        out
    }

    #[test]
    fn bottleneck_moves_and_comes_back() {
        let mut w = demo_world(Release::Main, 2, 2, 3, NOW);
        w.switch_scenario(Scenario::BottleneckMoves, NOW);
        let high = |v: &[(String, f64)]| -> Vec<String> {
            v.iter()
                .filter(|(_, x)| *x >= 0.8)
                .map(|(n, _)| n.clone())
                .collect()
        };
        let low_elsewhere = |v: &[(String, f64)]| v.iter().all(|(_, x)| *x >= 0.8 || *x < 0.05);
        let p = BOTTLENECK_MOVE_PERIOD_MICROS;
        // Phase 0: the source is backpressured (node 1 is slow).
        let at = NOW + 10_000_000;
        w.advance(at);
        let bp = backpressure_at(&w, at);
        assert_eq!(bp.len(), 4);
        assert_eq!(high(&bp), ["0"], "{bp:?}");
        assert!(low_elsewhere(&bp), "{bp:?}");
        // Phase 1: node 4 is slow, 0 and 1 are backpressured.
        let at = NOW + p + 10_000_000;
        w.advance(at);
        let mut h = high(&backpressure_at(&w, at));
        h.sort();
        assert_eq!(h, ["0", "1"]);
        // Back to phase 0; the other job is untouched throughout.
        let at = NOW + 2 * p + 10_000_000;
        w.advance(at);
        assert_eq!(high(&backpressure_at(&w, at)), ["0"]);
        assert!(w.jobs[1].effects.is_empty());
        // Steady again: nothing is backpressured.
        w.switch_scenario(Scenario::Steady, at);
        assert!(high(&backpressure_at(&w, at + 10_000_000)).is_empty());
    }

    #[test]
    fn state_grows_and_errors_burst() {
        let mut w = demo_world(Release::Main, 2, 2, 1, NOW);
        let id = w.jobs[0].id.clone();
        w.switch_scenario(Scenario::GrowingState, NOW);
        let since = w.job(&id).unwrap().state_growth_since_epoch;
        assert_eq!(
            w.job(&id).unwrap().state_growth_bytes,
            GROWTH_BYTES_PER_EPOCH
        );
        assert_eq!(w.jobs[1].state_growth_bytes, 0);
        w.advance(NOW + 60_000_000);
        assert_eq!(w.job(&id).unwrap().state_growth_since_epoch, since);
        w.switch_scenario(Scenario::ErrorBurst, NOW + 61_000_000);
        assert_eq!(w.job(&id).unwrap().state_growth_bytes, 0);
        let rows = w.job(&id).unwrap().errors.len() as u64;
        assert_eq!(rows, ERROR_BURST_ROWS);
        assert_eq!(
            w.job(&id).unwrap().errors[0].operator_id.as_deref(),
            Some("value_1")
        );
        // One row per 5 s per subtask (2 subtasks) for 60 s: 24 more.
        w.advance(NOW + 121_000_000);
        assert_eq!(
            w.job(&id).unwrap().errors.len() as u64,
            ERROR_BURST_ROWS + 24
        );
        assert!(w.jobs[1].errors.is_empty());
        let ids: std::collections::HashSet<&str> = w
            .job(&id)
            .unwrap()
            .errors
            .iter()
            .map(|e| e.id.as_str())
            .collect();
        assert_eq!(ids.len() as u64, ERROR_BURST_ROWS + 24);
        w.switch_scenario(Scenario::Steady, NOW + 122_000_000);
        w.advance(NOW + 200_000_000);
        assert_eq!(
            w.job(&id).unwrap().errors.len() as u64,
            ERROR_BURST_ROWS + 24
        );
    }

    #[test]
    fn checkpoints_stall() {
        let mut w = demo_world(Release::V0_15, 1, 1, 9, NOW);
        w.switch_scenario(Scenario::CheckpointsStalled, NOW);
        let before = w.jobs[0]
            .checkpoints
            .iter()
            .filter(|c| c.finish_time.is_some())
            .count();
        let last_done = w.jobs[0]
            .checkpoints
            .iter()
            .rev()
            .find(|c| c.finish_time.is_some())
            .unwrap()
            .epoch;
        w.advance(NOW + 60_000_000);
        let j = &w.jobs[0];
        let in_progress: Vec<_> = j
            .checkpoints
            .iter()
            .filter(|c| c.finish_time.is_none())
            .collect();
        assert_eq!(in_progress.len(), 1);
        assert_eq!(in_progress[0].epoch, last_done + 1);
        assert!(
            j.checkpoints
                .iter()
                .filter(|c| c.finish_time.is_some())
                .count()
                <= before
        );
        w.switch_scenario(Scenario::Steady, NOW + 61_000_000);
        w.advance(NOW + 90_000_000);
        assert!(w.jobs[0]
            .checkpoints
            .iter()
            .all(|c| c.finish_time.is_some()));
        assert!(w.jobs[0].checkpoints.last().unwrap().epoch > last_done + 1);
    }
}
