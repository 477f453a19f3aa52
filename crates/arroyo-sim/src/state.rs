//! The simulator's shared, mutable world: pipelines, jobs, checkpoints, metrics sources,
//! fault injection and call counters.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::{Mutex, MutexGuard};
use tokio::sync::watch;

use crate::docgen::{hash, DocSpec, Effect, COLLECTION_INTERVAL_MICROS};
use crate::facts::{job_state_runs, NewestPoint};
use crate::release::Release;
use crate::scenario::Scenario;

/// A graph node of a simulated pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct SimNode {
    /// Numeric node id (v0.11 derives its word id from it, see
    /// [`legacy_operator_id`](crate::release::legacy_operator_id)).
    pub node_id: u32,
    /// Operator kind (`nexmark`, `chained_op`, `blackhole`, ...).
    pub operator: String,
    /// What Arroyo's UI shows.
    pub description: String,
    /// Number of subtasks.
    pub parallelism: u32,
}

impl SimNode {
    /// A node.
    pub fn new(
        node_id: u32,
        operator: impl Into<String>,
        description: impl Into<String>,
        parallelism: u32,
    ) -> SimNode {
        SimNode {
            node_id,
            operator: operator.into(),
            description: description.into(),
            parallelism,
        }
    }
}

/// A simulated pipeline. Nodes are a chain in order: first = source, last = sink.
#[derive(Debug, Clone, PartialEq)]
pub struct SimPipeline {
    /// `pl_...` id.
    pub id: String,
    /// Name.
    pub name: String,
    /// SQL text (shown as `query`).
    pub query: String,
    /// Checkpoint interval in microseconds.
    pub checkpoint_interval_micros: u64,
    /// Creation time (µs since the epoch).
    pub created_at: u64,
    /// Graph nodes, in chain order.
    pub nodes: Vec<SimNode>,
    /// User tags (served on main only).
    pub tags: BTreeMap<String, String>,
}

impl SimPipeline {
    /// A pipeline with a 10 s checkpoint interval, no tags, created at time 0.
    pub fn new(id: impl Into<String>, name: impl Into<String>, nodes: Vec<SimNode>) -> SimPipeline {
        SimPipeline {
            id: id.into(),
            name: name.into(),
            query: String::new(),
            checkpoint_interval_micros: 10_000_000,
            created_at: 0,
            nodes,
            tags: BTreeMap::new(),
        }
    }

    /// `(node_id, parallelism)` pairs for the document generator.
    pub fn doc_nodes(&self) -> Vec<(u32, u32)> {
        self.nodes
            .iter()
            .map(|n| (n.node_id, n.parallelism))
            .collect()
    }
}

/// One checkpoint of a job.
#[derive(Debug, Clone, PartialEq)]
pub struct SimCheckpoint {
    /// Epoch.
    pub epoch: u64,
    /// Start (µs since the epoch).
    pub start_time: u64,
    /// Finish (µs); `None` while in progress.
    pub finish_time: Option<u64>,
    /// `scheduled` or `stopping` (served on main only).
    pub checkpoint_type: String,
}

/// One row of a job's error log (`GET .../jobs/{id}/errors`).
#[derive(Debug, Clone, PartialEq)]
pub struct SimJobError {
    /// Row id (a nanoid-like string in Arroyo).
    pub id: String,
    /// When it was written (µs).
    pub created_at: u64,
    /// Reporting operator (`value_1`), when any.
    pub operator_id: Option<String>,
    /// Reporting subtask, when any.
    pub task_index: Option<u64>,
    /// `error` (Arroyo stores only error-level rows).
    pub level: String,
    /// The message (`Dropping invalid data (3)`, `task failed`, ...).
    pub message: String,
    /// Details text.
    pub details: String,
    /// `user`, `external` or `internal` (served on main only).
    pub error_domain: Option<String>,
}

