//! The checks a node makes before a transaction enters its mempool: who signs, whether the
//! signatures hold (its own and its credentials', checked in one ZIP-215 batch across
//! transactions), and which nonce slot it takes. Execution checks everything again at commit; admission only keeps junk out and lets
//! the mempool order each signer's transactions by nonce.

use super::{StateReader, TxError};
use crate::hash::Domain;
use crate::ids::{ChainId, CredentialId, IssuerId, LogSourceId, Nonce, Timestamp};
use crate::sig::{BatchVerifier, PublicKey, Signature, SignatureError};
use crate::state::{StateKey, StateValue};
use crate::tx::{IssuerAction, Signed, Transaction};

/// Whose sequence a transaction belongs to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Signer {
    /// An issuer's nonces.
    Issuer(IssuerId),
    /// The governance council's nonces.
    Council,
    /// A log source's anchor sequence.
    LogSource(LogSourceId),
}

/// An admitted transaction's place in its signer's sequence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Admission {
    /// Whose sequence.
    pub signer: Signer,
    /// Its nonce (for anchors, its sequence number).
    pub nonce: u64,
    /// The next nonce the committed state expects from this signer.
    pub next: u64,
    /// The keys under which this transaction's issuer or log-source signature and its
    /// credentials' signatures were checked and held (spec/transactions.md §7.2), so execution
    /// on this node need not check them again.
    pub checked: Vec<PublicKey>,
}

/// One signature a transaction carries, with the credential it signs (`None`: the transaction
/// or an approval), which names the refusal if it does not hold.
type Sig = (PublicKey, Domain, Vec<u8>, Signature, Option<CredentialId>);

/// Signatures to check for one transaction, in the order execution checks them.
type Sigs = Vec<Sig>;

/// Admission checks for a batch of incoming transactions at time `now`; one result per
/// transaction, in order. Nonces may run ahead of the state (queued behind others) but not
/// behind it (replays).
pub fn admit(
    state: &impl StateReader,
    chain: &ChainId,
    now: Timestamp,
    txs: &[Transaction],
) -> Vec<Result<Admission, TxError>> {
    let mut results = Vec::with_capacity(txs.len());
    let mut sigs: Vec<Sigs> = Vec::with_capacity(txs.len());
    let mut batch = BatchVerifier::new();
    for tx in txs {
        match precheck(state, chain, now, tx) {
            Ok((admission, s)) => {
                for (key, domain, message, sig, _) in &s {
                    batch.queue(key, *domain, message, sig);
                }
                results.push(Ok(admission));
                sigs.push(s);
            }
            Err(e) => {
                results.push(Err(e));
                sigs.push(Vec::new());
            }
        }
    }
    // One batch for all; only if it fails, find the culprits one by one. ZIP-215 makes both
    // checks accept exactly the same signatures (spec/signatures.md §3).
    if batch.verify().is_err() {
        for (r, s) in results.iter_mut().zip(&sigs) {
            if r.is_err() {
                continue;
            }
            if let Some(e) = first_bad(s) {
                *r = Err(e);
            }
        }
    }
    results
}

fn read(state: &impl StateReader, key: &StateKey) -> Result<Option<StateValue>, TxError> {
    state
        .read(key)
        .map_err(|_| TxError::CorruptState("unreadable"))
}

