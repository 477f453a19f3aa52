//! arroyo-sim: a SIMULATED Arroyo, for the exporter's tests, benchmarks and demos.
//! **This is not Arroyo** and talks to no Arroyo: it imitates, on real sockets, the parts
//! of Arroyo that arroyo-exporter reads.
//!
//! What it simulates comes from the wire facts written down in docs/arroyo-compat.md
//! (Arroyo's public source at v0.11 … v0.15 and main, and captures of a real Arroyo, kept
//! in the repository's `tests/fixtures`): the controller's `JobMetrics` RPC of both
//! service generations, the JSON document it carries, the REST API of each release, the
//! job states and which of them run. The simulator implements that behaviour **on its
//! own** and must never depend on the `arroyo-exporter` crate (nor the exporter on it,
//! except as a dev-dependency): its list of states that run ([`facts`]), its metric
//! names and point types ([`MetricName`], [`Point`], [`NewestPoint`]) and its protobuf
//! code ([`pb`], from its own `proto/`) are its own, so where the exporter gets Arroyo
//! wrong the end-to-end tests disagree instead of sharing the mistake.
//!
//! Modules, in order: each imports only modules above it (checked by a test), so there
//! are no cycles.
//!
//! ```text
//! module     imports                                   what it is
//! facts      -                                         states that run, metric names, points
//! release    -                                         wire shapes per release
//! scenario   -                                         scenario names
//! net        -                                         listeners that close and reopen
//! pb         -                                         gRPC stubs from the sim's own proto/
//! docgen     facts release                             generated JobMetrics documents
//! state      facts release scenario docgen             the World and its SimState handle
//! details    docgen release state                      checkpoint details, error log pages
//! autopilot  release scenario docgen state details     scenarios acting over time; demo_world
//! fleet      autopilot docgen state                    thousands of small jobs, checkpoint clock
//! fixtures   release state                             a World from the real captures
//! grpc       pb docgen state                           the controller's JobMetrics
//! api        facts release scenario details docgen     REST API, /sim endpoints, admin port
//!            state grpc
//! lib.rs     all                                       FakeArroyo: the three servers
//! ```
//!
//! [`FakeArroyo`] runs three real servers on 127.0.0.1 (port 0 = ephemeral, or given):
//!
//! * the controller's gRPC `JobMetrics`, on `ControllerGrpc` for v0.11..v0.15 and on
//!   `JobControllerGrpc` for main; the other service answers `UNIMPLEMENTED` as tonic does
//!   for any unknown service. Responses are zstd-compressed when the client accepts it,
//!   zstd requests are accepted, and message limits are raised for big documents.
//! * the REST API under `/api/v1` (pipelines paginated with `limit`/`starting_after` and
//!   `hasMore`, one pipeline, a pipeline's jobs, all jobs, checkpoints, and the
//!   `operator_metric_groups` bridge), shaped like the chosen [`Release`] (camelCase up to
//!   v0.14, v0.11's word node ids, v0.15's `failure_message`, main's `pipeline_id`,
//!   `failure_reason` and `tags`), with an optional bearer token; also each checkpoint's
//!   `operator_checkpoint_groups` (per chained operator, see `details`) and each job's
//!   error log (`errors`, newest first, paginated). Plus the simulator's own
//!   `GET /sim/scenario` and `POST /sim/scenario/{name}`.
//! * the admin port: `GET /details` (Arroyo's build, [`SimAdminDetails`]) and `/status`,
//!   with its own faults and optional bearer token.
//!
//! Everything they serve comes from a shared, mutable [`World`] behind [`SimState`]:
//! pipelines, jobs, checkpoints, a metrics source per job (a fixed document such as a
//! real capture, or one generated from the graph by [`DocSpec`] with values that move with
//! time), fault injection ([`RpcFaults`] per job or global, [`ApiFaults`], listeners
//! closed with [`SimState::set_rpc_up`]/[`SimState::set_api_up`], leader mode) and call
//! counters (per job for the RPC, per path for REST) for singleflight assertions.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use arroyo_sim::{FakeArroyo, Release, RpcFaults, SimJob, SimNode, SimPipeline};
//! let arroyo = FakeArroyo::start(Release::Main).await?;
//! let state = arroyo.state();
//! state.set_fixed_now(Some(1_795_608_672_000_000));
//! state.add_pipeline(SimPipeline::new("pl_0000000001", "demo", vec![
//!     SimNode::new(0, "nexmark", "Nexmark<200 eps>", 2),
//!     SimNode::new(3, "blackhole", "Blackhole", 2),
//! ]));
//! state.add_job(SimJob::running("job_0000000001", "pl_0000000001", 1_795_608_000_000_000));
//! let expected = state.expected_newest("job_0000000001"); // exact values to assert
//! state.set_rpc_faults(Some("job_0000000001"), RpcFaults::delay(std::time::Duration::from_secs(5)));
//! println!("{} {}", arroyo.rpc_url(), arroyo.api_url());
//! arroyo.restart_rpc().await?; // a controller restart, same port
//! # Ok(()) }
//! ```
//!
//! With the autopilot ([`World::live`], on in [`demo_world`]) every call first advances
//! the world to "now": checkpoints complete every checkpoint interval and the active
//! [`Scenario`] acts on the first job (throughput drop, backpressure, skew, failure,
//! restart loop, stalled checkpoints, controller down).
//!
//! The binary `arroyo-exporter-sim` serves a [`demo_world`] on Arroyo's default ports:
//!
//! ```text
//! arroyo-exporter-sim --arroyo-release main --pipelines 4 --parallelism 2 --scenario steady
//! curl -XPOST localhost:5115/sim/scenario/backpressure
//! curl localhost:5115/sim/scenario
//! ```

