//! The node's HTTP API (`/v1`, JSON; spec/http-api.md): reads of committed blocks, headers,
//! commits and transactions, state entries with proofs that need no trust in this node, and
//! transaction submission. It talks to the rest of the node only through [`Backend`].

mod backend;
mod error;
mod listener;
mod submissions;

pub use backend::{Backend, NodeStatus, StateAnswer, TxStatus};
pub use error::ApiError;
pub use listener::{ConnLimits, serve};

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use std::convert::Infallible;

use axum::Extension;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{get, post};
use axum::{Json, Router};
use credledger_core::bounded::BoundedVec;
use credledger_core::hash::Digest;
use credledger_core::ids::{CredentialId, Height};
use credledger_core::state::{StateKey, StateValue};
use credledger_core::tx::MAX_TX_BYTES;
use futures_util::Stream;
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::sync::broadcast::error::RecvError;
use tower_http::timeout::TimeoutLayer;

type Shared = Arc<dyn Backend>;

/// Bounds of the API beyond body sizes and timeouts.
#[derive(Clone, Copy, Debug)]
pub struct ApiLimits {
    /// Header streams (SSE) open at once; more are answered 503.
    pub max_header_streams: usize,
    /// Requests being answered at once (a stream counts until its answer starts); more are
    /// answered 503 at once, so in-flight bodies (up to 4 MiB each on the relay) stay bounded.
    pub max_in_flight: usize,
}

impl Default for ApiLimits {
    fn default() -> Self {
        ApiLimits {
            max_header_streams: 256,
            max_in_flight: 1_024,
        }
    }
}

/// The API's routes over a backend, with the default limits.
pub fn router(backend: Shared) -> Router {
    router_with(backend, ApiLimits::default())
}

/// The API's routes over a backend, with a body limit, a request timeout and `limits`.
pub fn router_with(backend: Shared, limits: ApiLimits) -> Router {
    let streams = Arc::new(Semaphore::new(limits.max_header_streams));
    let in_flight = Arc::new(Semaphore::new(limits.max_in_flight));
    Router::new()
        .route("/health", get(health))
        .route("/v1/status", get(status))
        .route("/v1/headers/{height}", get(header))
        .route(
            "/v1/headers/stream",
            get(header_stream).layer(Extension(streams)),
        )
        .route("/v1/blocks/{height}", get(block))
        .route("/v1/validator-sets", get(validator_sets))
        .route(
            "/v1/tx",
            post(submit).layer(Extension(Arc::new(submissions::Submissions::default()))),
        )
        .route(
            "/v1/relay",
            post(relay).layer(DefaultBodyLimit::max(crate_relay_limit())),
        )
        .route("/metrics", get(metrics))
        .route("/v1/tx/{id}", get(tx))
        .route("/v1/credentials/{issuer}/{id}", get(credential))
        .route(
            "/v1/credentials/{issuer}/{id}/history",
            get(credential_history),
        )
        .route("/v1/state/issuer/{issuer}", get(issuer))
        .route("/v1/state/issuer-key/{issuer}/{key}", get(issuer_key))
        .route("/v1/state/kind/{kind}", get(kind))
        .route("/v1/state/issuer-nonce/{issuer}", get(issuer_nonce))
        .route("/v1/state/governance", get(governance))
        .route("/v1/state/log-source/{source}", get(log_source))
        .route("/v1/state/log-anchor/{source}/{sequence}", get(log_anchor))
        .route("/v1/log-anchors/{source}/{sequence}", get(anchor_in_block))
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(DefaultBodyLimit::max(MAX_TX_BYTES + 1024))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(axum::middleware::from_fn_with_state(in_flight, shed))
        .layer(axum::middleware::map_response(error::json_errors))
        .with_state(backend)
}

/// Answers 503 at once when `ApiLimits::max_in_flight` requests are being answered; the
/// permit is held until this request's answer (its head) is ready, body read included.
async fn shed(
    State(in_flight): State<Arc<Semaphore>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let Ok(_permit) = in_flight.try_acquire_owned() else {
        return ApiError::Unavailable(
            "the node is answering as many requests as it takes; retry later".into(),
        )
        .into_response();
    };
    next.run(request).await
}

/// Every error answer has the JSON body of spec/http-api.md §1, a path no route serves too.
async fn no_route(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!(
        "no endpoint {}; spec/http-api.md §2 lists them",
        uri.path()
    ))
}

