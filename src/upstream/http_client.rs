//! The HTTP client under a `url` server's connection: one per connection, keeping its TCP
//! connections alive between requests.
//!
//! rmcp's own default client (`StreamableHttpClientTransport::from_config`) keeps no idle
//! connection (`pool_max_idle_per_host(0)`), so every forwarded call opened and closed a TCP
//! connection to the server: measured on loopback, that was most of the daemon's CPU per call
//! (and most of the server's), and it left a socket in TIME_WAIT per call. This client keeps up
//! to as many idle connections as requests may be in flight at once, each for
//! [`IDLE_TIMEOUT`]; rmcp drains a response stream to its end before it lets it go, so its
//! connection goes back to the pool. Redirects follow rmcp's own rule (same origin, 307 and 308
//! only, at most [`MAX_REDIRECTS`]), so nothing but the reuse changes.

use std::time::Duration;

use rmcp_reqwest::redirect::{Attempt, Policy};
use rmcp_reqwest::{Client, StatusCode};

/// How long an idle connection to the server is kept for the next request.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Most redirects one request follows (rmcp's own bound).
const MAX_REDIRECTS: usize = 10;

/// A client for one server that keeps up to `in_flight` idle connections to it.
pub fn pooled(in_flight: usize) -> Result<Client, String> {
    Client::builder()
        .pool_max_idle_per_host(in_flight)
        .pool_idle_timeout(IDLE_TIMEOUT)
        .tcp_nodelay(true)
        .redirect(Policy::custom(same_origin))
        .build()
        .map_err(|err| format!("cannot build its HTTP client: {err}"))
}

/// Follows a redirect only when it keeps the method and body (307, 308) and the origin (a
/// session id and the configured headers must not reach another host).
fn same_origin(attempt: Attempt<'_>) -> rmcp_reqwest::redirect::Action {
    let keeps_body = matches!(
        attempt.status(),
        StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT
    );
    let same_origin = attempt
        .previous()
        .first()
        .is_some_and(|first| first.origin() == attempt.url().origin());
    if !keeps_body || !same_origin {
        attempt.stop()
    } else if attempt.previous().len() > MAX_REDIRECTS {
        attempt.error(format!("more than {MAX_REDIRECTS} redirects"))
    } else {
        attempt.follow()
    }
}
