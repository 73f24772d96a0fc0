use super::*;
use crate::block::ValidatorSet;
use crate::bounded::{ShortVec, Text};
use crate::credential::{DisclosedItem, Disclosure};
use crate::ids::Timestamp;
use crate::presentation::Presentation;
use crate::state::{CredentialStatus, ReasonCode};
use crate::testkit::World;

const T0: u64 = 1_767_225_600_000;

fn t(secs: u64) -> Timestamp {
    Timestamp(T0 + secs * 1000)
}

/// A world with one published lawyer license committed at t(10).
fn world() -> (World, crate::credential::HeldCredential) {
    let mut w = World::new(1, 4);
    let c = w.lawyer_license(42, Some(t(1_000_000)));
    w.publish(&c);
    w.commit(t(10));
    (w, c)
}

#[test]
fn good_full_presentation_is_valid_with_every_check() {
    let (w, c) = world();
    let v = verify(&w.full(&c, None), &w.anchor(), t(12), &Policy::LIVE).unwrap();
    assert_eq!(v.issuer.as_str(), "moj");
    assert_eq!(v.issuer_name_zh, "法務部");
    assert_eq!(v.disclosed.len(), 4);
    assert_eq!(v.hidden_claims, 0);
    assert!(
        matches!(v.status, StatusFinding::Active { published_at, .. } if published_at == t(10))
    );
    assert_eq!(
        v.checks,
        vec![
            Check::Decoding,
            Check::IssuerKnown,
            Check::KindAuthorized,
            Check::Signature,
            Check::Claims,
            Check::Anchoring,
            Check::KeyValidAtIssuance,
            Check::ValidityWindow,
            Check::Freshness,
            Check::Status
        ]
    );
}

#[test]
fn compact_presentation_needs_status_unless_policy_waives_it() {
    let (w, c) = world();
    let p = World::compact(&c, Some(&["name", "license_no"]));
    let e = verify(&p, &w.anchor(), t(12), &Policy::LIVE).unwrap_err();
    assert_eq!(
        e,
        Rejection::StatusUnavailable {
            credential: c.body.id
        }
    );
    assert_eq!(e.outcome(), Outcome::CannotCheck);
    let v = verify(&p, &w.anchor(), t(12), &Policy::GENUINENESS).unwrap();
    assert_eq!(v.status, StatusFinding::NotChecked);
    assert_eq!(v.disclosed.len(), 2);
    assert_eq!(v.hidden_claims, 2);
}

#[test]
fn text_forms_round_trip_through_verify() {
    let (w, c) = world();
    let p = w.full(&c, Some(&["name"]));
    for text in [
        p.to_qr_text(),
        p.to_url_text(),
        format!("{}\r\n", p.to_qr_text()),
    ] {
        assert!(
            verify_text(&text, &w.anchor(), t(12), &Policy::LIVE).is_ok(),
            "{}",
            &text[..8]
        );
    }
}

#[test]
fn changed_claim_is_not_genuine() {
    let (w, c) = world();
    let mut p = w.full(&c, None);
    if let Presentation::Full { compact, .. } = &mut p
        && let Disclosure::All { values, .. } = &mut compact.disclosure
    {
        let mut v = values.clone().into_inner();
        v[0] = Text::new("李大華").unwrap();
        *values = ShortVec::new(v).unwrap();
    }
    let e = verify(&p, &w.anchor(), t(12), &Policy::LIVE).unwrap_err();
    assert!(matches!(e, Rejection::ClaimsMismatch { .. }), "{e:?}");
    assert_eq!(e.outcome(), Outcome::NotGenuine);
}

