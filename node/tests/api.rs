//! The HTTP API over a real node: submit, pending, committed, and answers that verify with
//! `core` against genesis alone.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use credledger_core::block::ValidatorSet;
use credledger_core::devnet::{Devnet, DevnetParams};
use credledger_core::encoding::encode;
use credledger_core::hash::Digest;
use credledger_core::history::CredentialHistory;
use credledger_core::ids::{Nonce, Timestamp};
use credledger_core::merkle::{CompactTree, leaf_hash};
use credledger_core::presentation::StatusEvidence;
use credledger_core::state::{CredentialStatus, ReasonCode};
use credledger_core::testkit::{World, publish_tx, sign_commit};
use credledger_core::tx::{IssuerAction, IssuerTx, Signed};
use credledger_core::verify::{AnchorEvidence, verify_anchor};
use credledger_core::{Policy, TrustAnchor, verify};
use credledger_node::api::ApiLimits;
use credledger_node::mempool::MempoolLimits;
use credledger_node::service::{Ledger, Node};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// Time a test block may take to build (what the default 2 s propose timeout gives).
const BUDGET: std::time::Duration = std::time::Duration::from_millis(400);

const T0: u64 = 1_767_225_600_000;

async fn call(app: &axum::Router, req: Request<Body>) -> (StatusCode, Value) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let code = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (code, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

fn post(path: &str, body: Vec<u8>) -> Request<Body> {
    Request::post(path)
        .header("content-type", "application/octet-stream")
        .body(Body::from(body))
        .unwrap()
}

/// A node on a fresh devnet ledger in `dir`, with its API.
struct Served {
    d: Devnet,
    set: ValidatorSet,
    node: Arc<Node>,
    app: axum::Router,
}

fn serve(dir: &std::path::Path) -> Served {
    serve_with(dir, MempoolLimits::default(), ApiLimits::default())
}

/// A node at genesis (its clock at `T0` + 5 s) with these bounds, and its API.
fn serve_with(dir: &std::path::Path, mempool: MempoolLimits, api: ApiLimits) -> Served {
    let d = Devnet::build(&[4; 32], &DevnetParams::default()).unwrap();
    let set = ValidatorSet::new(d.genesis.validators.to_vec()).unwrap();
    let ledger = Ledger::open(dir, d.genesis.clone()).unwrap();
    let node = Arc::new(Node::new(
        ledger,
        mempool,
        Box::new(|| Timestamp(T0 + 5_000)),
    ));
    let app = credledger_node::api::router_with(node.clone(), api);
    Served { d, set, node, app }
}

#[tokio::test]
async fn submit_commit_and_prove_a_credential() {
    let dir = tempfile::tempdir().unwrap();
    let Served { d, set, node, app } = serve(dir.path());

    let (code, body) = call(&app, get("/v1/status")).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(body["height"], 0);
    // A path no route serves, or a method a route does not take, still answers JSON.
    let (code, body) = call(&app, get("/v1/nothing-here")).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "not_found", "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("/v1/nothing-here")
    );
    let (code, body) = call(&app, get("/v1/tx")).await;
    assert_eq!(code, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["error"], "method_not_allowed", "{body}");
    // Before block 1 there is no header to prove anything under.
    let (code, _) = call(&app, get("/v1/state/issuer/moj")).await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);

    let world = World::with_devnet(Devnet::build(&[4; 32], &DevnetParams::default()).unwrap());
    let c = world.lawyer_license(11, None);
    let tx = publish_tx(&d, "moj", "moj-2026-01", 0, &[&c]);
    let (code, resp) = call(&app, post("/v1/tx", encode(&tx))).await;
    assert_eq!(code, StatusCode::OK, "{resp}");
    assert_eq!(resp["id"], tx.id().to_hex());
    let (code, resp) = call(&app, post("/v1/tx", encode(&tx))).await;
    assert_eq!(code, StatusCode::CONFLICT, "a duplicate: {resp}");
    assert_eq!(resp["error"], "conflict", "{resp}");
    let (_, resp) = call(&app, get(&format!("/v1/tx/{}", tx.id()))).await;
    assert_eq!(resp["state"], "pending");

    // Garbage and oversized bodies are refused with a reason.
    let (code, resp) = call(&app, post("/v1/tx", vec![7; 10])).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert!(
        resp["message"]
            .as_str()
            .unwrap()
            .starts_with("transaction bytes"),
        "{resp}"
    );
    // So are those axum answers before any handler runs, in the same JSON body.
    let (code, resp) = call(&app, post("/v1/tx", vec![0; (1 << 20) + 4096])).await;
    assert_eq!(code, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(resp["error"], "too_large", "{resp}");
    let (code, resp) = call(&app, post("/v1/tx?wait_ms=soon", encode(&tx))).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert_eq!(resp["error"], "bad_request", "{resp}");
    assert!(
        resp["message"].as_str().unwrap().contains("wait_ms"),
        "{resp}"
    );

    // A block from the mempool, committed with a certificate.
    let block = node.propose(0, 1000, BUDGET).unwrap();
    assert_eq!(block.transactions.len(), 1);
    node.commit(&block, &sign_commit(&d, &set, &block.header, 3))
        .unwrap();
    let (_, resp) = call(&app, get(&format!("/v1/tx/{}", tx.id()))).await;
    assert_eq!(resp["state"], "committed");
    assert_eq!(resp["height"], 1);
    assert_eq!(resp["error"], Value::Null);
    let (_, status) = call(&app, get("/v1/status")).await;
    assert_eq!(
        status["mempool_txs"], 0,
        "committed transactions leave the mempool"
    );
    // One transaction in a block of the last 10 s.
    assert_eq!(status["tx_per_s"], 0.1, "{status}");
    let metrics = app
        .clone()
        .oneshot(get("/metrics"))
        .await
        .unwrap()
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes();
    let metrics = String::from_utf8(metrics.to_vec()).unwrap();
    assert!(
        metrics.contains("\ncredledger_tx_per_second 0.1\n"),
        "{metrics}"
    );

    // The credential's status evidence, taken from JSON, verifies against genesis alone.
    let (code, ev) = call(&app, get(&format!("/v1/credentials/moj/{}", c.body.id))).await;
    assert_eq!(code, StatusCode::OK, "{ev}");
    let evidence: StatusEvidence = serde_json::from_value(ev).unwrap();
    let p = credledger_core::testkit::full_with(&c, None, evidence);
    let anchor = TrustAnchor::from_genesis(&d.genesis).unwrap();
    assert!(verify(&p, &anchor, Timestamp(T0 + 6_000), &Policy::LIVE).is_ok());

    // An unknown credential is 404 with a proof of absence.
    let (code, resp) = call(
        &app,
        get("/v1/credentials/moj/00000000000000000000000000000000"),
    )
    .await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert!(resp["absence"]["proof"].is_object(), "{resp}");
    let (code, _) = call(&app, get("/v1/credentials/moj/xyz")).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);

    let (code, sets) = call(&app, get("/v1/validator-sets")).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(
        sets,
        serde_json::json!({ "sets": [{ "from": 1, "hash": set.hash().to_hex() }] })
    );

    let (code, hdr) = call(&app, get("/v1/headers/1")).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(hdr["hash"], block.header.hash().to_hex());
    let (code, _) = call(&app, get("/v1/headers/2")).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_credential_history_is_served_whole_and_folds_to_its_proven_record() {
    let dir = tempfile::tempdir().unwrap();
    let Served { d, set, node, app } = serve(dir.path());
    let world = World::with_devnet(Devnet::build(&[4; 32], &DevnetParams::default()).unwrap());
    let (c, other) = (
        world.lawyer_license(21, None),
        world.lawyer_license(22, None),
    );
    let id = c.body.id;
    let reason = ReasonCode::Disciplinary;
    let txs = [
        vec![publish_tx(&d, "moj", "moj-2026-01", 0, &[&c, &other])],
        vec![
            issuer_tx(&d, 1, IssuerAction::Suspend { id, reason }),
            issuer_tx(&d, 2, IssuerAction::Reinstate { id }),
        ],
        vec![issuer_tx(&d, 3, IssuerAction::Revoke { id, reason })],
    ];
    for batch in &txs {
        for tx in batch {
            let (code, resp) = call(&app, post("/v1/tx", encode(tx))).await;
            assert_eq!(code, StatusCode::OK, "{resp}");
        }
        let block = node.propose(0, 1000, BUDGET).unwrap();
        node.commit(&block, &sign_commit(&d, &set, &block.header, 3))
            .unwrap();
    }

    let (code, body) = call(&app, get(&format!("/v1/credentials/moj/{id}/history"))).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let evidence: StatusEvidence = serde_json::from_value(body.clone()).unwrap();
    let history = CredentialHistory {
        events: serde_json::from_value(body["events"].clone()).unwrap(),
    };
    let heights: Vec<_> = history.events.iter().map(|e| e.height.0).collect();
    assert_eq!(heights, [1, 2, 2, 3], "suspend and reinstate share block 2");
    assert_eq!(
        history.events[3].status,
        CredentialStatus::Revoked { reason }
    );
    assert_eq!(history.check(&evidence.record), Ok(()));
    // The history that stops before the revocation does not fold to the record.
    let mut cut = history.clone();
    cut.events.pop();
    assert!(cut.check(&evidence.record).is_err());

    let (_, body) = call(
        &app,
        get(&format!("/v1/credentials/moj/{}/history", other.body.id)),
    )
    .await;
    assert_eq!(body["events"].as_array().map(Vec::len), Some(1), "{body}");
    let (code, body) = call(
        &app,
        get("/v1/credentials/moj/00000000000000000000000000000000/history"),
    )
    .await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert!(body["absence"]["proof"].is_object(), "{body}");
}

