//! A fleet: thousands of small running jobs, as a platform team runs them, built in one
//! pass, with checkpoints that complete in real time without the autopilot.
//!
//! The autopilot ([`World::live`]) advances every job on every call, which is fine for a
//! demo of a few pipelines and far too slow for a world of 5,000 jobs answering 10,000
//! calls per scrape. A fleet instead moves its checkpoints from a clock task
//! ([`spawn_checkpoint_clock`], or [`SimState::tick_checkpoints`] by hand) once per
//! period, and touches nothing else: scenarios, effects and error logs stay as they are.
//!
//! Each job of a fleet has its own pipeline of two operators (a source and a sink, each of
//! parallelism 1 or 2), runs, checkpoints every [`FleetSpec::checkpoint_interval_micros`]
//! (each job at its own phase, so they do not all complete at once) and keeps its newest
//! [`CHECKPOINTS_KEPT`] checkpoints, like the autopilot does.

use std::time::Duration;

use crate::autopilot::CHECKPOINTS_KEPT;
use crate::docgen::hash;
use crate::state::{SimCheckpoint, SimJob, SimNode, SimPipeline, SimState, World};

/// What a fleet looks like.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetSpec {
    /// Number of jobs (one pipeline each).
    pub jobs: usize,
    /// Checkpoint interval of every pipeline (µs).
    pub checkpoint_interval_micros: u64,
    /// How long before "now" every job started (µs): long enough for a full metrics
    /// window (150 points of 2 s) by default.
    pub running_for_micros: u64,
}

impl FleetSpec {
    /// `jobs` jobs, checkpointing every 10 s, running for 6 hours.
    pub fn new(jobs: usize) -> FleetSpec {
        FleetSpec {
            jobs,
            checkpoint_interval_micros: 10_000_000,
            running_for_micros: 6 * 3600 * 1_000_000,
        }
    }

    /// Id of the fleet's `i`-th job.
    pub fn job_id(i: usize) -> String {
        format!("job_fleet{i:06}")
    }

    /// Id of the fleet's `i`-th pipeline.
    pub fn pipeline_id(i: usize) -> String {
        format!("pl_fleet{i:06}")
    }

    /// Parallelism of the `i`-th job's source and sink: every combination of 1 and 2.
    pub fn parallelism(i: usize) -> (u32, u32) {
        (1 + (i % 2) as u32, 1 + ((i / 2) % 2) as u32)
    }

    /// Subtasks of the whole fleet (the number of `arroyo_subtask_*` series per family).
    pub fn subtasks(&self) -> u64 {
        (0..self.jobs)
            .map(|i| {
                let (a, b) = FleetSpec::parallelism(i);
                u64::from(a + b)
            })
            .sum()
    }

    /// The `i`-th pipeline: a Kafka source and a Kafka sink.
    fn pipeline(&self, i: usize, created_at: u64) -> SimPipeline {
        let (source, sink) = FleetSpec::parallelism(i);
        let mut p = SimPipeline::new(
            FleetSpec::pipeline_id(i),
            format!("team_pipeline_{i:06}"),
            vec![
                SimNode::new(
                    0,
                    "kafka_source",
                    format!("KafkaSource<events_{i}>"),
                    source,
                ),
                SimNode::new(1, "kafka_sink", format!("KafkaSink<out_{i}>"), sink),
            ],
        );
        p.checkpoint_interval_micros = self.checkpoint_interval_micros;
        p.created_at = created_at;
        p.query = format!("INSERT INTO out_{i} SELECT * FROM events_{i};");
        p
    }

    /// The `i`-th job, running since `start` with its checkpoints up to `now`.
    fn job(&self, i: usize, start: u64, now: u64) -> SimJob {
        let mut job = SimJob::running(FleetSpec::job_id(i), FleetSpec::pipeline_id(i), start);
        let (source, sink) = FleetSpec::parallelism(i);
        job.tasks = Some(u64::from(source + sink));
        complete_checkpoints(&mut job, self.checkpoint_interval_micros, now);
        job
    }
}

/// The start of a fleet job's checkpoints: a phase within one interval after its start,
/// from the job's seed.
fn first_checkpoint(job: &SimJob, interval: u64) -> u64 {
    job.start_time.unwrap_or(0) + interval + job.seed % interval.max(1)
}

/// Appends the checkpoints of `job` due by `now` (each takes 250–370 ms) and keeps the
/// newest [`CHECKPOINTS_KEPT`]. Only the epochs not listed yet are made.
fn complete_checkpoints(job: &mut SimJob, interval: u64, now: u64) {
    let interval = interval.max(1_000_000);
    let first = first_checkpoint(job, interval);
    let (mut epoch, mut start) = match job.checkpoints.last() {
        Some(c) => (c.epoch + 1, c.start_time + interval),
        None => {
            // Skip straight to the epochs that will be kept.
            let due = now.saturating_sub(first) / interval + 1;
            let skip = due.saturating_sub(CHECKPOINTS_KEPT as u64);
            (1 + skip, first + skip * interval)
        }
    };
    loop {
        let duration = 250_000 + hash(&[job.seed, epoch]) % 120_000;
        if start + duration > now {
            break;
        }
        job.checkpoints.push(SimCheckpoint {
            epoch,
            start_time: start,
            finish_time: Some(start + duration),
            checkpoint_type: "scheduled".to_string(),
        });
        epoch += 1;
        start += interval;
    }
    if job.checkpoints.len() > CHECKPOINTS_KEPT {
        let cut = job.checkpoints.len() - CHECKPOINTS_KEPT;
        job.checkpoints.drain(..cut);
    }
}

