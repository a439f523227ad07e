//! Assembling and running the daemon: its state, the HTTP server, the discovery file, and the
//! graceful shutdown (`crate::shutdown`).
//!
//! Three layers, each testable without the one above it: [`run_until_signalled`] binds the
//! configured address, turns SIGINT and SIGTERM into a future and SIGHUP into a stream of
//! reloads (the only code that knows about signals); [`run`] builds the daemon's state from its
//! configuration and serves a listener until a shutdown future resolves, reloading as asked
//! (`crate::reload`); [`crate::shutdown::Shutdown`] is what then happens.
//!
//! The singleton actors are started once, before the HTTP server's per-worker factory runs, and
//! every worker gets the same addresses, plus a `SessionDirectory` of its own.

use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use actix::Actor as _;
use actix::Addr;
use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context as _;
use construct_actors::cluster::ClusterStore;
use construct_actors::{
    ASK_TIMEOUT, Create, Creator, Describe, SessionDirectory, SessionRegistry, TicketBook,
    TicketLimits,
};
use futures::Stream;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::discovery::{Discovery, DiscoveryFile};
use crate::http::admin_token::AdminToken;
use crate::http::api_key::ApiKeys;
use crate::http::guard::{self, Guard};
use crate::http::request_log;
use crate::http::{self, AppState, Started, StatelessSession, StatelessSessions};
use crate::mcp::answers::PendingAnswers;
use crate::mcp::relay::RelayIndex;
use crate::metrics_recorder;
use crate::paths;
use crate::reload::Reloader;
use crate::roots::WorkspaceRoots;
use crate::shutdown::Shutdown;
use crate::tools::ToolRegistry;
use crate::upstream::{Fleet, Upstreams};

/// How long, at the very end of a shutdown, open connections have to finish.
const FINAL_STOP_SECS: u64 = 2;

/// Runs the daemon configured by `config` (read from `config_file`, when there is one) on the
/// configured address until SIGINT or SIGTERM, reloading its configuration at each SIGHUP; must
/// be called inside an actix system.
pub async fn run_until_signalled(config: Config, config_file: Option<&Path>) -> anyhow::Result<()> {
    let server = &config.server;
    let listener = TcpListener::bind((server.bind, server.port))
        .with_context(|| format!("cannot listen on {}:{}", server.bind, server.port))?;
    // Listen for signals before anyone can learn where we are, so none is missed.
    let signalled = signalled()?;
    let mut hangup = signal(SignalKind::hangup()).context("cannot listen for SIGHUP")?;
    let hangups = futures::stream::poll_fn(move |cx| hangup.poll_recv(cx));
    run(listener, config, config_file, signalled, hangups).await
}

/// Resolves at the first SIGINT or SIGTERM after this is called.
fn signalled() -> anyhow::Result<impl Future<Output = ()> + 'static> {
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}

/// Runs the daemon configured by `config` (read from `config_file`, when there is one) on
/// `listener` until `shutdown` resolves, then shuts it down gracefully: returns once it has
/// stopped and its discovery file is gone. The configuration is read again at each of
/// `reloads`, and when the file changes (`crate::reload`). Must be called inside an actix system.
pub async fn run(
    listener: TcpListener,
    config: Config,
    config_file: Option<&Path>,
    shutdown: impl Future<Output = ()> + 'static,
    reloads: impl Stream<Item = ()> + 'static,
) -> anyhow::Result<()> {
    let (state, fleet) = build_state(config, config_file).await?;
    let reloader = Reloader::new(
        config_file.map(Path::to_path_buf),
        state.config.clone(),
        fleet,
    );
    actix_rt::spawn(reloader.run(reloads, state.stopping.clone()));
    serve(listener, state, shutdown).await
}

