//! A credential the ledger proves it does not hold (spec/verification.md §2.11): genuine in form,
//! but never published by its issuer, so not to be trusted.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use super::{Policy, Rejection, SignatureBatch, TrustAnchor, check_header, verify_parts_with};
use crate::block::{CommitCertificate, Header};
use crate::ids::Timestamp;
use crate::presentation::CompactPresentation;
use crate::smt::StateProof;
use crate::state::StateKey;

/// How long after its own `valid_from` a credential must be on the ledger: issuers publish at
/// issuance and hand the holder the QR code only after the commit, so a credential still
/// absent this long after it claims to start was never published.
pub const PUBLICATION_GRACE_MS: u64 = 60_000;

/// A node's proof that the state holds no record of a credential.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct AbsenceEvidence {
    /// Proof of absence of the credential's key under the header's state root.
    pub proof: StateProof,
    /// A committed header.
    pub header: Header,
    /// Its commit certificate.
    pub commit: CommitCertificate,
}

/// Judges a presentation whose credential a node says the ledger lacks. Always a rejection:
/// [`Rejection::NotOnLedger`] when the absence is proven under a fresh header dated well after
/// the credential's start; otherwise the rejection of the presentation's own checks, or
/// [`Rejection::StatusUnavailable`] (the absence proves nothing yet).
pub fn verify_absence(
    c: &CompactPresentation,
    absence: &AbsenceEvidence,
    anchor: &TrustAnchor,
    now: Timestamp,
    policy: &Policy,
) -> Rejection {
    verify_absence_with(c, absence, anchor, now, policy, &SignatureBatch::none())
}

/// [`verify_absence`] where the issuer signature may already have been checked in a batch.
pub fn verify_absence_with(
    c: &CompactPresentation,
    absence: &AbsenceEvidence,
    anchor: &TrustAnchor,
    now: Timestamp,
    policy: &Policy,
    signatures: &SignatureBatch,
) -> Rejection {
    // A forgery is reported as such whatever the ledger holds.
    if let Err(r) = verify_parts_with(c, None, anchor, now, &Policy::GENUINENESS, signatures) {
        return r;
    }
    let unavailable = Rejection::StatusUnavailable {
        credential: c.body.id,
    };
    let h = &absence.header;
    if let Err(r) = check_header(h, &absence.commit, anchor) {
        return r;
    }
    let key = StateKey::Credential(c.body.issuer.clone(), c.body.id).hash();
    if let Err(reason) = absence.proof.verify(&h.state_root, &key, None) {
        return Rejection::BadStateProof {
            height: h.height,
            reason,
        };
    }
    // An old header's absence says nothing of a later publication.
    if policy
        .max_status_age_ms
        .is_some_and(|max| now.since(h.time) > max)
    {
        return unavailable;
    }
    if h.time.since(c.body.valid_from) < PUBLICATION_GRACE_MS {
        return unavailable;
    }
    Rejection::NotOnLedger {
        credential: c.body.id,
        height: h.height,
        as_of: h.time,
    }
}

#[cfg(test)]
mod tests;
