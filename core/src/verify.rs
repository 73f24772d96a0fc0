//! `verify`: the one verification algorithm used by the verifier service, the issuer CLI and the
//! tests (spec/verification.md, whose steps are cited below).

mod absence;
mod anchor;
mod answer;
mod describe;
mod log_evidence;
mod rejection;
mod set_change;
mod signatures;

pub use absence::{AbsenceEvidence, PUBLICATION_GRACE_MS, verify_absence, verify_absence_with};
pub use anchor::TrustAnchor;
pub use answer::{HeaderAnswer, StateAnswer};
pub use describe::{Description, ShownClaim, describe, describe_claims};
pub use log_evidence::{
    AnchorEvidence, EVIDENCE_MAGIC, EVIDENCE_VERSION, LogEvidence, LogVerdict, MAX_EVIDENCE_BYTES,
    MAX_SET_CHANGES, verify_anchor, verify_log_evidence,
};
pub use rejection::{Check, Outcome, Rejection};
pub use set_change::{SetChange, learn_from_answer, learn_set_changes};
pub use signatures::{SignatureBatch, SignatureItems};

use serde::Serialize;

use crate::block::{CommitCertificate, CommitError, HEADER_VERSION, Header, ValidatorSet};
use crate::credential::{CREDENTIAL_VERSION, Claim, claims_root};
use crate::hash::Domain;
use crate::ids::{CredentialId, Height, IssuerId, KeyId, KindId, Timestamp};
use crate::presentation::{CompactPresentation, Presentation, PresentationError, StatusEvidence};
use crate::state::{CredentialStatus, StateKey};

/// What the caller requires beyond genuineness.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Refuse a presentation that brings no status evidence (a compact one the caller did not
    /// complete with a fresh proof from the ledger).
    pub require_status: bool,
    /// Refuse status evidence from a header older than this, in milliseconds.
    pub max_status_age_ms: Option<u64>,
}

impl Policy {
    /// A live check, as the public verifier makes: status required, at most 10 s old.
    pub const LIVE: Policy = Policy {
        require_status: true,
        max_status_age_ms: Some(10_000),
    };
    /// An offline check of a full presentation: status required, reported "as of" its time.
    pub const OFFLINE: Policy = Policy {
        require_status: true,
        max_status_age_ms: None,
    };
    /// Genuineness only (signature, issuer, claims); status is reported as not checked.
    pub const GENUINENESS: Policy = Policy {
        require_status: false,
        max_status_age_ms: None,
    };
}

/// What the ledger said about the credential's status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum StatusFinding {
    /// Active according to a verified header.
    Active {
        /// Height of that header.
        height: Height,
        /// Time of that header: the status is known as of this time.
        as_of: Timestamp,
        /// Time of the block that published the credential.
        published_at: Timestamp,
    },
    /// No status evidence was checked (allowed by the policy).
    NotChecked,
}

/// A credential that passed every check the policy asked for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// The credential.
    pub credential: CredentialId,
    /// The issuer.
    pub issuer: IssuerId,
    /// Issuer name, Traditional Chinese.
    pub issuer_name_zh: String,
    /// Issuer name, English.
    pub issuer_name_en: String,
    /// The kind.
    pub kind: KindId,
    /// The issuer key that signed.
    pub key_id: KeyId,
    /// Start of validity.
    pub valid_from: Timestamp,
    /// End of validity, if any.
    pub valid_until: Option<Timestamp>,
    /// Claims the holder disclosed, in order.
    pub disclosed: Vec<Claim>,
    /// How many claims stayed hidden.
    pub hidden_claims: usize,
    /// The status finding.
    pub status: StatusFinding,
    /// The checks made, in order; every one passed.
    pub checks: Vec<Check>,
}

/// Decodes a presentation's text form and verifies it.
pub fn verify_text(
    text: &str,
    anchor: &TrustAnchor,
    now: Timestamp,
    policy: &Policy,
) -> Result<Verdict, Rejection> {
    let p = Presentation::from_text(text)?;
    verify(&p, anchor, now, policy)
}

impl From<PresentationError> for Rejection {
    fn from(e: PresentationError) -> Rejection {
        match e {
            PresentationError::TooLong { len, max } => Rejection::Oversized { len, max },
            PresentationError::Decode(crate::encoding::DecodeError::TooLarge { len, max }) => {
                Rejection::Oversized { len, max }
            }
            other => Rejection::Malformed {
                reason: other.to_string(),
            },
        }
    }
}

/// Verifies a presentation against a trust anchor at time `now` (spec/verification.md §2).
pub fn verify(
    p: &Presentation,
    anchor: &TrustAnchor,
    now: Timestamp,
    policy: &Policy,
) -> Result<Verdict, Rejection> {
    verify_parts(p.compact(), p.evidence(), anchor, now, policy)
}

