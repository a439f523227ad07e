//! Streams that never lose silently, and sessions that end: resuming with `Last-Event-ID`, lag
//! notices, `session-ended`, idle expiry, `DELETE /session/{id}`, the limits on creating
//! sessions, and memory that stays bounded whatever a follower does. All over real HTTP.

mod common;

use std::time::{Duration, Instant};

use common::{Daemon, Events, Item, Session, WAIT, error_text, next_event, next_item, sse};
use serde_json::{Value, json};

/// The tests that push thousands of events take turns, so that on a small machine each one's
/// reader has the CPU it needs to keep up.
static BULK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// What a follower got, checked as it arrived: every event came in order, and every gap
/// between two events was announced, exactly, by the lag notices just before the second.
#[derive(Debug, Default)]
struct Followed {
    /// Events received.
    received: u64,
    /// Events counted in lag notices.
    missed: u64,
    /// How many lag notices.
    notices: u64,
    /// The id of the last event received.
    last_id: u64,
}

impl Followed {
    /// Reads `stream` until the events up to `last` are all received or counted as missed.
    async fn read_until(&mut self, stream: &mut Events, last: u64) {
        let mut announced = 0;
        while self.last_id + announced < last {
            match next_item(stream).await.expect("the stream is still open") {
                Item::Event(id, _) => {
                    assert_eq!(id, self.last_id + announced + 1, "no gap, no duplicate");
                    self.last_id = id;
                    self.received += 1;
                    announced = 0;
                }
                Item::Lagged(missed) => {
                    assert!(missed > 0);
                    announced += missed;
                    self.missed += missed;
                    self.notices += 1;
                }
                Item::Ended(reason) => panic!("the session ended ({reason}) too early"),
            }
        }
        // The last events may have been missed too: then the last notice counts them.
        self.last_id += announced;
    }
}

/// Runs `sleep` in `session`: `steps` progress events in `duration_ms`, each carrying `token`.
async fn sleep_call(daemon: &Daemon, session: &Session, steps: u64, duration_ms: u64, token: &str) {
    let messages = daemon
        .call(
            session,
            "sleep",
            json!({"duration_ms": duration_ms, "steps": steps}),
            json!({"progressToken": token}),
        )
        .await;
    assert_eq!(messages.last().unwrap()["result"]["isError"], false);
}

/// Opens the events stream of `session`, resuming after `last_event_id` when given.
async fn follow(daemon: &Daemon, session: &Session, last_event_id: Option<&str>) -> Events {
    let response = daemon.follow_from(session, last_event_id).await;
    assert_eq!(response.status(), 200);
    sse(response)
}

/// A progress token this long makes each event about this many bytes, so that a follower that
/// does not read fills the connection's buffers, and then its own queue, with few events. It is
/// over the default `mcp.max_progress_token_bytes`: daemons given it raise that with
/// [`BULKY_TOKENS`].
fn bulky_token() -> String {
    "x".repeat(8 * 1024)
}

/// The configuration that lets [`bulky_token`] through.
const BULKY_TOKENS: &str = "[mcp]\nmax_progress_token_bytes = 16384\n";

/// `POST /mcp` `tools/list` as `session`: its status.
async fn mcp_status(daemon: &Daemon, session: &Session) -> u16 {
    let request = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    daemon.mcp(session, request).await.status().as_u16()
}

/// Everything a session that ended answers: `401`, as for an unknown one.
async fn assert_ended(daemon: &Daemon, session: &Session) {
    assert_eq!(daemon.describe_status(session).await, 401);
    assert_eq!(mcp_status(daemon, session).await, 401);
    let events = daemon.follow_from(session, None).await;
    assert_eq!(events.status(), 401);
    let delete = daemon.delete_session(&session.id, &session.token).await;
    assert_eq!(delete.status(), 401);
}

#[tokio::test]
async fn a_follower_resuming_with_last_event_id_gets_no_gap_and_no_duplicate() {
    let daemon = Daemon::start("");
    let session = daemon.session().await;
    let mut first = follow(&daemon, &session, None).await;
    daemon.wait_for_subscribers(&session, 1).await;
    sleep_call(&daemon, &session, 5, 50, "one").await;
    let mut seen = Followed::default();
    seen.read_until(&mut first, 3).await;
    drop(first);
    daemon.wait_for_subscribers(&session, 0).await;
    // Published while nobody follows.
    sleep_call(&daemon, &session, 4, 40, "two").await;

    let mut resumed = follow(&daemon, &session, Some(&seen.last_id.to_string())).await;
    let mut expected = (4..=5).map(|p| ("one", p)).collect::<Vec<_>>();
    expected.extend((1..=4).map(|p| ("two", p)));
    for (id, (token, progress)) in (4..).zip(expected) {
        let item = next_item(&mut resumed).await.unwrap();
        let Item::Event(got, data) = item else {
            panic!("expected event {id}, got {item:?}");
        };
        assert_eq!(got, id);
        let data: Value = serde_json::from_str(&data).unwrap();
        assert_eq!(
            (
                data["token"].as_str().unwrap(),
                data["progress"].as_u64().unwrap()
            ),
            (token, progress)
        );
    }
    // Then it goes on live.
    sleep_call(&daemon, &session, 2, 20, "three").await;
    for id in 10..=11 {
        assert!(matches!(next_item(&mut resumed).await, Some(Item::Event(got, _)) if got == id));
    }
}