#[test]
fn hidden_claim_revealed_with_another_value_is_refused() {
    let (w, c) = world();
    let mut p = w.full(&c, Some(&["name"]));
    if let Presentation::Full { compact, .. } = &mut p
        && let Disclosure::Selective { items } = &mut compact.disclosure
    {
        let mut v = items.clone().into_inner();
        // The bar association was hidden; the holder now "reveals" a different one.
        let salt = crate::credential::claim_salt(&c.seed, 2);
        v[2] = DisclosedItem::Shown {
            salt,
            value: Text::new("高雄律師公會").unwrap(),
        };
        *items = ShortVec::new(v).unwrap();
    }
    assert!(matches!(
        verify(&p, &w.anchor(), t(12), &Policy::LIVE),
        Err(Rejection::ClaimsMismatch { .. })
    ));
}

#[test]
fn dropped_claim_is_refused() {
    let (w, c) = world();
    let mut p = w.full(&c, None);
    if let Presentation::Full { compact, .. } = &mut p
        && let Disclosure::All { values, .. } = &mut compact.disclosure
    {
        let mut v = values.clone().into_inner();
        v.pop();
        *values = ShortVec::new(v).unwrap();
    }
    let e = verify(&p, &w.anchor(), t(12), &Policy::LIVE).unwrap_err();
    assert_eq!(
        e,
        Rejection::ClaimCount {
            kind: "lawyer-license".parse().unwrap(),
            expected: 4,
            got: 3
        }
    );
}

#[test]
fn other_issuer_and_unauthorized_kind_are_refused() {
    let (mut w, _) = world();
    // The Ministry of Economic Affairs may not issue lawyer licenses.
    let c = w.issue(
        "moea",
        "moea-2026-01",
        "lawyer-license",
        1,
        &crate::testkit::lawyer_claims(1),
        None,
    );
    w.force_publish(&c, t(20));
    w.commit(t(20));
    let e = verify(&w.full(&c, None), &w.anchor(), t(21), &Policy::LIVE).unwrap_err();
    assert_eq!(
        e,
        Rejection::KindNotAuthorized {
            issuer: "moea".parse().unwrap(),
            kind: "lawyer-license".parse().unwrap()
        }
    );

    // A body re-labelled as another issuer's does not verify under that issuer's key.
    let (w, c) = world();
    let mut p = w.full(&c, None);
    if let Presentation::Full { compact, .. } = &mut p {
        compact.body.issuer = "moea".parse().unwrap();
        compact.body.kind = "company-registration".parse().unwrap();
        compact.body.key_id = "moea-2026-01".parse().unwrap();
    }
    let e = verify(&p, &w.anchor(), t(12), &Policy::LIVE).unwrap_err();
    assert!(matches!(e, Rejection::BadSignature { .. }), "{e:?}");

    let mut p = w.full(&c, None);
    if let Presentation::Full { compact, .. } = &mut p {
        compact.body.issuer = "mohw".parse().unwrap();
    }
    assert!(matches!(
        verify(&p, &w.anchor(), t(12), &Policy::LIVE),
        Err(Rejection::UnknownIssuer { .. })
    ));
}

#[test]
fn key_not_valid_at_issuance_is_refused() {
    let (w, c) = world();
    let mut anchor = w.anchor();
    let mut rec = anchor
        .registry()
        .key(&c.body.issuer, &c.body.key_id)
        .unwrap()
        .record
        .clone();
    // The key was revoked from t(5), before the ledger recorded the publication at t(10).
    rec.revoked_from = Some(t(5));
    anchor.registry_mut().put_key(rec).unwrap();
    let e = verify(&w.full(&c, None), &anchor, t(12), &Policy::LIVE).unwrap_err();
    assert!(
        matches!(e, Rejection::KeyNotValidAtIssuance { published_at, .. } if published_at == t(10)),
        "{e:?}"
    );
}

