//! `credledger-verifier`: checks credential presentations against a genesis file, with no trust
//! in any server.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Result, anyhow, bail};
use clap::{Parser, Subcommand, ValueEnum};
use credledger_core::ids::Timestamp;
use credledger_core::presentation::MAX_PRESENTATION_TEXT;
use credledger_core::presentation::Presentation;
use credledger_core::state::StateKey;
use credledger_core::verify::{Policy, Rejection, StatusFinding, TrustAnchor, verify_text};
use credledger_verifier::audit::cli::AuditCommand;
use credledger_verifier::serve::{ServeArgs, serve};

/// Verify credledger credential presentations.
#[derive(Parser, Debug)]
#[command(name = "credledger-verifier", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the verifier service: light client, JSON API and the citizens' page.
    ///
    /// Example: credledger-verifier serve --genesis devnet/genesis.json
    ///   --node http://127.0.0.1:26800,http://127.0.0.1:26801 --listen 127.0.0.1:8080
    Serve(ServeArgs),
    /// Verify one presentation (the text of its QR code) offline against a genesis file.
    ///
    /// A full presentation carries its status proof, header and commit, so it is checked with
    /// nothing but the genesis while the validators and the issuer registry are genesis's. Once
    /// the council has changed the validator set, or registered or revoked an issuer key, give
    /// `--node`: the set changes, and the issuer, key and kind the presentation names, are then
    /// learned from the nodes, each proven from genesis (the nodes are not trusted; if none
    /// answers, the check is made against genesis alone, with a warning). Exit code 0: valid;
    /// 1: refused (the failed check is named); 2: the command itself failed.
    ///
    /// Example: credledger-verifier check --genesis devnet/genesis.json --file lawyer.txt
    ///   [--node http://127.0.0.1:26800]
    Check {
        /// The genesis file the chain started from.
        #[arg(long, value_name = "FILE")]
        genesis: PathBuf,
        /// The presentation text (`CL1:…` or `cl1.…`).
        #[arg(long, conflicts_with = "file", required_unless_present = "file")]
        text: Option<String>,
        /// A file holding the presentation text.
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// What to require of the status.
        #[arg(long, value_enum, default_value_t = PolicyArg::Offline)]
        policy: PolicyArg,
        /// Check as of this time (milliseconds since 1970) instead of now.
        #[arg(long, value_name = "MS")]
        now_ms: Option<u64>,
        /// Print the verdict or rejection as JSON.
        #[arg(long)]
        json: bool,
        /// Node API URLs to learn validator-set changes and the presentation's registry entries
        /// from (comma-separated or repeated; none trusted). Without it the check is wholly
        /// offline.
        #[arg(long = "node", value_name = "URL", value_delimiter = ',')]
        nodes: Vec<String>,
        /// With `--node`: a registry entry is believed only under a header at most this old
        /// (by this machine's clock, whatever `--now-ms` says): an older answer is from a node
        /// that lags behind, and could show a key as before its revocation.
        #[arg(long, value_name = "MS", default_value_t = credledger_verifier::audit::cli::MAX_ENTRY_AGE_MS)]
        entry_max_age_ms: u64,
    },
    /// Audit T-Road transfer logs: evidence bundles for one record, offline checks of them,
    /// and whole log files against their anchors.
    #[command(subcommand)]
    Audit(AuditCommand),
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum PolicyArg {
    /// Status required and at most 10 s old.
    Live,
    /// Status required; reported as of its header's time.
    Offline,
    /// Signature, issuer and claims only; status not checked.
    Genuineness,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(a) => return serve_main(a),
        Command::Audit(a) => credledger_verifier::audit::cli::run(a),
        check => run(check),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn serve_main(a: ServeArgs) -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match rt.block_on(serve(a)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(command: Command) -> Result<ExitCode> {
    let Command::Check {
        genesis,
        text,
        file,
        policy,
        now_ms,
        json,
        nodes,
        entry_max_age_ms,
    } = command
    else {
        bail!("unreachable: serve and audit are handled in main");
    };
    let genesis = credledger_verifier::files::read_genesis(&genesis)?;
    let anchor = TrustAnchor::from_genesis(&genesis)?;
    let text = match (text, file) {
        (Some(t), _) => t,
        (None, Some(f)) => {
            // A presentation at its longest, and a line end.
            let bytes = credledger_verifier::files::read_limited(
                &f,
                MAX_PRESENTATION_TEXT + 2,
                "a presentation",
            )?;
            String::from_utf8(bytes).map_err(|_| anyhow!("{} is not UTF-8", f.display()))?
        }
        (None, None) => bail!("give --text or --file"),
    };
    let policy = match policy {
        PolicyArg::Live => Policy::LIVE,
        PolicyArg::Offline => Policy::OFFLINE,
        PolicyArg::Genuineness => Policy::GENUINENESS,
    };
    let clock = Timestamp(SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as u64);
    let now = now_ms.map_or(clock, Timestamp);
    // Genesis first; with `--node`, again with what the nodes prove has changed since. A
    // node that cannot be reached leaves the genesis-only verdict, with a warning, so a
    // presentation genesis alone checks needs no node to be up.
    let mut outcome = verify_text(text.trim_end(), &anchor, now, &policy);
    if !nodes.is_empty() {
        let entries = named_entries(text.trim_end());
        let fresh = (clock, entry_max_age_ms);
        match credledger_verifier::audit::cli::learn_for_check(&nodes, anchor, &entries, fresh) {
            Ok((learned, unproven)) => {
                for key in unproven {
                    eprintln!(
                        "warning: no node proved {} under a header of the last {} s; it is \
                         taken as genesis has it",
                        entry_name(&key),
                        entry_max_age_ms / 1_000
                    );
                }
                outcome = verify_text(text.trim_end(), &learned, now, &policy);
            }
            Err(e) => eprintln!("warning: {e:#}; checked against genesis alone"),
        }
    }
    match outcome {
        Ok(v) => {
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "outcome": "VALID", "verdict": v })
                );
            } else {
                println!(
                    "VALID: {} issued by {} ({})",
                    v.kind, v.issuer_name_en, v.issuer_name_zh
                );
                println!("  credential {} signed with key {}", v.credential, v.key_id);
                for c in &v.disclosed {
                    println!("  {}: {}", c.key, c.value);
                }
                if v.hidden_claims > 0 {
                    println!("  ({} claim(s) not disclosed)", v.hidden_claims);
                }
                match v.status {
                    StatusFinding::Active { height, as_of, .. } => {
                        println!(
                            "  status: active as of block {height} ({})",
                            as_of.taiwan_time()
                        )
                    }
                    StatusFinding::NotChecked => println!("  status: not checked"),
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(r) => {
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "outcome": r.outcome(), "failed_check": r.check(), "rejection": r })
                );
            } else {
                let word = |v: serde_json::Value| v.as_str().unwrap_or_default().to_string();
                println!("{}: {r}", word(serde_json::json!(r.outcome())));
                println!("  failed check: {}", word(serde_json::json!(r.check())));
                if nodes.is_empty() && r.signed_by_an_unknown_set() {
                    println!(
                        "  the header is signed by a validator set genesis does not name: the \
                         council has changed the set since; give --node URL to learn the changes"
                    );
                } else if nodes.is_empty()
                    && matches!(
                        r,
                        Rejection::UnknownIssuer { .. }
                            | Rejection::UnknownKey { .. }
                            | Rejection::UnknownKind { .. }
                    )
                {
                    println!(
                        "  genesis does not register it; if the council has since, give --node \
                         URL to learn it"
                    );
                }
            }
            Ok(ExitCode::from(1))
        }
    }
}

/// A registry entry as the operator knows it.
fn entry_name(key: &StateKey) -> String {
    match key {
        StateKey::Issuer(i) => format!("issuer {i}"),
        StateKey::IssuerKey(i, k) => format!("issuer key {i}/{k}"),
        StateKey::Kind(k) => format!("credential kind {k}"),
        other => format!("{other:?}"),
    }
}

/// The registry entries a presentation names (its issuer, key and kind), for `--node` to learn;
/// none if the text does not decode (its refusal needs no registry).
fn named_entries(text: &str) -> Vec<StateKey> {
    let Ok(p) = Presentation::from_text(text) else {
        return Vec::new();
    };
    let body = &p.compact().body;
    vec![
        StateKey::Issuer(body.issuer.clone()),
        StateKey::IssuerKey(body.issuer.clone(), body.key_id.clone()),
        StateKey::Kind(body.kind.clone()),
    ]
}
