//! Following a server that speaks 2026-07-28: the one `subscriptions/listen` stream the daemon
//! keeps open on its connection. That revision sends list changes and resource updates on such
//! a stream alone (no notification comes otherwise), so without it the daemon would never hear
//! that such a server's tools changed, nor relay its resources' updates.
//!
//! The stream asks for what the server declares (`toolsListChanged`, `promptsListChanged`,
//! `resourcesListChanged`) and for the resources the keeper of subscriptions holds on it
//! (`resourceSubscriptions`, see `subscriptions`). The revision has no way to change a stream's
//! filter: when that set changes, a new stream is opened with the new set and the old one is
//! cancelled once the new one is acknowledged (so that no update is missed in between). What
//! arrives goes where a 2025-11-25 server's notifications go (`handler::Signals`).
//!
//! Bounded: each message is bounded by the transport (`max_message_bytes`), the stream's unread
//! messages by [`BACKLOG`] (past it rmcp ends the stream), the asks waiting for the listener by
//! [`WATCHES`], and the resources asked for (and those waiting for a stream that holds theirs)
//! by the keeper's bounds: one request at a time per resource, `subscriptions::IN_ALL` in all.
//! A stream that ends (the server closed it, fell behind, or refused it) while the connection
//! lives is opened again after a backoff (`restart_backoff`, doubled at each end in a row up to
//! `restart_backoff_max`), and the server's lists are fetched again after it, since changes
//! made in between were not told. The listener stops with its connection (when the
//! [`Listener`] is dropped), and its stream with it.

use std::collections::BTreeSet;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use futures::future::BoxFuture;
use rmcp::model::{ProtocolVersion, ServerNotification, SubscriptionFilter};
use rmcp::service::{Peer, RoleClient, ServiceError, Subscription};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Sleep;

use super::config::ServerConfig;
use super::error::UpstreamError;
use super::handler::Signals;
use super::maybe::when;

/// Messages one listen stream may hold unread; past that rmcp ends the stream (it is opened
/// again after the backoff, and the lists fetched again).
pub const BACKLOG: NonZeroUsize = NonZeroUsize::new(64).unwrap();

/// Asks about resources that may wait for one connection's listener; one more is refused as
/// busy.
pub const WATCHES: usize = 256;

/// An ask to listen for a resource's updates, or to stop.
pub struct Watch {
    /// The resource's URI, the server's own.
    pub uri: Arc<str>,
    /// Whether to listen (or to stop).
    pub on: bool,
    /// Told once a stream acknowledged the resource (or why not); at once for a stop.
    pub reply: Reply,
}

/// Where the answer to a [`Watch`] goes.
pub type Reply = oneshot::Sender<Result<(), UpstreamError>>;

impl Watch {
    /// Answers at once that nobody can listen for it, for `reason`.
    pub fn refuse(self, server: &Arc<str>, reason: impl Into<String>) {
        let _ = self.reply.send(Err(UpstreamError::new(server, reason)));
    }
}

/// The handle on one connection's listener: dropping it stops the listener and cancels its
/// stream.
pub struct Listener {
    watches: mpsc::Sender<Watch>,
}

impl Listener {
    /// Starts listening to the server behind `peer`, if it speaks 2026-07-28 and declares
    /// something to listen for; its changes go to `signals`.
    pub fn start(
        server: &Arc<str>,
        peer: &Peer<RoleClient>,
        config: &ServerConfig,
        signals: Signals,
    ) -> Option<Self> {
        let info = peer.peer_info()?;
        if info.protocol_version < ProtocolVersion::V_2026_07_28 {
            return None;
        }
        let capabilities = &info.capabilities;
        let lists = SubscriptionFilter::builder()
            .tools_list_changed()
            .prompts_list_changed()
            .resources_list_changed()
            .build()
            .supported_by(capabilities);
        let subscribable = capabilities
            .resources
            .as_ref()
            .is_some_and(|resources| resources.subscribe == Some(true));
        if lists == SubscriptionFilter::default() && !subscribable {
            return None;
        }
        let (watches, asks) = mpsc::channel(WATCHES);
        let task = Task::new(Arc::clone(server), peer.clone(), config, lists, signals);
        tokio::spawn(task.run(asks));
        Some(Self { watches })
    }

    /// Hands `watch` to the listener of `server`'s connection; refused at once when too many
    /// wait for it.
    pub fn watch(&self, watch: Watch, server: &Arc<str>) {
        if let Err(full) = self.watches.try_send(watch) {
            let reason =
                format!("busy: {WATCHES} subscriptions already wait for its listen stream");
            full.into_inner().refuse(server, reason);
        }
    }
}

