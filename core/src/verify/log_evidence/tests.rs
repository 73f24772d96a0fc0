use super::*;
use crate::bounded::Text;
use crate::merkle::{CompactTree, inclusion_proof};
use crate::testkit::World;

const SOURCE: &str = "troad-demo-ss1";

fn record(i: u64) -> LogRecord {
    LogRecord {
        id: Text::new(format!("msg-{i:08}")).unwrap(),
        time_ms: Timestamp(1_767_225_600_000 + i),
        client: Text::new("TW/GOV/MOJ/lawyer-registry").unwrap(),
        service: Text::new("TW/GOV/MOEA/company-registry/getCompany").unwrap(),
        request_digest: Digest([1; 32]),
        response_digest: Digest([2; 32]),
        security_server: Text::new("TW/GOV/MOJ/ss1").unwrap(),
        signature_digest: Digest([3; 32]),
    }
}

/// A world whose log source anchored 600 records, then 1,000, and the 1,000 leaves.
fn anchored() -> (World, Vec<Digest>) {
    let mut w = World::new(1, 4);
    let leaves: Vec<Digest> = (0..1000).map(|i| record(i).leaf()).collect();
    let mut tree = CompactTree::new();
    for l in &leaves[..600] {
        tree.push(*l);
    }
    w.anchor_log(SOURCE, &tree, &leaves[..600]);
    w.commit(Timestamp(1_767_225_610_000));
    for l in &leaves[600..] {
        tree.push(*l);
    }
    w.anchor_log(SOURCE, &tree, &leaves[600..]);
    w.commit(Timestamp(1_767_225_620_000));
    (w, leaves)
}

fn bundle(w: &World, leaves: &[Digest], index: u64, sequence: u64) -> LogEvidence {
    let anchor = w.anchor_evidence(SOURCE, sequence);
    let size = anchor.record.tree_size as usize;
    LogEvidence {
        version: EVIDENCE_VERSION,
        index,
        record_digest: record(index).digest(),
        inclusion: BoundedVec::new(inclusion_proof(&leaves[..size], index).unwrap()).unwrap(),
        anchor,
        set_changes: BoundedVec::empty(),
    }
}

/// `ev` with its anchoring block (height 2) signed by a smaller set, which the header at
/// height 1 announced; returns that announcement, certified by the genesis set.
fn under_a_new_set(w: &World, ev: &mut LogEvidence) -> SetChange {
    use crate::block::ValidatorSet;
    use crate::testkit::sign_commit;
    let d = &w.devnet;
    let old = w.set.clone();
    let new = ValidatorSet::new(old.validators()[..3].to_vec()).unwrap();
    let change = Header {
        height: Height(1),
        next_validators_hash: new.hash(),
        ..ev.anchor.header.clone()
    };
    let anchoring = Header {
        validators_hash: new.hash(),
        next_validators_hash: new.hash(),
        ..ev.anchor.header.clone()
    };
    ev.anchor.commit = sign_commit(d, &new, &anchoring, 3);
    ev.anchor.header = anchoring;
    SetChange {
        commit: sign_commit(d, &old, &change, 3),
        header: change,
        next_validators: new,
    }
}

#[test]
fn a_bundle_carries_the_set_changes_that_genesis_alone_cannot_know() {
    let (w, leaves) = anchored();
    let mut ev = bundle(&w, &leaves, 321, 2);
    let change = under_a_new_set(&w, &mut ev);
    // Without the change, genesis's set does not sign the header.
    assert!(matches!(
        verify_log_evidence(&ev, &w.anchor(), None),
        Err(Rejection::BadCommit { .. })
    ));
    ev.set_changes = BoundedVec::new(vec![change.clone()]).unwrap();
    let back = LogEvidence::from_bytes(&ev.to_bytes()).unwrap();
    let v = verify_log_evidence(&back, &w.anchor(), Some(&record(321))).unwrap();
    assert_eq!((v.set_changes, v.anchored_height), (1, Height(2)));

    // A change the new set certifies for itself is not learned.
    let mut forged = change.clone();
    forged.header.validators_hash = forged.next_validators.hash();
    forged.commit =
        crate::testkit::sign_commit(&w.devnet, &forged.next_validators, &forged.header, 3);
    let mut bad = ev.clone();
    bad.set_changes = BoundedVec::new(vec![forged]).unwrap();
    assert!(matches!(
        verify_log_evidence(&bad, &w.anchor(), None),
        Err(Rejection::BadCommit { .. })
    ));
    // Changes must come oldest first, each once.
    bad.set_changes = BoundedVec::new(vec![change.clone(), change]).unwrap();
    assert!(matches!(
        verify_log_evidence(&bad, &w.anchor(), None),
        Err(Rejection::MalformedEvidence { .. })
    ));
    // Every byte of a bundle with a set change is covered, the change's bytes included.
    let bytes = ev.to_bytes();
    let anchor = w.anchor();
    for i in 0..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 0x01;
        let result =
            LogEvidence::from_bytes(&b).and_then(|ev| verify_log_evidence(&ev, &anchor, None));
        assert!(result.is_err(), "byte {i} changed yet accepted");
    }
}

