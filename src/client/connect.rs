//! `construct-actor connect <cli>`: create a session on the running daemon and point an AI CLI at
//! it, in the way that CLI reads today (`../shared/PROTOCOL.md`; `tests/clis.rs` checks each with
//! the real CLI): a server named `construct` with the session's two headers.
//!
//! - **Claude Code**: registered with `claude mcp add-json … --scope local` in the session's
//!   folder when `claude` is on `PATH` (see [`super::claude`]): a project's `.mcp.json` would wait
//!   for the person's approval. Without `claude`, or with `--file`, the file is written and the
//!   person is told what to do.
//! - **Codex**: `[mcp_servers.construct]` in its `config.toml`, headers in `http_headers`.
//! - **OpenCode**: `mcp.construct` in its `config.json`.
//! - **Gemini CLI**: `mcpServers.construct` in its `settings.json`; it uses MCP servers only in
//!   folders the person trusts, so `connect` says whether the folder is, and trusts it when asked
//!   (`--trust`, see [`super::gemini`]).
//!
//! Everything else in an existing configuration file is kept: only the `construct` entry is
//! set (replacing a previous one), JSON objects keep their key order and TOML files their
//! comments and layout. The previous file is kept as `<file>.bak`, and the new one is written
//! atomically, readable by its owner only since it holds a token. A file that cannot be parsed
//! is an error before anything is created or written.
//!
//! `--print` creates no session: it prints the entry of a plain standard MCP client (the URL,
//! and the daemon's API key when it has one), whose `initialize` opens a session of its own when
//! the CLI connects. A session created only to be printed would be one nobody may ever use, and
//! would stay for the whole idle timeout; deleting it at once would print an entry that no
//! longer works.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use serde::Deserialize;
use serde_json::json;
use toml_edit::{DocumentMut, Item, Table, value};

use super::daemon::{self, Daemon, REQUEST_TIMEOUT};
use super::json::Json;
use super::{claude, files, gemini};
use crate::cli::{AiCli, ConnectArgs};
use crate::paths;

/// The name of the MCP server entry `connect` writes.
pub const SERVER_NAME: &str = "construct";

/// The header naming the session, next to `Authorization`.
pub const SESSION_HEADER: &str = "X-Construct-Session";

/// The MCP server entry a CLI is given: the daemon's URL and the headers to send with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The daemon's MCP URL.
    pub url: String,
    /// The headers, in the order written.
    pub headers: Vec<(&'static str, String)>,
}

/// `POST /session`'s answer.
#[derive(Debug, Deserialize)]
struct Created {
    session_id: String,
    token: String,
    cwd: String,
}

/// Where the session is handed to the CLI.
enum Target {
    /// Through `claude mcp add-json`, this program.
    Claude(PathBuf),
    /// In this configuration file.
    File(PathBuf),
}

