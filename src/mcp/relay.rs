//! Resumable call streams (revision 2025-11-25, "resumability and redelivery").
//!
//! For a client that negotiated 2025-11-25 or later, a `tools/call` stream outlives its HTTP
//! connection. A [`Relay`] actor owns the call's frames: it numbers them, keeps the recent ones
//! in a buffer bounded in frames and in bytes (the newest frame is always kept, so the final
//! response is there to resume from however large it is), and forwards them to whichever
//! connection is attached. The first connection starts with a priming event (an id and empty
//! data) so the client can resume even before the first real message. When the connection drops,
//! the call goes on; a `GET /mcp` with `Last-Event-ID` attaches a new connection, which first
//! receives every buffered frame after that id, then the live ones, and never a frame of another
//! stream or session. Nobody back within the resume window: the relay stops, dropping the call's
//! stream, which cancels the call.
//!
//! A connection that cannot take a frame (its queue is full, in frames or in bytes) is dropped
//! rather than given a gap: the client resumes from the last frame it got. The final response is
//! therefore never lost while the relay lives, and the relay lives until it has delivered it or
//! the window passes.
//!
//! Event ids read `<stream>-<n>`: the stream part makes them unique across the session's streams
//! and tells a resuming `GET` which relay to ask.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use actix::prelude::*;
use bytestring::ByteString;
use construct_actors::queue_bytes::{self, QueueBytes};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::reply::{CallStream, Frame};

/// One SSE event of a resumable stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// `<stream>-<n>`.
    pub id: String,
    /// A JSON-RPC message; empty for the priming event.
    pub data: ByteString,
}

/// The receiving end a connection streams from.
pub type Connection = mpsc::Receiver<Event>;

/// How a relay is bounded.
#[derive(Debug, Clone, Copy)]
pub struct RelayLimits {
    /// Frames kept for resumption (and queued for a connection).
    pub buffer: usize,
    /// Bytes of frames kept for resumption (and queued for a connection).
    pub buffer_bytes: usize,
    /// How long a call waits, disconnected, for its client to come back.
    pub resume_window: Duration,
}

/// The actor owning one resumable call stream.
pub struct Relay {
    session: Uuid,
    stream: String,
    index: Addr<RelayIndex>,
    limits: RelayLimits,
    /// Frames after the last one dropped from the buffer, oldest first, as (number, data).
    buffer: VecDeque<(u64, ByteString)>,
    /// The bytes of `buffer`'s frames.
    buffered_bytes: usize,
    last: u64,
    /// The attached connection, with the future watching for it to close (which holds a sender
    /// too, so dropping the connection means cancelling it as well).
    live: Option<Live>,
    /// The timer that stops the relay when nobody is attached.
    abandon: Option<SpawnHandle>,
    finished: bool,
}

impl Relay {
    /// Starts a relay for `frames` of a call in `session`, returns the first connection.
    pub fn start(
        session: Uuid,
        frames: CallStream,
        index: Addr<RelayIndex>,
        limits: RelayLimits,
    ) -> Connection {
        let stream = fresh_stream();
        let (mut live, receiver) = Live::channel(limits);
        let priming = Event {
            id: format!("{stream}-0"),
            data: ByteString::new(),
        };
        // A fresh channel has room for the priming event.
        live.offer(priming);
        Relay::create(move |ctx| {
            ctx.add_stream(frames);
            let mut relay = Relay {
                session,
                stream,
                index,
                limits,
                buffer: VecDeque::new(),
                buffered_bytes: 0,
                last: 0,
                live: None,
                abandon: None,
                finished: false,
            };
            relay.attach(live, ctx);
            relay
        });
        receiver
    }

    fn event(&self, number: u64, data: &ByteString) -> Event {
        Event {
            id: format!("{}-{number}", self.stream),
            data: data.clone(),
        }
    }

    /// Makes `live` the live connection (replacing any other) and watches for it to close.
    fn attach(&mut self, mut live: Live, ctx: &mut Context<Self>) {
        self.close_live(ctx);
        if let Some(timer) = self.abandon.take() {
            ctx.cancel_future(timer);
        }
        let closed = live.sender.clone();
        live.watcher = Some(
            ctx.spawn(
                async move { closed.closed().await }
                    .into_actor(self)
                    .map(|(), relay, ctx| relay.detach(ctx)),
            ),
        );
        self.live = Some(live);
        self.settle(ctx);
    }

    /// Ends the live connection's stream (after what it already holds).
    fn close_live(&mut self, ctx: &mut Context<Self>) {
        if let Some(watcher) = self.live.take().and_then(|live| live.watcher) {
            ctx.cancel_future(watcher);
        }
    }

    /// Keeps frame `data` for resumption, forgetting the oldest frames until it fits.
    fn keep(&mut self, data: ByteString) {
        while let Some((_, oldest)) = self.buffer.front()
            && (self.buffer.len() >= self.limits.buffer
                || self.buffered_bytes + data.len() > self.limits.buffer_bytes)
        {
            self.buffered_bytes -= oldest.len();
            self.buffer.pop_front();
        }
        self.buffered_bytes += data.len();
        self.buffer.push_back((self.last, data));
    }

    /// No connection any more: wait for the client to come back, within the window.
    fn detach(&mut self, ctx: &mut Context<Self>) {
        self.close_live(ctx);
        if self.abandon.is_none() {
            self.abandon = Some(ctx.run_later(self.limits.resume_window, |relay, ctx| {
                tracing::debug!(stream = %relay.stream, "resumable call abandoned");
                ctx.stop();
            }));
        }
    }

