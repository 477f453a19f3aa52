//! Concurrent scrapes share upstream calls: [`Singleflight`] runs one call per key and
//! hands its result to every caller that asked while it ran, each waiting only until
//! its own deadline.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;

use futures::future::{BoxFuture, FutureExt, Shared};
use parking_lot::Mutex;
use tokio::time::Instant;

use crate::arroyo::error::{ErrorKind, UpstreamError};

/// Why a caller of [`Singleflight::run_until`] got no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlightError {
    /// The task running the work died before it produced a value.
    TaskFailed,
    /// The caller's deadline came first (the work goes on for later callers).
    DeadlineReached,
}

impl FlightError {
    /// The error kind this stands for: `internal` or `timeout`.
    pub fn kind(self) -> ErrorKind {
        match self {
            FlightError::TaskFailed => ErrorKind::Internal,
            FlightError::DeadlineReached => ErrorKind::Timeout,
        }
    }

    /// As an upstream error; `what` names the call for the log (`listing jobs`).
    pub fn into_error(self, what: &str) -> UpstreamError {
        let message = match self {
            FlightError::TaskFailed => format!("the task {what} failed"),
            FlightError::DeadlineReached => format!("scrape deadline reached while {what}"),
        };
        UpstreamError::new(self.kind(), message)
    }
}

/// A running call's shared result; `None` when its task died.
type Flight<V> = Shared<BoxFuture<'static, Option<V>>>;

/// Coalesces concurrent calls with the same key into one: the first caller starts the
/// work on its own task, later callers wait for the same result. The entry is removed
/// when the work ends, so the next call after that starts fresh work.
pub struct Singleflight<K, V: Clone> {
    flights: Arc<Mutex<HashMap<K, Flight<V>>>>,
}

impl<K, V: Clone> Default for Singleflight<K, V> {
    fn default() -> Self {
        Singleflight {
            flights: Arc::new(Mutex::new(HashMap::new())),
        }
    }
}

impl<K, V> Singleflight<K, V>
where
    K: Eq + Hash + Clone + Send + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Joins the call for `key` (starting `work` unless one is in flight) and waits for
    /// its result until `deadline`. The call is joined at once, not when the returned
    /// future is first polled.
    pub fn run_until<F>(
        &self,
        key: K,
        deadline: Instant,
        work: F,
    ) -> impl Future<Output = Result<V, FlightError>> + Send + 'static
    where
        F: Future<Output = V> + Send + 'static,
    {
        let flight = self.join(key, work);
        async move {
            match tokio::time::timeout_at(deadline, flight).await {
                Ok(Some(v)) => Ok(v),
                Ok(None) => Err(FlightError::TaskFailed),
                Err(_) => Err(FlightError::DeadlineReached),
            }
        }
    }

    /// The flight for `key`, started with `work` when none is running.
    fn join<F>(&self, key: K, work: F) -> Flight<V>
    where
        F: Future<Output = V> + Send + 'static,
    {
        let mut flights = self.flights.lock();
        if let Some(existing) = flights.get(&key) {
            return existing.clone();
        }
        let map = Arc::clone(&self.flights);
        let task_key = key.clone();
        let handle = tokio::spawn(async move {
            let out = work.await;
            map.lock().remove(&task_key);
            out
        });
        let shared = async move { handle.await.ok() }.boxed().shared();
        flights.insert(key, shared.clone());
        shared
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn concurrent_callers_share_one_call() {
        let flights: Singleflight<&'static str, u32> = Singleflight::default();
        let calls = Arc::new(AtomicUsize::new(0));
        let deadline = Instant::now() + Duration::from_secs(5);
        let work = |calls: Arc<AtomicUsize>| async move {
            calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(50)).await;
            7
        };
        let a = flights.run_until("k", deadline, work(Arc::clone(&calls)));
        let b = flights.run_until("k", deadline, work(Arc::clone(&calls)));
        assert_eq!((a.await, b.await), (Ok(7), Ok(7)));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(
            flights
                .run_until("k", deadline, work(Arc::clone(&calls)))
                .await,
            Ok(7)
        );
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_caller_stops_waiting_at_its_deadline() {
        let flights: Singleflight<u8, u8> = Singleflight::default();
        let deadline = Instant::now() + Duration::from_millis(20);
        let slow = async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            1
        };
        let out = flights.run_until(0, deadline, slow).await;
        assert_eq!(out, Err(FlightError::DeadlineReached));
        assert_eq!(out.unwrap_err().kind(), ErrorKind::Timeout);
    }
}
