//! The pool of admitted transactions waiting for a block: bounded in count and bytes (a full
//! pool refuses, it never grows), de-duplicated by id, and ordered per signer by nonce so a
//! proposal only takes transactions that can execute in sequence. Transactions that cannot
//! run because an earlier nonce is missing are dropped after a while, so that no signer can
//! hold the pool full with transactions that never run.

use std::collections::{BTreeMap, HashMap};

use credledger_core::exec::{Admission, Signer};
use credledger_core::hash::Digest;
use credledger_core::ids::Timestamp;
use credledger_core::sig::PublicKey;
use credledger_core::tx::Transaction;

/// Limits of the pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MempoolLimits {
    /// At most this many transactions.
    pub max_txs: usize,
    /// At most this many encoded bytes in all.
    pub max_bytes: usize,
    /// A transaction waiting behind a missing nonce of its signer is dropped once it has waited
    /// this long (ms): relayed transactions arrive out of order by milliseconds, not minutes.
    pub max_gap_wait_ms: u64,
}

impl Default for MempoolLimits {
    fn default() -> Self {
        MempoolLimits {
            max_txs: 50_000,
            max_bytes: 256 << 20,
            max_gap_wait_ms: 60_000,
        }
    }
}

/// Why a transaction was not pooled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MempoolError {
    /// The pool is full; the caller should retry later (HTTP 503 with Retry-After).
    #[error("the mempool is full ({txs} transactions, {bytes} bytes); retry later")]
    Full {
        /// Transactions pooled.
        txs: usize,
        /// Bytes pooled.
        bytes: usize,
    },
    /// The same transaction is already pooled.
    #[error("transaction {0} is already pending")]
    Duplicate(Digest),
    /// Another transaction of the same signer holds this nonce.
    #[error("another pending transaction of {signer:?} already uses nonce {nonce}")]
    NonceTaken {
        /// The signer.
        signer: Signer,
        /// The nonce.
        nonce: u64,
    },
}

#[derive(Clone, Debug)]
struct Entry {
    tx: Transaction,
    size: usize,
    arrival: u64,
    /// When it was pooled, by the node's clock.
    since: Timestamp,
    /// Keys whose signatures admission checked (passed to execution).
    checked: Vec<PublicKey>,
    /// Its signer and nonce, to find its place in [`Mempool::by_signer`].
    signer: Signer,
    nonce: u64,
}

/// The pool.
#[derive(Debug, Default)]
pub struct Mempool {
    limits: MempoolLimits,
    entries: HashMap<Digest, Entry>,
    by_signer: BTreeMap<Signer, BTreeMap<u64, Digest>>,
    /// For each signer whose queue has a gap (a missing nonce before some of its transactions),
    /// when a prune first saw it.
    gaps: HashMap<Signer, Timestamp>,
    bytes: usize,
    arrivals: u64,
}

impl Mempool {
    /// An empty pool with these limits.
    pub fn new(limits: MempoolLimits) -> Mempool {
        Mempool {
            limits,
            ..Mempool::default()
        }
    }

    /// Pooled transactions.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the pool is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Pooled bytes.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether a transaction is pooled.
    pub fn contains(&self, id: &Digest) -> bool {
        self.entries.contains_key(id)
    }

    /// Pools an admitted transaction of `size` encoded bytes, at time `now`.
    pub fn insert(
        &mut self,
        tx: Transaction,
        size: usize,
        admission: Admission,
        now: Timestamp,
    ) -> Result<Digest, MempoolError> {
        let id = tx.id();
        if self.entries.contains_key(&id) {
            return Err(MempoolError::Duplicate(id));
        }
        if self.entries.len() >= self.limits.max_txs
            || self.bytes.saturating_add(size) > self.limits.max_bytes
        {
            return Err(MempoolError::Full {
                txs: self.entries.len(),
                bytes: self.bytes,
            });
        }
        let queue = self.by_signer.entry(admission.signer.clone()).or_default();
        if queue.contains_key(&admission.nonce) {
            return Err(MempoolError::NonceTaken {
                signer: admission.signer,
                nonce: admission.nonce,
            });
        }
        queue.insert(admission.nonce, id);
        self.arrivals += 1;
        self.bytes += size;
        let entry = Entry {
            tx,
            size,
            arrival: self.arrivals,
            since: now,
            checked: admission.checked,
            signer: admission.signer,
            nonce: admission.nonce,
        };
        self.entries.insert(id, entry);
        Ok(id)
    }

    /// Whether the next proposal would take anything: some signer's transaction carries the
    /// nonce the committed state expects next. Transactions waiting behind a gap do not count,
    /// so they cannot keep an idle chain making empty blocks as fast as it can.
    pub fn has_ready(&self, next_nonce: impl Fn(&Signer) -> u64) -> bool {
        self.by_signer
            .iter()
            .any(|(signer, queue)| queue.contains_key(&next_nonce(signer)))
    }

