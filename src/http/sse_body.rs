//! The body of every streamed Server-Sent Events response: whatever events are ready leave in one
//! write.
//!
//! actix-web writes a streamed body to its socket whenever the body has nothing more ready. A
//! body that yields one event per chunk therefore costs one `write` (and one wake-up of the
//! reader) per event, and a socket write costs several times what formatting the event does. When
//! a tool reports in a tight loop, each of a session's followers is woken for every event, and
//! until now wrote each on its own.
//!
//! [`SseBody`] takes every event its stream has ready into one chunk, and, when it finds the first
//! event of a chunk, waits a little before writing it, so that what is published meanwhile joins
//! the chunk. How long is the stream's [`Gather`]:
//!
//! - [`Gather::Turn`]: one turn of the thread's scheduler ([`tokio::task::yield_now`], which
//!   defers the wake-up until the scheduler has run what is queued and polled for I/O). A call's
//!   own stream waits no longer: its client waits on each message, and its final message, which
//!   ends the stream, is written at once.
//! - [`Gather::WhenBusy`]: for the followers of a session. A tool reporting in a tight loop
//!   wakes every follower for every event; the events themselves cost a follower little, its
//!   socket writes are nearly all of its cost (in a profile of 1 000 followers, 73% of the
//!   daemon's CPU was in `send`), and one scheduler turn gathered only 1.6 events per write. So
//!   while a follower is busy (its last write was `recent`ly), a chunk waits a fixed time, and a
//!   burst leaves in a few writes; a dashboard cannot tell a millisecond. An event after a quiet
//!   spell, a dashboard's usual case, waits one turn only, with no added latency and no timer.
//!
//! While a chunk waits, the body keeps taking events from its stream, so its queue keeps room and
//! a follower that keeps reading is not counted as lagging. A chunk is cut at [`MAX_CHUNK`] bytes,
//! and written at once when it is full or the stream has ended.
//!
//! A comment (`: keep-alive`) is sent every keep-alive period, the first one period after the
//! stream opens, to hold idle streams open through proxies and reveal dead peers.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::HttpResponse;
use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::http::StatusCode;
use actix_web::http::header::{
    CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, HeaderName, HeaderValue,
};
use actix_web::web::{Bytes, BytesMut};
use futures::Stream;
use tokio::time::{Instant, Interval, MissedTickBehavior};

/// The most bytes gathered into one chunk before events stop being added: a chunk holds less than
/// this plus one event (an event that alone is larger is written whole). With 1 000 followers
/// gathering at once, 16 MiB plus one event each wait here at most.
const MAX_CHUNK: usize = 16 * 1024;

/// How long a chunk waits, from its first event, for more to join it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gather {
    /// One turn of the thread's scheduler.
    Turn,
    /// `wait` when the last chunk was written less than `recent` ago; one turn otherwise.
    WhenBusy { wait: Duration, recent: Duration },
}

impl Gather {
    /// The wait of a chunk that starts now, the last one having been written at `last_write`.
    fn wait(self, last_write: Option<Instant>) -> Pin<Box<dyn Future<Output = ()>>> {
        match (self, last_write) {
            (Self::WhenBusy { wait, recent }, Some(last)) if last.elapsed() < recent => {
                Box::pin(tokio::time::sleep(wait))
            }
            _ => Box::pin(tokio::task::yield_now()),
        }
    }
}

/// The header that tells reverse proxies not to buffer a stream.
const NO_BUFFERING: HeaderName = HeaderName::from_static("x-accel-buffering");

/// The comment sent on an idle stream.
const KEEP_ALIVE: &[u8] = b": keep-alive\n\n";

/// Something written as one SSE event.
pub trait SseEvent {
    /// Appends the event, with its closing blank line, to `body`.
    fn put(&self, body: &mut BytesMut);
}

impl SseEvent for String {
    /// A plain event: `data` lines only.
    fn put(&self, body: &mut BytesMut) {
        put_event(body, None, None, self);
    }
}

