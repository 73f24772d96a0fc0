//! The council removes a validator from a running network: the other nodes drop it from their
//! peers, the chain goes on under the new set (which two stopped nodes prove: with the old set
//! of five they would be short of a quorum), the public verifier's light client follows the
//! set change and still answers, and an auditor's evidence bundle made after the change still
//! checks against genesis alone.

use std::time::Duration;

use base64::Engine;

use credledger_core::encoding::encode;
use credledger_core::presentation::Presentation;
use credledger_core::testkit::{World, governance_tx, publish_tx};
use credledger_core::tx::GovernanceAction;
use credledger_tests::agency::{Agency, SOURCE, now_ms, write_records};
use credledger_tests::citizen::Verifier;
use credledger_tests::net::Net;
use credledger_tests::run;

const LONG: Duration = Duration::from_secs(60);

fn verified_height(v: &Verifier) -> u64 {
    reqwest::blocking::get(format!("{}/health", v.url))
        .ok()
        .and_then(|r| r.json::<serde_json::Value>().ok())
        .and_then(|j| j["verified_height"].as_u64())
        .unwrap_or(0)
}

#[test]
fn a_removed_validator_leaves_the_set_and_the_verifier_follows() {
    let mut net = Net::start(5, 0);
    assert!(net.wait_height(0, 2, LONG), "{}", net.log(0));
    let v = Verifier::start(&net, &[]);

    // Two of three council members approve removing the fifth validator.
    let removed = net.devnet.validator_keys[4].1.public();
    let tx = governance_tx(
        &net.devnet,
        0,
        GovernanceAction::RemoveValidator {
            public_key: removed,
        },
        2,
    );
    let (code, body) = net.submit_and_wait(0, &encode(&tx), 10_000);
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["state"], "committed", "{body}");
    assert!(body["error"].is_null(), "{body}");
    let changed_at = body["height"].as_u64().unwrap();

    // The new set signs from a few heights on; then the removed node and one more stop. Four
    // validators remain in the set and three of them run: still a quorum. Under the old set
    // of five, three of five would not be.
    assert!(net.wait_height(0, changed_at + 5, LONG), "{}", net.log(0));
    // Every node drops the removed validator from its peers (no configuration changes): it
    // gets no more blocks while the others go on.
    let left_at = net.height(4).unwrap();
    assert!(net.wait_height(0, left_at + 10, LONG), "{}", net.log(0));
    assert!(
        net.height(4).unwrap() <= left_at + 2,
        "the removed validator still follows: at {} of {}",
        net.height(4).unwrap(),
        net.height(0).unwrap()
    );
    net.stop(4);
    net.stop(3);
    let resumed = net.height(0).unwrap();
    assert!(
        net.wait_height(0, resumed + 3, LONG),
        "the chain goes on with 3 of the 4 validators left in the set:\n{}",
        net.log(0)
    );

    // The verifier's light client followed the change (the header announcing it carries the
    // next set) and verifies the headers the new set signs.
    let tip = net.height(0).unwrap();
    assert!(
        net.wait(LONG, || verified_height(&v) >= tip),
        "verifier at {} of {tip}:\n{}",
        verified_height(&v),
        v.log()
    );
    let world = World::with_devnet(net.devnet_copy());
    let c = world.lawyer_license(77, None);
    let publish = publish_tx(&net.devnet, "moj", "moj-2026-01", 0, &[&c]);
    let (code, body) = net.submit_and_wait(0, &encode(&publish), 10_000);
    assert_eq!(code, 200, "{body}");
    let (_, r) = v.verify(&World::compact(&c, None).to_qr_text());
    assert_eq!(r["outcome"], "VALID", "{r}\n{}", v.log());

    // The issuer CLI trusts genesis only, yet checks answers signed by the new set: it learns
    // the change from the one header that announced it (spec/verification.md §3.1).
    let genesis = net.dir.path().join("genesis.json");
    let ledger = [
        "--genesis",
        genesis.to_str().unwrap(),
        "--node",
        &net.nodes[1].api,
    ];
    let id = c.body.id.to_string();
    let mut args = vec!["status", &id, "--issuer", "moj", "--json"];
    args.extend(ledger);
    let out = run("credledger-issuer", &args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let st: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(st["status"], "active", "{st}");
    assert_eq!(
        st["checked_against"], "genesis and 1 validator-set change(s) since",
        "{st}"
    );
    // A full presentation fetched through the CLI carries evidence the new set signed.
    let held = net.dir.path().join("77.credential.json");
    std::fs::write(&held, serde_json::to_vec(&c).unwrap()).unwrap();
    let mut args = vec![held.to_str().unwrap(), "--format", "text", "--mode", "full"];
    args.insert(0, "qr");
    args.extend(ledger);
    let out = run("credledger-issuer", &args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let (_, r) = v.verify(out.stdout.trim());
    assert_eq!(r["outcome"], "VALID", "{r}");
    assert!(matches!(
        Presentation::from_text(out.stdout.trim()),
        Ok(Presentation::Full { .. })
    ));
    // Offline with genesis alone, its header's signers are a set genesis does not name: the
    // check is refused and says what to give; with a node it learns the change and passes.
    let full = out.stdout.trim().to_string();
    let check = |extra: &[&str]| {
        let mut args = vec![
            "check",
            "--genesis",
            genesis.to_str().unwrap(),
            "--text",
            &full,
        ];
        args.extend(extra);
        run("credledger-verifier", &args)
    };
    let offline = check(&[]);
    assert_eq!(offline.code, 1, "{}{}", offline.stdout, offline.stderr);
    assert!(
        offline.stdout.contains("give --node URL"),
        "{}",
        offline.stdout
    );
    let online = check(&["--node", &net.nodes[0].api]);
    assert_eq!(online.code, 0, "{}{}", online.stdout, online.stderr);
    assert!(online.stdout.starts_with("VALID"), "{}", online.stdout);

    // An agency anchors its T-Road log under the new set. The auditor's tools learn the change
    // from the nodes, and the bundle carries it, so that genesis alone proves the record
    // offline (spec/troad-log.md §6).
    let agency = Agency::new(&net);
    let log = net.dir.path().join("messages.jsonl");
    write_records(&log, 0, 40, now_ms());
    let summary = agency.anchor(&log, &net.dir.path().join("agent"), &["--json"]);
    assert_eq!(summary["log_size"], 40, "{summary}");
    let bundle = net.dir.path().join("r7.bundle");
    let (l, b) = (log.to_str().unwrap(), bundle.to_str().unwrap());
    let o = agency.audit(&[
        "prove", "--source", SOURCE, "--record", "7", "--log", l, "--out", b, "--json",
    ]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    let proved: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    eprintln!(
        "bundle with one validator-set change (5 to 4 validators): {} bytes",
        proved["bytes"]
    );
    let o = agency.audit(&["verify", b, "--json"]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    let proven: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(proven["outcome"], "PROVEN", "{proven}");
    assert_eq!(proven["verdict"]["set_changes"], 1, "{proven}");
    // The public verifier checks the same bundle for an auditor's browser (its light client
    // followed the change too), and its page says what was checked.
    let b64 = base64::engine::general_purpose::STANDARD.encode(std::fs::read(&bundle).unwrap());
    let http = reqwest::blocking::Client::new();
    let r: serde_json::Value = http
        .post(format!("{}/api/v1/audit/verify", v.url))
        .json(&serde_json::json!({ "bundle": b64 }))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(r["outcome"], "PROVEN", "{r}");
    assert_eq!(r["verdict"]["set_changes"], 1, "{r}");
    let page = http
        .post(format!("{}/audit?lang=en", v.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "bundle={}&record=",
            b64.replace('+', "%2B")
                .replace('/', "%2F")
                .replace('=', "%3D")
        ))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        page.contains("Validator-set changes checked with it</dt><dd>1"),
        "{page}"
    );
    let o = agency.audit(&["check-log", "--source", SOURCE, l]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert!(o.stdout.contains("INTACT"), "{}", o.stdout);
}
