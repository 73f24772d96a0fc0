//! The one module that wires the node's parts: it takes decided blocks through execution
//! into storage and builds proposals ([`Ledger`]), and joins the ledger, the mempool, the
//! API, consensus and the relay of transactions ([`Node`]).

mod chain;
mod node;

pub use node::Node;

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use credledger_core::block::{
    Block, CommitCertificate, HEADER_VERSION, Header, ValidatorSet, transactions_root,
};
use credledger_core::bounded::BoundedVec;
use credledger_core::exec::{BlockEnv, CheckedSignatures};
use credledger_core::genesis::Genesis;
use credledger_core::hash::Digest;
use credledger_core::ids::{Height, Timestamp};
use credledger_core::state::{StateKey, StateValue};
use credledger_core::tx::Transaction;

use crate::execution::{self, ExecError, Executed};
use crate::storage::{BlockWrite, Store, StoreError, TxLocation};

/// Why a block was not committed.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Execution failed or disagrees with the header.
    #[error(transparent)]
    Exec(#[from] ExecError),
    /// The block is not the next one of this chain.
    #[error("block {height} does not link to the last committed block: {reason}")]
    NotNext {
        /// Height offered.
        height: Height,
        /// What does not match.
        reason: String,
    },
    /// The commit certificate does not certify the block.
    #[error("commit of block {height}: {error}")]
    Commit {
        /// Height.
        height: Height,
        /// Why.
        error: credledger_core::block::CommitError,
    },
    /// A header field does not match what the block does.
    #[error("header of block {height} is wrong: {reason}")]
    BadHeader {
        /// Height.
        height: Height,
        /// Which field and why.
        reason: String,
    },
    /// The state holds no valid validator set.
    #[error("the state holds no validator set")]
    NoValidators,
}

/// How far ahead of a validator's clock a proposed block's time may be.
pub const MAX_CLOCK_AHEAD_MS: u64 = 10_000;

/// A validator's or observer's ledger: genesis, storage, and the commit path.
pub struct Ledger {
    genesis: Genesis,
    store: Store,
    /// Executions of recent proposals on the current tip, so the block that is decided is not
    /// executed a second time to commit it: `(block hash, state root before, execution)`.
    executed: Mutex<Vec<(Digest, Digest, Executed)>>,
    /// Recent cost of executing one transaction, in ns (a moving average), which bounds how
    /// many transactions a proposal takes.
    tx_cost_ns: AtomicU64,
}

/// Proposals whose execution is kept for the commit.
const EXECUTED_KEPT: usize = 4;

impl Ledger {
    /// Opens the data folder for `genesis`, creating the genesis state on first start.
    pub fn open(dir: &Path, genesis: Genesis) -> Result<Ledger, StoreError> {
        let store = Store::open(dir)?;
        store.init(&genesis)?;
        Ok(Ledger {
            genesis,
            store,
            executed: Mutex::new(Vec::new()),
            tx_cost_ns: AtomicU64::new(200_000),
        })
    }

    /// The storage, for reads.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The genesis.
    pub fn genesis(&self) -> &Genesis {
        &self.genesis
    }

    /// How many transactions a proposal can execute within `budget`, by the recent cost.
    pub fn txs_within(&self, budget: std::time::Duration) -> usize {
        let cost = self.tx_cost_ns.load(Ordering::Relaxed).max(1);
        (budget.as_nanos() / u128::from(cost)).min(usize::MAX as u128) as usize
    }

    fn note_cost(&self, txs: usize, took: std::time::Duration) {
        if txs < 10 {
            return;
        }
        let new = (took.as_nanos() / txs as u128).min(u128::from(u32::MAX)) as u64;
        let old = self.tx_cost_ns.load(Ordering::Relaxed);
        self.tx_cost_ns
            .store((old * 3 + new) / 4, Ordering::Relaxed);
    }

    fn remember(&self, block: Digest, root: Digest, executed: &Executed) {
        if let Ok(mut kept) = self.executed.lock() {
            kept.retain(|(b, r, _)| *r == root && *b != block);
            if kept.len() >= EXECUTED_KEPT {
                kept.remove(0);
            }
            kept.push((block, root, executed.clone()));
        }
    }

