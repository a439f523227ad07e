//! The harness every integration test uses: the real daemon binary, started on 127.0.0.1 with
//! an ephemeral port and a private home and discovery file, spoken to over real HTTP.
#![allow(dead_code)] // each test binary uses its own part of the harness

pub mod eras;
pub mod gateway;
pub mod redis;
pub mod servers;

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use eventsource_stream::{Event, Eventsource as _};
use futures::stream::BoxStream;
use futures::{StreamExt as _, TryStreamExt as _};
use serde_json::{Value, json};

/// How long any single wait in a test may take before the test fails instead of hanging.
pub const WAIT: Duration = Duration::from_secs(10);

/// A running daemon started by this test, killed when dropped if still running.
pub struct Daemon {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// The daemon's private home directory (also its working directory).
    pub home: tempfile::TempDir,
    /// Where it writes its discovery file.
    pub discovery: PathBuf,
    /// The owner key it wrote there, when it generated one.
    key: Option<String>,
    /// Everything it printed on standard error, read by a background thread.
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
    /// What it printed on standard output after the first line, read by a background thread.
    stdout: std::sync::Arc<std::sync::Mutex<String>>,
}

/// The name of the configuration file [`Daemon::start`] writes in the daemon's home.
const CONFIG_FILE: &str = "construct-actor.toml";

/// The configuration [`Daemon::start`] writes: the discovery file at `discovery`, then `extra`.
fn config_text(discovery: &Path, extra: &str) -> String {
    format!(
        "[discovery]\npath = {:?}\n\n{extra}",
        discovery.to_str().unwrap()
    )
}

/// The path of the daemon binary under test.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_construct-actor")
}

impl Daemon {
    /// A daemon with the default configuration plus `extra` TOML (which must not repeat the
    /// `[discovery]` table).
    pub fn start(extra: &str) -> Self {
        Self::start_with(extra, &[])
    }

    /// Like [`Daemon::start`], with environment variables and extra arguments.
    pub fn start_with(extra: &str, env: &[(&str, &str)]) -> Self {
        Self::start_binary(binary(), extra, env)
    }

    /// Like [`Daemon::start_with`], running the daemon binary at `program` (another build, for a
    /// measurement that compares them).
    pub fn start_binary(program: &str, extra: &str, env: &[(&str, &str)]) -> Self {
        let home = tempfile::tempdir().unwrap();
        let discovery = home.path().join("discovery/mcp.json");
        let config = home.path().join(CONFIG_FILE);
        std::fs::write(&config, config_text(&discovery, extra)).unwrap();
        let mut command = Command::new(program);
        command.arg("--config").arg(&config);
        Self::spawn(command, home, discovery, env)
    }

