//! `credledger-issuer`: what a ministry operator uses: issuer keys sealed at rest, publishing a
//! credential or a batch with its QR codes, the lifecycle, governance, inspection of
//! presentations, and anchoring of T-Road transfer logs.

mod affected;
mod anchor;
mod batch;
mod client;
mod config;
mod governance;
mod key;
mod ledger;
mod lifecycle;
mod publish;
mod qr;
mod qrcmd;
mod show;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The credledger issuer CLI.
#[derive(Parser, Debug)]
#[command(name = "credledger-issuer", version, about, long_about = None, after_help = AFTER_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Signing keys: make one sealed under a passphrase, import one, show one, or list what a
    /// revoked key published (`affected`).
    #[command(subcommand)]
    Key(key::KeyCommand),
    /// Publish one credential: check the subject's claims against the kind's schema, sign
    /// with the issuer key, submit, wait for the commit, and write the holder's files (the
    /// credential, its QR text, PNG and SVG) and print the QR code.
    ///
    /// Example: credledger-issuer publish --kind lawyer-license --subject lawyer.json
    ///   --key moj.key --genesis genesis.json --node http://127.0.0.1:26800 --out issued/
    ///
    /// Batch: credledger-issuer publish --kind lawyer-license --csv lawyers.csv --key moj.key
    ///   --genesis genesis.json --node http://127.0.0.1:26800 --out batch-2026-11/
    Publish(publish::PublishArgs),
    /// Suspend a credential (it can be reinstated).
    ///
    /// Example: credledger-issuer suspend 5f1c…e2 --reason disciplinary --key moj.key --genesis genesis.json --node http://127.0.0.1:26800
    Suspend(lifecycle::WithReason),
    /// Reinstate a suspended credential.
    ///
    /// Example: credledger-issuer reinstate 5f1c…e2 --key moj.key --genesis genesis.json --node http://127.0.0.1:26800
    Reinstate(lifecycle::Plain),
    /// Revoke a credential: final.
    ///
    /// Example: credledger-issuer revoke 5f1c…e2 --reason issued-in-error --key moj.key --genesis genesis.json --node http://127.0.0.1:26800
    Revoke(lifecycle::WithReason),
    /// A credential's status and whole history (publication, every suspension, reinstatement
    /// and revocation, with block and time), checked against genesis, not taken on a node's
    /// word: the commit, the state proof, and the history folded to the record's digest.
    /// Validator-set changes since genesis are learned header by header.
    ///
    /// Example: credledger-issuer status 5f1c…e2 --issuer moj --genesis genesis.json --node http://127.0.0.1:26800
    Status(lifecycle::StatusArgs),
    /// The QR code of a credential file: compact, or full with a fresh status proof (checked
    /// against genesis); all claims, or only those given to --disclose.
    ///
    /// Example: credledger-issuer qr issued/5f1c….credential.json --format png --out lawyer.png
    ///   --mode full --disclose name,license_no --genesis genesis.json --node http://127.0.0.1:26800
    Qr(qrcmd::QrArgs),
    /// Governance: write a proposal, sign it as a council member, submit it at threshold.
    #[command(subcommand)]
    Governance(governance::GovernanceCommand),
    /// T-Road transfer logs: append records to the source's local Merkle log and anchor its
    /// head on the ledger, run by the agency with the log source's key.
    #[command(subcommand)]
    Anchor(anchor::AnchorCommand),
    /// Print a human summary of a presentation (the text of a QR code) or of a credential
    /// file, without verifying it.
    ///
    /// Example: credledger-issuer show issued/5f1c….credential.json
    Show {
        /// A file holding the presentation text, or a credential file (`publish` writes them).
        #[arg(value_name = "FILE", conflicts_with_all = ["text", "file_flag"])]
        path: Option<PathBuf>,
        /// The same as FILE.
        #[arg(
            long = "file",
            value_name = "FILE",
            id = "file_flag",
            conflicts_with = "text"
        )]
        file: Option<PathBuf>,
        /// The presentation text (`CL1:…` or `cl1.…`).
        #[arg(long)]
        text: Option<String>,
        /// A genesis file whose kind schemas name a presentation's claims.
        #[arg(long, value_name = "FILE", env = "CREDLEDGER_GENESIS")]
        genesis: Option<PathBuf>,
        /// Print the decoded presentation as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Shown under the top-level `--help`: a first session, and what every exit code means.
const AFTER_HELP: &str = "\
Examples:
  credledger-issuer key generate --issuer moj --key-id moj-2026-02 --out moj-2026-02.key
  credledger-issuer publish --kind lawyer-license --subject lawyer.json --key moj.key --out issued/
  credledger-issuer publish --kind lawyer-license --csv lawyers.csv --key moj.key --out batch/
  credledger-issuer status <ID> --issuer moj
  credledger-issuer revoke <ID> --reason issued-in-error --key moj.key
(--genesis, --node and --key default from CREDLEDGER_GENESIS, CREDLEDGER_NODE, CREDLEDGER_KEY
or ~/.config/credledger/issuer.toml.)

