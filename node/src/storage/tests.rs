use super::*;
use credledger_core::devnet::{Devnet, DevnetParams};

fn genesis(seed: u8) -> Genesis {
    Devnet::build(&[seed; 32], &DevnetParams::default())
        .unwrap()
        .genesis
}

#[test]
fn genesis_state_is_written_once_and_checked_on_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let g = genesis(1);
    let root = {
        let store = Store::open(dir.path()).unwrap();
        let root = store.init(&g).unwrap();
        assert_eq!(root, g.initial_state().unwrap().0);
        assert_eq!(store.last_height().unwrap(), Height(0));
        root
    };
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.init(&g).unwrap(), root);
    assert_eq!(store.genesis_hash().unwrap(), g.hash());
    match store.init(&genesis(2)) {
        Err(StoreError::GenesisMismatch { stored, .. }) => assert_eq!(stored, g.hash()),
        other => panic!("expected a genesis mismatch, got {other:?}"),
    }
    // State values and nodes are readable through core's traits.
    let v = StateReader::read(&store, &StateKey::Governance).unwrap();
    assert!(matches!(v, Some(StateValue::Governance(_))));
    let (found, proof) =
        credledger_core::smt::prove(&store, root, &StateKey::Governance.hash()).unwrap();
    assert!(
        proof
            .verify(&root, &StateKey::Governance.hash(), found.as_ref())
            .is_ok()
    );
}

#[test]
fn a_database_of_another_format_is_refused_with_the_way_out() {
    let dir = tempfile::tempdir().unwrap();
    let g = genesis(1);
    {
        let store = Store::open(dir.path()).unwrap();
        store.init(&g).unwrap();
        // As a node from before format versioning left it.
        let cf = store.cf(Column::Meta).unwrap();
        store
            .db
            .delete_cf(cf, MetaKey::FormatVersion.key())
            .unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    let err = store.init(&g).unwrap_err();
    assert!(matches!(
        err,
        StoreError::FormatMismatch {
            stored: 1,
            expected: FORMAT_VERSION
        }
    ));
    assert!(err.to_string().contains("new data folder"), "{err}");
}

#[test]
fn columns_are_declared_once_with_distinct_names() {
    let names: std::collections::HashSet<_> = Column::ALL.iter().map(|c| c.name()).collect();
    assert_eq!(names.len(), Column::ALL.len());
}

#[test]
fn a_damaged_entry_is_reported_not_panicked() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.init(&genesis(1)).unwrap();
    let cf = store.cf(Column::Meta).unwrap();
    store
        .db
        .put_cf(cf, MetaKey::LastHeight.key(), [1, 2, 3])
        .unwrap();
    assert!(matches!(
        store.last_height(),
        Err(StoreError::Corrupt { column: "meta", .. })
    ));
}

#[test]
fn each_data_folder_takes_its_own_memtable_size_within_bounds() {
    let sizes: Vec<usize> = (0..4)
        .map(|i| memtable_bytes(Path::new(&format!("/var/lib/credledger/v{i}/data/db"))))
        .collect();
    for s in &sizes {
        assert!((32 << 20..64 << 20).contains(s), "{s}");
    }
    let mut distinct = sizes.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), 4, "{sizes:?}");
    // Fixed by the path: a restarted node keeps its size.
    assert_eq!(
        memtable_bytes(Path::new("/var/lib/credledger/v0/data/db")),
        sizes[0]
    );
}

/// Writes an empty block at the next height that sets `values`.
fn write_values(
    store: &Store,
    world: &mut credledger_core::testkit::World,
    values: &[(StateKey, StateValue)],
) {
    let (header, commit) = world.commit(credledger_core::ids::Timestamp(1_000));
    store
        .write_block(&BlockWrite {
            block: Block {
                header,
                transactions: Default::default(),
            },
            commit,
            receipts: Vec::new(),
            values: values.to_vec(),
            nodes: Vec::new(),
            root: Digest::ZERO,
            next_set: None,
            events: Vec::new(),
            anchors: Vec::new(),
        })
        .unwrap();
}

#[test]
fn cached_state_values_follow_every_committed_block() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.init(&genesis(1)).unwrap();
    let mut world = credledger_core::testkit::World::new(1, 4);
    let nonce = |n| StateValue::Nonce {
        next: credledger_core::ids::Nonce(n),
    };
    let issuer =
        |name: &str| StateKey::IssuerNonce(credledger_core::ids::IssuerId::new(name).unwrap());
    let (seen, unseen, raced) = (issuer("seen"), issuer("unseen"), issuer("raced"));

    // Read once, so the cache holds them: one absent, one present after the first block.
    assert_eq!(store.value(&seen).unwrap(), None);
    write_values(&store, &mut world, &[(seen.clone(), nonce(1))]);
    assert_eq!(store.value(&seen).unwrap(), Some(nonce(1)));

    // A reader misses, a block commits a new value, and only then does the reader offer what
    // it read before the block: the cache must refuse it.
    let before = store.cached_value(&raced.hash()).unwrap_err().unwrap();
    write_values(
        &store,
        &mut world,
        &[(raced.clone(), nonce(5)), (seen.clone(), nonce(2))],
    );
    store.keep_value(raced.hash(), &None, before);
    assert_eq!(store.value(&raced).unwrap(), Some(nonce(5)));
    assert_eq!(store.value(&seen).unwrap(), Some(nonce(2)));

    // Offered at the current generation, a value is kept and answered from memory (the cache
    // is consulted first: a value the store does not hold shows it).
    let now = store.cached_value(&unseen.hash()).unwrap_err().unwrap();
    store.keep_value(unseen.hash(), &Some(nonce(9)), now);
    assert_eq!(store.value(&unseen).unwrap(), Some(nonce(9)));

    // Every committed value is in the database itself, not only in the cache.
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.value(&seen).unwrap(), Some(nonce(2)));
    assert_eq!(store.value(&raced).unwrap(), Some(nonce(5)));
    assert_eq!(store.value(&unseen).unwrap(), None);
}
