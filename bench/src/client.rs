//! The load generator's side of the wire: one keep-alive HTTP/1.1 connection per simulated
//! client (hyper's connection-level API, no pool), the Construct requests, and a small
//! Server-Sent Events parser that borrows from the received bytes.

use std::borrow::Cow;
use std::net::SocketAddr;

use anyhow::{Context as _, bail};
use bytes::{Bytes, BytesMut};
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// The Construct session header.
pub const SESSION_HEADER: &str = "x-construct-session";

/// The API key the benchmarks configure (`security.api_keys`): creating a session needs one,
/// as it does for every client of an owner-only daemon.
pub const API_KEY: &str = "construct-bench-key-0123456789";

/// The standard MCP session header.
pub const MCP_SESSION_HEADER: &str = "mcp-session-id";

/// The protocol revision the standard client negotiates: the last with sessions, which the AI
/// CLIs and the SDK clients speak.
pub const PROTOCOL_VERSION: &str = "2025-11-25";

/// One keep-alive connection.
pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
    host: HeaderValue,
    addr: SocketAddr,
}

/// A session's credentials as ready-made header values.
#[derive(Clone)]
pub struct Creds {
    /// The session id, for `X-Construct-Session` and paths.
    pub id: String,
    /// The id as a header value.
    pub id_header: HeaderValue,
    /// `Bearer <token>`.
    pub bearer: HeaderValue,
}

impl Creds {
    /// From the JSON answer of `POST /session`.
    pub fn from_answer(body: &[u8]) -> anyhow::Result<Self> {
        let value: serde_json::Value =
            serde_json::from_slice(body).context("session answer is not JSON")?;
        let id = value["session_id"]
            .as_str()
            .context("no session_id in the session answer")?;
        let token = value["token"]
            .as_str()
            .context("no token in the session answer")?;
        Ok(Self {
            id: id.to_owned(),
            id_header: HeaderValue::from_str(id)?,
            bearer: HeaderValue::from_str(&format!("Bearer {token}"))?,
        })
    }
}

