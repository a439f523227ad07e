//! The streams on which the daemon tells clients what changed, on its own: a 2025-11-25
//! session's standalone stream (`GET /mcp`) and a 2026-07-28 `subscriptions/listen` stream.

use std::time::{Duration, Instant};

use futures::StreamExt as _;
use serde_json::{Value, json};

use super::{ACCEPT, Daemon, Events, WAIT, next_event, sse, stream_client};

/// The `_meta` every 2026-07-28 request carries.
pub fn modern_meta() -> Value {
    json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
           "io.modelcontextprotocol/clientInfo": {"name": "notices-test", "version": "1"},
           "io.modelcontextprotocol/clientCapabilities": {}})
}

impl Daemon {
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
            .header("MCP-Protocol-Version", "2026-07-28")
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
        assert_eq!(ack["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"], id);
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
