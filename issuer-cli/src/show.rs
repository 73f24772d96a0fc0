//! `show`: a human summary of a presentation, without verifying it.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use credledger_core::credential::{DisclosedItem, Disclosure};
use credledger_core::presentation::{MAX_PRESENTATION_TEXT, Presentation};

/// Runs `show`.
pub fn run(text: Option<String>, file: Option<PathBuf>, json: bool) -> Result<()> {
    let text = match (text, file) {
        (Some(t), _) => t,
        (None, Some(f)) => {
            let meta =
                std::fs::metadata(&f).with_context(|| format!("cannot read {}", f.display()))?;
            if meta.len() > MAX_PRESENTATION_TEXT as u64 + 2 {
                bail!(
                    "{} is {} bytes; a presentation is at most {MAX_PRESENTATION_TEXT}",
                    f.display(),
                    meta.len()
                );
            }
            std::fs::read_to_string(&f)?
        }
        (None, None) => bail!("give --text or --file"),
    };
    let p = Presentation::from_text(text.trim_end()).context("not a valid presentation")?;
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
