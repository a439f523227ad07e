//! The cluster store against a real `redis-server`: sessions, their numbered events, live feeds,
//! and what happens while Redis is down and after it comes back.
//!
//! Each test starts its own server (`tests/common/redis.rs`); run them with
//! `bash tests/cluster/setup.sh && cargo test --test cluster_store -- --ignored`.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::WAIT;
use common::redis::{RedisServer, Reply};
use construct_actors::cluster::{
    ClusterConfig, ClusterStore, EntryKind, FeedItem, SessionFeed, SessionRecord, StoreError,
    StreamEntry,
};
use construct_actors::token::Token;
use construct_actors::{EndReason, SessionSettings};
use uuid::Uuid;

/// The bound on each store call in these tests.
const TIMEOUT: Duration = Duration::from_secs(1);

/// How long a call may take while Redis is down before the test calls it slow.
const FAST: Duration = Duration::from_secs(3);

fn config(server: &RedisServer) -> ClusterConfig {
    ClusterConfig {
        timeout: TIMEOUT,
        ..ClusterConfig::new(server.url())
    }
}

fn store(server: &RedisServer) -> ClusterStore {
    ClusterStore::connect(&config(server)).unwrap()
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn new_record(token: &Token, label: Option<&str>) -> SessionRecord {
    SessionRecord {
        settings: Default::default(),
        id: Uuid::new_v4(),
        token_digest: token.digest(),
        cwd: Path::new("/work/project").into(),
        label: label.map(str::to_owned),
        created_at: at("2026-01-02T03:04:05.123456Z"),
        last_activity: at("2026-01-02T03:04:05.123456Z"),
    }
}

/// A new session in `store`, expiring after `ttl` unused.
async fn session(store: &ClusterStore, ttl: Option<Duration>) -> SessionRecord {
    let record = new_record(&Token::mint(), None);
    store.create_session(&record, ttl).await.unwrap();
    record
}

fn session_key(id: Uuid) -> String {
    format!("construct:{{{id}}}:session")
}

fn events_key(id: Uuid) -> String {
    format!("construct:{{{id}}}:events")
}

fn seqs(entries: &[StreamEntry]) -> Vec<u64> {
    entries.iter().map(|entry| entry.seq).collect()
}

fn event(seq: u64, json: &str) -> StreamEntry {
    StreamEntry {
        seq,
        kind: EntryKind::Event(json.into()),
    }
}

/// Asserts that `result` is `Unavailable` with a reason naming Redis, and came within [`FAST`].
fn assert_unavailable<T: std::fmt::Debug>(
    what: &str,
    started: Instant,
    result: Result<T, StoreError>,
) {
    let elapsed = started.elapsed();
    match result {
        Err(StoreError::Unavailable(reason)) => {
            assert!(reason.contains("Redis"), "{what}: {reason}");
            assert!(!reason.contains('\n'), "{what}: {reason}");
        }
        other => panic!("{what} while Redis is down: {other:?}"),
    }
    assert!(
        elapsed < FAST,
        "{what} took {elapsed:?} while Redis is down"
    );
}

/// Polls `store` until Redis answers again.
async fn wait_until_reachable(store: &ClusterStore) {
    let deadline = Instant::now() + WAIT;
    while let Err(err) = store.ping().await {
        assert!(
            Instant::now() < deadline,
            "the store did not recover: {err}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Reads `feed` until it returns entries, riding out `Unavailable` while Redis comes back.
async fn next_entries(feed: &mut SessionFeed) -> Vec<StreamEntry> {
    let deadline = Instant::now() + WAIT;
    loop {
        match feed.next(Duration::from_millis(200)).await {
            Ok(FeedItem::Entries(entries)) => return entries,
            Ok(FeedItem::Idle) | Err(StoreError::Unavailable(_)) => {}
            other => panic!("the feed read {other:?}"),
        }
        assert!(Instant::now() < deadline, "the feed read nothing");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
#[ignore = "needs redis-server: bash tests/cluster/setup.sh"]
async fn sessions_are_created_loaded_and_touched() {
    let server = RedisServer::start();
    let store = store(&server);
    let token = Token::mint();
    let record = new_record(&token, Some("build"));
    store
        .create_session(&record, Some(Duration::from_secs(60)))
        .await
        .unwrap();
    assert_eq!(
        store.load_session(record.id).await.unwrap(),
        Some(record.clone())
    );
    let pttl = server.command(&["PTTL", &session_key(record.id)]).integer();
    assert!((1..=60_000).contains(&pttl), "{pttl}");
    assert_eq!(store.last_seq(record.id).await.unwrap(), Some(0));

    store.publish(record.id, "{}", 100).await.unwrap();
    let later = at("2026-01-02T04:00:00.5Z");
    assert!(
        store
            .touch(record.id, Some(Duration::from_secs(120)), later)
            .await
            .unwrap()
    );
    let loaded = store.load_session(record.id).await.unwrap().unwrap();
    assert_eq!(loaded.last_activity, later);
    assert_eq!(loaded.created_at, record.created_at);
    for key in [session_key(record.id), events_key(record.id)] {
        let pttl = server.command(&["PTTL", &key]).integer();
        assert!((60_001..=120_000).contains(&pttl), "{key}: {pttl}");
    }

    assert!(store.touch(record.id, None, later).await.unwrap());
    for key in [session_key(record.id), events_key(record.id)] {
        assert_eq!(server.command(&["PTTL", &key]).integer(), -1, "{key}");
    }

    let unlabelled = session(&store, None).await;
    assert_eq!(
        store.load_session(unlabelled.id).await.unwrap(),
        Some(unlabelled.clone())
    );
    let has_label = server.command(&["HEXISTS", &session_key(unlabelled.id), "label"]);
    assert_eq!(has_label.integer(), 0);
}

/// Settings that set the given fields, leaving the others as they are.
fn settings(
    protocol_version: Option<&str>,
    log_level: Option<&str>,
    client_name: Option<&str>,
) -> SessionSettings {
    SessionSettings {
        protocol_version: protocol_version.map(Into::into),
        log_level: log_level.map(Into::into),
        client_name: client_name.map(Into::into),
        ..SessionSettings::default()
    }
}

#[tokio::test]
#[ignore = "needs redis-server: bash tests/cluster/setup.sh"]
async fn settings_are_saved_one_at_a_time_and_loaded_with_the_record() {
    let server = RedisServer::start();
    let store = store(&server);
    let record = session(&store, Some(Duration::from_secs(60))).await;
    let loaded = store.load_session(record.id).await.unwrap().unwrap();
    assert_eq!(loaded.settings, Default::default());
    assert!(
        store
            .save_settings(record.id, &settings(Some("2025-11-25"), None, None))
            .await
            .unwrap()
    );
    assert!(
        store
            .save_settings(
                record.id,
                &settings(None, Some("debug"), Some("claude-code"))
            )
            .await
            .unwrap()
    );
    let loaded = store.load_session(record.id).await.unwrap().unwrap();
    assert_eq!(
        loaded.settings.protocol_version.as_deref(),
        Some("2025-11-25")
    );
    assert_eq!(loaded.settings.log_level.as_deref(), Some("debug"));
    assert_eq!(loaded.settings.client_name.as_deref(), Some("claude-code"));
    assert_eq!(loaded.settings.client_version, None);
    // Saving settings is not activity: the record keeps the TTL it had.
    let ttl = server.command(&["PTTL", &session_key(record.id)]).integer();
    assert!(ttl > 0 && ttl <= 60_000, "{ttl}");
}

#[tokio::test]
#[ignore = "needs redis-server: bash tests/cluster/setup.sh"]
async fn an_unknown_session_is_absent_everywhere() {
    let server = RedisServer::start();
    let store = store(&server);
    let id = Uuid::new_v4();
    let now = Utc::now();
    assert_eq!(store.load_session(id).await.unwrap(), None);
    assert!(
        !store
            .touch(id, Some(Duration::from_secs(1)), now)
            .await
            .unwrap()
    );
    assert_eq!(store.last_seq(id).await.unwrap(), None);
    assert_eq!(store.publish(id, "{}", 10).await.unwrap(), None);
    assert_eq!(
        store.end_session(id, EndReason::Closed).await.unwrap(),
        None
    );
    assert_eq!(store.range_after(id, 0, 10).await.unwrap(), Vec::new());
    assert!(
        !store
            .save_settings(id, &settings(Some("2025-11-25"), None, None))
            .await
            .unwrap()
    );
    let keys = server.command(&["KEYS", "*"]);
    assert_eq!(keys, Reply::Array(Some(Vec::new())), "nothing was written");
}

#[tokio::test]
#[ignore = "needs redis-server: bash tests/cluster/setup.sh"]
async fn an_idle_session_expires_with_its_events() {
    let server = RedisServer::start();
    let store = store(&server);
    let record = session(&store, Some(Duration::from_millis(300))).await;
    assert_eq!(store.publish(record.id, "{}", 10).await.unwrap(), Some(1));
    let pttl = server.command(&["PTTL", &events_key(record.id)]).integer();
    assert!(
        (1..=300).contains(&pttl),
        "the events follow the session's TTL: {pttl}"
    );

    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(store.load_session(record.id).await.unwrap(), None);
    assert!(
        !store
            .touch(record.id, Some(TIMEOUT), Utc::now())
            .await
            .unwrap()
    );
    assert_eq!(store.last_seq(record.id).await.unwrap(), None);
    assert_eq!(store.publish(record.id, "{}", 10).await.unwrap(), None);
    assert_eq!(
        server
            .command(&["EXISTS", &events_key(record.id)])
            .integer(),
        0
    );
}

#[tokio::test]
#[ignore = "needs redis-server: bash tests/cluster/setup.sh"]
async fn a_session_without_ttl_keeps_both_keys() {
    let server = RedisServer::start();
    let store = store(&server);
    let record = session(&store, None).await;
    assert_eq!(store.publish(record.id, "{}", 10).await.unwrap(), Some(1));
    for key in [session_key(record.id), events_key(record.id)] {
        assert_eq!(server.command(&["PTTL", &key]).integer(), -1, "{key}");
    }
}

#[tokio::test]
#[ignore = "needs redis-server: bash tests/cluster/setup.sh"]
async fn the_store_keeps_a_digest_never_the_token() {
    let server = RedisServer::start();
    let store = ClusterStore::connect(&ClusterConfig {
        prefix: "elsewhere".into(),
        ..config(&server)
    })
    .unwrap();
    let token = Token::mint();
    let record = new_record(&token, Some("secret-keeping"));
    store
        .create_session(&record, Some(Duration::from_secs(60)))
        .await
        .unwrap();
    store
        .publish(record.id, r#"{"progress":1}"#, 10)
        .await
        .unwrap();

    let loaded = store.load_session(record.id).await.unwrap().unwrap();
    assert!(loaded.token_digest.matches(&token.reveal()));
    assert!(!loaded.token_digest.matches(&Token::mint().reveal()));
    assert!(!loaded.token_digest.matches("not a token"));

    let hex = token.reveal();
    let raw: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    let secrets = [
        hex.as_bytes().to_vec(),
        hex.to_uppercase().into_bytes(),
        raw,
    ];
    let leaks = |bytes: &[u8]| {
        secrets
            .iter()
            .any(|secret| bytes.windows(secret.len()).any(|window| window == secret))
    };

    let keys = server.command(&["KEYS", "*"]).bulks();
    let names: Vec<String> = keys
        .iter()
        .map(|key| String::from_utf8_lossy(key).into_owned())
        .collect();
    let tag = format!("elsewhere:{{{}}}:", record.id);
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.iter().all(|name| name.starts_with(&tag)), "{names:?}");
    let mut values = Vec::new();
    for name in &names {
        let reply = match server.command(&["TYPE", name]) {
            Reply::Status(kind) if kind == "hash" => server.command(&["HGETALL", name]),
            Reply::Status(kind) if kind == "stream" => server.command(&["XRANGE", name, "-", "+"]),
            other => panic!("{name} is a {other:?}"),
        };
        values.extend(reply.bulks());
    }
    assert!(
        values.iter().all(|value| !leaks(value)),
        "a value holds the token"
    );
    let digest = record.token_digest.to_hex().into_bytes();
    assert!(values.contains(&digest), "the hash holds the digest");

    let mut files = vec![server.dir().to_path_buf()];
    let mut aof = Vec::new();
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(
                std::fs::read_dir(&path)
                    .unwrap()
                    .map(|entry| entry.unwrap().path()),
            );
        } else {
            let bytes = std::fs::read(&path).unwrap();
            assert!(!leaks(&bytes), "{} holds the token", path.display());
            aof.extend(bytes);
        }
    }
    assert!(
        aof.windows(digest.len()).any(|window| window == digest),
        "the files were read"
    );
}

#[tokio::test]
#[ignore = "needs redis-server: bash tests/cluster/setup.sh"]
async fn publishing_numbers_events_from_one() {
    let server = RedisServer::start();
    let store = store(&server);
    let record = session(&store, Some(Duration::from_secs(60))).await;
    for (seq, json) in [(1, "\"a\""), (2, "\"b\""), (3, "\"c\"")] {
        assert_eq!(
            store.publish(record.id, json, 100).await.unwrap(),
            Some(seq)
        );
    }
    let ids: Vec<String> = server
        .command(&["XRANGE", &events_key(record.id), "-", "+"])
        .bulks()
        .into_iter()
        .map(|bytes| String::from_utf8(bytes).unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "1-0", "data", "\"a\"", "2-0", "data", "\"b\"", "3-0", "data", "\"c\""
        ]
    );
    assert_eq!(store.last_seq(record.id).await.unwrap(), Some(3));

    let all = store.range_after(record.id, 0, 10).await.unwrap();
    assert_eq!(
        all,
        [event(1, "\"a\""), event(2, "\"b\""), event(3, "\"c\"")]
    );
    assert_eq!(
        store.range_after(record.id, 1, 1).await.unwrap(),
        [event(2, "\"b\"")]
    );
    assert_eq!(store.range_after(record.id, 3, 10).await.unwrap(), []);
    assert_eq!(store.range_after(record.id, 0, 0).await.unwrap(), []);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs redis-server: bash tests/cluster/setup.sh"]
async fn two_nodes_share_one_numbering() {
    const TASKS: usize = 8;
    const EACH: usize = 50;
    let server = RedisServer::start();
    let nodes = [store(&server), store(&server)];
    let record = session(&nodes[0], Some(Duration::from_secs(60))).await;
    let publishers: Vec<_> = (0..TASKS)
        .map(|task| {
            let node = nodes[task % 2].clone();
            tokio::spawn(async move {
                let mut published = Vec::new();
                for n in 0..EACH {
                    let json = format!(r#"{{"task":{task},"n":{n}}}"#);
                    let seq = node
                        .publish(record.id, &json, 10_000)
                        .await
                        .unwrap()
                        .unwrap();
                    published.push((seq, json));
                }
                published
            })
        })
        .collect();
    let mut by_seq = BTreeMap::new();
    for publisher in publishers {
        for (seq, json) in publisher.await.unwrap() {
            assert!(
                by_seq.insert(seq, json).is_none(),
                "event {seq} was numbered twice"
            );
        }
    }
    let total = (TASKS * EACH) as u64;
    assert_eq!(
        by_seq.keys().copied().collect::<Vec<_>>(),
        (1..=total).collect::<Vec<_>>()
    );

    let entries = nodes[1].range_after(record.id, 0, 10_000).await.unwrap();
    let expected: Vec<StreamEntry> = by_seq.iter().map(|(seq, json)| event(*seq, json)).collect();
    assert_eq!(
        entries, expected,
        "both nodes see each event under its number"
    );
    assert_eq!(nodes[1].last_seq(record.id).await.unwrap(), Some(total));
}

#[tokio::test]
#[ignore = "needs redis-server: bash tests/cluster/setup.sh"]
async fn history_is_capped() {
    let server = RedisServer::start();
    let store = store(&server);
    let record = session(&store, Some(Duration::from_secs(60))).await;
    for _ in 0..1000 {
        store.publish(record.id, "{}", 10).await.unwrap();
    }
    let length = server.command(&["XLEN", &events_key(record.id)]).integer();
    // Redis trims whole blocks of entries (100 by default), never below the cap.
    assert!((10..=110).contains(&length), "{length}");
    let kept = store.range_after(record.id, 0, 10_000).await.unwrap();
    assert_eq!(kept.len() as i64, length);
    let first = kept[0].seq;
    assert!(first > 1);
    assert_eq!(seqs(&kept), (first..=1000).collect::<Vec<_>>());
}

#[tokio::test]
#[ignore = "needs redis-server: bash tests/cluster/setup.sh"]
async fn a_feed_delivers_in_order_and_resumes_from_its_place() {
    let server = RedisServer::start();
    let store = store(&server);
    let record = session(&store, Some(Duration::from_secs(60))).await;
    for n in 1..=3 {
        store
            .publish(record.id, &format!("{n}"), 100)
            .await
            .unwrap();
    }
    let mut feed = SessionFeed::open(&store, record.id, 0);
    let read = feed.next(Duration::from_millis(100)).await.unwrap();
    assert_eq!(
        read,
        FeedItem::Entries(vec![event(1, "1"), event(2, "2"), event(3, "3")])
    );
    assert_eq!(feed.cursor(), 3);
    assert_eq!(
        feed.next(Duration::from_millis(100)).await.unwrap(),
        FeedItem::Idle
    );

    let waiting = tokio::spawn(async move {
        let started = Instant::now();
        let read = feed.next(Duration::from_secs(5)).await.unwrap();
        (read, started.elapsed(), feed)
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(store.publish(record.id, "4", 100).await.unwrap(), Some(4));
    let (read, waited, feed) = waiting.await.unwrap();
    assert_eq!(read, FeedItem::Entries(vec![event(4, "4")]));
    assert!(
        waited < Duration::from_secs(2),
        "the feed woke up late: {waited:?}"
    );
    assert_eq!(feed.cursor(), 4);

    let mut resumed = SessionFeed::open(&store, record.id, 2);
    let read = resumed.next(Duration::from_millis(100)).await.unwrap();
    assert_eq!(read, FeedItem::Entries(vec![event(3, "3"), event(4, "4")]));
}

#[tokio::test]
#[ignore = "needs redis-server: bash tests/cluster/setup.sh"]
async fn a_feed_reports_gone_when_its_session_expires() {
    let server = RedisServer::start();
    let store = store(&server);
    let record = session(&store, Some(Duration::from_millis(400))).await;
    let mut feed = SessionFeed::open(&store, record.id, 0);
    assert_eq!(
        feed.next(Duration::from_millis(100)).await.unwrap(),
        FeedItem::Idle
    );
    let deadline = Instant::now() + WAIT;
    loop {
        match feed.next(Duration::from_millis(200)).await.unwrap() {
            FeedItem::Gone => break,
            FeedItem::Idle => assert!(Instant::now() < deadline, "the feed never saw it go"),
            other => panic!("an expiring session has no entries: {other:?}"),
        }
    }
}

#[tokio::test]
#[ignore = "needs redis-server: bash tests/cluster/setup.sh"]
async fn a_feed_reads_the_end_of_its_session() {
    let server = RedisServer::start();
    let store = store(&server);
    let record = session(&store, Some(Duration::from_secs(60))).await;
    store.publish(record.id, "1", 100).await.unwrap();
    let mut feed = SessionFeed::open(&store, record.id, 1);
    let waiting = tokio::spawn(async move { feed.next(Duration::from_secs(5)).await });
    tokio::time::sleep(Duration::from_millis(200)).await;

    assert_eq!(
        store
            .end_session(record.id, EndReason::Closed)
            .await
            .unwrap(),
        Some(2)
    );
    let end = StreamEntry {
        seq: 2,
        kind: EntryKind::End(EndReason::Closed),
    };
    assert_eq!(
        waiting.await.unwrap().unwrap(),
        FeedItem::Entries(vec![end.clone()])
    );

    assert_eq!(store.load_session(record.id).await.unwrap(), None);
    assert_eq!(store.last_seq(record.id).await.unwrap(), None);
    assert_eq!(store.publish(record.id, "3", 100).await.unwrap(), None);
    assert_eq!(
        store
            .end_session(record.id, EndReason::Closed)
            .await
            .unwrap(),
        None
    );
    let pttl = server.command(&["PTTL", &events_key(record.id)]).integer();
    assert!(
        (50_000..=60_000).contains(&pttl),
        "the end lingers for a while: {pttl}"
    );
    let history = store.range_after(record.id, 0, 10).await.unwrap();
    assert_eq!(history, [event(1, "1"), end.clone()]);

    let mut late = SessionFeed::open(&store, record.id, 0);
    let read = late.next(Duration::from_millis(100)).await.unwrap();
    assert_eq!(read, FeedItem::Entries(vec![event(1, "1"), end]));
    assert_eq!(
        late.next(Duration::from_millis(100)).await.unwrap(),
        FeedItem::Gone
    );

    let expired = session(&store, Some(Duration::from_secs(60))).await;
    assert_eq!(
        store
            .end_session(expired.id, EndReason::Expired)
            .await
            .unwrap(),
        Some(1)
    );
    let read = store.range_after(expired.id, 0, 10).await.unwrap();
    assert_eq!(
        read,
        [StreamEntry {
            seq: 1,
            kind: EntryKind::End(EndReason::Expired)
        }]
    );
}

#[tokio::test]
#[ignore = "needs redis-server: bash tests/cluster/setup.sh"]
async fn calls_fail_fast_while_redis_is_down_and_recover_after() {
    let mut server = RedisServer::start();
    let store = store(&server);
    let record = session(&store, Some(Duration::from_secs(60))).await;
    store.publish(record.id, "1", 100).await.unwrap();
    store.publish(record.id, "2", 100).await.unwrap();
    let mut feed = SessionFeed::open(&store, record.id, 0);
    assert_eq!(seqs(&next_entries(&mut feed).await), [1, 2]);

    server.stop();
    let now = Utc::now();
    let started = Instant::now();
    assert_unavailable("ping", started, store.ping().await);
    let started = Instant::now();
    assert_unavailable("load_session", started, store.load_session(record.id).await);
    let started = Instant::now();
    assert_unavailable(
        "touch",
        started,
        store.touch(record.id, Some(TIMEOUT), now).await,
    );
    let started = Instant::now();
    assert_unavailable("last_seq", started, store.last_seq(record.id).await);
    let started = Instant::now();
    assert_unavailable("publish", started, store.publish(record.id, "x", 100).await);
    let started = Instant::now();
    assert_unavailable(
        "range_after",
        started,
        store.range_after(record.id, 0, 10).await,
    );
    let started = Instant::now();
    let other = new_record(&Token::mint(), None);
    assert_unavailable(
        "create_session",
        started,
        store.create_session(&other, None).await,
    );
    let started = Instant::now();
    assert_unavailable(
        "end_session",
        started,
        store.end_session(record.id, EndReason::Closed).await,
    );
    let started = Instant::now();
    assert_unavailable("feed", started, feed.next(Duration::from_millis(200)).await);
    let started = Instant::now();
    assert_unavailable(
        "feed again",
        started,
        feed.next(Duration::from_millis(200)).await,
    );
    assert_eq!(feed.cursor(), 2, "the feed keeps its place");

    server.restart();
    wait_until_reachable(&store).await;
    assert_eq!(
        store.load_session(record.id).await.unwrap(),
        Some(record.clone())
    );
    assert_eq!(store.publish(record.id, "3", 100).await.unwrap(), Some(3));
    assert_eq!(next_entries(&mut feed).await, [event(3, "3")]);
}

#[tokio::test]
#[ignore = "needs redis-server: bash tests/cluster/setup.sh"]
async fn a_restart_between_calls_goes_unnoticed() {
    let mut server = RedisServer::start();
    let store = store(&server);
    let record = session(&store, Some(Duration::from_secs(60))).await;
    server.restart();
    // The store notices the lost connection by itself and connects again before it is used.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        store.load_session(record.id).await.unwrap(),
        Some(record.clone())
    );
}

#[tokio::test]
#[ignore = "needs redis-server: bash tests/cluster/setup.sh"]
async fn a_store_made_while_redis_is_down_works_once_it_is_up() {
    let mut server = RedisServer::start();
    server.stop();
    let store = store(&server);
    let id = Uuid::new_v4();
    let mut feed = SessionFeed::open(&store, id, 0);
    let started = Instant::now();
    assert_unavailable("ping", started, store.ping().await);
    let started = Instant::now();
    assert_unavailable("feed", started, feed.next(Duration::from_millis(100)).await);

    server.restart();
    wait_until_reachable(&store).await;
    let record = session(&store, Some(Duration::from_secs(60))).await;
    assert_eq!(
        store.load_session(record.id).await.unwrap(),
        Some(record.clone())
    );
    store.publish(record.id, "1", 100).await.unwrap();
    let mut feed = SessionFeed::open(&store, record.id, 0);
    assert_eq!(next_entries(&mut feed).await, [event(1, "1")]);
}

#[tokio::test]
#[ignore = "needs redis-server: bash tests/cluster/setup.sh"]
async fn a_foreign_record_is_corrupt() {
    let server = RedisServer::start();
    let store = store(&server);
    let wrong_type = Uuid::new_v4();
    server.command(&["SET", &session_key(wrong_type), "text"]);
    let result = store.load_session(wrong_type).await;
    assert!(matches!(result, Err(StoreError::Corrupt(_))), "{result:?}");

    let record = session(&store, None).await;
    server.command(&["HSET", &session_key(record.id), "created_at", "yesterday"]);
    let result = store.load_session(record.id).await;
    assert!(
        matches!(&result, Err(StoreError::Corrupt(why)) if why.contains("created_at")),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_malformed_url_is_a_configuration_error() {
    let result = ClusterStore::connect(&ClusterConfig::new("not a redis url"));
    assert!(
        matches!(result, Err(StoreError::InvalidConfig(_))),
        "{:?}",
        result.err()
    );
}
