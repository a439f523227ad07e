//! One upstream server's connection: one task that owns everything about it.
//!
//! The task holds the rmcp client (and under it the child process or HTTP client), the server's
//! state (starting, ready, failed, restarting, with the last error), its tool list, and the map
//! from the server's own progress tokens to the callers' progress channels. Callers reach it only
//! through the bounded mailbox of an [`Upstream`] handle; nothing it owns is shared or locked.
//!
//! It is a tokio task rather than an actix actor: rmcp is tokio-native and its futures (a
//! handshake, a call's response, a restart's backoff) are awaited together in one `select!`,
//! which an actix actor would have to split into spawned futures re-entering its context; and the
//! handle works from any thread or runtime (every HTTP worker, the tests) with no actix system.
//!
//! A call's cancellation (its token, or its caller going away) reaches the server as
//! `notifications/cancelled` carrying the server's own request id; its progress reaches that
//! caller alone. A server that exits, hangs or sends what it must not fails its own calls, is
//! restarted with exponential backoff, and never holds up anyone else: every queue is bounded
//! and every wait has a timeout.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use construct_actors::ASK_TIMEOUT;
use futures::StreamExt as _;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use rmcp::model::{ClientRequest, ErrorData, JsonObject, ProgressToken, Tool};
use rmcp::service::{Peer, RoleClient};
use tokio::sync::{Notify, Semaphore, broadcast, mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use super::ask::{ASK_QUEUE, ServerAsk};
use super::call::{self, CallEnd, CallRequest, CallResult, UpstreamNotice, UpstreamProgress};
use super::config::ServerConfig;
use super::error::UpstreamError;
use super::forward::{Answer, ForwardRequest};
use super::handler::UpstreamHandler;
use super::in_order::{NOTICE_QUEUE, ServerNotice};
use super::link::{self, Link, Receivers};
use super::listen::{Listener, Watch};
use super::lists::{self, SharedLists};
use super::maybe::when;
use super::roots::Roots;
use crate::metrics_recorder;

/// Requests that may wait for one connection; one more is refused as busy.
pub const MAILBOX: usize = 64;

/// Forwarded requests other than tool calls (reads, prompts) that may be in flight on one
/// connection at once; one more is refused as busy.
pub const FORWARDS: usize = 64;

/// The server's `notifications/resources/updated` that may wait for whoever relays them; past
/// that, the oldest are dropped (each is a URI of at most `handler::MAX_URI_BYTES`).
pub const UPDATES: usize = 256;

/// Where a server stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Being started for the first time.
    Starting,
    /// Answering calls.
    Ready,
    /// Down, waiting for its next restart (see the last error).
    Failed,
    /// Being started again after a failure.
    Restarting,
}

impl State {
    /// Its name, as the admin endpoint shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Starting => "starting",
            State::Ready => "ready",
            State::Failed => "failed",
            State::Restarting => "restarting",
        }
    }
}

/// What a connection says of itself.
#[derive(Debug, Clone)]
pub struct Status {
    /// The server's name.
    pub server: Arc<str>,
    /// Where it stands.
    pub state: State,
    /// Its tools (as it names them), those its filter offers; empty unless ready.
    pub tools: Tools,
    /// How many times it was started again after a failure.
    pub restarts: u64,
    /// Why it last failed, if it ever did.
    pub last_error: Option<String>,
    /// Calls waiting for its answer now.
    pub calls: usize,
}

/// The tools a server offers now (those its filter lets through; none unless it is ready).
pub type Tools = Arc<Vec<Tool>>;

/// A handle on one server's connection; clones share it. When the last one is dropped, or any
/// of them is told to [`Upstream::stop`], the connection stops and its process group is killed.
#[derive(Clone)]
pub struct Upstream {
    server: Arc<str>,
    mailbox: mpsc::Sender<Ask>,
    stop: CancellationToken,
    call_timeout: Duration,
    tools: watch::Receiver<Tools>,
    lists: watch::Receiver<SharedLists>,
    forwards: Arc<Semaphore>,
    updates: broadcast::Sender<Arc<str>>,
    readied: watch::Receiver<u64>,
}