#[tokio::test]
async fn a_log_anchor_is_proven_in_its_blocks_anchors_root() {
    let dir = tempfile::tempdir().unwrap();
    let Served { d, set, node, app } = serve(dir.path());
    let mut world = World::with_devnet(Devnet::build(&[4; 32], &DevnetParams::default()).unwrap());
    let leaves: Vec<Digest> = (0..100u64).map(|i| leaf_hash(&i.to_le_bytes())).collect();
    let mut tree = CompactTree::new();
    for l in &leaves {
        tree.push(*l);
    }
    world.anchor_log("troad-demo-ss1", &tree, &leaves);
    for tx in world.take_pending() {
        let (code, resp) = call(&app, post("/v1/tx", encode(&tx))).await;
        assert_eq!(code, StatusCode::OK, "{resp}");
    }
    let block = node.propose(0, 1000, BUDGET).unwrap();
    node.commit(&block, &sign_commit(&d, &set, &block.header, 3))
        .unwrap();

    let (code, body) = call(&app, get("/v1/log-anchors/troad-demo-ss1/1")).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let ev: AnchorEvidence = serde_json::from_value(body).unwrap();
    assert_eq!((ev.record.tree_size, ev.record.root), (100, tree.root()));
    assert_eq!(ev.header, block.header, "proven under its own block");
    let anchor = TrustAnchor::from_genesis(&d.genesis).unwrap();
    assert_eq!(verify_anchor(&ev, &anchor), Ok(()));
    // The header commits to exactly the anchors the block accepted.
    let mut forged = ev.clone();
    forged.record.tree_size = 99;
    assert!(verify_anchor(&forged, &anchor).is_err());

    let (code, _) = call(&app, get("/v1/log-anchors/troad-demo-ss1/2")).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    let (code, _) = call(&app, get("/v1/log-anchors/troad-demo-ss1/x")).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
}