async fn wrong_method(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::MethodNotAllowed(format!("{} does not take {method}", uri.path()))
}

fn parse<T: std::str::FromStr>(what: &str, s: &str) -> Result<T, ApiError>
where
    T::Err: std::fmt::Display,
{
    s.parse()
        .map_err(|e| ApiError::BadRequest(format!("{what}: {e}")))
}

async fn health(State(b): State<Shared>) -> Result<Json<Value>, ApiError> {
    let s = b.status()?;
    Ok(Json(json!({ "status": "ok", "height": s.height })))
}

async fn status(State(b): State<Shared>) -> Result<Json<NodeStatus>, ApiError> {
    Ok(Json(b.status()?))
}

async fn header(
    State(b): State<Shared>,
    Path(height): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let h: u64 = parse("height", &height)?;
    header_json(&b, Height(h))?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no block at height {h}")))
}

/// `{hash, header, commit}` of a committed block, plus `next_validators` when the header
/// announces a change, so a light client can follow from genesis with nothing else
/// (spec/http-api.md §3).
fn header_json(b: &Shared, h: Height) -> Result<Option<Value>, ApiError> {
    let Some((header, commit)) = b.header(h)? else {
        return Ok(None);
    };
    let mut v = json!({ "hash": header.hash(), "header": header, "commit": commit });
    if header.next_validators_hash != header.validators_hash {
        let next = h
            .next()
            .map(|n| b.validators(n))
            .transpose()?
            .flatten()
            .ok_or_else(|| ApiError::Internal(format!("no validator set after height {h}")))?;
        v["next_validators"] = json!(next);
    }
    Ok(Some(v))
}

/// How many past headers one stream request may ask for before the live ones.
const MAX_BACKFILL: u64 = 1_000;

#[derive(serde::Deserialize)]
struct StreamFrom {
    from: Option<u64>,
}

fn header_event(b: &Shared, h: Height) -> Option<Event> {
    let v = header_json(b, h).ok()??;
    Event::default()
        .event("header")
        .id(h.0.to_string())
        .json_data(v)
        .ok()
}