/// What the connection's task is asked.
enum Ask {
    Status(oneshot::Sender<Status>),
    Call(CallRequest),
    /// Boxed: a request is large, and a mailbox holds many asks.
    Forward(Box<ForwardRequest>),
    /// For the listen stream of a 2026-07-28 server.
    Watch(Watch),
}

impl Upstream {
    /// Starts the connection to the server `name` on the current tokio runtime, with no roots
    /// (it does not declare the `roots` capability); it is ready once [`Upstream::status`] says
    /// so.
    pub fn start(name: &str, config: ServerConfig) -> Self {
        Self::start_with_roots(name, config, Roots::default())
    }

    /// Like [`Upstream::start`], answering the server's `roots/list` with `roots`.
    pub fn start_with_roots(name: &str, config: ServerConfig, roots: Roots) -> Self {
        let server: Arc<str> = name.into();
        let (mailbox, requests) = mpsc::channel(MAILBOX);
        let call_timeout = config.call_timeout;
        let (offered, tools) = watch::channel(Tools::default());
        let (listed, lists) = watch::channel(SharedLists::default());
        let connection = Connection::new(server.clone(), config, roots, requests, offered, listed);
        let (updates, readied) = (connection.updates.clone(), connection.readied.subscribe());
        let stop = CancellationToken::new();
        tokio::spawn(connection.run(stop.clone()));
        Self {
            server,
            mailbox,
            stop,
            call_timeout,
            tools,
            lists,
            forwards: Arc::new(Semaphore::new(FORWARDS)),
            updates,
            readied,
        }
    }

    /// Whether `other` is a handle on the same connection (not merely on a server of the same
    /// name).
    pub fn is(&self, other: &Upstream) -> bool {
        self.mailbox.same_channel(&other.mailbox)
    }

    /// Longest a request to the server may take (its `call_timeout`).
    pub fn call_timeout(&self) -> Duration {
        self.call_timeout
    }

    /// The URIs of the server's `notifications/resources/updated`, from now on (a receiver
    /// that falls more than [`UPDATES`] behind loses the oldest, and is told how many).
    pub fn resource_updates(&self) -> broadcast::Receiver<Arc<str>> {
        self.updates.subscribe()
    }

    /// How many times its connection became ready: a new value is a new connection, which
    /// holds none of the old one's subscriptions.
    pub fn readied(&self) -> watch::Receiver<u64> {
        self.readied.clone()
    }

    /// The server's name.
    pub fn name(&self) -> &Arc<str> {
        &self.server
    }

    /// Stops the connection now, whoever else holds it (the server was removed from the
    /// configuration, or changed): its process group is killed, the calls in flight on it fail,
    /// and every later request is refused as stopped.
    pub fn stop(&self) {
        self.stop.cancel();
    }

    /// Its tools as they change: whoever merges them into the daemon's list follows this.
    pub fn tools(&self) -> watch::Receiver<Tools> {
        self.tools.clone()
    }

    /// Its resources, templates and prompts as they change.
    pub fn lists(&self) -> watch::Receiver<SharedLists> {
        self.lists.clone()
    }

    /// Has the listen stream of the server (2026-07-28) ask for the updates of the resource
    /// `uri` (`on`), or stop asking: done once a stream holds it (a stop is done at once).
    pub async fn listen_for(&self, uri: Arc<str>, on: bool) -> Result<(), UpstreamError> {
        let (reply, answer) = oneshot::channel();
        self.ask(Ask::Watch(Watch { uri, on, reply })).await?;
        self.answer(answer).await
    }

    /// Where the server stands, and its tools.
    pub async fn status(&self) -> Result<Status, UpstreamError> {
        let (reply, answer) = oneshot::channel();
        self.ask(Ask::Status(reply)).await?;
        match tokio::time::timeout(ASK_TIMEOUT, answer).await {
            Ok(Ok(status)) => Ok(status),
            _ => Err(self.error("its connection did not answer")),
        }
    }

