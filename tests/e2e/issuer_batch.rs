//! A ministry operator publishes a CSV of lawyer licenses: bad rows are reported by line,
//! a re-run is idempotent, and neither a crash, a lost journal, a node that stops answering nor
//! lost holder files can issue a row twice or leave a holder without the credential the
//! ledger holds.

use credledger_core::credential::HeldCredential;
use credledger_tests::net::Net;
use credledger_tests::{import_key, run};
use serde_json::Value;

/// Starts a batch in the background (to be killed, or to see its node go away).
fn spawn_batch(args: &[String]) -> std::process::Child {
    std::process::Command::new(credledger_tests::bin_dir().join("credledger-issuer"))
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Transactions a batch in `out` has journalled as sent.
fn submissions(out: &std::path::Path) -> usize {
    std::fs::read_to_string(out.join("journal.jsonl"))
        .map(|j| j.matches("\"submitted\"").count())
        .unwrap_or(0)
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
    // Published but for three bad rows: exit code 7, so a scheduled run can tell.
    assert_eq!(out.code, 7, "{}", out.stderr);
    assert!(out.stderr.contains("3 rows failed"), "{}", out.stderr);
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

    // Re-running the same batch issues nothing new, even with the journal lost (its three bad
    // rows fail again).
    let out = publish();
    assert_eq!(out.code, 7, "{}", out.stderr);
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
    assert_eq!(out.code, 7, "{}", out.stderr);
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

    // Asked for images, each row also gets its QR code as a PNG and an SVG, as a single
    // publication does; each PNG reads back as its row's QR text.
    // First, a file with one line far longer than any row is refused, naming that line, and
    // nothing of it is published.
    let huge = d.join("huge.csv");
    std::fs::write(
        &huge,
        format!(
            "name,license_no,bar,admitted\n王小明,(113)台檢證字第09999號,台北律師公會,2024-09-01\n\"{}\",x,y,z\n",
            "長".repeat(40_000)
        ),
    )
    .unwrap();
    let out = publish_to(&huge, &d.join("batch-huge"));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("line 3 is longer than 65536 bytes"),
        "{}",
        out.stderr
    );
    assert_eq!(submissions(&d.join("batch-huge")), 0);
    let mut csv = String::from("name,license_no,bar,admitted\n");
    for i in 0..20 {
        csv.push_str(&format!(
            "李文雄,(112)台檢證字第{i:05}號,新竹律師公會,2023-05-01\n"
        ));
    }
    let csv_images = d.join("images.csv");
    std::fs::write(&csv_images, csv).unwrap();
    let with_images = d.join("batch-images");
    let mut a = args(&csv_images, &with_images);
    a.push("--images".into());
    let out = run(
        "credledger-issuer",
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report = std::fs::read_to_string(with_images.join("report.csv")).unwrap();
    let ids: Vec<&str> = report
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    assert_eq!(ids.len(), 20, "{report}");
    for id in ids {
        let text = std::fs::read_to_string(with_images.join(format!("{id}.qr.txt"))).unwrap();
        let png = with_images.join(format!("{id}.png"));
        assert_eq!(crate::issuer_publish::decode_png(&png), text.trim_end());
        assert!(with_images.join(format!("{id}.svg")).exists());
    }

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
    let mut child = spawn_batch(&args(&csv2, &batch2));
    assert!(net.wait(std::time::Duration::from_secs(60), || {
        submissions(&batch2) >= 2
    }));
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
    let child = spawn_batch(&args(&csv3, &batch3));
    assert!(net.wait(std::time::Duration::from_secs(60), || {
        submissions(&batch3) >= 1
    }));
    net.kill(0);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // 5 if the node was gone when asked next; 6 if it died while reading a submission, which
    // it may have pooled first (spec/issuer-keys.md §4).
    assert!(
        matches!(out.status.code(), Some(5 | 6)),
        "{:?}: {stderr}",
        out.status.code()
    );
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
    for journal_too in [false, true] {
        for id in &lost {
            std::fs::remove_file(batch3.join(format!("{id}.credential.json"))).unwrap();
            std::fs::remove_file(batch3.join(format!("{id}.qr.txt"))).unwrap();
        }
        if journal_too {
            // Their journal lines lost as well: the re-run asks the ledger about those rows.
            let journal = std::fs::read_to_string(batch3.join("journal.jsonl")).unwrap();
            let kept: String = journal
                .lines()
                .filter(|l| !lost.iter().any(|id| l.contains(id.as_str())))
                .map(|l| format!("{l}\n"))
                .collect();
            std::fs::write(batch3.join("journal.jsonl"), kept).unwrap();
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
