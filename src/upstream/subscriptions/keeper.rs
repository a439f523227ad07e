//! The one task that holds every resource subscription: its [`Book`], the servers it follows,
//! the requests in flight upstream, and each subscriber's streams.
//!
//! It follows every shared server of the current catalog (so that one added, removed or
//! replaced by a reload is followed accordingly: a replaced one is subscribed again), and a
//! session's own server (`scope = "session"`) from its first subscription until none is left
//! or its connection stops.
//!
//! It never waits while handling anything: requests to servers run as futures it polls beside
//! its mailbox, and an update goes to a subscriber's bounded queue with `try_send`, dropped (and
//! logged) when the subscriber is not reading, so that a slow client never holds up a server.

use std::collections::HashMap;
use std::sync::Arc;

use futures::StreamExt as _;
use futures::future::BoxFuture;
use futures::stream::{BoxStream, FuturesUnordered};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, watch};
use tokio_stream::StreamMap;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::asks::{Ask, Key, ServerKey, Subscriber, Target};
use super::book::{Book, Op};
use super::followed::{self, ServerEvent};
use crate::upstream::catalog::Catalog;
use crate::upstream::connection::Upstream;
use crate::upstream::error::UpstreamError;

/// A followed server.
struct Followed {
    upstream: Upstream,
    /// How many times it had become ready when last seen.
    readied: u64,
}

/// A subscriber's way out.
struct Client {
    /// Which holding of the key this is (a session may come back after it ended).
    generation: u64,
    ended: CancellationToken,
    /// Its streams' queues, the newest last: updates go to the newest that is open.
    sinks: Vec<mpsc::Sender<Arc<str>>>,
}

/// A request upstream, answered: the request, the server's connection count when it was
/// sent, and the answer.
type Done = (Op, u64, Result<(), UpstreamError>);

/// The task's state.
pub struct Keeper {
    book: Book,
    catalog: watch::Receiver<Arc<Catalog>>,
    servers: HashMap<ServerKey, Followed>,
    events: StreamMap<ServerKey, BoxStream<'static, ServerEvent>>,
    in_flight: FuturesUnordered<BoxFuture<'static, Done>>,
    clients: HashMap<Key, Client>,
    ends: FuturesUnordered<BoxFuture<'static, (Key, u64)>>,
    generation: u64,
}

impl Keeper {
    /// A keeper following the servers of `catalog`.
    pub fn new(catalog: watch::Receiver<Arc<Catalog>>) -> Self {
        let mut keeper = Self {
            book: Book::default(),
            catalog,
            servers: HashMap::new(),
            events: StreamMap::new(),
            in_flight: FuturesUnordered::new(),
            clients: HashMap::new(),
            ends: FuturesUnordered::new(),
            generation: 0,
        };
        keeper.follow_catalog();
        keeper
    }

    /// Serves until every handle is gone.
    pub async fn run(mut self, mut asks: mpsc::Receiver<Ask>) {
        loop {
            tokio::select! {
                biased;
                changed = self.catalog.changed() => match changed {
                    Ok(()) => self.follow_catalog(),
                    Err(_) => break,
                },
                Some((key, generation)) = self.ends.next(), if !self.ends.is_empty() => {
                    self.ended(key, generation);
                }
                Some((op, readied, result)) = self.in_flight.next(), if !self.in_flight.is_empty() => {
                    let stale = self.servers.get(&op.target.server).is_none_or(|s| s.readied != readied);
                    let next = self.book.done(&op, result, stale);
                    self.send_all(next);
                    self.prune();
                }
                Some((server, event)) = self.events.next(), if !self.events.is_empty() => {
                    self.on_event(&server, event);
                }
                ask = asks.recv() => match ask {
                    Some(ask) => self.answer(ask),
                    None => break,
                },
            }
        }
    }

    fn answer(&mut self, ask: Ask) {
        match ask {
            Ask::Subscribe {
                subscriber,
                upstream,
                uri,
                reply,
            } => {
                let server = self.server_key(&upstream, subscriber.session);
                let key = subscriber.key;
                self.hold(subscriber);
                let op = self.book.join(key, Target { server, uri }, reply);
                self.send_all(op);
            }
            Ask::Unsubscribe { key, uri } => {
                let ops = self.book.leave(key, &uri);
                self.send_all(ops);
            }
            Ask::Attach {
                session,
                ended,
                sink,
            } => {
                let key = Key::Session(session);
                self.hold(Subscriber::session(session, ended));
                if let Some(client) = self.clients.get_mut(&key) {
                    client.sinks.retain(|sink| !sink.is_closed());
                    client.sinks.push(sink);
                }
            }
        }
        self.prune();
    }

    /// How subscriptions of `session` know `upstream`: as a shared server, or else as the
    /// session's own, followed from now on.
    fn server_key(&mut self, upstream: &Upstream, session: Uuid) -> ServerKey {
        let mut key = ServerKey {
            name: Arc::clone(upstream.name()),
            session: None,
        };
        if !self.follows(&key, upstream) {
            // The request's catalog may be newer than the one last followed.
            self.follow_catalog();
        }
        if self.follows(&key, upstream) {
            return key;
        }
        key.session = Some(session);
        if !self.follows(&key, upstream) {
            self.follow(&key, upstream);
        }
        key
    }

    /// Whether `upstream` is the connection followed as `key`.
    fn follows(&self, key: &ServerKey, upstream: &Upstream) -> bool {
        self.servers
            .get(key)
            .is_some_and(|followed| followed.upstream.is(upstream))
    }

