#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;

use credledger_core::encoding::encode;
use credledger_core::hash::Digest;
use credledger_core::merkle::{CompactTree, leaf_hash, root, verify_consistency, verify_inclusion};

use super::{AnchoredHead, LogStore, StoreError};

fn leaf(i: u64) -> Digest {
    leaf_hash(&i.to_le_bytes())
}

/// A log in `dir` of `n` leaves, checkpointed and closed.
fn checkpointed(dir: &std::path::Path, n: u64) {
    let mut log = LogStore::open(dir).unwrap();
    for i in 0..n {
        log.append(leaf(i)).unwrap();
    }
    log.checkpoint().unwrap();
}

#[test]
fn a_checkpointed_log_reopens_with_the_same_root_and_proves_its_growth() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = LogStore::open(dir.path()).unwrap();
    for i in 0..1000 {
        log.append(leaf(i)).unwrap();
    }
    log.mark_anchored(AnchoredHead {
        sequence: 1,
        size: 1000,
        root: log.root(),
    })
    .unwrap();
    let old_root = log.root();
    drop(log);

    let mut log = LogStore::open(dir.path()).unwrap();
    assert_eq!(log.size(), 1000);
    assert_eq!(log.root(), old_root);
    let all: Vec<Digest> = (0..1000).map(leaf).collect();
    assert_eq!(
        log.root(),
        root(&all),
        "the frontier agrees with the whole tree"
    );
    for i in 1000..1777 {
        log.append(leaf(i)).unwrap();
    }
    let proof = log.consistency_since_anchor().unwrap();
    verify_consistency(1000, 1777, &old_root, &log.root(), &proof).unwrap();
    let (got, path) = log.inclusion(123, 1000).unwrap();
    assert_eq!(got, leaf(123));
    verify_inclusion(&leaf(123), 123, 1000, &path, &old_root).unwrap();
    assert_eq!(log.anchored().unwrap().size, 1000);
    assert!(
        matches!(
            log.mark_anchored(AnchoredHead {
                sequence: 2,
                size: 1000,
                root: old_root
            }),
            Err(StoreError::NotCurrent {
                head: 1000,
                size: 1777
            })
        ),
        "only the current tree can be recorded as anchored"
    );
}

#[test]
fn leaves_after_the_last_checkpoint_are_dropped_not_counted_twice() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = LogStore::open(dir.path()).unwrap();
    for i in 0..10 {
        log.append(leaf(i)).unwrap();
    }
    log.checkpoint().unwrap();
    for i in 10..15 {
        log.append(leaf(i)).unwrap();
    }
    // A crash mid-write: the buffered leaves reach the file, and half of one more.
    log.leaves.flush().unwrap();
    drop(log);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.path().join("leaves"))
        .unwrap();
    f.write_all(&[7u8; 16]).unwrap();
    drop(f);

    let mut log = LogStore::open(dir.path()).unwrap();
    assert_eq!(log.size(), 10, "resumes at the checkpoint");
    // The input's records 10.. are read again and give the same tree as without the crash.
    for i in 10..15 {
        log.append(leaf(i)).unwrap();
    }
    let all: Vec<Digest> = (0..15).map(leaf).collect();
    assert_eq!(log.root(), root(&all));
    assert_eq!(log.leaves(0, 15).unwrap(), all);
    assert_eq!(log.leaves(12, 99).unwrap(), all[12..]);
}

#[test]
fn a_damaged_state_or_lost_leaves_are_named() {
    let dir = tempfile::tempdir().unwrap();
    checkpointed(dir.path(), 4);
    std::fs::write(dir.path().join("leaves"), [0u8; 32]).unwrap();
    assert!(matches!(
        LogStore::open(dir.path()),
        Err(StoreError::Damaged { reason, .. }) if reason.contains("counts 4 leaves")
    ));
    std::fs::write(dir.path().join("state"), b"garbage").unwrap();
    assert!(matches!(
        LogStore::open(dir.path()),
        Err(StoreError::Damaged { .. })
    ));
}

/// A state that decodes but counts more leaves than a file can hold (2^60: its byte count
/// would wrap) is refused, and the leaves file is left as it was.
#[test]
fn a_state_counting_too_many_leaves_is_refused_without_cutting_the_leaves() {
    let dir = tempfile::tempdir().unwrap();
    checkpointed(dir.path(), 4);
    let huge = CompactTree::from_parts(1 << 60, vec![leaf(0)]).unwrap();
    let state = super::State {
        version: super::STATE_VERSION,
        tree: huge.clone(),
        anchored: None,
        anchored_tree: huge,
    };
    std::fs::write(dir.path().join("state"), super::state_bytes(&state)).unwrap();
    assert!(matches!(
        LogStore::open(dir.path()),
        Err(StoreError::Damaged { reason, .. }) if reason.contains("1152921504606846976 leaves")
    ));
    // Without its checksum the same state is refused before it is read.
    std::fs::write(dir.path().join("state"), encode(&state)).unwrap();
    assert!(matches!(
        LogStore::open(dir.path()),
        Err(StoreError::Damaged { reason, .. }) if reason.contains("checksum")
    ));
    assert_eq!(
        std::fs::metadata(dir.path().join("leaves")).unwrap().len(),
        4 * 32
    );
}

