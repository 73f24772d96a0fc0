//! Runs a block's transactions on the state with core's state transition function and
//! computes the new state-map nodes and root. Reads only, through core's traits; writing is
//! the service's job, so this module knows nothing of storage.

use credledger_core::block::{Block, ValidatorSet, anchors_root};
use credledger_core::exec::{
    BlockEnv, BlockOutcome, CheckedSignatures, StateError, StateReader, execute_block_checked,
};
use credledger_core::hash::Digest;
use credledger_core::smt::{self, Node, NodeStore, SmtError};
use credledger_core::tx::Transaction;

/// A block run on a state, ready to be written if it is committed.
#[derive(Clone, Debug)]
pub struct Executed {
    /// Receipts and value writes.
    pub outcome: BlockOutcome,
    /// New state-map nodes.
    pub nodes: Vec<(Digest, Node)>,
    /// The state root after the block.
    pub root: Digest,
    /// The root over the T-Road anchors the block accepted (the header's `anchors_root`).
    pub anchors_root: Digest,
}

/// Why a block could not be executed or does not match its header.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// State could not be read.
    #[error(transparent)]
    State(#[from] StateError),
    /// The state map could not be updated.
    #[error("state map: {0}")]
    Smt(#[from] SmtError),
    /// The header's transactions root does not match its transactions.
    #[error("the header's transactions root does not match the block's transactions")]
    TransactionsRoot,
    /// Executing the block gives another anchors root than the header names.
    #[error("the block's header names anchors root {header}, but executing it gives {computed}")]
    AnchorsRoot {
        /// Root in the header.
        header: Digest,
        /// Root computed here.
        computed: Digest,
    },
    /// Executing the block gives another state root than the header names.
    #[error("the block's header names state root {header}, but executing it gives {computed}")]
    StateRoot {
        /// Root in the header.
        header: Digest,
        /// Root computed here.
        computed: Digest,
    },
}

/// Runs `txs` on the state whose root is `root` (a proposal's speculative run: nothing is
/// written).
pub fn execute<S: StateReader + NodeStore>(
    state: &S,
    root: Digest,
    env: &BlockEnv,
    txs: &[Transaction],
    checked: &dyn CheckedSignatures,
) -> Result<Executed, ExecError> {
    let outcome = execute_block_checked(state, env, txs, checked)?;
    let (root, nodes) = smt::update(state, root, &outcome.tree_entries())?;
    let anchors_root = anchors_root(&outcome.anchors());
    Ok(Executed {
        outcome,
        nodes,
        root,
        anchors_root,
    })
}

/// Runs a decided block and checks that it is what its header claims.
pub fn execute_decided<S: StateReader + NodeStore>(
    state: &S,
    root: Digest,
    block: &Block,
    checked: &dyn CheckedSignatures,
) -> Result<Executed, ExecError> {
    if !block.transactions_match() {
        return Err(ExecError::TransactionsRoot);
    }
    let h = &block.header;
    let env = BlockEnv {
        chain_id: h.chain_id.clone(),
        height: h.height,
        time: h.time,
    };
    let executed = execute(state, root, &env, &block.transactions, checked)?;
    if executed.root != h.state_root {
        return Err(ExecError::StateRoot {
            header: h.state_root,
            computed: executed.root,
        });
    }
    if executed.anchors_root != h.anchors_root {
        return Err(ExecError::AnchorsRoot {
            header: h.anchors_root,
            computed: executed.anchors_root,
        });
    }
    Ok(executed)
}

impl Executed {
    /// The validator set this block wrote, if it changed the set.
    pub fn next_set(&self) -> Option<&ValidatorSet> {
        self.outcome
            .writes
            .iter()
            .find_map(|(key, value)| match (key, value) {
                (
                    credledger_core::state::StateKey::Validators,
                    credledger_core::state::StateValue::Validators { set },
                ) => Some(set),
                _ => None,
            })
    }

    /// Hash of the set that signs the next block: the one this block wrote, or else `current`
    /// (spec/blocks.md §5).
    pub fn next_validators_hash(&self, current: &ValidatorSet) -> Digest {
        self.next_set().unwrap_or(current).hash()
    }
}
