//! Property tests of every decoder of outside bytes: arbitrary input never panics and stays
//! within limits, valid values round-trip canonically, and any changed byte of a presentation
//! is refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use credledger_core::block::{CommitCertificate, Header};
use credledger_core::encoding::{DecodeError, decode, encode};
use credledger_core::genesis::Genesis;
use credledger_core::ids::Timestamp;
use credledger_core::presentation::{MAX_PRESENTATION_BYTES, Presentation, PresentationError};
use credledger_core::smt::StateProof;
use credledger_core::testkit::World;
use credledger_core::tx::{MAX_TX_BYTES, Transaction};
use credledger_core::{Policy, verify};
use proptest::prelude::*;

const T0: u64 = 1_767_225_600_000;

fn sample() -> (World, Presentation) {
    let mut w = World::new(5, 4);
    let c = w.lawyer_license(1, None);
    w.publish(&c);
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
    // A final pair over 255 decodes, in the Base45 crate, to its low byte: "00" and "V5" (the
    // pair for 256: 31 + 45 × 5) both give [0]. Only "00" is Base45 for [0]: it passes the text
    // check and fails later as bytes, where "V5" fails as text.
    assert_eq!(base45::decode("V5").unwrap(), base45::decode("00").unwrap());
    assert!(matches!(
        Presentation::from_text("CL1:00"),
        Err(PresentationError::Decode(_))
    ));
    assert_eq!(
        Presentation::from_text("CL1:V5"),
        Err(PresentationError::BadText("Base45"))
    );
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

mod round_trips {
    use credledger_core::bounded::{ShortVec, Text};
    use credledger_core::credential::{CredentialBody, DisclosedItem, Disclosure};
    use credledger_core::encoding::{decode, encode};
    use credledger_core::hash::Digest;
    use credledger_core::ids::{CredentialId, Timestamp};
    use credledger_core::presentation::{CompactPresentation, Presentation};
    use credledger_core::sig::Signature;
    use proptest::prelude::*;

    fn text() -> impl Strategy<Value = Text<255>> {
        "\\PC{0,40}".prop_filter_map("fits 255 bytes", |s| Text::new(s).ok())
    }

    fn disclosure() -> impl Strategy<Value = Disclosure> {
        let item = prop_oneof![
            (any::<[u8; 16]>(), text())
                .prop_map(|(salt, value)| DisclosedItem::Shown { salt, value }),
            any::<[u8; 32]>().prop_map(|d| DisclosedItem::Hidden { digest: Digest(d) }),
        ];
        prop_oneof![
            (any::<[u8; 16]>(), proptest::collection::vec(text(), 0..8)).prop_map(|(seed, v)| {
                Disclosure::All {
                    seed,
                    values: ShortVec::new(v).unwrap(),
                }
            }),
            proptest::collection::vec(item, 0..8).prop_map(|v| Disclosure::Selective {
                items: ShortVec::new(v).unwrap()
            }),
        ]
    }

    fn compact() -> impl Strategy<Value = CompactPresentation> {
        (
            any::<u8>(),
            "[a-z][a-z0-9-]{0,20}",
            "[a-z][a-z0-9.-]{0,30}",
            any::<[u8; 16]>(),
            any::<u64>(),
            proptest::option::of(any::<u64>()),
            any::<[u8; 32]>(),
            any::<[u8; 32]>(),
            disclosure(),
        )
            .prop_map(
                |(version, issuer, key, id, from, until, root, sig_half, disclosure)| {
                    let mut sig = [0u8; 64];
                    sig[..32].copy_from_slice(&sig_half);
                    CompactPresentation {
                        body: CredentialBody {
                            version,
                            issuer: issuer.parse().unwrap(),
                            key_id: key.parse().unwrap(),
                            kind: "lawyer-license".parse().unwrap(),
                            id: CredentialId(id),
                            valid_from: Timestamp(from),
                            valid_until: until.map(Timestamp),
                            claims_root: Digest(root),
                        },
                        signature: Signature(sig),
                        disclosure,
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn any_compact_presentation_round_trips_canonically(c in compact()) {
            let p = Presentation::Compact(c);
            let bytes = p.to_bytes();
            prop_assert_eq!(Presentation::from_bytes(&bytes).unwrap(), p.clone());
            prop_assert_eq!(Presentation::from_text(&p.to_qr_text()).unwrap(), p.clone());
            prop_assert_eq!(Presentation::from_text(&p.to_url_text()).unwrap(), p.clone());
            // Canonical: the decoder's output re-encodes to the very bytes it read.
            let again: Presentation = decode(&bytes, bytes.len()).unwrap();
            prop_assert_eq!(encode(&again), bytes);
        }
    }
}
