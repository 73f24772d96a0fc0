//! What consensus needs from the rest of the node, as a trait the service implements, so this
//! module imports neither storage nor execution.

use std::sync::Arc;
use std::time::Duration;

use credledger_core::block::{Block, CommitCertificate, Header, ValidatorSet};
use credledger_core::ids::{Height, Timestamp};
use credledger_core::sig::PublicKey;
use tokio::sync::Notify;

/// A failure of the node behind consensus (storage, execution), as text for the log: consensus
/// can only stop on it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ChainError(pub String);

impl ChainError {
    /// Wraps any displayable error.
    pub fn from_display(e: impl std::fmt::Display) -> ChainError {
        ChainError(e.to_string())
    }
}

/// An undecided block with what consensus knows of it.
#[derive(Clone, Debug)]
pub struct Pending {
    /// The round it was proposed in.
    pub round: u32,
    /// The round of the polka a re-proposal rests on.
    pub valid_round: Option<u32>,
    /// Who proposed it in `round`.
    pub proposer: PublicKey,
    /// Whether this node built it.
    pub own: bool,
    /// Whether it passed the proposal checks.
    pub valid: bool,
    /// The block.
    pub block: Block,
}

/// The ledger as consensus drives it.
pub trait Chain: Send + Sync + 'static {
    /// The last committed height (0 before block 1).
    fn last_height(&self) -> Result<Height, ChainError>;
    /// The validator set that signs block `h` (known for every committed height and the next).
    fn validator_set(&self, h: Height) -> Result<ValidatorSet, ChainError>;
    /// Every validator set the chain has had up to the last commit (the peer gate tells a
    /// removed validator from an observer by them).
    fn validator_sets(&self) -> Result<Vec<ValidatorSet>, ChainError>;
    /// Builds the next block from the mempool, proposed by validator `proposer` (its index),
    /// with no more transactions than execute within `budget`.
    fn build(&self, proposer: u16, budget: Duration) -> Result<Block, ChainError>;
    /// Checks a proposed next block without committing it: `Ok(Err(reason))` if it is invalid.
    /// `now` is the clock a proposal's time is held to; `None` for a block that arrives
    /// decided (synced), which is not held to this node's clock.
    fn check(
        &self,
        block: &Block,
        now: Option<Timestamp>,
    ) -> Result<Result<(), String>, ChainError>;
    /// Keeps an undecided block; `durable` fsyncs it before returning. A block this node may
    /// vote for, and a synced block the engine may decide from its log after a restart, must
    /// be durable.
    fn put_pending(&self, p: &Pending, durable: bool) -> Result<(), ChainError>;
    /// The undecided blocks kept for height `h`.
    fn pending_at(&self, h: Height) -> Result<Vec<Pending>, ChainError>;
    /// Commits a decided block with its certificate (durably, before returning).
    fn commit(&self, block: &Block, commit: &CommitCertificate) -> Result<(), ChainError>;
    /// A committed block and its certificate, for peers that sync.
    fn decided(&self, h: Height) -> Result<Option<(Block, CommitCertificate)>, ChainError>;
    /// A committed header.
    fn header(&self, h: Height) -> Result<Option<Header>, ChainError>;
    /// The node's clock.
    fn now(&self) -> Timestamp;
    /// Whether transactions are waiting for a block: then the proposer does not hold back its
    /// block to the block interval.
    fn has_waiting_transactions(&self) -> bool;
    /// Transactions in the mempool, ready or not: how busy the chain is.
    fn waiting_transactions(&self) -> usize;
    /// Notified when transactions arrive (it may also wake when none is ready).
    fn arrivals(&self) -> Arc<Notify>;
}
