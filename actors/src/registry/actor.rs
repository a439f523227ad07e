//! `SessionRegistry`: the one actor that knows every session.
//!
//! It maps session ids to the addresses of their [`SessionActor`]s and enforces the limits on how
//! many clients' sessions may live at once and how fast one client address may create them (the
//! daemon's own sessions, which no client can multiply, count against neither). It holds no session
//! state itself: callers (each worker's [`SessionDirectory`](crate::SessionDirectory)) ask it for
//! a session's address once and then talk to that session directly, so the registry is not on
//! the path of most requests, and never a place where requests queue behind tool work. It starts
//! each session's actor on the arbiter it is asked to (the creating worker's).
//!
//! Nor is it on the path of most creations: with a client's session it hands the worker that
//! asked an [`Allowance`], and that worker creates the client's next sessions itself and tells
//! the registry of each (through [`arrivals`](super::arrivals), which wakes nobody). Both limits
//! stay the registry's: it owns the counts the workers take from, decides whenever they have no
//! room, and alone starts windows and drops stopped sessions (see
//! [`admission`](crate::admission)).
//!
//! A session that stops, however it ends, tells the registry to forget it ([`Forget`]). Should
//! that word be lost, a dead session is still dropped when a lookup meets it or when the limit
//! of sessions is reached, so the map never holds sessions that no longer exist for long.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::ArbiterHandle;
use actix::prelude::*;
use uuid::Uuid;

use super::arrivals::{self, Arrivals, Arrived};
use super::messages::{
    Create, CreateCounted, CreateError, CreatedSession, Creator, ListSessions, ListedSession,
    Locate, Lookup, Shutdown,
};
use crate::admission::{Allowance, SessionCount};
use crate::cluster::{ClusterStore, SessionRecord, Unavailable};
use crate::limits::{RegistryLimits, SessionLimits};
use crate::rate_limit::CreationLimiter;
use crate::session::{
    CloseSubscriptions, Forget, LocalStore, SessionActor, SessionStore, StoredSession,
};
use crate::session_metrics::{RefusedReason, RegistryMeters};

/// How many requests may wait for the registry; senders await room beyond that.
const MAILBOX_CAPACITY: usize = 1024;

/// How often the registry takes the sessions workers started, when no message makes it.
const ARRIVALS_PERIOD: Duration = Duration::from_secs(1);

/// The actor owning the id → session map.
pub struct SessionRegistry {
    limits: RegistryLimits,
    sessions: HashMap<Uuid, Addr<SessionActor>>,
    /// Which of `sessions` the daemon created for itself.
    daemon_sessions: HashSet<Uuid>,
    creations: CreationLimiter,
    /// Clients' sessions admitted, here or by workers: the count `max_sessions` bounds.
    admitted: Arc<SessionCount>,
    meters: RegistryMeters,
    /// Where clients' sessions are kept: in this process, or in the cluster's Redis for every
    /// node to find.
    store: Box<dyn SessionStore>,
    /// Handed out with allowances: where workers put the sessions they start.
    arrivals: Arrivals,
    /// The sessions workers started that the map does not hold yet (each counted as created by
    /// its worker).
    arrived: Arrived,
}

impl SessionRegistry {
    /// An empty registry of a daemon alone. Start it once per daemon, outside any per-worker
    /// factory.
    pub fn new(limits: RegistryLimits) -> Self {
        let (arrivals, arrived) = arrivals::channel_pair();
        Self {
            limits,
            sessions: HashMap::new(),
            daemon_sessions: HashSet::new(),
            creations: CreationLimiter::new(limits.create_per_minute),
            admitted: Arc::new(SessionCount::new(limits.max_sessions)),
            meters: RegistryMeters::new(),
            store: Box::new(LocalStore),
            arrivals,
            arrived,
        }
    }

    /// A registry of one node of a cluster: clients' sessions are created in `store`, and a
    /// session another node created is loaded from it the first time a request names it here.
    pub fn in_cluster(limits: RegistryLimits, store: ClusterStore) -> Self {
        Self {
            store: Box::new(store),
            ..Self::new(limits)
        }
    }

