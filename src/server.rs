//! Assembling and running the daemon: actors, HTTP server, discovery file, graceful shutdown.
//!
//! The singleton actors are started here, once, before the HTTP server's per-worker factory runs,
//! and every worker gets the same addresses, plus a `SessionDirectory` of its own. On SIGINT or
//! SIGTERM the daemon stops accepting, closes the sessions' event streams, lets running calls
//! finish within the configured grace period (those still running then end with an error
//! response), removes the discovery file and returns.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use actix::Actor as _;
use actix::Addr;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context as _;
use construct_actors::cluster::{ClusterConfig, ClusterStore};
use construct_actors::{
    Create, Creator, RegistryLimits, SessionDirectory, SessionLimits, SessionRegistry, Shutdown,
    TicketBook, TicketLimits,
};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::discovery::Discovery;
use crate::http::admin::AdminToken;
use crate::http::api_key::ApiKeys;
use crate::http::guard::{self, Guard};
use crate::http::request_log;
use crate::http::{self, AppState, Started, StatelessSession, StatelessSessions};
use crate::mcp::relay::RelayIndex;
use crate::metrics_recorder;
use crate::paths;
use crate::roots::WorkspaceRoots;
use crate::tools::ToolRegistry;

/// How long, at shutdown, the calls stopped after the grace period have to send their error
/// responses before the connections close.
const STOPPED_CALLS_WAIT: Duration = Duration::from_secs(1);

/// How long, at the very end of a shutdown, open connections have to finish.
const FINAL_STOP_SECS: u64 = 2;

/// Runs the daemon, configured by `config` (read from `config_file`, when there is one), until
/// a shutdown signal; must be called inside an actix system.
pub async fn run(config: Config, config_file: Option<&Path>) -> anyhow::Result<()> {
    let listener =
        TcpListener::bind((config.server.bind, config.server.port)).with_context(|| {
            format!(
                "cannot listen on {}:{}",
                config.server.bind, config.server.port
            )
        })?;
    let addr = listener.local_addr()?;
    // Listen for signals before anyone can learn where we are, so none is missed.
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    let tools = ToolRegistry::new(&config.tools);
    if config.metrics.enabled {
        // Before any actor starts, so that every handle they take records.
        let handle =
            metrics_recorder::install(tools.names()).context("cannot set up the metrics")?;
        metrics_recorder::spawn_upkeep(handle);
    }
    let registry = match &config.cluster.redis_url {
        Some(url) => {
            let store = ClusterStore::connect(&ClusterConfig {
                url: url.clone(),
                prefix: config.cluster.key_prefix.clone(),
                timeout: config.cluster.timeout,
            })
            .context("cluster.redis_url is not usable")?;
            SessionRegistry::in_cluster(registry_limits(&config), store)
        }
        None => SessionRegistry::new(registry_limits(&config)),
    }
    .start();
    // The discovery file holds the owner key and the configuration may hold other keys: no
    // tool call may read them, whatever folder its session works in.
    let own_files: Vec<PathBuf> = config_file
        .map(Path::to_path_buf)
        .into_iter()
        .chain(
            config
                .discovery
                .enabled
                .then(|| paths::expand_home(&config.discovery.path)),
        )
        .collect();
    let workspace_roots = WorkspaceRoots::new(&config.tools, &own_files)?;
    let api_keys = ApiKeys::new(&config);
    let stateless = stateless_sessions(&config, &workspace_roots, &api_keys, &registry).await?;
    let ticket_limits = TicketLimits {
        ttl: config.sessions.ticket_ttl,
        max_tickets: config.sessions.max_tickets,
    };
    let state = web::Data::new(AppState {
        registry: registry.clone(),
        tools,
        workspace_roots,
        api_keys,
        call_slots: Arc::new(Semaphore::new(config.tools.max_concurrent_calls)),
        stopping: CancellationToken::new(),
        guard: Guard::new(addr, &config.security),
        relays: RelayIndex::default().start(),
        listeners: Arc::new(Semaphore::new(config.mcp.max_listeners)),
        stateless,
        admin: AdminToken::new(config.admin.token.as_deref()),
        tickets: TicketBook::new(ticket_limits).start(),
        admin_tickets: TicketBook::new(ticket_limits).start(),
        config,
        started: Started::now(),
    });
    let grace = state.config.server.shutdown_grace;

    let server = HttpServer::new({
        let state = state.clone();
        move || {
            // Built on each worker's thread: the directory runs there, next to the sessions
            // its requests create.
            let directory = SessionDirectory::new(state.registry.clone()).start();
            App::new()
                .app_data(state.clone())
                .app_data(web::Data::new(directory))
                .wrap(from_fn(guard::check))
                // Outermost, so that it times and logs everything, the fence's refusals too.
                .wrap(from_fn(request_log::log))
                .configure(http::routes)
        }
    })
    .listen(listener)?
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

    let discovery = if state.config.discovery.enabled {
        let path = paths::expand_home(&state.config.discovery.path);
        let discovery = Discovery::new(
            addr,
            state.started.pid,
            state.started.at,
            state.api_keys.owner(),
        );
        Some(discovery.write(&path)?)
    } else {
        None
    };
    announce(&format!(
        "construct-actor listening on http://{addr} (MCP endpoint http://{addr}/mcp)"
    ));
    // The second line, only when the operator set none: the one time the token is shown.
    if let Some(token) = state.admin.generated() {
        announce(&format!("admin token: {token}"));
    }
    tracing::info!(%addr, "listening");

    let handle = server.handle();
    let call_slots = Arc::clone(&state.call_slots);
    let stopping = state.stopping.clone();
    let max_calls = state.config.tools.max_concurrent_calls;
    actix_rt::spawn(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        tracing::info!("shutting down");
        // Sessions run on the HTTP workers' threads, and actix stops an idle worker (its
        // sessions with it) as soon as the server stops. So first stop accepting, close the
        // event streams, and let the running calls finish within the grace period; then stop.
        handle.pause().await;
        let _ = registry.send(Shutdown).await;
        let all = u32::try_from(max_calls).unwrap_or(u32::MAX);
        if tokio::time::timeout(grace, call_slots.acquire_many(all))
            .await
            .is_err()
        {
            // The grace period is over: the calls still running end with an error response,
            // which their clients get before the connections close.
            stopping.cancel();
            let _ = tokio::time::timeout(STOPPED_CALLS_WAIT, call_slots.acquire_many(all)).await;
        }
        handle.stop(true).await;
    });
    server.await?;
    if let Some(file) = discovery {
        file.remove();
    }
    tracing::info!("stopped");
    Ok(())
}