#[test]
fn genuineness_only_distrusts_revoked_keys() {
    let (w, c) = world();
    let mut anchor = w.anchor();
    let mut rec = anchor
        .registry()
        .key(&c.body.issuer, &c.body.key_id)
        .unwrap()
        .record
        .clone();
    // Revoked far in the future: without the ledger's publication time, a backdated credential
    // cannot be told from a genuine one, so none is accepted.
    rec.revoked_from = Some(t(1_000_000));
    anchor.registry_mut().put_key(rec).unwrap();
    let e = verify(
        &World::compact(&c, None),
        &anchor,
        t(12),
        &Policy::GENUINENESS,
    )
    .unwrap_err();
    assert!(
        matches!(e, Rejection::KeyNotValidAtIssuance { .. }),
        "{e:?}"
    );
    // With the ledger's evidence, publication at t(10) is covered.
    assert!(verify(&w.full(&c, None), &anchor, t(12), &Policy::LIVE).is_ok());
}

#[test]
fn expired_wins_over_stale_status() {
    let (mut w, _) = world();
    let c = w.lawyer_license(8, Some(t(15)));
    w.publish(&c);
    w.commit(t(12));
    let e = verify(&w.full(&c, None), &w.anchor(), t(100), &Policy::LIVE).unwrap_err();
    assert_eq!(
        e,
        Rejection::Expired {
            valid_until: t(15),
            now: t(100)
        }
    );
}

#[test]
fn expired_and_not_yet_valid_are_refused() {
    let (mut w, _) = world();
    let c = w.lawyer_license(7, Some(t(100)));
    w.publish(&c);
    w.commit(t(200));
    let e = verify(&w.full(&c, None), &w.anchor(), t(201), &Policy::LIVE).unwrap_err();
    assert_eq!(
        e,
        Rejection::Expired {
            valid_until: t(100),
            now: t(201)
        }
    );
    assert_eq!(e.outcome(), Outcome::Expired);
    let e = verify(
        &w.full(&c, None),
        &w.anchor(),
        Timestamp(T0 - 1),
        &Policy::OFFLINE,
    )
    .unwrap_err();
    assert!(matches!(e, Rejection::NotYetValid { .. }));
}

#[test]
fn revoked_and_suspended_are_reported_with_reason() {
    let (mut w, c) = world();
    w.set_status(
        &c,
        CredentialStatus::Suspended {
            reason: ReasonCode::Disciplinary,
        },
    );
    w.commit(t(30));
    let e = verify(&w.full(&c, None), &w.anchor(), t(31), &Policy::LIVE).unwrap_err();
    assert_eq!(
        e,
        Rejection::Suspended {
            credential: c.body.id,
            reason: ReasonCode::Disciplinary,
            since: t(30)
        }
    );
    assert_eq!(e.outcome(), Outcome::Suspended);

    w.set_status(&c, CredentialStatus::Active);
    w.commit(t(40));
    assert!(verify(&w.full(&c, None), &w.anchor(), t(41), &Policy::LIVE).is_ok());

    w.set_status(
        &c,
        CredentialStatus::Revoked {
            reason: ReasonCode::Surrendered,
        },
    );
    w.commit(t(50));
    // Revocation is final: even evidence older than the freshness bound is conclusive.
    let e = verify(&w.full(&c, None), &w.anchor(), t(5_000), &Policy::LIVE).unwrap_err();
    assert_eq!(
        e,
        Rejection::Revoked {
            credential: c.body.id,
            reason: ReasonCode::Surrendered,
            at: t(50)
        }
    );
    assert_eq!(e.outcome(), Outcome::Revoked);
}

#[test]
fn stale_status_cannot_be_checked_live_but_is_reported_offline() {
    let (w, c) = world();
    let e = verify(&w.full(&c, None), &w.anchor(), t(21), &Policy::LIVE).unwrap_err();
    assert_eq!(
        e,
        Rejection::StaleStatus {
            as_of: t(10),
            now: t(21),
            max_age_ms: 10_000
        }
    );
    assert_eq!(e.outcome(), Outcome::CannotCheck);
    let v = verify(&w.full(&c, None), &w.anchor(), t(21), &Policy::OFFLINE).unwrap();
    assert!(matches!(v.status, StatusFinding::Active { as_of, .. } if as_of == t(10)));
    assert!(!v.checks.contains(&Check::Freshness));
}