    /// Once the final frame is out and delivered, the relay has nothing left to do.
    fn settle(&mut self, ctx: &mut Context<Self>) {
        if self.finished && self.live.is_some() {
            // Everything buffered was delivered to this connection (or it would have been
            // dropped): close it so the client sees the stream end, and stop.
            self.close_live(ctx);
            ctx.stop();
        } else if self.live.is_none() && self.abandon.is_none() {
            self.detach(ctx);
        }
    }
}

impl Actor for Relay {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // One registration per admitted call, bounded by the call limits.
        self.index.do_send(Register {
            stream: self.stream.clone(),
            session: self.session,
            relay: ctx.address(),
        });
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        self.index.do_send(Unregister {
            stream: self.stream.clone(),
        });
    }
}

impl StreamHandler<Frame> for Relay {
    fn handle(&mut self, frame: Frame, ctx: &mut Self::Context) {
        let data = match frame {
            Frame::Message(text) => ByteString::from(text),
            Frame::Reconnect => {
                // Close the connection, keep the call: the client polls back with Last-Event-ID.
                self.detach(ctx);
                return;
            }
        };
        self.last += 1;
        let event = self.event(self.last, &data);
        self.keep(data);
        if let Some(live) = &mut self.live
            && !live.offer(event)
        {
            // Full or gone: better no connection than a gap in it.
            self.detach(ctx);
        }
    }

    fn finished(&mut self, ctx: &mut Self::Context) {
        self.finished = true;
        self.settle(ctx);
    }
}

/// To a relay: attach a new connection that resumes after frame `after`.
#[derive(Debug, Message)]
#[rtype(result = "Connection")]
pub struct Resume {
    /// The number of the last frame the client received.
    pub after: u64,
}

impl Handler<Resume> for Relay {
    type Result = MessageResult<Resume>;

    fn handle(&mut self, msg: Resume, ctx: &mut Self::Context) -> Self::Result {
        let (mut live, receiver) = Live::channel(self.limits);
        for (number, data) in self.buffer.iter().filter(|(n, _)| *n > msg.after) {
            // The channel holds the whole buffer, in frames and in bytes.
            live.offer(self.event(*number, data));
        }
        self.attach(live, ctx);
        MessageResult(receiver)
    }
}

/// The relay's end of the attached connection: its queue, bounded like the buffer (in frames
/// and in bytes), and the future watching for it to close.
struct Live {
    sender: mpsc::Sender<Event>,
    bytes: QueueBytes,
    watcher: Option<SpawnHandle>,
}

impl Live {
    /// A connection's queue: room for the whole buffer and the priming event.
    fn channel(limits: RelayLimits) -> (Self, Connection) {
        let (sender, receiver) = mpsc::channel(limits.buffer + 2);
        let live = Self {
            sender,
            bytes: QueueBytes::new(limits.buffer_bytes),
            watcher: None,
        };
        (live, receiver)
    }

    /// Queues `event` if it fits; `false` when the connection is full or gone.
    fn offer(&mut self, event: Event) -> bool {
        self.bytes.settle(queue_bytes::waiting(&self.sender));
        let len = event.data.len();
        if !self.bytes.fits(len) {
            return false;
        }
        let queued = self.sender.try_send(event).is_ok();
        if queued {
            self.bytes.record(len);
        }
        queued
    }
}

/// The one actor that knows every relay by its stream, so that a resuming `GET` can find it.
#[derive(Default)]
pub struct RelayIndex {
    relays: HashMap<String, (Uuid, Addr<Relay>)>,
}

impl Actor for RelayIndex {
    type Context = Context<Self>;
}

#[derive(Message)]
#[rtype(result = "()")]
struct Register {
    stream: String,
    session: Uuid,
    relay: Addr<Relay>,
}

#[derive(Message)]
#[rtype(result = "()")]
struct Unregister {
    stream: String,
}

/// To the index: the relay of `stream`, if it belongs to `session`.
#[derive(Debug, Message)]
#[rtype(result = "Option<Addr<Relay>>")]
pub struct Find {
    /// The stream part of a `Last-Event-ID`.
    pub stream: String,
    /// The session asking; another session's stream is never found.
    pub session: Uuid,
}

impl Handler<Register> for RelayIndex {
    type Result = ();

    fn handle(&mut self, msg: Register, _: &mut Self::Context) {
        self.relays.insert(msg.stream, (msg.session, msg.relay));
    }
}

impl Handler<Unregister> for RelayIndex {
    type Result = ();

    fn handle(&mut self, msg: Unregister, _: &mut Self::Context) {
        self.relays.remove(&msg.stream);
    }
}

impl Handler<Find> for RelayIndex {
    type Result = Option<Addr<Relay>>;

    fn handle(&mut self, msg: Find, _: &mut Self::Context) -> Self::Result {
        match self.relays.get(&msg.stream) {
            Some((owner, relay)) if *owner == msg.session => Some(relay.clone()),
            _ => None,
        }
    }
}

/// A new stream's name: unique, and with no `-` in it (see [`parse_event_id`]).
pub fn fresh_stream() -> String {
    Uuid::new_v4().simple().to_string()
}

/// Splits a `Last-Event-ID` into its stream and frame number.
pub fn parse_event_id(id: &str) -> Option<(String, u64)> {
    let (stream, number) = id.trim().rsplit_once('-')?;
    if stream.is_empty() {
        return None;
    }
    Some((stream.to_owned(), number.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_split_into_stream_and_number() {
        assert_eq!(parse_event_id("abc-7"), Some(("abc".into(), 7)));
        assert_eq!(parse_event_id("a-b-0"), Some(("a-b".into(), 0)));
        assert_eq!(parse_event_id("abc"), None);
        assert_eq!(parse_event_id("-3"), None);
        assert_eq!(parse_event_id("abc-x"), None);
    }
}
