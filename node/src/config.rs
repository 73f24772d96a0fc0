//! The node's configuration file (`node.toml`), checked once at start: every broken rule is
//! named, all at once, before anything runs (spec/operations.md §2).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use credledger_core::genesis::Genesis;
use credledger_core::sig::{Keypair, PublicKey};
use serde::{Deserialize, Serialize};

use crate::consensus::addr::P2pAddr;
use crate::consensus::pacing::Pacing;
use crate::mempool::MempoolLimits;

/// Largest configuration file read.
const MAX_CONFIG_BYTES: usize = 64 * 1024;

/// `node.toml`. Paths are relative to the file's folder.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// A name for logs and peers.
    pub moniker: String,
    /// The genesis file.
    pub genesis: PathBuf,
    /// The database and consensus log folder.
    pub data_dir: PathBuf,
    /// The node key file (for a validator, its consensus key).
    pub key_file: PathBuf,
    /// Whether this node votes; its key must then be in the validator set.
    pub validator: bool,
    /// Peer-to-peer settings.
    pub p2p: P2p,
    /// HTTP API settings.
    pub api: Api,
    /// Where admitted transactions are passed on.
    #[serde(default)]
    pub relay: Relay,
    /// Block timing.
    #[serde(default)]
    pub consensus: Consensus,
    /// Mempool bounds.
    #[serde(default)]
    pub mempool: Mempool,
}

/// Peer-to-peer settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct P2p {
    /// Listen address, e.g. `/ip4/0.0.0.0/tcp/27000`.
    pub listen: String,
    /// The only peers this node talks to: `<public key hex>@<multiaddr>`.
    pub peers: Vec<String>,
}

/// HTTP API settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Api {
    /// Listen address, e.g. `127.0.0.1:8100`.
    pub listen: String,
    /// A connection that has not sent a whole request head this long (ms) after it opened, or
    /// after its last answer, is closed.
    #[serde(default = "Api::default_header_timeout_ms")]
    pub header_timeout_ms: u64,
    /// Open connections from one address at most; more are closed at once.
    #[serde(default = "Api::default_max_connections_per_ip")]
    pub max_connections_per_ip: usize,
    /// Open connections in all at most; more are closed at once.
    #[serde(default = "Api::default_max_connections")]
    pub max_connections: usize,
}

impl Api {
    /// An API on `listen` with the default connection limits.
    pub fn on(listen: String) -> Api {
        Api {
            listen,
            header_timeout_ms: Api::default_header_timeout_ms(),
            max_connections_per_ip: Api::default_max_connections_per_ip(),
            max_connections: Api::default_max_connections(),
        }
    }

    fn default_header_timeout_ms() -> u64 {
        10_000
    }

    // Verifiers, relaying validators and an issuer's batches each keep a few connections; a
    // load generator or a busy verifier on one address some dozens.
    fn default_max_connections_per_ip() -> usize {
        256
    }

    fn default_max_connections() -> usize {
        4_096
    }
}

/// Transaction relay: the other nodes' API base URLs.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Relay {
    /// e.g. `http://10.0.0.2:8100`.
    pub peers: Vec<String>,
}

/// Block timing.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Consensus {
    /// Least time between blocks while no transaction is ready in the proposer's mempool, in
    /// ms (0: as fast as consensus goes, always). The proposer proposes as soon as a
    /// transaction becomes ready.
    pub block_interval_ms: u64,
    /// Least time from the start of a height to its block while the chain is busy (at least
    /// `busy_txs` transactions in the proposer's mempool), in ms; 0: none, blocks follow as
    /// fast as consensus goes. Fewer, larger blocks under load spend less of the validators'
    /// CPU on each block's fixed cost (consensus/pacing.rs).
    pub busy_interval_ms: u64,
    /// Transactions in the proposer's mempool from which the chain counts as busy; below
    /// that, a ready transaction is proposed at once.
    pub busy_txs: usize,
    /// Propose timeout of round 0, in ms.
    pub timeout_propose_ms: u64,
    /// Prevote and precommit timeouts, in ms.
    pub timeout_vote_ms: u64,
}

impl Default for Consensus {
    fn default() -> Self {
        Consensus {
            block_interval_ms: 250,
            busy_interval_ms: 50,
            busy_txs: 150,
            timeout_propose_ms: 2_000,
            timeout_vote_ms: 1_000,
        }
    }
}

/// Mempool bounds.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Mempool {
    /// Transactions held at most.
    pub max_txs: usize,
    /// Encoded bytes held at most.
    pub max_bytes: usize,
    /// How long (ms) a transaction may wait behind a missing nonce of its signer before it is
    /// dropped.
    pub max_gap_wait_ms: u64,
}

