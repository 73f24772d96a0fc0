//! The closed set of reasons a presentation is refused, each naming its check and the values
//! that failed it.

use serde::Serialize;

use crate::block::CommitError;
use crate::hash::Digest;
use crate::ids::{ChainId, CredentialId, Height, IssuerId, KeyId, KindId, Timestamp};
use crate::smt::ProofError;
use crate::state::ReasonCode;

/// The checks of spec/verification.md §2, in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// The text and bytes decode strictly, within limits.
    Decoding,
    /// The issuer is registered and not removed.
    IssuerKnown,
    /// The issuer may issue this kind.
    KindAuthorized,
    /// The issuer's registered key signed the body (`verify_strict`).
    Signature,
    /// The disclosed and hidden claims hash to the signed claims root.
    Claims,
    /// A committed header's state root holds the credential's record.
    Anchoring,
    /// The key covered the time the ledger recorded the publication.
    KeyValidAtIssuance,
    /// `now` is inside the validity window.
    ValidityWindow,
    /// The status evidence is recent enough.
    Freshness,
    /// The record says active (revocation is checked before the window, suspension here).
    Status,
    /// A T-Road record given with an evidence bundle has the bundle's digest.
    Record,
    /// The record's leaf is in the anchored log tree (inclusion proof).
    Inclusion,
}

/// What a person should be told, in one word (the verifier page's big state).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Outcome {
    /// Forged, altered, or not from an issuer, key or kind in the anchor's registry. A verifier
    /// keeps its registry current from verified state before it says this.
    NotGenuine,
    /// Revoked by its issuer.
    Revoked,
    /// Suspended by its issuer.
    Suspended,
    /// Outside its validity window.
    Expired,
    /// Genuine as far as checked, but the status cannot be established now.
    CannotCheck,
}