/// [`verify`] of a compact presentation with status evidence obtained elsewhere (a verifier
/// asks the ledger for it), without building a full presentation.
pub fn verify_parts(
    c: &CompactPresentation,
    evidence: Option<&StatusEvidence>,
    anchor: &TrustAnchor,
    now: Timestamp,
    policy: &Policy,
) -> Result<Verdict, Rejection> {
    verify_parts_with(c, evidence, anchor, now, policy, &SignatureBatch::none())
}

/// [`verify_parts`] where the issuer signature may already have been checked in a batch
/// (`signatures`); the verdict is the same as without it.
pub fn verify_parts_with(
    c: &CompactPresentation,
    evidence: Option<&StatusEvidence>,
    anchor: &TrustAnchor,
    now: Timestamp,
    policy: &Policy,
    signatures: &SignatureBatch,
) -> Result<Verdict, Rejection> {
    verify_parts_traced(
        c,
        evidence,
        anchor,
        now,
        policy,
        signatures,
        &mut Vec::new(),
    )
}

/// [`verify_parts_with`], which also leaves in `passed` the checks that passed, in the order
/// they ran (spec/verification.md §2): on a refusal, those before the one that failed, so a
/// report can say what held of a REVOKED credential (it is genuine) as well as what did not.
pub fn verify_parts_traced(
    c: &CompactPresentation,
    evidence: Option<&StatusEvidence>,
    anchor: &TrustAnchor,
    now: Timestamp,
    policy: &Policy,
    signatures: &SignatureBatch,
    passed: &mut Vec<Check>,
) -> Result<Verdict, Rejection> {
    let body = &c.body;
    passed.clear();
    passed.push(Check::Decoding);
    let checks = passed;

    // §2.1 Version.
    if body.version != CREDENTIAL_VERSION {
        return Err(Rejection::UnsupportedVersion {
            version: body.version,
        });
    }

    // §2.2 Issuer known and not removed.
    let registry = anchor.registry();
    let issuer = registry
        .issuer(&body.issuer)
        .ok_or_else(|| Rejection::UnknownIssuer {
            issuer: body.issuer.clone(),
        })?;
    if let Some(at) = issuer.removed_at {
        return Err(Rejection::IssuerRemoved {
            issuer: body.issuer.clone(),
            removed_at: at,
        });
    }
    checks.push(Check::IssuerKnown);

    // §2.3 Kind authorized for the issuer.
    if !issuer.kinds.contains(&body.kind) {
        return Err(Rejection::KindNotAuthorized {
            issuer: body.issuer.clone(),
            kind: body.kind.clone(),
        });
    }
    checks.push(Check::KindAuthorized);

    let schema = registry
        .kind(&body.kind)
        .ok_or_else(|| Rejection::UnknownKind {
            kind: body.kind.clone(),
        })?;

    // §2.4 Signature by a registered key of the issuer, ZIP-215 (spec/signatures.md §2).
    let key = registry
        .key(&body.issuer, &body.key_id)
        .ok_or_else(|| Rejection::UnknownKey {
            issuer: body.issuer.clone(),
            key_id: body.key_id.clone(),
        })?;
    let message = body.signing_message(anchor.chain_id());
    // The body's digest names the signed message; the ledger's record holds it too (§2.6).
    let presented = Domain::Credential.hash(&[&message]);
    signatures
        .holds(&key.prepared, &presented, &message, &c.signature)
        .map_err(|_| Rejection::BadSignature {
            issuer: body.issuer.clone(),
            key_id: body.key_id.clone(),
        })?;
    checks.push(Check::Signature);

    // §2.5 Disclosed claims match the signed claims root.
    let (digests, disclosed) =
        c.disclosure
            .digests_and_claims(schema)
            .map_err(|e| Rejection::ClaimCount {
                kind: body.kind.clone(),
                expected: e.expected,
                got: e.got,
            })?;
    let computed = claims_root(&digests);
    if computed != body.claims_root {
        return Err(Rejection::ClaimsMismatch {
            signed: body.claims_root,
            computed,
        });
    }
    checks.push(Check::Claims);

    let window = |checks: &mut Vec<Check>| -> Result<(), Rejection> {
        // §2.9 Validity window.
        if now < body.valid_from {
            return Err(Rejection::NotYetValid {
                valid_from: body.valid_from,
                now,
            });
        }
        if let Some(until) = body.valid_until.filter(|u| now >= *u) {
            return Err(Rejection::Expired {
                valid_until: until,
                now,
            });
        }
        checks.push(Check::ValidityWindow);
        Ok(())
    };

    // §2.7 The one refusal of the key's window, for whichever issuance time is at hand.
    let key_not_valid = |published_at| Rejection::KeyNotValidAtIssuance {
        key_id: body.key_id.clone(),
        published_at,
        valid_from: key.record.valid_from,
        revoked_from: key.record.revoked_from,
    };

    let status = match evidence {
        None if policy.require_status => {
            return Err(Rejection::StatusUnavailable {
                credential: body.id,
            });
        }
        None => {
            // §2.7 without the ledger: only the issuer's own claim of time is at hand, and it
            // could be backdated, so a key with any revocation is not trusted here.
            if !key.record.covers(body.valid_from) || key.record.revoked_from.is_some() {
                return Err(key_not_valid(body.valid_from));
            }
            checks.push(Check::KeyValidAtIssuance);
            window(checks)?;
            StatusFinding::NotChecked
        }
        Some(ev) => {
            // §2.6 Anchoring: a committed header of this chain, and a state proof under it.
            let h = &ev.header;
            check_header(h, &ev.commit, anchor)?;
            let state_key = StateKey::Credential(body.issuer.clone(), body.id).hash();
            let value_hash = ev.record.state_value_hash();
            if !anchor.is_proven(&h.state_root, &state_key, &value_hash) {
                ev.proof
                    .verify(&h.state_root, &state_key, Some(&value_hash))
                    .map_err(|reason| Rejection::BadStateProof {
                        height: h.height,
                        reason,
                    })?;
            }
            if ev.record.digest != presented {
                return Err(Rejection::DigestMismatch {
                    ledger: ev.record.digest,
                    presented,
                });
            }
            checks.push(Check::Anchoring);

            // §2.7 The key covered the publication time the ledger recorded.
            if !key.record.covers(ev.record.published_at) {
                return Err(key_not_valid(ev.record.published_at));
            }
            checks.push(Check::KeyValidAtIssuance);

            // §2.8 Revocation is final, so even old evidence of it is conclusive.
            if let CredentialStatus::Revoked { reason } = ev.record.status {
                return Err(Rejection::Revoked {
                    credential: body.id,
                    reason,
                    at: ev.record.changed_at,
                });
            }
            // An expired credential is expired whatever the ledger says now.
            window(checks)?;
            // §2.10 Anything but revocation must be fresh before it is believed.
            if let Some(max) = policy.max_status_age_ms {
                if now.since(h.time) > max {
                    return Err(Rejection::StaleStatus {
                        as_of: h.time,
                        now,
                        max_age_ms: max,
                    });
                }
                checks.push(Check::Freshness);
            }
            // §2.8 Suspension.
            if let CredentialStatus::Suspended { reason } = ev.record.status {
                return Err(Rejection::Suspended {
                    credential: body.id,
                    reason,
                    since: ev.record.changed_at,
                });
            }
            checks.push(Check::Status);
            StatusFinding::Active {
                height: h.height,
                as_of: h.time,
                published_at: ev.record.published_at,
            }
        }
    };

    Ok(Verdict {
        credential: body.id,
        issuer: body.issuer.clone(),
        issuer_name_zh: issuer.name_zh.to_string(),
        issuer_name_en: issuer.name_en.to_string(),
        kind: body.kind.clone(),
        key_id: body.key_id.clone(),
        valid_from: body.valid_from,
        valid_until: body.valid_until,
        disclosed,
        hidden_claims: c.disclosure.hidden_count(),
        status,
        checks: checks.clone(),
    })
}