mod api;
mod autopilot;
mod details;
mod docgen;
pub mod facts;
mod fixtures;
mod fleet;
mod grpc;
mod net;
mod release;
mod scenario;
mod state;

/// Code generated from the simulator's own `proto/arroyo_rpc.proto` (package
/// `arroyo_rpc`): messages, the servers the simulated controller mounts
/// (`controller_grpc_server`, `job_controller_grpc_server`) and clients
/// (`controller_grpc_client`, `job_controller_grpc_client`). Public so the exporter's
/// tests can build a hand-written controller (e.g. one behind mutual TLS) without the
/// exporter generating server code.
pub mod pb {
    tonic::include_proto!("arroyo_rpc");
}

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

pub use autopilot::{
    demo_world, sim_id, CHECKPOINTS_KEPT, RESTARTING_MICROS, RESTART_PERIOD_MICROS,
};
pub use details::{
    checkpoint_groups, expected_by_node, plan_operators, SimOperatorCheckpoint,
    SimSubtaskCheckpoint,
};
pub use docgen::{
    expected_newest, generate_metrics_document, DocSpec, Effect, COLLECTION_INTERVAL_MICROS,
    MAX_POINTS,
};
pub use facts::{MetricName, NewestPoint, Point};
pub use fixtures::fixture_world;
pub use fleet::{spawn_checkpoint_clock, FleetSpec};
pub use release::{legacy_operator_id, wire_node_id, Release};
pub use scenario::{bottleneck_position, Scenario, BOTTLENECK_MOVE_PERIOD_MICROS};
pub use state::{
    ApiFaults, DocPlan, MetricsSource, RpcFaults, SimAdminDetails, SimCheckpoint, SimJob,
    SimJobError, SimNode, SimPipeline, SimState, World,
};

use net::Supervised;

/// How long stop/restart calls wait for a listener to follow.
const LISTENER_WAIT: Duration = Duration::from_secs(10);

/// Options of a [`FakeArroyo`] before it starts.
#[derive(Debug, Clone)]
pub struct FakeArroyoBuilder {
    world: World,
    rpc_addr: SocketAddr,
    api_addr: SocketAddr,
    admin_addr: SocketAddr,
}

impl FakeArroyoBuilder {
    /// Admin port listen address (default `127.0.0.1:0`).
    pub fn admin_addr(mut self, addr: SocketAddr) -> Self {
        self.admin_addr = addr;
        self
    }

    /// gRPC listen address (default `127.0.0.1:0`).
    pub fn rpc_addr(mut self, addr: SocketAddr) -> Self {
        self.rpc_addr = addr;
        self
    }

    /// REST listen address (default `127.0.0.1:0`).
    pub fn api_addr(mut self, addr: SocketAddr) -> Self {
        self.api_addr = addr;
        self
    }

