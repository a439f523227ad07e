//! Cluster mode end to end: two real daemons sharing one real `redis-server`, spoken to over real
//! HTTP. A session created on one node is the same session on the other: it authenticates there,
//! its events reach followers there in one order with the same ids, a follower resumes there,
//! it ends there, expires there, survives a node's death and a Redis restart, and its token is
//! never written to Redis.
//!
//! Each test starts its own server (`tests/common/redis.rs`) and daemons; run them with
//! `bash tests/cluster/setup.sh && cargo test --test cluster -- --ignored`.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::redis::{RedisServer, Reply};
use common::{ACCEPT, Daemon, Events, Item, Session, WAIT, client, next_event, next_item, sse};
use construct_actors::token::TokenDigest;
use serde_json::{Value, json};

/// How long a request that needs Redis may take while Redis is down before it counts as a hang.
const FAST_FAILURE: Duration = Duration::from_secs(5);

/// What the body of a `503` says when Redis cannot be reached.
const STORE_UNAVAILABLE: &str = "shared session store unavailable";

/// Two daemons (`a`, `b`) on one Redis, and a folder their sessions work in.
struct Cluster {
    a: Daemon,
    b: Daemon,
    redis: RedisServer,
    /// The TOML both daemons run with, for starting another node like them.
    config: String,
    /// The folder sessions are created in: it outlives any one daemon's home.
    work: tempfile::TempDir,
}

impl Cluster {
    /// A fresh Redis and two daemons using it, with `extra` TOML besides `[cluster]`.
    fn start(extra: &str) -> Self {
        let redis = RedisServer::start();
        let work = tempfile::tempdir().unwrap();
        // Every node's sessions may work in the shared folder, outside each node's own home.
        let config = format!(
            "[cluster]\nredis_url = \"{}\"\n[tools]\nworkspace_roots = [{:?}]\n\n{extra}",
            redis.url(),
            work.path().to_str().unwrap()
        );
        Self {
            a: Daemon::start(&config),
            b: Daemon::start(&config),
            redis,
            config,
            work,
        }
    }

    /// Another node of this cluster.
    fn node(&self) -> Daemon {
        Daemon::start(&self.config)
    }

    /// A session created on `node`.
    async fn session(&self, node: &Daemon) -> Session {
        node.session_with(json!({"cwd": self.work.path(), "label": "cluster test"}))
            .await
    }

    /// The raw key of session `id`'s record (the default key prefix).
    fn session_key(id: &str) -> String {
        format!("construct:{{{id}}}:session")
    }

    /// The raw key of session `id`'s events stream.
    fn events_key(id: &str) -> String {
        format!("construct:{{{id}}}:events")
    }

    /// Whether Redis holds session `id`'s record, read without going through a daemon (so
    /// without refreshing it).
    fn record_exists(&self, id: &str) -> bool {
        self.redis
            .command(&["EXISTS", &Self::session_key(id)])
            .integer()
            == 1
    }
}

/// Reads the events numbered `ids` from `stream`, in that order and nothing else; their data.
async fn expect_events(
    stream: &mut Events,
    ids: impl IntoIterator<Item = u64>,
    who: &str,
) -> Vec<Value> {
    let mut data = Vec::new();
    for expected in ids {
        match next_item(stream).await {
            Some(Item::Event(id, event)) => {
                assert_eq!(id, expected, "{who}: ids strictly consecutive");
                data.push(serde_json::from_str(&event).unwrap());
            }
            other => panic!("{who}: expected event {expected}, got {other:?}"),
        }
    }
    data
}

/// Opens the events stream of `session` on `node`, resuming after `last_event_id` when given.
async fn follow(node: &Daemon, session: &Session, last_event_id: Option<u64>) -> Events {
    let last = last_event_id.map(|id| id.to_string());
    let response = node.follow_from(session, last.as_deref()).await;
    assert_eq!(response.status(), 200, "following on {}", node.base);
    sse(response)
}

