//! Transaction relay: every transaction a node admits from a client is passed on, in batches,
//! to the other nodes' APIs, so whichever validator proposes next holds it
//! (spec/adr/002-transaction-relay.md). It knows nothing of the rest of the node: it is fed
//! encoded transactions through a channel.

use std::time::Duration;

use credledger_core::encoding::encode;
use tokio::sync::mpsc;

/// Transactions waiting to be relayed at most; more are dropped from the relay (not from the
/// node, which still proposes them in its turn).
pub const QUEUE: usize = 20_000;
/// Transactions per batch at most.
pub const MAX_BATCH: usize = 1_000;
/// Encoded bytes of a batch body at most, which the receiving API also enforces.
pub const MAX_BATCH_BYTES: usize = 4 << 20;

/// Starts the relay to `peers` (API base URLs); returns the channel to feed it.
pub fn start(peers: Vec<String>) -> mpsc::Sender<Vec<u8>> {
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(QUEUE);
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
                    Ok(t) => {
                        bytes += t.len();
                        batch.push(t);
                    }
                    Err(_) => break,
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
