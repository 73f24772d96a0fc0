//! The verifier's issuer registry after genesis: a presentation naming an issuer, key or kind
//! it lacks is NOT GENUINE only when the ledger proves the name absent, and forgeries cost the
//! nodes no status lookups (spec/verifier.md §3.4).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/rig.rs"]
mod rig;
#[path = "support/scripted.rs"]
mod scripted;

use credledger_core::ids::IssuerId;
use credledger_core::presentation::Presentation;
use credledger_core::state::StateKey;
use credledger_core::testkit::World;
use credledger_verifier::report::State as Verdict;
use rig::Rig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_presentations_cost_the_nodes_nothing() {
    let (rig, good) = Rig::with_license(4).await;
    let compact = match World::compact(&good, None) {
        Presentation::Compact(c) => c,
        Presentation::Full { compact, .. } => compact,
    };
    // An issuer genesis does not know, which the node cannot say anything of (no proof of
    // its absence): it may have been registered since, so the answer is CANNOT CHECK, not NOT
    // GENUINE (spec/verification.md §4).
    let mut unknown = compact.clone();
    unknown.body.issuer = "mof".parse().unwrap();
    let r = rig
        .checker
        .check_text(&Presentation::Compact(unknown).to_qr_text())
        .await;
    assert_eq!(r.outcome, Verdict::CannotCheck, "{r:?}");
    assert_eq!(format!("{:?}", r.failed_check), "Some(IssuerKnown)");
    // The node proves another issuer absent (and the kind present).
    let (key, kind) = (compact.body.key_id.clone(), compact.body.kind.clone());
    let mod_: IssuerId = "mod".parse().unwrap();
    for (path, k) in [
        (format!("issuer/{mod_}"), StateKey::Issuer(mod_.clone())),
        (
            format!("issuer-key/{mod_}/{key}"),
            StateKey::IssuerKey(mod_.clone(), key.clone()),
        ),
        (format!("kind/{kind}"), StateKey::Kind(kind.clone())),
    ] {
        let answer = rig.world.state_answer(&k);
        rig.script.lock().unwrap().state.insert(path, answer);
    }
    // Forgeries with fresh ids (a bad signature, that absent issuer) are refused before the
    // ledger is asked for status; the genuine one is asked for once and then served from the
    // cache.
    for i in 0..50u8 {
        let mut forged = compact.clone();
        forged.body.id.0[0] = i;
        forged.body.id.0[1] = 0xee;
        if i % 2 == 1 {
            forged.body.issuer = mod_.clone();
        }
        let r = rig
            .checker
            .check_text(&Presentation::Compact(forged).to_qr_text())
            .await;
        assert_eq!(r.outcome, Verdict::NotGenuine, "{r:?}");
    }
    assert_eq!(rig.script.lock().unwrap().status_requests, 0);
    assert_eq!(rig.check(&good).await.outcome, Verdict::Valid);
    assert_eq!(rig.script.lock().unwrap().status_requests, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_lookup_that_finds_the_issuer_but_not_its_key_is_cannot_check() {
    // The council registered a new issuer (written here directly); the node proves the issuer
    // but gives no answer for its key, so the key's absence is not proven: CANNOT CHECK, not
    // NOT GENUINE, though the look did learn something (spec/verifier.md §3.4).
    let mut rig = Rig::new(10, vec![]).await;
    let c = rig.world.lawyer_license(1, None);
    let newcomer: IssuerId = "mod".parse().unwrap();
    let record = credledger_core::state::IssuerRecord {
        id: newcomer.clone(),
        name_zh: credledger_core::bounded::Text::new("國防部").unwrap(),
        name_en: credledger_core::bounded::Text::new("Ministry of National Defense").unwrap(),
        kinds: credledger_core::bounded::ShortVec::new(vec![c.body.kind.clone()]).unwrap(),
        removed_at: None,
    };
    rig.world.force_entry(
        StateKey::Issuer(newcomer.clone()),
        credledger_core::state::StateValue::Issuer(record),
    );
    rig.world.publish(&c);
    rig.commit(&[&c]);
    rig.synced().await;
    let answer = rig.world.state_answer(&StateKey::Issuer(newcomer.clone()));
    assert!(answer.value.is_some());
    rig.script
        .lock()
        .unwrap()
        .state
        .insert(format!("issuer/{newcomer}"), answer);
    let mut theirs = match World::compact(&c, None) {
        Presentation::Compact(p) => p,
        Presentation::Full { compact, .. } => compact,
    };
    theirs.body.issuer = newcomer;
    let text = Presentation::Compact(theirs).to_qr_text();
    for _ in 0..2 {
        let r = rig.checker.check_text(&text).await;
        assert_eq!(r.outcome, Verdict::CannotCheck, "{r:?}");
    }
}