/// A committed header of the anchor's chain: known version, same chain, and a commit by the
/// validator set of its height, unless the caller's light client already verified it
/// (spec/verification.md §2.6).
pub fn check_header(
    h: &Header,
    commit: &CommitCertificate,
    anchor: &TrustAnchor,
) -> Result<(), Rejection> {
    if h.version != HEADER_VERSION {
        return Err(Rejection::HeaderVersion { version: h.version });
    }
    if &h.chain_id != anchor.chain_id() {
        return Err(Rejection::WrongChain {
            expected: anchor.chain_id().clone(),
            got: h.chain_id.clone(),
        });
    }
    if !anchor.is_verified(h) {
        let set = anchor
            .validators_at(h.height)
            .ok_or(Rejection::UnknownValidatorSet { height: h.height })?;
        commit
            .verify(h, set)
            .map_err(|reason| Rejection::BadCommit {
                height: h.height,
                reason,
            })?;
    }
    Ok(())
}

/// Learns a validator-set change from the one header that announces it, without the headers
/// before it (spec/verification.md §3.1): `header` must be certified by the set the anchor
/// holds for its height and name `next` as its next set; `next` then signs from the following
/// height on.
pub fn learn_set_change(
    anchor: &mut TrustAnchor,
    header: &Header,
    commit: &CommitCertificate,
    next: &ValidatorSet,
) -> Result<(), Rejection> {
    check_header(header, commit, anchor)?;
    if next.hash() != header.next_validators_hash {
        return Err(Rejection::BadCommit {
            height: header.height,
            reason: CommitError::ValidatorSetMismatch {
                expected: header.next_validators_hash,
                got: next.hash(),
            },
        });
    }
    let from = header.height.next().ok_or(Rejection::UnknownValidatorSet {
        height: header.height,
    })?;
    anchor.set_validators_from(from, next.clone());
    Ok(())
}

#[cfg(test)]
mod tests;
