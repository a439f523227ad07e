//! Who is subscribed to what, and what must be asked of the servers for it: the keeper's
//! bookkeeping, with no I/O, so that its rules are tested on their own.
//!
//! Each target (a server's resource) is subscribed upstream once, when its first subscriber
//! comes, and unsubscribed when its last one leaves; at most one request about it is in flight
//! at a time, and when that one is answered the book decides whether another is needed (someone
//! came or left meanwhile). A subscriber is answered when its server has subscribed (or refused).
//! A server's new connection holds none of the old one's subscriptions: each of its targets is
//! subscribed again.

use super::asks::{IN_ALL, Key, PER_SUBSCRIBER, Refusal, Reply, ServerKey, Target};
use crate::upstream::error::UpstreamError;
use std::collections::{HashMap, HashSet};

/// A request to send upstream about a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upward {
    /// `resources/subscribe`.
    Subscribe,
    /// `resources/unsubscribe`.
    Unsubscribe,
}

/// One request to send upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Op {
    /// What about.
    pub target: Target,
    /// Which request.
    pub upward: Upward,
}

/// Every subscription.
#[derive(Default)]
pub struct Book {
    /// Each subscriber's targets.
    members: HashMap<Key, HashSet<Target>>,
    targets: HashMap<Target, Entry>,
    /// Subscriptions in all.
    total: usize,
}

/// One target's subscribers, and where its server stands with it.
#[derive(Default)]
struct Entry {
    subscribers: HashSet<Key>,
    /// Subscribers waiting for the server's answer.
    waiting: Vec<(Key, Reply)>,
    /// Whether the server holds the subscription now (as far as the book knows).
    held: bool,
    /// Whether a request about it is in flight.
    busy: bool,
    /// Whether subscribing again is due with nobody waiting: its server has a new connection.
    due: bool,
}

impl Book {
    /// `key` subscribes to `target`; `reply` is answered now, or once the server has answered
    /// the request this returns.
    pub fn join(&mut self, key: Key, target: Target, reply: Reply) -> Option<Op> {
        let held = self.members.get(&key).is_some_and(|m| m.contains(&target));
        if !held {
            if let Err(refusal) = self.room(key) {
                let _ = reply.send(Err(refusal));
                return None;
            }
            self.members.entry(key).or_default().insert(target.clone());
            self.total += 1;
        }
        let entry = self.targets.entry(target.clone()).or_default();
        entry.subscribers.insert(key);
        if entry.held && !entry.busy {
            let _ = reply.send(Ok(()));
            return None;
        }
        entry.waiting.push((key, reply));
        self.reconcile(&target)
    }

    /// Whether `key` may take one more subscription.
    fn room(&self, key: Key) -> Result<(), Refusal> {
        let mine = self.members.get(&key).map_or(0, HashSet::len);
        if mine >= PER_SUBSCRIBER {
            return Err(Refusal::Limit(format!(
                "too many resource subscriptions: this session (or listen stream) already holds \
                 {PER_SUBSCRIBER}, the most it may; unsubscribe from one first"
            )));
        }
        if self.total >= IN_ALL {
            return Err(Refusal::Limit(format!(
                "too many resource subscriptions: the daemon already holds {IN_ALL}, its most; \
                 try again when some end"
            )));
        }
        Ok(())
    }

    /// `key` leaves its subscriptions to `uri`: the requests to send upstream.
    pub fn leave(&mut self, key: Key, uri: &str) -> Vec<Op> {
        let Some(member) = self.members.get_mut(&key) else {
            return Vec::new();
        };
        let left: Vec<Target> = member.extract_if(|target| &*target.uri == uri).collect();
        if member.is_empty() {
            self.members.remove(&key);
        }
        left.iter()
            .filter_map(|target| self.drop_subscriber(key, target))
            .collect()
    }

    /// `key` ended (its session, its stream): every subscription of its goes.
    pub fn end(&mut self, key: Key) -> Vec<Op> {
        let Some(member) = self.members.remove(&key) else {
            return Vec::new();
        };
        member
            .iter()
            .filter_map(|target| self.drop_subscriber(key, target))
            .collect()
    }

    /// Takes `key` off `target`'s subscribers (answering it if it waited: it left meanwhile).
    fn drop_subscriber(&mut self, key: Key, target: &Target) -> Option<Op> {
        self.total -= 1;
        let entry = self.targets.get_mut(target)?;
        entry.subscribers.remove(&key);
        for (_, reply) in extract_waiting(entry, key) {
            let _ = reply.send(Ok(()));
        }
        self.reconcile(target)
    }

