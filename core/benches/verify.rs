//! `cargo bench -p credledger-core --bench verify`: presentation sizes, the QR version each
//! needs at ECC M, and `verify` throughput next to raw `verify_strict` measured in the same run.
//!
//! A small self-timed harness rather than criterion: the figures wanted are throughput ratios
//! and sizes in one table, which criterion does not print.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use credledger_core::hash::Domain;
use credledger_core::ids::Timestamp;
use credledger_core::presentation::Presentation;
use credledger_core::sig::{BatchVerifier, Keypair, PublicKey, Signature};
use credledger_core::testkit::World;
use credledger_core::{Policy, verify};
use qrcode::{EcLevel, QrCode};

const T0: u64 = 1_767_225_600_000;

/// Runs `f` repeatedly for about `secs` seconds, five times, and returns the median rate per second.
fn rate(secs: f64, mut f: impl FnMut()) -> f64 {
    for _ in 0..200 {
        f();
    }
    let mut rates = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < Duration::from_secs_f64(secs / 5.0) {
            for _ in 0..64 {
                f();
            }
            n += 64;
        }
        rates.push(n as f64 / start.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    rates[2]
}

fn qr_version(text: &str) -> String {
    match QrCode::with_error_correction_level(text, EcLevel::M) {
        Ok(code) => match code.version() {
            qrcode::Version::Normal(v) => v.to_string(),
            qrcode::Version::Micro(v) => format!("M{v}"),
        },
        Err(e) => format!("does not fit ({e:?})"),
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let secs = if quick { 0.5 } else { 3.0 };
    let state_size: u32 = if quick { 1 << 12 } else { 1 << 20 };

    println!("# credledger-core verify benchmark");
    println!(
        "machine: {} cores; {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model()
    );

    // A state of `state_size` credentials and 7 validators (commit needs 5 signatures).
    let mut w = World::new(3, 7);
    w.add_filler(state_size - 1);
    let c = w.lawyer_license(12_345, Some(Timestamp(T0 + 5 * 365 * 86_400_000)));
    w.publish(&c);
    let (header, _) = w.commit(Timestamp(T0 + 1_000));
    let now = Timestamp(T0 + 2_000);

    let compact = World::compact(&c, None);
    let full = w.full(&c, None);
    let url = format!("https://verify.gov.tw/v/{}", compact.to_url_text());
    println!();
    println!("## Sizes (lawyer license: name, license number, bar association, date of admission)");
    println!("| form | binary bytes | text chars | QR version at ECC M |");
    println!("|---|---|---|---|");
    println!(
        "| compact, QR form (`CL1:` + Base45, alphanumeric mode) | {} | {} | {} |",
        compact.to_bytes().len(),
        compact.to_qr_text().len(),
        qr_version(&compact.to_qr_text())
    );
    // Revealing fewer claims does not shrink the code: each hidden claim travels as its
    // 32-byte digest, each shown one with its own 16-byte salt (spec/presentations.md §3).
    let some = World::compact(&c, Some(&["name", "license_no"]));
    println!(
        "| compact, name and license number only, QR form | {} | {} | {} |",
        some.to_bytes().len(),
        some.to_qr_text().len(),
        qr_version(&some.to_qr_text())
    );
    println!(
        "| compact, URL form (`https://verify.gov.tw/v/cl1.` + base64url, byte mode) | {} | {} | {} |",
        compact.to_bytes().len(),
        url.len(),
        qr_version(&url)
    );
    println!(
        "| full ({} credentials in state, 7 validators), QR form | {} | {} | {} |",
        state_size,
        full.to_bytes().len(),
        full.to_qr_text().len(),
        qr_version(&full.to_qr_text())
    );
    if let Some(ev) = full.evidence() {
        println!(
            "\nfull presentation parts: state proof {} siblings ({} bytes), header {} bytes, commit {} bytes, record {} bytes",
            ev.proof.siblings.len(),
            credledger_core::encoding::encode(&ev.proof).len(),
            credledger_core::encoding::encode(&ev.header).len(),
            credledger_core::encoding::encode(&ev.commit).len(),
            credledger_core::encoding::encode(&ev.record).len(),
        );
    }

    // Throughput.
    let anchor = w.anchor();
    let mut cached = w.anchor();
    cached.mark_verified(&header);
    let key = Keypair::from_seed(&[9; 32]);
    let msg = c.body.signing_message(&w.devnet.genesis.chain_id);
    let sig = key.sign(Domain::SignCredential, &msg);
    let prepared = key.public().prepare().unwrap_or_else(|e| panic!("{e}"));
    let evidence = full
        .evidence()
        .cloned()
        .unwrap_or_else(|| panic!("full has evidence"));
    let qr_text = compact.to_qr_text();
    let full_text = full.to_qr_text();

    let raw = rate(secs, || {
        black_box(prepared.verify_strict(Domain::SignCredential, black_box(&msg), &sig)).ok();
    });
    // The same check under the ZIP-215 rules, one at a time and in batches of 50: by one key
    // (a ministry's credentials) and by 50 different keys.
    let zip215 = rate(secs, || {
        black_box(
            key.public()
                .verify_zip215(Domain::SignCredential, black_box(&msg), &sig),
        )
        .ok();
    });
    let many: Vec<(PublicKey, Vec<u8>, Signature)> = (0..50u8)
        .map(|i| {
            let k = Keypair::from_seed(&[i; 32]);
            let m = [msg.as_slice(), &[i]].concat();
            let s = k.sign(Domain::SignCredential, &m);
            (k.public(), m, s)
        })
        .collect();
    let same: Vec<(PublicKey, Vec<u8>, Signature)> = (0..50u8)
        .map(|i| {
            let m = [msg.as_slice(), &[i]].concat();
            let s = key.sign(Domain::SignCredential, &m);
            (key.public(), m, s)
        })
        .collect();
    let batch_rate = |items: &[(PublicKey, Vec<u8>, Signature)]| {
        50.0 * rate(secs, || {
            let mut b = BatchVerifier::new();
            for (k, m, s) in items {
                b.queue(k, Domain::SignCredential, m, s);
            }
            black_box(b.verify()).ok();
        })
    };
    let batch_same = batch_rate(&same);
    let batch_many = batch_rate(&many);
    let compact_rate = rate(secs, || {
        // What the verifier does per scan: decode the QR text, attach the status proof it
        // fetched for a header its light client already verified, and verify.
        let Ok(Presentation::Compact(compact)) = Presentation::from_text(black_box(&qr_text))
        else {
            panic!("compact presentation expected")
        };
        let p = Presentation::Full {
            compact,
            evidence: evidence.clone(),
        };
        black_box(verify(&p, &cached, now, &Policy::LIVE)).unwrap_or_else(|e| panic!("{e}"));
    });
    let decode_rate = rate(secs, || {
        black_box(Presentation::from_text(black_box(&qr_text))).ok();
    });
    let proof_rate = rate(secs, || {
        let key =
            credledger_core::state::StateKey::Credential(c.body.issuer.clone(), c.body.id).hash();
        let value = credledger_core::state::StateValue::Credential(evidence.record.clone()).hash();
        black_box(
            evidence
                .proof
                .verify(&evidence.header.state_root, &key, Some(&value)),
        )
        .ok();
    });
    let full_rate = rate(secs, || {
        let p = Presentation::from_text(black_box(&full_text)).unwrap_or_else(|e| panic!("{e}"));
        black_box(verify(&p, &anchor, now, &Policy::LIVE)).unwrap_or_else(|e| panic!("{e}"));
    });
    println!();
    println!(
        "## Throughput, one core (median of 5 runs of {:.1} s)",
        secs / 5.0
    );
    println!("| operation | per second | ratio to raw verify_strict |");
    println!("|---|---|---|");
    println!("| raw `verify_strict` (prepared key, same message) | {raw:.0} | 1.00 |");
    println!(
        "| raw ZIP-215, one at a time | {zip215:.0} | {:.2} |",
        zip215 / raw
    );
    println!(
        "| raw ZIP-215, batches of 50 by one key | {batch_same:.0} | {:.2} |",
        batch_same / raw
    );
    println!(
        "| raw ZIP-215, batches of 50 by 50 keys | {batch_many:.0} | {:.2} |",
        batch_many / raw
    );
    println!(
        "| `verify` compact QR text + proof under a cached header | {compact_rate:.0} | {:.2} |",
        compact_rate / raw
    );
    println!(
        "| decode compact QR text only (part of the row above) | {decode_rate:.0} | {:.2} |",
        decode_rate / raw
    );
    println!(
        "| state proof check only ({} siblings; part of the row above) | {proof_rate:.0} | {:.2} |",
        evidence.proof.siblings.len(),
        proof_rate / raw
    );
    println!(
        "| `verify` full QR text (commit of 5 signatures checked) | {full_rate:.0} | {:.2} |",
        full_rate / raw
    );
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}
