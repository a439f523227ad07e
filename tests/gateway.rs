//! The daemon as a gateway: real MCP servers nobody here wrote (`server-everything` and
//! `server-filesystem` in TypeScript, `mcp-server-time` in Python) configured under
//! `[servers.<name>]`, and their tools listed and called through the daemon by its own clients,
//! as every CLI would.
//!
//! The servers are installed by `bash tests/upstream/setup.sh` (CI does so before running these
//! tests with `--ignored`); without them the tests fail saying so.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::gateway::{
    READY_TIMEOUT, all_messages, everything_table, final_response, first_text, long_operation,
    offered, running, time_table, tool_names,
};
use common::servers::filesystem_script;
use common::{Daemon, Session, canonical, client, next_data, next_event, sse};
use serde_json::{Value, json};

#[tokio::test]
#[ignore = "needs the servers installed by tests/upstream/setup.sh"]
async fn upstream_tools_are_listed_beside_the_built_in_ones_and_called() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(&(everything_table(dir.path(), "") + &time_table()));
    let session = daemon.session().await;
    let names = offered(
        &daemon,
        &session,
        &[
            "everything__echo",
            "everything__get-sum",
            "time__get_current_time",
        ],
    )
    .await;
    assert!(
        names.iter().any(|name| name == "echo"),
        "built-in tools stay"
    );
    let listed = daemon.rpc(&session, "tools/list", json!({})).await;
    let sum = listed["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|tool| tool["name"] == "everything__get-sum")
        .unwrap();
    assert_eq!(sum["inputSchema"]["properties"]["a"]["type"], "number");

    let echoed = final_response(
        &daemon,
        &session,
        "everything__echo",
        json!({"message": "hi"}),
    )
    .await;
    assert!(first_text(&echoed).contains("hi"));
    assert_time_answers(&daemon, &session).await;
    // The built-in echo answers as it always did.
    let built_in = final_response(&daemon, &session, "echo", json!({"text": "mine"})).await;
    assert_eq!(first_text(&built_in), "mine");
}

#[tokio::test]
#[ignore = "needs the servers installed by tests/upstream/setup.sh"]
async fn two_sessions_share_one_server_and_each_sees_its_own_progress() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(&everything_table(dir.path(), ""));
    let (first, second) = (daemon.session().await, daemon.session().await);
    offered(
        &daemon,
        &first,
        &["everything__trigger-long-running-operation"],
    )
    .await;
    let mut events = daemon.follow(&first).await;
    let (one, two) = tokio::join!(
        daemon.mcp(&first, long_operation(1, 1, "first")),
        daemon.mcp(&second, long_operation(1, 1, "second")),
    );
    let (one, two) = tokio::join!(all_messages(one), all_messages(two));
    for (messages, token) in [(one, "first"), (two, "second")] {
        let (last, progress) = messages.split_last().unwrap();
        assert!(first_text(last).contains("completed"), "{last}");
        assert_eq!(progress.len(), 2, "{progress:?}");
        for (step, report) in progress.iter().enumerate() {
            assert_eq!(report["method"], "notifications/progress");
            assert_eq!(report["params"]["progressToken"], token);
            assert_eq!(report["params"]["progress"], step + 1);
            assert_eq!(report["params"]["total"], 2);
        }
    }
    // The first session's followers see its call's progress, and only its.
    for step in 1..=2 {
        let event = next_data(&mut events).await;
        assert_eq!(event["token"], "first", "{event}");
        assert_eq!(event["progress"], step);
        assert_eq!(event["tool"], "everything__trigger-long-running-operation");
    }
    let pids = std::fs::read_to_string(dir.path().join("pids")).unwrap();
    assert_eq!(pids.lines().count(), 1, "one process for every session");
}

/// The lines of `dir/in.log` (what the server read) whose method is `method`.
fn read_by_server(dir: &Path, method: &str) -> Vec<Value> {
    std::fs::read_to_string(dir.join("in.log"))
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|message| message["method"] == method)
        .collect()
}

