//! Resource subscriptions through the daemon, against a real MCP server nobody here wrote
//! (`server-everything`, whose `toggle-subscriber-updates` tool makes it send
//! `notifications/resources/updated` for every URI its client subscribed to, at once and then
//! every 5 s): each subscriber gets the updates of its own URIs and nobody else does, in both
//! eras; the server is subscribed once for all, unsubscribed when the last subscriber leaves or
//! its session ends, and subscribed again when it restarts; the bounds and unknown URIs are
//! clear errors. Also the list changes of resources and prompts.
//!
//! The server is installed by `bash tests/upstream/setup.sh` (CI does so before running these
//! tests with `--ignored`); without it the tests fail saying so.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::eras::{messages_within, next_message, until};
use common::gateway::{self, READY_TIMEOUT, admin_servers, time_table};
use common::servers::{self, FEATURES};
use common::{Daemon, Events, Session};
use serde_json::{Value, json};

/// A resource of server-everything's text template.
const TEXT_1: &str = "demo://resource/dynamic/text/1";

/// More than the server's 5 s between two rounds of updates.
const ROUND: Duration = Duration::from_secs(7);

const UPDATED: &str = "notifications/resources/updated";

/// The daemon's log filter: the server's own log messages (what it received) are kept.
const SERVER_LOGS: &str = "warn,construct_actor::upstream::connection=debug";

/// `[servers.<name>]`, its pid written to `dir/<name>.pid`, restarted soon after it dies.
fn everything_table(dir: &Path, name: &str) -> String {
    let pid = dir.join(format!("{name}.pid"));
    servers::everything_table(name, &pid, "restart_backoff = \"100ms\"")
}

/// A daemon with server-everything (and the servers of `more`) behind it, its server's log
/// messages in its log; returns once its resources are offered, with a Construct session.
async fn start(dir: &Path, more: &[&str]) -> (Daemon, Session) {
    let mut config = everything_table(dir, "everything");
    for name in more {
        config.push_str(&everything_table(dir, name));
    }
    start_with(&config, Some(FEATURES)).await
}

/// A daemon with the servers of `config`; returns once they are all ready (and `listed`, when
/// given, is among the resources), with a Construct session.
async fn start_with(config: &str, listed: Option<&str>) -> (Daemon, Session) {
    let daemon = Daemon::start_with(config, &[("CONSTRUCT_ACTOR_LOG__LEVEL", SERVER_LOGS)]);
    let session = daemon.session().await;
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        let list = daemon.rpc(&session, "resources/list", json!({})).await;
        let servers = admin_servers(&daemon).await;
        let all_ready = servers.iter().all(|server| server["state"] == "ready");
        let resources = list["result"]["resources"].to_string();
        if all_ready && listed.is_none_or(|uri| resources.contains(uri)) {
            return (daemon, session);
        }
        assert!(Instant::now() < deadline, "not ready: {list} {servers:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A 2025-11-25 session: its id, its `initialize` result, and its standalone stream.
async fn standard(daemon: &Daemon) -> (String, Value, Events) {
    let response = daemon.initialize_raw("2025-11-25").await;
    let id = response.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let initialized: Value = response.json().await.unwrap();
    let stream = daemon.standalone_stream(&id).await;
    (id, initialized["result"].clone(), stream)
}

/// The answer to `method` (`resources/subscribe` or `resources/unsubscribe`) of `uri` in the
/// 2025-11-25 session `id`.
async fn ask(daemon: &Daemon, id: &str, method: &str, uri: &str) -> Value {
    daemon.standard_rpc(id, method, json!({"uri": uri})).await
}

/// Subscribes the 2025-11-25 session `id` to `uri`, which must succeed.
async fn subscribe(daemon: &Daemon, id: &str, uri: &str) {
    let answer = ask(daemon, id, "resources/subscribe", uri).await;
    assert_eq!(answer["result"], json!({}), "{answer}");
}

/// Ends the 2025-11-25 session `id` (`DELETE /mcp`).
async fn end_session(daemon: &Daemon, id: &str) {
    let ended = daemon
        .keyed(common::client().delete(daemon.url("/mcp")))
        .header("Mcp-Session-Id", id)
        .header("MCP-Protocol-Version", "2025-11-25")
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), 204);
}

/// Makes server-everything start (or stop) sending its updates.
async fn toggle_updates(daemon: &Daemon, session: &Session) {
    let done = daemon
        .call(
            session,
            "everything__toggle-subscriber-updates",
            json!({}),
            json!({}),
        )
        .await;
    assert!(done.last().unwrap()["result"].is_object(), "{done:?}");
}