/// Creates the sessions stateless requests run in, one per API key, in the default workspace.
async fn stateless_sessions(
    config: &Config,
    roots: &WorkspaceRoots,
    keys: &ApiKeys,
    registry: &Addr<SessionRegistry>,
) -> anyhow::Result<StatelessSessions> {
    let current = std::env::current_dir().context("the daemon's working directory is gone")?;
    let cwd = roots.default_workspace(config.mcp.default_workspace.as_deref(), &current)?;
    let mut by_key = Vec::with_capacity(keys.count());
    for key in 0..keys.count() {
        let label = match keys.count() {
            1 => "stateless requests".to_owned(),
            _ => format!("stateless requests (API key {})", key + 1),
        };
        let created = registry
            .send(Create {
                cwd: cwd.clone(),
                label: Some(label),
                by: Creator::Daemon,
                home: None,
                unused_timeout: None,
            })
            .await
            .context("the session registry did not start")?
            .context("cannot create a stateless session")?;
        by_key.push(StatelessSession {
            id: created.id,
            session: created.session,
            listeners: Arc::new(Semaphore::new(config.mcp.max_listeners)),
        });
    }
    Ok(StatelessSessions {
        cwd: Arc::from(cwd),
        by_key,
    })
}

fn registry_limits(config: &Config) -> RegistryLimits {
    RegistryLimits {
        max_sessions: config.sessions.max_sessions,
        create_per_minute: config.sessions.create_per_minute,
        session: SessionLimits {
            subscriber_queue: config.sessions.subscriber_queue,
            subscriber_queue_bytes: config.sessions.subscriber_queue_bytes,
            max_subscribers: config.sessions.max_subscribers,
            max_calls: config.tools.max_calls_per_session,
            history: config.sessions.history,
            history_bytes: config.sessions.history_bytes,
            idle_timeout: Some(config.sessions.idle_timeout),
            unused_timeout: None,
        },
    }
}

/// Tells the operator a line on standard output. A launcher that read what it needed and closed
/// the pipe must not bring the daemon down, so a failed write is ignored.
fn announce(line: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}