/// Waits until the server has read a message with `method`; all those it read.
async fn server_reads(dir: &Path, method: &str) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let read = read_by_server(dir, method);
        if !read.is_empty() {
            return read;
        }
        assert!(Instant::now() < deadline, "the server never read {method}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
#[ignore = "needs the servers installed by tests/upstream/setup.sh"]
async fn a_cancelled_call_is_cancelled_upstream_under_the_servers_own_request_id() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(&everything_table(dir.path(), ""));
    let session = daemon.session().await;
    offered(
        &daemon,
        &session,
        &["everything__trigger-long-running-operation"],
    )
    .await;
    // The client's request id (77) is not the one the server knows the call by.
    let mut stream = sse(daemon.mcp(&session, long_operation(77, 20, "t")).await);
    assert_eq!(
        next_data(&mut stream).await["method"],
        "notifications/progress"
    );
    let cancel = daemon
        .mcp(
            &session,
            json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                   "params": {"requestId": 77, "reason": "stop"}}),
        )
        .await;
    assert_eq!(cancel.status(), 202);
    while let Some(event) = next_event(&mut stream).await {
        let message: Value = serde_json::from_str(&event.data).unwrap();
        assert_eq!(message["method"], "notifications/progress", "no response");
    }
    let calls = read_by_server(dir.path(), "tools/call");
    let cancelled = server_reads(dir.path(), "notifications/cancelled").await;
    assert_eq!(cancelled.len(), 1, "{cancelled:?}");
    assert_eq!(cancelled[0]["params"]["requestId"], calls[0]["id"]);
    daemon.wait_for_running_calls(&session, 0).await;

    // A caller that goes away cancels its call upstream just the same.
    let call = daemon.mcp(&session, long_operation(78, 20, "u")).await;
    let mut stream = sse(call);
    next_data(&mut stream).await;
    drop(stream);
    let deadline = Instant::now() + Duration::from_secs(10);
    while read_by_server(dir.path(), "notifications/cancelled").len() < 2 {
        assert!(
            Instant::now() < deadline,
            "the dropped call was not cancelled"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let calls = read_by_server(dir.path(), "tools/call");
    let cancelled = read_by_server(dir.path(), "notifications/cancelled");
    assert_eq!(cancelled[1]["params"]["requestId"], calls[1]["id"]);
}

#[tokio::test]
#[ignore = "needs the servers installed by tests/upstream/setup.sh"]
async fn a_server_killed_mid_call_fails_that_call_alone_and_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(&(everything_table(dir.path(), "") + &time_table()));
    let session = daemon.session().await;
    let names = ["everything__echo", "time__get_current_time"];
    offered(&daemon, &session, &names).await;
    let mut stream = sse(daemon.mcp(&session, long_operation(5, 20, "k")).await);
    next_data(&mut stream).await;
    let pids = std::fs::read_to_string(dir.path().join("pids")).unwrap();
    let pid: i32 = pids.trim().parse().unwrap();
    // The server's process group (the shell, tee and node), which the daemon made for it.
    // SAFETY: a plain kill(2) of processes this test started through the daemon.
    assert_eq!(unsafe { libc::kill(-pid, libc::SIGKILL) }, 0);
    let failed = loop {
        let message = next_data(&mut stream).await;
        if message.get("id").is_some() {
            break message;
        }
    };
    assert_eq!(failed["error"]["code"], -32603, "{failed}");
    let reason = failed["error"]["message"].as_str().unwrap();
    assert!(reason.contains("MCP server everything"), "{reason}");
    // The other server never noticed.
    assert_time_answers(&daemon, &session).await;
    // The killed one is started again and answers.
    let deadline = Instant::now() + READY_TIMEOUT;
    let echoed = loop {
        let echoed = final_response(
            &daemon,
            &session,
            "everything__echo",
            json!({"message": "back"}),
        )
        .await;
        if echoed.get("result").is_some() {
            break echoed;
        }
        assert!(Instant::now() < deadline, "{echoed:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(first_text(&echoed).contains("back"));
    let pids = std::fs::read_to_string(dir.path().join("pids")).unwrap();
    assert_eq!(pids.lines().count(), 2, "started once more");
}

#[tokio::test]
#[ignore = "needs the servers installed by tests/upstream/setup.sh"]
async fn upstream_tools_never_shadow_built_in_ones() {
    let dir = tempfile::tempdir().unwrap();
    let unprefixed = "prefix = \"never\"\ntools.deny = [\"get-env\"]";
    let daemon = Daemon::start(&everything_table(dir.path(), unprefixed));
    let session = daemon.session().await;
    let names = offered(&daemon, &session, &["get-sum"]).await;
    assert_eq!(
        names.iter().filter(|name| *name == "echo").count(),
        1,
        "{names:?}"
    );
    assert!(!names.iter().any(|name| name.contains("get-env")), "denied");
    let echoed = final_response(&daemon, &session, "echo", json!({"text": "built in"})).await;
    assert_eq!(first_text(&echoed), "built in");
    let sum = final_response(&daemon, &session, "get-sum", json!({"a": 1, "b": 2})).await;
    assert!(first_text(&sum).contains('3'));
}

#[tokio::test]
#[ignore = "needs the servers installed by tests/upstream/setup.sh"]
async fn a_standard_client_lists_and_calls_upstream_tools_and_metrics_count_them() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(&everything_table(dir.path(), ""));
    let session = daemon.session().await;
    offered(&daemon, &session, &["everything__echo"]).await;
    let id = daemon.initialize("2025-11-25").await;
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "everything__echo", "arguments": {"message": "standard"}}});
    let messages = all_messages(daemon.standard_post(&id, call).await).await;
    assert!(first_text(messages.last().unwrap()).contains("standard"));

    let metrics = daemon.metrics_text().await;
    let line = |series: &str| {
        metrics
            .lines()
            .find(|line| line.starts_with(series))
            .unwrap_or_else(|| panic!("no {series} in {metrics}"))
            .to_owned()
    };
    assert!(
        line("construct_upstream_calls_total{server=\"everything\",outcome=\"ok\"}")
            .ends_with(" 1")
    );
    assert!(line("construct_upstream_up{server=\"everything\"}").ends_with(" 1"));
}

