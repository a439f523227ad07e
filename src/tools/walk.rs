//! Walking a folder the way ripgrep does, for the search tools: `.gitignore`, `.ignore` and
//! hidden files are skipped (even outside a git repository), symlinks are not followed (so the
//! walk cannot leave the folder it was given), and the walk reports progress and stops on
//! cancellation.
//!
//! The `ignore` crate walks by path, not by descriptor: a folder swapped for a symlink to one
//! outside while it is walked is listed through the link. So the walk only yields paths, and the
//! search tools reach each file beneath the workspace root's descriptor ([`super::beneath`]):
//! `content_search` opens it there, and `glob_search` looks at it there before listing it. What
//! remains during such a race: the names (not the contents) of files outside may reach a
//! `glob_search` listing if the link is swapped back between the walk and the look, and an
//! outside `.gitignore` may decide what is skipped.

use std::ops::ControlFlow;
use std::path::Path;

use globset::GlobMatcher;
use ignore::WalkBuilder;

use super::blocking::Blocking;
use super::{Progress, Workspace};

/// Files between two progress reports.
const REPORT_EVERY: u64 = 200;

/// How a walk ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Walked {
    /// Every file was visited (or the visitor asked to stop).
    Done {
        /// Files visited.
        files: u64,
    },
    /// The call was cancelled part way.
    Cancelled,
}

/// Calls `visit` with the path of every regular file under `root` whose path relative to
/// `root` matches `only` (when given), in a stable order, until `visit` breaks. The daemon's own
/// files ([`Workspace::is_hidden`]) are passed over.
pub fn files(
    root: &Path,
    workspace: &Workspace,
    only: Option<&GlobMatcher>,
    blocking: &Blocking,
    mut visit: impl FnMut(&Path) -> ControlFlow<()>,
) -> Walked {
    let walk = WalkBuilder::new(root)
        .require_git(false)
        .follow_links(false)
        .sort_by_file_path(|a, b| a.cmp(b))
        .build();
    let mut files = 0;
    for entry in walk {
        if blocking.cancelled() {
            return Walked::Cancelled;
        }
        // Unreadable entries (permissions, races) are skipped, as ripgrep does.
        let Ok(entry) = entry else { continue };
        if !entry.file_type().is_some_and(|kind| kind.is_file()) {
            continue;
        }
        let path = entry.path();
        let relative = path.strip_prefix(root).unwrap_or(path);
        if only.is_some_and(|glob| !glob.is_match(relative)) || workspace.is_hidden(path) {
            continue;
        }
        files += 1;
        if files % REPORT_EVERY == 0 {
            blocking.report(Progress {
                progress: files,
                total: None,
                message: Some(format!("scanned {files} files")),
            });
        }
        if visit(path).is_break() {
            break;
        }
    }
    Walked::Done { files }
}

/// Compiles a glob, explaining a bad one in a line.
pub fn glob(pattern: &str) -> Result<GlobMatcher, String> {
    globset::GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .map(|glob| glob.compile_matcher())
        .map_err(|err| format!("invalid glob {pattern:?}: {err}"))
}