/// Runs `sleep` in `session` on `node`: `steps` progress events over `duration_ms`, each
/// carrying `token`; waits for its final response (every event is published by then).
async fn sleep_call(
    node: &Daemon,
    session: &Session,
    steps: u64,
    duration_ms: u64,
    token: &str,
) -> Vec<Value> {
    let messages = node
        .call(
            session,
            "sleep",
            json!({"duration_ms": duration_ms, "steps": steps}),
            json!({"progressToken": token}),
        )
        .await;
    assert_eq!(
        messages.last().unwrap()["result"]["isError"],
        false,
        "{messages:?}"
    );
    messages
}

/// `POST /mcp` `ping` as `session` on `node`, whatever the answer.
async fn ping(node: &Daemon, session: &Session) -> reqwest::Response {
    node.mcp(
        session,
        json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}),
    )
    .await
}

/// The status of a `ping` as `session` on `node`.
async fn ping_status(node: &Daemon, session: &Session) -> u16 {
    ping(node, session).await.status().as_u16()
}

/// Everything an ended (or unknown) session answers on `node`: `401`.
async fn assert_gone_on(node: &Daemon, session: &Session) {
    assert_eq!(
        ping_status(node, session).await,
        401,
        "ping on {}",
        node.base
    );
    assert_eq!(
        node.describe_status(session).await,
        401,
        "describe on {}",
        node.base
    );
    let events = node.follow_from(session, None).await;
    assert_eq!(events.status(), 401, "events on {}", node.base);
    let delete = node.delete_session(&session.id, &session.token).await;
    assert_eq!(delete.status(), 401, "delete on {}", node.base);
}

