//! The API's accept loop: hyper's HTTP/1 connections with a deadline for each request's head
//! and caps on open connections, per client address and in all (spec/http-api.md §1).
//! axum's own `serve` gives hyper no timer, so hyper's header timeout never fires under it and
//! a client that sends nothing keeps its connection, and a file descriptor, for ever.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt as _;

/// Limits on the API's connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnLimits {
    /// A connection that has not sent a whole request head this long after it opened, or after
    /// its previous answer, is closed (an idle keep-alive connection too). Header streams are
    /// answers in progress, not idle: they stay open.
    pub header_timeout: Duration,
    /// Open connections from one address at most; more are closed at once.
    pub per_address: usize,
    /// Open connections in all at most; more are closed at once.
    pub total: usize,
}

/// How long a stopping node lets requests in progress finish.
const DRAIN: Duration = Duration::from_secs(5);

/// Open connections per address; an entry goes with its last connection.
#[derive(Debug, Default)]
struct Open(Mutex<HashMap<IpAddr, usize>>);

/// One open connection's place in [`Open`], given back when dropped.
struct Slot {
    open: Arc<Open>,
    ip: IpAddr,
}

impl Open {
    fn take(self: &Arc<Self>, ip: IpAddr, cap: usize) -> Option<Slot> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(ip).or_insert(0);
        if *n >= cap {
            return None;
        }
        *n += 1;
        Some(Slot {
            open: self.clone(),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut map = self.open.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then lets requests in progress
/// finish for up to 5 s.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnLimits,
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
                    tracing::warn!(error = %e, "cannot accept an API connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let (Some(slot), Ok(permit)) = (
            open.take(peer.ip(), limits.per_address),
            total.clone().try_acquire_owned(),
        ) else {
            tracing::debug!("API connection refused: too many open");
            continue;
        };
        let service = router
            .clone()
            .map_request(|req: hyper::Request<Incoming>| req.map(Body::new));
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout);
        let conn = graceful
            .watch(http.serve_connection(TokioIo::new(tcp), TowerToHyperService::new(service)));
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::trace!(error = %e, "API connection ended with an error");
            }
            drop((slot, permit));
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("API requests still in progress after 5 s were cut off");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn connect(from: [u8; 4], to: std::net::SocketAddr) -> tokio::net::TcpStream {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind((from, 0).into()).unwrap();
        socket.connect(to).await.unwrap()
    }

    /// Reads until the server closes the connection (panics after 3 s); what it sent.
    async fn until_closed(conn: &mut tokio::net::TcpStream) -> String {
        use tokio::io::AsyncReadExt;
        let mut got = Vec::new();
        tokio::time::timeout(Duration::from_secs(3), conn.read_to_end(&mut got))
            .await
            .expect("the server closes the connection")
            .unwrap();
        String::from_utf8_lossy(&got).into_owned()
    }

    #[tokio::test]
    async fn stalled_connections_are_closed_and_each_address_is_capped() {
        use tokio::io::AsyncWriteExt;
        let router = Router::new().route("/health", axum::routing::get(|| async { "ok" }));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let limits = ConnLimits {
            header_timeout: Duration::from_millis(300),
            per_address: 1,
            total: 10,
        };
        let running = tokio::spawn(serve(listener, router, limits, async {
            let _ = stopped.await;
        }));
        // One connection that stalls inside its request head holds the address's one place.
        let mut stalled = connect([127, 0, 0, 1], addr).await;
        stalled
            .write_all(b"GET /health HTTP/1.1\r\n")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut second = connect([127, 0, 0, 1], addr).await;
        assert_eq!(until_closed(&mut second).await, "", "closed unanswered");
        // Another address is answered, and its idle connection closed after the deadline.
        let mut other = connect([127, 0, 0, 3], addr).await;
        other
            .write_all(b"GET /health HTTP/1.1\r\nhost: n\r\n\r\n")
            .await
            .unwrap();
        let answered = until_closed(&mut other).await;
        assert!(answered.starts_with("HTTP/1.1 200 OK"), "{answered}");
        // The stalled one is closed by the deadline, which frees its address's place.
        until_closed(&mut stalled).await;
        let mut again = connect([127, 0, 0, 1], addr).await;
        again
            .write_all(b"GET /health HTTP/1.1\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        assert!(
            until_closed(&mut again)
                .await
                .starts_with("HTTP/1.1 200 OK")
        );
        stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(10), running)
            .await
            .expect("the server stops")
            .unwrap();
    }
}
