//! The caller of a call, as the call's upstream server may ask it something: a request
//! (`sampling/createMessage`, `elicitation/create`) written on the call's own stream, and its
//! answer awaited from [`PendingAnswers`].
//!
//! Only a client that declared the matching capability at `initialize` is asked; any other is
//! never sent a request it cannot answer, and the server is told so. The request waits for its
//! answer as long as the call lives: the call's own timeout bounds it, and its end drops it.

use actix::WeakAddr;
use async_trait::async_trait;
use rmcp::model::{ErrorCode, ErrorData};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::mcp::answers::{Expect, PendingAnswers};
use crate::tools::Notice;
use crate::upstream::{AskResult, Caller};

/// What a caller declared it can answer, at `initialize`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallerCan {
    /// `sampling/createMessage`.
    pub sampling: bool,
    /// `elicitation/create`.
    pub elicitation: bool,
}

/// One call's caller.
pub struct CallerAsker {
    /// The session the call runs in (where the answer must come from).
    pub session: Uuid,
    /// What it can answer.
    pub can: CallerCan,
    /// The call's stream.
    pub notices: mpsc::Sender<Notice>,
    /// Where answers are awaited (held weakly: most calls never ask, and an actor's address
    /// costs two allocations to make).
    pub answers: WeakAddr<PendingAnswers>,
}

#[async_trait]
impl Caller for CallerAsker {
    async fn ask(&self, method: &'static str, params: Value) -> AskResult {
        let declared = match method {
            "sampling/createMessage" => self.can.sampling,
            "elicitation/create" => self.can.elicitation,
            _ => false,
        };
        if !declared {
            let reason = format!("the calling client did not declare that it can answer {method}");
            return Err(ErrorData::new(ErrorCode::METHOD_NOT_FOUND, reason, None));
        }
        let id = format!("construct-{}", Uuid::new_v4());
        let (reply, answer) = oneshot::channel();
        let expect = Expect {
            session: self.session,
            id: serde_json::to_string(&id).expect("a string is valid JSON"),
            reply,
        };
        let Some(answers) = self.answers.upgrade() else {
            return Err(busy(method));
        };
        let registered = answers
            .send(expect)
            .timeout(construct_actors::ASK_TIMEOUT)
            .await;
        if !matches!(registered, Ok(Ok(()))) {
            return Err(busy(method));
        }
        let request = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let sent = self
            .notices
            .send_timeout(
                Notice::Message(request.to_string().into()),
                construct_actors::ASK_TIMEOUT,
            )
            .await;
        if sent.is_err() {
            return Err(busy(method));
        }
        match answer.await {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(error)) => Err(refused(&error)),
            Err(_) => Err(ErrorData::internal_error(
                format!("{method}: the calling client went away"),
                None,
            )),
        }
    }
}

fn busy(method: &str) -> ErrorData {
    ErrorData::internal_error(
        format!("{method}: the daemon could not send it to the calling client"),
        None,
    )
}

/// The client's error object, as the server gets it.
fn refused(error: &Value) -> ErrorData {
    let code = error
        .get("code")
        .and_then(Value::as_i64)
        .and_then(|code| i32::try_from(code).ok())
        .unwrap_or(ErrorCode::INTERNAL_ERROR.0);
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("the calling client refused")
        .to_owned();
    ErrorData::new(ErrorCode(code), message, error.get("data").cloned())
}
