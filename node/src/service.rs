//! The one module that wires the node's parts: it takes decided blocks through execution
//! into storage, and builds proposals. (Consensus, network and API attach here.)

use std::path::Path;
use std::sync::{Mutex, RwLock};

use credledger_core::block::{
    Block, CommitCertificate, HEADER_VERSION, Header, MAX_BLOCK_BYTES, ValidatorSet,
    transactions_root,
};
use credledger_core::bounded::BoundedVec;
use credledger_core::encoding::decode;
use credledger_core::exec::{BlockEnv, Signer, admit};
use credledger_core::genesis::Genesis;
use credledger_core::hash::Digest;
use credledger_core::ids::{Height, Timestamp};
use credledger_core::state::{StateKey, StateValue};
use credledger_core::tx::{MAX_TX_BYTES, Transaction};

use crate::api::{ApiError, Backend, NodeStatus, StateAnswer, TxStatus};
use crate::execution::{self, ExecError};
use crate::mempool::{Mempool, MempoolError, MempoolLimits};
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

/// A validator's or observer's ledger: genesis, storage, and the commit path.
pub struct Ledger {
    genesis: Genesis,
    store: Store,
}

impl Ledger {
    /// Opens the data folder for `genesis`, creating the genesis state on first start.
    pub fn open(dir: &Path, genesis: Genesis) -> Result<Ledger, StoreError> {
        let store = Store::open(dir)?;
        store.init(&genesis)?;
        Ok(Ledger { genesis, store })
    }

    /// The storage, for reads.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The genesis.
    pub fn genesis(&self) -> &Genesis {
        &self.genesis
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
        let executed = execution::execute(&self.store, root, &env, &txs)?;
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
            validators_hash: validators.hash(),
            next_validators_hash: next,
            proposer,
        };
        let transactions = BoundedVec::new(txs).map_err(|e| CommitError::NotNext {
            height,
            reason: e.to_string(),
        })?;
        Ok(Block {
            header,
            transactions,
        })
    }

    /// Commits a decided block: checks that it follows the tip, that its commit certificate
    /// carries more than 2/3 of the current set's power, and that executing it gives its
    /// header's state root; then writes it and everything it changes in one synced batch.
    pub fn commit(&self, block: &Block, commit: &CommitCertificate) -> Result<(), CommitError> {
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
        commit
            .verify(h, &set)
            .map_err(|error| CommitError::Commit {
                height: h.height,
                error,
            })?;
        if h.version != HEADER_VERSION {
            return Err(CommitError::BadHeader {
                height: h.height,
                reason: format!("version {}", h.version),
            });
        }
        if usize::from(h.proposer) >= set.validators().len() {
            return Err(CommitError::BadHeader {
                height: h.height,
                reason: format!("proposer index {}", h.proposer),
            });
        }
        let executed = execution::execute_decided(&self.store, self.store.state_root()?, block)?;
        // Light clients follow validator-set changes by this field, so it must be what the
        // block's execution left in the state (spec/blocks.md §5).
        let next = executed.next_validators_hash(&set);
        if h.next_validators_hash != next {
            return Err(CommitError::BadHeader {
                height: h.height,
                reason: format!(
                    "next validators hash {} is not {next}",
                    h.next_validators_hash
                ),
            });
        }
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
        self.store.write_block(&BlockWrite {
            block: block.clone(),
            commit: commit.clone(),
            receipts,
            values: executed.outcome.writes,
            nodes: executed.nodes,
            root: executed.root,
        })?;
        tracing::info!(target: "credledger::commit", height = h.height.0, txs = block.transactions.len(), root = %executed.root, "block committed");
        Ok(())
    }
}

/// A running node's parts, shared between consensus, the API and the network: the ledger
/// (commits serialized against reads by a lock, so every answer is of one height) and the
/// mempool.
pub struct Node {
    ledger: RwLock<Ledger>,
    mempool: Mutex<Mempool>,
    clock: Box<dyn Fn() -> Timestamp + Send + Sync>,
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
        }
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

    /// Builds the next block from the mempool (at most `max_txs` transactions).
    pub fn propose(&self, proposer: u16, max_txs: usize) -> Result<Block, CommitError> {
        let ledger = self.ledger.read().map_err(|_| CommitError::NoValidators)?;
        let txs = {
            let pool = self.mempool.lock().map_err(|_| CommitError::NoValidators)?;
            pool.select(
                |s| Self::next_nonce(ledger.store(), s),
                max_txs,
                MAX_BLOCK_BYTES / 2,
            )
        };
        ledger.propose(txs, (self.clock)(), proposer)
    }

    /// Commits a decided block and drops what it made stale from the mempool.
    pub fn commit(&self, block: &Block, commit: &CommitCertificate) -> Result<(), CommitError> {
        let ledger = self.ledger.write().map_err(|_| CommitError::NoValidators)?;
        ledger.commit(block, commit)?;
        if let Ok(mut pool) = self.mempool.lock() {
            pool.prune(|s| Self::next_nonce(ledger.store(), s));
        }
        Ok(())
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

    fn submit(&self, bytes: &[u8]) -> Result<Digest, ApiError> {
        let tx: Transaction = decode(bytes, MAX_TX_BYTES)
            .map_err(|e| ApiError::BadRequest(format!("transaction bytes: {e}")))?;
        let ledger = self.ledger()?;
        let chain = ledger.genesis().chain_id.clone();
        let admission = admit(
            ledger.store(),
            &chain,
            (self.clock)(),
            std::slice::from_ref(&tx),
        )
        .pop()
        .ok_or_else(|| internal("admission returned nothing"))?
        .map_err(|e| ApiError::Refused(e.to_string()))?;
        let id = tx.id();
        if ledger.store().tx(&id).map_err(internal)?.is_some() {
            return Err(ApiError::Refused(format!(
                "transaction {id} is already committed"
            )));
        }
        self.pool()?
            .insert(tx, bytes.len(), admission)
            .map_err(|e| match e {
                MempoolError::Full { .. } => ApiError::Unavailable(e.to_string()),
                other => ApiError::Refused(other.to_string()),
            })
    }

    fn state(&self, key: &StateKey) -> Result<StateAnswer, ApiError> {
        let ledger = self.ledger()?;
        let store = ledger.store();
        let height = store.last_height().map_err(internal)?;
        if height == Height(0) {
            return Err(ApiError::Unavailable("no block is committed yet".into()));
        }
        let (Some(header), Some(commit)) = (
            store.header(height).map_err(internal)?,
            store.commit(height).map_err(internal)?,
        ) else {
            return Err(internal(format!(
                "block {height} is missing its header or commit"
            )));
        };
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
