//! `Workspace`: where a call's paths may lead. Every path a tool touches goes through
//! [`Workspace::resolve`], which makes it absolute (relative to the session's cwd), resolves
//! symlinks, and refuses anything that ends up outside the workspace roots.
//!
//! The check is done on the path the tool will then use: the canonical form of its longest
//! existing prefix, plus the not-yet-existing rest (which, after lexical clean-up, holds no `..`).
//! So `../x`, absolute paths elsewhere, symlinks pointing out (to files, folders, or nothing yet)
//! are all refused. What it cannot stop is a symlink swapped in by another process between the
//! check and the use; tools run with the daemon's own permissions, and the roots are a fence
//! against mistakes and prompt-injected paths, not against local attackers.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// The session's cwd and the roots a call may touch.
#[derive(Debug, Clone)]
pub struct Workspace {
    cwd: Arc<Path>,
    roots: Arc<[PathBuf]>,
}

impl Workspace {
    /// A workspace for a session in `cwd`. `roots` are canonical folders from the configuration;
    /// when there are none, the cwd itself is the only root.
    pub fn new(cwd: Arc<Path>, roots: Arc<[PathBuf]>) -> Self {
        let roots = if roots.is_empty() {
            Arc::from(vec![cwd.to_path_buf()])
        } else {
            roots
        };
        Self { cwd, roots }
    }

    /// The session's working directory.
    pub fn cwd(&self) -> &Path {
        &self.cwd
    }

    /// Whether `path` (absolute, canonical) lies in one of the roots.
    pub fn contains(&self, path: &Path) -> bool {
        self.roots.iter().any(|root| path.starts_with(root))
    }

    /// The absolute, symlink-free path `requested` designates, if it stays inside the roots.
    /// The path need not exist yet (for writes), but its existing part must be inside.
    pub fn resolve(&self, requested: &str) -> Result<PathBuf, String> {
        if requested.is_empty() {
            return Err("the path is empty".into());
        }
        if requested.contains('\0') {
            return Err("the path contains a NUL byte".into());
        }
        let joined = self.cwd.join(requested);
        let lexical = normalize(&joined);
        let real = canonical_prefix(&lexical)
            .map_err(|err| format!("cannot resolve {requested}: {err}"))?;
        if self.contains(&real) {
            Ok(real)
        } else {
            Err(format!(
                "{requested} is outside the workspace ({})",
                self.roots
                    .iter()
                    .map(|root| root.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        }
    }

    /// `path` as a caller should see it: relative to the cwd when inside it.
    pub fn display(&self, path: &Path) -> String {
        path.strip_prefix(&self.cwd)
            .ok()
            .filter(|rest| !rest.as_os_str().is_empty())
            .unwrap_or(path)
            .display()
            .to_string()
    }
}

/// Removes `.` and folds `..` without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The canonical form of the longest existing prefix of `path`, with the rest appended.
/// A final component that is a symlink to nothing is refused: writing through it would create
/// its target, wherever that is.
fn canonical_prefix(path: &Path) -> Result<PathBuf, String> {
    match std::fs::canonicalize(path) {
        Ok(real) => Ok(real),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            if std::fs::symlink_metadata(path).is_ok() {
                return Err("it is a symlink to a missing target".into());
            }
            let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
                return Err(err.to_string());
            };
            Ok(canonical_prefix(parent)?.join(name))
        }
        Err(err) => Err(err.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace(dir: &Path) -> Workspace {
        Workspace::new(
            Arc::from(dir.canonicalize().unwrap()),
            Arc::from(Vec::new()),
        )
    }

    #[test]
    fn paths_inside_resolve_whether_they_exist_or_not() {
        let dir = tempfile::tempdir().unwrap();
        let ws = workspace(dir.path());
        std::fs::create_dir(dir.path().join("src")).unwrap();
        let real = dir.path().canonicalize().unwrap();
        assert_eq!(ws.resolve("src").unwrap(), real.join("src"));
        assert_eq!(
            ws.resolve("./src/../new/file.rs").unwrap(),
            real.join("new/file.rs")
        );
        assert_eq!(
            ws.resolve(real.join("x").to_str().unwrap()).unwrap(),
            real.join("x")
        );
        assert_eq!(ws.display(&real.join("src/a.rs")), "src/a.rs");
    }

    #[test]
    fn escapes_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let ws = workspace(dir.path());
        std::os::unix::fs::symlink(outside.path(), dir.path().join("out-dir")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("f"), dir.path().join("dangling")).unwrap();
        for escape in [
            "../x",
            "/etc/passwd",
            "out-dir/f",
            "out-dir",
            "dangling",
            "a/../../x",
        ] {
            let err = ws.resolve(escape).unwrap_err();
            assert!(
                err.contains("outside the workspace") || err.contains("symlink"),
                "{escape}: {err}"
            );
        }
        assert!(ws.resolve("").is_err());
    }

    #[test]
    fn configured_roots_replace_the_cwd() {
        let root = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        let ws = Workspace::new(
            Arc::from(root.path().canonicalize().unwrap()),
            Arc::from(vec![other.path().canonicalize().unwrap()]),
        );
        assert!(ws.resolve("x").is_err());
        assert!(ws.resolve(other.path().join("y").to_str().unwrap()).is_ok());
    }
}
