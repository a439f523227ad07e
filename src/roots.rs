//! Where sessions may work: the configured `tools.workspace_roots`, made canonical once at start.
//!
//! A session's folder must lie inside a root (by default the daemon user's home), so that no
//! client can open a session in `/`, `/etc` or another user's home. What a call may then touch
//! is narrower by default: its own session's folder (`tools.confine_to_cwd`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;

use crate::paths;
use crate::tools::ToolsConfig;
use crate::tools::Workspace;

/// The canonical workspace roots and how far a call may reach.
#[derive(Debug, Clone)]
pub struct WorkspaceRoots {
    roots: Arc<[PathBuf]>,
    confine_to_cwd: bool,
    /// The daemon's own files, out of every call's reach (see [`Workspace::hiding`]).
    hidden: Arc<[PathBuf]>,
}

impl WorkspaceRoots {
    /// The roots of `config`, `~` expanded and symlinks resolved; no call may touch `hidden`
    /// (the daemon's discovery file and configuration file, which need not exist yet).
    pub fn new(config: &ToolsConfig, hidden: &[PathBuf]) -> anyhow::Result<Self> {
        let roots = config
            .workspace_roots
            .iter()
            .map(|root| {
                let root = paths::expand_home(root);
                std::fs::canonicalize(&root).with_context(|| {
                    format!("tools.workspace_roots: {} is not usable", root.display())
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Self {
            roots: Arc::from(roots),
            confine_to_cwd: config.confine_to_cwd,
            hidden: hidden.iter().filter_map(|path| canonical(path)).collect(),
        })
    }

    /// Whether a session may work in `cwd` (canonical); the reason names the key to change.
    pub fn admit(&self, cwd: &Path) -> Result<(), String> {
        if self.contains(cwd) {
            return Ok(());
        }
        Err(format!(
            "cwd {} is outside the workspace roots ({}); add its folder to tools.workspace_roots \
             in the daemon's configuration to allow it",
            cwd.display(),
            self.list()
        ))
    }

    /// The folder stateless requests and standard clients' sessions work in: `configured`
    /// (which must lie inside a root), else `current` when it does, else the first root.
    pub fn default_workspace(
        &self,
        configured: Option<&Path>,
        current: &Path,
    ) -> anyhow::Result<PathBuf> {
        if let Some(dir) = configured {
            let dir = std::fs::canonicalize(dir).with_context(|| {
                format!("mcp.default_workspace: {} is not usable", dir.display())
            })?;
            self.admit(&dir)
                .map_err(|reason| anyhow::anyhow!("mcp.default_workspace: {reason}"))?;
            return Ok(dir);
        }
        match std::fs::canonicalize(current) {
            Ok(dir) if self.contains(&dir) => Ok(dir),
            _ => Ok(self.roots[0].clone()),
        }
    }

    /// The workspace of a call in a session working in `cwd`.
    pub fn workspace(&self, cwd: Arc<Path>) -> Workspace {
        let reach = (!self.confine_to_cwd).then(|| Arc::clone(&self.roots));
        Workspace::new(cwd, reach, Arc::clone(&self.hidden))
    }

    /// The roots themselves (canonical folders): what shared upstream servers are told as their
    /// `roots/list`.
    pub fn roots(&self) -> &[PathBuf] {
        &self.roots
    }

    fn contains(&self, path: &Path) -> bool {
        self.roots.iter().any(|root| path.starts_with(root))
    }

    fn list(&self) -> String {
        self.roots
            .iter()
            .map(|root| root.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The canonical form of `path`, which need not exist yet (the discovery file and its folder
/// are made once the daemon listens): its longest existing ancestor made canonical, the rest
/// appended.
fn canonical(path: &Path) -> Option<PathBuf> {
    let path = std::path::absolute(path).ok()?;
    let mut rest = Vec::new();
    let mut existing = path.as_path();
    loop {
        if let Ok(real) = std::fs::canonicalize(existing) {
            return Some(rest.iter().rev().fold(real, |done, part| done.join(part)));
        }
        rest.push(existing.file_name()?.to_owned());
        existing = existing.parent()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roots(dirs: &[&Path], confine_to_cwd: bool) -> WorkspaceRoots {
        let config = ToolsConfig {
            workspace_roots: dirs.iter().map(|dir| dir.to_path_buf()).collect(),
            confine_to_cwd,
            ..ToolsConfig::default()
        };
        WorkspaceRoots::new(&config, &[]).unwrap()
    }

    #[test]
    fn folders_outside_every_root_are_refused_naming_the_key() {
        let root = tempfile::tempdir().unwrap();
        let roots = roots(&[root.path()], true);
        let inside = root.path().canonicalize().unwrap().join("project");
        assert!(roots.admit(&inside).is_ok());
        let err = roots.admit(Path::new("/etc")).unwrap_err();
        assert!(err.contains("tools.workspace_roots"), "{err}");
        assert!(roots.admit(Path::new("/")).is_err());
    }

    #[test]
    fn the_default_workspace_falls_back_to_the_first_root() {
        let root = tempfile::tempdir().unwrap();
        let real = root.path().canonicalize().unwrap();
        let roots = roots(&[root.path()], true);
        assert_eq!(roots.default_workspace(None, Path::new("/")).unwrap(), real);
        assert_eq!(roots.default_workspace(None, &real).unwrap(), real);
        let err = roots
            .default_workspace(Some(Path::new("/etc")), &real)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("mcp.default_workspace"), "{err}");
    }

    #[test]
    fn calls_reach_their_cwd_alone_unless_told_otherwise() {
        let root = tempfile::tempdir().unwrap();
        let real = root.path().canonicalize().unwrap();
        std::fs::create_dir(real.join("a")).unwrap();
        let sibling = real.join("b");
        let confined = roots(&[root.path()], true).workspace(Arc::from(real.join("a")));
        assert!(confined.resolve(sibling.to_str().unwrap()).is_err());
        let wide = roots(&[root.path()], false).workspace(Arc::from(real.join("a")));
        assert!(wide.resolve(sibling.to_str().unwrap()).is_ok());
    }

    #[test]
    fn the_daemons_own_files_are_out_of_reach_even_not_yet_written() {
        let root = tempfile::tempdir().unwrap();
        let real = root.path().canonicalize().unwrap();
        std::fs::write(real.join("daemon.toml"), "").unwrap();
        let config = ToolsConfig {
            workspace_roots: vec![real.clone()],
            ..ToolsConfig::default()
        };
        let hidden = [real.join(".construct/mcp.json"), real.join("daemon.toml")];
        let ws = WorkspaceRoots::new(&config, &hidden)
            .unwrap()
            .workspace(Arc::from(real.as_path()));
        for path in [
            ".construct/mcp.json",
            "daemon.toml",
            "./.construct/../daemon.toml",
        ] {
            let err = ws.resolve(path).unwrap_err();
            assert!(err.contains("daemon's own files"), "{path}: {err}");
        }
        std::fs::create_dir(real.join(".construct")).unwrap();
        assert!(ws.resolve(".construct/mcp.json").is_err());
        assert!(ws.resolve(".construct/other").is_ok());
    }
}
