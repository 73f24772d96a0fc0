//! A ministry operator publishes a lawyer license on a running network: the credential is
//! committed, its printed QR code decodes to exactly the presentation text, and `verify`
//! accepts it against genesis alone. Wrong kinds and incomplete subjects are refused by name.

use credledger_core::credential::HeldCredential;
use credledger_core::ids::Timestamp;
use credledger_core::presentation::{Presentation, StatusEvidence};
use credledger_core::{Policy, TrustAnchor, verify};
use credledger_tests::net::Net;
use credledger_tests::{import_key, run};
use serde_json::{Value, json};

fn decode_png(path: &std::path::Path) -> String {
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

    // Committed on another node than the one it was sent to (which may be a block behind).
    let path = format!("/v1/credentials/moj/{id}");
    assert!(net.wait(std::time::Duration::from_secs(10), || {
        net.get(3, &path).is_some()
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

#[test]
fn a_batch_of_1000_rows_reports_its_3_bad_rows_and_reruns_idempotently() {
    let mut net = Net::start(4, 0);
    assert!(net.wait_height(0, 1, std::time::Duration::from_secs(60)));
    // Owned, so that the node can be stopped below while the closures hold these.
    let d = net.dir.path().to_path_buf();
    let api0 = net.nodes[0].api.clone();
    let pass = d.join("pass.txt");
    std::fs::write(&pass, "devnet passphrase\n").unwrap();
    let key = d.join("moj.key");
    import_key(&d.join("keys/issuer-moj-2026-01.json"), &key, &pass);

    let mut csv = String::from("name,license_no,bar,admitted\n");
    for i in 0..1000 {
        let line = match i {
            100 => "王大明,(113)台檢證字第00100號,台北律師公會\n".to_string(), // a column short
            500 => format!(
                "{},(113)台檢證字第00500號,台北律師公會,2024-09-01\n",
                "長".repeat(100)
            ), // too long
            900 => "王小明,(113)台檢證字第00007號,台北律師公會,2024-09-01\n".to_string(), // same as row 9
            _ => format!("王小明,(113)台檢證字第{i:05}號,台北律師公會,2024-09-01\n"),
        };
        csv.push_str(&line);
    }
    let csv_path = d.join("lawyers.csv");
    std::fs::write(&csv_path, csv).unwrap();
    let batch = d.join("batch");
    let args = |csv: &std::path::Path, out: &std::path::Path| -> Vec<String> {
        [
            "publish",
            "--kind",
            "lawyer-license",
            "--csv",
            csv.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            "--passphrase-file",
            pass.to_str().unwrap(),
            "--genesis",
            d.join("genesis.json").to_str().unwrap(),
            "--node",
            &api0,
            "--out",
            out.to_str().unwrap(),
            "--json",
        ]
        .map(String::from)
        .to_vec()
    };
    let publish_to = |csv: &std::path::Path, out: &std::path::Path| {
        let a = args(csv, out);
        run(
            "credledger-issuer",
            &a.iter().map(String::as_str).collect::<Vec<_>>(),
        )
    };
    let publish = || publish_to(&csv_path, &batch);
    let out = publish();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        (
            v["rows"].as_u64(),
            v["committed"].as_u64(),
            v["errors"].as_u64()
        ),
        (Some(1000), Some(997), Some(3)),
        "{v}"
    );

    // The report names each bad row by its line number (header = line 1).
    let report = std::fs::read_to_string(batch.join("report.csv")).unwrap();
    let errors: Vec<&str> = report.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(errors.len(), 3, "{report}");
    assert!(errors[0].starts_with("102,"), "{errors:?}");
    assert!(
        errors[1].starts_with("502,") && errors[1].contains("name"),
        "{errors:?}"
    );
    assert!(
        errors[2].starts_with("902,") && errors[2].contains("same subject as row 9"),
        "{errors:?}"
    );

    // Every committed row is on the ledger, once.
    let line = report.lines().find(|l| l.starts_with("500,")).unwrap();
    let id = line.split(',').nth(1).unwrap();
    assert!(net.get(2, &format!("/v1/credentials/moj/{id}")).is_some());

    // Re-running the same batch issues nothing new, even with the journal lost.
    let out = publish();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        (v["committed"].as_u64(), v["skipped"].as_u64()),
        (Some(0), Some(997)),
        "{v}"
    );
    let holder = batch.join(format!("{id}.credential.json"));
    let before = std::fs::read(&holder).unwrap();
    std::fs::remove_file(batch.join("journal.jsonl")).unwrap();
    let out = publish();
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        (v["committed"].as_u64(), v["skipped"].as_u64()),
        (Some(0), Some(997)),
        "{v}"
    );
    // The holder's file of a committed row is left exactly as it was.
    assert_eq!(std::fs::read(&holder).unwrap(), before);

    // With the journal and every holder file lost, a re-run cannot rebuild the signed
    // credentials: the ledger refuses each id as taken, each row is reported, nothing is
    // published twice, and no file is left for a credential that can never be published.
    let kept = d.join("batch-kept");
    std::fs::rename(&batch, &kept).unwrap();
    let out = publish();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        (
            v["committed"].as_u64(),
            v["skipped"].as_u64(),
            v["errors"].as_u64()
        ),
        (Some(0), Some(0), Some(1000)),
        "{v}"
    );
    let report = std::fs::read_to_string(batch.join("report.csv")).unwrap();
    assert!(
        report.contains("the ledger holds an earlier credential"),
        "{report}"
    );
    assert!(!batch.join(format!("{id}.credential.json")).exists());
    std::fs::remove_dir_all(&batch).unwrap();
    std::fs::rename(&kept, &batch).unwrap();

    // A batch killed mid-way (kill -9 once its journal shows a second submission, so the
    // first chunk of 250 reached the ledger unjournaled) and run again: every row ends on the
    // ledger exactly once, and every holder file is the credential the ledger holds.
    let mut csv = String::from("name,license_no,bar,admitted\n");
    for i in 0..1500 {
        csv.push_str(&format!(
            "林美華,(114)台檢證字第{i:05}號,高雄律師公會,2025-03-01\n"
        ));
    }
    let csv2 = d.join("more.csv");
    std::fs::write(&csv2, csv).unwrap();
    let batch2 = d.join("batch2");
    let mut child =
        std::process::Command::new(credledger_tests::bin_dir().join("credledger-issuer"))
            .args(args(&csv2, &batch2))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
    let submissions = || {
        std::fs::read_to_string(batch2.join("journal.jsonl"))
            .map(|j| j.matches("\"submitted\"").count())
            .unwrap_or(0)
    };
    assert!(net.wait(std::time::Duration::from_secs(60), || submissions() >= 2));
    child.kill().unwrap();
    child.wait().unwrap();
    let out = publish_to(&csv2, &batch2);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    eprintln!("the re-run after kill -9: {v}");
    assert_eq!(
        (
            v["rows"].as_u64(),
            v["errors"].as_u64(),
            v["committed"].as_u64().unwrap() + v["skipped"].as_u64().unwrap()
        ),
        (Some(1500), Some(0), 1500),
        "{v}"
    );
    assert!(v["skipped"].as_u64().unwrap() >= 250, "{v}");
    let chain = &net.devnet.genesis.chain_id.clone();
    let report = std::fs::read_to_string(batch2.join("report.csv")).unwrap();
    for line in report.lines().skip(1).take(300) {
        let id = line.split(',').nth(1).unwrap();
        let held: HeldCredential = serde_json::from_slice(
            &std::fs::read(batch2.join(format!("{id}.credential.json"))).unwrap(),
        )
        .unwrap();
        let on_ledger = net.get(1, &format!("/v1/credentials/moj/{id}")).unwrap();
        assert_eq!(
            on_ledger["record"]["digest"].as_str().unwrap(),
            held.body.digest(chain).to_string(),
            "row {line}"
        );
    }

    // A batch whose only node stops answering half-way still writes its report, replacing
    // the old one: every row is listed, the unsettled ones as such, and the exit code says no
    // node answered. Run again with the node back, every row settles, none twice.
    let mut csv = String::from("name,license_no,bar,admitted\n");
    for i in 0..3000 {
        csv.push_str(&format!(
            "陳志明,(115)台檢證字第{i:05}號,台中律師公會,2025-06-01\n"
        ));
    }
    let csv3 = d.join("third.csv");
    std::fs::write(&csv3, csv).unwrap();
    let batch3 = d.join("batch3");
    std::fs::create_dir_all(&batch3).unwrap();
    std::fs::write(batch3.join("report.csv"), "an old report\n").unwrap();
    let child = std::process::Command::new(credledger_tests::bin_dir().join("credledger-issuer"))
        .args(args(&csv3, &batch3))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let submitted3 = || {
        std::fs::read_to_string(batch3.join("journal.jsonl"))
            .map(|j| j.contains("\"submitted\""))
            .unwrap_or(false)
    };
    assert!(net.wait(std::time::Duration::from_secs(60), submitted3));
    net.kill(0);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(stderr.contains("report.csv lists every row"), "{stderr}");
    let report = std::fs::read_to_string(batch3.join("report.csv")).unwrap();
    assert!(!report.contains("an old report"), "{report}");
    assert_eq!(report.lines().count(), 3001, "{report}");
    assert!(
        report.contains("error: not settled, the batch stopped"),
        "{report}"
    );
    net.start_node(0);
    let tip = net.height(1).unwrap();
    assert!(net.wait_height(0, tip, std::time::Duration::from_secs(60)));
    let out = publish_to(&csv3, &batch3);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    eprintln!("the re-run after the node came back: {v}");
    assert_eq!(
        (
            v["rows"].as_u64(),
            v["errors"].as_u64(),
            v["committed"].as_u64().unwrap() + v["skipped"].as_u64().unwrap()
        ),
        (Some(3000), Some(0), 3000),
        "{v}"
    );

    // A power loss can take holder files (and journal lines) that were still in the page
    // cache, but not `signed.jsonl`, which is flushed before each transaction is sent: a
    // re-run writes the lost files again, the very credentials the ledger holds.
    let report = std::fs::read_to_string(batch3.join("report.csv")).unwrap();
    let lost: Vec<String> = report
        .lines()
        .skip(1)
        .step_by(300)
        .map(|l| l.split(',').nth(1).unwrap().to_string())
        .collect();
    for id in &lost {
        std::fs::remove_file(batch3.join(format!("{id}.credential.json"))).unwrap();
        std::fs::remove_file(batch3.join(format!("{id}.qr.txt"))).unwrap();
    }
    for journal_too in [false, true] {
        if journal_too {
            std::fs::remove_file(batch3.join("journal.jsonl")).unwrap();
            for id in &lost {
                std::fs::remove_file(batch3.join(format!("{id}.credential.json"))).unwrap();
            }
        }
        let out = publish_to(&csv3, &batch3);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let v: Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(v["skipped"].as_u64(), Some(3000), "{v}");
        for id in &lost {
            let held: HeldCredential = serde_json::from_slice(
                &std::fs::read(batch3.join(format!("{id}.credential.json"))).unwrap(),
            )
            .unwrap();
            let on_ledger = net.get(1, &format!("/v1/credentials/moj/{id}")).unwrap();
            assert_eq!(
                on_ledger["record"]["digest"].as_str().unwrap(),
                held.body.digest(chain).to_string()
            );
            assert!(batch3.join(format!("{id}.qr.txt")).exists());
        }
    }
}