    fn recall(&self, block: &Digest, root: &Digest) -> Option<Executed> {
        let kept = self.executed.lock().ok()?;
        kept.iter()
            .find(|(b, r, _)| b == block && r == root)
            .map(|(_, _, e)| e.clone())
    }

    /// The validator set that must sign the next block: the set in the current state.
    pub fn next_validators(&self) -> Result<ValidatorSet, CommitError> {
        match self.store.value(&StateKey::Validators)? {
            Some(StateValue::Validators { set }) => Ok(set),
            _ => Err(CommitError::NoValidators),
        }
    }

    /// Hash and time of the last committed block (genesis for none).
    fn tip(&self) -> Result<(Height, Digest, Timestamp), CommitError> {
        let last = self.store.last_height()?;
        if last == Height(0) {
            return Ok((last, self.genesis.hash(), self.genesis.genesis_time));
        }
        let h = self.store.header(last)?.ok_or(StoreError::Corrupt {
            column: "headers",
            reason: format!("header {last} missing"),
        })?;
        Ok((last, h.hash(), h.time))
    }

    /// Builds the next block from `txs` at `time` (a proposal: executed speculatively, nothing
    /// written). Refused transactions stay in the block with their receipts, as every validator
    /// will record them alike.
    pub fn propose(
        &self,
        txs: Vec<Transaction>,
        time: Timestamp,
        proposer: u16,
        checked: &dyn CheckedSignatures,
    ) -> Result<Block, CommitError> {
        let (last, previous, last_time) = self.tip()?;
        let height = last.next().ok_or(CommitError::NotNext {
            height: last,
            reason: "height overflow".into(),
        })?;
        // Block times strictly increase, whatever the proposer's clock says.
        let time = if time <= last_time {
            last_time.plus_ms(1)
        } else {
            time
        };
        let env = BlockEnv {
            chain_id: self.genesis.chain_id.clone(),
            height,
            time,
        };
        let root = self.store.state_root()?;
        let started = std::time::Instant::now();
        let executed = execution::execute(&self.store, root, &env, &txs, checked)?;
        self.note_cost(txs.len(), started.elapsed());
        let validators = self.next_validators()?;
        let next = executed.next_validators_hash(&validators);
        let header = Header {
            version: HEADER_VERSION,
            chain_id: self.genesis.chain_id.clone(),
            height,
            time,
            previous,
            transactions_root: transactions_root(&txs),
            state_root: executed.root,
            anchors_root: executed.anchors_root,
            validators_hash: validators.hash(),
            next_validators_hash: next,
            proposer,
        };
        let transactions = BoundedVec::new(txs).map_err(|e| CommitError::NotNext {
            height,
            reason: e.to_string(),
        })?;
        let block = Block {
            header,
            transactions,
        };
        self.remember(block.header.hash(), root, &executed);
        Ok(block)
    }