/// Everything the handlers share, built from `config`, and the fleet of servers it started.
async fn build_state(
    config: Config,
    config_file: Option<&Path>,
) -> anyhow::Result<(web::Data<AppState>, Fleet)> {
    let tools = ToolRegistry::new(&config.tools);
    if config.metrics.enabled {
        // Before any actor starts, so that every handle they take records.
        let handle =
            metrics_recorder::install(tools.names()).context("cannot set up the metrics")?;
        metrics_recorder::spawn_upkeep(handle);
    }
    let registry = start_registry(&config)?;
    let workspace_roots = WorkspaceRoots::new(&config.tools, &daemon_files(&config, config_file))?;
    let api_keys = ApiKeys::new(&config.security);
    let current = std::env::current_dir().context("the daemon's working directory is gone")?;
    let stateless =
        stateless_sessions(&config, &workspace_roots, &api_keys, &registry, &current).await?;
    let ticket_limits = TicketLimits {
        ttl: config.sessions.ticket_ttl,
        max_tickets: config.sessions.max_tickets,
    };
    let (upstreams, fleet) =
        Upstreams::start(&config.servers, tools.names(), workspace_roots.roots());
    let state = web::Data::new(AppState {
        registry,
        tools,
        upstreams,
        workspace_roots,
        api_keys,
        call_slots: Arc::new(Semaphore::new(config.tools.max_concurrent_calls)),
        stopping: CancellationToken::new(),
        relays: RelayIndex::default().start(),
        answers: PendingAnswers::default().start(),
        listeners: Arc::new(Semaphore::new(config.mcp.max_listeners)),
        stateless,
        admin: AdminToken::new(config.admin.token.as_deref()),
        tickets: TicketBook::new(ticket_limits).start(),
        admin_tickets: TicketBook::new(ticket_limits).start(),
        config,
        started: Started::now(&current),
    });
    Ok((state, fleet))
}

/// Starts the session registry: in cluster mode when `cluster.redis_url` is set (the sessions
/// kept in Redis, shared with the other nodes), local otherwise.
fn start_registry(config: &Config) -> anyhow::Result<Addr<SessionRegistry>> {
    let limits = config
        .sessions
        .registry_limits(config.tools.max_calls_per_session);
    let registry = match &config.cluster.redis_url {
        Some(url) => {
            let store = ClusterStore::connect(&config.cluster.store_config(url))
                .context("cluster.redis_url is not usable")?;
            SessionRegistry::in_cluster(limits, store)
        }
        None => SessionRegistry::new(limits),
    };
    Ok(registry.start())
}

/// The daemon's own files, which no tool call may read, whatever folder its session works in:
/// the configuration (it may hold keys) and the discovery file (it holds the owner key).
fn daemon_files(config: &Config, config_file: Option<&Path>) -> Vec<PathBuf> {
    config_file
        .map(Path::to_path_buf)
        .into_iter()
        .chain(
            config
                .discovery
                .enabled
                .then(|| paths::expand_home(&config.discovery.path)),
        )
        .collect()
}

/// Serves `listener` until `shutdown` resolves and the graceful shutdown is over; the discovery
/// file exists for exactly as long as the server accepts.
async fn serve(
    listener: TcpListener,
    state: web::Data<AppState>,
    shutdown: impl Future<Output = ()> + 'static,
) -> anyhow::Result<()> {
    let addr = listener.local_addr()?;
    let server = http_server(listener, &state)?;
    let discovery = write_discovery(&state, addr)?;
    announce_listening(&state, addr);
    tracing::info!(%addr, "listening");
    actix_rt::spawn(Shutdown::new(server.handle(), &state).after(shutdown));
    server.await?;
    if let Some(file) = discovery {
        file.remove();
    }
    tracing::info!("stopped");
    Ok(())
}

/// The HTTP server on `listener`, running: every route, behind the fence and the request log.
fn http_server(listener: TcpListener, state: &web::Data<AppState>) -> anyhow::Result<Server> {
    let state = state.clone();
    let guard = web::Data::new(Guard::new(listener.local_addr()?, &state.config.security));
    let server = HttpServer::new(move || {
        // Built on each worker's thread: the directory runs there, next to the sessions its
        // requests create, and shares with the worker's handlers the sessions it has met.
        let directory = SessionDirectory::new(state.registry.clone());
        let known = directory.known();
        App::new()
            .app_data(state.clone())
            .app_data(guard.clone())
            .app_data(web::Data::new(directory.start()))
            .app_data(known)
            .wrap(from_fn(guard::check))
            // Outermost, so that it times and logs everything, the fence's refusals too.
            .wrap(from_fn(request_log::log))
            .configure(http::routes)
    })
    .listen(listener)?
    // Signals are the outer layer's business (`run_until_signalled`), not the server's.
    .disable_signals()
    // The running calls were waited for already (within the grace period); what is left is
    // the last writes of their responses and streams that never end by themselves.
    .shutdown_timeout(FINAL_STOP_SECS)
    .tcp_nodelay(true)
    // A client that closes its side is gone: end its response at once. This is what lets a
    // dropped events stream leave its session, and a closed tools/call stream cancel its call,
    // without waiting for the next write to fail.
    .h1_allow_half_closed(false)
    .run();
    Ok(server)
}

