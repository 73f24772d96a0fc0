//! The state transition function: applies a decided block's transactions to the state
//! (spec/transactions.md). Pure and deterministic, so every validator reaches the same state
//! root; the node feeds it committed blocks only and writes what it returns.

mod admit;
mod anchor;
mod error;
mod governance;
mod issuer;
mod memstate;

pub use admit::{Admission, Signer, admit};
pub use error::TxError;
pub use memstate::MemState;

use std::collections::BTreeMap;

use crate::hash::Digest;
use crate::history::CredentialEvent;
use crate::ids::{ChainId, CredentialId, Height, IssuerId, Timestamp};
use crate::sig::PublicKey;
use crate::state::{StateKey, StateValue};
use crate::tx::Transaction;

/// Reads committed state values by key.
pub trait StateReader {
    /// The value under `key`, if any; `Err` only if the storage itself failed.
    fn read(&self, key: &StateKey) -> Result<Option<StateValue>, StateError>;
}

/// The state storage failed while a block ran; the block's outcome is void and nothing of it
/// may be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("state storage failed during execution: {0}")]
pub struct StateError(pub String);

/// The block being executed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockEnv {
    /// The chain.
    pub chain_id: ChainId,
    /// The block's height.
    pub height: Height,
    /// The block's time; every time rule uses it, never a local clock.
    pub time: Timestamp,
}

/// The outcome of one transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// The transaction's id.
    pub tx_id: Digest,
    /// `Ok` if its action took effect, else why not.
    pub result: Result<(), TxError>,
}

/// One credential event a block applied: what a node indexes to serve a credential's history
/// (spec/state.md §5.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppliedEvent {
    /// The issuer.
    pub issuer: IssuerId,
    /// The credential.
    pub id: CredentialId,
    /// What happened to it.
    pub event: CredentialEvent,
}

/// What a block did: one receipt per transaction, the state writes, sorted by tree key, and the
/// credential events of the transactions that took effect.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockOutcome {
    /// Receipts in transaction order.
    pub receipts: Vec<Receipt>,
    /// Writes, sorted by `StateKey::hash`, at most one per key.
    pub writes: Vec<(StateKey, StateValue)>,
    /// Credential events in the order they were applied.
    pub events: Vec<AppliedEvent>,
}

impl BlockOutcome {
    /// The T-Road anchors the block accepted, in the order of its writes (by state key): the
    /// leaves of the header's `anchors_root`.
    pub fn anchors(&self) -> Vec<crate::block::AnchorEntry> {
        self.writes
            .iter()
            .filter_map(|(k, v)| match (k, v) {
                (StateKey::LogAnchor(source, sequence), StateValue::LogAnchor(record)) => {
                    Some(crate::block::AnchorEntry {
                        source: source.clone(),
                        sequence: *sequence,
                        record: record.clone(),
                    })
                }
                _ => None,
            })
            .collect()
    }

    /// The writes as state-map entries (tree key, value hash) for `smt::update`.
    pub fn tree_entries(&self) -> Vec<(Digest, Digest)> {
        self.writes
            .iter()
            .map(|(k, v)| (k.hash(), v.hash()))
            .collect()
    }
}

/// Staged writes over the committed state.
struct Overlay<'a, R: StateReader> {
    base: &'a R,
    block: BTreeMap<Digest, (StateKey, StateValue)>,
    tx: BTreeMap<Digest, (StateKey, StateValue)>,
    /// Credential events of the block's kept transactions, and of the running one.
    block_events: Vec<AppliedEvent>,
    tx_events: Vec<AppliedEvent>,
    /// The first storage failure. Rules see a failed read as an absent value, which keeps them
    /// simple; `execute_block` then discards the whole outcome, so no rule's answer to a failed
    /// read is ever committed.
    failure: std::cell::RefCell<Option<StateError>>,
}

impl<R: StateReader> Overlay<'_, R> {
    fn get(&self, key: &StateKey) -> Option<StateValue> {
        let h = key.hash();
        if let Some((_, v)) = self.tx.get(&h).or_else(|| self.block.get(&h)) {
            return Some(v.clone());
        }
        match self.base.read(key) {
            Ok(v) => v,
            Err(e) => {
                self.failure.borrow_mut().get_or_insert(e);
                None
            }
        }
    }

    fn put(&mut self, key: StateKey, value: StateValue) {
        self.tx.insert(key.hash(), (key, value));
    }

    fn keep_tx(&mut self) {
        let staged = std::mem::take(&mut self.tx);
        self.block.extend(staged);
        self.block_events.append(&mut self.tx_events);
    }

    fn drop_tx(&mut self) {
        self.tx.clear();
        self.tx_events.clear();
    }
}

