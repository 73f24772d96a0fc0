//! RFC 6962 Merkle trees: hashes, roots, inclusion and consistency proofs (spec/merkle.md).
//!
//! Leaves are hashed as `SHA-256(0x00 ‖ data)` and inner nodes as `SHA-256(0x01 ‖ left ‖ right)`,
//! exactly as RFC 6962 §2.1 (and RFC 9162 §2.1) say, so that published vectors and other
//! implementations check our proofs. The tree over `n` leaves splits at the largest power of
//! two below `n`.

mod compact;
mod list;
mod proof;
mod ranges;

pub use compact::CompactTree;
pub use list::list_root;
pub use proof::{consistency_proof, inclusion_proof, verify_consistency, verify_inclusion};
pub use ranges::{
    InclusionBuilder, Range, consistency_from_frontier, consistency_ranges, inclusion_ranges,
};

use crate::hash::{Digest, sha256};

/// Why a Merkle proof was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MerkleError {
    /// The leaf index is not inside the tree.
    #[error("leaf index {index} is outside a tree of size {size}")]
    IndexOutOfRange {
        /// The index given.
        index: u64,
        /// The tree size given.
        size: u64,
    },
    /// The proof has the wrong number of hashes for these sizes.
    #[error("proof has {got} hashes; these sizes need {expected}")]
    WrongProofLength {
        /// Hashes given.
        got: usize,
        /// Hashes needed.
        expected: usize,
    },
    /// The sizes cannot be related by a proof (second smaller than first, or first empty).
    #[error("no consistency proof exists from size {size1} to size {size2}")]
    BadSizes {
        /// Older size.
        size1: u64,
        /// Newer size.
        size2: u64,
    },
    /// The proof does not lead to the expected root.
    #[error("computed root {computed} does not match {expected}")]
    RootMismatch {
        /// Root the proof leads to.
        computed: Digest,
        /// Root it should lead to.
        expected: Digest,
    },
}

/// `SHA-256(0x00 ‖ data)`: the hash of one leaf.
pub fn leaf_hash(data: &[u8]) -> Digest {
    sha256(&[&[0x00], data])
}

/// `SHA-256(0x01 ‖ left ‖ right)`: the hash of an inner node.
pub fn node_hash(left: &Digest, right: &Digest) -> Digest {
    sha256(&[&[0x01], &left.0, &right.0])
}

/// The root of an empty tree, `SHA-256("")`.
pub fn empty_root() -> Digest {
    sha256(&[])
}

/// The root over already-hashed leaves (RFC 6962 MTH), computed level by level.
pub fn root(leaf_hashes: &[Digest]) -> Digest {
    if leaf_hashes.is_empty() {
        return empty_root();
    }
    // Pairing left to right and carrying an odd last node up unchanged builds the same tree as
    // RFC 6962's split at the largest power of two (spec/merkle.md §2).
    let mut level: Vec<Digest> = leaf_hashes.to_vec();
    while level.len() > 1 {
        let mut next = Vec::with_capacity(level.len().div_ceil(2));
        for pair in level.chunks(2) {
            match pair {
                [l, r] => next.push(node_hash(l, r)),
                [single] => next.push(*single),
                _ => {}
            }
        }
        level = next;
    }
    level[0]
}

/// The largest power of two strictly less than `n` (`n` ≥ 2).
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

#[cfg(test)]
mod tests;
