use super::*;
use crate::presentation::Presentation;
use crate::state::StateKey;
use crate::testkit::World;

const T0: u64 = 1_767_225_600_000;

fn compact(p: Presentation) -> CompactPresentation {
    match p {
        Presentation::Compact(c) => c,
        Presentation::Full { compact, .. } => compact,
    }
}

/// A world where license 1 is published and license 2 is signed but never published, with
/// the last block committed at `time`.
fn world(
    time: u64,
) -> (
    World,
    CompactPresentation,
    CompactPresentation,
    AbsenceEvidence,
) {
    let mut w = World::new(1, 4);
    let published = w.lawyer_license(1, None);
    let unpublished = w.lawyer_license(2, None);
    w.publish(&published);
    w.commit(Timestamp(time));
    let key = StateKey::Credential(unpublished.body.issuer.clone(), unpublished.body.id);
    let (value, proof) = w.state.prove(&key).unwrap();
    assert!(value.is_none());
    let (header, commit) = w.last.clone().unwrap();
    let absence = AbsenceEvidence {
        proof,
        header,
        commit,
    };
    (
        w,
        compact(World::compact(&published, None)),
        compact(World::compact(&unpublished, None)),
        absence,
    )
}

/// `verify_absence` under the live policy, with `w`'s trust, at `now` ms.
fn live(w: &World, c: &CompactPresentation, absence: &AbsenceEvidence, now: u64) -> Rejection {
    verify_absence(c, absence, &w.anchor(), Timestamp(now), &Policy::LIVE)
}

#[test]
fn a_proven_absence_long_after_the_start_is_not_on_the_ledger() {
    let late = T0 + 10 * PUBLICATION_GRACE_MS;
    let (w, _, unpublished, absence) = world(late);
    let r = live(&w, &unpublished, &absence, late + 1_000);
    assert!(matches!(r, Rejection::NotOnLedger { .. }), "{r}");
    assert_eq!(r.outcome(), super::super::Outcome::NotGenuine);
}

#[test]
fn an_absence_too_soon_or_too_old_proves_nothing_yet() {
    // The block is dated within the grace after the credential's start: it may be on its way.
    let soon = T0 + PUBLICATION_GRACE_MS / 2;
    let (w, _, unpublished, absence) = world(soon);
    let r = live(&w, &unpublished, &absence, soon + 1_000);
    assert!(matches!(r, Rejection::StatusUnavailable { .. }), "{r}");
    // A stale header's absence says nothing of a later publication.
    let late = T0 + 10 * PUBLICATION_GRACE_MS;
    let (w, _, unpublished, absence) = world(late);
    let r = live(&w, &unpublished, &absence, late + 60_000);
    assert!(matches!(r, Rejection::StatusUnavailable { .. }), "{r}");
}

#[test]
fn a_false_absence_or_a_forgery_is_named_for_what_it_is() {
    let late = T0 + 10 * PUBLICATION_GRACE_MS;
    let (w, published, _, absence) = world(late);
    // The absence proof of another key does not prove the published one absent.
    let r = live(&w, &published, &absence, late + 1_000);
    assert!(matches!(r, Rejection::BadStateProof { .. }), "{r}");
    let mut forged = published.clone();
    forged.body.valid_until = Some(Timestamp(u64::MAX / 2));
    let r = live(&w, &forged, &absence, late + 1_000);
    assert!(matches!(r, Rejection::BadSignature { .. }), "{r}");
}
