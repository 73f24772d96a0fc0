//! Proofs of presence and absence in the state map, compressed by leaving out empty siblings.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use super::{bit, internal_hash, leaf_hash};
use crate::bounded::{BoundedVec, ShortVec};
use crate::hash::Digest;

/// What the proof's path ends in (spec/state.md §4).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Terminal {
    /// The queried key's own leaf: its value is given beside the proof.
    Found,
    /// An empty subtree: the key is absent.
    Empty,
    /// Another key's leaf that shares the path: the queried key is absent.
    Other {
        /// That leaf's key.
        key: Digest,
        /// That leaf's value hash.
        value_hash: Digest,
    },
}

/// A path from the root to where a key's leaf is or would be.
///
/// `depth` siblings are described, root side first; bit `i` of `present` (most significant bit
/// of byte 0 first) says whether sibling `i` is a hash in `siblings` or the empty subtree.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct StateProof {
    /// Number of levels on the path.
    pub depth: u16,
    /// Which siblings are non-empty, `ceil(depth / 8)` bytes, unused bits zero.
    pub present: ShortVec<u8, 32>,
    /// The non-empty siblings, root side first.
    pub siblings: BoundedVec<Digest, 256>,
    /// Where the path ends.
    pub terminal: Terminal,
}

/// Why a state proof was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The proof's fields do not fit together (sizes, bitmap, path).
    #[error("malformed state proof: {0}")]
    Malformed(&'static str),
    /// The proof shows presence where absence was claimed, or the reverse.
    #[error("state proof shows the key {0}")]
    WrongOutcome(&'static str),
    /// The proof does not lead to the expected root.
    #[error("state proof leads to root {computed}, not {expected}")]
    RootMismatch {
        /// Root computed from the proof.
        computed: Digest,
        /// Root expected (from a verified header).
        expected: Digest,
    },
}

impl StateProof {
    pub(super) fn from_path(path: &[Digest], terminal: Terminal) -> StateProof {
        let depth = path.len();
        let mut present = vec![0u8; depth.div_ceil(8)];
        let mut siblings = Vec::new();
        for (i, s) in path.iter().enumerate() {
            if *s != Digest::ZERO {
                present[i / 8] |= 0x80 >> (i % 8);
                siblings.push(*s);
            }
        }
        // Paths are at most 256 levels deep: keys are 256 bits.
        StateProof {
            depth: depth as u16,
            present: ShortVec::new(present).unwrap_or_default(),
            siblings: BoundedVec::new(siblings).unwrap_or_default(),
            terminal,
        }
    }

    /// Checks that `key` maps to `value_hash` (or, with `None`, is absent) under `root`.
    pub fn verify(
        &self,
        root: &Digest,
        key: &Digest,
        value_hash: Option<&Digest>,
    ) -> Result<(), ProofError> {
        let depth = usize::from(self.depth);
        if depth > 256 {
            return Err(ProofError::Malformed("path deeper than 256 levels"));
        }
        if self.present.len() != depth.div_ceil(8) {
            return Err(ProofError::Malformed("bitmap length does not match depth"));
        }
        let set: usize = self.present.iter().map(|b| b.count_ones() as usize).sum();
        if set != self.siblings.len() {
            return Err(ProofError::Malformed("bitmap and sibling count disagree"));
        }
        if self.siblings.contains(&Digest::ZERO) {
            return Err(ProofError::Malformed(
                "an empty sibling must be left out, not listed",
            ));
        }
        if !depth.is_multiple_of(8) {
            let last = self.present[depth / 8];
            if last & (0xff >> (depth % 8)) != 0 {
                return Err(ProofError::Malformed("bits set past the path's depth"));
            }
        }
        let mut h = match (&self.terminal, value_hash) {
            (Terminal::Found, Some(v)) => leaf_hash(key, v),
            (Terminal::Found, None) => return Err(ProofError::WrongOutcome("present, not absent")),
            (Terminal::Empty | Terminal::Other { .. }, Some(_)) => {
                return Err(ProofError::WrongOutcome("absent, not present"));
            }
            (Terminal::Empty, None) => Digest::ZERO,
            (
                Terminal::Other {
                    key: other,
                    value_hash: v,
                },
                None,
            ) => {
                if other == key {
                    return Err(ProofError::Malformed("the other leaf is the queried key"));
                }
                if (0..depth).any(|i| bit(other, i) != bit(key, i)) {
                    return Err(ProofError::Malformed(
                        "the other leaf is not on the key's path",
                    ));
                }
                leaf_hash(other, v)
            }
        };
        let mut next = self.siblings.len();
        for i in (0..depth).rev() {
            let sibling = if self.present[i / 8] & (0x80 >> (i % 8)) != 0 {
                next -= 1;
                self.siblings[next]
            } else {
                Digest::ZERO
            };
            h = if bit(key, i) {
                internal_hash(&sibling, &h)
            } else {
                internal_hash(&h, &sibling)
            };
        }
        if h != *root {
            return Err(ProofError::RootMismatch {
                computed: h,
                expected: *root,
            });
        }
        Ok(())
    }
}
