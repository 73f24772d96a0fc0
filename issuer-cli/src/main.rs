//! `credledger-issuer`: what a ministry operator uses: issuer keys sealed at rest, publishing a
//! credential with its QR codes, and inspection of presentations. (Batches, the lifecycle and
//! governance come next.)

mod client;
mod key;
mod publish;
mod qr;
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
    /// Publish one credential: check the subject's claims against the kind's schema, sign
    /// with the issuer key, submit, wait for the commit, and write the holder's files (the
    /// credential, its QR text, PNG and SVG) and print the QR code.
    ///
    /// Example: credledger-issuer publish --kind lawyer-license --subject lawyer.json
    ///   --key moj.key --genesis genesis.json --node http://127.0.0.1:26800 --out issued/
    Publish(publish::PublishArgs),
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
        Command::Publish(a) => publish::run(&a).map_err(|e| {
            let code = if e
                .downcast_ref::<credledger_issuer::keystore::KeyFileError>()
                .is_some()
            {
                exit::KEY
            } else {
                exit::INPUT
            };
            (code, e)
        }),
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