impl Default for Mempool {
    fn default() -> Self {
        let d = MempoolLimits::default();
        Mempool {
            max_txs: d.max_txs,
            max_bytes: d.max_bytes,
            max_gap_wait_ms: d.max_gap_wait_ms,
        }
    }
}

/// A node key file: the JSON the genesis tool writes (`public_key`, `secret_seed` in hex).
#[derive(Deserialize)]
struct KeyFile {
    public_key: String,
    secret_seed: String,
}

/// The configuration after every check: what the node runs with.
#[derive(Clone, Debug)]
pub struct Checked {
    /// The file as written.
    pub file: NodeConfig,
    /// The genesis.
    pub genesis: Genesis,
    /// The node key.
    pub seed: [u8; 32],
    /// Its public key.
    pub public_key: PublicKey,
    /// Database folder.
    pub data_dir: PathBuf,
    /// P2p listen address.
    pub listen: P2pAddr,
    /// Peers with their `/p2p/` ids.
    pub peers: Vec<P2pAddr>,
    /// API listen address.
    pub api: SocketAddr,
    /// The API's deadline for a request head (`api.header_timeout_ms`).
    pub api_header_timeout: Duration,
    /// Timing.
    pub pacing: Pacing,
    /// Mempool bounds.
    pub mempool: MempoolLimits,
}

/// The configuration could not be used; each line names one broken rule.
#[derive(Debug, thiserror::Error)]
#[error("{} in {}:\n  - {}", if .problems.len() == 1 { "1 problem".to_string() } else { format!("{} problems", .problems.len()) }, .path.display(), .problems.join("\n  - "))]
pub struct ConfigError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong, one rule per line.
    pub problems: Vec<String>,
}

/// Reads a key file's seed and checks it against its public key.
pub fn read_key(path: &Path) -> Result<([u8; 32], PublicKey), String> {
    let bytes = read_bounded(path, MAX_CONFIG_BYTES)?;
    let k: KeyFile =
        serde_json::from_slice(&bytes).map_err(|e| format!("key file {}: {e}", path.display()))?;
    let seed: [u8; 32] = hex::decode(k.secret_seed.trim())
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| {
            format!(
                "key file {}: secret_seed is not 64 hex digits",
                path.display()
            )
        })?;
    let public = Keypair::from_seed(&seed).public();
    if public.to_string() != k.public_key.trim() {
        return Err(format!(
            "key file {}: public_key does not match secret_seed",
            path.display()
        ));
    }
    Ok((seed, public))
}

/// Reads a file of at most `max` bytes (a genesis file: `core::genesis::MAX_GENESIS_BYTES`). It reads through a limit rather than trusting the
/// file's reported length, which a pipe or device gives as 0.
pub fn read_bounded(path: &Path, max: usize) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(max as u64 + 1).read_to_end(&mut bytes))
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if bytes.len() > max {
        return Err(format!(
            "{} is larger than {max} bytes, more than a file of its kind holds",
            path.display()
        ));
    }
    Ok(bytes)
}

fn ms(what: &str, v: u64, min: u64, max: u64, problems: &mut Vec<String>) -> Duration {
    if !(min..=max).contains(&v) {
        problems.push(format!("{what} is {v}; it must be between {min} and {max}"));
    }
    Duration::from_millis(v)
}

impl NodeConfig {
    /// Reads and checks `path`; every problem found is reported together.
    pub fn load(path: &Path) -> Result<Checked, ConfigError> {
        let fail = |problems: Vec<String>| ConfigError {
            path: path.to_path_buf(),
            problems,
        };
        let bytes = read_bounded(path, MAX_CONFIG_BYTES).map_err(|p| fail(vec![p]))?;
        let text = String::from_utf8(bytes).map_err(|_| fail(vec!["not UTF-8".into()]))?;
        let file: NodeConfig = toml::from_str(&text).map_err(|e| fail(vec![e.to_string()]))?;
        let base = path.parent().unwrap_or(Path::new("."));
        file.check(base).map_err(fail)
    }