    /// Calls the server's tool `tool` (its own name) with `arguments`. Its progress, and the
    /// server's log messages while it runs, go to `notices` (dropped when that is full);
    /// cancelling `cancel`, or dropping the future, cancels the call upstream. Bounded by the
    /// server's `call_timeout`.
    pub async fn call(
        &self,
        tool: &str,
        arguments: Option<JsonObject>,
        notices: mpsc::Sender<UpstreamNotice>,
        cancel: CancellationToken,
    ) -> CallResult {
        let (reply, answer) = oneshot::channel();
        let request = CallRequest {
            tool: tool.to_owned(),
            arguments,
            notices,
            cancel,
            reply,
        };
        self.ask(Ask::Call(request)).await?;
        self.answer(answer).await
    }

    /// Sends `request` (a `resources/read`, a `prompts/get`) to the server and returns its
    /// result, bounded by the server's `call_timeout`; dropping the future cancels it upstream.
    pub async fn forward(&self, request: ClientRequest) -> Answer {
        let Ok(permit) = Arc::clone(&self.forwards).try_acquire_owned() else {
            return Err(self.error(format!("busy: {FORWARDS} requests already wait for it")));
        };
        let (reply, answer) = oneshot::channel();
        let request = ForwardRequest {
            request,
            reply,
            permit,
        };
        self.ask(Ask::Forward(Box::new(request))).await?;
        self.answer(answer).await
    }

    /// The connection's answer to a request: it ends the request within `call_timeout`, so its
    /// answer then only has to travel.
    async fn answer<T>(
        &self,
        answer: oneshot::Receiver<Result<T, UpstreamError>>,
    ) -> Result<T, UpstreamError> {
        match tokio::time::timeout(self.call_timeout + ASK_TIMEOUT, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(self.error("its connection ended during the request")),
            Err(_) => Err(self.error("did not answer in time")),
        }
    }

    async fn ask(&self, ask: Ask) -> Result<(), UpstreamError> {
        match self.mailbox.send_timeout(ask, ASK_TIMEOUT).await {
            Ok(()) => Ok(()),
            Err(mpsc::error::SendTimeoutError::Timeout(_)) => Err(self.error("busy")),
            Err(mpsc::error::SendTimeoutError::Closed(_)) => Err(self.error("stopped")),
        }
    }

    fn error(&self, reason: impl Into<String>) -> UpstreamError {
        UpstreamError::new(&self.server, reason)
    }
}

/// Where the connection is in its life, with the one future that moves it on.
enum Phase {
    /// Starting: the process, the handshake and the first tool list, under `start_timeout`.
    Starting(BoxFuture<'static, Result<Link, String>>),
    /// Ready: the client to call through, and what ends when the connection does.
    Ready {
        peer: Peer<RoleClient>,
        ended: BoxFuture<'static, String>,
        listener: Option<Listener>,
    },
    /// Failed: waiting out the backoff before the next start.
    Waiting(std::pin::Pin<Box<tokio::time::Sleep>>),
}

/// What moved the phase on.
enum PhaseEvent {
    Started(Result<Link, String>),
    Ended(String),
    BackoffOver,
}

impl Phase {
    async fn next(&mut self) -> PhaseEvent {
        match self {
            Phase::Starting(starting) => PhaseEvent::Started(starting.await),
            Phase::Ready { ended, .. } => PhaseEvent::Ended(ended.await),
            Phase::Waiting(backoff) => {
                backoff.await;
                PhaseEvent::BackoffOver
            }
        }
    }
}

/// The task's state: everything about one server.
struct Connection {
    server: Arc<str>,
    config: ServerConfig,
    roots: Roots,
    requests: mpsc::Receiver<Ask>,
    notices_out: mpsc::Sender<ServerNotice>,
    notices_in: mpsc::Receiver<ServerNotice>,
    asks_out: mpsc::Sender<ServerAsk>,
    asks_in: mpsc::Receiver<ServerAsk>,
    tools_changed: Arc<Notify>,
    lists_changed: Arc<Notify>,
    phase: Phase,
    /// Its offered tools, published to every handle.
    tools: watch::Sender<Tools>,
    /// Its resources, templates and prompts, published to every handle.
    lists: watch::Sender<SharedLists>,
    /// Where its handler puts the server's resource updates.
    updates: broadcast::Sender<Arc<str>>,
    /// How many times it became ready.
    readied: watch::Sender<u64>,
    restarts: u64,
    failures_in_a_row: u32,
    last_error: Option<String>,
    /// The server's progress tokens of calls in flight, to their callers' channels.
    routes: HashMap<ProgressToken, mpsc::Sender<UpstreamNotice>>,
    calls: FuturesUnordered<BoxFuture<'static, CallEnd>>,
    refresh: Option<BoxFuture<'static, Result<Vec<Tool>, String>>>,
    lists_refresh: Option<BoxFuture<'static, lists::Lists>>,
}

impl Connection {
    fn new(
        server: Arc<str>,
        config: ServerConfig,
        roots: Roots,
        requests: mpsc::Receiver<Ask>,
        tools: watch::Sender<Tools>,
        lists: watch::Sender<SharedLists>,
    ) -> Self {
        let (notices_out, notices_in) = mpsc::channel(NOTICE_QUEUE);
        let (asks_out, asks_in) = mpsc::channel(ASK_QUEUE);
        let mut connection = Self {
            server,
            config,
            roots,
            requests,
            notices_out,
            notices_in,
            asks_out,
            asks_in,
            tools_changed: Arc::new(Notify::new()),
            lists_changed: Arc::new(Notify::new()),
            phase: Phase::Waiting(Box::pin(tokio::time::sleep(Duration::ZERO))),
            tools,
            lists,
            updates: broadcast::channel(UPDATES).0,
            readied: watch::channel(0).0,
            restarts: 0,
            failures_in_a_row: 0,
            last_error: None,
            routes: HashMap::new(),
            calls: FuturesUnordered::new(),
            refresh: None,
            lists_refresh: None,
        };
        connection.start();
        connection
    }

