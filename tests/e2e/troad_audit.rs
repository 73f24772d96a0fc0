//! T-Road anchoring and auditing against a real network: an agency's agent anchors 100,000
//! records, survives `kill -9` without skipping or repeating one, the ledger refuses heads
//! that rewrite the log, and an auditor proves one record offline and finds every tampering
//! of the log file by line.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use credledger_core::bounded::BoundedVec;
use credledger_core::encoding::encode;
use credledger_core::hash::Digest;
use credledger_core::ids::Timestamp;
use credledger_core::merkle;
use credledger_core::sig::Keypair;
use credledger_core::troad::LogRecord;
use credledger_core::tx::{AnchorTx, Signed, Transaction};
use credledger_tests::agency::{Agency, SOURCE, now_ms, write_records};
use credledger_tests::bin_dir;
use credledger_tests::citizen::Verifier;
use credledger_tests::net::Net;
use credledger_tests::troad::sample_record;

/// Percent-encodes a form value (base64 has `+`, `/` and `=`).
fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A running network, an agency with its sealed source key, and a log of `records` records
/// dated now (the agent's store folder is not created yet).
fn agency_with_log(records: u64) -> (Net, Agency, PathBuf, PathBuf) {
    let net = Net::start(4, 0);
    assert!(net.wait_height(0, 1, Duration::from_secs(60)));
    let agency = Agency::new(&net);
    let log = agency.dir.join("messages.jsonl");
    let store = agency.dir.join("agent");
    write_records(&log, 0, records, now_ms());
    (net, agency, log, store)
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

#[test]
fn a_hundred_thousand_records_are_anchored_proven_offline_and_every_tampering_found_by_line() {
    let (net, agency, log, store) = agency_with_log(100_000);
    let d = agency.dir.clone();

    let summary = agency.anchor(
        &log,
        &store,
        &["--every", "25000", "--interval-ms", "600000", "--json"],
    );
    assert_eq!(summary["log_size"], 100_000, "{summary}");
    assert_eq!(summary["anchors"], 4, "{summary}");

    let intact = agency.audit(&["check-log", "--source", SOURCE, log.to_str().unwrap()]);
    assert_eq!(intact.code, 0, "{}{}", intact.stdout, intact.stderr);
    assert!(intact.stdout.contains("INTACT"), "{}", intact.stdout);

    // One tampering per copy of the log, each named by its line with the agent's leaves.
    let original = lines(&log);
    let cases: Vec<(&str, Vec<String>, &str)> = vec![
        (
            "altered",
            {
                let mut l = original.clone();
                l[499] = l[499].replace("TW/GOV/SS/", "TW/GOV/SX/");
                l
            },
            "line 500: altered",
        ),
        (
            "deleted",
            {
                let mut l = original.clone();
                l.remove(2999);
                l
            },
            "anchored record 3000 is missing (after line 2999)",
        ),
        (
            "reordered",
            {
                let mut l = original.clone();
                l.swap(6999, 7000);
                l
            },
            "line 7001: reordered",
        ),
        (
            "duplicated",
            {
                let mut l = original.clone();
                l.insert(9000, l[8999].clone());
                l
            },
            "line 9001: duplicate of line 9000",
        ),
    ];
    let leaves = store.display().to_string();
    for (name, content, expected) in &cases {
        let path = d.join(format!("{name}.jsonl"));
        write_lines(&path, content);
        let p = path.to_str().unwrap();
        let o = agency.audit(&["check-log", "--source", SOURCE, p, "--leaves", &leaves]);
        assert_eq!(o.code, 1, "{name}: {}{}", o.stdout, o.stderr);
        assert!(o.stdout.contains(expected), "{name}: {}", o.stdout);
        let o = agency.audit(&["check-log", "--source", SOURCE, p, "--json"]);
        assert_eq!(o.code, 1, "{name} without leaves: {}", o.stderr);
        let r: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
        assert_eq!(r["findings"][0]["finding"], "head_mismatch", "{name}: {r}");
    }

    // An auditor's bundle for line 4711, checked offline against genesis alone.
    let bundle = d.join("r4711.bundle");
    let o = agency.audit(&[
        "prove",
        "--source",
        SOURCE,
        "--record",
        "4711",
        "--log",
        log.to_str().unwrap(),
        "--out",
        bundle.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let proved: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert!(proved["bytes"].as_u64().unwrap() < 2048, "{proved}");
    let record = d.join("r4711.json");
    std::fs::write(&record, format!("{}\n", original[4710])).unwrap();
    let (b, r) = (bundle.to_str().unwrap(), record.to_str().unwrap());
    let ok = agency.audit(&["verify", b, "--record", r]);
    assert_eq!(ok.code, 0, "{}{}", ok.stdout, ok.stderr);
    assert!(ok.stdout.starts_with("PROVEN"), "{}", ok.stdout);
    // Another record, or any changed byte, is refused with the failed check named.
    std::fs::write(&record, format!("{}\n", original[4711])).unwrap();
    let wrong = agency.audit(&["verify", b, "--record", r]);
    assert_eq!(wrong.code, 1);
    assert!(
        wrong.stdout.contains("failed check: record"),
        "{}",
        wrong.stdout
    );
    let bytes = std::fs::read(&bundle).unwrap();
    for at in [2, 40, bytes.len() / 2, bytes.len() - 70, bytes.len() - 1] {
        let mut b2 = bytes.clone();
        b2[at] ^= 0x20;
        let changed = d.join("changed.bundle");
        std::fs::write(&changed, &b2).unwrap();
        let o = agency.audit(&["verify", changed.to_str().unwrap(), "--json"]);
        assert_eq!(o.code, 1, "byte {at}: {}{}", o.stdout, o.stderr);
        let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
        assert!(v["failed_check"].is_string(), "byte {at}: {v}");
    }

    // The verifier service checks the same bundle for an auditor's browser or program.
    let v = Verifier::start(&net, &[]);
    let http = reqwest::blocking::Client::new();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
    let api = |body: serde_json::Value| -> serde_json::Value {
        http.post(format!("{}/api/v1/audit/verify", v.url))
            .json(&body)
            .send()
            .unwrap()
            .json()
            .unwrap()
    };
    let good = api(serde_json::json!({ "bundle": b64, "record": original[4710] }));
    assert_eq!(good["outcome"], "PROVEN", "{good}");
    assert_eq!(good["verdict"]["index"], 4710);
    let bad = api(serde_json::json!({ "bundle": b64, "record": original[4711] }));
    assert_eq!(bad["outcome"], "NOT_PROVEN", "{bad}");
    assert_eq!(bad["failed_check"], "record", "{bad}");
    let page = http
        .post(format!("{}/audit?lang=en", v.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("bundle={}&record=", url_encode(&b64)))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(page.contains("data-outcome=\"PROVEN\""), "{page}");
    assert!(page.contains("Line</dt><dd>4711"), "{page}");

    // The ledger refuses heads that are not consistent extensions of the last one.
    let last = net
        .get(0, &format!("/v1/state/log-source/{SOURCE}"))
        .unwrap();
    let last_root: Digest = serde_json::from_value(last["value"]["last_root"].clone()).unwrap();
    let key = source_key(&net);
    for (size, consistency) in [(100_001, vec![Digest([7; 32])]), (99_999, vec![])] {
        let tx = Transaction::Anchor(Signed::sign(
            &net.devnet.genesis.chain_id,
            AnchorTx {
                source: SOURCE.parse().unwrap(),
                sequence: 5,
                tree_size: size,
                root: Digest([9; 32]),
                previous_root: last_root,
                consistency: BoundedVec::new(consistency).unwrap(),
                log_time: Timestamp(now_ms()),
            },
            key,
        ));
        let (code, body) = net.submit_and_wait(0, &encode(&tx), 8_000);
        let refused = code != 200 || !body["error"].is_null();
        assert!(refused, "size {size} was accepted: {body}");
    }
    let after = net
        .get(0, &format!("/v1/state/log-source/{SOURCE}"))
        .unwrap();
    assert_eq!(after["value"]["last_sequence"], 4, "{after}");
}

#[test]
fn an_agent_killed_mid_stream_resumes_without_losing_or_repeating_a_record() {
    let (net, agency, log, store) = agency_with_log(60_000);

    // Killed three times at different moments of its work.
    for wait_ms in [700u64, 1300, 400] {
        let args = agency.agent_args(
            &log,
            &store,
            &["--every", "3000", "--interval-ms", "600000"],
        );
        let mut child = silent_agent(&args);
        let started = Instant::now();
        while started.elapsed() < Duration::from_millis(wait_ms) {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        child.kill().unwrap(); // SIGKILL: no chance to tidy up
        child.wait().unwrap();
    }
    // Then killed for certain between its checkpoint and the anchor's commit: the first node it
    // asks never answers (a listener that accepts nothing), so its anchor waits 15 s for a
    // timeout after the whole file is read and checkpointed.
    let mut agent = StuckAgent::start(&agency, &log, &store);
    // The read takes the 15 s timeout plus the file. In CI this agent once stopped early
    // instead, refusing a ledger head an earlier agent's anchor had left (the case of
    // `an_anchor_that_commits_after_the_agent_read_on_is_taken_up_not_refused`).
    agent.wait_read(&net, &store, 60_000, Duration::from_secs(120));
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        agent.child.try_wait().unwrap().is_none(),
        "still waiting for its anchor"
    );
    agent.kill();
    // Nothing new to read; the records checkpointed but not anchored are anchored now.
    let summary = agency.anchor(&log, &store, &["--every", "3000", "--json"]);
    assert_eq!(summary["log_size"], 60_000, "{summary}");
    assert_eq!(summary["records_read"], 0, "{summary}");
    assert_eq!(
        std::fs::metadata(store.join("leaves")).unwrap().len(),
        60_000 * 32,
        "every record is in the local log exactly once"
    );
    let source = net
        .get(0, &format!("/v1/state/log-source/{SOURCE}"))
        .unwrap();
    assert_eq!(source["value"]["last_size"], 60_000, "{source}");
    // The anchored heads reproduce the file exactly: nothing lost, repeated or reordered.
    let o = agency.audit(&[
        "check-log",
        "--source",
        SOURCE,
        log.to_str().unwrap(),
        "--leaves",
        store.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);

    // Following a growing file: records written later are anchored too, and a line still
    // being written is not read before its end.
    let args = agency.agent_args(
        &log,
        &store,
        &[
            "--follow",
            "--interval-ms",
            "300",
            "--max-records",
            "61000",
            "--json",
        ],
    );
    let child = Command::new(bin_dir().join("credledger-issuer"))
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let line = sample_record(9, 60_000, Timestamp(now_ms())).to_line();
    let (head, tail) = line.split_at(40);
    {
        let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        f.write_all(head.as_bytes()).unwrap();
        f.flush().unwrap();
        std::thread::sleep(Duration::from_millis(300));
        writeln!(f, "{tail}").unwrap();
    }
    write_records(&log, 60_001, 61_000, now_ms());
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["log_size"], 61_000, "{summary}");
    let o = agency.audit(&["check-log", "--source", SOURCE, log.to_str().unwrap()]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
}

/// The log source's signing key, from the devnet the nodes run.
fn source_key(net: &Net) -> &Keypair {
    &net.devnet
        .log_source_keys
        .iter()
        .find(|(s, _)| s == SOURCE)
        .unwrap()
        .1
}

/// An agent that reads its whole input before anchoring, and whose first node accepts
/// connections but never answers: once the input is read and checkpointed, its anchor waits
/// 15 s for a timeout, long enough to be killed there. What it says is kept for failures.
struct StuckAgent {
    child: std::process::Child,
    said: PathBuf,
    _hole: std::net::TcpListener,
}

impl StuckAgent {
    fn start(agency: &Agency, log: &Path, store: &Path) -> StuckAgent {
        let hole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut args = agency.agent_args(
            log,
            store,
            &["--every", "1000000", "--interval-ms", "600000"],
        );
        let node_at = args.iter().position(|a| a == "--node").unwrap() + 1;
        args[node_at] = format!("http://{},{}", hole.local_addr().unwrap(), args[node_at]);
        let said = agency.dir.join("stuck-agent-stderr.txt");
        let child = Command::new(bin_dir().join("credledger-issuer"))
            .args(&args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&said).unwrap())
            .spawn()
            .unwrap();
        StuckAgent {
            child,
            said,
            _hole: hole,
        }
    }

    /// Waits until the local log in `store` holds `records` leaves; fails at once, with what
    /// the agent said, if it stops.
    fn wait_read(&mut self, net: &Net, store: &Path, records: u64, limit: Duration) {
        let leaves = store.join("leaves");
        let held = || std::fs::metadata(&leaves).map_or(0, |m| m.len() / 32);
        let began = Instant::now();
        let mut exited = None;
        net.wait(limit, || {
            exited = self.child.try_wait().unwrap();
            exited.is_some() || held() == records
        });
        assert!(
            exited.is_none() && held() == records,
            "the agent read the whole file: after {:?} its local log holds {} of {records} \
             records; exit {exited:?}; it said: {}",
            began.elapsed(),
            held(),
            std::fs::read_to_string(&self.said).unwrap_or_default()
        );
    }

    /// SIGKILL: no chance to tidy up.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

/// The anchoring agent with `args`, its output discarded, to be killed by the test.
fn silent_agent(args: &[String]) -> std::process::Child {
    Command::new(bin_dir().join("credledger-issuer"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn an_anchor_that_commits_after_the_agent_read_on_is_taken_up_not_refused() {
    let (net, agency, log, store) = agency_with_log(3_000);
    let summary = agency.anchor(&log, &store, &["--every", "3000", "--json"]);
    assert_eq!(summary["anchors"], 1, "{summary}");

    // The file grows to 6,001 records. The agent reads them all, but its anchor never leaves:
    // the first node it asks accepts connections and never answers, and the agent is killed
    // while it waits, with the 6,001 records checkpointed and anchor #1 its last.
    write_records(&log, 3_000, 6_001, now_ms());
    let mut agent = StuckAgent::start(&agency, &log, &store);
    agent.wait_read(&net, &store, 6_001, Duration::from_secs(120));
    agent.kill();

    // Meanwhile an anchor of the first 6,000 records, sent before a crash, commits.
    let text = std::fs::read_to_string(&log).unwrap();
    let leaf_hashes: Vec<Digest> = text
        .lines()
        .map(|l| LogRecord::from_line(l.as_bytes()).unwrap().leaf())
        .collect();
    let key = source_key(&net);
    let tx = Transaction::Anchor(Signed::sign(
        &net.devnet.genesis.chain_id,
        AnchorTx {
            source: SOURCE.parse().unwrap(),
            sequence: 2,
            tree_size: 6_000,
            root: merkle::root(&leaf_hashes[..6_000]),
            previous_root: merkle::root(&leaf_hashes[..3_000]),
            consistency: BoundedVec::new(
                merkle::consistency_proof(&leaf_hashes[..6_000], 3_000).unwrap(),
            )
            .unwrap(),
            log_time: Timestamp(now_ms()),
        },
        key,
    ));
    let (code, body) = net.submit_and_wait(0, &encode(&tx), 8_000);
    assert!(code == 200 && body["error"].is_null(), "{code} {body}");

    // The restarted agent takes anchor #2 as its own and anchors the one record after it.
    let summary = agency.anchor(&log, &store, &["--every", "3000", "--json"]);
    assert_eq!(summary["anchors"], 1, "{summary}");
    assert_eq!(summary["anchored"]["sequence"], 3, "{summary}");
    assert_eq!(summary["anchored"]["size"], 6_001, "{summary}");
    let source = net
        .get(0, &format!("/v1/state/log-source/{SOURCE}"))
        .unwrap();
    assert_eq!(source["value"]["last_sequence"], 3, "{source}");
    assert_eq!(source["value"]["last_size"], 6_001, "{source}");
}