    /// Runs `command` (the daemon binary with its arguments) in a fresh home and waits until it
    /// says where it listens.
    pub fn spawn(
        mut command: Command,
        home: tempfile::TempDir,
        discovery: PathBuf,
        env: &[(&str, &str)],
    ) -> Self {
        command
            .current_dir(home.path())
            .env("HOME", home.path())
            .env("CONSTRUCT_ACTOR_LOG__LEVEL", "warn")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("the daemon binary starts");
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = stderr.clone();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                sink.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        let (tx, rx) = std::sync::mpsc::channel();
        let out = child.stdout.take().unwrap();
        let stdout = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let rest = stdout.clone();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(out).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            for line in lines.map_while(Result::ok) {
                rest.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        let line = rx.recv_timeout(WAIT).unwrap_or_else(|_| {
            let _ = child.kill();
            panic!(
                "the daemon did not say where it listens; stderr: {}",
                stderr.lock().unwrap()
            )
        });
        let start = line.find("http://").expect("the first line names the URL");
        let base = line[start..].split_whitespace().next().unwrap().to_owned();
        // The discovery file is written before the first line is printed.
        let key = std::fs::read_to_string(&discovery)
            .ok()
            .and_then(|text| serde_json::from_str::<Value>(&text).ok())
            .and_then(|found| found["api_key"].as_str().map(str::to_owned));
        Self {
            child: Some(child),
            base,
            home,
            discovery,
            key,
            stderr,
            stdout,
        }
    }

    /// The configuration file of a daemon started by [`Daemon::start`].
    pub fn config_file(&self) -> PathBuf {
        self.home.path().join(CONFIG_FILE)
    }

    /// Replaces the configuration file of a daemon started by [`Daemon::start`] with the one
    /// it would have written for `extra` (it is not told: it sees the file change, as with an
    /// editor's save).
    pub fn rewrite_config(&self, extra: &str) {
        self.rewrite_config_with_mode(extra, 0o644);
    }

    /// Like [`Daemon::rewrite_config`], the new file's permissions `mode`.
    pub fn rewrite_config_with_mode(&self, extra: &str, mode: u32) {
        use std::os::unix::fs::PermissionsExt as _;
        let next = self.config_file().with_extension("next");
        std::fs::write(&next, config_text(&self.discovery, extra)).unwrap();
        std::fs::set_permissions(&next, std::fs::Permissions::from_mode(mode)).unwrap();
        std::fs::rename(next, self.config_file()).unwrap();
    }

    /// Sends the daemon `SIGHUP`.
    pub fn hang_up(&self) {
        let sent = Command::new("kill")
            .args(["-HUP", &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -HUP failed");
    }

    /// The owner key from the discovery file; the test fails when the daemon wrote none.
    pub fn api_key(&self) -> &str {
        self.key
            .as_deref()
            .expect("the daemon wrote an owner key into its discovery file")
    }

    /// `request` with the owner key as its bearer, when the daemon has one.
    pub fn keyed(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.key {
            Some(key) => request.bearer_auth(key),
            None => request,
        }
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// What the daemon printed on standard error so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// What the daemon printed on standard output after its first line, so far.
    pub fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    /// The admin token the daemon printed (its second line, `admin token: <token>`), waiting
    /// for it at most [`WAIT`]; `None` when it printed none.
    pub fn printed_admin_token(&self) -> Option<String> {
        let deadline = Instant::now() + WAIT;
        loop {
            let out = self.stdout();
            if let Some(line) = out.lines().next() {
                return line.strip_prefix("admin token: ").map(str::to_owned);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        let pid = i32::try_from(self.pid()).unwrap();
        // SAFETY: signalling a child process this test spawned and has not yet reaped.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        self.terminate_wait()
    }

    /// Waits for the daemon to exit (after a signal sent elsewhere) and returns its status.
    pub fn terminate_wait(&mut self) -> ExitStatus {
        let child = self.child.as_mut().unwrap();
        let deadline = Instant::now() + WAIT * 2;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the daemon did not exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    /// Kills the daemon and then its children's process groups: SIGKILL gives the daemon no
    /// chance to end the MCP servers it started, and one that keeps timers (server-everything)
    /// would outlive the test, reparented to init, even after its stdin closes.
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let children = children_of(child.id());
            let _ = child.kill();
            let _ = child.wait();
            for group in children {
                // SAFETY: killpg only sends a signal; each child leads its own group (the daemon
                // spawns them with `process_group(0)`), and a group already gone gives ESRCH.
                unsafe { libc::killpg(group, libc::SIGKILL) };
            }
        }
    }
}

/// The pids of `pid`'s children, from every one of its threads' `/proc` entries.
fn children_of(pid: u32) -> Vec<libc::pid_t> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|list| {
            list.split_whitespace()
                .filter_map(|child| child.parse().ok())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// An HTTP client that never waits forever.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(WAIT * 3)
        .build()
        .unwrap()
}

/// A session as `POST /session` returned it.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub token: String,
    pub cwd: String,
}

impl Daemon {
    /// Creates a session with `body` (JSON) and checks the shape of the answer.
    pub async fn session_with(&self, body: Value) -> Session {
        let response = self
            .keyed(client().post(self.url("/session")))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let created: Value = response.json().await.unwrap();
        Session {
            id: created["session_id"].as_str().unwrap().to_owned(),
            token: created["token"].as_str().unwrap().to_owned(),
            cwd: created["cwd"].as_str().unwrap().to_owned(),
        }
    }

    /// Creates a session in the daemon's home directory.
    pub async fn session(&self) -> Session {
        self.session_with(json!({"cwd": self.home.path()})).await
    }

    /// Posts one JSON-RPC message to `/mcp` as `session`.
    pub async fn mcp(&self, session: &Session, message: Value) -> reqwest::Response {
        self.mcp_with(&client(), session, message).await
    }

    /// Like [`Daemon::mcp`], with `http` (e.g. [`stream_client`] for a call whose stream may
    /// outlast [`client`]'s total timeout).
    pub async fn mcp_with(
        &self,
        http: &reqwest::Client,
        session: &Session,
        message: Value,
    ) -> reqwest::Response {
        http.post(self.url("/mcp"))
            .bearer_auth(&session.token)
            .header("X-Construct-Session", &session.id)
            .json(&message)
            .send()
            .await
            .unwrap()
    }

    /// A request's JSON result, which must be a 200 JSON answer.
    pub async fn rpc(&self, session: &Session, method: &str, params: Value) -> Value {
        let response = self
            .mcp(
                session,
                json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}),
            )
            .await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// Calls `tool` and returns every message of its SSE answer, final response last.
    pub async fn call(
        &self,
        session: &Session,
        tool: &str,
        arguments: Value,
        meta: Value,
    ) -> Vec<Value> {
        let response = self
            .mcp(
                session,
                json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                       "params": {"name": tool, "arguments": arguments, "_meta": meta}}),
            )
            .await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        let mut stream = sse(response);
        let mut messages = Vec::new();
        while let Some(event) = next_event(&mut stream).await {
            messages.push(serde_json::from_str(&event.data).unwrap());
        }
        messages
    }

    /// The text of `GET /metrics` (open by default).
    pub async fn metrics_text(&self) -> String {
        client()
            .get(self.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Opens `GET /session/{id}/events` as `session`.
    pub async fn follow(&self, session: &Session) -> Events {
        let response = self.follow_raw(&session.id, &session.token).await;
        assert_eq!(response.status(), 200);
        sse(response)
    }

    /// Opens the events stream of `id` with `token`, whatever the answer.
    pub async fn follow_raw(&self, id: &str, token: &str) -> reqwest::Response {
        client()
            .get(self.url(&format!("/session/{id}/events")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// `GET /session/{id}` as `session`.
    pub async fn describe(&self, session: &Session) -> Value {
        let response = client()
            .get(self.url(&format!("/session/{}", session.id)))
            .bearer_auth(&session.token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// Waits until the session has `count` subscribers.
    pub async fn wait_for_subscribers(&self, session: &Session, count: u64) {
        self.wait_for(session, "subscribers", count).await;
    }

    /// Waits until the session runs `count` tool calls.
    pub async fn wait_for_running_calls(&self, session: &Session, count: u64) {
        self.wait_for(session, "running_calls", count).await;
    }

    /// Waits until `GET /session/{id}` reports `count` for `field`.
    async fn wait_for(&self, session: &Session, field: &str, count: u64) {
        let deadline = Instant::now() + WAIT;
        while self.describe(session).await[field] != count {
            assert!(Instant::now() < deadline, "{field} never became {count}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A parsed SSE stream (comments skipped).
pub type Events = BoxStream<'static, Result<Event, String>>;

/// Parses a response body as SSE.
pub fn sse(response: reqwest::Response) -> Events {
    response
        .bytes_stream()
        .eventsource()
        .map_err(|err| err.to_string())
        .boxed()
}

/// The next event, `None` when the stream ended; fails the test after [`WAIT`].
pub async fn next_event(stream: &mut Events) -> Option<Event> {
    tokio::time::timeout(WAIT, stream.next())
        .await
        .expect("no SSE event within the wait")
        .map(|event| event.expect("a well-formed SSE event"))
}

/// One item of a session's events stream.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// A progress event: its id and data (JSON text, parsed only where a test needs it).
    Event(u64, String),
    /// `event: lagged`: how many events were missed.
    Lagged(u64),
    /// `event: session-ended`: why.
    Ended(String),
}

/// The next item of an events stream, `None` when it ended.
pub async fn next_item(stream: &mut Events) -> Option<Item> {
    let event = next_event(stream).await?;
    if event.event == "message" {
        let id = event.id.parse().expect("events have numeric ids");
        return Some(Item::Event(id, event.data));
    }
    let data: Value = serde_json::from_str(&event.data).unwrap();
    Some(match event.event.as_str() {
        "lagged" => Item::Lagged(data["missed"].as_u64().expect("a count of missed events")),
        "session-ended" => Item::Ended(data["reason"].as_str().unwrap().to_owned()),
        other => panic!("unexpected event type {other}"),
    })
}

/// The `Accept` header of a standard (Streamable HTTP) MCP client.
pub const ACCEPT: &str = "application/json, text/event-stream";

/// A standard client's `initialize` for protocol revision `version` (client `standard-test`).
pub fn initialize_body(version: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": 0, "method": "initialize",
           "params": {"protocolVersion": version, "capabilities": {},
                      "clientInfo": {"name": "standard-test", "version": "1"}}})
}

impl Daemon {
    /// A standard client's `initialize` for `version`, sent without a session; the answer.
    pub async fn initialize_raw(&self, version: &str) -> reqwest::Response {
        self.keyed(client().post(self.url("/mcp")))
            .header("Accept", ACCEPT)
            .json(&initialize_body(version))
            .send()
            .await
            .unwrap()
    }

    /// A standard session negotiated at `version`: the `Mcp-Session-Id` the daemon handed out.
    pub async fn initialize(&self, version: &str) -> String {
        let response = self.initialize_raw(version).await;
        assert_eq!(response.status(), 200);
        let id = response.headers()["mcp-session-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["result"]["protocolVersion"], version);
        id
    }
}

/// The `data` of the next event, as JSON.
pub async fn next_data(stream: &mut Events) -> Value {
    let event = next_event(stream).await.expect("the stream is still open");
    serde_json::from_str(&event.data).unwrap()
}

/// A JSON body's `error` text, from a non-2xx answer.
pub async fn error_text(response: reqwest::Response) -> String {
    let body: Value = response.json().await.unwrap();
    body["error"].as_str().expect("an error reason").to_owned()
}

/// The canonical form of a path, as the daemon reports cwds.
pub fn canonical(path: &Path) -> String {
    path.canonicalize().unwrap().to_str().unwrap().to_owned()
}

/// A client for streams that may outlive [`client`]'s total timeout; each wait on them is
/// bounded by the caller (e.g. [`next_event`]) instead.
pub fn stream_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(WAIT)
        .build()
        .unwrap()
}

impl Daemon {
    /// Opens the events stream of `session` with [`stream_client`], sending `last_event_id` as
    /// the `Last-Event-ID` header when given; whatever the answer.
    pub async fn follow_from(
        &self,
        session: &Session,
        last_event_id: Option<&str>,
    ) -> reqwest::Response {
        let mut request = stream_client()
            .get(self.url(&format!("/session/{}/events", session.id)))
            .bearer_auth(&session.token);
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        request.send().await.unwrap()
    }

    /// `DELETE /session/{id}` with `token`, whatever the answer.
    pub async fn delete_session(&self, id: &str, token: &str) -> reqwest::Response {
        client()
            .delete(self.url(&format!("/session/{id}")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// The status of `GET /session/{id}` as `session`.
    pub async fn describe_status(&self, session: &Session) -> u16 {
        client()
            .get(self.url(&format!("/session/{}", session.id)))
            .bearer_auth(&session.token)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// The daemon's resident memory (`VmRSS`), in KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("/proc/<pid>/status has a VmRSS line")
    }
}

impl Daemon {
    /// `GET /admin/sessions` with `token` (which must be accepted): the clients' sessions, not
    /// the daemon's own.
    pub async fn client_sessions(&self, token: &str) -> Vec<Value> {
        let response = client()
            .get(self.url("/admin/sessions"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        body["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|session| session["owner"] == "client")
            .cloned()
            .collect()
    }

    /// Posts `message` in the standard session `id` (its `Mcp-Session-Id`) as a 2025-11-25
    /// client; whatever the answer.
    pub async fn standard_post(&self, id: &str, message: Value) -> reqwest::Response {
        client()
            .post(self.url("/mcp"))
            .header("Accept", ACCEPT)
            .header("Mcp-Session-Id", id)
            .header("MCP-Protocol-Version", "2025-11-25")
            .json(&message)
            .send()
            .await
            .unwrap()
    }
}