/// Waits (bounded) until `check` holds, polling every 50 ms.
async fn wait_until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !check().await {
        assert!(Instant::now() < deadline, "{what}: not within {WAIT:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Asserts a request answered `503` naming the shared store, quickly.
async fn assert_unavailable(what: &str, started: Instant, response: reqwest::Response) {
    let elapsed = started.elapsed();
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, 503, "{what}: {body}");
    eprintln!("{what}: 503 after {elapsed:?}: {body}");
    assert!(elapsed < FAST_FAILURE, "{what}: answered after {elapsed:?}");
    let reason: Value = serde_json::from_str(&body).expect("a JSON error body");
    let reason = reason["error"].as_str().expect("an error reason");
    assert!(reason.contains(STORE_UNAVAILABLE), "{what}: {reason}");
    assert!(!reason.contains('\n'), "{what}: one line: {reason:?}");
}

#[tokio::test]
#[ignore = "needs redis-server: bash tests/cluster/setup.sh"]
async fn a_session_created_on_one_node_authenticates_on_the_other_and_only_with_its_token() {
    let cluster = Cluster::start("");
    let (a, b) = (&cluster.a, &cluster.b);
    let session = cluster.session(a).await;
    let other = cluster.session(a).await;

    // The first request on B is a wrong token: the session is loaded, and refused all the same.
    let wrong = Session {
        token: other.token.clone(),
        ..session.clone()
    };
    let refused = ping(b, &wrong).await;
    assert_eq!(refused.status(), 401);
    let refused = refused.text().await.unwrap();
    let made_up = Session {
        id: uuid::Uuid::new_v4().to_string(),
        ..session.clone()
    };
    let unknown = ping(b, &made_up).await;
    assert_eq!(unknown.status(), 401);
    assert_eq!(
        unknown.text().await.unwrap(),
        refused,
        "a wrong token and an unknown session get the very same answer"
    );
    // The same on the events route.
    let wrong_events = b.follow_raw(&session.id, &other.token).await;
    assert_eq!(wrong_events.status(), 401);
    let unknown_events = b.follow_raw(&made_up.id, &session.token).await;
    assert_eq!(unknown_events.status(), 401);
    assert_eq!(
        wrong_events.text().await.unwrap(),
        unknown_events.text().await.unwrap()
    );

    // With its own token it works on B, like on A.
    let pong = b.rpc(&session, "ping", json!({})).await;
    assert_eq!(pong["result"], json!({}), "{pong}");
    let messages = b
        .call(
            &session,
            "echo",
            json!({"text": "across the cluster"}),
            json!({}),
        )
        .await;
    let last = messages.last().unwrap();
    assert_eq!(last["result"]["isError"], false, "{last}");
    assert_eq!(
        last["result"]["content"][0]["text"], "across the cluster",
        "{last}"
    );
    let described = b.describe(&session).await;
    assert_eq!(described["session_id"], session.id.as_str(), "{described}");
    assert_eq!(described["cwd"], session.cwd.as_str(), "{described}");
    assert_eq!(described["label"], "cluster test", "{described}");
    assert_eq!(ping_status(a, &session).await, 200);
    // A wrong token on B after a right one is still refused.
    assert_eq!(ping_status(b, &wrong).await, 401);
    // And the other session, never used on B, works there too.
    assert_eq!(ping_status(b, &other).await, 200);
}

#[tokio::test]
#[ignore = "needs redis-server: bash tests/cluster/setup.sh"]
async fn events_published_on_one_node_reach_followers_on_both_in_order_with_the_same_ids() {
    let cluster = Cluster::start("");
    let (a, b) = (&cluster.a, &cluster.b);
    let session = cluster.session(a).await;
    let mut on_b = follow(b, &session, None).await;
    let mut on_a = follow(a, &session, None).await;
    b.wait_for_subscribers(&session, 1).await;
    a.wait_for_subscribers(&session, 1).await;

    const STEPS: u64 = 8;
    sleep_call(a, &session, STEPS, 20 * STEPS, "across").await;
    let seen_b = expect_events(&mut on_b, 1..=STEPS, "B").await;
    let seen_a = expect_events(&mut on_a, 1..=STEPS, "A").await;
    assert_eq!(seen_a, seen_b, "both nodes' followers get the same events");
    for (step, data) in (1..=STEPS).zip(&seen_b) {
        assert_eq!(data["token"], "across", "{data}");
        assert_eq!(data["progress"], step, "published in order: {data}");
        assert_eq!(data["total"], STEPS, "{data}");
        assert_eq!(data["tool"], "sleep", "{data}");
    }

    // The other way round: published on B, numbered after A's, seen on A.
    sleep_call(b, &session, 3, 30, "back").await;
    let seen_a = expect_events(&mut on_a, STEPS + 1..=STEPS + 3, "A").await;
    let seen_b = expect_events(&mut on_b, STEPS + 1..=STEPS + 3, "B").await;
    assert_eq!(seen_a, seen_b);
    assert!(seen_a.iter().all(|data| data["token"] == "back"));
}

#[tokio::test]
#[ignore = "needs redis-server: bash tests/cluster/setup.sh"]
async fn a_follower_resumes_on_the_other_node_with_no_gap_and_no_duplicate() {
    let cluster = Cluster::start("");
    let (a, b) = (&cluster.a, &cluster.b);
    let session = cluster.session(a).await;
    let mut on_a = follow(a, &session, None).await;
    a.wait_for_subscribers(&session, 1).await;
    sleep_call(a, &session, 6, 60, "one").await;
    let first = expect_events(&mut on_a, 1..=3, "A").await;
    drop(on_a);

    // B has no feed of this session yet: it reads where the stream stands from Redis.
    let mut resumed = follow(b, &session, Some(3)).await;
    let rest = expect_events(&mut resumed, 4..=6, "resumed on B").await;
    let progress: Vec<_> = first
        .iter()
        .chain(&rest)
        .map(|d| d["progress"].clone())
        .collect();
    assert_eq!(progress, (1..=6).map(Value::from).collect::<Vec<_>>());

    // B's feed now runs: a second follower resuming there starts from its place.
    let mut second = follow(b, &session, Some(5)).await;
    expect_events(&mut second, [6], "second on B").await;
    b.wait_for_subscribers(&session, 2).await;

    // Nothing was handed out twice: the next event either gets is the next one published.
    sleep_call(a, &session, 2, 20, "two").await;
    for (stream, who) in [(&mut resumed, "resumed"), (&mut second, "second")] {
        let data = expect_events(stream, 7..=8, who).await;
        assert!(data.iter().all(|d| d["token"] == "two"), "{data:?}");
    }
}

#[tokio::test]
#[ignore = "needs redis-server: bash tests/cluster/setup.sh"]
async fn resuming_on_the_other_node_from_before_the_history_is_told_exactly_what_was_lost() {
    let cluster = Cluster::start("[sessions]\nhistory = 4\n");
    let (a, b) = (&cluster.a, &cluster.b);
    let session = cluster.session(a).await;
    // Redis trims a stream in whole blocks of entries (100 by default), so it takes a few
    // hundred events for the oldest to go.
    const EVENTS: u64 = 300;
    sleep_call(a, &session, EVENTS, 0, "old").await;
    let oldest = cluster.redis.command(&[
        "XRANGE",
        &Cluster::events_key(&session.id),
        "-",
        "+",
        "COUNT",
        "1",
    ]);
    let oldest = String::from_utf8(oldest.bulks()[0].clone()).unwrap();
    let oldest: u64 = oldest
        .strip_suffix("-0")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("an entry id like N-0: {oldest}"));
    assert!(
        oldest > 3 && oldest <= EVENTS - 3,
        "the history was trimmed to about 4 events: oldest kept is {oldest}"
    );

    let mut resumed = follow(b, &session, Some(2)).await;
    assert_eq!(
        next_item(&mut resumed).await,
        Some(Item::Lagged(oldest - 3)),
        "events 3..{oldest} are no longer kept"
    );
    let data = expect_events(&mut resumed, oldest..=EVENTS, "resumed on B").await;
    assert_eq!(data.last().unwrap()["progress"], EVENTS);

    // Then live events, with the next ids.
    b.wait_for_subscribers(&session, 1).await;
    sleep_call(a, &session, 2, 20, "new").await;
    expect_events(&mut resumed, EVENTS + 1..=EVENTS + 2, "resumed on B").await;
}

