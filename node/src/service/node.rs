//! The running node: ledger and mempool behind locks, shared by consensus, the API and the
//! relay of transactions.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use credledger_core::block::{Block, CommitCertificate, Header, MAX_BLOCK_BYTES, ValidatorSet};
use credledger_core::bounded::BoundedVec;
use credledger_core::encoding::decode;
use credledger_core::exec::{Signer, TxError, admit};
use credledger_core::hash::Digest;
use credledger_core::history::{CredentialEvent, MAX_HISTORY_EVENTS};
use credledger_core::ids::{Height, LogSourceId, Timestamp};
use credledger_core::merkle::{inclusion_proof, leaf_hash};
use credledger_core::sig::PublicKey;
use credledger_core::state::{StateKey, StateValue};
use credledger_core::tx::{MAX_TX_BYTES, Transaction};
use credledger_core::verify::AnchorEvidence;
use tokio::sync::{Notify, broadcast};

use super::{CommitError, Ledger};
use crate::api::{ApiError, Backend, NodeStatus, StateAnswer, TxStatus};
use crate::consensus::app::Progress;
use crate::mempool::{Mempool, MempoolError, MempoolLimits};
use crate::relay::Intake;
use crate::storage::Store;

/// A running node's parts, shared between consensus, the API and the network: the ledger
/// (commits serialized against reads by a lock, so every answer is of one height) and the
/// mempool.
pub struct Node {
    ledger: RwLock<Ledger>,
    mempool: Mutex<Mempool>,
    clock: Box<dyn Fn() -> Timestamp + Send + Sync>,
    /// Admitted transactions to pass on to the other nodes (set when relaying is on).
    relay: OnceLock<Intake>,
    /// Consensus height and round (set when consensus runs).
    progress: OnceLock<Arc<Progress>>,
    /// Each committed height, for streams of new headers.
    /// Heights as they are committed, to the API's header streams and waiting submissions;
    /// `None` once the node stops, which ends them.
    commits: Mutex<Option<broadcast::Sender<Height>>>,
    /// Transactions in blocks committed since start.
    committed_txs: AtomicU64,
    /// Each recent block's time and transaction count, for the commit rate.
    recent: Mutex<VecDeque<(Timestamp, u64)>>,
    /// Notified when the mempool takes a transaction: a proposer holding back an empty block
    /// proposes at once.
    arrivals: Arc<Notify>,
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(e.to_string())
}

impl Node {
    /// A node over `ledger`; `clock` tells the time for admission checks and proposals.
    pub fn new(
        ledger: Ledger,
        limits: MempoolLimits,
        clock: Box<dyn Fn() -> Timestamp + Send + Sync>,
    ) -> Node {
        Node {
            ledger: RwLock::new(ledger),
            mempool: Mutex::new(Mempool::new(limits)),
            clock,
            relay: OnceLock::new(),
            progress: OnceLock::new(),
            commits: Mutex::new(Some(broadcast::channel(64).0)),
            committed_txs: AtomicU64::new(0),
            recent: Mutex::new(VecDeque::new()),
            arrivals: Arc::new(Notify::new()),
        }
    }

    /// Passes every transaction this node admits from a client on to `relay`.
    pub fn relay_to(&self, relay: Intake) {
        let _ = self.relay.set(relay);
    }

    /// Reports consensus progress in the status.
    pub fn watch_progress(&self, progress: Arc<Progress>) {
        let _ = self.progress.set(progress);
    }

    /// Heights as they are committed.
    pub fn subscribe_commits(&self) -> broadcast::Receiver<Height> {
        match self.commits.lock().as_deref() {
            Ok(Some(tx)) => tx.subscribe(),
            // Stopping: a receiver whose sender is gone ends at once.
            _ => broadcast::channel(1).1,
        }
    }

    /// Ends every header stream and commit wait, for a clean stop that need not wait for the
    /// clients reading them.
    pub fn end_streams(&self) {
        if let Ok(mut tx) = self.commits.lock() {
            tx.take();
        }
    }

    /// The node's clock.
    pub fn now(&self) -> Timestamp {
        (self.clock)()
    }

    /// Runs `f` on the ledger under the read lock.
    pub fn with_ledger<T>(
        &self,
        f: impl FnOnce(&Ledger) -> Result<T, CommitError>,
    ) -> Result<T, CommitError> {
        let ledger = self.ledger.read().map_err(|_| CommitError::NoValidators)?;
        f(&ledger)
    }