#[test]
fn a_bundle_proves_its_record_offline() {
    let (w, leaves) = anchored();
    let ev = bundle(&w, &leaves, 700, 2);
    let bytes = ev.to_bytes();
    let back = LogEvidence::from_bytes(&bytes).unwrap();
    let v = verify_log_evidence(&back, &w.anchor(), Some(&record(700))).unwrap();
    assert_eq!(v.index, 700);
    assert_eq!(v.tree_size, 1000);
    assert_eq!(v.sequence, 2);
    assert_eq!(v.anchored_at, Timestamp(1_767_225_620_000));
    assert_eq!(v.anchored_height, Height(2));
    assert!(v.record_checked);
    assert_eq!(
        v.checks,
        vec![
            Check::Decoding,
            Check::Record,
            Check::Anchoring,
            Check::Inclusion
        ]
    );
    // An earlier anchor proves an earlier time for an earlier record.
    let early = verify_log_evidence(&bundle(&w, &leaves, 5, 1), &w.anchor(), None).unwrap();
    assert_eq!(early.anchored_at, Timestamp(1_767_225_610_000));
    assert!(!early.record_checked);
}

#[test]
fn every_changed_byte_is_refused_with_its_check_named() {
    let (w, leaves) = anchored();
    let bytes = bundle(&w, &leaves, 123, 2).to_bytes();
    let anchor = w.anchor();
    for i in 0..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 0x01;
        let result = LogEvidence::from_bytes(&b)
            .and_then(|ev| verify_log_evidence(&ev, &anchor, Some(&record(123))));
        let e = result.expect_err(&format!("byte {i} changed yet accepted"));
        // The rejection names a check; decoding, record, anchoring or inclusion.
        assert!(
            matches!(
                e.check(),
                Check::Decoding | Check::Record | Check::Anchoring | Check::Inclusion
            ),
            "byte {i}: {e}"
        );
    }
}

#[test]
fn wrong_record_wrong_place_and_foreign_chain_are_refused() {
    let (w, leaves) = anchored();
    let ev = bundle(&w, &leaves, 10, 2);
    assert!(matches!(
        verify_log_evidence(&ev, &w.anchor(), Some(&record(11))),
        Err(Rejection::RecordMismatch { .. })
    ));
    let mut moved = ev.clone();
    moved.index = 11;
    assert!(matches!(
        verify_log_evidence(&moved, &w.anchor(), None),
        Err(Rejection::NotInLog {
            index: 11,
            tree_size: 1000,
            ..
        })
    ));
    let other = World::new(2, 4);
    assert!(matches!(
        verify_log_evidence(&ev, &other.anchor(), None),
        Err(Rejection::WrongChain { .. } | Rejection::BadCommit { .. })
    ));
}

#[test]
fn wrong_files_and_oversized_input_are_named() {
    assert!(matches!(
        LogEvidence::from_bytes(b"CL1:not a bundle"),
        Err(Rejection::MalformedEvidence { .. })
    ));
    assert!(matches!(
        LogEvidence::from_bytes(&vec![0u8; MAX_EVIDENCE_BYTES + 1]),
        Err(Rejection::Oversized { .. })
    ));
    let mut b = EVIDENCE_MAGIC.to_vec();
    b.extend_from_slice(&[0xff; 40]);
    assert!(LogEvidence::from_bytes(&b).is_err());
}

proptest::proptest! {
    #[test]
    fn any_bytes_decode_or_are_refused_without_panic(tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..3000)) {
        let mut b = EVIDENCE_MAGIC.to_vec();
        b.extend_from_slice(&tail);
        if let Ok(ev) = LogEvidence::from_bytes(&b) {
            proptest::prop_assert_eq!(ev.to_bytes(), b);
        }
        let _ = LogEvidence::from_bytes(&tail);
    }
}
