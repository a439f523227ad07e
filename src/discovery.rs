//! The discovery file: how CLIs on this machine find the running daemon.
//!
//! Written once the daemon listens, atomically (a temporary file in the same directory, then a
//! rename), so a reader never sees half a file; removed on clean shutdown.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::json;

/// A discovery file this process wrote and will remove.
#[derive(Debug)]
pub struct DiscoveryFile {
    path: PathBuf,
}

impl DiscoveryFile {
    /// Writes `{"url", "pid", "started_at"}` for a daemon listening on `addr` to `path`.
    pub fn write(
        path: &Path,
        addr: SocketAddr,
        pid: u32,
        started_at: DateTime<Utc>,
    ) -> anyhow::Result<Self> {
        let dir = path
            .parent()
            .filter(|dir| !dir.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create discovery directory {}", dir.display()))?;
        let contents = json!({
            "url": format!("http://{}/mcp", reachable(addr)),
            "pid": pid,
            "started_at": started_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        });
        let mut file = tempfile::NamedTempFile::new_in(dir)
            .with_context(|| format!("cannot write in {}", dir.display()))?;
        file.write_all(contents.to_string().as_bytes())?;
        file.as_file().sync_all()?;
        file.persist(path)
            .with_context(|| format!("cannot write discovery file {}", path.display()))?;
        Ok(Self {
            path: path.to_owned(),
        })
    }

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

    #[test]
    fn written_atomically_with_the_protocol_fields_then_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/mcp.json");
        let file =
            DiscoveryFile::write(&path, "0.0.0.0:4242".parse().unwrap(), 7, Utc::now()).unwrap();
        let text: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(text["url"], "http://127.0.0.1:4242/mcp");
        assert_eq!(text["pid"], 7);
        assert!(DateTime::parse_from_rfc3339(text["started_at"].as_str().unwrap()).is_ok());
        assert_eq!(
            std::fs::read_dir(dir.path().join("nested"))
                .unwrap()
                .count(),
            1
        );
        file.remove();
        assert!(!path.exists());
    }
}
