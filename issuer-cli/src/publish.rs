//! `publish`: one credential from a subject file: schema checked against the registry of the
//! genesis, signed with the sealed issuer key, submitted and waited for; the holder's files and
//! QR codes are written. Only the credential's digest goes to the ledger.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use credledger_core::bounded::{BoundedVec, ShortVec, Text};
use credledger_core::credential::{
    CREDENTIAL_VERSION, Claim, CredentialBody, HeldCredential, check_claims, claim_digests,
    claims_root,
};
use credledger_core::hash::Digest;
use credledger_core::ids::{CredentialId, KindId, Timestamp};
use credledger_core::presentation::{CompactPresentation, Presentation};
use credledger_core::state::{CredentialStatus, KindDef, ReasonCode, StateKey, StateValue};
use credledger_core::tx::{IssuerAction, SignedBody};
use serde_json::{Value, json};

use credledger_issuer::files::{MAX_DOCUMENT_BYTES, read_limited};

use crate::ledger::{Issuer, KeyArgs, LedgerArgs, now};
use crate::qr;

/// Arguments of `publish`.
#[derive(Args, Debug)]
pub struct PublishArgs {
    /// The credential kind, e.g. `lawyer-license`.
    #[arg(long, required_unless_present = "reissue")]
    kind: Option<String>,
    /// The subject's claims: a JSON object (or a `.toml` file) of claim name → value.
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present_any = ["csv", "reissue"],
        conflicts_with_all = ["csv", "reissue"]
    )]
    subject: Option<PathBuf>,
    /// Reissue a credential (its `.credential.json`) under the key given, e.g. after the key
    /// that signed it was revoked (`key affected`): same claims, a new id; the old credential
    /// is then revoked as superseded.
    #[arg(long, value_name = "FILE", conflicts_with = "csv")]
    reissue: Option<PathBuf>,
    /// Publish a batch: a CSV file with a header row of claim names and one subject per row.
    /// Bad rows go to `report.csv` in `--out`; re-running the same batch is idempotent.
    #[arg(long, value_name = "FILE")]
    csv: Option<PathBuf>,
    #[command(flatten)]
    key: KeyArgs,
    #[command(flatten)]
    ledger: LedgerArgs,
    /// Where to write the holder's files.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// End of validity, ms since 1970 (default: none).
    #[arg(long, value_name = "MS")]
    valid_until_ms: Option<u64>,
    /// With `--csv`, also write each row's QR code as `<id>.png` and `<id>.svg`, as a single
    /// publication does (a few milliseconds a row; without it, `qr` makes them later).
    #[arg(long, requires = "csv")]
    images: bool,
    /// Print JSON instead of the terminal QR code.
    #[arg(long)]
    json: bool,
}

/// Largest subject file read.
const MAX_SUBJECT_BYTES: u64 = 64 * 1024;

/// The claims of `subject` in the kind's schema order; every missing or unknown claim named.
pub fn claims_for(schema: &credledger_core::state::KindDef, subject: &Value) -> Result<Vec<Claim>> {
    let obj = subject
        .as_object()
        .ok_or_else(|| anyhow!("the subject file must hold a JSON object of claim name → value"))?;
    let mut problems = Vec::new();
    let mut claims = Vec::new();
    for def in schema.claims.iter() {
        let name = def.key.as_str();
        match obj.get(name) {
            None => problems.push(format!("claim {name:?} is missing")),
            Some(v) => {
                let text = match v {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    other => {
                        problems.push(format!("claim {name:?} must be text, not {other}"));
                        continue;
                    }
                };
                if let Err(e) = def.format.check(&text) {
                    problems.push(format!("claim {name:?} ({}) {e}", def.label_en.as_str()));
                    continue;
                }
                match Text::<255>::new(text) {
                    Ok(value) => claims.push(Claim {
                        key: def.key.clone(),
                        value,
                    }),
                    Err(e) => problems.push(format!("claim {name:?}: {e}")),
                }
            }
        }
    }
    for k in obj.keys() {
        if !schema.claims.iter().any(|d| d.key.as_str() == k) {
            problems.push(format!("claim {k:?} is not part of kind {}", schema.id));
        }
    }
    if !problems.is_empty() {
        bail!(
            "the subject does not fit kind {}: {}",
            schema.id,
            problems.join("; ")
        );
    }
    check_claims(schema, &claims).map_err(|e| anyhow!(e))?;
    Ok(claims)
}