/// Runs `connect`.
pub async fn run(args: ConnectArgs) -> anyhow::Result<()> {
    if args.trust && args.cli != AiCli::Gemini {
        bail!("--trust is for gemini only: no other CLI asks to trust a folder");
    }
    if args.print {
        return print_entry(&args).await;
    }
    let cwd = session_folder(args.cwd.as_deref())?;
    let target = match (&args.file, args.cli) {
        (Some(file), _) => Target::File(std::path::absolute(paths::expand_home(file))?),
        (None, AiCli::Claude) => match claude::find() {
            Some(program) => Target::Claude(program),
            None => Target::File(config_path(args.cli, &cwd)?),
        },
        (None, cli) => Target::File(config_path(cli, &cwd)?),
    };
    let daemon = daemon::locate(args.daemon.url.as_deref(), &args.daemon.discovery).await?;
    // Check the files that will be edited before creating a session for them.
    let existing = match &target {
        Target::File(path) => {
            let existing = files::read_existing(path)?;
            if let Some(text) = &existing {
                render(args.cli, Some(text), &Entry::placeholder())
                    .with_context(|| format!("{} was left as it is", path.display()))?;
            }
            existing
        }
        Target::Claude(_) => None,
    };
    if args.trust {
        gemini::check_trust_file()?;
    }
    let created = create_session(
        &daemon,
        &cwd,
        args.label.as_deref(),
        api_key(&args, &daemon),
    )
    .await?;
    let entry = Entry::session(&daemon.mcp_url, &created.token, &created.session_id);
    let handed = match &target {
        Target::Claude(program) => claude::register(program, &cwd, &claude_entry(&entry))
            .await
            .map(|()| None),
        Target::File(path) => render(args.cli, existing.as_deref(), &entry)
            .and_then(|contents| files::replace(path, &contents)),
    };
    let backup = match handed {
        Ok(backup) => backup,
        Err(err) => {
            // Nothing points at the new session: end it rather than leave it to expire.
            end_session(&daemon, &created).await;
            return Err(err);
        }
    };
    println!(
        "session {} in {}{}",
        created.session_id,
        created.cwd,
        args.label
            .as_deref()
            .map(|label| format!(" ({})", super::text::one_line(label)))
            .unwrap_or_default()
    );
    match (&target, backup) {
        (Target::Claude(_), _) => println!(
            "registered with Claude Code for {} (`claude mcp add-json {SERVER_NAME} … --scope \
             local`, kept in ~/.claude.json)",
            cwd.display()
        ),
        (Target::File(path), Some(backup)) => println!(
            "wrote {} (previous version kept as {})",
            path.display(),
            backup.display()
        ),
        (Target::File(path), None) => println!("wrote {}", path.display()),
    }
    let next = match &target {
        Target::Claude(_) => format!(
            "run `claude` in {0}: `claude mcp list` there shows {SERVER_NAME} ✔ Connected",
            cwd.display()
        ),
        Target::File(path) => next_step(args.cli, path, &cwd, args.trust)?,
    };
    println!("{next}");
    Ok(())
}

/// `--print`: the entry of a plain standard client, printed; nothing is created or written.
async fn print_entry(args: &ConnectArgs) -> anyhow::Result<()> {
    let daemon = daemon::locate(args.daemon.url.as_deref(), &args.daemon.discovery).await?;
    let entry = Entry::standard(&daemon.mcp_url, api_key(args, &daemon));
    print!("{}", render(args.cli, None, &entry)?);
    eprintln!(
        "no session was created: a CLI using this entry opens its own session when it \
         connects, in the daemon's default folder (mcp.default_workspace); to give it a folder \
         of yours, run `construct-actor connect {}` without --print",
        cli_name(args.cli)
    );
    Ok(())
}

/// The API key to send: an explicit one wins; else the owner key the daemon wrote into its
/// discovery file.
fn api_key<'a>(args: &'a ConnectArgs, daemon: &'a Daemon) -> Option<&'a str> {
    args.api_key.as_deref().or(daemon.api_key.as_deref())
}

/// What to run next, for people, once `path` was written for `cli` and a session in `cwd`.
fn next_step(cli: AiCli, path: &Path, cwd: &Path, trust: bool) -> anyhow::Result<String> {
    Ok(match cli {
        AiCli::Claude => format!(
            "`claude` is not on PATH, so nothing registered it: Claude Code asks before it uses \
             a project's {file}. Run `claude` in {folder} and approve `{SERVER_NAME}` when it \
             asks (`claude mcp list` shows it \"Pending approval\" until then), or install \
             Claude Code and run `construct-actor connect claude` again, which registers the \
             session with no approval needed.\n(the file holds the session's token: keep it out \
             of version control)",
            file = path.display(),
            folder = cwd.display()
        ),
        AiCli::Codex => {
            "codex reads it when it starts: run `codex` (`codex mcp list` shows it)".to_owned()
        }
        AiCli::Opencode => {
            "opencode reads it when it starts: run `opencode` (`opencode mcp list` shows it)"
                .to_owned()
        }
        AiCli::Gemini => gemini_next_step(cwd, trust)?,
    })
}

