//! Plain data that one scrape produces and the renderer reads.
//!
//! Nothing here knows about Arroyo's wire casing or about exposition formats.

use std::collections::BTreeMap;

use crate::arroyo::error::ErrorKind;

pub mod bottleneck;

/// The five per-subtask series the controller's `JobMetrics` document carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MetricKind {
    /// `messages_recv`: EWMA of messages received per second.
    MessagesRecv,
    /// `messages_sent`: EWMA of messages sent per second.
    MessagesSent,
    /// `bytes_recv`: EWMA of bytes received per second.
    BytesRecv,
    /// `bytes_sent`: EWMA of bytes sent per second.
    BytesSent,
    /// `backpressure`: output-queue fill ratio, 0..1.
    Backpressure,
}

impl MetricKind {
    /// Every kind, in the order the exposition writes the families.
    pub const ALL: [MetricKind; 5] = [
        MetricKind::MessagesRecv,
        MetricKind::MessagesSent,
        MetricKind::BytesRecv,
        MetricKind::BytesSent,
        MetricKind::Backpressure,
    ];

    /// Maps Arroyo's metric group `name` to a kind; `None` for names we do not export.
    pub fn from_wire(name: &str) -> Option<MetricKind> {
        match name {
            "messages_recv" => Some(MetricKind::MessagesRecv),
            "messages_sent" => Some(MetricKind::MessagesSent),
            "bytes_recv" => Some(MetricKind::BytesRecv),
            "bytes_sent" => Some(MetricKind::BytesSent),
            "backpressure" => Some(MetricKind::Backpressure),
            _ => None,
        }
    }

    /// Arroyo's name for this kind (as in the metrics document).
    pub fn wire_name(self) -> &'static str {
        match self {
            MetricKind::MessagesRecv => "messages_recv",
            MetricKind::MessagesSent => "messages_sent",
            MetricKind::BytesRecv => "bytes_recv",
            MetricKind::BytesSent => "bytes_sent",
            MetricKind::Backpressure => "backpressure",
        }
    }

    /// Position in [`MetricKind::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// One point of a series: the controller's sampling instant and value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Microseconds since the Unix epoch.
    pub time_micros: u64,
    /// The value (a per-second rate, or a 0..1 ratio for backpressure).
    pub value: f64,
}

/// The newest point of one (node, subtask, metric) series.
#[derive(Debug, Clone, PartialEq)]
pub struct SubtaskSample {
    /// Graph node id as Arroyo gave it (a number, or a word before v0.13).
    pub node_id: String,
    /// Subtask index, 0..parallelism.
    pub subtask_idx: u32,
    /// Which series.
    pub kind: MetricKind,
    /// The newest point.
    pub point: Point,
}

/// A decoded `JobMetrics` document, newest point per series only.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobMetrics {
    /// One entry per series that had at least one non-null point.
    pub samples: Vec<SubtaskSample>,
    /// Metric groups whose name is not one we export (skipped).
    pub unknown_metric_groups: u64,
    /// Points whose value was `null` (skipped).
    pub null_values: u64,
}

impl JobMetrics {
    /// Newest sampling instant across all series, in microseconds.
    pub fn newest_time_micros(&self) -> Option<u64> {
        self.samples.iter().map(|s| s.point.time_micros).max()
    }
}

/// A graph node of a pipeline, from the REST API.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Operator {
    /// Node id as a string (numbers are written in decimal).
    pub node_id: String,
    /// The operator kind (`nexmark`, `chained_op`, ...).
    pub operator: String,
    /// What Arroyo's UI shows; our `operator_name` label.
    pub description: String,
    /// Number of subtasks.
    pub parallelism: u32,
}

/// A pipeline as the REST API describes it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Pipeline {
    /// `pl_...` id.
    pub id: String,
    /// User-given name.
    pub name: String,
    /// Checkpoint interval in microseconds, when known.
    pub checkpoint_interval_micros: Option<u64>,
    /// Graph nodes keyed by node id.
    pub operators: BTreeMap<String, Operator>,
    /// User tags (Arroyo main only).
    pub tags: BTreeMap<String, String>,
    /// Edges of the graph (`graph.edges`), in the API's order.
    pub edges: Vec<Edge>,
}

/// A directed edge of a pipeline's graph: data flows from `src_node_id` to
/// `dst_node_id`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Edge {
    /// Upstream node id, written as the graph's nodes are (a number or a word).
    pub src_node_id: String,
    /// Downstream node id.
    pub dst_node_id: String,
    /// How records are routed (`Forward`, `Shuffle`, ...; empty when not given).
    pub edge_type: String,
}