    /// Checks the parsed file; paths are resolved against `base`.
    pub fn check(self, base: &Path) -> Result<Checked, Vec<String>> {
        let mut problems = Vec::new();
        let resolve = |p: &Path| {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        };
        if self.moniker.trim().is_empty() || self.moniker.len() > 64 {
            problems.push("moniker must be 1 to 64 characters".into());
        }
        let genesis = match read_bounded(
            &resolve(&self.genesis),
            credledger_core::genesis::MAX_GENESIS_BYTES,
        ) {
            Ok(bytes) => match Genesis::from_json(&bytes) {
                Ok(g) if g.problems().is_empty() => Some(g),
                Ok(g) => {
                    problems.push(format!("genesis: {}", g.problems().join("; ")));
                    None
                }
                Err(e) => {
                    problems.push(format!("genesis {}: {e}", self.genesis.display()));
                    None
                }
            },
            Err(e) => {
                problems.push(e);
                None
            }
        };
        let key = match read_key(&resolve(&self.key_file)) {
            Ok(k) => Some(k),
            Err(e) => {
                problems.push(e);
                None
            }
        };
        // A validator's key need not be in genesis: the council may add it later. The engine
        // says so at start if the key is not in the set that signs next (engine.rs).
        let listen = match P2pAddr::listen(&self.p2p.listen) {
            Ok(a) => Some(a),
            Err(e) => {
                problems.push(format!("p2p.listen {e}"));
                None
            }
        };
        let mut peers = Vec::new();
        for p in &self.p2p.peers {
            match P2pAddr::peer(p) {
                Ok(a) => peers.push(a),
                Err(e) => problems.push(format!("p2p.peers: {e}")),
            }
        }
        let api = match self.api.listen.parse::<SocketAddr>() {
            Ok(a) => Some(a),
            Err(e) => {
                problems.push(format!("api.listen {:?}: {e}", self.api.listen));
                None
            }
        };
        for url in &self.relay.peers {
            if !url.starts_with("http://") && !url.starts_with("https://") {
                problems.push(format!(
                    "relay.peers: {url:?} must start with http:// or https://"
                ));
            }
        }
        let api_header_timeout = ms(
            "api.header_timeout_ms",
            self.api.header_timeout_ms,
            100,
            600_000,
            &mut problems,
        );
        if self.api.max_connections_per_ip == 0
            || self.api.max_connections < self.api.max_connections_per_ip
        {
            problems.push(format!(
                "api.max_connections_per_ip ({}) must be at least 1 and at most \
                 api.max_connections ({})",
                self.api.max_connections_per_ip, self.api.max_connections
            ));
        }
        let c = &self.consensus;
        let interval = ms(
            "consensus.block_interval_ms",
            c.block_interval_ms,
            0,
            60_000,
            &mut problems,
        );
        let busy = ms(
            "consensus.busy_interval_ms",
            c.busy_interval_ms,
            0,
            10_000,
            &mut problems,
        );
        if c.busy_txs == 0 {
            problems.push("consensus.busy_txs must be at least 1".into());
        }
        let propose = ms(
            "consensus.timeout_propose_ms",
            c.timeout_propose_ms,
            50,
            60_000,
            &mut problems,
        );
        let vote = ms(
            "consensus.timeout_vote_ms",
            c.timeout_vote_ms,
            50,
            60_000,
            &mut problems,
        );
        // pacing.rs: a proposer holds back its block for up to either interval, and the other
        // validators wait for it only until their propose timeout.
        for (name, v, who) in [
            ("block_interval_ms", c.block_interval_ms, "an idle"),
            ("busy_interval_ms", c.busy_interval_ms, "a busy"),
        ] {
            if v.saturating_mul(2) > c.timeout_propose_ms {
                problems.push(format!(
                    "consensus.{name} ({v}) must be at most half of \
                     consensus.timeout_propose_ms ({}): {who} proposer holds back its block that \
                     long, and the other validators wait for it only until the propose timeout",
                    c.timeout_propose_ms
                ));
            }
        }
        if self.mempool.max_txs == 0 || self.mempool.max_bytes < 64 * 1024 {
            problems.push(
                "mempool.max_txs must be at least 1 and mempool.max_bytes at least 65536".into(),
            );
        }
        if self.mempool.max_gap_wait_ms < 1_000 {
            problems.push(format!(
                "mempool.max_gap_wait_ms ({}) must be at least 1000: relayed transactions may \
                 arrive out of nonce order, and need time for the ones before them to come",
                self.mempool.max_gap_wait_ms
            ));
        }
        let (Some(genesis), Some((seed, public_key)), Some(listen), Some(api), true) =
            (genesis, key, listen, api, problems.is_empty())
        else {
            return Err(problems);
        };
        Ok(Checked {
            data_dir: resolve(&self.data_dir),
            mempool: MempoolLimits {
                max_txs: self.mempool.max_txs,
                max_bytes: self.mempool.max_bytes,
                max_gap_wait_ms: self.mempool.max_gap_wait_ms,
            },
            genesis,
            seed,
            public_key,
            listen,
            peers,
            api,
            api_header_timeout,
            pacing: Pacing::new(
                propose,
                vote,
                (!interval.is_zero()).then_some(interval),
                (!busy.is_zero()).then_some(busy),
                c.busy_txs,
            ),
            file: self,
        })
    }
}

#[cfg(test)]
mod tests;
