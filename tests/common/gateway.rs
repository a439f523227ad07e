//! What the gateway tests share: the real servers' `[servers.<name>]` tables, and waiting for
//! and reading what they offer and answer through the daemon.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::servers::{everything_script, time_server};
use super::{Daemon, Session, client, next_event, sse};

pub use super::servers::READY_TIMEOUT;

/// `[servers.everything]` running server-everything over stdio behind a shell that appends its
/// pid to `dir/pids` at each start, and copies what the server reads to `dir/in.log`.
pub fn everything_table(dir: &Path, extra: &str) -> String {
    let script = format!(
        "echo $$ >> '{dir}/pids'; tee -a '{dir}/in.log' | exec node '{server}' stdio",
        dir = dir.display(),
        server = everything_script()
    );
    format!(
        "[servers.everything]\ncommand = \"sh\"\nargs = [\"-c\", {script:?}]\n\
         restart_backoff = \"100ms\"\n{extra}\n"
    )
}

pub fn time_table() -> String {
    format!("[servers.time]\ncommand = {:?}\n", time_server())
}

/// The names `tools/list` gives `session`.
pub async fn tool_names(daemon: &Daemon, session: &Session) -> Vec<String> {
    let listed = daemon.rpc(session, "tools/list", json!({})).await;
    listed["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tool| tool["name"].as_str().unwrap().to_owned())
        .collect()
}

/// Waits until `tools/list` offers every name of `expected`; the listed names.
pub async fn offered(daemon: &Daemon, session: &Session, expected: &[&str]) -> Vec<String> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        let names = tool_names(daemon, session).await;
        if expected.iter().all(|name| names.iter().any(|n| n == name)) {
            return names;
        }
        assert!(Instant::now() < deadline, "{expected:?} not in {names:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The text of a call's final response's first content block.
pub fn first_text(response: &Value) -> &str {
    response["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no text result: {response}"))
}

/// A `tools/call` of server-everything's long-running operation: `seconds` long, two steps a
/// second, with `token` as its progress token.
pub fn long_operation(id: u64, seconds: u64, token: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
        "name": "everything__trigger-long-running-operation",
        "arguments": {"duration": seconds, "steps": seconds * 2},
        "_meta": {"progressToken": token}}})
}

/// Every message of a call's SSE answer.
pub async fn all_messages(response: reqwest::Response) -> Vec<Value> {
    assert_eq!(response.status(), 200);
    let mut stream = sse(response);
    let mut messages = Vec::new();
    while let Some(event) = next_event(&mut stream).await {
        // A resumable stream opens with an event that carries only its id.
        if !event.data.is_empty() {
            messages.push(serde_json::from_str(&event.data).unwrap());
        }
    }
    messages
}

/// Calls `tool` of `session` with `arguments`; its final response.
pub async fn final_response(
    daemon: &Daemon,
    session: &Session,
    tool: &str,
    arguments: Value,
) -> Value {
    let mut messages = daemon.call(session, tool, arguments, json!({})).await;
    messages.pop().expect("a final response")
}

/// Whether the process `pid` runs (a zombie does not).
pub fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| !stat.rsplit(") ").next().unwrap_or("").starts_with('Z'))
}

/// `GET /admin/servers` of `daemon`, with the owner key.
pub async fn admin_servers(daemon: &Daemon) -> Vec<Value> {
    let response = daemon
        .keyed(client().get(daemon.url("/admin/servers")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["servers"].as_array().unwrap().clone()
}
