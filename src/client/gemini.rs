//! Gemini CLI's files: where its settings are, whether it trusts the session's folder, and so
//! what the person does next once `connect` wrote its entry.
//!
//! Gemini CLI disables every MCP server while it runs in a folder the person has not trusted
//! (`gemini mcp list` then shows the server as "Disabled" and sends nothing). Trust is kept in
//! `~/.gemini/trustedFolders.json` (`$GEMINI_CLI_TRUSTED_FOLDERS_PATH` when set), an object
//! from folder paths to `TRUST_FOLDER` (that folder and everything under it), `TRUST_PARENT`
//! (the folder's parent and everything under it) or `DO_NOT_TRUST`; the longest matching path
//! decides. `GEMINI_CLI_TRUST_WORKSPACE=true|false` overrides the file, and a settings file with
//! `security.folderTrust.enabled = false` turns the check off. `connect gemini` reads these the
//! way Gemini CLI 0.61 does, and writes a `TRUST_FOLDER` entry only when asked (`--trust`).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use super::entry::SERVER_NAME;
use super::files;
use super::json::Json;

/// The folder Gemini CLI keeps its files in: `$GEMINI_CLI_HOME/.gemini` or `~/.gemini`.
pub fn dot_gemini() -> anyhow::Result<PathBuf> {
    let home = std::env::var_os("GEMINI_CLI_HOME")
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute())
        .or_else(dirs::home_dir)
        .context("cannot tell the home folder (set HOME)")?;
    Ok(home.join(".gemini"))
}

/// Gemini CLI's user settings file.
pub fn settings_path() -> anyhow::Result<PathBuf> {
    Ok(dot_gemini()?.join("settings.json"))
}

/// The file Gemini CLI keeps trusted folders in.
pub fn trusted_folders_path() -> anyhow::Result<PathBuf> {
    match std::env::var_os("GEMINI_CLI_TRUSTED_FOLDERS_PATH") {
        Some(path) if !path.is_empty() => Ok(PathBuf::from(path)),
        _ => Ok(dot_gemini()?.join("trustedFolders.json")),
    }
}

/// Whether Gemini CLI will use MCP servers in a folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// It will: the folder is trusted, or trust is not checked (the reason).
    Yes(&'static str),
    /// It will not until the folder is trusted; `denied` when a rule says `DO_NOT_TRUST`.
    No {
        /// A rule distrusts the folder explicitly (rather than none trusting it).
        denied: bool,
    },
}

/// How Gemini CLI, with user settings `settings` (the file's text, if any), trusts `folder`.
pub fn trust_of(folder: &Path, settings: Option<&str>) -> anyhow::Result<Trust> {
    match std::env::var("GEMINI_CLI_TRUST_WORKSPACE").as_deref() {
        Ok("true") => return Ok(Trust::Yes("GEMINI_CLI_TRUST_WORKSPACE=true")),
        Ok("false") => return Ok(Trust::No { denied: true }),
        _ => {}
    }
    let settings = settings
        .filter(|text| !text.trim().is_empty())
        .and_then(|text| serde_json::from_str::<serde_json::Value>(text).ok());
    if settings.as_ref().is_some_and(|s| {
        s.pointer("/security/folderTrust/enabled") == Some(&serde_json::Value::Bool(false))
    }) {
        return Ok(Trust::Yes("folder trust is off in its settings"));
    }
    let path = trusted_folders_path()?;
    let rules = match files::read_existing(&path)? {
        Some(text) => rules(&text).with_context(|| format!("in {}", path.display()))?,
        None => Vec::new(),
    };
    Ok(decide(&real(folder), &rules))
}

/// The `(path, level)` rules of a trustedFolders.json text.
fn rules(text: &str) -> anyhow::Result<Vec<(PathBuf, String)>> {
    Ok(Json::object_file(Some(text))?
        .into_iter()
        .filter_map(|(path, level)| match level {
            Json::String(level) => Some((PathBuf::from(path), level)),
            _ => None,
        })
        .collect())
}

/// The trust of `folder` (a real path) under `rules`: the longest rule path that contains it
/// decides, `TRUST_PARENT` standing for its path's parent.
fn decide(folder: &Path, rules: &[(PathBuf, String)]) -> Trust {
    let mut best: Option<(usize, &str)> = None;
    for (path, level) in rules {
        let covered = if level == "TRUST_PARENT" {
            path.parent().unwrap_or(path)
        } else {
            path.as_path()
        };
        let length = path.as_os_str().len();
        if folder.starts_with(real(covered)) && best.is_none_or(|(longest, _)| length > longest) {
            best = Some((length, level));
        }
    }
    match best {
        Some((_, "TRUST_FOLDER" | "TRUST_PARENT")) => Trust::Yes("the folder is trusted"),
        Some((_, "DO_NOT_TRUST")) => Trust::No { denied: true },
        _ => Trust::No { denied: false },
    }
}