    /// The limits a new session of `by` gets, with leave for its worker to admit the same
    /// client's next sessions; or why it may not be created. `counted`: a worker counted it
    /// against the client's window already.
    fn admit(
        &mut self,
        by: Creator,
        unused_timeout: Option<Duration>,
        counted: bool,
    ) -> Result<(SessionLimits, Option<Allowance>), CreateError> {
        let Creator::Client(address) = by else {
            let limits = SessionLimits {
                idle_timeout: None,
                ..self.limits.session
            };
            return Ok((limits, None));
        };
        let window = match counted {
            true => None,
            false => Some(
                self.creations
                    .admit(address, Instant::now())
                    .map_err(|wait| {
                        RegistryMeters::refused(RefusedReason::RateLimited);
                        CreateError::RateLimited {
                            limit: self.limits.create_per_minute,
                            retry_after_secs: wait.as_secs().max(1),
                        }
                    })?,
            ),
        };
        if !self.take_room() {
            RegistryMeters::refused(RefusedReason::TooManySessions);
            return Err(CreateError::TooManySessions(self.limits.max_sessions));
        }
        let allowance = window.filter(|_| self.store.creates_here()).map(|window| {
            let sessions = Arc::clone(&self.admitted);
            Allowance::new(sessions, window, self.limits.session, self.arrivals.clone())
        });
        let limits = SessionLimits {
            unused_timeout,
            ..self.limits.session
        };
        Ok((limits, allowance))
    }

    /// Starts the actor of session `record`, kept in `stored`, on `home` (`None`: the
    /// registry's arbiter), and keeps its address.
    fn start(
        &mut self,
        record: SessionRecord,
        stored: Box<dyn StoredSession>,
        limits: SessionLimits,
        home: Option<ArbiterHandle>,
        ctx: &mut Context<Self>,
    ) -> Addr<SessionActor> {
        let id = record.id;
        let actor = SessionActor::new(record, stored, limits, ctx.address().recipient());
        let session = match home {
            Some(home) => SessionActor::start_in_arbiter(&home, move |_| actor),
            None => actor.start(),
        };
        self.sessions.insert(id, session.clone());
        session
    }

    /// Counts a new session of `by`, whose actor has started (a client's was admitted, so
    /// counted, already).
    fn created(&mut self, id: Uuid, by: Creator) {
        if by == Creator::Daemon {
            self.daemon_sessions.insert(id);
        } else {
            self.meters.created.increment(1);
        }
        self.record_live();
    }

    /// The actor of session `id`: running here, or else loaded from the store (another node
    /// created it). `None` when there is no such session.
    fn find(
        &mut self,
        id: Uuid,
        home: ArbiterHandle,
        ctx: &mut Context<Self>,
    ) -> ActorResponse<Self, Result<Option<Addr<SessionActor>>, Unavailable>> {
        if let Some(session) = self.live(id) {
            return ActorResponse::reply(Ok(Some(session)));
        }
        let loaded = self.store.load(id);
        loaded.reply(self, ctx, move |loaded, registry, ctx| {
            let Some(record) = loaded? else {
                return Ok(None);
            };
            // Another request may have loaded it meanwhile.
            if let Some(session) = registry.live(id) {
                return Ok(Some(session));
            }
            let limits = registry.limits.session;
            let stored = registry.store.open(id, &limits);
            let session = registry.start(record, stored, limits, Some(home), ctx);
            // Admitted by another node: counted here, room or not.
            registry.admitted.add();
            registry.record_live();
            Ok(Some(session))
        })
    }

    /// How many of the sessions clients created.
    fn clients(&self) -> usize {
        self.sessions.len() - self.daemon_sessions.len()
    }

    /// Counts one more client's session if there is room, after dropping any sessions that
    /// stopped unnoticed when there seems to be none.
    fn take_room(&mut self) -> bool {
        if self.admitted.take() {
            return true;
        }
        self.sweep();
        self.admitted.take()
    }

    /// Adds the sessions workers started since last time (see [`arrivals`]). Called first by
    /// every handler, so that nothing is answered without them.
    fn take_arrivals(&mut self) {
        let mut any = false;
        for arrival in self.arrived.take() {
            if arrival.session.connected() {
                self.sessions.insert(arrival.id, arrival.session);
                any = true;
            } else {
                // It stopped already, its place with it.
                self.admitted.release(1);
            }
        }
        if any {
            self.record_live();
        }
    }

    /// Drops the sessions that stopped unnoticed.
    fn sweep(&mut self) {
        let clients = self.clients();
        self.sessions.retain(|_, session| session.connected());
        let sessions = &self.sessions;
        self.daemon_sessions.retain(|id| sessions.contains_key(id));
        self.admitted.release(clients - self.clients());
    }

    /// The actor of session `id`, if it is still running.
    fn live(&mut self, id: Uuid) -> Option<Addr<SessionActor>> {
        let session = self.sessions.get(&id)?;
        if session.connected() {
            return Some(session.clone());
        }
        // It stopped, and its word has not arrived yet (or was lost).
        self.forget(id);
        None
    }

    fn forget(&mut self, id: Uuid) {
        if self.sessions.remove(&id).is_some() && !self.daemon_sessions.remove(&id) {
            self.admitted.release(1);
        }
        self.record_live();
    }

