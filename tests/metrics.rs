//! `GET /metrics`: Prometheus text that a strict parser accepts, whose series move by exactly
//! what real traffic did (sessions, followers, events, tool calls by outcome, HTTP requests by
//! route pattern), and which can be locked with a token or turned off.

mod common;

use std::time::{Duration, Instant};

use common::{Daemon, Session, WAIT, client, next_data, next_event};
use prom_text_format_parser::{Scrape, Type, ValueType};
use serde_json::{Value, json};

/// One scrape, parsed.
struct Metrics {
    text: String,
    scrape: Scrape,
}

impl Metrics {
    /// The sample of family `name` with exactly `labels` and of kind `which`; 0 when absent (a
    /// series that never moved).
    fn sample(&self, name: &str, which: ValueType, labels: &[(&str, &str)]) -> f64 {
        let Some(family) = self.scrape.metrics.iter().find(|m| m.name == name) else {
            return 0.0;
        };
        family
            .samples
            .iter()
            .filter(|s| s.value.value_type == which)
            .find(|s| {
                s.labels.len() == labels.len()
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.iter().any(|l| l.key == *k && l.value == *v))
            })
            .map_or(0.0, |s| s.value.value.as_f64())
    }

    /// A counter's or a gauge's value.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.sample(name, ValueType::Sample, labels)
    }

    /// How many observations a histogram series holds.
    fn count(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.sample(name, ValueType::Count, labels)
    }

    fn kind(&self, name: &str) -> Option<Type> {
        self.scrape
            .metrics
            .iter()
            .find(|m| m.name == name)
            .map(|m| m.kind)
    }
}