/// An operator's place in its graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OperatorRole {
    /// No incoming edge: it reads from outside the pipeline.
    Source,
    /// An incoming edge but no outgoing one: it writes out of the pipeline.
    Sink,
    /// Both incoming and outgoing edges.
    Operator,
}

impl OperatorRole {
    /// The `role` label value: `source`, `sink` or `operator`.
    pub fn as_str(self) -> &'static str {
        match self {
            OperatorRole::Source => "source",
            OperatorRole::Sink => "sink",
            OperatorRole::Operator => "operator",
        }
    }
}

impl Pipeline {
    /// The role of graph node `node_id`, or `None` when the graph does not tell: the node
    /// is not in the graph, or the graph has several nodes and no edges (an API that
    /// left the edges out, not a pipeline of unconnected sources).
    ///
    /// A node with no incoming edge is a source (also when it has no edge at all, as the
    /// single node of a one-node graph); one with incoming but no outgoing edges a sink.
    pub fn role(&self, node_id: &str) -> Option<OperatorRole> {
        if !self.operators.contains_key(node_id) {
            return None;
        }
        if self.edges.is_empty() && self.operators.len() > 1 {
            return None;
        }
        let incoming = self.edges.iter().any(|e| e.dst_node_id == node_id);
        let outgoing = self.edges.iter().any(|e| e.src_node_id == node_id);
        Some(match (incoming, outgoing) {
            (false, _) => OperatorRole::Source,
            (true, false) => OperatorRole::Sink,
            (true, true) => OperatorRole::Operator,
        })
    }
}

/// A job as the REST API describes it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Job {
    /// `job_...` id; also the `job_id` of the RPC.
    pub id: String,
    /// Owning pipeline, when known (main carries it on the job; older releases through
    /// `/pipelines/{id}/jobs`).
    pub pipeline_id: Option<String>,
    /// Arroyo's state name (`Running`, `Stopped`, ...).
    pub state: String,
    /// Whether the user wants the job running.
    pub running_desired: bool,
    /// Restart counter.
    pub run_id: u64,
    /// Start time in microseconds.
    pub start_time_micros: Option<u64>,
    /// Finish time in microseconds.
    pub finish_time_micros: Option<u64>,
    /// Number of tasks.
    pub tasks: Option<u64>,
    /// Failure text (`failure_message` before main, `failure_reason.error` on main).
    pub failure_message: Option<String>,
    /// Failure domain (`failure_reason.domain`, main only).
    pub failure_domain: Option<String>,
}

/// Job states in which a job runs and its metrics are live (docs/arroyo-compat.md, Decisions).
pub const RUNNING_STATES: [&str; 7] = [
    "Running",
    "Rescaling",
    "Recovering",
    "Restarting",
    "CheckpointStopping",
    "Stopping",
    "Finishing",
];

/// Whether series of a job in `state` are exported.
pub fn state_runs(state: &str) -> bool {
    RUNNING_STATES.contains(&state)
}

/// What the metrics source said about one job this scrape.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricsOutcome {
    /// The document was fetched and decoded.
    Ok(JobMetrics),
    /// The source has no metrics for this job right now (`NOT_FOUND`, or an empty REST
    /// bridge answer): no series, not an error.
    NoMetrics,
    /// The fetch or decode failed, with the error kind (`timeout`, `connect`, `decode`,
    /// `too_large`, `grpc_unavailable`, `http_500`, ...).
    Failed(ErrorKind),
    /// Not fetched (the job's state does not run, or it was filtered out).
    Skipped,
}

/// One job as seen by this scrape.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSnapshot {
    /// The job (with only `id` filled for statically configured jobs).
    pub job: Job,
    /// Its pipeline, when the API gave one.
    pub pipeline: Option<std::sync::Arc<Pipeline>>,
    /// The metrics outcome.
    pub metrics: MetricsOutcome,
}

impl JobSnapshot {
    /// `pipeline_id` label value (empty when unknown).
    pub fn pipeline_id(&self) -> &str {
        match (&self.pipeline, &self.job.pipeline_id) {
            (Some(p), _) => &p.id,
            (None, Some(id)) => id,
            (None, None) => "",
        }
    }

    /// `pipeline_name` label value (empty when unknown).
    pub fn pipeline_name(&self) -> &str {
        self.pipeline
            .as_deref()
            .map(|p| p.name.as_str())
            .unwrap_or("")
    }
}

