//! `credledger-loadgen`: offers a steady rate of signed transactions to a running devnet and
//! measures what commits: throughput and submit→commit latency, next to this machine's raw
//! Ed25519 verify rates measured in the same run, and how much of the machine sat idle while
//! it sent. Used by `scripts/bench-commit`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use credledger_core::block::Block;
use credledger_core::devnet::{Devnet, DevnetParams, master_from_text};
use credledger_core::encoding::encode;
use credledger_core::hash::{Digest, Domain};
use credledger_core::sig::{Keypair, PublicKey, Signature};
use credledger_core::testkit::{World, publish_tx};
use serde_json::{Value, json};

/// Offer transactions at a fixed rate to a devnet and measure commits.
#[derive(Parser, Debug)]
struct Args {
    /// A node's API base URL; repeat to spread the load over several nodes.
    #[arg(long = "api", required = true)]
    apis: Vec<String>,
    /// The devnet's key seed (`credledger-genesis init --seed`).
    #[arg(long)]
    seed: String,
    /// Validators in the devnet.
    #[arg(long, default_value_t = 4)]
    validators: usize,
    /// Transactions offered per second.
    #[arg(long)]
    rate: u64,
    /// Seconds of load.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// First issuer nonce to use (a later run on the same chain continues from here).
    #[arg(long, default_value_t = 0)]
    first_nonce: u64,
    /// Submitting threads.
    #[arg(long, default_value_t = 16)]
    threads: usize,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Single-signature verifies per second on one core, for the two rules the node uses.
fn raw_verify_rates() -> (f64, f64) {
    let k = Keypair::from_seed(&[7; 32]);
    let msgs: Vec<Vec<u8>> = (0..256u32).map(|i| i.to_le_bytes().repeat(16)).collect();
    let sigs: Vec<(PublicKey, Signature)> = msgs
        .iter()
        .map(|m| (k.public(), k.sign(Domain::SignVote, m)))
        .collect();
    let prepared = k.public().prepare().unwrap();
    let rate = |f: &dyn Fn(usize) -> bool| {
        let start = Instant::now();
        let mut n = 0usize;
        while start.elapsed() < Duration::from_secs(1) {
            assert!(f(n % msgs.len()));
            n += 1;
        }
        n as f64 / start.elapsed().as_secs_f64()
    };
    let strict = rate(&|i| {
        prepared
            .verify_strict(Domain::SignVote, &msgs[i], &sigs[i].1)
            .is_ok()
    });
    let zip = rate(&|i| {
        sigs[i]
            .0
            .verify_zip215(Domain::SignVote, &msgs[i], &sigs[i].1)
            .is_ok()
    });
    (strict, zip)
}

fn main() {
    let a = Args::parse();
    let (strict, zip215) = raw_verify_rates();

    let devnet = Devnet::build(
        &master_from_text(&a.seed),
        &DevnetParams {
            validators: a.validators,
            ..DevnetParams::default()
        },
    )
    .unwrap();
    let world = World::with_devnet(
        Devnet::build(
            &master_from_text(&a.seed),
            &DevnetParams {
                validators: a.validators,
                ..DevnetParams::default()
            },
        )
        .unwrap(),
    );
    let total = a.rate * a.seconds;
    eprintln!("loadgen: signing {total} transactions");
    let txs: Vec<(Digest, Vec<u8>)> = (0..total)
        .map(|i| {
            let c = world.lawyer_license((a.first_nonce + i) as u32 + 1_000_000, None);
            let tx = publish_tx(&devnet, "moj", "moj-2026-01", a.first_nonce + i, &[&c]);
            (tx.id(), encode(&tx))
        })
        .collect();

    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(a.threads)
        .build()
        .unwrap();
    let submitted: Arc<Mutex<HashMap<Digest, Instant>>> = Arc::default();
    let committed: Arc<Mutex<HashMap<Digest, Instant>>> = Arc::default();
    let refused = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));

    // Follow node 0's header stream: each transaction's commit time is when node 0 announces
    // its block (then fetched for its transactions), with no polling delay in between.
    let watcher = {
        let (api, committed, stop) = (a.apis[0].clone(), committed.clone(), stop.clone());
        // The stream lives as long as the run: no overall timeout on its client.
        let streaming = reqwest::blocking::Client::builder()
            .timeout(None)
            .build()
            .unwrap();
        let client = client.clone();
        std::thread::spawn(move || {
            let mut blocks = 0u64;
            let Ok(resp) = streaming.get(format!("{api}/v1/headers/stream")).send() else {
                return blocks;
            };
            for line in std::io::BufRead::lines(std::io::BufReader::new(resp)) {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(line) = line else { break };
                let Some(data) = line.strip_prefix("data:") else {
                    continue;
                };
                let now = Instant::now();
                let v: Value = serde_json::from_str(data.trim()).unwrap_or(Value::Null);
                let Some(h) = v["header"]["height"].as_u64() else {
                    continue;
                };
                let v: Value = match client.get(format!("{api}/v1/blocks/{h}")).send() {
                    Ok(r) => r.json().unwrap_or(Value::Null),
                    Err(_) => continue,
                };
                if let Ok(b) = serde_json::from_value::<Block>(v["block"].clone()) {
                    let mut c = committed.lock().unwrap();
                    for tx in b.transactions.iter() {
                        c.insert(tx.id(), now);
                    }
                    blocks += 1;
                }
            }
            blocks
        })
    };

    // Submitters: transaction i is due at start + i / rate.
    let txs = Arc::new(txs);
    let cursor = Arc::new(AtomicU64::new(0));
    let ticks_before = machine_ticks();
    let start = Instant::now();
    let workers: Vec<_> = (0..a.threads)
        .map(|_| {
            let (client, txs, cursor, submitted, refused, apis) = (
                client.clone(),
                txs.clone(),
                cursor.clone(),
                submitted.clone(),
                refused.clone(),
                a.apis.clone(),
            );
            let rate = a.rate;
            std::thread::spawn(move || {
                loop {
                    let i = cursor.fetch_add(1, Ordering::Relaxed);
                    let Some((id, bytes)) = txs.get(i as usize) else {
                        break;
                    };
                    let due = start + Duration::from_secs_f64(i as f64 / rate as f64);
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    let api = &apis[i as usize % apis.len()];
                    let sent = Instant::now();
                    let ok = client
                        .post(format!("{api}/v1/tx"))
                        .header("content-type", "application/octet-stream")
                        .body(bytes.clone())
                        .send()
                        .is_ok_and(|r| r.status().is_success());
                    if ok {
                        submitted.lock().unwrap().insert(*id, sent);
                    } else {
                        refused.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let offered_for = start.elapsed();
    let ticks_after = machine_ticks();
    // Let the chain drain what was accepted (bounded).
    let drain_deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < drain_deadline {
        let s = submitted.lock().unwrap();
        let c = committed.lock().unwrap();
        if s.keys().all(|k| c.contains_key(k)) {
            break;
        }
        drop((s, c));
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::Relaxed);
    let blocks = watcher.join().unwrap();

    let s = submitted.lock().unwrap();
    let c = committed.lock().unwrap();
    let mut lat: Vec<f64> = s
        .iter()
        .filter_map(|(id, t)| {
            c.get(id)
                .map(|ct| ct.duration_since(*t).as_secs_f64() * 1000.0)
        })
        .collect();
    lat.sort_by(|x, y| x.total_cmp(y));
    let last_commit = s.keys().filter_map(|id| c.get(id)).max().copied();
    let window = last_commit.map_or(offered_for, |t| t.duration_since(start));
    let done = lat.len() as f64;
    let out = json!({
        "offered_tx_per_s": a.rate,
        "seconds": a.seconds,
        "submitted": s.len(),
        "refused_or_failed": refused.load(Ordering::Relaxed),
        "committed": lat.len(),
        "committed_tx_per_s": (done / window.as_secs_f64()).round(),
        "latency_ms_p50": (percentile(&lat, 0.50) * 10.0).round() / 10.0,
        "latency_ms_p99": (percentile(&lat, 0.99) * 10.0).round() / 10.0,
        "blocks_seen": blocks,
        "raw_verify_strict_per_s_one_core": strict.round(),
        "raw_zip215_per_s_one_core": zip215.round(),
        "machine_idle_share": idle_share(ticks_before, ticks_after),
    });
    println!("{out}");
}

/// The machine's idle and total clock ticks over all cores (`/proc/stat`), if readable.
fn machine_ticks() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = text
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal, then guest time, which `user` already
    // counts: idle and iowait are time no core had work.
    let total = fields.iter().take(8).sum();
    Some((fields.get(3)? + fields.get(4)?, total))
}

/// The share of the machine's time no core had work between two readings, to three places:
/// when it is near zero, the validators use every cycle they get, and the block rate (with it
/// latency) follows what their transactions leave over.
fn idle_share(before: Option<(u64, u64)>, after: Option<(u64, u64)>) -> Option<f64> {
    let ((i0, t0), (i1, t1)) = (before?, after?);
    let total = t1.checked_sub(t0).filter(|t| *t > 0)?;
    Some((i1.saturating_sub(i0) as f64 / total as f64 * 1000.0).round() / 1000.0)
}
