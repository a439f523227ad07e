//! `construct-actor import <cli>`, run as the real binary with HOME, XDG_CONFIG_HOME,
//! CODEX_HOME and GEMINI_CLI_HOME in a temporary folder: a dry run prints the tables and writes
//! nothing; `--write` adds them to the daemon's file, keeps its comments and keys and a backup,
//! and `check-config` accepts the result; a name already there is reported and kept; a broken
//! CLI file is one line and exit 1; nothing to import is exit 0; a result the daemon would
//! refuse is never written. The last test has the real CLIs write their own files with their
//! `mcp add` commands, then imports them (it needs them: `bash tests/clis/setup.sh`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Longest one command may run.
const TIMEOUT: Duration = Duration::from_secs(120);

/// Variables that would point the command, or a CLI, at files outside the sandbox.
const CLEARED: &[&str] = &[
    "CLAUDE_CONFIG_DIR",
    "OPENCODE_CONFIG",
    "GEMINI_CLI_TRUSTED_FOLDERS_PATH",
    "XDG_DATA_HOME",
    "XDG_STATE_HOME",
    "XDG_CACHE_HOME",
];

/// A private home and project folder.
struct Sandbox {
    _root: tempfile::TempDir,
    home: PathBuf,
    project: PathBuf,
    config: PathBuf,
}

/// What a command did.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl Sandbox {
    fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        let home = root.path().join("home");
        let project = root.path().join("project");
        // Codex refuses a CODEX_HOME that does not exist.
        std::fs::create_dir_all(home.join(".codex")).unwrap();
        std::fs::create_dir_all(&project).unwrap();
        let config = root.path().join("daemon/construct-actor.toml");
        Self {
            home: home.canonicalize().unwrap(),
            project: project.canonicalize().unwrap(),
            config,
            _root: root,
        }
    }

    /// Writes `text` at `relative` under the home folder.
    fn home_file(&self, relative: &str, text: &str) {
        let path = self.home.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// `program args…` in the project folder with this home and `env`.
    fn command(&self, program: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut command = Command::new(program);
        command
            .args(args)
            .current_dir(&self.project)
            .env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", self.home.join(".config"))
            .env("CODEX_HOME", self.home.join(".codex"))
            .env("GEMINI_CLI_HOME", &self.home)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for name in CLEARED {
            command.env_remove(name);
        }
        for (name, _) in std::env::vars() {
            if name.starts_with("CONSTRUCT_ACTOR_") {
                command.env_remove(name);
            }
        }
        command
    }

    /// `construct-actor args…`.
    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        run(self.command(Path::new(env!("CARGO_BIN_EXE_construct-actor")), args, env))
    }

    /// `construct-actor import args…` with no extra environment.
    fn import(&self, args: &[&str]) -> Run {
        let mut all = vec!["import"];
        all.extend_from_slice(args);
        self.run(&all, &[])
    }

    fn config_arg(&self) -> &str {
        self.config.to_str().unwrap()
    }

    fn config_text(&self) -> String {
        std::fs::read_to_string(&self.config).unwrap()
    }

    /// `construct-actor check-config` on the daemon's file, which must pass.
    fn assert_valid(&self) {
        let checked = self.run(&["check-config", self.config_arg()], &[]);
        assert_eq!(
            checked.code,
            Some(0),
            "{checked}\nfile:\n{}",
            self.config_text()
        );
    }
}

