//! The authenticated state map: a compact sparse Merkle tree over 256-bit keys (spec/state.md).
//!
//! A subtree that holds one entry is that entry's leaf, placed at the first depth where its key
//! differs from every other key, so a map of `n` random keys has proofs of about `log2 n`
//! hashes. Nodes are content-addressed (stored under their own hash), so every past root stays
//! readable and a store only ever inserts; the node's storage keeps them in one column family.

mod proof;

pub use proof::{ProofError, StateProof, Terminal};

use std::collections::HashMap;

use borsh::{BorshDeserialize, BorshSerialize};

use crate::hash::{Digest, Domain};

/// A node of the tree, stored under [`Node::hash`].
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Node {
    /// The only entry of its subtree.
    Leaf {
        /// The entry's key.
        key: Digest,
        /// The digest of the entry's value.
        value_hash: Digest,
    },
    /// A subtree with at least two entries.
    Internal {
        /// Root of the keys whose next bit is 0 ([`Digest::ZERO`] if none).
        left: Digest,
        /// Root of the keys whose next bit is 1 ([`Digest::ZERO`] if none).
        right: Digest,
    },
}

impl Node {
    /// The node's hash (spec/state.md §2).
    pub fn hash(&self) -> Digest {
        match self {
            Node::Leaf { key, value_hash } => leaf_hash(key, value_hash),
            Node::Internal { left, right } => internal_hash(left, right),
        }
    }
}

/// `H_smt-leaf(key ‖ value_hash)`.
pub fn leaf_hash(key: &Digest, value_hash: &Digest) -> Digest {
    Domain::SmtLeaf.hash(&[&key.0, &value_hash.0])
}

/// `H_smt-node(left ‖ right)`.
pub fn internal_hash(left: &Digest, right: &Digest) -> Digest {
    Domain::SmtNode.hash(&[&left.0, &right.0])
}

/// Bit `i` of a key, most significant bit of byte 0 first.
pub fn bit(key: &Digest, i: usize) -> bool {
    (key.0[i / 8] >> (7 - (i % 8))) & 1 == 1
}

/// Read access to stored nodes.
pub trait NodeStore {
    /// The node stored under `hash`, if any; `Err` only if the store itself failed.
    fn get_node(&self, hash: &Digest) -> Result<Option<Node>, SmtError>;
}

/// Why a tree operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmtError {
    /// A node reachable from the root is not in the store (a damaged or incomplete store).
    #[error("state node {0} is missing from the store")]
    MissingNode(Digest),
    /// The store failed to read (I/O or a damaged entry).
    #[error("state store: {0}")]
    Store(String),
    /// An update listed the same key twice.
    #[error("key {0} appears twice in one update")]
    DuplicateKey(Digest),
}

/// Nodes kept in memory; also the overlay a node fills before it writes a block's nodes.
#[derive(Clone, Debug, Default)]
pub struct MemStore {
    nodes: HashMap<Digest, Node>,
}

impl MemStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds nodes returned by [`update`].
    pub fn extend(&mut self, nodes: impl IntoIterator<Item = (Digest, Node)>) {
        self.nodes.extend(nodes);
    }

    /// Number of stored nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

impl NodeStore for MemStore {
    fn get_node(&self, hash: &Digest) -> Result<Option<Node>, SmtError> {
        Ok(self.nodes.get(hash).cloned())
    }
}

/// Sets `entries` (key → value hash) in the tree with root `root`; returns the new root and the
/// nodes to store. Unchanged subtrees are shared with the old root.
pub fn update(
    store: &impl NodeStore,
    root: Digest,
    entries: &[(Digest, Digest)],
) -> Result<(Digest, Vec<(Digest, Node)>), SmtError> {
    let mut sorted = entries.to_vec();
    sorted.sort_unstable_by_key(|e| e.0);
    if let Some(w) = sorted.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(SmtError::DuplicateKey(w[0].0));
    }
    let mut out = Vec::new();
    let new_root = update_at(store, root, 0, &sorted, &mut out)?;
    Ok((new_root, out))
}

fn put(node: Node, out: &mut Vec<(Digest, Node)>) -> Digest {
    let h = node.hash();
    out.push((h, node));
    h
}

fn update_at(
    store: &impl NodeStore,
    node: Digest,
    depth: usize,
    entries: &[(Digest, Digest)],
    out: &mut Vec<(Digest, Node)>,
) -> Result<Digest, SmtError> {
    if entries.is_empty() {
        return Ok(node);
    }
    if node == Digest::ZERO {
        return Ok(build(depth, entries, out));
    }
    match store.get_node(&node)?.ok_or(SmtError::MissingNode(node))? {
        Node::Leaf { key, value_hash } => {
            // The existing entry joins the update unless the update replaces it.
            if entries.binary_search_by(|e| e.0.cmp(&key)).is_ok() {
                Ok(build(depth, entries, out))
            } else {
                let mut merged = entries.to_vec();
                let at = merged.partition_point(|e| e.0 < key);
                merged.insert(at, (key, value_hash));
                Ok(build(depth, &merged, out))
            }
        }
        Node::Internal { left, right } => {
            let split = entries.partition_point(|e| !bit(&e.0, depth));
            let l = update_at(store, left, depth + 1, &entries[..split], out)?;
            let r = update_at(store, right, depth + 1, &entries[split..], out)?;
            Ok(put(Node::Internal { left: l, right: r }, out))
        }
    }
}

/// Builds the canonical subtree for sorted, distinct entries that all share `depth` leading bits.
fn build(depth: usize, entries: &[(Digest, Digest)], out: &mut Vec<(Digest, Node)>) -> Digest {
    match entries {
        [] => Digest::ZERO,
        [(key, value_hash)] => put(
            Node::Leaf {
                key: *key,
                value_hash: *value_hash,
            },
            out,
        ),
        _ => {
            // Distinct keys differ at some bit below 256, so the recursion ends before depth 256.
            let split = entries.partition_point(|e| !bit(&e.0, depth));
            let l = build(depth + 1, &entries[..split], out);
            let r = build(depth + 1, &entries[split..], out);
            put(Node::Internal { left: l, right: r }, out)
        }
    }
}

/// The value hash stored under `key`, with a proof of presence or absence against `root`.
pub fn prove(
    store: &impl NodeStore,
    root: Digest,
    key: &Digest,
) -> Result<(Option<Digest>, StateProof), SmtError> {
    let mut node = root;
    let mut siblings = Vec::new();
    let mut depth = 0usize;
    loop {
        if node == Digest::ZERO {
            return Ok((None, StateProof::from_path(&siblings, Terminal::Empty)));
        }
        match store.get_node(&node)?.ok_or(SmtError::MissingNode(node))? {
            Node::Leaf { key: k, value_hash } => {
                if k == *key {
                    return Ok((
                        Some(value_hash),
                        StateProof::from_path(&siblings, Terminal::Found),
                    ));
                }
                return Ok((
                    None,
                    StateProof::from_path(&siblings, Terminal::Other { key: k, value_hash }),
                ));
            }
            Node::Internal { left, right } => {
                let (next, sib) = if bit(key, depth) {
                    (right, left)
                } else {
                    (left, right)
                };
                siblings.push(sib);
                node = next;
                depth += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests;
