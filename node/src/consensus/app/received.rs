//! Blocks this node did not build: whole proposals streamed by the round's proposer, and
//! blocks synced with their certificates. Each is checked before it is stored and offered to
//! the engine; only a decided one is ever committed (app.rs).

use arc_malachitebft_app_channel::app::engine::host::SyncedValueOutcome;
use arc_malachitebft_app_channel::app::types::ProposedValue;
use arc_malachitebft_app_channel::app::types::core::{Round, Validator as _, Validity};
use credledger_core::block::{Block, MAX_BLOCK_BYTES};
use credledger_core::encoding::decode;

use super::App;
use crate::consensus::chain::{Chain, ChainError, Pending};
use crate::consensus::context::{Address, BlockId, Ctx, Height, may_have_built, proposer_of};
use crate::consensus::streams::Completed;

impl<C: Chain> App<C> {
    /// A whole proposal arrived: checked now if it is for this height, kept for later if for
    /// one of the next few ([`EarlyProposals`](crate::consensus::early::EarlyProposals)), dropped
    /// otherwise.
    pub(super) fn completed(
        &mut self,
        done: Completed,
    ) -> Result<Option<ProposedValue<Ctx>>, ChainError> {
        if done.height > self.height {
            self.early.offer(self.height, done);
            return Ok(None);
        }
        if done.height < self.height {
            return Ok(None);
        }
        self.check_and_keep(done)
    }

    pub(super) fn check_and_keep(
        &mut self,
        c: Completed,
    ) -> Result<Option<ProposedValue<Ctx>>, ChainError> {
        let Ok(block) = decode::<Block>(&c.bytes, MAX_BLOCK_BYTES) else {
            tracing::warn!(height = c.height.0, "proposal does not decode");
            return Ok(None);
        };
        if block.header.hash() != c.id.0 || block.header.height.0 != c.height.0 {
            tracing::warn!(
                height = c.height.0,
                "proposal parts do not match their block"
            );
            return Ok(None);
        }
        // A stream must name the round's proposer and come from a validator of the set;
        // anything else is dropped before its block is executed or stored. Parts are not
        // signed (ADR 001), so a validator could still stream a block naming another as
        // proposer (Malachite's lock restreams do, honestly); an observer or any other peer
        // cannot make this node execute or store anything.
        let set = self.set(c.height)?;
        if proposer_of(&set, c.height, c.round).address() != &c.proposer {
            tracing::warn!(
                height = c.height.0,
                round = c.round.as_u32(),
                "proposal naming a validator that is not the round's proposer"
            );
            return Ok(None);
        }
        let from = c.from.to_bytes();
        let by_validator = set
            .members()
            .iter()
            .any(|v| crate::consensus::engine::peer_id(&v.address().0).to_bytes() == from);
        if !by_validator {
            tracing::warn!(
                height = c.height.0,
                "proposal streamed by a peer outside the validator set"
            );
            return Ok(None);
        }
        // A validator's block whose header names a builder that cannot have built it is
        // invalid (spec/blocks.md §7): voted nil at once, without executing it, rather than
        // dropped, which would leave this node waiting out the propose timeout.
        let valid = if !may_have_built(&set, c.height, c.round, c.pol_round, block.header.proposer)
        {
            tracing::warn!(
                height = c.height.0,
                round = c.round.as_u32(),
                index = block.header.proposer,
                "invalid proposal: its header names a validator that did not build it"
            );
            false
        } else {
            match self.chain.check(&block, self.chain.now())? {
                Ok(()) => true,
                Err(reason) => {
                    tracing::warn!(height = c.height.0, %reason, "invalid proposal");
                    false
                }
            }
        };
        let p = Pending {
            round: c.round.as_u32().unwrap_or(0),
            valid_round: c.pol_round.as_u32(),
            proposer: c.proposer.0,
            own: false,
            valid,
            block,
        };
        self.chain.put_pending(&p, true)?;
        Ok(Some(proposed(c.height, &p)))
    }

    pub(super) fn synced(
        &mut self,
        height: Height,
        round: Round,
        proposer: Address,
        bytes: &[u8],
    ) -> Result<SyncedValueOutcome<Ctx>, ChainError> {
        let block: Block = match decode(bytes, MAX_BLOCK_BYTES) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(height = height.0, error = %e, "synced block does not decode");
                return Ok(SyncedValueOutcome::PeerFault);
            }
        };
        if block.header.height.0 != height.0 {
            return Ok(SyncedValueOutcome::PeerFault);
        }
        let valid = if self.chain.last_height()?.0 >= height.0 {
            true
        } else {
            match self.chain.check(&block, self.chain.now())? {
                Ok(()) => true,
                Err(reason) => {
                    tracing::warn!(height = height.0, %reason, "invalid synced block");
                    false
                }
            }
        };
        let p = Pending {
            round: round.as_u32().unwrap_or(0),
            valid_round: None,
            proposer: proposer.0,
            own: false,
            valid,
            block,
        };
        // A synced block arrives with its certificate and this node never votes on it: if the
        // node dies before committing it, it is synced again. So it is not fsynced here (one
        // fsync less per block while catching up); its commit is.
        self.chain.put_pending(&p, false)?;
        Ok(SyncedValueOutcome::Verdict(proposed(height, &p)))
    }
}

/// The engine's view of a held block.
pub(super) fn proposed(height: Height, p: &Pending) -> ProposedValue<Ctx> {
    ProposedValue {
        height,
        round: Round::new(p.round),
        valid_round: p.valid_round.map_or(Round::Nil, Round::new),
        proposer: Address(p.proposer),
        value: BlockId(p.block.header.hash()),
        validity: if p.valid {
            Validity::Valid
        } else {
            Validity::Invalid
        },
    }
}
