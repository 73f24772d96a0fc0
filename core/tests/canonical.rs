//! Rules of canonical form that re-encoding alone cannot catch: list order, frontier shape,
//! explicit empty siblings, weak keys, and sound genesis documents.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use credledger_core::block::{Validator, ValidatorSet};
use credledger_core::devnet::{Devnet, DevnetParams};
use credledger_core::encoding::{DecodeError, decode, encode};
use credledger_core::hash::Digest;
use credledger_core::merkle::{CompactTree, leaf_hash};
use credledger_core::sig::{Keypair, PublicKey};
use credledger_core::smt::{self, MemStore};

fn validators(n: u8) -> Vec<Validator> {
    (0..n)
        .map(|i| Validator {
            name: credledger_core::bounded::Ident::new(format!("v{i}")).unwrap(),
            public_key: Keypair::from_seed(&[i + 1; 32]).public(),
            power: credledger_core::ids::VotingPower(1),
        })
        .collect()
}

#[test]
fn unsorted_validator_set_does_not_decode() {
    let set = ValidatorSet::new(validators(4)).unwrap();
    let bytes = encode(&set);
    assert_eq!(decode::<ValidatorSet>(&bytes, 4096).unwrap(), set);
    // Swap the first two validators in the encoding: same length, wrong order.
    let mut listed = set.validators().to_vec();
    listed.swap(0, 1);
    let raw = encode(&credledger_core::bounded::BoundedVec::<Validator, 256>::new(listed).unwrap());
    assert!(
        matches!(decode::<ValidatorSet>(&raw, 4096), Err(DecodeError::Malformed(m)) if m.contains("sorted"))
    );
}

#[test]
fn frontier_with_wrong_peak_count_does_not_decode() {
    let mut t = CompactTree::new();
    for i in 0..5u8 {
        t.push(leaf_hash(&[i]));
    }
    let bytes = encode(&t);
    assert_eq!(decode::<CompactTree>(&bytes, 4096).unwrap(), t);
    let mut forged = bytes.clone();
    // Size 5 has two peaks; size 7 would need three.
    forged[0] = 7;
    assert!(decode::<CompactTree>(&forged, 4096).is_err());
}

#[test]
fn state_proof_with_a_listed_empty_sibling_is_refused() {
    let mut store = MemStore::new();
    let k = |i: u8| Digest([i; 32]);
    let entries: Vec<_> = (1..=8u8).map(|i| (k(i << 4), k(i))).collect();
    let (root, nodes) = smt::update(&store, Digest::ZERO, &entries).unwrap();
    store.extend(nodes);
    let (_, proof) = smt::prove(&store, root, &k(0x10)).unwrap();
    assert!(proof.verify(&root, &k(0x10), Some(&k(1))).is_ok());
    // Mark an empty level as present and list the zero digest for it: same meaning, other bytes.
    let depth = usize::from(proof.depth);
    let empty_level = (0..depth).find(|i| proof.present[i / 8] & (0x80 >> (i % 8)) == 0);
    if let Some(i) = empty_level {
        let mut p = proof.clone();
        let mut bits = p.present.clone().into_inner();
        bits[i / 8] |= 0x80 >> (i % 8);
        p.present = credledger_core::bounded::ShortVec::new(bits).unwrap();
        let before = (0..i)
            .filter(|j| proof.present[j / 8] & (0x80 >> (j % 8)) != 0)
            .count();
        let mut sibs = p.siblings.clone().into_inner();
        sibs.insert(before, Digest::ZERO);
        p.siblings = credledger_core::bounded::BoundedVec::new(sibs).unwrap();
        assert!(p.verify(&root, &k(0x10), Some(&k(1))).is_err());
    }
}

#[test]
fn small_order_keys_are_refused() {
    // The identity point (y = 1) has order 1.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    assert!(PublicKey(identity).prepare().is_err());
    assert!(Keypair::from_seed(&[3; 32]).public().prepare().is_ok());
}

#[test]
fn devnet_genesis_is_sound_and_mutations_are_named() {
    let d = Devnet::build(&[1; 32], &DevnetParams::default()).unwrap();
    assert!(
        d.genesis.problems().is_empty(),
        "{:?}",
        d.genesis.problems()
    );
    let mut g = d.genesis.clone();
    let mut v = g.validators.clone().into_inner();
    v.reverse();
    g.validators = credledger_core::bounded::BoundedVec::new(v).unwrap();
    g.governance_threshold = 0;
    let p = g.problems();
    assert!(
        p.iter().any(|m| m.contains("sorted by public key")),
        "{p:?}"
    );
    assert!(
        p.iter().any(|m| m.contains("governance_threshold is 0")),
        "{p:?}"
    );
    // JSON round trip keeps the hash.
    let again =
        credledger_core::genesis::Genesis::from_json(d.genesis.to_json().as_bytes()).unwrap();
    assert_eq!(again.hash(), d.genesis.hash());
}