/// Gemini CLI's next step: trusting the folder (done now with `trust`) or how to.
fn gemini_next_step(cwd: &Path, trust: bool) -> anyhow::Result<String> {
    let run_it = format!(
        "run `gemini` in {}: `gemini mcp list` there shows {SERVER_NAME} Connected",
        cwd.display()
    );
    // The session is there and the file written: a trust file that cannot be read is a note.
    let found = gemini::settings_path()
        .and_then(|path| files::read_existing(&path))
        .and_then(|settings| gemini::trust_of(cwd, settings.as_deref()));
    let found = match found {
        Ok(found) => found,
        Err(err) => {
            return Ok(format!(
                "{run_it}, once it trusts the folder (cannot tell whether it does: {err:#})"
            ));
        }
    };
    Ok(match found {
        gemini::Trust::Yes(why) => format!("{run_it} ({why})"),
        gemini::Trust::No { .. } if trust => {
            let (path, backup) = gemini::trust(cwd)?;
            let kept = backup
                .map(|backup| format!(", previous version kept as {}", backup.display()))
                .unwrap_or_default();
            format!(
                "trusted {} in {}{kept}\n{run_it}",
                cwd.display(),
                path.display()
            )
        }
        gemini::Trust::No { denied } => format!(
            "Gemini CLI uses MCP servers only in folders you trust, and {folder} is {state} \
             (`gemini mcp list` shows {SERVER_NAME} \"Disabled\"): run `gemini` in {folder} \
             and trust the folder when it asks (or with its /permissions command), or run \
             `construct-actor connect gemini --trust --cwd {folder}` to trust it now.",
            folder = cwd.display(),
            state = if denied {
                "marked untrusted"
            } else {
                "not trusted yet"
            },
        ),
    })
}

/// The name `connect` takes for `cli`.
fn cli_name(cli: AiCli) -> &'static str {
    match cli {
        AiCli::Claude => "claude",
        AiCli::Codex => "codex",
        AiCli::Opencode => "opencode",
        AiCli::Gemini => "gemini",
    }
}

/// The session's folder: `--cwd` (a leading `~` expanded) or the current folder, absolute.
fn session_folder(cwd: Option<&Path>) -> anyhow::Result<PathBuf> {
    let folder = match cwd {
        Some(dir) => std::path::absolute(paths::expand_home(dir))
            .with_context(|| format!("cannot make {} absolute", dir.display()))?,
        None => std::env::current_dir().context("the current folder is gone")?,
    };
    Ok(folder)
}

/// The file `cli` reads its MCP servers from, for a session in `cwd`.
pub fn config_path(cli: AiCli, cwd: &Path) -> anyhow::Result<PathBuf> {
    let home = || dirs::home_dir().context("cannot tell the home folder (set HOME)");
    let from_env = |name: &str| {
        std::env::var_os(name)
            .map(PathBuf::from)
            .filter(|dir| dir.is_absolute())
    };
    Ok(match cli {
        AiCli::Claude => cwd.join(".mcp.json"),
        AiCli::Codex => match from_env("CODEX_HOME") {
            Some(dir) => dir.join("config.toml"),
            None => home()?.join(".codex/config.toml"),
        },
        AiCli::Opencode => match from_env("XDG_CONFIG_HOME") {
            Some(dir) => dir.join("opencode/config.json"),
            None => home()?.join(".config/opencode/config.json"),
        },
        AiCli::Gemini => gemini::settings_path()?,
    })
}

