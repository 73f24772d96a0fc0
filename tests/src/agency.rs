//! An agency running the T-Road anchoring agent (issuer CLI `anchor run`) and an auditor
//! running `credledger-verifier audit`, against a test network's nodes and genesis.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use credledger_core::ids::Timestamp;

use crate::troad::sample_record;

use crate::net::Net;
use crate::{Output, import_key, run};

/// The devnet's sample log source.
pub const SOURCE: &str = "troad-demo-ss1";

/// An agency with its sealed log-source key, and the chain it anchors on.
pub struct Agency {
    /// The network's folder, where the agency keeps its files.
    pub dir: PathBuf,
    /// The sealed log-source key.
    pub key: PathBuf,
    /// Its passphrase file.
    pub pass: PathBuf,
    /// The genesis file.
    pub genesis: String,
    /// The nodes' API URLs, comma-separated.
    pub nodes: String,
}

impl Agency {
    /// The agency of `net`'s sample log source, its key sealed with a test passphrase.
    pub fn new(net: &Net) -> Agency {
        let d = net.dir.path();
        let pass = d.join("ss1-pass.txt");
        std::fs::write(&pass, "agency passphrase\n").unwrap();
        let key = d.join("ss1.key");
        import_key(
            &d.join(format!("keys/log-source-{SOURCE}.json")),
            &key,
            &pass,
        );
        let nodes: Vec<&str> = net.nodes.iter().map(|n| n.api.as_str()).collect();
        Agency {
            dir: d.to_path_buf(),
            key,
            pass,
            genesis: d.join("genesis.json").display().to_string(),
            nodes: nodes.join(","),
        }
    }

    /// `anchor run LOG` arguments with the agency's key, store and chain, then `extra`.
    pub fn agent_args(&self, log: &Path, store: &Path, extra: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = ["anchor", "run"].map(String::from).to_vec();
        v.push(log.display().to_string());
        v.extend(extra.iter().map(|s| s.to_string()));
        for (k, val) in [
            ("--store", store.display().to_string()),
            ("--key", self.key.display().to_string()),
            ("--passphrase-file", self.pass.display().to_string()),
            ("--genesis", self.genesis.clone()),
            ("--node", self.nodes.clone()),
        ] {
            v.push(k.into());
            v.push(val);
        }
        v
    }

    /// Runs the agent once over `log`; its JSON summary (`extra` should ask for `--json`).
    pub fn anchor(&self, log: &Path, store: &Path, extra: &[&str]) -> serde_json::Value {
        let args = self.agent_args(log, store, extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = run("credledger-issuer", &args);
        assert_eq!(o.code, 0, "anchor run: {}", o.stderr);
        serde_json::from_str(o.stdout.trim()).unwrap()
    }

    /// Runs `credledger-verifier audit ARGS` with the genesis (and, but for `verify`, the nodes).
    pub fn audit(&self, args: &[&str]) -> Output {
        let mut v = vec!["audit"];
        v.extend_from_slice(args);
        let needs_chain = args[0] != "verify";
        if needs_chain {
            v.extend(["--genesis", &self.genesis, "--node", &self.nodes]);
        } else {
            v.extend(["--genesis", &self.genesis]);
        }
        run("credledger-verifier", &v)
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Writes records `from..to` of the sample log (one JSON line each).
pub fn write_records(path: &Path, from: u64, to: u64, start: u64) {
    let mut f = std::io::BufWriter::new(
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap(),
    );
    for i in from..to {
        writeln!(f, "{}", sample_record(9, i, Timestamp(start)).to_line()).unwrap();
    }
}
