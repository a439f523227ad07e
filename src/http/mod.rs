//! The HTTP face of the daemon: one module per endpoint family, sharing [`AppState`].
//!
//! Handlers hold no session state. They read the request, ask the actors by message (each ask
//! bounded by [`ASK_TIMEOUT`]), and turn the answer into a response or an SSE stream. Every
//! failure a client can cause is an [`error::HttpError`], mapped to a status in one place.

pub mod accept;
pub mod admin;
pub mod api_key;
pub mod auth;
pub mod body;
pub mod config;
pub mod dashboard;
pub mod error;
pub mod events;
pub mod guard;
pub mod health;
pub mod identity;
pub mod mcp;
pub mod metrics;
pub mod request_log;
pub mod session;
pub mod ticket;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use actix::dev::ToEnvelope;
use actix::prelude::*;
use actix_web::web;
use chrono::{DateTime, Utc};
use construct_actors::{ASK_TIMEOUT, SessionActor, SessionRegistry, TicketBook};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::config::Config;
use crate::mcp::relay::RelayIndex;
use crate::roots::WorkspaceRoots;
use crate::tools::ToolRegistry;
use error::HttpError;

/// What every handler can reach.
pub struct AppState {
    /// The one session registry.
    pub registry: Addr<SessionRegistry>,
    /// The enabled tools.
    pub tools: ToolRegistry,
    /// The configuration the daemon runs with.
    pub config: Config,
    /// Where sessions may work, and how far their calls reach.
    pub workspace_roots: WorkspaceRoots,
    /// The API keys, the generated owner key among them.
    pub api_keys: api_key::ApiKeys,
    /// The daemon-wide limit on running tool calls.
    pub call_slots: Arc<Semaphore>,
    /// Cancelled at shutdown once the grace period is over: running calls end with an error.
    pub stopping: CancellationToken,
    /// The Origin/Host fence.
    pub guard: guard::Guard,
    /// Where resumable call streams are found.
    pub relays: Addr<RelayIndex>,
    /// The limit on open `subscriptions/listen` streams in clients' own sessions.
    pub listeners: Arc<Semaphore>,
    /// The sessions stateless requests without Construct credentials run in.
    pub stateless: StatelessSessions,
    /// When and as what process the daemon started.
    pub started: Started,
    /// The admin token (`GET /admin/sessions`, the dashboard).
    pub admin: admin::AdminToken,
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
    /// By [`api_key::KeyId`].
    pub by_key: Vec<StatelessSession>,
}

impl StatelessSessions {
    /// The session of requests made with `key`.
    pub fn of(&self, key: api_key::KeyId) -> &StatelessSession {
        &self.by_key[key.index()]
    }
}

/// One key's stateless session.
pub struct StatelessSession {
    /// Its id.
    pub id: Uuid,
    /// Its actor.
    pub session: Addr<SessionActor>,
    /// Its own limit on open `subscriptions/listen` streams.
    pub listeners: Arc<Semaphore>,
}

/// Facts about this daemon process, for `/health`.
pub struct Started {
    /// The process id.
    pub pid: u32,
    /// Wall-clock start.
    pub at: DateTime<Utc>,
    /// Monotonic start, for uptime.
    pub instant: Instant,
}

impl Started {
    /// Now, for this process.
    pub fn now() -> Self {
        Self {
            pid: std::process::id(),
            at: Utc::now(),
            instant: Instant::now(),
        }
    }
}

/// Registers every route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health::health))
        .route("/metrics", web::get().to(metrics::scrape))
        .route("/session", web::post().to(session::create))
        .route("/session/{id}", web::get().to(session::describe))
        .route("/session/{id}", web::delete().to(session::end))
        .route("/session/{id}/events", web::get().to(events::follow))
        .route("/session/{id}/ticket", web::post().to(ticket::issue))
        .route("/admin/sessions", web::get().to(admin::sessions))
        .route("/mcp", web::post().to(mcp::post))
        .route("/mcp", web::get().to(mcp::get))
        .route("/mcp", web::delete().to(mcp::delete))
        .configure(dashboard::routes);
}

/// Who a session-creating request comes from, for the per-client creation limit: its peer
/// address, grouped so that a client cannot multiply its allowance by choosing addresses. The
/// whole loopback range (127.0.0.0/8, ::1) is one client, since any local process can bind any
/// of its addresses; so is an IPv6 /64, which one host is usually handed whole. A connection
/// without a peer address (never the case over TCP) shares one allowance.
pub fn creator(req: &actix_web::HttpRequest) -> construct_actors::Creator {
    let unknown = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    construct_actors::Creator::Client(req.peer_addr().map_or(unknown, |peer| client(peer.ip())))
}

/// The address that stands for every address of `ip`'s client (see [`creator`]).
fn client(ip: IpAddr) -> IpAddr {
    let ip = ip.to_canonical();
    if ip.is_loopback() {
        return IpAddr::V4(Ipv4Addr::LOCALHOST);
    }
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
    }
}

/// Sends `msg` to an actor and waits, at most [`ASK_TIMEOUT`], for its reply.
pub async fn ask<A, M>(addr: &Addr<A>, msg: M) -> Result<M::Result, HttpError>
where
    A: Actor + Handler<M>,
    A::Context: ToEnvelope<A, M>,
    M: Message + Send + 'static,
    M::Result: Send,
{
    addr.send(msg)
        .timeout(ASK_TIMEOUT)
        .await
        .map_err(unanswered)
}

/// The answer when an actor did not reply: it is overloaded, or the daemon is shutting down.
pub fn unanswered(err: MailboxError) -> HttpError {
    tracing::warn!(%err, "actor did not answer");
    HttpError::Unavailable("the daemon is busy or shutting down; try again".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_loopback_address_is_one_client() {
        let one = client("127.0.0.1".parse().unwrap());
        for other in ["127.0.3.7", "127.255.255.254", "::1", "::ffff:127.0.0.9"] {
            assert_eq!(client(other.parse().unwrap()), one, "{other}");
        }
    }

    #[test]
    fn an_ipv6_slash_64_is_one_client_and_ipv4_hosts_stay_apart() {
        assert_eq!(
            client("2001:db8:1:2:aaaa::1".parse().unwrap()),
            client("2001:db8:1:2:bbbb::9".parse().unwrap())
        );
        assert_ne!(
            client("2001:db8:1:2::1".parse().unwrap()),
            client("2001:db8:1:3::1".parse().unwrap())
        );
        assert_ne!(
            client("10.0.0.1".parse().unwrap()),
            client("10.0.0.2".parse().unwrap())
        );
    }
}
