//! Optional API keys: when configured, what creates a session (either way) and every stateless
//! request must present one as `Authorization: Bearer <key>`.
//!
//! Keys are compared in constant time, like session tokens. With no keys configured (the default,
//! allowed only on loopback) this check lets everything through.

use actix_web::HttpRequest;
use subtle::ConstantTimeEq as _;

use super::auth;
use super::error::HttpError;
use crate::config::SecurityConfig;

/// Whether `req` may proceed under `security`'s API keys.
pub fn require(req: &HttpRequest, security: &SecurityConfig) -> Result<(), HttpError> {
    if security.api_keys.is_empty() {
        return Ok(());
    }
    let presented = auth::bearer(req)?;
    let matches = security.api_keys.iter().fold(false, |any, key| {
        any | bool::from(key.as_bytes().ct_eq(presented.as_bytes()))
    });
    if matches {
        Ok(())
    } else {
        Err(HttpError::Unauthorized("the API key is not valid"))
    }
}