#[test]
fn forged_commit_or_proof_or_chain_never_yields_valid() {
    let (w, c) = world();
    let good = w.full(&c, None);

    let mut p = good.clone();
    if let Presentation::Full { evidence, .. } = &mut p {
        let mut sigs = evidence.commit.signatures.clone().into_inner();
        sigs[0].0[10] ^= 1;
        evidence.commit.signatures = crate::bounded::BoundedVec::new(sigs).unwrap();
    }
    let e = verify(&p, &w.anchor(), t(12), &Policy::LIVE).unwrap_err();
    assert!(matches!(e, Rejection::BadCommit { .. }), "{e:?}");
    assert_eq!(e.outcome(), Outcome::CannotCheck);

    // A node that lies about the status must also forge the state root, which breaks the commit.
    let mut p = good.clone();
    if let Presentation::Full { evidence, .. } = &mut p {
        evidence.record.status = CredentialStatus::Active;
        evidence.record.published_at = t(11);
    }
    assert!(matches!(
        verify(&p, &w.anchor(), t(12), &Policy::LIVE),
        Err(Rejection::BadStateProof { .. })
    ));

    let mut p = good.clone();
    if let Presentation::Full { evidence, .. } = &mut p {
        evidence.header.state_root.0[0] ^= 1;
    }
    assert!(matches!(
        verify(&p, &w.anchor(), t(12), &Policy::LIVE),
        Err(Rejection::BadCommit { .. })
    ));

    let mut p = good.clone();
    if let Presentation::Full { evidence, .. } = &mut p {
        evidence.header.chain_id = "other-chain".parse().unwrap();
    }
    assert!(matches!(
        verify(&p, &w.anchor(), t(12), &Policy::LIVE),
        Err(Rejection::WrongChain { .. })
    ));

    // Too few signatures: drop one from a minimal certificate.
    let mut p = good;
    if let Presentation::Full { evidence, .. } = &mut p {
        let n = w.set.validators().len();
        let sigs: Vec<_> = evidence
            .commit
            .signatures
            .iter()
            .copied()
            .enumerate()
            .skip(1)
            .collect();
        evidence.commit =
            crate::block::CommitCertificate::from_signatures(evidence.commit.round, n, sigs);
    }
    assert!(matches!(
        verify(&p, &w.anchor(), t(12), &Policy::LIVE),
        Err(Rejection::BadCommit {
            reason: crate::block::CommitError::InsufficientPower { .. },
            ..
        })
    ));
}

#[test]
fn truncated_trailing_and_oversized_texts_are_refused() {
    let (w, c) = world();
    let bytes = w.full(&c, None).to_bytes();
    let a = w.anchor();
    let url = |b: &[u8]| {
        format!(
            "cl1.{}",
            base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, b)
        )
    };

    let e = verify_text(&url(&bytes[..bytes.len() - 1]), &a, t(12), &Policy::LIVE).unwrap_err();
    assert!(
        matches!(e, Rejection::Malformed { ref reason } if reason.contains("truncated")),
        "{e:?}"
    );
    let mut longer = bytes.clone();
    longer.push(0);
    let e = verify_text(&url(&longer), &a, t(12), &Policy::LIVE).unwrap_err();
    assert!(
        matches!(e, Rejection::Malformed { ref reason } if reason.contains("trailing")),
        "{e:?}"
    );
    let e = verify_text(&"A".repeat(20_000), &a, t(12), &Policy::LIVE).unwrap_err();
    assert!(matches!(e, Rejection::Oversized { .. }));
    // Within the text limit but over the byte limit.
    let e = verify_text(&url(&vec![1u8; 4500]), &a, t(12), &Policy::LIVE).unwrap_err();
    assert_eq!(
        e,
        Rejection::Oversized {
            len: 4500,
            max: crate::presentation::MAX_PRESENTATION_BYTES
        }
    );
    assert!(matches!(
        verify_text("hello", &a, t(12), &Policy::LIVE),
        Err(Rejection::Malformed { .. })
    ));
}

