//! What a session's actor does with each message: the same whether the session lives in this
//! process alone or in the cluster's store, since everything that differs is asked of the
//! session's [store](super::store).

use actix::prelude::*;

use super::actor::{Followed, SessionActor};
use super::feed::FeedUpdate;
use super::messages::{
    AuthError, Authenticate, BeginCall, BeginCallError, CancelCall, CloseSubscriptions, Describe,
    EndCall, Publish, SessionInfo, Stop, Subscribe, SubscribeAfter, UpdateSettings,
};
use crate::cluster::{EntryKind, Unavailable};
use crate::event::PublishedEvent;
use crate::subscriber::EndReason;

impl Handler<Authenticate> for SessionActor {
    type Result = ActorResponse<Self, Result<SessionInfo, AuthError>>;

    fn handle(&mut self, msg: Authenticate, ctx: &mut Self::Context) -> Self::Result {
        if !self.token.matches(&msg.token) {
            return ActorResponse::reply(Err(AuthError::Unauthorized));
        }
        self.touch();
        // Which also tells whether the session still exists (in cluster mode, another node may
        // have ended it, or it expired).
        self.refresh()
            .reply(self, ctx, |found, actor, ctx| match found {
                Ok(true) => Ok(actor.info()),
                Ok(false) => {
                    actor.end(EndReason::Expired, ctx);
                    Err(AuthError::Unauthorized)
                }
                Err(err) => Err(Unavailable::from(err).into()),
            })
    }
}

impl Handler<Describe> for SessionActor {
    type Result = MessageResult<Describe>;

    fn handle(&mut self, _: Describe, _: &mut Self::Context) -> Self::Result {
        MessageResult(self.info())
    }
}

impl Handler<Subscribe> for SessionActor {
    type Result = AtomicResponse<Self, Followed>;

    fn handle(&mut self, _: Subscribe, _: &mut Self::Context) -> Self::Result {
        self.follow(None)
    }
}

impl Handler<SubscribeAfter> for SessionActor {
    type Result = AtomicResponse<Self, Followed>;

    fn handle(
        &mut self,
        SubscribeAfter(seen): SubscribeAfter,
        _: &mut Self::Context,
    ) -> Self::Result {
        self.follow(Some(seen))
    }
}

impl Handler<Publish> for SessionActor {
    type Result = ActorResponse<Self, ()>;

    fn handle(&mut self, Publish(event): Publish, ctx: &mut Self::Context) -> Self::Result {
        self.publish(event, ctx)
    }
}

impl Handler<BeginCall> for SessionActor {
    type Result = Result<(), BeginCallError>;

    fn handle(&mut self, msg: BeginCall, ctx: &mut Self::Context) -> Self::Result {
        if self.calls.contains_key(&msg.key) {
            return Err(BeginCallError::DuplicateId(msg.key));
        }
        if self.calls.len() >= self.limits.max_calls {
            return Err(BeginCallError::TooManyCalls(self.limits.max_calls));
        }
        self.calls.insert(msg.key, msg.cancel);
        if !std::mem::replace(&mut self.worked, true) {
            // Put to work: a record in the store now lives as long as the idle timeout says.
            self.keep_alive(ctx);
        }
        Ok(())
    }
}

impl Handler<EndCall> for SessionActor {
    type Result = ();

    fn handle(&mut self, msg: EndCall, ctx: &mut Self::Context) {
        if self.calls.remove(&msg.key).is_some() {
            self.touch();
            // A long call kept the session in use here; in cluster mode the other nodes must
            // see that too, counting the idle time from its end.
            self.keep_alive(ctx);
        }
    }
}

impl Handler<CancelCall> for SessionActor {
    type Result = bool;

    fn handle(&mut self, msg: CancelCall, _: &mut Self::Context) -> bool {
        match self.calls.get(&msg.key) {
            Some(cancel) => {
                cancel.cancel();
                true
            }
            None => false,
        }
    }
}

impl Handler<UpdateSettings> for SessionActor {
    type Result = ActorResponse<Self, ()>;

    fn handle(&mut self, msg: UpdateSettings, ctx: &mut Self::Context) -> Self::Result {
        self.apply(&msg.0);
        // The reply waits for the store, so that a client's next request, on any node, finds
        // the settings there.
        let saved = self.store.save_settings(&msg.0);
        saved.reply(self, ctx, |saved, actor, _| {
            if let Err(err) = saved {
                tracing::warn!(session = %actor.id, "settings kept on this node only: {err}");
            }
        })
    }
}

impl Handler<CloseSubscriptions> for SessionActor {
    type Result = ();

    fn handle(&mut self, _: CloseSubscriptions, ctx: &mut Self::Context) {
        drop(self.take_followers(ctx));
        self.touch();
    }
}

impl Handler<Stop> for SessionActor {
    type Result = AtomicResponse<Self, Result<(), Unavailable>>;

    fn handle(&mut self, _: Stop, _: &mut Self::Context) -> Self::Result {
        // Atomic, so that nothing (such as this node's feed bringing the end entry back) ends
        // the actor before the reply is sent; the actor ends as the reply goes.
        self.store
            .close()
            .reply_atomically(|closed, actor: &mut Self, ctx| {
                closed.map_err(Unavailable::from)?;
                actor.end(EndReason::Closed, ctx);
                Ok(())
            })
    }
}

impl Handler<FeedUpdate> for SessionActor {
    type Result = ();

    fn handle(&mut self, update: FeedUpdate, ctx: &mut Self::Context) {
        match update {
            FeedUpdate::Entries(entries) => {
                for entry in entries {
                    let Some(after) = self.store.advance(entry.seq) else {
                        continue;
                    };
                    if entry.seq > after + 1 {
                        // The stream no longer held the ones in between (this node read it
                        // too late): every follower is told how many it will never get.
                        self.offer_all(ctx, |queue| queue.lost(after, entry.seq));
                    }
                    match entry.kind {
                        EntryKind::Event(json) => {
                            self.deliver(&PublishedEvent::from_stream(entry.seq, json), ctx);
                        }
                        EntryKind::End(reason) => return self.end(reason, ctx),
                    }
                }
            }
            FeedUpdate::Gone => self.end(EndReason::Expired, ctx),
            FeedUpdate::Lost(err) => {
                tracing::warn!(session = %self.id, "closing this node's event streams: {err}");
                drop(self.take_followers(ctx));
                self.store.stop_feed();
            }
        }
    }
}
