use super::*;
use credledger_core::bounded::ShortVec;
use credledger_core::ids::{Nonce, Timestamp};
use credledger_core::tx::{GovernanceAction, GovernanceProposal};

/// A distinct transaction per (tag, nonce); the pool never looks inside.
fn tx(tag: &str, nonce: u64) -> Transaction {
    Transaction::Governance {
        proposal: GovernanceProposal {
            nonce: Nonce(nonce),
            action: GovernanceAction::RemoveIssuer {
                issuer: tag.parse().unwrap(),
            },
        },
        approvals: ShortVec::empty(),
    }
}

/// The time of a test's insertions.
const T0: Timestamp = Timestamp(1_000_000);

fn adm(signer: &str, nonce: u64) -> Admission {
    Admission {
        signer: Signer::Issuer(signer.parse().unwrap()),
        nonce,
        next: 0,
        checked: Vec::new(),
    }
}

#[test]
fn bounded_deduplicated_and_one_tx_per_nonce() {
    let mut pool = Mempool::new(MempoolLimits {
        max_txs: 3,
        max_bytes: 1_000,
        ..MempoolLimits::default()
    });
    pool.insert(tx("a", 0), 100, adm("a", 0), T0).unwrap();
    assert!(matches!(
        pool.insert(tx("a", 0), 100, adm("a", 0), T0),
        Err(MempoolError::Duplicate(_))
    ));
    assert!(matches!(
        pool.insert(tx("b", 0), 100, adm("a", 0), T0),
        Err(MempoolError::NonceTaken { nonce: 0, .. })
    ));
    pool.insert(tx("a", 1), 100, adm("a", 1), T0).unwrap();
    assert!(
        matches!(
            pool.insert(tx("c", 0), 900, adm("c", 0), T0),
            Err(MempoolError::Full { .. })
        ),
        "bytes bound"
    );
    pool.insert(tx("c", 0), 100, adm("c", 0), T0).unwrap();
    assert!(
        matches!(
            pool.insert(tx("d", 0), 1, adm("d", 0), T0),
            Err(MempoolError::Full { txs: 3, .. })
        ),
        "count bound"
    );
    assert_eq!((pool.len(), pool.bytes()), (3, 300));
}

#[test]
fn selection_takes_consecutive_nonces_round_robin() {
    let mut pool = Mempool::new(MempoolLimits::default());
    // Signer a: nonces 5, 6, 8 (7 missing); signer b: 0, 1; c: 3 while the state expects 2.
    for n in [5, 6, 8] {
        pool.insert(tx("a", n), 10, adm("a", n), T0).unwrap();
    }
    for n in [0, 1] {
        pool.insert(tx("b", n), 10, adm("b", n), T0).unwrap();
    }
    pool.insert(tx("c", 3), 10, adm("c", 3), T0).unwrap();
    let next = |s: &Signer| match s {
        Signer::Issuer(i) if i.as_str() == "a" => 5,
        Signer::Issuer(i) if i.as_str() == "c" => 2,
        _ => 0,
    };
    let picked = pool.select(next, 100, usize::MAX);
    let expected = vec![tx("a", 5), tx("b", 0), tx("a", 6), tx("b", 1)];
    assert_eq!(picked, expected, "a's 8 waits for 7, c's 3 waits for 2");
    assert_eq!(pool.select(next, 3, usize::MAX).len(), 3);
    assert_eq!(pool.select(next, 100, 25).len(), 2, "byte budget");

    // After a block committed a's 5 and 6 and b's 0, those leave the pool.
    let after = |s: &Signer| match s {
        Signer::Issuer(i) if i.as_str() == "a" => 7,
        Signer::Issuer(i) if i.as_str() == "b" => 1,
        Signer::Issuer(i) if i.as_str() == "c" => 2,
        _ => 0,
    };
    pool.prune(after, T0);
    assert_eq!(pool.len(), 3);
    assert_eq!(pool.bytes(), 30);
    assert_eq!(pool.select(after, 100, usize::MAX), vec![tx("b", 1)]);
}

#[test]
fn only_a_transaction_with_the_expected_nonce_makes_the_pool_ready() {
    let mut pool = Mempool::new(MempoolLimits::default());
    assert!(!pool.has_ready(|_| 0), "empty");
    // c's 3 waits behind a gap while the state expects 2.
    pool.insert(tx("c", 3), 10, adm("c", 3), T0).unwrap();
    assert!(!pool.has_ready(|_| 2), "only a transaction behind a gap");
    assert!(pool.has_ready(|_| 3), "the gap is filled");
    pool.insert(tx("a", 0), 10, adm("a", 0), T0).unwrap();
    assert!(pool.has_ready(|_| 0));
}