/// Waits for a `notifications/tools/list_changed` on `stream`; the message.
/// (The standalone stream also tells of prompts and resources, which change too.)
async fn list_changed(stream: &mut common::Events) -> Value {
    common::eras::until(stream, "notifications/tools/list_changed").await
}

#[tokio::test]
#[ignore = "needs the servers installed by tests/upstream/setup.sh"]
async fn clients_are_told_when_a_servers_tools_come_and_go() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(&everything_table(dir.path(), ""));
    let session = daemon.session().await;
    offered(&daemon, &session, &["everything__echo"]).await;
    let id = daemon.initialize("2025-11-25").await;
    let mut standalone = daemon.standalone_stream(&id).await;
    let (mut listen, honored) = daemon
        .listen("changes", json!({"toolsListChanged": true}))
        .await;
    assert_eq!(honored, json!({"toolsListChanged": true}));

    let pids = std::fs::read_to_string(dir.path().join("pids")).unwrap();
    let pid: i32 = pids.trim().parse().unwrap();
    // SAFETY: a plain kill(2) of the process group this test started through the daemon.
    assert_eq!(unsafe { libc::kill(-pid, libc::SIGKILL) }, 0);
    // Gone: both kinds of client hear it, the listen stream's message tagged with its id.
    list_changed(&mut standalone).await;
    let told = list_changed(&mut listen).await;
    assert_eq!(
        told["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        "changes"
    );
    // Back (restarted after its backoff): told again, and listed again.
    list_changed(&mut standalone).await;
    list_changed(&mut listen).await;
    offered(&daemon, &session, &["everything__echo"]).await;
}

