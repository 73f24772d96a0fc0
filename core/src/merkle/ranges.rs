//! Proofs without the whole tree in memory (spec/merkle.md §5).
//!
//! Every hash in an RFC 6962 proof is the root of a range of leaves. Naming those ranges first
//! lets a large log build proofs from what it keeps: a consistency proof from the frontier kept
//! at the last anchor plus the leaves appended since, and an inclusion proof in one streaming
//! pass over the leaves with memory logarithmic in the tree's size.

use super::{CompactTree, MerkleError, root, split_point};
use crate::hash::Digest;

/// A half-open range of leaf indices `[start, end)` whose subtree root is one proof hash.
pub type Range = (u64, u64);

/// The ranges whose roots make the audit path of `index` in a tree of `size`, leaf side first.
pub fn inclusion_ranges(index: u64, size: u64) -> Result<Vec<Range>, MerkleError> {
    if index >= size {
        return Err(MerkleError::IndexOutOfRange { index, size });
    }
    let mut out = Vec::new();
    path(0, size, index, &mut out);
    Ok(out)
}

fn path(lo: u64, hi: u64, m: u64, out: &mut Vec<Range>) {
    let n = hi - lo;
    if n <= 1 {
        return;
    }
    let k = split_point(n);
    if m < k {
        path(lo, lo + k, m, out);
        out.push((lo + k, hi));
    } else {
        path(lo + k, hi, m - k, out);
        out.push((lo, lo + k));
    }
}

/// The ranges whose roots make the consistency proof from `size1` to `size2`, in proof order.
pub fn consistency_ranges(size1: u64, size2: u64) -> Result<Vec<Range>, MerkleError> {
    if size1 == 0 || size1 > size2 {
        return Err(MerkleError::BadSizes { size1, size2 });
    }
    let mut out = Vec::new();
    subproof(0, size2, size1, true, &mut out);
    Ok(out)
}

fn subproof(lo: u64, hi: u64, m: u64, complete: bool, out: &mut Vec<Range>) {
    let n = hi - lo;
    if m == n {
        if !complete {
            out.push((lo, hi));
        }
        return;
    }
    let k = split_point(n);
    if m <= k {
        subproof(lo, lo + k, m, complete, out);
        out.push((lo + k, hi));
    } else {
        subproof(lo + k, hi, m - k, false, out);
        out.push((lo, lo + k));
    }
}

impl CompactTree {
    /// The leaf ranges of the peaks, largest (leftmost) first.
    pub fn peak_ranges(&self) -> Vec<Range> {
        let mut out = Vec::with_capacity(self.peaks().len());
        let mut start = 0u64;
        for bit in (0..64).rev() {
            let width = 1u64 << bit;
            if self.size() & width != 0 {
                out.push((start, start + width));
                start += width;
            }
        }
        out
    }
}

/// The consistency proof from the tree `old` (a frontier) to that tree extended by `appended`.
///
/// Every range of such a proof either is a peak of the old tree or lies wholly among the
/// appended leaves (RFC 6962's `SUBPROOF` only takes whole perfect subtrees from the old side),
/// so the old leaves are never needed. Costs O(appended + log size).
pub fn consistency_from_frontier(
    old: &CompactTree,
    appended: &[Digest],
) -> Result<Vec<Digest>, MerkleError> {
    let m = old.size();
    let n = m + appended.len() as u64;
    let peaks: Vec<(Range, Digest)> = old
        .peak_ranges()
        .into_iter()
        .zip(old.peaks().iter().copied())
        .collect();
    consistency_ranges(m, n)?
        .into_iter()
        .map(|(lo, hi)| {
            if lo >= m {
                Ok(root(&appended[(lo - m) as usize..(hi - m) as usize]))
            } else {
                // A range reaching into the old tree is one of its peaks (see above); anything
                // else would be a bug in the range computation, reported rather than hidden.
                peaks
                    .iter()
                    .find(|(r, _)| *r == (lo, hi))
                    .map(|(_, d)| *d)
                    .ok_or(MerkleError::BadSizes { size1: m, size2: n })
            }
        })
        .collect()
}

