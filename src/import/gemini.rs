//! Gemini CLI's MCP servers: `mcpServers` in the user settings (`~/.gemini/settings.json`,
//! `$GEMINI_CLI_HOME` respected) then in the folder's `.gemini/settings.json`, which wins a
//! name.
//!
//! An entry is `{command, args, env, cwd}` (stdio), `{httpUrl, headers}` or
//! `{url, type: "http", headers}` (Streamable HTTP; `gemini mcp add -t http` writes the second),
//! or `{url}` / `{url, type: "sse"}` (the legacy SSE transport, not imported). `timeout` (ms)
//! is each request's limit, the daemon's `call_timeout`; `includeTools` / `excludeTools` are
//! `tools.allow` / `tools.deny` (`gemini mcp add --include-tools a,b` stores `"a,b"` as one
//! item, so items are split at commas). A name in `mcp.excluded`, or missing from a
//! non-empty `mcp.allowed`, is imported switched off.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::jsonc;
use super::server::{Entry, Imported, SSE_ONLY, Scan, Transport};
use super::vars::Syntax;
use crate::client::gemini;

/// The servers Gemini CLI uses in `folder`.
pub fn read(folder: &Path) -> anyhow::Result<Scan> {
    let mut scan = Scan::default();
    let mut allowed: Option<Vec<String>> = None;
    let mut excluded: Option<Vec<String>> = None;
    for path in [
        gemini::settings_path()?,
        folder.join(".gemini/settings.json"),
    ] {
        let Some(settings) = jsonc::read(&mut scan, &path)? else {
            continue;
        };
        let origin = path.display().to_string();
        scan.add_all(settings.get("mcpServers"), "mcpServers", &origin, entry)?;
        let list = |key: &str| names(settings.get("mcp").and_then(|mcp| mcp.get(key)));
        allowed = list("allowed").or(allowed);
        excluded = list("excluded").or(excluded);
    }
    for found in &mut scan.found {
        let off = if excluded.iter().flatten().any(|name| *name == found.name) {
            "listed in mcp.excluded"
        } else if allowed
            .as_ref()
            .is_some_and(|allowed| !allowed.is_empty() && !allowed.contains(&found.name))
        {
            "not listed in mcp.allowed"
        } else {
            continue;
        };
        found.switch_off(off);
    }
    Ok(scan)
}

/// The strings of a list of names.
fn names(value: Option<&Value>) -> Option<Vec<String>> {
    value?.as_array().map(|items| {
        items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect()
    })
}

/// One `mcpServers` entry.
fn entry(value: &Value) -> Result<Imported, String> {
    let mut entry = Entry::new(value)?;
    let kind = entry.string("type")?;
    let transport = if let Some(command) = entry.string("command")? {
        let mut stdio = Transport::stdio(command, entry.strings("args")?, entry.string_map("env")?);
        if let Transport::Stdio { cwd, .. } = &mut stdio {
            *cwd = entry.string("cwd")?;
        }
        stdio
    } else if let Some(url) = entry.string("httpUrl")? {
        Transport::Remote {
            url,
            headers: entry.string_map("headers")?,
        }
    } else if let Some(url) = entry.string("url")? {
        if kind.as_deref() != Some("http") {
            return Err(SSE_ONLY.into());
        }
        Transport::Remote {
            url,
            headers: entry.string_map("headers")?,
        }
    } else {
        return Err("it has no command, httpUrl or url".into());
    };
    let mut imported = Imported::new(transport, Syntax::Gemini);
    imported.call_timeout = entry.duration("timeout", Duration::from_millis(1))?;
    imported.allow = split(entry.strings("includeTools")?);
    imported.deny = split(entry.strings("excludeTools")?);
    // Gemini CLI removes an excluded tool even when it is included; the daemon refuses both.
    imported.allow.retain(|tool| !imported.deny.contains(tool));
    imported.notes = entry.left_over();
    Ok(imported)
}

/// Tool names, each item split at its commas.
fn split(items: Vec<String>) -> Vec<String> {
    items
        .iter()
        .flat_map(|item| item.split(','))
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn entries_as_gemini_mcp_add_writes_them() {
        // `gemini mcp add -s user --timeout 5000 --trust git uvx mcp-server-git -e KEY=val
        // --include-tools a,b` (0.61.0)
        let stdio = json!({"command": "uvx", "args": ["mcp-server-git"],
            "env": {"KEY": "val"}, "timeout": 5000, "trust": true, "includeTools": ["a,b"],
            "excludeTools": ["b", "c"], "cwd": "./srv"});
        let imported = entry(&stdio).unwrap();
        let Transport::Stdio { command, cwd, .. } = &imported.transport else {
            panic!("{imported:?}");
        };
        assert_eq!((command.as_str(), cwd.as_deref()), ("uvx", Some("./srv")));
        assert_eq!(imported.call_timeout, Some(Duration::from_secs(5)));
        assert_eq!(imported.allow, ["a"]);
        assert_eq!(imported.deny, ["b", "c"]);
        assert_eq!(
            imported.notes,
            ["trust has no equivalent in the daemon: left out"]
        );
        // `gemini mcp add -s project -t http remote https://… -H "Authorization: Bearer abc"`
        let http = json!({"url": "https://mcp.example.com/mcp", "type": "http",
            "headers": {"Authorization": "Bearer abc"}});
        let streamable = json!({"httpUrl": "https://mcp.example.com/mcp",
            "headers": {"Authorization": "Bearer abc"}});
        for value in [http, streamable] {
            assert_eq!(
                entry(&value).unwrap().transport,
                Transport::Remote {
                    url: "https://mcp.example.com/mcp".into(),
                    headers: vec![("Authorization".into(), "Bearer abc".into())],
                }
            );
        }
    }

    #[test]
    fn sse_and_empty_entries_are_not_imported() {
        for sse in [
            json!({"url": "https://x.example/sse", "type": "sse"}),
            json!({"url": "https://x.example/sse"}),
        ] {
            assert_eq!(entry(&sse).unwrap_err(), SSE_ONLY);
        }
        assert!(entry(&json!({"timeout": 1})).is_err());
        assert_eq!(
            entry(&json!({"command": "x", "timeout": "soon"})).unwrap_err(),
            "timeout is not a positive number"
        );
    }
}
