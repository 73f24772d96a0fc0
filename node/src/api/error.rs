//! API errors as HTTP answers: a status code and a JSON body naming what went wrong.

use axum::http::StatusCode;
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