/// The `notifications/message` among `messages`.
fn log_messages(messages: &[Value]) -> Vec<&Value> {
    messages
        .iter()
        .filter(|message| message["method"] == "notifications/message")
        .collect()
}

#[tokio::test]
#[ignore = "needs the servers installed by tests/upstream/setup.sh"]
async fn a_servers_log_messages_reach_a_caller_that_asked_for_them() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(&everything_table(dir.path(), ""));
    let (asked, quiet) = (daemon.session().await, daemon.session().await);
    let toggle = "everything__toggle-simulated-logging";
    offered(&daemon, &asked, &[toggle]).await;
    // server-everything logs one message at once when its simulated logging is switched on.
    let set = daemon
        .rpc(&asked, "logging/setLevel", json!({"level": "debug"}))
        .await;
    assert_eq!(set["result"], json!({}));
    let on = daemon.call(&asked, toggle, json!({}), json!({})).await;
    let logged = log_messages(&on);
    assert_eq!(logged.len(), 1, "{on:?}");
    assert!(
        logged[0]["params"]["data"]
            .as_str()
            .unwrap()
            .contains("message"),
        "{on:?}"
    );
    assert!(logged[0]["params"]["level"].is_string());
    // A caller that never asked for log messages gets none.
    daemon.call(&quiet, toggle, json!({}), json!({})).await; // off
    let again = daemon.call(&quiet, toggle, json!({}), json!({})).await; // on: logs once
    assert!(log_messages(&again).is_empty(), "{again:?}");
    assert!(first_text(again.last().unwrap()).contains("Started"));
}

/// A 2025-11-25 session whose client declares `capabilities` at `initialize`: its id.
async fn standard_session(daemon: &Daemon, capabilities: Value) -> String {
    let mut body = common::initialize_body("2025-11-25");
    body["params"]["capabilities"] = capabilities;
    let response = daemon
        .keyed(client().post(daemon.url("/mcp")))
        .header("Accept", common::ACCEPT)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned()
}

/// The next message of a call's stream, skipping a resumable stream's priming event.
async fn next_message(stream: &mut common::Events) -> Value {
    loop {
        let event = next_event(stream).await.expect("the stream is still open");
        if !event.data.is_empty() {
            return serde_json::from_str(&event.data).unwrap();
        }
    }
}

#[tokio::test]
#[ignore = "needs the servers installed by tests/upstream/setup.sh"]
async fn a_servers_sampling_request_is_answered_by_the_calling_client() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(&everything_table(dir.path(), ""));
    let session = daemon.session().await;
    let tool = "everything__trigger-sampling-request";
    offered(&daemon, &session, &[tool]).await;
    let call = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": {"name": tool, "arguments": {"prompt": "a haiku", "maxTokens": 20}}});

    // A client that can sample gets the server's request on its call's stream, and answers it.
    let able = standard_session(&daemon, json!({"sampling": {}})).await;
    let mut stream = sse(daemon.standard_post(&able, call.clone()).await);
    let asked = next_message(&mut stream).await;
    assert_eq!(asked["method"], "sampling/createMessage", "{asked}");
    let prompt = asked["params"]["messages"][0]["content"]["text"]
        .as_str()
        .unwrap();
    assert!(prompt.contains("a haiku"), "{asked}");
    let answer = json!({"jsonrpc": "2.0", "id": asked["id"], "result": {
        "role": "assistant", "content": {"type": "text", "text": "sampled by the test"},
        "model": "test-model", "stopReason": "endTurn"}});
    // Another session cannot answer it for this one: the answer is not theirs to give.
    let other = standard_session(&daemon, json!({"sampling": {}})).await;
    let mut forged = answer.clone();
    forged["result"]["content"]["text"] = json!("forged");
    assert_eq!(daemon.standard_post(&other, forged).await.status(), 202);
    assert_eq!(daemon.standard_post(&able, answer).await.status(), 202);
    let done = next_message(&mut stream).await;
    let text = first_text(&done);
    assert!(text.contains("sampled by the test"), "{done}");
    assert!(!text.contains("forged"), "{done}");

    // A client that never said it can sample is never asked: the server hears it cannot.
    let unable = standard_session(&daemon, json!({})).await;
    let messages = all_messages(daemon.standard_post(&unable, call).await).await;
    let done = messages.last().unwrap();
    assert_eq!(
        messages.len(),
        1,
        "no request reached this client: {messages:?}"
    );
    assert!(first_text(done).contains("did not declare"), "{done}");
}

