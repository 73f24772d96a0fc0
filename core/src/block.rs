//! Validator sets, block headers, consensus vote sign-bytes and commit certificates
//! (spec/blocks.md).

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::bounded::{BoundedVec, Ident, ShortVec};
use crate::encoding::encode;
use crate::hash::{Digest, Domain};
use crate::ids::{ChainId, Height, Round, Timestamp, VotingPower};
use crate::sig::{BatchVerifier, Keypair, PublicKey, Signature};

/// Version of the header format.
pub const HEADER_VERSION: u8 = 2;
/// At most this many validators in a set (the commit bitmap is at most 32 bytes).
pub const MAX_VALIDATORS: usize = 256;
/// Total voting power is capped so that `3 × total` cannot overflow.
pub const MAX_TOTAL_POWER: u64 = 1 << 60;

/// One validator: a ministry's node key and its voting power.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Validator {
    /// A readable name, e.g. `moj-1`.
    pub name: Ident<48>,
    /// Its consensus key.
    pub public_key: PublicKey,
    /// Its voting power (at least 1).
    pub power: VotingPower,
}

/// The validators of one height, sorted by public key. Decoding checks every rule of
/// spec/blocks.md §1, so a decoded set is as sound as a built one.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, Serialize)]
#[serde(transparent)]
pub struct ValidatorSet {
    validators: BoundedVec<Validator, MAX_VALIDATORS>,
}

impl BorshDeserialize for ValidatorSet {
    fn deserialize_reader<R: std::io::Read>(reader: &mut R) -> std::io::Result<Self> {
        let set = ValidatorSet {
            validators: BoundedVec::deserialize_reader(reader)?,
        };
        set.check()
            .map_err(|e| crate::encoding::invalid(&e.to_string()))?;
        Ok(set)
    }
}

impl<'de> Deserialize<'de> for ValidatorSet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let validators = <BoundedVec<Validator, MAX_VALIDATORS> as Deserialize>::deserialize(d)?;
        let set = ValidatorSet { validators };
        set.check().map_err(serde::de::Error::custom)?;
        Ok(set)
    }
}

/// Why a validator set is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidatorSetError {
    /// No validators.
    #[error("a validator set needs at least one validator")]
    Empty,
    /// More than [`MAX_VALIDATORS`].
    #[error("{0} validators; at most {MAX_VALIDATORS} allowed")]
    TooMany(usize),
    /// A key appears twice.
    #[error("validator key {0} appears twice")]
    DuplicateKey(PublicKey),
    /// The validators are not sorted by public key.
    #[error("validators must be sorted by public key; {0} is out of order")]
    Unsorted(PublicKey),
    /// A validator has power 0.
    #[error("validator {0} has voting power 0")]
    ZeroPower(String),
    /// The powers add up to more than [`MAX_TOTAL_POWER`].
    #[error("total voting power exceeds {MAX_TOTAL_POWER}")]
    PowerOverflow,
}

impl ValidatorSet {
    /// Makes a set, sorting by key and checking the rules of spec/blocks.md §1.
    pub fn new(mut validators: Vec<Validator>) -> Result<Self, ValidatorSetError> {
        validators.sort_by_key(|v| v.public_key);
        let set = ValidatorSet {
            validators: BoundedVec::new(validators).map_err(|e| match e {
                crate::bounded::BoundError::TooLong { len, .. } => ValidatorSetError::TooMany(len),
                _ => ValidatorSetError::Empty,
            })?,
        };
        set.check()?;
        Ok(set)
    }

    /// Checks the rules on a set that was decoded rather than built.
    pub fn check(&self) -> Result<(), ValidatorSetError> {
        if self.validators.is_empty() {
            return Err(ValidatorSetError::Empty);
        }
        let mut total: u64 = 0;
        for (i, v) in self.validators.iter().enumerate() {
            if v.power.0 == 0 {
                return Err(ValidatorSetError::ZeroPower(v.name.to_string()));
            }
            if i > 0 {
                let prev = self.validators[i - 1].public_key;
                if prev == v.public_key {
                    return Err(ValidatorSetError::DuplicateKey(v.public_key));
                }
                if prev > v.public_key {
                    return Err(ValidatorSetError::Unsorted(v.public_key));
                }
            }
            total = total
                .checked_add(v.power.0)
                .filter(|t| *t <= MAX_TOTAL_POWER)
                .ok_or(ValidatorSetError::PowerOverflow)?;
        }
        Ok(())
    }

    /// The validators, sorted by key.
    pub fn validators(&self) -> &[Validator] {
        &self.validators
    }

    /// Sum of voting power.
    pub fn total_power(&self) -> u64 {
        self.validators.iter().map(|v| v.power.0).sum()
    }

    /// `H_validator-set(encode(set))`.
    pub fn hash(&self) -> Digest {
        Domain::ValidatorSet.hash(&[&encode(self)])
    }