/// Runs `command` to its end, killing it after [`TIMEOUT`].
fn run(mut command: Command) -> Run {
    let what = format!("{command:?}");
    let child = command
        .spawn()
        .unwrap_or_else(|err| panic!("{what}: {err}"));
    let id = child.id();
    let deadline = Instant::now() + TIMEOUT;
    let waiter = std::thread::spawn(move || child.wait_with_output());
    while !waiter.is_finished() {
        if Instant::now() >= deadline {
            // SAFETY: signalling the child this test started, by its id.
            unsafe { libc::kill(id as i32, libc::SIGKILL) };
            panic!("{what} did not finish within {TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = waiter.join().unwrap().unwrap();
    let ran = Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    eprintln!("{what}\n{ran}");
    ran
}

/// A daemon configuration with comments and other sections, as a person keeps it.
const DAEMON_CONFIG: &str = "# my daemon\n[server]\nport = 7100 # fixed, for the CLIs\n\n\
    [servers.time]\n# the one I added by hand\ncommand = \"uvx\"\nargs = [\"mcp-server-time\"]\n";

/// Claude Code's files as `claude mcp add` 2.1.197 writes them (user, local and project
/// scopes), with an SSE server and the entry `construct-actor connect` writes.
fn claude_files(sandbox: &Sandbox) {
    let project = sandbox.project.to_str().unwrap();
    sandbox.home_file(
        ".claude.json",
        &format!(
            r#"{{"numStartups": 3, "mcpServers": {{
  "sentry": {{"type": "http", "url": "https://mcp.sentry.dev/mcp", "headers": {{"Authorization": "Bearer xyz"}}}},
  "time": {{"type": "stdio", "command": "uvx", "args": ["mcp-server-time"], "env": {{}}}}
}}, "projects": {{"{project}": {{"mcpServers": {{
  "git": {{"type": "stdio", "command": "uvx", "args": ["mcp-server-git"], "env": {{"GITHUB_TOKEN": "${{GITHUB_TOKEN}}", "LEVEL": "debug"}}}},
  "construct": {{"type": "http", "url": "http://127.0.0.1:7100/mcp", "headers": {{"Authorization": "Bearer t", "X-Construct-Session": "s"}}}}
}}}}}}}}"#
        ),
    );
    std::fs::write(
        sandbox.project.join(".mcp.json"),
        r#"{"mcpServers": {"old": {"type": "sse", "url": "https://x.example/sse"}}}"#,
    )
    .unwrap();
}

#[test]
fn a_dry_run_prints_the_tables_and_writes_nothing() {
    let sandbox = Sandbox::new();
    claude_files(&sandbox);
    std::fs::create_dir_all(sandbox.config.parent().unwrap()).unwrap();
    std::fs::write(&sandbox.config, DAEMON_CONFIG).unwrap();

    let ran = sandbox.import(&["claude", "--config", sandbox.config_arg()]);
    assert_eq!(ran.code, Some(0), "{ran}");
    let printed: toml_edit::DocumentMut = ran.stdout.parse().unwrap();
    let servers = printed["servers"].as_table().unwrap();
    let names: Vec<&str> = servers.iter().map(|(name, _)| name).collect();
    assert_eq!(names, ["sentry", "git"], "{ran}");
    assert_eq!(
        servers["git"]["inherit_env"]
            .as_array()
            .unwrap()
            .get(0)
            .unwrap()
            .as_str(),
        Some("GITHUB_TOKEN")
    );
    assert_eq!(servers["git"]["env"]["LEVEL"].as_str(), Some("debug"));
    assert!(ran.stdout.contains("# imported from "), "{ran}");
    for said in [
        "time: skipped: [servers.time] is already in",
        "construct: skipped: it is this daemon",
        "old: skipped: it uses the legacy HTTP+SSE transport",
        "inherit_env: start the daemon with GITHUB_TOKEN set",
        "dry run: 2 server(s) shown above, nothing written",
    ] {
        assert!(ran.stderr.contains(said), "{said:?} in {ran}");
    }
    assert_eq!(sandbox.config_text(), DAEMON_CONFIG);
    assert!(!sandbox.config.with_extension("toml.bak").exists());
}