impl SimJobError {
    /// A non-fatal user error of `operator_id`/`task_index` at `created_at`, as Arroyo
    /// writes one for invalid input (`Dropping invalid data (n)`); `seq` makes the id.
    pub fn invalid_data(seq: u64, created_at: u64, operator_id: &str, task_index: u64) -> Self {
        SimJobError {
            id: format!("jle_{seq:010}"),
            created_at,
            operator_id: Some(operator_id.to_string()),
            task_index: Some(task_index),
            level: "error".to_string(),
            message: format!("Dropping invalid data ({})", 1 + seq % 7),
            details: "Failed to deserialize: expected value at line 1 column 1".to_string(),
            error_domain: Some("user".to_string()),
        }
    }
}

/// Arroyo's build as its admin port's `GET /details` tells it.
#[derive(Debug, Clone, PartialEq)]
pub struct SimAdminDetails {
    /// `service` (the process: `cluster`, `controller`, `api`).
    pub service: String,
    /// `version`.
    pub version: String,
    /// `git_sha`.
    pub git_sha: String,
    /// `build_timestamp`.
    pub build_timestamp: String,
}

impl SimAdminDetails {
    /// What a `cluster` process of `release` answers.
    pub fn for_release(release: Release) -> SimAdminDetails {
        let (version, git_sha) = match release {
            Release::V0_11 => ("0.12.1", "5f2c1e0a9b7d"),
            Release::V0_13 => ("0.14.1", "8e1d44b0c2aa"),
            Release::V0_15 => ("0.15.0", "c0d7e9f31a52"),
            Release::Main => ("0.16.0-dev", "addb390e6c1f"),
        };
        SimAdminDetails {
            service: "cluster".to_string(),
            version: version.to_string(),
            git_sha: git_sha.to_string(),
            build_timestamp: "2026-11-25T09:00:00Z".to_string(),
        }
    }
}

/// Where a job's `JobMetrics` document comes from.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum MetricsSource {
    /// The controller has no metrics for the job: `NOT_FOUND` (REST: `{"data":[]}`).
    #[default]
    None,
    /// A fixed document, served verbatim (e.g. a real capture).
    Raw(Arc<str>),
    /// Generated from the pipeline graph with [`DocSpec`]: values move with time, the
    /// number of points grows from [`SimJob::metrics_since_micros`], and the newest point
    /// is at "now" while the job runs, frozen at `finish_time` after it stops.
    Generated,
}

/// A simulated job.
#[derive(Debug, Clone, PartialEq)]
pub struct SimJob {
    /// `job_...` id; the RPC's `job_id`.
    pub id: String,
    /// Owning pipeline.
    pub pipeline_id: String,
    /// Arroyo state name (`Running`, `Failed`, ...).
    pub state: String,
    /// Whether the user wants it running.
    pub running_desired: bool,
    /// Restart counter.
    pub run_id: u64,
    /// Start of the current run (µs).
    pub start_time: Option<u64>,
    /// Finish (µs).
    pub finish_time: Option<u64>,
    /// Creation (µs).
    pub created_at: u64,
    /// Number of tasks.
    pub tasks: Option<u64>,
    /// Failure text (`failure_message`, or `failure_reason.error` on main).
    pub failure_message: Option<String>,
    /// Failure domain (`failure_reason.domain`, main only).
    pub failure_domain: Option<String>,
    /// Checkpoints, oldest first.
    pub checkpoints: Vec<SimCheckpoint>,
    /// Metrics source.
    pub metrics: MetricsSource,
    /// For generated metrics: when the controller started collecting (µs); `None` = it
    /// has none (`NOT_FOUND`).
    pub metrics_since_micros: Option<u64>,
    /// Seed of generated values.
    pub seed: u64,
    /// Total source messages/s of generated values.
    pub source_rate: f64,
    /// Effects on generated values (set by scenarios, or by tests).
    pub effects: Vec<Effect>,
    /// The job's error log, oldest first (served newest first).
    pub errors: Vec<SimJobError>,
    /// Bytes each stateful subtask adds to its state per checkpoint epoch (the
    /// growing-state scenario); 0 keeps checkpoint sizes constant.
    pub state_growth_bytes: u64,
    /// The epoch from which `state_growth_bytes` applies.
    pub state_growth_since_epoch: u64,
    /// A fixed `operator_checkpoint_groups` answer (e.g. a real capture) for one epoch;
    /// other epochs are generated.
    pub checkpoint_groups_raw: Option<(u64, Arc<str>)>,
}