fn subject_claims(a: &PublishArgs, schema: &credledger_core::state::KindDef) -> Result<Vec<Claim>> {
    let subject_path = a
        .subject
        .as_ref()
        .ok_or_else(|| anyhow!("give --subject FILE, --csv FILE or --reissue FILE"))?;
    let bytes = read_limited(subject_path, MAX_SUBJECT_BYTES, "a subject file")
        .with_context(|| format!("cannot read {}", subject_path.display()))?;
    // A subject file is JSON, or TOML when its name says so.
    let subject: Value = if subject_path.extension().is_some_and(|e| e == "toml") {
        let text = String::from_utf8(bytes)
            .map_err(|_| anyhow!("{} is not UTF-8", subject_path.display()))?;
        toml::from_str(&text).with_context(|| format!("{} is not TOML", subject_path.display()))?
    } else {
        serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not JSON", subject_path.display()))?
    };
    claims_for(schema, &subject)
}

/// Refuses, before anything is published, a reissue that must not go ahead
/// (spec/credentials.md §5.1): a credential file that is not the one the ledger holds, or
/// whose claims its body does not commit to (the ministry would sign whatever the file says);
/// one another issuer's, absent, suspended, or revoked for any reason but a key compromise.
/// Returns whether the old credential is to be revoked once its replacement is published: not
/// when a key compromise already revoked it.
fn check_supersedable(
    ledger: &crate::ledger::Ledger,
    old: &HeldCredential,
    signer: &Issuer,
    schema: &KindDef,
) -> Result<bool> {
    let (id, issuer) = (old.body.id, &signer.id);
    if &old.body.issuer != issuer {
        bail!(
            "credential {id} was issued by {}, not by {issuer}; only its issuer may reissue it",
            old.body.issuer
        );
    }
    let Some(r) = ledger.credential_record(issuer, &id)? else {
        bail!(
            "credential {id} is not on the ledger, so there is nothing to supersede; publish \
             it with --subject instead"
        )
    };
    if r.digest != old.body.digest(&ledger.genesis.chain_id)
        || claims_root(&claim_digests(&old.seed, &old.claims)) != old.body.claims_root
    {
        bail!(
            "the file's credential {id} is not the one the ledger holds, or its claims were \
             altered; reissue from the ministry's own copy"
        );
    }
    check_claims(schema, &old.claims).map_err(|e| anyhow!("credential {id}: {e}"))?;
    match r.status {
        CredentialStatus::Active => Ok(true),
        CredentialStatus::Revoked {
            reason: ReasonCode::KeyCompromise,
        } => Ok(false),
        CredentialStatus::Suspended { reason } => bail!(
            "credential {id} is suspended ({}); a reissue would be in force at once: reinstate \
             it first, or revoke it",
            reason.as_str()
        ),
        CredentialStatus::Revoked { reason } => bail!(
            "credential {id} is already revoked ({}, at {}); {}",
            reason.as_str(),
            r.changed_at.taiwan_time(),
            if reason == ReasonCode::Superseded {
                // Naming the replacement is a courtesy: if the lookup fails, the refusal
                // still stands, with what is known.
                superseded_by(ledger, signer, &id)
                    .unwrap_or_else(|_| "its replacement was published then".to_string())
            } else {
                "a revoked credential is not reissued; publish a new one with --subject if the \
                 holder is entitled to it"
                    .to_string()
            }
        ),
    }
}

/// Names the replacement of the superseded credential `old`: the one a reissue with this key
/// publishes, if the ledger holds it, for the holder is to be given that one.
fn superseded_by(
    ledger: &crate::ledger::Ledger,
    issuer: &Issuer,
    old: &CredentialId,
) -> Result<String> {
    let replacement = CredentialId(replacement_id(issuer, old).0);
    Ok(match ledger.credential_record(&issuer.id, &replacement)? {
        Some(r) => format!(
            "its replacement is {replacement}, published in block {}; give the holder that one \
             (`credledger-issuer qr` on {replacement}.credential.json in that reissue's output \
             folder)",
            r.published_height
        ),
        None => "its replacement was published with another key of this issuer, or by another \
                 tool; this key's reissue is not on the ledger"
            .to_string(),
    })
}

