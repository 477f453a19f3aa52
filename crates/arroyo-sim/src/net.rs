//! Listeners that can be closed and reopened on the same port, killing open connections
//! (like a process that dies), which plain `axum::serve` / tonic's server cannot do.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// Binds a listener with `SO_REUSEADDR`, so the port can be bound again right after a close.
pub(crate) fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Waits until the watched flag equals `want`; false when the sender is gone.
async fn wait_for(rx: &mut watch::Receiver<bool>, want: bool) -> bool {
    loop {
        if *rx.borrow_and_update() == want {
            return true;
        }
        if rx.changed().await.is_err() {
            return false;
        }
    }
}

/// A server whose listener follows a "wanted up" flag.
pub(crate) struct Supervised {
    /// Bound address (the port stays the same across restarts).
    pub(crate) addr: SocketAddr,
    /// Whether the listener is open right now.
    running: watch::Receiver<bool>,
    task: JoinHandle<()>,
}

impl Supervised {
    /// Binds `addr` and serves `router` on it, closing and reopening the listener as
    /// `wanted` says.
    pub(crate) fn start(
        addr: SocketAddr,
        router: axum::Router,
        wanted: watch::Receiver<bool>,
    ) -> io::Result<Supervised> {
        let listener = bind(addr)?;
        let addr = listener.local_addr()?;
        let (running_tx, running) = watch::channel(true);
        let task = tokio::spawn(supervise(listener, addr, router, wanted, running_tx));
        Ok(Supervised {
            addr,
            running,
            task,
        })
    }

    /// Waits (up to `timeout`) until the listener is open (`true`) or closed (`false`).
    pub(crate) async fn wait_running(&self, want: bool, timeout: Duration) -> io::Result<()> {
        let mut rx = self.running.clone();
        match tokio::time::timeout(timeout, wait_for(&mut rx, want)).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(io::Error::other("simulator server task ended")),
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "listener on {} did not become {}",
                    self.addr,
                    if want { "open" } else { "closed" }
                ),
            )),
        }
    }

    /// Stops serving and kills every connection.
    pub(crate) fn abort(&self) {
        self.task.abort();
    }
}

impl std::fmt::Debug for Supervised {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supervised")
            .field("addr", &self.addr)
            .finish()
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn supervise(
    first: TcpListener,
    addr: SocketAddr,
    router: axum::Router,
    mut wanted: watch::Receiver<bool>,
    running: watch::Sender<bool>,
) {
    let mut listener = Some(first);
    loop {
        let l = match listener.take() {
            Some(l) => l,
            None => {
                if !wait_for(&mut wanted, true).await {
                    return;
                }
                match bind(addr) {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::warn!(%addr, error = %e, "simulator: rebind failed, retrying");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                }
            }
        };
        running.send_replace(true);
        let alive = serve_until_down(l, router.clone(), &mut wanted).await;
        running.send_replace(false);
        if !alive {
            return;
        }
    }
}

/// Serves until the flag says down; returns false when the flag's sender is gone.
/// Dropping the connection set on return aborts every connection.
async fn serve_until_down(
    listener: TcpListener,
    router: axum::Router,
    wanted: &mut watch::Receiver<bool>,
) -> bool {
    let mut conns = JoinSet::new();
    let alive = loop {
        tokio::select! {
            ok = wait_for(wanted, false) => break ok,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    let svc = TowerToHyperService::new(router.clone());
                    conns.spawn(async move {
                        let builder = auto::Builder::new(TokioExecutor::new());
                        let _ = builder.serve_connection(TokioIo::new(stream), svc).await;
                    });
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    };
    drop(listener);
    conns.abort_all();
    while conns.join_next().await.is_some() {}
    alive
}