    /// The server answered `op` with `result`; `stale` when it has had a new connection since
    /// `op` was sent. The next request to send, if one is needed.
    pub fn done(&mut self, op: &Op, result: Result<(), UpstreamError>, stale: bool) -> Option<Op> {
        let entry = self.targets.get_mut(&op.target)?;
        entry.busy = false;
        match (op.upward, result) {
            (Upward::Subscribe, Ok(())) => {
                // Sent to a connection that is gone: the new one must be asked again.
                entry.held = !stale;
                entry.due = stale;
                for (_, reply) in entry.waiting.drain(..) {
                    let _ = reply.send(Ok(()));
                }
            }
            (Upward::Subscribe, Err(error)) => {
                entry.held = false;
                entry.due = stale;
                let refused: Vec<(Key, Reply)> = entry.waiting.drain(..).collect();
                for (key, reply) in refused {
                    let _ = reply.send(Err(Refusal::Upstream(error.clone())));
                    self.forget(key, &op.target);
                }
                if !stale && self.subscribers(&op.target).next().is_some() {
                    tracing::warn!(server = %error.server, uri = %op.target.uri, reason = %error.reason, "not subscribed again: its updates stop until the server restarts");
                }
            }
            (Upward::Unsubscribe, result) => {
                entry.held = false;
                if let (Err(error), false) = (result, stale) {
                    tracing::warn!(server = %error.server, uri = %op.target.uri, reason = %error.reason, "unsubscribing failed");
                }
            }
        }
        self.reconcile(&op.target)
    }

    /// Takes `target` out of `key`'s subscriptions, whose subscribe was refused.
    fn forget(&mut self, key: Key, target: &Target) {
        if let Some(member) = self.members.get_mut(&key)
            && member.remove(target)
        {
            self.total -= 1;
            if member.is_empty() {
                self.members.remove(&key);
            }
        }
        if let Some(entry) = self.targets.get_mut(target) {
            entry.subscribers.remove(&key);
        }
    }

    /// `server` has a new connection, holding none of its subscriptions: the requests that
    /// subscribe them again.
    pub fn restarted(&mut self, server: &ServerKey) -> Vec<Op> {
        let targets = self.targets_of(server);
        for target in &targets {
            if let Some(entry) = self.targets.get_mut(target) {
                entry.held = false;
                entry.due = true;
            }
        }
        targets
            .iter()
            .filter_map(|target| self.reconcile(target))
            .collect()
    }

    /// `server` is gone (no longer configured, its connection stopped): its subscriptions go
    /// (their subscribers are not told: no notification says so), and whoever waits is told
    /// why.
    pub fn removed(&mut self, server: &ServerKey) {
        for target in self.targets_of(server) {
            let Some(entry) = self.targets.remove(&target) else {
                continue;
            };
            let error = UpstreamError::new(&server.name, "is no longer running");
            for (_, reply) in entry.waiting {
                let _ = reply.send(Err(Refusal::Upstream(error.clone())));
            }
            for key in entry.subscribers {
                if let Some(member) = self.members.get_mut(&key)
                    && member.remove(&target)
                {
                    self.total -= 1;
                    if member.is_empty() {
                        self.members.remove(&key);
                    }
                }
            }
        }
    }

    /// Who is subscribed to `target`.
    pub fn subscribers(&self, target: &Target) -> impl Iterator<Item = &Key> {
        self.targets
            .get(target)
            .into_iter()
            .flat_map(|entry| entry.subscribers.iter())
    }

    /// Whether any subscription to `server` is held or wanted.
    pub fn concerns(&self, server: &ServerKey) -> bool {
        self.targets.keys().any(|target| target.server == *server)
    }

    fn targets_of(&self, server: &ServerKey) -> Vec<Target> {
        self.targets
            .keys()
            .filter(|target| target.server == *server)
            .cloned()
            .collect()
    }

