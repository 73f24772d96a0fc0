//! API errors as HTTP answers: a status code and a JSON body naming what went wrong.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An API error.
#[derive(Clone, Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed; the message names the field.
    #[error("{0}")]
    BadRequest(String),
    /// 404: nothing there.
    #[error("{0}")]
    NotFound(String),
    /// 404 with a proof that the state entry is absent.
    #[error("absent from the state")]
    NotFoundWithProof(serde_json::Value),
    /// 405: the path exists, but not for this method.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// 422: the ledger's rules refuse the transaction; the message names the rule. This
    /// submission is in no mempool and will never commit.
    #[error("{0}")]
    Refused(String),
    /// 409: this transaction, or another of its signer's with the same nonce, is already
    /// pending or committed; whether this one commits is learnt from its status, not from
    /// this answer (spec/http-api.md §1).
    #[error("{0}")]
    Conflict(String),
    /// 503: try again later (mempool full, no block committed yet).
    #[error("{0}")]
    Unavailable(String),
    /// 500: the node failed.
    #[error("{0}")]
    Internal(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (code, kind) = match &self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::NotFound(_) | ApiError::NotFoundWithProof(_) => {
                (StatusCode::NOT_FOUND, "not_found")
            }
            ApiError::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::Refused(_) => (StatusCode::UNPROCESSABLE_ENTITY, "refused"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        if code == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(target: "credledger::api", error = %self, "request failed");
        }
        let body = match self {
            ApiError::NotFoundWithProof(answer) => {
                json!({ "error": kind, "message": "absent from the state", "absence": answer })
            }
            other => json!({ "error": kind, "message": other.to_string() }),
        };
        let mut resp = (code, axum::Json(body)).into_response();
        if code == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut()
                .insert("retry-after", axum::http::HeaderValue::from_static("1"));
        }
        resp
    }
}

/// Gives every error answer the JSON body of spec/http-api.md §1, also those that axum and
/// tower-http make before a handler runs (a body over the limit, a query string that does not
/// parse, the request timeout), which come as plain text or with no body at all.
pub async fn json_errors(resp: Response) -> Response {
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json || !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let kind = match status {
        StatusCode::REQUEST_TIMEOUT => "timeout",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        s if s.is_server_error() => "internal",
        _ => "bad_request",
    };
    let (parts, body) = resp.into_parts();
    // These answers carry a line of text at most; a body over 4 KiB is not read, and the
    // status's own reason stands for it.
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_string();
    let message = match (status, text.is_empty()) {
        (StatusCode::REQUEST_TIMEOUT, _) => format!(
            "the request took longer than {} s; a submitted transaction may still commit, so \
             ask its status",
            super::REQUEST_TIMEOUT.as_secs()
        ),
        (_, false) => text,
        (_, true) => status
            .canonical_reason()
            .unwrap_or("request failed")
            .to_string(),
    };
    let mut out = (
        status,
        axum::Json(json!({ "error": kind, "message": message })),
    )
        .into_response();
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().append(name.clone(), value.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    /// The request timeout answers 408 with no body; clients still get the JSON of §1, with
    /// what a timeout means for a submitted transaction, and the headers it had.
    #[tokio::test]
    async fn a_bare_timeout_gets_the_json_error_body() {
        let mut bare = StatusCode::REQUEST_TIMEOUT.into_response();
        bare.headers_mut()
            .insert("x-kept", axum::http::HeaderValue::from_static("1"));
        let resp = json_errors(bare).await;
        assert_eq!(resp.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(resp.headers()["x-kept"], "1");
        assert_eq!(resp.headers()[header::CONTENT_TYPE], "application/json");
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"], "timeout");
        assert!(v["message"].as_str().unwrap().contains("may still commit"));
    }

    /// Answers that are already JSON, and successes, pass unchanged.
    #[tokio::test]
    async fn json_answers_and_successes_pass_unchanged() {
        let resp = json_errors(ApiError::Conflict("held".into()).into_response()).await;
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            (v["error"].as_str(), v["message"].as_str()),
            (Some("conflict"), Some("held"))
        );
        let ok = json_errors((StatusCode::OK, "text").into_response()).await;
        let body = ok.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"text");
    }
}
