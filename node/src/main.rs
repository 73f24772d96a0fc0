//! `credledger-node`: the ledger node. This first version computes what a node starts from.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use credledger_core::genesis::Genesis;

/// The credledger ledger node.
#[derive(Parser, Debug)]
#[command(name = "credledger-node", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print the state a node starts from: the genesis hash, the initial state root and the
    /// validator set hash that block 1 must name.
    ///
    /// Example: credledger-node genesis-state --genesis devnet/genesis.json
    GenesisState {
        /// The genesis file.
        #[arg(long, value_name = "FILE")]
        genesis: PathBuf,
    },
}

fn main() -> Result<()> {
    let Command::GenesisState { genesis } = Cli::parse().command;
    let bytes =
        std::fs::read(&genesis).with_context(|| format!("cannot read {}", genesis.display()))?;
    let g = Genesis::from_json(&bytes)?;
    let problems = g.problems();
    if !problems.is_empty() {
        anyhow::bail!("genesis has problems: {}", problems.join("; "));
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