    /// The request `target` needs now, if any (none while one is in flight); a target nobody
    /// holds or wants any more is forgotten.
    fn reconcile(&mut self, target: &Target) -> Option<Op> {
        let entry = self.targets.get_mut(target)?;
        if entry.busy {
            return None;
        }
        let wanted = !entry.subscribers.is_empty();
        let upward = match (wanted, entry.held) {
            (true, false) if entry.due || !entry.waiting.is_empty() => Upward::Subscribe,
            (false, true) => Upward::Unsubscribe,
            (false, false) => {
                self.targets.remove(target);
                return None;
            }
            _ => return None,
        };
        entry.busy = true;
        entry.due = false;
        Some(Op {
            target: target.clone(),
            upward,
        })
    }
}

/// The entries of `entry`'s waiting list that are `key`'s, taken out.
fn extract_waiting(entry: &mut Entry, key: Key) -> Vec<(Key, Reply)> {
    entry
        .waiting
        .extract_if(.., |(waiting, _)| *waiting == key)
        .collect()
}

#[cfg(test)]
mod tests {
    use tokio::sync::oneshot;
    use uuid::Uuid;

    use super::*;

    type Answer = oneshot::Receiver<Result<(), Refusal>>;

    fn server(name: &str) -> ServerKey {
        ServerKey {
            name: name.into(),
            session: None,
        }
    }

    fn target(name: &str, uri: &str) -> Target {
        Target {
            server: server(name),
            uri: uri.into(),
        }
    }

    fn session() -> Key {
        Key::Session(Uuid::new_v4())
    }

    fn op(target: &Target, upward: Upward) -> Op {
        Op {
            target: target.clone(),
            upward,
        }
    }

    /// `key` joins `target`: the request to send, and where its answer comes.
    fn join(book: &mut Book, key: Key, target: &Target) -> (Option<Op>, Answer) {
        let (reply, answer) = oneshot::channel();
        (book.join(key, target.clone(), reply), answer)
    }

    fn answered(answer: &mut Answer) -> Option<Result<(), String>> {
        answer
            .try_recv()
            .ok()
            .map(|result| result.map_err(|refusal| refusal.to_string()))
    }

    fn refused(server: &str) -> Result<(), UpstreamError> {
        Err(UpstreamError::new(&server.into(), "refused the request"))
    }

    #[test]
    fn the_first_subscriber_subscribes_upstream_and_the_last_to_leave_unsubscribes() {
        let mut book = Book::default();
        let doc = target("everything", "demo://doc");
        let (a, b) = (session(), session());
        let (sent, mut first) = join(&mut book, a, &doc);
        assert_eq!(sent, Some(op(&doc, Upward::Subscribe)));
        // A second subscriber while the server has not answered: no second request; both wait.
        let (sent, mut second) = join(&mut book, b, &doc);
        assert_eq!(sent, None);
        assert_eq!(answered(&mut first), None);
        assert_eq!(book.done(&op(&doc, Upward::Subscribe), Ok(()), false), None);
        assert_eq!(answered(&mut first), Some(Ok(())));
        assert_eq!(answered(&mut second), Some(Ok(())));
        assert_eq!(book.subscribers(&doc).count(), 2);
        // Held: a third is answered at once, and one subscriber leaving changes nothing upstream.
        let (sent, mut third) = join(&mut book, session(), &doc);
        assert_eq!((sent, answered(&mut third)), (None, Some(Ok(()))));
        assert!(book.leave(a, "demo://doc").is_empty());
        assert!(book.leave(a, "demo://doc").is_empty(), "twice is nothing");
        // The session that ends and the last one that leaves: unsubscribed, then forgotten.
        assert!(book.leave(b, "demo://doc").is_empty());
        let last = book.subscribers(&doc).copied().next().unwrap();
        assert_eq!(book.end(last), vec![op(&doc, Upward::Unsubscribe)]);
        assert_eq!(
            book.done(&op(&doc, Upward::Unsubscribe), Ok(()), false),
            None
        );
        assert!(book.targets.is_empty() && book.members.is_empty());
        assert_eq!(book.total, 0);
    }

    #[test]
    fn one_coming_while_the_server_unsubscribes_is_subscribed_again_after() {
        let mut book = Book::default();
        let doc = target("s", "u");
        let a = session();
        join(&mut book, a, &doc);
        book.done(&op(&doc, Upward::Subscribe), Ok(()), false);
        assert_eq!(book.leave(a, "u"), vec![op(&doc, Upward::Unsubscribe)]);
        let (sent, mut waiting) = join(&mut book, a, &doc);
        assert_eq!(sent, None, "one request at a time");
        assert_eq!(answered(&mut waiting), None);
        let next = book.done(&op(&doc, Upward::Unsubscribe), Ok(()), false);
        assert_eq!(next, Some(op(&doc, Upward::Subscribe)));
        book.done(&op(&doc, Upward::Subscribe), Ok(()), false);
        assert_eq!(answered(&mut waiting), Some(Ok(())));
    }