/// Signature checks a node has already made, by the rules execution would apply, for
/// transactions it admitted: `already_checked(tx, key)` says that every signature of
/// transaction `tx` made under `key` was checked and held (spec/transactions.md §7.2). The
/// transaction id pins every signed byte and every signature, so skipping these checks cannot
/// change any outcome; a node that knows nothing passes `&()`.
pub trait CheckedSignatures {
    /// Whether `tx`'s signatures under `key` were checked and held.
    fn already_checked(&self, tx: &Digest, key: &PublicKey) -> bool;
}

impl CheckedSignatures for () {
    fn already_checked(&self, _tx: &Digest, _key: &PublicKey) -> bool {
        false
    }
}

impl CheckedSignatures for std::collections::HashMap<Digest, Vec<PublicKey>> {
    fn already_checked(&self, tx: &Digest, key: &PublicKey) -> bool {
        self.get(tx).is_some_and(|keys| keys.contains(key))
    }
}

/// The context a transaction's rules run in.
pub(crate) struct Ctx<'o, 'a, R: StateReader> {
    pub(crate) env: &'o BlockEnv,
    overlay: &'o mut Overlay<'a, R>,
    checked: &'o dyn CheckedSignatures,
    tx_id: Digest,
}

impl<R: StateReader> Ctx<'_, '_, R> {
    /// Whether this transaction's signatures under `key` were already checked on this node.
    pub(crate) fn already_checked(&self, key: &PublicKey) -> bool {
        self.checked.already_checked(&self.tx_id, key)
    }

    pub(crate) fn get(&self, key: &StateKey) -> Option<StateValue> {
        self.overlay.get(key)
    }

    pub(crate) fn put(&mut self, key: StateKey, value: StateValue) {
        self.overlay.put(key, value);
    }

    /// Records a credential event, kept only if the transaction takes effect.
    pub(crate) fn event(&mut self, issuer: IssuerId, id: CredentialId, event: CredentialEvent) {
        self.overlay
            .tx_events
            .push(AppliedEvent { issuer, id, event });
    }
}

/// Whether a transaction's signer was authorized: if so its nonce is spent even when its
/// action is refused, so the signer's next transaction is not stuck behind it.
pub(crate) enum Outcome {
    /// Refused before authorization: nothing changes.
    Unauthorized(TxError),
    /// Authorized; the action took effect.
    Done,
    /// Authorized, but the action was refused; only the nonce write (staged by the rule
    /// through `spend`) is kept.
    Refused(TxError, Vec<(StateKey, StateValue)>),
}

/// Applies `txs` in order on top of `state` (spec/transactions.md §2–§5).
///
/// A refused transaction changes nothing except, once its signer is authorized, its nonce
/// (spec/transactions.md §5); a publish batch is all or nothing.
pub fn execute_block(
    state: &impl StateReader,
    env: &BlockEnv,
    txs: &[Transaction],
) -> Result<BlockOutcome, StateError> {
    execute_block_checked(state, env, txs, &())
}

/// [`execute_block`], skipping the signature checks `checked` vouches for.
pub fn execute_block_checked(
    state: &impl StateReader,
    env: &BlockEnv,
    txs: &[Transaction],
    checked: &dyn CheckedSignatures,
) -> Result<BlockOutcome, StateError> {
    let mut overlay = Overlay {
        base: state,
        block: BTreeMap::new(),
        tx: BTreeMap::new(),
        block_events: Vec::new(),
        tx_events: Vec::new(),
        failure: std::cell::RefCell::new(None),
    };
    let mut receipts = Vec::with_capacity(txs.len());
    for tx in txs {
        let tx_id = tx.id();
        let outcome = {
            let mut ctx = Ctx {
                env,
                overlay: &mut overlay,
                checked,
                tx_id,
            };
            match tx {
                Transaction::Issuer(s) => issuer::apply(&mut ctx, s),
                Transaction::Governance {
                    proposal,
                    approvals,
                } => governance::apply(&mut ctx, proposal, approvals),
                Transaction::Anchor(s) => anchor::apply(&mut ctx, s),
            }
        };
        let result = match outcome {
            Outcome::Done => {
                overlay.keep_tx();
                Ok(())
            }
            Outcome::Unauthorized(e) => {
                overlay.drop_tx();
                Err(e)
            }
            Outcome::Refused(e, spent) => {
                overlay.drop_tx();
                for (k, v) in spent {
                    overlay.put(k, v);
                }
                overlay.keep_tx();
                Err(e)
            }
        };
        if let Some(e) = overlay.failure.borrow_mut().take() {
            return Err(e);
        }
        receipts.push(Receipt { tx_id, result });
    }
    Ok(BlockOutcome {
        receipts,
        writes: overlay.block.into_values().collect(),
        events: overlay.block_events,
    })
}

#[cfg(test)]
mod tests;
