//! One log line per request, and its duration in the metrics: the outermost middleware.
//!
//! Each request gets an id: the client's own `X-Request-Id` when it is a sane short token (1 to
//! 40 characters of letters, digits, `-`, `_`, `.`; a 64-digit session token never fits), a
//! fresh one otherwise. The response echoes it in `X-Request-Id`, and every log line written
//! while the request is handled carries it (a `request` span). When the response head is ready
//! (for a stream, when the stream starts: no line is held open for its life) one line is written
//! at `info`: request id, session id when known, method, route, status and latency in
//! milliseconds, as text or JSON per `[log] format`. A request to `/mcp` whose JSON-RPC body was
//! decoded adds what it was (see [`MessageFacts`]): `rpc_method`, `tool` for a `tools/call`, and
//! `client` and `client_version` (its `clientInfo`) for an `initialize`, so that which client
//! sent what can be read from the log alone.
//!
//! Nothing secret is written. The route is the matched pattern (`/session/{id}/events`), never
//! the raw path or its query, which could carry a ticket. The session id comes from
//! `X-Construct-Session`, from `Mcp-Session-Id` (its uuid part only: the handed-out value is
//! `<uuid>.<token>`, and everything from the dot on is dropped unread), from the `{id}` of the
//! route, or from the `Mcp-Session-Id` an `initialize` hands out; only a value that parses as a
//! uuid is logged, so a token sent in the wrong place is not.

use std::borrow::Cow;
use std::fmt;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpMessage as _, HttpResponse, ResponseError};
use tracing::Instrument as _;
use uuid::Uuid;

use super::identity::MCP_SESSION_ID_NAME;
use super::routes::PLAIN_PATHS;
use crate::headers::SESSION_HEADER_NAME;
use crate::mcp::client_info::{MessageFacts, REQUEST_LOG};
use crate::metrics_recorder;

/// The header carrying the request id, both ways.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest client-chosen request id kept.
const MAX_ID_CHARS: usize = 40;

/// The route of a request that matched none.
const UNMATCHED: &str = "unmatched";

/// The middleware: times the request, logs its line, records its duration, tags its response.
pub async fn log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let id = request_id(req.headers());
    let method = req.method().clone();
    let route = route_of(&req);
    // Only the line reads it: not looked for when the request log is off.
    let logged = MessageFacts::wanted();
    let session = logged.then(|| session_of(&req, route.as_deref())).flatten();
    let span = tracing::info_span!("request", request_id = %id);
    let answered = next.call(req).instrument(span).await;
    let took = started.elapsed();
    let line = Line {
        id: &id,
        method: &method,
        route,
        took,
    };
    let header = HeaderValue::from_str(&id).expect("a request id is visible ASCII");
    match answered {
        Ok(mut res) => {
            let session =
                session.or_else(|| logged.then(|| issued_session(res.headers())).flatten());
            let facts = res.request().extensions_mut().remove::<MessageFacts>();
            line.write(session, res.status(), facts.as_ref());
            res.headers_mut().insert(REQUEST_ID, header);
            Ok(res)
        }
        // Refused by a middleware further in (the Origin/Host fence): the error becomes the
        // response later, so it carries the id with it.
        Err(err) => {
            line.write(session, err.as_response_error().status_code(), None);
            Err(Tagged {
                inner: err,
                request_id: header,
            }
            .into())
        }
    }
}

/// What is known of a request once it is answered, but its status and session.
struct Line<'a> {
    id: &'a str,
    method: &'a Method,
    route: Option<Cow<'static, str>>,
    took: Duration,
}

impl Line<'_> {
    /// Writes the request's log line and records its duration.
    fn write(self, session: Option<Uuid>, status: StatusCode, facts: Option<&MessageFacts>) {
        let route = self.route.unwrap_or(Cow::Borrowed(UNMATCHED));
        #[allow(clippy::cast_precision_loss)] // microseconds: exact far beyond any latency
        let latency_ms = self.took.as_micros() as f64 / 1000.0;
        let client = facts.and_then(|facts| facts.client.as_ref());
        tracing::info!(
            target: REQUEST_LOG,
            request_id = %self.id,
            session = session.map(tracing::field::display),
            method = %self.method,
            route = %route,
            status = status.as_u16(),
            latency_ms,
            rpc_method = facts.and_then(|facts| facts.method.as_deref()),
            tool = facts.and_then(|facts| facts.tool.as_deref()),
            client = client.map(|client| client.name.as_str()),
            client_version = client.and_then(|client| client.version.as_deref()),
            "request"
        );
        metrics_recorder::http_request(
            &route,
            method_label(self.method),
            status.as_u16(),
            self.took,
        );
    }
}

