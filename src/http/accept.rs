//! The `Accept` rules of Streamable HTTP: a POST must accept both JSON and an event stream, a GET
//! an event stream. Wildcards count; a request that does not accept what the daemon may send gets
//! `406` rather than an answer it cannot read.

use actix_web::HttpRequest;
use actix_web::http::header::ACCEPT;

use super::error::HttpError;

/// For a `POST /mcp`: `application/json` and `text/event-stream` must both be acceptable.
pub fn require_post(req: &HttpRequest) -> Result<(), HttpError> {
    let accepted = Accepted::of(req);
    if accepted.json && accepted.stream {
        Ok(())
    } else {
        Err(HttpError::NotAcceptable(
            "Accept must list both application/json and text/event-stream",
        ))
    }
}

/// For a `GET /mcp`: `text/event-stream` must be acceptable.
pub fn require_stream(req: &HttpRequest) -> Result<(), HttpError> {
    if Accepted::of(req).stream {
        Ok(())
    } else {
        Err(HttpError::NotAcceptable(
            "Accept must list text/event-stream",
        ))
    }
}

/// Which of the two types the daemon sends the `Accept` headers of a request cover, read in one
/// pass over their media ranges (every standard client's POST is checked for both).
#[derive(Default)]
struct Accepted {
    /// `application/json`.
    json: bool,
    /// `text/event-stream`.
    stream: bool,
}

impl Accepted {
    fn of(req: &HttpRequest) -> Self {
        let mut accepted = Self::default();
        // Byte by byte: these ranges are a few bytes each, where `str`'s pattern searchers cost
        // more than the comparisons (3% of a standard client's call by instruction count). Values
        // that are not visible ASCII are skipped, as `HeaderValue::to_str` would refuse them.
        let ranges = req
            .headers()
            .get_all(ACCEPT)
            .filter(|value| value.to_str().is_ok())
            .flat_map(|value| value.as_bytes().split(|&byte| byte == b','));
        for range in ranges {
            // Parameters (`;q=0.9`) do not change which type a range names.
            let range = range.split(|&byte| byte == b';').next().unwrap_or_default();
            let range = range.trim_ascii();
            accepted.json |= covers(range, b"application", b"json");
            accepted.stream |= covers(range, b"text", b"event-stream");
        }
        accepted
    }
}

/// Whether the media `range` (`type/subtype`, `type/*` or `*/*`) covers `kind/subtype`.
fn covers(range: &[u8], kind: &[u8], subtype: &[u8]) -> bool {
    let Some(slash) = range.iter().position(|&byte| byte == b'/') else {
        return false;
    };
    let (range_kind, range_subtype) = (&range[..slash], &range[slash + 1..]);
    match (range_kind, range_subtype) {
        (b"*", b"*") => true,
        (range_kind, b"*") => range_kind.eq_ignore_ascii_case(kind),
        (range_kind, range_subtype) => {
            range_kind.eq_ignore_ascii_case(kind) && range_subtype.eq_ignore_ascii_case(subtype)
        }
    }
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

    #[test]
    fn each_range_is_read_whole_case_aside() {
        assert!(require_post(&with("Application/JSON , TEXT/Event-Stream;q=1")).is_ok());
        // A range names one type: neither a prefix nor a wildcard subtype of another type.
        assert!(require_post(&with("application/json-seq, text/event-stream")).is_err());
        assert!(require_post(&with("application/json, application/*")).is_err());
        assert!(require_post(&with("application/json, */json")).is_err());
        assert!(require_stream(&with("text")).is_err());
        // Across several Accept headers.
        let two = TestRequest::default()
            .append_header((ACCEPT, "application/json"))
            .append_header((ACCEPT, "text/event-stream"))
            .to_http_request();
        assert!(require_post(&two).is_ok());
    }
}
