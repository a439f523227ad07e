//! The daemon's own requests to clients, waiting for their answers: a call's server asked its
//! caller something (`sampling/createMessage`, `elicitation/create`), the request went out on
//! the call's stream, and the answer comes back later as a JSON-RPC response POSTed in the same
//! session. [`PendingAnswers`] is the one actor that knows who waits for which.
//!
//! An answer is matched by session and request id together, so one session's client can never
//! answer another's request; ids are unguessable anyway. The table is bounded, daemon-wide and
//! per session: a request that
//! cannot be registered is refused at once, and each entry goes when its answer arrives, or,
//! once its asker stopped waiting (the call ended), at the next registration.

use std::collections::HashMap;

use actix::prelude::*;
use serde_json::Value;
use tokio::sync::oneshot;
use uuid::Uuid;

use super::jsonrpc::Response;

/// Most requests waiting for an answer in the whole daemon.
pub const MAX_PENDING: usize = 256;

/// Most requests waiting for an answer in one session, so that one session (or the servers its
/// calls reach) cannot take every place.
pub const MAX_PENDING_PER_SESSION: usize = 16;

/// What a client answered: its `result`, or its `error` object.
pub type Answer = Result<Value, Value>;

/// The actor holding every request waiting for a client's answer.
#[derive(Default)]
pub struct PendingAnswers {
    waiting: HashMap<(Uuid, String), oneshot::Sender<Answer>>,
}

impl Actor for PendingAnswers {
    type Context = Context<Self>;
}

/// Wait for the answer to the request `id` (its JSON text) sent in `session`.
#[derive(Message)]
#[rtype(result = "Result<(), Full>")]
pub struct Expect {
    /// The session the request went out in.
    pub session: Uuid,
    /// The request's id, as JSON text.
    pub id: String,
    /// Where the answer goes.
    pub reply: oneshot::Sender<Answer>,
}

/// Too many requests already wait for answers.
#[derive(Debug)]
pub struct Full;

/// A client's answer, POSTed in `session`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Deliver {
    /// The session it came in.
    pub session: Uuid,
    /// The answer.
    pub response: Response,
}

impl Handler<Expect> for PendingAnswers {
    type Result = Result<(), Full>;

    fn handle(&mut self, expect: Expect, _: &mut Self::Context) -> Self::Result {
        // Entries whose asker went away make room first.
        self.waiting.retain(|_, reply| !reply.is_closed());
        let in_session = self
            .waiting
            .keys()
            .filter(|(session, _)| *session == expect.session)
            .count();
        if self.waiting.len() >= MAX_PENDING || in_session >= MAX_PENDING_PER_SESSION {
            return Err(Full);
        }
        self.waiting
            .insert((expect.session, expect.id), expect.reply);
        Ok(())
    }
}

impl Handler<Deliver> for PendingAnswers {
    type Result = ();

    fn handle(&mut self, deliver: Deliver, _: &mut Self::Context) {
        let key = (deliver.session, deliver.response.id.key());
        match self.waiting.remove(&key) {
            Some(reply) => {
                let _ = reply.send(deliver.response.outcome);
            }
            None => tracing::debug!(id = %key.1, "an answer nobody waits for, ignored"),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::mcp::jsonrpc::RequestId;

    fn answer(id: &str) -> Response {
        Response {
            id: RequestId::Text(id.to_owned()),
            outcome: Ok(json!({"ok": true})),
        }
    }

    #[actix_rt::test]
    async fn an_answer_reaches_its_session_only_and_the_table_is_bounded() {
        let pending = PendingAnswers::default().start();
        let (mine, theirs) = (Uuid::new_v4(), Uuid::new_v4());
        let (reply, mut answered) = oneshot::channel();
        let id = RequestId::Text("q".into()).key();
        let expect = Expect {
            session: mine,
            id: id.clone(),
            reply,
        };
        pending.send(expect).await.unwrap().unwrap();
        let forged = Deliver {
            session: theirs,
            response: answer("q"),
        };
        pending.send(forged).await.unwrap();
        assert!(answered.try_recv().is_err(), "another session's answer");
        let real = Deliver {
            session: mine,
            response: answer("q"),
        };
        pending.send(real).await.unwrap();
        assert_eq!(answered.await.unwrap(), Ok(json!({"ok": true})));

        let expect = |session: Uuid, id: &str| {
            let (reply, answer) = oneshot::channel();
            let id = id.to_owned();
            (Expect { session, id, reply }, answer)
        };
        // One session stops at its own bound…
        let mut waiting = Vec::new();
        for n in 0..MAX_PENDING_PER_SESSION {
            let (ask, answer) = expect(mine, &n.to_string());
            pending.send(ask).await.unwrap().unwrap();
            waiting.push(answer);
        }
        let (ask, _answer) = expect(mine, "one too many");
        assert!(pending.send(ask).await.unwrap().is_err());
        // …and the daemon at its own.
        for n in MAX_PENDING_PER_SESSION..MAX_PENDING {
            let (ask, answer) = expect(Uuid::from_u128(n as u128), "q");
            pending.send(ask).await.unwrap().unwrap();
            waiting.push(answer);
        }
        let fresh = Uuid::new_v4();
        let (ask, _answer) = expect(fresh, "over");
        assert!(pending.send(ask).await.unwrap().is_err());
        // An asker that stopped waiting makes room.
        waiting.pop();
        let (ask, _answer) = expect(fresh, "room");
        assert!(pending.send(ask).await.unwrap().is_ok());
    }
}
