//! `POST /api/v1/verify-batch`: many presentations in one request, for a desk that checks a
//! list (a court's roll call, a bank's onboarding queue) or a front end that gathers scans. Each
//! presentation is checked exactly as a single scan is; only the HTTP round trip and the work of
//! checking the issuer signatures (one ZIP-215 batch) are shared (spec/verifier.md §4.1).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Response};
use credledger_core::presentation::MAX_PRESENTATION_TEXT;

use super::{App, Guard, bad_request, presentation_of};
use crate::report::Report;

/// Most presentations in one batch.
pub const MAX_BATCH: usize = 100;

/// Longest batch body: every presentation at its longest, quoted and separated, plus the
/// wrapper.
pub const MAX_BATCH_BODY: usize = MAX_BATCH * (MAX_PRESENTATION_TEXT + 8) + 1024;

/// Presentations of one batch whose status is being fetched from the ledger at once: enough to
/// hide the nodes' round trips, few enough that one batch cannot flood them.
const FETCHES_AT_ONCE: usize = 8;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    presentations: Vec<String>,
}

#[derive(serde::Serialize)]
struct Answer {
    /// One report per presentation, in the order sent.
    results: Vec<Report>,
}

/// The presentations of a batch body, or what is wrong with it.
fn parse(body: &[u8]) -> Result<Vec<String>, String> {
    let presentations = serde_json::from_slice::<Body>(body)
        .map_err(|e| format!("body is not {{\"presentations\": [\"...\", ...]}}: {e}"))?
        .presentations;
    let n = presentations.len();
    if n == 0 || n > MAX_BATCH {
        return Err(format!(
            "a batch holds 1 to {MAX_BATCH} presentations, this one {n}"
        ));
    }
    Ok(presentations)
}

/// The handler.
pub async fn verify_batch(
    State(app): State<Arc<App>>,
    Extension(guard): Extension<Arc<Guard>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Response {
    let presentations = match parse(&body) {
        Ok(p) => p,
        Err(e) => return bad_request(e),
    };
    let n = presentations.len();
    // The guard charged the request as one check; the rest of the batch is charged here, so a
    // batch buys no more checks than as many single requests would.
    if let Err(refused) = guard.charge_batch(peer.ip(), n as u32) {
        return refused;
    }
    let texts: Vec<String> = presentations.iter().map(|t| presentation_of(t)).collect();
    let results: Vec<Report> = app.checker.check_texts(&texts, FETCHES_AT_ONCE).await;
    for r in &results {
        tracing::debug!(outcome = r.outcome.as_str(), failed_check = ?r.failed_check, live = r.live, "checked in a batch");
        app.metrics.count(r.outcome);
    }
    Json(Answer { results }).into_response()
}

#[cfg(test)]
mod tests {
    use super::{MAX_BATCH, parse};
    use proptest::prelude::*;

    #[test]
    fn bad_bodies_are_named() {
        assert!(parse(b"").unwrap_err().contains("presentations"));
        assert!(parse(br#"{"presentation": "x"}"#).is_err());
        assert!(parse(br#"{"presentations": "x"}"#).is_err());
        assert!(parse(br#"{"presentations": [], "extra": 1}"#).is_err());
        assert!(
            parse(br#"{"presentations": []}"#)
                .unwrap_err()
                .contains("this one 0")
        );
        let many = serde_json::json!({ "presentations": vec!["x"; MAX_BATCH + 1] });
        let e = parse(many.to_string().as_bytes()).unwrap_err();
        assert!(e.contains(&format!("this one {}", MAX_BATCH + 1)), "{e}");
    }

    proptest! {
        #[test]
        fn any_bytes_are_read_without_panic(b in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = parse(&b);
        }

        #[test]
        fn a_well_formed_batch_is_read_in_order(v in proptest::collection::vec("\\PC{0,40}", 1..=MAX_BATCH)) {
            let body = serde_json::json!({ "presentations": &v }).to_string();
            prop_assert_eq!(parse(body.as_bytes()).unwrap(), v);
        }
    }
}
