//! Resources and prompts of a real MCP server behind the daemon (`server-everything`, which
//! nobody here wrote): listed, read and got through the daemon in each way a client speaks to
//! it (a Construct session, a standard 2025-11-25 session, stateless 2026-07-28 requests), its
//! lists refreshed when it says they changed (and clients told), and its errors (and its being
//! down) passed on.
//!
//! The server is installed by `bash tests/upstream/setup.sh` (CI does so before running these
//! tests with `--ignored`); without it the tests fail saying so.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::eras::until;
use common::gateway::READY_TIMEOUT;
use common::servers::{self, FEATURES};
use common::{Daemon, Session};
use serde_json::{Value, json};

/// `[servers.everything]`, its pid written to `dir/pid`.
fn everything_table(dir: &Path, extra: &str) -> String {
    servers::everything_table("everything", &dir.join("pid"), extra)
}

/// The `key` of each entry of `list`.
fn keys(list: &Value, key: &str) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|entry| entry[key].as_str().unwrap().to_owned())
        .collect()
}

/// Waits until `method` (a list) gives an entry whose `key` is `expected`; the list's result.
async fn listed(
    daemon: &Daemon,
    session: &Session,
    method: &str,
    key: &str,
    expected: &str,
) -> Value {
    let field = match method {
        "resources/list" => "resources",
        "resources/templates/list" => "resourceTemplates",
        _ => "prompts",
    };
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        let answer = daemon.rpc(session, method, json!({})).await;
        let result = &answer["result"];
        if keys(&result[field], key)
            .iter()
            .any(|found| found == expected)
        {
            return result.clone();
        }
        assert!(
            Instant::now() < deadline,
            "{expected} never listed: {answer}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A standard session's JSON answer to `method` with `params`.
async fn standard(daemon: &Daemon, id: &str, method: &str, params: Value) -> Value {
    let message = json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params});
    let response = daemon.standard_post(id, message).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// server-everything behind a fresh daemon, with its resources and prompts listed; `dir` holds
/// its pid file.
struct Everything {
    dir: tempfile::TempDir,
    daemon: Daemon,
    session: Session,
    /// The first `resources/list` and `prompts/list` results that showed them.
    resources: Value,
    prompts: Value,
}

impl Everything {
    /// Starts it with `extra` lines in its table, and waits until its lists are offered.
    async fn start(extra: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let daemon = Daemon::start(&everything_table(dir.path(), extra));
        let session = daemon.session().await;
        let resources = listed(&daemon, &session, "resources/list", "uri", FEATURES).await;
        let prompt = "everything__simple-prompt";
        let prompts = listed(&daemon, &session, "prompts/list", "name", prompt).await;
        Self {
            dir,
            daemon,
            session,
            resources,
            prompts,
        }
    }
}

#[tokio::test]
#[ignore = "needs the servers installed by tests/upstream/setup.sh"]
async fn a_construct_session_lists_and_reads_resources_and_gets_prompts() {
    let Everything {
        daemon,
        session,
        resources,
        prompts,
        ..
    } = Everything::start("").await;

    let features = resources["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|resource| resource["uri"] == FEATURES)
        .unwrap();
    assert_eq!(features["mimeType"], "text/markdown");
    let read = daemon
        .rpc(&session, "resources/read", json!({"uri": FEATURES}))
        .await;
    let contents = &read["result"]["contents"][0];
    assert_eq!(contents["uri"], FEATURES, "{read}");
    assert!(!contents["text"].as_str().unwrap().is_empty());

    let templates = daemon
        .rpc(&session, "resources/templates/list", json!({}))
        .await;
    let templates = keys(&templates["result"]["resourceTemplates"], "uriTemplate");
    for template in [
        "demo://resource/dynamic/text/{resourceId}",
        "demo://resource/dynamic/blob/{resourceId}",
    ] {
        assert!(templates.iter().any(|t| t == template), "{templates:?}");
    }
    // Read through a template: text, and a blob (base64).
    let text = daemon
        .rpc(
            &session,
            "resources/read",
            json!({"uri": "demo://resource/dynamic/text/2"}),
        )
        .await;
    let text = text["result"]["contents"][0]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(text.starts_with("Resource 2:"), "{text}");
    let blob = daemon
        .rpc(
            &session,
            "resources/read",
            json!({"uri": "demo://resource/dynamic/blob/3"}),
        )
        .await;
    let blob = &blob["result"]["contents"][0];
    assert_eq!(blob["uri"], "demo://resource/dynamic/blob/3");
    assert!(blob.get("text").is_none(), "{blob}");
    // "Resource 3:" in base64.
    assert!(
        blob["blob"].as_str().unwrap().starts_with("UmVzb3VyY2UgMz"),
        "{blob}"
    );

    let args = prompts["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|prompt| prompt["name"] == "everything__args-prompt")
        .unwrap_or_else(|| panic!("{prompts}"));
    assert_eq!(args["arguments"][0]["name"], "city");
    assert_eq!(args["arguments"][0]["required"], true);
    let simple = daemon
        .rpc(
            &session,
            "prompts/get",
            json!({"name": "everything__simple-prompt"}),
        )
        .await;
    assert_eq!(
        simple["result"]["messages"][0]["content"]["text"],
        "This is a simple prompt without arguments."
    );
    let weather = daemon
        .rpc(
            &session,
            "prompts/get",
            json!({"name": "everything__args-prompt", "arguments": {"city": "Paris", "state": "TX"}}),
        )
        .await;
    assert_eq!(
        weather["result"]["messages"][0]["content"]["text"],
        "What's weather in Paris, TX?"
    );
    let embedded = daemon
        .rpc(
            &session,
            "prompts/get",
            json!({"name": "everything__resource-prompt",
                   "arguments": {"resourceType": "Text", "resourceId": "4"}}),
        )
        .await;
    let resource = &embedded["result"]["messages"][1]["content"];
    assert_eq!(resource["type"], "resource", "{embedded}");
    assert_eq!(
        resource["resource"]["uri"],
        "demo://resource/dynamic/text/4"
    );
}

#[tokio::test]
#[ignore = "needs the servers installed by tests/upstream/setup.sh"]
async fn unknown_prompts_and_uris_and_the_servers_own_refusals_are_errors() {
    let Everything {
        daemon, session, ..
    } = Everything::start("").await;

    let unknown = daemon
        .rpc(&session, "prompts/get", json!({"name": "nope"}))
        .await;
    assert_eq!(unknown["error"]["code"], -32602, "{unknown}");
    assert!(
        unknown["error"]["message"]
            .as_str()
            .unwrap()
            .contains("nope")
    );
    // A required argument missing: the server's own error, its code kept, naming it.
    let missing = daemon
        .rpc(
            &session,
            "prompts/get",
            json!({"name": "everything__args-prompt"}),
        )
        .await;
    assert_eq!(missing["error"]["code"], -32602, "{missing}");
    assert!(
        missing["error"]["message"]
            .as_str()
            .unwrap()
            .contains("MCP server everything")
    );
    // A URI nobody lists goes to the only server with resources, which does not know it.
    let nowhere = daemon
        .rpc(&session, "resources/read", json!({"uri": "nowhere://x"}))
        .await;
    assert!(nowhere["error"]["code"].is_i64(), "{nowhere}");
    assert!(
        nowhere["error"]["message"]
            .as_str()
            .unwrap()
            .contains("MCP server everything"),
        "{nowhere}"
    );
    let no_uri = daemon.rpc(&session, "resources/read", json!({})).await;
    assert_eq!(no_uri["error"]["code"], -32602);
}

#[tokio::test]
#[ignore = "needs the servers installed by tests/upstream/setup.sh"]
async fn a_standard_session_sees_the_capabilities_and_reads_and_gets() {
    let Everything { daemon, .. } = Everything::start("").await;
    let initialized = daemon.initialize_raw("2025-11-25").await;
    let id = initialized.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = initialized.json().await.unwrap();
    let capabilities = &body["result"]["capabilities"];
    assert!(capabilities["resources"].is_object(), "{body}");
    assert!(capabilities["prompts"].is_object(), "{body}");
    assert_eq!(capabilities["resources"]["subscribe"], true, "{body}");

    let read = standard(&daemon, &id, "resources/read", json!({"uri": FEATURES})).await;
    assert_eq!(read["id"], 7);
    assert_eq!(read["result"]["contents"][0]["uri"], FEATURES, "{read}");
    assert!(
        read["result"].get("resultType").is_none(),
        "a legacy result: {read}"
    );
    let got = standard(
        &daemon,
        &id,
        "prompts/get",
        json!({"name": "everything__simple-prompt"}),
    )
    .await;
    assert_eq!(got["result"]["messages"][0]["role"], "user", "{got}");
    let prompts = standard(&daemon, &id, "prompts/list", json!({})).await;
    assert!(
        keys(&prompts["result"]["prompts"], "name").contains(&"everything__args-prompt".to_owned())
    );
}

#[tokio::test]
#[ignore = "needs the servers installed by tests/upstream/setup.sh"]
async fn stateless_requests_list_read_and_get_with_complete_results() {
    let Everything { daemon, .. } = Everything::start("").await;

    let (status, discover) = daemon.modern("server/discover", json!({}), None).await;
    assert_eq!(status, 200);
    assert!(
        discover["result"]["capabilities"]["prompts"].is_object(),
        "{discover}"
    );
    let (status, list) = daemon.modern("resources/list", json!({}), None).await;
    assert_eq!(status, 200);
    assert_eq!(list["result"]["resultType"], "complete");
    assert!(list["result"]["ttlMs"].is_u64(), "{list}");
    assert!(keys(&list["result"]["resources"], "uri").contains(&FEATURES.to_owned()));
    let (_, templates) = daemon
        .modern("resources/templates/list", json!({}), None)
        .await;
    assert!(
        templates["result"]["resourceTemplates"]
            .as_array()
            .unwrap()
            .len()
            >= 2
    );

    let (status, read) = daemon
        .modern("resources/read", json!({"uri": FEATURES}), Some(FEATURES))
        .await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(read["result"]["resultType"], "complete");
    assert!(read["result"]["_meta"]["io.modelcontextprotocol/serverInfo"].is_object());
    assert_eq!(read["result"]["contents"][0]["uri"], FEATURES);
    let name = "everything__simple-prompt";
    let (status, got) = daemon
        .modern("prompts/get", json!({"name": name}), Some(name))
        .await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["result"]["resultType"], "complete");
    assert_eq!(got["result"]["messages"][0]["content"]["type"], "text");
    // The routing header must name the prompt.
    let (status, mismatch) = daemon
        .modern("prompts/get", json!({"name": name}), Some("other"))
        .await;
    assert_eq!(
        (status, mismatch["error"]["code"].as_i64()),
        (400, Some(-32020))
    );
    // `resources/subscribe` is not part of this revision (a listen stream subscribes).
    let (status, _) = daemon
        .modern(
            "resources/subscribe",
            json!({"uri": FEATURES}),
            Some(FEATURES),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
#[ignore = "needs the servers installed by tests/upstream/setup.sh"]
async fn a_resource_the_server_adds_is_listed_after_its_list_changed_notification() {
    let Everything {
        daemon, session, ..
    } = Everything::start("").await;
    let standard = daemon.initialize("2025-11-25").await;
    let mut changes = daemon.standalone_stream(&standard).await;
    // The tool registers a new resource, and the server says its list changed: so does the
    // daemon, to its clients.
    let made = daemon
        .call(
            &session,
            "everything__gzip-file-as-resource",
            json!({"name": "hello.gz", "data": "data:text/plain;base64,aGVsbG8="}),
            json!({}),
        )
        .await;
    let link = &made.last().unwrap()["result"]["content"][0];
    assert_eq!(link["type"], "resource_link", "{made:?}");
    let uri = "demo://resource/session/hello.gz";
    assert_eq!(link["uri"], uri);
    until(&mut changes, "notifications/resources/list_changed").await;
    listed(&daemon, &session, "resources/list", "uri", uri).await;
    let read = daemon
        .rpc(&session, "resources/read", json!({"uri": uri}))
        .await;
    assert_eq!(
        read["result"]["contents"][0]["mimeType"], "application/gzip",
        "{read}"
    );
}

#[tokio::test]
#[ignore = "needs the servers installed by tests/upstream/setup.sh"]
async fn a_server_that_is_down_is_named_in_a_32603() {
    // It stays down long enough to be asked.
    let Everything {
        dir,
        daemon,
        session,
        ..
    } = Everything::start("restart_backoff = \"60s\"").await;
    servers::kill_group(&dir.path().join("pid"));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let list = daemon.rpc(&session, "resources/list", json!({})).await;
        if list["result"]["resources"].as_array().unwrap().is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "still listed: {list}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for (method, params) in [
        ("resources/read", json!({"uri": FEATURES})),
        ("prompts/get", json!({"name": "everything__simple-prompt"})),
    ] {
        let answer = daemon.rpc(&session, method, params).await;
        assert_eq!(answer["error"]["code"], -32603, "{answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains("MCP server everything"), "{message}");
    }
    let prompts = daemon.rpc(&session, "prompts/list", json!({})).await;
    assert_eq!(prompts["result"]["prompts"], json!([]));
}
