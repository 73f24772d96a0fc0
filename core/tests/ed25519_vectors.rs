//! Ed25519 known answers: RFC 8032 §7.1 test vectors and all Wycheproof cases, checked with the
//! protocol's rule (a registered key, ZIP-215) and with `verify_strict`, the benchmarks' baseline;
//! ZIP-215's answers on small-order points; and batch checks agreeing with single ones.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use credledger_core::hash::Domain;
use credledger_core::sig::{BatchVerifier, Keypair, PublicKey, Signature};
use proptest::prelude::*;
use serde_json::Value;

fn arr<const N: usize>(h: &str) -> [u8; N] {
    hex::decode(h).unwrap().try_into().unwrap()
}

/// RFC 8032 §7.1 TEST 1, 2, 3 and SHA(abc): (secret, public, message, signature).
const RFC8032: [(&str, &str, &str, &str); 4] = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
    (
        "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
        "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
        "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704",
    ),
];

#[test]
fn rfc8032_known_answers() {
    for (sk, pk, msg, sig) in RFC8032 {
        let k = Keypair::from_seed(&arr(sk));
        assert_eq!(k.public(), PublicKey(arr(pk)));
        let m = hex::decode(msg).unwrap();
        let s = k.sign_raw(&m);
        assert_eq!(
            s,
            Signature(arr(sig)),
            "deterministic signature of {msg:.16}"
        );
        assert!(k.public().verify_strict_raw(&m, &s).is_ok());
        assert!(k.public().verify_zip215_raw(&m, &s).is_ok());
        let mut bad = m.clone();
        bad.push(0);
        assert!(k.public().verify_strict_raw(&bad, &s).is_err());
        assert!(k.public().verify_zip215_raw(&bad, &s).is_err());
    }
}

/// Wycheproof cases where the protocol's rule (a registered key, ZIP-215; spec/signatures.md §1,
/// §2) accepts what Wycheproof calls invalid, each with why it is harmless. ed25519-dalek's
/// `verify_strict`, the benchmarks' baseline, agrees with Wycheproof on every case.
const ZIP215_ACCEPTS: [(u64, &str); 1] = [(
    151,
    "R is a non-canonical encoding of the identity (y = 1, x's sign bit set); ZIP-215 decodes \
     it, and the equation then holds only for an S made with the secret key",
)];

#[test]
fn wycheproof_all_cases() {
    let Some(dir) = common::shared_vectors() else {
        return;
    };
    let v: Value =
        serde_json::from_slice(&std::fs::read(dir.join("wycheproof-ed25519_test.json")).unwrap())
            .unwrap();
    let mut count = 0;
    let mut accepted_invalid = Vec::new();
    for group in v["testGroups"].as_array().unwrap() {
        let pk = hex::decode(group["publicKey"]["pk"].as_str().unwrap()).unwrap();
        for t in group["tests"].as_array().unwrap() {
            count += 1;
            let id = t["tcId"].as_u64().unwrap();
            let msg = hex::decode(t["msg"].as_str().unwrap()).unwrap();
            let sig = hex::decode(t["sig"].as_str().unwrap()).unwrap();
            let valid = t["result"].as_str().unwrap() == "valid";
            // Wrong-length keys or signatures cannot even be represented: they are invalid.
            let (strict, protocol) = match (
                <[u8; 32]>::try_from(pk.as_slice()),
                <[u8; 64]>::try_from(sig.as_slice()),
            ) {
                (Ok(pk), Ok(sig)) => {
                    let (key, sig) = (PublicKey(pk), Signature(sig));
                    (
                        key.verify_strict_raw(&msg, &sig).is_ok(),
                        key.prepare().is_ok() && key.verify_zip215_raw(&msg, &sig).is_ok(),
                    )
                }
                _ => (false, false),
            };
            let what = format!("Wycheproof tcId {id} ({}): {:?}", t["comment"], t["flags"]);
            assert_eq!(strict, valid, "verify_strict, {what}");
            if protocol && !valid {
                accepted_invalid.push(id);
            } else {
                assert_eq!(protocol, valid, "registered key + ZIP-215, {what}");
            }
        }
    }
    assert_eq!(count, 151, "all 151 Wycheproof Ed25519 cases");
    assert_eq!(
        accepted_invalid,
        ZIP215_ACCEPTS.map(|(id, _)| id),
        "the only cases ZIP-215 accepts beyond Wycheproof's valid ones"
    );
}