/// Why `verify` refused a presentation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(rename_all = "snake_case", tag = "rejection")]
pub enum Rejection {
    /// The text or bytes are too long.
    #[error("presentation is {len} long; at most {max} allowed")]
    Oversized {
        /// Length given.
        len: usize,
        /// Limit.
        max: usize,
    },
    /// The text or bytes do not decode.
    #[error("presentation does not decode: {reason}")]
    Malformed {
        /// What failed.
        reason: String,
    },
    /// An evidence bundle does not decode.
    #[error("evidence bundle does not decode: {reason}")]
    MalformedEvidence {
        /// What failed.
        reason: String,
    },
    /// The T-Road record given is not the one the bundle proves.
    #[error("the bundle proves record digest {bundle}; the record given hashes to {record}")]
    RecordMismatch {
        /// Digest in the bundle.
        bundle: Digest,
        /// Digest of the record given.
        record: Digest,
    },
    /// The inclusion proof does not place the record in the anchored tree.
    #[error("record {index} is not proven in the anchored log of {tree_size} records: {reason}")]
    NotInLog {
        /// The record's position.
        index: u64,
        /// Size of the anchored log.
        tree_size: u64,
        /// Why.
        #[serde(serialize_with = "as_display")]
        reason: crate::merkle::MerkleError,
    },
    /// A format version this code does not know.
    #[error("credential version {version} is not supported")]
    UnsupportedVersion {
        /// The version given.
        version: u8,
    },
    /// No such issuer in the registry.
    #[error("issuer {issuer} is not registered")]
    UnknownIssuer {
        /// The issuer named.
        issuer: IssuerId,
    },
    /// The issuer was removed.
    #[error("issuer {issuer} was removed at {}", .removed_at.taiwan_time())]
    IssuerRemoved {
        /// The issuer.
        issuer: IssuerId,
        /// When.
        removed_at: Timestamp,
    },
    /// The issuer may not issue this kind.
    #[error("issuer {issuer} is not authorized for kind {kind}")]
    KindNotAuthorized {
        /// The issuer.
        issuer: IssuerId,
        /// The kind.
        kind: KindId,
    },
    /// The kind is not defined in the registry.
    #[error("kind {kind} is not defined")]
    UnknownKind {
        /// The kind named.
        kind: KindId,
    },
    /// The issuer has no such key.
    #[error("issuer {issuer} has no key {key_id}")]
    UnknownKey {
        /// The issuer.
        issuer: IssuerId,
        /// The key named.
        key_id: KeyId,
    },
    /// The signature does not verify under the named key.
    #[error("signature does not verify under {issuer}/{key_id}")]
    BadSignature {
        /// The issuer.
        issuer: IssuerId,
        /// The key.
        key_id: KeyId,
    },
    /// The claims shown do not match what the issuer signed.
    #[error("claims hash to {computed}, but the issuer signed {signed}")]
    ClaimsMismatch {
        /// Claims root in the signed body.
        signed: Digest,
        /// Claims root of what was presented.
        computed: Digest,
    },
    /// The disclosure has a different number of claims than the kind's schema.
    #[error("kind {kind} has {expected} claims; the presentation has {got}")]
    ClaimCount {
        /// The kind.
        kind: KindId,
        /// Claims in the schema.
        expected: usize,
        /// Claims presented.
        got: usize,
    },
    /// No status evidence was given and the policy requires it.
    #[error("no status evidence for credential {credential}")]
    StatusUnavailable {
        /// The credential.
        credential: CredentialId,
    },
    /// The ledger proves, under a fresh header, that it holds no record of the credential,
    /// though the credential started long enough before for its issuer to have published it.
    #[error(
        "credential {credential} is not on the ledger as of block {height} (time {as_of}): its issuer never published it"
    )]
    NotOnLedger {
        /// The credential.
        credential: CredentialId,
        /// Height of the header the absence was proven under.
        height: Height,
        /// Time of that header.
        as_of: Timestamp,
    },
    /// The status header has a version this code does not know (the node is newer, or lies).
    #[error("status header version {version} is not supported")]
    HeaderVersion {
        /// The header's version.
        version: u8,
    },
    /// The header is from another chain.
    #[error("status header is for chain {got}, not {expected}")]
    WrongChain {
        /// The trusted chain.
        expected: ChainId,
        /// The header's chain.
        got: ChainId,
    },
    /// The anchor does not know the validator set of that height.
    #[error("no trusted validator set for height {height}")]
    UnknownValidatorSet {
        /// The header's height.
        height: Height,
    },
    /// The commit does not certify the header.
    #[error("commit of height {height} refused: {reason}")]
    BadCommit {
        /// The header's height.
        height: Height,
        /// Why.
        #[serde(serialize_with = "as_display")]
        reason: CommitError,
    },
    /// The state proof does not hold under the header's state root.
    #[error("state proof at height {height} refused: {reason}")]
    BadStateProof {
        /// The header's height.
        height: Height,
        /// Why.
        #[serde(serialize_with = "as_display")]
        reason: ProofError,
    },
    /// A T-Road anchor is not among the anchors its block's header commits to.
    #[error("anchor not proven in block {height}: {reason}")]
    AnchorNotInBlock {
        /// The header's height.
        height: Height,
        /// Why.
        reason: String,
    },
    /// The ledger anchored a different body under this id.
    #[error("ledger holds digest {ledger} for this id; the presented body hashes to {presented}")]
    DigestMismatch {
        /// Digest in the ledger's record.
        ledger: Digest,
        /// Digest of the presented body.
        presented: Digest,
    },
    /// The key did not cover the publication time.
    #[error(
        "key {key_id} did not cover publication at {} (valid from {}{})",
        .published_at.taiwan_time(),
        .valid_from.taiwan_time(),
        crate::ids::revoked_from_text(.revoked_from)
    )]
    KeyNotValidAtIssuance {
        /// The key.
        key_id: KeyId,
        /// When the ledger recorded the publication.
        published_at: Timestamp,
        /// Start of the key's window.
        valid_from: Timestamp,
        /// End of the key's window, if revoked.
        revoked_from: Option<Timestamp>,
    },
    /// Revoked.
    #[error("credential {credential} was revoked at {} ({reason})", .at.taiwan_time())]
    Revoked {
        /// The credential.
        credential: CredentialId,
        /// Why.
        reason: ReasonCode,
        /// When.
        at: Timestamp,
    },
    /// Suspended.
    #[error("credential {credential} is suspended since {} ({reason})", .since.taiwan_time())]
    Suspended {
        /// The credential.
        credential: CredentialId,
        /// Why.
        reason: ReasonCode,
        /// Since when.
        since: Timestamp,
    },
    /// Not valid yet.
    #[error("credential is valid from {}; now is {}", .valid_from.taiwan_time(), .now.taiwan_time())]
    NotYetValid {
        /// Start of validity.
        valid_from: Timestamp,
        /// The time checked.
        now: Timestamp,
    },
    /// No longer valid.
    #[error("credential expired at {}; now is {}", .valid_until.taiwan_time(), .now.taiwan_time())]
    Expired {
        /// End of validity.
        valid_until: Timestamp,
        /// The time checked.
        now: Timestamp,
    },
    /// The status evidence is too old.
    #[error("status is as of {as_of}, older than {max_age_ms} ms before {now}")]
    StaleStatus {
        /// Time of the evidence's header.
        as_of: Timestamp,
        /// The time checked.
        now: Timestamp,
        /// The policy's bound.
        max_age_ms: u64,
    },
}

