//! `show`: a human summary of a presentation or a credential file, without verifying it.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use credledger_core::credential::{DisclosedItem, Disclosure, HeldCredential};
use credledger_core::presentation::{CompactPresentation, MAX_PRESENTATION_TEXT, Presentation};

/// Largest file read: a credential file is JSON, larger than its presentation text.
const MAX_FILE_BYTES: u64 = 64 * 1024;

const _: () = assert!(MAX_PRESENTATION_TEXT as u64 + 2 <= MAX_FILE_BYTES);

/// Runs `show`.
pub fn run(text: Option<String>, file: Option<PathBuf>, json: bool) -> Result<()> {
    let text = match (text, file) {
        (Some(t), _) => t,
        (None, Some(f)) => {
            let meta =
                std::fs::metadata(&f).with_context(|| format!("cannot read {}", f.display()))?;
            if meta.len() > MAX_FILE_BYTES {
                bail!(
                    "{} is {} bytes; a presentation or credential file is at most {MAX_FILE_BYTES}",
                    f.display(),
                    meta.len()
                );
            }
            std::fs::read_to_string(&f)?
        }
        (None, None) => bail!("give --text or --file"),
    };
    // A credential file (as `publish` writes it) shows as its full-disclosure presentation.
    let p = if text.trim_start().starts_with('{') {
        let held: HeldCredential =
            serde_json::from_str(&text).context("not a valid credential file")?;
        Presentation::Compact(CompactPresentation {
            body: held.body.clone(),
            signature: held.signature,
            disclosure: held.disclose(None),
        })
    } else {
        Presentation::from_text(text.trim_end()).context("not a valid presentation")?
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&p)?);
        return Ok(());
    }
    let c = p.compact();
    let form = if p.evidence().is_some() {
        "full (carries its status proof)"
    } else {
        "compact"
    };
    println!("presentation: {form}, {} bytes", p.to_bytes().len());
    println!("credential:   {}", c.body.id);
    println!("issuer:       {} (key {})", c.body.issuer, c.body.key_id);
    println!("kind:         {}", c.body.kind);
    println!("valid from:   {} ms", c.body.valid_from);
    match c.body.valid_until {
        Some(u) => println!("valid until:  {u} ms"),
        None => println!("valid until:  no end"),
    }
    match &c.disclosure {
        Disclosure::All { values, .. } => {
            for (i, v) in values.iter().enumerate() {
                println!("claim {i}:      {v}");
            }
        }
        Disclosure::Selective { items } => {
            for (i, item) in items.iter().enumerate() {
                match item {
                    DisclosedItem::Shown { value, .. } => println!("claim {i}:      {value}"),
                    DisclosedItem::Hidden { .. } => println!("claim {i}:      (hidden)"),
                }
            }
        }
    }
    if let Some(ev) = p.evidence() {
        println!(
            "status:       {:?} as of block {} (time {} ms)",
            ev.record.status, ev.header.height, ev.header.time
        );
    }
    println!("(not verified: use credledger-verifier check)");
    Ok(())
}
