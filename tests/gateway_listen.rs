//! A server that speaks 2026-07-28 tells its changes on a `subscriptions/listen` stream alone;
//! the daemon keeps one open on its connection, and what it carries reaches the daemon's own
//! clients as a 2025-11-25 server's notifications do: its tool list changes, and the updates of
//! the resources clients subscribed to (the subscriptions made on that stream), also after the
//! server ended the stream (it is opened again).
//!
//! The server is `tests/upstream/changing_server.py`, the smallest one on the official Python SDK
//! (installed by `bash tests/upstream/setup.sh`) whose lists change: no server on the registries
//! that speaks 2026-07-28 changes its lists. The SDK publishes such a server's changes to listen
//! streams only, so nothing here would arrive had the daemon not opened one. Each test runs with
//! the server over stdio (the daemon's child) and over Streamable HTTP (the test's child).

mod common;

use std::process::Command;
use std::time::Duration;

use common::eras::{messages_within, until};
use common::gateway::{final_response, first_text, offered};
use common::servers::{HttpServer, changing_script, changing_table, python};
use common::{Daemon, Events, Session};
use serde_json::{Value, json};

const COUNTER: &str = "counter://bumps";
const UPDATED: &str = "notifications/resources/updated";
const TOOLS_CHANGED: &str = "notifications/tools/list_changed";

/// How the daemon reaches the changing server.
#[derive(Clone, Copy)]
enum Transport {
    Stdio,
    Http,
}

/// A daemon with the changing server behind it over `transport` (its listen streams opened
/// again soon after they end), once its tools are offered; with a Construct session, and the
/// server when the test runs it.
async fn start(transport: Transport) -> (Daemon, Session, Option<HttpServer>) {
    let backoff = "restart_backoff = \"100ms\"";
    let (config, remote) = match transport {
        Transport::Stdio => (changing_table("changing", &[], backoff), None),
        Transport::Http => {
            let mut command = Command::new(python());
            command.arg(changing_script());
            let remote = HttpServer::start(command, |command, port| {
                command.args(["http", &port.to_string()]);
            });
            let table = format!("[servers.changing]\nurl = {:?}\n{backoff}\n", remote.url);
            (table, Some(remote))
        }
    };
    let daemon = Daemon::start(&config);
    let session = daemon.session().await;
    offered(&daemon, &session, &["changing__add_tool"]).await;
    (daemon, session, remote)
}

/// A 2025-11-25 session and its standalone stream.
async fn standard(daemon: &Daemon) -> (String, Events) {
    let id = daemon.initialize("2025-11-25").await;
    let stream = daemon.standalone_stream(&id).await;
    (id, stream)
}

/// Calls the changing server's `tool` with `arguments`; the text it answered.
async fn call(daemon: &Daemon, session: &Session, tool: &str, arguments: Value) -> String {
    let tool = format!("changing__{tool}");
    let answer = final_response(daemon, session, &tool, arguments).await;
    first_text(&answer).to_owned()
}

/// Ends the server's listen streams, and waits until the daemon has one open again (a tool
/// added then is told): what comes after runs on the stream opened again.
async fn end_listens(daemon: &Daemon, session: &Session, stream: &mut Events) {
    assert_eq!(
        call(daemon, session, "end_listens", json!({})).await,
        "ended"
    );
    for round in 0.. {
        let name = format!("after_end_{round}");
        call(daemon, session, "add_tool", json!({"name": name})).await;
        let told = messages_within(stream, Duration::from_secs(1)).await;
        if told
            .iter()
            .any(|message| message["method"] == TOOLS_CHANGED)
        {
            offered(daemon, session, &[&format!("changing__{name}")]).await;
            return;
        }
        assert!(
            round < 20,
            "no listen stream again after the server ended it"
        );
    }
}

#[tokio::test]
#[ignore = "needs the servers installed by tests/upstream/setup.sh"]
async fn a_modern_servers_tool_list_changes_reach_the_daemons_clients() {
    tool_list_changes_reach_the_daemons_clients(Transport::Stdio).await;
}

#[tokio::test]
#[ignore = "needs the servers installed by tests/upstream/setup.sh"]
async fn a_remote_modern_servers_tool_list_changes_reach_the_daemons_clients() {
    tool_list_changes_reach_the_daemons_clients(Transport::Http).await;
}

async fn tool_list_changes_reach_the_daemons_clients(transport: Transport) {
    let (daemon, session, _remote) = start(transport).await;
    let (_id, mut stream) = standard(&daemon).await;

    let added = call(&daemon, &session, "add_tool", json!({"name": "fresh"})).await;
    assert_eq!(added, "added fresh");
    until(&mut stream, TOOLS_CHANGED).await;
    offered(&daemon, &session, &["changing__fresh"]).await;
    assert_eq!(call(&daemon, &session, "fresh", json!({})).await, "added");

    // The server ends its listen stream (as one shutting down does): the daemon opens another,
    // and changes are told again.
    end_listens(&daemon, &session, &mut stream).await;
    call(&daemon, &session, "add_tool", json!({"name": "later"})).await;
    until(&mut stream, TOOLS_CHANGED).await;
    offered(&daemon, &session, &["changing__later"]).await;
    // The server was never restarted: the stream was, alone.
    let servers = common::gateway::admin_servers(&daemon).await;
    assert_eq!(servers[0]["restarts"], 0, "{servers:?}");
}