#[test]
fn a_committed_transaction_leaves_the_pool_even_when_it_failed_without_spending_its_nonce() {
    let mut pool = Mempool::new(MempoolLimits::default());
    pool.insert(tx("a", 0), 10, adm("a", 0), T0).unwrap();
    pool.insert(tx("a", 1), 10, adm("a", 1), T0).unwrap();
    pool.insert(tx("b", 0), 10, adm("b", 0), T0).unwrap();
    // The block carried a's 0, which failed: the state still expects nonce 0 from a.
    pool.remove_committed(&[tx("a", 0)]);
    pool.prune(|_| 0, T0);
    assert_eq!((pool.len(), pool.bytes()), (2, 20));
    assert_eq!(
        pool.select(|_| 0, 10, 1_000),
        vec![tx("b", 0)],
        "a's 1 waits for a new 0"
    );
    // A new transaction may take the nonce the failed one held.
    pool.insert(tx("a2", 0), 10, adm("a", 0), T0).unwrap();
    pool.remove_committed(&[tx("b", 0), tx("zz", 9)]);
    assert_eq!(pool.len(), 2);
}

#[test]
fn transactions_behind_a_gap_are_dropped_once_they_have_waited_too_long() {
    let mut pool = Mempool::new(MempoolLimits {
        max_gap_wait_ms: 1_000,
        ..MempoolLimits::default()
    });
    // a: 0 and 1 can run, 3 and 4 wait for 2; 4 came later than 3. b: 5 waits for 4.
    for n in [0, 1, 3] {
        pool.insert(tx("a", n), 10, adm("a", n), T0).unwrap();
    }
    let later = Timestamp(T0.0 + 800);
    pool.insert(tx("a", 4), 10, adm("a", 4), later).unwrap();
    pool.insert(tx("b", 5), 10, adm("b", 5), T0).unwrap();
    let next = |s: &Signer| match s {
        Signer::Issuer(i) if i.as_str() == "b" => 4,
        _ => 0,
    };
    // The first prune sees the gaps; at the limit nothing goes.
    assert_eq!(pool.prune(next, T0), 0);
    assert_eq!(pool.prune(next, Timestamp(T0.0 + 1_000)), 0);
    assert_eq!(pool.len(), 5);
    // Past it, what waited behind a gap that long goes; what can run, and what came later,
    // stay.
    assert_eq!(pool.prune(next, Timestamp(T0.0 + 1_001)), 2);
    assert_eq!((pool.len(), pool.bytes()), (3, 30));
    assert_eq!(
        pool.select(next, 100, usize::MAX),
        vec![tx("a", 0), tx("a", 1)]
    );
    // Once 2 comes, 4 runs after it.
    pool.insert(tx("a", 2), 10, adm("a", 2), later).unwrap();
    pool.insert(tx("a", 3), 10, adm("a", 3), later).unwrap();
    assert_eq!(pool.prune(next, Timestamp(T0.0 + 5_000)), 0);
    assert_eq!(pool.select(next, 100, usize::MAX).len(), 5);
}

#[test]
fn a_gap_counts_from_when_it_opened_not_from_when_the_transactions_came() {
    let mut pool = Mempool::new(MempoolLimits {
        max_gap_wait_ms: 1_000,
        ..MempoolLimits::default()
    });
    // A backlog that waited long, runnable all along: 0, 1, 2.
    for n in 0..3 {
        pool.insert(tx("a", n), 10, adm("a", n), T0).unwrap();
    }
    let late = Timestamp(T0.0 + 5_000);
    assert_eq!(pool.prune(|_| 0, late), 0);
    // 0 failed without spending its nonce and left: 1 and 2 now wait behind a gap, just
    // opened, so they stay until it has been open past the limit.
    pool.remove_committed(&[tx("a", 0)]);
    assert_eq!(pool.prune(|_| 0, late), 0);
    assert_eq!(pool.prune(|_| 0, Timestamp(late.0 + 1_000)), 0);
    assert_eq!(pool.len(), 2);
    // A new 0 closes the gap before then: nothing is dropped, and the gap is forgotten.
    pool.insert(tx("a0", 0), 10, adm("a", 0), late).unwrap();
    assert_eq!(pool.prune(|_| 0, Timestamp(late.0 + 1_001)), 0);
    assert!(pool.gaps.is_empty());
    // Left open past the limit, it drops them.
    pool.remove_committed(&[tx("a0", 0)]);
    assert_eq!(pool.prune(|_| 0, Timestamp(late.0 + 2_000)), 0);
    assert_eq!(pool.prune(|_| 0, Timestamp(late.0 + 3_001)), 2);
    assert!(pool.is_empty() && pool.gaps.is_empty());
}
