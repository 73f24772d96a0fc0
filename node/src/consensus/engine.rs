//! Starting Malachite for one node: its network identity (derived from the node key, so every
//! validator's peer id follows from its genesis key), a permissioned peer list, the engine's
//! configuration, and the application task.

use std::path::PathBuf;
use std::sync::Arc;

use arc_malachitebft_app_channel::app::config::{ConsensusConfig, NodeConfig, ValueSyncConfig};
use arc_malachitebft_app_channel::app::net::{Multiaddr, PeerId};
use arc_malachitebft_app_channel::app::types::Keypair;
use arc_malachitebft_app_channel::app::types::codec::Codec;
use arc_malachitebft_app_channel::{
    ConsensusContext, EngineHandle, NetworkContext, NetworkIdentity, NetworkRequest,
    RequestContext, Signer, SyncContext, WalContext, start_engine,
};
use credledger_core::ids::ChainId;
use credledger_core::sig::PublicKey;

use super::addr::P2pAddr;
use super::app::{App, Progress};
use super::chain::{Chain, ChainError};
use super::codec::{MAX_RESPONSE, WireCodec};
use super::context::Ctx;
use super::pacing::Pacing;
use super::peers::PeerGate;
use super::signing::ConsensusSigner;

/// What a validator whose key is not in the set is told, at start and while no peer admits it.
const NOT_IN_SET: &str = "this validator's key is not in the validator set: the validators refuse its connections until the council adds the key (an add_validator proposal); then it syncs and votes";

/// Why the engine did not start.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The node key is not a usable Ed25519 key.
    #[error("node key: {0}")]
    Key(String),
    /// Malachite refused to start.
    #[error("consensus engine: {0}")]
    Start(String),
    /// The ledger could not say which validators sign next.
    #[error("validator set: {0}")]
    Chain(#[from] ChainError),
    /// The p2p listen address cannot be bound (taken, or not an address of this host).
    #[error("cannot listen on {addr} for p2p: {reason}")]
    Listen {
        /// The configured `p2p.listen`.
        addr: Multiaddr,
        /// What the operating system said.
        reason: String,
    },
}

/// What the engine needs to know about this node.
#[derive(Clone, Debug)]
pub struct EngineSettings {
    /// A name for logs.
    pub moniker: String,
    /// The chain.
    pub chain_id: ChainId,
    /// The consensus log's file.
    pub wal_file: PathBuf,
    /// Where to listen for peers (`/ip4/…/tcp/…`).
    pub listen: P2pAddr,
    /// The configured peers, each with its `/p2p/` id: validators (admitted while in the set)
    /// and observers (see peers.rs).
    pub peers: Vec<P2pAddr>,
    /// The node key's seed; for a validator, its consensus key.
    pub seed: [u8; 32],
    /// Whether this node votes (its key must be in the validator set).
    pub validator: bool,
    /// Timeouts and block interval.
    pub pacing: Pacing,
}

/// The libp2p peer id of the node whose key is `key`: the identity multihash of the key's
/// protobuf form (libp2p peer-ids spec: keys of at most 42 bytes are inlined).
pub fn peer_id(key: &PublicKey) -> PeerId {
    let mut bytes = Vec::with_capacity(38);
    // multihash: identity (0x00), 36 bytes; protobuf: field 1 KeyType = Ed25519 (1),
    // field 2 Data = 32 bytes.
    bytes.extend_from_slice(&[0x00, 0x24, 0x08, 0x01, 0x12, 0x20]);
    bytes.extend_from_slice(&key.0);
    // The prefix above is a valid identity multihash for every 32-byte key.
    PeerId::from_bytes(&bytes).unwrap_or_else(|_| PeerId::random())
}

#[derive(Clone, Debug)]
struct Config {
    moniker: String,
    consensus: ConsensusConfig,
    value_sync: ValueSyncConfig,
}

impl NodeConfig for Config {
    fn moniker(&self) -> &str {
        &self.moniker
    }

    fn consensus(&self) -> &ConsensusConfig {
        &self.consensus
    }

    fn consensus_mut(&mut self) -> &mut ConsensusConfig {
        &mut self.consensus
    }

    fn value_sync(&self) -> &ValueSyncConfig {
        &self.value_sync
    }

