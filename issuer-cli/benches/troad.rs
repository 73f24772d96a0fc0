//! `cargo bench -p credledger-issuer --bench troad`: the anchoring agent's ingest rate per core
//! next to raw SHA-256 measured in the same run, and the size of an evidence bundle for one
//! record of a 10^6- and a 10^9-record log (spec/troad-log.md §6).
//!
//! A self-timed harness, as in core's `verify` bench: the figures wanted are rates, ratios and
//! sizes in one table.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::time::Instant;

use credledger_core::bounded::{BoundedVec, Text};
use credledger_core::hash::{Digest, Domain, sha256};
use credledger_core::ids::Timestamp;
use credledger_core::merkle::{CompactTree, inclusion_ranges, node_hash};
use credledger_core::testkit::World;
use credledger_core::troad::LogRecord;
use credledger_core::verify::{EVIDENCE_VERSION, LogEvidence, verify_log_evidence};
use credledger_issuer::logstore::LogStore;

fn record(i: u64) -> LogRecord {
    let d = |w: &[u8]| Domain::DevnetDerive.hash(&[w, &i.to_le_bytes()]);
    LogRecord {
        id: Text::new(format!("ss1-{i:012}")).unwrap(),
        time_ms: Timestamp(1_767_225_600_000 + 7 * i),
        client: Text::new("TW/GOV/MOJ/lawyer-registry").unwrap(),
        service: Text::new("TW/GOV/MOEA/company-registry/getCompany").unwrap(),
        request_digest: d(b"request"),
        response_digest: d(b"response"),
        security_server: Text::new("TW/GOV/SS/1").unwrap(),
        signature_digest: d(b"signature"),
    }
}

/// Items per second of `f` over `n` items, best of three runs.
fn rate(n: u64, mut f: impl FnMut(u64)) -> f64 {
    let mut best = 0f64;
    for _ in 0..3 {
        let start = Instant::now();
        for i in 0..n {
            f(i);
        }
        best = best.max(n as f64 / start.elapsed().as_secs_f64());
    }
    best
}

/// The root of a tree of `n` copies of `leaf`, and the roots of perfect subtrees by height:
/// every subtree of such a tree is computed in O(log n), so a 10^9-record log is exact without
/// 10^9 hashes.
struct Uniform {
    perfect: Vec<Digest>,
}

impl Uniform {
    fn new(leaf: Digest) -> Uniform {
        let mut perfect = vec![leaf];
        for k in 1..64 {
            let p = perfect[k - 1];
            perfect.push(node_hash(&p, &p));
        }
        Uniform { perfect }
    }

    fn root(&self, n: u64) -> Digest {
        if n.is_power_of_two() {
            return self.perfect[n.trailing_zeros() as usize];
        }
        let k = 1u64 << (63 - (n - 1).leading_zeros());
        node_hash(
            &self.perfect[k.trailing_zeros() as usize],
            &self.root(n - k),
        )
    }

    fn frontier(&self, n: u64) -> CompactTree {
        let peaks = (0..64)
            .rev()
            .filter(|b| n & (1u64 << b) != 0)
            .map(|b| self.perfect[b])
            .collect();
        CompactTree::from_parts(n, peaks).unwrap()
    }
}

/// The bundle of record `index` of a `records`-record log on a ledger whose state holds
/// `state_filler` other entries: its size in bytes and its number of inclusion hashes.
fn bundle_size(records: u64, index: u64, state_filler: u32) -> (usize, usize) {
    let mut w = World::new(1, 4);
    w.add_filler(state_filler);
    let r = record(0);
    let u = Uniform::new(r.leaf());
    let tree = u.frontier(records);
    assert_eq!(tree.root(), u.root(records));
    w.anchor_log("troad-demo-ss1", &tree, &[]);
    w.commit(Timestamp(1_767_225_700_000));
    let proof: Vec<Digest> = inclusion_ranges(index, records)
        .unwrap()
        .into_iter()
        .map(|(lo, hi)| u.root(hi - lo))
        .collect();
    let ev = LogEvidence {
        version: EVIDENCE_VERSION,
        index,
        record_digest: r.digest(),
        inclusion: BoundedVec::new(proof).unwrap(),
        anchor: w.anchor_evidence("troad-demo-ss1", 1),
        set_changes: BoundedVec::empty(),
    };
    verify_log_evidence(&ev, &w.anchor(), Some(&r)).expect("the bundle verifies");
    (ev.to_bytes().len(), ev.inclusion.len())
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let n: u64 = if quick { 200_000 } else { 2_000_000 };
    println!("# credledger T-Road benchmark");
    println!(
        "machine: {} cores; {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::fs::read_to_string("/proc/cpuinfo")
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("model name\t: "))
            .unwrap_or("unknown CPU")
    );
    println!("one thread; {n} records per run, best of 3\n");

    let block = [7u8; 64];
    let sha = rate(n, |i| {
        black_box(sha256(&[&block[..56], &i.to_le_bytes()]));
    });
    let records: Vec<LogRecord> = (0..n.min(200_000)).map(record).collect();
    let lines: Vec<String> = records.iter().map(LogRecord::to_line).collect();
    let m = records.len() as u64;
    let leaves: Vec<Digest> = records.iter().map(LogRecord::leaf).collect();

    let mut tree = CompactTree::new();
    let push = rate(n, |i| tree.push(leaves[(i % m) as usize]));
    let mut tree = CompactTree::new();
    let hashed = rate(m, |i| tree.push(records[i as usize].leaf()));
    let mut tree = CompactTree::new();
    let parsed = rate(m, |i| {
        let r = LogRecord::from_line(lines[i as usize].as_bytes()).unwrap();
        tree.push(r.leaf());
    });
    let dir = tempfile::tempdir().unwrap();
    let mut store = LogStore::open(dir.path()).unwrap();
    let stored = rate(m, |i| store.append(records[i as usize].leaf()).unwrap());
    let start = Instant::now();
    store.checkpoint().unwrap();
    let checkpoint_ms = start.elapsed().as_secs_f64() * 1000.0;

    println!("| what | per second, one core | vs SHA-256 of 64 bytes |");
    println!("|---|---:|---:|");
    let row = |what: &str, r: f64| println!("| {what} | {:.0} | {:.2}× |", r, r / sha);
    row("raw SHA-256, 64-byte messages (baseline)", sha);
    row("leaf appended to the frontier (tree only)", push);
    row("record digest + leaf + frontier (ingest, hashing)", hashed);
    row("… + agent's durable log (leaves file, buffered)", stored);
    row("… from the JSON line (parse + hash + append)", parsed);
    println!("\ncheckpoint (sync leaves + state) after {m} appends: {checkpoint_ms:.1} ms\n");

    // Record 0 has the longest audit path a tree of this size has (the worst case); the last
    // record, proven by the anchor that first held it, has one of the shortest.
    println!("| records in the log | state entries | record | inclusion hashes | bundle bytes |");
    println!("|---:|---:|---|---:|---:|");
    let fillers: Vec<u32> = if quick {
        vec![0, 1 << 12]
    } else {
        vec![0, 1 << 14, 1 << 17, 1 << 20]
    };
    for records in [1_000_000u64, 1_000_000_000] {
        for &f in &fillers {
            for (which, index) in [("first (worst case)", 0), ("last", records - 1)] {
                let (bytes, hashes) = bundle_size(records, index, f);
                println!("| {records} | {} | {which} | {hashes} | {bytes} |", f + 7);
            }
        }
    }
}
