//! The node as consensus drives it: consensus sees blocks, sets and certificates, never the
//! storage or the mempool behind them.

use std::sync::Arc;
use std::time::Duration;

use credledger_core::block::{Block, CommitCertificate, Header, ValidatorSet};
use credledger_core::ids::{Height, Timestamp};
use credledger_core::smt::SmtError;
use tokio::sync::Notify;

use super::{CommitError, Node};
use crate::consensus::chain::{Chain, ChainError, Pending};
use crate::execution::ExecError;
use crate::storage::PendingBlock;

/// Validator sets read at most when the node starts (a set changes by a council decision; a
/// chain would take centuries of weekly changes to reach this).
const MAX_SETS: usize = 10_000;

/// Transactions per block at most; the rest wait for the next block.
const MAX_BLOCK_TXS: usize = 5_000;

fn err(e: impl std::fmt::Display) -> ChainError {
    ChainError::from_display(e)
}

impl Chain for Node {
    fn last_height(&self) -> Result<Height, ChainError> {
        self.with_ledger(|l| Ok(l.store().last_height()?))
            .map_err(err)
    }

    fn validator_set(&self, h: Height) -> Result<ValidatorSet, ChainError> {
        self.with_ledger(|l| {
            // The set for the next height is the current state's, whether or not the last
            // block changed it.
            if Some(h) == l.store().last_height()?.next() {
                return l.next_validators();
            }
            l.store().validator_set(h)?.ok_or(CommitError::NoValidators)
        })
        .map_err(err)
    }

    fn validator_sets(&self) -> Result<Vec<ValidatorSet>, ChainError> {
        self.with_ledger(|l| {
            Ok(l.store()
                .validator_sets(MAX_SETS)?
                .into_iter()
                .map(|(_, set)| set)
                .collect())
        })
        .map_err(err)
    }

    fn build(&self, proposer: u16, budget: Duration) -> Result<Block, ChainError> {
        self.propose(proposer, MAX_BLOCK_TXS, budget).map_err(err)
    }

    fn has_waiting_transactions(&self) -> bool {
        self.has_ready_transactions()
    }

    fn waiting_transactions(&self) -> usize {
        self.mempool_len()
    }

    fn arrivals(&self) -> Arc<Notify> {
        Node::arrivals(self)
    }

    fn check(
        &self,
        block: &Block,
        now: Option<Timestamp>,
    ) -> Result<Result<(), String>, ChainError> {
        let checked = self.checked_for(block);
        match self.with_ledger(|l| l.check_proposal(block, now, &checked)) {
            Ok(()) => Ok(Ok(())),
            // A failing disk is this node's problem, not the proposer's: a read that fails
            // in the store or in the middle of execution (the state, or a state-map node it
            // lacks), or a state with no validator set, says nothing of the block, which a
            // node must not vote nil for that.
            Err(CommitError::Store(e)) => Err(err(e)),
            Err(e @ CommitError::NoValidators)
            | Err(e @ CommitError::Exec(ExecError::State(_)))
            | Err(
                e
                @ CommitError::Exec(ExecError::Smt(SmtError::MissingNode(_) | SmtError::Store(_))),
            ) => Err(err(e)),
            Err(e) => Ok(Err(e.to_string())),
        }
    }

    fn put_pending(&self, p: &Pending, durable: bool) -> Result<(), ChainError> {
        let stored = PendingBlock {
            round: p.round,
            valid_round: p.valid_round,
            proposer: p.proposer,
            own: p.own,
            valid: p.valid,
            block: p.block.clone(),
        };
        self.with_ledger(|l| Ok(l.store().put_pending(&stored, durable)?))
            .map_err(err)
    }

    fn pending_at(&self, h: Height) -> Result<Vec<Pending>, ChainError> {
        let stored = self
            .with_ledger(|l| Ok(l.store().pending_at(h)?))
            .map_err(err)?;
        Ok(stored
            .into_iter()
            .map(|p| Pending {
                round: p.round,
                valid_round: p.valid_round,
                proposer: p.proposer,
                own: p.own,
                valid: p.valid,
                block: p.block,
            })
            .collect())
    }

    fn commit(&self, block: &Block, commit: &CommitCertificate) -> Result<(), ChainError> {
        Node::commit(self, block, commit).map_err(err)
    }

    fn decided(&self, h: Height) -> Result<Option<(Block, CommitCertificate)>, ChainError> {
        self.with_ledger(|l| {
            let s = l.store();
            Ok(match (s.block(h)?, s.commit(h)?) {
                (Some(b), Some(c)) => Some((b, c)),
                _ => None,
            })
        })
        .map_err(err)
    }

    fn header(&self, h: Height) -> Result<Option<Header>, ChainError> {
        self.with_ledger(|l| Ok(l.store().header(h)?)).map_err(err)
    }

    fn now(&self) -> Timestamp {
        Node::now(self)
    }
}
