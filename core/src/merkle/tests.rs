use super::*;
use crate::hash::Digest;
use proptest::prelude::*;

fn leaves(n: usize) -> Vec<Digest> {
    (0..n)
        .map(|i| leaf_hash(&(i as u64).to_le_bytes()))
        .collect()
}

/// RFC 6962's recursive definition, as a reference for the iterative code.
fn mth(d: &[Digest]) -> Digest {
    match d.len() {
        0 => empty_root(),
        1 => d[0],
        n => {
            let k = split_point(n as u64) as usize;
            node_hash(&mth(&d[..k]), &mth(&d[k..]))
        }
    }
}

#[test]
fn empty_root_is_sha256_of_nothing() {
    assert_eq!(
        empty_root().to_hex(),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(root(&[]), empty_root());
    assert_eq!(list_root(&[]), empty_root());
    assert_eq!(CompactTree::new().root(), empty_root());
}

proptest! {
    #[test]
    fn all_root_computations_agree(n in 0usize..70) {
        let l = leaves(n);
        let want = mth(&l);
        prop_assert_eq!(root(&l), want);
        prop_assert_eq!(list_root(&l), want);
        let mut t = CompactTree::new();
        for h in &l { t.push(*h); }
        prop_assert_eq!(t.root(), want);
        prop_assert_eq!(t.size(), n as u64);
    }

    #[test]
    fn generated_proofs_verify_and_mutations_fail(n in 1usize..40, i in 0usize..40, m in 1usize..40, bit in 0usize..256) {
        let l = leaves(n);
        let r = root(&l);
        let i = i % n;
        let p = inclusion_proof(&l, i as u64).unwrap();
        prop_assert!(verify_inclusion(&l[i], i as u64, n as u64, &p, &r).is_ok());
        if !p.is_empty() {
            let mut bad = p.clone();
            let at = bit % bad.len();
            bad[at].0[bit / 8 % 32] ^= 1 << (bit % 8);
            prop_assert!(verify_inclusion(&l[i], i as u64, n as u64, &bad, &r).is_err());
        }
        let m = 1 + (m - 1) % n;
        let c = consistency_proof(&l, m as u64).unwrap();
        prop_assert!(verify_consistency(m as u64, n as u64, &root(&l[..m]), &r, &c).is_ok());
        if m < n {
            // The old root of a different prefix must not pass.
            let other = root(&leaves(m + 1)[1..]);
            prop_assert!(verify_consistency(m as u64, n as u64, &other, &r, &c).is_err());
        }
    }
}

#[test]
fn frontier_parts_are_checked() {
    assert!(CompactTree::from_parts(3, vec![Digest::ZERO]).is_err());
    let mut t = CompactTree::new();
    for h in leaves(11) {
        t.push(h);
    }
    let again = CompactTree::from_parts(t.size(), t.peaks().to_vec()).unwrap();
    assert_eq!(again.root(), root(&leaves(11)));
}