#[tokio::test]
#[ignore = "needs the servers installed by tests/upstream/setup.sh"]
async fn a_servers_elicitation_reaches_the_calling_client_and_its_refusal_goes_back() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(&everything_table(dir.path(), ""));
    let session = daemon.session().await;
    let tool = "everything__trigger-elicitation-request";
    offered(&daemon, &session, &[tool]).await;
    let able = standard_session(&daemon, json!({"elicitation": {}})).await;
    let call = json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call",
        "params": {"name": tool, "arguments": {}}});
    let mut stream = sse(daemon.standard_post(&able, call).await);
    let asked = next_message(&mut stream).await;
    assert_eq!(asked["method"], "elicitation/create", "{asked}");
    assert!(asked["params"]["requestedSchema"].is_object(), "{asked}");
    let declined = json!({"jsonrpc": "2.0", "id": asked["id"], "result": {"action": "decline"}});
    assert_eq!(daemon.standard_post(&able, declined).await.status(), 202);
    let done = next_message(&mut stream).await;
    assert!(first_text(&done).contains("declined"), "{done}");
}

/// `[servers.fs]` running server-filesystem over stdio with no folder arguments (so it works in
/// the roots the daemon gives it) in `scope`, behind a shell that appends its pid (the server's:
/// it `exec`s) to `pids/fs.pids`; the daemon's workspace root is `root`.
fn filesystem_table(root: &Path, pids: &Path, scope: &str, extra: &str) -> String {
    let script = format!(
        "echo $$ >> '{pids}/fs.pids'; exec node '{server}'",
        pids = pids.display(),
        server = filesystem_script()
    );
    format!(
        "[tools]\nworkspace_roots = [{root:?}]\n\n\
         [servers.fs]\ncommand = \"sh\"\nargs = [\"-c\", {script:?}]\nscope = {scope:?}\n{extra}\n",
        root = root.display().to_string()
    )
}

/// The pids the filesystem server's shell wrote, in start order.
fn started_pids(pids: &Path) -> Vec<u32> {
    std::fs::read_to_string(pids.join("fs.pids"))
        .unwrap_or_default()
        .lines()
        .map(|line| line.parse().unwrap())
        .collect()
}

/// Checks that mcp-server-time, behind the daemon as `time`, answers `session`.
async fn assert_time_answers(daemon: &Daemon, session: &Session) {
    let arguments = json!({"timezone": "UTC"});
    let now = final_response(daemon, session, "time__get_current_time", arguments).await;
    assert!(first_text(&now).contains("UTC"), "{now}");
}