    /// Serves until every handle is dropped or `stop` is cancelled; then the client, and the
    /// process, go with it.
    async fn run(mut self, stop: CancellationToken) {
        loop {
            tokio::select! {
                biased;
                () = stop.cancelled() => break,
                Some(notice) = self.notices_in.recv() => self.route(notice),
                Some(ask) = self.asks_in.recv() => self.route_ask(ask),
                Some(end) = self.calls.next(), if !self.calls.is_empty() => self.finish_call(end),
                event = self.phase.next() => self.advance(event),
                // While a listing runs, changes wait (one permit, however many came): each
                // listing finishes, and the next starts after it.
                () = self.tools_changed.notified(), if self.refresh.is_none() => self.refresh_tools(),
                tools = when(&mut self.refresh) => self.refreshed(tools),
                () = self.lists_changed.notified(), if self.lists_refresh.is_none() => {
                    self.refresh_lists();
                }
                lists = when(&mut self.lists_refresh) => {
                    self.lists_refresh = None;
                    self.lists.send_replace(Arc::new(lists));
                }
                ask = self.requests.recv() => match ask {
                    Some(ask) => self.answer(ask).await,
                    None => break,
                },
            }
        }
        if matches!(self.phase, Phase::Ready { .. }) {
            metrics_recorder::upstream_up(&self.server, false);
        }
        // Whoever still follows it (a catalog not rebuilt yet) lists nothing of it any more.
        self.tools.send_replace(Tools::default());
        let down = self.lists.borrow().down();
        self.lists.send_replace(Arc::new(down));
        tracing::info!(server = %self.server, "connection stopped");
    }

    fn state(&self) -> State {
        match (&self.phase, self.restarts) {
            (Phase::Starting(_), 0) => State::Starting,
            (Phase::Starting(_), _) => State::Restarting,
            (Phase::Ready { .. }, _) => State::Ready,
            (Phase::Waiting(_), _) => State::Failed,
        }
    }

    fn start(&mut self) {
        let receivers = Receivers {
            handler: UpstreamHandler::new(
                self.tools_changed.clone(),
                self.lists_changed.clone(),
                self.asks_out.clone(),
                self.roots.clone(),
                self.updates.clone(),
            ),
            notices: self.notices_out.clone(),
        };
        let (server, config) = (self.server.clone(), self.config.clone());
        self.phase = Phase::Starting(Box::pin(link::open(server, config, receivers)));
    }

