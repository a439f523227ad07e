//! The response to a stream of frames: a `tools/call`'s, or a `subscriptions/listen`'s.
//!
//! Most calls have ended by the time their response is due (an echo, a read, a quick command:
//! the call's task is polled once before the handler goes on, see `crate::mcp::call::run`). Such
//! a call is answered with one complete SSE body of known length, written in one piece, exactly
//! as its events would have been streamed: for a 2025-11-25 session the `retry` hint, the priming
//! event and an id on every event, for others plain `data:` events. No relay is started for it: a
//! resumable stream that is already over has nothing left to resume, and the client, which has
//! the final response, has no reason to come back.
//!
//! A stream still running when its response is due is streamed as it comes, after the frames
//! already taken from it. A resumable one is handed to a [`Relay`], which keeps it alive across
//! connections; a plain one ends with its connection.

use std::time::Duration;

use actix_web::HttpResponse;
use actix_web::web::{Bytes, BytesMut};
use futures::{FutureExt as _, StreamExt as _};
use tokio_stream::wrappers::ReceiverStream;
use uuid::Uuid;

use super::AppState;
use super::sse_body::{self, Gather, SseBody, SseEvent, put_event, put_numbered, put_retry};
use crate::mcp::relay::{self, Relay, RelayLimits};
use crate::mcp::reply::{CallStream, Frame};

/// Longest a stream's response waits for its first frame before sending its head alone (see
/// [`first_ready`]).
const FIRST_EVENT_WAIT: Duration = Duration::from_millis(20);

/// Most frames taken from a stream before its response is made (the call's notice queue bounds
/// them already; this bounds the body written at once whatever that queue's size).
const MAX_AHEAD: usize = 64;

/// The response to `frames` of a call in `session`: one complete body if the stream has ended by
/// now, else a stream (`resumable`: through a relay).
pub async fn respond(
    state: &AppState,
    session: Uuid,
    frames: CallStream,
    resumable: bool,
) -> HttpResponse {
    let ahead = Ahead::take(frames).await;
    match (ahead.rest, resumable) {
        (None, false) => sse_body::response(plain_body(&ahead.frames)),
        (None, true) => {
            let retry = state.config.mcp.retry;
            sse_body::response(resumable_body(&relay::fresh_stream(), retry, &ahead.frames))
        }
        (Some(rest), false) => {
            let frames = futures::stream::iter(ahead.frames).chain(rest);
            plain_response(state, frames).await
        }
        (Some(rest), true) => {
            let limits = RelayLimits {
                buffer: state.config.sessions.call_queue,
                buffer_bytes: state.config.mcp.resume_buffer_bytes,
                resume_window: state.config.mcp.resume_window,
            };
            let frames = futures::stream::iter(ahead.frames)
                .chain(rest)
                .boxed_local();
            let connection = Relay::start(session, frames, state.relays.clone(), limits);
            resumable_response(state, connection).await
        }
    }
}

/// The frames of a stream that were ready when its response was due, and the rest of it.
struct Ahead {
    frames: Vec<Frame>,
    /// `None`: the stream has ended.
    rest: Option<CallStream>,
}

impl Ahead {
    /// Waits up to [`FIRST_EVENT_WAIT`] for the first frame of `stream`, then takes every frame
    /// ready at once after it, up to [`MAX_AHEAD`] and up to a `Reconnect`, which the stream's
    /// response must act on.
    async fn take(mut stream: CallStream) -> Self {
        let mut frames = Vec::new();
        // Polled at once first: a call that has ended needs no timer.
        let mut next = match stream.next().now_or_never() {
            Some(next) => next,
            // `next` is cancel-safe: an item not ready when the wait ends stays in the stream.
            None => match tokio::time::timeout(FIRST_EVENT_WAIT, stream.next()).await {
                Ok(next) => next,
                Err(_) => return Self::running(frames, stream),
            },
        };
        loop {
            let Some(frame) = next else {
                return Self { frames, rest: None };
            };
            let reconnect = frame == Frame::Reconnect;
            frames.push(frame);
            if reconnect || frames.len() >= MAX_AHEAD {
                return Self::running(frames, stream);
            }
            match stream.next().now_or_never() {
                Some(item) => next = item,
                None => return Self::running(frames, stream),
            }
        }
    }

    fn running(frames: Vec<Frame>, rest: CallStream) -> Self {
        Self {
            frames,
            rest: Some(rest),
        }
    }
}

/// Every message of `frames` as a plain SSE event, as [`plain_response`] streams them.
fn plain_body(frames: &[Frame]) -> Bytes {
    let mut body = BytesMut::with_capacity(body_capacity(frames));
    for frame in frames {
        frame.put(&mut body);
    }
    body.freeze()
}