/// The URIs of the updates among `messages`.
fn updated(messages: &[Value]) -> Vec<&str> {
    messages
        .iter()
        .filter(|message| message["method"] == UPDATED)
        .map(|message| message["params"]["uri"].as_str().unwrap())
        .collect()
}

/// How many times server-everything said (in its log messages, in the daemon's log) that it
/// received `what` ("Subscribe Resource request for URI: X", "Unsubscribe Resource request: X").
fn server_received(daemon: &Daemon, what: &str) -> usize {
    daemon.stderr().matches(&format!("Received {what}")).count()
}

/// Waits until server-everything has said it received `what` `times` times.
async fn until_server_received(daemon: &Daemon, what: &str, times: usize) {
    let deadline = Instant::now() + common::WAIT;
    while server_received(daemon, what) < times {
        assert!(
            Instant::now() < deadline,
            "the server received {what} {} times, not {times}",
            server_received(daemon, what)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
#[ignore = "needs the servers installed by tests/upstream/setup.sh"]
async fn each_session_gets_the_updates_of_its_own_subscriptions_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (daemon, session) = start(dir.path(), &[]).await;
    let (first, initialized, mut first_stream) = standard(&daemon).await;
    let capabilities = &initialized["capabilities"];
    assert_eq!(
        capabilities["resources"],
        json!({"subscribe": true, "listChanged": true})
    );
    assert_eq!(capabilities["prompts"], json!({"listChanged": true}));
    let (second, _, mut second_stream) = standard(&daemon).await;
    let (_, _, mut bystander) = standard(&daemon).await;

    subscribe(&daemon, &first, FEATURES).await;
    subscribe(&daemon, &second, FEATURES).await;
    subscribe(&daemon, &second, TEXT_1).await;
    // Subscribed upstream once per URI, however many sessions hold it.
    until_server_received(
        &daemon,
        &format!("Subscribe Resource request for URI: {TEXT_1}"),
        1,
    )
    .await;
    let features = format!("Subscribe Resource request for URI: {FEATURES}");
    assert_eq!(server_received(&daemon, &features), 1);

    toggle_updates(&daemon, &session).await;
    let told = until(&mut first_stream, UPDATED).await;
    assert_eq!(told["params"], json!({"uri": FEATURES}));
    let mut seen: Vec<String> = Vec::new();
    while seen.len() < 2 {
        let message = until(&mut second_stream, UPDATED).await;
        seen.push(message["params"]["uri"].as_str().unwrap().to_owned());
    }
    seen.sort();
    assert_eq!(seen, [TEXT_1, FEATURES]);
    // The first session never hears of the second's other resource; the bystander of nothing.
    let (first_round, bystanders) = tokio::join!(
        messages_within(&mut first_stream, ROUND),
        messages_within(&mut bystander, ROUND)
    );
    assert!(!updated(&first_round).is_empty(), "{first_round:?}");
    assert!(
        updated(&first_round).iter().all(|uri| *uri == FEATURES),
        "{first_round:?}"
    );
    assert_eq!(updated(&bystanders), Vec::<&str>::new());

    // Unsubscribed: no more updates, though the second session still gets its own; the server
    // is asked to unsubscribe only when the last session leaves.
    let answer = ask(&daemon, &first, "resources/unsubscribe", FEATURES).await;
    assert_eq!(answer["result"], json!({}), "{answer}");
    let unsubscribed = format!("Unsubscribe Resource request: {FEATURES}");
    // What was on its way before is let through.
    messages_within(&mut first_stream, Duration::from_millis(500)).await;
    messages_within(&mut second_stream, Duration::from_millis(500)).await;
    let (after, still) = tokio::join!(
        messages_within(&mut first_stream, ROUND),
        messages_within(&mut second_stream, ROUND)
    );
    assert_eq!(updated(&after), Vec::<&str>::new());
    assert!(!updated(&still).is_empty(), "{still:?}");
    assert_eq!(server_received(&daemon, &unsubscribed), 0);
    ask(&daemon, &second, "resources/unsubscribe", FEATURES).await;
    until_server_received(&daemon, &unsubscribed, 1).await;
}

#[tokio::test]
#[ignore = "needs the servers installed by tests/upstream/setup.sh"]
async fn subscriptions_end_with_their_session_and_are_made_again_when_the_server_restarts_or_reloads()
 {
    let dir = tempfile::tempdir().unwrap();
    let (daemon, session) = start(dir.path(), &[]).await;
    let (id, _, mut stream) = standard(&daemon).await;
    subscribe(&daemon, &id, FEATURES).await;

    // The server dies and comes back: its lists come and go (told as list changes), and the
    // session's subscription is made again with the new process, whose updates reach it.
    servers::kill_group(&dir.path().join("everything.pid"));
    let mut told = Vec::new();
    for _ in 0..6 {
        told.push(next_message(&mut stream).await["method"].clone());
    }
    for method in [
        "notifications/tools/list_changed",
        "notifications/prompts/list_changed",
        "notifications/resources/list_changed",
    ] {
        assert_eq!(
            told.iter().filter(|told| **told == method).count(),
            2,
            "gone and back: {told:?}"
        );
    }
    let features = format!("Subscribe Resource request for URI: {FEATURES}");
    until_server_received(&daemon, &features, 2).await;
    toggle_updates(&daemon, &session).await;
    assert_eq!(until(&mut stream, UPDATED).await["params"]["uri"], FEATURES);

    // A reload that changes its table restarts it: subscribed again on the new connection.
    let changed = everything_table(dir.path(), "everything") + "call_timeout = \"61s\"\n";
    daemon.rewrite_config(&changed);
    until_server_received(&daemon, &features, 3).await;
    toggle_updates(&daemon, &session).await;
    assert_eq!(until(&mut stream, UPDATED).await["params"]["uri"], FEATURES);

    // The session ends: its subscription with it, and the server is unsubscribed.
    end_session(&daemon, &id).await;
    until_server_received(
        &daemon,
        &format!("Unsubscribe Resource request: {FEATURES}"),
        1,
    )
    .await;
}

#[tokio::test]
#[ignore = "needs the servers installed by tests/upstream/setup.sh"]
async fn a_listen_stream_gets_the_updates_of_its_resources_alone_until_it_closes() {
    let dir = tempfile::tempdir().unwrap();
    let (daemon, session) = start(dir.path(), &[]).await;
    let (status, discover) = daemon.modern("server/discover", json!({}), None).await;
    assert_eq!(status, 200);
    assert_eq!(
        discover["result"]["capabilities"]["resources"],
        json!({"subscribe": true, "listChanged": true})
    );
    let everything = json!({
        "toolsListChanged": true, "promptsListChanged": true, "resourcesListChanged": true,
        "resourceSubscriptions": [FEATURES, TEXT_1],
    });
    let (mut watching, honored) = daemon.listen("watching", everything.clone()).await;
    assert_eq!(honored, everything);
    let (mut tools_only, honored) = daemon
        .listen(
            "tools",
            json!({"toolsListChanged": true, "elsewhere": true}),
        )
        .await;
    assert_eq!(honored, json!({"toolsListChanged": true}));

    toggle_updates(&daemon, &session).await;
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let message = until(&mut watching, UPDATED).await;
        assert_eq!(
            message["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
            "watching"
        );
        seen.push(message["params"]["uri"].as_str().unwrap().to_owned());
    }
    seen.sort();
    assert_eq!(seen, [TEXT_1, FEATURES]);
    assert_eq!(
        updated(&messages_within(&mut tools_only, ROUND).await),
        Vec::<&str>::new()
    );

    // Closing the stream ends its subscriptions: the server is unsubscribed from both.
    drop(watching);
    until_server_received(
        &daemon,
        &format!("Unsubscribe Resource request: {FEATURES}"),
        1,
    )
    .await;
    until_server_received(
        &daemon,
        &format!("Unsubscribe Resource request: {TEXT_1}"),
        1,
    )
    .await;
}

/// A listen stream's refusal: its JSON-RPC error.
async fn listen_refused(daemon: &Daemon, notifications: Value) -> Value {
    let response = daemon.listen_raw("refused", notifications).await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["id"], "refused", "{answer}");
    answer["error"].clone()
}

#[tokio::test]
#[ignore = "needs the servers installed by tests/upstream/setup.sh"]
async fn unknown_uris_and_too_many_subscriptions_are_clear_errors_in_both_eras() {
    let dir = tempfile::tempdir().unwrap();
    // Two servers with resources: a URI neither serves goes nowhere.
    let (daemon, _) = start(dir.path(), &["second"]).await;
    let (id, _, _stream) = standard(&daemon).await;

    let nowhere = ask(&daemon, &id, "resources/subscribe", "nowhere://x").await;
    assert_eq!(nowhere["error"]["code"], -32602, "{nowhere}");
    let message = nowhere["error"]["message"].as_str().unwrap();
    assert!(message.contains("resource not found"), "{message}");
    let message = json!({"jsonrpc": "2.0", "id": 4, "method": "resources/subscribe", "params": {}});
    let no_uri: Value = daemon
        .standard_post(&id, message)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(no_uri["error"]["code"], -32602, "{no_uri}");

    let text = |n: usize| format!("demo://resource/dynamic/text/{n}");
    for n in 1..=64 {
        subscribe(&daemon, &id, &text(n)).await;
    }
    let over = ask(&daemon, &id, "resources/subscribe", &text(65)).await;
    assert_eq!(over["error"]["code"], -32000, "{over}");
    let message = over["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("too many resource subscriptions"),
        "{message}"
    );
    // Leaving one makes room; subscribing again to one held takes none.
    subscribe(&daemon, &id, &text(64)).await;
    ask(&daemon, &id, "resources/unsubscribe", &text(1)).await;
    subscribe(&daemon, &id, &text(65)).await;

    // The same in a listen stream, which takes its URIs all or none.
    let error = listen_refused(
        &daemon,
        json!({"resourceSubscriptions": [FEATURES, "nowhere://x"]}),
    )
    .await;
    assert_eq!(error["code"], -32602, "{error}");
    let uris: Vec<String> = (1..=65).map(text).collect();
    let error = listen_refused(&daemon, json!({"resourceSubscriptions": uris})).await;
    assert_eq!(error["code"], -32000, "{error}");
    assert!(
        error["message"].as_str().unwrap().contains("at most 64"),
        "{error}"
    );
    let error = listen_refused(&daemon, json!({"resourceSubscriptions": "not a list"})).await;
    assert_eq!(error["code"], -32602, "{error}");
}

#[tokio::test]
#[ignore = "needs the servers installed by tests/upstream/setup.sh"]
async fn a_server_that_takes_no_subscriptions_is_named_and_none_is_declared() {
    // mcp-server-time (Python) declares resources, without subscriptions.
    let (daemon, _) = start_with(&time_table(), None).await;
    let (id, initialized, _stream) = standard(&daemon).await;
    assert_eq!(
        initialized["capabilities"]["resources"],
        json!({"listChanged": true}),
        "{initialized}"
    );
    let refused = ask(&daemon, &id, "resources/subscribe", "time://now").await;
    assert_eq!(refused["error"]["code"], -32602, "{refused}");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.contains("MCP server time serves"), "{message}");
    assert!(message.contains("takes no subscriptions"), "{message}");
    let error = listen_refused(&daemon, json!({"resourceSubscriptions": ["time://now"]})).await;
    assert_eq!(error["code"], -32602, "{error}");
    // What it does offer is still honoured.
    let (_, honored) = daemon
        .listen("lists", json!({"resourcesListChanged": true}))
        .await;
    assert_eq!(honored, json!({"resourcesListChanged": true}));
}