#[test]
fn cached_header_skips_the_commit_but_not_the_proof() {
    let (w, c) = world();
    let mut anchor = w.anchor();
    let (header, _) = w.last.clone().unwrap();
    anchor.mark_verified(&header);
    let mut p = w.full(&c, None);
    if let Presentation::Full { evidence, .. } = &mut p {
        // The commit is not looked at for a verified header...
        evidence.commit.signatures = crate::bounded::BoundedVec::empty();
    }
    assert!(verify(&p, &anchor, t(12), &Policy::LIVE).is_ok());
    if let Presentation::Full { evidence, .. } = &mut p {
        // ...but the record must still be proven under its state root.
        evidence.record.changed_at = t(11);
    }
    assert!(matches!(
        verify(&p, &anchor, t(12), &Policy::LIVE),
        Err(Rejection::BadStateProof { .. })
    ));
}

#[test]
fn a_set_change_is_learned_from_its_one_header_and_the_retired_set_is_refused_after_it() {
    let w = World::new(3, 5);
    let d = &w.devnet;
    let old = ValidatorSet::new(d.genesis.validators.to_vec()).unwrap();
    let new = ValidatorSet::new(d.genesis.validators.to_vec()[..4].to_vec()).unwrap();
    let header = |height: u64, signs: &ValidatorSet, next: &ValidatorSet| Header {
        version: HEADER_VERSION,
        chain_id: d.genesis.chain_id.clone(),
        height: Height(height),
        time: t(height),
        previous: crate::hash::Digest([1; 32]),
        transactions_root: crate::hash::Digest([2; 32]),
        state_root: crate::hash::Digest([3; 32]),
        anchors_root: crate::hash::Digest([4; 32]),
        validators_hash: signs.hash(),
        next_validators_hash: next.hash(),
        proposer: 0,
    };
    let sign = |h: &Header, set: &ValidatorSet| crate::testkit::sign_commit(d, set, h, 4);
    let change = header(40, &old, &new);
    let mut anchor = w.anchor();

    // The announced set must be the one the header names.
    assert!(matches!(
        learn_set_change(&mut anchor, &change, &sign(&change, &old), &old),
        Err(Rejection::BadCommit {
            reason: CommitError::ValidatorSetMismatch { .. },
            ..
        })
    ));
    // A change certified by the set it announces, not the one in force, is refused.
    let forged = header(40, &new, &new);
    assert!(learn_set_change(&mut anchor, &forged, &sign(&forged, &new), &new).is_err());
    assert_eq!(anchor.validators_at(Height(41)), Some(&old));

    learn_set_change(&mut anchor, &change, &sign(&change, &old), &new).unwrap();
    assert_eq!(anchor.validators_at(Height(40)), Some(&old));
    assert_eq!(anchor.validators_at(Height(41)), Some(&new));
    let later = header(90, &new, &new);
    assert_eq!(check_header(&later, &sign(&later, &new), &anchor), Ok(()));
    let retired = header(90, &old, &old);
    assert!(matches!(
        check_header(&retired, &sign(&retired, &old), &anchor),
        Err(Rejection::BadCommit { .. })
    ));
}

