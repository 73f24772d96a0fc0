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
        // One block per streaming validator and round is executed and kept (the same one again
        // is judged again); a second, different one is dropped unexecuted. An honest proposer
        // streams one block a round, so a faulty validator can no longer make the others
        // execute and fsync any number of blocks under the proposer's name (ADR 001).
        let round = c.round.as_u32().unwrap_or(0);
        match self.streamed.entry((c.height, round, c.from)) {
            std::collections::btree_map::Entry::Occupied(first) if *first.get() != c.id => {
                tracing::warn!(
                    height = c.height.0,
                    round,
                    "a second, different block streamed by one validator for one round: dropped"
                );
                return Ok(None);
            }
            std::collections::btree_map::Entry::Occupied(_) => {}
            std::collections::btree_map::Entry::Vacant(v) => {
                v.insert(c.id);
            }
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
            match self.chain.check(&block, Some(self.chain.now()))? {
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
            // Decided already: not held to this node's clock.
            match self.chain.check(&block, None)? {
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
        // Synced to disk before the engine hears of it, like a block this node may vote on:
        // the engine logs the synced value (its id) and fsyncs that log before deciding it, and
        // after a power loss replays it and decides it from the log, without the body. A body
        // lost from the page cache would then leave a decided block the node does not hold, at
        // every restart. (Unsynced, it saved 2–12 % of a catch-up: BENCHMARKS.md, session 24.)
        self.chain.put_pending(&p, true)?;
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use arc_malachitebft_app_channel::app::types::PeerId;
    use arc_malachitebft_app_channel::app::types::core::{
        LinearTimeouts, Round, Validator as _, Validity,
    };
    use credledger_core::block::{Block, CommitCertificate, Header, ValidatorSet as CoreSet};
    use credledger_core::bounded::BoundedVec;
    use credledger_core::devnet::{Devnet, DevnetParams};
    use credledger_core::encoding::encode;
    use credledger_core::ids::{Height as CoreHeight, Timestamp};
    use tokio::sync::Notify;

    use super::super::{App, Progress};
    use crate::consensus::chain::{Chain, ChainError, Pending};
    use crate::consensus::context::{BlockId, Height, ValidatorSet};
    use crate::consensus::engine::peer_id;
    use crate::consensus::pacing::Pacing;
    use crate::consensus::peers::PeerGate;
    use crate::consensus::streams::Completed;
    use crate::consensus::tests::first_header;

    /// A ledger at height 0 whose proposal check passes and is counted: only what
    /// `check_and_keep` asks of it.
    struct Genesis {
        set: CoreSet,
        checks: AtomicUsize,
        kept: Mutex<Vec<Pending>>,
        /// Each check's clock, and each kept block's durability, in order.
        clocks: Mutex<Vec<Option<Timestamp>>>,
        durable: Mutex<Vec<bool>>,
    }

    fn unused() -> ChainError {
        ChainError("not used by this test".into())
    }

    impl Chain for Genesis {
        fn last_height(&self) -> Result<CoreHeight, ChainError> {
            Ok(CoreHeight(0))
        }
        fn validator_set(&self, _: CoreHeight) -> Result<CoreSet, ChainError> {
            Ok(self.set.clone())
        }
        fn validator_sets(&self) -> Result<Vec<CoreSet>, ChainError> {
            Ok(vec![self.set.clone()])
        }
        fn build(&self, _: u16, _: Duration) -> Result<Block, ChainError> {
            Err(unused())
        }
        fn check(
            &self,
            _: &Block,
            now: Option<Timestamp>,
        ) -> Result<Result<(), String>, ChainError> {
            self.checks.fetch_add(1, Ordering::Relaxed);
            self.clocks.lock().unwrap().push(now);
            Ok(Ok(()))
        }
        fn put_pending(&self, p: &Pending, durable: bool) -> Result<(), ChainError> {
            self.kept.lock().unwrap().push(p.clone());
            self.durable.lock().unwrap().push(durable);
            Ok(())
        }
        fn pending_at(&self, _: CoreHeight) -> Result<Vec<Pending>, ChainError> {
            Ok(self.kept.lock().unwrap().clone())
        }
        fn commit(&self, _: &Block, _: &CommitCertificate) -> Result<(), ChainError> {
            Err(unused())
        }
        fn decided(&self, _: CoreHeight) -> Result<Option<(Block, CommitCertificate)>, ChainError> {
            Ok(None)
        }
        fn header(&self, _: CoreHeight) -> Result<Option<Header>, ChainError> {
            Ok(None)
        }
        fn now(&self) -> Timestamp {
            Timestamp(0)
        }
        fn has_waiting_transactions(&self) -> bool {
            false
        }
        fn waiting_transactions(&self) -> usize {
            0
        }
        fn arrivals(&self) -> Arc<Notify> {
            Arc::new(Notify::new())
        }
    }

    /// A block of height 1 whose header names validator `builder` (an index of the set).
    fn block(d: &Devnet, set: &CoreSet, builder: u16) -> Block {
        Block {
            header: first_header(d, set, builder),
            transactions: BoundedVec::empty(),
        }
    }

    /// An app at height 1 over a stub ledger at genesis, with the devnet and its sets.
    fn app_at_genesis() -> (Devnet, CoreSet, ValidatorSet, Arc<Genesis>, App<Genesis>) {
        let d = Devnet::build(&[3; 32], &DevnetParams::default()).unwrap();
        let core = CoreSet::new(d.genesis.validators.to_vec()).unwrap();
        let set = ValidatorSet::from_core(&core).unwrap();
        let chain = Arc::new(Genesis {
            set: core.clone(),
            checks: AtomicUsize::new(0),
            kept: Mutex::new(Vec::new()),
            clocks: Mutex::new(Vec::new()),
            durable: Mutex::new(Vec::new()),
        });
        let me = peer_id(&d.genesis.validators[0].public_key);
        let mut app = App::new(
            chain.clone(),
            None,
            Pacing {
                timeouts: LinearTimeouts::default(),
                block_interval: None,
                busy_interval: None,
                busy_txs: 1,
            },
            Arc::new(Progress::default()),
            PeerGate::new(me, &[], &core, &[]),
        );
        app.height = Height(1);
        (d, core, set, chain, app)
    }

    /// The check of a streamed proposal's header `proposer` is wired in: a block naming a
    /// validator that cannot have built it is voted nil without being executed, and a
    /// re-proposal naming an earlier round's proposer is judged as usual (spec/blocks.md §7).
    #[tokio::test]
    async fn a_streamed_block_naming_a_builder_that_could_not_build_it_is_invalid_unexecuted() {
        let (d, core, set, chain, mut app) = app_at_genesis();
        // With none absent, round r of height 1 is proposed by member (1 + r) mod 4.
        let proposal = |round: u32, pol: Round, builder: u16| {
            let streamer = set.members()[(1 + round as usize) % 4].clone();
            let b = block(&d, &core, builder);
            Completed {
                height: Height(1),
                round: Round::new(round),
                pol_round: pol,
                proposer: *streamer.address(),
                id: BlockId(b.header.hash()),
                bytes: encode(&b),
                from: PeerId::from_bytes(&peer_id(&streamer.address().0).to_bytes()).unwrap(),
            }
        };
        let judged = |app: &mut App<Genesis>, c| {
            app.check_and_keep(c)
                .unwrap()
                .expect("a validator's whole proposal is judged, not dropped")
                .validity
        };

        // Round 0's proposer streams a block naming member 2.
        assert_eq!(
            judged(&mut app, proposal(0, Round::Nil, 2)),
            Validity::Invalid
        );
        assert_eq!(chain.checks.load(Ordering::Relaxed), 0, "not executed");
        // A second, different block from it for round 0 is dropped, not executed or kept.
        assert!(
            app.check_and_keep(proposal(0, Round::Nil, 1))
                .unwrap()
                .is_none()
        );
        assert_eq!(chain.checks.load(Ordering::Relaxed), 0);
        // Round 2's proposer re-proposes, on round 1's polka, round 0's proposer's block; the
        // same block streamed again is judged again.
        for _ in 0..2 {
            assert_eq!(
                judged(&mut app, proposal(2, Round::new(1), 1)),
                Validity::Valid
            );
        }
        assert_eq!(chain.checks.load(Ordering::Relaxed), 2);
        // ... but round 3's proposer may not, on round 1's polka, name member 3, round 2's
        // proposer, which built nothing up to round 1.
        assert_eq!(
            judged(&mut app, proposal(3, Round::new(1), 3)),
            Validity::Invalid
        );
        assert_eq!(chain.checks.load(Ordering::Relaxed), 2);
        // Every judged block is kept, valid or not, for the engine to ask for again.
        assert_eq!(chain.kept.lock().unwrap().len(), 4);
        // Proposals are held to this node's clock, and kept durably before any vote.
        assert!(chain.clocks.lock().unwrap().iter().all(Option::is_some));
        assert!(chain.durable.lock().unwrap().iter().all(|d| *d));
    }

    /// A restarted validator asked to propose at a (height, round) it built a block for before
    /// proposes that same block, read back from its durably kept blocks, and builds none: it
    /// never signs two different blocks at one height and round across restarts (ADR 001,
    /// crash safety). At another round it builds anew (the stub's `build` refuses, which shows
    /// it was asked).
    #[tokio::test]
    async fn a_restarted_proposer_proposes_the_block_it_kept_not_a_new_one() {
        let (d, core, set, chain, mut app) = app_at_genesis();
        let me = *set.members()[0].address();
        app.me = Some(me);
        let kept = block(&d, &core, 0);
        // What the node kept before it stopped: its own block for round 0, and a peer's.
        chain.kept.lock().unwrap().extend([
            Pending {
                round: 0,
                valid_round: None,
                proposer: me.0,
                own: true,
                valid: true,
                block: kept.clone(),
            },
            Pending {
                round: 0,
                valid_round: None,
                proposer: set.members()[1].address().0,
                own: false,
                valid: true,
                block: block(&d, &core, 1),
            },
        ]);
        let again = app
            .own_value(Height(1), Round::new(0), Duration::from_secs(1))
            .unwrap();
        assert_eq!(again.block, kept);
        assert!(again.own);
        let built = app
            .own_value(Height(1), Round::new(1), Duration::from_secs(1))
            .unwrap_err();
        assert_eq!(
            built.0,
            unused().0,
            "round 1 has no kept block of its own: built anew"
        );
    }

    /// A synced block arrives decided: it is checked without the clock rule (a node whose
    /// clock is behind must still catch up) and kept durably before the engine hears of it,
    /// since the engine may decide it from its own log after a power loss, without its body.
    #[tokio::test]
    async fn a_synced_block_is_not_held_to_the_clock_and_is_kept_durably() {
        let (d, core, set, chain, mut app) = app_at_genesis();
        let synced = block(&d, &core, 1);
        let streamer = *set.members()[1].address();
        app.synced(Height(1), Round::new(0), streamer, &encode(&synced))
            .unwrap();
        assert_eq!(*chain.clocks.lock().unwrap(), [None]);
        assert_eq!(*chain.durable.lock().unwrap(), [true]);
    }
}
