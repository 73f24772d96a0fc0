//! `credledger-genesis`: makes a devnet genesis with its keys, checks a genesis file and prints
//! its hash.

mod keyfile;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use credledger_core::devnet::{Devnet, DevnetParams, master_from_text};
use credledger_core::genesis::Genesis;
use credledger_core::ids::Timestamp;

/// Make, check and hash credledger genesis documents.
#[derive(Parser, Debug)]
#[command(name = "credledger-genesis", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Write a devnet genesis and every key behind it.
    ///
    /// Writes DIR/genesis.json and one key file per validator, council member, issuer key and
    /// T-Road log source under DIR/keys/ (mode 0600). Devnet key files hold plain secret seeds:
    /// they are for test networks only.
    ///
    /// Example: credledger-genesis init --out ./devnet --validators 4 --seed demo
    Init {
        /// Folder to write into (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Chain id: a-z, 0-9, '.', '_' and '-'.
        #[arg(long, default_value = "credledger-devnet")]
        chain_id: String,
        /// Number of validators, 4 to 10 (one per ministry).
        #[arg(long, default_value_t = 4)]
        validators: usize,
        /// Number of governance council keys.
        #[arg(long, default_value_t = 3)]
        council: usize,
        /// Council approvals a governance action needs.
        #[arg(long, default_value_t = 2)]
        threshold: u8,
        /// Derive every key from this text instead of the system's random source, so the
        /// same seed always gives the same genesis (tests, demos).
        #[arg(long)]
        seed: Option<String>,
        /// Genesis time in milliseconds since 1970 (default: now, or 2026-01-01 with --seed).
        #[arg(long, value_name = "MS")]
        genesis_time_ms: Option<u64>,
        /// Replace an existing genesis in DIR.
        #[arg(long)]
        force: bool,
    },
    /// Check a genesis file and name every problem; exits 1 if there is any.
    ///
    /// Example: credledger-genesis check ./devnet/genesis.json
    Check {
        /// The genesis file (JSON).
        file: PathBuf,
    },
    /// Print the genesis hash: the chain's fingerprint, which every block 1 links to.
    ///
    /// Example: credledger-genesis hash ./devnet/genesis.json
    Hash {
        /// The genesis file (JSON).
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Init {
            out,
            chain_id,
            validators,
            council,
            threshold,
            seed,
            genesis_time_ms,
            force,
        } => {
            let (master, default_time) = match &seed {
                Some(s) => (master_from_text(s), DevnetParams::default().genesis_time),
                None => (rand::random::<[u8; 32]>(), Timestamp(now_ms()?)),
            };
            let params = DevnetParams {
                chain_id,
                validators,
                governance_keys: council,
                governance_threshold: threshold,
                genesis_time: genesis_time_ms.map(Timestamp).unwrap_or(default_time),
            };
            let devnet = Devnet::build(&master, &params)?;
            write_devnet(&out, &devnet, force)?;
            println!("wrote {}", out.join("genesis.json").display());
            println!("chain id:     {}", devnet.genesis.chain_id);
            println!("genesis hash: {}", devnet.genesis.hash());
            println!("validators:   {}", devnet.genesis.validators.len());
            println!("keys:         {}", out.join("keys").display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { file } => {
            let genesis = read(&file)?;
            let problems = genesis.problems();
            if problems.is_empty() {
                println!(
                    "ok: {} is a sound genesis for chain {}",
                    file.display(),
                    genesis.chain_id
                );
                println!("genesis hash: {}", genesis.hash());
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("{} has {} problem(s):", file.display(), problems.len());
                for p in problems {
                    eprintln!("  - {p}");
                }
                Ok(ExitCode::from(1))
            }
        }
        Command::Hash { file } => {
            println!("{}", read(&file)?.hash());
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn read(file: &Path) -> Result<Genesis> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    Genesis::from_json(&bytes)
        .with_context(|| format!("{} is not a genesis document", file.display()))
}

fn now_ms() -> Result<u64> {
    Ok(SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("system clock is before 1970")?
        .as_millis() as u64)
}

fn write_devnet(out: &Path, devnet: &Devnet, force: bool) -> Result<()> {
    let genesis_path = out.join("genesis.json");
    if genesis_path.exists() && !force {
        bail!(
            "{} exists; pass --force to replace it",
            genesis_path.display()
        );
    }
    let keys = out.join("keys");
    std::fs::create_dir_all(&keys).with_context(|| format!("cannot create {}", keys.display()))?;
    std::fs::write(&genesis_path, devnet.genesis.to_json() + "\n")
        .with_context(|| format!("cannot write {}", genesis_path.display()))?;
    let chain = devnet.genesis.chain_id.as_str();
    for (name, k) in &devnet.validator_keys {
        keyfile::write(
            &keys.join(format!("validator-{name}.json")),
            chain,
            "validator",
            name,
            k,
        )?;
    }
    for (name, k) in &devnet.governance_keys {
        keyfile::write(
            &keys.join(format!("governance-{name}.json")),
            chain,
            "governance",
            name,
            k,
        )?;
    }
    for (issuer, key_id, k) in &devnet.issuer_keys {
        keyfile::write(
            &keys.join(format!("issuer-{key_id}.json")),
            chain,
            &format!("issuer:{issuer}"),
            key_id,
            k,
        )?;
    }
    for (source, k) in &devnet.log_source_keys {
        keyfile::write(
            &keys.join(format!("log-source-{source}.json")),
            chain,
            "log-source",
            source,
            k,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_init_is_deterministic_and_checks() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        for d in [&a, &b] {
            let cli = Cli::parse_from([
                "g",
                "init",
                "--out",
                d.path().to_str().unwrap(),
                "--seed",
                "t",
            ]);
            assert_eq!(run(cli).unwrap(), ExitCode::SUCCESS);
        }
        let ga = std::fs::read(a.path().join("genesis.json")).unwrap();
        assert_eq!(ga, std::fs::read(b.path().join("genesis.json")).unwrap());
        let g = Genesis::from_json(&ga).unwrap();
        assert!(g.problems().is_empty(), "{:?}", g.problems());
        // A second init into the same folder needs --force.
        let cli = Cli::parse_from([
            "g",
            "init",
            "--out",
            a.path().to_str().unwrap(),
            "--seed",
            "t",
        ]);
        assert!(run(cli).is_err());
    }
}
