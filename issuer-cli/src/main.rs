//! `credledger-issuer`: what a ministry operator uses: issuer keys sealed at rest, and
//! inspection of presentations. (Publishing and the credential lifecycle come next.)

mod key;
mod show;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The credledger issuer CLI.
#[derive(Parser, Debug)]
#[command(name = "credledger-issuer", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Issuer signing keys: make one sealed under a passphrase, or show one.
    #[command(subcommand)]
    Key(key::KeyCommand),
    /// Print a human summary of a presentation (the text of a QR code), without verifying it.
    ///
    /// Example: credledger-issuer show --file lawyer.txt
    Show {
        /// The presentation text (`CL1:…` or `cl1.…`).
        #[arg(long, conflicts_with = "file", required_unless_present = "file")]
        text: Option<String>,
        /// A file holding the presentation text.
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// Print the decoded presentation as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Exit codes (documented in `--help` of each command and in spec/issuer-keys.md §4).
pub mod exit {
    /// Done.
    pub const OK: u8 = 0;
    /// Bad input: arguments, files, a presentation that does not decode.
    pub const INPUT: u8 = 2;
    /// A key file that does not open: wrong passphrase, damaged or altered file.
    pub const KEY: u8 = 3;
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Key(k) => key::run(k),
        Command::Show { text, file, json } => {
            show::run(text, file, json).map_err(|e| (exit::INPUT, e))
        }
    };
    match result {
        Ok(()) => ExitCode::from(exit::OK),
        Err((code, e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(code)
        }
    }
}
