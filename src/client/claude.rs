//! Registering a session with Claude Code through its own command:
//! `claude mcp add-json construct '<entry>' --scope local`, run in the session's folder.
//!
//! Claude Code asks the person to approve a project's `.mcp.json` before it uses any server in
//! it (until then `claude mcp list` shows "Pending approval" and nothing is sent). A server in
//! the local scope (kept per folder in `~/.claude.json`, private to this person) needs no
//! approval, and only Claude Code itself should edit that file, which it rewrites as it runs.
//! `add-json` refuses to replace an entry, so any previous `construct` of that scope is removed
//! first. Each run is bounded in time.
//!
//! The entry, token included, is an argument of the `claude` process for the second or so it
//! runs; the same token is in the configuration files the other CLIs read.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, bail};

use super::entry::{Entry, SERVER_NAME};
use super::text::one_line;

/// Longest one `claude mcp …` command may take.
const CLAUDE_TIMEOUT: Duration = Duration::from_secs(30);

/// The `claude` program on `PATH`, if there is one.
pub fn find() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join("claude"))
        .find(|candidate| {
            std::fs::metadata(candidate)
                .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        })
}

/// Makes `entry` Claude Code's `construct` server for `folder` (local scope), replacing any
/// previous one there.
pub async fn register(program: &Path, folder: &Path, entry: &Entry) -> anyhow::Result<()> {
    // Nothing to remove is not an error: `add-json` below says whether the result is right.
    let _ = run(
        program,
        folder,
        &["mcp", "remove", SERVER_NAME, "--scope", "local"],
    )
    .await;
    let entry = serde_json::to_string(&entry.claude_json()).expect("JSON values always serialize");
    let args = ["mcp", "add-json", SERVER_NAME, &entry, "--scope", "local"];
    let output = run(program, folder, &args).await?;
    if !output.status.success() {
        let said = String::from_utf8_lossy(&output.stderr);
        let said = if said.trim().is_empty() {
            String::from_utf8_lossy(&output.stdout)
        } else {
            said
        };
        bail!(
            "`claude mcp add-json {SERVER_NAME} … --scope local` failed ({}): {}",
            output.status,
            one_line(said.trim())
        );
    }
    Ok(())
}

/// Runs `program args…` in `folder`, with no input, for at most [`CLAUDE_TIMEOUT`].
async fn run(program: &Path, folder: &Path, args: &[&str]) -> anyhow::Result<std::process::Output> {
    let child = tokio::process::Command::new(program)
        .args(args)
        .current_dir(folder)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot run {}", program.display()))?;
    tokio::time::timeout(CLAUDE_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| {
            anyhow::anyhow!(
                "`claude {}` did not finish within {} s",
                args[..args.len().min(2)].join(" "),
                CLAUDE_TIMEOUT.as_secs()
            )
        })?
        .with_context(|| format!("cannot run {}", program.display()))
}