fn issuer_tx(d: &Devnet, nonce: u64, action: IssuerAction) -> credledger_core::tx::Transaction {
    credledger_core::tx::Transaction::Issuer(Signed::sign(
        &d.genesis.chain_id,
        IssuerTx {
            issuer: "moj".parse().unwrap(),
            key_id: "moj-2026-01".parse().unwrap(),
            nonce: Nonce(nonce),
            action,
        },
        d.issuer_key("moj", "moj-2026-01").unwrap(),
    ))
}

#[tokio::test]
async fn header_streams_are_bounded_and_freed_when_closed() {
    let dir = tempfile::tempdir().unwrap();
    let limits = ApiLimits {
        max_header_streams: 1,
        ..Default::default()
    };
    let Served { app, .. } = serve_with(dir.path(), MempoolLimits::default(), limits);
    let first = app
        .clone()
        .oneshot(get("/v1/headers/stream"))
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let (code, body) = call(&app, get("/v1/headers/stream")).await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    drop(first);
    let again = app
        .clone()
        .oneshot(get("/v1/headers/stream"))
        .await
        .unwrap();
    assert_eq!(
        again.status(),
        StatusCode::OK,
        "a closed stream frees its place"
    );
}

/// A full mempool refuses the next transaction with 503 and Retry-After, and takes it again
/// once a block has made room.
#[tokio::test]
async fn a_full_mempool_answers_503_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let one = MempoolLimits {
        max_txs: 1,
        ..MempoolLimits::default()
    };
    let Served { d, set, node, app } = serve_with(dir.path(), one, ApiLimits::default());
    let world = World::with_devnet(Devnet::build(&[4; 32], &DevnetParams::default()).unwrap());
    let txs: Vec<_> = (0..2u64)
        .map(|i| {
            publish_tx(
                &d,
                "moj",
                "moj-2026-01",
                i,
                &[&world.lawyer_license(1 + i as u32, None)],
            )
        })
        .collect();
    let (code, body) = call(&app, post("/v1/tx", encode(&txs[0]))).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let resp = app
        .clone()
        .oneshot(post("/v1/tx", encode(&txs[1])))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(resp.headers().contains_key("retry-after"));
    let body: Value =
        serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(body["error"], "unavailable", "{body}");
    assert!(body["message"].as_str().unwrap().contains("full"), "{body}");
    // A block takes the first; the second now fits.
    let block = node.propose(0, 1000, BUDGET).unwrap();
    node.commit(&block, &sign_commit(&d, &set, &block.header, 3))
        .unwrap();
    let (code, body) = call(&app, post("/v1/tx", encode(&txs[1]))).await;
    assert_eq!(code, StatusCode::OK, "{body}");
}

