//! `construct-actor connect <cli>` against a live daemon: for each of the four CLIs the written
//! file parses, has exactly the documented shape, keeps what was there, leaves a backup, and its
//! URL and headers authenticate; Gemini's folder trust is reported, and written only with
//! `--trust`; `--print` creates no session and writes nothing; no daemon or a file that cannot be
//! parsed is a clear error that leaves everything as it was. (What the real CLIs make of the
//! files is tests/clis.rs's part.)
//!
//! The command runs as a child process with HOME and XDG_CONFIG_HOME in a temporary folder, so
//! nothing touches the real home.

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{Daemon, Session, WAIT, canonical, client};
use serde_json::{Value, json};

/// A private home for one run of the command.
struct Sandbox {
    _root: tempfile::TempDir,
    home: PathBuf,
    xdg: PathBuf,
    project: PathBuf,
}

/// What the command did.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn assert_ok(&self) {
        assert_eq!(
            self.code,
            Some(0),
            "stdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
    }

    fn assert_failed(&self) {
        assert!(
            self.code.is_some_and(|code| code != 0),
            "expected a failure; stdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
    }
}

impl Sandbox {
    fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        let home = root.path().join("home");
        let xdg = root.path().join("xdg");
        let project = root.path().join("project");
        for dir in [&home, &xdg, &project] {
            std::fs::create_dir_all(dir).unwrap();
        }
        Self {
            _root: root,
            home,
            xdg,
            project,
        }
    }

    /// Runs the binary with `args` in the project folder, with `env` added; bounded in time.
    fn run_with(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut command = Command::new(common::binary());
        command
            .args(args)
            .current_dir(&self.project)
            .env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", &self.xdg)
            // No `claude` here: Claude Code's own registration is tests/clis.rs's part.
            .env("PATH", "/usr/bin:/bin")
            .env_remove("CODEX_HOME")
            .env_remove("GEMINI_CLI_HOME")
            .env_remove("GEMINI_CLI_TRUSTED_FOLDERS_PATH")
            .env_remove("GEMINI_CLI_TRUST_WORKSPACE")
            .env_remove("CONSTRUCT_ACTOR_API_KEY")
            .env_remove("CONSTRUCT_ACTOR_DISCOVERY__PATH")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let child = command.spawn().expect("the binary starts");
        let pid = child.id();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait_with_output());
        });
        let output = match rx.recv_timeout(WAIT * 2) {
            Ok(output) => output.unwrap(),
            Err(_) => {
                // SAFETY: killing the child this test spawned, which has not been reaped.
                unsafe { libc::kill(i32::try_from(pid).unwrap(), libc::SIGKILL) };
                panic!(
                    "`construct-actor {}` did not finish in time",
                    args.join(" ")
                );
            }
        };
        Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, &[])
    }

    /// Every file under the sandbox's home, XDG and project folders.
    fn files(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, out);
                } else {
                    out.push(path);
                }
            }
        }
        let mut files = Vec::new();
        for dir in [&self.home, &self.xdg, &self.project] {
            walk(dir, &mut files);
        }
        files.sort();
        files
    }
}

/// A daemon with `extra` configuration whose sessions may work in the sandboxes' folders (under
/// the system's temporary folder, outside the daemon's own home).
fn daemon(extra: &str) -> Daemon {
    let temp = std::env::temp_dir().canonicalize().unwrap();
    Daemon::start(&format!(
        "{extra}\n[tools]\nworkspace_roots = [{:?}]\n",
        temp.to_str().unwrap()
    ))
}

/// The URL written in the daemon's discovery file.
fn discovery_url(daemon: &Daemon) -> String {
    let text = std::fs::read_to_string(&daemon.discovery).unwrap();
    let discovery: Value = serde_json::from_str(&text).unwrap();
    discovery["url"].as_str().unwrap().to_owned()
}

fn discovery_arg(daemon: &Daemon) -> &str {
    daemon.discovery.to_str().unwrap()
}

