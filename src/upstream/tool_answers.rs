//! A stdio server's answers to `tools/call` read straight as tool results.
//!
//! rmcp reads any answer as a `ServerResult`, an untagged union of some twenty result types
//! tried in turn (a tool result is the sixteenth), each failed try building an error message,
//! after buffering the whole message twice to check its shape: measured, that was a third of
//! the daemon's own work per call on a server's connection. The transport knows better: it sent
//! the request, so it knows which ids are tool calls. An answer to one of those (`id` and
//! `result`, neither `method` nor `error`) is read as a tool result directly; anything else, or
//! an answer that is not a tool result (a task, an input request), goes the general way, which
//! reads it exactly as before.

use std::collections::HashSet;

use rmcp::RoleClient;
use rmcp::model::{
    CallToolResult, ClientNotification, ClientRequest, JsonRpcMessage, JsonRpcResponse,
    JsonRpcVersion2_0, RequestId, ServerResult,
};
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use serde::Deserialize as _;
use serde_json::Value;

/// Most tool calls remembered at once; beyond it, answers go the general way (still right).
const MAX_WAITING: usize = 4096;

/// The ids of the tool calls sent and not answered yet.
#[derive(Default)]
pub struct ToolAnswers {
    waiting: HashSet<RequestId>,
}

/// Why [`ToolAnswers::read`] did not read a message as the answer to a tool call.
#[derive(Debug)]
pub enum NotAnswer {
    /// It is not one: the message, untouched.
    Other(Value),
    /// It answers a tool call with something else than a tool result: the message is spent;
    /// read it again the general way.
    Spent,
}

impl ToolAnswers {
    /// Notes what is sent: a tool call's id is remembered, a cancelled call's forgotten.
    pub fn sent(&mut self, message: &TxJsonRpcMessage<RoleClient>) {
        match message {
            JsonRpcMessage::Request(request)
                if matches!(request.request, ClientRequest::CallToolRequest(_))
                    && self.waiting.len() < MAX_WAITING =>
            {
                self.waiting.insert(request.id.clone());
            }
            JsonRpcMessage::Notification(notification) => {
                if let ClientNotification::CancelledNotification(cancelled) =
                    &notification.notification
                    && let Some(id) = &cancelled.params.request_id
                {
                    self.waiting.remove(id);
                }
            }
            _ => {}
        }
    }

    /// `message` as the answer to a tool call, when it is one.
    pub fn read(&mut self, mut message: Value) -> Result<RxJsonRpcMessage<RoleClient>, NotAnswer> {
        let Some(id) = self.answered(&message) else {
            return Err(NotAnswer::Other(message));
        };
        let result = message
            .as_object_mut()
            .and_then(|fields| fields.remove("result"))
            .unwrap_or_default();
        let result = CallToolResult::deserialize(result).map_err(|_| NotAnswer::Spent)?;
        Ok(JsonRpcMessage::Response(JsonRpcResponse {
            jsonrpc: JsonRpcVersion2_0,
            id,
            result: ServerResult::CallToolResult(result),
        }))
    }

    /// The id of the tool call `message` answers (no longer waited for), if it is a JSON-RPC
    /// 2.0 result for one.
    fn answered(&mut self, message: &Value) -> Option<RequestId> {
        let fields = message.as_object()?;
        let shaped = fields.get("jsonrpc").and_then(Value::as_str) == Some("2.0")
            && fields.contains_key("result")
            && !fields.contains_key("method")
            && !fields.contains_key("error");
        if !shaped {
            return None;
        }
        let id = RequestId::deserialize(fields.get("id")?).ok()?;
        self.waiting.remove(&id).then_some(id)
    }
}

#[cfg(test)]
mod tests {
    use rmcp::model::{
        CallToolRequest, CallToolRequestParams, CancelledNotification, CancelledNotificationParam,
    };
    use serde_json::json;

    use super::*;

    fn call(id: i64) -> TxJsonRpcMessage<RoleClient> {
        let request = CallToolRequest::new(CallToolRequestParams::new("echo"));
        JsonRpcMessage::request(
            ClientRequest::CallToolRequest(request),
            RequestId::Number(id),
        )
    }

    fn answer(id: i64, result: Value) -> Value {
        json!({"jsonrpc": "2.0", "id": id, "result": result})
    }

    /// What rmcp itself reads `message` as.
    fn general(message: &Value) -> RxJsonRpcMessage<RoleClient> {
        serde_json::from_value(message.clone()).unwrap()
    }

    #[test]
    fn an_answer_to_a_tool_call_reads_as_rmcp_reads_it() {
        let mut answers = ToolAnswers::default();
        answers.sent(&call(3));
        let result = json!({
            "content": [{"type": "text", "text": "Echo: hi"}],
            "structuredContent": null,
            "isError": false,
            "_meta": {"k": 1}
        });
        let message = answer(3, result);
        let read = answers
            .read(message.clone())
            .expect("read as a tool answer");
        assert_eq!(
            serde_json::to_value(&read).unwrap(),
            serde_json::to_value(general(&message)).unwrap()
        );
        // Answered once: the same id again goes the general way.
        assert!(matches!(answers.read(message), Err(NotAnswer::Other(_))));
    }

    #[test]
    fn anything_else_goes_the_general_way_untouched() {
        let mut answers = ToolAnswers::default();
        answers.sent(&call(1));
        let others = [
            // Not a call it sent.
            answer(2, json!({"content": []})),
            // Not a result.
            json!({"jsonrpc": "2.0", "id": 1, "error": {"code": -1, "message": "no"}}),
            json!({"jsonrpc": "2.0", "method": "notifications/progress", "params": {}}),
            // Not JSON-RPC 2.0.
            json!({"id": 1, "result": {"content": []}}),
            // Both a result and an error: rmcp refuses it, and so must the general way.
            json!({"jsonrpc": "2.0", "id": 1, "result": {}, "error": {}}),
        ];
        for message in others {
            match answers.read(message.clone()) {
                Err(NotAnswer::Other(back)) => assert_eq!(back, message),
                _ => panic!("{message} was read as a tool answer"),
            }
        }
    }

    #[test]
    fn a_tool_call_answered_with_something_else_is_read_again() {
        let mut answers = ToolAnswers::default();
        answers.sent(&call(1));
        let task = answer(1, json!({"task": {"taskId": "t"}}));
        assert!(matches!(answers.read(task), Err(NotAnswer::Spent)));
    }

    #[test]
    fn a_cancelled_call_is_forgotten() {
        let mut answers = ToolAnswers::default();
        answers.sent(&call(5));
        let cancelled = ClientNotification::CancelledNotification(CancelledNotification::new(
            CancelledNotificationParam::new(Some(RequestId::Number(5)), None),
        ));
        answers.sent(&JsonRpcMessage::notification(cancelled));
        let late = answer(5, json!({"content": []}));
        assert!(matches!(answers.read(late), Err(NotAnswer::Other(_))));
    }
}
