//! The verifier's HTTP service: the JSON API (`/api/v1`, spec/openapi-verifier.yaml), the
//! citizens' pages, `/health` and `/metrics`, all behind one guard.

mod audit;
mod batch;
mod guard;
mod i18n;
mod listener;
mod metrics;
pub mod page;

pub use batch::{MAX_BATCH, MAX_BATCH_BODY};
pub use guard::{Guard, Limits};
pub use listener::{ConnLimits, serve};
pub use metrics::Metrics;
pub use page::taiwan_time;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router, middleware};
use credledger_core::presentation::MAX_PRESENTATION_TEXT;
use serde_json::json;
use tower_http::timeout::TimeoutLayer;

use crate::checker::{Checker, now_ms};
use crate::qrimage::{MAX_IMAGE_BYTES, decode_qr};
use crate::report::Report;
use i18n::Lang;

/// Longest presentation body accepted, with room for a JSON wrapper or a verifier link.
const MAX_TEXT_BODY: usize = MAX_PRESENTATION_TEXT + 1024;

/// What the handlers share.
#[derive(Debug)]
pub struct App {
    /// The checker.
    pub checker: Checker,
    /// The counters.
    pub metrics: Arc<Metrics>,
}

type Shared = Arc<App>;

/// The whole service: routes, body limits, a 10 s timeout and the guard.
pub fn router(app: Shared, guard: Arc<Guard>) -> Router {
    Router::new()
        .route("/", get(scan))
        .route("/v", get(result_query))
        .route("/v/{*presentation}", get(result_path))
        .route(
            "/api/v1/verify",
            post(verify).layer(DefaultBodyLimit::max(MAX_TEXT_BODY)),
        )
        .route(
            "/api/v1/verify-batch",
            post(batch::verify_batch).layer(DefaultBodyLimit::max(MAX_BATCH_BODY)),
        )
        .route(
            "/api/v1/verify-image",
            post(verify_image).layer(DefaultBodyLimit::max(MAX_IMAGE_BYTES)),
        )
        .route(
            "/audit",
            get(audit::page)
                .post(audit::submit)
                .layer(DefaultBodyLimit::max(audit::MAX_AUDIT_BODY)),
        )
        .route(
            "/api/v1/audit/verify",
            post(audit::verify_api).layer(DefaultBodyLimit::max(audit::MAX_AUDIT_BODY)),
        )
        .route("/assets/app.js", get(app_js))
        .route("/assets/app.css", get(app_css))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(10),
        ))
        // The batch handler charges its extra presentations to the guard's limit.
        .layer(Extension(guard.clone()))
        .layer(middleware::from_fn_with_state(guard, guard::guard))
        .with_state(app)
}

/// The presentation inside a scanned text: the text itself, or the part after `/v/` of a
/// verifier link (spec/presentations.md §4).
pub fn presentation_of(scanned: &str) -> String {
    let s = scanned.trim();
    let lower = s.get(..8).unwrap_or(s).to_ascii_lowercase();
    let is_link = lower.starts_with("http://") || lower.starts_with("https://");
    if let Some(at) = s.find("/v/").filter(|_| is_link) {
        let rest = &s[at + 3..];
        let rest = rest.split(['?', '#']).next().unwrap_or(rest);
        return percent_encoding::percent_decode_str(rest)
            .decode_utf8_lossy()
            .into_owned();
    }
    s.to_string()
}

async fn check(app: &App, text: &str) -> Report {
    let r = app.checker.check_text(&presentation_of(text)).await;
    // One line per scan only at debug level: at thousands a second, counts live in /metrics.
    tracing::debug!(outcome = r.outcome.as_str(), failed_check = ?r.failed_check, live = r.live, "checked");
    app.metrics.count(r.outcome);
    r
}

async fn verify(State(app): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let text = if is_json {
        #[derive(serde::Deserialize)]
        struct Body {
            presentation: String,
        }
        match serde_json::from_slice::<Body>(&body) {
            Ok(b) => b.presentation,
            Err(e) => {
                return bad_request(format!("body is not {{\"presentation\": \"...\"}}: {e}"));
            }
        }
    } else {
        match std::str::from_utf8(&body) {
            Ok(t) => t.to_string(),
            Err(_) => return bad_request("body is not UTF-8 text".into()),
        }
    };
    Json(check(&app, &text).await).into_response()
}