    fn advance(&mut self, event: PhaseEvent) {
        match event {
            PhaseEvent::Started(Ok(link)) => {
                tracing::info!(server = %self.server, tools = link.tools.len(), "ready");
                self.failures_in_a_row = 0;
                metrics_recorder::upstream_up(&self.server, true);
                self.offer(link.tools);
                self.lists.send_replace(Arc::new(link.lists));
                self.phase = Phase::Ready {
                    peer: link.peer,
                    ended: link.ended,
                    listener: link.listener,
                };
                self.readied.send_modify(|times| *times += 1);
            }
            PhaseEvent::Started(Err(reason)) => self.fail(reason),
            PhaseEvent::Ended(reason) => self.fail(reason),
            PhaseEvent::BackoffOver => {
                if self.last_error.is_some() {
                    self.restarts += 1;
                    metrics_recorder::upstream_restarted(&self.server);
                }
                self.start();
            }
        }
    }

    /// The server is down for `reason`: its calls fail as their futures see the client gone;
    /// it starts again after the backoff, doubled for each failure in a row.
    fn fail(&mut self, reason: String) {
        tracing::warn!(server = %self.server, %reason, "failed");
        let backoff = self.config.backoff(self.failures_in_a_row);
        self.failures_in_a_row = self.failures_in_a_row.saturating_add(1);
        if matches!(self.phase, Phase::Ready { .. }) {
            metrics_recorder::upstream_up(&self.server, false);
        }
        self.last_error = Some(reason);
        self.tools.send_replace(Tools::default());
        let down = self.lists.borrow().down();
        self.lists.send_replace(Arc::new(down));
        self.refresh = None;
        self.lists_refresh = None;
        self.phase = Phase::Waiting(Box::pin(tokio::time::sleep(backoff)));
    }

    /// Publishes the tools of `listed` that the server's filter offers.
    fn offer(&self, listed: Vec<Tool>) {
        let offered: Vec<Tool> = listed
            .into_iter()
            .filter(|tool| self.config.tools.offers(&tool.name))
            .collect();
        // The same list again changes nothing: nobody need rebuild.
        self.tools.send_if_modified(|current| {
            let changed = **current != offered;
            if changed {
                *current = Arc::new(offered);
            }
            changed
        });
    }

    fn refresh_tools(&mut self) {
        if let Phase::Ready { peer, .. } = &self.phase {
            self.refresh = Some(Box::pin(link::list_tools(
                Arc::clone(&self.server),
                peer.clone(),
                self.config.start_timeout,
            )));
        }
    }

    /// Lists the server's resources, templates and prompts again: however many list-changed
    /// notifications came, one listing runs at a time, after the last of them.
    fn refresh_lists(&mut self) {
        if let Phase::Ready { peer, .. } = &self.phase {
            let (server, peer) = (self.server.clone(), peer.clone());
            let limit = self.config.start_timeout;
            self.lists_refresh = Some(Box::pin(async move {
                lists::fetch(&server, &peer, limit).await
            }));
        }
    }

    fn refreshed(&mut self, tools: Result<Vec<Tool>, String>) {
        self.refresh = None;
        match tools {
            Ok(tools) => self.offer(tools),
            Err(reason) => {
                tracing::warn!(server = %self.server, %reason, "tool list not refreshed")
            }
        }
    }

    async fn answer(&mut self, ask: Ask) {
        match ask {
            Ask::Status(reply) => {
                let _ = reply.send(self.status());
            }
            Ask::Call(request) => self.begin_call(request).await,
            Ask::Forward(request) => match self.peer() {
                Ok(peer) => {
                    let limit = self.config.call_timeout;
                    request.send(&self.server, &peer, limit).await;
                }
                Err(reason) => request.refuse(&self.server, reason),
            },
            Ask::Watch(watch) => self.watch(watch),
        }
    }

    /// Hands a resource subscription to the listen stream of the server (2026-07-28), or
    /// refuses it.
    fn watch(&self, watch: Watch) {
        if let Phase::Ready {
            listener: Some(listener),
            ..
        } = &self.phase
        {
            return listener.watch(watch, &self.server);
        }
        let reason = self.peer().err();
        let reason = reason.unwrap_or_else(|| "does not listen for resource updates".to_owned());
        watch.refuse(&self.server, reason);
    }

