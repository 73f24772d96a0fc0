//! Command-line arguments of `credledger-node`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use credledger_core::sig::PublicKey;

/// The credledger ledger node: a validator or an observer of one chain.
#[derive(Parser, Debug)]
#[command(name = "credledger-node", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log format (logs go to stderr; set RUST_LOG to filter, e.g. RUST_LOG=debug).
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub log_format: LogFormat,
}

/// How logs are written.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LogFormat {
    /// One readable line per event.
    Text,
    /// One JSON object per event, for log collectors.
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Write a node's configuration file (and a node key for an observer).
    ///
    /// Example (validator):
    ///   credledger-node init --home /var/lib/credledger --genesis genesis.json
    ///     --key-file keys/validator-moj-node.json --p2p-listen /ip4/0.0.0.0/tcp/27000
    ///     --peer <public key>@/ip4/10.0.0.2/tcp/27000 --relay http://10.0.0.2:8100
    Init(InitArgs),
    /// Run the node with a configuration file until SIGINT or SIGTERM.
    ///
    /// Example: credledger-node start --config /var/lib/credledger/node.toml
    Start {
        /// The configuration file written by `init`.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Print the state a node starts from: the genesis hash, the initial state root and the
    /// validator set hash that block 1 must name.
    ///
    /// Example: credledger-node genesis-state --genesis devnet/genesis.json
    GenesisState {
        /// The genesis file.
        #[arg(long, value_name = "FILE")]
        genesis: PathBuf,
    },
    /// Print the libp2p peer id of the node with this public key.
    ///
    /// Example: credledger-node peer-id 5f1c…e2
    PeerId {
        /// The node's public key (hex).
        public_key: PublicKey,
    },
}

/// Arguments of `init`.
#[derive(Args, Debug)]
pub struct InitArgs {
    /// The node's folder: `node.toml` goes here, the database under `data/`.
    #[arg(long, value_name = "DIR")]
    pub home: PathBuf,
    /// The chain's genesis file.
    #[arg(long, value_name = "FILE")]
    pub genesis: PathBuf,
    /// The node key (a validator's consensus key file); a new key is made if left out.
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    /// Follow the chain without voting even if the key is a validator's.
    #[arg(long)]
    pub observer: bool,
    /// Vote whenever this key is in the validator set, although genesis does not list it: a
    /// validator the council adds later (an `add_validator` governance proposal). Until
    /// then the other validators refuse its connections, so it stays at height 0; once the
    /// change is committed they admit it, and it syncs the chain and votes. Configure it with
    /// their addresses (`--peer`).
    #[arg(long, conflicts_with = "observer")]
    pub validator: bool,
    /// A name for logs (default: the validator's name in genesis).
    #[arg(long)]
    pub moniker: Option<String>,
    /// Where to listen for peers.
    #[arg(long, default_value = "/ip4/0.0.0.0/tcp/27000")]
    pub p2p_listen: String,
    /// Where the HTTP API listens.
    #[arg(long, default_value = "127.0.0.1:8100")]
    pub api_listen: String,
    /// A peer, as `<public key hex>@<multiaddr>`; repeat for each.
    #[arg(long = "peer", value_name = "KEY@ADDR")]
    pub peers: Vec<String>,
    /// Another node's API URL to relay transactions to; repeat for each.
    #[arg(long, value_name = "URL")]
    pub relay: Vec<String>,
    /// Least time between blocks while no transaction waits, in ms (a ready transaction is
    /// proposed at once, unless the chain is busy: see `--busy-interval-ms`). The propose
    /// timeout written is at least twice this.
    #[arg(long, default_value_t = 250)]
    pub block_interval_ms: u64,
    /// Least time from the start of a height to its block while the chain is busy, in ms (0:
    /// none): fewer, larger blocks under load.
    #[arg(long, default_value_t = 50)]
    pub busy_interval_ms: u64,
    /// Transactions waiting in the proposer's mempool from which the chain counts as busy.
    #[arg(long, default_value_t = 150)]
    pub busy_txs: usize,
    /// Replace an existing node.toml.
    #[arg(long)]
    pub force: bool,
}
