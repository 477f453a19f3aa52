//! The Arroyo clusters one exporter serves, and configuration reloads.
//!
//! A [`Served`] generation holds the configuration, the web configuration and one
//! [`Scraper`] per cluster: the top-level cluster (on `/metrics`, when configured) and
//! each named target (`/probe?target=<name>`). Every scraper has its own clients, caches
//! and singleflight, so a dead or slow cluster only costs its own probes.
//!
//! [`Registry::reload`] (SIGHUP, `POST /-/reload`) re-reads the configuration and the
//! web configuration file, builds a new generation and swaps it in; in-flight scrapes
//! finish on the generation they started with. A file that does not load leaves the old
//! generation serving. A cluster whose configuration did not change keeps its scraper
//! (and its caches); the exporter's own counters of a cluster are kept by name across
//! reloads. Settings that cannot change without a restart (listen address, metrics
//! path, logging, TLS on or off) are logged and kept.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use crate::config::{self, Config, Flags, Settings};
use crate::model::ReloadStatus;
use crate::scrape::Scraper;
use crate::selfmetrics::{now_seconds, SelfMetrics};
use crate::webconfig::WebSecurity;

/// Name under which the top-level cluster's counters are kept (never a valid target
/// name, so it cannot collide with one).
const TOP_LEVEL: &str = "";

/// One served cluster: its scraper and the API token it was built with (a reload that
/// reads a different token from the same file rebuilds the scraper).
#[derive(Clone)]
struct Cluster {
    scraper: Arc<Scraper>,
    token: Option<String>,
}

/// One generation of what is served.
pub struct Served {
    /// The top-level configuration.
    pub config: Arc<Config>,
    /// The web configuration (TLS, basic auth, headers, rate limit).
    pub web: Arc<WebSecurity>,
    /// The top-level cluster, when `/metrics` scrapes one.
    pub top_level: Option<Arc<Scraper>>,
    /// The named targets.
    pub targets: BTreeMap<String, Arc<Scraper>>,
    clusters: BTreeMap<String, Cluster>,
}

impl Served {
    /// The target names, comma-separated (for messages).
    pub fn target_names(&self) -> String {
        self.targets.keys().cloned().collect::<Vec<_>>().join(", ")
    }
}

/// Settings fixed at start-up.
struct Fixed {
    listen_address: std::net::SocketAddr,
    telemetry_path: String,
    log: config::LogConfig,
    tls: bool,
}

impl Fixed {
    /// The settings of `config` and `web` that a reload cannot change.
    fn of(config: &Config, web: &WebSecurity) -> Fixed {
        Fixed {
            listen_address: config.web.listen_address,
            telemetry_path: config.web.telemetry_path.clone(),
            log: config.log.clone(),
            tls: web.tls_config().is_some(),
        }
    }
}

/// The served generation, swapped on reload, and the reload state.
pub struct Registry {
    current: RwLock<Arc<Served>>,
    /// The command line to reload from; `None` when the registry was built in-process
    /// around a ready scraper (no reload).
    flags: Option<Flags>,
    lifecycle: bool,
    fixed: Fixed,
    /// One reload at a time.
    reloading: Mutex<()>,
    reload: Mutex<ReloadStatus>,
    counters: Mutex<HashMap<String, Arc<SelfMetrics>>>,
}

/// Why a reload failed (the old configuration keeps serving).
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The registry was not started from a command line.
    #[error("this exporter was not started from a command line; nothing to reload")]
    NotReloadable,
    /// The new configuration (or web configuration) does not load.
    #[error("{0}")]
    Invalid(String),
}

impl Registry {
    /// Builds the first generation from `settings` and `web`, reloadable from `flags`;
    /// `lifecycle` allows `POST /-/reload`.
    pub fn new(
        flags: Flags,
        settings: Settings,
        web: WebSecurity,
        lifecycle: bool,
    ) -> Result<Registry, String> {
        let fixed = Fixed::of(&settings.config, &web);
        let registry = Registry::with(
            Served {
                config: Arc::new(settings.config.clone()),
                web: Arc::new(WebSecurity::default()),
                top_level: None,
                targets: BTreeMap::new(),
                clusters: BTreeMap::new(),
            },
            Some(flags),
            lifecycle,
            fixed,
        );
        let served = registry.build(settings, web, &BTreeMap::new())?;
        *registry.current.write() = Arc::new(served);
        Ok(registry)
    }