    /// Admits encoded transactions to the mempool, checking all their signatures in one batch;
    /// one result per transaction, in order.
    pub fn admit_encoded(&self, raw: &[Vec<u8>]) -> Vec<Result<Digest, ApiError>> {
        let mut out: Vec<Result<Digest, ApiError>> = Vec::with_capacity(raw.len());
        let mut txs = Vec::with_capacity(raw.len());
        let mut slots = Vec::with_capacity(raw.len());
        for bytes in raw {
            match decode::<Transaction>(bytes, MAX_TX_BYTES) {
                Ok(tx) => {
                    slots.push((out.len(), bytes.len()));
                    txs.push(tx);
                    out.push(Err(internal("not admitted")));
                }
                Err(e) => out.push(Err(ApiError::BadRequest(format!("transaction bytes: {e}")))),
            }
        }
        let ledger = match self.ledger() {
            Ok(l) => l,
            Err(e) => return raw.iter().map(|_| Err(e.clone())).collect(),
        };
        let chain = ledger.genesis().chain_id.clone();
        let now = (self.clock)();
        let admissions = admit(ledger.store(), &chain, now, &txs);
        let Ok(mut pool) = self.pool() else {
            return raw
                .iter()
                .map(|_| Err(internal("mempool lock poisoned")))
                .collect();
        };
        for ((tx, admission), (slot, len)) in txs.into_iter().zip(admissions).zip(slots) {
            let id = tx.id();
            // A nonce behind the state, a duplicate or a nonce held by a pending transaction
            // is a conflict, not a refusal: this very transaction may be the one that holds
            // the nonce, so only its status tells (spec/http-api.md §1).
            out[slot] = match admission {
                Err(e @ (TxError::WrongNonce { .. } | TxError::WrongSequence { .. })) => {
                    Err(ApiError::Conflict(e.to_string()))
                }
                Err(e) => Err(ApiError::Refused(e.to_string())),
                Ok(_) if matches!(ledger.store().tx(&id), Ok(Some(_))) => Err(ApiError::Conflict(
                    format!("transaction {id} is already committed"),
                )),
                Ok(a) => pool.insert(tx, len, a, now).map_err(|e| match e {
                    MempoolError::Full { .. } => ApiError::Unavailable(e.to_string()),
                    MempoolError::Duplicate(_) | MempoolError::NonceTaken { .. } => {
                        ApiError::Conflict(e.to_string())
                    }
                }),
            };
        }
        drop(pool);
        if out.iter().any(Result::is_ok) {
            // One stored permit covers any number of arrivals until the proposer looks.
            self.arrivals.notify_one();
        }
        out
    }

    /// Notified when the mempool takes a transaction.
    pub(crate) fn arrivals(&self) -> Arc<Notify> {
        self.arrivals.clone()
    }

    fn ledger(&self) -> Result<std::sync::RwLockReadGuard<'_, Ledger>, ApiError> {
        self.ledger
            .read()
            .map_err(|_| internal("ledger lock poisoned"))
    }

    fn pool(&self) -> Result<std::sync::MutexGuard<'_, Mempool>, ApiError> {
        self.mempool
            .lock()
            .map_err(|_| internal("mempool lock poisoned"))
    }

    /// Transactions in the mempool, ready or not.
    pub(crate) fn mempool_len(&self) -> usize {
        self.mempool.lock().map(|p| p.len()).unwrap_or(0)
    }

    /// Whether the next proposal would take a transaction from the mempool (no, if a lock is
    /// poisoned: nothing can be taken then either).
    pub(crate) fn has_ready_transactions(&self) -> bool {
        let Ok(ledger) = self.ledger.read() else {
            return false;
        };
        self.mempool
            .lock()
            .is_ok_and(|p| p.has_ready(|s| Self::next_nonce(ledger.store(), s)))
    }

    /// The next nonce the committed state expects from a signer.
    fn next_nonce(store: &Store, signer: &Signer) -> u64 {
        let value = match signer {
            Signer::Issuer(i) => store.value(&StateKey::IssuerNonce(i.clone())),
            Signer::Council => store.value(&StateKey::Governance),
            Signer::LogSource(s) => store.value(&StateKey::LogSource(s.clone())),
        };
        match value {
            Ok(Some(StateValue::Nonce { next })) => next.0,
            Ok(Some(StateValue::Governance(g))) => g.next_nonce.0,
            Ok(Some(StateValue::LogSource(s))) => s.last_sequence.saturating_add(1),
            _ => 0,
        }
    }

    /// Sets how long building a proposal may take (a fraction of the propose timeout); the
    /// number of transactions a block takes follows from the recent execution cost.
    /// Builds the next block from the mempool (at most `max_txs` transactions, and no more
    /// than execute within `budget`).
    pub fn propose(
        &self,
        proposer: u16,
        max_txs: usize,
        budget: std::time::Duration,
    ) -> Result<Block, CommitError> {
        let ledger = self.ledger.read().map_err(|_| CommitError::NoValidators)?;
        let max_txs = max_txs.min(ledger.txs_within(budget)).max(1);
        let (txs, checked) = {
            let pool = self.mempool.lock().map_err(|_| CommitError::NoValidators)?;
            let txs = pool.select(
                |s| Self::next_nonce(ledger.store(), s),
                max_txs,
                MAX_BLOCK_BYTES / 2,
            );
            let checked = pool.checked_for(&txs);
            (txs, checked)
        };
        ledger.propose(txs, (self.clock)(), proposer, &checked)
    }

    /// The signature checks admission already made for `block`'s transactions.
    pub fn checked_for(&self, block: &Block) -> HashMap<Digest, Vec<PublicKey>> {
        self.mempool
            .lock()
            .map(|pool| pool.checked_for(&block.transactions))
            .unwrap_or_default()
    }

    /// Commits a decided block and drops what it made stale from the mempool.
    pub fn commit(&self, block: &Block, commit: &CommitCertificate) -> Result<(), CommitError> {
        let checked = self.checked_for(block);
        let ledger = self.ledger.write().map_err(|_| CommitError::NoValidators)?;
        ledger.commit(block, commit, &checked)?;
        if let Ok(mut pool) = self.mempool.lock() {
            pool.remove_committed(&block.transactions);
            let stuck = pool.prune(|s| Self::next_nonce(ledger.store(), s), (self.clock)());
            if stuck > 0 {
                tracing::info!(
                    dropped = stuck,
                    "dropped transactions that waited too long behind a missing nonce"
                );
            }
        }
        self.committed_txs
            .fetch_add(block.transactions.len() as u64, Ordering::Relaxed);
        if let Ok(mut recent) = self.recent.lock() {
            let t = block.header.time;
            recent.push_back((t, block.transactions.len() as u64));
            while recent
                .front()
                .is_some_and(|(old, _)| t.since(*old) > RATE_WINDOW_MS)
            {
                recent.pop_front();
            }
        }
        if let Ok(Some(tx)) = self.commits.lock().as_deref() {
            let _ = tx.send(block.header.height);
        }
        Ok(())
    }
}