#[tokio::test]
#[ignore = "needs redis-server: bash tests/cluster/setup.sh"]
async fn delete_on_one_node_ends_the_session_on_the_other() {
    let cluster = Cluster::start("");
    let (a, b) = (&cluster.a, &cluster.b);
    let session = cluster.session(a).await;
    let other = cluster.session(b).await;
    let mut on_b = follow(b, &session, None).await;
    b.wait_for_subscribers(&session, 1).await;
    sleep_call(a, &session, 2, 20, "before").await;
    expect_events(&mut on_b, 1..=2, "B").await;
    // A call running on B when the session is deleted on A.
    let call = b
        .mcp(
            &session,
            json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                   "params": {"name": "sleep", "arguments": {"duration_ms": 60_000, "steps": 60}}}),
        )
        .await;
    assert_eq!(call.status(), 200);
    let mut call = sse(call);
    b.wait_for_running_calls(&session, 1).await;

    let started = Instant::now();
    let deleted = a.delete_session(&session.id, &session.token).await;
    assert_eq!(deleted.status(), 204);
    assert_eq!(
        next_item(&mut on_b).await,
        Some(Item::Ended("closed".into())),
        "B's follower is told"
    );
    assert_eq!(next_item(&mut on_b).await, None, "B's stream closes");
    // The call on B is cancelled: its stream ends without a response.
    while let Some(event) = next_event(&mut call).await {
        let message: Value = serde_json::from_str(&event.data).unwrap();
        assert_eq!(message["method"], "notifications/progress", "{message}");
    }
    assert!(started.elapsed() < WAIT, "ended in {:?}", started.elapsed());

    assert_gone_on(b, &session).await;
    assert_gone_on(a, &session).await;
    assert!(!cluster.record_exists(&session.id));
    // The other session lives on, on both nodes.
    assert_eq!(ping_status(b, &other).await, 200);
    assert_eq!(ping_status(a, &other).await, 200);
}

