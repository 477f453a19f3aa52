//! `arroyo-exporter-sim`: a SIMULATED Arroyo for demos, dashboards and alert tests.
//! It is not Arroyo. It serves the controller's `JobMetrics` gRPC, the REST API and the
//! admin port's `/details` with changing data (see the `arroyo_sim` library), on Arroyo's
//! default ports.
//!
//! Switch the scenario at runtime with `POST /sim/scenario/{name}` on the API port, and
//! read it with `GET /sim/scenario`.

use std::net::SocketAddr;
use std::path::PathBuf;

use arroyo_sim::{demo_world, fixture_world, FakeArroyo, Release, Scenario};
use clap::Parser;

/// A simulated Arroyo (controller gRPC + REST API) for trying arroyo-exporter. NOT Arroyo.
#[derive(Debug, Parser)]
#[command(name = "arroyo-exporter-sim", version)]
struct Args {
    /// Arroyo release whose wire shapes to imitate: main, v0.15, v0.13 or v0.11.
    // `--arroyo-release`, not `--release`: that reads like cargo's flag.
    #[arg(
        long = "arroyo-release",
        default_value = "main",
        env = "ARROYO_SIM_RELEASE"
    )]
    release: Release,

    /// Address of the controller gRPC (Arroyo's default port is 5116).
    #[arg(long, default_value = "127.0.0.1:5116", env = "ARROYO_SIM_RPC_LISTEN")]
    rpc_listen: SocketAddr,

    /// Address of the REST API (Arroyo's default port is 5115).
    #[arg(long, default_value = "127.0.0.1:5115", env = "ARROYO_SIM_API_LISTEN")]
    api_listen: SocketAddr,

    /// Address of the admin port, which serves `/details` (Arroyo's default port is 5114).
    #[arg(
        long,
        default_value = "127.0.0.1:5114",
        env = "ARROYO_SIM_ADMIN_LISTEN"
    )]
    admin_listen: SocketAddr,

    /// Number of pipelines (each with one running job).
    #[arg(long, default_value_t = 4, env = "ARROYO_SIM_PIPELINES")]
    pipelines: usize,

    /// Subtasks per operator.
    #[arg(long, default_value_t = 2, env = "ARROYO_SIM_PARALLELISM")]
    parallelism: u32,

    /// Scenario at start: steady, throughput-drop, backpressure, skew, job-failed,
    /// restart-loop, checkpoints-stalled, controller-down, bottleneck-moves, growing-state
    /// or error-burst.
    #[arg(long, default_value = "steady", env = "ARROYO_SIM_SCENARIO")]
    scenario: Scenario,

    /// Seed of ids and values.
    #[arg(long, default_value_t = 1, env = "ARROYO_SIM_SEED")]
    seed: u64,

    /// Require `Authorization: Bearer <TOKEN>` on the REST API.
    #[arg(long, env = "ARROYO_SIM_TOKEN")]
    token: Option<String>,

    /// Serve a real capture instead of the demo world: the folder holding
    /// `arroyo-main-addb390/` and `arroyo-v0.15.0/` (`--arroyo-release` main or v0.15
    /// only; static data).
    #[arg(long, env = "ARROYO_SIM_FIXTURES")]
    fixtures: Option<PathBuf>,
}

fn now_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();

    let world = match &args.fixtures {
        Some(dir) => fixture_world(args.release, dir)
            .map_err(|e| anyhow::anyhow!("loading fixtures from {}: {e}", dir.display()))?,
        None => demo_world(
            args.release,
            args.pipelines,
            args.parallelism,
            args.seed,
            now_micros(),
        ),
    };
    let mut builder = FakeArroyo::builder(args.release)
        .world(world)
        .rpc_addr(args.rpc_listen)
        .api_addr(args.api_listen)
        .admin_addr(args.admin_listen);
    if let Some(t) = &args.token {
        builder = builder.token(t.clone());
    }
    let arroyo = builder
        .start()
        .await
        .map_err(|e| anyhow::anyhow!("starting the simulator: {e}"))?;
    if args.scenario != Scenario::Steady {
        arroyo.state().set_scenario(args.scenario);
    }
    let (pipelines, jobs) = {
        let w = arroyo.state().lock();
        (w.pipelines.len(), w.jobs.len())
    };
    tracing::info!(
        release = %args.release,
        rpc = %arroyo.rpc_url(),
        api = %arroyo.api_url(),
        admin = %arroyo.admin_url(),
        pipelines,
        jobs,
        scenario = %args.scenario,
        "arroyo-exporter-sim: SIMULATED Arroyo serving (not Arroyo); \
         switch scenarios with POST /sim/scenario/{{name}} on the API port"
    );
    shutdown_signal().await;
    tracing::info!("arroyo-exporter-sim: shutting down");
    arroyo.shutdown().await;
    Ok(())
}
