//! Why the ledger refused a transaction: a closed enum naming the rule and the values.

use crate::block::ValidatorSetError;
use crate::hash::Digest;
use crate::ids::{CredentialId, IssuerId, KeyId, KindId, LogSourceId, Nonce, Timestamp};
use crate::merkle::MerkleError;
use crate::sig::PublicKey;
use crate::state::TransitionError;
use crate::tx::ApprovalError;

/// A refused transaction (spec/transactions.md). Recorded in the block's receipts; never a panic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    /// No such issuer.
    #[error("issuer {0} is not registered")]
    UnknownIssuer(IssuerId),
    /// The issuer was removed.
    #[error("issuer {0} was removed")]
    IssuerRemoved(IssuerId),
    /// No such issuer key.
    #[error("issuer {issuer} has no key {key_id}")]
    UnknownKey {
        /// Issuer.
        issuer: IssuerId,
        /// Key named.
        key_id: KeyId,
    },
    /// The key does not cover the block time.
    #[error(
        "issuer key {key_id} is not valid at {} (valid from {}{})",
        .at.taiwan_time(),
        .valid_from.taiwan_time(),
        crate::ids::revoked_from_text(.revoked_from)
    )]
    KeyNotValid {
        /// Key.
        key_id: KeyId,
        /// Block time.
        at: Timestamp,
        /// Start of its window.
        valid_from: Timestamp,
        /// End of its window.
        revoked_from: Option<Timestamp>,
    },
    /// The transaction's signature does not verify.
    #[error("transaction signature does not verify")]
    BadSignature,
    /// A credential's issuer signature does not verify (`verify_strict`).
    #[error("signature of credential {0} does not verify")]
    BadCredentialSignature(CredentialId),
    /// The nonce is not the signer's next one (a replay, or a gap).
    #[error("nonce {got} is not the next nonce {expected}")]
    WrongNonce {
        /// The next nonce.
        expected: Nonce,
        /// The nonce given.
        got: Nonce,
    },
    /// A publish transaction with no credentials.
    #[error("a publish transaction needs at least one credential")]
    EmptyBatch,
    /// A credential body names another issuer than the transaction.
    #[error("credential {id} names issuer {body_issuer}, not the acting {issuer}")]
    ForeignBody {
        /// Credential.
        id: CredentialId,
        /// Issuer in the body.
        body_issuer: IssuerId,
        /// Acting issuer.
        issuer: IssuerId,
    },
    /// A credential body of an unknown version.
    #[error("credential {id} has version {version}")]
    CredentialVersion {
        /// Credential.
        id: CredentialId,
        /// Version given.
        version: u8,
    },
    /// The issuer may not issue this kind.
    #[error("issuer {issuer} is not authorized for kind {kind}")]
    KindNotAuthorized {
        /// Issuer.
        issuer: IssuerId,
        /// Kind.
        kind: KindId,
    },
    /// No such kind.
    #[error("kind {0} is not defined")]
    UnknownKind(KindId),
    /// The credential id is taken.
    #[error("credential {0} already exists")]
    DuplicateCredential(CredentialId),
    /// No such credential of this issuer.
    #[error("issuer {issuer} has no credential {id}")]
    UnknownCredential {
        /// Issuer.
        issuer: IssuerId,
        /// Credential.
        id: CredentialId,
    },
    /// The lifecycle does not allow this change.
    #[error("credential {id}: {error}")]
    Transition {
        /// Credential.
        id: CredentialId,
        /// The refused transition.
        error: TransitionError,
    },
    /// Governance approvals are not enough.
    #[error("governance: {0}")]
    Approval(#[from] ApprovalError),
    /// The issuer exists already.
    #[error("issuer {0} exists")]
    IssuerExists(IssuerId),
    /// Kinds must be defined, sorted and distinct.
    #[error("kinds must be defined, sorted and distinct: {0}")]
    BadKinds(String),
    /// A redefined kind must keep its claim keys in order.
    #[error("kind {0} exists with other claim keys; a kind's claim keys cannot change")]
    KindClaimsChanged(KindId),
    /// The issuer key exists already.
    #[error("issuer {issuer} already has a key {key_id}")]
    KeyExists {
        /// Issuer.
        issuer: IssuerId,
        /// Key.
        key_id: KeyId,
    },
    /// The public key is not a usable Ed25519 point.
    #[error("public key {0} is not a valid Ed25519 point")]
    BadPublicKey(PublicKey),
    /// A revocation may only move a key's end earlier.
    #[error(
        "key {key_id} is already revoked from {}; a new revocation must be earlier",
        .revoked_from.taiwan_time()
    )]
    AlreadyRevoked {
        /// Key.
        key_id: KeyId,
        /// Its current end.
        revoked_from: Timestamp,
    },
    /// The change would make an invalid validator set.
    #[error("validator set: {0}")]
    ValidatorSet(ValidatorSetError),
    /// No such validator.
    #[error("validator {0} is not in the set")]
    UnknownValidator(PublicKey),
    /// Governance keys and threshold do not fit.
    #[error("governance keys: {0}")]
    BadCouncil(String),
    /// The log source exists already.
    #[error("log source {0} exists")]
    LogSourceExists(LogSourceId),
    /// No such log source.
    #[error("log source {0} is not registered")]
    UnknownLogSource(LogSourceId),
    /// The log source was removed.
    #[error("log source {0} was removed")]
    LogSourceRemoved(LogSourceId),
    /// The anchor is not the next in the source's chain.
    #[error("anchor sequence {got} is not the next {expected}")]
    WrongSequence {
        /// Next sequence.
        expected: u64,
        /// Sequence given.
        got: u64,
    },
    /// The anchor does not link to the previous one.
    #[error("anchor links to root {got}, but the last anchored root is {expected}")]
    BrokenLink {
        /// Last anchored root.
        expected: Digest,
        /// Root linked.
        got: Digest,
    },
    /// The anchor is not a consistent extension of the previous one (rewrite, gap or shrink).
    #[error(
        "tree head of size {size} is not an extension of the anchored size {last_size}: {error}"
    )]
    Inconsistent {
        /// Anchored size.
        last_size: u64,
        /// New size.
        size: u64,
        /// Why.
        error: MerkleError,
    },
    /// The state holds a value of the wrong type under a key (a damaged state).
    #[error("state entry {0} has an unexpected type")]
    CorruptState(&'static str),
}