#[tokio::test]
#[ignore = "needs redis-server: bash tests/cluster/setup.sh"]
async fn delete_answers_204_on_a_node_whose_own_followers_hear_the_end() {
    let cluster = Cluster::start("");
    let (a, b) = (&cluster.a, &cluster.b);
    let session = cluster.session(a).await;
    let mut on_a = follow(a, &session, None).await;
    let mut on_b = follow(b, &session, None).await;
    a.wait_for_subscribers(&session, 1).await;
    b.wait_for_subscribers(&session, 1).await;

    // A's own feed reads the end entry too, racing the DELETE's own reply.
    let deleted = a.delete_session(&session.id, &session.token).await;
    let status = deleted.status();
    let body = deleted.text().await.unwrap();
    assert_eq!(status, 204, "DELETE on a node with a follower: {body}");
    for (stream, who) in [(&mut on_a, "A"), (&mut on_b, "B")] {
        assert_eq!(
            next_item(stream).await,
            Some(Item::Ended("closed".into())),
            "{who}'s follower is told"
        );
        assert_eq!(next_item(stream).await, None, "{who}'s stream closes");
    }
    assert_gone_on(a, &session).await;
    assert_gone_on(b, &session).await;
}

#[tokio::test]
#[ignore = "needs redis-server: bash tests/cluster/setup.sh"]
async fn an_idle_session_expires_on_every_node_while_one_used_on_either_lives_on() {
    const IDLE: Duration = Duration::from_secs(2);
    let cluster = Cluster::start("[sessions]\nidle_timeout = \"2s\"\n");
    let (a, b) = (&cluster.a, &cluster.b);
    let idle = cluster.session(a).await;
    let kept = cluster.session(b).await;
    sleep_call(a, &idle, 2, 20, "idle").await;
    // Its last use is on B, so both nodes have a face of it.
    assert_eq!(ping_status(b, &idle).await, 200);
    let last_used = Instant::now();

    // Meanwhile, a session used now on one node, now on the other, for longer than the idle
    // timeout: every request refreshes it in Redis, whichever node serves it.
    let mut turn = 0;
    while last_used.elapsed() < IDLE + IDLE / 2 {
        let node = if turn % 2 == 0 { a } else { b };
        assert_eq!(ping_status(node, &kept).await, 200, "kept, request {turn}");
        turn += 1;
        tokio::time::sleep(IDLE / 5).await;
    }

    // The idle one is gone from Redis (read without touching it), within a bounded time.
    wait_until("the idle session's keys expire", async || {
        let keys = cluster
            .redis
            .command(&["KEYS", &format!("construct:{{{}}}:*", idle.id)]);
        keys == Reply::Array(Some(Vec::new()))
    })
    .await;
    let expired_after = last_used.elapsed();
    assert!(
        expired_after < IDLE + Duration::from_secs(3),
        "expired {expired_after:?} after its last use"
    );
    assert_gone_on(a, &idle).await;
    assert_gone_on(b, &idle).await;

    assert_eq!(ping_status(a, &kept).await, 200);
    assert_eq!(ping_status(b, &kept).await, 200);
}