/// The window of the commit rate.
const RATE_WINDOW_MS: u64 = 10_000;

impl Node {
    /// Transactions per second in blocks whose time is within the last 10 s by this node's
    /// clock (a stalled chain falls to 0).
    fn commit_rate(&self) -> f64 {
        let now = (self.clock)();
        let txs: u64 = self
            .recent
            .lock()
            .map(|r| {
                r.iter()
                    .filter(|(t, _)| now.since(*t) < RATE_WINDOW_MS)
                    .map(|(_, n)| n)
                    .sum()
            })
            .unwrap_or(0);
        txs as f64 / (RATE_WINDOW_MS as f64 / 1000.0)
    }
}

impl Backend for Node {
    fn status(&self) -> Result<NodeStatus, ApiError> {
        let ledger = self.ledger()?;
        let pool = self.pool()?;
        Ok(NodeStatus {
            chain_id: ledger.genesis().chain_id.clone(),
            genesis_hash: ledger.genesis().hash(),
            height: ledger.store().last_height().map_err(internal)?,
            state_root: ledger.store().state_root().map_err(internal)?,
            mempool_txs: pool.len(),
            mempool_bytes: pool.bytes(),
            committed_txs: self.committed_txs.load(Ordering::Relaxed),
            tx_per_s: self.commit_rate(),
            round: self.progress.get().map(|p| p.round.load(Ordering::Relaxed)),
            peers: self.progress.get().map(|p| p.peers.load(Ordering::Relaxed)),
            absent_validators: self
                .progress
                .get()
                .map(|p| p.absent.load(Ordering::Relaxed)),
        })
    }

    fn header(&self, height: Height) -> Result<Option<(Header, CommitCertificate)>, ApiError> {
        let ledger = self.ledger()?;
        let store = ledger.store();
        match (
            store.header(height).map_err(internal)?,
            store.commit(height).map_err(internal)?,
        ) {
            (Some(h), Some(c)) => Ok(Some((h, c))),
            _ => Ok(None),
        }
    }

    fn validators(&self, height: Height) -> Result<Option<ValidatorSet>, ApiError> {
        self.ledger()?
            .store()
            .validator_set(height)
            .map_err(internal)
    }

    fn validator_set_starts(&self) -> Result<Vec<(Height, Digest)>, ApiError> {
        self.ledger()?
            .store()
            .validator_set_starts(MAX_SET_STARTS)
            .map_err(internal)
    }

    fn block(&self, height: Height) -> Result<Option<Block>, ApiError> {
        self.ledger()?.store().block(height).map_err(internal)
    }