impl SimJob {
    /// A `Running` job of `pipeline_id` started at `start_time`, with generated metrics
    /// collected since then, `run_id` 1 and a seed derived from the id.
    pub fn running(
        id: impl Into<String>,
        pipeline_id: impl Into<String>,
        start_time: u64,
    ) -> SimJob {
        let id = id.into();
        let seed = hash(&id.bytes().map(u64::from).collect::<Vec<_>>());
        SimJob {
            id,
            pipeline_id: pipeline_id.into(),
            state: "Running".to_string(),
            running_desired: true,
            run_id: 1,
            start_time: Some(start_time),
            finish_time: None,
            created_at: start_time / 1_000_000 * 1_000_000,
            tasks: None,
            failure_message: None,
            failure_domain: None,
            checkpoints: Vec::new(),
            metrics: MetricsSource::Generated,
            metrics_since_micros: Some(start_time),
            seed,
            source_rate: 1000.0,
            effects: Vec::new(),
            errors: Vec::new(),
            state_growth_bytes: 0,
            state_growth_since_epoch: 0,
            checkpoint_groups_raw: None,
        }
    }
}

/// Faults of the controller's `JobMetrics` RPC (global, or for one job).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RpcFaults {
    /// Wait this long before answering.
    pub delay: Option<Duration>,
    /// Answer with this status instead of a document.
    pub status: Option<(tonic::Code, String)>,
    /// Answer with a truncated (unparseable) document.
    pub malformed: bool,
    /// Pad the document with trailing whitespace to at least this many bytes (still valid
    /// JSON; exceeds a client's decode limit).
    pub oversize_bytes: Option<usize>,
}

impl RpcFaults {
    /// Only a delay.
    pub fn delay(d: Duration) -> RpcFaults {
        RpcFaults {
            delay: Some(d),
            ..Default::default()
        }
    }

    /// Only an error status.
    pub fn status(code: tonic::Code, message: impl Into<String>) -> RpcFaults {
        RpcFaults {
            status: Some((code, message.into())),
            ..Default::default()
        }
    }

    /// `NOT_FOUND` "No metrics for job", as Arroyo says it.
    pub fn not_found() -> RpcFaults {
        RpcFaults::status(tonic::Code::NotFound, "No metrics for job")
    }

    /// Only a malformed document.
    pub fn malformed() -> RpcFaults {
        RpcFaults {
            malformed: true,
            ..Default::default()
        }
    }

    /// Only an oversize document.
    pub fn oversize(bytes: usize) -> RpcFaults {
        RpcFaults {
            oversize_bytes: Some(bytes),
            ..Default::default()
        }
    }
}

/// Faults of the REST API. The API being down (listener closed) is
/// [`SimState::set_api_up`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApiFaults {
    /// Only requests whose path contains this apply the faults (all when `None`).
    pub path_contains: Option<String>,
    /// Wait this long before answering.
    pub delay: Option<Duration>,
    /// Answer with this HTTP status (e.g. 401, 500) and an error body.
    pub status: Option<u16>,
    /// Answer with an HTML page (like a proxy's), with `status` or 200.
    pub html_body: bool,
    /// Answer with truncated JSON.
    pub malformed_json: bool,
    /// Answer with bytes that are not UTF-8 inside the JSON.
    pub invalid_utf8: bool,
}

impl ApiFaults {
    /// Whether a request to `path` is affected.
    pub fn applies_to(&self, path: &str) -> bool {
        self.path_contains
            .as_deref()
            .is_none_or(|p| path.contains(p))
    }