    /// A registry serving `scraper` as the top-level cluster with `web`, without targets
    /// and without reload (in-process servers, tests, benchmarks).
    pub fn single(scraper: Arc<Scraper>, web: Arc<WebSecurity>) -> Registry {
        let config = Arc::new(scraper.config().clone());
        let fixed = Fixed::of(&config, &web);
        let mut clusters = BTreeMap::new();
        clusters.insert(
            TOP_LEVEL.to_string(),
            Cluster {
                scraper: Arc::clone(&scraper),
                token: None,
            },
        );
        Registry::with(
            Served {
                config,
                web,
                top_level: Some(scraper),
                targets: BTreeMap::new(),
                clusters,
            },
            None,
            false,
            fixed,
        )
    }

    /// A registry serving `served`, its reload state fresh (last load successful, now).
    fn with(served: Served, flags: Option<Flags>, lifecycle: bool, fixed: Fixed) -> Registry {
        Registry {
            current: RwLock::new(Arc::new(served)),
            flags,
            lifecycle,
            fixed,
            reloading: Mutex::new(()),
            reload: Mutex::new(ReloadStatus {
                successful: true,
                success_timestamp_seconds: now_seconds(),
            }),
            counters: Mutex::new(HashMap::new()),
        }
    }

    /// The generation serving now.
    pub fn current(&self) -> Arc<Served> {
        Arc::clone(&self.current.read())
    }

    /// Whether `POST /-/reload` is allowed (`--web.enable-lifecycle`).
    pub fn lifecycle(&self) -> bool {
        self.lifecycle && self.flags.is_some()
    }

    /// Whether connections are served with TLS (fixed at start-up).
    pub fn tls(&self) -> bool {
        self.fixed.tls
    }

    /// The metrics path (fixed at start-up).
    pub fn telemetry_path(&self) -> &str {
        &self.fixed.telemetry_path
    }

    /// The outcome of the last reload, for the reload families.
    pub fn reload_status(&self) -> Option<ReloadStatus> {
        self.flags.as_ref().map(|_| *self.reload.lock())
    }

    /// Re-reads the configuration and the web configuration file and serves them; on
    /// failure the old configuration keeps serving. Logs the outcome either way.
    pub fn reload(&self) -> Result<(), ReloadError> {
        let Some(flags) = &self.flags else {
            return Err(ReloadError::NotReloadable);
        };
        let _one = self.reloading.lock();
        let outcome = config::load_settings(flags)
            .map_err(|e| e.to_string())
            .and_then(|settings| {
                let web = match &settings.config.web.config_file {
                    Some(path) => WebSecurity::load(path)
                        .map_err(|e| format!("invalid configuration (web.config-file): {e}"))?,
                    None => WebSecurity::default(),
                };
                let old = self.current();
                let served = self.build(settings, web, &old.clusters)?;
                Ok((old, served))
            });
        let mut status = self.reload.lock();
        match outcome {
            Ok((old, served)) => {
                let added: Vec<&String> = served
                    .targets
                    .keys()
                    .filter(|k| !old.targets.contains_key(*k))
                    .collect();
                let removed: Vec<&String> = old
                    .targets
                    .keys()
                    .filter(|k| !served.targets.contains_key(*k))
                    .collect();
                tracing::info!(
                    targets = %served.target_names(),
                    added = ?added,
                    removed = ?removed,
                    top_level_cluster = served.top_level.is_some(),
                    "configuration reloaded"
                );
                for note in served.web.notes() {
                    tracing::warn!(note = %note, "web configuration file");
                }
                let names: Vec<String> = served.clusters.keys().cloned().collect();
                *self.current.write() = Arc::new(served);
                self.counters.lock().retain(|name, _| names.contains(name));
                *status = ReloadStatus {
                    successful: true,
                    success_timestamp_seconds: now_seconds(),
                };
                Ok(())
            }
            Err(e) => {
                tracing::error!(error = %e, "configuration reload failed; the previous configuration keeps serving");
                status.successful = false;
                Err(ReloadError::Invalid(e))
            }
        }
    }