    fn tx(&self, id: &Digest) -> Result<TxStatus, ApiError> {
        if let Some(loc) = self.ledger()?.store().tx(id).map_err(internal)? {
            return Ok(TxStatus::Committed {
                height: loc.height,
                index: loc.index,
                error: loc.error,
            });
        }
        Ok(if self.pool()?.contains(id) {
            TxStatus::Pending
        } else {
            TxStatus::Unknown
        })
    }

    fn submit(&self, batch: Vec<Vec<u8>>) -> Vec<Result<Digest, ApiError>> {
        let results = self.admit_encoded(&batch);
        if let Some(relay) = self.relay.get() {
            for (bytes, result) in batch.into_iter().zip(&results) {
                // A full relay queue drops the copy, not the transaction: this node still
                // holds it and proposes it in its turn.
                if result.is_ok() {
                    relay.try_send(bytes);
                }
            }
        }
        results
    }

    fn relayed(&self, batch: &[Vec<u8>]) -> Result<usize, ApiError> {
        Ok(self
            .admit_encoded(batch)
            .iter()
            .filter(|r| r.is_ok())
            .count())
    }

    fn subscribe(&self) -> broadcast::Receiver<Height> {
        self.subscribe_commits()
    }

    fn state(&self, key: &StateKey) -> Result<StateAnswer, ApiError> {
        state_answer(self.ledger()?.store(), key)
    }

    fn credential_history(
        &self,
        key: &StateKey,
    ) -> Result<(StateAnswer, Vec<CredentialEvent>), ApiError> {
        // One read of the ledger for both, so the events are exactly those up to the header
        // the record is proven under.
        let ledger = self.ledger()?;
        let answer = state_answer(ledger.store(), key)?;
        let events = ledger
            .store()
            .credential_history(&key.hash(), answer.header.height, MAX_HISTORY_EVENTS + 1)
            .map_err(internal)?;
        if events.len() > MAX_HISTORY_EVENTS {
            return Err(ApiError::Refused(format!(
                "this credential has more than {MAX_HISTORY_EVENTS} events; its history is not served"
            )));
        }
        Ok((answer, events))
    }

    fn anchor_in_block(
        &self,
        source: &LogSourceId,
        sequence: u64,
    ) -> Result<Option<AnchorEvidence>, ApiError> {
        let ledger = self.ledger()?;
        let store = ledger.store();
        let key = StateKey::LogAnchor(source.clone(), sequence);
        let Some(StateValue::LogAnchor(record)) = store.value(&key).map_err(internal)? else {
            return Ok(None);
        };
        let h = record.height;
        let entries = store.block_anchors(h).map_err(internal)?;
        let position = entries
            .iter()
            .position(|e| &e.source == source && e.sequence == sequence)
            .ok_or_else(|| internal(format!("anchor #{sequence} is missing from block {h}")))?;
        let leaves: Vec<Digest> = entries.iter().map(|e| leaf_hash(&e.digest().0)).collect();
        let path = inclusion_proof(&leaves, position as u64).map_err(internal)?;
        let (header, commit) = committed_header(store, h)?;
        Ok(Some(AnchorEvidence {
            source: source.clone(),
            sequence,
            record,
            // A block holds at most MAX_BLOCK_TXS anchors, far below 2^32.
            position: u32::try_from(position).map_err(internal)?,
            anchors: u32::try_from(entries.len()).map_err(internal)?,
            path: BoundedVec::new(path).map_err(internal)?,
            header,
            commit,
        }))
    }
}

/// Most validator-set starts served: one a day for 27 years; the list is a hint that clients
/// check header by header, so a longer history is cut, never unbounded.
const MAX_SET_STARTS: usize = 10_000;

/// The header and commit certificate of committed block `h`; both are written with the block,
/// so one missing is a damaged database.
fn committed_header(store: &Store, h: Height) -> Result<(Header, CommitCertificate), ApiError> {
    match (
        store.header(h).map_err(internal)?,
        store.commit(h).map_err(internal)?,
    ) {
        (Some(header), Some(commit)) => Ok((header, commit)),
        _ => Err(internal(format!(
            "block {h} is missing its header or commit"
        ))),
    }
}

/// A state entry or its absence, proven under the latest committed header.
fn state_answer(store: &Store, key: &StateKey) -> Result<StateAnswer, ApiError> {
    {
        let height = store.last_height().map_err(internal)?;
        if height == Height(0) {
            return Err(ApiError::Unavailable("no block is committed yet".into()));
        }
        let (header, commit) = committed_header(store, height)?;
        let (found, proof) =
            credledger_core::smt::prove(store, header.state_root, &key.hash()).map_err(internal)?;
        let value = match found {
            Some(_) => store.value(key).map_err(internal)?,
            None => None,
        };
        Ok(StateAnswer {
            value,
            proof,
            header,
            commit,
        })
    }
}
