//! `TicketBook`: short-lived, single-use permits to follow one session's events.
//!
//! Some followers cannot present a token the usual way (a browser's `EventSource` sends no
//! headers), and a long-lived token must never travel where it could be logged. Instead, a caller
//! that has proved its right to a session trades that proof for a ticket: 256 random bits, bound
//! to that session, good once, for a short while. Whoever presents it first, for that session,
//! before it expires, is let in; any presentation uses it up, right or wrong, so a ticket that
//! leaked into a log is already spent.
//!
//! The book is one actor, so no lock guards it. It is bounded: at most `max_tickets` tickets
//! are outstanding in the daemon and [`MAX_PER_SESSION`] per session, and a timer drops expired
//! ones, so neither a flood of requests nor tickets nobody redeems can grow memory.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use actix::prelude::*;
use uuid::Uuid;

use crate::token::Token;

/// How many unredeemed tickets one session may have at once.
pub const MAX_PER_SESSION: usize = 8;

/// How many requests may wait for the book; senders await room beyond that.
const MAILBOX_CAPACITY: usize = 1024;

/// The shortest interval between two sweeps of expired tickets.
const MIN_SWEEP: Duration = Duration::from_millis(100);

/// The book's bounds, from the daemon's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TicketLimits {
    /// How long a ticket stays good.
    pub ttl: Duration,
    /// How many tickets may be outstanding in the daemon at once.
    pub max_tickets: usize,
}

/// Issue a ticket for session `0`. The caller must already have checked the right to it.
#[derive(Debug, Message)]
#[rtype(result = "Result<IssuedTicket, TicketError>")]
pub struct IssueTicket(pub Uuid);

/// The reply to [`IssueTicket`].
#[derive(Debug, Clone)]
pub struct IssuedTicket {
    /// The ticket, 64 lowercase hex digits: shown once, good once.
    pub ticket: String,
    /// How long it stays good.
    pub expires_in: Duration,
}

/// Why [`IssueTicket`] was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TicketError {
    /// The session already has [`MAX_PER_SESSION`] tickets outstanding.
    #[error("this session already has {0} unused stream tickets; use or let them expire first")]
    TooManyForSession(usize),
    /// The daemon has its maximum of outstanding tickets.
    #[error("the daemon already holds its maximum of {0} stream tickets; try again shortly")]
    TooMany(usize),
}

/// Present `ticket` to follow `session`. Replies whether it is let in; the ticket is used up
/// either way.
#[derive(Debug, Message)]
#[rtype(result = "bool")]
pub struct RedeemTicket {
    /// The ticket as presented.
    pub ticket: String,
    /// The session it is presented for.
    pub session: Uuid,
}

/// An outstanding ticket.
#[derive(Debug)]
struct Entry {
    session: Uuid,
    expires: Instant,
}

/// The actor keeping every outstanding ticket.
pub struct TicketBook {
    limits: TicketLimits,
    /// By ticket text. The map hashes with random keys (SipHash), so lookup time reveals nothing
    /// useful about the tickets it holds.
    tickets: HashMap<String, Entry>,
    /// Outstanding tickets per session.
    per_session: HashMap<Uuid, usize>,
}

impl TicketBook {
    /// An empty book. Start it once per daemon.
    pub fn new(limits: TicketLimits) -> Self {
        Self {
            limits,
            tickets: HashMap::new(),
            per_session: HashMap::new(),
        }
    }

    /// How many tickets are outstanding (expired ones not yet swept included).
    pub fn len(&self) -> usize {
        self.tickets.len()
    }

    /// Whether no ticket is outstanding.
    pub fn is_empty(&self) -> bool {
        self.tickets.is_empty()
    }

    fn remove(&mut self, ticket: &str) -> Option<Entry> {
        let entry = self.tickets.remove(ticket)?;
        if let Some(count) = self.per_session.get_mut(&entry.session) {
            *count -= 1;
            if *count == 0 {
                self.per_session.remove(&entry.session);
            }
        }
        Some(entry)
    }

    /// Drops every ticket that has expired.
    fn sweep(&mut self, now: Instant) {
        self.tickets.retain(|_, entry| entry.expires > now);
        self.per_session.clear();
        for entry in self.tickets.values() {
            *self.per_session.entry(entry.session).or_default() += 1;
        }
    }