    fn value_sync_mut(&mut self) -> &mut ValueSyncConfig {
        &mut self.value_sync
    }
}

fn config(s: &EngineSettings, peers: Vec<Multiaddr>) -> Config {
    let mut consensus = ConsensusConfig::default();
    let p2p = &mut consensus.p2p;
    p2p.listen_addr = s.listen.0.clone();
    p2p.persistent_peers = peers;
    // Permissioning: only the persistent peers (each pinned by its /p2p/ id) may connect, and
    // no peer is discovered. Which peers those are follows the validator set (peers.rs).
    p2p.persistent_peers_only = true;
    p2p.discovery.enabled = false;
    // Nodes of different chains refuse each other at the handshake.
    let chain = s.chain_id.as_str();
    p2p.protocol_names.consensus = format!("/credledger/{chain}/consensus/1");
    p2p.protocol_names.sync = format!("/credledger/{chain}/sync/1");
    p2p.protocol_names.validator_proof = format!("/credledger/{chain}/validator-proof/1");
    p2p.protocol_names.discovery_kad = format!("/credledger/{chain}/kad/1");
    p2p.protocol_names.discovery_regres = format!("/credledger/{chain}/discovery/1");
    p2p.rpc_max_size.0 = MAX_RESPONSE as u64;
    let mut value_sync = ValueSyncConfig::default();
    value_sync.max_response_size.0 = MAX_RESPONSE as u64;
    value_sync.batch_size = 16;
    value_sync.status_update_interval = std::time::Duration::from_secs(2);
    value_sync.request_timeout = std::time::Duration::from_secs(5);
    Config {
        moniker: s.moniker.clone(),
        consensus,
        value_sync,
    }
}

/// A running engine and its application task.
pub struct Running {
    /// The engine's actors.
    pub engine: EngineHandle,
    /// The application task; it ends with an error the node cannot go on from.
    pub app: tokio::task::JoinHandle<Result<(), ChainError>>,
    /// Ends when Malachite's network layer has stopped by itself. The engine runs on without
    /// it, so a node whose network is gone must stop rather than look alive.
    pub network: tokio::task::JoinHandle<()>,
    /// Height and round, for metrics.
    pub progress: Arc<Progress>,
}

/// Starts the engine and the application over `chain`.
pub async fn start<C: Chain>(s: EngineSettings, chain: Arc<C>) -> Result<Running, EngineError> {
    let signer = ConsensusSigner::new(s.chain_id.clone(), s.seed);
    let me = signer.address();
    let keypair =
        Keypair::ed25519_from_bytes(s.seed).map_err(|e| EngineError::Key(e.to_string()))?;
    let my_peer_id = keypair.public().to_peer_id();
    let identity = if s.validator {
        let proof = signer
            .sign_validator_proof(me.0.0.to_vec(), keypair.public().to_peer_id().to_bytes())
            .await
            .map_err(|e| EngineError::Key(e.to_string()))?;
        let proof = WireCodec
            .encode(&proof)
            .map_err(|e| EngineError::Key(e.to_string()))?;
        NetworkIdentity::new_validator(s.moniker.clone(), keypair, me.to_string(), proof)
    } else {
        NetworkIdentity::new(s.moniker.clone(), keypair, None)
    };
    let verifier = Box::new(ConsensusSigner::new(s.chain_id.clone(), s.seed));
    let consensus = if s.validator {
        ConsensusContext::new_validator(me, verifier, Box::new(signer))
    } else {
        ConsensusContext::new_full_node(me, verifier)
    };
    let ctx = Ctx {
        chain_id: s.chain_id.clone(),
    };
    check_listen(&s.listen.0)?;
    let next = chain.last_height()?.0 + 1;
    let set = chain.validator_set(credledger_core::ids::Height(next))?;
    let configured: Vec<Multiaddr> = s.peers.iter().map(|p| p.0.clone()).collect();
    let peers = PeerGate::new(my_peer_id, &configured, &set, &chain.validator_sets()?);
    let unadmitted = s.validator
        && !set
            .validators()
            .iter()
            .any(|v| peer_id(&v.public_key) == my_peer_id);
    if unadmitted {
        tracing::warn!(height = next, "{NOT_IN_SET}");
    }
    let (mut channels, engine) = start_engine(
        ctx,
        config(&s, peers.initial()),
        WalContext::new(s.wal_file.clone(), WireCodec),
        NetworkContext::new(identity, WireCodec),
        consensus,
        SyncContext::new(WireCodec),
        RequestContext::new(100),
    )
    .await
    .map_err(|e| EngineError::Start(format!("{e:#}")))?;
    let progress = Arc::new(Progress::default());
    // The peer count for metrics, from the network's own state. The network actor answers
    // `None` only once its libp2p task has ended (a listen or subscription failure at start,
    // which Malachite logs and then returns from), so `None` ends this task.
    let (net, watched) = (channels.net_requests.clone(), progress.clone());
    let network = tokio::spawn(async move {
        let ask = || {
            let net = net.clone();
            async move {
                match NetworkRequest::dump_state(&net).await {
                    Ok(Some(dump)) => NetState::Peers(dump.peers.len()),
                    Ok(None) => NetState::Stopped,
                    Err(_) if net.is_closed() => NetState::Stopped,
                    Err(_) => NetState::NoAnswer,
                }
            }
        };
        let every = std::time::Duration::from_secs(5);
        let hint_every = std::time::Duration::from_secs(30);
        watch_network(ask, &watched.peers, unadmitted, (every, hint_every)).await;
    });
    let app = App::new(
        chain,
        s.validator.then_some(me),
        s.pacing,
        progress.clone(),
        peers,
    );
    let app = tokio::spawn(async move { app.run(&mut channels).await });
    Ok(Running {
        engine,
        app,
        network,
        progress,
    })
}