/// An open, acknowledged stream.
struct Open {
    subscription: Subscription,
    /// The resources it holds (those asked for that the server acknowledged).
    holds: BTreeSet<Arc<str>>,
    since: Instant,
}

/// A stream being opened: the resources asked for, and the stream or why not.
type Opening = BoxFuture<'static, (BTreeSet<Arc<str>>, Result<Subscription, UpstreamError>)>;

/// The listener's task: its wanted resources, its stream, and the next one being opened.
struct Task {
    server: Arc<str>,
    peer: Peer<RoleClient>,
    /// The list changes asked for: what the server declares.
    lists: SubscriptionFilter,
    signals: Signals,
    config: ServerConfig,
    /// The resources the keeper wants listened for.
    wanted: BTreeSet<Arc<str>>,
    /// Who waits for a stream that holds their resource.
    waiting: Vec<(Arc<str>, Reply)>,
    open: Option<Open>,
    opening: Option<Opening>,
    /// The backoff after a stream ended or could not be opened.
    retry: Option<Pin<Box<Sleep>>>,
    ends_in_a_row: u32,
    /// Whether changes may have gone untold since the last stream (there was none): the lists
    /// are fetched again once the next one is acknowledged.
    gap: bool,
}

impl Task {
    fn new(
        server: Arc<str>,
        peer: Peer<RoleClient>,
        config: &ServerConfig,
        lists: SubscriptionFilter,
        signals: Signals,
    ) -> Self {
        Self {
            server,
            peer,
            lists,
            signals,
            config: config.clone(),
            wanted: BTreeSet::new(),
            waiting: Vec::new(),
            open: None,
            opening: None,
            retry: None,
            ends_in_a_row: 0,
            // The lists were fetched before the first stream was asked for.
            gap: true,
        }
    }

    /// Serves until the [`Listener`] is dropped (its connection ended).
    async fn run(mut self, mut asks: mpsc::Receiver<Watch>) {
        loop {
            self.reconcile();
            tokio::select! {
                ask = asks.recv() => match ask {
                    Some(watch) => self.take(watch),
                    None => break,
                },
                (asked, opened) = when(&mut self.opening) => {
                    self.opening = None;
                    self.opened(asked, opened);
                }
                message = next_message(&mut self.open) => self.received(message),
                () = when(&mut self.retry) => self.retry = None,
            }
        }
        tracing::debug!(server = %self.server, "listener stopped");
    }

    /// Takes an ask: a stop is done at once (the stream is amended after); a resource already
    /// held is answered at once, another once a stream holds it.
    fn take(&mut self, watch: Watch) {
        let Watch { uri, on, reply } = watch;
        // Those the keeper stopped waiting for (it gave up in time) need no answer.
        self.waiting.retain(|(_, reply)| !reply.is_closed());
        if !on {
            self.wanted.remove(&uri);
            let _ = reply.send(Ok(()));
            return;
        }
        self.wanted.insert(Arc::clone(&uri));
        if self
            .open
            .as_ref()
            .is_some_and(|open| open.holds.contains(&uri))
        {
            let _ = reply.send(Ok(()));
        } else {
            self.waiting.push((uri, reply));
        }
    }

    /// Opens a stream when the one open does not hold what is wanted (or none is open), unless
    /// one is being opened or a backoff runs; closes it when nothing is wanted any more.
    fn reconcile(&mut self) {
        if self.opening.is_some() || self.retry.is_some() {
            return;
        }
        let anything = self.lists != SubscriptionFilter::default() || !self.wanted.is_empty();
        match &self.open {
            Some(open) if open.holds == self.wanted => {}
            Some(_) if !anything => self.open = None,
            None if !anything => {}
            _ => self.start_opening(),
        }
    }

    fn start_opening(&mut self) {
        let asked = self.wanted.clone();
        let mut filter = self.lists.clone();
        if !asked.is_empty() {
            filter.resource_subscriptions = Some(asked.iter().map(|uri| uri.to_string()).collect());
        }
        let (server, peer) = (Arc::clone(&self.server), self.peer.clone());
        let limit = self.config.start_timeout;
        self.opening = Some(Box::pin(async move {
            let listen = peer.listen_with_capacity(filter, BACKLOG);
            let opened = match tokio::time::timeout(limit, listen).await {
                Ok(Ok(subscription)) => Ok(subscription),
                // The server's refusal keeps its code, as a refused request's does.
                Ok(Err(ServiceError::McpError(error))) => Err(UpstreamError {
                    code: Some(error.code.0),
                    ..UpstreamError::new(
                        &server,
                        format!("refused subscriptions/listen: {}", error.message),
                    )
                }),
                Ok(Err(err)) => Err(UpstreamError::new(
                    &server,
                    format!("subscriptions/listen failed: {err}"),
                )),
                Err(_) => Err(UpstreamError::new(
                    &server,
                    format!(
                        "subscriptions/listen was not acknowledged within start_timeout \
                         ({limit:?})"
                    ),
                )),
            };
            (asked, opened)
        }));
    }

