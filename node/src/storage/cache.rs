//! A bounded in-memory cache keyed by digest, in front of a hash-keyed column: the store keeps
//! one of state-map nodes and one of state values.

use std::collections::HashMap;

use credledger_core::hash::Digest;

/// Two generations of entries: lookups look in both, new entries go to the young one, and
/// when the young one is full the old one is dropped and the young one becomes old. An entry
/// in use moves back to the young generation when it is read, so what every block reads stays.
#[derive(Debug)]
pub struct Cache<V> {
    young: HashMap<Digest, V>,
    old: HashMap<Digest, V>,
    per_generation: usize,
}

impl<V: Clone> Cache<V> {
    /// A cache holding at most `2 * per_generation` entries.
    ///
    /// Both generations are allocated at their full size once, and a full young generation
    /// takes the old one's place by a swap and a clear of the other: the cache never grows a
    /// table or rehashes. Growing and dropping them as it filled cost a block's commit up to
    /// 230 ms in the dev build, on every validator at once, since all write the same nodes
    /// (BENCHMARKS.md, session 14).
    pub fn new(per_generation: usize) -> Cache<V> {
        let per_generation = per_generation.max(1);
        Cache {
            young: HashMap::with_capacity(per_generation),
            old: HashMap::with_capacity(per_generation),
            per_generation,
        }
    }

    /// The entry under `hash`, if cached.
    pub fn get(&mut self, hash: &Digest) -> Option<V> {
        if let Some(n) = self.young.get(hash) {
            return Some(n.clone());
        }
        let n = self.old.remove(hash)?;
        self.insert(*hash, n.clone());
        Some(n)
    }

    /// Keeps an entry (the caller's to say that it matches the store).
    pub fn insert(&mut self, hash: Digest, value: V) {
        if self.young.len() >= self.per_generation {
            std::mem::swap(&mut self.old, &mut self.young);
            self.young.clear();
        }
        self.young.insert(hash, value);
    }

    /// Number of cached entries.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.young.len() + self.old.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use credledger_core::smt::Node;

    fn leaf(i: u8) -> (Digest, Node) {
        let node = Node::Leaf {
            key: Digest([i; 32]),
            value_hash: Digest([i.wrapping_add(1); 32]),
        };
        (node.hash(), node)
    }

    #[test]
    fn holds_at_most_two_generations_and_keeps_what_is_read() {
        let mut c = Cache::new(2);
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
