//! Codex's MCP servers: `[mcp_servers.<name>]` in `~/.codex/config.toml` (`$CODEX_HOME`
//! respected), then in the folder's `.codex/config.toml` (which Codex reads in trusted
//! projects), which wins a name.
//!
//! A table has `command`, `args`, `env`, `env_vars` (names passed on from Codex's environment:
//! the daemon's `inherit_env`) and `cwd` for a stdio server, or `url` (Streamable HTTP),
//! `http_headers`, `env_http_headers` (header name to variable name) and
//! `bearer_token_env_var` for a remote one; then `enabled`, `enabled_tools` / `disabled_tools`
//! (`tools.allow` / `tools.deny`), `startup_timeout_sec` (or `startup_timeout_ms`) and
//! `tool_timeout_sec`. Codex expands nothing inside strings; the headers it reads from the
//! environment get the variable's value now (the daemon reads no header from its environment).

use std::path::Path;
use std::time::Duration;

use serde_json::{Map, Value};
use toml_edit::Item;

use super::server::{Entry, Imported, Scan, Transport};
use super::toml_file;
use super::vars::{Lookup, Syntax};
use crate::cli::AiCli;
use crate::client::{config_file, files};

/// The servers Codex uses in `folder`, variables looked up with `lookup`.
pub fn read(folder: &Path, lookup: Lookup<'_>) -> anyhow::Result<Scan> {
    let mut scan = Scan::default();
    for path in [
        config_file::user_dir(AiCli::Codex)?.join("config.toml"),
        folder.join(".codex/config.toml"),
    ] {
        scan.looked_at.push(path.clone());
        let Some(text) = files::read_existing(&path)? else {
            continue;
        };
        scan.files.push(path.clone());
        let document = toml_file::parse(&path, &text)?;
        let servers = document.get("mcp_servers").map(json);
        let origin = path.display().to_string();
        scan.add_all(servers.as_ref(), "mcp_servers", &origin, |value| {
            entry(value, lookup)
        })?;
    }
    Ok(scan)
}

/// A TOML item as the JSON value of the same shape (dates as their text).
fn json(item: &Item) -> Value {
    match item {
        Item::None => Value::Null,
        Item::Value(value) => json_value(value),
        Item::Table(table) => Value::Object(
            table
                .iter()
                .map(|(key, item)| (key.to_owned(), json(item)))
                .collect(),
        ),
        Item::ArrayOfTables(tables) => Value::Array(
            tables
                .iter()
                .map(|table| json(&Item::Table(table.clone())))
                .collect(),
        ),
    }
}

fn json_value(value: &toml_edit::Value) -> Value {
    use toml_edit::Value as Toml;
    match value {
        Toml::String(text) => Value::String(text.value().clone()),
        Toml::Integer(number) => Value::from(*number.value()),
        Toml::Float(number) => Value::from(*number.value()),
        Toml::Boolean(on) => Value::Bool(*on.value()),
        Toml::Datetime(date) => Value::String(date.value().to_string()),
        Toml::Array(items) => Value::Array(items.iter().map(json_value).collect()),
        Toml::InlineTable(table) => Value::Object(
            table
                .iter()
                .map(|(key, value)| (key.to_owned(), json_value(value)))
                .collect::<Map<_, _>>(),
        ),
    }
}

/// One `[mcp_servers.<name>]` table.
fn entry(value: &Value, lookup: Lookup<'_>) -> Result<Imported, String> {
    let mut entry = Entry::new(value)?;
    let command = entry.string("command")?;
    let url = entry.string("url")?;
    let transport = match (command, url) {
        (Some(command), None) => Transport::Stdio {
            command,
            args: entry.strings("args")?,
            env: entry.string_map("env")?,
            inherit_env: entry.strings("env_vars")?,
            cwd: entry.string("cwd")?,
        },
        (None, Some(url)) => Transport::Remote {
            url,
            headers: headers(&mut entry, lookup)?,
        },
        (Some(_), Some(_)) => return Err("it has both command and url".into()),
        (None, None) => return Err("it has no command or url".into()),
    };
    let mut imported = Imported::new(transport, Syntax::Plain);
    imported.enabled = entry.bool("enabled")?;
    imported.allow = entry.strings("enabled_tools")?;
    imported.deny = entry.strings("disabled_tools")?;
    // Codex applies the deny list after the allow list; the daemon refuses a name in both.
    imported.allow.retain(|tool| !imported.deny.contains(tool));
    imported.start_timeout = entry
        .duration("startup_timeout_sec", Duration::from_secs(1))?
        .or(entry.duration("startup_timeout_ms", Duration::from_millis(1))?);
    imported.call_timeout = entry.duration("tool_timeout_sec", Duration::from_secs(1))?;
    imported.notes = entry.left_over();
    Ok(imported)
}