    /// Whether any fault is set.
    pub fn is_active(&self) -> bool {
        self.delay.is_some()
            || self.status.is_some()
            || self.html_body
            || self.malformed_json
            || self.invalid_utf8
    }
}

/// What the controller would answer for a job, before faults.
#[derive(Debug, Clone)]
pub enum DocPlan {
    /// A fixed document.
    Raw(Arc<str>),
    /// A document to generate.
    Spec(Box<DocSpec>),
}

impl DocPlan {
    /// The document text.
    pub fn render(&self) -> String {
        match self {
            DocPlan::Raw(s) => s.to_string(),
            DocPlan::Spec(spec) => spec.render(),
        }
    }

    /// The document text; big generated documents are rendered on a blocking thread.
    /// `None` if that thread failed.
    pub async fn render_async(self) -> Option<String> {
        match &self {
            DocPlan::Spec(spec) if spec.point_count() > 200_000 => {
                tokio::task::spawn_blocking(move || self.render())
                    .await
                    .ok()
            }
            _ => Some(self.render()),
        }
    }
}

/// Everything the simulated Arroyo knows. Reach it through [`SimState::lock`].
#[derive(Debug, Clone)]
pub struct World {
    /// Wire shapes served.
    pub release: Release,
    /// Pipelines, in listing (and pagination) order.
    pub pipelines: Vec<SimPipeline>,
    /// Jobs, in listing order.
    pub jobs: Vec<SimJob>,
    /// RPC faults for every job without its own entry.
    pub rpc_faults: RpcFaults,
    /// RPC faults per job id (replace the global ones for that job).
    pub job_rpc_faults: HashMap<String, RpcFaults>,
    /// REST faults.
    pub api_faults: ApiFaults,
    /// Leader mode: the controller answers `NOT_FOUND` for every job while the REST
    /// bridge still serves the documents.
    pub leader_mode: bool,
    /// When set, REST calls need `Authorization: Bearer <token>` (else 401).
    pub api_token: Option<String>,
    /// Page size of `GET /pipelines` without `limit` (kept small so clients paginate).
    pub default_page_size: usize,
    /// A fixed "now" (µs) instead of the system clock, for deterministic documents.
    pub fixed_now_micros: Option<u64>,
    /// Autopilot: when true, every call first advances the world to "now" (checkpoints
    /// every interval, the active [`Scenario`]). Off by default (tests set state by hand).
    pub live: bool,
    /// Active scenario (used when `live`).
    pub scenario: Scenario,
    /// When the scenario was switched on (µs).
    pub scenario_since_micros: u64,
    /// Job the scenario acts on.
    pub scenario_job: Option<String>,
    /// `run_id` of that job when the scenario started.
    pub scenario_base_run_id: u64,
    /// `JobMetrics` calls per requested job id.
    pub rpc_calls: HashMap<String, u64>,
    /// REST calls per request path (without query).
    pub rest_calls: BTreeMap<String, u64>,
    /// What the admin port's `/details` answers.
    pub admin_details: SimAdminDetails,
    /// Faults of the admin port.
    pub admin_faults: ApiFaults,
    /// When set, the admin port needs `Authorization: Bearer <token>` (else 401).
    pub admin_token: Option<String>,
    /// Calls to the admin port, per path.
    pub admin_calls: BTreeMap<String, u64>,
    /// Error rows written so far (makes row ids).
    pub error_seq: u64,
    /// Until when (µs) the error-burst scenario has written its rows.
    pub errors_written_until: u64,
    /// Calls so far; varies the order of generated documents like a hash map would.
    pub(crate) call_seq: u64,
}

