//! Transaction relay: every transaction a node admits from a client is passed on, in batches,
//! to the other nodes' APIs, so whichever validator proposes next holds it
//! (spec/adr/002-transaction-relay.md). It knows nothing of the rest of the node: it is fed
//! encoded transactions through a channel, bounded in count and in bytes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use credledger_core::encoding::encode;
use tokio::sync::mpsc;

/// Transactions waiting to be relayed at most; more are dropped from the relay (not from the
/// node, which still proposes them in its turn).
pub const QUEUE: usize = 20_000;
/// Encoded bytes waiting to be relayed at most (a transaction may be 1 MiB: the count alone
/// would allow 20 GiB).
pub const QUEUE_BYTES: usize = 64 << 20;
/// Transactions per batch at most.
pub const MAX_BATCH: usize = 1_000;
/// Encoded bytes of a batch body at most, which the receiving API also enforces.
pub const MAX_BATCH_BYTES: usize = 4 << 20;

/// The relay's intake: a channel that also counts the bytes it holds.
#[derive(Clone, Debug)]
pub struct Intake {
    tx: mpsc::Sender<Vec<u8>>,
    queued: Arc<AtomicUsize>,
    max_bytes: usize,
}

impl Intake {
    /// Queues one encoded transaction; `false` (and it is not relayed) if the queue holds
    /// [`QUEUE`] transactions or the bytes would pass its byte bound.
    pub fn try_send(&self, tx: Vec<u8>) -> bool {
        let len = tx.len();
        let before = self.queued.fetch_add(len, Ordering::AcqRel);
        if before.saturating_add(len) > self.max_bytes || self.tx.try_send(tx).is_err() {
            self.queued.fetch_sub(len, Ordering::AcqRel);
            return false;
        }
        true
    }
}

/// A bounded intake and its receiving end, which gives back each transaction's bytes to the
/// bound as it is taken.
fn intake(count: usize, max_bytes: usize) -> (Intake, Outlet) {
    let (tx, rx) = mpsc::channel::<Vec<u8>>(count);
    let queued = Arc::new(AtomicUsize::new(0));
    (
        Intake {
            tx,
            queued: queued.clone(),
            max_bytes,
        },
        Outlet { rx, queued },
    )
}

/// The relay's end of an [`Intake`].
struct Outlet {
    rx: mpsc::Receiver<Vec<u8>>,
    queued: Arc<AtomicUsize>,
}

impl Outlet {
    async fn recv(&mut self) -> Option<Vec<u8>> {
        let t = self.rx.recv().await?;
        self.queued.fetch_sub(t.len(), Ordering::AcqRel);
        Some(t)
    }

    fn try_recv(&mut self) -> Option<Vec<u8>> {
        let t = self.rx.try_recv().ok()?;
        self.queued.fetch_sub(t.len(), Ordering::AcqRel);
        Some(t)
    }
}

/// Starts the relay to `peers` (API base URLs); returns the intake to feed it.
pub fn start(peers: Vec<String>) -> Intake {
    let (tx, mut rx) = intake(QUEUE, QUEUE_BYTES);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap_or_default();
    tokio::spawn(async move {
        // No timer: a batch is whatever queued while the previous one was being sent. An idle
        // relay sends a lone transaction at once; a busy one sends bigger batches, one round
        // trip apart, which the receivers check in one signature batch each.
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            let mut bytes = batch[0].len();
            while batch.len() < MAX_BATCH && bytes < MAX_BATCH_BYTES / 2 {
                match rx.try_recv() {
                    Some(t) => {
                        bytes += t.len();
                        batch.push(t);
                    }
                    None => break,
                }
            }
            let body = encode(&batch);
            let sends = peers.iter().map(|p| {
                let p = p.clone();
                let req = client
                    .post(format!("{}/v1/relay", p.trim_end_matches('/')))
                    .header("content-type", "application/octet-stream")
                    .body(body.clone());
                async move {
                    if let Err(e) = req.send().await.and_then(|r| r.error_for_status()) {
                        tracing::debug!(peer = %p, error = %e, "relay failed");
                    }
                }
            });
            // Peers are served together, so one slow peer delays a batch by at most the timeout.
            let handles: Vec<_> = sends.map(tokio::spawn).collect();
            for h in handles {
                let _ = h.await;
            }
        }
    });
    tx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_intake_is_bounded_in_bytes_and_count_and_frees_what_is_taken() {
        let (intake, mut outlet) = intake(3, 100);
        assert!(intake.try_send(vec![1; 60]));
        assert!(!intake.try_send(vec![2; 41]), "over the byte bound");
        assert!(intake.try_send(vec![3; 40]));
        assert!(intake.try_send(vec![]));
        assert!(!intake.try_send(vec![]), "over the count bound");
        assert_eq!(outlet.recv().await, Some(vec![1; 60]));
        assert!(
            intake.try_send(vec![4; 60]),
            "the bytes taken are free again"
        );
        assert_eq!(outlet.try_recv(), Some(vec![3; 40]));
        assert_eq!(outlet.try_recv(), Some(vec![]));
        assert_eq!(outlet.try_recv(), Some(vec![4; 60]));
        assert_eq!(outlet.try_recv(), None);
        assert_eq!(intake.queued.load(Ordering::Acquire), 0);
    }
}
