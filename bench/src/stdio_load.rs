//! Closed-loop load on an MCP server over its stdio, as the daemon drives a stdio child: one
//! process, one pipe each way, `n` clients with one request in flight each, told apart by their
//! JSON-RPC ids. It is the direct counterpart of a call forwarded to a `[servers.<name>]
//! command`: the same server program, called without the daemon.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde::Deserialize;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::oneshot;

use crate::client;
use crate::load::{self, Client, Limit, LoadRun, ToolCall};

/// Longest one request may wait for its answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// Longest line read from the server (its answers are a few hundred bytes).
const MAX_LINE_BYTES: usize = 1024 * 1024;

/// Requests waiting for their answers, by id.
type Waiting = Arc<Mutex<HashMap<u64, oneshot::Sender<String>>>>;

/// A running stdio server and its pipes; killed when dropped.
pub struct StdioServer {
    child: Mutex<Child>,
    /// The server process.
    pub pid: u32,
    stdin: tokio::sync::Mutex<ChildStdin>,
    waiting: Waiting,
    next_id: AtomicU64,
}

impl StdioServer {
    /// Starts `command` with piped stdin and stdout (its stderr discarded) and completes the
    /// `initialize` handshake (2025-11-25).
    pub async fn start(mut command: Command) -> anyhow::Result<Arc<Self>> {
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start {command:?}"))?;
        let pid = child.id().context("the stdio server exited at once")?;
        let stdin = child.stdin.take().context("no stdin")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let waiting = Waiting::default();
        tokio::spawn(read_answers(stdout, Arc::clone(&waiting)));
        let server = Arc::new(Self {
            child: Mutex::new(child),
            pid,
            stdin: tokio::sync::Mutex::new(stdin),
            waiting,
            next_id: AtomicU64::new(1),
        });
        let params = r#"{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"construct-bench","version":"0"}}"#;
        let answer = server.request("initialize", params).await?;
        if !answer.contains("\"result\"") {
            bail!("initialize failed: {answer}");
        }
        server
            .send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
            .await?;
        Ok(server)
    }

    /// Whether the server is still running.
    pub fn check_alive(&self) -> anyhow::Result<()> {
        match self.child.lock().expect("not poisoned").try_wait()? {
            None => Ok(()),
            Some(status) => bail!("the stdio server (pid {}) exited: {status}", self.pid),
        }
    }

    async fn send(&self, line: &str) -> anyhow::Result<()> {
        let mut stdin = self.stdin.lock().await;
        stdin.write_all(line.as_bytes()).await?;
        stdin.write_all(b"\n").await?;
        Ok(())
    }

    /// Sends `method` with `params` (a JSON object) and returns the answer's line.
    async fn request(&self, method: &str, params: &str) -> anyhow::Result<String> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (reply, answer) = oneshot::channel();
        self.waiting.lock().expect("not poisoned").insert(id, reply);
        let line =
            format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"{method}","params":{params}}}"#);
        self.send(&line).await?;
        match tokio::time::timeout(ANSWER_TIMEOUT, answer).await {
            Ok(Ok(line)) => Ok(line),
            Ok(Err(_)) => bail!("the stdio server closed its stdout"),
            Err(_) => {
                self.waiting.lock().expect("not poisoned").remove(&id);
                bail!("no answer to {method} within {ANSWER_TIMEOUT:?}")
            }
        }
    }

    /// `tools/call tool`, checked like an HTTP client's.
    async fn call(&self, tool: ToolCall) -> anyhow::Result<()> {
        let answer = self.request("tools/call", &tool.params()).await?;
        let body = answer.as_bytes();
        if !client::contains(body, b"\"result\"") || ToolCall::failed(body) {
            bail!("{} failed: {answer}", tool.name);
        }
        Ok(())
    }
}

/// Hands each answer line to the request waiting for its id, until the server's stdout ends
/// (then every waiting request hears so, its sender dropped).
async fn read_answers(stdout: ChildStdout, waiting: Waiting) {
    #[derive(Deserialize)]
    struct Id {
        id: Option<u64>,
    }
    let mut lines = BufReader::new(stdout);
    let mut line = String::new();
    loop {
        line.clear();
        match lines.read_line(&mut line).await {
            Ok(0) | Err(_) => break,
            Ok(_) if line.len() > MAX_LINE_BYTES => break,
            Ok(_) => {}
        }
        let Ok(Id { id: Some(id) }) = serde_json::from_str::<Id>(&line) else {
            continue;
        };
        if let Some(reply) = waiting.lock().expect("not poisoned").remove(&id) {
            let _ = reply.send(std::mem::take(&mut line));
        }
    }
    waiting.lock().expect("not poisoned").clear();
}

/// One of the clients sharing a [`StdioServer`]: calls its tool every turn.
struct StdioClient {
    server: Arc<StdioServer>,
    tool: ToolCall,
}

impl Client for StdioClient {
    async fn ready(&mut self) -> anyhow::Result<()> {
        Ok(())
    }

    async fn operate(&mut self) -> anyhow::Result<()> {
        self.server.call(self.tool).await
    }
}

/// `concurrency` clients calling `tool` on `server` in a closed loop within `limit`; the
/// server's CPU is its process's.
pub async fn run(
    server: &Arc<StdioServer>,
    concurrency: usize,
    tool: ToolCall,
    limit: Limit,
) -> anyhow::Result<LoadRun> {
    let clients = (0..concurrency)
        .map(|_| StdioClient {
            server: Arc::clone(server),
            tool,
        })
        .collect();
    let (run, _) = load::closed_loop(server.pid, clients, limit).await?;
    Ok(run)
}
