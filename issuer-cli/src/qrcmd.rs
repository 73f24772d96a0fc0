//! `qr`: the QR code of a held credential, compact or full (with a fresh status proof from a
//! node, checked against genesis), revealing all claims or only those chosen.

use std::path::PathBuf;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, ValueEnum};
use credledger_core::credential::HeldCredential;
use credledger_core::presentation::{CompactPresentation, Presentation};

use crate::ledger::LedgerArgs;
use crate::qr;

/// Output format.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    /// A PNG file (`--out`).
    Png,
    /// An SVG file (`--out`).
    Svg,
    /// Printed in the terminal.
    Terminal,
    /// The presentation text only.
    Text,
}

/// Presentation form.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Mode {
    /// Body, signature and claims: the verifier asks the ledger for the status.
    Compact,
    /// Also the status proof, header and commit: checkable offline.
    Full,
}

/// Arguments of `qr`.
#[derive(Args, Debug)]
pub struct QrArgs {
    /// A credential file (`<id>.credential.json`, as `publish` writes).
    file: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "terminal")]
    format: Format,
    /// Presentation form.
    #[arg(long, value_enum, default_value = "compact")]
    mode: Mode,
    /// Reveal only these claims (comma-separated names); the rest stay hidden.
    #[arg(long, value_delimiter = ',')]
    disclose: Option<Vec<String>>,
    /// Where to write a PNG or SVG.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Put a link to this verifier in the code (`URL/v/cl1.…`), so a phone's own camera app
    /// opens the result page; without it the code holds the bare presentation (`CL1:…`).
    #[arg(long, value_name = "URL", env = "CREDLEDGER_VERIFIER_URL")]
    verifier_url: Option<String>,
    /// The chain's genesis file (for --mode full).
    #[arg(long, value_name = "FILE", env = "CREDLEDGER_GENESIS")]
    genesis: Option<PathBuf>,
    /// Node API URLs (for --mode full), tried in order.
    #[arg(
        long = "node",
        value_name = "URL",
        env = "CREDLEDGER_NODE",
        value_delimiter = ','
    )]
    nodes: Vec<String>,
    /// Print JSON (the presentation text, the QR version, the file written) instead of the
    /// human lines; `--format terminal` then prints no code.
    #[arg(long)]
    json: bool,
}

/// Runs `qr`.
pub fn run(a: &QrArgs) -> Result<()> {
    let held: HeldCredential = serde_json::from_slice(
        &credledger_issuer::files::read_limited(
            &a.file,
            credledger_issuer::files::MAX_DOCUMENT_BYTES,
            "a credential file",
        )
        .with_context(|| format!("cannot read {}", a.file.display()))?,
    )
    .with_context(|| format!("{} is not a credential file", a.file.display()))?;
    if let Some(names) = &a.disclose {
        for n in names {
            if !held.claims.iter().any(|c| c.key.as_str() == n) {
                bail!(
                    "claim {n:?} is not in this credential; it has: {}",
                    held.claims
                        .iter()
                        .map(|c| c.key.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
    }
    let reveal: Option<Vec<&str>> = a
        .disclose
        .as_ref()
        .map(|v| v.iter().map(String::as_str).collect());
    let compact = CompactPresentation {
        body: held.body.clone(),
        signature: held.signature,
        disclosure: held.disclose(reveal.as_deref()),
    };
    let p = match a.mode {
        Mode::Compact => Presentation::Compact(compact),
        Mode::Full => {
            let ledger = LedgerArgs {
                genesis: a.genesis.clone(),
                nodes: a.nodes.clone(),
            }
            .open()?;
            let evidence = ledger.evidence(&held.body.issuer, &held.body.id.to_string())?;
            Presentation::Full { compact, evidence }
        }
    };
    // spec/presentations.md §4: a link holds the URL form, which is safe in a path.
    let text = match &a.verifier_url {
        Some(url) => {
            let url = url.trim_end_matches('/');
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                bail!("--verifier-url {url}: expected an http:// or https:// URL");
            }
            format!("{url}/v/{}", p.to_url_text())
        }
        None => p.to_qr_text(),
    };
    let code = qr::code(&text)?;
    let out = || {
        a.out
            .clone()
            .ok_or_else(|| anyhow!("--format png and svg write a file: give --out FILE"))
    };
    let version = qr::version(&code);
    let written = match a.format {
        Format::Text | Format::Terminal => None,
        Format::Png => Some((out()?, qr::png(&code)?)),
        Format::Svg => Some((out()?, qr::svg(&code).into_bytes())),
    };
    if let Some((path, bytes)) = &written {
        std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if a.json {
        let disclosed: Vec<&str> = held
            .claims
            .iter()
            .map(|c| c.key.as_str())
            .filter(|k| reveal.as_ref().is_none_or(|r| r.contains(k)))
            .collect();
        let out = serde_json::json!({
            "text": text,
            "characters": text.len(),
            "qr_version": version,
            "ecc": "M",
            "mode": format!("{:?}", a.mode).to_lowercase(),
            "disclosed": disclosed,
            "file": written.as_ref().map(|(p, _)| p.display().to_string()),
        });
        println!("{out}");
        return Ok(());
    }
    match (a.format, &written) {
        (Format::Text, _) => println!("{text}"),
        (Format::Terminal, _) => {
            println!("{}", qr::terminal(&code));
            println!("QR version {version} at ECC M, {} characters", text.len());
        }
        (_, Some((path, _))) => println!("wrote {} (QR version {version})", path.display()),
        (_, None) => {}
    }
    Ok(())
}
