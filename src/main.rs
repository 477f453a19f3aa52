//! `arroyo-exporter`: flags → config → logging → serve. Nothing else lives here.

#![forbid(unsafe_code)]

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;

use arroyo_exporter::clusters::Registry;
use arroyo_exporter::config::{self, Flags, LogFormat};
use arroyo_exporter::selfmetrics::process_start_seconds;
use arroyo_exporter::server;
use arroyo_exporter::webconfig::WebSecurity;

fn init_logging(cfg: &config::LogConfig) {
    let filter = tracing_subscriber::EnvFilter::new(format!(
        "arroyo_exporter={level},warn",
        level = cfg.level.as_str()
    ));
    // Colour codes only on a terminal: in a container log or a file they are noise.
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    match cfg.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

fn main() -> ExitCode {
    process_start_seconds();
    let flags = Flags::parse();
    let settings = match config::load_settings(&flags) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("arroyo-exporter: {e}");
            return ExitCode::from(2);
        }
    };
    // The web configuration file is read before anything starts: a bad one stops start-up
    // like any other configuration error.
    let cfg = &settings.config;
    let web = match &cfg.web.config_file {
        Some(path) => match WebSecurity::load(path) {
            Ok(w) => w,
            Err(e) => {
                eprintln!("arroyo-exporter: invalid configuration (web.config-file): {e}");
                return ExitCode::from(2);
            }
        },
        None => WebSecurity::default(),
    };
    init_logging(&cfg.log);
    for note in web.notes() {
        tracing::warn!(note = %note, "web configuration file");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("arroyo-exporter")
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("arroyo-exporter: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(flags, settings, web))
}

/// Reloads the configuration on every SIGHUP.
#[cfg(unix)]
fn reload_on_sighup(registry: Arc<Registry>) {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::hangup()) {
        Ok(mut hup) => {
            tokio::spawn(async move {
                while hup.recv().await.is_some() {
                    tracing::info!("SIGHUP: reloading the configuration");
                    let registry = Arc::clone(&registry);
                    // The outcome is logged and counted by the reload itself.
                    let _ = tokio::task::spawn_blocking(move || registry.reload()).await;
                }
            });
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGHUP; reload with POST /-/reload")
        }
    }
}

async fn run(flags: Flags, settings: config::Settings, web: WebSecurity) -> ExitCode {
    let cfg = Arc::new(settings.config.clone());
    let lifecycle = flags.enable_lifecycle;
    let registry = match Registry::new(flags, settings, web, lifecycle) {
        Ok(r) => Arc::new(r),
        Err(e) => {
            tracing::error!(error = %e, "invalid configuration");
            eprintln!("arroyo-exporter: {e}");
            return ExitCode::from(2);
        }
    };
    let addr = cfg.web.listen_address;
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(%addr, error = %e, "cannot listen (web.listen-address)");
            eprintln!("arroyo-exporter: cannot listen on {addr} (web.listen-address): {e}");
            return ExitCode::FAILURE;
        }
    };
    let served = registry.current();
    let local = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        listen = %local,
        path = %cfg.web.telemetry_path,
        controller = %server::redact_url(&cfg.controller.endpoint),
        api = %cfg.api.endpoint.as_ref().map(server::redact_url).unwrap_or_else(|| "none".into()),
        metrics_source = ?cfg.scrape.metrics_source,
        top_level_cluster = served.top_level.is_some(),
        targets = %served.target_names(),
        lifecycle,
        tls = %served.web.tls_summary(),
        basic_auth_users = served.web.basic_auth_users(),
        "arroyo-exporter listening"
    );
    #[cfg(unix)]
    reload_on_sighup(Arc::clone(&registry));
    match server::serve_registry(listener, registry, server::shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "server failed");
            ExitCode::FAILURE
        }
    }
}