/// The id and salt seed of the replacement of `old` under this issuer key: derived, not drawn,
/// so running a reissue again (after a crash between its two steps, say) finds the replacement
/// already published instead of publishing a second one (spec/hashing.md, `BatchCredential`).
fn replacement_id(issuer: &Issuer, old: &CredentialId) -> ([u8; 16], [u8; 16]) {
    let seed = issuer.key.seed();
    let id = crate::batch::derive(3, &[&seed, &old.0]);
    (id, crate::batch::derive(2, &[&seed, &id]))
}

/// The replacement an earlier run of the same reissue wrote to `out`, if it is there whole
/// and signed by this issuer key.
fn earlier_replacement(out: &Path, id: &CredentialId, issuer: &Issuer) -> Option<HeldCredential> {
    let path = out.join(id.to_string()).with_extension("credential.json");
    let bytes = read_limited(&path, MAX_DOCUMENT_BYTES, "a credential file").ok()?;
    let held: HeldCredential = serde_json::from_slice(&bytes).ok()?;
    (held.body.id == *id && held.body.issuer == issuer.id && held.body.key_id == issuer.key_id)
        .then_some(held)
}

/// Revokes `old` as superseded, naming what to do if that fails.
fn revoke_superseded(
    ledger: &crate::ledger::Ledger,
    issuer: &Issuer,
    old: &CredentialId,
    new: &CredentialId,
) -> Result<()> {
    ledger
        .submit(
            issuer,
            IssuerAction::Revoke {
                id: *old,
                reason: ReasonCode::Superseded,
            },
        )
        .with_context(|| {
            format!(
                "published {new} but could not revoke the old credential {old}; run the same \
                 reissue again, or revoke it with `revoke`"
            )
        })?;
    Ok(())
}

