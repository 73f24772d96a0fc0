//! The commit path on a real RocksDB store: proposals, commit certificates, execution,
//! receipts, restarts, and proofs that verify with `core` against genesis alone.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use credledger_core::block::ValidatorSet;
use credledger_core::bounded::BoundedVec;
use credledger_core::devnet::{Devnet, DevnetParams};
use credledger_core::ids::Timestamp;
use credledger_core::presentation::{CompactPresentation, Presentation, StatusEvidence};
use credledger_core::state::{StateKey, StateValue};
use credledger_core::testkit::{World, sign_commit};
use credledger_core::tx::Transaction;
use credledger_core::{Policy, TrustAnchor, verify};
use credledger_node::service::{CommitError, Ledger};

const T0: u64 = 1_767_225_600_000;

fn devnet() -> Devnet {
    Devnet::build(&[9; 32], &DevnetParams::default()).unwrap()
}

fn publish_tx(
    d: &Devnet,
    nonce: u64,
    creds: &[&credledger_core::credential::HeldCredential],
) -> Transaction {
    credledger_core::testkit::publish_tx(d, "moj", "moj-2026-01", nonce, creds)
}

#[test]
fn committed_blocks_survive_restart_and_serve_verifiable_proofs() {
    let dir = tempfile::tempdir().unwrap();
    let d = devnet();
    let set = ValidatorSet::new(d.genesis.validators.to_vec()).unwrap();
    let world = World::with_devnet(devnet());
    let good = world.lawyer_license(1, None);
    let other = world.lawyer_license(2, None);

    let header_1 = {
        let ledger = Ledger::open(dir.path(), d.genesis.clone()).unwrap();
        let replay = publish_tx(&d, 0, &[&good]);
        let block = ledger
            .propose(
                vec![publish_tx(&d, 0, &[&good]), replay.clone()],
                Timestamp(T0 + 1_000),
                0,
                &(),
            )
            .unwrap();
        // Too few signatures: not committed.
        let weak = sign_commit(&d, &set, &block.header, 2);
        assert!(matches!(
            ledger.commit(&block, &weak, &()),
            Err(CommitError::Commit { .. })
        ));
        let commit = sign_commit(&d, &set, &block.header, 3);
        ledger.commit(&block, &commit, &()).unwrap();
        // The replayed copy fails (its nonce is spent) and does not overwrite the record of
        // the first, which took effect: asked about this id, the node says so.
        let loc = ledger.store().tx(&replay.id()).unwrap().unwrap();
        assert_eq!((loc.height.0, loc.index, loc.error), (1, 0, None));
        // The same block again does not follow the tip.
        assert!(matches!(
            ledger.commit(&block, &commit, &()),
            Err(CommitError::NotNext { .. })
        ));
        block.header
    };

    // Restart: everything acknowledged is there, and the chain goes on.
    let ledger = Ledger::open(dir.path(), d.genesis.clone()).unwrap();
    assert_eq!(ledger.store().last_height().unwrap().0, 1);
    assert_eq!(
        ledger.store().header(header_1.height).unwrap().unwrap(),
        header_1
    );
    let block = ledger
        .propose(
            vec![publish_tx(&d, 1, &[&other])],
            Timestamp(T0 + 2_000),
            1,
            &(),
        )
        .unwrap();
    assert_eq!(block.header.previous, header_1.hash());
    let commit = sign_commit(&d, &set, &block.header, 3);
    ledger.commit(&block, &commit, &()).unwrap();
    // A faulty proposer's later block carrying the committed transaction again: it fails
    // there, and the record still says where it took effect.
    let again = ledger
        .propose(
            vec![publish_tx(&d, 0, &[&good])],
            Timestamp(T0 + 2_500),
            2,
            &(),
        )
        .unwrap();
    ledger
        .commit(&again, &sign_commit(&d, &set, &again.header, 3), &())
        .unwrap();
    let loc = ledger
        .store()
        .tx(&publish_tx(&d, 0, &[&good]).id())
        .unwrap()
        .unwrap();
    assert_eq!((loc.height.0, loc.index, loc.error), (1, 0, None));

    // A full presentation built from what the node stored verifies against genesis alone.
    let key = StateKey::Credential(good.body.issuer.clone(), good.body.id);
    let root = ledger.store().state_root().unwrap();
    assert_eq!(root, block.header.state_root);
    let (_, proof) = credledger_core::smt::prove(ledger.store(), root, &key.hash()).unwrap();
    let Some(StateValue::Credential(record)) = ledger.store().value(&key).unwrap() else {
        panic!("not stored")
    };
    assert_eq!(record.published_at, Timestamp(T0 + 1_000));
    let p = Presentation::Full {
        compact: CompactPresentation {
            body: good.body.clone(),
            signature: good.signature,
            disclosure: good.disclose(None),
        },
        evidence: StatusEvidence {
            record,
            proof,
            header: block.header.clone(),
            commit,
        },
    };
    let anchor = TrustAnchor::from_genesis(&d.genesis).unwrap();
    let v = verify(&p, &anchor, Timestamp(T0 + 3_000), &Policy::LIVE).unwrap();
    assert_eq!(v.issuer.as_str(), "moj");
}

