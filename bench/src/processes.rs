//! `processes`: how many processes, and how much memory, 4 sessions using 3 stdio MCP servers
//! take with the daemon and without it (issue 15). With it, the daemon starts each configured
//! server once and every session shares it; 4 standard MCP sessions each call one tool of each
//! server, then the daemon's process tree is counted from /proc. Without it, every CLI session
//! starts its own copy of each server from its own config: 4 × 3 copies of the same commands are
//! started, each initialized and made to answer the same call over its stdio (as a CLI does),
//! then counted the same way. The CLIs themselves are there in both cases and counted in neither.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::gateway;
use crate::installed::Installed;
use crate::load::{self, Handshake, Op, ToolCall};
use crate::procfs;
use crate::report::{ScenarioReport, Table, Target, fmt};
use crate::servers;
use crate::settings::Settings;

/// Sessions (CLIs) using the servers.
const SESSIONS: usize = 4;

/// How long the processes may settle after their calls before they are measured.
const SETTLE: Duration = Duration::from_millis(500);

/// One of the 3 stdio servers: its `[servers.<name>]` name, the tool each session calls with
/// and without the daemon, and the call's arguments.
struct Spec {
    name: &'static str,
    tool: &'static str,
    through_daemon: &'static str,
    arguments: &'static str,
}

const SPECS: [Spec; 3] = [
    Spec {
        name: "everything",
        tool: "echo",
        through_daemon: "everything__echo",
        arguments: r#"{"message":"hello"}"#,
    },
    Spec {
        name: "time",
        tool: "get_current_time",
        through_daemon: "time__get_current_time",
        arguments: r#"{"timezone":"UTC"}"#,
    },
    Spec {
        name: "everything2",
        tool: "echo",
        through_daemon: "everything2__echo",
        arguments: r#"{"message":"hello"}"#,
    },
];

/// A set of processes as /proc shows them.
#[derive(Debug, serde::Serialize)]
struct Census {
    processes: usize,
    /// How many of each program (`comm`).
    programs: BTreeMap<String, usize>,
    rss_kib: u64,
    pss_kib: u64,
}

/// The processes and memory of 4 sessions × 3 servers, with and without the daemon.
pub async fn processes(settings: &Settings) -> anyhow::Result<ScenarioReport> {
    let installed = Installed::find()?;
    let with = with_daemon(settings, &installed).await?;
    let without = without_daemon(&installed).await?;
    let mut table = Table::new(
        format!(
            "{SESSIONS} sessions, each calling one tool of each of {} stdio MCP servers (server-everything twice, mcp-server-time)",
            SPECS.len()
        ),
        &[
            "",
            "processes",
            "programs",
            "RSS total MiB",
            "PSS total MiB",
        ],
    );
    for (label, census) in [
        ("with the daemon (one shared copy of each server)", &with),
        ("without (each session starts its own copies)", &without),
    ] {
        table.row(vec![
            label.to_owned(),
            census.processes.to_string(),
            programs(census),
            fmt(census.rss_kib as f64 / 1024.0),
            fmt(census.pss_kib as f64 / 1024.0),
        ]);
    }
    Ok(ScenarioReport {
        name: "processes",
        tables: vec![table],
        targets: vec![Target::at_most(
            "processes: with the daemon, the daemon and one process per server",
            with.processes as f64,
            (1 + SPECS.len()) as f64,
            "processes",
        )],
        notes: vec![
            "RSS counts pages shared between processes (node's and Python's code) once per process; PSS divides them among the processes sharing them".into(),
        ],
        runs: json!({"with_daemon": with, "without_daemon": without}),
    })
}

/// `node 2, construct-actor 1` for the census.
fn programs(census: &Census) -> String {
    let mut counts: Vec<(&String, &usize)> = census.programs.iter().collect();
    counts.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let parts: Vec<String> = counts
        .iter()
        .map(|(name, n)| format!("{name} {n}"))
        .collect();
    parts.join(", ")
}

/// The processes `pids` and their descendants.
fn census(pids: &[u32]) -> anyhow::Result<Census> {
    let mut all = pids.to_vec();
    for &pid in pids {
        all.extend(procfs::descendants(pid)?);
    }
    let mut census = Census {
        processes: all.len(),
        programs: BTreeMap::new(),
        rss_kib: 0,
        pss_kib: 0,
    };
    for pid in all {
        *census.programs.entry(procfs::comm(pid)?).or_default() += 1;
        census.rss_kib += procfs::rss_kib(pid)?;
        census.pss_kib += procfs::pss_kib(pid)?;
    }
    Ok(census)
}

