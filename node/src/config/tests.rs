use std::path::Path;

use credledger_core::devnet::{Devnet, DevnetParams};

use super::*;
use crate::consensus::engine::peer_id;

fn write_key(dir: &Path, name: &str, k: &Keypair) {
    let json = serde_json::json!({
        "public_key": k.public().to_string(),
        "secret_seed": hex::encode(k.seed()),
    });
    std::fs::write(dir.join(name), json.to_string()).unwrap();
}

fn setup() -> (tempfile::TempDir, Devnet) {
    let dir = tempfile::tempdir().unwrap();
    let d = Devnet::build(&[1; 32], &DevnetParams::default()).unwrap();
    std::fs::write(dir.path().join("genesis.json"), d.genesis.to_json()).unwrap();
    write_key(dir.path(), "v.json", &d.validator_keys[0].1);
    write_key(dir.path(), "outsider.json", &Keypair::from_seed(&[9; 32]));
    (dir, d)
}

fn good(d: &Devnet) -> String {
    let peer = d.validator_keys[1].1.public();
    format!(
        r#"moniker = "moj-1"
genesis = "genesis.json"
data_dir = "data"
key_file = "v.json"
validator = true
[p2p]
listen = "/ip4/127.0.0.1/tcp/27000"
peers = ["{peer}@/ip4/127.0.0.1/tcp/27001"]
[api]
listen = "127.0.0.1:8100"
[relay]
peers = ["http://127.0.0.1:8101"]
"#
    )
}

#[test]
fn a_good_config_loads_with_peer_ids_from_keys() {
    let (dir, d) = setup();
    let path = dir.path().join("node.toml");
    std::fs::write(&path, good(&d)).unwrap();
    let c = NodeConfig::load(&path).unwrap();
    assert_eq!(c.public_key, d.validator_keys[0].1.public());
    assert_eq!(c.data_dir, dir.path().join("data"));
    let peer = d.validator_keys[1].1.public();
    assert!(
        c.peers[0]
            .to_string()
            .ends_with(&format!("/p2p/{}", peer_id(&peer)))
    );
    assert_eq!(c.pacing.block_interval, Some(Duration::from_millis(250)));
    assert_eq!(c.pacing.busy_interval, Some(Duration::from_millis(50)));
    assert_eq!(c.pacing.busy_txs, 150);
}

#[test]
fn every_broken_rule_is_named_at_once() {
    let (dir, d) = setup();
    let path = dir.path().join("node.toml");
    let bad = good(&d)
        .replace("/ip4/127.0.0.1/tcp/27000", "/ip4/127.0.0.1/udp/27000")
        .replace(
            "127.0.0.1:8100\"",
            "localhost\"\nheader_timeout_ms = 0\nmax_connections_per_ip = 0",
        )
        .replace("http://127.0.0.1:8101", "ftp://x")
        .replace("@/ip4/127.0.0.1/tcp/27001", "@nowhere");
    let consensus = "[consensus]\ntimeout_vote_ms = 1\nblock_interval_ms = 1500\n\
                     busy_interval_ms = 1200\nbusy_txs = 0\n\
                     [mempool]\nmax_gap_wait_ms = 999\n";
    std::fs::write(&path, bad + consensus).unwrap();
    let e = NodeConfig::load(&path).unwrap_err();
    let text = e.to_string();
    for expected in [
        "p2p.listen",
        "p2p.peers",
        "api.listen",
        "relay.peers",
        "consensus.timeout_vote_ms is 1",
        "consensus.block_interval_ms (1500) must be at most half of consensus.timeout_propose_ms (2000)",
        "consensus.busy_interval_ms (1200) must be at most half of consensus.timeout_propose_ms (2000)",
        "consensus.busy_txs must be at least 1",
        "mempool.max_gap_wait_ms (999) must be at least 1000",
        "api.header_timeout_ms is 0",
        "api.max_connections_per_ip (0) must be at least 1",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
    assert_eq!(e.problems.len(), 11, "{text}");
}

#[test]
fn a_validator_the_council_adds_later_may_start_with_a_key_genesis_does_not_list() {
    let (dir, d) = setup();
    let path = dir.path().join("node.toml");
    std::fs::write(&path, good(&d).replace("v.json", "outsider.json")).unwrap();
    let c = NodeConfig::load(&path).unwrap();
    assert!(c.file.validator);
}

#[test]
fn unknown_keys_and_damaged_key_files_are_refused() {
    let (dir, d) = setup();
    let path = dir.path().join("node.toml");
    std::fs::write(&path, good(&d) + "colour = \"blue\"\n").unwrap();
    assert!(
        NodeConfig::load(&path)
            .unwrap_err()
            .to_string()
            .contains("colour")
    );

    std::fs::write(
        dir.path().join("v.json"),
        r#"{"public_key":"00","secret_seed":"zz"}"#,
    )
    .unwrap();
    std::fs::write(&path, good(&d)).unwrap();
    let text = NodeConfig::load(&path).unwrap_err().to_string();
    assert!(text.contains("secret_seed is not 64 hex digits"), "{text}");
}

/// A file is read through its limit, not trusted for its reported length: a named pipe (which
/// reports 0 bytes) longer than a config is refused like a long file, without reading it all.
#[test]
fn files_are_read_through_their_limit() {
    let dir = tempfile::tempdir().unwrap();
    let long = dir.path().join("long.toml");
    std::fs::write(&long, vec![b'#'; MAX_CONFIG_BYTES + 1]).unwrap();
    let e = read_bounded(&long, MAX_CONFIG_BYTES).unwrap_err();
    assert!(e.contains("larger than 65536 bytes"), "{e}");
    assert_eq!(
        read_bounded(&long, MAX_CONFIG_BYTES + 1).unwrap().len(),
        MAX_CONFIG_BYTES + 1
    );

    let fifo = dir.path().join("pipe.toml");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|s| s.success()) {
        return; // No mkfifo here: the long file above covers the limit.
    }
    let writer = {
        let fifo = fifo.clone();
        // Writes more than the limit; the reader stops at the limit and closes the pipe, so
        // this write ends with a broken pipe rather than blocking.
        std::thread::spawn(move || {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new().write(true).open(fifo).unwrap();
            let _ = f.write_all(&vec![b'#'; 4 * MAX_CONFIG_BYTES]);
        })
    };
    let e = read_bounded(&fifo, MAX_CONFIG_BYTES).unwrap_err();
    assert!(e.contains("larger than"), "{e}");
    writer.join().unwrap();
}

/// The deployment examples (scripts/deploy) have the file's shape: every key they write is one
/// the node reads, so they cannot drift from it unnoticed. (Their keys and addresses are
/// placeholders, refused by the rules.)
#[test]
fn the_deployment_examples_have_the_files_shape() {
    for name in ["node.example.toml", "observer.example.toml"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../scripts/deploy")
            .join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        let file: NodeConfig =
            toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(file.validator, name == "node.example.toml", "{name}");
        assert_eq!(file.p2p.peers.len(), if file.validator { 3 } else { 4 });
    }
}