/// The session named by written headers; checks their form.
fn session_of(headers: &Value, project: &Path) -> Session {
    assert_eq!(
        headers.as_object().unwrap().len(),
        2,
        "exactly two headers: {headers}"
    );
    let authorization = headers["Authorization"].as_str().unwrap();
    let token = authorization
        .strip_prefix("Bearer ")
        .expect("Authorization: Bearer <token>");
    let id = headers["X-Construct-Session"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    Session {
        id: id.to_owned(),
        token: token.to_owned(),
        cwd: canonical(project),
    }
}

/// `url` with `headers` answers a JSON-RPC `tools/list` with `200` and the tools.
async fn authenticates(url: &str, headers: &Value) {
    let mut request = client().post(url);
    for (name, value) in headers.as_object().unwrap() {
        request = request.header(name.as_str(), value.as_str().unwrap());
    }
    let response = request
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let tools = body["result"]["tools"].as_array().expect("a tools list");
    assert!(tools.iter().any(|tool| tool["name"] == "echo"), "{body}");
}

/// Asserts that each of `keys` occurs once in the JSON `text`, in this order.
fn keys_in_order(text: &str, keys: &[&str]) {
    let positions: Vec<usize> = keys
        .iter()
        .map(|key| {
            let quoted = format!("\"{key}\":");
            assert_eq!(text.matches(&quoted).count(), 1, "{key} once in {text}");
            text.find(&quoted).unwrap()
        })
        .collect();
    assert!(
        positions.windows(2).all(|pair| pair[0] < pair[1]),
        "{keys:?} in this order in {text}"
    );
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn backup(path: &Path) -> PathBuf {
    PathBuf::from(format!("{}.bak", path.display()))
}

#[tokio::test]
async fn without_claude_on_path_claude_gets_a_mcp_json_and_what_to_do() {
    let daemon = daemon("");
    let sandbox = Sandbox::new();
    let file = sandbox.project.join(".mcp.json");
    let original_text = r#"{"unrelated": {"keep": [1, 2, 3]},
  "mcpServers": {"other": {"command": "other-server", "args": ["--x"]}}}"#;
    std::fs::write(&file, original_text).unwrap();
    let original: Value = serde_json::from_str(original_text).unwrap();

    let run = sandbox.run(&[
        "connect",
        "claude",
        "--cwd",
        sandbox.project.to_str().unwrap(),
        "--label",
        "my project",
        "--discovery",
        discovery_arg(&daemon),
    ]);
    run.assert_ok();
    assert!(
        run.stdout.contains("`claude` is not on PATH")
            && run.stdout.contains(&format!(
                "Run `claude` in {} and approve `construct`",
                sandbox.project.display()
            ))
            && run
                .stdout
                .contains("run `construct-actor connect claude` again"),
        "{}",
        run.stdout
    );

    let written = read_json(&file);
    assert_eq!(written.as_object().unwrap().len(), 2);
    keys_in_order(
        &std::fs::read_to_string(&file).unwrap(),
        &["unrelated", "mcpServers", "other", "construct"],
    );
    assert_eq!(written["unrelated"], original["unrelated"]);
    assert_eq!(
        written["mcpServers"]["other"],
        original["mcpServers"]["other"]
    );
    assert_eq!(written["mcpServers"].as_object().unwrap().len(), 2);
    let entry = &written["mcpServers"]["construct"];
    let url = discovery_url(&daemon);
    assert_eq!(
        *entry,
        json!({"type": "http", "url": url, "headers": entry["headers"].clone()})
    );
    let session = session_of(&entry["headers"], &sandbox.project);
    assert_eq!(read_json(&backup(&file)), original);
    assert_eq!(mode(&file), 0o600);
    assert!(
        !run.stdout.contains(&session.token),
        "the token is not shown"
    );

    authenticates(&url, &entry["headers"]).await;
    let described = daemon.describe(&session).await;
    assert_eq!(described["cwd"], canonical(&sandbox.project));
    assert_eq!(described["label"], "my project");
}

#[tokio::test]
async fn codex_gets_its_table_in_config_toml_with_comments_kept() {
    let daemon = daemon("");
    let sandbox = Sandbox::new();
    let file = sandbox.home.join(".codex/config.toml");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let original = "# my Codex settings\nmodel = \"o3\"  # the big one\n\n\
                    [mcp_servers.other]\ncommand = \"other-server\"\nargs = [\"--x\"]\n\n\
                    [profiles.fast]\nmodel = \"mini\"\n";
    std::fs::write(&file, original).unwrap();

    // From the project folder, without --cwd: the session works in the current folder.
    let run = sandbox.run(&["connect", "codex", "--discovery", discovery_arg(&daemon)]);
    run.assert_ok();

    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.starts_with("# my Codex settings\nmodel = \"o3\"  # the big one\n"),
        "{text}"
    );
    assert!(
        text.contains("[profiles.fast]\nmodel = \"mini\"\n"),
        "{text}"
    );
    let written: toml_edit::DocumentMut = text.parse().unwrap();
    let servers = written["mcp_servers"].as_table().unwrap();
    assert_eq!(
        servers.iter().map(|(name, _)| name).collect::<Vec<_>>(),
        ["other", "construct"]
    );
    assert_eq!(
        written["mcp_servers"]["other"]["command"].as_str(),
        Some("other-server")
    );
    let entry = written["mcp_servers"]["construct"].as_table().unwrap();
    // Codex reads `http_headers`; it ignores `headers` and has no `transport` key.
    assert_eq!(
        entry.iter().map(|(key, _)| key).collect::<Vec<_>>(),
        ["url", "http_headers"]
    );
    let url = discovery_url(&daemon);
    assert_eq!(entry["url"].as_str(), Some(url.as_str()));
    let headers = entry["http_headers"]
        .as_table()
        .expect("[mcp_servers.construct.http_headers]");
    let headers: Value = headers
        .iter()
        .map(|(name, value)| (name.to_owned(), json!(value.as_str().unwrap())))
        .collect::<serde_json::Map<_, _>>()
        .into();
    let session = session_of(&headers, &sandbox.project);
    assert_eq!(std::fs::read_to_string(backup(&file)).unwrap(), original);
    assert_eq!(mode(&file), 0o600);

    authenticates(&url, &headers).await;
    assert_eq!(
        daemon.describe(&session).await["cwd"],
        canonical(&sandbox.project)
    );
}