/// Server-sent events: one `header` event per committed block, `{hash, header, commit}`, for
/// light clients; `?from=h` first replays heights from `h` (at most 1,000 back).
async fn header_stream(
    State(b): State<Shared>,
    Extension(streams): Extension<Arc<Semaphore>>,
    Query(q): Query<StreamFrom>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    // The permit lives as long as the stream, so open streams stay bounded.
    let permit = streams.try_acquire_owned().map_err(|_| {
        ApiError::Unavailable("too many header streams are open; try again later".into())
    })?;
    // Subscribe before reading the tip, so no height falls between the replay and the feed.
    let rx = b.subscribe();
    let tip = b.status()?.height.0;
    let start = match q.from {
        Some(f) if f == 0 || f > tip + 1 => {
            return Err(ApiError::BadRequest(format!(
                "from must be between 1 and {}",
                tip + 1
            )));
        }
        Some(f) if tip.saturating_sub(f) >= MAX_BACKFILL => {
            return Err(ApiError::BadRequest(format!(
                "from may be at most {MAX_BACKFILL} heights behind the tip {tip}"
            )));
        }
        Some(f) => f,
        None => tip + 1,
    };
    let stream = futures_util::stream::unfold(
        (b, rx, start, permit),
        |(b, mut rx, next, permit)| async move {
            loop {
                let tip = b.status().ok()?.height.0;
                if next <= tip {
                    let ev = header_event(&b, Height(next))?;
                    return Some((Ok(ev), (b, rx, next + 1, permit)));
                }
                match rx.recv().await {
                    Ok(_) | Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return None,
                }
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

async fn block(
    State(b): State<Shared>,
    Path(height): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let h: u64 = parse("height", &height)?;
    let block = b
        .block(Height(h))?
        .ok_or_else(|| ApiError::NotFound(format!("no block at height {h}")))?;
    Ok(Json(json!({ "hash": block.header.hash(), "block": block })))
}

#[derive(serde::Deserialize)]
struct SubmitQuery {
    /// Wait up to this many ms for the transaction to be committed.
    wait_ms: Option<u64>,
}

/// Longest a request may take before its answer begins (spec/http-api.md §1).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest wait for a commit a client may ask for.
const MAX_WAIT_MS: u64 = 8_000;

/// Admits a transaction; with `?wait_ms=N` also waits (at most 8 s, inside the request
/// timeout) for its commit and
/// answers with its status too.
async fn submit(
    State(b): State<Shared>,
    Extension(group): Extension<Arc<submissions::Submissions>>,
    Query(q): Query<SubmitQuery>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    // Subscribed before submitting, so the commit cannot slip between the two.
    let mut commits = b.subscribe();
    let admit = {
        let b = b.clone();
        move |batch| b.submit(batch)
    };
    let id = group.submit(admit, body.to_vec()).await?;
    let Some(wait) = q.wait_ms else {
        return Ok(Json(json!({ "id": id })));
    };
    let deadline = tokio::time::Instant::now() + Duration::from_millis(wait.min(MAX_WAIT_MS));
    loop {
        if let TxStatus::Committed { .. } = b.tx(&id)? {
            break;
        }
        match tokio::time::timeout_at(deadline, commits.recv()).await {
            Ok(Ok(_)) | Ok(Err(RecvError::Lagged(_))) => continue,
            Ok(Err(RecvError::Closed)) | Err(_) => break,
        }
    }
    let mut out = json!({ "id": id });
    if let (Some(o), Ok(Value::Object(status))) =
        (out.as_object_mut(), serde_json::to_value(b.tx(&id)?))
    {
        o.extend(status);
    }
    Ok(Json(out))
}

/// The body limit of a relayed batch.
const fn crate_relay_limit() -> usize {
    4 << 20
}

/// Transactions in a relayed batch at most (spec/adr/002-transaction-relay.md; the relay
/// sends no more in one batch).
const MAX_RELAYED: usize = 1_000;

async fn relay(State(b): State<Shared>, body: Bytes) -> Result<Json<Value>, ApiError> {
    // The count is checked before any item is read: a body of empty items is refused at its
    // length prefix, not after a million allocations.
    let batch: BoundedVec<Vec<u8>, MAX_RELAYED> =
        credledger_core::encoding::decode(&body, crate_relay_limit())
            .map_err(|e| ApiError::BadRequest(format!("relayed batch: {e}")))?;
    let admitted = b.relayed(&batch)?;
    Ok(Json(
        json!({ "received": batch.len(), "admitted": admitted }),
    ))
}

/// Prometheus text format (version 0.0.4).
async fn metrics(State(b): State<Shared>) -> Result<String, ApiError> {
    let s = b.status()?;
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, v: u64| {
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}\n"
        ));
    };
    gauge(
        "credledger_height",
        "Last committed block height.",
        s.height.0,
    );
    gauge(
        "credledger_round",
        "Consensus round at the current height.",
        s.round.unwrap_or(0),
    );
    gauge(
        "credledger_mempool_txs",
        "Transactions in the mempool.",
        s.mempool_txs as u64,
    );
    gauge(
        "credledger_mempool_bytes",
        "Encoded bytes in the mempool.",
        s.mempool_bytes as u64,
    );
    gauge(
        "credledger_peers",
        "Consensus peers connected.",
        s.peers.unwrap_or(0),
    );
    gauge(
        "credledger_absent_validators",
        "Validators that built none of the last 2n blocks, proposing last at this height.",
        s.absent_validators.unwrap_or(0),
    );
    out.push_str(&format!(
        "# HELP credledger_tx_per_second Transactions per second in blocks of the last 10 s.\n\
         # TYPE credledger_tx_per_second gauge\ncredledger_tx_per_second {:.1}\n",
        s.tx_per_s
    ));
    let name = "credledger_committed_txs_total";
    out.push_str(&format!(
        "# HELP {name} Transactions in blocks committed since the node started.\n\
         # TYPE {name} counter\n{name} {}\n",
        s.committed_txs
    ));
    Ok(out)
}

async fn tx(State(b): State<Shared>, Path(id): Path<String>) -> Result<Json<TxStatus>, ApiError> {
    let id: Digest = parse("transaction id", &id)?;
    match b.tx(&id)? {
        TxStatus::Unknown => Err(ApiError::NotFound(format!(
            "transaction {id} is neither pending nor committed"
        ))),
        s => Ok(Json(s)),
    }
}

/// A state entry with its proof, or its absence with a proof of absence (still 200: an
/// absence proven against a committed header is an answer, not an error).
async fn state_entry(b: &Shared, key: StateKey) -> Result<Json<StateAnswer>, ApiError> {
    Ok(Json(b.state(&key)?))
}

async fn credential(
    State(b): State<Shared>,
    Path((issuer, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let key = credential_key(&issuer, &id)?;
    Ok(Json(status_evidence(b.state(&key)?)?))
}

fn credential_key(issuer: &str, id: &str) -> Result<StateKey, ApiError> {
    let id: CredentialId = parse("credential id", id)?;
    Ok(StateKey::Credential(parse("issuer", issuer)?, id))
}

/// A credential's state answer as exactly the shape of `StatusEvidence`, which a full
/// presentation carries; its absence as 404 with the proof.
fn status_evidence(answer: StateAnswer) -> Result<Value, ApiError> {
    match answer.value {
        Some(StateValue::Credential(record)) => Ok(
            json!({ "record": record, "proof": answer.proof, "header": answer.header, "commit": answer.commit }),
        ),
        Some(_) => Err(ApiError::Internal("state entry of the wrong type".into())),
        None => Err(ApiError::NotFoundWithProof(
            serde_json::to_value(&answer).unwrap_or(Value::Null),
        )),
    }
}

/// Where each validator set took over: `{"sets": [{"from": h, "hash": …}, …]}`, oldest first. A
/// client that trusts genesis reads `GET /v1/headers/{from - 1}` for each later entry and
/// learns the set from the one header that announces it (spec/verification.md §3.1).
async fn validator_sets(State(b): State<Shared>) -> Result<Json<Value>, ApiError> {
    let sets: Vec<Value> = b
        .validator_set_starts()?
        .into_iter()
        .map(|(from, hash)| json!({ "from": from, "hash": hash }))
        .collect();
    Ok(Json(json!({ "sets": sets })))
}

/// The status evidence of [`credential`] plus every event of the credential's history up to
/// its header, which the client folds and compares with the proven record (spec/state.md §5.1).
async fn credential_history(
    State(b): State<Shared>,
    Path((issuer, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let (answer, events) = b.credential_history(&credential_key(&issuer, &id)?)?;
    let mut evidence = status_evidence(answer)?;
    evidence["events"] = json!(events);
    Ok(Json(evidence))
}

async fn issuer(
    State(b): State<Shared>,
    Path(issuer): Path<String>,
) -> Result<Json<StateAnswer>, ApiError> {
    state_entry(&b, StateKey::Issuer(parse("issuer", &issuer)?)).await
}

async fn issuer_key(
    State(b): State<Shared>,
    Path((issuer, key)): Path<(String, String)>,
) -> Result<Json<StateAnswer>, ApiError> {
    state_entry(
        &b,
        StateKey::IssuerKey(parse("issuer", &issuer)?, parse("key id", &key)?),
    )
    .await
}

async fn governance(State(b): State<Shared>) -> Result<Json<StateAnswer>, ApiError> {
    state_entry(&b, StateKey::Governance).await
}

async fn issuer_nonce(
    State(b): State<Shared>,
    Path(issuer): Path<String>,
) -> Result<Json<StateAnswer>, ApiError> {
    state_entry(&b, StateKey::IssuerNonce(parse("issuer", &issuer)?)).await
}

async fn kind(
    State(b): State<Shared>,
    Path(kind): Path<String>,
) -> Result<Json<StateAnswer>, ApiError> {
    state_entry(&b, StateKey::Kind(parse("kind", &kind)?)).await
}

async fn log_source(
    State(b): State<Shared>,
    Path(source): Path<String>,
) -> Result<Json<StateAnswer>, ApiError> {
    state_entry(&b, StateKey::LogSource(parse("log source", &source)?)).await
}

async fn log_anchor(
    State(b): State<Shared>,
    Path((source, seq)): Path<(String, String)>,
) -> Result<Json<StateAnswer>, ApiError> {
    state_entry(
        &b,
        StateKey::LogAnchor(parse("log source", &source)?, parse("sequence", &seq)?),
    )
    .await
}

async fn anchor_in_block(
    State(b): State<Shared>,
    Path((source, seq)): Path<(String, String)>,
) -> Result<Json<credledger_core::verify::AnchorEvidence>, ApiError> {
    let source: credledger_core::ids::LogSourceId = parse("log source", &source)?;
    let sequence: u64 = parse("sequence", &seq)?;
    b.anchor_in_block(&source, sequence)?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no anchor #{sequence} of that source")))
}