/// The eight points of small order (their canonical encodings), then four non-canonical
/// encodings of them (y ≥ p, or x's sign set on x = 0): the inputs on which Ed25519 libraries
/// disagree, and on which ZIP-215 fixes the answer.
const SMALL_ORDER: [&str; 12] = [
    "0100000000000000000000000000000000000000000000000000000000000000",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "0000000000000000000000000000000000000000000000000000000000000080",
    "0000000000000000000000000000000000000000000000000000000000000000",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
    "0100000000000000000000000000000000000000000000000000000000000080",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
];

#[test]
fn zip215_accepts_every_small_order_pair_alone_and_in_a_batch_and_no_such_key_registers() {
    // With S = 0 the cofactored equation [8]([S]B - R - [k]A) = 0 holds for any small-order A
    // and R, so ZIP-215 accepts every pair of the list, non-canonical encodings included
    // (spec/signatures.md §2). Batch and single checks agree on each, and none of these keys
    // may be registered (§1).
    let mut accepted = 0;
    let mut batch = BatchVerifier::new();
    for a in SMALL_ORDER {
        for r in SMALL_ORDER {
            let mut sig = [0u8; 64];
            sig[..32].copy_from_slice(&arr::<32>(r));
            let (key, sig) = (PublicKey(arr::<32>(a)), Signature(sig));
            let single = key.verify_zip215(Domain::SignVote, b"m", &sig).is_ok();
            let mut one = BatchVerifier::new();
            one.queue(&key, Domain::SignVote, b"m", &sig);
            assert_eq!(one.verify().is_ok(), single, "A {a}, R {r}");
            accepted += usize::from(single);
            batch.queue(&key, Domain::SignVote, b"m", &sig);
        }
        assert!(PublicKey(arr::<32>(a)).prepare().is_err(), "key {a}");
    }
    assert_eq!(accepted, SMALL_ORDER.len() * SMALL_ORDER.len());
    assert!(batch.verify().is_ok(), "all 144 in one batch");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// A batch accepts exactly when every one of its signatures passes alone, whatever bytes of
    /// keys and signatures are changed, so no signature splits validators that group their
    /// checks differently (spec/signatures.md §2–§3).
    #[test]
    fn a_batch_agrees_with_single_checks(
        items in proptest::collection::vec(
            (
                any::<[u8; 32]>(),
                proptest::collection::vec(any::<u8>(), 0..48),
                proptest::option::of((0usize..96, 0u8..8)),
                proptest::option::of(0usize..12),
            ),
            1..6,
        ),
    ) {
        let mut batch = BatchVerifier::new();
        let mut all = true;
        for (seed, msg, flip, small_r) in &items {
            let k = Keypair::from_seed(seed);
            let mut pk = k.public().0;
            let mut sig = k.sign(Domain::SignTransaction, msg).0;
            if let Some(i) = small_r {
                sig[..32].copy_from_slice(&arr::<32>(SMALL_ORDER[*i]));
            }
            if let Some((byte, bit)) = flip {
                if *byte < 32 {
                    pk[*byte] ^= 1 << bit;
                } else {
                    sig[byte - 32] ^= 1 << bit;
                }
            }
            let (key, sig) = (PublicKey(pk), Signature(sig));
            all &= key.verify_zip215(Domain::SignTransaction, msg, &sig).is_ok();
            batch.queue(&key, Domain::SignTransaction, msg, &sig);
        }
        prop_assert_eq!(batch.verify().is_ok(), all);
        if items.iter().all(|(_, _, f, r)| f.is_none() && r.is_none()) {
            prop_assert!(all, "untouched signatures hold");
        }
    }
}

