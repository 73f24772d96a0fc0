//! `publish`: one credential from a subject file: schema checked against the registry of the
//! genesis, signed with the sealed issuer key, submitted and waited for; the holder's files and
//! QR codes are written. Only the credential's digest goes to the ledger.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use credledger_core::TrustAnchor;
use credledger_core::bounded::{BoundedVec, ShortVec, Text};
use credledger_core::credential::{
    CREDENTIAL_VERSION, Claim, CredentialBody, HeldCredential, check_claims,
};
use credledger_core::encoding::encode;
use credledger_core::genesis::Genesis;
use credledger_core::hash::Digest;
use credledger_core::ids::{CredentialId, KindId, Nonce, Timestamp};
use credledger_core::presentation::{CompactPresentation, Presentation};
use credledger_core::state::StateValue;
use credledger_core::tx::{IssuerAction, IssuerTx, Signed, SignedBody, Transaction};
use serde_json::{Value, json};

use crate::client::Nodes;
use crate::key::Passphrase;
use crate::qr;

/// Arguments of `publish`.
#[derive(Args, Debug)]
pub struct PublishArgs {
    /// The credential kind, e.g. `lawyer-license`.
    #[arg(long)]
    kind: String,
    /// The subject's claims: a JSON object of claim name → value, in any order.
    #[arg(long, value_name = "FILE")]
    subject: PathBuf,
    /// The issuer's sealed key file (`key generate`, `key import`).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    #[command(flatten)]
    pass: Passphrase,
    /// The chain's genesis file: the trusted source of kinds and issuers.
    #[arg(long, value_name = "FILE", env = "CREDLEDGER_GENESIS")]
    genesis: PathBuf,
    /// A node's API URL; repeat for fail-over.
    #[arg(
        long = "node",
        value_name = "URL",
        env = "CREDLEDGER_NODE",
        value_delimiter = ','
    )]
    nodes: Vec<String>,
    /// Where to write the holder's files.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// End of validity, ms since 1970 (default: none).
    #[arg(long, value_name = "MS")]
    valid_until_ms: Option<u64>,
    /// Print JSON instead of the terminal QR code.
    #[arg(long)]
    json: bool,
}

/// Largest subject file read.
const MAX_SUBJECT_BYTES: u64 = 64 * 1024;

fn now() -> Timestamp {
    Timestamp(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0),
    )
}

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

