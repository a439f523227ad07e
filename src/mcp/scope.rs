//! What one message in a session can reach: the tools (built-in and upstream), the session's actor and workspace, and the
//! limits its calls run under. The HTTP layer builds it per request; the eras answer methods with
//! it, and a `tools/call` is admitted and run within it.

use std::sync::Arc;

use actix::Addr;
use construct_actors::SessionActor;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use serde_json::Value;

use uuid::Uuid;

use crate::mcp::answers::PendingAnswers;
use crate::tools::{ToolRegistry, Workspace};
use crate::upstream::{Catalog, SessionRef, Upstreams};

/// Where a message is answered and its calls run, and what bounds them.
pub struct Scope<'a> {
    /// The enabled built-in tools.
    pub tools: &'a ToolRegistry,
    /// The user's own MCP servers, and the tools they offer.
    pub upstreams: &'a Upstreams,
    /// The upstream tools on offer to this message when it came: the shared servers', and for
    /// a `tools/list` or `tools/call` the session's own (`scope = "session"`) too.
    pub upstream: Arc<Catalog>,
    /// The caller's session; its followers see the progress of its calls.
    pub session: &'a Addr<SessionActor>,
    /// Its id.
    pub session_id: Uuid,
    /// Cancelled when it ends: its resource subscriptions end with it.
    pub ended: CancellationToken,
    /// Where the daemon's requests to clients wait for their answers.
    pub answers: &'a Addr<PendingAnswers>,
    /// The session's cwd and the roots its calls may touch.
    pub workspace: Workspace,
    /// Bound of each call's own notice queue: how many notices may wait for a slow reader.
    pub call_queue: usize,
    /// The daemon-wide limit on running calls.
    pub call_slots: &'a Arc<Semaphore>,
    /// Cancelled when the daemon, shutting down, stops the calls still running after its grace
    /// period: each ends with an error response saying so.
    pub stopping: &'a CancellationToken,
}

impl Scope<'_> {
    /// The session, as its own servers know it.
    pub fn owner(&self) -> SessionRef {
        SessionRef {
            id: self.session_id,
            cwd: Arc::from(self.workspace.cwd()),
            ended: self.ended.clone(),
        }
    }

    /// The `tools` array of a `tools/list` result: the built-in tools, then the upstream ones,
    /// each sorted by name.
    pub fn tool_list(&self) -> Value {
        let mut tools = self.tools.describe();
        tools.extend(self.upstream.listings().cloned());
        Value::Array(tools)
    }
}
