//! The council registers a new issuer key: one approval is refused by the ledger, two (the
//! threshold) are accepted, and the Ministry then publishes with the new key.

use credledger_tests::citizen::Verifier;
use credledger_tests::net::Net;
use credledger_tests::{import_key, run};
use serde_json::{Value, json};

#[test]
fn a_new_issuer_key_needs_the_council_threshold_then_publishes() {
    let net = Net::start(4, 0);
    assert!(net.wait_height(0, 1, std::time::Duration::from_secs(60)));
    let d = net.dir.path();
    let pass = d.join("pass.txt");
    std::fs::write(&pass, "council passphrase\n").unwrap();
    let p = pass.to_str().unwrap();
    let genesis = d.join("genesis.json");
    let g = genesis.to_str().unwrap();
    let node = net.nodes[2].api.clone();
    for m in ["council-1", "council-2"] {
        import_key(
            &d.join(format!("keys/governance-{m}.json")),
            &d.join(format!("{m}.key")),
            &pass,
        );
    }
    let new_key = d.join("moj-2026-02.key");
    let out = run(
        "credledger-issuer",
        &[
            "key",
            "generate",
            "--issuer",
            "moj",
            "--key-id",
            "moj-2026-02",
            "--out",
            new_key.to_str().unwrap(),
            "--passphrase-file",
            p,
            "--json",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let public = serde_json::from_str::<Value>(&out.stdout).unwrap()["public_key"].clone();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let action = json!({"action": "add_issuer_key", "issuer": "moj", "key_id": "moj-2026-02",
                        "public_key": public, "valid_from": now - 60_000});
    let proposal = d.join("proposal.json");
    let pr = proposal.to_str().unwrap();
    let out = run(
        "credledger-issuer",
        &[
            "governance",
            "propose",
            "--action",
            &action.to_string(),
            "--out",
            pr,
            "--genesis",
            g,
            "--node",
            &node,
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);

    let sign_with = |key: &std::path::Path| {
        run(
            "credledger-issuer",
            &[
                "governance",
                "sign",
                pr,
                "--key",
                key.to_str().unwrap(),
                "--passphrase-file",
                p,
            ],
        )
    };
    let sign = |m: &str| sign_with(&d.join(format!("{m}.key")));
    // The proposal file records the council it was written for, so a key outside it is
    // refused while signing, offline, rather than by the ledger at submission.
    let out = sign_with(&new_key);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("not one of the council's"),
        "{}",
        out.stderr
    );
    let submit = || {
        run(
            "credledger-issuer",
            &["governance", "submit", pr, "--genesis", g, "--node", &node],
        )
    };
    let out = sign("council-1");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("1 approval on") && out.stdout.contains("1 more needed"),
        "{}",
        out.stdout
    );
    let out = submit();
    assert_eq!(
        out.code, 4,
        "below the threshold the ledger refuses: {}",
        out.stderr
    );
    assert!(
        out.stderr.contains(
            "would refuse it, so it was not sent: 1 approval by current council keys, 2 needed"
        ),
        "{}",
        out.stderr
    );
    let again = sign("council-1");
    assert_eq!(again.code, 2, "one member signs once: {}", again.stderr);
    let out = sign("council-2");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("enough to submit it"), "{}", out.stdout);
    let out = submit();
    assert_eq!(out.code, 0, "{}", out.stderr);
    // Submitted again (as after a submit that timed out): its nonce is spent by this very
    // proposal, which the CLI finds committed and reports as such.
    let again = submit();
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(again.stdout, out.stdout);

    // The Ministry publishes with its new key.
    // A TOML subject file works as well as JSON.
    let subject = d.join("lawyer.toml");
    std::fs::write(
        &subject,
        "name = \"林大華\"\nlicense_no = \"(113)台檢證字第00077號\"\nbar = \"台中律師公會\"\nadmitted = \"2025-01-15\"\n",
    )
    .unwrap();
    let issued = d.join("issued");
    let publish_with = |key: &std::path::Path| {
        run(
            "credledger-issuer",
            &[
                "publish",
                "--kind",
                "lawyer-license",
                "--subject",
                subject.to_str().unwrap(),
                "--key",
                key.to_str().unwrap(),
                "--passphrase-file",
                p,
                "--genesis",
                g,
                "--node",
                &node,
                "--out",
                issued.to_str().unwrap(),
                "--json",
            ],
        )
    };
    let out = publish_with(&new_key);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // The public verifier, which trusts only genesis, learns the new key from the ledger's
    // state when it first meets it, and judges the credential VALID.
    let verifier = Verifier::start(&net, &["--registry-refresh-ms", "500"]);
    let new_id = serde_json::from_str::<Value>(&out.stdout).unwrap()["credential"]
        .as_str()
        .unwrap()
        .to_string();
    let new_text = std::fs::read_to_string(d.join(format!("issued/{new_id}.qr.txt"))).unwrap();
    let (_, r) = verifier.verify(new_text.trim());
    assert_eq!(r["outcome"], "VALID", "{r}\n{}", verifier.log());
    // Offline, genesis does not know the new key; `check --node` learns it from the ledger,
    // proven from genesis.
    let held = d.join(format!("issued/{new_id}.credential.json"));
    let out = run(
        "credledger-issuer",
        &[
            "qr",
            held.to_str().unwrap(),
            "--format",
            "text",
            "--mode",
            "full",
            "--genesis",
            g,
            "--node",
            &node,
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let full = out.stdout.trim().to_string();
    let check = |extra: &[&str]| {
        let mut args = vec!["check", "--genesis", g, "--text", &full];
        args.extend(extra);
        run("credledger-verifier", &args)
    };
    let offline = check(&[]);
    assert_eq!(offline.code, 1, "{}{}", offline.stdout, offline.stderr);
    assert!(
        offline.stdout.contains("has no key moj-2026-02")
            && offline.stdout.contains("give --node URL to learn it"),
        "{}",
        offline.stdout
    );
    let online = check(&["--node", &node]);
    assert_eq!(online.code, 0, "{}{}", online.stdout, online.stderr);
    assert!(online.stdout.starts_with("VALID"), "{}", online.stdout);
    // A node whose answers are older than the bound (here 0 ms: every answer is) is a node
    // that lags behind, which could show a key as before its revocation: not believed, and
    // the warning names the entry.
    let stale = check(&["--node", &node, "--entry-max-age-ms", "0"]);
    assert_eq!(stale.code, 1, "{}{}", stale.stdout, stale.stderr);
    assert!(
        stale
            .stderr
            .contains("no node proved issuer key moj/moj-2026-02 under a header of the last 0 s"),
        "{}",
        stale.stderr
    );
    // No node up: the genesis-only verdict, with a warning that says so.
    let dead = check(&["--node", "http://127.0.0.1:9"]);
    assert_eq!(dead.code, 1, "{}{}", dead.stdout, dead.stderr);
    assert!(
        dead.stderr.contains("checked against genesis alone"),
        "{}",
        dead.stderr
    );

    // The old key published something, then is revoked from before that: `key affected`
    // lists it for reissue.
    let old_key = d.join("moj-2026-01.key");
    import_key(&d.join("keys/issuer-moj-2026-01.json"), &old_key, &pass);
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    std::thread::sleep(std::time::Duration::from_millis(50));
    let out = publish_with(&old_key);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let old_id = serde_json::from_str::<Value>(&out.stdout).unwrap()["credential"].clone();
    let revoke = json!({"action": "revoke_issuer_key", "issuer": "moj", "key_id": "moj-2026-01", "effective": before});
    let proposal2 = d.join("proposal2.json");
    let pr2 = proposal2.to_str().unwrap();
    let out = run(
        "credledger-issuer",
        &[
            "governance",
            "propose",
            "--action",
            &revoke.to_string(),
            "--out",
            pr2,
            "--genesis",
            g,
            "--node",
            &node,
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    for m in ["council-1", "council-2"] {
        let out = run(
            "credledger-issuer",
            &[
                "governance",
                "sign",
                pr2,
                "--key",
                d.join(format!("{m}.key")).to_str().unwrap(),
                "--passphrase-file",
                p,
            ],
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    let out = run(
        "credledger-issuer",
        &["governance", "submit", pr2, "--genesis", g, "--node", &node],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = run(
        "credledger-issuer",
        &[
            "key",
            "affected",
            "--issuer",
            "moj",
            "--key-id",
            "moj-2026-01",
            "--genesis",
            g,
            "--node",
            &node,
            "--json",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    let ids: Vec<&Value> = v["affected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["credential"])
        .collect();
    assert_eq!(ids, [&old_id], "{v}");
    assert_eq!(v["affected"][0]["status"], "active", "{v}");
    // The verifier's registry re-reads the key and learns the revocation: the credential it
    // signed after the cut-off is no longer genuine.
    let old_text =
        std::fs::read_to_string(d.join(format!("issued/{}.qr.txt", old_id.as_str().unwrap())))
            .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut outcome = Value::Null;
    while std::time::Instant::now() < deadline {
        outcome = verifier.verify(old_text.trim()).1["outcome"].clone();
        if outcome == "NOT_GENUINE" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(outcome, "NOT_GENUINE", "{}", verifier.log());
    // The Ministry's CLI reads the key's record from the ledger and names the fix.
    let out = publish_with(&old_key);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("issuer key moj-2026-01 is not valid: revoked from"),
        "{}",
        out.stderr
    );

    // Reissue it under the new key: same claims, a new id, the old one revoked as superseded.
    let old_file = d.join(format!(
        "issued/{}.credential.json",
        old_id.as_str().unwrap()
    ));
    let reissue_file = |file: &std::path::Path, out: &std::path::Path| {
        run(
            "credledger-issuer",
            &[
                "publish",
                "--reissue",
                file.to_str().unwrap(),
                "--key",
                new_key.to_str().unwrap(),
                "--passphrase-file",
                p,
                "--genesis",
                g,
                "--node",
                &node,
                "--out",
                out.to_str().unwrap(),
                "--json",
            ],
        )
    };
    let reissue = |out: &std::path::Path| reissue_file(&old_file, out);
    // A holder's copy with an altered claim is not reissued: the ministry would sign it.
    let mut altered: Value = serde_json::from_slice(&std::fs::read(&old_file).unwrap()).unwrap();
    altered["claims"][3]["value"] = json!("2020-01-01");
    let altered_file = d.join("altered.credential.json");
    std::fs::write(&altered_file, altered.to_string()).unwrap();
    let out = reissue_file(&altered_file, &d.join("reissued-altered"));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("claims were altered"), "{}", out.stderr);

    let out = reissue(&d.join("reissued"));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["replaces"], old_id);
    assert_ne!(v["credential"], old_id);
    let out = run(
        "credledger-issuer",
        &[
            "status",
            old_id.as_str().unwrap(),
            "--issuer",
            "moj",
            "--genesis",
            g,
            "--node",
            &node,
            "--json",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let st: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        (st["status"].as_str(), st["reason"].as_str()),
        (Some("revoked"), Some("superseded")),
        "{st}"
    );

    // Reissuing it again would put a second replacement in force: the CLI stops before
    // publishing anything (spec/credentials.md §5.1).
    let again = d.join("reissued-again");
    let out = reissue(&again);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("is already revoked (superseded"),
        "{}",
        out.stderr
    );
    // It names the replacement the holder is to be given.
    assert!(
        out.stderr.contains(&format!(
            "its replacement is {}",
            v["credential"].as_str().unwrap()
        )),
        "{}",
        out.stderr
    );
    assert!(
        std::fs::read_dir(&again).map_or(true, |mut d| d.next().is_none()),
        "nothing was written"
    );
}