    /// The position of a key in the set.
    pub fn index_of(&self, key: &PublicKey) -> Option<usize> {
        self.validators
            .binary_search_by(|v| v.public_key.cmp(key))
            .ok()
    }
}

/// A block header (spec/blocks.md §2). Its hash is the block's id.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Header {
    /// [`HEADER_VERSION`].
    pub version: u8,
    /// The chain.
    pub chain_id: ChainId,
    /// Height, 1 for the first block.
    pub height: Height,
    /// Block time, chosen by the proposer, strictly increasing.
    pub time: Timestamp,
    /// Hash of the previous header; the genesis hash for height 1.
    pub previous: Digest,
    /// RFC 6962 root over the hashes of the block's transactions.
    pub transactions_root: Digest,
    /// State map root after this block's transactions.
    pub state_root: Digest,
    /// RFC 6962 root over the T-Road log anchors this block accepted ([`anchors_root`]), so
    /// that one anchor is proven from this header without a state proof.
    pub anchors_root: Digest,
    /// Hash of the set that signs this block's commit.
    pub validators_hash: Digest,
    /// Hash of the set that signs the next block's commit.
    pub next_validators_hash: Digest,
    /// Index of the proposer in this height's set.
    pub proposer: u16,
}

impl Header {
    /// `H_header(encode(header))`.
    pub fn hash(&self) -> Digest {
        Domain::Header.hash(&[&encode(self)])
    }
}

/// At most this many transactions in one block.
pub const MAX_BLOCK_TXS: usize = 20_000;
/// At most this many bytes in one encoded block.
pub const MAX_BLOCK_BYTES: usize = 16 << 20;

/// A block: its header and the transactions whose ids its `transactions_root` commits to.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Block {
    /// The header.
    pub header: Header,
    /// The transactions, in execution order.
    pub transactions: BoundedVec<crate::tx::Transaction, MAX_BLOCK_TXS>,
}

impl Block {
    /// Whether the header's `transactions_root` matches the transactions.
    pub fn transactions_match(&self) -> bool {
        transactions_root(&self.transactions) == self.header.transactions_root
    }
}

/// The header's `transactions_root`: the RFC 6962 root over the transactions' ids, each id
/// (32 bytes) being one leaf's data (spec/blocks.md §2).
pub fn transactions_root(txs: &[crate::tx::Transaction]) -> Digest {
    let leaves: Vec<Digest> = txs
        .iter()
        .map(|t| crate::merkle::leaf_hash(&t.id().0))
        .collect();
    crate::merkle::list_root(&leaves)
}

/// One T-Road log anchor a block accepted: its source, sequence number and record (the
/// state's `LogAnchor` entry it wrote).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct AnchorEntry {
    /// The log source.
    pub source: crate::ids::LogSourceId,
    /// The anchor's sequence number in the source's anchor chain.
    pub sequence: u64,
    /// The anchored head, with the block's height and time.
    pub record: crate::state::AnchorRecord,
}

impl AnchorEntry {
    /// `H_anchor-entry(encode(entry))`: one leaf's data in [`anchors_root`].
    pub fn digest(&self) -> Digest {
        Domain::AnchorEntry.hash(&[&encode(self)])
    }
}

/// The header's `anchors_root`: the RFC 6962 root over the block's accepted anchors, in the
/// order the block's state writes list them (by state key), each digest (32 bytes) being one
/// leaf's data (spec/blocks.md §2).
pub fn anchors_root(entries: &[AnchorEntry]) -> Digest {
    let leaves: Vec<Digest> = entries
        .iter()
        .map(|e| crate::merkle::leaf_hash(&e.digest().0))
        .collect();
    crate::merkle::list_root(&leaves)
}

/// The two vote kinds of Tendermint.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[borsh(use_discriminant = true)]
#[repr(u8)]
pub enum VoteKind {
    /// First-phase vote.
    Prevote = 0,
    /// Second-phase vote; more than 2/3 of power precommitting a block commits it.
    Precommit = 1,
}

/// The bytes a validator signs for a vote (spec/blocks.md §3). The voter's address is left out,
/// so all precommits for one block sign the same bytes; the signature itself binds the voter.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct VoteSignBytes {
    /// The chain.
    pub chain_id: ChainId,
    /// Prevote or precommit.
    pub kind: VoteKind,
    /// Height voted on.
    pub height: Height,
    /// Round voted in.
    pub round: Round,
    /// The block hash voted for, or `None` for a nil vote.
    pub block: Option<Digest>,
}

impl VoteSignBytes {
    /// The message signed under [`Domain::SignVote`].
    pub fn message(&self) -> Vec<u8> {
        encode(self)
    }

    /// Signs the vote.
    pub fn sign(&self, key: &Keypair) -> Signature {
        key.sign(Domain::SignVote, &self.message())
    }
}