Exit codes (every command):
  0  done
  2  bad input: arguments, unreadable files, an existing output file, an undecodable presentation
  3  a key file that does not open: wrong passphrase, damaged or altered file
  4  the ledger refused the transaction (its reason is printed)
  5  no node answered (every --node was tried)
  6  sent, but not settled yet: it may still commit; check with `status` before sending again
  7  a batch finished, but some rows failed for good (bad rows, or refused): its report names them";

/// Exit codes (printed under the top-level `--help`, and spec/issuer-keys.md §4).
pub mod exit {
    /// Done.
    pub const OK: u8 = 0;
    /// Bad input: arguments, files, a presentation that does not decode.
    pub const INPUT: u8 = 2;
    /// A key file that does not open: wrong passphrase, damaged or altered file.
    pub const KEY: u8 = 3;
    /// The ledger refused the transaction (its reason is printed).
    pub const REFUSED: u8 = 4;
    /// No node answered.
    pub const UNREACHABLE: u8 = 5;
    /// A transaction was sent but may still commit (see [`ledger::Unsettled`]).
    pub const UNSETTLED: u8 = 6;
    /// A batch finished with rows that failed for good (see [`batch::BatchRowsFailed`]).
    pub const ROWS_FAILED: u8 = 7;
}

/// The exit code for an error (see [`exit`]).
pub(crate) fn classify(r: anyhow::Result<()>) -> Result<(), (u8, anyhow::Error)> {
    r.map_err(|e| {
        let code = if e.chain().any(|c| {
            c.downcast_ref::<credledger_issuer::keystore::KeyFileError>()
                .is_some()
        }) {
            exit::KEY
        } else if e.chain().any(|c| {
            c.downcast_ref::<ledger::Refused>().is_some()
                || c.downcast_ref::<ledger::RefusedUnsent>().is_some()
        }) {
            exit::REFUSED
        } else if e
            .chain()
            .any(|c| c.downcast_ref::<client::Unreachable>().is_some())
        {
            exit::UNREACHABLE
        } else if e.chain().any(|c| {
            c.downcast_ref::<ledger::Unsettled>().is_some()
                || c.downcast_ref::<batch::BatchUnsettled>().is_some()
                || c.downcast_ref::<client::MaybeSent>().is_some()
        }) {
            exit::UNSETTLED
        } else if e
            .chain()
            .any(|c| c.downcast_ref::<batch::BatchRowsFailed>().is_some())
        {
            exit::ROWS_FAILED
        } else {
            exit::INPUT
        };
        (code, e)
    })
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Key(k) => key::run(k),
        Command::Suspend(a) => classify(lifecycle::suspend(&a)),
        Command::Reinstate(a) => classify(lifecycle::reinstate(&a)),
        Command::Revoke(a) => classify(lifecycle::revoke(&a)),
        Command::Status(a) => classify(lifecycle::status(&a)),
        Command::Qr(a) => classify(qrcmd::run(&a)),
        Command::Governance(g) => classify(governance::run(&g)),
        Command::Anchor(a) => classify(anchor::run(&a)),
        Command::Publish(a) => classify(publish::run(&a)),
        Command::Show {
            path,
            file,
            text,
            genesis,
            json,
        } => show::run(text, path.or(file), genesis, json).map_err(|e| (exit::INPUT, e)),
    };
    match result {
        Ok(()) => ExitCode::from(exit::OK),
        Err((code, e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{classify, exit, ledger};

    fn code(e: anyhow::Error) -> u8 {
        classify(Err(e)).err().map(|(c, _)| c).unwrap_or(exit::OK)
    }

    #[test]
    fn each_kind_of_failure_has_its_exit_code_even_under_context() {
        assert_eq!(classify(Ok(())).err().map(|(c, _)| c), None);
        let refused = anyhow::Error::new(ledger::Refused("revoked".into()));
        assert_eq!(code(refused.context("revoking")), exit::REFUSED);
        // Refused by the ledger's proven state before anything was sent: the same code.
        let unsent = anyhow::Error::new(ledger::RefusedUnsent("1 approval, 2 needed".into()));
        assert_eq!(code(unsent.context("submitting")), exit::REFUSED);
        let unsettled = anyhow::Error::new(ledger::Unsettled {
            tx: "ab".into(),
            why: "the node answered 409: transaction ab is already pending".into(),
        });
        assert_eq!(code(unsettled.context("publishing")), exit::UNSETTLED);
        let batch = anyhow::Error::new(super::batch::BatchUnsettled {
            rows: 250,
            report: "batch/report.csv".into(),
        });
        assert_eq!(code(batch), exit::UNSETTLED);
        let rows = anyhow::Error::new(super::batch::BatchRowsFailed {
            rows: 3,
            report: "batch/report.csv".into(),
        });
        assert_eq!(code(rows.context("publishing")), exit::ROWS_FAILED);
        assert_eq!(code(anyhow::anyhow!("no such file")), exit::INPUT);
    }
}
