//! Inclusion and consistency proofs: generation over a list of leaf hashes and verification
//! (RFC 9162 §2.1.3 and §2.1.4, which state RFC 6962's proofs as algorithms).

use super::{MerkleError, node_hash, root, split_point};
use crate::hash::Digest;

/// The audit path of leaf `index` in the tree over `leaf_hashes`, leaf side first.
pub fn inclusion_proof(leaf_hashes: &[Digest], index: u64) -> Result<Vec<Digest>, MerkleError> {
    let size = leaf_hashes.len() as u64;
    if index >= size {
        return Err(MerkleError::IndexOutOfRange { index, size });
    }
    let mut out = Vec::new();
    path(leaf_hashes, index as usize, &mut out);
    Ok(out)
}

fn path(leaves: &[Digest], m: usize, out: &mut Vec<Digest>) {
    let n = leaves.len();
    if n <= 1 {
        return;
    }
    let k = split_point(n as u64) as usize;
    if m < k {
        path(&leaves[..k], m, out);
        out.push(root(&leaves[k..]));
    } else {
        path(&leaves[k..], m - k, out);
        out.push(root(&leaves[..k]));
    }
}

/// Checks that `leaf` is at `index` in the tree of `size` leaves whose root is `expected_root`.
pub fn verify_inclusion(
    leaf: &Digest,
    index: u64,
    size: u64,
    proof: &[Digest],
    expected_root: &Digest,
) -> Result<(), MerkleError> {
    if index >= size {
        return Err(MerkleError::IndexOutOfRange { index, size });
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if sn == 0 {
            return Err(MerkleError::WrongProofLength {
                got: proof.len(),
                expected: inclusion_len(index, size),
            });
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(MerkleError::WrongProofLength {
            got: proof.len(),
            expected: inclusion_len(index, size),
        });
    }
    if r != *expected_root {
        return Err(MerkleError::RootMismatch {
            computed: r,
            expected: *expected_root,
        });
    }
    Ok(())
}

/// The number of hashes in the audit path of `index` in a tree of `size` leaves.
fn inclusion_len(index: u64, size: u64) -> usize {
    let (mut fn_, mut sn, mut len) = (index, size.saturating_sub(1), 0);
    while sn != 0 {
        if fn_ & 1 == 0 && fn_ == sn {
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        }
        len += 1;
        fn_ >>= 1;
        sn >>= 1;
    }
    len
}

/// The proof that the tree over the first `size1` leaves is a prefix of the tree over all of
/// `leaf_hashes` (RFC 6962 §2.1.2, `PROOF(m, D[n])`).
pub fn consistency_proof(leaf_hashes: &[Digest], size1: u64) -> Result<Vec<Digest>, MerkleError> {
    let size2 = leaf_hashes.len() as u64;
    if size1 == 0 || size1 > size2 {
        return Err(MerkleError::BadSizes { size1, size2 });
    }
    let mut out = Vec::new();
    subproof(leaf_hashes, size1 as usize, true, &mut out);
    Ok(out)
}

fn subproof(leaves: &[Digest], m: usize, complete: bool, out: &mut Vec<Digest>) {
    let n = leaves.len();
    if m == n {
        if !complete {
            out.push(root(leaves));
        }
        return;
    }
    let k = split_point(n as u64) as usize;
    if m <= k {
        subproof(&leaves[..k], m, complete, out);
        out.push(root(&leaves[k..]));
    } else {
        subproof(&leaves[k..], m - k, false, out);
        out.push(root(&leaves[..k]));
    }
}

/// Checks that the tree of `size2` leaves with root `root2` extends the tree of `size1` leaves
/// with root `root1` (append-only: nothing removed, changed or reordered).
pub fn verify_consistency(
    size1: u64,
    size2: u64,
    root1: &Digest,
    root2: &Digest,
    proof: &[Digest],
) -> Result<(), MerkleError> {
    // An empty tree is a prefix of everything, so a "proof" from it proves nothing; RFC 9162
    // defines none, and the published vectors expect a refusal even from 0 to 0.
    if size1 == 0 || size1 > size2 {
        return Err(MerkleError::BadSizes { size1, size2 });
    }
    if size1 == size2 {
        if !proof.is_empty() {
            return Err(MerkleError::WrongProofLength {
                got: proof.len(),
                expected: 0,
            });
        }
        if root1 != root2 {
            return Err(MerkleError::RootMismatch {
                computed: *root2,
                expected: *root1,
            });
        }
        return Ok(());
    }
    let wrong_len = || MerkleError::WrongProofLength {
        got: proof.len(),
        expected: 0,
    };
    let mut path: Vec<Digest> = Vec::with_capacity(proof.len() + 1);
    if size1.is_power_of_two() {
        path.push(*root1);
    }
    path.extend_from_slice(proof);
    let Some((first, rest)) = path.split_first() else {
        return Err(wrong_len());
    };

    let (mut fn_, mut sn) = (size1 - 1, size2 - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if sn == 0 {
            return Err(wrong_len());
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(wrong_len());
    }
    if fr != *root1 {
        return Err(MerkleError::RootMismatch {
            computed: fr,
            expected: *root1,
        });
    }
    if sr != *root2 {
        return Err(MerkleError::RootMismatch {
            computed: sr,
            expected: *root2,
        });
    }
    Ok(())
}
