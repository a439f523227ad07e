//! The `[servers.<name>]` tables import writes, each under its comments, and the daemon's
//! configuration file they are added to with every other line, comment and key kept
//! (`toml_edit`). Only what differs from a server's defaults is written.

use std::time::Duration;

use anyhow::bail;
use toml_edit::{Array, DocumentMut, InlineTable, Item, Table, value};

use super::plan::Planned;
use crate::upstream::config::ServerConfig;

/// What adding a server to a file did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    /// The name was new.
    New,
    /// The name was there and its table was replaced.
    Replaced,
    /// The name was there and was left alone.
    Kept,
}

/// The `[servers]` table of `document`, made (implicit: no header of its own) when missing.
pub fn servers(document: &mut DocumentMut) -> anyhow::Result<&mut Table> {
    let servers = document.entry("servers").or_insert_with(|| {
        let mut table = Table::new();
        table.set_implicit(true);
        Item::Table(table)
    });
    match servers {
        Item::Table(table) => Ok(table),
        _ => bail!("its servers key is not a table of [servers.<name>] tables"),
    }
}

/// Adds `planned` to `servers`, replacing a table of the same name only when `replace`.
pub fn add(servers: &mut Table, planned: &Planned, replace: bool) -> Added {
    let added = match servers.contains_key(&planned.name) {
        false => Added::New,
        true if replace => Added::Replaced,
        true => return Added::Kept,
    };
    servers.remove(&planned.name);
    servers.insert(&planned.name, Item::Table(table(planned)));
    added
}

/// The table of `planned`, its comments above its header.
fn table(planned: &Planned) -> Table {
    let server = &planned.server;
    let defaults = ServerConfig::default();
    let mut table = Table::new();
    if let Some(command) = &server.command {
        table.insert("command", value(command));
    }
    if !server.args.is_empty() {
        table.insert("args", value(strings(&server.args)));
    }
    if !server.env.0.is_empty() {
        table.insert("env", value(inline(&server.env.0)));
    }
    if !server.inherit_env.is_empty() {
        table.insert("inherit_env", value(strings(&server.inherit_env)));
    }
    if let Some(cwd) = &server.cwd {
        table.insert("cwd", value(cwd.to_string_lossy().as_ref()));
    }
    if let Some(url) = &server.url {
        table.insert("url", value(url));
    }
    if !server.headers.0.is_empty() {
        table.insert("headers", value(inline(&server.headers.0)));
    }
    if server.enabled != defaults.enabled {
        table.insert("enabled", value(server.enabled));
    }
    let mut tools = InlineTable::new();
    for (key, names) in [("allow", &server.tools.allow), ("deny", &server.tools.deny)] {
        if !names.is_empty() {
            tools.insert(key, strings(names).into());
        }
    }
    if !tools.is_empty() {
        table.insert("tools", value(tools));
    }
    for (key, limit, default) in [
        (
            "start_timeout",
            server.start_timeout,
            defaults.start_timeout,
        ),
        ("call_timeout", server.call_timeout, defaults.call_timeout),
    ] {
        if limit != default {
            table.insert(key, value(duration(limit)));
        }
    }
    let comments: String = planned
        .comments
        .iter()
        .map(|line| format!("# {}\n", line.replace(['\n', '\r'], " ")))
        .collect();
    table.decor_mut().set_prefix(format!("\n{comments}"));
    table
}

/// A TOML array of `items`.
fn strings(items: &[String]) -> Array {
    items.iter().map(String::as_str).collect()
}

/// A TOML inline table of `members`.
fn inline<'a>(members: impl IntoIterator<Item = (&'a String, &'a String)>) -> InlineTable {
    members
        .into_iter()
        .map(|(key, text)| (key.as_str(), toml_edit::Value::from(text.as_str())))
        .collect()
}

/// `limit` as the daemon reads durations: whole seconds, else milliseconds.
fn duration(limit: Duration) -> String {
    if limit.subsec_nanos() == 0 {
        format!("{}s", limit.as_secs())
    } else {
        format!("{}ms", limit.as_millis().max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn planned(name: &str, server: ServerConfig) -> Planned {
        Planned {
            name: name.into(),
            server,
            comments: vec!["imported from x".into(), "two\nlines".into()],
        }
    }

    #[test]
    fn a_table_has_only_what_differs_from_the_defaults() {
        let mut server = ServerConfig {
            command: Some("uvx".into()),
            args: vec!["mcp-server-git".into()],
            inherit_env: vec!["GH".into()],
            enabled: false,
            call_timeout: Duration::from_millis(1500),
            start_timeout: Duration::from_secs(20),
            ..ServerConfig::default()
        };
        server.env.0.insert("MY-KEY".into(), "v \"q\"".into());
        server.tools.deny = vec!["push".into()];
        let mut document = DocumentMut::new();
        assert_eq!(
            add(
                servers(&mut document).unwrap(),
                &planned("git", server),
                false
            ),
            Added::New
        );
        assert_eq!(
            document.to_string(),
            "\n# imported from x\n# two lines\n[servers.git]\ncommand = \"uvx\"\n\
             args = [\"mcp-server-git\"]\nenv = { MY-KEY = 'v \"q\"' }\ninherit_env = [\"GH\"]\n\
             enabled = false\ntools = { deny = [\"push\"] }\nstart_timeout = \"20s\"\n\
             call_timeout = \"1500ms\"\n"
        );
    }

    #[test]
    fn a_file_keeps_its_lines_and_its_names_unless_replaced() {
        let text = "# my daemon\n[server]\nport = 7000 # fixed\n\n[servers.git]\ncommand = \"old\"\n\n[servers.git.env]\nA = \"b\"\n";
        let mut document: DocumentMut = text.parse().unwrap();
        let remote = ServerConfig {
            url: Some("https://h/mcp".into()),
            ..ServerConfig::default()
        };
        let servers_table = servers(&mut document).unwrap();
        assert_eq!(
            add(servers_table, &planned("git", remote.clone()), false),
            Added::Kept
        );
        assert_eq!(
            add(servers_table, &planned("web", remote.clone()), false),
            Added::New
        );
        let kept = document.to_string();
        assert!(kept.starts_with(text), "{kept}");
        assert!(
            kept.ends_with("[servers.web]\nurl = \"https://h/mcp\"\n"),
            "{kept}"
        );
        let servers_table = servers(&mut document).unwrap();
        assert_eq!(
            add(servers_table, &planned("git", remote), true),
            Added::Replaced
        );
        let replaced = document.to_string();
        assert!(
            !replaced.contains("old") && !replaced.contains("A = "),
            "{replaced}"
        );
        assert!(
            replaced.starts_with("# my daemon\n[server]\nport = 7000 # fixed\n"),
            "{replaced}"
        );
        let mut inline: DocumentMut = "servers = 3\n".parse().unwrap();
        assert!(servers(&mut inline).is_err());
    }
}