/// Runs `publish`.
pub fn run(a: &PublishArgs) -> Result<()> {
    let genesis = read_genesis(&a.genesis)?;
    let anchor = TrustAnchor::from_genesis(&genesis)?;
    let kind: KindId = a
        .kind
        .parse()
        .map_err(|e| anyhow!("kind {:?}: {e}", a.kind))?;
    let schema = anchor
        .registry()
        .kind(&kind)
        .ok_or_else(|| anyhow!("kind {kind} is not in the genesis registry"))?
        .clone();

    let passphrase = a.pass.get(false)?;
    let (file, key) = credledger_issuer::keystore::read(&a.key, &passphrase)?;
    let issuer = file
        .issuer
        .parse()
        .map_err(|e| anyhow!("issuer in key file: {e}"))?;
    let key_id = file
        .key_id
        .parse()
        .map_err(|e| anyhow!("key id in key file: {e}"))?;
    let record = anchor
        .registry()
        .issuer(&issuer)
        .ok_or_else(|| anyhow!("issuer {issuer} is not registered"))?;
    if !record.kinds.contains(&kind) {
        bail!(
            "issuer {issuer} may not issue {kind}; it may issue: {}",
            record
                .kinds
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if let Some(reg) = anchor.registry().key(&issuer, &key_id)
        && reg.record.public_key != key.public()
    {
        bail!(
            "key file {} holds another key than {issuer}/{key_id} is registered with",
            a.key.display()
        );
    }

    let len = std::fs::metadata(&a.subject)
        .with_context(|| format!("cannot read {}", a.subject.display()))?
        .len();
    if len > MAX_SUBJECT_BYTES {
        bail!(
            "{} is {len} bytes; at most {MAX_SUBJECT_BYTES}",
            a.subject.display()
        );
    }
    let subject: Value = serde_json::from_slice(&std::fs::read(&a.subject)?)
        .with_context(|| format!("{} is not JSON", a.subject.display()))?;
    let claims = claims_for(&schema, &subject)?;

    let mut id = [0u8; 16];
    let mut seed = [0u8; 16];
    rand::fill(&mut id[..]);
    rand::fill(&mut seed[..]);
    let body = CredentialBody {
        version: CREDENTIAL_VERSION,
        issuer: issuer.clone(),
        key_id: key_id.clone(),
        kind,
        id: CredentialId(id),
        valid_from: now(),
        valid_until: a.valid_until_ms.map(Timestamp),
        claims_root: Digest::ZERO,
    };
    let held = HeldCredential::issue(
        &genesis.chain_id,
        body,
        seed,
        ShortVec::new(claims).map_err(|e| anyhow!("claims: {e}"))?,
        &key,
    );

    let nodes = Nodes::new(&a.nodes)?;
    let answer = nodes.get(&format!("/v1/state/issuer-nonce/{issuer}"))?;
    let nonce = match serde_json::from_value::<Option<StateValue>>(answer.body["value"].clone()) {
        Ok(Some(StateValue::Nonce { next })) => next,
        Ok(None) => Nonce(0),
        _ => bail!(
            "the node's answer for the issuer nonce is not understood: {}",
            answer.body
        ),
    };
    let tx = Transaction::Issuer(Signed::sign(
        &genesis.chain_id,
        IssuerTx {
            issuer,
            key_id,
            nonce,
            action: IssuerAction::Publish {
                credentials: BoundedVec::new(vec![SignedBody {
                    body: held.body.clone(),
                    signature: held.signature,
                }])
                .map_err(|e| anyhow!("{e}"))?,
            },
        },
        &key,
    ));
    let answer = nodes.submit(&encode(&tx), 8_000)?;
    if answer.status != 200 {
        bail!(
            "the ledger refused the credential: {}",
            answer.body["message"]
                .as_str()
                .unwrap_or(&answer.body.to_string())
        );
    }
    match (answer.body["state"].as_str(), &answer.body["error"]) {
        (Some("committed"), Value::Null) => {}
        (Some("committed"), err) => bail!("the ledger refused the credential: {err}"),
        _ => bail!(
            "transaction {} was admitted but not committed within 8 s; check it with `status`",
            tx.id()
        ),
    }
    let height = answer.body["height"].as_u64().unwrap_or(0);

    let presentation = Presentation::Compact(CompactPresentation {
        body: held.body.clone(),
        signature: held.signature,
        disclosure: held.disclose(None),
    });
    let text = presentation.to_qr_text();
    let code = qr::code(&text)?;
    let written = write_outputs(&a.out, &held, &text, &code)?;
    let out = json!({
        "credential": held.body.id.to_string(),
        "issuer": held.body.issuer.to_string(),
        "kind": held.body.kind.to_string(),
        "transaction": tx.id().to_string(),
        "height": height,
        "qr_version": qr::version(&code),
        "files": written,
    });
    if a.json {
        println!("{out}");
    } else {
        println!("{}", qr::terminal(&code));
        println!(
            "published credential {} ({}) in block {height}",
            held.body.id, held.body.kind
        );
        println!(
            "QR version {} at ECC M; files: {}",
            qr::version(&code),
            written.join(", ")
        );
    }
    Ok(())
}

fn read_genesis(path: &Path) -> Result<Genesis> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(Genesis::from_json(&bytes)?)
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
    let mut names = Vec::new();
    for (path, bytes) in files {
        std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
        names.push(path.display().to_string());
    }
    Ok(names)
}