impl Conn {
    /// Opens a connection with TCP_NODELAY (so that the client side never adds a Nagle delay).
    pub async fn connect(addr: SocketAddr) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("cannot connect to {addr}"))?;
        stream.set_nodelay(true)?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Self {
            sender,
            host: HeaderValue::from_str(&addr.to_string())?,
            addr,
        })
    }

    /// Reopens the connection if the server has closed it (actix-web closes keep-alive
    /// connections idle for 5 s, as a client's are while the other server is measured).
    pub async fn ensure_open(&mut self) -> anyhow::Result<()> {
        if self.sender.is_closed() {
            *self = Self::connect(self.addr).await?;
        }
        Ok(())
    }

    /// A request with the `Host` header the daemon's DNS-rebinding fence wants.
    pub fn request(&self, method: Method, path: &str) -> http::request::Builder {
        Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, self.host.clone())
    }

    /// Sends `request`, returning the response with its body still to read.
    pub async fn send(
        &mut self,
        request: Request<Full<Bytes>>,
    ) -> anyhow::Result<http::Response<Incoming>> {
        self.ensure_open().await?;
        self.sender.ready().await.context("connection closed")?;
        Ok(self.sender.send_request(request).await?)
    }

    /// Sends `request` and reads the whole body.
    pub async fn exchange(
        &mut self,
        request: Request<Full<Bytes>>,
    ) -> anyhow::Result<(StatusCode, Bytes)> {
        let response = self.send(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }

    /// `POST /session` with the benchmarks' API key.
    pub fn session_request(&self) -> anyhow::Result<Request<Full<Bytes>>> {
        Ok(self
            .request(Method::POST, "/session")
            .header(AUTHORIZATION, format!("Bearer {API_KEY}"))
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from_static(b"{}")))?)
    }

    /// `POST /session` → the new session's credentials.
    pub async fn create_session(&mut self) -> anyhow::Result<Creds> {
        let request = self.session_request()?;
        let (status, body) = self.exchange(request).await?;
        if status != StatusCode::OK {
            bail!(
                "POST /session answered {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        Creds::from_answer(&body)
    }

    /// `POST /mcp` in session `creds` with the JSON-RPC `body`.
    pub fn mcp(&self, creds: &Creds, body: Bytes) -> anyhow::Result<Request<Full<Bytes>>> {
        Ok(self
            .request(Method::POST, "/mcp")
            .header(AUTHORIZATION, creds.bearer.clone())
            .header(SESSION_HEADER, creds.id_header.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(body))?)
    }
}

/// A standard MCP client's requests (2025-11-25, with a session), the same whichever server
/// answers them: the daemon or an MCP server called directly. Each also carries the benchmarks'
/// API key, which the daemon asks of a new session and a server that wants none ignores.
impl Conn {
    /// A standard `POST /mcp`: `Accept` both JSON and SSE, `MCP-Protocol-Version`, and the
    /// session's `Mcp-Session-Id` once there is one.
    fn standard_post(
        &self,
        session: Option<&HeaderValue>,
        body: Bytes,
    ) -> anyhow::Result<Request<Full<Bytes>>> {
        let mut builder = self
            .request(Method::POST, "/mcp")
            .header(AUTHORIZATION, format!("Bearer {API_KEY}"))
            .header(ACCEPT, "application/json, text/event-stream")
            .header(CONTENT_TYPE, "application/json")
            .header("mcp-protocol-version", PROTOCOL_VERSION);
        if let Some(session) = session {
            builder = builder.header(MCP_SESSION_HEADER, session.clone());
        }
        Ok(builder.body(Full::new(body))?)
    }

    /// `initialize` then `notifications/initialized`, as an SDK client starts: the session's
    /// `Mcp-Session-Id` (as `Creds::id`; its `bearer` is the API key).
    pub async fn initialize(&mut self) -> anyhow::Result<Creds> {
        let initialize = format!(
            r#"{{"jsonrpc":"2.0","id":0,"method":"initialize","params":{{"protocolVersion":"{PROTOCOL_VERSION}","capabilities":{{}},"clientInfo":{{"name":"construct-bench","version":"0"}}}}}}"#
        );
        let request = self.standard_post(None, Bytes::from(initialize))?;
        let response = self.send(request).await?;
        let status = response.status();
        let session = response.headers().get(MCP_SESSION_HEADER).cloned();
        let body = response.into_body().collect().await?.to_bytes();
        let Some(session) = session.filter(|_| status == StatusCode::OK) else {
            bail!(
                "initialize answered {status} without a session: {}",
                String::from_utf8_lossy(&body)
            );
        };
        let initialized = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
        let request =
            self.standard_post(Some(&session), Bytes::from_static(initialized.as_bytes()))?;
        let (status, body) = self.exchange(request).await?;
        if !status.is_success() {
            bail!(
                "notifications/initialized answered {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        Ok(Creds {
            id: session.to_str()?.to_owned(),
            id_header: session,
            bearer: HeaderValue::from_str(&format!("Bearer {API_KEY}"))?,
        })
    }

    /// A standard `POST /mcp` in the session `creds` (from [`Conn::initialize`]).
    pub fn standard_mcp(&self, creds: &Creds, body: Bytes) -> anyhow::Result<Request<Full<Bytes>>> {
        self.standard_post(Some(&creds.id_header), body)
    }
}

/// Whether `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    find(haystack, needle).is_some()
}

/// Where `needle` first occurs in `haystack`.
pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    let first = needle[0];
    let last_start = haystack.len() - needle.len();
    let mut at = 0;
    while at <= last_start {
        let offset = haystack[at..=last_start].iter().position(|&b| b == first)?;
        at += offset;
        if &haystack[at..at + needle.len()] == needle {
            return Some(at);
        }
        at += 1;
    }
    None
}

/// One Server-Sent Event, borrowing from the parser's buffer where it can.
#[derive(Debug, PartialEq, Eq)]
pub struct SseEvent<'a> {
    /// The `id:` field.
    pub id: Option<&'a [u8]>,
    /// The `event:` field (absent for plain messages).
    pub event: Option<&'a [u8]>,
    /// The `data:` lines, joined with newlines.
    pub data: Cow<'a, [u8]>,
}

/// Splits a byte stream into Server-Sent Events.
#[derive(Default)]
pub struct SseParser {
    buf: BytesMut,
    /// Bytes of `buf` already known to hold no event boundary.
    scanned: usize,
}