#[tokio::test]
async fn resuming_from_before_the_history_is_told_how_many_events_were_lost() {
    let daemon = Daemon::start("[sessions]\nhistory = 5\n");
    let session = daemon.session().await;
    sleep_call(&daemon, &session, 12, 0, "old").await;
    let mut resumed = follow(&daemon, &session, Some("2")).await;
    assert_eq!(next_item(&mut resumed).await, Some(Item::Lagged(5)));
    for id in 8..=12 {
        assert!(matches!(next_item(&mut resumed).await, Some(Item::Event(got, _)) if got == id));
    }
}

#[tokio::test]
async fn a_malformed_last_event_id_is_a_400() {
    let daemon = Daemon::start("");
    let session = daemon.session().await;
    for bad in ["abc", "-1", "1.5", ""] {
        let response = daemon.follow_from(&session, Some(bad)).await;
        assert_eq!(response.status(), 400, "{bad:?}");
        assert!(error_text(response).await.contains("Last-Event-ID"));
    }
}

#[tokio::test]
async fn the_events_stream_tells_clients_how_soon_to_reconnect() {
    let daemon = Daemon::start("[sessions]\nretry = \"250ms\"\n");
    let session = daemon.session().await;
    let response = daemon.follow_from(&session, None).await;
    let mut body = response.bytes_stream();
    let first = tokio::time::timeout(WAIT, futures::StreamExt::next(&mut body))
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(first.starts_with(b"retry: 250\n"), "{first:?}");
}

// Two threads: the fast reader must not wait while the test reads the call's own stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_follower_is_told_what_it_missed_while_a_fast_one_gets_everything() {
    let _turn = BULK.lock().await;
    let daemon = Daemon::start(&format!(
        "[sessions]\nsubscriber_queue = 512\n{BULKY_TOKENS}"
    ));
    let session = daemon.session().await;
    let mut slow = follow(&daemon, &session, None).await;
    let mut fast = follow(&daemon, &session, None).await;
    daemon.wait_for_subscribers(&session, 2).await;
    const EVENTS: u64 = 4000;
    let fast_reader = tokio::spawn(async move {
        let mut seen = Followed::default();
        seen.read_until(&mut fast, EVENTS).await;
        seen
    });
    // 8 KiB events, one a millisecond: they fill the slow one's connection, then its queue.
    sleep_call(&daemon, &session, EVENTS, EVENTS, &bulky_token()).await;
    let fast = fast_reader.await.unwrap();
    assert_eq!((fast.received, fast.notices), (EVENTS, 0), "{fast:?}");

    let mut seen = Followed::default();
    seen.read_until(&mut slow, EVENTS).await;
    assert!(seen.notices > 0 && seen.missed > 0, "{seen:?}");
    assert_eq!(seen.received + seen.missed, EVENTS);
}

#[tokio::test]
async fn an_idle_session_expires_its_stalled_followers_hear_it_and_it_answers_401() {
    let _turn = BULK.lock().await;
    let daemon = Daemon::start(&format!(
        "[sessions]\nidle_timeout = \"1s\"\nsubscriber_queue = 16\n{BULKY_TOKENS}"
    ));
    let session = daemon.session().await;
    let mut stalled = follow(&daemon, &session, None).await;
    daemon.wait_for_subscribers(&session, 1).await;
    const EVENTS: u64 = 4000;
    sleep_call(&daemon, &session, EVENTS, 0, &bulky_token()).await;
    // A follower that stopped reading keeps nobody's session alive. Touch nothing meanwhile.
    tokio::time::sleep(Duration::from_secs(4)).await;

    let mut seen = Followed::default();
    seen.read_until(&mut stalled, EVENTS).await;
    assert!(seen.missed > 0, "{seen:?}");
    assert_eq!(
        next_item(&mut stalled).await,
        Some(Item::Ended("expired".into()))
    );
    assert_eq!(next_item(&mut stalled).await, None);
    assert_ended(&daemon, &session).await;
}

#[tokio::test]
async fn an_unused_session_expires() {
    let daemon = Daemon::start("[sessions]\nidle_timeout = \"1s\"\n");
    let session = daemon.session().await;
    assert_eq!(daemon.describe_status(&session).await, 200);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_ended(&daemon, &session).await;
}

#[tokio::test]
async fn an_open_events_stream_keeps_its_session_alive() {
    let daemon = Daemon::start("[sessions]\nidle_timeout = \"1s\"\n");
    let session = daemon.session().await;
    let events = follow(&daemon, &session, None).await;
    daemon.wait_for_subscribers(&session, 1).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let second = follow(&daemon, &session, None).await;
    assert_eq!(daemon.describe_status(&session).await, 200);
    drop((events, second));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_ended(&daemon, &session).await;
}