/// Builds the inclusion proof of one leaf while every leaf of the tree streams past once.
///
/// Holds one frontier per proof hash: O(log² size) digests at most, whatever the tree's size.
#[derive(Debug)]
pub struct InclusionBuilder {
    index: u64,
    size: u64,
    /// Proof ranges with their trees, sorted by start; `order[i]` is the proof position.
    parts: Vec<(Range, usize, CompactTree)>,
    next: u64,
    current: usize,
    leaf: Option<Digest>,
}

impl InclusionBuilder {
    /// A builder for the proof of leaf `index` in the tree of the first `size` leaves.
    pub fn new(index: u64, size: u64) -> Result<InclusionBuilder, MerkleError> {
        let ranges = inclusion_ranges(index, size)?;
        let mut parts: Vec<(Range, usize, CompactTree)> = ranges
            .into_iter()
            .enumerate()
            .map(|(i, r)| (r, i, CompactTree::new()))
            .collect();
        parts.sort_by_key(|(r, _, _)| r.0);
        Ok(InclusionBuilder {
            index,
            size,
            parts,
            next: 0,
            current: 0,
            leaf: None,
        })
    }

    /// How many leaves it still needs.
    pub fn remaining(&self) -> u64 {
        self.size - self.next
    }

    /// Feeds the next leaf; leaves beyond `size` are ignored.
    pub fn push(&mut self, leaf: Digest) {
        let at = self.next;
        if at >= self.size {
            return;
        }
        self.next += 1;
        if at == self.index {
            self.leaf = Some(leaf);
            return;
        }
        while let Some(((_, hi), _, _)) = self.parts.get(self.current) {
            if at < *hi {
                break;
            }
            self.current += 1;
        }
        if let Some((_, _, tree)) = self.parts.get_mut(self.current) {
            tree.push(leaf);
        }
    }

    /// The leaf and its audit path, once all `size` leaves were fed.
    pub fn finish(self) -> Result<(Digest, Vec<Digest>), MerkleError> {
        let leaf = match (self.leaf, self.next == self.size) {
            (Some(leaf), true) => leaf,
            _ => {
                return Err(MerkleError::IndexOutOfRange {
                    index: self.index,
                    size: self.next,
                });
            }
        };
        let mut proof = vec![Digest::ZERO; self.parts.len()];
        for (_, i, tree) in self.parts {
            proof[i] = tree.root();
        }
        Ok((leaf, proof))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{consistency_proof, inclusion_proof, leaf_hash};
    use proptest::prelude::*;

    fn leaves(n: u64) -> Vec<Digest> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    proptest! {
        #[test]
        fn frontier_consistency_equals_full_consistency(m in 1u64..300, extra in 0u64..300) {
            let all = leaves(m + extra);
            let mut old = CompactTree::new();
            for l in &all[..m as usize] {
                old.push(*l);
            }
            let fast = consistency_from_frontier(&old, &all[m as usize..]).unwrap();
            prop_assert_eq!(fast, consistency_proof(&all, m).unwrap());
        }

        #[test]
        fn streamed_inclusion_equals_full_inclusion(size in 1u64..300, i in 0u64..300, more in 0u64..5) {
            let i = i % size;
            let all = leaves(size + more);
            let mut b = InclusionBuilder::new(i, size).unwrap();
            for l in &all {
                b.push(*l);
            }
            let (leaf, proof) = b.finish().unwrap();
            prop_assert_eq!(leaf, all[i as usize]);
            prop_assert_eq!(proof, inclusion_proof(&all[..size as usize], i).unwrap());
        }
    }

    #[test]
    fn too_few_leaves_is_an_error_not_a_wrong_proof() {
        let mut b = InclusionBuilder::new(3, 10).unwrap();
        for l in leaves(9) {
            b.push(l);
        }
        assert_eq!(b.remaining(), 1);
        assert!(b.finish().is_err());
        assert!(InclusionBuilder::new(10, 10).is_err());
        assert!(consistency_ranges(0, 5).is_err());
        assert!(consistency_ranges(6, 5).is_err());
    }
}