    fn issue(&mut self, session: Uuid, now: Instant) -> Result<IssuedTicket, TicketError> {
        if self.tickets.len() >= self.limits.max_tickets
            || self.per_session.get(&session).copied().unwrap_or(0) >= MAX_PER_SESSION
        {
            self.sweep(now);
        }
        if self.per_session.get(&session).copied().unwrap_or(0) >= MAX_PER_SESSION {
            return Err(TicketError::TooManyForSession(MAX_PER_SESSION));
        }
        if self.tickets.len() >= self.limits.max_tickets {
            return Err(TicketError::TooMany(self.limits.max_tickets));
        }
        let ticket = Token::mint().reveal();
        self.tickets.insert(
            ticket.clone(),
            Entry {
                session,
                expires: now + self.limits.ttl,
            },
        );
        *self.per_session.entry(session).or_default() += 1;
        Ok(IssuedTicket {
            ticket,
            expires_in: self.limits.ttl,
        })
    }

    fn redeem(&mut self, ticket: &str, session: Uuid, now: Instant) -> bool {
        self.remove(ticket)
            .is_some_and(|entry| entry.session == session && now < entry.expires)
    }
}

impl Actor for TicketBook {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(MAILBOX_CAPACITY);
        ctx.run_interval(self.limits.ttl.max(MIN_SWEEP), |book, _| {
            book.sweep(Instant::now());
        });
    }
}

impl Handler<IssueTicket> for TicketBook {
    type Result = Result<IssuedTicket, TicketError>;

    fn handle(&mut self, IssueTicket(session): IssueTicket, _: &mut Self::Context) -> Self::Result {
        self.issue(session, Instant::now())
    }
}

impl Handler<RedeemTicket> for TicketBook {
    type Result = bool;

    fn handle(&mut self, msg: RedeemTicket, _: &mut Self::Context) -> bool {
        self.redeem(&msg.ticket, msg.session, Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book(max_tickets: usize) -> TicketBook {
        TicketBook::new(TicketLimits {
            ttl: Duration::from_secs(30),
            max_tickets,
        })
    }

    #[test]
    fn a_ticket_is_good_once_for_its_session_only() {
        let mut book = book(16);
        let now = Instant::now();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let ticket = book.issue(a, now).unwrap().ticket;
        assert_eq!(ticket.len(), 64);
        assert!(book.redeem(&ticket, a, now));
        assert!(!book.redeem(&ticket, a, now), "single use");

        let other = book.issue(a, now).unwrap().ticket;
        assert!(!book.redeem(&other, b, now), "another session's ticket");
        assert!(!book.redeem(&other, a, now), "used up by the wrong try");
        assert!(!book.redeem("", a, now));
        assert!(book.is_empty());
    }

    #[test]
    fn expired_tickets_are_refused_and_swept() {
        let mut book = book(16);
        let now = Instant::now();
        let session = Uuid::new_v4();
        let ticket = book.issue(session, now).unwrap().ticket;
        let later = now + Duration::from_secs(31);
        assert!(!book.redeem(&ticket, session, later));
        book.issue(session, now).unwrap();
        book.sweep(later);
        assert!(book.is_empty());
        assert!(book.per_session.is_empty());
    }

    #[test]
    fn tickets_are_bounded_per_session_and_in_all() {
        let mut book = book(MAX_PER_SESSION + 2);
        let now = Instant::now();
        let greedy = Uuid::new_v4();
        for _ in 0..MAX_PER_SESSION {
            book.issue(greedy, now).unwrap();
        }
        assert_eq!(
            book.issue(greedy, now).unwrap_err(),
            TicketError::TooManyForSession(MAX_PER_SESSION)
        );
        book.issue(Uuid::new_v4(), now).unwrap();
        book.issue(Uuid::new_v4(), now).unwrap();
        assert_eq!(
            book.issue(Uuid::new_v4(), now).unwrap_err(),
            TicketError::TooMany(MAX_PER_SESSION + 2)
        );
        // Once they expire, there is room again.
        let later = now + Duration::from_secs(31);
        assert!(book.issue(greedy, later).is_ok());
        assert_eq!(book.len(), 1);
    }
}
