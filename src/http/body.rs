//! Reading a request body within the configured size and a fixed time.

use std::time::Duration;

use actix_web::HttpRequest;
use actix_web::http::header::CONTENT_LENGTH;
use actix_web::web::{Bytes, Payload};

use super::error::HttpError;

/// Longest a client may take to send a body once its headers arrived.
const BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// The whole body of `req`, or `413` past `limit` bytes, or `408` past [`BODY_TIMEOUT`].
///
/// A body whose announced `Content-Length` is already over `limit` is refused before a byte of it
/// is read: waiting for it would only hold the connection until the timeout, to answer `408` for
/// what the headers said was too large. Bodies without a length (chunked) are counted as they come.
pub async fn read(req: &HttpRequest, payload: Payload, limit: usize) -> Result<Bytes, HttpError> {
    if announced(req).is_some_and(|length| length > u64::try_from(limit).unwrap_or(u64::MAX)) {
        return Err(HttpError::PayloadTooLarge(limit));
    }
    match tokio::time::timeout(BODY_TIMEOUT, payload.to_bytes_limited(limit)).await {
        Err(_) => Err(HttpError::Timeout),
        Ok(Err(_)) => Err(HttpError::PayloadTooLarge(limit)),
        Ok(Ok(Err(err))) => Err(HttpError::BadRequest(format!(
            "could not read the request body: {err}"
        ))),
        Ok(Ok(Ok(bytes))) => Ok(bytes),
    }
}

/// The body length `req` announces, if any. The HTTP layer has already refused malformed or
/// conflicting `Content-Length` headers, so an unreadable one here is simply not trusted.
fn announced(req: &HttpRequest) -> Option<u64> {
    req.headers()
        .get(CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}