/// What Malachite's network actor told the watcher when asked for its state.
#[derive(Clone, Copy, Debug)]
pub(super) enum NetState {
    /// It runs, with this many peers connected.
    Peers(usize),
    /// Its libp2p task has ended (it answers `None`), or the actor is gone.
    Stopped,
    /// No answer this time (it was busy).
    NoAnswer,
}

/// Watches the network every `times.0`: keeps the peer count for metrics and returns once the
/// network has stopped. A validator the set does not hold yet sees only its connections
/// closed by the others (libp2p logs each one without a reason); while no peer admits it,
/// this says why every `times.1`. Once the council adds its key, the validators admit it and
/// the hint stops; a later time without peers (a network cut) has another cause.
pub(super) async fn watch_network<F, Fut>(
    mut ask: F,
    peers: &std::sync::atomic::AtomicU64,
    mut unadmitted: bool,
    times: (std::time::Duration, std::time::Duration),
) where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = NetState>,
{
    let mut said = std::time::Instant::now();
    loop {
        match ask().await {
            NetState::Peers(n) => {
                peers.store(n as u64, std::sync::atomic::Ordering::Relaxed);
                unadmitted &= n == 0;
                if unadmitted && said.elapsed() >= times.1 {
                    tracing::warn!("no peer admits this node yet: {NOT_IN_SET}");
                    said = std::time::Instant::now();
                }
            }
            NetState::Stopped => return,
            NetState::NoAnswer => {}
        }
        tokio::time::sleep(times.0).await;
    }
}

/// Binds the p2p listen address once and lets it go, so that a taken port or a foreign address
/// stops the node at start with the address named. Malachite's network task only logs a failed
/// listen and ends, leaving a node that answers its API but takes no part in consensus. Rust's
/// listener sets `SO_REUSEADDR` as libp2p's does, so connections of a previous run still in
/// TIME_WAIT do not fail this check where libp2p would bind.
pub(super) fn check_listen(addr: &Multiaddr) -> Result<(), EngineError> {
    // The configuration only accepts /ip4/…/tcp/… (config.rs), which is all this reads.
    let text = addr.to_string();
    let parts: Vec<&str> = text.split('/').collect();
    let after = |name: &str| parts.windows(2).find(|w| w[0] == name).map(|w| w[1]);
    let ip = after("ip4");
    let port = after("tcp");
    let (Some(Ok(ip)), Some(Ok(port))) = (
        ip.map(str::parse::<std::net::IpAddr>),
        port.map(str::parse::<u16>),
    ) else {
        return Ok(());
    };
    std::net::TcpListener::bind((ip, port))
        .map(drop)
        .map_err(|e| EngineError::Listen {
            addr: addr.clone(),
            reason: e.to_string(),
        })
}