/// The whole of a resumable stream named `stream` that has already ended, as
/// [`resumable_response`] and its relay would have streamed it: the `retry` hint, the priming
/// event, then every message with its id.
fn resumable_body(stream: &str, retry: Duration, frames: &[Frame]) -> Bytes {
    let mut body = BytesMut::with_capacity(body_capacity(frames) + 64 + frames.len() * 48);
    put_retry(&mut body, retry);
    let mut prefix = String::with_capacity(stream.len() + 1);
    prefix.push_str(stream);
    prefix.push('-');
    put_numbered(&mut body, &prefix, 0, "");
    let messages = frames.iter().filter_map(|frame| match frame {
        Frame::Message(text) => Some(text),
        Frame::Reconnect => None,
    });
    for (number, text) in (1..).zip(messages) {
        put_numbered(&mut body, &prefix, number, text);
    }
    body.freeze()
}

fn body_capacity(frames: &[Frame]) -> usize {
    frames
        .iter()
        .map(|frame| match frame {
            Frame::Message(text) => text.len() + 16,
            Frame::Reconnect => 0,
        })
        .sum()
}

/// A stream that ends with its connection: no ids, as Construct clients have always read it.
async fn plain_response(
    state: &AppState,
    frames: impl futures::Stream<Item = Frame> + Unpin + 'static,
) -> HttpResponse {
    let frames = first_ready(frames).await.boxed_local();
    sse_body::response(SseBody::new(
        frames,
        Gather::Turn,
        state.config.server.keep_alive,
    ))
}

/// One connection of a resumable stream: ids on every event, and a `retry` hint.
pub async fn resumable_response(state: &AppState, connection: relay::Connection) -> HttpResponse {
    let events = first_ready(ReceiverStream::new(connection))
        .await
        .boxed_local();
    sse_body::response(
        SseBody::new(events, Gather::Turn, state.config.server.keep_alive)
            .with_retry(state.config.mcp.retry),
    )
}

/// `stream`, once its first item is ready or [`FIRST_EVENT_WAIT`] has passed.
///
/// A response's head is written as soon as the handler returns it. Returned before a short call
/// has produced anything, the head and the call's events leave in separate writes (two segments
/// and two wake-ups of the client, with `TCP_NODELAY`); returned with the first event ready, the
/// head, the events and the stream's end leave together. A longer call only has its head delayed,
/// never its events.
async fn first_ready<S>(stream: S) -> impl futures::Stream<Item = S::Item> + 'static
where
    S: futures::Stream + Unpin + 'static,
{
    let mut stream = stream.fuse();
    // `next` is cancel-safe: an item not ready when the wait ends stays in the stream.
    let first = tokio::time::timeout(FIRST_EVENT_WAIT, stream.next())
        .await
        .ok()
        .flatten();
    futures::stream::iter(first).chain(stream)
}

impl SseEvent for Frame {
    /// A message as a plain event; a `Reconnect` is acted on, not written.
    fn put(&self, body: &mut BytesMut) {
        if let Frame::Message(text) = self {
            put_event(body, None, None, text);
        }
    }
}

impl SseEvent for relay::Event {
    fn put(&self, body: &mut BytesMut) {
        put_event(body, Some(&self.id), None, &self.data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(text: &str) -> Frame {
        Frame::Message(text.to_owned())
    }

    #[test]
    fn a_plain_body_holds_each_message_as_an_event() {
        let body = plain_body(&[message("{\"a\":1}"), Frame::Reconnect, message("x\ny")]);
        assert_eq!(&body[..], b"data: {\"a\":1}\n\ndata: x\ndata: y\n\n");
    }

    #[test]
    fn a_resumable_body_is_primed_and_numbered_as_a_relay_streams_it() {
        let body = resumable_body(
            "s",
            Duration::from_millis(250),
            &[message("{\"p\":1}"), message("{\"r\":2}")],
        );
        assert_eq!(
            &body[..],
            &b"retry: 250\n\nid: s-0\ndata: \n\nid: s-1\ndata: {\"p\":1}\n\nid: s-2\ndata: {\"r\":2}\n\n"[..]
        );
    }

    #[actix_web::test]
    async fn an_ended_stream_is_taken_whole_and_a_running_one_is_not() {
        let ended = futures::stream::iter([message("1"), message("2")]).boxed_local();
        let ahead = Ahead::take(ended).await;
        assert_eq!(ahead.frames.len(), 2);
        assert!(ahead.rest.is_none());

        let running = futures::stream::iter([message("1")])
            .chain(futures::stream::pending())
            .boxed_local();
        let ahead = Ahead::take(running).await;
        assert_eq!(ahead.frames, vec![message("1")]);
        assert!(ahead.rest.is_some());

        let reconnect = futures::stream::iter([Frame::Reconnect, message("late")]).boxed_local();
        let ahead = Ahead::take(reconnect).await;
        assert_eq!(ahead.frames, vec![Frame::Reconnect]);
        assert!(
            ahead.rest.is_some(),
            "the rest waits for the resumed stream"
        );
    }
}