/// `POST /session` for `cwd` and `label`.
async fn create_session(
    daemon: &Daemon,
    cwd: &Path,
    label: Option<&str>,
    api_key: Option<&str>,
) -> anyhow::Result<Created> {
    let Some(cwd_text) = cwd.to_str() else {
        bail!("the folder {} is not valid UTF-8", cwd.display());
    };
    let mut body = json!({ "cwd": cwd_text });
    if let Some(label) = label {
        body["label"] = json!(label);
    }
    let mut request = daemon
        .http
        .post(daemon.url("/session"))
        .timeout(REQUEST_TIMEOUT)
        .json(&body);
    if let Some(key) = api_key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.map_err(|err| {
        anyhow::anyhow!(
            "cannot create a session: {}",
            daemon::describe_send_error(&err)
        )
    })?;
    let status = response.status();
    if status == reqwest::StatusCode::UNAUTHORIZED && api_key.is_none() {
        bail!(
            "the daemon requires an API key to create sessions: pass --api-key or set \
             CONSTRUCT_ACTOR_API_KEY ({})",
            daemon::failure(response).await
        );
    }
    if !status.is_success() {
        bail!(
            "the daemon did not create a session: {}",
            daemon::failure(response).await
        );
    }
    response
        .json()
        .await
        .context("the daemon's answer to POST /session is not {\"session_id\", \"token\", \"cwd\"}")
}

/// `DELETE /session/{id}`, best effort.
async fn end_session(daemon: &Daemon, created: &Created) {
    let _ = daemon
        .http
        .delete(daemon.url(&format!("/session/{}", created.session_id)))
        .bearer_auth(&created.token)
        .timeout(REQUEST_TIMEOUT)
        .send()
        .await;
}

impl Entry {
    /// The entry of a Construct session: its token and id in the two headers.
    pub fn session(url: &str, token: &str, session_id: &str) -> Self {
        Self {
            url: url.to_owned(),
            headers: vec![
                ("Authorization", format!("Bearer {token}")),
                (SESSION_HEADER, session_id.to_owned()),
            ],
        }
    }

    /// The entry of a plain standard client: the API key, when the daemon needs one, is all
    /// it sends; its `initialize` opens a session.
    pub fn standard(url: &str, api_key: Option<&str>) -> Self {
        Self {
            url: url.to_owned(),
            headers: api_key
                .map(|key| ("Authorization", format!("Bearer {key}")))
                .into_iter()
                .collect(),
        }
    }

    /// Stand-in values, to check that an existing file can be edited before a session exists.
    fn placeholder() -> Self {
        Self::session("http://127.0.0.1:1/mcp", "t", "s")
    }

    /// The headers as a JSON object, in order.
    fn headers_json(&self) -> Json {
        Json::object(
            self.headers
                .iter()
                .map(|(name, value)| (*name, Json::string(value))),
        )
    }

    /// `(key, value)` then, when there are headers, `(headers_key, {…})`: an entry's members.
    fn members<'a>(&self, mut first: Vec<(&'a str, Json)>, headers_key: &'a str) -> Json {
        if !self.headers.is_empty() {
            first.push((headers_key, self.headers_json()));
        }
        Json::object(first)
    }
}

/// Claude Code's entry for `entry`, as `.mcp.json` and `claude mcp add-json` take it.
fn claude_entry(entry: &Entry) -> Json {
    entry.members(
        vec![
            ("type", Json::string("http")),
            ("url", Json::string(&entry.url)),
        ],
        "headers",
    )
}

/// The configuration file text for `cli`: `existing` (the current file, if any) with its
/// `construct` entry set to `entry`, everything else kept.
pub fn render(cli: AiCli, existing: Option<&str>, entry: &Entry) -> anyhow::Result<String> {
    match cli {
        AiCli::Claude => merge_json(existing, "mcpServers", claude_entry(entry)),
        AiCli::Opencode => merge_json(
            existing,
            "mcp",
            entry.members(
                vec![
                    ("type", Json::string("remote")),
                    ("url", Json::string(&entry.url)),
                    ("enabled", Json::Bool(true)),
                ],
                "headers",
            ),
        ),
        AiCli::Gemini => merge_json(
            existing,
            "mcpServers",
            entry.members(vec![("httpUrl", Json::string(&entry.url))], "headers"),
        ),
        AiCli::Codex => merge_codex(existing, entry),
    }
}

