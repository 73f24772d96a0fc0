use super::*;
use crate::hash::sha256;
use proptest::prelude::*;

fn key(i: u64) -> Digest {
    sha256(&[&i.to_le_bytes()])
}

fn val(i: u64) -> Digest {
    sha256(&[b"v", &i.to_le_bytes()])
}

fn build_map(ids: &[u64]) -> (MemStore, Digest) {
    let mut store = MemStore::new();
    let entries: Vec<_> = ids.iter().map(|i| (key(*i), val(*i))).collect();
    let (root, nodes) = update(&store, Digest::ZERO, &entries).unwrap();
    store.extend(nodes);
    (store, root)
}

#[test]
fn empty_map_proves_absence() {
    let store = MemStore::new();
    let (v, p) = prove(&store, Digest::ZERO, &key(1)).unwrap();
    assert_eq!(v, None);
    assert!(p.verify(&Digest::ZERO, &key(1), None).is_ok());
    assert!(p.verify(&Digest::ZERO, &key(1), Some(&val(1))).is_err());
}

#[test]
fn duplicate_keys_in_one_update_are_refused() {
    let store = MemStore::new();
    let e = [(key(1), val(1)), (key(1), val(2))];
    assert_eq!(
        update(&store, Digest::ZERO, &e).unwrap_err(),
        SmtError::DuplicateKey(key(1))
    );
}

#[test]
fn missing_nodes_are_reported_not_panicked() {
    let (_, root) = build_map(&[1, 2, 3]);
    let empty = MemStore::new();
    assert_eq!(
        prove(&empty, root, &key(1)).unwrap_err(),
        SmtError::MissingNode(root)
    );
}

proptest! {
    #[test]
    fn root_depends_only_on_contents(ids in proptest::collection::btree_set(0u64..10_000, 0..60), split in 0usize..60) {
        let ids: Vec<u64> = ids.into_iter().collect();
        let (_, all_at_once) = build_map(&ids);
        // The same entries in two updates give the same root.
        let split = split.min(ids.len());
        let mut store = MemStore::new();
        let first: Vec<_> = ids[..split].iter().map(|i| (key(*i), val(*i))).collect();
        let (r1, n1) = update(&store, Digest::ZERO, &first).unwrap();
        store.extend(n1);
        let second: Vec<_> = ids[split..].iter().rev().map(|i| (key(*i), val(*i))).collect();
        let (r2, _) = update(&store, r1, &second).unwrap();
        prop_assert_eq!(r2, all_at_once);
    }

    #[test]
    fn proofs_of_presence_and_absence(ids in proptest::collection::btree_set(0u64..1_000, 1..50), probe in 0u64..1_000) {
        let ids: Vec<u64> = ids.into_iter().collect();
        let (store, root) = build_map(&ids);
        let (v, p) = prove(&store, root, &key(probe)).unwrap();
        if ids.contains(&probe) {
            prop_assert_eq!(v, Some(val(probe)));
            prop_assert!(p.verify(&root, &key(probe), Some(&val(probe))).is_ok());
            prop_assert!(p.verify(&root, &key(probe), Some(&val(probe + 1))).is_err());
            prop_assert!(p.verify(&root, &key(probe), None).is_err());
        } else {
            prop_assert_eq!(v, None);
            prop_assert!(p.verify(&root, &key(probe), None).is_ok());
            prop_assert!(p.verify(&root, &key(probe), Some(&val(probe))).is_err());
        }
        // Any changed sibling breaks the proof.
        if !p.siblings.is_empty() {
            let mut bad = p.clone();
            let mut s = bad.siblings.clone().into_inner();
            s[0].0[0] ^= 1;
            bad.siblings = crate::bounded::BoundedVec::new(s).unwrap();
            prop_assert!(bad.verify(&root, &key(probe), v.as_ref()).is_err());
        }
    }

    #[test]
    fn updating_a_value_changes_only_that_answer(ids in proptest::collection::btree_set(0u64..1_000, 2..40)) {
        let ids: Vec<u64> = ids.into_iter().collect();
        let (mut store, root) = build_map(&ids);
        let target = ids[0];
        let (root2, nodes) = update(&store, root, &[(key(target), val(99_999))]).unwrap();
        store.extend(nodes);
        prop_assert_ne!(root, root2);
        let (v, p) = prove(&store, root2, &key(target)).unwrap();
        prop_assert_eq!(v, Some(val(99_999)));
        prop_assert!(p.verify(&root2, &key(target), Some(&val(99_999))).is_ok());
        // The old root still answers with the old value: past roots stay readable.
        let (old, _) = prove(&store, root, &key(target)).unwrap();
        prop_assert_eq!(old, Some(val(target)));
    }
}