impl World {
    /// An empty world.
    pub fn new(release: Release) -> World {
        World {
            release,
            pipelines: Vec::new(),
            jobs: Vec::new(),
            rpc_faults: RpcFaults::default(),
            job_rpc_faults: HashMap::new(),
            api_faults: ApiFaults::default(),
            leader_mode: false,
            api_token: None,
            default_page_size: 10,
            fixed_now_micros: None,
            live: false,
            scenario: Scenario::Steady,
            scenario_since_micros: 0,
            scenario_job: None,
            scenario_base_run_id: 0,
            rpc_calls: HashMap::new(),
            rest_calls: BTreeMap::new(),
            admin_details: SimAdminDetails::for_release(release),
            admin_faults: ApiFaults::default(),
            admin_token: None,
            admin_calls: BTreeMap::new(),
            error_seq: 0,
            errors_written_until: 0,
            call_seq: 0,
        }
    }

    /// "Now" in µs: the fixed time when set, else the system clock.
    pub fn now_micros(&self) -> u64 {
        self.fixed_now_micros.unwrap_or_else(system_now_micros)
    }

    /// A pipeline by id.
    pub fn pipeline(&self, id: &str) -> Option<&SimPipeline> {
        self.pipelines.iter().find(|p| p.id == id)
    }

    /// A job by id.
    pub fn job(&self, id: &str) -> Option<&SimJob> {
        self.jobs.iter().find(|j| j.id == id)
    }

    /// A job by id, mutable.
    pub fn job_mut(&mut self, id: &str) -> Option<&mut SimJob> {
        self.jobs.iter_mut().find(|j| j.id == id)
    }

    /// The RPC faults that apply to `job_id`.
    pub fn rpc_faults_for(&self, job_id: &str) -> &RpcFaults {
        self.job_rpc_faults.get(job_id).unwrap_or(&self.rpc_faults)
    }

    /// What the controller holds for `job_id` at `now` (ignoring faults and leader
    /// mode); `None` = `NOT_FOUND`.
    pub fn controller_doc(&self, job_id: &str, now: u64) -> Option<DocPlan> {
        self.controller_doc_with_order(job_id, now, None)
    }

    pub(crate) fn controller_doc_with_order(
        &self,
        job_id: &str,
        now: u64,
        order_seed: Option<u64>,
    ) -> Option<DocPlan> {
        let job = self.job(job_id)?;
        match &job.metrics {
            MetricsSource::None => None,
            MetricsSource::Raw(doc) => Some(DocPlan::Raw(doc.clone())),
            MetricsSource::Generated => {
                let since = job.metrics_since_micros?;
                let pipeline = self.pipeline(&job.pipeline_id)?;
                let end = if job_state_runs(&job.state) {
                    now
                } else {
                    job.finish_time.unwrap_or(now).min(now)
                };
                let samples = (end.saturating_sub(since) / COLLECTION_INTERVAL_MICROS) as usize;
                let mut spec =
                    DocSpec::new(self.release, &pipeline.doc_nodes(), samples, end, job.seed);
                spec.source_rate = job.source_rate;
                spec.effects = job.effects.clone();
                if let Some(o) = order_seed {
                    spec.order_seed = o;
                }
                Some(DocPlan::Spec(Box::new(spec)))
            }
        }
    }

    /// Forgets what a controller process held: stopped jobs lose their (frozen) metrics;
    /// running jobs start collecting again from `now`. Called on an RPC restart.
    pub fn controller_restarted(&mut self, now: u64) {
        for job in &mut self.jobs {
            if job_state_runs(&job.state) {
                if job.metrics == MetricsSource::Generated {
                    job.metrics_since_micros = Some(now);
                }
            } else {
                job.metrics_since_micros = None;
                if matches!(job.metrics, MetricsSource::Raw(_)) {
                    job.metrics = MetricsSource::None;
                }
            }
        }
    }
}

pub(crate) fn system_now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

struct Shared {
    world: Mutex<World>,
    rpc_up: watch::Sender<bool>,
    api_up: watch::Sender<bool>,
    admin_up: watch::Sender<bool>,
}

/// Shared handle on the simulator's [`World`]; cheap to clone. Tests mutate it while the
/// servers run.
#[derive(Clone)]
pub struct SimState {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for SimState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimState").finish_non_exhaustive()
    }
}

