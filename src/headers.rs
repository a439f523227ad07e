//! Header names of the Construct protocol that both sides of this crate use: the daemon reads
//! them, and the client commands write them into the CLIs' configurations.

use actix_web::http::header::HeaderName;

/// The header naming the session a request acts in, next to `Authorization: Bearer <token>`.
pub const SESSION_HEADER: &str = "X-Construct-Session";

/// [`SESSION_HEADER`] as the daemon looks it up: header names are case-insensitive, and a
/// lowercase name known at compile time is found without building one per request.
pub const SESSION_HEADER_NAME: HeaderName = HeaderName::from_static("x-construct-session");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lookup_name_is_the_header() {
        assert!(SESSION_HEADER.eq_ignore_ascii_case(SESSION_HEADER_NAME.as_str()));
    }
}
