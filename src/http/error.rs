//! Every HTTP-level failure a client can cause, and the one place it becomes a status.
//!
//! The body is always `{"error": "<one line>"}` so that scripts and people read the same reason.

use actix_web::http::StatusCode;
use actix_web::http::header::{ALLOW, ContentType};
use actix_web::{HttpResponse, ResponseError};
use construct_actors::{CreateError, SubscribeError, Unavailable};
use serde_json::json;

/// The one answer for an unknown session and for a wrong token (`401`), whatever the reason, so
/// that a caller cannot probe which session ids exist.
pub const REJECTED: &str = "unknown session or wrong token";

/// A request refused before it reached a tool.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// Malformed input (`400`).
    #[error("{0}")]
    BadRequest(String),
    /// Missing or wrong credentials (`401`).
    #[error("{0}")]
    Unauthorized(&'static str),
    /// A standard MCP session that does not exist, ended, or is not the caller's (`404`): the
    /// client must start a new one.
    #[error("session not found; send initialize to start a new one")]
    SessionNotFound,
    /// This method is not served here (`405`).
    #[error("{0}")]
    MethodNotAllowed(&'static str),
    /// The client does not accept what the daemon would send (`406`).
    #[error("{0}")]
    NotAcceptable(&'static str),
    /// A JSON-RPC error response with the status the protocol prescribes for it.
    #[error("{1}")]
    Rpc(StatusCode, String),
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
            Self::SessionNotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            Self::Rpc(status, _) => *status,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Timeout => StatusCode::REQUEST_TIMEOUT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::TooMany(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Rpc(status, body) => HttpResponse::build(*status)
                .content_type(ContentType::json())
                .body(body.clone()),
            Self::MethodNotAllowed(_) => HttpResponse::MethodNotAllowed()
                .insert_header((ALLOW, "POST"))
                .json(json!({"error": self.to_string()})),
            _ => HttpResponse::build(self.status_code()).json(json!({"error": self.to_string()})),
        }
    }
}

impl From<CreateError> for HttpError {
    fn from(err: CreateError) -> Self {
        match err {
            CreateError::TooManySessions(_) | CreateError::Unanswered => {
                Self::Unavailable(err.to_string())
            }
            CreateError::RateLimited { .. } => Self::TooMany(err.to_string()),
            CreateError::Unavailable(unavailable) => unavailable.into(),
        }
    }
}

impl From<Unavailable> for HttpError {
    fn from(err: Unavailable) -> Self {
        Self::Unavailable(err.to_string())
    }
}

impl From<SubscribeError> for HttpError {
    fn from(err: SubscribeError) -> Self {
        match err {
            SubscribeError::TooManySubscribers(_) => Self::TooMany(err.to_string()),
            // Ended since the request authenticated: answered like any unknown session.
            SubscribeError::Ended => Self::Unauthorized(REJECTED),
            SubscribeError::Unavailable(unavailable) => unavailable.into(),
        }
    }
}