#[tokio::test]
async fn opencode_gets_its_entry_under_xdg_config_home_or_dot_config() {
    let daemon = daemon("");
    let sandbox = Sandbox::new();
    let file = sandbox.xdg.join("opencode/config.json");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let original_text = r#"{"$schema": "https://opencode.ai/config.json", "theme": "opencode",
  "mcp": {"other": {"type": "local", "command": ["other-server"], "enabled": true}}}"#;
    std::fs::write(&file, original_text).unwrap();
    let original: Value = serde_json::from_str(original_text).unwrap();

    let project = sandbox.project.to_str().unwrap();
    let run = sandbox.run(&[
        "connect",
        "opencode",
        "--cwd",
        project,
        "--discovery",
        discovery_arg(&daemon),
    ]);
    run.assert_ok();

    let written = read_json(&file);
    assert_eq!(written.as_object().unwrap().len(), 3);
    keys_in_order(
        &std::fs::read_to_string(&file).unwrap(),
        &["$schema", "theme", "mcp", "other", "construct"],
    );
    assert_eq!(written["theme"], "opencode");
    assert_eq!(written["mcp"]["other"], original["mcp"]["other"]);
    let entry = &written["mcp"]["construct"];
    let url = discovery_url(&daemon);
    assert_eq!(
        *entry,
        json!({"type": "remote", "url": url, "enabled": true, "headers": entry["headers"].clone()})
    );
    session_of(&entry["headers"], &sandbox.project);
    assert_eq!(read_json(&backup(&file)), original);
    authenticates(&url, &entry["headers"]).await;

    // Without XDG_CONFIG_HOME: ~/.config/opencode/config.json, created with its folders.
    let run = sandbox.run_with(
        &[
            "connect",
            "opencode",
            "--cwd",
            project,
            "--discovery",
            discovery_arg(&daemon),
        ],
        &[("XDG_CONFIG_HOME", "")],
    );
    run.assert_ok();
    let fresh = sandbox.home.join(".config/opencode/config.json");
    let written = read_json(&fresh);
    assert_eq!(written.as_object().unwrap().len(), 1);
    assert_eq!(written["mcp"].as_object().unwrap().len(), 1);
    authenticates(&url, &written["mcp"]["construct"]["headers"]).await;
    assert!(!backup(&fresh).exists(), "nothing to back up");
}