/// `existing` JSON (an object; empty text counts as `{}`) with `servers_key.construct = entry`.
fn merge_json(existing: Option<&str>, servers_key: &str, entry: Json) -> anyhow::Result<String> {
    let mut entries = Json::object_file(existing)?;
    let servers = entries
        .entry(servers_key.to_owned())
        .or_insert_with(|| Json::Object(Default::default()));
    let Json::Object(servers) = servers else {
        bail!("\"{servers_key}\" in the file is not an object");
    };
    servers.insert(SERVER_NAME.to_owned(), entry);
    Ok(Json::Object(entries).to_pretty())
}

/// `existing` TOML with `[mcp_servers.construct]` set, comments and layout kept: `url`, and the
/// headers in `http_headers` (Codex ignores a `headers` table, and has no `transport` key).
fn merge_codex(existing: Option<&str>, source: &Entry) -> anyhow::Result<String> {
    let mut document: DocumentMut = existing
        .unwrap_or_default()
        .parse()
        .map_err(|err| anyhow::anyhow!("the file is not valid TOML: {err}"))?;
    let mut entry = Table::new();
    entry.insert("url", value(&source.url));
    if !source.headers.is_empty() {
        let mut headers = Table::new();
        for (name, header) in &source.headers {
            headers.insert(name, value(header));
        }
        entry.insert("http_headers", Item::Table(headers));
    }
    let servers = document.entry("mcp_servers").or_insert_with(|| {
        let mut table = Table::new();
        table.set_implicit(true);
        Item::Table(table)
    });
    match servers {
        Item::Table(servers) => {
            servers.remove(SERVER_NAME);
            servers.insert(SERVER_NAME, Item::Table(entry));
        }
        // `mcp_servers = { … }` cannot hold a [table]: the entry goes inline too.
        Item::Value(toml_edit::Value::InlineTable(servers)) => {
            let mut inline = entry.into_inline_table();
            inline.fmt();
            servers.remove(SERVER_NAME);
            servers.insert(SERVER_NAME, inline.into());
        }
        _ => bail!("mcp_servers in the file is not a table"),
    }
    let mut text = document.to_string();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials() -> Entry {
        Entry::session("http://127.0.0.1:7/mcp", "tok", "sid")
    }

    #[test]
    fn json_files_keep_other_entries_and_their_order() {
        let existing = r#"{"theme": "dark", "mcpServers": {"other": {"command": "x"}, "construct": {"old": 1}}, "after": [1]}"#;
        let text = render(AiCli::Gemini, Some(existing), &credentials()).unwrap();
        assert_eq!(
            text,
            r#"{
  "theme": "dark",
  "mcpServers": {
    "other": {
      "command": "x"
    },
    "construct": {
      "httpUrl": "http://127.0.0.1:7/mcp",
      "headers": {
        "Authorization": "Bearer tok",
        "X-Construct-Session": "sid"
      }
    }
  },
  "after": [
    1
  ]
}
"#
        );
    }

    #[test]
    fn unusable_json_files_are_errors() {
        for (text, reason) in [
            ("{not json", "not valid JSON"),
            ("[1]", "not an object"),
            (r#"{"mcp": []}"#, "\"mcp\" in the file is not an object"),
        ] {
            let err = render(AiCli::Opencode, Some(text), &credentials())
                .unwrap_err()
                .to_string();
            assert!(err.contains(reason), "{text}: {err}");
        }
        assert!(render(AiCli::Claude, Some("  \n"), &credentials()).is_ok());
    }

    #[test]
    fn codex_toml_keeps_comments_and_other_servers() {
        let existing = "# my settings\nmodel = \"o3\" # inline note\n\n[mcp_servers.other]\ncommand = \"x\"\n\n[mcp_servers.construct]\nurl = \"old\"\ntransport = \"http\"\n\n[mcp_servers.construct.headers]\nAuthorization = \"Bearer old\"\n\n[profiles.fast]\nmodel = \"mini\"\n";
        let text = render(AiCli::Codex, Some(existing), &credentials()).unwrap();
        assert!(
            text.starts_with("# my settings\nmodel = \"o3\" # inline note\n"),
            "{text}"
        );
        assert!(
            text.contains("[mcp_servers.other]\ncommand = \"x\"\n"),
            "{text}"
        );
        assert!(
            text.contains("[profiles.fast]\nmodel = \"mini\"\n"),
            "{text}"
        );
        assert!(!text.contains("old"), "{text}");
        let parsed: toml_edit::DocumentMut = text.parse().unwrap();
        let entry = &parsed["mcp_servers"]["construct"];
        assert_eq!(entry["url"].as_str(), Some("http://127.0.0.1:7/mcp"));
        assert!(entry.get("transport").is_none(), "{text}");
        assert!(entry.get("headers").is_none(), "{text}");
        assert_eq!(
            entry["http_headers"]["Authorization"].as_str(),
            Some("Bearer tok")
        );
        assert_eq!(entry["http_headers"][SESSION_HEADER].as_str(), Some("sid"));
    }

    #[test]
    fn codex_toml_from_nothing_and_inline_tables() {
        let text = render(AiCli::Codex, None, &credentials()).unwrap();
        assert_eq!(
            text,
            "[mcp_servers.construct]\nurl = \"http://127.0.0.1:7/mcp\"\n\n\
             [mcp_servers.construct.http_headers]\nAuthorization = \"Bearer tok\"\nX-Construct-Session = \"sid\"\n"
        );
        let inline = "mcp_servers = { other = { command = \"x\" } }\n";
        let text = render(AiCli::Codex, Some(inline), &credentials()).unwrap();
        let parsed: toml_edit::DocumentMut = text.parse().unwrap();
        assert_eq!(
            parsed["mcp_servers"]["other"]["command"].as_str(),
            Some("x")
        );
        assert_eq!(
            parsed["mcp_servers"]["construct"]["http_headers"]["Authorization"].as_str(),
            Some("Bearer tok")
        );
        let dotted = "mcp_servers.other.command = \"x\"\n[x]\ny = 1\n";
        let text = render(AiCli::Codex, Some(dotted), &credentials()).unwrap();
        let parsed: toml_edit::DocumentMut = text.parse().unwrap();
        assert_eq!(
            parsed["mcp_servers"]["other"]["command"].as_str(),
            Some("x")
        );
        assert_eq!(parsed["x"]["y"].as_integer(), Some(1));
        assert_eq!(
            parsed["mcp_servers"]["construct"]["url"].as_str(),
            Some("http://127.0.0.1:7/mcp")
        );
        let err = render(AiCli::Codex, Some("mcp_servers = 3\n"), &credentials()).unwrap_err();
        assert!(err.to_string().contains("not a table"), "{err}");
        let err = render(AiCli::Codex, Some("[broken\n"), &credentials()).unwrap_err();
        assert!(err.to_string().contains("not valid TOML"), "{err}");
    }

    #[test]
    fn a_standard_entry_has_the_api_key_or_no_headers_at_all() {
        let url = "http://127.0.0.1:7/mcp";
        let keyed = Entry::standard(url, Some("k"));
        let text = render(AiCli::Claude, None, &keyed).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            parsed["mcpServers"]["construct"],
            json!({"type": "http", "url": url, "headers": {"Authorization": "Bearer k"}})
        );
        let bare = Entry::standard(url, None);
        for cli in [AiCli::Claude, AiCli::Opencode, AiCli::Gemini, AiCli::Codex] {
            let text = render(cli, None, &bare).unwrap();
            assert!(!text.contains("eaders"), "{cli:?}: {text}");
            assert!(text.contains(url), "{cli:?}: {text}");
        }
    }
}