impl SimState {
    /// A state holding `world`, with both listeners wanted up.
    pub fn new(world: World) -> SimState {
        SimState {
            shared: Arc::new(Shared {
                world: Mutex::new(world),
                rpc_up: watch::Sender::new(true),
                api_up: watch::Sender::new(true),
                admin_up: watch::Sender::new(true),
            }),
        }
    }

    /// Locks the world for reading or mutation. Do not hold it across an `.await`.
    pub fn lock(&self) -> MutexGuard<'_, World> {
        self.shared.world.lock()
    }

    /// Runs `f` on the locked world.
    pub fn update<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        f(&mut self.shared.world.lock())
    }

    /// The release served.
    pub fn release(&self) -> Release {
        self.lock().release
    }

    /// "Now" of the world (µs).
    pub fn now_micros(&self) -> u64 {
        self.lock().now_micros()
    }

    /// Fixes "now" (µs), or returns to the system clock with `None`.
    pub fn set_fixed_now(&self, now: Option<u64>) {
        self.lock().fixed_now_micros = now;
    }

    /// Adds (or replaces, by id) a pipeline.
    pub fn add_pipeline(&self, p: SimPipeline) {
        let mut w = self.lock();
        w.pipelines.retain(|x| x.id != p.id);
        w.pipelines.push(p);
    }

    /// Adds (or replaces, by id) a job; fills `tasks` from the graph when unset.
    pub fn add_job(&self, mut j: SimJob) {
        let mut w = self.lock();
        if j.tasks.is_none() {
            j.tasks = w
                .pipeline(&j.pipeline_id)
                .map(|p| p.nodes.iter().map(|n| n.parallelism as u64).sum());
        }
        w.jobs.retain(|x| x.id != j.id);
        w.jobs.push(j);
    }

    /// Runs `f` on one job; `None` when there is no such job.
    pub fn with_job<R>(&self, job_id: &str, f: impl FnOnce(&mut SimJob) -> R) -> Option<R> {
        self.lock().job_mut(job_id).map(f)
    }

    /// Sets a job's state name; returns false when there is no such job.
    pub fn set_job_state(&self, job_id: &str, state: &str) -> bool {
        self.with_job(job_id, |j| j.state = state.to_string())
            .is_some()
    }

    /// Sets a job's metrics source; returns false when there is no such job.
    pub fn set_job_metrics(&self, job_id: &str, source: MetricsSource) -> bool {
        self.with_job(job_id, |j| j.metrics = source).is_some()
    }

    /// Sets RPC faults for one job (`Some(id)`) or globally (`None`).
    pub fn set_rpc_faults(&self, job_id: Option<&str>, faults: RpcFaults) {
        let mut w = self.lock();
        match job_id {
            Some(id) => {
                w.job_rpc_faults.insert(id.to_string(), faults);
            }
            None => w.rpc_faults = faults,
        }
    }

    /// Sets the REST faults.
    pub fn set_api_faults(&self, faults: ApiFaults) {
        self.lock().api_faults = faults;
    }

    /// Clears every RPC and REST fault (not leader mode, not the listeners).
    pub fn clear_faults(&self) {
        let mut w = self.lock();
        w.rpc_faults = RpcFaults::default();
        w.job_rpc_faults.clear();
        w.api_faults = ApiFaults::default();
    }

    /// Leader mode on or off (see [`World::leader_mode`]).
    pub fn set_leader_mode(&self, on: bool) {
        self.lock().leader_mode = on;
    }

    /// Requires (or stops requiring) a bearer token on the REST API.
    pub fn set_api_token(&self, token: Option<&str>) {
        self.lock().api_token = token.map(str::to_string);
    }

    /// `JobMetrics` calls made for `job_id`.
    pub fn rpc_calls(&self, job_id: &str) -> u64 {
        self.lock().rpc_calls.get(job_id).copied().unwrap_or(0)
    }

    /// `JobMetrics` calls made in total.
    pub fn total_rpc_calls(&self) -> u64 {
        self.lock().rpc_calls.values().sum()
    }

    /// REST calls made to `path` (e.g. `/api/v1/jobs`; without query).
    pub fn rest_calls(&self, path: &str) -> u64 {
        self.lock().rest_calls.get(path).copied().unwrap_or(0)
    }

    /// Every REST path called, with counts.
    pub fn rest_call_counts(&self) -> BTreeMap<String, u64> {
        self.lock().rest_calls.clone()
    }

    /// Zeroes the call counters.
    pub fn reset_counters(&self) {
        let mut w = self.lock();
        w.rpc_calls.clear();
        w.rest_calls.clear();
    }

    /// The newest point of every series the controller would serve for `job_id` now
    /// (for generated metrics; `None` for raw, absent or unknown). Fix "now" with
    /// [`SimState::set_fixed_now`] so the served document matches exactly.
    pub fn expected_newest(&self, job_id: &str) -> Option<Vec<NewestPoint>> {
        let w = self.lock();
        match w.controller_doc(job_id, w.now_micros())? {
            DocPlan::Spec(spec) => Some(spec.newest()),
            DocPlan::Raw(_) => None,
        }
    }

    /// Wants the gRPC listener open (`true`) or closed (`false`). The server follows
    /// asynchronously; [`FakeArroyo::stop_rpc`](crate::FakeArroyo::stop_rpc) waits.
    pub fn set_rpc_up(&self, up: bool) {
        self.shared.rpc_up.send_replace(up);
    }

    /// Wants the REST listener open or closed.
    pub fn set_api_up(&self, up: bool) {
        self.shared.api_up.send_replace(up);
    }

    /// Whether the gRPC listener is wanted open.
    pub fn rpc_wanted_up(&self) -> bool {
        *self.shared.rpc_up.borrow()
    }

    /// The active scenario.
    pub fn scenario(&self) -> Scenario {
        self.lock().scenario
    }

    pub(crate) fn rpc_up_receiver(&self) -> watch::Receiver<bool> {
        self.shared.rpc_up.subscribe()
    }

    pub(crate) fn api_up_receiver(&self) -> watch::Receiver<bool> {
        self.shared.api_up.subscribe()
    }

    pub(crate) fn admin_up_receiver(&self) -> watch::Receiver<bool> {
        self.shared.admin_up.subscribe()
    }

    /// Wants the admin listener open or closed.
    pub fn set_admin_up(&self, up: bool) {
        self.shared.admin_up.send_replace(up);
    }

    /// Sets the admin port's faults.
    pub fn set_admin_faults(&self, faults: ApiFaults) {
        self.lock().admin_faults = faults;
    }

    /// Calls made to the admin port's `path` (e.g. `/details`).
    pub fn admin_calls(&self, path: &str) -> u64 {
        self.lock().admin_calls.get(path).copied().unwrap_or(0)
    }

    /// Appends rows to a job's error log (give them oldest first); returns false when
    /// there is no such job.
    pub fn add_job_errors(&self, job_id: &str, rows: Vec<SimJobError>) -> bool {
        let mut w = self.lock();
        let n = rows.len() as u64;
        let found = w.job_mut(job_id).map(|j| j.errors.extend(rows)).is_some();
        w.error_seq += n;
        found
    }

    /// `n` rows of invalid data dropped by `operator_id` (alternating over `subtasks`
    /// subtasks), one every `every_micros` up to `until` (µs), appended to a job's log.
    pub fn add_error_burst(
        &self,
        job_id: &str,
        operator_id: &str,
        subtasks: u64,
        n: u64,
        until: u64,
        every_micros: u64,
    ) -> bool {
        let first_seq = self.lock().error_seq;
        let rows = (0..n)
            .map(|i| {
                let at = until.saturating_sub((n - 1 - i) * every_micros);
                SimJobError::invalid_data(first_seq + i, at, operator_id, i % subtasks.max(1))
            })
            .collect();
        self.add_job_errors(job_id, rows)
    }
}