/// The pattern of the route `req` matches, if any: a plain path is its own (see
/// [`PLAIN_PATHS`]); any other path is matched against the routing table again.
fn route_of(req: &ServiceRequest) -> Option<Cow<'static, str>> {
    let path = req.path();
    match PLAIN_PATHS.iter().find(|plain| **plain == path) {
        Some(plain) => Some(Cow::Borrowed(plain)),
        None => req.match_pattern().map(Cow::Owned),
    }
}

/// The request's id: the client's, when sane, or a fresh one.
fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(&REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .filter(|text| sane_id(text))
        .map_or_else(|| Uuid::new_v4().simple().to_string(), str::to_owned)
}

/// Whether a client's request id is short and plain enough to log and echo.
fn sane_id(text: &str) -> bool {
    (1..=MAX_ID_CHARS).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The session a request names, by header or by its route's `{id}`; never anything but a uuid.
fn session_of(req: &ServiceRequest, route: Option<&str>) -> Option<Uuid> {
    let header = |name| {
        req.headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
    };
    header(SESSION_HEADER_NAME)
        .and_then(|text| Uuid::try_parse(text.trim()).ok())
        .or_else(|| header(MCP_SESSION_ID_NAME).and_then(uuid_part))
        .or_else(|| path_session(route?, req.path()))
}

/// The session an `initialize` response hands out, if it is one.
fn issued_session(headers: &HeaderMap) -> Option<Uuid> {
    headers
        .get(MCP_SESSION_ID_NAME)
        .and_then(|value| value.to_str().ok())
        .and_then(uuid_part)
}

/// The uuid of an `Mcp-Session-Id` value: what comes before the dot (the token is after it).
fn uuid_part(value: &str) -> Option<Uuid> {
    let id = value.trim().split('.').next()?;
    Uuid::try_parse(id).ok()
}

/// The `{id}` segment of `path` under `route`, when it is a uuid.
fn path_session(route: &str, path: &str) -> Option<Uuid> {
    let at = route.split('/').position(|segment| segment == "{id}")?;
    Uuid::try_parse(path.split('/').nth(at)?).ok()
}

/// The method as a label: the standard ones by name, any other as `other`, so that clients
/// cannot mint label values.
fn method_label(method: &Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        "PATCH" => "PATCH",
        "CONNECT" => "CONNECT",
        "TRACE" => "TRACE",
        _ => "other",
    }
}

/// An error from further in, which will become the response, with the request id to add to it.
struct Tagged {
    inner: actix_web::Error,
    request_id: HeaderValue,
}

impl fmt::Debug for Tagged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

impl fmt::Display for Tagged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)
    }
}

impl ResponseError for Tagged {
    fn status_code(&self) -> StatusCode {
        self.inner.as_response_error().status_code()
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = self.inner.error_response();
        response
            .headers_mut()
            .insert(REQUEST_ID, self.request_id.clone());
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_plain_request_ids_are_kept() {
        assert!(sane_id("abc-123_x.y"));
        assert!(sane_id(&"a".repeat(MAX_ID_CHARS)));
        assert!(!sane_id(""));
        assert!(
            !sane_id(&"a".repeat(64)),
            "a session token is not a request id"
        );
        assert!(!sane_id("has space"));
        assert!(!sane_id("quote\""));
    }

    #[test]
    fn the_token_half_of_an_mcp_session_id_is_never_taken() {
        let id = Uuid::new_v4();
        let token = "ab".repeat(32);
        assert_eq!(uuid_part(&format!("{id}.{token}")), Some(id));
        assert_eq!(uuid_part(&format!("{id}")), Some(id));
        assert_eq!(uuid_part(&token), None);
    }

    #[test]
    fn the_session_of_a_path_is_its_routes_id_segment() {
        let id = Uuid::new_v4();
        let path = format!("/session/{id}/events");
        assert_eq!(path_session("/session/{id}/events", &path), Some(id));
        assert_eq!(
            path_session("/session/{id}", &format!("/session/{id}")),
            Some(id)
        );
        assert_eq!(path_session("/session/{id}", "/session/not-a-uuid"), None);
        assert_eq!(path_session("/health", "/health"), None);
    }

    #[actix_web::test]
    async fn a_plain_path_is_named_as_matching_the_routing_table_again_would() {
        use actix_web::{App, test};
        let checked = actix_web::middleware::from_fn(
            |req: ServiceRequest, next: Next<actix_web::body::BoxBody>| async move {
                assert_eq!(route_of(&req).as_deref(), req.match_pattern().as_deref());
                next.call(req).await
            },
        );
        let app =
            test::init_service(App::new().configure(super::super::routes).wrap(checked)).await;
        for path in PLAIN_PATHS.iter().chain(&["/session/x/events", "/nowhere"]) {
            let _ = test::call_service(&app, test::TestRequest::get().uri(path).to_request()).await;
        }
    }

    #[test]
    fn the_lines_are_written_under_this_modules_name() {
        assert_eq!(Some(REQUEST_LOG), module_path!().strip_suffix("::tests"));
    }

    #[test]
    fn unusual_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "other");
    }
}
