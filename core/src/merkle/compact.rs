//! An append-only RFC 6962 tree kept as its frontier: one subtree root per set bit of the size.
//!
//! Appending costs one leaf hash plus, on average, one node hash, and the state is at most 64
//! digests, so an anchoring agent can ingest millions of records per second and persist its
//! position in a few hundred bytes (spec/merkle.md §4).

use borsh::{BorshDeserialize, BorshSerialize};

use super::{empty_root, node_hash};
use crate::hash::Digest;

/// The frontier of an append-only Merkle tree. Decoding checks that the peaks fit the size.
#[derive(Clone, Debug, Default, PartialEq, Eq, BorshSerialize)]
pub struct CompactTree {
    size: u64,
    /// Roots of the perfect subtrees that make up the tree, largest (leftmost) first.
    peaks: Vec<Digest>,
}

/// A frontier whose peaks do not match its size.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a tree of size {size} has {expected} peaks; got {got}")]
pub struct FrontierError {
    /// The size claimed.
    pub size: u64,
    /// Peaks required for that size.
    pub expected: u32,
    /// Peaks given.
    pub got: usize,
}

impl BorshDeserialize for CompactTree {
    fn deserialize_reader<R: std::io::Read>(reader: &mut R) -> std::io::Result<Self> {
        let size = u64::deserialize_reader(reader)?;
        // At most 64 peaks (one per bit of the size), checked before any is read.
        let peaks =
            crate::bounded::BoundedVec::<Digest, 64>::deserialize_reader(reader)?.into_inner();
        CompactTree::from_parts(size, peaks).map_err(|e| crate::encoding::invalid(&e.to_string()))
    }
}

impl CompactTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds a frontier from stored parts, checking that they fit together.
    pub fn from_parts(size: u64, peaks: Vec<Digest>) -> Result<Self, FrontierError> {
        if peaks.len() != size.count_ones() as usize {
            return Err(FrontierError {
                size,
                expected: size.count_ones(),
                got: peaks.len(),
            });
        }
        Ok(Self { size, peaks })
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The subtree roots, largest first.
    pub fn peaks(&self) -> &[Digest] {
        &self.peaks
    }

    /// Appends one leaf hash (see [`super::leaf_hash`]).
    pub fn push(&mut self, leaf: Digest) {
        let mut h = leaf;
        let mut n = self.size;
        // Each trailing one bit of the old size is a peak of the same height as the new node.
        while n & 1 == 1 {
            if let Some(left) = self.peaks.pop() {
                h = node_hash(&left, &h);
            }
            n >>= 1;
        }
        self.peaks.push(h);
        self.size += 1;
    }

    /// The current root.
    pub fn root(&self) -> Digest {
        let mut iter = self.peaks.iter().rev();
        let Some(last) = iter.next() else {
            return empty_root();
        };
        iter.fold(*last, |acc, left| node_hash(left, &acc))
    }
}