fn precheck(
    state: &impl StateReader,
    chain: &ChainId,
    now: Timestamp,
    tx: &Transaction,
) -> Result<(Admission, Sigs), TxError> {
    match tx {
        Transaction::Issuer(s) => {
            let t = &s.body;
            let issuer = match read(state, &StateKey::Issuer(t.issuer.clone()))? {
                Some(StateValue::Issuer(r)) if r.removed_at.is_none() => r,
                Some(StateValue::Issuer(_)) => {
                    return Err(TxError::IssuerRemoved(t.issuer.clone()));
                }
                _ => return Err(TxError::UnknownIssuer(t.issuer.clone())),
            };
            let key = issuer_key(state, &t.issuer, &t.key_id, now)?;
            let next = match read(state, &StateKey::IssuerNonce(t.issuer.clone()))? {
                Some(StateValue::Nonce { next }) => next.0,
                _ => 0,
            };
            if t.nonce.0 < next {
                return Err(TxError::WrongNonce {
                    expected: Nonce(next),
                    got: t.nonce,
                });
            }
            // The transaction's own signature first, then its credentials', in the order
            // execution checks them (spec/transactions.md §2.3).
            let message = Signed::signing_message(chain, t);
            let mut sigs: Sigs = vec![(key, Domain::SignTransaction, message, s.signature, None)];
            let mut checked = vec![key];
            if let IssuerAction::Publish { credentials } = &t.action {
                if credentials.is_empty() {
                    return Err(TxError::EmptyBatch);
                }
                let found = publish_sigs(
                    state,
                    chain,
                    now,
                    t,
                    key,
                    &issuer,
                    credentials,
                    &mut sigs,
                    &mut checked,
                );
                if let Err(e) = found {
                    // Execution stops at the first signature that fails, so a bad one before
                    // the refused credential is what it would name.
                    return Err(first_bad(&sigs).unwrap_or(e));
                }
            }
            let admission = Admission {
                signer: Signer::Issuer(t.issuer.clone()),
                nonce: t.nonce.0,
                next,
                checked,
            };
            Ok((admission, sigs))
        }
        Transaction::Governance {
            proposal,
            approvals,
        } => {
            let council = match read(state, &StateKey::Governance)? {
                Some(StateValue::Governance(g)) => g,
                _ => return Err(TxError::CorruptState("governance")),
            };
            if proposal.nonce < council.next_nonce {
                return Err(TxError::WrongNonce {
                    expected: council.next_nonce,
                    got: proposal.nonce,
                });
            }
            // Membership, duplicates and threshold as `check_approvals`, with the nonce allowed
            // to run ahead; the signatures join the shared batch.
            let mut seen = std::collections::BTreeSet::new();
            for a in approvals.iter() {
                if !council.keys.contains(&a.key) {
                    return Err(crate::tx::ApprovalError::NotCouncil(a.key).into());
                }
                if !seen.insert(a.key) {
                    return Err(crate::tx::ApprovalError::Duplicate(a.key).into());
                }
            }
            if approvals.len() < usize::from(council.threshold) {
                return Err(crate::tx::ApprovalError::BelowThreshold {
                    got: approvals.len(),
                    threshold: council.threshold,
                }
                .into());
            }
            let message = proposal.signing_message(chain);
            let sigs = approvals
                .iter()
                .map(|a| {
                    (
                        a.key,
                        Domain::SignGovernance,
                        message.clone(),
                        a.signature,
                        None,
                    )
                })
                .collect();
            Ok((
                Admission {
                    signer: Signer::Council,
                    nonce: proposal.nonce.0,
                    next: council.next_nonce.0,
                    // Governance actions are rare: execution checks their approvals again.
                    checked: Vec::new(),
                },
                sigs,
            ))
        }
        Transaction::Anchor(s) => {
            let a = &s.body;
            let source = match read(state, &StateKey::LogSource(a.source.clone()))? {
                Some(StateValue::LogSource(r)) if r.removed_at.is_none() => r,
                Some(StateValue::LogSource(_)) => {
                    return Err(TxError::LogSourceRemoved(a.source.clone()));
                }
                _ => return Err(TxError::UnknownLogSource(a.source.clone())),
            };
            let next = source.last_sequence.saturating_add(1);
            if a.sequence < next {
                return Err(TxError::WrongSequence {
                    expected: next,
                    got: a.sequence,
                });
            }
            let message = Signed::signing_message(chain, a);
            let admission = Admission {
                signer: Signer::LogSource(a.source.clone()),
                nonce: a.sequence,
                next,
                checked: vec![source.public_key],
            };
            Ok((
                admission,
                vec![(
                    source.public_key,
                    Domain::SignTransaction,
                    message,
                    s.signature,
                    None,
                )],
            ))
        }
    }
}

/// The signatures of a publish transaction's credentials, queued after the transaction's in
/// `sigs`, with the checks of each body that need no signature (spec/transactions.md §2.3).
#[allow(clippy::too_many_arguments)]
fn publish_sigs(
    state: &impl StateReader,
    chain: &ChainId,
    now: Timestamp,
    t: &crate::tx::IssuerTx,
    key: PublicKey,
    issuer: &crate::state::IssuerRecord,
    credentials: &[crate::tx::SignedBody],
    sigs: &mut Sigs,
    checked: &mut Vec<PublicKey>,
) -> Result<(), TxError> {
    for sb in credentials.iter() {
        let b = &sb.body;
        super::issuer::body_form(b, t, issuer)?;
        let body_key = if b.key_id == t.key_id {
            key
        } else {
            issuer_key(state, &t.issuer, &b.key_id, now)?
        };
        // Registered keys passed `prepare` when they were registered. A key that no longer
        // decompresses (a corrupt state) fails the batch, and `first_bad` then names it.
        // The signature joins the shared batch (spec/signatures.md §3): one
        // issuer's credentials share its key, and a batch by one key costs about a
        // quarter of single checks.
        sigs.push((
            body_key,
            Domain::SignCredential,
            b.signing_message(chain),
            sb.signature,
            Some(b.id),
        ));
        if !checked.contains(&body_key) {
            checked.push(body_key);
        }
    }
    Ok(())
}

/// The refusal of the first signature in `sigs` that does not hold, checked one at a time:
/// for a credential, a key that is not a valid point is named as such, as execution names it.
fn first_bad(sigs: &[Sig]) -> Option<TxError> {
    sigs.iter().find_map(|(k, d, m, sig, credential)| {
        match (k.verify_zip215(*d, m, sig), credential) {
            (Ok(()), _) => None,
            (Err(_), None) => Some(TxError::BadSignature),
            (Err(SignatureError::BadKey), Some(_)) => Some(TxError::BadPublicKey(*k)),
            (Err(SignatureError::Invalid), Some(id)) => Some(TxError::BadCredentialSignature(*id)),
        }
    })
}

fn issuer_key(
    state: &impl StateReader,
    issuer: &IssuerId,
    key_id: &crate::ids::KeyId,
    now: Timestamp,
) -> Result<PublicKey, TxError> {
    match read(state, &StateKey::IssuerKey(issuer.clone(), key_id.clone()))? {
        Some(StateValue::IssuerKey(k)) if k.covers(now) => Ok(k.public_key),
        Some(StateValue::IssuerKey(k)) => Err(TxError::KeyNotValid {
            key_id: key_id.clone(),
            at: now,
            valid_from: k.valid_from,
            revoked_from: k.revoked_from,
        }),
        _ => Err(TxError::UnknownKey {
            issuer: issuer.clone(),
            key_id: key_id.clone(),
        }),
    }
}