/// `path` with symbolic links resolved, as Gemini CLI compares them; as it is when it cannot be.
fn real(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned())
}

/// Records `folder` as trusted (`TRUST_FOLDER`) in Gemini CLI's trusted folders, keeping every
/// other entry; returns the file written and its backup, if it existed.
pub fn trust(folder: &Path) -> anyhow::Result<(PathBuf, Option<PathBuf>)> {
    let path = trusted_folders_path()?;
    let existing = files::read_existing(&path)?;
    let text = trusted(existing.as_deref(), folder)
        .with_context(|| format!("{} was left as it is", path.display()))?;
    let backup = files::replace(&path, &text)?;
    Ok((path, backup))
}

/// `existing` trustedFolders.json text with `folder` (made real) trusted.
fn trusted(existing: Option<&str>, folder: &Path) -> anyhow::Result<String> {
    let mut entries = Json::object_file(existing)?;
    let Some(key) = real(folder).to_str().map(str::to_owned) else {
        bail!("the folder {} is not valid UTF-8", folder.display());
    };
    entries.insert(key, Json::string("TRUST_FOLDER"));
    Ok(Json::Object(entries).to_pretty())
}

/// Checks, before anything is created, that `--trust` will be able to edit the file.
pub fn check_trust_file() -> anyhow::Result<()> {
    let path = trusted_folders_path()?;
    if let Some(text) = files::read_existing(&path)? {
        trusted(Some(&text), Path::new("/"))
            .with_context(|| format!("{} was left as it is", path.display()))?;
    }
    Ok(())
}

/// What to do next once Gemini CLI's settings name the session in `cwd`: trusting the folder
/// (done now with `trust_now`) or how to.
pub fn next_step(cwd: &Path, trust_now: bool) -> anyhow::Result<String> {
    let run_it = format!(
        "run `gemini` in {}: `gemini mcp list` there shows {SERVER_NAME} Connected",
        cwd.display()
    );
    // The session is there and the file written: a trust file that cannot be read is a note.
    let found = settings_path()
        .and_then(|path| files::read_existing(&path))
        .and_then(|settings| trust_of(cwd, settings.as_deref()));
    let found = match found {
        Ok(found) => found,
        Err(err) => {
            return Ok(format!(
                "{run_it}, once it trusts the folder (cannot tell whether it does: {err:#})"
            ));
        }
    };
    Ok(match found {
        Trust::Yes(why) => format!("{run_it} ({why})"),
        Trust::No { .. } if trust_now => {
            let (path, backup) = trust(cwd)?;
            let kept = backup
                .map(|backup| format!(", previous version kept as {}", backup.display()))
                .unwrap_or_default();
            format!(
                "trusted {} in {}{kept}\n{run_it}",
                cwd.display(),
                path.display()
            )
        }
        Trust::No { denied } => format!(
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

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(path: &str, level: &str) -> (PathBuf, String) {
        (PathBuf::from(path), level.to_owned())
    }

    #[test]
    fn the_longest_matching_rule_decides() {
        let folder = Path::new("/nonexistent-root/work/project");
        assert_eq!(decide(folder, &[]), Trust::No { denied: false });
        let rules = [
            rule("/nonexistent-root/work", "TRUST_FOLDER"),
            rule("/nonexistent-root/work/project", "DO_NOT_TRUST"),
        ];
        assert_eq!(decide(folder, &rules), Trust::No { denied: true });
        let rules = [
            rule("/nonexistent-root", "DO_NOT_TRUST"),
            rule("/nonexistent-root/work/other", "TRUST_PARENT"),
        ];
        assert!(matches!(decide(folder, &rules), Trust::Yes(_)));
        let sibling = [rule("/nonexistent-root/work/project-b", "TRUST_FOLDER")];
        assert_eq!(decide(folder, &sibling), Trust::No { denied: false });
    }

    #[test]
    fn trusting_keeps_the_other_entries_and_refuses_what_it_cannot_edit() {
        let folder = Path::new("/nonexistent-root/p");
        let text = trusted(
            Some(r#"{"/b": "DO_NOT_TRUST", "/a": "TRUST_PARENT"}"#),
            folder,
        )
        .unwrap();
        assert_eq!(
            text,
            "{\n  \"/b\": \"DO_NOT_TRUST\",\n  \"/a\": \"TRUST_PARENT\",\n  \"/nonexistent-root/p\": \"TRUST_FOLDER\"\n}\n"
        );
        assert!(trusted(None, folder).unwrap().contains("TRUST_FOLDER"));
        for bad in ["[1]", "{nope"] {
            assert!(trusted(Some(bad), folder).is_err(), "{bad}");
        }
    }
}