#[test]
fn signatures_checked_in_a_batch_give_the_verdicts_of_single_checks() {
    let mut w = World::new(1, 4);
    let creds: Vec<_> = (0..23)
        .map(|n| w.lawyer_license(n, Some(t(1_000_000))))
        .collect();
    for c in &creds {
        w.publish(c);
    }
    w.commit(t(10));
    let anchor = w.anchor();
    let mut presentations: Vec<Presentation> = creds.iter().map(|c| w.full(c, None)).collect();
    // Two forgeries in different halves, so the failed batch is split more than once, and one
    // credential the registry does not know, which never joins a batch.
    for i in [3, 17] {
        if let Presentation::Full { compact, .. } = &mut presentations[i] {
            compact.signature.0[9] ^= 1;
        }
    }
    if let Presentation::Full { compact, .. } = &mut presentations[20] {
        compact.body.key_id = crate::ids::KeyId::new("nope").unwrap();
    }
    let checked = SignatureBatch::check(presentations.iter().map(|p| p.compact()), &anchor);
    assert_eq!(checked.valid_count(), 20, "the 20 genuine signatures");
    assert_eq!(checked.invalid_count(), 2, "the two forgeries, each found");
    for (i, p) in presentations.iter().enumerate() {
        let single = verify_parts(p.compact(), p.evidence(), &anchor, t(12), &Policy::LIVE);
        let batched = verify_parts_with(
            p.compact(),
            p.evidence(),
            &anchor,
            t(12),
            &Policy::LIVE,
            &checked,
        );
        assert_eq!(batched, single, "presentation {i}");
        match i {
            3 | 17 => assert!(matches!(single, Err(Rejection::BadSignature { .. }))),
            20 => assert!(matches!(single, Err(Rejection::UnknownKey { .. }))),
            _ => assert!(single.is_ok(), "presentation {i}: {single:?}"),
        }
    }
    // A signature recorded as valid vouches only for the body it signed.
    let mut other = presentations[0].compact().clone();
    other.body.valid_from = Timestamp(other.body.valid_from.0 + 1);
    assert!(matches!(
        verify_parts_with(&other, None, &anchor, t(12), &Policy::GENUINENESS, &checked),
        Err(Rejection::BadSignature { .. })
    ));
}

#[test]
fn a_batch_of_forgeries_is_refused_one_by_one() {
    let w = World::new(1, 4);
    let creds: Vec<_> = (0..9).map(|n| w.lawyer_license(n, None)).collect();
    let anchor = w.anchor();
    let forged: Vec<_> = creds
        .iter()
        .map(|c| {
            let mut p = World::compact(c, None);
            if let Presentation::Compact(compact) = &mut p {
                compact.signature.0[40] ^= 4;
            }
            p
        })
        .collect();
    let checked = SignatureBatch::check(forged.iter().map(|p| p.compact()), &anchor);
    assert_eq!((checked.valid_count(), checked.invalid_count()), (0, 9));
    for p in &forged {
        assert!(matches!(
            verify_parts_with(
                p.compact(),
                None,
                &anchor,
                t(12),
                &Policy::GENUINENESS,
                &checked
            ),
            Err(Rejection::BadSignature { .. })
        ));
    }
}

#[test]
fn signatures_gathered_apart_are_checked_as_one_batch() {
    let w = World::new(1, 4);
    let creds: Vec<_> = (0..6).map(|n| w.lawyer_license(n, None)).collect();
    let anchor = w.anchor();
    let mut presentations: Vec<_> = creds.iter().map(|c| World::compact(c, None)).collect();
    if let Presentation::Compact(compact) = &mut presentations[4] {
        compact.signature.0[7] ^= 2;
    }
    // Each scan gathers its own signature, as concurrent single scans do; a lone one is
    // checked alone, and gathered ones together, with the same verdicts either way.
    let mut all = SignatureItems::default();
    for (i, p) in presentations.iter().enumerate() {
        let mut one = SignatureBatch::items([p.compact()], &anchor);
        assert_eq!(one.len(), 1);
        let alone = SignatureBatch::check_items(SignatureBatch::items([p.compact()], &anchor));
        assert_eq!(
            (alone.valid_count(), alone.invalid_count()),
            if i == 4 { (0, 1) } else { (1, 0) }
        );
        all.append(&mut one);
        assert!(one.is_empty(), "appending moves the signatures");
    }
    assert_eq!(all.len(), 6);
    let checked = SignatureBatch::check_items(all);
    assert_eq!((checked.valid_count(), checked.invalid_count()), (5, 1));
    for (i, p) in presentations.iter().enumerate() {
        let r = verify_parts_with(
            p.compact(),
            None,
            &anchor,
            t(12),
            &Policy::GENUINENESS,
            &checked,
        );
        assert_eq!(r.is_err(), i == 4, "presentation {i}: {r:?}");
    }
}