#[tokio::test]
async fn gemini_gets_its_entry_in_settings_json_through_the_default_discovery_file() {
    let daemon = daemon("");
    let sandbox = Sandbox::new();
    // The daemon's discovery file where a daemon run by this user would write it.
    let default_discovery = sandbox.home.join(".construct/mcp.json");
    std::fs::create_dir_all(default_discovery.parent().unwrap()).unwrap();
    std::fs::copy(&daemon.discovery, &default_discovery).unwrap();
    let file = sandbox.home.join(".gemini/settings.json");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let original_text = r#"{"theme": "GitHub",
  "mcpServers": {"other": {"httpUrl": "http://example.invalid/mcp", "timeout": 5000}},
  "selectedAuthType": "oauth-personal"}"#;
    std::fs::write(&file, original_text).unwrap();
    let original: Value = serde_json::from_str(original_text).unwrap();

    let run = sandbox.run(&[
        "connect",
        "gemini",
        "--cwd",
        sandbox.project.to_str().unwrap(),
    ]);
    run.assert_ok();
    // Gemini CLI disables MCP servers in untrusted folders: connect says so, and how.
    assert!(
        run.stdout
            .contains(&format!("{} is not trusted yet", sandbox.project.display()))
            && run.stdout.contains("connect gemini --trust"),
        "{}",
        run.stdout
    );
    assert!(!sandbox.home.join(".gemini/trustedFolders.json").exists());

    let written = read_json(&file);
    assert_eq!(written.as_object().unwrap().len(), 3);
    keys_in_order(
        &std::fs::read_to_string(&file).unwrap(),
        &[
            "theme",
            "mcpServers",
            "other",
            "construct",
            "selectedAuthType",
        ],
    );
    assert_eq!(written["selectedAuthType"], "oauth-personal");
    assert_eq!(
        written["mcpServers"]["other"],
        original["mcpServers"]["other"]
    );
    let entry = &written["mcpServers"]["construct"];
    let url = discovery_url(&daemon);
    assert_eq!(
        *entry,
        json!({"httpUrl": url, "headers": entry["headers"].clone()})
    );
    session_of(&entry["headers"], &sandbox.project);
    assert_eq!(read_json(&backup(&file)), original);
    assert_eq!(mode(&file), 0o600);
    authenticates(&url, &entry["headers"]).await;
}

#[tokio::test]
async fn connecting_again_replaces_only_the_construct_entry() {
    let daemon = daemon("");
    let sandbox = Sandbox::new();
    let file = sandbox.home.join(".gemini/settings.json");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, r#"{"mcpServers": {"other": {"command": "x"}}}"#).unwrap();
    let args = [
        "connect",
        "gemini",
        "--cwd",
        sandbox.project.to_str().unwrap(),
        "--discovery",
        discovery_arg(&daemon),
    ];
    sandbox.run(&args).assert_ok();
    let first = read_json(&file);
    sandbox.run(&args).assert_ok();
    let second = read_json(&file);

    assert_eq!(read_json(&backup(&file)), first);
    assert_eq!(second["mcpServers"].as_object().unwrap().len(), 2);
    keys_in_order(
        &std::fs::read_to_string(&file).unwrap(),
        &["mcpServers", "other", "construct"],
    );
    assert_ne!(
        first["mcpServers"]["construct"]["headers"], second["mcpServers"]["construct"]["headers"],
        "a new session"
    );
    for written in [&first, &second] {
        authenticates(
            &discovery_url(&daemon),
            &written["mcpServers"]["construct"]["headers"],
        )
        .await;
    }
}