/// A streamed SSE body: the `retry` hint if any, then the events of `S`, each chunk holding what
/// was ready, and keep-alive comments.
pub struct SseBody<S> {
    events: S,
    /// What has been taken from `events` and not yet written.
    chunk: BytesMut,
    gather: Gather,
    /// The wait of the chunk under way for more events (see the module docs).
    waiting: Option<Pin<Box<dyn Future<Output = ()>>>>,
    /// When the last chunk of events was written ([`Gather::WhenBusy`] only).
    last_write: Option<Instant>,
    keep_alive: Interval,
    /// `events` has ended.
    ended: bool,
}

impl<S> SseBody<S>
where
    S: Stream + Unpin,
    S::Item: SseEvent,
{
    /// A body streaming `events`, each chunk gathered for `gather`, with a keep-alive comment
    /// every `keep_alive`.
    pub fn new(events: S, gather: Gather, keep_alive: Duration) -> Self {
        let mut keep_alive = tokio::time::interval_at(Instant::now() + keep_alive, keep_alive);
        keep_alive.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Self {
            events,
            chunk: BytesMut::new(),
            gather,
            waiting: None,
            last_write: None,
            keep_alive,
            ended: false,
        }
    }

    /// First tells the client to wait `retry` before reconnecting.
    pub fn with_retry(mut self, retry: Duration) -> Self {
        put_retry(&mut self.chunk, retry);
        self
    }

    /// Takes every event ready now into the chunk, up to [`MAX_CHUNK`] bytes.
    fn take_ready(&mut self, cx: &mut Context<'_>) {
        while !self.ended && self.chunk.len() < MAX_CHUNK {
            match Pin::new(&mut self.events).poll_next(cx) {
                Poll::Ready(Some(event)) => event.put(&mut self.chunk),
                Poll::Ready(None) => self.ended = true,
                Poll::Pending => return,
            }
        }
    }

    /// Whether the chunk may be written now: it is full, nothing more can come, or it has waited
    /// for more.
    fn waited(&mut self, cx: &mut Context<'_>) -> bool {
        if self.ended || self.chunk.len() >= MAX_CHUNK {
            self.waiting = None;
            return true;
        }
        let (gather, last_write) = (self.gather, self.last_write);
        let waiting = self.waiting.get_or_insert_with(|| gather.wait(last_write));
        if waiting.as_mut().poll(cx).is_pending() {
            return false;
        }
        self.waiting = None;
        // What was published during the wait joins the chunk.
        self.take_ready(cx);
        true
    }
}

impl<S> MessageBody for SseBody<S>
where
    S: Stream + Unpin,
    S::Item: SseEvent,
{
    type Error = Infallible;

    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.get_mut();
        this.take_ready(cx);
        if !this.chunk.is_empty() {
            if !this.waited(cx) {
                return Poll::Pending;
            }
            if matches!(this.gather, Gather::WhenBusy { .. }) {
                this.last_write = Some(Instant::now());
            }
            return Poll::Ready(Some(Ok(std::mem::take(&mut this.chunk).freeze())));
        }
        if this.ended {
            return Poll::Ready(None);
        }
        if this.keep_alive.poll_tick(cx).is_ready() {
            return Poll::Ready(Some(Ok(Bytes::from_static(KEEP_ALIVE))));
        }
        Poll::Pending
    }
}

