//! Issuer transactions: publish, suspend, reinstate, revoke (spec/transactions.md §2).

use std::collections::HashMap;

use super::{Ctx, Outcome, StateReader, TxError};
use crate::credential::{CREDENTIAL_VERSION, CredentialBody};
use crate::hash::Domain;
use crate::history::CredentialEvent;
use crate::ids::{CredentialId, KeyId, Nonce};
use crate::sig::{BatchVerifier, PreparedKey, PublicKey};
use crate::state::{
    CredentialRecord, CredentialStatus, IssuerKeyRecord, IssuerRecord, StateKey, StateValue,
    StatusChange,
};
use crate::tx::{IssuerAction, IssuerTx, Signed, SignedBody};

pub(super) fn apply<R: StateReader>(ctx: &mut Ctx<'_, '_, R>, s: &Signed<IssuerTx>) -> Outcome {
    let tx = &s.body;
    // §2.3 rule 1: a registered, present issuer, and a key that covers the block time.
    let issuer = match issuer_record(ctx, tx) {
        Ok(i) => i,
        Err(e) => return Outcome::Unauthorized(e),
    };
    let key = match key_record(ctx, tx, &tx.key_id) {
        Ok(k) => k,
        Err(e) => return Outcome::Unauthorized(e),
    };
    let message = Signed::signing_message(&ctx.env.chain_id, tx);
    if !ctx.already_checked(&key.public_key)
        && key
            .public_key
            .verify_zip215(Domain::SignTransaction, &message, &s.signature)
            .is_err()
    {
        return Outcome::Unauthorized(TxError::BadSignature);
    }
    // §2.3 rule 2 and §5: the issuer's next nonce, spent from here on.
    let nonce_key = StateKey::IssuerNonce(tx.issuer.clone());
    let next = match ctx.get(&nonce_key) {
        Some(StateValue::Nonce { next }) => next,
        None => Nonce(0),
        Some(_) => return Outcome::Unauthorized(TxError::CorruptState("issuer nonce")),
    };
    if tx.nonce != next {
        return Outcome::Unauthorized(TxError::WrongNonce {
            expected: next,
            got: tx.nonce,
        });
    }
    let spent = (
        nonce_key,
        StateValue::Nonce {
            next: Nonce(next.0.saturating_add(1)),
        },
    );
    ctx.put(spent.0.clone(), spent.1.clone());

    let result = match &tx.action {
        IssuerAction::Publish { credentials } => publish(ctx, tx, &issuer, credentials),
        IssuerAction::Suspend { id, reason } => {
            change(ctx, tx, *id, StatusChange::Suspend(*reason))
        }
        IssuerAction::Reinstate { id } => change(ctx, tx, *id, StatusChange::Reinstate),
        IssuerAction::Revoke { id, reason } => change(ctx, tx, *id, StatusChange::Revoke(*reason)),
    };
    match result {
        Ok(()) => Outcome::Done,
        Err(e) => Outcome::Refused(e, vec![spent]),
    }
}

fn issuer_record<R: StateReader>(
    ctx: &Ctx<'_, '_, R>,
    tx: &IssuerTx,
) -> Result<IssuerRecord, TxError> {
    match ctx.get(&StateKey::Issuer(tx.issuer.clone())) {
        Some(StateValue::Issuer(r)) if r.removed_at.is_none() => Ok(r),
        Some(StateValue::Issuer(_)) => Err(TxError::IssuerRemoved(tx.issuer.clone())),
        Some(_) => Err(TxError::CorruptState("issuer")),
        None => Err(TxError::UnknownIssuer(tx.issuer.clone())),
    }
}

fn key_record<R: StateReader>(
    ctx: &Ctx<'_, '_, R>,
    tx: &IssuerTx,
    key_id: &KeyId,
) -> Result<IssuerKeyRecord, TxError> {
    let key = match ctx.get(&StateKey::IssuerKey(tx.issuer.clone(), key_id.clone())) {
        Some(StateValue::IssuerKey(k)) => k,
        Some(_) => return Err(TxError::CorruptState("issuer key")),
        None => {
            return Err(TxError::UnknownKey {
                issuer: tx.issuer.clone(),
                key_id: key_id.clone(),
            });
        }
    };
    if !key.covers(ctx.env.time) {
        return Err(TxError::KeyNotValid {
            key_id: key_id.clone(),
            at: ctx.env.time,
            valid_from: key.valid_from,
            revoked_from: key.revoked_from,
        });
    }
    Ok(key)
}

/// Whether every credential signature of `credentials` that this node must still check holds,
/// checked as one ZIP-215 batch. `false` (a bad signature somewhere, or nothing to check) leaves
/// each to be checked alone; ZIP-215 accepts the same signatures either way
/// (spec/signatures.md §3), so the transaction's outcome does not depend on which path ran.
fn batch_holds<R: StateReader>(
    ctx: &Ctx<'_, '_, R>,
    tx: &IssuerTx,
    credentials: &[SignedBody],
) -> bool {
    let mut keys: HashMap<&KeyId, Option<PublicKey>> = HashMap::new();
    let mut batch = BatchVerifier::new();
    for sb in credentials {
        let b = &sb.body;
        let key = *keys
            .entry(&b.key_id)
            .or_insert_with(|| key_record(ctx, tx, &b.key_id).ok().map(|k| k.public_key));
        // A key that cannot be read refuses its credential before the signature is reached.
        let Some(key) = key else { continue };
        if !ctx.already_checked(&key) {
            let message = b.signing_message(&ctx.env.chain_id);
            batch.queue(&key, Domain::SignCredential, &message, &sb.signature);
        }
    }
    !batch.is_empty() && batch.verify().is_ok()
}