#[tokio::test]
#[ignore = "needs redis-server: bash tests/cluster/setup.sh"]
async fn a_session_outlives_the_node_that_created_it() {
    let mut cluster = Cluster::start("");
    let session = cluster.session(&cluster.a).await;
    sleep_call(&cluster.a, &session, 3, 30, "before").await;
    let mut on_b = follow(&cluster.b, &session, None).await;
    cluster.b.wait_for_subscribers(&session, 1).await;

    // A dies without a word (SIGKILL); a new node starts with the same configuration.
    let pid = i32::try_from(cluster.a.pid()).unwrap();
    // SAFETY: signalling a child process this test spawned and has not yet reaped.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    assert!(!cluster.a.terminate_wait().success());
    cluster.a = cluster.node();
    let (a, b) = (&cluster.a, &cluster.b);

    assert_eq!(ping_status(a, &session).await, 200, "on the new node");
    assert_eq!(ping_status(b, &session).await, 200, "on the other node");
    let mut on_a = follow(a, &session, Some(1)).await;
    expect_events(&mut on_a, 2..=3, "new A, resumed").await;
    a.wait_for_subscribers(&session, 1).await;

    sleep_call(a, &session, 2, 20, "after").await;
    for (stream, who) in [(&mut on_a, "new A"), (&mut on_b, "B")] {
        let data = expect_events(stream, 4..=5, who).await;
        assert!(data.iter().all(|d| d["token"] == "after"), "{data:?}");
    }
}

