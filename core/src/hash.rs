//! SHA-256 digests with one domain-separation tag per use (spec/hashing.md).

use std::fmt;
use std::str::FromStr;

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};

/// A 32-byte SHA-256 digest.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, BorshSerialize, BorshDeserialize,
)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    /// The all-zero digest, used as the empty-subtree marker of the state map (spec/state.md §2).
    pub const ZERO: Digest = Digest([0; 32]);

    /// The digest's bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_hex())
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_hex())
    }
}

/// Why a hex digest could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a digest is 64 hex digits; got {0:?}")]
pub struct DigestParseError(pub String);

impl FromStr for Digest {
    type Err = DigestParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out)
            .map_err(|_| DigestParseError(s.chars().take(80).collect()))?;
        Ok(Digest(out))
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as Deserialize>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Every use of SHA-256 and of Ed25519 in the protocol, each with its own tag.
///
/// The framing is `u8 tag length ‖ tag ‖ message` (spec/hashing.md §1), so no message under
/// one tag can be read as a message under another. Changing a tag is a format change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Domain {
    /// Digest of a credential's signed body.
    Credential,
    /// Digest of one salted claim.
    Claim,
    /// Digest of a credential's ordered list of claim digests.
    Claims,
    /// Derivation of a claim's salt from the credential's salt seed.
    ClaimSalt,
    /// Key of an entry in the state map.
    StateKey,
    /// Digest of an entry's value in the state map.
    StateValue,
    /// A leaf of the state map's tree.
    SmtLeaf,
    /// An inner node of the state map's tree.
    SmtNode,
    /// Digest of a block header (the block hash).
    Header,
    /// Digest of a validator set.
    ValidatorSet,
    /// Digest of a transaction (its id).
    Transaction,
    /// Digest of the genesis document.
    Genesis,
    /// Seed of the deterministic coefficients of a batch signature check.
    BatchSeed,
    /// Digest of one T-Road transfer-log record (a log leaf's content).
    LogRecord,
    /// Running digest of a credential's history: every status change the ledger applied.
    CredentialHistory,
    /// Digest of one T-Road log anchor a block accepted (a leaf of the header's
    /// `anchors_root`).
    AnchorEntry,
    /// Derivation of devnet and test keys, ids and seeds from a master seed (never on a
    /// production chain).
    DevnetDerive,
    /// An issuer's derivation of a batch credential's id and salt seed from its secret key
    /// seed and the row's claims, so re-running a batch re-creates the same credentials.
    BatchCredential,
    /// Checksum of a tool's own state file (off the ledger), so that a damaged file is refused
    /// rather than read as another state.
    LocalState,
    /// Signature of an issuer over a credential body.
    SignCredential,
    /// Signature of an issuer or log source over a transaction.
    SignTransaction,
    /// Signature of a governance key approving a governance action.
    SignGovernance,
    /// Signature of a validator over a consensus vote.
    SignVote,
    /// Signature of a validator over a block proposal.
    SignProposal,
}

impl Domain {
    /// Every domain, for the table in spec/hashing.md and its uniqueness test.
    pub const ALL: [Domain; 24] = [
        Domain::Credential,
        Domain::Claim,
        Domain::Claims,
        Domain::ClaimSalt,
        Domain::StateKey,
        Domain::StateValue,
        Domain::SmtLeaf,
        Domain::SmtNode,
        Domain::Header,
        Domain::ValidatorSet,
        Domain::Transaction,
        Domain::Genesis,
        Domain::BatchSeed,
        Domain::LogRecord,
        Domain::CredentialHistory,
        Domain::AnchorEntry,
        Domain::DevnetDerive,
        Domain::BatchCredential,
        Domain::LocalState,
        Domain::SignCredential,
        Domain::SignTransaction,
        Domain::SignGovernance,
        Domain::SignVote,
        Domain::SignProposal,
    ];

