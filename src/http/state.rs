//! What every handler can reach: [`AppState`], built once at start and shared by every worker.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use actix::prelude::*;
use chrono::{DateTime, Utc};
use construct_actors::{SessionActor, SessionRegistry, TicketBook};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::admin_token::AdminToken;
use super::api_key::{ApiKeys, KeyId};
use crate::config::Config;
use crate::mcp::answers::PendingAnswers;
use crate::mcp::relay::RelayIndex;
use crate::roots::WorkspaceRoots;
use crate::tools::ToolRegistry;
use crate::upstream::Upstreams;

/// What every handler can reach.
pub struct AppState {
    /// The one session registry.
    pub registry: Addr<SessionRegistry>,
    /// The enabled tools.
    pub tools: ToolRegistry,
    /// The user's own MCP servers' connections.
    pub upstreams: Upstreams,
    /// The configuration the daemon runs with.
    pub config: Config,
    /// Where sessions may work, and how far their calls reach.
    pub workspace_roots: WorkspaceRoots,
    /// The API keys, the generated owner key among them.
    pub api_keys: ApiKeys,
    /// The daemon-wide limit on running tool calls.
    pub call_slots: Arc<Semaphore>,
    /// Cancelled at shutdown once the grace period is over: running calls end with an error.
    pub stopping: CancellationToken,
    /// Where resumable call streams are found.
    pub relays: Addr<RelayIndex>,
    /// The daemon's requests to clients (for their calls' servers), waiting for answers.
    pub answers: Addr<PendingAnswers>,
    /// The limit on open `subscriptions/listen` streams in clients' own sessions.
    pub listeners: Arc<Semaphore>,
    /// The sessions stateless requests without Construct credentials run in.
    pub stateless: StatelessSessions,
    /// When and as what process the daemon started.
    pub started: Started,
    /// The admin token (`GET /admin/sessions`, the dashboard).
    pub admin: AdminToken,
    /// The outstanding stream tickets of session holders.
    pub tickets: Addr<TicketBook>,
    /// The outstanding stream tickets of the administrator, kept apart so that session holders
    /// cannot take them all.
    pub admin_tickets: Addr<TicketBook>,
}

impl AppState {
    /// Whether `presented` opens the administrator's routes: the admin token, or the owner key
    /// (whoever holds that can create sessions and read the discovery file anyway).
    pub fn is_admin(&self, presented: &str) -> bool {
        self.admin.matches(presented) | self.api_keys.is_owner(presented)
    }
}

/// The daemon's own sessions for stateless (2026-era) requests that name none, one per API key
/// (one in all when no key is needed): what one key's holder runs there, its calls and its
/// listen streams, counts against that key's limits alone, so it cannot drain another's. They
/// work in the default workspace, and their events streams show their progress.
pub struct StatelessSessions {
    /// The default workspace.
    pub cwd: Arc<Path>,
    /// By [`KeyId`].
    pub by_key: Vec<StatelessSession>,
}

impl StatelessSessions {
    /// The session of requests made with `key`.
    pub fn of(&self, key: KeyId) -> &StatelessSession {
        &self.by_key[key.index()]
    }
}

/// One key's stateless session.
pub struct StatelessSession {
    /// Its id.
    pub id: Uuid,
    /// Its actor.
    pub session: Addr<SessionActor>,
    /// Cancelled when its actor stops (its own upstream servers stop with it).
    pub ended: CancellationToken,
    /// Its own limit on open `subscriptions/listen` streams.
    pub listeners: Arc<Semaphore>,
}

/// Facts about this daemon process: for `/health`, and the working directory it started in.
pub struct Started {
    /// The process id.
    pub pid: u32,
    /// Wall-clock start.
    pub at: DateTime<Utc>,
    /// Monotonic start, for uptime.
    pub instant: Instant,
    /// The working directory it started in, which it never changes: where a session created
    /// without a `cwd` works. Read once, rather than by a system call per `POST /session`.
    pub cwd: Arc<Path>,
}

impl Started {
    /// Now, for this process, working in `cwd`.
    pub fn now(cwd: &Path) -> Self {
        Self {
            pid: std::process::id(),
            at: Utc::now(),
            instant: Instant::now(),
            cwd: Arc::from(cwd),
        }
    }
}