/// The server `spec`'s command and arguments.
fn command_of(spec: &Spec, installed: &Installed) -> (PathBuf, Vec<PathBuf>) {
    if spec.name == "time" {
        (installed.time.clone(), Vec::new())
    } else {
        (
            "node".into(),
            vec![installed.everything.clone(), "stdio".into()],
        )
    }
}

/// The daemon with the 3 servers, after 4 sessions each called each server once.
async fn with_daemon(settings: &Settings, installed: &Installed) -> anyhow::Result<Census> {
    let mut config = settings.daemon_config(100);
    for spec in &SPECS {
        let (command, args) = command_of(spec, installed);
        let args: Vec<&std::path::Path> = args.iter().map(PathBuf::as_path).collect();
        gateway::add_stdio_server(&mut config, spec.name, &command, &args);
    }
    let daemon = servers::start_daemon(&settings.daemon, &mut config)?;
    let names: Vec<&str> = SPECS.iter().map(|spec| spec.through_daemon).collect();
    gateway::wait_for_tools(&daemon, &names).await?;
    let mut workers =
        load::workers_with_own_sessions(&daemon, SESSIONS, Handshake::Standard).await?;
    for worker in &mut workers {
        for spec in &SPECS {
            let call = ToolCall {
                name: spec.through_daemon,
                arguments: spec.arguments,
            };
            worker.run(Op::StandardCall(call)).await?;
        }
    }
    tokio::time::sleep(SETTLE).await;
    let census = census(&[daemon.pid]);
    daemon.stop();
    census
}

/// 4 × 3 server processes as the CLIs start them, each after one call.
async fn without_daemon(installed: &Installed) -> anyhow::Result<Census> {
    let mut children = Vec::new();
    for _ in 0..SESSIONS {
        for spec in &SPECS {
            let (command, args) = command_of(spec, installed);
            let child = Command::new(&command)
                .args(&args)
                .env_clear()
                .envs(std::env::vars_os().filter(|(k, _)| k == "PATH" || k == "HOME"))
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .with_context(|| format!("cannot start {}", command.display()))?;
            children.push((child, spec));
        }
    }
    let calls = children
        .iter_mut()
        .map(|(child, spec)| call_over_stdio(child, spec.tool, spec.arguments));
    // The pipes stay open while the processes are counted, as a CLI keeps them while it runs.
    let _pipes = tokio::time::timeout(gateway::READY_TIMEOUT, futures::future::try_join_all(calls))
        .await
        .context("the servers did not all answer in time")??;
    tokio::time::sleep(SETTLE).await;
    let pids: Vec<u32> = children
        .iter()
        .filter_map(|(child, _)| child.id())
        .collect();
    let census = census(&pids);
    for (mut child, _) in children {
        let _ = child.kill().await;
    }
    census
}

/// A stdio server's pipes, as its client holds them.
type Pipes = (ChildStdin, Lines<BufReader<ChildStdout>>);

/// `initialize`, `notifications/initialized` and one `tools/call` of `tool` over the child's
/// stdio (newline-delimited JSON-RPC), as an MCP client starts a stdio server: its pipes.
async fn call_over_stdio(child: &mut Child, tool: &str, arguments: &str) -> anyhow::Result<Pipes> {
    let mut stdin = child.stdin.take().context("no stdin")?;
    let mut lines = BufReader::new(child.stdout.take().context("no stdout")?).lines();
    let initialize = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": crate::client::PROTOCOL_VERSION, "capabilities": {},
        "clientInfo": {"name": "construct-bench", "version": "0"}}});
    let arguments: Value = serde_json::from_str(arguments)?;
    let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": tool, "arguments": arguments}});
    stdin
        .write_all(format!("{initialize}\n").as_bytes())
        .await?;
    answer(&mut lines, 0).await?;
    let initialized = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    stdin
        .write_all(format!("{initialized}\n{call}\n").as_bytes())
        .await?;
    let result = answer(&mut lines, 1).await?;
    if result["isError"] == true {
        bail!("{tool} failed: {result}");
    }
    Ok((stdin, lines))
}

/// The result of the response with id `id`, skipping notifications and other lines.
async fn answer(lines: &mut Lines<BufReader<ChildStdout>>, id: u64) -> anyhow::Result<Value> {
    while let Some(line) = lines.next_line().await? {
        let Ok(message) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if message["id"] == id {
            if let Some(error) = message.get("error") {
                bail!("the server answered an error: {error}");
            }
            return Ok(message["result"].clone());
        }
    }
    bail!("the server closed its stdout before answering request {id}")
}