    /// The tag bytes (spec/hashing.md §2).
    pub const fn tag(self) -> &'static str {
        match self {
            Domain::Credential => "credledger/v1/credential",
            Domain::Claim => "credledger/v1/claim",
            Domain::Claims => "credledger/v1/claims",
            Domain::ClaimSalt => "credledger/v1/claim-salt",
            Domain::StateKey => "credledger/v1/state-key",
            Domain::StateValue => "credledger/v1/state-value",
            Domain::SmtLeaf => "credledger/v1/smt-leaf",
            Domain::SmtNode => "credledger/v1/smt-node",
            Domain::Header => "credledger/v1/header",
            Domain::ValidatorSet => "credledger/v1/validator-set",
            Domain::Transaction => "credledger/v1/transaction",
            Domain::Genesis => "credledger/v1/genesis",
            Domain::BatchSeed => "credledger/v1/batch-seed",
            Domain::LogRecord => "credledger/v1/log-record",
            Domain::CredentialHistory => "credledger/v1/credential-history",
            Domain::AnchorEntry => "credledger/v1/anchor-entry",
            Domain::DevnetDerive => "credledger/v1/devnet-derive",
            Domain::BatchCredential => "credledger/v1/batch-credential",
            Domain::LocalState => "credledger/v1/local-state",
            Domain::SignCredential => "credledger/v1/sign/credential",
            Domain::SignTransaction => "credledger/v1/sign/transaction",
            Domain::SignGovernance => "credledger/v1/sign/governance",
            Domain::SignVote => "credledger/v1/sign/vote",
            Domain::SignProposal => "credledger/v1/sign/proposal",
        }
    }

    /// A hasher that has already absorbed this domain's framing.
    pub fn hasher(self) -> Hasher {
        let tag = self.tag().as_bytes();
        let mut h = Sha256::new();
        // Tags are short constants, far below 256 bytes.
        h.update([tag.len() as u8]);
        h.update(tag);
        Hasher(h)
    }

    /// `SHA-256(u8 len ‖ tag ‖ parts…)`.
    pub fn hash(self, parts: &[&[u8]]) -> Digest {
        let mut h = self.hasher();
        for p in parts {
            h.update(p);
        }
        h.finish()
    }

    /// The bytes an Ed25519 key signs for `message` under this domain: `u8 len ‖ tag ‖ message`.
    pub fn signing_bytes(self, message: &[u8]) -> Vec<u8> {
        let tag = self.tag().as_bytes();
        let mut out = Vec::with_capacity(1 + tag.len() + message.len());
        out.push(tag.len() as u8);
        out.extend_from_slice(tag);
        out.extend_from_slice(message);
        out
    }
}

/// An incremental SHA-256 under one domain.
#[derive(Clone)]
pub struct Hasher(Sha256);

impl Hasher {
    /// Absorbs bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The digest.
    pub fn finish(self) -> Digest {
        Digest(self.0.finalize().into())
    }
}

/// Plain SHA-256 with no tag, used only where an outside standard fixes the input (RFC 6962
/// leaf and node hashes, spec/merkle.md §1).
pub fn sha256(parts: &[&[u8]]) -> Digest {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    Digest(h.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn tags_are_unique_and_framed() {
        let tags: HashSet<_> = Domain::ALL.iter().map(|d| d.tag()).collect();
        assert_eq!(tags.len(), Domain::ALL.len());
        assert_ne!(Domain::Claim.hash(&[b"x"]), Domain::Claims.hash(&[b"x"]));
        let framed = Domain::Claim.signing_bytes(b"x");
        assert_eq!(sha256(&[&framed]), Domain::Claim.hash(&[b"x"]));
    }

    #[test]
    fn digest_hex_round_trip() {
        let d = Domain::Genesis.hash(&[b"abc"]);
        assert_eq!(d.to_hex().parse::<Digest>(), Ok(d));
        assert!("zz".parse::<Digest>().is_err());
    }
}
