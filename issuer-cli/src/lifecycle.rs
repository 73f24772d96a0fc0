//! `suspend`, `reinstate`, `revoke` and `status` of a published credential. The ledger decides
//! (only the issuing issuer may act; a revocation is final); `status` checks the node's answer
//! against genesis before showing it.

use anyhow::{Context, Result, anyhow};
use clap::Args;
use credledger_core::ids::{CredentialId, IssuerId};
use credledger_core::state::{CredentialStatus, ReasonCode};
use credledger_core::tx::IssuerAction;
use serde_json::json;

use crate::ledger::{KeyArgs, LedgerArgs};

/// Arguments of `suspend` and `revoke`.
#[derive(Args, Debug)]
pub struct WithReason {
    /// The credential id (32 hex digits).
    id: String,
    /// Why: unspecified, key-compromise, superseded, issued-in-error, disciplinary,
    /// surrendered, holder-ceased, condition-not-met, order.
    #[arg(long)]
    reason: String,
    #[command(flatten)]
    key: KeyArgs,
    #[command(flatten)]
    ledger: LedgerArgs,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `reinstate`.
#[derive(Args, Debug)]
pub struct Plain {
    /// The credential id (32 hex digits).
    id: String,
    #[command(flatten)]
    key: KeyArgs,
    #[command(flatten)]
    ledger: LedgerArgs,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `status`.
#[derive(Args, Debug)]
pub struct StatusArgs {
    /// The credential id (32 hex digits).
    id: String,
    /// The issuing issuer, e.g. `moj`; by default the issuer of the key file (`--key`,
    /// `CREDLEDGER_KEY` or the config file), read without its passphrase.
    #[arg(long)]
    issuer: Option<String>,
    /// A key file whose issuer to take when --issuer is not given.
    #[arg(long, value_name = "FILE", env = "CREDLEDGER_KEY")]
    key: Option<std::path::PathBuf>,
    #[command(flatten)]
    ledger: LedgerArgs,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// The issuer `status` asks about: `--issuer`, else the key file's public `issuer` field.
fn status_issuer(a: &StatusArgs) -> Result<IssuerId> {
    let name = match &a.issuer {
        Some(i) => i.clone(),
        None => {
            let path = match &a.key {
                Some(k) => k.clone(),
                None => crate::config::load()?.key.ok_or_else(|| {
                    anyhow!("give --issuer (or a key file: --key, CREDLEDGER_KEY or the config)")
                })?,
            };
            credledger_issuer::keystore::public_fields(&path)?.issuer
        }
    };
    name.parse().map_err(|e| anyhow!("issuer {name:?}: {e}"))
}

fn reason(s: &str) -> Result<ReasonCode> {
    ReasonCode::from_name(s).ok_or_else(|| {
        let names: Vec<&str> = ReasonCode::ALL.iter().map(|r| r.as_str()).collect();
        anyhow!("reason {s:?} is not one of: {}", names.join(", "))
    })
}

fn id(s: &str) -> Result<CredentialId> {
    s.parse().map_err(|e| anyhow!("credential id {s:?}: {e}"))
}

fn act(
    what: &str,
    key: &KeyArgs,
    ledger: &LedgerArgs,
    json: bool,
    cred: &str,
    action: IssuerAction,
) -> Result<()> {
    let ledger = ledger.open()?;
    let issuer = key.open()?;
    let done = ledger
        .submit(&issuer, action)
        .with_context(|| format!("{what} of credential {cred}"))?;
    if json {
        println!(
            "{}",
            json!({ "credential": cred, "action": what, "transaction": done.tx, "height": done.height })
        );
    } else {
        println!(
            "{what}: credential {cred}, committed in block {}",
            done.height
        );
    }
    Ok(())
}

/// Runs `suspend`.
pub fn suspend(a: &WithReason) -> Result<()> {
    let action = IssuerAction::Suspend {
        id: id(&a.id)?,
        reason: reason(&a.reason)?,
    };
    act("suspend", &a.key, &a.ledger, a.json, &a.id, action)
}

/// Runs `revoke`.
pub fn revoke(a: &WithReason) -> Result<()> {
    let action = IssuerAction::Revoke {
        id: id(&a.id)?,
        reason: reason(&a.reason)?,
    };
    act("revoke", &a.key, &a.ledger, a.json, &a.id, action)
}

/// Runs `reinstate`.
pub fn reinstate(a: &Plain) -> Result<()> {
    let action = IssuerAction::Reinstate { id: id(&a.id)? };
    act("reinstate", &a.key, &a.ledger, a.json, &a.id, action)
}

/// Runs `status`: the proven record and its whole history, folded and compared with the
/// record's history digest, so no node can hide a suspension or a revocation.
pub fn status(a: &StatusArgs) -> Result<()> {
    let ledger = a.ledger.open()?;
    let issuer = status_issuer(a)?;
    id(&a.id)?;
    let (ev, history) = ledger.history(&issuer, &a.id)?;
    let r = &ev.record;
    let (state, why) = words(r.status);
    let checked = match ledger.learned_sets() {
        0 => "genesis".to_string(),
        n => format!("genesis and {n} validator-set change(s) since"),
    };
    let events = history.events.iter().enumerate().map(|(i, e)| {
        let (state, why) = words(e.status);
        (event_word(i, e.status), state, why, e)
    });
    if a.json {
        let events: Vec<_> = events
            .map(|(what, state, why, e)| {
                json!({
                    "event": what, "status": state, "reason": why,
                    "height": e.height, "time_ms": e.time,
                })
            })
            .collect();
        println!(
            "{}",
            json!({
                "credential": a.id, "issuer": issuer.to_string(), "status": state, "reason": why,
                "published_height": r.published_height, "published_at_ms": r.published_at,
                "changed_at_ms": r.changed_at, "history": events,
                "as_of_height": ev.header.height, "as_of_time_ms": ev.header.time,
                "checked_against": checked,
            })
        );
    } else {
        let why = why
            .map(|w| format!(" ({})", w.as_str()))
            .unwrap_or_default();
        println!("credential {} of {issuer}: {state}{why}", a.id);
        let n = history.events.len();
        let noun = if n == 1 { "event" } else { "events" };
        println!("  history ({n} {noun}, complete):");
        for (what, _, why, e) in events {
            let why = why
                .map(|w| format!(" ({})", w.as_str()))
                .unwrap_or_default();
            println!(
                "    block {:>8}  {}  {what}{why}",
                e.height,
                e.time.taiwan_time()
            );
        }
        println!(
            "  as of block {} ({}), checked against {checked}",
            ev.header.height,
            ev.header.time.taiwan_time()
        );
    }
    Ok(())
}

fn words(status: CredentialStatus) -> (&'static str, Option<ReasonCode>) {
    match status {
        CredentialStatus::Active => ("active", None),
        CredentialStatus::Suspended { reason } => ("suspended", Some(reason)),
        CredentialStatus::Revoked { reason } => ("revoked", Some(reason)),
    }
}

/// What the `i`-th event of a history was: the first is the publication, and a later one
/// that left the credential active was a reinstatement (spec/state.md §5.1).
fn event_word(i: usize, status: CredentialStatus) -> &'static str {
    match (i, status) {
        (0, _) => "published",
        (_, CredentialStatus::Active) => "reinstated",
        (_, CredentialStatus::Suspended { .. }) => "suspended",
        (_, CredentialStatus::Revoked { .. }) => "revoked",
    }
}
