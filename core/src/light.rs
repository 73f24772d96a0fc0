//! The light-client rule: follow headers one height at a time from genesis, checking each commit
//! with the validator set the previous header named (spec/blocks.md §5).

use crate::block::{CommitCertificate, CommitError, Header, ValidatorSet};
use crate::genesis::Genesis;
use crate::hash::Digest;
use crate::ids::{ChainId, Height, Timestamp};

/// The last header a light client has verified, and the set that signs the next one.
#[derive(Clone, Debug)]
pub struct LightState {
    /// The chain followed.
    pub chain_id: ChainId,
    /// Height of the last verified header (0 = genesis).
    pub height: Height,
    /// Hash of the last verified header (the genesis hash at height 0).
    pub hash: Digest,
    /// Time of the last verified header.
    pub time: Timestamp,
    /// The set that must sign the next header.
    pub next_validators: ValidatorSet,
}

/// Why a header was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LightError {
    /// The header has a version this code does not know.
    #[error("header version {0} is not supported")]
    UnsupportedVersion(u8),
    /// The header belongs to another chain.
    #[error("header is for chain {got}, not {expected}")]
    WrongChain {
        /// Chain followed.
        expected: ChainId,
        /// Chain in the header.
        got: ChainId,
    },
    /// The header is not the next height.
    #[error("expected height {expected}, got {got}")]
    WrongHeight {
        /// Height expected.
        expected: Height,
        /// Height given.
        got: Height,
    },
    /// The header does not link to the last verified one.
    #[error("header's previous hash {got} is not the verified {expected}")]
    BrokenLink {
        /// Hash of the last verified header.
        expected: Digest,
        /// Previous hash in the header.
        got: Digest,
    },
    /// Block time did not increase.
    #[error("header time {got} is not after {previous}")]
    TimeNotIncreasing {
        /// Time of the last verified header.
        previous: Timestamp,
        /// Time given.
        got: Timestamp,
    },
    /// The commit does not certify the header.
    #[error("commit: {0}")]
    Commit(#[from] CommitError),
    /// The header announces a new set but the set given does not hash to it.
    #[error("header announces next validator set {expected}; the set given hashes to {got:?}")]
    NextSetMissing {
        /// Hash announced.
        expected: Digest,
        /// Hash of the set given, if any.
        got: Option<Digest>,
    },
}

impl LightState {
    /// The state trusted at genesis.
    pub fn from_genesis(genesis: &Genesis) -> Result<LightState, crate::block::ValidatorSetError> {
        Ok(LightState {
            chain_id: genesis.chain_id.clone(),
            height: Height(0),
            hash: genesis.hash(),
            time: genesis.genesis_time,
            next_validators: ValidatorSet::new(genesis.validators.to_vec())?,
        })
    }

    /// Verifies the next header and its commit and moves to it. When the header announces a
    /// different next set, that set must be given.
    pub fn advance(
        &self,
        header: &Header,
        commit: &CommitCertificate,
        next_set: Option<&ValidatorSet>,
    ) -> Result<LightState, LightError> {
        if header.version != crate::block::HEADER_VERSION {
            return Err(LightError::UnsupportedVersion(header.version));
        }
        if header.chain_id != self.chain_id {
            return Err(LightError::WrongChain {
                expected: self.chain_id.clone(),
                got: header.chain_id.clone(),
            });
        }
        let expected = self.height.next().unwrap_or(self.height);
        if header.height != expected {
            return Err(LightError::WrongHeight {
                expected,
                got: header.height,
            });
        }
        if header.previous != self.hash {
            return Err(LightError::BrokenLink {
                expected: self.hash,
                got: header.previous,
            });
        }
        if header.time <= self.time {
            return Err(LightError::TimeNotIncreasing {
                previous: self.time,
                got: header.time,
            });
        }
        commit.verify(header, &self.next_validators)?;
        let next_validators = if header.next_validators_hash == header.validators_hash {
            self.next_validators.clone()
        } else {
            match next_set {
                Some(s) if s.hash() == header.next_validators_hash => s.clone(),
                other => {
                    return Err(LightError::NextSetMissing {
                        expected: header.next_validators_hash,
                        got: other.map(ValidatorSet::hash),
                    });
                }
            }
        };
        Ok(LightState {
            chain_id: self.chain_id.clone(),
            height: header.height,
            hash: header.hash(),
            time: header.time,
            next_validators,
        })
    }
}