#[tokio::test]
#[ignore = "needs redis-server: bash tests/cluster/setup.sh"]
async fn a_redis_restart_is_a_quick_503_then_streams_carry_on_in_order() {
    let mut cluster = Cluster::start("");
    let session = cluster.session(&cluster.a).await;
    // Known to Redis, never used on B.
    let unloaded = cluster.session(&cluster.a).await;
    let mut on_b = follow(&cluster.b, &session, None).await;
    cluster.b.wait_for_subscribers(&session, 1).await;
    sleep_call(&cluster.a, &session, 3, 30, "before").await;
    expect_events(&mut on_b, 1..=3, "B before the outage").await;

    cluster.redis.stop();
    let (a, b) = (&cluster.a, &cluster.b);
    let started = Instant::now();
    let created = b
        .keyed(client().post(b.url("/session")))
        .json(&json!({"cwd": cluster.work.path()}))
        .send()
        .await
        .unwrap();
    assert_unavailable("POST /session on B", started, created).await;
    let started = Instant::now();
    let pinged = ping(b, &unloaded).await;
    assert_unavailable("ping on B of a session not loaded there", started, pinged).await;
    let started = Instant::now();
    let pinged = ping(b, &session).await;
    assert_unavailable("ping on B of a session loaded there", started, pinged).await;
    let started = Instant::now();
    let deleted = a.delete_session(&session.id, &session.token).await;
    assert_unavailable("DELETE on A", started, deleted).await;

    cluster.redis.restart();
    let (a, b) = (&cluster.a, &cluster.b);
    // Once A reaches Redis again (the failed DELETE ended nothing), it publishes more.
    wait_until("A reaches Redis again", async || {
        ping_status(a, &session).await == 200
    })
    .await;
    sleep_call(a, &session, 3, 30, "after").await;

    // B's follower rode out the outage (or, had its stream closed, resumes where it was).
    let mut last = 3;
    let mut reconnected = false;
    while last < 6 {
        match next_item(&mut on_b).await {
            Some(Item::Event(id, data)) => {
                let data: Value = serde_json::from_str(&data).unwrap();
                assert_eq!(id, last + 1, "no duplicate, no gap");
                assert_eq!(data["token"], "after", "{data}");
                assert_eq!(data["progress"], id - 3, "{data}");
                last = id;
            }
            None if !reconnected => {
                eprintln!("B's follower was closed during the outage; resuming after {last}");
                reconnected = true;
                on_b = follow(b, &session, Some(last)).await;
            }
            other => panic!("B's follower after the outage: {other:?} after event {last}"),
        }
    }

    // Both sessions are whole after the restart, on both nodes.
    assert_eq!(ping_status(b, &unloaded).await, 200);
    assert_eq!(ping_status(b, &session).await, 200);
    let created = b.session_with(json!({"cwd": cluster.work.path()})).await;
    assert_eq!(ping_status(a, &created).await, 200);
    let deleted = a.delete_session(&session.id, &session.token).await;
    assert_eq!(deleted.status(), 204);
    assert_eq!(
        next_item(&mut on_b).await,
        Some(Item::Ended("closed".into()))
    );
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[tokio::test]
#[ignore = "needs redis-server: bash tests/cluster/setup.sh"]
async fn no_token_is_ever_written_to_redis() {
    let cluster = Cluster::start("");
    let (a, b) = (&cluster.a, &cluster.b);
    let kept = cluster.session(a).await;
    let ended = cluster.session(b).await;
    let mut sessions = vec![kept.clone(), ended.clone()];
    for session in &sessions {
        assert_eq!(ping_status(a, session).await, 200);
        assert_eq!(ping_status(b, session).await, 200);
        sleep_call(b, session, 2, 20, "job").await;
    }
    let on_a = follow(a, &ended, Some(0)).await;
    drop(on_a);
    assert_eq!(
        a.delete_session(&ended.id, &ended.token).await.status(),
        204
    );
    sessions.push(cluster.session(b).await);

    // Everything Redis holds: key names, hash fields and values, stream ids, fields and values.
    let redis = &cluster.redis;
    let keys = redis.command(&["KEYS", "*"]).bulks();
    assert!(keys.len() >= 3, "the sessions are in Redis: {keys:?}");
    let mut stored: Vec<Vec<u8>> = keys.clone();
    let mut digests = Vec::new();
    for key in &keys {
        let key = String::from_utf8(key.clone()).unwrap();
        let Reply::Status(kind) = redis.command(&["TYPE", &key]) else {
            panic!("TYPE {key}");
        };
        let contents = match kind.as_str() {
            "hash" => redis.command(&["HGETALL", &key]),
            "stream" => redis.command(&["XRANGE", &key, "-", "+"]),
            "string" => redis.command(&["GET", &key]),
            "list" => redis.command(&["LRANGE", &key, "0", "-1"]),
            "set" => redis.command(&["SMEMBERS", &key]),
            "zset" => redis.command(&["ZRANGE", &key, "0", "-1", "WITHSCORES"]),
            other => panic!("{key} is a {other}"),
        };
        let contents = contents.bulks();
        if kind == "hash" {
            let fields: Vec<_> = contents.chunks(2).collect();
            digests.extend(
                fields
                    .iter()
                    .filter(|pair| pair[0] == b"token_sha256")
                    .map(|pair| String::from_utf8(pair[1].clone()).unwrap()),
            );
        }
        stored.extend(contents);
    }
    // What Redis wrote to disk, which also holds every command it was ever sent.
    for file in files_under(redis.dir()) {
        stored.push(std::fs::read(file).unwrap());
    }
    let stored_lower: Vec<Vec<u8>> = stored.iter().map(|s| s.to_ascii_lowercase()).collect();
    for session in &sessions {
        let token = session.token.to_ascii_lowercase();
        assert!(token.len() >= 16, "a real token: {}", session.token);
        for item in &stored_lower {
            assert!(
                !item
                    .windows(token.len())
                    .any(|window| window == token.as_bytes()),
                "the token of {} is stored in Redis: {}",
                session.id,
                String::from_utf8_lossy(item)
            );
        }
    }
    // What is stored instead: a digest that matches the token, for each live session.
    for session in [&kept, &sessions[2]] {
        let matching = digests.iter().any(|digest| {
            TokenDigest::from_hex(digest).is_some_and(|digest| digest.matches(&session.token))
        });
        assert!(matching, "a digest of {}'s token: {digests:?}", session.id);
    }
}

/// A standard MCP client that initialized on A (negotiating 2025-11-25) and is sent to B by its
/// load balancer is served by B as A would: B knows the revision it negotiated, so B's
/// `tools/call` stream is resumable (a priming event and ids), as it is for that revision on A.
#[tokio::test]
#[ignore = "needs redis-server: bash tests/cluster/setup.sh"]
async fn a_standard_clients_negotiated_revision_is_known_on_every_node() {
    let cluster = Cluster::start("");
    let (a, b) = (&cluster.a, &cluster.b);
    let id = a.initialize("2025-11-25").await;
    let call = client()
        .post(b.url("/mcp"))
        .header("Accept", ACCEPT)
        .header("Mcp-Session-Id", &id)
        .header("MCP-Protocol-Version", "2025-11-25")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": "echo", "arguments": {"text": "hi"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(call.status(), 200);
    let mut stream = sse(call);
    let priming = next_event(&mut stream).await.expect("a priming event");
    assert!(priming.data.is_empty(), "{priming:?}");
    assert!(
        !priming.id.is_empty(),
        "the stream is resumable: {priming:?}"
    );
    let result = next_event(&mut stream).await.expect("the result");
    let result: Value = serde_json::from_str(&result.data).unwrap();
    assert_eq!(result["result"]["content"][0]["text"], "hi", "{result}");
}

/// A follower naming the largest id there is (or any id the session never reached) is owed
/// nothing: it gets the events published from then on, numbered as everywhere else, and the
/// node does not trip over the arithmetic.
#[tokio::test]
#[ignore = "needs redis-server: bash tests/cluster/setup.sh"]
async fn a_last_event_id_beyond_the_stream_is_owed_nothing() {
    let cluster = Cluster::start("");
    let (a, b) = (&cluster.a, &cluster.b);
    let session = cluster.session(a).await;
    sleep_call(a, &session, 2, 10, "before").await;
    let mut ahead = follow(b, &session, Some(u64::MAX)).await;
    let mut plain = follow(b, &session, None).await;
    b.wait_for_subscribers(&session, 2).await;
    sleep_call(a, &session, 1, 10, "after").await;
    // The plain follower gets event 3; the one that claimed to have everything gets nothing
    // (ids up to u64::MAX are held back from it), and its stream stays open and well-formed.
    expect_events(&mut plain, [3], "plain follower").await;
    let nothing = tokio::time::timeout(Duration::from_millis(300), next_event(&mut ahead)).await;
    assert!(nothing.is_err(), "{nothing:?}");
    assert_eq!(b.describe(&session).await["subscribers"], 2);
}

/// A call that is running when Redis goes away is not held up by it: its progress cannot be
/// shared meanwhile (it is lost, and counted), but the call runs at its own pace and its caller
/// gets every progress notification and the final response.
#[tokio::test]
#[ignore = "needs redis-server: bash tests/cluster/setup.sh"]
async fn a_running_call_keeps_its_pace_while_redis_is_away() {
    let mut cluster = Cluster::start("");
    let session = cluster.session(&cluster.a).await;
    let response = cluster
        .a
        .mcp(
            &session,
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                   "params": {"name": "sleep", "arguments": {"duration_ms": 1000, "steps": 20}}}),
        )
        .await;
    let mut stream = sse(response);
    let first = next_event(&mut stream).await.expect("a first progress");
    let first: Value = serde_json::from_str(&first.data).unwrap();
    assert_eq!(first["params"]["progress"], 1, "{first}");
    let started = Instant::now();
    cluster.redis.stop();
    let mut progress = 1;
    let last = loop {
        let event = next_event(&mut stream).await.expect("the stream goes on");
        let message: Value = serde_json::from_str(&event.data).unwrap();
        if message["method"] != "notifications/progress" {
            break message;
        }
        progress = message["params"]["progress"].as_u64().unwrap();
    };
    assert_eq!(progress, 20);
    assert_eq!(last["result"]["isError"], false, "{last}");
    // 19 more steps of 50 ms: about a second, not a Redis timeout per report.
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}
