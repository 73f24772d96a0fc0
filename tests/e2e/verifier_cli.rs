//! `credledger-verifier check` and `credledger-issuer show` on presentations made for the
//! genesis that `credledger-genesis init` wrote.

use credledger_core::devnet::{Devnet, DevnetParams, master_from_text};
use credledger_core::ids::Timestamp;
use credledger_core::state::{CredentialStatus, ReasonCode};
use credledger_core::testkit::World;
use credledger_tests::run;

#[test]
fn verifier_checks_presentations_offline_against_the_genesis_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    assert_eq!(
        run(
            "credledger-genesis",
            &["init", "--out", out, "--seed", "verifier"]
        )
        .code,
        0
    );
    let genesis = dir.path().join("genesis.json");
    let genesis = genesis.to_str().unwrap();

    // The same seed gives the same keys, so this miniature ledger signs as the devnet would.
    let devnet = Devnet::build(&master_from_text("verifier"), &DevnetParams::default()).unwrap();
    let t0 = devnet.genesis.genesis_time.0;
    let mut w = World::with_devnet(devnet);
    let c = w.lawyer_license(77, None);
    w.publish(&c);
    w.commit(Timestamp(t0 + 1_000));
    let valid = dir.path().join("valid.txt");
    std::fs::write(
        &valid,
        w.full(&c, Some(&["name", "license_no", "bar"]))
            .to_qr_text(),
    )
    .unwrap();
    w.set_status(
        &c,
        CredentialStatus::Revoked {
            reason: ReasonCode::Disciplinary,
        },
    );
    w.commit(Timestamp(t0 + 2_000));
    let revoked = w.full(&c, None).to_url_text();

    let now = (t0 + 3_000).to_string();
    let ok = run(
        "credledger-verifier",
        &[
            "check",
            "--genesis",
            genesis,
            "--file",
            valid.to_str().unwrap(),
            "--now-ms",
            &now,
        ],
    );
    assert_eq!(ok.code, 0, "{ok:?}");
    assert!(
        ok.stdout
            .starts_with("VALID: lawyer-license issued by Ministry of Justice (法務部)"),
        "{}",
        ok.stdout
    );
    assert!(ok.stdout.contains("(1 claim(s) not disclosed)"));

    let bad = run(
        "credledger-verifier",
        &[
            "check",
            "--genesis",
            genesis,
            "--text",
            &revoked,
            "--now-ms",
            &now,
            "--json",
        ],
    );
    assert_eq!(bad.code, 1, "{bad:?}");
    let v: serde_json::Value = serde_json::from_str(&bad.stdout).unwrap();
    assert_eq!(v["outcome"], "REVOKED");
    assert_eq!(v["failed_check"], "status");
    assert_eq!(v["rejection"]["reason"], "disciplinary");

    // Against another chain's genesis the same presentation cannot be checked.
    let other = tempfile::tempdir().unwrap();
    assert_eq!(
        run(
            "credledger-genesis",
            &[
                "init",
                "--out",
                other.path().to_str().unwrap(),
                "--seed",
                "other"
            ]
        )
        .code,
        0
    );
    let foreign = other.path().join("genesis.json");
    let r = run(
        "credledger-verifier",
        &[
            "check",
            "--genesis",
            foreign.to_str().unwrap(),
            "--file",
            valid.to_str().unwrap(),
            "--now-ms",
            &now,
        ],
    );
    assert_eq!(r.code, 1, "{r:?}");

    let show = run(
        "credledger-issuer",
        &["show", "--file", valid.to_str().unwrap()],
    );
    assert_eq!(show.code, 0, "{show:?}");
    assert!(
        show.stdout.contains("issuer:       moj (key moj-2026-01)"),
        "{}",
        show.stdout
    );
    assert!(show.stdout.contains("(hidden)"));

    let junk = run("credledger-issuer", &["show", "--text", "CL1:%%%"]);
    assert_ne!(junk.code, 0);
    assert!(
        junk.stderr.contains("not a valid presentation"),
        "{}",
        junk.stderr
    );
}