#[test]
fn a_head_of_an_earlier_size_is_recorded_only_if_it_is_this_log_at_that_size() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = LogStore::open(dir.path()).unwrap();
    for i in 0..3000 {
        log.append(leaf(i)).unwrap();
    }
    let first = log.root();
    log.mark_anchored(AnchoredHead {
        sequence: 1,
        size: 3000,
        root: first,
    })
    .unwrap();
    // An anchor of 6,000 records was sent, then the agent crashed and, restarted, read on.
    for i in 3000..6001 {
        log.append(leaf(i)).unwrap();
    }
    log.checkpoint().unwrap();
    let at_6000 = root(&(0..6000).map(leaf).collect::<Vec<_>>());
    assert_eq!(log.root_at(6000).unwrap(), Some(at_6000));
    assert_eq!(log.root_at(2999).unwrap(), None, "before the anchored head");
    assert_eq!(log.root_at(6002).unwrap(), None, "beyond the log");

    let head = |size, root| AnchoredHead {
        sequence: 2,
        size,
        root,
    };
    assert!(
        !log.mark_anchored_earlier(head(6000, first)).unwrap(),
        "wrong root"
    );
    assert!(
        !log.mark_anchored_earlier(head(2000, first)).unwrap(),
        "before the anchor"
    );
    assert!(
        !log.mark_anchored_earlier(head(7000, at_6000)).unwrap(),
        "beyond the log"
    );
    assert_eq!(log.anchored().unwrap().sequence, 1, "nothing was recorded");

    assert!(log.mark_anchored_earlier(head(6000, at_6000)).unwrap());
    drop(log);
    let mut log = LogStore::open(dir.path()).unwrap();
    assert_eq!(
        log.anchored(),
        Some(head(6000, at_6000)),
        "recorded durably"
    );
    assert_eq!(log.size(), 6001, "the record read since is kept");
    // The next anchor proves its growth from the adopted head.
    let proof = log.consistency_since_anchor().unwrap();
    verify_consistency(6000, 6001, &at_6000, &log.root(), &proof).unwrap();
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// A state file replaced by any bytes, or cut short, or with one byte changed, never
    /// panics and is refused (its checksum), so the leaves file is left whole: a changed
    /// size byte that still decodes (5 to 3 keeps the peak count) must not cut two leaves.
    #[test]
    fn a_damaged_state_file_is_refused_and_never_cuts_leaves(
        junk in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
        at in 0usize..1_000,
        xor in 1u8..=255,
        how in 0u8..3,
    ) {
        let dir = tempfile::tempdir().unwrap();
        checkpointed(dir.path(), 5);
        let state = dir.path().join("state");
        let mut bytes = std::fs::read(&state).unwrap();
        match how {
            0 => bytes = junk,
            1 => bytes.truncate(at % bytes.len()),
            _ => {
                let at = at % bytes.len();
                bytes[at] ^= xor;
            }
        }
        std::fs::write(&state, &bytes).unwrap();
        let opened = LogStore::open(dir.path());
        proptest::prop_assert!(opened.is_err(), "a damaged state was read");
        let leaves = std::fs::metadata(dir.path().join("leaves")).unwrap().len();
        proptest::prop_assert_eq!(leaves, 5 * 32);
    }
}

/// A state file written before the checksum (version 2) still opens, and the next checkpoint
/// writes it with one.
#[test]
fn a_version_2_state_without_a_checksum_still_opens() {
    let dir = tempfile::tempdir().unwrap();
    checkpointed(dir.path(), 3);
    let log = LogStore::open(dir.path()).unwrap();
    let root = log.root();
    let old = super::State {
        version: 2,
        ..log.state.clone()
    };
    drop(log);
    std::fs::write(dir.path().join("state"), encode(&old)).unwrap();
    let mut log = LogStore::open(dir.path()).unwrap();
    assert_eq!((log.size(), log.root()), (3, root));
    log.checkpoint().unwrap();
    let bytes = std::fs::read(dir.path().join("state")).unwrap();
    assert_eq!(bytes[0], 3);
    assert_eq!(bytes.len(), encode(&old).len() + 32);
}