    /// Up to `max_txs` transactions (and `max_bytes`) for a proposal: for each signer the run
    /// of consecutive nonces that starts at its next nonce in the committed state, runs taken in
    /// the order their first transaction arrived, so no signer can starve the others.
    pub fn select(
        &self,
        next_nonce: impl Fn(&Signer) -> u64,
        max_txs: usize,
        max_bytes: usize,
    ) -> Vec<Transaction> {
        let mut runs: Vec<(u64, Vec<&Entry>)> = Vec::new();
        for (signer, queue) in &self.by_signer {
            let mut expected = next_nonce(signer);
            let mut run = Vec::new();
            for (nonce, id) in queue.range(expected..) {
                if *nonce != expected {
                    break;
                }
                if let Some(e) = self.entries.get(id) {
                    run.push(e);
                }
                expected = expected.saturating_add(1);
            }
            if let Some(first) = run.first() {
                runs.push((first.arrival, run));
            }
        }
        runs.sort_by_key(|(arrival, _)| *arrival);
        // Round-robin across signers, one transaction each per turn, in arrival order.
        let mut out = Vec::new();
        let mut bytes = 0usize;
        let mut cursors: Vec<std::slice::Iter<'_, &Entry>> =
            runs.iter().map(|(_, r)| r.iter()).collect();
        'fill: loop {
            let mut progressed = false;
            for c in cursors.iter_mut() {
                let Some(e) = c.next() else { continue };
                if out.len() >= max_txs || bytes.saturating_add(e.size) > max_bytes {
                    break 'fill;
                }
                bytes += e.size;
                out.push(e.tx.clone());
                progressed = true;
            }
            if !progressed {
                break;
            }
        }
        out
    }

    /// For the transactions of `txs` held here, the keys whose signatures admission checked,
    /// so execution does not check them again.
    pub fn checked_for(&self, txs: &[Transaction]) -> HashMap<Digest, Vec<PublicKey>> {
        txs.iter()
            .filter_map(|t| {
                let id = t.id();
                self.entries.get(&id).map(|e| (id, e.checked.clone()))
            })
            .collect()
    }

    /// Drops the transactions a committed block carried, whatever their outcome. One that
    /// failed without spending its nonce (its issuer's key revoked meanwhile, say) would
    /// otherwise stay first in its signer's queue and be proposed in every block after.
    pub fn remove_committed(&mut self, txs: &[Transaction]) {
        for t in txs {
            let Some(e) = self.entries.remove(&t.id()) else {
                continue;
            };
            self.bytes -= e.size;
            if let Some(queue) = self.by_signer.get_mut(&e.signer) {
                queue.remove(&e.nonce);
                if queue.is_empty() {
                    self.by_signer.remove(&e.signer);
                }
            }
        }
    }

    /// Drops every transaction whose nonce the committed state has passed (committed, or
    /// replaced by another with the same nonce), and every one that has waited behind a missing
    /// nonce of its signer for longer than `max_gap_wait_ms` at time `now`: the gap has been
    /// there that long (since a prune first saw it) and so has the transaction. Returns how many
    /// of the latter it dropped. Called after every commit, so a gap's age is known to a block.
    pub fn prune(&mut self, next_nonce: impl Fn(&Signer) -> u64, now: Timestamp) -> usize {
        let mut dropped = Vec::new();
        let mut stuck = 0;
        let entries = &self.entries;
        let gaps = &mut self.gaps;
        let max_wait = self.limits.max_gap_wait_ms;
        self.by_signer.retain(|signer, queue| {
            let next = next_nonce(signer);
            let mut keep = queue.split_off(&next);
            dropped.extend(queue.values().copied());
            // The run of consecutive nonces from `next` can execute; past its end, a gap.
            let mut expected = next;
            let mut gap = None;
            for nonce in keep.keys() {
                if *nonce != expected {
                    gap = Some(*nonce);
                    break;
                }
                expected = expected.saturating_add(1);
            }
            match gap {
                None => {
                    gaps.remove(signer);
                }
                Some(first_behind) => {
                    let seen = *gaps.entry(signer.clone()).or_insert(now);
                    if now.since(seen) > max_wait {
                        keep.retain(|nonce, id| {
                            let waited_out = *nonce >= first_behind
                                && entries
                                    .get(id)
                                    .is_some_and(|e| now.since(e.since) > max_wait);
                            if waited_out {
                                dropped.push(*id);
                                stuck += 1;
                            }
                            !waited_out
                        });
                    }
                }
            }
            *queue = keep;
            if queue.is_empty() {
                gaps.remove(signer);
            }
            !queue.is_empty()
        });
        for id in dropped {
            if let Some(e) = self.entries.remove(&id) {
                self.bytes -= e.size;
            }
        }
        stuck
    }
}

#[cfg(test)]
mod tests;
