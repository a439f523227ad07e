//! Claude Code's MCP servers, in its three scopes, applied in this order (a later one wins a
//! name): user (`mcpServers` in `~/.claude.json`, or `$CLAUDE_CONFIG_DIR/.claude.json`),
//! project (`mcpServers` in `.mcp.json` in the folder) and local (`mcpServers` of the folder's
//! entry in that file's `projects`, keyed by the folder's path; the nearest enclosing folder
//! that has an entry when the folder itself has none).
//!
//! An entry is `{type: "stdio", command, args, env}` (`type` may be left out) or
//! `{type: "http", url, headers}`; `type: "sse"` is the legacy transport the daemon does not
//! speak. Names in the folder's `disabledMcpServers` or `disabledMcpjsonServers` are imported
//! switched off.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::jsonc;
use super::server::{Entry, Imported, SSE_ONLY, Scan, Transport};
use super::vars::Syntax;
use crate::cli::AiCli;
use crate::client::config_file;

/// The servers Claude Code uses in `folder` (a canonical path).
pub fn read(folder: &Path) -> anyhow::Result<Scan> {
    let mut scan = Scan::default();
    let user_path = config_file::user_dir(AiCli::Claude)?.join(".claude.json");
    let user = jsonc::read(&mut scan, &user_path)?;
    if let Some(user) = &user {
        let origin = format!("{} (user scope)", user_path.display());
        scan.add_all(user.get("mcpServers"), "mcpServers", &origin, entry)?;
    }
    let project_path = folder.join(".mcp.json");
    if let Some(project) = jsonc::read(&mut scan, &project_path)? {
        let origin = format!("{} (project scope)", project_path.display());
        scan.add_all(project.get("mcpServers"), "mcpServers", &origin, entry)?;
    }
    let Some((key, local)) = user.as_ref().and_then(|user| local_entry(user, folder)) else {
        return Ok(scan);
    };
    let origin = format!("{} (local scope of {key})", user_path.display());
    scan.add_all(local.get("mcpServers"), "mcpServers", &origin, entry)?;
    for list in ["disabledMcpServers", "disabledMcpjsonServers"] {
        let names = local.get(list).and_then(Value::as_array);
        for name in names.into_iter().flatten().filter_map(Value::as_str) {
            if let Some(found) = scan.found.iter_mut().find(|found| found.name == name) {
                found.switch_off(&format!("listed in {list}"));
            }
        }
    }
    Ok(scan)
}

/// The entry of `projects` for `folder` or the nearest folder above it that has one: its key
/// and members.
fn local_entry<'a>(
    user: &'a Map<String, Value>,
    folder: &Path,
) -> Option<(&'a str, &'a Map<String, Value>)> {
    let projects = user.get("projects")?.as_object()?;
    let entries: Vec<(PathBuf, &str, &Map<String, Value>)> = projects
        .iter()
        .filter_map(|(key, entry)| {
            let real = std::fs::canonicalize(key).unwrap_or_else(|_| PathBuf::from(key));
            Some((real, key.as_str(), entry.as_object()?))
        })
        .collect();
    folder.ancestors().find_map(|dir| {
        entries
            .iter()
            .find(|(real, _, _)| real == dir)
            .map(|(_, key, entry)| (*key, *entry))
    })
}

/// One `mcpServers` entry.
fn entry(value: &Value) -> Result<Imported, String> {
    let mut entry = Entry::new(value)?;
    let kind = entry.string("type")?;
    let transport = match kind.as_deref() {
        Some("http") => Transport::Remote {
            url: entry.string("url")?.ok_or("it has no url")?,
            headers: entry.string_map("headers")?,
        },
        Some("sse") => return Err(SSE_ONLY.into()),
        None | Some("stdio") => Transport::stdio(
            entry.string("command")?.ok_or("it has no command")?,
            entry.strings("args")?,
            entry.string_map("env")?,
        ),
        Some(other) => {
            return Err(format!(
                "its type {other:?} is not one the daemon speaks (stdio or Streamable HTTP)"
            ));
        }
    };
    let mut imported = Imported::new(transport, Syntax::Claude);
    imported.notes = entry.left_over();
    Ok(imported)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn entries_as_claude_mcp_add_writes_them() {
        // `claude mcp add git -e GIT_TOKEN=abc -- uvx mcp-server-git --repository .` (2.1.197)
        let stdio = json!({"type": "stdio", "command": "uvx",
            "args": ["mcp-server-git", "--repository", "."], "env": {"GIT_TOKEN": "abc"}});
        let imported = entry(&stdio).unwrap();
        assert_eq!(
            imported.transport,
            Transport::stdio(
                "uvx".into(),
                vec!["mcp-server-git".into(), "--repository".into(), ".".into()],
                vec![("GIT_TOKEN".into(), "abc".into())]
            )
        );
        assert!(imported.notes.is_empty());
        let http = json!({"type": "http", "url": "https://mcp.sentry.dev/mcp",
            "headers": {"Authorization": "Bearer xyz"}, "oauth": {"clientId": "c"}});
        let imported = entry(&http).unwrap();
        assert_eq!(
            imported.transport,
            Transport::Remote {
                url: "https://mcp.sentry.dev/mcp".into(),
                headers: vec![("Authorization".into(), "Bearer xyz".into())],
            }
        );
        assert_eq!(
            imported.notes,
            ["oauth has no equivalent in the daemon: left out"]
        );
        let bare = json!({"command": "npx", "args": ["-y", "x"]});
        assert!(matches!(
            entry(&bare).unwrap().transport,
            Transport::Stdio { .. }
        ));
    }

    #[test]
    fn what_cannot_be_imported_says_why() {
        let sse = json!({"type": "sse", "url": "https://x.example/sse"});
        assert_eq!(entry(&sse).unwrap_err(), SSE_ONLY);
        let ws = json!({"type": "ws", "url": "wss://x"});
        assert!(entry(&ws).unwrap_err().contains("\"ws\""));
        assert_eq!(
            entry(&json!({"type": "http"})).unwrap_err(),
            "it has no url"
        );
        assert_eq!(
            entry(&json!({"args": ["x"]})).unwrap_err(),
            "it has no command"
        );
        assert_eq!(
            entry(&json!({"command": "x", "args": "y"})).unwrap_err(),
            "args is not a list of strings"
        );
    }

    #[test]
    fn the_local_scope_is_the_nearest_folder_with_an_entry() {
        let user = json!({"projects": {
            "/nonexistent-root/work": {"mcpServers": {"a": {"command": "x"}}},
            "/nonexistent-root/work/other": {"mcpServers": {}}
        }});
        let user = user.as_object().unwrap();
        let (key, _) = local_entry(user, Path::new("/nonexistent-root/work/app/src")).unwrap();
        assert_eq!(key, "/nonexistent-root/work");
        assert!(local_entry(user, Path::new("/elsewhere")).is_none());
    }
}