/// Success and duration of one collector this scrape.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectorStatus {
    /// Collector name (`discovery`, `job_metrics`, ...).
    pub name: &'static str,
    /// Whether it fully succeeded.
    pub success: bool,
    /// Wall time it took, in seconds.
    pub duration_seconds: f64,
}

/// One labelled counter value of the exporter's own health series.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorCount {
    /// The upstream (`controller`, `api`).
    pub source: &'static str,
    /// The error kind.
    pub kind: &'static str,
    /// Errors since start.
    pub count: u64,
}

/// The exporter's own series, as plain values.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExporterStats {
    /// Crate version.
    pub version: String,
    /// Git revision the binary was built from (`unknown` when not known).
    pub revision: String,
    /// Scrapes served since start (including this one).
    pub scrapes_total: u64,
    /// Upstream errors since start, by source and kind.
    pub upstream_errors: Vec<ErrorCount>,
    /// Metric groups with unknown names skipped since start.
    pub unknown_metric_groups_total: u64,
    /// Null values skipped since start.
    pub null_values_total: u64,
    /// Series dropped because their newest point was older than the maximum age.
    pub stale_series_dropped_total: u64,
    /// Upstream calls made since start, by source.
    pub upstream_requests: Vec<(&'static str, u64)>,
    /// Process start time, seconds since the epoch.
    pub start_time_seconds: f64,
    /// Resident memory in bytes, when readable.
    pub resident_memory_bytes: Option<u64>,
    /// CPU seconds used, when readable.
    pub cpu_seconds_total: Option<f64>,
    /// Open file descriptors, when readable.
    pub open_fds: Option<u64>,
    /// The per-cluster counters of every named target, by target name (only their
    /// counter fields are written, with a `target` label); empty on `/probe`.
    pub targets: Vec<(String, ExporterStats)>,
    /// The outcome of the last configuration reload, when reloading is possible.
    pub reload: Option<ReloadStatus>,
}

/// The outcome of the last configuration reload.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ReloadStatus {
    /// Whether the last reload (or the start-up load) succeeded.
    pub successful: bool,
    /// When the configuration was last loaded successfully, seconds since the epoch.
    pub success_timestamp_seconds: f64,
}

/// Which families a rendering writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope {
    /// `/metrics` with the top-level cluster: its series and the exporter's own.
    #[default]
    Full,
    /// `/probe`: one cluster's series and its collector families, nothing process-wide.
    Probe,
    /// `/metrics` without a top-level cluster: the exporter's own families only.
    OwnOnly,
}

/// Everything one scrape produced; the renderer's only input.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Snapshot {
    /// 1 when the metrics source (controller, or REST bridge) answered this scrape.
    pub up: bool,
    /// Every discovered job (including ones whose metrics were skipped).
    pub jobs: Vec<JobSnapshot>,
    /// Collectors that ran.
    pub collectors: Vec<CollectorStatus>,
    /// Whether per-subtask series are written (operator-level only when false).
    pub subtask_series: bool,
    /// Whether the job families (state, run id, ...) are written for API-known jobs.
    pub job_families: bool,
    /// Whether the pipeline and operator topology families are written.
    pub topology: bool,
    /// Pipeline tags allow-listed as labels of `arroyo_pipeline_info`.
    pub pipeline_tags: Vec<String>,
    /// Checkpoint summaries by job id (jobs the checkpoints collector covered).
    pub checkpoints: BTreeMap<String, CheckpointSummary>,
    /// The exporter's own series.
    pub exporter: ExporterStats,
    /// Backpressure at or above which an operator counts as backpressured when
    /// `arroyo_operator_bottleneck` is computed.
    pub bottleneck_threshold: bottleneck::Threshold,
    /// Newest completed checkpoint's details by job id (`checkpoint_details` collector).
    pub checkpoint_details: BTreeMap<String, std::sync::Arc<CheckpointDetails>>,
    /// Error rows counted by job id (`job_errors` collector).
    pub job_errors: BTreeMap<String, JobErrorCounts>,
    /// Arroyo's build (`admin` collector), when known.
    pub arroyo_build: Option<ArroyoBuild>,
    /// Which families are written.
    pub scope: Scope,
    /// When the budgeted collectors last read each job, and the refresh periods their
    /// budgets imply.
    pub freshness: Freshness,
}

