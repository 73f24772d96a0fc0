//! A bounded in-memory cache of state-map nodes in front of the `state_nodes` column.
//!
//! Every block's update walks the paths from the root to the keys it changes, and the upper
//! part of those paths is what the previous blocks wrote. Nodes are content-addressed (stored
//! under their own hash and never changed), so a cached node can never be stale: the cache
//! needs no invalidation, only a bound on its size.

use std::collections::HashMap;

use credledger_core::hash::Digest;
use credledger_core::smt::Node;

/// Two generations of nodes: lookups look in both, new entries go to the young one, and when
/// the young one is full the old one is dropped and the young one becomes old. A node in use
/// moves back to the young generation when it is read, so the paths every block walks stay.
#[derive(Debug)]
pub struct NodeCache {
    young: HashMap<Digest, Node>,
    old: HashMap<Digest, Node>,
    per_generation: usize,
}

impl NodeCache {
    /// A cache holding at most `2 * per_generation` nodes.
    ///
    /// Both generations are allocated at their full size once, and a full young generation
    /// takes the old one's place by a swap and a clear of the other: the cache never grows a
    /// table or rehashes. Growing and dropping them as it filled cost a block's commit up to
    /// 230 ms in the dev build, on every validator at once, since all write the same nodes
    /// (BENCHMARKS.md, session 14).
    pub fn new(per_generation: usize) -> NodeCache {
        let per_generation = per_generation.max(1);
        NodeCache {
            young: HashMap::with_capacity(per_generation),
            old: HashMap::with_capacity(per_generation),
            per_generation,
        }
    }

    /// The node stored under `hash`, if cached.
    pub fn get(&mut self, hash: &Digest) -> Option<Node> {
        if let Some(n) = self.young.get(hash) {
            return Some(n.clone());
        }
        let n = self.old.remove(hash)?;
        self.insert(*hash, n.clone());
        Some(n)
    }

    /// Keeps a node that is in the store (written durably, or read from it).
    pub fn insert(&mut self, hash: Digest, node: Node) {
        if self.young.len() >= self.per_generation {
            std::mem::swap(&mut self.old, &mut self.young);
            self.young.clear();
        }
        self.young.insert(hash, node);
    }

    /// Number of cached nodes.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.young.len() + self.old.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(i: u8) -> (Digest, Node) {
        let node = Node::Leaf {
            key: Digest([i; 32]),
            value_hash: Digest([i.wrapping_add(1); 32]),
        };
        (node.hash(), node)
    }

    #[test]
    fn holds_at_most_two_generations_and_keeps_what_is_read() {
        let mut c = NodeCache::new(2);
        let nodes: Vec<_> = (0..5).map(leaf).collect();
        for (h, n) in &nodes[..2] {
            c.insert(*h, n.clone());
        }
        // The third insert turns the first two into the old generation.
        c.insert(nodes[2].0, nodes[2].1.clone());
        assert_eq!(c.len(), 3);
        // Reading node 0 brings it back to the young generation (now full: 2 and 0)...
        assert_eq!(c.get(&nodes[0].0), Some(nodes[0].1.clone()));
        // ...so the next insert drops node 1, which nobody read, and keeps node 0.
        c.insert(nodes[3].0, nodes[3].1.clone());
        assert_eq!(c.get(&nodes[1].0), None);
        assert_eq!(c.get(&nodes[0].0), Some(nodes[0].1.clone()));
        assert_eq!(c.get(&nodes[4].0), None);
        assert!(c.len() <= 4);
    }
}
