//! `cargo bench -p credledger-node --bench commit`: how many transactions per second one
//! node's commit path (execution of every signature, state-map update, one synced RocksDB
//! batch per block) sustains, next to the raw Ed25519 rates measured in the same run. This is
//! the ceiling consensus works under; the 4-validator figure comes with issue 3's devnet.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::time::Instant;

use credledger_core::block::ValidatorSet;
use credledger_core::devnet::{Devnet, DevnetParams};
use credledger_core::hash::Domain;
use credledger_core::ids::Timestamp;
use credledger_core::sig::{BatchVerifier, Keypair};
use credledger_core::testkit::{World, publish_tx, sign_commit};
use credledger_core::tx::Transaction;
use credledger_node::mempool::MempoolLimits;
use credledger_node::service::{Ledger, Node};

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (blocks, per_block) = if quick { (3, 200) } else { (10, 2_000) };
    println!("# credledger-node commit benchmark");
    println!(
        "machine: {} cores; {blocks} blocks of {per_block} publish transactions (one credential each)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    // Same-run baselines: raw verify_strict (the figure the targets are stated against) and
    // ZIP-215, alone and batched, the rule every signature is judged by (spec/signatures.md §2).
    let k = Keypair::from_seed(&[1; 32]);
    let msg = [7u8; 120];
    let sig = k.sign(Domain::SignTransaction, &msg);
    let prepared = k.public().prepare().unwrap();
    let n = 20_000;
    let t = Instant::now();
    for _ in 0..n {
        black_box(prepared.verify_strict(Domain::SignTransaction, black_box(&msg), &sig)).unwrap();
    }
    let strict = n as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    for _ in 0..n {
        black_box(
            k.public()
                .verify_zip215(Domain::SignTransaction, black_box(&msg), &sig),
        )
        .unwrap();
    }
    let zip215 = n as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut batch = BatchVerifier::new();
    for _ in 0..n {
        batch.queue(&k.public(), Domain::SignTransaction, &msg, &sig);
    }
    batch.verify().unwrap();
    let batched = n as f64 / t.elapsed().as_secs_f64();

    let d = Devnet::build(&[2; 32], &DevnetParams::default()).unwrap();
    let set = ValidatorSet::new(d.genesis.validators.to_vec()).unwrap();
    let world = World::with_devnet(Devnet::build(&[2; 32], &DevnetParams::default()).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(dir.path(), d.genesis.clone()).unwrap();
    let mut nonce = 0u64;
    let mut make_block = |b: u64| -> Vec<Transaction> {
        (0..per_block)
            .map(|i| {
                let c = world.lawyer_license((b * per_block as u64 + i as u64) as u32, None);
                nonce += 1;
                publish_tx(&d, "moj", "moj-2026-01", nonce - 1, &[&c])
            })
            .collect()
    };
    let inputs: Vec<_> = (0..blocks).map(|b| make_block(b as u64)).collect();

    let mut propose_s = 0.0;
    let mut commit_s = 0.0;
    for (b, txs) in inputs.into_iter().enumerate() {
        let time = Timestamp(d.genesis.genesis_time.0 + (b as u64 + 1) * 1_000);
        let t = Instant::now();
        let block = ledger.propose(txs, time, 0, &()).unwrap();
        propose_s += t.elapsed().as_secs_f64();
        let commit = sign_commit(&d, &set, &block.header, 3);
        let t = Instant::now();
        ledger.commit(&block, &commit, &()).unwrap();
        commit_s += t.elapsed().as_secs_f64();
    }
    let total = (blocks * per_block) as f64;

    // Admission as a client's transaction meets it: one per call (one HTTP request), against
    // the same transactions admitted in batches (a relayed batch). Each on a fresh node over
    // its own committed state, so both find the same issuer, key and nonce.
    let admit_n = if quick { 400 } else { 4_000 };
    let admit_rate = |chunk: usize| -> f64 {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(dir.path(), d.genesis.clone()).unwrap();
        let time = d.genesis.genesis_time;
        let node = Node::new(ledger, MempoolLimits::default(), Box::new(move || time));
        let txs: Vec<Vec<u8>> = (0..admit_n)
            .map(|i| {
                let c = world.lawyer_license(1_000_000 + i as u32, None);
                credledger_core::encoding::encode(&publish_tx(
                    &d,
                    "moj",
                    "moj-2026-01",
                    i as u64,
                    &[&c],
                ))
            })
            .collect();
        let t = Instant::now();
        for c in txs.chunks(chunk) {
            for r in node.admit_encoded(c) {
                r.unwrap();
            }
        }
        admit_n as f64 / t.elapsed().as_secs_f64()
    };
    let admit_one = admit_rate(1);
    let admit_64 = admit_rate(64);
    println!();
    println!("| operation, one core | per second | ratio to raw verify_strict |");
    println!("|---|---|---|");
    println!("| raw `verify_strict` (baseline) | {strict:.0} | 1.00 |");
    println!(
        "| raw ZIP-215 single | {zip215:.0} | {:.2} |",
        zip215 / strict
    );
    println!(
        "| raw ZIP-215 batch of {n} | {batched:.0} | {:.2} |",
        batched / strict
    );
    println!(
        "| admit one transaction per call (a client's submission), tx/s | {admit_one:.0} | {:.2} |",
        admit_one / strict
    );
    println!(
        "| admit transactions in batches of 64 (a relayed batch), tx/s | {admit_64:.0} | {:.2} |",
        admit_64 / strict
    );
    println!(
        "| commit a decided block (execute every signature, update state, synced write), tx/s | {:.0} | {:.2} |",
        total / commit_s,
        total / commit_s / strict
    );
    println!(
        "| propose (speculative execution) + commit, tx/s | {:.0} | {:.2} |",
        total / (propose_s + commit_s),
        total / (propose_s + commit_s) / strict
    );
}