    /// Requires `Authorization: Bearer <token>` on the REST API.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.world.api_token = Some(token.into());
        self
    }

    /// Starts from this world (its release wins; a token set before is kept when the
    /// world has none).
    pub fn world(mut self, mut world: World) -> Self {
        if world.api_token.is_none() {
            world.api_token = self.world.api_token.take();
        }
        self.world = world;
        self
    }

    /// Binds both listeners and starts serving.
    pub async fn start(self) -> io::Result<FakeArroyo> {
        let state = SimState::new(self.world);
        let rpc = Supervised::start(
            self.rpc_addr,
            grpc::router(state.clone()),
            state.rpc_up_receiver(),
        )?;
        let api = Supervised::start(
            self.api_addr,
            api::router(state.clone()),
            state.api_up_receiver(),
        )?;
        let admin = Supervised::start(
            self.admin_addr,
            api::admin_router(state.clone()),
            state.admin_up_receiver(),
        )?;
        Ok(FakeArroyo {
            state,
            rpc,
            api,
            admin,
        })
    }
}

/// A running simulated Arroyo (controller gRPC + REST API). Dropping it stops both
/// servers and kills their connections.
#[derive(Debug)]
pub struct FakeArroyo {
    state: SimState,
    rpc: Supervised,
    api: Supervised,
    admin: Supervised,
}

impl FakeArroyo {
    /// Starts an empty world of `release` on ephemeral ports.
    pub async fn start(release: Release) -> io::Result<FakeArroyo> {
        FakeArroyo::builder(release).start().await
    }

    /// Options: fixed ports, token, a prepared world.
    pub fn builder(release: Release) -> FakeArroyoBuilder {
        let local: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 0));
        FakeArroyoBuilder {
            world: World::new(release),
            rpc_addr: local,
            api_addr: local,
            admin_addr: local,
        }
    }

    /// The shared state, to read and mutate while serving.
    pub fn state(&self) -> &SimState {
        &self.state
    }

    /// The release served.
    pub fn release(&self) -> Release {
        self.state.release()
    }

    /// gRPC address.
    pub fn rpc_addr(&self) -> SocketAddr {
        self.rpc.addr
    }

    /// REST address.
    pub fn api_addr(&self) -> SocketAddr {
        self.api.addr
    }

    /// `http://127.0.0.1:PORT` of the gRPC server.
    pub fn rpc_url(&self) -> String {
        format!("http://{}", self.rpc.addr)
    }

    /// `http://127.0.0.1:PORT` of the REST API (without `/api/v1`).
    pub fn api_url(&self) -> String {
        format!("http://{}", self.api.addr)
    }

    /// `http://127.0.0.1:PORT` of the admin port (`/details`, `/status`).
    pub fn admin_url(&self) -> String {
        format!("http://{}", self.admin.addr)
    }

    /// Closes the admin listener and kills its connections.
    pub async fn stop_admin(&self) {
        self.state.set_admin_up(false);
        let _ = self.admin.wait_running(false, LISTENER_WAIT).await;
    }

    /// Opens the admin listener again on the same port.
    pub async fn restart_admin(&self) -> io::Result<()> {
        self.state.set_admin_up(true);
        self.admin.wait_running(true, LISTENER_WAIT).await
    }

    /// Closes the gRPC listener and kills its connections (a controller that died).
    pub async fn stop_rpc(&self) {
        self.state.set_rpc_up(false);
        let _ = self.rpc.wait_running(false, LISTENER_WAIT).await;
    }

    /// Restarts the controller on the same port: closes the listener if open, forgets
    /// stopped jobs' metrics and restarts collection of running ones
    /// ([`World::controller_restarted`]), and listens again.
    pub async fn restart_rpc(&self) -> io::Result<()> {
        self.stop_rpc().await;
        self.state.update(|w| {
            let now = w.now_micros();
            w.controller_restarted(now);
        });
        self.state.set_rpc_up(true);
        self.rpc.wait_running(true, LISTENER_WAIT).await
    }

    /// Closes the REST listener and kills its connections.
    pub async fn stop_api(&self) {
        self.state.set_api_up(false);
        let _ = self.api.wait_running(false, LISTENER_WAIT).await;
    }

    /// Opens the REST listener again on the same port.
    pub async fn restart_api(&self) -> io::Result<()> {
        self.state.set_api_up(true);
        self.api.wait_running(true, LISTENER_WAIT).await
    }

    /// Stops the three servers.
    pub async fn shutdown(self) {
        self.rpc.abort();
        self.api.abort();
        self.admin.abort();
        tokio::task::yield_now().await;
    }
}

#[cfg(test)]
mod tests;
