//! `kill -9` at any moment loses nothing that was acknowledged as committed: a child process
//! commits blocks and reports each one; the parent kills it at a seeded moment, reopens the
//! database and checks that every acknowledged block is there, whole and consistent.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use credledger_core::block::ValidatorSet;
use credledger_core::devnet::{Devnet, DevnetParams};
use credledger_core::ids::{Height, Nonce, Timestamp};
use credledger_core::state::{StateKey, StateValue};
use credledger_core::testkit::{World, publish_tx, sign_commit};
use credledger_node::service::Ledger;

const CHILD_ENV: &str = "CREDLEDGER_CRASH_CHILD_DIR";

fn devnet() -> Devnet {
    Devnet::build(&[8; 32], &DevnetParams::default()).unwrap()
}

/// In the child process: commit blocks forever, acknowledging each on stdout. Returns at once
/// in a normal test run.
#[test]
fn child_process_entry() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let d = devnet();
    let set = ValidatorSet::new(d.genesis.validators.to_vec()).unwrap();
    let world = World::with_devnet(devnet());
    let ledger = Ledger::open(std::path::Path::new(&dir), d.genesis.clone()).unwrap();
    let mut out = std::io::stdout().lock();
    loop {
        let h = ledger.store().last_height().unwrap().0;
        let c = world.lawyer_license(h as u32 + 1, None);
        let tx = publish_tx(&d, "moj", "moj-2026-01", h, &[&c]);
        let time = Timestamp(d.genesis.genesis_time.0 + (h + 1) * 1_000);
        let block = ledger.propose(vec![tx], time, 0, &()).unwrap();
        ledger
            .commit(&block, &sign_commit(&d, &set, &block.header, 3), &())
            .unwrap();
        // Acknowledged only after the synced write returned.
        writeln!(out, "committed {}", block.header.height.0).unwrap();
        out.flush().unwrap();
    }
}

fn crash_at(kill_after: u64) -> u64 {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_process_entry",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut acknowledged = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    let stdout = child.stdout.take().unwrap();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(h) = line.strip_prefix("committed ") {
            acknowledged = h.trim().parse().unwrap();
            if acknowledged >= kill_after || Instant::now() > deadline {
                break;
            }
        }
    }
    // SIGKILL: no destructor, no flush, mid-write if it happens to be writing.
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        acknowledged >= kill_after,
        "the child stopped early at {acknowledged}"
    );

    let d = devnet();
    let ledger = Ledger::open(dir.path(), d.genesis.clone()).unwrap();
    let store = ledger.store();
    let last = store.last_height().unwrap();
    assert!(
        last.0 >= acknowledged,
        "acknowledged {acknowledged}, found only {last}"
    );
    let mut previous = d.genesis.hash();
    for h in 1..=last.0 {
        let header = store.header(Height(h)).unwrap().expect("header");
        let block = store.block(Height(h)).unwrap().expect("block");
        assert!(store.commit(Height(h)).unwrap().is_some(), "commit {h}");
        assert_eq!(block.header, header);
        assert_eq!(header.previous, previous, "chain broken at {h}");
        for tx in block.transactions.iter() {
            assert_eq!(
                store.tx(&tx.id()).unwrap().expect("indexed").height,
                Height(h)
            );
        }
        previous = header.hash();
    }
    // The state is exactly the state after the last block: its root and its nonce agree.
    let last_header = store.header(last).unwrap().unwrap();
    assert_eq!(store.state_root().unwrap(), last_header.state_root);
    match store
        .value(&StateKey::IssuerNonce("moj".parse().unwrap()))
        .unwrap()
    {
        Some(StateValue::Nonce { next }) => assert_eq!(next, Nonce(last.0)),
        other => panic!("nonce entry: {other:?}"),
    }
    last.0
}

#[test]
fn kill_9_at_any_moment_loses_no_acknowledged_block() {
    // Seeded kill points (a fixed list, so a failure replays), each a separate child.
    for kill_after in [1, 7, 23] {
        let found = crash_at(kill_after);
        assert!(found >= kill_after);
    }
}
