//! `cargo bench --workspace --locked --profile dev --bench memtable` (the dev profile builds
//! RocksDB optimized, as the devnet runs it, and shares CI's build): what one block's
//! state-map nodes cost RocksDB's skip-list memtable at several memtable sizes, with the
//! node's own options for the `state_nodes` column. A block of ~35 transactions writes ~390
//! nodes under random (hash) keys, a busy chain's block of ~300 about 3,300; each insert
//! descends the skip list, about a cache miss per level, so the memtable's size sets the
//! price. Sequential keys are shown for scale: they reuse the previous insert's position;
//! sorted batches (with or without RocksDB's per-batch insert hint) and the vector memtable
//! are the alternatives that were measured. This is why `state_nodes` has smaller memtables
//! than the other columns (`node/src/storage/columns.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Instant;

use credledger_node::storage::Column;

/// A well-spread 32-byte key (SplitMix64 steps), standing in for a node hash.
fn spread(n: u64) -> [u8; 32] {
    let mut k = [0u8; 32];
    let mut x = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    for c in k.chunks_mut(8) {
        x ^= x >> 31;
        x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x ^= x >> 29;
        c.copy_from_slice(&x.to_le_bytes());
    }
    k
}

/// How a case lays out its keys and memtable.
#[derive(Clone, Copy, PartialEq)]
enum Case {
    /// Random keys, as the node writes them.
    Random,
    /// Random keys, each batch sorted before the write (each insert starts near the last).
    SortedBatches,
    /// Sorted batches written with a hint: RocksDB's unordered writes insert into the memtable
    /// as concurrent writers do, and then keep each batch's last insert position per memtable
    /// as the next insert's starting point.
    SortedHinted,
    /// Increasing keys, for scale.
    Sequential,
    /// Random keys into RocksDB's vector memtable: fast to append to, but a read of a key
    /// still in it copies and sorts the whole memtable.
    Vector,
}

impl Case {
    fn name(self) -> &'static str {
        match self {
            Case::Random => "random keys",
            Case::SortedBatches => "random keys, each batch sorted",
            Case::SortedHinted => "random keys, each batch sorted, hinted",
            Case::Sequential => "sequential keys",
            Case::Vector => "random keys, vector memtable",
        }
    }
}

/// Milliseconds per batch of `per_batch` 80-byte values, after `warm` batches have filled the
/// memtable, and the microseconds of one point read of a recent key.
fn run(mib: usize, case: Case, warm: u64, timed: u64, per_batch: u64) -> (f64, f64) {
    let dir = tempfile::tempdir().unwrap();
    // The column's options for a database whose memtables are four times `mib`: the column
    // itself gets a quarter.
    let mut o = Column::StateNodes.options(4 * (mib << 20));
    o.create_if_missing(true);
    if case == Case::Vector {
        o.set_memtable_factory(rocksdb::MemtableFactory::Vector);
    }
    let mut w = rocksdb::WriteOptions::default();
    if case == Case::SortedHinted {
        o.set_unordered_write(true);
        w.set_memtable_insert_hint_per_batch(true);
    }
    let db = rocksdb::DB::open(&o, dir.path()).unwrap();
    let key = |n: u64| {
        if case == Case::Sequential {
            let mut k = [0u8; 32];
            k[..8].copy_from_slice(&n.to_be_bytes());
            k
        } else {
            spread(n)
        }
    };
    let mut n = 0u64;
    let mut spent = 0.0;
    for b in 0..warm + timed {
        let mut keys: Vec<[u8; 32]> = (0..per_batch)
            .map(|_| {
                n += 1;
                key(n)
            })
            .collect();
        if matches!(case, Case::SortedBatches | Case::SortedHinted) {
            keys.sort_unstable();
        }
        let mut batch = rocksdb::WriteBatch::default();
        for k in &keys {
            batch.put(k, [7u8; 80]);
        }
        let t = Instant::now();
        db.write_opt(batch, &w).unwrap();
        if b >= warm {
            spent += t.elapsed().as_secs_f64();
        }
    }
    let t = Instant::now();
    assert!(db.get(key(n - 100)).unwrap().is_some());
    let read = t.elapsed().as_secs_f64();
    (spent * 1e3 / timed as f64, read * 1e6)
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (warm, timed) = if quick { (50, 50) } else { (500, 1_000) };
    println!("# credledger-node memtable benchmark: batches of 32-byte keys, 80-byte values");
    for (per_batch, mib, case) in [
        (390, 48, Case::Random),
        (390, 16, Case::Random),
        (390, 12, Case::Random),
        (390, 8, Case::Random),
        (390, 48, Case::SortedBatches),
        (390, 16, Case::SortedBatches),
        (390, 16, Case::SortedHinted),
        (390, 48, Case::Sequential),
        (390, 16, Case::Vector),
        (3_300, 16, Case::Random),
        (3_300, 16, Case::SortedBatches),
        (3_300, 16, Case::SortedHinted),
    ] {
        let (ms, read_us) = run(mib, case, warm, timed, per_batch);
        println!(
            "batches of {per_batch:>5} keys, memtable {mib:>2} MiB, {}: {ms:.3} ms per batch ({:.2} µs per key); a read {read_us:.1} µs",
            case.name(),
            ms * 1e3 / per_batch as f64
        );
    }
}
