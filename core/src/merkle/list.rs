//! Roots of whole lists through rs_merkle with an RFC 6962 hasher.
//!
//! rs_merkle builds its tree from all leaves at once, which suits lists that are hashed once
//! (the transactions of a block). It is not used for append-only logs: its `commit` rebuilds
//! the tree on every append; [`super::CompactTree`] serves those.

use rs_merkle::{Hasher, MerkleTree};

use super::{empty_root, node_hash};
use crate::hash::{Digest, sha256};

/// rs_merkle's hasher with RFC 6962's inner-node prefix.
///
/// rs_merkle is handed leaf hashes that already carry the `0x00` prefix, so `hash` is only
/// used by rs_merkle for helpers we do not call; `concat_and_hash` applies `0x01` and carries
/// an odd node up unchanged, which yields the RFC 6962 tree shape.
#[derive(Clone)]
struct Rfc6962;

impl Hasher for Rfc6962 {
    type Hash = [u8; 32];

    fn hash(data: &[u8]) -> [u8; 32] {
        sha256(&[data]).0
    }

    fn concat_and_hash(left: &[u8; 32], right: Option<&[u8; 32]>) -> [u8; 32] {
        match right {
            Some(r) => node_hash(&Digest(*left), &Digest(*r)).0,
            None => *left,
        }
    }
}

/// The RFC 6962 root of a whole list of leaf hashes.
pub fn list_root(leaf_hashes: &[Digest]) -> Digest {
    let leaves: Vec<[u8; 32]> = leaf_hashes.iter().map(|d| d.0).collect();
    match MerkleTree::<Rfc6962>::from_leaves(&leaves).root() {
        Some(r) => Digest(r),
        None => empty_root(),
    }
}
