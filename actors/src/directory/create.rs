//! How a worker's [`SessionDirectory`] creates sessions: by itself when the registry has given it
//! leave to, through the registry otherwise.
//!
//! A client's session made by the registry comes with an
//! [`Allowance`](crate::admission::Allowance) for this worker. While it lasts and has room, the
//! same client's next sessions are made here, without leaving the worker's thread: their id and
//! token are drawn here, their actor starts here, and the registry is told through its
//! [`Arrivals`], which wakes nobody. Anything the allowance cannot admit (another client, a window
//! that ended or is used up, a daemon without room) goes to the registry, which decides it as it
//! always has and starts the session on this worker. The limits are the registry's either way
//! (see [`admission`](crate::admission)).

use std::sync::Arc;
use std::time::Instant;

use actix::fut::wrap_future;
use actix::prelude::*;

use super::actor::SessionDirectory;
use crate::admission::Admission;
use crate::cluster::SessionRecord;
use crate::limits::{ASK_TIMEOUT, SessionLimits};
use crate::registry::{Arrivals, Create, CreateCounted, CreateError, CreatedSession, Creator};
use crate::session::{LocalStore, SessionActor, SessionStore as _};

/// The registry's answer to a creation handed to it.
type Referred = Result<Result<CreatedSession, CreateError>, MailboxError>;

impl SessionDirectory {
    /// Makes the session `msg` asks for here, admitted with `limits` by this worker's allowance,
    /// announces it to the registry through `arrivals`, and remembers it.
    fn create_here(
        &mut self,
        msg: Create,
        limits: SessionLimits,
        arrivals: &Arrivals,
    ) -> CreatedSession {
        let limits = SessionLimits {
            unused_timeout: msg.unused_timeout,
            ..limits
        };
        let (record, token) = SessionRecord::mint(msg.cwd, msg.label);
        let (id, cwd) = (record.id, Arc::clone(&record.cwd));
        let stored = LocalStore.open(id, &limits);
        let forget = self.registry.clone().recipient();
        let session = SessionActor::new(record, stored, limits, forget).start();
        // Before the client hears of it, so that the registry knows it before any request
        // naming it can reach the registry.
        arrivals.announce(id, session.clone());
        self.created.increment(1);
        // Its client's next requests usually come to this worker: they find it here.
        self.known.remember(id, &session);
        CreatedSession {
            id,
            token: token.reveal(),
            cwd,
            session,
            allowance: None,
        }
    }

    /// Hands the creation `msg` to the registry (`counted`: see [`CreateCounted`]), the session
    /// to run on this worker; keeps the allowance that comes back with it.
    fn refer(
        &self,
        mut msg: Create,
        counted: bool,
    ) -> ActorResponse<Self, Result<CreatedSession, CreateError>> {
        msg.home = Some(Arbiter::current());
        let client = match msg.by {
            Creator::Client(address) => Some(address),
            Creator::Daemon => None,
        };
        let asked: std::pin::Pin<Box<dyn Future<Output = Referred>>> = match counted {
            true => Box::pin(self.registry.send(CreateCounted(msg)).timeout(ASK_TIMEOUT)),
            false => Box::pin(self.registry.send(msg).timeout(ASK_TIMEOUT)),
        };
        ActorResponse::r#async(
            wrap_future(asked).map(move |answer, directory: &mut Self, _| {
                let mut created = answer.map_err(|_| CreateError::Unanswered)??;
                directory.known.remember(created.id, &created.session);
                if let (Some(client), Some(allowance)) = (client, created.allowance.take()) {
                    directory.allowances.keep(client, allowance, Instant::now());
                }
                Ok(created)
            }),
        )
    }
}

impl Handler<Create> for SessionDirectory {
    type Result = ActorResponse<Self, Result<CreatedSession, CreateError>>;

    fn handle(&mut self, msg: Create, _: &mut Self::Context) -> Self::Result {
        let admission = match msg.by {
            Creator::Client(address) => self.allowances.admit(address, Instant::now()),
            Creator::Daemon => Admission::ByRegistry { counted: false },
        };
        match admission {
            Admission::Here(limits, arrivals) => {
                ActorResponse::reply(Ok(self.create_here(msg, limits, &arrivals)))
            }
            Admission::ByRegistry { counted } => self.refer(msg, counted),
        }
    }
}