impl SseParser {
    /// Feeds received bytes and calls `on_event` for each complete event (comments and blocks
    /// without data or event name, such as keep-alives, are skipped).
    pub fn feed(&mut self, chunk: &[u8], mut on_event: impl FnMut(SseEvent<'_>)) {
        self.buf.extend_from_slice(chunk);
        let mut start = 0;
        loop {
            let from = self.scanned.max(start);
            let Some(offset) = find(&self.buf[from..], b"\n\n") else {
                self.scanned = self.buf.len().saturating_sub(1);
                break;
            };
            let end = from + offset;
            if let Some(event) = parse_block(&self.buf[start..end]) {
                on_event(event);
            }
            start = end + 2;
            self.scanned = start;
        }
        let _ = self.buf.split_to(start);
        self.scanned = self.scanned.saturating_sub(start);
    }
}

fn parse_block(block: &[u8]) -> Option<SseEvent<'_>> {
    let mut id = None;
    let mut event = None;
    let mut data: Option<Cow<'_, [u8]>> = None;
    for line in block.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() || line[0] == b':' {
            continue;
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"id" => id = Some(value),
            b"event" => event = Some(value),
            b"data" => {
                data = Some(match data {
                    None => Cow::Borrowed(value),
                    Some(previous) => {
                        let mut joined = previous.into_owned();
                        joined.push(b'\n');
                        joined.extend_from_slice(value);
                        Cow::Owned(joined)
                    }
                });
            }
            _ => {}
        }
    }
    if data.is_none() && event.is_none() {
        return None;
    }
    Some(SseEvent {
        id,
        event,
        data: data.unwrap_or(Cow::Borrowed(b"")),
    })
}

/// The unsigned integer that follows `key` (e.g. `"progress":`) in `json`.
pub fn number_after(json: &[u8], key: &[u8]) -> Option<u64> {
    let at = find(json, key)? + key.len();
    let digits = json[at..]
        .iter()
        .skip_while(|b| b.is_ascii_whitespace())
        .take_while(|b| b.is_ascii_digit());
    let mut value: u64 = 0;
    let mut any = false;
    for &digit in digits {
        value = value
            .checked_mul(10)?
            .checked_add(u64::from(digit - b'0'))?;
        any = true;
    }
    any.then_some(value)
}

/// The string value that follows `key` (e.g. `"timestamp":"`) in `json`, up to the next quote.
pub fn string_after<'a>(json: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let at = find(json, key)? + key.len();
    let len = json[at..].iter().position(|&b| b == b'"')?;
    Some(&json[at..at + len])
}

/// The trailing decimal number of an SSE id (`17`, or `stream-17`).
pub fn id_number(id: &[u8]) -> Option<u64> {
    let start = id
        .iter()
        .rposition(|b| !b.is_ascii_digit())
        .map_or(0, |p| p + 1);
    std::str::from_utf8(&id[start..]).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An event as owned `(id, event, data)`.
    type Owned = (Option<Vec<u8>>, Option<Vec<u8>>, Vec<u8>);

    fn collect(parser: &mut SseParser, chunk: &[u8]) -> Vec<Owned> {
        let mut out = Vec::new();
        parser.feed(chunk, |event| {
            out.push((
                event.id.map(<[u8]>::to_vec),
                event.event.map(<[u8]>::to_vec),
                event.data.into_owned(),
            ));
        });
        out
    }

    #[test]
    fn events_split_across_chunks_are_reassembled() {
        let mut parser = SseParser::default();
        assert!(collect(&mut parser, b"id: 1\ndata: {\"a\"").is_empty());
        let events = collect(
            &mut parser,
            b":1}\n\n: keep-alive\n\nevent: lagged\ndata: {\"missed\":3}\n\nid: 2\n",
        );
        assert_eq!(events.len(), 2);
        assert_eq!(
            events[0],
            (Some(b"1".to_vec()), None, b"{\"a\":1}".to_vec())
        );
        assert_eq!(events[1].1.as_deref(), Some(&b"lagged"[..]));
        let events = collect(&mut parser, b"data: x\ndata: y\n\n");
        assert_eq!(events, vec![(Some(b"2".to_vec()), None, b"x\ny".to_vec())]);
    }

    #[test]
    fn a_boundary_split_between_chunks_is_found() {
        let mut parser = SseParser::default();
        assert!(collect(&mut parser, b"data: a\n").is_empty());
        assert_eq!(collect(&mut parser, b"\n").len(), 1);
    }

    #[test]
    fn fields_are_found_in_json() {
        let json =
            br#"{"token":5,"progress":12,"total":40,"timestamp":"2026-01-02T03:04:05.123Z"}"#;
        assert_eq!(number_after(json, b"\"progress\":"), Some(12));
        assert_eq!(number_after(json, b"\"missing\":"), None);
        assert_eq!(
            string_after(json, b"\"timestamp\":\""),
            Some(&b"2026-01-02T03:04:05.123Z"[..])
        );
        assert_eq!(id_number(b"42"), Some(42));
        assert_eq!(id_number(b"ab-7"), Some(7));
        assert!(contains(b"hello world", b"o w"));
        assert!(!contains(b"hello", b"hello!"));
    }
}