/// The URIs of the updates among what `stream` carries within a second.
async fn updates_within_a_second(stream: &mut Events) -> Vec<String> {
    let messages = messages_within(stream, Duration::from_secs(1)).await;
    messages
        .iter()
        .filter(|message| message["method"] == UPDATED)
        .map(|message| message["params"]["uri"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
#[ignore = "needs the servers installed by tests/upstream/setup.sh"]
async fn a_modern_servers_resources_are_subscribed_on_its_listen_stream() {
    resources_are_subscribed_on_the_listen_stream(Transport::Stdio).await;
}

#[tokio::test]
#[ignore = "needs the servers installed by tests/upstream/setup.sh"]
async fn a_remote_modern_servers_resources_are_subscribed_on_its_listen_stream() {
    resources_are_subscribed_on_the_listen_stream(Transport::Http).await;
}

async fn resources_are_subscribed_on_the_listen_stream(transport: Transport) {
    let (daemon, session, _remote) = start(transport).await;
    let (id, mut stream) = standard(&daemon).await;
    let (_other, mut other_stream) = standard(&daemon).await;
    let initialized = daemon.standard_rpc(&id, "resources/list", json!({})).await;
    assert!(initialized.to_string().contains(COUNTER), "{initialized}");

    let subscribed = daemon
        .standard_rpc(&id, "resources/subscribe", json!({"uri": COUNTER}))
        .await;
    assert_eq!(subscribed["result"], json!({}), "{subscribed}");
    assert_eq!(call(&daemon, &session, "bump", json!({})).await, "1");
    assert_eq!(until(&mut stream, UPDATED).await["params"]["uri"], COUNTER);
    assert_eq!(
        updates_within_a_second(&mut other_stream).await,
        Vec::<String>::new()
    );

    // A 2026-07-28 client subscribes on its own listen stream, through the same upstream one.
    let notifications = json!({"resourceSubscriptions": [COUNTER]});
    let (mut listen, honored) = daemon.listen("mine", notifications.clone()).await;
    assert_eq!(honored, notifications);
    call(&daemon, &session, "bump", json!({})).await;
    assert_eq!(until(&mut stream, UPDATED).await["params"]["uri"], COUNTER);
    let told = until(&mut listen, UPDATED).await;
    assert_eq!(told["params"]["uri"], COUNTER);
    assert_eq!(
        told["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        "mine"
    );

    // The server ends its stream: the one opened again still holds the subscription.
    end_listens(&daemon, &session, &mut stream).await;
    call(&daemon, &session, "bump", json!({})).await;
    assert_eq!(until(&mut stream, UPDATED).await["params"]["uri"], COUNTER);
    assert_eq!(until(&mut listen, UPDATED).await["params"]["uri"], COUNTER);

    // Unsubscribed by both: no more updates.
    let left = daemon
        .standard_rpc(&id, "resources/unsubscribe", json!({"uri": COUNTER}))
        .await;
    assert_eq!(left["result"], json!({}), "{left}");
    drop(listen);
    call(&daemon, &session, "bump", json!({})).await;
    assert_eq!(
        updates_within_a_second(&mut stream).await,
        Vec::<String>::new()
    );
}

#[tokio::test]
#[ignore = "needs the servers installed by tests/upstream/setup.sh"]
async fn a_refused_listen_stream_is_asked_for_again_after_a_backoff_and_fails_subscriptions() {
    let backoff = "restart_backoff = \"100ms\"\nrestart_backoff_max = \"400ms\"";
    let config = changing_table("changing", &["refuse-listens"], backoff);
    let daemon = Daemon::start_with(&config, &[("CONSTRUCT_ACTOR_LOG__LEVEL", "warn")]);
    let session = daemon.session().await;
    offered(&daemon, &session, &["changing__add_tool"]).await;

    // A subscription fails with the server's refusal, its code kept, the server named.
    let (id, _stream) = standard(&daemon).await;
    let refused = daemon
        .standard_rpc(&id, "resources/subscribe", json!({"uri": COUNTER}))
        .await;
    assert_eq!(refused["error"]["code"], -32603, "{refused}");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("MCP server changing: refused subscriptions/listen"),
        "{message}"
    );

    // It is asked again after a backoff each time (at most 400 ms here): never given up on,
    // never in a tight loop.
    let refusals = |daemon: &Daemon| daemon.stderr().matches("no listen stream").count();
    let before = refusals(&daemon);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let asked = refusals(&daemon) - before;
    assert!((3..=10).contains(&asked), "asked {asked} times in 2 s");
    // The server itself is not restarted for it, and serves.
    assert_eq!(call(&daemon, &session, "bump", json!({})).await, "1");
    let servers = common::gateway::admin_servers(&daemon).await;
    assert_eq!(servers[0]["restarts"], 0, "{servers:?}");
}
