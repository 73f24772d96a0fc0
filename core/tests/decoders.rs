//! Property tests of every decoder of outside bytes: arbitrary input never panics and stays
//! within limits, valid values round-trip canonically, and any changed byte of a presentation
//! is refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use credledger_core::block::{CommitCertificate, Header};
use credledger_core::encoding::{DecodeError, decode, encode};
use credledger_core::genesis::Genesis;
use credledger_core::ids::Timestamp;
use credledger_core::presentation::{MAX_PRESENTATION_BYTES, Presentation};
use credledger_core::smt::StateProof;
use credledger_core::testkit::World;
use credledger_core::tx::{MAX_TX_BYTES, Transaction};
use credledger_core::{Policy, verify};
use proptest::prelude::*;

const T0: u64 = 1_767_225_600_000;

fn sample() -> (World, Presentation) {
    let mut w = World::new(5, 4);
    let c = w.lawyer_license(1, None);
    w.publish(&c, Timestamp(T0 + 1000));
    w.commit(Timestamp(T0 + 1000));
    let p = w.full(&c, Some(&["name", "bar"]));
    (w, p)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = Presentation::from_bytes(&bytes);
        let _ = decode::<Transaction>(&bytes, MAX_TX_BYTES);
        let _ = decode::<Header>(&bytes, 1024);
        let _ = decode::<CommitCertificate>(&bytes, 1 << 16);
        let _ = decode::<StateProof>(&bytes, 1 << 14);
        let _ = Genesis::from_json(&bytes);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,600}", prefix in prop_oneof![Just("CL1:"), Just("cl1."), Just("")]) {
        let _ = Presentation::from_text(&format!("{prefix}{text}"));
    }

    #[test]
    fn base45_alphabet_text_never_panics(text in "[0-9A-Z $%*+./:-]{0,900}") {
        let _ = Presentation::from_text(&format!("CL1:{text}"));
    }
}

#[test]
fn valid_presentations_round_trip_in_every_form() {
    let (_, p) = sample();
    let bytes = p.to_bytes();
    assert_eq!(Presentation::from_bytes(&bytes).unwrap(), p);
    assert_eq!(Presentation::from_text(&p.to_qr_text()).unwrap(), p);
    assert_eq!(Presentation::from_text(&p.to_url_text()).unwrap(), p);
    assert_eq!(encode(&p), bytes);
}

#[test]
fn every_changed_byte_of_a_full_presentation_is_refused() {
    let (w, p) = sample();
    let anchor = w.anchor();
    let now = Timestamp(T0 + 2000);
    assert!(verify(&p, &anchor, now, &Policy::LIVE).is_ok());
    let bytes = p.to_bytes();
    for i in 0..bytes.len() {
        for flip in [0x01u8, 0x80] {
            let mut b = bytes.clone();
            b[i] ^= flip;
            if let Ok(q) = Presentation::from_bytes(&b) {
                let r = verify(&q, &anchor, now, &Policy::LIVE);
                assert!(r.is_err(), "byte {i} ^ {flip:#x} still verified: {q:?}");
            }
        }
    }
}

#[test]
fn limits_are_enforced_before_decoding() {
    let big = vec![0u8; MAX_PRESENTATION_BYTES + 1];
    assert_eq!(
        Presentation::from_bytes(&big),
        Err(DecodeError::TooLarge {
            len: big.len(),
            max: MAX_PRESENTATION_BYTES
        })
    );
    assert!(Genesis::from_json(&vec![b' '; (1 << 20) + 1]).is_err());
}

#[test]
fn non_canonical_text_is_refused() {
    let (_, p) = sample();
    let text = p.to_qr_text();
    // Lower-case Base45 is not Base45.
    assert!(Presentation::from_text(&text.to_lowercase().replacen("cl1:", "CL1:", 1)).is_err());
    // base64url with non-zero trailing bits decodes to the same bytes in lax decoders; refuse it.
    let url = p.to_url_text();
    let last = url.chars().last().unwrap();
    if url.len() % 4 != 0 {
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let i = alphabet.find(last).unwrap();
        let twin = alphabet.chars().nth(i ^ 1).unwrap();
        let mut t = url.clone();
        t.pop();
        t.push(twin);
        assert!(Presentation::from_text(&t).is_err());
    }
}
