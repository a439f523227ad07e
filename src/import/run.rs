//! `construct-actor import <cli>`: the MCP servers a person configured in an AI CLI, as the
//! daemon's `[servers.<name>]` tables. A dry run by default: the tables are printed (standard
//! output, ready to paste or append) and what happened to each server is said on standard
//! error. With `--write` they are added to the daemon's configuration file (`--config`,
//! created when missing), once the whole file passes the checks `check-config` makes; the
//! previous version is kept as `FILE.bak` and every other line of the file is kept.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow};
use toml_edit::DocumentMut;

use super::plan::{Planned, plan};
use super::server::Scan;
use super::tables::{self, Added};
use super::toml_file;
use super::vars::Lookup;
use super::{claude, codex, gemini, opencode};
use crate::cli::{AiCli, ImportArgs};
use crate::client::files;
use crate::config::{Config, Overrides};
use crate::paths;

/// Runs the command: Ok when it did what it says (including finding nothing to import).
pub fn run(args: &ImportArgs) -> anyhow::Result<()> {
    let folder = project_folder(args.cwd.as_deref())?;
    let lookup = |name: &str| std::env::var(name).ok();
    let scan = scan(args.cli, &folder, &lookup)?;
    let cli = display_name(args.cli);
    if scan.found.is_empty() {
        let why = if scan.files.is_empty() {
            format!("none of its files exist ({})", list(&scan.looked_at))
        } else {
            format!("no MCP servers in {}", list(&scan.files))
        };
        say(format_args!("nothing to import from {cli}: {why}"));
        return Ok(());
    }
    let config = args.config.as_deref();
    let existing = config.map(files::read_existing).transpose()?.flatten();
    let mut document = match (config, &existing) {
        (Some(path), Some(text)) => toml_file::parse(path, text)?,
        _ => DocumentMut::new(),
    };
    say(format_args!("{cli}: read {}", list(&scan.files)));
    let mut new = DocumentMut::new();
    let mut added = 0;
    for found in &scan.found {
        let planned = match plan(found, &folder, &lookup) {
            Ok(planned) => planned,
            Err(reason) => {
                say(format_args!("  {}: skipped: {reason}", found.name));
                continue;
            }
        };
        let servers = tables::servers(&mut document)
            .with_context(|| format!("{} cannot take servers", shown(config)))?;
        let outcome = tables::add(servers, &planned, args.replace);
        report(&planned, outcome, config);
        if outcome != Added::Kept {
            tables::add(tables::servers(&mut new)?, &planned, true);
            added += 1;
        }
    }
    match (&args.config, args.write) {
        (Some(path), true) => write(path, &document, added),
        _ => {
            let _ = write!(std::io::stdout(), "{}", new.to_string().trim_start());
            say(format_args!(
                "dry run: {added} server(s) shown above, nothing written; \
                 `--write --config FILE` adds them to the daemon's configuration"
            ));
            Ok(())
        }
    }
}

/// The servers `cli` uses in `folder`.
fn scan(cli: AiCli, folder: &Path, lookup: Lookup<'_>) -> anyhow::Result<Scan> {
    match cli {
        AiCli::Claude => claude::read(folder),
        AiCli::Codex => codex::read(folder, lookup),
        AiCli::Gemini => gemini::read(folder),
        AiCli::Opencode => opencode::read(folder),
    }
}

/// Says on standard error what became of `planned`, and each of its notes.
fn report(planned: &Planned, outcome: Added, config: Option<&Path>) {
    let name = &planned.name;
    match outcome {
        Added::New => say(format_args!("  {name}: added")),
        Added::Replaced => say(format_args!("  {name}: replaces [servers.{name}]")),
        Added::Kept => {
            say(format_args!(
                "  {name}: skipped: [servers.{name}] is already in {} (--replace replaces it)",
                shown(config)
            ));
            return;
        }
    }
    // The first comment says where it came from, which the line above the list said.
    for note in planned.comments.iter().skip(1) {
        say(format_args!("      {note}"));
    }
}

/// Writes `document` to `path` when it has new servers and passes the daemon's checks.
fn write(path: &Path, document: &DocumentMut, added: usize) -> anyhow::Result<()> {
    if added == 0 {
        say(format_args!(
            "nothing to add: {} is unchanged",
            path.display()
        ));
        return Ok(());
    }
    let mut text = document.to_string();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    check(&text).map_err(|err| {
        anyhow!(
            "{} was left as it is: with these servers it would not be a valid configuration: {err}",
            path.display()
        )
    })?;
    let backup = files::replace(path, &text)?;
    let kept = backup
        .map(|backup| format!(" (previous version kept as {})", backup.display()))
        .unwrap_or_default();
    let _ = writeln!(
        std::io::stdout(),
        "added {added} server(s) to {}{kept}\nstart the daemon with them: construct-actor --config {}",
        path.display(),
        path.display()
    );
    Ok(())
}

/// Whether `text` is a configuration the daemon starts with, as `check-config` decides.
fn check(text: &str) -> anyhow::Result<()> {
    let mut file = tempfile::NamedTempFile::new().context("cannot check the result")?;
    file.write_all(text.as_bytes())
        .context("cannot check the result")?;
    Config::load(Some(file.path()), Overrides::default())?;
    Ok(())
}

/// The folder whose project files are read: `--cwd` or the current one, as a real path.
fn project_folder(cwd: Option<&Path>) -> anyhow::Result<PathBuf> {
    let folder = match cwd {
        Some(dir) => dir.to_owned(),
        None => std::env::current_dir().context("the current folder is gone")?,
    };
    paths::resolve_cwd(&folder.to_string_lossy()).map_err(|err| anyhow!(err))
}

/// How a CLI is named to people.
fn display_name(cli: AiCli) -> &'static str {
    match cli {
        AiCli::Claude => "Claude Code",
        AiCli::Codex => "Codex",
        AiCli::Gemini => "Gemini CLI",
        AiCli::Opencode => "OpenCode",
    }
}

/// The daemon's configuration file, for messages.
fn shown(config: Option<&Path>) -> String {
    config.map_or_else(
        || "the configuration".into(),
        |path| path.display().to_string(),
    )
}

/// `paths`, comma-separated.
fn list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|path| path.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// One line on standard error (not eprintln!, which panics when it is a closed pipe).
fn say(line: std::fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr(), "{line}");
}
