//! `construct-actor connect <cli>`: create a session on the running daemon and point an AI CLI at
//! it by writing the CLI's MCP configuration, a server named `construct` with the session's
//! two headers, in the shape that CLI reads (`../shared/PROTOCOL.md`).
//!
//! Everything else in an existing configuration file is kept: only the `construct` entry is
//! set (replacing a previous one), JSON objects keep their key order and TOML files their
//! comments and layout. The previous file is kept as `<file>.bak`, and the new one is written
//! atomically, readable by its owner only since it holds a token. A file that cannot be parsed
//! is an error before anything is created or written.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use serde::Deserialize;
use serde_json::json;
use toml_edit::{DocumentMut, Item, Table, value};

use super::daemon::{self, Daemon, REQUEST_TIMEOUT};
use super::files;
use super::json::Json;
use crate::cli::{AiCli, ConnectArgs};
use crate::paths;

/// The name of the MCP server entry `connect` writes.
pub const SERVER_NAME: &str = "construct";

/// The header naming the session, next to `Authorization`.
pub const SESSION_HEADER: &str = "X-Construct-Session";

/// What a CLI needs to reach the daemon as one session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The daemon's MCP URL.
    pub url: String,
    /// The session's token.
    pub token: String,
    /// The session's id.
    pub session_id: String,
}

/// `POST /session`'s answer.
#[derive(Debug, Deserialize)]
struct Created {
    session_id: String,
    token: String,
    cwd: String,
}

/// Runs `connect`.
pub async fn run(args: ConnectArgs) -> anyhow::Result<()> {
    let cwd = session_folder(args.cwd.as_deref())?;
    let target = if args.print {
        None
    } else {
        Some(match &args.file {
            Some(file) => std::path::absolute(paths::expand_home(file))?,
            None => config_path(args.cli, &cwd)?,
        })
    };
    let daemon = daemon::locate(args.daemon.url.as_deref(), &args.daemon.discovery).await?;
    // Check the file that will be edited before creating a session for it.
    let existing = match &target {
        Some(path) => {
            let existing = files::read_existing(path)?;
            if let Some(text) = &existing {
                render(args.cli, Some(text), &Credentials::placeholder())
                    .with_context(|| format!("{} was left as it is", path.display()))?;
            }
            existing
        }
        None => None,
    };
    // An explicit key wins; else the owner key the daemon wrote into its discovery file.
    let api_key = args.api_key.as_deref().or(daemon.api_key.as_deref());
    let created = create_session(&daemon, &cwd, args.label.as_deref(), api_key).await?;
    let credentials = Credentials {
        url: daemon.mcp_url.clone(),
        token: created.token,
        session_id: created.session_id,
    };
    let Some(path) = target else {
        print!("{}", render(args.cli, None, &credentials)?);
        if args.cli == AiCli::Claude {
            eprintln!("save it to a file and run: claude --mcp-config <file>");
        }
        return Ok(());
    };
    let contents = render(args.cli, existing.as_deref(), &credentials)?;
    let backup = match files::replace(&path, &contents) {
        Ok(backup) => backup,
        Err(err) => {
            // Nothing points at the new session: end it rather than leave it to expire.
            end_session(&daemon, &credentials).await;
            return Err(err);
        }
    };
    println!(
        "session {} in {}{}",
        credentials.session_id,
        created.cwd,
        args.label
            .as_deref()
            .map(|label| format!(" ({})", super::text::one_line(label)))
            .unwrap_or_default()
    );
    match backup {
        Some(backup) => println!(
            "wrote {} (previous version kept as {})",
            path.display(),
            backup.display()
        ),
        None => println!("wrote {}", path.display()),
    }
    println!("{}", next_step(args.cli, &path));
    Ok(())
}