/// A remote server's headers: `http_headers`, then those whose values Codex reads from the
/// environment, with the values they have now.
fn headers(entry: &mut Entry<'_>, lookup: Lookup<'_>) -> Result<Vec<(String, String)>, String> {
    let mut headers = entry.string_map("http_headers")?;
    let from_env = |name: &str| {
        lookup(name)
            .filter(|value| !value.is_empty())
            .ok_or_else(|| format!("it needs ${name}, which is not set here"))
    };
    for (header, variable) in entry.string_map("env_http_headers")? {
        headers.push((header, from_env(&variable)?));
    }
    if let Some(variable) = entry.string("bearer_token_env_var")? {
        headers.push((
            "Authorization".into(),
            format!("Bearer {}", from_env(&variable)?),
        ));
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(name: &str) -> Option<String> {
        (name == "GH_TOKEN").then(|| "gh-secret".into())
    }

    /// The servers of a config.toml text.
    fn servers(text: &str) -> Map<String, Value> {
        let document: toml_edit::DocumentMut = text.parse().unwrap();
        match json(&document["mcp_servers"]) {
            Value::Object(servers) => servers,
            other => panic!("{other}"),
        }
    }

    #[test]
    fn tables_as_codex_mcp_add_writes_them() {
        // `codex mcp add git --env GIT_TOKEN=abc -- uvx mcp-server-git --repository .` and
        // `codex mcp add remote --url https://mcp.example.com/mcp --bearer-token-env-var
        // GH_TOKEN` (0.171.0), then keys added by hand.
        let servers = servers(
            "[mcp_servers.git]\ncommand = \"uvx\"\nargs = [\"mcp-server-git\", \"--repository\", \".\"]\n\
             env_vars = [\"HOME2\"]\nenabled_tools = [\"a\", \"b\"]\ndisabled_tools = [\"b\"]\n\
             startup_timeout_sec = 20\ntool_timeout_sec = 1.5\nrequired = true\n\n\
             [mcp_servers.git.env]\nGIT_TOKEN = \"abc\"\n\n\
             [mcp_servers.remote]\nurl = \"https://mcp.example.com/mcp\"\n\
             bearer_token_env_var = \"GH_TOKEN\"\nhttp_headers = { X-Team = \"a\" }\nenabled = false\n",
        );
        let git = entry(&servers["git"], &lookup).unwrap();
        assert_eq!(
            git.transport,
            Transport::Stdio {
                command: "uvx".into(),
                args: vec!["mcp-server-git".into(), "--repository".into(), ".".into()],
                env: vec![("GIT_TOKEN".into(), "abc".into())],
                inherit_env: vec!["HOME2".into()],
                cwd: None,
            }
        );
        assert_eq!(
            (git.allow.as_slice(), git.deny.as_slice()),
            (&["a".to_owned()][..], &["b".to_owned()][..])
        );
        assert_eq!(git.start_timeout, Some(Duration::from_secs(20)));
        assert_eq!(git.call_timeout, Some(Duration::from_millis(1500)));
        assert_eq!(
            git.notes,
            ["required has no equivalent in the daemon: left out"]
        );
        let remote = entry(&servers["remote"], &lookup).unwrap();
        assert_eq!(
            remote.transport,
            Transport::Remote {
                url: "https://mcp.example.com/mcp".into(),
                headers: vec![
                    ("X-Team".into(), "a".into()),
                    ("Authorization".into(), "Bearer gh-secret".into())
                ],
            }
        );
        assert_eq!(remote.enabled, Some(false));
    }

    #[test]
    fn what_cannot_be_imported_says_why() {
        let servers = servers(
            "[mcp_servers.a]\nurl = \"http://h/\"\nenv_http_headers = { X-Key = \"MISSING\" }\n\
             [mcp_servers.b]\ncommand = \"x\"\nurl = \"http://h/\"\n[mcp_servers.c]\nargs = []\n",
        );
        assert_eq!(
            entry(&servers["a"], &lookup).unwrap_err(),
            "it needs $MISSING, which is not set here"
        );
        assert_eq!(
            entry(&servers["b"], &lookup).unwrap_err(),
            "it has both command and url"
        );
        assert_eq!(
            entry(&servers["c"], &lookup).unwrap_err(),
            "it has no command or url"
        );
    }
}