/// A `200` SSE response with `body`, which reverse proxies must neither buffer nor compress.
pub fn response<B: MessageBody + 'static>(body: B) -> HttpResponse {
    let mut response = HttpResponse::with_body(StatusCode::OK, BoxBody::new(body));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(CONTENT_ENCODING, HeaderValue::from_static("identity"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(NO_BUFFERING, HeaderValue::from_static("no"));
    response
}

/// Appends one SSE event to `body`: `id` and `event` lines if given, then `data` (see
/// [`put_data`]).
pub fn put_event(body: &mut BytesMut, id: Option<&str>, event: Option<&str>, data: &str) {
    if let Some(id) = id {
        put_line(body, b"id: ", id.as_bytes());
    }
    if let Some(event) = event {
        put_line(body, b"event: ", event.as_bytes());
    }
    put_data(body, data);
}

/// Appends one SSE event whose `id` is `prefix` then a number: a session's followers' events
/// (no prefix), written once per follower, and a resumable stream's (`<stream>-`), so the number
/// is written without the formatting machinery.
pub fn put_numbered(body: &mut BytesMut, prefix: &str, number: u64, data: &str) {
    body.extend_from_slice(b"id: ");
    body.extend_from_slice(prefix.as_bytes());
    body.extend_from_slice(itoa::Buffer::new().format(number).as_bytes());
    body.extend_from_slice(b"\n");
    put_data(body, data);
}

/// Appends the `retry` hint: how long a client waits before it reconnects, in milliseconds.
pub fn put_retry(body: &mut BytesMut, retry: Duration) {
    put_line(
        body,
        b"retry: ",
        itoa::Buffer::new().format(retry.as_millis()).as_bytes(),
    );
    body.extend_from_slice(b"\n");
}

/// Appends one `field: value` line.
fn put_line(body: &mut BytesMut, field: &[u8], value: &[u8]) {
    body.extend_from_slice(field);
    body.extend_from_slice(value);
    body.extend_from_slice(b"\n");
}

/// Appends `data` as one `data:` line per line of it, and the blank line that ends the event. A
/// line ends at `\r\n`, `\r` or `\n`, as an EventSource reads it: a bare `\r` left inside a
/// `data:` line would end that line early at the client and cut the event short (an upstream's
/// JSON may carry one as whitespace, verbatim).
fn put_data(body: &mut BytesMut, data: &str) {
    let mut rest = data.as_bytes();
    loop {
        let end = memchr::memchr2(b'\n', b'\r', rest);
        body.extend_from_slice(b"data: ");
        body.extend_from_slice(&rest[..end.unwrap_or(rest.len())]);
        body.extend_from_slice(b"\n");
        let Some(end) = end else { break };
        let crlf = rest[end] == b'\r' && rest.get(end + 1) == Some(&b'\n');
        rest = &rest[end + 1 + usize::from(crlf)..];
    }
    body.extend_from_slice(b"\n");
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use actix_web::body::MessageBody as _;

    use super::*;

    struct Text(&'static str);

    impl SseEvent for Text {
        fn put(&self, body: &mut BytesMut) {
            put_event(body, None, None, self.0);
        }
    }

    fn event_of(data: &str) -> String {
        let mut body = BytesMut::new();
        put_event(&mut body, Some("7"), Some("message"), data);
        String::from_utf8(body.to_vec()).unwrap()
    }

    #[test]
    fn every_line_ending_starts_a_new_data_line() {
        assert_eq!(event_of("{}"), "id: 7\nevent: message\ndata: {}\n\n");
        assert_eq!(
            event_of("a\nb\rc\r\nd"),
            "id: 7\nevent: message\ndata: a\ndata: b\ndata: c\ndata: d\n\n"
        );
        assert_eq!(
            event_of("\r\r\n\n"),
            "id: 7\nevent: message\ndata: \ndata: \ndata: \ndata: \n\n"
        );
        assert_eq!(event_of(""), "id: 7\nevent: message\ndata: \n\n");
    }

    #[test]
    fn a_numbered_event_is_written_as_put_event_writes_it() {
        for (prefix, number, data) in [("", 0, "{}"), ("0f3c-", u64::MAX, "a\r\nb")] {
            let (mut numbered, mut general) = (BytesMut::new(), BytesMut::new());
            put_numbered(&mut numbered, prefix, number, data);
            put_event(&mut general, Some(&format!("{prefix}{number}")), None, data);
            assert_eq!(numbered, general);
        }
    }

    async fn chunks<S>(body: SseBody<S>) -> Vec<Bytes>
    where
        S: Stream + Unpin,
        S::Item: SseEvent,
    {
        let mut body = std::pin::pin!(body);
        let mut chunks = Vec::new();
        while let Some(chunk) = std::future::poll_fn(|cx| body.as_mut().poll_next(cx)).await {
            chunks.push(chunk.unwrap());
        }
        chunks
    }

    #[tokio::test]
    async fn events_ready_together_leave_in_one_chunk_after_the_retry_hint() {
        let events = futures::stream::iter([Text("a"), Text("b\nc")]);
        let body = SseBody::new(events, Gather::Turn, Duration::from_secs(60))
            .with_retry(Duration::from_millis(250));
        assert_eq!(
            chunks(body).await,
            vec![Bytes::from_static(
                b"retry: 250\n\ndata: a\n\ndata: b\ndata: c\n\n"
            )]
        );
    }

    #[tokio::test]
    async fn events_sent_during_the_turn_join_the_chunk() {
        let (sender, receiver) = tokio::sync::mpsc::channel(8);
        let events = tokio_stream::wrappers::ReceiverStream::new(receiver);
        // The publisher sends, lets the follower run, and sends again: the follower, woken by
        // the first event, waits its turn, and the second joins the first.
        let publisher = tokio::spawn(async move {
            sender.send(Text("1")).await.unwrap();
            tokio::task::yield_now().await;
            sender.send(Text("2")).await.unwrap();
        });
        let body = SseBody::new(events, Gather::Turn, Duration::from_secs(60));
        let chunks = chunks(body).await;
        publisher.await.unwrap();
        assert_eq!(chunks, vec![Bytes::from_static(b"data: 1\n\ndata: 2\n\n")]);
    }

    #[tokio::test]
    async fn a_chunk_is_cut_at_its_bound() {
        let big: &'static str = "x".repeat(MAX_CHUNK / 2).leak();
        let events = futures::stream::iter([Text(big), Text(big), Text(big)]);
        let chunks = chunks(SseBody::new(events, Gather::Turn, Duration::from_secs(60))).await;
        assert_eq!(chunks.len(), 2, "two events fill the first chunk");
        assert!(chunks[0].len() >= MAX_CHUNK);
    }

    #[tokio::test(start_paused = true)]
    async fn a_busy_stream_gathers_for_its_wait_and_a_quiet_one_does_not() {
        let (sender, receiver) = tokio::sync::mpsc::channel(1);
        let events = tokio_stream::wrappers::ReceiverStream::new(receiver);
        let gather = Gather::WhenBusy {
            wait: Duration::from_millis(2),
            recent: Duration::from_millis(10),
        };
        let mut body = std::pin::pin!(SseBody::new(events, gather, Duration::from_secs(60)));
        let mut next = async || std::future::poll_fn(|cx| body.as_mut().poll_next(cx)).await;
        // After a quiet spell (here: the stream's start), an event leaves after one turn.
        sender.send(Text("0")).await.unwrap();
        let started = tokio::time::Instant::now();
        assert_eq!(
            next().await.unwrap().unwrap(),
            Bytes::from_static(b"data: 0\n\n")
        );
        assert_eq!(started.elapsed(), Duration::ZERO);
        // Right after a write, a chunk waits 2 ms, taking events meanwhile: with a queue of one,
        // each send waits until the body has taken the event before.
        let publisher = async {
            for text in ["1", "2", "3"] {
                sender.send(Text(text)).await.unwrap();
            }
            std::future::pending::<()>().await;
        };
        let chunk = tokio::select! {
            chunk = next() => chunk,
            () = publisher => unreachable!(),
        };
        assert_eq!(
            chunk.unwrap().unwrap(),
            Bytes::from_static(b"data: 1\n\ndata: 2\n\ndata: 3\n\n")
        );
        assert_eq!(started.elapsed(), Duration::from_millis(2));
        // Quiet again: the next event leaves at once.
        tokio::time::advance(Duration::from_millis(10)).await;
        sender.send(Text("4")).await.unwrap();
        let quiet = tokio::time::Instant::now();
        assert_eq!(
            next().await.unwrap().unwrap(),
            Bytes::from_static(b"data: 4\n\n")
        );
        assert_eq!(quiet.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_stream_gets_a_comment_each_period_and_none_at_once() {
        let events = futures::stream::pending::<Text>();
        let mut body = std::pin::pin!(SseBody::new(events, Gather::Turn, Duration::from_secs(5)));
        let first = tokio::time::timeout(
            Duration::from_secs(4),
            std::future::poll_fn(|cx| body.as_mut().poll_next(cx)),
        )
        .await;
        assert!(first.is_err(), "nothing is sent before one period");
        let comment = std::future::poll_fn(|cx| body.as_mut().poll_next(cx)).await;
        assert_eq!(comment.unwrap().unwrap(), Bytes::from_static(KEEP_ALIVE));
    }
}