/// An honest signature whose `R` carries the small-order component `torsion`: the signer with
/// scalar `a` and nonce `r` publishes `R = rB + T` and `S = r + k·a` with `k` over that `R`.
/// Only the key's holder can make one. With `mixed_key`, the key itself is `aB + T`.
fn torsion_signature(
    a: [u8; 32],
    r: [u8; 32],
    torsion: &str,
    mixed_key: bool,
    msg: &[u8],
) -> (PublicKey, Signature) {
    use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
    use curve25519_dalek::scalar::Scalar;
    use sha2::{Digest, Sha512};
    let t = CompressedEdwardsY(arr::<32>(torsion)).decompress().unwrap();
    let (a, r) = (
        Scalar::from_bytes_mod_order(a),
        Scalar::from_bytes_mod_order(r),
    );
    let key = EdwardsPoint::mul_base(&a)
        + if mixed_key {
            t
        } else {
            EdwardsPoint::default()
        };
    let big_r = EdwardsPoint::mul_base(&r)
        + if mixed_key {
            EdwardsPoint::default()
        } else {
            t
        };
    let (key, big_r) = (key.compress().to_bytes(), big_r.compress().to_bytes());
    let h: [u8; 64] = Sha512::new()
        .chain_update(big_r)
        .chain_update(key)
        .chain_update(msg)
        .finalize()
        .into();
    let s = r + Scalar::from_bytes_mod_order_wide(&h) * a;
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(&big_r);
    sig[32..].copy_from_slice(s.as_bytes());
    (PublicKey(key), Signature(sig))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    /// Where the cofactored and cofactorless equations part: an honest signature with a torsion
    /// component in `R`, or under a mixed-order key (which `prepare` lets register, not being of
    /// small order). ZIP-215 accepts it alone and in a batch with ordinary signatures;
    /// `verify_strict` refuses the first; a changed `S` is refused both ways, and spoils the
    /// batch.
    #[test]
    fn torsion_components_get_one_verdict_alone_and_in_a_batch(
        a in any::<[u8; 32]>(),
        r in any::<[u8; 32]>(),
        t in 1usize..8,
        mixed_key in any::<bool>(),
        msg in proptest::collection::vec(any::<u8>(), 0..40),
    ) {
        let (key, sig) = torsion_signature(a, r, SMALL_ORDER[t], mixed_key, &msg);
        prop_assume!(key.prepare().is_ok());
        prop_assert!(key.verify_zip215_raw(&msg, &sig).is_ok());
        if !mixed_key {
            // Under a mixed-order key `verify_strict` refuses only when k·T is not the
            // identity, an accident of the hash: exactly the split ZIP-215 removes.
            prop_assert!(key.verify_strict_raw(&msg, &sig).is_err());
        }
        // A framed message, so the batch (which frames) and the single check see the same bytes.
        let framed = Domain::SignTransaction.signing_bytes(&msg);
        let (key, sig) = torsion_signature(a, r, SMALL_ORDER[t], mixed_key, &framed);
        let honest = Keypair::from_seed(&r);
        let mut batch = BatchVerifier::new();
        batch.queue(&key, Domain::SignTransaction, &msg, &sig);
        batch.queue(&honest.public(), Domain::SignTransaction, &msg, &honest.sign(Domain::SignTransaction, &msg));
        prop_assert!(key.verify_zip215(Domain::SignTransaction, &msg, &sig).is_ok());
        prop_assert!(batch.verify().is_ok());
        let mut bad = sig;
        bad.0[40] ^= 1;
        prop_assert!(key.verify_zip215(Domain::SignTransaction, &msg, &bad).is_err());
        let mut batch = BatchVerifier::new();
        batch.queue(&key, Domain::SignTransaction, &msg, &bad);
        batch.queue(&honest.public(), Domain::SignTransaction, &msg, &honest.sign(Domain::SignTransaction, &msg));
        prop_assert!(batch.verify().is_err());
    }
}
