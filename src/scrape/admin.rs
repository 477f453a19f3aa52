//! The `admin` collector: Arroyo's version from the admin port's `GET /details`, read
//! at most once per `admin.cache-ttl` (concurrent scrapes share one call).

use std::sync::Arc;

use parking_lot::Mutex;
use tokio::time::Instant;

use super::{Scraper, Singleflight};
use crate::arroyo::error::UpstreamError;
use crate::arroyo::hint;
use crate::arroyo::rest::RestClient;
use crate::model::ArroyoBuild;

/// What the collector keeps across scrapes.
pub(super) struct AdminState {
    /// The admin port's client; `None` when `admin.endpoint` is empty.
    client: Option<Arc<RestClient>>,
    /// The last answer and when it was read (also in seconds since the epoch).
    cached: Mutex<Option<(Instant, f64, ArroyoBuild)>>,
    flights: Singleflight<(), Result<ArroyoBuild, UpstreamError>>,
}

impl AdminState {
    /// The state for the admin port's `client`, if any.
    pub(super) fn new(client: Option<Arc<RestClient>>) -> AdminState {
        AdminState {
            client,
            cached: Mutex::new(None),
            flights: Singleflight::default(),
        }
    }

    /// When the admin port last answered, seconds since the epoch.
    pub(super) fn read_seconds(&self) -> Option<f64> {
        self.cached.lock().as_ref().map(|c| c.1)
    }

    /// Whether an admin endpoint is configured.
    pub(super) fn enabled(&self) -> bool {
        self.client.is_some()
    }
}

impl Scraper {
    /// Arroyo's build: the cached answer while younger than `admin.cache-ttl`, else a
    /// fresh `/details` (by `deadline`). Returns it (`None` on failure) and whether the
    /// collector succeeded.
    pub(super) async fn collect_admin(&self, deadline: Instant) -> (Option<ArroyoBuild>, bool) {
        let Some(client) = self.admin.client.clone() else {
            return (None, true);
        };
        let ttl = self.cfg.admin.cache_ttl;
        if let Some((at, _, build)) = self.admin.cached.lock().as_ref() {
            if at.elapsed() < ttl {
                return (Some(build.clone()), true);
            }
        }
        let metrics = Arc::clone(&self.metrics);
        let work = async move {
            let out = client.admin_details().await;
            metrics.record_call("admin", out.as_ref().err().map(|e| e.kind));
            if let Err(e) = &out {
                tracing::warn!(kind = e.kind.as_str(), error = %e.message, hint = hint::admin(e.kind), "reading Arroyo's version from the admin port failed");
            }
            out
        };
        match self.admin.flights.run_until((), deadline, work).await {
            Ok(Ok(build)) => {
                *self.admin.cached.lock() = Some((
                    Instant::now(),
                    super::now_micros() as f64 / 1e6,
                    build.clone(),
                ));
                (Some(build), true)
            }
            Ok(Err(_)) | Err(_) => (None, false),
        }
    }
}