/// §2.3 rule 3, the checks of a body that read nothing but the transaction and its issuer's
/// record: a known version, this issuer's body, a kind the issuer may issue. Admission makes
/// the same checks with this function.
pub(super) fn body_form(
    b: &CredentialBody,
    tx: &IssuerTx,
    issuer: &IssuerRecord,
) -> Result<(), TxError> {
    if b.version != CREDENTIAL_VERSION {
        return Err(TxError::CredentialVersion {
            id: b.id,
            version: b.version,
        });
    }
    if b.issuer != tx.issuer {
        return Err(TxError::ForeignBody {
            id: b.id,
            body_issuer: b.issuer.clone(),
            issuer: tx.issuer.clone(),
        });
    }
    if !issuer.kinds.contains(&b.kind) {
        return Err(TxError::KindNotAuthorized {
            issuer: tx.issuer.clone(),
            kind: b.kind.clone(),
        });
    }
    Ok(())
}

/// §2.3 rule 3: all credentials of the batch are anchored, or none.
fn publish<R: StateReader>(
    ctx: &mut Ctx<'_, '_, R>,
    tx: &IssuerTx,
    issuer: &IssuerRecord,
    credentials: &[SignedBody],
) -> Result<(), TxError> {
    if credentials.is_empty() {
        return Err(TxError::EmptyBatch);
    }
    // Signatures that admission on this node did not check (a block from a peer's mempool, or
    // one replayed while catching up) are checked in one batch first; only if it fails are they
    // checked one by one below, which names the first bad one.
    let batch_held = batch_holds(ctx, tx, credentials);
    // Read each signing key once per batch, and decompress it (the costly part) only if a
    // signature under it still needs checking: admission on this node usually checked them.
    let mut keys: HashMap<KeyId, (PublicKey, Option<PreparedKey>)> = HashMap::new();
    for sb in credentials {
        let b = &sb.body;
        body_form(b, tx, issuer)?;
        if !matches!(
            ctx.get(&StateKey::Kind(b.kind.clone())),
            Some(StateValue::Kind(_))
        ) {
            return Err(TxError::UnknownKind(b.kind.clone()));
        }
        if !keys.contains_key(&b.key_id) {
            let record = key_record(ctx, tx, &b.key_id)?;
            keys.insert(b.key_id.clone(), (record.public_key, None));
        }
        let (public, prepared) = keys
            .get_mut(&b.key_id)
            .ok_or(TxError::CorruptState("prepared key"))?;
        if !ctx.already_checked(public) {
            let prepared = match prepared {
                Some(p) => p,
                None => prepared.insert(
                    public
                        .prepare()
                        .map_err(|_| TxError::BadPublicKey(*public))?,
                ),
            };
            if !batch_held {
                b.verify_signature(&ctx.env.chain_id, prepared, &sb.signature)
                    .map_err(|_| TxError::BadCredentialSignature(b.id))?;
            }
        }
        let key = StateKey::Credential(tx.issuer.clone(), b.id);
        if ctx.get(&key).is_some() {
            return Err(TxError::DuplicateCredential(b.id));
        }
        let record =
            CredentialRecord::published(b.digest(&ctx.env.chain_id), ctx.env.height, ctx.env.time);
        let publication = CredentialEvent {
            height: ctx.env.height,
            time: ctx.env.time,
            status: CredentialStatus::Active,
        };
        ctx.event(tx.issuer.clone(), b.id, publication);
        ctx.put(key, StateValue::Credential(record));
    }
    Ok(())
}

/// §2.3 rule 4: only the issuing issuer reaches its own credentials (the key names it).
fn change<R: StateReader>(
    ctx: &mut Ctx<'_, '_, R>,
    tx: &IssuerTx,
    id: CredentialId,
    change: StatusChange,
) -> Result<(), TxError> {
    let key = StateKey::Credential(tx.issuer.clone(), id);
    let mut record = match ctx.get(&key) {
        Some(StateValue::Credential(r)) => r,
        Some(_) => return Err(TxError::CorruptState("credential")),
        None => {
            return Err(TxError::UnknownCredential {
                issuer: tx.issuer.clone(),
                id,
            });
        }
    };
    let event = CredentialEvent {
        height: ctx.env.height,
        time: ctx.env.time,
        status: record
            .status
            .apply(change)
            .map_err(|error| TxError::Transition { id, error })?,
    };
    record.record(&event);
    ctx.event(tx.issuer.clone(), id, event);
    ctx.put(key, StateValue::Credential(record));
    Ok(())
}