    /// A stream asked for `asked` was acknowledged (it replaces the one open, which is
    /// cancelled), or could not be opened (the one open stays).
    fn opened(&mut self, asked: BTreeSet<Arc<str>>, opened: Result<Subscription, UpstreamError>) {
        let subscription = match opened {
            Ok(subscription) => subscription,
            Err(error) => {
                tracing::warn!(server = %self.server, reason = %error.reason, "no listen stream");
                let refused = self.answer(&asked, &BTreeSet::new(), |_| error.clone());
                self.wanted.retain(|uri| !refused.contains(uri));
                return self.back_off();
            }
        };
        let acknowledged: BTreeSet<&str> = subscription
            .acknowledged()
            .resource_subscriptions
            .iter()
            .flatten()
            .map(String::as_str)
            .collect();
        let (holds, refused): (BTreeSet<Arc<str>>, BTreeSet<Arc<str>>) = asked
            .iter()
            .cloned()
            .partition(|uri| acknowledged.contains(&**uri));
        if !refused.is_empty() {
            tracing::warn!(server = %self.server, ?refused, "resource subscriptions not acknowledged");
        }
        // What the server would not take is no longer asked for (or each stream would ask).
        self.wanted.retain(|uri| !refused.contains(uri));
        let server = Arc::clone(&self.server);
        self.answer(&asked, &holds, |uri| {
            let reason = format!("did not take the subscription to {uri:?}");
            UpstreamError::new(&server, reason)
        });
        tracing::debug!(server = %self.server, resources = holds.len(), "listen stream open");
        self.open = Some(Open {
            subscription,
            holds,
            since: Instant::now(),
        });
        if std::mem::take(&mut self.gap) {
            self.signals.tools_changed();
            self.signals.lists_changed();
        }
    }

    /// Answers those waiting for a resource of `asked`: held if `holds` has it, otherwise
    /// refused (`why`). The resources refused.
    fn answer(
        &mut self,
        asked: &BTreeSet<Arc<str>>,
        holds: &BTreeSet<Arc<str>>,
        why: impl Fn(&str) -> UpstreamError,
    ) -> BTreeSet<Arc<str>> {
        let (answered, waiting) = std::mem::take(&mut self.waiting)
            .into_iter()
            .partition(|(uri, _)| asked.contains(uri));
        self.waiting = waiting;
        let mut refused = BTreeSet::new();
        for (uri, reply) in answered {
            let answer = match holds.contains(&uri) {
                true => Ok(()),
                false => Err(why(&uri)),
            };
            if answer.is_err() {
                refused.insert(uri);
            }
            let _ = reply.send(answer);
        }
        refused
    }

    /// What the stream carried: a change, or its end.
    fn received(&mut self, message: Result<Option<ServerNotification>, ServiceError>) {
        let reason = match message {
            Ok(Some(notification)) => return self.relay(notification),
            Ok(None) => match self.open.as_ref().and_then(|open| open.subscription.end()) {
                Some(end) => format!("{end:?}"),
                None => "it closed".to_owned(),
            },
            Err(err) => err.to_string(),
        };
        let lived = self.open.take().map(|open| open.since.elapsed());
        if lived.is_some_and(|lived| lived >= self.config.restart_backoff_max) {
            self.ends_in_a_row = 0;
        }
        self.gap = true;
        tracing::info!(server = %self.server, %reason, "listen stream ended; opened again after a backoff");
        self.back_off();
    }

    fn relay(&self, notification: ServerNotification) {
        match notification {
            ServerNotification::ToolListChangedNotification(_) => self.signals.tools_changed(),
            ServerNotification::PromptListChangedNotification(_)
            | ServerNotification::ResourceListChangedNotification(_) => {
                self.signals.lists_changed();
            }
            ServerNotification::ResourceUpdatedNotification(updated) => {
                self.signals.resource_updated(updated.params.uri);
            }
            // rmcp passes on nothing else (it ends a stream that carries what was not asked).
            _ => {}
        }
    }

    fn back_off(&mut self) {
        let wait = self.config.backoff(self.ends_in_a_row);
        self.ends_in_a_row = self.ends_in_a_row.saturating_add(1);
        self.retry = Some(Box::pin(tokio::time::sleep(wait)));
    }
}

/// The open stream's next message; never when none is open.
async fn next_message(open: &mut Option<Open>) -> Result<Option<ServerNotification>, ServiceError> {
    match open {
        Some(open) => open.subscription.next().await,
        None => std::future::pending().await,
    }
}