#[tokio::test]
async fn delete_ends_a_session_at_once_for_its_token_holder_only() {
    let daemon = Daemon::start("");
    let session = daemon.session().await;
    let other = daemon.session().await;
    let mut events = follow(&daemon, &session, None).await;
    daemon.wait_for_subscribers(&session, 1).await;
    let call = daemon
        .mcp(
            &session,
            json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                   "params": {"name": "sleep", "arguments": {"duration_ms": 60_000, "steps": 60}}}),
        )
        .await;
    assert_eq!(call.status(), 200);
    let mut call = sse(call);

    let wrong = daemon.delete_session(&session.id, &other.token).await;
    assert_eq!(wrong.status(), 401);
    let unknown = daemon
        .delete_session(&uuid::Uuid::new_v4().to_string(), &session.token)
        .await;
    assert_eq!(unknown.status(), 401);
    assert_eq!(daemon.describe_status(&session).await, 200);

    let started = Instant::now();
    let deleted = daemon.delete_session(&session.id, &session.token).await;
    assert_eq!(deleted.status(), 204);
    assert_eq!(
        next_item(&mut events).await,
        Some(Item::Ended("closed".into()))
    );
    assert_eq!(next_item(&mut events).await, None);
    // The running call is cancelled: its stream ends without a response.
    while let Some(event) = next_event(&mut call).await {
        let message: Value = serde_json::from_str(&event.data).unwrap();
        assert_eq!(message["method"], "notifications/progress", "{message}");
    }
    assert!(started.elapsed() < WAIT);
    assert_ended(&daemon, &session).await;
    assert_eq!(daemon.describe_status(&other).await, 200);
}

#[tokio::test]
async fn the_session_cap_is_a_503_until_a_session_ends() {
    let daemon = Daemon::start("[sessions]\nmax_sessions = 2\n");
    let first = daemon.session().await;
    daemon.session().await;
    let refused = daemon
        .keyed(common::client().post(daemon.url("/session")))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 503);
    assert!(error_text(refused).await.contains("maximum of 2 sessions"));
    let deleted = daemon.delete_session(&first.id, &first.token).await;
    assert_eq!(deleted.status(), 204);
    daemon.session().await;
}

#[tokio::test]
async fn session_creation_is_rate_limited_per_client_address() {
    let daemon = Daemon::start("[sessions]\ncreate_per_minute = 3\n");
    for _ in 0..3 {
        daemon.session().await;
    }
    let refused = daemon
        .keyed(common::client().post(daemon.url("/session")))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 429);
    let reason = error_text(refused).await;
    assert!(
        reason.contains("created 3 sessions this minute"),
        "{reason}"
    );
    assert!(!reason.contains('\n'));
}

// Two threads: the reader must not wait while the test reads the call's own stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_stays_bounded_while_a_follower_never_reads_and_another_gets_every_event() {
    let _turn = BULK.lock().await;
    // Room for 2048 events (0.7 MB here) per follower gives the reader slack on a busy machine.
    let daemon =
        Daemon::start("[sessions]\nsubscriber_queue = 2048\nsubscriber_queue_bytes = 1048576\n");
    let session = daemon.session().await;
    let mut never_reads = follow(&daemon, &session, None).await;
    let mut reader = follow(&daemon, &session, None).await;
    daemon.wait_for_subscribers(&session, 2).await;
    const EVENTS: u64 = 100_000;
    let before = daemon.rss_kib();
    let reading = tokio::spawn(async move {
        let mut seen = Followed::default();
        seen.read_until(&mut reader, EVENTS).await;
        seen
    });
    // A 200-byte token makes each event about 330 bytes: 33 MB if they were all kept.
    let token = "m".repeat(200);
    // 100 000 events take longer than the plain client's total timeout on a busy machine; each
    // wait for the next event is bounded instead.
    let call = daemon
        .mcp_with(
            &common::stream_client(),
            &session,
            json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call",
                   "params": {"name": "sleep", "arguments": {"duration_ms": 0, "steps": EVENTS},
                              "_meta": {"progressToken": token}}}),
        )
        .await;
    let mut call = sse(call);
    let mut last = String::new();
    while let Some(event) = next_event(&mut call).await {
        last = event.data;
    }
    let last: Value = serde_json::from_str(&last).unwrap();
    assert_eq!(last["result"]["isError"], false, "{last}");
    let seen = reading.await.unwrap();
    let after = daemon.rss_kib();
    eprintln!(
        "RSS before {before} KiB, after {after} KiB; the reader got {} events, missed {} in {} notices",
        seen.received, seen.missed, seen.notices
    );
    assert!(
        after < before + 20 * 1024,
        "RSS grew from {before} to {after} KiB"
    );
    assert_eq!((seen.received, seen.notices), (EVENTS, 0), "{seen:?}");
    // What the one that never read is left with: the start, and the count of the rest.
    let mut stalled = Followed::default();
    stalled.read_until(&mut never_reads, EVENTS).await;
    eprintln!("the follower that never read got {stalled:?}");
    assert!(stalled.missed > EVENTS / 2, "{stalled:?}");
}