    /// The counters of the cluster `name`, kept across reloads.
    fn counters_of(&self, name: &str) -> Arc<SelfMetrics> {
        Arc::clone(
            self.counters
                .lock()
                .entry(name.to_string())
                .or_insert_with(|| Arc::new(SelfMetrics::default())),
        )
    }

    /// A generation from `settings` and `web`, reusing the clusters of `old` whose
    /// configuration and token did not change. Settings fixed at start-up are kept
    /// (with a warning when the new files change them).
    fn build(
        &self,
        mut settings: Settings,
        mut web: WebSecurity,
        old: &BTreeMap<String, Cluster>,
    ) -> Result<Served, String> {
        self.keep_fixed(&mut settings.config, &mut web);
        for cfg in settings.targets.values_mut() {
            cfg.web = settings.config.web.clone();
            cfg.log = settings.config.log.clone();
        }
        let mut wanted: Vec<(String, Config)> = Vec::new();
        if settings.top_level_cluster {
            let mut top = settings.config.clone();
            top.targets.clear();
            wanted.push((TOP_LEVEL.to_string(), top));
        }
        wanted.extend(settings.targets);
        let mut clusters = BTreeMap::new();
        for (name, cfg) in wanted {
            let token = config::api_token(&cfg.api).map_err(|e| match name.as_str() {
                TOP_LEVEL => e.to_string(),
                _ => format!("target `{name}`: {e}"),
            })?;
            let reuse = old
                .get(&name)
                .filter(|c| *c.scraper.config() == cfg && c.token == token);
            let cluster = match reuse {
                Some(c) => c.clone(),
                None => {
                    let scraper = Scraper::with_metrics(Arc::new(cfg), self.counters_of(&name))
                        .map_err(|e| match name.as_str() {
                            TOP_LEVEL => e,
                            _ => format!("target `{name}`: {e}"),
                        })?;
                    Cluster {
                        scraper: Arc::new(scraper),
                        token,
                    }
                }
            };
            clusters.insert(name, cluster);
        }
        let top_level = clusters
            .get(TOP_LEVEL)
            .map(|c: &Cluster| Arc::clone(&c.scraper));
        let targets = clusters
            .iter()
            .filter(|(name, _)| name.as_str() != TOP_LEVEL)
            .map(|(name, c)| (name.clone(), Arc::clone(&c.scraper)))
            .collect();
        Ok(Served {
            config: Arc::new(settings.config),
            web: Arc::new(web),
            top_level,
            targets,
            clusters,
        })
    }

    /// Puts back the settings fixed at start-up, warning about each one the new files
    /// would change.
    fn keep_fixed(&self, cfg: &mut Config, web: &mut WebSecurity) {
        let fixed = &self.fixed;
        if cfg.web.listen_address != fixed.listen_address {
            tracing::warn!(kept = %fixed.listen_address, ignored = %cfg.web.listen_address,
                "web.listen-address cannot change without a restart; kept");
            cfg.web.listen_address = fixed.listen_address;
        }
        if cfg.web.telemetry_path != fixed.telemetry_path {
            tracing::warn!(kept = %fixed.telemetry_path, ignored = %cfg.web.telemetry_path,
                "web.telemetry-path cannot change without a restart; kept");
            cfg.web.telemetry_path = fixed.telemetry_path.clone();
        }
        if cfg.log != fixed.log {
            tracing::warn!("log.level and log.format cannot change without a restart; kept");
            cfg.log = fixed.log.clone();
        }
        let tls = web.tls_config().is_some();
        if tls != fixed.tls {
            tracing::warn!(
                kept = if fixed.tls { "on" } else { "off" },
                "TLS cannot be turned on or off without a restart; kept (the other web settings apply)"
            );
            if !fixed.tls {
                web.drop_tls();
            } else if let Some(old) = self.current().web.tls_config() {
                web.set_tls(old);
            }
        }
    }
}