/// How old what the budgeted collectors (checkpoints, checkpoint details, job errors,
/// admin) know is: they read a few jobs per scrape and keep the last answer of the
/// others, so every value they export comes with when it was read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Freshness {
    /// Per job id: when each collector last read the job, seconds since the epoch.
    pub jobs: BTreeMap<String, JobReads>,
    /// Per collector: `(collector, calls per second allowed, refresh period in
    /// seconds)`, the period being how long the budget takes to read every job it
    /// covers once.
    pub budgets: Vec<(&'static str, f64, f64)>,
    /// When the admin port was last read, seconds since the epoch.
    pub admin_read_seconds: Option<f64>,
}

/// When the budgeted collectors last read one job, seconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct JobReads {
    /// Its checkpoint list.
    pub checkpoints: Option<f64>,
    /// The details of its newest checkpoint.
    pub checkpoint_details: Option<f64>,
    /// Its error log.
    pub job_errors: Option<f64>,
}

impl JobReads {
    /// `(collector label, read time)` of the reads made.
    pub fn each(&self) -> impl Iterator<Item = (&'static str, f64)> {
        [
            ("checkpoints", self.checkpoints),
            ("checkpoint_details", self.checkpoint_details),
            ("job_errors", self.job_errors),
        ]
        .into_iter()
        .filter_map(|(c, t)| t.map(|t| (c, t)))
    }
}

/// What the exporter reports about a job's checkpoints.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CheckpointSummary {
    /// Epoch of the newest completed checkpoint.
    pub last_epoch: Option<u64>,
    /// When it completed, seconds since the epoch.
    pub last_completed_seconds: Option<f64>,
    /// How long it took, in seconds.
    pub last_duration_seconds: Option<f64>,
    /// Age of a checkpoint in progress when the list was read, in seconds (0 when none).
    pub in_progress_seconds: f64,
}

impl CheckpointSummary {
    /// Summarises `checkpoints` as read at `now_micros`.
    pub fn from_checkpoints(checkpoints: &[Checkpoint], now_micros: u64) -> CheckpointSummary {
        let last = checkpoints
            .iter()
            .filter(|c| c.finish_time_micros.is_some())
            .max_by_key(|c| c.epoch);
        let in_progress = checkpoints
            .iter()
            .filter(|c| c.finish_time_micros.is_none())
            .filter(|c| last.is_none_or(|l| c.epoch > l.epoch))
            .map(|c| c.start_time_micros)
            .min();
        CheckpointSummary {
            last_epoch: last.map(|c| c.epoch),
            last_completed_seconds: last
                .and_then(|c| c.finish_time_micros)
                .map(|t| t as f64 / 1e6),
            last_duration_seconds: last.and_then(|c| {
                c.finish_time_micros
                    .map(|f| f.saturating_sub(c.start_time_micros) as f64 / 1e6)
            }),
            in_progress_seconds: in_progress
                .map(|start| now_micros.saturating_sub(start) as f64 / 1e6)
                .unwrap_or(0.0),
        }
    }
}

/// Every job state name Arroyo has (docs/arroyo-compat.md); unknown states pass through as well.
pub const JOB_STATES: [&str; 14] = [
    "Created",
    "Compiling",
    "Scheduling",
    "Running",
    "CheckpointStopping",
    "Recovering",
    "Rescaling",
    "Restarting",
    "Stopping",
    "Stopped",
    "Finishing",
    "Finished",
    "Failing",
    "Failed",
];

/// One checkpoint of a job, from the REST API.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Checkpoint {
    /// Checkpoint epoch.
    pub epoch: u64,
    /// Start time in microseconds.
    pub start_time_micros: u64,
    /// Finish time in microseconds; `None` while in progress.
    pub finish_time_micros: Option<u64>,
    /// `scheduled` / `stopping` (main only).
    pub checkpoint_type: Option<String>,
}

// ---------------------------------------------------------------------------------------
// Checkpoint details, job errors and Arroyo's version (issue 11, parts 3-5)
// ---------------------------------------------------------------------------------------

/// A phase of one operator's part of a checkpoint (Arroyo's event spans).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CheckpointPhase {
    /// Waiting for the barrier on every input (`Alignment`).
    Alignment,
    /// The synchronous part: the operator is paused (`Sync`).
    Sync,
    /// The asynchronous upload of the state (`Async`).
    Async,
    /// Committing (two-phase sinks, `Committing`).
    Committing,
}

impl CheckpointPhase {
    /// Every phase, in the order a checkpoint goes through them.
    pub const ALL: [CheckpointPhase; 4] = [
        CheckpointPhase::Alignment,
        CheckpointPhase::Sync,
        CheckpointPhase::Async,
        CheckpointPhase::Committing,
    ];

