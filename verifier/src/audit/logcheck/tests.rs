#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use credledger_core::merkle::leaf_hash;
use proptest::prelude::*;

const T0: u64 = 1_767_225_600_000;

fn rec(i: u64) -> FileRecord {
    FileRecord {
        leaf: leaf_hash(&i.to_le_bytes()),
        time: Some(Timestamp(T0 + i)),
    }
}

/// 1,000 records anchored at 300, 700 and 1,000, each anchor 100 s after its last record.
fn setup() -> (Vec<Head>, Vec<FileRecord>, Vec<Digest>) {
    let file: Vec<FileRecord> = (0..1000).map(rec).collect();
    let leaves: Vec<Digest> = file.iter().map(|r| r.leaf).collect();
    let mut tree = CompactTree::new();
    let mut heads = Vec::new();
    for (seq, size) in [(1, 300u64), (2, 700), (3, 1000)] {
        while tree.size() < size {
            tree.push(leaves[tree.size() as usize]);
        }
        heads.push(Head {
            sequence: seq,
            size,
            root: tree.root(),
            anchored_at: Timestamp(T0 + size + 100_000),
        });
    }
    (heads, file, leaves)
}

fn run(file: &[FileRecord], reference: Option<&[Digest]>) -> CheckReport {
    let (heads, _, _) = setup();
    check(&heads, file, Vec::new(), reference, 60_000)
}

#[test]
fn an_intact_log_is_clean_and_its_tail_is_counted() {
    let (_, mut file, leaves) = setup();
    assert!(run(&file, Some(&leaves)).clean());
    // A record logged after the last anchor is simply not anchored yet.
    file.push(FileRecord {
        leaf: leaf_hash(b"new"),
        time: Some(Timestamp(T0 + 200_000)),
    });
    let r = run(&file, None);
    assert!(r.clean(), "{:?}", r.findings);
    assert_eq!((r.records, r.anchored, r.unanchored), (1001, 1000, 1));
}

#[test]
fn each_tampering_is_named_by_line_with_the_agents_leaves() {
    let (_, file, leaves) = setup();
    let check = |f: &[FileRecord]| run(f, Some(&leaves)).findings;

    let mut altered = file.clone();
    altered[499].leaf = leaf_hash(b"changed");
    assert_eq!(
        check(&altered),
        vec![Finding::Altered {
            line: 500,
            anchored_line: 500
        }]
    );

    let mut deleted = file.clone();
    deleted.remove(299);
    assert_eq!(
        check(&deleted),
        vec![Finding::Missing {
            anchored_line: 300,
            count: 1,
            after_line: Some(299)
        }]
    );

    let mut swapped = file.clone();
    swapped.swap(499, 500);
    let f = check(&swapped);
    assert_eq!(f.len(), 2, "{f:?}");
    for line in [500, 501] {
        assert!(
            f.iter()
                .any(|x| matches!(x, Finding::Reordered { line: l, .. } if *l == line)),
            "{f:?}"
        );
    }

    let mut doubled = file.clone();
    doubled.insert(10, rec(9));
    assert_eq!(
        check(&doubled),
        vec![Finding::Duplicated {
            line: 11,
            first_line: 10
        }]
    );

    let mut slipped = file.clone();
    slipped.insert(599, rec(5000));
    assert!(matches!(
        check(&slipped).as_slice(),
        [Finding::AppendedAfterAnchor {
            line: 600,
            sequence: 2,
            ..
        }]
    ));

    let mut truncated = file.clone();
    truncated.truncate(990);
    assert_eq!(
        check(&truncated),
        vec![Finding::Missing {
            anchored_line: 991,
            count: 10,
            after_line: Some(990)
        }]
    );
}

#[test]
fn a_backdated_record_after_the_last_anchor_was_appended_late() {
    let (_, mut file, _) = setup();
    file.push(FileRecord {
        leaf: leaf_hash(b"late"),
        time: Some(Timestamp(T0)),
    });
    let f = run(&file, None).findings;
    assert!(matches!(
        f.as_slice(),
        [Finding::AppendedAfterAnchor {
            line: 1001,
            sequence: 3,
            ..
        }]
    ));
}

#[test]
fn without_leaves_the_window_is_named_and_false_leaves_are_refused() {
    let (_, file, leaves) = setup();
    let mut altered = file.clone();
    altered[499].leaf = leaf_hash(b"changed");
    assert_eq!(
        run(&altered, None).findings,
        vec![Finding::HeadMismatch {
            sequence: 2,
            size: 700,
            from_line: 301,
            to_line: 700
        }]
    );
    // Leaves altered the same way do not reproduce anchor 2, so they are not believed.
    let forged: Vec<Digest> = altered.iter().map(|r| r.leaf).collect();
    let r = run(&altered, Some(&forged));
    assert!(!r.leaves_used);
    assert_eq!(r.findings[0], Finding::LeavesRejected { sequence: 2 });
    assert!(run(&altered, Some(&leaves)).leaves_used);
    // Swapped records also run backwards in time, which the file alone shows.
    let mut swapped = file;
    swapped.swap(10, 11);
    assert!(
        run(&swapped, None)
            .findings
            .contains(&Finding::TimeBackwards { line: 12 })
    );
}

proptest! {
    #[test]
    fn any_single_tampering_is_found_at_its_line(kind in 0u8..4, at in 0usize..999) {
        let (_, file, leaves) = setup();
        let mut f = file.clone();
        let line = at as u64 + 1;
        match kind {
            0 => f[at].leaf = leaf_hash(b"x"),
            1 => { f.remove(at); }
            2 => f.swap(at, at + 1),
            _ => f.insert(at + 1, rec(at as u64)),
        }
        let found = run(&f, Some(&leaves)).findings;
        let named = found.iter().any(|x| match x {
            Finding::Altered { line: l, .. } => *l == line,
            Finding::Missing { anchored_line, .. } => *anchored_line == line,
            Finding::Reordered { line: l, .. } => *l == line || *l == line + 1,
            Finding::Duplicated { line: l, .. } => *l == line + 1,
            _ => false,
        });
        prop_assert!(named, "kind {} at line {}: {:?}", kind, line, found);
        prop_assert!(found.len() <= 2, "{:?}", found);
    }
}