    #[test]
    fn a_refusal_reaches_those_who_waited_and_takes_their_places_back() {
        let mut book = Book::default();
        let doc = target("s", "nowhere://x");
        let a = session();
        let (_, mut answer) = join(&mut book, a, &doc);
        assert_eq!(
            book.done(&op(&doc, Upward::Subscribe), refused("s"), false),
            None
        );
        let error = answered(&mut answer).unwrap().unwrap_err();
        assert!(error.contains("MCP server s: refused"), "{error}");
        assert_eq!(book.total, 0);
        assert!(book.targets.is_empty() && book.members.is_empty());
    }

    #[test]
    fn a_new_connection_is_subscribed_again_and_an_answer_from_the_old_one_does_not_count() {
        let mut book = Book::default();
        let (doc, other) = (target("s", "a"), target("t", "a"));
        join(&mut book, session(), &doc);
        join(&mut book, session(), &other);
        book.done(&op(&doc, Upward::Subscribe), Ok(()), false);
        book.done(&op(&other, Upward::Subscribe), Ok(()), false);
        assert_eq!(
            book.restarted(&server("s")),
            vec![op(&doc, Upward::Subscribe)]
        );
        // The old connection answered (or the new one, too early to know): asked again.
        let again = book.done(&op(&doc, Upward::Subscribe), Ok(()), true);
        assert_eq!(again, Some(op(&doc, Upward::Subscribe)));
        assert_eq!(book.done(&op(&doc, Upward::Subscribe), Ok(()), false), None);
        // A refusal of the new connection leaves the subscribers waiting for the next one.
        book.restarted(&server("s"));
        assert_eq!(
            book.done(&op(&doc, Upward::Subscribe), refused("s"), false),
            None
        );
        assert_eq!(book.subscribers(&doc).count(), 1);
        assert_eq!(
            book.restarted(&server("s")),
            vec![op(&doc, Upward::Subscribe)]
        );
    }

    #[test]
    fn subscriptions_are_bounded_per_subscriber_and_in_all() {
        let mut book = Book::default();
        let a = session();
        for n in 0..PER_SUBSCRIBER {
            let (sent, _) = join(&mut book, a, &target("s", &n.to_string()));
            assert!(sent.is_some());
        }
        // The same one again takes no more room.
        let (_, mut again) = join(&mut book, a, &target("s", "0"));
        assert_eq!(
            answered(&mut again),
            None,
            "waits for the server like the first"
        );
        let (sent, mut over) = join(&mut book, a, &target("s", "one more"));
        assert_eq!(sent, None);
        let error = answered(&mut over).unwrap().unwrap_err();
        assert!(error.contains("too many resource subscriptions"), "{error}");
        assert_eq!(book.total, PER_SUBSCRIBER);
        while book.total < IN_ALL {
            join(&mut book, session(), &target("s", "shared"));
        }
        let (_, mut full) = join(&mut book, session(), &target("s", "shared"));
        let error = answered(&mut full).unwrap().unwrap_err();
        assert!(error.contains("the daemon already holds"), "{error}");
        // One ending makes room.
        assert_eq!(book.end(a).len(), 0, "the subscribes are still in flight");
        let (_, mut room) = join(&mut book, session(), &target("s", "shared"));
        assert_eq!(answered(&mut room), None);
    }

    #[test]
    fn a_server_that_is_gone_takes_its_subscriptions_with_it() {
        let mut book = Book::default();
        let doc = target("gone", "u");
        let a = session();
        let (_, mut waiting) = join(&mut book, a, &doc);
        book.removed(&server("gone"));
        let error = answered(&mut waiting).unwrap().unwrap_err();
        assert!(
            error.contains("MCP server gone: is no longer running"),
            "{error}"
        );
        assert_eq!(book.total, 0);
        assert!(book.members.is_empty());
        // Its request's late answer finds nothing.
        assert_eq!(book.done(&op(&doc, Upward::Subscribe), Ok(()), true), None);
        assert!(!book.concerns(&server("gone")));
    }
}