impl World {
    /// Adds a fleet's pipelines and jobs (see [`FleetSpec`]), started
    /// `spec.running_for_micros` before `now`, with their checkpoints up to `now`.
    /// Ids are `pl_fleet000000`…, `job_fleet000000`…; existing entries are kept.
    pub fn add_fleet(&mut self, spec: &FleetSpec, now: u64) {
        let start = now.saturating_sub(spec.running_for_micros);
        self.pipelines.reserve(spec.jobs);
        self.jobs.reserve(spec.jobs);
        for i in 0..spec.jobs {
            self.pipelines.push(spec.pipeline(i, start));
            self.jobs.push(spec.job(i, start, now));
        }
    }

    /// Completes the checkpoints due by `now` of every `Running` job whose pipeline
    /// has a checkpoint interval; nothing else moves. Returns the checkpoints added.
    pub fn tick_checkpoints(&mut self, now: u64) -> usize {
        let intervals: std::collections::HashMap<&str, u64> = self
            .pipelines
            .iter()
            .map(|p| (p.id.as_str(), p.checkpoint_interval_micros))
            .collect();
        let mut added = 0;
        for job in &mut self.jobs {
            if job.state != "Running" {
                continue;
            }
            let Some(&interval) = intervals.get(job.pipeline_id.as_str()) else {
                continue;
            };
            let before = job.checkpoints.last().map_or(0, |c| c.epoch);
            complete_checkpoints(job, interval, now);
            added += job.checkpoints.last().map_or(0, |c| c.epoch) - before;
        }
        added as usize
    }
}

impl SimState {
    /// [`World::add_fleet`] at the world's "now".
    pub fn add_fleet(&self, spec: &FleetSpec) {
        self.update(|w| {
            let now = w.now_micros();
            w.add_fleet(spec, now);
        });
    }

    /// [`World::tick_checkpoints`] at the world's "now".
    pub fn tick_checkpoints(&self) -> usize {
        self.update(|w| {
            let now = w.now_micros();
            w.tick_checkpoints(now)
        })
    }

    /// REST calls made in total (every `/api/v1` path).
    pub fn total_rest_calls(&self) -> u64 {
        self.lock().rest_calls.values().sum()
    }

    /// Calls made to the admin port in total.
    pub fn total_admin_calls(&self) -> u64 {
        self.lock().admin_calls.values().sum()
    }
}

/// Completes checkpoints every `period` ([`SimState::tick_checkpoints`]) until the
/// returned task is aborted or the runtime stops.
pub fn spawn_checkpoint_clock(state: SimState, period: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            state.tick_checkpoints();
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::release::Release;

    #[test]
    fn a_fleet_runs_and_checkpoints_in_real_time() {
        let now = 1_800_000_000_000_000;
        let spec = FleetSpec::new(4);
        let mut w = World::new(Release::Main);
        w.add_fleet(&spec, now);
        assert_eq!(w.jobs.len(), 4);
        assert_eq!(w.pipelines.len(), 4);
        assert_eq!(spec.subtasks(), 2 + 3 + 3 + 4);
        for (i, job) in w.jobs.iter().enumerate() {
            assert_eq!(job.state, "Running");
            let p = w.pipeline(&job.pipeline_id).expect("its pipeline");
            assert_eq!(p.nodes.len(), 2);
            assert_eq!(job.tasks, Some(spec.subtasks_of(i)));
            assert_eq!(job.checkpoints.len(), CHECKPOINTS_KEPT);
            let last = job.checkpoints.last().unwrap();
            // The newest completed checkpoint started within the last interval (plus
            // its duration) and finished before now.
            assert!(now - last.start_time < spec.checkpoint_interval_micros + 400_000);
            assert!(last.finish_time.unwrap() <= now);
            let epochs: Vec<u64> = job.checkpoints.iter().map(|c| c.epoch).collect();
            assert!(epochs.windows(2).all(|e| e[1] == e[0] + 1));
        }
        // Nothing is due at the same instant; one interval later, one more each.
        assert_eq!(w.tick_checkpoints(now), 0);
        let before: Vec<u64> = w.jobs.iter().map(|j| j.checkpoints[11].epoch).collect();
        assert_eq!(w.tick_checkpoints(now + 10_000_000), 4);
        for (job, old) in w.jobs.iter().zip(before) {
            assert_eq!(job.checkpoints.last().unwrap().epoch, old + 1);
            assert_eq!(job.checkpoints.len(), CHECKPOINTS_KEPT);
        }
        // A job that stopped does not checkpoint.
        w.jobs[0].state = "Stopped".to_string();
        assert_eq!(w.tick_checkpoints(now + 20_000_000), 3);
    }

    impl FleetSpec {
        fn subtasks_of(&self, i: usize) -> u64 {
            let (a, b) = FleetSpec::parallelism(i);
            u64::from(a + b)
        }
    }
}