#[test]
fn write_keeps_the_file_and_a_backup_and_the_result_passes_check_config() {
    let sandbox = Sandbox::new();
    sandbox.home_file(
        ".codex/config.toml",
        "model = \"o3\"\n\n[mcp_servers.git]\ncommand = \"uvx\"\nargs = [\"mcp-server-git\"]\n\
         env_vars = [\"GITHUB_TOKEN\"]\nstartup_timeout_sec = 20\nenabled_tools = [\"git_status\"]\n\n\
         [mcp_servers.git.env]\nLEVEL = \"debug\"\n\n[mcp_servers.time]\ncommand = \"uvx\"\n\
         args = [\"mcp-server-time\", \"--local-timezone\", \"UTC\"]\n\n\
         [mcp_servers.docs]\nurl = \"https://mcp.example.com/mcp\"\nbearer_token_env_var = \"DOCS_TOKEN\"\n",
    );
    std::fs::create_dir_all(sandbox.config.parent().unwrap()).unwrap();
    std::fs::write(&sandbox.config, DAEMON_CONFIG).unwrap();
    let config = sandbox.config_arg();

    let written = sandbox.run(
        &["import", "codex", "--write", "--config", config],
        &[("DOCS_TOKEN", "docs-secret")],
    );
    assert_eq!(written.code, Some(0), "{written}");
    assert!(written.stdout.contains("added 2 server(s)"), "{written}");
    let backup = PathBuf::from(format!("{config}.bak"));
    assert!(
        written.stdout.contains(&backup.display().to_string()),
        "{written}"
    );
    assert_eq!(std::fs::read_to_string(&backup).unwrap(), DAEMON_CONFIG);
    let text = sandbox.config_text();
    assert!(text.starts_with(DAEMON_CONFIG), "{text}");
    let document: toml_edit::DocumentMut = text.parse().unwrap();
    let git = &document["servers"]["git"];
    assert_eq!(git["start_timeout"].as_str(), Some("20s"));
    assert_eq!(git["tools"]["allow"].as_array().unwrap().len(), 1);
    assert_eq!(
        document["servers"]["docs"]["headers"]["Authorization"].as_str(),
        Some("Bearer docs-secret")
    );
    assert_eq!(
        document["servers"]["time"]["args"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert!(
        written
            .stderr
            .contains("time: skipped: [servers.time] is already in"),
        "{written}"
    );
    sandbox.assert_valid();

    // Again: every name is there now, so nothing changes (and no new backup is made).
    std::fs::remove_file(&backup).unwrap();
    let again = sandbox.run(
        &["import", "codex", "--write", "--config", config],
        &[("DOCS_TOKEN", "docs-secret")],
    );
    assert_eq!(again.code, Some(0), "{again}");
    assert!(again.stderr.contains("is unchanged"), "{again}");
    assert_eq!(sandbox.config_text(), text);
    assert!(!backup.exists());

    // --replace takes the CLI's version of a name that is there.
    let replaced = sandbox.run(
        &[
            "import",
            "codex",
            "--write",
            "--replace",
            "--config",
            config,
        ],
        &[("DOCS_TOKEN", "docs-secret")],
    );
    assert_eq!(replaced.code, Some(0), "{replaced}");
    assert!(
        replaced.stderr.contains("time: replaces [servers.time]"),
        "{replaced}"
    );
    let document: toml_edit::DocumentMut = sandbox.config_text().parse().unwrap();
    assert_eq!(
        document["servers"]["time"]["args"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(document["server"]["port"].as_integer(), Some(7100));
    sandbox.assert_valid();
}

#[test]
fn a_missing_daemon_file_is_created_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let sandbox = Sandbox::new();
    sandbox.home_file(
        ".gemini/settings.json",
        "{\n  // Gemini CLI strips comments\n  \"theme\": \"dark\",\n  \"mcpServers\": {\n    \
         \"remote\": {\"url\": \"https://mcp.example.com/mcp\", \"type\": \"http\", \"trust\": true},\n    \
         \"fs\": {\"command\": \"npx\", \"args\": [\"-y\", \"@modelcontextprotocol/server-filesystem\", \".\"],\n      \
         \"cwd\": \".\", \"timeout\": 30000, \"excludeTools\": [\"write_file\"]},\n  },\n}\n",
    );
    let written = sandbox.import(&["gemini", "--write", "--config", sandbox.config_arg()]);
    assert_eq!(written.code, Some(0), "{written}");
    assert!(!written.stdout.contains("previous version"), "{written}");
    assert!(
        written
            .stderr
            .contains("trust has no equivalent in the daemon"),
        "{written}"
    );
    let document: toml_edit::DocumentMut = sandbox.config_text().parse().unwrap();
    assert_eq!(
        document["servers"]["fs"]["cwd"].as_str(),
        Some(sandbox.project.join(".").to_str().unwrap())
    );
    assert_eq!(
        document["servers"]["fs"]["call_timeout"].as_str(),
        Some("30s")
    );
    let mode = std::fs::metadata(&sandbox.config)
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    sandbox.assert_valid();
}

#[test]
fn opencode_project_files_override_global_ones() {
    let sandbox = Sandbox::new();
    sandbox.home_file(
        ".config/opencode/opencode.jsonc",
        "{\n  \"$schema\": \"https://opencode.ai/config.json\",\n  \"mcp\": {\n    \
         \"git\": {\"type\": \"local\", \"command\": [\"uvx\", \"mcp-server-git\"], \"environment\": {\"GIT\": \"1\"}},\n    \
         \"remote\": {\"type\": \"remote\", \"url\": \"https://mcp.example.com/mcp\", \"headers\": {\"Authorization\": \"Bearer {env:REMOTE_KEY}\"}},\n  },\n}\n",
    );
    std::fs::write(
        sandbox.project.join("opencode.json"),
        r#"{"mcp": {"git": {"type": "local", "command": ["uvx", "mcp-server-git", "-r", "."], "enabled": false}}}"#,
    )
    .unwrap();
    let ran = sandbox.run(&["import", "opencode"], &[("REMOTE_KEY", "k3y")]);
    assert_eq!(ran.code, Some(0), "{ran}");
    let printed: toml_edit::DocumentMut = ran.stdout.parse().unwrap();
    assert_eq!(
        printed["servers"]["git"]["args"].as_array().unwrap().len(),
        3
    );
    assert_eq!(printed["servers"]["git"]["enabled"].as_bool(), Some(false));
    assert_eq!(
        printed["servers"]["remote"]["headers"]["Authorization"].as_str(),
        Some("Bearer k3y")
    );
    assert!(ran.stderr.contains("overrides the entry in"), "{ran}");

    // Without the variable, that server is skipped, saying which one it needs.
    let unset = sandbox.import(&["opencode"]);
    assert_eq!(unset.code, Some(0), "{unset}");
    assert!(
        unset
            .stderr
            .contains("remote: skipped: headers.Authorization: it needs $REMOTE_KEY"),
        "{unset}"
    );
}

#[test]
fn a_broken_cli_file_is_one_line_and_exit_1() {
    for (cli, relative, text) in [
        ("claude", ".claude.json", "{\"mcpServers\": "),
        (
            "codex",
            ".codex/config.toml",
            "[mcp_servers.git\ncommand = 1\n",
        ),
        ("gemini", ".gemini/settings.json", "[1, 2]"),
        (
            "opencode",
            ".config/opencode/opencode.json",
            "{\"mcp\": []}",
        ),
    ] {
        let sandbox = Sandbox::new();
        sandbox.home_file(relative, text);
        let ran = sandbox.import(&[cli]);
        assert_eq!(ran.code, Some(1), "{cli}: {ran}");
        assert!(ran.stdout.is_empty(), "{cli}: {ran}");
        assert_eq!(ran.stderr.trim_end().lines().count(), 1, "{cli}: {ran}");
        assert!(
            ran.stderr.starts_with("construct-actor import: "),
            "{cli}: {ran}"
        );
        assert!(ran.stderr.contains(relative), "{cli}: {ran}");
    }
}

#[test]
fn nothing_to_import_is_said_and_exit_0() {
    let sandbox = Sandbox::new();
    for cli in ["claude", "codex", "gemini", "opencode"] {
        let ran = sandbox.import(&[cli]);
        assert_eq!(ran.code, Some(0), "{cli}: {ran}");
        assert!(ran.stdout.is_empty(), "{cli}: {ran}");
        assert!(
            ran.stderr.contains("nothing to import from"),
            "{cli}: {ran}"
        );
        assert!(
            ran.stderr.contains("none of its files exist"),
            "{cli}: {ran}"
        );
    }
    sandbox.home_file(".gemini/settings.json", "{\"theme\": \"dark\"}");
    let ran = sandbox.import(&["gemini"]);
    assert!(ran.stderr.contains("no MCP servers in"), "{ran}");
}

#[test]
fn a_result_the_daemon_would_refuse_is_never_written() {
    let sandbox = Sandbox::new();
    sandbox.home_file(
        ".codex/config.toml",
        "[mcp_servers.git]\ncommand = \"uvx\"\n",
    );
    std::fs::create_dir_all(sandbox.config.parent().unwrap()).unwrap();
    let broken = "[sessions]\nmax_sessions = 0\n";
    std::fs::write(&sandbox.config, broken).unwrap();
    let ran = sandbox.import(&["codex", "--write", "--config", sandbox.config_arg()]);
    assert_eq!(ran.code, Some(1), "{ran}");
    assert!(ran.stderr.contains("was left as it is"), "{ran}");
    assert!(ran.stderr.contains("sessions.max_sessions"), "{ran}");
    assert_eq!(sandbox.config_text(), broken);
    assert!(!PathBuf::from(format!("{}.bak", sandbox.config_arg())).exists());

    std::fs::write(&sandbox.config, "[broken\n").unwrap();
    let ran = sandbox.import(&["codex", "--config", sandbox.config_arg()]);
    assert_eq!(ran.code, Some(1), "{ran}");
    assert!(ran.stderr.contains("is not valid TOML"), "{ran}");

    let ran = sandbox.import(&["codex", "--write"]);
    assert_eq!(ran.code, Some(2), "--write needs --config: {ran}");
}

/// The real CLIs' programs, installed by `bash tests/clis/setup.sh`.
fn cli_bin() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/clis/node/node_modules/.bin");
    assert!(
        dir.join("claude").exists(),
        "{} has no CLIs: run `bash tests/clis/setup.sh` first",
        dir.display()
    );
    dir
}

/// What each CLI's own `mcp add` writes: a stdio server with an environment variable and a
/// Streamable HTTP server with a header, named for the CLI.
fn add_commands(cli: &str) -> Vec<Vec<String>> {
    let words = |line: String| {
        line.split_whitespace()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let with = |mut args: Vec<String>, last: &str| {
        args.push(last.to_owned());
        args
    };
    let (url, time, bearer) = (
        "https://mcp.example.com/mcp",
        "uvx mcp-server-time",
        "Authorization: Bearer abc",
    );
    let http_user = format!("mcp add -s user -t http {cli}-web {url} -H");
    match cli {
        "claude" => vec![
            words(format!("mcp add {cli}-time -e TZ=UTC -- {time}")),
            with(words(http_user), bearer),
        ],
        "codex" => vec![
            words(format!("mcp add {cli}-time --env TZ=UTC -- {time}")),
            words(format!("mcp add {cli}-web --url {url}")),
        ],
        "gemini" => vec![
            words(format!("mcp add -s user {cli}-time {time} -e TZ=UTC")),
            with(words(http_user), bearer),
        ],
        _ => vec![
            words(format!("mcp add {cli}-time --env TZ=UTC -- {time}")),
            with(
                words(format!("mcp add {cli}-web --url {url} --header")),
                "Authorization=Bearer abc",
            ),
        ],
    }
}

#[test]
#[ignore = "needs the AI CLIs: bash tests/clis/setup.sh"]
fn what_the_real_clis_write_with_mcp_add_is_imported() {
    let bin = cli_bin();
    let quiet = [
        ("DISABLE_TELEMETRY", "1"),
        ("DISABLE_AUTOUPDATER", "1"),
        ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
        ("OPENCODE_DISABLE_AUTOUPDATE", "1"),
        ("OPENCODE_DISABLE_MODELS_FETCH", "1"),
        ("OPENCODE_DISABLE_SHARE", "1"),
        ("OPENCODE_DISABLE_DEFAULT_PLUGINS", "1"),
        ("NO_COLOR", "1"),
    ];
    let sandbox = Sandbox::new();
    for cli in ["claude", "codex", "gemini", "opencode"] {
        for args in add_commands(cli) {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let added = run(sandbox.command(&bin.join(cli), &args, &quiet));
            assert_eq!(added.code, Some(0), "{cli} {args:?}: {added}");
        }
        let written = sandbox.import(&[cli, "--write", "--config", sandbox.config_arg()]);
        assert_eq!(written.code, Some(0), "{cli}: {written}");
        assert!(
            written.stdout.contains("added 2 server(s)"),
            "{cli}: {written}"
        );
        let document: toml_edit::DocumentMut = sandbox.config_text().parse().unwrap();
        let time = &document["servers"][&format!("{cli}-time")];
        assert_eq!(time["command"].as_str(), Some("uvx"), "{cli}");
        assert_eq!(time["env"]["TZ"].as_str(), Some("UTC"), "{cli}");
        let web = &document["servers"][&format!("{cli}-web")];
        assert_eq!(
            web["url"].as_str(),
            Some("https://mcp.example.com/mcp"),
            "{cli}"
        );
        if cli != "codex" {
            assert_eq!(
                web["headers"]["Authorization"].as_str(),
                Some("Bearer abc"),
                "{cli}"
            );
        }
        sandbox.assert_valid();
    }
}