/// Images decoded at once, one per core. Decoding one may take hundreds of megabytes
/// (`qrimage.rs` limits), so a burst of uploads waits here rather than exhausting memory; the
/// permit moves into the decoding thread, so a request that times out frees it only when its
/// decoding is done.
static DECODING: std::sync::LazyLock<Arc<tokio::sync::Semaphore>> =
    std::sync::LazyLock::new(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Arc::new(tokio::sync::Semaphore::new(cores))
    });

async fn verify_image(State(app): State<Shared>, body: Bytes) -> Response {
    let Ok(permit) = DECODING.clone().acquire_owned().await else {
        return bad_request("image decoding is shut down".into());
    };
    let decoded = tokio::task::spawn_blocking(move || {
        let text = decode_qr(&body);
        drop(permit);
        text
    })
    .await;
    match decoded {
        Ok(Ok(text)) => {
            let mut r = check(&app, &text).await;
            // The text read, even when it is no presentation: the page opens its result
            // (NOT GENUINE) from it like any other.
            if r.presentation.is_none() {
                r.presentation = Some(text);
            }
            Json(r).into_response()
        }
        Ok(Err(e)) => {
            app.metrics
                .unreadable_images
                .fetch_add(1, Ordering::Relaxed);
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({ "error": e.to_string() })),
            )
                .into_response()
        }
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({ "error": format!("image decoding failed: {e}") })),
        )
            .into_response(),
    }
}

fn bad_request(error: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": error }))).into_response()
}

async fn scan(Query(q): Query<HashMap<String, String>>) -> Html<String> {
    Html(page::scan_page(Lang::parse(
        q.get("lang").map(String::as_str),
    )))
}

async fn result_path(
    State(app): State<Shared>,
    Path(p): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let lang = Lang::parse(q.get("lang").map(String::as_str));
    let href = format!(
        "/v/{}",
        percent_encoding::utf8_percent_encode(&p, percent_encoding::NON_ALPHANUMERIC)
    );
    result(&app, lang, &p, &href).await
}

async fn result_query(
    State(app): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let lang = Lang::parse(q.get("lang").map(String::as_str));
    let p = q.get("p").cloned().unwrap_or_default();
    let href = format!(
        "/v?p={}",
        percent_encoding::utf8_percent_encode(&p, percent_encoding::NON_ALPHANUMERIC)
    );
    result(&app, lang, &p, &href).await
}

async fn result(app: &App, lang: Lang, text: &str, href: &str) -> Response {
    if text.len() > MAX_TEXT_BODY {
        return (StatusCode::URI_TOO_LONG, "presentation too long\n").into_response();
    }
    let r = check(app, text).await;
    Html(page::result_page(lang, &r, href)).into_response()
}

async fn app_js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../../assets/app.js"),
    )
        .into_response()
}

async fn app_css() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../../assets/app.css"),
    )
        .into_response()
}

async fn health(State(app): State<Shared>) -> Response {
    let trust = app.checker.trust();
    let (height, time) = trust.tip();
    let age = now_ms().since(time);
    let alarm = trust.alarm();
    let (status, code) = if alarm.is_some() {
        ("fork_alarm", StatusCode::SERVICE_UNAVAILABLE)
    } else if age > app.checker.freshness_ms() {
        ("stale", StatusCode::SERVICE_UNAVAILABLE)
    } else {
        ("ok", StatusCode::OK)
    };
    (
        code,
        // With the alarm, its evidence: both headers and the conflicting commit, for the
        // operators and the validators' ministries to examine.
        Json(json!({
            "status": status,
            "verified_height": height,
            "header_age_ms": age,
            "fork_evidence": alarm,
        })),
    )
        .into_response()
}

async fn metrics(State(app): State<Shared>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.metrics
            .render(app.checker.trust(), app.checker.signatures()),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::presentation_of;
    use proptest::prelude::*;

    #[test]
    fn links_are_reduced_to_their_presentation() {
        assert_eq!(presentation_of("cl1.AAEC"), "cl1.AAEC");
        assert_eq!(presentation_of(" CL1:ABC \n"), "CL1:ABC");
        assert_eq!(
            presentation_of("https://verify.example/v/cl1.AAEC?lang=en#top"),
            "cl1.AAEC"
        );
        assert_eq!(presentation_of("HTTP://x/v/CL1%3AA%20B"), "CL1:A B");
        // Not a link: kept as it is, and refused later by the decoder.
        assert_eq!(presentation_of("ftp://x/v/cl1.AAEC"), "ftp://x/v/cl1.AAEC");
    }

    proptest! {
        #[test]
        fn any_text_is_read_without_panic(s in "\\PC{0,300}") {
            let _ = presentation_of(&s);
            let _ = presentation_of(&format!("https://a/v/{s}"));
        }
    }
}