    /// Follows `upstream` as `key`; a connection followed as `key` before is replaced by it,
    /// and its subscriptions made again on it.
    fn follow(&mut self, key: &ServerKey, upstream: &Upstream) {
        self.events.insert(key.clone(), followed::events(upstream));
        let followed = Followed {
            upstream: upstream.clone(),
            readied: *upstream.readied().borrow(),
        };
        if self.servers.insert(key.clone(), followed).is_some() {
            let ops = self.book.restarted(key);
            self.send_all(ops);
        }
    }

    /// Stops following `key`, whose subscriptions go.
    fn unfollow(&mut self, key: &ServerKey) {
        self.servers.remove(key);
        self.events.remove(key);
        self.book.removed(key);
    }

    /// Stops following the sessions' own servers that no subscription concerns any more (so
    /// that their connections go with their sessions).
    fn prune(&mut self) {
        let idle: Vec<ServerKey> = self
            .servers
            .keys()
            .filter(|key| key.session.is_some() && !self.book.concerns(key))
            .cloned()
            .collect();
        for key in idle {
            self.servers.remove(&key);
            self.events.remove(&key);
        }
    }

    /// Knows `subscriber` from now on, until it ends.
    fn hold(&mut self, subscriber: Subscriber) {
        let key = subscriber.key;
        if self
            .clients
            .get(&key)
            .is_some_and(|client| !client.ended.is_cancelled())
        {
            return;
        }
        // A session that ended here and came back (cluster mode) starts afresh.
        self.forget(key);
        self.generation += 1;
        let generation = self.generation;
        let ended = subscriber.ended.clone();
        let gone = subscriber.sink.clone();
        self.ends.push(Box::pin(async move {
            match gone {
                Some(sink) => tokio::select! {
                    () = ended.cancelled() => {}
                    () = sink.closed() => {}
                },
                None => ended.cancelled().await,
            }
            (key, generation)
        }));
        let client = Client {
            generation,
            ended: subscriber.ended,
            sinks: subscriber.sink.into_iter().collect(),
        };
        self.clients.insert(key, client);
    }

    fn ended(&mut self, key: Key, generation: u64) {
        if self
            .clients
            .get(&key)
            .is_some_and(|client| client.generation == generation)
        {
            self.forget(key);
            self.prune();
        }
    }

    /// Stops holding `key`: its subscriptions end.
    fn forget(&mut self, key: Key) {
        if self.clients.remove(&key).is_some() {
            let ops = self.book.end(key);
            self.send_all(ops);
        }
    }

    fn on_event(&mut self, server: &ServerKey, event: ServerEvent) {
        match event {
            ServerEvent::Updated(uri) => self.deliver(server, uri),
            ServerEvent::Lagged(lost) => {
                tracing::warn!(server = %server.name, lost, "resource updates lost: the daemon fell behind");
            }
            ServerEvent::Readied(times) => {
                let Some(followed) = self.servers.get_mut(server) else {
                    return;
                };
                if followed.readied != times {
                    followed.readied = times;
                    let ops = self.book.restarted(server);
                    self.send_all(ops);
                }
            }
            ServerEvent::Stopped => self.unfollow(server),
        }
    }

    /// Hands `uri`'s update to each of its subscribers' newest open stream.
    fn deliver(&mut self, server: &ServerKey, uri: Arc<str>) {
        let target = Target {
            server: server.clone(),
            uri,
        };
        for key in self.book.subscribers(&target) {
            let Some(client) = self.clients.get_mut(key) else {
                continue;
            };
            while let Some(sink) = client.sinks.last() {
                match sink.try_send(Arc::clone(&target.uri)) {
                    Ok(()) => break,
                    Err(TrySendError::Full(_)) => {
                        tracing::debug!(server = %server.name, uri = %target.uri, "resource update dropped: its subscriber is not reading");
                        break;
                    }
                    Err(TrySendError::Closed(_)) => {
                        client.sinks.pop();
                    }
                }
            }
        }
    }

    /// Follows the shared servers of the current catalog: new ones, and new connections under
    /// the same name; stops following those it no longer has.
    fn follow_catalog(&mut self) {
        let catalog = Arc::clone(&self.catalog.borrow_and_update());
        let current = catalog.resources().servers();
        let gone: Vec<ServerKey> = self
            .servers
            .keys()
            .filter(|key| key.session.is_none())
            .filter(|key| !current.iter().any(|upstream| *upstream.name() == key.name))
            .cloned()
            .collect();
        for key in gone {
            self.unfollow(&key);
        }
        for upstream in current {
            let key = ServerKey {
                name: Arc::clone(upstream.name()),
                session: None,
            };
            if !self.follows(&key, upstream) {
                self.follow(&key, upstream);
            }
        }
    }

    /// Sends each of `ops` upstream, on the server's current connection.
    fn send_all(&mut self, ops: impl IntoIterator<Item = Op>) {
        for op in ops {
            let Some(followed) = self.servers.get(&op.target.server) else {
                let error = UpstreamError::new(&op.target.server.name, "is no longer running");
                self.in_flight
                    .push(Box::pin(async move { (op, 0, Err(error)) }));
                continue;
            };
            let (upstream, readied) = (followed.upstream.clone(), followed.readied);
            self.in_flight.push(Box::pin(async move {
                let result = followed::send(upstream, &op).await;
                (op, readied, result)
            }));
        }
    }
}
