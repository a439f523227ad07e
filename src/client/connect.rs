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
//! The entry's facts are in [`super::entry`], each CLI's file and its format in
//! [`super::config_file`]. Everything else in an existing configuration file is kept: only the
//! `construct` entry is set (replacing a previous one), JSON objects keep their key order and
//! TOML files their comments and layout. The previous file is kept as `<file>.bak`, and the new
//! one is written atomically, readable by its owner only since it holds a token. A file that
//! cannot be parsed is an error before anything is created or written.
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

use super::daemon::{self, Daemon, REQUEST_TIMEOUT};
use super::entry::{Entry, SERVER_NAME};
use super::text::one_line;
use super::{claude, config_file, files, gemini};
use crate::cli::{AiCli, ConnectArgs};
use crate::paths;

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
    let target = Target::choose(&args, &cwd)?;
    let daemon = daemon::locate(args.daemon.url.as_deref(), &args.daemon.discovery).await?;
    // Check the files that will be edited before creating a session for them.
    let existing = target.existing_text(args.cli)?;
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
    let backup = match target
        .hand(args.cli, existing.as_deref(), &cwd, &entry)
        .await
    {
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
            .map(|label| format!(" ({})", one_line(label)))
            .unwrap_or_default()
    );
    println!("{}", target.done(&cwd, backup));
    println!("{}", target.next_step(args.cli, &cwd, args.trust)?);
    Ok(())
}

impl Target {
    /// Where `args.cli` is given the session in `cwd`: the `--file` asked for; for Claude Code,
    /// `claude` when it is on `PATH`; else the file the CLI reads.
    fn choose(args: &ConnectArgs, cwd: &Path) -> anyhow::Result<Self> {
        Ok(match (&args.file, args.cli) {
            (Some(file), _) => Target::File(std::path::absolute(paths::expand_home(file))?),
            (None, AiCli::Claude) => match claude::find() {
                Some(program) => Target::Claude(program),
                None => Target::File(config_file::path(args.cli, cwd)?),
            },
            (None, cli) => Target::File(config_file::path(cli, cwd)?),
        })
    }

    /// The current text of the file to edit (`None` when there is none, or no file), checked
    /// to be one the entry for `cli` can be set in.
    fn existing_text(&self, cli: AiCli) -> anyhow::Result<Option<String>> {
        let Target::File(path) = self else {
            return Ok(None);
        };
        let existing = files::read_existing(path)?;
        if let Some(text) = &existing {
            config_file::render(cli, Some(text), &Entry::placeholder())
                .with_context(|| format!("{} was left as it is", path.display()))?;
        }
        Ok(existing)
    }

    /// Gives `entry` to `cli` for a session in `cwd`: registers it, or writes the file (from
    /// its `existing` text). Returns the backup of the file replaced, if there was one.
    async fn hand(
        &self,
        cli: AiCli,
        existing: Option<&str>,
        cwd: &Path,
        entry: &Entry,
    ) -> anyhow::Result<Option<PathBuf>> {
        match self {
            Target::Claude(program) => claude::register(program, cwd, entry).await.map(|()| None),
            Target::File(path) => config_file::render(cli, existing, entry)
                .and_then(|contents| files::replace(path, &contents)),
        }
    }

    /// What was done, for people, once the session in `cwd` was handed over.
    fn done(&self, cwd: &Path, backup: Option<PathBuf>) -> String {
        match (self, backup) {
            (Target::Claude(_), _) => format!(
                "registered with Claude Code for {} (`claude mcp add-json {SERVER_NAME} … --scope \
                 local`, kept in ~/.claude.json)",
                cwd.display()
            ),
            (Target::File(path), Some(backup)) => format!(
                "wrote {} (previous version kept as {})",
                path.display(),
                backup.display()
            ),
            (Target::File(path), None) => format!("wrote {}", path.display()),
        }
    }

    /// What to run next, for people, with `cli` handed a session in `cwd`.
    fn next_step(&self, cli: AiCli, cwd: &Path, trust: bool) -> anyhow::Result<String> {
        match self {
            Target::Claude(_) => Ok(format!(
                "run `claude` in {0}: `claude mcp list` there shows {SERVER_NAME} ✔ Connected",
                cwd.display()
            )),
            Target::File(path) => file_next_step(cli, path, cwd, trust),
        }
    }
}

/// `--print`: the entry of a plain standard client, printed; nothing is created or written.
async fn print_entry(args: &ConnectArgs) -> anyhow::Result<()> {
    let daemon = daemon::locate(args.daemon.url.as_deref(), &args.daemon.discovery).await?;
    let entry = Entry::standard(&daemon.mcp_url, api_key(args, &daemon));
    print!("{}", config_file::render(args.cli, None, &entry)?);
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
fn file_next_step(cli: AiCli, path: &Path, cwd: &Path, trust: bool) -> anyhow::Result<String> {
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
        AiCli::Gemini => gemini::next_step(cwd, trust)?,
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
