//! The real AI CLIs from npm, pointed at the real daemon by `construct-actor connect`, checked by
//! their own listing commands: Claude Code (`claude mcp list`), Codex (`codex mcp list`, and its
//! app-server's `mcpServerStatus/list`, which connects and lists the tools), Gemini CLI
//! (`gemini mcp list`) and OpenCode (`opencode mcp list`). For each, what the CLI prints is
//! asserted (connected), and so is what the daemon saw: the CLI's `initialize` and its next
//! request arrived in the session `connect` created, in the project folder, and no other session
//! was opened. The MCP Inspector CLI then lists the tools and calls `sleep` with a progress token,
//! once with the Construct headers and once as a plain standard client.
//!
//! Each CLI runs with a scratch HOME and project folder, no model and no API key, with its
//! telemetry and update checks switched off; nothing it is pointed at is outside 127.0.0.1.
//! The CLIs are not Rust crates: `bash tests/clis/setup.sh` installs pinned versions under
//! `target/clis/` (CI does so before running these tests with `--ignored`). Without them the
//! tests fail, saying so, rather than pass without having run.

mod common;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Daemon, canonical, client, next_item};
use serde_json::{Value, json};

/// Longest one CLI command may run before it is killed and the test fails.
const CLI_TIMEOUT: Duration = Duration::from_secs(120);

const SETUP: &str = "bash tests/clis/setup.sh";

/// The daemon's admin token in these tests.
const ADMIN_TOKEN: &str = "clis-admin-token-0123456789";

/// Environment that keeps the CLIs from reaching anything but the daemon: no telemetry, no
/// update checks, no error reports, no plugin or model-list downloads (each CLI's documented
/// switches).
const QUIET: &[(&str, &str)] = &[
    ("DISABLE_TELEMETRY", "1"),
    ("DISABLE_AUTOUPDATER", "1"),
    ("DISABLE_ERROR_REPORTING", "1"),
    ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
    ("OPENCODE_DISABLE_AUTOUPDATE", "1"),
    ("OPENCODE_DISABLE_MODELS_FETCH", "1"),
    ("OPENCODE_DISABLE_SHARE", "1"),
    ("OPENCODE_DISABLE_DEFAULT_PLUGINS", "1"),
    ("OPENCODE_DISABLE_LSP_DOWNLOAD", "1"),
    ("NO_COLOR", "1"),
];

