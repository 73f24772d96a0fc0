//! The verifier's accept loop: hyper's HTTP/1 connections with a deadline for each request's
//! headers and caps on connections, per client address and in all, so that clients that open
//! connections and send nothing, or send their headers a byte at a time, cannot hold the
//! service's file descriptors (spec/verifier.md §6). axum's own `serve` sets no timer, so
//! hyper's header timeout never fires under it.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt as _;

use super::Metrics;
use super::guard::client_key;

/// Limits on connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnLimits {
    /// A connection that has not sent a whole request head this long after it opened, or after
    /// its previous answer, is closed (an idle keep-alive connection too).
    pub header_timeout: Duration,
    /// Open connections from one client address (an IPv6 /64) at most; more are closed at once.
    pub per_client: usize,
    /// Open connections in all at most; more are closed at once.
    pub total: usize,
}

impl Default for ConnLimits {
    fn default() -> Self {
        ConnLimits {
            header_timeout: Duration::from_secs(10),
            per_client: 64,
            total: 8_192,
        }
    }
}

/// How long a stopping server lets requests in progress finish.
const DRAIN: Duration = Duration::from_secs(10);

/// Open connections per client address; an entry goes when its last connection closes, so the
/// map holds no more entries than there are open connections.
#[derive(Debug, Default)]
struct Open(Mutex<HashMap<IpAddr, usize>>);

/// One open connection's place in [`Open`], given back when dropped.
struct Slot {
    open: Arc<Open>,
    key: IpAddr,
}

impl Open {
    fn take(self: &Arc<Self>, key: IpAddr, cap: usize) -> Option<Slot> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(key).or_insert(0);
        if *n >= cap {
            return None;
        }
        *n += 1;
        Some(Slot {
            open: self.clone(),
            key,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut map = self.open.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.key);
            }
        }
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then lets requests in progress
/// finish for up to 10 s. Handlers see the client's address as `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnLimits,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()>,
) {
    let open = Arc::new(Open::default());
    let total = Arc::new(Semaphore::new(limits.total.min(Semaphore::MAX_PERMITS)));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, most often: wait for some to close rather than
                    // spin on the same error.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(slot) = open.take(client_key(peer.ip()), limits.per_client) else {
            metrics.connections_refused.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let Ok(permit) = total.clone().try_acquire_owned() else {
            metrics.connections_refused.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        metrics.connections_opened.fetch_add(1, Ordering::Relaxed);
        // Answers go out as soon as they are written: with Nagle's algorithm a small answer can
        // wait for the client's delayed acknowledgement of the one before it.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set");
        }
        let service = router
            .clone()
            .map_request(move |req: hyper::Request<Incoming>| {
                let mut req = req.map(Body::new);
                req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
                req
            });
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout);
        let conn = http.serve_connection(TokioIo::new(tcp), TowerToHyperService::new(service));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::trace!(error = %e, "connection ended with an error");
            }
            drop((slot, permit));
        });
    }
    // Stop accepting before draining, so no new connection starts while the old ones finish.
    drop(listener);
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still in progress after 10 s were cut off");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_count_per_address_and_free_on_drop() {
        let open = Arc::new(Open::default());
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let first = open.take(a, 2).unwrap();
        let second = open.take(a, 2).unwrap();
        assert!(open.take(a, 2).is_none(), "a third from one address");
        let other = open.take(b, 2).unwrap();
        drop(first);
        let again = open.take(a, 2).expect("the freed slot is usable");
        drop((second, again, other));
        assert!(
            open.0.lock().unwrap().is_empty(),
            "no entry outlives its connections"
        );
    }
}