    /// Checks that `block` is a valid next block, short of its commit certificate: it links to
    /// the tip, names this chain, a later time, a known version and a proposer in the set, and
    /// executing it gives its header's roots and next validator set. Returns the execution.
    fn check_next(
        &self,
        block: &Block,
        checked: &dyn CheckedSignatures,
    ) -> Result<(Executed, ValidatorSet), CommitError> {
        let h = &block.header;
        let (last, previous, last_time) = self.tip()?;
        let not_next = |reason: String| CommitError::NotNext {
            height: h.height,
            reason,
        };
        if Some(h.height) != last.next() {
            return Err(not_next(format!("the last committed height is {last}")));
        }
        if h.previous != previous {
            return Err(not_next(format!(
                "previous hash {} is not {previous}",
                h.previous
            )));
        }
        if h.chain_id != self.genesis.chain_id {
            return Err(not_next(format!(
                "chain {} is not {}",
                h.chain_id, self.genesis.chain_id
            )));
        }
        if h.time <= last_time {
            return Err(not_next(format!(
                "time {} is not after {last_time}",
                h.time
            )));
        }
        let set = self.next_validators()?;
        let bad_header = |reason: String| CommitError::BadHeader {
            height: h.height,
            reason,
        };
        if h.version != HEADER_VERSION {
            return Err(bad_header(format!("version {}", h.version)));
        }
        if h.validators_hash != set.hash() {
            return Err(bad_header(format!(
                "validators hash {} is not {}",
                h.validators_hash,
                set.hash()
            )));
        }
        if usize::from(h.proposer) >= set.validators().len() {
            return Err(bad_header(format!("proposer index {}", h.proposer)));
        }
        // The cached execution is keyed by the header's hash, which pins the body only through
        // the transactions root: check that first, whatever the cache holds.
        if !block.transactions_match() {
            return Err(ExecError::TransactionsRoot.into());
        }
        let root = self.store.state_root()?;
        let hash = h.hash();
        let executed = match self.recall(&hash, &root) {
            Some(e) => e,
            None => {
                let started = std::time::Instant::now();
                let e = execution::execute_decided(&self.store, root, block, checked)?;
                self.note_cost(block.transactions.len(), started.elapsed());
                self.remember(hash, root, &e);
                e
            }
        };
        // Light clients follow validator-set changes by this field, so it must be what the
        // block's execution left in the state (spec/blocks.md §5).
        let next = executed.next_validators_hash(&set);
        if h.next_validators_hash != next {
            return Err(bad_header(format!(
                "next validators hash {} is not {next}",
                h.next_validators_hash
            )));
        }
        Ok((executed, set))
    }

    /// Checks a proposed next block (nothing is written). `now` bounds its time: a proposer
    /// may not date a block more than [`MAX_CLOCK_AHEAD_MS`] ahead of this node's clock.
    /// `None` for a block that arrives decided (by sync): more than 2/3 of the validators
    /// signed it whatever this node's clock says, and a node whose clock is behind must still
    /// catch up.
    pub fn check_proposal(
        &self,
        block: &Block,
        now: Option<Timestamp>,
        checked: &dyn CheckedSignatures,
    ) -> Result<(), CommitError> {
        if let Some(now) = now
            && block.header.time > now.plus_ms(MAX_CLOCK_AHEAD_MS)
        {
            return Err(CommitError::BadHeader {
                height: block.header.height,
                reason: format!(
                    "time {} is ahead of this node's clock {now}",
                    block.header.time
                ),
            });
        }
        self.check_next(block, checked).map(|_| ())
    }

    /// Commits a decided block: checks that its commit certificate carries more than 2/3 of
    /// the current set's power and that it is a valid next block (`check_next`); then
    /// writes it and everything it changes in one synced batch.
    pub fn commit(
        &self,
        block: &Block,
        commit: &CommitCertificate,
        checked: &dyn CheckedSignatures,
    ) -> Result<(), CommitError> {
        let h = &block.header;
        let set = self.next_validators()?;
        commit
            .verify(h, &set)
            .map_err(|error| CommitError::Commit {
                height: h.height,
                error,
            })?;
        let (executed, set) = self.check_next(block, checked)?;
        let receipts = executed
            .outcome
            .receipts
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let error = r.result.as_ref().err().map(ToString::to_string);
                (
                    r.tx_id,
                    TxLocation {
                        height: h.height,
                        index: i as u32,
                        error,
                    },
                )
            })
            .collect();
        let events = executed
            .outcome
            .events
            .iter()
            .map(|e| {
                let key = StateKey::Credential(e.issuer.clone(), e.id);
                (key.hash(), e.event.clone())
            })
            .collect();
        let next_set = executed
            .next_set()
            .filter(|s| s.hash() != set.hash())
            .cloned();
        let anchors = executed.outcome.anchors();
        self.store.write_block(&BlockWrite {
            block: block.clone(),
            commit: commit.clone(),
            receipts,
            values: executed.outcome.writes,
            nodes: executed.nodes,
            root: executed.root,
            next_set,
            events,
            anchors,
        })?;
        if let Ok(mut kept) = self.executed.lock() {
            kept.clear();
        }
        tracing::info!(target: "credledger::commit", height = h.height.0, txs = block.transactions.len(), root = %executed.root, "block committed");
        Ok(())
    }
}