/// The bytes a proposer signs for a proposal of a block (spec/blocks.md §3).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ProposalSignBytes {
    /// The chain.
    pub chain_id: ChainId,
    /// Height proposed at.
    pub height: Height,
    /// Round proposed in.
    pub round: Round,
    /// The round of the polka a re-proposal rests on, if any.
    pub pol_round: Option<Round>,
    /// The proposed block's hash.
    pub block: Digest,
}

impl ProposalSignBytes {
    /// The message signed under [`Domain::SignProposal`].
    pub fn message(&self) -> Vec<u8> {
        encode(self)
    }
}

/// Precommit signatures of more than 2/3 of the voting power for one header.
///
/// The height and block hash are those of the header it is checked with, so they are not
/// repeated here.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct CommitCertificate {
    /// The round in which the block was committed.
    pub round: Round,
    /// Bit `i` (MSB of byte 0 first) set if validator `i` of the set signed.
    pub signers: ShortVec<u8, 32>,
    /// The signatures of the set bits, in validator order.
    pub signatures: BoundedVec<Signature, MAX_VALIDATORS>,
}

/// Why a commit certificate was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommitError {
    /// The set offered is not the one the header names.
    #[error(
        "header names validator set {expected}, but the set for its height is {got} (a set \
         change not learned yet, or a header of another chain with the same id)"
    )]
    ValidatorSetMismatch {
        /// Hash in the header.
        expected: Digest,
        /// Hash of the set offered.
        got: Digest,
    },
    /// The bitmap does not fit the set or the signatures.
    #[error(
        "signer bitmap does not fit a set of {validators} validators and {signatures} signatures"
    )]
    BadBitmap {
        /// Validators in the set.
        validators: usize,
        /// Signatures given.
        signatures: usize,
    },
    /// Not more than 2/3 of the power signed.
    #[error("signers hold {signed} of {total} voting power; more than 2/3 needed")]
    InsufficientPower {
        /// Power that signed.
        signed: u64,
        /// Total power.
        total: u64,
    },
    /// At least one signature is invalid.
    #[error("a commit signature does not verify")]
    BadSignature,
}

impl CommitCertificate {
    /// Builds a certificate from `(validator index, signature)` pairs.
    pub fn from_signatures(
        round: Round,
        set_len: usize,
        mut sigs: Vec<(usize, Signature)>,
    ) -> CommitCertificate {
        sigs.sort_by_key(|(i, _)| *i);
        sigs.dedup_by_key(|(i, _)| *i);
        let mut bitmap = vec![0u8; set_len.div_ceil(8)];
        let mut out = Vec::with_capacity(sigs.len());
        for (i, s) in sigs.into_iter().filter(|(i, _)| *i < set_len) {
            bitmap[i / 8] |= 0x80 >> (i % 8);
            out.push(s);
        }
        CommitCertificate {
            round,
            signers: ShortVec::new(bitmap).unwrap_or_default(),
            signatures: BoundedVec::new(out).unwrap_or_default(),
        }
    }

    /// Checks that more than 2/3 of `set`'s power precommitted `header` (spec/blocks.md §4).
    /// Returns the power that signed.
    pub fn verify(&self, header: &Header, set: &ValidatorSet) -> Result<u64, CommitError> {
        let set_hash = set.hash();
        if set_hash != header.validators_hash {
            return Err(CommitError::ValidatorSetMismatch {
                expected: header.validators_hash,
                got: set_hash,
            });
        }
        let n = set.validators().len();
        let bad_bitmap = || CommitError::BadBitmap {
            validators: n,
            signatures: self.signatures.len(),
        };
        if self.signers.len() != n.div_ceil(8) {
            return Err(bad_bitmap());
        }
        if !n.is_multiple_of(8) && self.signers[n / 8] & (0xff >> (n % 8)) != 0 {
            return Err(bad_bitmap());
        }
        let signer_count: usize = self.signers.iter().map(|b| b.count_ones() as usize).sum();
        if signer_count != self.signatures.len() {
            return Err(bad_bitmap());
        }
        let message = VoteSignBytes {
            chain_id: header.chain_id.clone(),
            kind: VoteKind::Precommit,
            height: header.height,
            round: self.round,
            block: Some(header.hash()),
        }
        .message();
        let mut signed: u64 = 0;
        let mut batch = BatchVerifier::new();
        let mut sigs = self.signatures.iter();
        for (i, v) in set.validators().iter().enumerate() {
            if self.signers[i / 8] & (0x80 >> (i % 8)) == 0 {
                continue;
            }
            let Some(sig) = sigs.next() else {
                return Err(bad_bitmap());
            };
            batch.queue(&v.public_key, Domain::SignVote, &message, sig);
            signed += v.power.0;
        }
        let total = set.total_power();
        // Powers are capped at 2^60 in total, so these products cannot overflow.
        if signed * 3 <= total * 2 {
            return Err(CommitError::InsufficientPower { signed, total });
        }
        batch.verify().map_err(|_| CommitError::BadSignature)?;
        Ok(signed)
    }
}