#[tokio::test]
async fn gemini_trust_is_written_only_when_asked_and_keeps_the_other_folders() {
    let daemon = daemon("");
    let sandbox = Sandbox::new();
    let trusted = sandbox.home.join(".gemini/trustedFolders.json");
    std::fs::create_dir_all(trusted.parent().unwrap()).unwrap();
    let original = r#"{"/somewhere/else": "TRUST_PARENT", "/elsewhere": "DO_NOT_TRUST"}"#;
    std::fs::write(&trusted, original).unwrap();
    let project = sandbox.project.to_str().unwrap();
    let args = |extra: &[&'static str]| {
        let mut args = vec!["connect", "gemini", "--cwd", project];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--discovery", discovery_arg(&daemon)]);
        args
    };

    let run = sandbox.run(&args(&["--trust"]));
    run.assert_ok();
    let folder = canonical(&sandbox.project);
    assert!(
        run.stdout
            .contains(&format!("trusted {project} in {}", trusted.display())),
        "{}",
        run.stdout
    );
    assert_eq!(
        read_json(&trusted),
        json!({"/somewhere/else": "TRUST_PARENT", "/elsewhere": "DO_NOT_TRUST", (folder.clone()): "TRUST_FOLDER"})
    );
    keys_in_order(
        &std::fs::read_to_string(&trusted).unwrap(),
        &["/somewhere/else", "/elsewhere", &folder],
    );
    assert_eq!(std::fs::read_to_string(backup(&trusted)).unwrap(), original);
    assert_eq!(mode(&trusted), 0o600);

    // Trusted now: connecting again says so and leaves the file alone.
    let before = std::fs::read_to_string(&trusted).unwrap();
    let run = sandbox.run(&args(&[]));
    run.assert_ok();
    assert!(
        run.stdout.contains("(the folder is trusted)"),
        "{}",
        run.stdout
    );
    assert_eq!(std::fs::read_to_string(&trusted).unwrap(), before);

    // A trust file that cannot be edited is an error before anything is created.
    std::fs::write(&trusted, "[1]").unwrap();
    let settings = sandbox.home.join(".gemini/settings.json");
    let settings_before = std::fs::read_to_string(&settings).unwrap();
    let run = sandbox.run(&args(&["--trust"]));
    run.assert_failed();
    assert!(run.stderr.contains("not an object"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&settings).unwrap(), settings_before);
    // Without --trust the same file is only a note: the session is made and written.
    let run = sandbox.run(&args(&[]));
    run.assert_ok();
    assert!(
        run.stdout.contains("cannot tell whether it does") && run.stdout.contains("not an object"),
        "{}",
        run.stdout
    );

    // Only Gemini CLI asks to trust a folder.
    let run = sandbox.run(&[
        "connect",
        "codex",
        "--trust",
        "--discovery",
        discovery_arg(&daemon),
    ]);
    run.assert_failed();
    assert!(
        run.stderr.contains("--trust is for gemini only"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn print_shows_a_standard_entry_and_creates_and_writes_nothing() {
    let daemon = daemon("[admin]\ntoken = \"admin-token-0123456789abcdef\"\n");
    let sandbox = Sandbox::new();
    let url = discovery_url(&daemon);
    // The owner key from the discovery file is all a standard client sends.
    let expected = json!({"Authorization": format!("Bearer {}", daemon.api_key())});
    for cli in ["claude", "codex", "opencode", "gemini"] {
        let run = sandbox.run(&[
            "connect",
            cli,
            "--print",
            "--discovery",
            discovery_arg(&daemon),
        ]);
        run.assert_ok();
        assert!(
            run.stderr.contains("no session was created"),
            "{}",
            run.stderr
        );
        let (entry_url, headers) = if cli == "codex" {
            let snippet: toml_edit::DocumentMut = run.stdout.parse().unwrap();
            let entry = snippet["mcp_servers"]["construct"].as_table().unwrap();
            let headers: serde_json::Map<_, _> = entry["http_headers"]
                .as_table()
                .unwrap()
                .iter()
                .map(|(name, value)| (name.to_owned(), json!(value.as_str().unwrap())))
                .collect();
            (json!(entry["url"].as_str().unwrap()), Value::from(headers))
        } else {
            let snippet: Value = serde_json::from_str(&run.stdout).unwrap();
            let servers = if cli == "opencode" {
                &snippet["mcp"]
            } else {
                &snippet["mcpServers"]
            };
            assert_eq!(servers.as_object().unwrap().len(), 1, "{snippet}");
            let entry = &servers["construct"];
            let url_key = if cli == "gemini" { "httpUrl" } else { "url" };
            (entry[url_key].clone(), entry["headers"].clone())
        };
        assert_eq!(entry_url, url, "{cli}");
        assert_eq!(headers, expected, "{cli}");
    }
    assert_eq!(sandbox.files(), Vec::<PathBuf>::new(), "nothing written");
    let clients = daemon.client_sessions("admin-token-0123456789abcdef").await;
    assert!(clients.is_empty(), "no session left behind: {clients:?}");
    // What was printed works: a standard client's initialize with it opens a session.
    let opened = client()
        .post(&url)
        .header("Accept", common::ACCEPT)
        .header("Authorization", expected["Authorization"].as_str().unwrap())
        .json(&common::initialize_body("2025-11-25"))
        .send()
        .await
        .unwrap();
    assert_eq!(opened.status(), 200);
    assert!(opened.headers().contains_key("mcp-session-id"));

    // A folder or a label is for a session, which --print does not create.
    let run = sandbox.run(&[
        "connect",
        "codex",
        "--print",
        "--cwd",
        sandbox.project.to_str().unwrap(),
        "--discovery",
        discovery_arg(&daemon),
    ]);
    run.assert_failed();
    assert!(run.stderr.contains("--cwd"), "{}", run.stderr);
}

#[tokio::test]
async fn without_a_running_daemon_it_says_so_and_writes_nothing() {
    let sandbox = Sandbox::new();
    let discovery = sandbox.home.join("discovery.json");
    let args = |cli: &'static str| {
        vec![
            "connect".to_owned(),
            cli.to_owned(),
            "--discovery".to_owned(),
            discovery.to_str().unwrap().to_owned(),
        ]
    };
    let run = |args: Vec<String>| sandbox.run(&args.iter().map(String::as_str).collect::<Vec<_>>());

    // No discovery file at all.
    let missing = run(args("claude"));
    missing.assert_failed();
    assert!(
        missing
            .stderr
            .contains("no construct-actor daemon is running")
            && missing.stderr.contains("no discovery file"),
        "{}",
        missing.stderr
    );

    // A discovery file naming a live process but a port nobody listens on.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let dead_url = format!("http://127.0.0.1:{port}/mcp");
    std::fs::write(
        &discovery,
        json!({"url": dead_url, "pid": std::process::id(), "started_at": "2026-01-01T00:00:00Z"})
            .to_string(),
    )
    .unwrap();
    let dead_port = run(args("gemini"));
    dead_port.assert_failed();
    assert!(
        dead_port
            .stderr
            .contains(&format!("no construct-actor daemon answers at {dead_url}")),
        "{}",
        dead_port.stderr
    );

    // A discovery file left by a process that has exited.
    let mut gone = Command::new("true").spawn().unwrap();
    let gone_pid = gone.id();
    gone.wait().unwrap();
    std::fs::write(
        &discovery,
        json!({"url": dead_url, "pid": gone_pid, "started_at": "2026-01-01T00:00:00Z"}).to_string(),
    )
    .unwrap();
    let stale = run(args("codex"));
    stale.assert_failed();
    assert!(
        stale
            .stderr
            .contains("no construct-actor daemon is running")
            && stale.stderr.contains(&format!("process {gone_pid}")),
        "{}",
        stale.stderr
    );

    // An explicit URL that does not answer.
    let explicit = sandbox.run(&["connect", "opencode", "--url", &dead_url]);
    explicit.assert_failed();
    assert!(
        explicit
            .stderr
            .contains("no construct-actor daemon answers")
    );

    let written: Vec<PathBuf> = sandbox
        .files()
        .into_iter()
        .filter(|path| *path != discovery)
        .collect();
    assert_eq!(written, Vec::<PathBuf>::new(), "nothing written");
}

#[tokio::test]
async fn a_file_that_cannot_be_parsed_is_an_error_and_left_untouched() {
    let daemon = daemon("");
    let sandbox = Sandbox::new();
    let gemini = sandbox.home.join(".gemini/settings.json");
    let codex = sandbox.home.join(".codex/config.toml");
    let claude = sandbox.project.join(".mcp.json");
    let opencode = sandbox.xdg.join("opencode/config.json");
    let cases = [
        ("gemini", &gemini, "{\"theme\": \"dark\",", "not valid JSON"),
        ("codex", &codex, "[mcp_servers\nurl = 1\n", "not valid TOML"),
        ("claude", &claude, "[\"an array\"]", "not an object"),
        (
            "opencode",
            &opencode,
            "{\"mcp\": [\"not\", \"a map\"]}",
            "\"mcp\" in the file is not an object",
        ),
    ];
    for (cli, path, text, reason) in cases {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
        let run = sandbox.run(&[
            "connect",
            cli,
            "--cwd",
            sandbox.project.to_str().unwrap(),
            "--discovery",
            discovery_arg(&daemon),
        ]);
        run.assert_failed();
        assert!(
            run.stderr.contains(&path.display().to_string()) && run.stderr.contains(reason),
            "{cli}: {}",
            run.stderr
        );
        assert_eq!(std::fs::read_to_string(path).unwrap(), text, "{cli}");
        assert!(!backup(path).exists(), "{cli}");
    }
    assert_eq!(sandbox.files().len(), 4, "{:?}", sandbox.files());
}

#[tokio::test]
async fn an_api_key_is_sent_when_the_daemon_requires_one() {
    let key = "0123456789abcdef-key";
    let daemon = daemon(&format!("[security]\napi_keys = [\"{key}\"]\n"));
    let sandbox = Sandbox::new();
    let args = [
        "connect",
        "claude",
        "--cwd",
        sandbox.project.to_str().unwrap(),
        "--discovery",
        discovery_arg(&daemon),
    ];
    let refused = sandbox.run(&args);
    refused.assert_failed();
    assert!(
        refused.stderr.contains("requires an API key") && refused.stderr.contains("--api-key"),
        "{}",
        refused.stderr
    );
    let wrong = sandbox.run(&[&args[..], &["--api-key", "not-the-key-at-all"]].concat());
    wrong.assert_failed();
    assert!(wrong.stderr.contains("401"), "{}", wrong.stderr);
    assert_eq!(sandbox.files(), Vec::<PathBuf>::new());

    sandbox
        .run_with(&args, &[("CONSTRUCT_ACTOR_API_KEY", key)])
        .assert_ok();
    let written = read_json(&sandbox.project.join(".mcp.json"));
    authenticates(
        &discovery_url(&daemon),
        &written["mcpServers"]["construct"]["headers"],
    )
    .await;
}
