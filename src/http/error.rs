//! Every HTTP-level failure a client can cause, and the one place it becomes a status.
//!
//! The body is always `{"error": "<one line>"}` so that scripts and people read the same reason.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

/// A request refused before it reached a tool.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// Malformed input (`400`).
    #[error("{0}")]
    BadRequest(String),
    /// Missing or wrong credentials (`401`).
    #[error("{0}")]
    Unauthorized(&'static str),
    /// Refused by the Origin/Host fence (`403`).
    #[error("{0}")]
    Forbidden(&'static str),
    /// The body took too long to arrive (`408`).
    #[error("the request body did not arrive in time")]
    Timeout,
    /// The body is larger than the configured limit (`413`).
    #[error("the request body is larger than the limit of {0} bytes")]
    PayloadTooLarge(usize),
    /// A per-client or per-session bound is reached (`429`).
    #[error("{0}")]
    TooMany(String),
    /// A daemon-wide bound is reached or the daemon cannot answer now (`503`).
    #[error("{0}")]
    Unavailable(String),
}

impl ResponseError for HttpError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Timeout => StatusCode::REQUEST_TIMEOUT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::TooMany(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code()).json(json!({"error": self.to_string()}))
    }
}