/// Variables of the machine's environment that would point a CLI at another home or config.
const CLEARED: &[&str] = &[
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "XDG_STATE_HOME",
    "XDG_CACHE_HOME",
    "CODEX_HOME",
    "GEMINI_CLI_HOME",
    "GEMINI_CLI_TRUSTED_FOLDERS_PATH",
    "GEMINI_CLI_TRUST_WORKSPACE",
    "CLAUDE_CONFIG_DIR",
    "OPENCODE_CONFIG",
    "CONSTRUCT_ACTOR_API_KEY",
    "CONSTRUCT_ACTOR_DISCOVERY__PATH",
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The folder the CLIs' programs are installed in, which must exist.
fn bin_dir() -> PathBuf {
    let dir = root().join("target/clis/node/node_modules/.bin");
    assert!(
        dir.join("claude").exists(),
        "{} has no CLIs: they are not installed; run `{SETUP}` from {} first",
        dir.display(),
        root().display()
    );
    dir
}

/// A daemon logging each request as a JSON line, with a known admin token.
fn daemon() -> Daemon {
    Daemon::start_with(
        &format!("[log]\nformat = \"json\"\n\n[admin]\ntoken = \"{ADMIN_TOKEN}\"\n"),
        &[("CONSTRUCT_ACTOR_LOG__LEVEL", "info")],
    )
}

/// A scratch HOME and project folder for one CLI, inside the daemon's home (where sessions may
/// work). The project's parent holds a `package.json`: the Inspector CLI 1.0.3 reads its own
/// version from `../package.json`, relative to its module, but checks that the file exists
/// relative to its working folder.
struct Scratch {
    _root: tempfile::TempDir,
    home: PathBuf,
    project: PathBuf,
}

impl Scratch {
    fn new(daemon: &Daemon) -> Self {
        let root = tempfile::tempdir_in(daemon.home.path()).unwrap();
        let home = root.path().join("home");
        let project = root.path().join("project");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(&project).unwrap();
        std::fs::write(root.path().join("package.json"), "{}\n").unwrap();
        Self {
            _root: root,
            home,
            project,
        }
    }

    /// `program args…` in the project folder with this HOME, the CLIs on PATH and [`QUIET`].
    fn command(&self, program: &Path, args: &[&str]) -> Command {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs = vec![bin_dir()];
        dirs.extend(std::env::split_paths(&path));
        let mut command = Command::new(program);
        command
            .args(args)
            .current_dir(&self.project)
            .env("HOME", &self.home)
            .env("PATH", std::env::join_paths(dirs).unwrap())
            .envs(QUIET.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for name in CLEARED {
            command.env_remove(name);
        }
        command
    }

    /// Runs `construct-actor connect args…` here against `daemon`; it must succeed.
    fn connect(&self, daemon: &Daemon, args: &[&str]) -> Ran {
        let discovery = daemon.discovery.to_str().unwrap();
        let mut all = vec!["connect"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--discovery", discovery]);
        let ran = run(self.command(Path::new(common::binary()), &all));
        ran.assert_ok();
        ran
    }

    /// Runs one of the CLIs.
    fn cli(&self, name: &str, args: &[&str]) -> Ran {
        run(self.command(&bin_dir().join(name), args))
    }
}

/// What a command did.
struct Ran {
    what: String,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Ran {
    fn assert_ok(&self) {
        assert_eq!(self.code, Some(0), "{self}");
    }

    /// Both outputs, with terminal colour codes removed.
    fn text(&self) -> String {
        strip_ansi(&format!("{}\n{}", self.stdout, self.stderr))
    }
}

impl std::fmt::Display for Ran {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` exited {:?}\nstdout:\n{}\nstderr:\n{}",
            self.what, self.code, self.stdout, self.stderr
        )
    }
}

/// Runs `command` to its end, killing it after [`CLI_TIMEOUT`].
fn run(mut command: Command) -> Ran {
    let what = format!("{command:?}");
    let mut child = command
        .spawn()
        .unwrap_or_else(|err| panic!("{what}: {err}"));
    let (out, err) = drain(&mut child);
    let status = wait(&mut child, &what);
    let ran = Ran {
        what,
        code: status.code(),
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    };
    eprintln!("{ran}");
    ran
}

/// Threads reading the child's standard output and error to their ends.
fn drain(
    child: &mut Child,
) -> (
    std::thread::JoinHandle<String>,
    std::thread::JoinHandle<String>,
) {
    let read = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    (
        read(Box::new(child.stdout.take().unwrap())),
        read(Box::new(child.stderr.take().unwrap())),
    )
}

/// The child's exit status; kills it and fails the test after [`CLI_TIMEOUT`].
fn wait(child: &mut Child, what: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + CLI_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {CLI_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `text` without ANSI escape sequences.
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// The session `connect` reported creating (`session <id> in <cwd>`), checked to be in `folder`.
fn created_session(ran: &Ran, folder: &Path) -> String {
    let line = ran
        .stdout
        .lines()
        .find(|line| line.starts_with("session "))
        .unwrap_or_else(|| panic!("connect named no session; {ran}"));
    let mut words = line.split_whitespace().skip(1);
    let id = words.next().unwrap().to_owned();
    assert_eq!(words.next(), Some("in"), "{line}");
    assert_eq!(words.next(), Some(canonical(folder).as_str()), "{line}");
    id
}

/// One `/mcp` request the daemon logged.
#[derive(Debug, Clone)]
struct Logged {
    session: Option<String>,
    rpc_method: Option<String>,
    tool: Option<String>,
    client: Option<String>,
}

/// Every `/mcp` request the daemon has logged so far, in order.
fn mcp_requests(daemon: &Daemon) -> Vec<Logged> {
    let text = |fields: &Value, key: &str| fields[key].as_str().map(str::to_owned);
    daemon
        .stderr()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .map(|line| line["fields"].clone())
        .filter(|fields| fields["message"] == "request" && fields["route"] == "/mcp")
        .map(|fields| Logged {
            session: text(&fields, "session"),
            rpc_method: text(&fields, "rpc_method"),
            tool: text(&fields, "tool"),
            client: text(&fields, "client"),
        })
        .collect()
}

/// The JSON-RPC methods the daemon logged for session `id`, waiting (at most a few seconds)
/// until they include every one of `expected`.
fn methods_in(daemon: &Daemon, id: &str, expected: &[&str]) -> Vec<Logged> {
    let deadline = Instant::now() + common::WAIT;
    loop {
        let logged: Vec<Logged> = mcp_requests(daemon)
            .into_iter()
            .filter(|request| request.session.as_deref() == Some(id))
            .collect();
        let seen = |method: &str| {
            logged
                .iter()
                .any(|request| request.rpc_method.as_deref() == Some(method))
        };
        if expected.iter().all(|method| seen(method)) {
            return logged;
        }
        assert!(
            Instant::now() < deadline,
            "session {id} never saw all of {expected:?}; it saw {logged:?}; all /mcp requests: {:?}",
            mcp_requests(daemon)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `GET /admin/sessions`: the clients' sessions (not the daemon's own).
async fn client_sessions(daemon: &Daemon) -> Vec<Value> {
    daemon.client_sessions(ADMIN_TOKEN).await
}

/// Checks that the CLI's requests went to session `id` alone, which works in `folder` and
/// knows the client by name; returns that name.
async fn only_session(daemon: &Daemon, id: &str, folder: &Path, cli: &str) -> String {
    let sessions = client_sessions(daemon).await;
    let ids: Vec<&str> = sessions
        .iter()
        .filter_map(|session| session["session_id"].as_str())
        .collect();
    assert_eq!(
        ids,
        [id],
        "{cli} opened no session of its own: {sessions:?}"
    );
    let session = &sessions[0];
    assert_eq!(session["cwd"], canonical(folder), "{session}");
    let strays: Vec<Logged> = mcp_requests(daemon)
        .into_iter()
        .filter(|request| request.session.as_deref() != Some(id))
        .collect();
    assert!(
        strays.is_empty(),
        "{cli} sent requests outside its session: {strays:?}"
    );
    let name = session["client"]["name"]
        .as_str()
        .unwrap_or_else(|| panic!("{cli}'s initialize named no client: {session}"));
    eprintln!("{cli}: clientInfo {}", session["client"]);
    name.to_owned()
}

#[tokio::test]
#[ignore = "needs the AI CLIs: bash tests/clis/setup.sh"]
async fn claude_code_connects_through_its_local_scope_with_no_approval() {
    let daemon = daemon();
    let scratch = Scratch::new(&daemon);
    let connected = scratch.connect(&daemon, &["claude"]);
    assert!(
        connected.stdout.contains("registered with Claude Code"),
        "{connected}"
    );
    let id = created_session(&connected, &scratch.project);
    assert!(
        !scratch.project.join(".mcp.json").exists(),
        "no project file when claude registers it"
    );

    let listed = scratch.cli("claude", &["mcp", "list"]);
    listed.assert_ok();
    let url = daemon.url("/mcp");
    assert!(
        listed
            .text()
            .contains(&format!("construct: {url} (HTTP) - ✔ Connected")),
        "{listed}"
    );
    let logged = methods_in(&daemon, &id, &["initialize", "tools/list"]);
    let name = only_session(&daemon, &id, &scratch.project, "claude").await;
    assert!(
        logged
            .iter()
            .any(|r| r.rpc_method.as_deref() == Some("initialize")
                && r.client.as_deref() == Some(name.as_str())),
        "{logged:?}"
    );

    // Connecting again replaces the entry (add-json refuses duplicates): the new session is used.
    let again = scratch.connect(&daemon, &["claude", "--label", "again"]);
    let second = created_session(&again, &scratch.project);
    let listed = scratch.cli("claude", &["mcp", "list"]);
    assert!(listed.text().contains("✔ Connected"), "{listed}");
    methods_in(&daemon, &second, &["initialize", "tools/list"]);
}

#[tokio::test]
#[ignore = "needs the AI CLIs: bash tests/clis/setup.sh"]
async fn without_claude_on_path_the_project_file_waits_for_approval_and_connect_says_so() {
    let daemon = daemon();
    let scratch = Scratch::new(&daemon);
    // `connect` alone, with a PATH that has no `claude`.
    let mut command = scratch.command(
        Path::new(common::binary()),
        &[
            "connect",
            "claude",
            "--discovery",
            daemon.discovery.to_str().unwrap(),
        ],
    );
    command.env("PATH", "/usr/bin:/bin");
    let connected = run(command);
    connected.assert_ok();
    let file = scratch.project.join(".mcp.json");
    assert!(file.exists(), "{connected}");
    assert!(
        connected.stdout.contains("approve `construct`")
            && connected.stdout.contains("construct-actor connect claude"),
        "{connected}"
    );
    // What Claude Code itself then says: the server waits for the person.
    let listed = scratch.cli("claude", &["mcp", "list"]);
    listed.assert_ok();
    assert!(listed.text().contains("Pending approval"), "{listed}");
    let id = created_session(&connected, &scratch.project);
    assert!(
        mcp_requests(&daemon)
            .iter()
            .all(|request| request.session.as_deref() != Some(id.as_str())),
        "nothing is sent before approval"
    );
}

#[tokio::test]
#[ignore = "needs the AI CLIs: bash tests/clis/setup.sh"]
async fn codex_reads_url_and_http_headers_and_lists_the_tools_in_the_session() {
    let daemon = daemon();
    let scratch = Scratch::new(&daemon);
    let config = scratch.home.join(".codex/config.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    let kept = "# no update checks and no analytics in tests\ncheck_for_update_on_startup = false\n\n[analytics]\nenabled = false\n";
    std::fs::write(&config, kept).unwrap();
    let connected = scratch.connect(&daemon, &["codex"]);
    let id = created_session(&connected, &scratch.project);
    let written = std::fs::read_to_string(&config).unwrap();
    assert!(written.starts_with(kept), "{written}");
    assert!(
        written.contains("[mcp_servers.construct.http_headers]") && !written.contains("transport"),
        "{written}"
    );

    let listed = scratch.cli("codex", &["mcp", "list"]);
    listed.assert_ok();
    let row = listed
        .text()
        .lines()
        .find(|line| line.starts_with("construct "))
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("no construct row; {listed}"));
    assert!(
        row.contains(&daemon.url("/mcp"))
            && row.contains("enabled")
            && row.contains("Bearer token"),
        "{row}"
    );

    // `codex mcp list` reads the file only; its app-server connects and lists the tools.
    let status = codex_mcp_status(&scratch);
    let server = status["data"]
        .as_array()
        .and_then(|servers| servers.iter().find(|s| s["name"] == "construct"))
        .unwrap_or_else(|| panic!("no construct in {status}"));
    assert_eq!(server["serverInfo"]["name"], "construct-actor", "{server}");
    assert!(server["tools"]["sleep"].is_object(), "{server}");
    methods_in(&daemon, &id, &["initialize", "tools/list"]);
    only_session(&daemon, &id, &scratch.project, "codex").await;
}

/// `codex app-server` over standard input and output: `initialize`, then
/// `mcpServerStatus/list`, whose result is returned.
fn codex_mcp_status(scratch: &Scratch) -> Value {
    let mut command = scratch.command(&bin_dir().join("codex"), &["app-server"]);
    command.stdin(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let err = {
        let mut pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let mut send = move |message: Value| {
        writeln!(input, "{message}").unwrap();
        input.flush().unwrap();
    };
    let answer = |id: u64| -> Value {
        let deadline = Instant::now() + CLI_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("codex app-server gave no answer {id}"));
            let message: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
            if message["id"] == id {
                assert!(message.get("error").is_none(), "{message}");
                return message["result"].clone();
            }
        }
    };
    send(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                "params": {"clientInfo": {"name": "construct-tests", "version": "1"}}}));
    answer(1);
    send(json!({"jsonrpc": "2.0", "method": "initialized"}));
    send(json!({"jsonrpc": "2.0", "id": 2, "method": "mcpServerStatus/list", "params": {}}));
    let status = answer(2);
    // The end of its input ends it (`codex` is a launcher: killing it would leave the server).
    drop(send);
    let ended = wait(&mut child, "codex app-server");
    eprintln!(
        "codex app-server ended ({ended}); stderr:\n{}",
        err.join().unwrap()
    );
    status
}

#[tokio::test]
#[ignore = "needs the AI CLIs: bash tests/clis/setup.sh"]
async fn gemini_uses_the_server_once_the_folder_is_trusted() {
    let daemon = daemon();
    let scratch = Scratch::new(&daemon);
    let settings = scratch.home.join(".gemini/settings.json");
    std::fs::create_dir_all(settings.parent().unwrap()).unwrap();
    std::fs::write(
        &settings,
        r#"{"general": {"enableAutoUpdate": false, "enableAutoUpdateNotification": false},
 "privacy": {"usageStatisticsEnabled": false}, "telemetry": {"enabled": false}}"#,
    )
    .unwrap();

    // Untrusted: connect says so and how; Gemini shows the server disabled and sends nothing.
    let connected = scratch.connect(&daemon, &["gemini"]);
    assert!(
        connected.stdout.contains("not trusted yet")
            && connected.stdout.contains("connect gemini --trust"),
        "{connected}"
    );
    let untrusted = created_session(&connected, &scratch.project);
    let listed = scratch.cli("gemini", &["mcp", "list"]);
    listed.assert_ok();
    assert!(listed.text().contains("- Disabled"), "{listed}");
    assert!(
        mcp_requests(&daemon).is_empty(),
        "nothing is sent from an untrusted folder"
    );
    client()
        .delete(daemon.url(&format!("/session/{untrusted}")))
        .bearer_auth(session_token(&settings))
        .send()
        .await
        .unwrap();

    // --trust: trusted, and Gemini connects in the new session.
    let connected = scratch.connect(&daemon, &["gemini", "--trust"]);
    assert!(connected.stdout.contains("trusted "), "{connected}");
    let id = created_session(&connected, &scratch.project);
    let trusted: Value = serde_json::from_str(
        &std::fs::read_to_string(scratch.home.join(".gemini/trustedFolders.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(trusted[canonical(&scratch.project)], "TRUST_FOLDER");
    let kept: Value = serde_json::from_str(&std::fs::read_to_string(&settings).unwrap()).unwrap();
    assert_eq!(kept["privacy"]["usageStatisticsEnabled"], false);
    let listed = scratch.cli("gemini", &["mcp", "list"]);
    listed.assert_ok();
    let url = daemon.url("/mcp");
    assert!(
        listed
            .text()
            .contains(&format!("✓ construct: {url} (http) - Connected")),
        "{listed}"
    );
    // `gemini mcp list` checks a server with initialize and ping; it lists no tools.
    methods_in(&daemon, &id, &["initialize", "ping"]);
    only_session(&daemon, &id, &scratch.project, "gemini").await;
}

/// The session token in a Gemini settings file `connect` wrote.
fn session_token(settings: &Path) -> String {
    let written: Value = serde_json::from_str(&std::fs::read_to_string(settings).unwrap()).unwrap();
    written["mcpServers"]["construct"]["headers"]["Authorization"]
        .as_str()
        .unwrap()
        .trim_start_matches("Bearer ")
        .to_owned()
}

#[tokio::test]
#[ignore = "needs the AI CLIs: bash tests/clis/setup.sh"]
async fn opencode_connects_and_lists_the_tools_in_the_session() {
    let daemon = daemon();
    let scratch = Scratch::new(&daemon);
    let config = scratch.home.join(".config/opencode/config.json");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, r#"{"autoupdate": false, "share": "disabled"}"#).unwrap();
    let connected = scratch.connect(&daemon, &["opencode"]);
    let id = created_session(&connected, &scratch.project);
    let listed = scratch.cli("opencode", &["mcp", "list"]);
    listed.assert_ok();
    let text = listed.text();
    assert!(
        text.lines()
            .any(|line| line.contains("✓ construct") && line.contains("connected")),
        "{listed}"
    );
    methods_in(&daemon, &id, &["initialize", "tools/list"]);
    only_session(&daemon, &id, &scratch.project, "opencode").await;
}

/// Runs the Inspector CLI against the daemon's `/mcp` with `headers` and `args`; its JSON answer.
fn inspector(scratch: &Scratch, daemon: &Daemon, headers: &[String], args: &[&str]) -> Value {
    let url = daemon.url("/mcp");
    let mut all = vec!["--cli", url.as_str(), "--transport", "http"];
    for header in headers {
        all.extend_from_slice(&["--header", header]);
    }
    all.extend_from_slice(args);
    let ran = scratch.cli("mcp-inspector-cli", &all);
    ran.assert_ok();
    let start = ran
        .stdout
        .find('{')
        .unwrap_or_else(|| panic!("no JSON answer; {ran}"));
    serde_json::from_str(&ran.stdout[start..]).unwrap_or_else(|err| panic!("{err}; {ran}"))
}

/// The Inspector's `tools/call` of `sleep` with a progress token.
const SLEEP_CALL: &[&str] = &[
    "--method",
    "tools/call",
    "--tool-name",
    "sleep",
    "--tool-arg",
    "duration_ms=600",
    "--tool-metadata",
    "progressToken=inspector-1",
];

#[tokio::test]
#[ignore = "needs the AI CLIs: bash tests/clis/setup.sh"]
async fn the_inspector_lists_and_calls_with_progress_with_construct_headers_and_without() {
    let daemon = daemon();
    let scratch = Scratch::new(&daemon);
    let tool_names = |listed: &Value| -> Vec<String> {
        listed["tools"]
            .as_array()
            .unwrap_or_else(|| panic!("no tools in {listed}"))
            .iter()
            .map(|tool| tool["name"].as_str().unwrap().to_owned())
            .collect()
    };

    // With the Construct headers: everything happens in that session, whose events stream
    // carries the call's progress.
    let session = daemon
        .session_with(json!({"cwd": scratch.project, "label": "inspector"}))
        .await;
    let headers = [
        format!("Authorization: Bearer {}", session.token),
        format!("X-Construct-Session: {}", session.id),
    ];
    let listed = inspector(&scratch, &daemon, &headers, &["--method", "tools/list"]);
    assert!(
        tool_names(&listed).contains(&"sleep".to_owned()),
        "{listed}"
    );
    let mut events = daemon.follow(&session).await;
    let called = inspector(&scratch, &daemon, &headers, SLEEP_CALL);
    assert_eq!(called["content"][0]["text"], "slept 600 ms", "{called}");
    assert_eq!(called["isError"], false, "{called}");
    let Some(common::Item::Event(_, data)) = next_item(&mut events).await else {
        panic!("the call's progress reached no follower");
    };
    let progress: Value = serde_json::from_str(&data).unwrap();
    assert_eq!(progress["tool"], "sleep", "{progress}");
    assert_eq!(progress["token"], "inspector-1", "{progress}");
    let logged = methods_in(
        &daemon,
        &session.id,
        &["initialize", "tools/list", "tools/call"],
    );
    assert!(
        logged.iter().any(|r| r.tool.as_deref() == Some("sleep")),
        "{logged:?}"
    );
    drop(events);

    // As a plain standard client, with only the owner key (what `connect --print` gives): each
    // run's initialize opens a session of its own, named after the client.
    let key = [format!("Authorization: Bearer {}", daemon.api_key())];
    let before = client_sessions(&daemon).await.len();
    let listed = inspector(&scratch, &daemon, &key, &["--method", "tools/list"]);
    assert!(
        tool_names(&listed).contains(&"sleep".to_owned()),
        "{listed}"
    );
    let called = inspector(&scratch, &daemon, &key, SLEEP_CALL);
    assert_eq!(called["content"][0]["text"], "slept 600 ms", "{called}");
    let sessions = client_sessions(&daemon).await;
    let opened: Vec<&Value> = sessions
        .iter()
        .filter(|s| s["session_id"] != session.id.as_str())
        .collect();
    assert_eq!(opened.len(), 2, "one session per run: {sessions:?}");
    assert_eq!(sessions.len(), before + 2);
    for opened in &opened {
        assert_eq!(opened["client"]["name"], "inspector-cli", "{opened}");
    }
    let plain: Vec<Logged> = mcp_requests(&daemon)
        .into_iter()
        .filter(|r| r.session.as_deref() != Some(session.id.as_str()))
        .collect();
    let call = plain
        .iter()
        .find(|r| r.rpc_method.as_deref() == Some("tools/call"))
        .unwrap_or_else(|| panic!("no plain tools/call: {plain:?}"));
    assert_eq!(call.tool.as_deref(), Some("sleep"));
    // Its progress was published in its own session (the daemon's event counter moved).
    let metrics = daemon.metrics_text().await;
    let published: f64 = metrics
        .lines()
        .find_map(|line| line.strip_prefix("construct_events_published_total "))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no event counter in /metrics:\n{metrics}"));
    assert!(published >= 2.0, "progress of both calls: {published}");
}
