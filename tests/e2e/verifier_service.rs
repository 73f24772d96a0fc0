//! The public verifier against a real network: a citizen's scan is VALID, turns REVOKED within
//! the freshness bound after the ministry revokes, says CANNOT CHECK when the ledger is gone,
//! and a flood from one address is answered 429.

use std::time::{Duration, Instant};

use credledger_core::testkit::World;
use credledger_tests::citizen::{Ministry, Verifier, qr_png};
use credledger_tests::net::Net;

#[test]
fn a_scan_is_valid_then_revoked_within_the_freshness_bound_then_cannot_check() {
    let mut net = Net::start(4, 0);
    assert!(net.wait_height(0, 1, Duration::from_secs(60)));
    let moj = Ministry::new(&net);
    let c = moj.publish_lawyer(7);
    let s = moj.publish_lawyer(8);
    let state = net.dir.path().join("verifier.state");
    let state_arg = ["--state", state.to_str().unwrap()];
    let v = Verifier::start(&net, &state_arg);
    let (_, link) = qr_png(&c, Some(&v.url), net.dir.path());

    let (code, r) = v.verify(&link);
    assert_eq!(code, 200);
    assert_eq!(r["outcome"], "VALID", "{r}\n{}", v.log());
    assert_eq!(r["live"], true);
    assert_eq!(r["credential"]["issuer_name_en"], "Ministry of Justice");
    assert_eq!(
        r["credential"]["claims"][1]["value"],
        "(113)台檢證字第00007號"
    );
    let checks: Vec<&str> = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["check"].as_str().unwrap())
        .collect();
    assert!(
        checks.contains(&"signature") && checks.contains(&"freshness"),
        "{checks:?}"
    );
    // The scan's issuer signature went through the queue that checks concurrent scans
    // together (spec/verifier.md §4.2), which /metrics counts (a lone scan as a batch of one):
    // the count is there and not zero.
    let metrics = reqwest::blocking::get(format!("{}/metrics", v.url))
        .unwrap()
        .text()
        .unwrap();
    let batched: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("credledger_verifier_batched_signatures_total "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no batched-signature count in /metrics:\n{metrics}"));
    assert!(batched >= 1, "{metrics}");

    // Signed with the Ministry's real key but never published: the node proves the ledger has
    // no record of it, and the verifier says NOT GENUINE rather than "cannot check".
    let world = World::with_devnet(net.devnet_copy());
    let never = world.lawyer_license(9_999, None);
    let (_, r) = v.verify(&World::compact(&never, None).to_qr_text());
    assert_eq!(r["outcome"], "NOT_GENUINE", "{r}");
    assert_eq!(r["rejection"]["rejection"], "not_on_ledger", "{r}");

    // A desk checking a list sends it in one batch: one report per presentation, in order,
    // each the same as a single scan's. The forged signature fails the batch's shared check;
    // the batch is halved until the forgery alone is refused.
    let never_text = World::compact(&never, None).to_qr_text();
    let mut forged = World::compact(&never, None);
    if let credledger_core::presentation::Presentation::Compact(c) = &mut forged {
        c.signature.0[9] ^= 1;
    }
    let (code, b) = v.verify_batch(&serde_json::json!({
        "presentations": [&never_text, &link, "CL1:NOT-A-PRESENTATION", &link, forged.to_qr_text(), &link]
    }));
    assert_eq!(code, 200, "{b}");
    let outcomes: Vec<&str> = b["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        [
            "NOT_GENUINE",
            "VALID",
            "NOT_GENUINE",
            "VALID",
            "NOT_GENUINE",
            "VALID"
        ],
        "{b}"
    );
    assert_eq!(b["results"][0]["rejection"]["rejection"], "not_on_ledger");
    assert_eq!(b["results"][4]["rejection"]["rejection"], "bad_signature");
    assert_eq!(b["results"][2]["failed_check"], "decoding");
    assert_eq!(
        b["results"][1]["credential"]["claims"][1]["value"],
        "(113)台檢證字第00007號"
    );

    moj.suspend(&s);
    let (_, st) = qr_png(&s, None, net.dir.path());
    let deadline = Instant::now() + Duration::from_secs(10);
    while v.verify(&st).1["outcome"] != "SUSPENDED" && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(v.verify(&st).1["outcome"], "SUSPENDED");

    // `revoke` returns once the revocation is committed; from then on the verifier has at most
    // its freshness bound (10 s) to say REVOKED.
    moj.revoke(&c);
    let committed = Instant::now();
    let mut outcome = String::new();
    while committed.elapsed() < Duration::from_secs(10) {
        outcome = v.verify(&link).1["outcome"].as_str().unwrap().to_string();
        if outcome == "REVOKED" {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(outcome, "REVOKED", "{}", v.log());
    eprintln!(
        "REVOKED {} ms after the revocation was committed",
        committed.elapsed().as_millis()
    );

    // Restarted, the verifier resumes its light client from the saved state instead of
    // verifying every header again from genesis, and answers as before.
    assert!(
        net.wait(Duration::from_secs(15), || state.exists()),
        "the light client's state is saved"
    );
    drop(v);
    let v = Verifier::start(&net, &state_arg);
    assert!(
        v.log()
            .contains("light client resumed from its saved state"),
        "{}",
        v.log()
    );
    assert_eq!(v.verify(&link).1["outcome"], "REVOKED");

    // The ledger goes away entirely: nothing is VALID any more, and the answer says why.
    let fresh = moj.publish_lawyer(9);
    let (_, fresh_text) = qr_png(&fresh, None, net.dir.path());
    assert_eq!(v.verify(&fresh_text).1["outcome"], "VALID");
    for i in 0..4 {
        net.stop(i);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = serde_json::Value::Null;
    while Instant::now() < deadline {
        last = v.verify(&fresh_text).1;
        if last["outcome"] == "CANNOT_CHECK" {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(last["outcome"], "CANNOT_CHECK", "{last}");
    // Its last header grows older than the freshness bound (10 s) with no new one: unhealthy.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut health = 0;
    while Instant::now() < deadline {
        health = reqwest::blocking::get(format!("{}/health", v.url))
            .unwrap()
            .status()
            .as_u16();
        if health == 503 {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(
        health, 503,
        "a verifier without fresh headers is not healthy"
    );
}

#[test]
fn a_flood_from_one_address_gets_429_and_bad_input_is_named() {
    let net = Net::start(4, 0);
    assert!(net.wait_height(0, 1, Duration::from_secs(60)));
    let v = Verifier::start(&net, &["--rate-per-ip", "5", "--burst-per-ip", "5"]);
    let client = reqwest::blocking::Client::new();
    let mut limited = 0;
    let mut answered = 0;
    for _ in 0..40 {
        let r = client
            .post(format!("{}/api/v1/verify", v.url))
            .body("CL1:NOT-A-PRESENTATION")
            .send()
            .unwrap();
        match r.status().as_u16() {
            429 => {
                assert!(r.headers().contains_key("retry-after"));
                limited += 1;
            }
            200 => {
                let j: serde_json::Value = r.json().unwrap();
                assert_eq!(j["outcome"], "NOT_GENUINE");
                assert_eq!(j["failed_check"], "decoding");
                answered += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(limited >= 25, "{limited} of 40 limited");
    // The burst of 5, less the start-up health check, then the 5/s refill.
    assert!(answered >= 4, "{answered} answered");
    std::thread::sleep(Duration::from_millis(1500)); // the allowance refills
    assert!(
        reqwest::blocking::get(format!("{}/metrics", v.url))
            .unwrap()
            .text()
            .unwrap()
            .contains("credledger_verifier_rate_limited_total")
    );

    // A batch costs as many checks as it holds (burst 5 here). The allowance refills first.
    std::thread::sleep(Duration::from_millis(1200));
    let texts =
        |n: usize| serde_json::json!({ "presentations": vec!["CL1:NOT-A-PRESENTATION"; n] });
    let (code, e) = v.verify_batch(&serde_json::json!({ "presentation": "CL1:X" }));
    assert_eq!(code, 400, "{e}");
    assert!(
        e["error"].as_str().unwrap().contains("presentations"),
        "{e}"
    );
    let (code, e) = v.verify_batch(&texts(6));
    assert_eq!(code, 413, "more than the burst is never allowed: {e}");
    assert!(e.as_str().unwrap().contains("batch of 6"), "{e}");
    let (code, b) = v.verify_batch(&texts(3));
    assert_eq!(code, 200, "{b}");
    assert_eq!(b["results"].as_array().unwrap().len(), 3);
    // Two requests and three checks have used the burst of 5.
    let (code, e) = v.verify_batch(&texts(2));
    assert_eq!(code, 429, "{e}");
}
