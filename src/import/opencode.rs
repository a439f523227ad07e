//! OpenCode's MCP servers, from its global files (`config.json`, which `connect` writes, then
//! `opencode.json` and `opencode.jsonc`, which `opencode mcp add --global` writes, in
//! `~/.config/opencode`, `$XDG_CONFIG_HOME` respected), the file `$OPENCODE_CONFIG` names, then
//! the folder's `opencode.json`, `opencode.jsonc` and `.opencode/opencode.json[c]`; a later file
//! wins a name. Files may have comments.
//!
//! Servers are the members of `mcp` (`mcp.servers` in OpenCode's V2 layout):
//! `{type: "local", command: [program, args…], environment, enabled, cwd}` or
//! `{type: "remote", url, headers, enabled}`; V2's `disabled: true` is `enabled = false`.
//! `timeout` (ms) bounds how long OpenCode waits for the server's tools, the daemon's
//! `start_timeout`. A remote server that only speaks the legacy SSE transport (OpenCode falls
//! back to it) fails to start in the daemon, visibly, in `GET /admin/servers`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use super::jsonc;
use super::server::{Entry, Imported, Scan, Transport};
use super::vars::Syntax;
use crate::cli::AiCli;
use crate::client::config_file;

/// The servers OpenCode uses in `folder`.
pub fn read(folder: &Path) -> anyhow::Result<Scan> {
    let global = config_file::user_dir(AiCli::Opencode)?;
    let mut paths: Vec<PathBuf> = ["config.json", "opencode.json", "opencode.jsonc"]
        .iter()
        .map(|name| global.join(name))
        .collect();
    paths.extend(std::env::var_os("OPENCODE_CONFIG").map(PathBuf::from));
    for dir in [folder.to_owned(), folder.join(".opencode")] {
        paths.push(dir.join("opencode.json"));
        paths.push(dir.join("opencode.jsonc"));
    }
    let mut scan = Scan::default();
    for path in paths {
        let Some(config) = jsonc::read(&mut scan, &path)? else {
            continue;
        };
        let mcp = config.get("mcp");
        let v2 = mcp
            .and_then(|mcp| mcp.get("servers"))
            .filter(|servers| servers.is_object() && servers.get("type").is_none());
        let (servers, key) = match v2 {
            Some(servers) => (Some(servers), "mcp.servers"),
            None => (mcp, "mcp"),
        };
        scan.add_all(servers, key, &path.display().to_string(), entry)?;
    }
    Ok(scan)
}

/// One server entry.
fn entry(value: &Value) -> Result<Imported, String> {
    let mut entry = Entry::new(value)?;
    let transport = match entry.string("type")?.as_deref() {
        Some("local") => {
            let mut command = entry.strings("command")?.into_iter();
            let program = command.next().ok_or("its command is empty")?;
            let mut stdio =
                Transport::stdio(program, command.collect(), entry.string_map("environment")?);
            if let Transport::Stdio { cwd, .. } = &mut stdio {
                *cwd = entry.string("cwd")?;
            }
            stdio
        }
        Some("remote") => Transport::Remote {
            url: entry.string("url")?.ok_or("it has no url")?,
            headers: entry.string_map("headers")?,
        },
        Some(other) => return Err(format!("its type {other:?} is neither local nor remote")),
        None => return Err("it has no type (local or remote)".into()),
    };
    let mut imported = Imported::new(transport, Syntax::OpenCode);
    let enabled = entry.bool("enabled")?;
    let disabled = entry.bool("disabled")?;
    imported.enabled = enabled.or(disabled.map(|off| !off));
    imported.start_timeout = entry.duration("timeout", Duration::from_millis(1))?;
    imported.notes = entry.left_over();
    Ok(imported)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn entries_as_opencode_mcp_add_writes_them() {
        // `opencode mcp add git --env GIT=1 -- uvx mcp-server-git` (1.18.33)
        let local = json!({"type": "local", "command": ["uvx", "mcp-server-git"],
            "environment": {"GIT": "1"}, "enabled": false, "timeout": 10000});
        let imported = entry(&local).unwrap();
        assert_eq!(
            imported.transport,
            Transport::stdio(
                "uvx".into(),
                vec!["mcp-server-git".into()],
                vec![("GIT".into(), "1".into())]
            )
        );
        assert_eq!(imported.enabled, Some(false));
        assert_eq!(imported.start_timeout, Some(Duration::from_secs(10)));
        let remote = json!({"type": "remote", "url": "https://mcp.example.com/mcp",
            "headers": {"Authorization": "Bearer abc"}, "oauth": false, "disabled": true});
        let imported = entry(&remote).unwrap();
        assert!(matches!(imported.transport, Transport::Remote { .. }));
        assert_eq!(imported.enabled, Some(false));
        assert_eq!(
            imported.notes,
            ["oauth has no equivalent in the daemon: left out"]
        );
    }

    #[test]
    fn broken_entries_say_why() {
        for (value, reason) in [
            (
                json!({"type": "local", "command": []}),
                "its command is empty",
            ),
            (
                json!({"type": "local", "command": "uvx x"}),
                "command is not a list of strings",
            ),
            (json!({"type": "remote"}), "it has no url"),
            (
                json!({"command": ["x"]}),
                "it has no type (local or remote)",
            ),
            (
                json!({"type": "sse"}),
                "its type \"sse\" is neither local nor remote",
            ),
        ] {
            assert_eq!(entry(&value).unwrap_err(), reason, "{value}");
        }
    }
}