/// What to run next, for people.
fn next_step(cli: AiCli, path: &Path) -> String {
    match cli {
        AiCli::Claude => {
            let file = path.to_string_lossy();
            let quoted = shlex::try_quote(&file).map_or(file.clone(), |q| q.into_owned().into());
            format!(
                "claude --mcp-config {quoted}\n\
                 (the file holds the session's token: keep it out of version control)"
            )
        }
        AiCli::Codex => "codex reads it when it starts: run `codex`".to_owned(),
        AiCli::Opencode => "opencode reads it when it starts: run `opencode`".to_owned(),
        AiCli::Gemini => "gemini reads it when it starts: run `gemini`".to_owned(),
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
        AiCli::Gemini => home()?.join(".gemini/settings.json"),
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
async fn end_session(daemon: &Daemon, credentials: &Credentials) {
    let _ = daemon
        .http
        .delete(daemon.url(&format!("/session/{}", credentials.session_id)))
        .bearer_auth(&credentials.token)
        .timeout(REQUEST_TIMEOUT)
        .send()
        .await;
}

impl Credentials {
    /// Stand-in values, to check that an existing file can be edited before a session exists.
    fn placeholder() -> Self {
        Self {
            url: "http://127.0.0.1:1/mcp".into(),
            token: "t".into(),
            session_id: "s".into(),
        }
    }

    fn authorization(&self) -> String {
        format!("Bearer {}", self.token)
    }

    /// `{"Authorization": …, "X-Construct-Session": …}`
    fn headers_json(&self) -> Json {
        Json::object([
            ("Authorization", Json::string(self.authorization())),
            (SESSION_HEADER, Json::string(&self.session_id)),
        ])
    }
}

/// The configuration file text for `cli`: `existing` (the current file, if any) with its
/// `construct` entry set to `credentials`, everything else kept.
pub fn render(
    cli: AiCli,
    existing: Option<&str>,
    credentials: &Credentials,
) -> anyhow::Result<String> {
    match cli {
        AiCli::Claude => merge_json(
            existing,
            "mcpServers",
            Json::object([
                ("type", Json::string("http")),
                ("url", Json::string(&credentials.url)),
                ("headers", credentials.headers_json()),
            ]),
        ),
        AiCli::Opencode => merge_json(
            existing,
            "mcp",
            Json::object([
                ("type", Json::string("remote")),
                ("url", Json::string(&credentials.url)),
                ("enabled", Json::Bool(true)),
                ("headers", credentials.headers_json()),
            ]),
        ),
        AiCli::Gemini => merge_json(
            existing,
            "mcpServers",
            Json::object([
                ("httpUrl", Json::string(&credentials.url)),
                ("headers", credentials.headers_json()),
            ]),
        ),
        AiCli::Codex => merge_codex(existing, credentials),
    }
}

/// `existing` JSON (an object; empty text counts as `{}`) with `servers_key.construct = entry`.
fn merge_json(existing: Option<&str>, servers_key: &str, entry: Json) -> anyhow::Result<String> {
    let mut root = match existing {
        Some(text) if !text.trim().is_empty() => serde_json::from_str::<Json>(text)
            .map_err(|err| anyhow::anyhow!("the file is not valid JSON: {err}"))?,
        _ => Json::Object(Default::default()),
    };
    let Json::Object(entries) = &mut root else {
        bail!("the file is JSON but not an object");
    };
    let servers = entries
        .entry(servers_key.to_owned())
        .or_insert_with(|| Json::Object(Default::default()));
    let Json::Object(servers) = servers else {
        bail!("\"{servers_key}\" in the file is not an object");
    };
    servers.insert(SERVER_NAME.to_owned(), entry);
    Ok(root.to_pretty())
}

/// `existing` TOML with `[mcp_servers.construct]` set, comments and layout kept.
fn merge_codex(existing: Option<&str>, credentials: &Credentials) -> anyhow::Result<String> {
    let mut document: DocumentMut = existing
        .unwrap_or_default()
        .parse()
        .map_err(|err| anyhow::anyhow!("the file is not valid TOML: {err}"))?;
    let mut headers = Table::new();
    headers.insert("Authorization", value(credentials.authorization()));
    headers.insert(SESSION_HEADER, value(&credentials.session_id));
    let mut entry = Table::new();
    entry.insert("url", value(&credentials.url));
    entry.insert("transport", value("http"));
    entry.insert("headers", Item::Table(headers));
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

    fn credentials() -> Credentials {
        Credentials {
            url: "http://127.0.0.1:7/mcp".into(),
            token: "tok".into(),
            session_id: "sid".into(),
        }
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
        let existing = "# my settings\nmodel = \"o3\" # inline note\n\n[mcp_servers.other]\ncommand = \"x\"\n\n[mcp_servers.construct]\nurl = \"old\"\n\n[mcp_servers.construct.headers]\nAuthorization = \"Bearer old\"\n\n[profiles.fast]\nmodel = \"mini\"\n";
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
        assert_eq!(entry["transport"].as_str(), Some("http"));
        assert_eq!(
            entry["headers"]["Authorization"].as_str(),
            Some("Bearer tok")
        );
        assert_eq!(entry["headers"][SESSION_HEADER].as_str(), Some("sid"));
    }

    #[test]
    fn codex_toml_from_nothing_and_inline_tables() {
        let text = render(AiCli::Codex, None, &credentials()).unwrap();
        assert_eq!(
            text,
            "[mcp_servers.construct]\nurl = \"http://127.0.0.1:7/mcp\"\ntransport = \"http\"\n\n\
             [mcp_servers.construct.headers]\nAuthorization = \"Bearer tok\"\nX-Construct-Session = \"sid\"\n"
        );
        let inline = "mcp_servers = { other = { command = \"x\" } }\n";
        let text = render(AiCli::Codex, Some(inline), &credentials()).unwrap();
        let parsed: toml_edit::DocumentMut = text.parse().unwrap();
        assert_eq!(
            parsed["mcp_servers"]["other"]["command"].as_str(),
            Some("x")
        );
        assert_eq!(
            parsed["mcp_servers"]["construct"]["headers"]["Authorization"].as_str(),
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
}
