//! The MCP transport over a server process's stdin and stdout, strict where rmcp's own is
//! lenient: a line over `max_message_bytes`, or one that is not JSON, ends the connection with
//! the reason (rmcp's drops such lines and carries on, leaving the call that waited for the lost
//! answer to time out). The server then fails alone, and is restarted.
//!
//! Requests are written by rmcp's own `AsyncRwTransport` (its framing and its lock); only reading
//! is done here, answers to tool calls read straight as tool results (`tool_answers`). Why the
//! connection ended goes to the connection's owner once, on a one-shot channel: its stdout was
//! bad, or the process exited (with its status).

use std::time::Duration;

use rmcp::RoleClient;
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use rmcp::transport::async_rw::AsyncRwTransport;
use tokio::io::BufReader;
use tokio::process::{Child, ChildStdin, ChildStdout};
use tokio::sync::oneshot;

use super::lines::{BoundedLines, Line};
use super::process::ServerProcess;
use super::tool_answers::{NotAnswer, ToolAnswers};
use crate::process_group::ProcessGroup;

/// How long a server whose stdout closed is given to exit, so that its status can be told.
const EXIT_WAIT: Duration = Duration::from_secs(1);

/// Most characters of a bad line quoted in the reason.
const QUOTED_CHARS: usize = 120;

/// A stdio server's connection, as rmcp's client sees it.
pub struct StdioTransport {
    lines: BoundedLines<BufReader<ChildStdout>>,
    max_message_bytes: usize,
    writer: AsyncRwTransport<RoleClient, tokio::io::Empty, ChildStdin>,
    child: Child,
    group: ProcessGroup,
    ended: Option<oneshot::Sender<String>>,
    answers: ToolAnswers,
}

impl StdioTransport {
    /// The transport over `process`, and where the reason it ended will arrive.
    pub fn new(
        process: ServerProcess,
        max_message_bytes: usize,
    ) -> (Self, oneshot::Receiver<String>) {
        let (ended, reason) = oneshot::channel();
        let transport = Self {
            lines: BoundedLines::new(BufReader::new(process.stdout), max_message_bytes),
            max_message_bytes,
            writer: AsyncRwTransport::new(tokio::io::empty(), process.stdin),
            child: process.child,
            group: process.group,
            ended: Some(ended),
            answers: ToolAnswers::default(),
        };
        (transport, reason)
    }

    /// Records why the connection ends (the first reason only).
    fn end(&mut self, reason: String) {
        if let Some(ended) = self.ended.take() {
            let _ = ended.send(reason);
        }
    }

    /// Why the stream ended: the process's exit status, when it exits soon.
    async fn exit_reason(&mut self) -> String {
        match tokio::time::timeout(EXIT_WAIT, self.child.wait()).await {
            Ok(Ok(status)) => format!("exited ({status})"),
            Ok(Err(err)) => format!("closed its stdout ({err})"),
            Err(_) => "closed its stdout".to_owned(),
        }
    }

    /// What `line` says, or why it cannot be read; `Ok(None)` for a line to skip (an empty one,
    /// or a notification rmcp does not know, which the other SDKs ignore too).
    fn parse(&mut self, line: &Line) -> Result<Option<RxJsonRpcMessage<RoleClient>>, String> {
        if line.cut {
            return Err(format!(
                "sent a message over max_message_bytes ({} bytes)",
                self.max_message_bytes
            ));
        }
        if line.bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        let quoted = || {
            let text = String::from_utf8_lossy(&line.bytes);
            text.chars().take(QUOTED_CHARS).collect::<String>()
        };
        let read = |bytes: &[u8]| -> Result<serde_json::Value, String> {
            serde_json::from_slice(bytes)
                .map_err(|_| format!("printed a line that is not JSON on stdout: {:?}", quoted()))
        };
        let value = match self.answers.read(read(&line.bytes)?) {
            Ok(message) => return Ok(Some(message)),
            Err(NotAnswer::Other(value)) => value,
            Err(NotAnswer::Spent) => read(&line.bytes)?,
        };
        let is_notification = value.get("id").is_none() && value.get("method").is_some();
        match serde_json::from_value(value) {
            Ok(message) => Ok(Some(message)),
            Err(_) if is_notification => Ok(None),
            Err(err) => Err(format!(
                "sent something that is not a JSON-RPC message ({err}): {:?}",
                quoted()
            )),
        }
    }
}

impl Transport<RoleClient> for StdioTransport {
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        self.answers.sent(&item);
        self.writer.send(item)
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleClient>> {
        loop {
            let reason = match self.lines.next_line().await {
                Ok(Some(line)) => match self.parse(&line) {
                    Ok(Some(message)) => return Some(message),
                    Ok(None) => continue,
                    Err(reason) => reason,
                },
                Ok(None) => self.exit_reason().await,
                Err(err) => format!("cannot read its stdout: {err}"),
            };
            self.end(reason);
            return None;
        }
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.end("was stopped".to_owned());
        let _ = self.writer.close().await;
        self.group.kill();
        let _ = tokio::time::timeout(EXIT_WAIT, self.child.wait()).await;
        Ok(())
    }
}
