//! Each AI CLI's configuration file: where the CLI reads its MCP servers from, and that file's
//! text with the `construct` entry set. Everything else in an existing file is kept: JSON
//! objects keep their key order and TOML files their comments and layout.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use toml_edit::{DocumentMut, Item, Table, value};

use super::entry::{Entry, SERVER_NAME};
use super::gemini;
use super::json::Json;
use crate::cli::AiCli;

/// The file `cli` reads its MCP servers from, for a session in `cwd`.
pub fn path(cli: AiCli, cwd: &Path) -> anyhow::Result<PathBuf> {
    Ok(match cli {
        AiCli::Claude => cwd.join(".mcp.json"),
        AiCli::Codex => user_dir(cli)?.join("config.toml"),
        AiCli::Opencode => user_dir(cli)?.join("config.json"),
        AiCli::Gemini => gemini::settings_path()?,
    })
}

/// The folder `cli` keeps its user-level configuration in: Claude Code's `~/.claude.json`
/// is in `$CLAUDE_CONFIG_DIR` (else the home folder), Codex's files in `$CODEX_HOME` (else
/// `~/.codex`), OpenCode's in `$XDG_CONFIG_HOME/opencode` (else `~/.config/opencode`) and
/// Gemini CLI's in `$GEMINI_CLI_HOME/.gemini` (else `~/.gemini`). A variable set to a relative
/// path is ignored.
pub fn user_dir(cli: AiCli) -> anyhow::Result<PathBuf> {
    let home = || dirs::home_dir().context("cannot tell the home folder (set HOME)");
    let from_env = |name: &str| {
        std::env::var_os(name)
            .map(PathBuf::from)
            .filter(|dir| dir.is_absolute())
    };
    Ok(match cli {
        AiCli::Claude => match from_env("CLAUDE_CONFIG_DIR") {
            Some(dir) => dir,
            None => home()?,
        },
        AiCli::Codex => match from_env("CODEX_HOME") {
            Some(dir) => dir,
            None => home()?.join(".codex"),
        },
        AiCli::Opencode => match from_env("XDG_CONFIG_HOME") {
            Some(dir) => dir.join("opencode"),
            None => home()?.join(".config/opencode"),
        },
        AiCli::Gemini => gemini::dot_gemini()?,
    })
}

/// The configuration file text for `cli`: `existing` (the current file, if any) with its
/// `construct` entry set to `entry`, everything else kept.
pub fn render(cli: AiCli, existing: Option<&str>, entry: &Entry) -> anyhow::Result<String> {
    match cli {
        AiCli::Claude => merge_json(existing, "mcpServers", entry.claude_json()),
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
    use serde_json::json;

    use super::*;
    use crate::headers::SESSION_HEADER;

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