    /// Sets the live-sessions gauge from the map itself, so it cannot drift. A session dropped
    /// unnoticed elsewhere still sends its [`Forget`], which sets it right.
    fn record_live(&self) {
        self.meters.live.set(self.clients() as f64);
    }
}

impl Actor for SessionRegistry {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(MAILBOX_CAPACITY);
        ctx.run_interval(ARRIVALS_PERIOD, |registry, _| registry.take_arrivals());
    }
}

impl SessionRegistry {
    /// Creates a session as `msg` asks, if admitted (`counted`: see [`CreateCounted`]).
    fn create(
        &mut self,
        msg: Create,
        counted: bool,
        ctx: &mut Context<Self>,
    ) -> ActorResponse<Self, Result<CreatedSession, CreateError>> {
        let (limits, allowance) = match self.admit(msg.by, msg.unused_timeout, counted) {
            Ok(admitted) => admitted,
            Err(refused) => return ActorResponse::reply(Err(refused)),
        };
        let (record, token) = SessionRecord::mint(msg.cwd, msg.label);
        let (id, cwd) = (record.id, Arc::clone(&record.cwd));
        let (by, home) = (msg.by, msg.home);
        // The daemon's own sessions serve this node alone: they stay here.
        let store: &dyn SessionStore = match by {
            Creator::Daemon => &LocalStore,
            Creator::Client(_) => &*self.store,
        };
        let stored = store.open(id, &limits);
        let saved = store.create(&record, limits.first_idle_timeout());
        saved.reply(self, ctx, move |saved, registry, ctx| {
            if let Err(err) = saved {
                if by != Creator::Daemon {
                    // Admitted, but never to be: its place is free again.
                    registry.admitted.release(1);
                }
                return Err(Unavailable::from(err).into());
            }
            let session = registry.start(record, stored, limits, home, ctx);
            registry.created(id, by);
            Ok(CreatedSession {
                id,
                token: token.reveal(),
                cwd,
                session,
                allowance,
            })
        })
    }
}

impl Handler<Create> for SessionRegistry {
    type Result = ActorResponse<Self, Result<CreatedSession, CreateError>>;

    fn handle(&mut self, msg: Create, ctx: &mut Self::Context) -> Self::Result {
        self.take_arrivals();
        self.create(msg, false, ctx)
    }
}

impl Handler<CreateCounted> for SessionRegistry {
    type Result = ActorResponse<Self, Result<CreatedSession, CreateError>>;

    fn handle(
        &mut self,
        CreateCounted(msg): CreateCounted,
        ctx: &mut Self::Context,
    ) -> Self::Result {
        self.take_arrivals();
        self.create(msg, true, ctx)
    }
}

impl Handler<Lookup> for SessionRegistry {
    type Result = Option<Addr<SessionActor>>;

    fn handle(&mut self, Lookup(id): Lookup, _: &mut Self::Context) -> Self::Result {
        self.take_arrivals();
        self.live(id)
    }
}

impl Handler<Locate> for SessionRegistry {
    type Result = ActorResponse<Self, Result<Option<Addr<SessionActor>>, Unavailable>>;

    fn handle(&mut self, Locate { id, home }: Locate, ctx: &mut Self::Context) -> Self::Result {
        self.take_arrivals();
        self.find(id, home, ctx)
    }
}

impl Handler<ListSessions> for SessionRegistry {
    type Result = MessageResult<ListSessions>;

    fn handle(&mut self, _: ListSessions, _: &mut Self::Context) -> Self::Result {
        self.take_arrivals();
        self.sweep();
        MessageResult(
            self.sessions
                .iter()
                .map(|(id, session)| ListedSession {
                    id: *id,
                    session: session.clone(),
                    by_daemon: self.daemon_sessions.contains(id),
                })
                .collect(),
        )
    }
}

impl Handler<Forget> for SessionRegistry {
    type Result = ();

    fn handle(&mut self, Forget { id, session }: Forget, _: &mut Self::Context) {
        self.take_arrivals();
        if self
            .sessions
            .get(&id)
            .is_some_and(|known| *known != session)
        {
            // A newer actor of the same session (cluster mode: loaded again since).
            return;
        }
        self.forget(id);
    }
}

impl Handler<Shutdown> for SessionRegistry {
    type Result = ();

    fn handle(&mut self, _: Shutdown, _: &mut Self::Context) {
        self.take_arrivals();
        for session in self.sessions.values() {
            // One message per session, once, at shutdown: not a path input can drive.
            session.do_send(CloseSubscriptions);
        }
    }
}