/// Runs `publish`.
pub fn run(a: &PublishArgs) -> Result<()> {
    let ledger = a.ledger.open()?;
    let old: Option<HeldCredential> = match &a.reissue {
        None => None,
        Some(f) => Some(
            serde_json::from_slice(
                &read_limited(f, MAX_DOCUMENT_BYTES, "a credential file")
                    .with_context(|| format!("cannot read {}", f.display()))?,
            )
            .with_context(|| format!("{} is not a credential file", f.display()))?,
        ),
    };
    let kind: KindId = match (&a.kind, &old) {
        (Some(k), _) => k.parse().map_err(|e| anyhow!("kind {k:?}: {e}"))?,
        (None, Some(o)) => o.body.kind.clone(),
        (None, None) => bail!("give --kind"),
    };
    if let Some(o) = &old
        && o.body.kind != kind
    {
        bail!(
            "the credential to reissue is a {}, not a {kind}",
            o.body.kind
        );
    }
    // The registry as the ledger's state holds it now (checked against genesis), so kinds,
    // issuers and keys that governance added or changed after genesis count.
    let schema = match ledger.state_entry(
        &format!("/v1/state/kind/{kind}"),
        &StateKey::Kind(kind.clone()),
    )? {
        Some(StateValue::Kind(def)) => def,
        _ => bail!("kind {kind} is not registered on the ledger"),
    };
    let issuer = a.key.open()?;
    let record = match ledger.state_entry(
        &format!("/v1/state/issuer/{}", issuer.id),
        &StateKey::Issuer(issuer.id.clone()),
    )? {
        Some(StateValue::Issuer(r)) => r,
        _ => bail!("issuer {} is not registered on the ledger", issuer.id),
    };
    if let Some(at) = record.removed_at {
        bail!("issuer {} was removed from the registry at {at}", issuer.id);
    }
    if !record.kinds.contains(&kind) {
        bail!(
            "issuer {} may not issue {kind}; it may issue: {}",
            issuer.id,
            record
                .kinds
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let key_record = match ledger.state_entry(
        &format!("/v1/state/issuer-key/{}/{}", issuer.id, issuer.key_id),
        &StateKey::IssuerKey(issuer.id.clone(), issuer.key_id.clone()),
    )? {
        Some(StateValue::IssuerKey(k)) => k,
        _ => bail!(
            "issuer key {} of {} is not registered on the ledger; the council registers it \
             (`governance propose` with add_issuer_key)",
            issuer.key_id,
            issuer.id
        ),
    };
    if let Some(from) = key_record.revoked_from.filter(|f| *f <= now()) {
        bail!(
            "issuer key {} is not valid: revoked from {}; use a current key of {} \
             (`key generate`, then governance add_issuer_key), and list what it signed since \
             with `key affected --issuer {} --key-id {}`",
            issuer.key_id,
            from.taiwan_time(),
            issuer.id,
            issuer.id,
            issuer.key_id
        );
    }
    if key_record.public_key != issuer.key.public() {
        bail!(
            "key file {} holds another key than {}/{} is registered with",
            a.key
                .key
                .as_deref()
                .unwrap_or(std::path::Path::new("(config)"))
                .display(),
            issuer.id,
            issuer.key_id
        );
    }
    let revoke_old = match &old {
        Some(o) => check_supersedable(&ledger, o, &issuer, &schema)?,
        None => false,
    };

    if let Some(csv) = &a.csv {
        let show_bar = !a.json && std::io::IsTerminal::is_terminal(&std::io::stderr());
        let summary = crate::batch::run(
            &ledger,
            &issuer,
            &kind,
            &schema,
            csv,
            crate::batch::OutFolder::open(&a.out)?.with_images(a.images),
            a.valid_until_ms.map(Timestamp),
            show_bar,
        )?;
        if a.json {
            println!("{summary}");
        } else {
            println!(
                "batch: {} rows: {} committed, {} skipped (already committed), {} errors; {} credentials/s; report {}",
                summary["rows"],
                summary["committed"],
                summary["skipped"],
                summary["errors"],
                summary["credentials_per_s"],
                summary["report"].as_str().unwrap_or_default()
            );
        }
        if let Some(rows) = summary["unsettled"].as_u64().filter(|n| *n > 0) {
            return Err(crate::batch::BatchUnsettled {
                rows,
                report: summary["report"].as_str().unwrap_or_default().to_string(),
            }
            .into());
        }
        if let Some(rows) = summary["errors"].as_u64().filter(|n| *n > 0) {
            return Err(crate::batch::BatchRowsFailed {
                rows,
                report: summary["report"].as_str().unwrap_or_default().to_string(),
            }
            .into());
        }
        return Ok(());
    }
    let claims = match &old {
        Some(o) => {
            if o.body.issuer != issuer.id {
                bail!(
                    "credential {} belongs to issuer {}, not {}",
                    o.body.id,
                    o.body.issuer,
                    issuer.id
                );
            }
            o.claims.to_vec()
        }
        None => subject_claims(a, &schema)?,
    };

    let (id, seed) = match &old {
        Some(o) => replacement_id(&issuer, &o.body.id),
        None => {
            let (mut id, mut seed) = ([0u8; 16], [0u8; 16]);
            rand::fill(&mut id[..]);
            rand::fill(&mut seed[..]);
            (id, seed)
        }
    };
    if let Some(o) = &old
        && let Some(r) = ledger.credential_record(&issuer.id, &CredentialId(id))?
    {
        // An earlier run published the replacement and stopped before revoking the old one
        // (or it was revoked for a key compromise): only what is left is done.
        if revoke_old {
            revoke_superseded(&ledger, &issuer, &o.body.id, &CredentialId(id))?;
        }
        let out = json!({
            "credential": CredentialId(id).to_string(),
            "issuer": issuer.id.to_string(),
            "height": r.published_height,
            "already_published": true,
            "replaces": o.body.id.to_string(),
        });
        if a.json {
            println!("{out}");
        } else {
            println!(
                "the replacement {} of {} was already published in block {}; {}",
                CredentialId(id),
                o.body.id,
                r.published_height,
                if revoke_old {
                    "the old one is now revoked as superseded"
                } else {
                    "nothing left to do"
                }
            );
        }
        return Ok(());
    }
    let body = CredentialBody {
        version: CREDENTIAL_VERSION,
        issuer: issuer.id.clone(),
        key_id: issuer.key_id.clone(),
        kind,
        id: CredentialId(id),
        valid_from: now(),
        // A reissue keeps the old end of validity unless told otherwise.
        valid_until: a
            .valid_until_ms
            .map(Timestamp)
            .or(old.as_ref().and_then(|o| o.body.valid_until)),
        claims_root: Digest::ZERO,
    };
    // A reissue run again while its first publication may still be pending sends that very
    // credential again, from the files the first run wrote, rather than signing another under
    // the same id (its start of validity would differ, and the holder's files with it).
    let earlier = old
        .as_ref()
        .and_then(|_| earlier_replacement(&a.out, &CredentialId(id), &issuer));
    let held = match earlier {
        Some(held) => held,
        None => HeldCredential::issue(
            &ledger.genesis.chain_id,
            body,
            seed,
            ShortVec::new(claims).map_err(|e| anyhow!("claims: {e}"))?,
            &issuer.key,
        ),
    };
    // The holder's files are written before the credential is submitted, so a publication
    // that commits while this process dies or stops waiting still leaves them behind; they
    // are removed only when the ledger refuses the credential.
    let presentation = Presentation::Compact(CompactPresentation {
        body: held.body.clone(),
        signature: held.signature,
        disclosure: held.disclose(None),
    });
    let text = presentation.to_qr_text();
    let code = qr::code(&text)?;
    let written = write_outputs(&a.out, &held, &text, &code)?;
    let submitted = ledger.submit(
        &issuer,
        IssuerAction::Publish {
            credentials: BoundedVec::new(vec![SignedBody {
                body: held.body.clone(),
                signature: held.signature,
            }])
            .map_err(|e| anyhow!("{e}"))?,
        },
    );
    let done = match submitted {
        Ok(done) => done,
        // A refusal of this transaction is not proof about the credential (another node may
        // hold a copy of it): the files go only when the ledger proves it absent.
        Err(e) if e.downcast_ref::<crate::ledger::Refused>().is_some() => {
            if let Ok(None) = ledger.credential_record(&held.body.issuer, &held.body.id) {
                for f in &written {
                    let _ = std::fs::remove_file(f);
                }
            }
            return Err(e);
        }
        Err(e) => {
            return Err(e.context(format!(
                "credential {id} may still be published: its files are in {dir}; check with \
                 `status {id} --issuer {issuer}`, and if it is not on the ledger, delete them \
                 and publish again",
                id = held.body.id,
                dir = a.out.display(),
                issuer = held.body.issuer,
            )));
        }
    };

    let superseded = match &old {
        None => None,
        Some(o) if !revoke_old => Some(o.body.id.to_string()),
        Some(o) => {
            revoke_superseded(&ledger, &issuer, &o.body.id, &held.body.id)?;
            Some(o.body.id.to_string())
        }
    };

    let out = json!({
        "credential": held.body.id.to_string(),
        "issuer": held.body.issuer.to_string(),
        "kind": held.body.kind.to_string(),
        "transaction": done.tx,
        "height": done.height,
        "qr_version": qr::version(&code),
        "files": written,
        "replaces": superseded,
    });
    if a.json {
        println!("{out}");
    } else {
        println!("{}", qr::terminal(&code));
        println!(
            "published credential {} ({}) in block {}",
            held.body.id, held.body.kind, done.height
        );
        println!(
            "QR version {} at ECC M; files: {}",
            qr::version(&code),
            written.join(", ")
        );
    }
    Ok(())
}

fn write_outputs(
    dir: &Path,
    held: &HeldCredential,
    text: &str,
    code: &qrcode::QrCode,
) -> Result<Vec<String>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let base = dir.join(held.body.id.to_string());
    let files = [
        (
            base.with_extension("credential.json"),
            serde_json::to_vec_pretty(held)?,
        ),
        (
            base.with_extension("qr.txt"),
            format!("{text}\n").into_bytes(),
        ),
        (base.with_extension("png"), qr::png(code)?),
        (base.with_extension("svg"), qr::svg(code).into_bytes()),
    ];
    // Flushed to disk, folder entries included, before the credential is sent: the holder's
    // files must outlive a power loss once it may be published.
    let mut names = Vec::new();
    for (path, bytes) in files {
        std::fs::File::create(&path)
            .and_then(|mut f| {
                std::io::Write::write_all(&mut f, &bytes)?;
                f.sync_data()
            })
            .with_context(|| format!("cannot write {}", path.display()))?;
        names.push(path.display().to_string());
    }
    crate::batch::sync_dir(dir)?;
    Ok(names)
}
