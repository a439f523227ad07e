//! The `Accept` rules of Streamable HTTP: a POST must accept both JSON and an event stream, a GET
//! an event stream. Wildcards count; a request that does not accept what the daemon may send gets
//! `406` rather than an answer it cannot read.

use actix_web::HttpRequest;
use actix_web::http::header::ACCEPT;

use super::error::HttpError;

/// For a `POST /mcp`: `application/json` and `text/event-stream` must both be acceptable.
pub fn require_post(req: &HttpRequest) -> Result<(), HttpError> {
    if accepts(req, "application/json") && accepts(req, "text/event-stream") {
        Ok(())
    } else {
        Err(HttpError::NotAcceptable(
            "Accept must list both application/json and text/event-stream",
        ))
    }
}

/// For a `GET /mcp`: `text/event-stream` must be acceptable.
pub fn require_stream(req: &HttpRequest) -> Result<(), HttpError> {
    if accepts(req, "text/event-stream") {
        Ok(())
    } else {
        Err(HttpError::NotAcceptable(
            "Accept must list text/event-stream",
        ))
    }
}

/// Whether any `Accept` header of `req` covers `wanted` (`type/subtype`).
fn accepts(req: &HttpRequest, wanted: &str) -> bool {
    let (kind, _) = wanted.split_once('/').unwrap_or((wanted, ""));
    req.headers()
        .get_all(ACCEPT)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|range| range.split(';').next().unwrap_or("").trim())
        .any(|range| {
            range.eq_ignore_ascii_case(wanted)
                || range == "*/*"
                || range
                    .strip_suffix("/*")
                    .is_some_and(|prefix| prefix.eq_ignore_ascii_case(kind))
        })
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn with(accept: &str) -> HttpRequest {
        TestRequest::default()
            .insert_header((ACCEPT, accept))
            .to_http_request()
    }

    #[test]
    fn both_types_wildcards_and_parameters_count() {
        assert!(require_post(&with("application/json, text/event-stream")).is_ok());
        assert!(require_post(&with("*/*")).is_ok());
        assert!(require_post(&with("application/*;q=0.9, text/*")).is_ok());
        assert!(require_post(&with("application/json")).is_err());
        assert!(require_post(&TestRequest::default().to_http_request()).is_err());
        assert!(require_stream(&with("text/event-stream")).is_ok());
        assert!(require_stream(&with("application/json")).is_err());
    }
}
