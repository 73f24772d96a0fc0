//! `show`: a human summary of a presentation or a credential file, without verifying it.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use credledger_core::credential::{DisclosedItem, Disclosure, HeldCredential};
use credledger_core::genesis::Genesis;
use credledger_core::presentation::{CompactPresentation, MAX_PRESENTATION_TEXT, Presentation};
use credledger_issuer::files::{MAX_DOCUMENT_BYTES, read_limited};

// A presentation file holds a presentation at its longest.
const _: () = assert!(MAX_PRESENTATION_TEXT as u64 + 2 <= MAX_DOCUMENT_BYTES);

/// Runs `show`. Claims are named from a credential file's own keys, else from the kind's
/// schema in `genesis` when one is given, else by position.
pub fn run(
    text: Option<String>,
    file: Option<PathBuf>,
    genesis: Option<PathBuf>,
    json: bool,
) -> Result<()> {
    let text = match (text, file) {
        (Some(t), _) => t,
        (None, Some(f)) => {
            let bytes = read_limited(&f, MAX_DOCUMENT_BYTES, "a presentation or credential file")
                .with_context(|| format!("cannot read {}", f.display()))?;
            String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("{} is not UTF-8", f.display()))?
        }
        (None, None) => bail!("give a FILE, --file or --text"),
    };
    // A credential file (as `publish` writes it) shows as its full-disclosure presentation.
    let mut names: Vec<String> = Vec::new();
    let p = if text.trim_start().starts_with('{') {
        let held: HeldCredential =
            serde_json::from_str(&text).context("not a valid credential file")?;
        names = held.claims.iter().map(|c| c.key.to_string()).collect();
        Presentation::Compact(CompactPresentation {
            body: held.body.clone(),
            signature: held.signature,
            disclosure: held.disclose(None),
        })
    } else {
        Presentation::from_text(text.trim_end()).context("not a valid presentation")?
    };
    if names.is_empty()
        && let Some(g) = &genesis
    {
        let bytes = read_limited(
            g,
            credledger_issuer::files::MAX_GENESIS_BYTES,
            "a genesis file",
        )
        .with_context(|| format!("cannot read {}", g.display()))?;
        let genesis = Genesis::from_json(&bytes)?;
        if let Some(kind) = genesis.kinds.iter().find(|k| k.id == p.compact().body.kind) {
            names = kind
                .claims
                .iter()
                .map(|c| format!("{} {}", c.key, c.label_zh))
                .collect();
        }
    }
    let name = |i: usize| {
        names
            .get(i)
            .cloned()
            .unwrap_or_else(|| format!("claim {}", i + 1))
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
    println!("valid from:   {}", c.body.valid_from.taiwan_time());
    match c.body.valid_until {
        Some(u) => println!("valid until:  {}", u.taiwan_time()),
        None => println!("valid until:  no end"),
    }
    if names.is_empty() {
        let hint = if genesis.is_some() {
            "its genesis does not define this kind"
        } else {
            "--genesis FILE names them"
        };
        println!("claims, in the kind's order ({hint}):");
    }
    match &c.disclosure {
        Disclosure::All { values, .. } => {
            for (i, v) in values.iter().enumerate() {
                println!("  {}: {v}", name(i));
            }
        }
        Disclosure::Selective { items } => {
            for (i, item) in items.iter().enumerate() {
                match item {
                    DisclosedItem::Shown { value, .. } => println!("  {}: {value}", name(i)),
                    DisclosedItem::Hidden { .. } => println!("  {}: (hidden)", name(i)),
                }
            }
        }
    }
    if let Some(ev) = p.evidence() {
        println!(
            "status:       {} as of block {} ({})",
            ev.record.status.word(),
            ev.header.height,
            ev.header.time.taiwan_time()
        );
    }
    println!("(not verified: use credledger-verifier check)");
    Ok(())
}