/// `tools/call` of `tool` in the 2025-11-25 session `id`: every message of its answer.
async fn standard_call(daemon: &Daemon, id: &str, tool: &str) -> Vec<Value> {
    let message = json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call",
                         "params": {"name": tool, "arguments": {}}});
    gateway::all_messages(daemon.standard_post(id, message).await).await
}

#[tokio::test]
#[ignore = "needs the servers installed by tests/upstream/setup.sh"]
async fn a_sessions_own_server_is_subscribed_for_that_session_alone() {
    let dir = tempfile::tempdir().unwrap();
    let config = gateway::everything_table(dir.path(), "scope = \"session\"");
    let daemon = Daemon::start_with(&config, &[("CONSTRUCT_ACTOR_LOG__LEVEL", SERVER_LOGS)]);
    let (mine, _, mut my_stream) = standard(&daemon).await;
    let (theirs, _, mut their_stream) = standard(&daemon).await;
    // Each session's first request starts its own server, which takes the subscription.
    subscribe(&daemon, &mine, FEATURES).await;
    subscribe(&daemon, &theirs, FEATURES).await;
    let features = format!("Subscribe Resource request for URI: {FEATURES}");
    until_server_received(&daemon, &features, 2).await;
    let pids: Vec<u32> = std::fs::read_to_string(dir.path().join("pids"))
        .unwrap()
        .lines()
        .map(|pid| pid.parse().unwrap())
        .collect();
    assert_eq!(pids.len(), 2, "one server per session");

    // Only my server sends updates: they reach me, never the other session.
    let toggled = standard_call(&daemon, &mine, "everything__toggle-subscriber-updates").await;
    assert!(toggled.last().unwrap()["result"].is_object(), "{toggled:?}");
    assert_eq!(
        until(&mut my_stream, UPDATED).await["params"]["uri"],
        FEATURES
    );
    let theirs_got = messages_within(&mut their_stream, ROUND).await;
    assert_eq!(updated(&theirs_got), Vec::<&str>::new());

    // My session ends: my server is unsubscribed and stops with it (the daemon's hold on it for
    // the subscription goes too); the other session's server runs on.
    end_session(&daemon, &mine).await;
    let deadline = Instant::now() + common::WAIT;
    while gateway::running(pids[0]) {
        assert!(Instant::now() < deadline, "my server still runs");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(gateway::running(pids[1]));
}