fn as_display<T: std::fmt::Display, S: serde::Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

impl Rejection {
    /// Whether the header was refused because a set the anchor does not hold for its height
    /// signed it: what a validator-set change the anchor has not learned looks like, so a
    /// client that can ask nodes learns the changes and checks again (verification.md §3.1).
    pub fn signed_by_an_unknown_set(&self) -> bool {
        matches!(
            self,
            Rejection::UnknownValidatorSet { .. }
                | Rejection::BadCommit {
                    reason: CommitError::ValidatorSetMismatch { .. },
                    ..
                }
        )
    }

    /// The check that failed.
    pub fn check(&self) -> Check {
        match self {
            Rejection::Oversized { .. }
            | Rejection::Malformed { .. }
            | Rejection::MalformedEvidence { .. }
            | Rejection::UnsupportedVersion { .. } => Check::Decoding,
            Rejection::RecordMismatch { .. } => Check::Record,
            Rejection::NotInLog { .. } => Check::Inclusion,
            Rejection::UnknownIssuer { .. } | Rejection::IssuerRemoved { .. } => Check::IssuerKnown,
            Rejection::KindNotAuthorized { .. } | Rejection::UnknownKind { .. } => {
                Check::KindAuthorized
            }
            Rejection::UnknownKey { .. } | Rejection::BadSignature { .. } => Check::Signature,
            Rejection::ClaimsMismatch { .. } | Rejection::ClaimCount { .. } => Check::Claims,
            Rejection::StatusUnavailable { .. }
            | Rejection::NotOnLedger { .. }
            | Rejection::HeaderVersion { .. }
            | Rejection::WrongChain { .. }
            | Rejection::UnknownValidatorSet { .. }
            | Rejection::BadCommit { .. }
            | Rejection::BadStateProof { .. }
            | Rejection::AnchorNotInBlock { .. }
            | Rejection::DigestMismatch { .. } => Check::Anchoring,
            Rejection::KeyNotValidAtIssuance { .. } => Check::KeyValidAtIssuance,
            Rejection::Revoked { .. } | Rejection::Suspended { .. } => Check::Status,
            Rejection::NotYetValid { .. } | Rejection::Expired { .. } => Check::ValidityWindow,
            Rejection::StaleStatus { .. } => Check::Freshness,
        }
    }

    /// What to tell a person.
    ///
    /// A failure to establish the status from the ledger is "cannot check", not "not genuine":
    /// a lying or lagging node must not make a genuine credential look forged, nor valid.
    pub fn outcome(&self) -> Outcome {
        match self {
            Rejection::Revoked { .. } => Outcome::Revoked,
            Rejection::Suspended { .. } => Outcome::Suspended,
            Rejection::NotYetValid { .. } | Rejection::Expired { .. } => Outcome::Expired,
            Rejection::StatusUnavailable { .. }
            | Rejection::HeaderVersion { .. }
            | Rejection::WrongChain { .. }
            | Rejection::UnknownValidatorSet { .. }
            | Rejection::BadCommit { .. }
            | Rejection::BadStateProof { .. }
            | Rejection::AnchorNotInBlock { .. }
            | Rejection::StaleStatus { .. } => Outcome::CannotCheck,
            _ => Outcome::NotGenuine,
        }
    }
}