/// Writes the discovery file, when enabled: where the daemon listens, and its owner key.
fn write_discovery(state: &AppState, addr: SocketAddr) -> anyhow::Result<Option<DiscoveryFile>> {
    if !state.config.discovery.enabled {
        return Ok(None);
    }
    let path = paths::expand_home(&state.config.discovery.path);
    let discovery = Discovery::new(
        addr,
        state.started.pid,
        state.started.at,
        state.api_keys.owner(),
    );
    Ok(Some(discovery.write(&path)?))
}

/// Tells the operator where the daemon listens and, the one time it is shown, the admin token
/// it generated (only when the operator set none).
fn announce_listening(state: &AppState, addr: SocketAddr) {
    announce(&format!(
        "construct-actor listening on http://{addr} (MCP endpoint http://{addr}/mcp)"
    ));
    if let Some(token) = state.admin.generated() {
        announce(&format!("admin token: {token}"));
    }
}

/// Creates the sessions stateless requests run in, one per API key, in the default workspace
/// (configured, or else `current`, the daemon's working directory, when it lies in a root).
async fn stateless_sessions(
    config: &Config,
    roots: &WorkspaceRoots,
    keys: &ApiKeys,
    registry: &Addr<SessionRegistry>,
    current: &Path,
) -> anyhow::Result<StatelessSessions> {
    let cwd: Arc<Path> = roots
        .default_workspace(config.mcp.default_workspace.as_deref(), current)?
        .into();
    let mut by_key = Vec::with_capacity(keys.count());
    for key in 0..keys.count() {
        let label = match keys.count() {
            1 => "stateless requests".to_owned(),
            _ => format!("stateless requests (API key {})", key + 1),
        };
        let created = registry
            .send(Create {
                cwd: Arc::clone(&cwd),
                label: Some(label),
                by: Creator::Daemon,
                home: None,
                unused_timeout: None,
            })
            .timeout(ASK_TIMEOUT)
            .await
            .context("the session registry did not start")?
            .context("cannot create a stateless session")?;
        let described = created
            .session
            .send(Describe)
            .timeout(ASK_TIMEOUT)
            .await
            .context("a stateless session did not start")?;
        by_key.push(StatelessSession {
            id: created.id,
            ended: described.ended,
            session: created.session,
            listeners: Arc::new(Semaphore::new(config.mcp.max_listeners)),
        });
    }
    Ok(StatelessSessions { cwd, by_key })
}

/// Tells the operator a line on standard output. A launcher that read what it needed and closed
/// the pipe must not bring the daemon down, so a failed write is ignored.
fn announce(line: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Polls `ready` every few milliseconds for up to five seconds.
    async fn eventually(mut ready: impl FnMut() -> bool) -> bool {
        for _ in 0..500 {
            if ready() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }

    #[actix_rt::test]
    async fn the_daemon_stops_cleanly_when_its_shutdown_future_resolves() {
        let home = tempfile::tempdir().unwrap();
        let discovery = home.path().join("mcp.json");
        let mut config = Config::default();
        config.discovery.path = discovery.clone();
        config.metrics.enabled = false;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let daemon = actix_rt::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            run(listener, config, None, shutdown, futures::stream::pending()).await
        });

        assert!(eventually(|| discovery.exists()).await, "no discovery file");
        let health = reqwest::get(format!("http://{addr}/health")).await.unwrap();
        assert!(health.status().is_success(), "{}", health.status());

        stop.send(()).unwrap();
        let ended = tokio::time::timeout(Duration::from_secs(10), daemon)
            .await
            .expect("the daemon stops within its grace period");
        ended.unwrap().unwrap();
        assert!(!discovery.exists(), "the discovery file is removed");
        assert!(
            std::net::TcpStream::connect(addr).is_err(),
            "nothing listens any more"
        );
    }
}