    /// Reads Arroyo's span name (`Alignment` on main and v0.15, `alignment` as v0.14's
    /// `spanType`); `None` for a name we do not know.
    pub fn from_wire(name: &str) -> Option<CheckpointPhase> {
        CheckpointPhase::ALL
            .into_iter()
            .find(|p| p.label().eq_ignore_ascii_case(name))
    }

    /// The `phase` label value.
    pub fn label(self) -> &'static str {
        match self {
            CheckpointPhase::Alignment => "alignment",
            CheckpointPhase::Sync => "sync",
            CheckpointPhase::Async => "async",
            CheckpointPhase::Committing => "committing",
        }
    }
}

/// One (chained) operator's part of a checkpoint.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OperatorCheckpoint {
    /// Arroyo's operator id (`value_1`, `tumbling_4`): not a graph node id.
    pub operator_id: String,
    /// Bytes the operator wrote.
    pub bytes: u64,
    /// Longest span of each phase over the operator's subtasks, in seconds.
    pub phase_seconds: BTreeMap<CheckpointPhase, f64>,
}

/// What one checkpoint's `operator_checkpoint_groups` says, for one job.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CheckpointDetails {
    /// The checkpoint's epoch.
    pub epoch: u64,
    /// Per operator, in Arroyo's order.
    pub operators: Vec<OperatorCheckpoint>,
}

impl CheckpointDetails {
    /// The checkpoint's size: the sum of the operators' bytes.
    pub fn total_bytes(&self) -> u64 {
        self.operators
            .iter()
            .fold(0u64, |sum, o| sum.saturating_add(o.bytes))
    }
}

/// The graph node that holds the chained operator `operator_id`, among `node_ids`.
///
/// An operator id equal to a node id is that node (releases whose node ids are words).
/// Otherwise the number after the id's last `_` is the operator's index in the plan, and
/// a node holds the operators from its own (numeric) id up to the next node's: the
/// answer is the largest numeric node id not above the index. `None` when the id has no
/// number, or the number is below every numeric node id.
pub fn node_of_operator<'a>(
    operator_id: &str,
    node_ids: impl IntoIterator<Item = &'a str> + Clone,
) -> Option<&'a str> {
    if let Some(same) = node_ids.clone().into_iter().find(|n| *n == operator_id) {
        return Some(same);
    }
    let (_, tail) = operator_id.rsplit_once('_')?;
    if tail.is_empty() || !tail.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let index: u64 = tail.parse().ok()?;
    node_ids
        .into_iter()
        .filter_map(|n| {
            let numeric = !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit());
            numeric
                .then(|| n.parse::<u64>().ok().map(|v| (v, n)))
                .flatten()
        })
        .filter(|(v, _)| *v <= index)
        .max_by_key(|(v, _)| *v)
        .map(|(_, n)| n)
}

/// One row of a job's error log (`/jobs/{id}/errors`); the message stays out of labels.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JobErrorRow {
    /// Arroyo's row id (absent in some older releases).
    pub id: Option<String>,
    /// When the row was written, µs since the epoch.
    pub created_at_micros: u64,
    /// The operator that reported it, when given.
    pub operator_id: Option<String>,
    /// The subtask, when given.
    pub task_index: Option<u64>,
    /// `error`, `warn` or `info` as Arroyo writes it (lower case).
    pub level: String,
    /// The message (logged at debug, cut; never a label).
    pub message: String,
    /// `user`, `external` or `internal` (Arroyo main); `None` before.
    pub error_domain: Option<String>,
}

/// One page of a job's error log, newest first.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JobErrorPage {
    /// The rows, newest first.
    pub rows: Vec<JobErrorRow>,
    /// Whether older rows follow (ask again with `starting_after=<last id>`).
    pub has_more: bool,
}

/// Error rows counted for one job since the exporter first saw it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JobErrorCounts {
    /// Rows by (`error_domain`, `operator_id`); `unknown` domain before Arroyo main,
    /// empty operator id when the row named none.
    pub counts: BTreeMap<(String, String), u64>,
    /// Creation time of the newest row seen, seconds since the epoch.
    pub last_error_seconds: Option<f64>,
}

/// Arroyo's build, from the admin port's `GET /details`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ArroyoBuild {
    /// The service that answered (`controller`, `api`, `cluster`, ...).
    pub service: String,
    /// Arroyo's version (`0.15.0`).
    pub version: String,
    /// The git revision Arroyo was built from.
    pub git_sha: String,
}