    fn status(&self) -> Status {
        Status {
            server: self.server.clone(),
            state: self.state(),
            tools: self.tools.borrow().clone(),
            restarts: self.restarts,
            last_error: self.last_error.clone(),
            calls: self.calls.len(),
        }
    }

    /// The client to send requests through; or, when the server is not ready, why.
    fn peer(&self) -> Result<Peer<RoleClient>, String> {
        match (&self.phase, &self.last_error) {
            (Phase::Ready { peer, .. }, _) => Ok(peer.clone()),
            (_, Some(error)) => Err(format!("is {} ({error})", self.state().as_str())),
            (_, None) => Err(format!("is {}", self.state().as_str())),
        }
    }

    /// Sends the call upstream and keeps it among the calls in flight; or refuses it at once.
    async fn begin_call(&mut self, request: CallRequest) {
        let peer = match self.peer() {
            Ok(peer) => peer,
            Err(reason) => return request.refuse(&self.server, reason),
        };
        if !self.config.tools.offers(&request.tool) {
            let reason = format!("does not offer the tool {:?}", request.tool);
            return request.refuse(&self.server, reason);
        }
        let notices = request.notices.clone();
        let sent = call::send(&self.server, &peer, request, self.config.call_timeout).await;
        if let Some((token, in_flight)) = sent {
            self.routes.insert(token, notices);
            self.calls.push(in_flight);
        }
    }

    /// Delivers a call's answer, after the progress that came before it (taken off the
    /// transport in order, it is already queued).
    fn finish_call(&mut self, end: CallEnd) {
        while let Ok(notice) = self.notices_in.try_recv() {
            self.route(notice);
        }
        self.routes.remove(&end.token);
        end.deliver();
    }

    /// Hands a notice to the call it concerns: a progress report to the caller of its call, if
    /// it is still running; a log message (which MCP does not tie to a call) to the one call in
    /// flight, its caller's level deciding whether it is shown, and to the daemon's log.
    fn route(&mut self, notice: ServerNotice) {
        match notice {
            ServerNotice::Progress(progress) => {
                if let Some(caller) = self.routes.get(&progress.progress_token) {
                    let _ = caller.try_send(UpstreamNotice::Progress(UpstreamProgress {
                        progress: progress.progress,
                        total: progress.total,
                        message: progress.message,
                    }));
                }
            }
            ServerNotice::Log { level, data } => {
                tracing::debug!(server = %self.server, ?level, %data, "log message");
                // MCP does not tie a log message to a call: it is passed on only when one call
                // is in flight, so that one session never reads what another's call logged.
                if let Ok(caller) = self.sole_caller() {
                    let _ = caller.try_send(UpstreamNotice::Log { level, data });
                }
            }
        }
    }

    /// Hands the server's request for a caller to the one call in flight; with none, or
    /// several (MCP does not say which it belongs to), the server is told nobody can answer.
    fn route_ask(&self, ask: ServerAsk) {
        match self.sole_caller() {
            Ok(caller) => {
                if let Err(unsent) = caller.try_send(UpstreamNotice::Ask(ask))
                    && let UpstreamNotice::Ask(ask) = unsent.into_inner()
                {
                    refuse(ask, "its caller is not listening");
                }
            }
            Err(reason) => refuse(ask, reason),
        }
    }

    /// The caller of the one call in flight: what a server says that MCP does not tie to a call
    /// (a log message, a request for the caller) can only be its; or why there is none.
    fn sole_caller(&self) -> Result<&mpsc::Sender<UpstreamNotice>, &'static str> {
        let mut callers = self.routes.values();
        match (callers.next(), callers.next()) {
            (Some(caller), None) => Ok(caller),
            (None, _) => Err("no call of this client is in flight"),
            (Some(_), Some(_)) => Err(
                "several calls are in flight on this server, and MCP does not say which one asks",
            ),
        }
    }
}

/// Answers the server's request `ask` with an error saying why nobody can answer it.
fn refuse(ask: ServerAsk, reason: &str) {
    let error = ErrorData::internal_error(format!("{}: {reason}", ask.method), None);
    let _ = ask.reply.send(Err(error));
}