/// Scrapes the daemon and parses the answer strictly.
async fn scrape(daemon: &Daemon) -> Metrics {
    let response = client().get(daemon.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = response.text().await.unwrap();
    let scrape =
        Scrape::parse(&text).unwrap_or_else(|err| panic!("not Prometheus text ({err:?}):\n{text}"));
    Metrics { text, scrape }
}

/// Scrapes until `done` holds for a scrape; fails the test after [`WAIT`].
async fn eventually(daemon: &Daemon, what: &str, done: impl Fn(&Metrics) -> bool) -> Metrics {
    let deadline = Instant::now() + WAIT;
    loop {
        let metrics = scrape(daemon).await;
        if done(&metrics) {
            return metrics;
        }
        assert!(
            Instant::now() < deadline,
            "{what} never happened:\n{}",
            metrics.text
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

const SESSIONS_LIVE: &str = "construct_sessions_live";
const SESSIONS_CREATED: &str = "construct_sessions_created_total";
const SESSIONS_ENDED: &str = "construct_sessions_ended_total";
const SUBSCRIBERS: &str = "construct_subscribers";
const PUBLISHED: &str = "construct_events_published_total";
const DELIVERED: &str = "construct_events_delivered_total";
const DROPPED: &str = "construct_events_dropped_total";
const TOOL_CALLS: &str = "construct_tool_calls_total";
const TOOL_DURATION: &str = "construct_tool_call_duration_seconds";
const HTTP_DURATION: &str = "construct_http_request_duration_seconds";

#[tokio::test]
async fn metrics_are_prometheus_text_with_help_and_a_type_for_every_family() {
    let daemon = Daemon::start("");
    let health = client().get(daemon.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let metrics = scrape(&daemon).await;
    let expected = [
        (SESSIONS_LIVE, Type::Gauge),
        (SESSIONS_CREATED, Type::Counter),
        ("construct_sessions_refused_total", Type::Counter),
        (SESSIONS_ENDED, Type::Counter),
        (SUBSCRIBERS, Type::Gauge),
        (PUBLISHED, Type::Counter),
        (DELIVERED, Type::Counter),
        (DROPPED, Type::Counter),
        (TOOL_CALLS, Type::Counter),
        (HTTP_DURATION, Type::Histogram),
    ];
    for (name, kind) in expected {
        assert_eq!(metrics.kind(name), Some(kind), "{name}:\n{}", metrics.text);
    }
    for family in &metrics.scrape.metrics {
        assert!(family.name.starts_with("construct_"), "{}", family.name);
        assert!(family.help_desc.is_some(), "{} has no HELP", family.name);
        assert_ne!(family.kind, Type::Untyped, "{} has no TYPE", family.name);
    }
    // Before any traffic but this, every series reads zero, and the tools' counters are there.
    for name in [SESSIONS_LIVE, SESSIONS_CREATED, SUBSCRIBERS, PUBLISHED] {
        assert_eq!(metrics.value(name, &[]), 0.0, "{name}");
    }
    assert_eq!(
        metrics.value(TOOL_CALLS, &[("tool", "echo"), ("outcome", "ok")]),
        0.0
    );
    assert!(
        metrics
            .text
            .contains(r#"construct_tool_calls_total{tool="echo",outcome="ok"} 0"#)
    );
    let health = [("route", "/health"), ("method", "GET"), ("status", "200")];
    assert_eq!(metrics.count(HTTP_DURATION, &health), 1.0);
}

#[tokio::test]
async fn session_follower_and_event_counters_move_with_real_traffic() {
    let daemon = Daemon::start("");
    let before = scrape(&daemon).await;
    let followed = daemon.session().await;
    let _other = daemon.session().await;
    let mut events = daemon.follow(&followed).await;
    daemon.wait_for_subscribers(&followed, 1).await;
    let during = scrape(&daemon).await;
    assert_eq!(
        during.value(SESSIONS_CREATED, &[]) - before.value(SESSIONS_CREATED, &[]),
        2.0
    );
    assert_eq!(during.value(SUBSCRIBERS, &[]), 1.0);
    // A session a worker made alone joins the registry's gauge when the registry next takes
    // its workers' sessions: at its next message, or within a second.
    eventually(&daemon, "both sessions in the live gauge", |m| {
        m.value(SESSIONS_LIVE, &[]) == 2.0
    })
    .await;

    let messages = daemon
        .call(
            &followed,
            "sleep",
            json!({"duration_ms": 40, "steps": 4}),
            json!({"progressToken": "p"}),
        )
        .await;
    assert_eq!(messages.len(), 5, "{messages:?}");
    for progress in 1..=4 {
        assert_eq!(next_data(&mut events).await["progress"], progress);
    }
    let after = scrape(&daemon).await;
    assert_eq!(
        after.value(PUBLISHED, &[]) - before.value(PUBLISHED, &[]),
        4.0
    );
    assert_eq!(
        after.value(DELIVERED, &[]) - before.value(DELIVERED, &[]),
        4.0
    );
    assert_eq!(after.value(DROPPED, &[]), before.value(DROPPED, &[]));

    let deleted = daemon.delete_session(&followed.id, &followed.token).await;
    assert_eq!(deleted.status(), 204);
    let ended = next_event(&mut events)
        .await
        .expect("a session-ended event");
    assert_eq!(ended.event, "session-ended");
    let closed = [("reason", "closed")];
    let expired = [("reason", "expired")];
    let gone = eventually(&daemon, "the session leaving the gauges", |m| {
        m.value(SESSIONS_LIVE, &[]) == 1.0 && m.value(SUBSCRIBERS, &[]) == 0.0
    })
    .await;
    assert_eq!(
        gone.value(SESSIONS_ENDED, &closed) - before.value(SESSIONS_ENDED, &closed),
        1.0
    );
    assert_eq!(gone.value(SESSIONS_ENDED, &expired), 0.0);
}

#[tokio::test]
async fn expired_sessions_are_counted_by_their_reason() {
    let daemon = Daemon::start("[sessions]\nidle_timeout = \"200ms\"\n");
    daemon.session().await;
    let expired = eventually(&daemon, "the session expiring", |m| {
        m.value(SESSIONS_ENDED, &[("reason", "expired")]) == 1.0
    })
    .await;
    assert_eq!(expired.value(SESSIONS_ENDED, &[("reason", "closed")]), 0.0);
    eventually(&daemon, "the live gauge dropping", |m| {
        m.value(SESSIONS_LIVE, &[]) == 0.0
    })
    .await;
}

/// Posts a `tools/call` of `tool` with request id `id`, whatever the answer.
async fn start_call(
    daemon: &Daemon,
    session: &Session,
    id: u64,
    tool: &str,
    args: Value,
) -> common::Events {
    let response = daemon
        .mcp(
            session,
            json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                   "params": {"name": tool, "arguments": args}}),
        )
        .await;
    assert_eq!(response.status(), 200);
    common::sse(response)
}

#[tokio::test]
async fn tool_calls_are_counted_by_tool_and_outcome_and_timed_when_they_ran() {
    let daemon = Daemon::start("[tools]\nfixtures = true\n");
    let session = daemon.session().await;
    let before = scrape(&daemon).await;

    let ok = daemon
        .call(&session, "echo", json!({"text": "hi"}), json!({}))
        .await;
    assert_eq!(ok[0]["result"]["isError"], false);
    let failed = daemon
        .call(
            &session,
            "file_read",
            json!({"path": "missing.txt"}),
            json!({}),
        )
        .await;
    assert_eq!(failed[0]["result"]["isError"], true, "{failed:?}");
    let bad_args = daemon
        .call(&session, "echo", json!({"text": 5}), json!({}))
        .await;
    assert_eq!(bad_args[0]["error"]["code"], -32602);
    let unknown = daemon
        .call(&session, "no_such_tool", json!({}), json!({}))
        .await;
    assert_eq!(unknown[0]["error"]["code"], -32602);
    let panicked = daemon
        .call(&session, "test_panic", json!({}), json!({}))
        .await;
    assert_eq!(panicked[0]["error"]["code"], -32603);

    let mut long = start_call(
        &daemon,
        &session,
        9,
        "sleep",
        json!({"duration_ms": 20_000, "steps": 100}),
    )
    .await;
    assert_eq!(
        next_data(&mut long).await["method"],
        "notifications/progress"
    );
    let cancel = daemon
        .mcp(
            &session,
            json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                   "params": {"requestId": 9}}),
        )
        .await;
    assert_eq!(cancel.status(), 202);

    let outcome = |tool, outcome| [("tool", tool), ("outcome", outcome)];
    let moved = |m: &Metrics, labels: &[(&str, &str)]| {
        m.value(TOOL_CALLS, labels) - before.value(TOOL_CALLS, labels)
    };
    let after = eventually(&daemon, "the cancelled call being counted", |m| {
        moved(m, &outcome("sleep", "cancelled")) == 1.0
    })
    .await;
    for (tool, result) in [
        ("echo", "ok"),
        ("file_read", "tool_error"),
        ("echo", "invalid_params"),
        ("unknown", "invalid_params"),
        ("test_panic", "panicked"),
        ("sleep", "cancelled"),
    ] {
        assert_eq!(
            moved(&after, &outcome(tool, result)),
            1.0,
            "{tool} {result}"
        );
    }
    for (tool, result) in [("echo", "tool_error"), ("sleep", "ok"), ("file_read", "ok")] {
        assert_eq!(
            moved(&after, &outcome(tool, result)),
            0.0,
            "{tool} {result}"
        );
    }
    // Durations of the calls that ran: refused arguments never started theirs.
    for tool in ["echo", "file_read", "test_panic", "sleep"] {
        let tool = [("tool", tool)];
        assert_eq!(
            after.count(TOOL_DURATION, &tool) - before.count(TOOL_DURATION, &tool),
            1.0,
            "{tool:?}"
        );
    }
    assert_eq!(after.kind(TOOL_DURATION), Some(Type::Histogram));
    // A name a client made up is never a label value.
    assert!(!after.text.contains("no_such_tool"));
}

#[tokio::test]
async fn http_durations_are_labelled_by_route_pattern_method_and_status() {
    let daemon = Daemon::start("");
    let session = daemon.session().await;
    let before = scrape(&daemon).await;

    assert_eq!(daemon.describe_status(&session).await, 200);
    let stream = daemon.follow_from(&session, None).await;
    assert_eq!(stream.status(), 200);
    drop(stream);
    let deleted = daemon.delete_session(&session.id, &session.token).await;
    assert_eq!(deleted.status(), 204);
    assert_eq!(daemon.describe_status(&session).await, 401);
    let nowhere = client()
        .get(daemon.url("/nowhere/at/all"))
        .send()
        .await
        .unwrap();
    assert_eq!(nowhere.status(), 404);
    let forbidden = client()
        .get(daemon.url("/health"))
        .header("Origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(forbidden.status(), 403);

    let after = scrape(&daemon).await;
    let moved = |route, method, status| {
        let labels = [("route", route), ("method", method), ("status", status)];
        after.count(HTTP_DURATION, &labels) - before.count(HTTP_DURATION, &labels)
    };
    assert_eq!(moved("/session/{id}", "GET", "200"), 1.0);
    assert_eq!(moved("/session/{id}/events", "GET", "200"), 1.0);
    assert_eq!(moved("/session/{id}", "DELETE", "204"), 1.0);
    assert_eq!(moved("/session/{id}", "GET", "401"), 1.0);
    assert_eq!(moved("unmatched", "GET", "404"), 1.0);
    assert_eq!(moved("/health", "GET", "403"), 1.0);
    assert_eq!(moved("/metrics", "GET", "200"), 1.0, "the first scrape");
    // Never a raw path: no session id, no unmatched path, anywhere.
    assert!(!after.text.contains(&session.id));
    assert!(!after.text.contains("/nowhere"));
}

#[tokio::test]
async fn metrics_can_be_turned_off() {
    let daemon = Daemon::start("[metrics]\nenabled = false\n");
    let response = client().get(daemon.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 404);
    assert!(common::error_text(response).await.contains("disabled"));
}

#[tokio::test]
async fn a_metrics_token_locks_the_endpoint() {
    let token = "0123456789abcdef-metrics";
    let daemon = Daemon::start(&format!("[metrics]\ntoken = {token:?}\n"));
    let url = daemon.url("/metrics");
    let bare = client().get(&url).send().await.unwrap();
    assert_eq!(bare.status(), 401);
    let wrong = client()
        .get(&url)
        .bearer_auth("0123456789abcdef-wrong!!")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let right = client().get(&url).bearer_auth(token).send().await.unwrap();
    assert_eq!(right.status(), 200);
    let text = right.text().await.unwrap();
    Scrape::parse(&text).expect("Prometheus text");
    assert!(!text.contains(token));
}