/// A stopping node ends its header streams, so the API's clean stop does not wait for the
/// clients reading them.
#[tokio::test]
async fn a_stopping_node_ends_its_header_streams() {
    let dir = tempfile::tempdir().unwrap();
    let Served { node, app, .. } = serve(dir.path());
    let stream = app.oneshot(get("/v1/headers/stream")).await.unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    let body = tokio::spawn(stream.into_body().collect());
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(!body.is_finished(), "an open stream waits for commits");
    node.end_streams();
    let ended = tokio::time::timeout(std::time::Duration::from_secs(5), body).await;
    assert!(ended.is_ok(), "the stream did not end");
}

/// A node answering as many requests as it takes answers the next one 503 at once, with the
/// JSON error body, and takes requests again once one is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_past_the_in_flight_bound_are_answered_503() {
    let dir = tempfile::tempdir().unwrap();
    let limits = ApiLimits {
        max_in_flight: 1,
        ..Default::default()
    };
    let Served { d, app, .. } = serve_with(dir.path(), MempoolLimits::default(), limits);
    // A submission that waits for a commit that never comes holds the one place for 1 s;
    // a probe sent while it waits finds no place. (If the probe took the place first, the
    // submission was the one refused: try again.)
    let world = World::with_devnet(Devnet::build(&[4; 32], &DevnetParams::default()).unwrap());
    for attempt in 0..20u64 {
        let c = world.lawyer_license(1 + attempt as u32, None);
        let tx = publish_tx(&d, "moj", "moj-2026-01", attempt, &[&c]);
        let waiting = tokio::spawn({
            let app = app.clone();
            async move { call(&app, post("/v1/tx?wait_ms=1000", encode(&tx))).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let (code, body) = call(&app, get("/health")).await;
        let (waited, _) = waiting.await.unwrap();
        if code == StatusCode::SERVICE_UNAVAILABLE && waited == StatusCode::OK {
            assert_eq!(body["error"], "unavailable", "{body}");
            let (code, _) = call(&app, get("/health")).await;
            assert_eq!(code, StatusCode::OK, "the place is free again");
            return;
        }
    }
    panic!("no request was answered 503 while another held the one place");
}

/// Many clients at once: every submission gets its own answer, in its own order, whether it
/// was admitted alone or in a group with others; duplicates in one group are told apart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_submissions_each_get_their_own_answer() {
    let dir = tempfile::tempdir().unwrap();
    let Served { d, app, .. } = serve(dir.path());
    let world = World::with_devnet(Devnet::build(&[4; 32], &DevnetParams::default()).unwrap());
    let txs: Vec<_> = (0..200u64)
        .map(|i| {
            let c = world.lawyer_license(1_000 + i as u32, None);
            publish_tx(&d, "moj", "moj-2026-01", i, &[&c])
        })
        .collect();
    let mut calls = Vec::new();
    for tx in txs.iter().chain(txs.iter().take(20)) {
        let (app, bytes, id) = (app.clone(), encode(tx), tx.id().to_hex());
        calls.push(tokio::spawn(async move {
            let (code, resp) = call(&app, post("/v1/tx", bytes)).await;
            (code, resp, id)
        }));
    }
    let mut admitted = std::collections::HashSet::new();
    let mut conflicts = 0;
    for c in calls {
        let (code, resp, id) = c.await.unwrap();
        match code {
            StatusCode::OK => {
                assert_eq!(resp["id"], id.as_str(), "{resp}");
                assert!(admitted.insert(id), "admitted twice: {resp}");
            }
            StatusCode::CONFLICT => conflicts += 1,
            other => panic!("{other}: {resp}"),
        }
    }
    // Each transaction was admitted exactly once; each second copy was a conflict.
    assert_eq!((admitted.len(), conflicts), (200, 20));
    let (_, status) = call(&app, get("/v1/status")).await;
    assert_eq!(status["mempool_txs"], 200, "{status}");
}

#[tokio::test]
async fn a_relayed_batch_of_more_than_1000_transactions_is_refused_whole() {
    let dir = tempfile::tempdir().unwrap();
    let Served { app, .. } = serve(dir.path());
    let batch = |n: usize| credledger_core::encoding::encode(&vec![vec![0u8; 3]; n]);
    let (code, body) = call(&app, post("/v1/relay", batch(1_001))).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("at most 1000"), "{body}");
    // Within the bound, each transaction is judged (these do not decode: none admitted).
    let (code, body) = call(&app, post("/v1/relay", batch(1_000))).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(
        (body["received"].as_u64(), body["admitted"].as_u64()),
        (Some(1000), Some(0))
    );
    let (_, status) = call(&app, get("/v1/status")).await;
    assert_eq!(status["mempool_txs"].as_u64(), Some(0), "{status}");
}
