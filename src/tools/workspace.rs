//! `Workspace`: where a call's paths may lead. Every path a tool touches goes through
//! [`Workspace::resolve`], which makes it absolute (relative to the session's cwd), resolves
//! symlinks and `..` the way the kernel does, and refuses anything that ends up outside the
//! workspace roots.
//!
//! The check is done on the path the tool will then use: each existing component is resolved in
//! turn (so `link/..` is the parent of the link's target, not the folder holding the link), and
//! the not-yet-existing rest is appended. So `../x`, absolute paths elsewhere, symlinks pointing
//! out (to files, folders, or nothing yet) are all refused.
//!
//! A check alone cannot stop a symlink swapped in by another process between the check and the
//! use, so the tools never use the checked path as a whole: [`Workspace::open_root`] opens the
//! root holding it, and every open, create and rename happens beneath that root's descriptor
//! (see [`super::beneath`]), where a link leading out fails instead of being followed.

use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use super::beneath::Root;

/// The session's cwd and the roots a call may touch.
#[derive(Debug, Clone)]
pub struct Workspace {
    cwd: Arc<Path>,
    /// The configured roots; `None`: the cwd is the only root. (An `Option` rather than a slice
    /// holding the cwd, because a workspace is made for every request: the default costs no
    /// allocation.)
    roots: Option<Arc<[PathBuf]>>,
    /// The daemon's own files inside the roots (its discovery file, with the owner key, and its
    /// configuration), which no call may touch: a session in the owner's home must not read the
    /// key that opens every other session.
    hidden: Arc<[PathBuf]>,
}

impl Workspace {
    /// A workspace for a session in `cwd`. `roots` are canonical folders from the configuration;
    /// when there are none (or `None`), the cwd itself is the only root. `hidden` (absolute,
    /// canonical paths) are out of every call's reach.
    pub fn new(cwd: Arc<Path>, roots: Option<Arc<[PathBuf]>>, hidden: Arc<[PathBuf]>) -> Self {
        Self {
            cwd,
            roots: roots.filter(|roots| !roots.is_empty()),
            hidden,
        }
    }

    /// Whether `path` (absolute, canonical) is, or lies under, one of the daemon's own files.
    pub fn is_hidden(&self, path: &Path) -> bool {
        self.hidden.iter().any(|hidden| path.starts_with(hidden))
    }

    /// The folders a call may reach: the configured roots, or else the cwd alone.
    fn roots(&self) -> impl Iterator<Item = &Path> {
        let configured = self.roots.as_deref().unwrap_or_default();
        let cwd = self.roots.is_none().then_some(&*self.cwd);
        configured.iter().map(PathBuf::as_path).chain(cwd)
    }

    /// The session's working directory.
    pub fn cwd(&self) -> &Path {
        &self.cwd
    }

    /// Whether `path` (absolute, canonical) lies in one of the roots.
    pub fn contains(&self, path: &Path) -> bool {
        self.roots().any(|root| path.starts_with(root))
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
        let real = resolve_components(&self.cwd.join(requested))
            .map_err(|err| format!("cannot resolve {requested}: {err}"))?;
        if !self.contains(&real) {
            return Err(format!("{requested} is {}", self.outside()));
        }
        if self.is_hidden(&real) {
            return Err(format!(
                "{requested} is one of the daemon's own files (its key or its configuration), \
                 which no tool may touch"
            ));
        }
        Ok(real)
    }

    /// "outside the workspace (ROOTS)", the reason every escape is refused with.
    fn outside(&self) -> String {
        format!(
            "outside the workspace ({})",
            self.roots()
                .map(|root| root.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    }

    /// The root holding `path` (as [`Workspace::resolve`] returned it), opened, so that `path`
    /// can be reached beneath its descriptor without following a link out of it.
    pub fn open_root(&self, path: &Path) -> io::Result<Root> {
        let root = self
            .roots()
            .find(|root| path.starts_with(root))
            .ok_or_else(|| io::Error::new(io::ErrorKind::PermissionDenied, self.outside()))?;
        Root::open(root)
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

/// The absolute, symlink-free path the absolute `path` designates, resolved component by
/// component as the kernel would: a symlink is replaced by its target before the next component
/// is looked at, so `..` after it means the parent of the target. Components past one that does
/// not exist are appended as written; a `..` among them removes the one before, as creating the
/// folders and then resolving would.
/// A symlink to nothing is refused: writing through it would create its target, wherever that is.
fn resolve_components(path: &Path) -> Result<PathBuf, String> {
    let mut real = PathBuf::from("/");
    // How many trailing components of `real` do not exist (yet).
    let mut missing = 0_usize;
    for component in path.components() {
        match component {
            Component::Prefix(_) | Component::RootDir => {
                real = PathBuf::from("/");
                missing = 0;
            }
            Component::CurDir => {}
            Component::ParentDir => {
                // The existing part of `real` is canonical: its parent is the kernel's `..`.
                real.pop();
                missing = missing.saturating_sub(1);
            }
            Component::Normal(name) => {
                let next = real.join(name);
                if missing > 0 {
                    real = next;
                    missing += 1;
                    continue;
                }
                match std::fs::canonicalize(&next) {
                    Ok(canonical) => real = canonical,
                    Err(err) if err.kind() == io::ErrorKind::NotFound => {
                        if std::fs::symlink_metadata(&next).is_ok() {
                            return Err("it is a symlink to a missing target".into());
                        }
                        missing = 1;
                        real = next;
                    }
                    Err(err) => return Err(err.to_string()),
                }
            }
        }
    }
    Ok(real)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace(dir: &Path) -> Workspace {
        Workspace::new(Arc::from(dir.canonicalize().unwrap()), None, Arc::from([]))
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
            "new/../out-dir/f",
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
    fn dot_dot_after_a_symlink_means_the_parent_of_its_target() {
        let dir = tempfile::tempdir().unwrap();
        let ws = workspace(dir.path());
        let real = dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(real.join("sub/inner")).unwrap();
        std::fs::create_dir_all(real.join("a/b")).unwrap();
        std::fs::create_dir(real.join("top")).unwrap();
        std::os::unix::fs::symlink("sub/inner", real.join("reldir")).unwrap();
        std::os::unix::fs::symlink("../../top", real.join("a/b/link")).unwrap();
        // Folded lexically, this would be `x` at the root.
        assert_eq!(ws.resolve("reldir/../x").unwrap(), real.join("sub/x"));
        // Folded lexically, this would be `a/x`, inside; the kernel goes above the root.
        let err = ws.resolve("a/b/link/../../x").unwrap_err();
        assert!(err.contains("outside the workspace"), "{err}");
        assert_eq!(ws.resolve("a/b/link/../y").unwrap(), real.join("y"));
    }

    #[test]
    fn configured_roots_replace_the_cwd() {
        let root = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        let ws = Workspace::new(
            Arc::from(root.path().canonicalize().unwrap()),
            Some(Arc::from(vec![other.path().canonicalize().unwrap()])),
            Arc::from([]),
        );
        assert!(ws.resolve("x").is_err());
        assert!(ws.resolve(other.path().join("y").to_str().unwrap()).is_ok());
    }
}
