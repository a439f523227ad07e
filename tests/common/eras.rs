//! Speaking to the daemon as a standard client of each era: a 2025-11-25 session's standalone
//! stream (`GET /mcp`), and 2026-07-28 stateless requests, `subscriptions/listen` streams among
//! them; and reading the streams on which the daemon tells what changed.

use std::time::{Duration, Instant};

use futures::StreamExt as _;
use serde_json::{Value, json};

use super::{ACCEPT, Daemon, Events, WAIT, client, next_event, sse, stream_client};

/// The stateless revision.
pub const MODERN: &str = "2026-07-28";

/// The `_meta` every 2026-07-28 request carries.
pub fn modern_meta() -> Value {
    json!({"io.modelcontextprotocol/protocolVersion": MODERN,
           "io.modelcontextprotocol/clientInfo": {"name": "eras-test", "version": "1"},
           "io.modelcontextprotocol/clientCapabilities": {}})
}

impl Daemon {
    /// A stateless 2026-07-28 request with the owner key: its status and JSON answer; `name` is
    /// its `Mcp-Name` header.
    pub async fn modern(
        &self,
        method: &str,
        mut params: Value,
        name: Option<&str>,
    ) -> (u16, Value) {
        params["_meta"] = modern_meta();
        let mut request = client()
            .post(self.url("/mcp"))
            .header("Accept", ACCEPT)
            .header("MCP-Protocol-Version", MODERN)
            .header("Mcp-Method", method)
            .json(&json!({"jsonrpc": "2.0", "id": 9, "method": method, "params": params}));
        if let Some(name) = name {
            request = request.header("Mcp-Name", name);
        }
        let response = self.keyed(request).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// The JSON answer to the request `method` with `params` in the 2025-11-25 session `id`.
    pub async fn standard_rpc(&self, id: &str, method: &str, params: Value) -> Value {
        let message = json!({"jsonrpc": "2.0", "id": 3, "method": method, "params": params});
        let response = self.standard_post(id, message).await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// The standalone stream (`GET /mcp`) of the 2025-11-25 session `id`.
    pub async fn standalone_stream(&self, id: &str) -> Events {
        let response = stream_client()
            .get(self.url("/mcp"))
            .header("Accept", "text/event-stream")
            .header("Mcp-Session-Id", id)
            .header("MCP-Protocol-Version", "2025-11-25")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        sse(response)
    }

    /// A `subscriptions/listen` with the owner key, request id `id`, asking for
    /// `notifications`; whatever the answer.
    pub async fn listen_raw(&self, id: &str, notifications: Value) -> reqwest::Response {
        let request = json!({"jsonrpc": "2.0", "id": id, "method": "subscriptions/listen",
                             "params": {"notifications": notifications, "_meta": modern_meta()}});
        self.keyed(stream_client().post(self.url("/mcp")))
            .header("Accept", ACCEPT)
            .header("MCP-Protocol-Version", MODERN)
            .header("Mcp-Method", "subscriptions/listen")
            .json(&request)
            .send()
            .await
            .unwrap()
    }

    /// A listen stream like [`Daemon::listen_raw`]'s, opened: the stream, past its
    /// acknowledgement, and what the acknowledgement honoured.
    pub async fn listen(&self, id: &str, notifications: Value) -> (Events, Value) {
        let response = self.listen_raw(id, notifications).await;
        assert_eq!(response.status(), 200);
        let mut stream = sse(response);
        let ack = next_message(&mut stream).await;
        assert_eq!(ack["method"], "notifications/subscriptions/acknowledged");
        assert_eq!(
            ack["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
            id
        );
        (stream, ack["params"]["notifications"].clone())
    }
}

/// The next message of `stream` (failing the test after [`WAIT`]).
pub async fn next_message(stream: &mut Events) -> Value {
    let event = next_event(stream).await.expect("the stream is still open");
    serde_json::from_str(&event.data).unwrap()
}

/// The messages `stream` carries within `wait` (it stays open).
pub async fn messages_within(stream: &mut Events, wait: Duration) -> Vec<Value> {
    let deadline = Instant::now() + wait;
    let mut messages = Vec::new();
    while let Ok(Some(event)) = tokio::time::timeout_at(deadline.into(), stream.next()).await {
        let event = event.expect("a well-formed SSE event");
        messages.push(serde_json::from_str(&event.data).unwrap());
    }
    messages
}

/// Reads `stream` until a message of `method` comes (within [`WAIT`] each); that message.
pub async fn until(stream: &mut Events, method: &str) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let message = next_message(stream).await;
        if message["method"] == method {
            return message;
        }
        assert!(Instant::now() < deadline, "no {method} within {WAIT:?}");
    }
}
