//! `credledger-node`: a ledger node (validator or observer) of a credledger chain.

mod cli;

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use clap::Parser;
use credledger_core::genesis::Genesis;
use credledger_core::ids::Timestamp;
use credledger_node::api;
use credledger_node::config::NodeConfig;
use credledger_node::consensus::engine::{self, EngineSettings};
use credledger_node::relay;
use credledger_node::service::{Ledger, Node};

use cli::{Cli, Command, InitArgs, LogFormat};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logs(cli.log_format);
    let result = match cli.command {
        Command::Init(args) => init(&args),
        Command::Start { config } => start(&config),
        Command::GenesisState { genesis } => genesis_state(&genesis),
        Command::PeerId { public_key } => {
            println!("{}", engine::peer_id(&public_key));
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logs(format: LogFormat) {
    // The engine narrates every vote at info; operators need our commits and its warnings.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(
            "info,arc_malachitebft_core_consensus=warn,arc_malachitebft_engine=warn,\
             arc_malachitebft_sync=warn,arc_malachitebft_network=warn,\
             arc_malachitebft_discovery=error,libp2p=warn,ractor=warn",
        )
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

fn clock() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    Timestamp(ms)
}

fn init(a: &InitArgs) -> Result<()> {
    std::fs::create_dir_all(&a.home)
        .with_context(|| format!("cannot create {}", a.home.display()))?;
    let config_path = a.home.join("node.toml");
    if config_path.exists() && !a.force {
        bail!(
            "{} exists; pass --force to replace it",
            config_path.display()
        );
    }
    let genesis = std::fs::canonicalize(&a.genesis)
        .with_context(|| format!("cannot find genesis {}", a.genesis.display()))?;
    let key_file = match &a.key_file {
        Some(k) => {
            std::fs::canonicalize(k).with_context(|| format!("cannot find key {}", k.display()))?
        }
        None => {
            let path = a.home.join("node-key.json");
            if !path.exists() {
                write_new_key(&path)?;
            }
            std::fs::canonicalize(&path)?
        }
    };
    let (_, public) = credledger_node::config::read_key(&key_file).map_err(anyhow::Error::msg)?;
    let g = Genesis::from_json(&read_genesis(&genesis)?)?;
    let validator =
        (g.validators.iter().any(|v| v.public_key == public) || a.validator) && !a.observer;
    let file = NodeConfig {
        moniker: a.moniker.clone().unwrap_or_else(|| {
            g.validators
                .iter()
                .find(|v| v.public_key == public)
                .map_or_else(|| "observer".to_string(), |v| v.name.to_string())
        }),
        genesis,
        data_dir: "data".into(),
        key_file,
        validator,
        p2p: credledger_node::config::P2p {
            listen: a.p2p_listen.clone(),
            peers: a.peers.clone(),
        },
        api: credledger_node::config::Api::on(a.api_listen.clone()),
        relay: credledger_node::config::Relay {
            peers: a.relay.clone(),
        },
        consensus: {
            let d = credledger_node::config::Consensus::default();
            credledger_node::config::Consensus {
                block_interval_ms: a.block_interval_ms,
                busy_interval_ms: a.busy_interval_ms,
                busy_txs: a.busy_txs,
                // The propose timeout must cover a held proposer's wait (config.rs).
                timeout_propose_ms: d.timeout_propose_ms.max(
                    a.block_interval_ms
                        .max(a.busy_interval_ms)
                        .saturating_mul(2),
                ),
                ..d
            }
        },
        mempool: Default::default(),
    };
    std::fs::write(&config_path, toml::to_string_pretty(&file)?)
        .with_context(|| format!("cannot write {}", config_path.display()))?;
    let checked = NodeConfig::load(&config_path)?;
    println!(
        "wrote {} ({} {}, key {}, peer id {})",
        config_path.display(),
        if checked.file.validator {
            "validator"
        } else {
            "observer"
        },
        checked.file.moniker,
        checked.public_key,
        engine::peer_id(&checked.public_key),
    );
    Ok(())
}

fn write_new_key(path: &Path) -> Result<()> {
    use std::io::Write;
    let seed: [u8; 32] = rand::random();
    let key = credledger_core::sig::Keypair::from_seed(&seed);
    let json = serde_json::json!({
        "role": "node",
        "public_key": key.public().to_string(),
        "secret_seed": hex::encode(seed),
    });
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(format!("{json:#}\n").as_bytes())?;
    Ok(())
}

fn start(config: &Path) -> Result<()> {
    let c = NodeConfig::load(config)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(run(c))
}

async fn run(c: credledger_node::config::Checked) -> Result<()> {
    std::fs::create_dir_all(&c.data_dir)
        .with_context(|| format!("cannot create {}", c.data_dir.display()))?;
    let ledger = Ledger::open(&c.data_dir.join("db"), c.genesis.clone())
        .with_context(|| format!("cannot open the database in {}", c.data_dir.display()))?;
    let node = Arc::new(Node::new(ledger, c.mempool, Box::new(clock)));
    if !c.file.relay.peers.is_empty() {
        node.relay_to(relay::start(c.file.relay.peers.clone()));
    }

    let listener = tokio::net::TcpListener::bind(c.api)
        .await
        .with_context(|| format!("cannot listen on {} for the API", c.api))?;
    let (stop_api, api_stopped) = tokio::sync::oneshot::channel::<()>();
    let app = api::router(node.clone());
    let conns = api::ConnLimits {
        header_timeout: c.api_header_timeout,
        per_address: c.file.api.max_connections_per_ip,
        total: c.file.api.max_connections,
    };
    let api_task = tokio::spawn(api::serve(listener, app, conns, async {
        let _ = api_stopped.await;
    }));

    let running = engine::start(
        EngineSettings {
            moniker: c.file.moniker.clone(),
            chain_id: c.genesis.chain_id.clone(),
            wal_file: c.data_dir.join("wal").join("consensus.wal"),
            listen: c.listen.clone(),
            peers: c.peers.clone(),
            seed: c.seed,
            validator: c.file.validator,
            pacing: c.pacing,
        },
        node.clone(),
    )
    .await?;
    node.watch_progress(running.progress.clone());
    tracing::info!(
        moniker = %c.file.moniker,
        validator = c.file.validator,
        api = %c.api,
        p2p = %c.listen,
        peers = c.peers.len(),
        "node started"
    );

    let mut app_task = running.app;
    let mut network_task = running.network;
    let outcome = tokio::select! {
        // The application first: when the engine fails, the network watcher ends too, and the
        // engine's failure is the one to report.
        biased;
        r = &mut app_task => match r {
            Ok(Ok(())) => Err(anyhow::anyhow!("the consensus engine stopped")),
            Ok(Err(e)) => Err(anyhow::anyhow!("consensus cannot go on: {e}")),
            Err(e) => Err(anyhow::anyhow!("consensus task failed: {e}")),
        },
        _ = &mut network_task => Err(anyhow::anyhow!(
            "the p2p network on {} stopped (its reason is logged above)",
            c.listen
        )),
        s = shutdown_signal() => {
            tracing::info!(signal = s, "shutting down");
            Ok(())
        }
    };
    app_task.abort();
    network_task.abort();
    running.engine.actor.stop(None);
    // Header streams never end by themselves; the API's clean stop would wait for them.
    node.end_streams();
    let _ = stop_api.send(());
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), api_task).await;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), running.engine.handle).await;
    outcome
}

async fn shutdown_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            let _ = tokio::signal::ctrl_c().await;
            return "SIGINT";
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => "SIGINT",
            _ = term.recv() => "SIGTERM",
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}

fn read_genesis(path: &Path) -> Result<Vec<u8>> {
    credledger_node::config::read_bounded(path, credledger_core::genesis::MAX_GENESIS_BYTES)
        .map_err(anyhow::Error::msg)
}

fn genesis_state(genesis: &Path) -> Result<()> {
    let g = Genesis::from_json(&read_genesis(genesis)?)?;
    let problems = g.problems();
    if !problems.is_empty() {
        bail!("genesis has problems: {}", problems.join("; "));
    }
    let (root, store) = g.initial_state()?;
    let set = credledger_core::block::ValidatorSet::new(g.validators.to_vec())?;
    println!("chain id:            {}", g.chain_id);
    println!("genesis hash:        {}", g.hash());
    println!("initial state root:  {root}");
    println!("state entries:       {}", g.state_entries().len());
    println!("state nodes:         {}", store.len());
    println!("validator set hash:  {}", set.hash());
    Ok(())
}
