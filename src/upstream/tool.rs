//! An upstream server's tool as a call runs it: forwarded through the server's connection, with
//! the upstream's progress reported like a built-in tool's (to the caller's stream and the
//! session's followers), its log messages passed on at the caller's level, and the caller's
//! cancellation passed on.

use std::sync::Arc;

use futures::StreamExt as _;
use futures::stream::FuturesUnordered;
use rmcp::model::CallToolResult;
use serde_json::Value;
use tokio::sync::mpsc;

use super::ask::{Caller, ServerAsk};
use super::call::{UpstreamNotice, UpstreamProgress};
use super::connection::Upstream;
use super::error::UpstreamError;
use super::in_order::NOTICE_QUEUE;
use crate::tools::{CallContext, Progress};

/// One upstream tool, found by the name clients call it.
pub struct UpstreamTool {
    upstream: Upstream,
    /// The server's own name for it.
    tool: Arc<str>,
    /// The name clients call it by.
    name: Arc<str>,
}

impl UpstreamTool {
    /// The tool `tool` of `upstream`, offered as `name`.
    pub fn new(upstream: Upstream, tool: Arc<str>, name: Arc<str>) -> Self {
        Self {
            upstream,
            tool,
            name,
        }
    }

    /// The name clients call it by.
    pub fn name(&self) -> &Arc<str> {
        &self.name
    }

    /// The server it belongs to.
    pub fn server(&self) -> &Arc<str> {
        self.upstream.name()
    }

    /// Calls it with `args` (an object; anything else is sent as no arguments, which the
    /// caller's checks already refused). Its progress goes out through `ctx` as it comes, all of
    /// it before the answer; cancelling `ctx.cancel`, or dropping this future, cancels the call
    /// upstream.
    /// The server's requests for the caller (sampling, elicitation) go to `caller`, each
    /// answered while the call goes on.
    pub async fn call(
        &self,
        args: Value,
        ctx: &CallContext,
        caller: &dyn Caller,
    ) -> Result<CallToolResult, UpstreamError> {
        let arguments = match args {
            Value::Object(arguments) => Some(arguments),
            _ => None,
        };
        let (notices, mut said) = mpsc::channel(NOTICE_QUEUE);
        let call = self
            .upstream
            .call(&self.tool, arguments, notices, ctx.cancel.clone());
        tokio::pin!(call);
        let mut asked = FuturesUnordered::new();
        loop {
            tokio::select! {
                biased;
                Some(notice) = said.recv() => {
                    if let Some(ask) = pass_on(notice, ctx).await {
                        asked.push(async move {
                            let answer = caller.ask(ask.method, ask.params).await;
                            let _ = ask.reply.send(answer);
                        });
                    }
                }
                Some(()) = asked.next(), if !asked.is_empty() => {}
                result = &mut call => {
                    // The connection hands over every notice before the answer.
                    while let Ok(notice) = said.try_recv() {
                        pass_on(notice, ctx).await;
                    }
                    return result;
                }
            }
        }
    }
}

/// Passes what the server said to the caller: progress to its stream and the session's
/// followers, a log message to its stream if the caller's level wants it; a request for the
/// caller is handed back, to be asked while the call goes on.
async fn pass_on(notice: UpstreamNotice, ctx: &CallContext) -> Option<ServerAsk> {
    match notice {
        UpstreamNotice::Progress(report) => ctx.progress.report(own(report)).await,
        UpstreamNotice::Log { level, data } => ctx.log.log(level, data),
        UpstreamNotice::Ask(ask) => return Some(ask),
    }
    None
}

/// An upstream's progress report as the daemon's own: MCP allows fractional progress, the
/// daemon's events carry whole numbers, so a fraction is cut (`2.5` → `2`).
fn own(report: UpstreamProgress) -> Progress {
    // `as` saturates: negative, NaN → 0; beyond u64 → u64::MAX.
    let whole = |value: f64| value as u64;
    Progress {
        progress: whole(report.progress),
        total: report.total.map(whole),
        message: report.message,
    }
}