#[test]
fn a_block_whose_header_lies_about_the_state_is_not_committed() {
    let dir = tempfile::tempdir().unwrap();
    let d = devnet();
    let set = ValidatorSet::new(d.genesis.validators.to_vec()).unwrap();
    let world = World::with_devnet(devnet());
    let c = world.lawyer_license(3, None);
    let ledger = Ledger::open(dir.path(), d.genesis.clone()).unwrap();
    let mut block = ledger
        .propose(
            vec![publish_tx(&d, 0, &[&c])],
            Timestamp(T0 + 1_000),
            0,
            &(),
        )
        .unwrap();
    block.header.state_root.0[0] ^= 1;
    let commit = sign_commit(&d, &set, &block.header, 4);
    assert!(matches!(
        ledger.commit(&block, &commit, &()),
        Err(CommitError::Exec(
            credledger_node::execution::ExecError::StateRoot { .. }
        ))
    ));
    assert_eq!(
        ledger.store().last_height().unwrap().0,
        0,
        "nothing was written"
    );

    // A header that announces a validator-set change the block does not make is refused:
    // light clients follow sets by that field.
    let mut block = ledger
        .propose(
            vec![publish_tx(&d, 0, &[&c])],
            Timestamp(T0 + 1_000),
            0,
            &(),
        )
        .unwrap();
    block.header.next_validators_hash.0[3] ^= 1;
    let commit = sign_commit(&d, &set, &block.header, 4);
    assert!(matches!(
        ledger.commit(&block, &commit, &()),
        Err(CommitError::BadHeader { .. })
    ));
    assert_eq!(ledger.store().last_height().unwrap().0, 0);

    // Transactions that do not match the header's root are refused too.
    let mut block = ledger
        .propose(
            vec![publish_tx(&d, 0, &[&c])],
            Timestamp(T0 + 1_000),
            0,
            &(),
        )
        .unwrap();
    block.transactions = BoundedVec::empty();
    let commit = sign_commit(&d, &set, &block.header, 4);
    assert!(matches!(
        ledger.commit(&block, &commit, &()),
        Err(CommitError::Exec(_))
    ));
}

#[test]
fn a_commit_clears_the_undecided_blocks_of_its_height_and_none_are_kept_below_it() {
    use credledger_node::storage::PendingBlock;
    let dir = tempfile::tempdir().unwrap();
    let d = devnet();
    let set = ValidatorSet::new(d.genesis.validators.to_vec()).unwrap();
    let ledger = Ledger::open(dir.path(), d.genesis.clone()).unwrap();
    let store = ledger.store();
    let pending = |block: &credledger_core::block::Block, round| PendingBlock {
        round,
        valid_round: None,
        proposer: d.validator_keys[0].1.public(),
        own: false,
        valid: true,
        block: block.clone(),
    };
    let mut last = None;
    for h in 1..=50u64 {
        let block = ledger
            .propose(Vec::new(), Timestamp(T0 + h * 1_000), 0, &())
            .unwrap();
        // Two rounds' proposals are held for the height; the commit clears both.
        store.put_pending(&pending(&block, 0), true).unwrap();
        store.put_pending(&pending(&block, 1), true).unwrap();
        assert_eq!(store.pending_at(block.header.height).unwrap().len(), 2);
        ledger
            .commit(&block, &sign_commit(&d, &set, &block.header, 3), &())
            .unwrap();
        assert!(store.pending_at(block.header.height).unwrap().is_empty());
        last = Some(block);
    }
    // A late copy of a committed height is not kept: no commit would ever clear it.
    let late = last.unwrap();
    store.put_pending(&pending(&late, 2), true).unwrap();
    assert!(store.pending_at(late.header.height).unwrap().is_empty());

    // This node's own proposal is not overwritten by a peer's restream of it; a peer's copy
    // is replaced by a later one, judged again.
    let next = ledger
        .propose(Vec::new(), Timestamp(T0 + 60_000), 0, &())
        .unwrap();
    let own = PendingBlock {
        own: true,
        ..pending(&next, 0)
    };
    store.put_pending(&own, true).unwrap();
    store.put_pending(&pending(&next, 0), true).unwrap();
    assert!(store.pending_at(next.header.height).unwrap()[0].own);
    let invalid = PendingBlock {
        valid: false,
        ..pending(&next, 1)
    };
    store.put_pending(&invalid, true).unwrap();
    store.put_pending(&pending(&next, 1), true).unwrap();
    assert!(store.pending_at(next.header.height).unwrap()[1].valid);
}

/// A proposal dated more than 10 s ahead of this node's clock is refused; the same block
/// arriving decided (by sync) is not held to the clock, so a node whose clock is behind still
/// catches up.
#[test]
fn a_proposal_is_held_to_the_clock_and_a_decided_block_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let d = devnet();
    let ledger = Ledger::open(dir.path(), d.genesis.clone()).unwrap();
    let block = ledger
        .propose(Vec::new(), Timestamp(T0 + 60_000), 0, &())
        .unwrap();
    let slow_clock = Timestamp(T0 + 60_000 - credledger_node::service::MAX_CLOCK_AHEAD_MS - 1);
    assert!(matches!(
        ledger.check_proposal(&block, Some(slow_clock), &()),
        Err(CommitError::BadHeader { reason, .. }) if reason.contains("ahead of this node's clock")
    ));
    let in_time = Timestamp(T0 + 60_000 - credledger_node::service::MAX_CLOCK_AHEAD_MS);
    ledger.check_proposal(&block, Some(in_time), &()).unwrap();
    ledger.check_proposal(&block, None, &()).unwrap();
}
