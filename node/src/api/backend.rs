//! What the API needs from the node, as a trait the service implements, so the API depends on
//! no other module of the node.

use credledger_core::block::{Block, CommitCertificate, Header, ValidatorSet};
use credledger_core::hash::Digest;
use credledger_core::history::CredentialEvent;
use credledger_core::ids::{ChainId, Height, LogSourceId};
use credledger_core::state::StateKey;
use credledger_core::verify::AnchorEvidence;
use serde::Serialize;

use super::ApiError;

/// The node's state in brief.
#[derive(Clone, Debug, Serialize)]
pub struct NodeStatus {
    /// The chain.
    pub chain_id: ChainId,
    /// Its genesis hash.
    pub genesis_hash: Digest,
    /// Last committed height (0 before block 1).
    pub height: Height,
    /// State root after that block.
    pub state_root: Digest,
    /// Transactions waiting in the mempool.
    pub mempool_txs: usize,
    /// Their encoded bytes.
    pub mempool_bytes: usize,
    /// Transactions in blocks committed since this node started.
    pub committed_txs: u64,
    /// Transactions per second in blocks of the last 10 s (by the blocks' times and this
    /// node's clock).
    pub tx_per_s: f64,
    /// Consensus peers connected (none when consensus does not run here).
    pub peers: Option<u64>,
    /// The consensus round at the current height (none when consensus does not run here).
    pub round: Option<u64>,
    /// Validators that built none of the last `2n` blocks and so propose last at the current
    /// height (spec/blocks.md §7.1; none when consensus does not run here).
    pub absent_validators: Option<u64>,
}

/// Where a transaction stands.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum TxStatus {
    /// In a committed block.
    Committed {
        /// The block.
        height: Height,
        /// Position in the block.
        index: u32,
        /// `null` if the ledger accepted it, else its reason for refusing it.
        error: Option<String>,
    },
    /// Waiting in this node's mempool.
    Pending,
    /// Not known to this node.
    Unknown,
}

/// A state entry (or its absence) with its proof under the latest committed header, and that
/// header's commit, so a client checks the answer against genesis alone (core's type, which
/// every client checks with `StateAnswer::check`).
pub use credledger_core::verify::StateAnswer;

/// The node as the API sees it.
pub trait Backend: Send + Sync + 'static {
    /// Chain, height, root and mempool size.
    fn status(&self) -> Result<NodeStatus, ApiError>;
    /// A committed header and its commit.
    fn header(&self, height: Height) -> Result<Option<(Header, CommitCertificate)>, ApiError>;
    /// Every height from which a new validator set signs, with the set's hash, oldest first.
    fn validator_set_starts(&self) -> Result<Vec<(Height, Digest)>, ApiError>;
    /// The validator set that signs block `height`.
    fn validators(&self, height: Height) -> Result<Option<ValidatorSet>, ApiError>;
    /// A committed block.
    fn block(&self, height: Height) -> Result<Option<Block>, ApiError>;
    /// Where a transaction stands.
    fn tx(&self, id: &Digest) -> Result<TxStatus, ApiError>;
    /// Admits clients' encoded transactions to the mempool (their signatures checked in one
    /// batch) and relays those admitted; for each, its id or why it was not admitted.
    fn submit(&self, batch: Vec<Vec<u8>>) -> Vec<Result<Digest, ApiError>>;
    /// A state entry with its proof under the latest committed header.
    fn state(&self, key: &StateKey) -> Result<StateAnswer, ApiError>;
    /// A credential's state entry as [`Backend::state`] gives it, and every event of its
    /// history up to that header, oldest first (spec/state.md §5.1).
    fn credential_history(
        &self,
        key: &StateKey,
    ) -> Result<(StateAnswer, Vec<CredentialEvent>), ApiError>;
    /// Anchor `sequence` of `source` proven in its block's `anchors_root`, with that block's
    /// header and commit (spec/troad-log.md §6); `None` if the ledger has no such anchor.
    fn anchor_in_block(
        &self,
        source: &LogSourceId,
        sequence: u64,
    ) -> Result<Option<AnchorEvidence>, ApiError>;
    /// Admits a batch relayed by another node (not relayed again); returns how many were new.
    fn relayed(&self, batch: &[Vec<u8>]) -> Result<usize, ApiError>;
    /// Heights as they are committed.
    fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Height>;
}