/// What server-filesystem's `list_allowed_directories` says to `session`, once it has taken its
/// roots from the daemon (it asks for them just after its handshake).
async fn allowed_directories(daemon: &Daemon, session: &Session, expected: &str) -> String {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        let listed =
            final_response(daemon, session, "fs__list_allowed_directories", json!({})).await;
        let text = first_text(&listed).to_owned();
        if text.contains(expected) || Instant::now() > deadline {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A folder `name` in `root` holding the file `<name>.txt`, whose text is `name`.
fn folder(root: &Path, name: &str) -> String {
    let dir = root.join(name);
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.txt")), name).unwrap();
    canonical(&dir)
}

#[tokio::test]
#[ignore = "needs the servers installed by tests/upstream/setup.sh"]
async fn a_session_scoped_server_works_in_its_sessions_folder_and_stops_with_it() {
    let (root, pids) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (alpha, bravo) = (folder(root.path(), "alpha"), folder(root.path(), "bravo"));
    let daemon = Daemon::start(&filesystem_table(root.path(), pids.path(), "session", ""));
    let one = daemon.session_with(json!({"cwd": alpha})).await;
    let two = daemon.session_with(json!({"cwd": bravo})).await;
    assert!(started_pids(pids.path()).is_empty(), "started lazily");

    // Each session's first tools/list starts its own server and waits for its tools.
    for session in [&one, &two] {
        let names = tool_names(&daemon, session).await;
        assert!(
            names.iter().any(|name| name == "fs__read_text_file"),
            "{names:?}"
        );
        assert!(
            names.iter().any(|name| name == "echo"),
            "built-in tools stay"
        );
    }
    let started = started_pids(pids.path());
    assert_eq!(started.len(), 2, "one process per session");

    for (session, own, other) in [(&one, &alpha, &bravo), (&two, &bravo, &alpha)] {
        let allowed = allowed_directories(&daemon, session, own).await;
        assert!(
            allowed.contains(own.as_str()) && !allowed.contains(other.as_str()),
            "{allowed}"
        );
        let name = Path::new(own).file_name().unwrap().to_str().unwrap();
        let read = final_response(
            &daemon,
            session,
            "fs__read_text_file",
            json!({"path": format!("{own}/{name}.txt")}),
        )
        .await;
        assert_eq!(first_text(&read), name);
        // The other session's folder is outside this server's roots: it refuses.
        let theirs = Path::new(other).file_name().unwrap().to_str().unwrap();
        let refused = final_response(
            &daemon,
            session,
            "fs__read_text_file",
            json!({"path": format!("{other}/{theirs}.txt")}),
        )
        .await;
        assert_eq!(refused["result"]["isError"], true, "{refused}");
        assert!(first_text(&refused).contains("Access denied"), "{refused}");
    }

    // Ending a session stops its server, and only its server.
    let ended = daemon.delete_session(&two.id, &two.token).await;
    assert!(ended.status().is_success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while running(started[1]) {
        assert!(
            Instant::now() < deadline,
            "the ended session's server still runs"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(running(started[0]), "the other session's server runs on");
    let listed = final_response(&daemon, &one, "fs__list_allowed_directories", json!({})).await;
    assert!(first_text(&listed).contains(alpha.as_str()));
    assert_eq!(started_pids(pids.path()).len(), 2);
}

#[tokio::test]
#[ignore = "needs the servers installed by tests/upstream/setup.sh"]
async fn a_session_over_a_servers_max_sessions_goes_without_it_until_one_ends() {
    let (root, pids) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (alpha, bravo) = (folder(root.path(), "alpha"), folder(root.path(), "bravo"));
    let table = filesystem_table(root.path(), pids.path(), "session", "max_sessions = 1");
    let daemon = Daemon::start(&table);
    let one = daemon.session_with(json!({"cwd": alpha})).await;
    let two = daemon.session_with(json!({"cwd": bravo})).await;
    assert!(
        tool_names(&daemon, &one)
            .await
            .iter()
            .any(|name| name == "fs__read_text_file")
    );

    let names = tool_names(&daemon, &two).await;
    assert!(
        !names.iter().any(|name| name.starts_with("fs__")),
        "{names:?}"
    );
    let refused = final_response(&daemon, &two, "fs__list_allowed_directories", json!({})).await;
    assert_eq!(refused["error"]["code"], -32603, "{refused}");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("MCP server fs") && message.contains("max_sessions"),
        "{message}"
    );
    // The daemon's stderr is read on a thread of its own: the warning may take a moment.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !daemon.stderr().contains("max_sessions") {
        assert!(Instant::now() < deadline, "a warning is logged");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(started_pids(pids.path()).len(), 1);

    // Once the first session ends, the second gets its own connection at its next request.
    let ended = daemon.delete_session(&one.id, &one.token).await;
    assert!(ended.status().is_success());
    let deadline = Instant::now() + READY_TIMEOUT;
    while !tool_names(&daemon, &two)
        .await
        .iter()
        .any(|name| name == "fs__read_text_file")
    {
        assert!(
            Instant::now() < deadline,
            "the second session never got the server"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let allowed = allowed_directories(&daemon, &two, &bravo).await;
    assert!(
        allowed.contains(bravo.as_str()) && !allowed.contains(alpha.as_str()),
        "{allowed}"
    );
}

#[tokio::test]
#[ignore = "needs the servers installed by tests/upstream/setup.sh"]
async fn a_shared_server_is_given_the_workspace_roots() {
    let (root, pids) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let alpha = folder(root.path(), "alpha");
    let daemon = Daemon::start(&filesystem_table(root.path(), pids.path(), "shared", ""));
    let session = daemon.session_with(json!({"cwd": alpha})).await;
    offered(&daemon, &session, &["fs__list_allowed_directories"]).await;
    let workspace = canonical(root.path());
    let allowed = allowed_directories(&daemon, &session, &workspace).await;
    assert!(allowed.contains(workspace.as_str()), "{allowed}");
    assert!(
        !allowed.contains(alpha.as_str()),
        "the workspace, not the session's folder: {allowed}"
    );
    assert_eq!(started_pids(pids.path()).len(), 1);
}

#[tokio::test]
#[ignore = "needs the servers installed by tests/upstream/setup.sh"]
async fn a_log_message_never_reaches_another_sessions_call() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(&everything_table(dir.path(), ""));
    let (watching, logging) = (daemon.session().await, daemon.session().await);
    let toggle = "everything__toggle-simulated-logging";
    offered(&daemon, &watching, &[toggle]).await;
    let set = daemon
        .rpc(&watching, "logging/setLevel", json!({"level": "debug"}))
        .await;
    assert_eq!(set["result"], json!({}));
    // A call of the watching session is in flight while the other session's call makes the
    // server log: with two calls in flight, the message goes to neither.
    let mut stream = sse(daemon.mcp(&watching, long_operation(1, 2, "w")).await);
    next_data(&mut stream).await;
    let toggled = daemon.call(&logging, toggle, json!({}), json!({})).await;
    assert!(first_text(toggled.last().unwrap()).contains("Started"));
    let mut rest = Vec::new();
    while let Some(event) = next_event(&mut stream).await {
        rest.push(serde_json::from_str::<Value>(&event.data).unwrap());
    }
    assert!(log_messages(&rest).is_empty(), "{rest:?}");
    assert!(first_text(rest.last().unwrap()).contains("completed"));
}

#[tokio::test]
#[ignore = "needs the servers installed by tests/upstream/setup.sh"]
async fn a_session_scoped_servers_resources_and_prompts_are_its_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(&everything_table(dir.path(), "scope = \"session\""));
    let session = daemon.session().await;
    let listed = daemon.rpc(&session, "prompts/list", json!({})).await;
    let prompts = listed["result"]["prompts"].as_array().unwrap();
    assert!(
        prompts
            .iter()
            .any(|prompt| prompt["name"] == "everything__simple-prompt"),
        "{listed}"
    );
    let listed = daemon
        .rpc(&session, "resources/templates/list", json!({}))
        .await;
    let template = &listed["result"]["resourceTemplates"][0]["uriTemplate"];
    assert!(
        template
            .as_str()
            .is_some_and(|uri| uri.starts_with("demo://")),
        "{listed}"
    );
    let started = std::fs::read_to_string(dir.path().join("pids")).unwrap();
    assert_eq!(
        started.lines().count(),
        1,
        "started by the session's first request"
    );
    // Another session sees its own server, never this one's.
    let other = daemon.session().await;
    daemon.rpc(&other, "prompts/list", json!({})).await;
    let started = std::fs::read_to_string(dir.path().join("pids")).unwrap();
    assert_eq!(started.lines().count(), 2, "one process per session");
}
