//! Reading a request body within the configured size and a fixed time.

use std::time::Duration;

use actix_web::web::{Bytes, Payload};

use super::error::HttpError;

/// Longest a client may take to send a body once its headers arrived.
const BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// The whole body, or `413` past `limit` bytes, or `408` past [`BODY_TIMEOUT`].
pub async fn read(payload: Payload, limit: usize) -> Result<Bytes, HttpError> {
    match tokio::time::timeout(BODY_TIMEOUT, payload.to_bytes_limited(limit)).await {
        Err(_) => Err(HttpError::Timeout),
        Ok(Err(_)) => Err(HttpError::PayloadTooLarge(limit)),
        Ok(Ok(Err(err))) => Err(HttpError::BadRequest(format!(
            "could not read the request body: {err}"
        ))),
        Ok(Ok(Ok(bytes))) => Ok(bytes),
    }
}
