//! What an upstream server is told when it asks `roots/list`: the folders it may work in. A
//! session-scoped server gets its session's folder; a shared one, the daemon's workspace roots
//! (`tools.workspace_roots`). Servers such as `server-filesystem` confine themselves to them.
//!
//! The answer is made once, when the connection is configured, and never changes (the daemon
//! declares `roots` with `listChanged: false`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

// Roots are deprecated by SEP-2577 in the newest MCP revision, which servers of the previous
// ones (the ones that ask) still use.
#[allow(deprecated)]
use rmcp::model::{ListRootsResult, Root};

/// The folders a server may work in, as `roots/list` answers them.
#[derive(Debug, Clone, Default)]
pub struct Roots(Arc<[PathBuf]>);

impl Roots {
    /// The roots `folders` (absolute paths).
    pub fn new(folders: impl IntoIterator<Item = PathBuf>) -> Self {
        Self(folders.into_iter().collect())
    }

    /// The one root `folder`.
    pub fn single(folder: &Path) -> Self {
        Self::new([folder.to_path_buf()])
    }

    /// Whether there are none (the connection then does not declare the `roots` capability).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The `roots/list` answer: each folder as a `file://` URI, named by its last component. A
    /// folder that is not an absolute path has no URI and is left out.
    #[allow(deprecated)]
    pub fn listing(&self) -> ListRootsResult {
        let roots = self
            .0
            .iter()
            .filter_map(|folder| {
                let uri = reqwest::Url::from_file_path(folder).ok()?;
                let root = Root::new(uri.to_string());
                Some(match folder.file_name() {
                    Some(name) => root.with_name(name.to_string_lossy()),
                    None => root,
                })
            })
            .collect();
        ListRootsResult::new(roots)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_become_file_uris_named_by_their_last_component() {
        let roots = Roots::new([PathBuf::from("/home/me/my repo"), PathBuf::from("/")]);
        let listed = serde_json::to_value(roots.listing()).unwrap();
        assert_eq!(
            listed,
            serde_json::json!({"roots": [
                {"uri": "file:///home/me/my%20repo", "name": "my repo"},
                {"uri": "file:///"},
            ]})
        );
        let relative = Roots::single(Path::new("relative"));
        assert_eq!(
            serde_json::to_value(relative.listing()).unwrap(),
            serde_json::json!({"roots": []})
        );
    }
}
