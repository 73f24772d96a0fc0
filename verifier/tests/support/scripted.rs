//! A scripted node for tests and benchmarks: it serves whatever headers and status evidence
//! the test puts in its script, honest or not, over the node API's routes.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, Sse};
use axum::routing::get;
use axum::{Json, Router};
use credledger_core::block::{CommitCertificate, Header};
use credledger_core::ids::CredentialId;
use credledger_core::presentation::StatusEvidence;
use credledger_core::verify::StateAnswer;
use serde_json::{Value, json};

/// What a scripted node serves.
#[derive(Default)]
pub struct Script {
    pub headers: Vec<(Header, CommitCertificate)>,
    pub evidence: HashMap<CredentialId, StatusEvidence>,
    /// Status requests served, to check what scans cost the nodes.
    pub status_requests: usize,
    /// Answers of `/v1/state/…` (registry entries), by path after `/v1/state/`; a path not
    /// here is answered 404 without a proof, as by a node that cannot say.
    pub state: HashMap<String, StateAnswer>,
}

pub type Shared = Arc<Mutex<Script>>;

fn header_json(h: &Header, c: &CommitCertificate) -> Value {
    json!({ "hash": h.hash(), "header": h, "commit": c })
}

/// Serves `script` on a loopback port; returns the base URL.
pub async fn serve(script: Shared) -> String {
    async fn status(State(s): State<Shared>) -> Json<Value> {
        Json(json!({ "height": s.lock().unwrap().headers.len() }))
    }
    async fn header(State(s): State<Shared>, Path(h): Path<usize>) -> Json<Value> {
        let s = s.lock().unwrap();
        let (h, c) = &s.headers[h - 1];
        Json(header_json(h, c))
    }
    async fn stream(
        State(s): State<Shared>,
        Query(q): Query<HashMap<String, usize>>,
    ) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
        let from = q.get("from").copied().unwrap_or(1);
        Sse::new(futures_util::stream::unfold(from, move |next| {
            let s = s.clone();
            async move {
                loop {
                    let ev = s.lock().unwrap().headers.get(next - 1).map(|(h, c)| {
                        Event::default()
                            .event("header")
                            .json_data(header_json(h, c))
                            .unwrap()
                    });
                    if let Some(ev) = ev {
                        return Some((Ok(ev), next + 1));
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }))
    }
    async fn credential(
        State(s): State<Shared>,
        Path((_, id)): Path<(String, String)>,
    ) -> Result<Json<StatusEvidence>, axum::http::StatusCode> {
        let id: CredentialId = id.parse().unwrap();
        let mut s = s.lock().unwrap();
        s.status_requests += 1;
        s.evidence
            .get(&id)
            .cloned()
            .map(Json)
            .ok_or(axum::http::StatusCode::NOT_FOUND)
    }
    async fn state(
        State(s): State<Shared>,
        Path(path): Path<String>,
    ) -> Result<Json<StateAnswer>, axum::http::StatusCode> {
        s.lock()
            .unwrap()
            .state
            .get(&path)
            .cloned()
            .map(Json)
            .ok_or(axum::http::StatusCode::NOT_FOUND)
    }
    let app = Router::new()
        .route("/v1/status", get(status))
        .route("/v1/headers/stream", get(stream))
        .route("/v1/headers/{h}", get(header))
        .route("/v1/credentials/{issuer}/{id}", get(credential))
        .route("/v1/state/{*path}", get(state))
        .with_state(script);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}
