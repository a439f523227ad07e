//! The discovery file: how CLIs on this machine find the running daemon, and the owner's key.
//!
//! One type, [`Discovery`], is both what the daemon writes and what the client commands read,
//! so the format is defined once: `{"url", "pid", "started_at", "api_key"?}`.
//!
//! The file holds the key that opens the daemon, so it is the owner's alone: written with mode
//! 0600 into a folder the owner alone can write (created 0700 when missing), atomically (a
//! temporary file in the same folder, then a rename), so a reader never sees half a file, and
//! removed on clean shutdown. A folder others may write is refused: whoever can replace the file
//! could point the owner's clients, key and all, at a server of their own. Readers refuse a file
//! that another user owns or may write, for the same reason.
//!
//! The `[discovery]` section, whether and where the daemon writes the file, is here too.

use std::io::Write as _;
use std::net::SocketAddr;
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

/// Where the daemon writes the discovery file, and its clients look, unless told otherwise; a
/// leading `~` is the home directory.
pub const DEFAULT_PATH: &str = "~/.construct/mcp.json";

/// `[discovery]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiscoveryConfig {
    /// Whether to write the discovery file at all.
    pub enabled: bool,
    /// Where to write it; a leading `~` is the home directory.
    pub path: PathBuf,
}

impl Default for DiscoveryConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            path: PathBuf::from(DEFAULT_PATH),
        }
    }
}

/// What the discovery file says. Unknown fields are ignored when reading, for newer daemons.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Discovery {
    /// The MCP endpoint, `http://127.0.0.1:<port>/mcp`.
    pub url: String,
    /// The daemon's process id; a reader whose process is gone knows the file is stale.
    pub pid: Option<u32>,
    /// When the daemon started (RFC 3339).
    #[serde(default)]
    pub started_at: Option<String>,
    /// The owner key the daemon generated, when it requires one and none was configured: what
    /// creating a session and every stateless request need as `Authorization: Bearer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
}

impl Discovery {
    /// What a daemon listening on `addr` writes.
    pub fn new(
        addr: SocketAddr,
        pid: u32,
        started_at: DateTime<Utc>,
        api_key: Option<&str>,
    ) -> Self {
        Self {
            url: format!("http://{}/mcp", reachable(addr)),
            pid: Some(pid),
            started_at: Some(started_at.to_rfc3339_opts(SecondsFormat::Secs, true)),
            api_key: api_key.map(str::to_owned),
        }
    }

    /// Reads the file at `path`, refusing one that someone else wrote or could have written.
    pub fn read(path: &Path) -> std::io::Result<Result<Self, String>> {
        let file = std::fs::File::open(path)?;
        let meta = file.metadata()?;
        if let Err(reason) = owner_only(&meta, 0o022) {
            return Ok(Err(format!("{}: {reason}", path.display())));
        }
        Ok(
            serde_json::from_reader(std::io::BufReader::new(file)).map_err(|err| {
                format!(
                    "{} is not {{\"url\", \"pid\", \"started_at\"}} JSON: {err}",
                    path.display()
                )
            }),
        )
    }

    /// Writes the file at `path` and returns the handle that removes it.
    pub fn write(&self, path: &Path) -> anyhow::Result<DiscoveryFile> {
        let dir = path
            .parent()
            .filter(|dir| !dir.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create discovery directory {}", dir.display()))?;
        let meta = std::fs::metadata(dir)
            .with_context(|| format!("cannot read discovery directory {}", dir.display()))?;
        if let Err(reason) = owner_only(&meta, 0o022) {
            bail!(
                "discovery.path: the folder {} {reason}; choose a folder only you can write",
                dir.display()
            );
        }
        // NamedTempFile creates its file with mode 0600, which the rename keeps.
        let mut file = tempfile::NamedTempFile::new_in(dir)
            .with_context(|| format!("cannot write in {}", dir.display()))?;
        file.write_all(&serde_json::to_vec(self)?)?;
        file.as_file().sync_all()?;
        file.persist(path)
            .with_context(|| format!("cannot write discovery file {}", path.display()))?;
        Ok(DiscoveryFile {
            path: path.to_owned(),
        })
    }
}

/// Why `meta` is not safe to trust: owned by another user, or writable by others (the
/// `forbidden` permission bits).
fn owner_only(meta: &std::fs::Metadata, forbidden: u32) -> Result<(), String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Err(format!("belongs to user {}, not to you ({me})", meta.uid()));
    }
    let open = meta.permissions().mode() & forbidden;
    if open != 0 {
        return Err(format!(
            "is open to other users (mode {:o})",
            meta.permissions().mode() & 0o777
        ));
    }
    Ok(())
}

/// A discovery file this process wrote and will remove.
#[derive(Debug)]
pub struct DiscoveryFile {
    path: PathBuf,
}

impl DiscoveryFile {
    /// Removes the file (on clean shutdown).
    pub fn remove(self) {
        if let Err(err) = std::fs::remove_file(&self.path) {
            tracing::warn!(path = %self.path.display(), %err, "could not remove the discovery file");
        }
    }
}

/// The address a local client should dial: the loopback one when bound to "any address".
fn reachable(addr: SocketAddr) -> SocketAddr {
    let mut addr = addr;
    if addr.ip().is_unspecified() {
        match addr {
            SocketAddr::V4(_) => addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into()),
            SocketAddr::V6(_) => addr.set_ip(std::net::Ipv6Addr::LOCALHOST.into()),
        }
    }
    addr
}

#[cfg(test)]
mod tests {
    use super::*;

    fn discovery(key: Option<&str>) -> Discovery {
        Discovery::new("0.0.0.0:4242".parse().unwrap(), 7, Utc::now(), key)
    }

    #[test]
    fn written_atomically_owner_only_then_read_back_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/mcp.json");
        let written = discovery(Some("k".repeat(64).as_str()));
        let file = written.write(&path).unwrap();
        let text: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(text["url"], "http://127.0.0.1:4242/mcp");
        assert_eq!(text["pid"], 7);
        assert!(DateTime::parse_from_rfc3339(text["started_at"].as_str().unwrap()).is_ok());
        assert_eq!(text["api_key"], "k".repeat(64));
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir.path().join("nested")), 0o700);
        assert_eq!(Discovery::read(&path).unwrap().unwrap(), written);
        assert_eq!(
            std::fs::read_dir(dir.path().join("nested"))
                .unwrap()
                .count(),
            1
        );
        file.remove();
        assert!(!path.exists());
    }

    #[test]
    fn no_key_field_without_a_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mcp.json");
        discovery(None).write(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("api_key"), "{text}");
    }

    #[test]
    fn a_folder_others_may_write_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = discovery(None)
            .write(&dir.path().join("mcp.json"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("open to other users"), "{err}");
    }

    #[test]
    fn a_file_others_may_write_is_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mcp.json");
        discovery(Some("secret")).write(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        let err = Discovery::read(&path).unwrap().unwrap_err();
        assert!(err.contains("open to other users"), "{err}");
    }
}
