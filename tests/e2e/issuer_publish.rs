//! A ministry operator publishes a lawyer license on a running network: the credential is
//! committed, its printed QR code decodes to exactly the presentation text, and `verify`
//! accepts it against genesis alone. Wrong kinds and incomplete subjects are refused by name.

use credledger_core::ids::Timestamp;
use credledger_core::presentation::{Presentation, StatusEvidence};
use credledger_core::{Policy, TrustAnchor, verify};
use credledger_tests::net::Net;
use credledger_tests::{import_key, run};
use serde_json::{Value, json};

/// The text of the one QR code in a PNG file.
pub(crate) fn decode_png(path: &std::path::Path) -> String {
    let img = image::open(path).unwrap().to_luma8();
    let (w, h) = img.dimensions();
    let mut prepared =
        rqrr::PreparedImage::prepare_from_greyscale(w as usize, h as usize, |x, y| {
            img.get_pixel(x as u32, y as u32).0[0]
        });
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the PNG");
    grids[0].decode().unwrap().1
}

#[test]
fn publish_a_lawyer_license_and_read_back_its_qr_code() {
    let net = Net::start(4, 0);
    assert!(net.wait_height(1, 1, std::time::Duration::from_secs(60)));
    let d = net.dir.path();
    let pass = d.join("pass.txt");
    std::fs::write(&pass, "devnet passphrase\n").unwrap();
    let key = d.join("moj.key");
    import_key(&d.join("keys/issuer-moj-2026-01.json"), &key, &pass);

    let subject = d.join("lawyer.json");
    std::fs::write(
        &subject,
        json!({"name": "王小明", "license_no": "(113)台檢證字第00042號", "bar": "台北律師公會", "admitted": "2024-09-01"}).to_string(),
    )
    .unwrap();
    let issued = d.join("issued");
    let genesis = d.join("genesis.json");
    let nodes = format!("http://127.0.0.1:9,{}", net.nodes[1].api); // the first is down: fail-over
    let publish = |kind: &str, subject: &std::path::Path| {
        run(
            "credledger-issuer",
            &[
                "publish",
                "--kind",
                kind,
                "--subject",
                subject.to_str().unwrap(),
                "--key",
                key.to_str().unwrap(),
                "--passphrase-file",
                pass.to_str().unwrap(),
                "--genesis",
                genesis.to_str().unwrap(),
                "--node",
                &nodes,
                "--out",
                issued.to_str().unwrap(),
                "--json",
            ],
        )
    };
    let out = publish("lawyer-license", &subject);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    let id = v["credential"].as_str().unwrap().to_string();
    assert!(v["qr_version"].as_i64().unwrap() <= 12, "{v}");

    // Committed on other nodes than the one it was sent to (which may be a block behind):
    // node 3 here, node 2 for the `status` read through a config file below.
    let path = format!("/v1/credentials/moj/{id}");
    assert!(net.wait(std::time::Duration::from_secs(10), || {
        net.get(3, &path).is_some() && net.get(2, &path).is_some()
    }));
    let ev = net.get(3, &path).expect("committed");
    assert_eq!(ev["record"]["status"]["state"], "active", "{ev}");

    // The PNG decodes to exactly the presentation text, which verifies against genesis.
    let text = std::fs::read_to_string(issued.join(format!("{id}.qr.txt"))).unwrap();
    assert_eq!(
        decode_png(&issued.join(format!("{id}.png"))),
        text.trim_end()
    );
    let p = Presentation::from_text(text.trim_end()).unwrap();
    let anchor = TrustAnchor::from_genesis(&net.devnet.genesis).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    // With the node's status evidence attached, as a verifier does.
    let evidence: StatusEvidence = serde_json::from_value(ev).unwrap();
    let full = Presentation::Full {
        compact: p.compact().clone(),
        evidence,
    };
    let verdict = verify(&full, &anchor, Timestamp(now), &Policy::LIVE).unwrap();
    assert_eq!(verdict.issuer.as_str(), "moj");
    assert!(
        std::fs::read_to_string(issued.join(format!("{id}.svg")))
            .unwrap()
            .starts_with("<?xml")
    );

    // The operator reads the holder's credential file back.
    let cred_file = issued.join(format!("{id}.credential.json"));
    let out = run("credledger-issuer", &["show", cred_file.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("lawyer-license")
            && out.stdout.contains("bar: 台北律師公會")
            && out.stdout.contains("(UTC+8)"),
        "{}",
        out.stdout
    );

    // With a config file the operator types neither --genesis, --node nor --key.
    let config = d.join("issuer.toml");
    std::fs::write(
        &config,
        format!(
            "genesis = \"genesis.json\"\nnodes = [\"{}\"]\nkey = \"moj.key\"\n",
            net.nodes[2].api
        ),
    )
    .unwrap();
    let out = credledger_tests::run_with_env(
        "credledger-issuer",
        &["status", &id, "--issuer", "moj", "--json"],
        &[("CREDLEDGER_ISSUER_CONFIG", config.as_os_str())],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("\"active\""), "{}", out.stdout);
    // An id the ledger does not hold: the node's absence proof is checked, not its word.
    let out = credledger_tests::run_with_env(
        "credledger-issuer",
        &["status", &"0".repeat(32), "--issuer", "moj"],
        &[("CREDLEDGER_ISSUER_CONFIG", config.as_os_str())],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("its absence is proven as of block"),
        "{}",
        out.stderr
    );

    // A full QR revealing two claims: it decodes, verifies offline, and hides the rest.
    let png = d.join("full.png");
    let out = run(
        "credledger-issuer",
        &[
            "qr",
            cred_file.to_str().unwrap(),
            "--format",
            "png",
            "--out",
            png.to_str().unwrap(),
            "--mode",
            "full",
            "--disclose",
            "name,license_no",
            "--genesis",
            genesis.to_str().unwrap(),
            "--node",
            &nodes,
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let full = Presentation::from_text(&decode_png(&png)).unwrap();
    let v = verify(&full, &anchor, Timestamp(now), &Policy::OFFLINE).unwrap();
    let shown: Vec<String> = v.disclosed.iter().map(|c| c.key.to_string()).collect();
    assert_eq!(shown, ["name", "license_no"], "{v:?}");
    let out = run(
        "credledger-issuer",
        &[
            "qr",
            cred_file.to_str().unwrap(),
            "--format",
            "text",
            "--disclose",
            "shoe_size",
        ],
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("\"shoe_size\" is not in this credential"),
        "{}",
        out.stderr
    );

    // An SVG for printing, described in JSON for a script; and the terminal form.
    let svg = d.join("card.svg");
    let out = run(
        "credledger-issuer",
        &[
            "qr",
            cred_file.to_str().unwrap(),
            "--format",
            "svg",
            "--out",
            svg.to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let j: Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(j["qr_version"].as_i64().unwrap() <= 12, "{j}");
    assert_eq!(j["mode"], "compact");
    assert_eq!(j["file"].as_str(), svg.to_str());
    assert!(j["text"].as_str().unwrap().starts_with("CL1:"), "{j}");
    assert!(std::fs::read_to_string(&svg).unwrap().contains("<svg"));
    let out = run("credledger-issuer", &["qr", cred_file.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains('█') && out.stdout.contains("at ECC M"),
        "{}",
        out.stdout
    );

    // An unattended job's passphrase from an environment variable: a wrong one is exit 3
    // and publishes nothing; the right one publishes.
    let with_env = |value: &str| {
        credledger_tests::run_with_env(
            "credledger-issuer",
            &[
                "publish",
                "--kind",
                "lawyer-license",
                "--subject",
                subject.to_str().unwrap(),
                "--key",
                key.to_str().unwrap(),
                "--passphrase-env",
                "MOJ_PASSPHRASE",
                "--genesis",
                genesis.to_str().unwrap(),
                "--node",
                &nodes,
                "--out",
                d.join("by-env").to_str().unwrap(),
                "--json",
            ],
            &[("MOJ_PASSPHRASE", std::ffi::OsStr::new(value))],
        )
    };
    let out = with_env("not the passphrase");
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("the passphrase does not open key moj-2026-01"),
        "{}",
        out.stderr
    );
    assert!(!d.join("by-env").exists());
    let out = with_env("devnet passphrase");
    assert_eq!(out.code, 0, "{}", out.stderr);

    // The Ministry of Justice may not issue company registrations.
    let out = publish("company-registration", &subject);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("may not issue company-registration"),
        "{}",
        out.stderr
    );

    // A subject missing a claim and carrying an unknown one: both named.
    let bad = d.join("bad.json");
    std::fs::write(
        &bad,
        json!({"name": "王小明", "license_no": "x", "bar": "y", "shoe_size": "42"}).to_string(),
    )
    .unwrap();
    let out = publish("lawyer-license", &bad);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("\"admitted\" is missing"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("\"shoe_size\" is not part of kind"),
        "{}",
        out.stderr
    );

    // A value in the wrong form for its claim's format (here a date that does not exist).
    std::fs::write(
        &bad,
        json!({"name": "王小明", "license_no": "x", "bar": "y", "admitted": "2024-02-30"})
            .to_string(),
    )
    .unwrap();
    let out = publish("lawyer-license", &bad);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("\"admitted\" (Date of admission) \"2024-02-30\" is not a date"),
        "{}",
        out.stderr
    );

    // The lifecycle, each step checked with `status` (verified against genesis).
    let ledger_args = |v: &mut Vec<String>| {
        v.extend([
            "--genesis".into(),
            genesis.display().to_string(),
            "--node".into(),
            nodes.clone(),
        ]);
    };
    let with_key = |k: &std::path::Path, args: &[&str]| {
        let mut v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        v.extend([
            "--key".into(),
            k.display().to_string(),
            "--passphrase-file".into(),
            pass.display().to_string(),
        ]);
        ledger_args(&mut v);
        let refs: Vec<&str> = v.iter().map(String::as_str).collect();
        run("credledger-issuer", &refs)
    };
    let status = || {
        let mut v: Vec<String> = vec![
            "status".into(),
            id.clone(),
            "--issuer".into(),
            "moj".into(),
            "--json".into(),
        ];
        ledger_args(&mut v);
        let refs: Vec<&str> = v.iter().map(String::as_str).collect();
        let out = run("credledger-issuer", &refs);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let v: Value = serde_json::from_str(&out.stdout).unwrap();
        (
            v["status"].as_str().unwrap().to_string(),
            v["reason"].clone(),
        )
    };
    assert_eq!(status().0, "active");
    let out = with_key(&key, &["suspend", &id, "--reason", "disciplinary"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(status(), ("suspended".to_string(), json!("disciplinary")));

    // Another ministry may not touch it.
    let moea = d.join("moea.key");
    import_key(&d.join("keys/issuer-moea-2026-01.json"), &moea, &pass);
    let out = with_key(&moea, &["reinstate", &id]);
    assert_eq!(out.code, 4, "refused by the ledger: {}", out.stderr);

    let out = with_key(&key, &["reinstate", &id]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(status().0, "active");
    let out = with_key(&key, &["revoke", &id, "--reason", "issued-in-error"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(status(), ("revoked".to_string(), json!("issued-in-error")));

    // A revocation is final: revoking again or reinstating is refused with the reason.
    for args in [
        &["revoke", id.as_str(), "--reason", "order"][..],
        &["reinstate", id.as_str()][..],
    ] {
        let out = with_key(&key, args);
        assert_eq!(out.code, 4, "{}", out.stderr);
        assert!(
            out.stderr.contains("revoked"),
            "names the cause: {}",
            out.stderr
        );
    }
    let out = with_key(&key, &["suspend", &id, "--reason", "bored"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("is not one of"), "{}", out.stderr);

    // `status` shows the whole history, checked against the record's history digest: the
    // four changes that took effect, in order, and none of the refused ones.
    let mut v: Vec<String> = vec!["status".into(), id.clone(), "--issuer".into(), "moj".into()];
    ledger_args(&mut v);
    let refs: Vec<&str> = v.iter().map(String::as_str).collect();
    let text = run("credledger-issuer", &refs);
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(
        text.stdout.contains("history (4 events, complete)")
            && text.stdout.contains("(UTC+8)")
            && text.stdout.contains("checked against genesis"),
        "{}",
        text.stdout
    );
    v.push("--json".into());
    let refs: Vec<&str> = v.iter().map(String::as_str).collect();
    let out = run("credledger-issuer", &refs);
    let st: Value = serde_json::from_str(&out.stdout).unwrap();
    let history: Vec<(String, Value)> = st["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["event"].as_str().unwrap().to_string(),
                e["reason"].clone(),
            )
        })
        .collect();
    assert_eq!(
        history,
        [
            ("published".to_string(), Value::Null),
            ("suspended".to_string(), json!("disciplinary")),
            ("reinstated".to_string(), Value::Null),
            ("revoked".to_string(), json!("issued-in-error")),
        ],
        "{st}"
    );
    let heights: Vec<u64> = st["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["height"].as_u64().unwrap())
        .collect();
    assert!(heights.windows(2).all(|w| w[0] < w[1]), "{heights:?}");
    assert_eq!(st["history"][0]["height"], st["published_height"]);
}
