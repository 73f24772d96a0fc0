//! The verifier against scripted nodes: honest ones give every verdict; lying ones (wrong
//! status, forged or stale headers, another chain, a fork) never get VALID out of it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/rig.rs"]
mod rig;
#[path = "support/scripted.rs"]
mod scripted;

use std::sync::Arc;
use std::time::Duration;

use credledger_core::devnet::{Devnet, DevnetParams};
use credledger_core::ids::Timestamp;
use credledger_core::presentation::Presentation;
use credledger_core::state::{CredentialStatus, ReasonCode};
use credledger_core::testkit::World;
use credledger_verifier::checker::now_ms;
use credledger_verifier::follower::follow;
use credledger_verifier::report::State as Verdict;
use rig::Rig;
use scripted::{Shared, serve};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_verdict_from_an_honest_node() {
    let mut rig = Rig::new(1, vec![]).await;
    let good = rig.world.lawyer_license(1, None);
    let suspended = rig.world.lawyer_license(2, None);
    let revoked = rig.world.lawyer_license(3, None);
    let expired = rig
        .world
        .lawyer_license(4, Some(Timestamp(now_ms().0 - 1_000)));
    let unpublished = rig.world.lawyer_license(5, None);
    for c in [&good, &suspended, &revoked, &expired] {
        rig.world.publish(c);
    }
    rig.commit(&[&good, &suspended, &revoked, &expired]);
    rig.world.set_status(
        &suspended,
        CredentialStatus::Suspended {
            reason: ReasonCode::Disciplinary,
        },
    );
    rig.world.set_status(
        &revoked,
        CredentialStatus::Revoked {
            reason: ReasonCode::Disciplinary,
        },
    );
    rig.commit(&[&good, &suspended, &revoked, &expired]);
    rig.synced().await;

    let r = rig.check(&good).await;
    assert_eq!(r.outcome, Verdict::Valid, "{r:?}");
    assert!(r.live);
    let d = r.credential.as_ref().expect("claims shown");
    assert_eq!(d.issuer_name_en, "Ministry of Justice");
    assert!(!d.claims.is_empty());
    assert_eq!(rig.check(&suspended).await.outcome, Verdict::Suspended);
    let r = rig.check(&revoked).await;
    assert_eq!(r.outcome, Verdict::Revoked);
    assert!(
        r.credential.is_some(),
        "a revoked credential still says whose it was"
    );
    // The report says what held (it is genuine and on the ledger) before what failed.
    let checks: Vec<String> = r
        .checks
        .iter()
        .map(|c| format!("{:?}:{}", c.check, c.passed))
        .collect();
    assert_eq!(
        checks,
        [
            "Decoding:true",
            "IssuerKnown:true",
            "KindAuthorized:true",
            "Signature:true",
            "Claims:true",
            "Anchoring:true",
            "KeyValidAtIssuance:true",
            "Status:false"
        ],
        "{r:?}"
    );
    assert_eq!(rig.check(&expired).await.outcome, Verdict::Expired);
    // Signed by the issuer but never published: the ledger has no status for it.
    assert_eq!(rig.check(&unpublished).await.outcome, Verdict::CannotCheck);

    // Altered claims: NOT GENUINE, and nothing of it is shown.
    let mut altered = match World::compact(&good, None) {
        Presentation::Compact(c) => c,
        Presentation::Full { compact, .. } => compact,
    };
    altered.body.valid_until = Some(Timestamp(u64::MAX / 2));
    let r = rig
        .checker
        .check_text(&Presentation::Compact(altered).to_qr_text())
        .await;
    assert_eq!(r.outcome, Verdict::NotGenuine);
    assert!(r.credential.is_none());
    let r = rig.checker.check_text("CL1:not base45 ~~~").await;
    assert_eq!(r.outcome, Verdict::NotGenuine);

    // Revocation reaches the verifier with the next block.
    rig.change_status(
        &good,
        CredentialStatus::Revoked {
            reason: ReasonCode::Surrendered,
        },
    )
    .await;
    assert_eq!(rig.check(&good).await.outcome, Verdict::Revoked);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_lying_about_status_never_yields_valid() {
    let mut rig = Rig::new(2, vec![]).await;
    let c = rig.world.lawyer_license(1, None);
    rig.world.publish(&c);
    rig.commit(&[&c]);
    rig.change_status(
        &c,
        CredentialStatus::Revoked {
            reason: ReasonCode::Surrendered,
        },
    )
    .await;
    // The node says "active" under the real header: the proof no longer matches the root.
    {
        let mut s = rig.script.lock().unwrap();
        let ev = s.evidence.get_mut(&c.body.id).unwrap();
        ev.record.status = CredentialStatus::Active;
    }
    let r = rig.check(&c).await;
    assert_eq!(r.outcome, Verdict::CannotCheck, "{r:?}");
    assert_eq!(format!("{:?}", r.failed_check), "Some(Anchoring)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_stale_and_foreign_headers_never_yield_valid() {
    let (rig, c) = Rig::with_license(3).await;
    assert_eq!(rig.check(&c).await.outcome, Verdict::Valid);

    // A forged header: a later height and a fresh time, under the old commit.
    let honest = rig.script.lock().unwrap().evidence[&c.body.id].clone();
    let mut forged = honest.clone();
    forged.header.height.0 += 5;
    forged.header.time = Timestamp(now_ms().0);
    rig.script
        .lock()
        .unwrap()
        .evidence
        .insert(c.body.id, forged);
    let r = rig.check(&c).await;
    assert_eq!(r.outcome, Verdict::CannotCheck);
    assert_eq!(format!("{:?}", r.failed_check), "Some(Anchoring)");

    // A header from another chain, with a valid commit there.
    let params = DevnetParams {
        chain_id: "another-chain".into(),
        validators: 4,
        ..DevnetParams::default()
    };
    let mut other = World::with_devnet(Devnet::build(&[99; 32], &params).unwrap());
    let foreign = other.lawyer_license(1, None);
    other.publish(&foreign);
    other.commit(Timestamp(now_ms().0));
    let mut ev = other.evidence(&foreign);
    ev.record = honest.record.clone();
    rig.script.lock().unwrap().evidence.insert(c.body.id, ev);
    let r = rig.check(&c).await;
    assert_eq!(r.outcome, Verdict::CannotCheck);
    assert!(r.reason.clone().unwrap().contains("chain"), "{r:?}");

    // Genuine but stale: the chain stopped 30 s ago.
    let mut stale = Rig::new(4, vec![]).await;
    let s = stale.world.lawyer_license(1, None);
    stale.world.publish(&s);
    stale.commit_at(now_ms().0 - 30_000, &[&s]);
    stale.synced().await;
    let r = stale.check(&s).await;
    assert_eq!(r.outcome, Verdict::CannotCheck, "{r:?}");
    assert_eq!(format!("{:?}", r.failed_check), "Some(Freshness)");
    // A full presentation carries its own status: valid "as of", not live.
    let full = stale.world.full(&s, None).to_qr_text();
    let r = stale.checker.check_text(&full).await;
    assert_eq!(r.outcome, Verdict::Valid, "{r:?}");
    assert!(!r.live);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_ahead_with_a_forged_header_is_passed_over_for_the_next_node() {
    // Two nodes: the rig's honest one, and a liar whose evidence stands under a made-up header
    // above the light client's tip (spec/verifier.md §3: its evidence is unusable, so the next
    // node is asked).
    let liar = Shared::default();
    let liar_url = serve(liar.clone()).await;
    let mut rig = Rig::new(7, vec![liar_url]).await;
    let c = rig.world.lawyer_license(1, None);
    rig.world.publish(&c);
    rig.commit(&[&c]);
    // The holder's full presentation, and the liar's evidence, are from before revocation.
    let full = rig.world.full(&c, None).to_qr_text();
    let mut forged = rig.world.evidence(&c);
    forged.header.height.0 += 5;
    forged.header.time = Timestamp(now_ms().0 + 60_000);
    liar.lock().unwrap().evidence.insert(c.body.id, forged);
    rig.change_status(
        &c,
        CredentialStatus::Revoked {
            reason: ReasonCode::Surrendered,
        },
    )
    .await;
    // The verifier starts with the next node each time (two nodes), so of two checks in a row
    // one meets the liar first; each must reach the honest node's REVOKED, live. The full
    // presentation first: it is the one that could fall back on its own, older evidence.
    for _ in 0..2 {
        let r = rig.checker.check_text(&full).await;
        assert_eq!((r.outcome, r.live), (Verdict::Revoked, true), "{r:?}");
    }
    assert_eq!(
        liar.lock().unwrap().status_requests,
        1,
        "the liar was asked once"
    );
    for _ in 0..2 {
        let r = rig.check(&c).await;
        assert_eq!((r.outcome, r.live), (Verdict::Revoked, true), "{r:?}");
    }
    assert_eq!(liar.lock().unwrap().status_requests, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_ledger_still_tells_of_a_suspension_after_the_holders_copy() {
    // The chain stopped 30 s ago, after suspending a credential whose holder kept a full
    // presentation from before: no node is live, but the nodes' (stale, verified) word is
    // newer than the holder's, so the answer is SUSPENDED as of then, not VALID as of before.
    let mut rig = Rig::new(8, vec![]).await;
    let c = rig.world.lawyer_license(1, None);
    rig.world.publish(&c);
    rig.commit_at(now_ms().0 - 60_000, &[&c]);
    let full = rig.world.full(&c, None).to_qr_text();
    rig.world.set_status(
        &c,
        CredentialStatus::Suspended {
            reason: ReasonCode::Disciplinary,
        },
    );
    rig.commit_at(now_ms().0 - 30_000, &[&c]);
    rig.synced().await;
    let r = rig.checker.check_text(&full).await;
    assert_eq!((r.outcome, r.live), (Verdict::Suspended, false), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scan_that_meets_a_fork_answers_cannot_check_though_the_next_node_is_honest() {
    // A node on a fork of the same genesis (the same validator keys signed another block 1)
    // serves its status evidence for the same credential.
    let mut fork = World::new(6, 4);
    let liar = Shared::default();
    let liar_url = serve(liar.clone()).await;
    let mut rig = Rig::new(6, vec![liar_url]).await;
    let c = rig.world.lawyer_license(1, None);
    let forked = fork.lawyer_license(1, None);
    assert_eq!(
        forked.body.id, c.body.id,
        "the same credential on both sides"
    );
    fork.publish(&forked);
    fork.publish(&fork.lawyer_license(2, None));
    fork.commit(Timestamp(now_ms().0));
    liar.lock()
        .unwrap()
        .evidence
        .insert(c.body.id, fork.evidence(&forked));
    rig.world.publish(&c);
    rig.commit(&[&c]);
    rig.synced().await;
    // The first scan asks the honest node first; the second asks the forked one first, which
    // raises the alarm, then the honest one: still CANNOT CHECK, as is every scan after.
    let first = rig.check(&c).await;
    assert_eq!(first.outcome, Verdict::Valid, "{first:?}");
    let second = rig.check(&c).await;
    assert_eq!(second.outcome, Verdict::CannotCheck, "{second:?}");
    assert!(rig.checker.trust().alarm().is_some());
    assert!(second.ledger.fork_alarm);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicting_commits_raise_the_fork_alarm() {
    // Two worlds from one genesis: the same validator keys sign different blocks at height 1.
    let mut fork = World::new(5, 4);
    let other = fork.lawyer_license(9, None);
    fork.publish(&other);
    let (fh, fc) = fork.commit(Timestamp(now_ms().0));
    let liar = Shared::default();
    let liar_url = serve(liar.clone()).await;

    let (rig, c) = Rig::with_license(5).await;
    assert_eq!(rig.check(&c).await.outcome, Verdict::Valid);

    // The liar is followed only once the honest header at height 1 is verified, and serves its
    // own height 1 later still: its follower must compare it all the same (spec/verifier.md §2).
    let trust = rig.checker.trust().clone();
    tokio::spawn(follow(trust, reqwest::Client::new(), liar_url));
    tokio::time::sleep(Duration::from_millis(100)).await;
    liar.lock().unwrap().headers.push((fh, fc));
    for _ in 0..250 {
        if rig.checker.trust().alarm().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let alarm = rig.checker.trust().alarm().expect("fork alarm raised");
    assert_eq!(alarm.height.0, 1);
    assert_ne!(
        alarm.verified.hash(),
        alarm.conflicting.hash(),
        "both headers are kept"
    );
    let r = rig.check(&c).await;
    assert_eq!(r.outcome, Verdict::CannotCheck);
    assert!(r.ledger.fork_alarm);

    // The auditor's API proves nothing against a forked ledger either (spec/verifier.md
    // §5.1): a bundle that decodes, under the honest header, is answered 503 NOT PROVEN.
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use base64::Engine;
    use credledger_core::bounded::BoundedVec;
    use credledger_core::hash::Digest;
    use credledger_core::state::AnchorRecord;
    use credledger_core::verify::{AnchorEvidence, EVIDENCE_VERSION, LogEvidence};
    use credledger_verifier::http::{App, Guard, Limits, Metrics, router};
    use tower::ServiceExt;
    let (header, commit) = rig.script.lock().unwrap().headers[0].clone();
    let bundle = LogEvidence {
        version: EVIDENCE_VERSION,
        index: 0,
        record_digest: Digest([1; 32]),
        inclusion: BoundedVec::new(Vec::new()).unwrap(),
        anchor: AnchorEvidence {
            source: "troad-demo-ss1".parse().unwrap(),
            sequence: 0,
            record: AnchorRecord {
                tree_size: 1,
                root: Digest([1; 32]),
                anchored_at: header.time,
                height: header.height,
            },
            position: 0,
            anchors: 1,
            path: BoundedVec::new(Vec::new()).unwrap(),
            header,
            commit,
        },
        set_changes: BoundedVec::new(Vec::new()).unwrap(),
    };
    let body = serde_json::json!({
        "bundle": base64::engine::general_purpose::STANDARD.encode(bundle.to_bytes())
    });
    let metrics = Arc::new(Metrics::default());
    let guard = Arc::new(Guard::new(Limits::default(), metrics.clone()));
    let app = router(
        Arc::new(App {
            checker: rig.checker,
            metrics,
        }),
        guard,
    );
    let mut req = Request::post("/api/v1/audit/verify")
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
            [127, 0, 0, 1],
            9,
        ))));
    let resp = app.oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 16)
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(v["outcome"], "NOT_PROVEN", "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("two different blocks"),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_node_cannot_stand_for_the_ledger_while_another_answers_fresh() {
    // A second node stuck 30 s in the past: its evidence is genuine, from before the
    // revocation, and older than the freshness bound.
    let lagging = Shared::default();
    let lagging_url = serve(lagging.clone()).await;
    let mut rig = Rig::new(6, vec![lagging_url]).await;
    let c = rig.world.lawyer_license(1, None);
    rig.world.publish(&c);
    rig.commit_at(now_ms().0 - 30_000, &[&c]);
    let before = rig.world.full(&c, None).to_qr_text();
    {
        let s = rig.script.lock().unwrap();
        let mut l = lagging.lock().unwrap();
        l.headers = s.headers.clone();
        l.evidence = s.evidence.clone();
    }
    rig.change_status(
        &c,
        CredentialStatus::Revoked {
            reason: ReasonCode::Disciplinary,
        },
    )
    .await;
    // Nodes are asked starting with a different one each time: whichever comes first, the
    // stale answer is passed over, and the holder's own pre-revocation evidence is not used
    // while a node answers fresh.
    for _ in 0..6 {
        let r = rig.checker.check_text(&before).await;
        assert_eq!(r.outcome, Verdict::Revoked, "{r:?}");
        assert!(r.live);
    }
    // With only stale answers left, the full presentation is judged on its own evidence and
    // says so (not live); a compact one cannot be checked.
    *rig.script.lock().unwrap() = std::mem::take(&mut *lagging.lock().unwrap());
    let r = rig.checker.check_text(&before).await;
    assert_eq!((r.outcome, r.live), (Verdict::Valid, false), "{r:?}");
    let r = rig.check(&c).await;
    assert_eq!(r.outcome, Verdict::CannotCheck, "{r:?}");
    assert_eq!(format!("{:?}", r.failed_check), "Some(Freshness)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_scans_share_a_signature_batch_and_keep_their_verdicts() {
    let mut rig = Rig::new(9, vec![]).await;
    let creds: Vec<_> = (0..12).map(|n| rig.world.lawyer_license(n, None)).collect();
    for c in &creds {
        rig.world.publish(c);
    }
    rig.commit(&creds.iter().collect::<Vec<_>>());
    rig.synced().await;
    // Every third scan carries a forged signature: in a batch with genuine ones, each is still
    // refused for its signature, and the genuine ones are still VALID.
    let texts: Vec<String> = creds
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut p = World::compact(c, None);
            if i % 3 == 2
                && let Presentation::Compact(compact) = &mut p
            {
                compact.signature.0[20] ^= 1;
            }
            p.to_qr_text()
        })
        .collect();
    let queue = rig.checker.signatures();
    let (batches, signatures) = (queue.batches(), queue.signatures());
    let reports =
        futures_util::future::join_all(texts.iter().map(|t| rig.checker.check_text(t))).await;
    for (i, r) in reports.iter().enumerate() {
        if i % 3 == 2 {
            assert_eq!(r.outcome, Verdict::NotGenuine, "scan {i}: {r:?}");
            assert_eq!(format!("{:?}", r.failed_check), "Some(Signature)");
        } else {
            assert_eq!(r.outcome, Verdict::Valid, "scan {i}: {r:?}");
        }
    }
    assert_eq!(queue.signatures() - signatures, 12);
    assert!(
        queue.batches() - batches < 12,
        "scans ready together were checked together: {} batches for 12",
        queue.batches() - batches
    );
}
