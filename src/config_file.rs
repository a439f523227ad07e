//! Reading the configuration file: what the daemon takes orders from, at start and at each
//! reload (`crate::reload`), so it is read with care.
//!
//! - Only a regular file is read, opened without blocking (a FIFO put in its place would hang
//!   the reader forever), and at most [`MAX_BYTES`] of it (a link to `/dev/zero` would grow
//!   without end).
//! - It must belong to the daemon's user (or root) and not be writable by everyone: whoever can
//!   write it chooses the commands the daemon runs as its servers, within a second of a save.
//!   A group-writable file is accepted, as user-private groups (umask 002) make every file so.
//! - A TOML syntax error is said by line and column, never by quoting the line, which may hold
//!   a key or a token.

use std::fs::File;
use std::io::Read as _;
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

/// The largest configuration file read: far more than any real one.
pub const MAX_BYTES: u64 = 1024 * 1024;

/// Why the configuration file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// It could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// It is not one the daemon may take orders from, or not TOML: said without quoting it.
    #[error("config file {path}: {reason}")]
    Refused {
        /// The file.
        path: PathBuf,
        /// Why, in one line.
        reason: String,
    },
}

/// The text of the configuration file at `path`, checked as the module says.
pub fn read(path: &Path) -> Result<String, FileError> {
    let refuse = |reason: String| FileError::Refused {
        path: path.to_owned(),
        reason,
    };
    let read_error = |source| FileError::Read {
        path: path.to_owned(),
        source,
    };
    let file = File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(read_error)?;
    let meta = file.metadata().map_err(read_error)?;
    if !meta.is_file() {
        return Err(refuse("is not a regular file".into()));
    }
    // SAFETY: geteuid(2) cannot fail and touches no memory.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me && meta.uid() != 0 {
        let reason = format!(
            "belongs to user {}, not to the daemon's ({me}) or root",
            meta.uid()
        );
        return Err(refuse(reason));
    }
    if meta.mode() & 0o002 != 0 {
        return Err(refuse("is writable by every user: chmod o-w it".into()));
    }
    let mut text = String::new();
    file.take(MAX_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(read_error)?;
    if text.len() as u64 > MAX_BYTES {
        return Err(refuse(format!("is over {MAX_BYTES} bytes")));
    }
    check_syntax(&text).map_err(refuse)?;
    Ok(text)
}

/// Whether `text` is TOML; if not, where and why, without quoting it.
fn check_syntax(text: &str) -> Result<(), String> {
    let Err(err) = text.parse::<toml_edit::DocumentMut>() else {
        return Ok(());
    };
    let at = err.span().map_or(0, |span| span.start);
    let before = &text[..at.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, str::len) + 1;
    let message = err.message().trim_end();
    Err(format!(
        "not valid TOML at line {line}, column {column}: {message}"
    ))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn file(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn a_syntax_error_is_placed_without_quoting_the_line() {
        let text = "[servers.x]\nurl = \"https://x\"\nheaders = { Authorization = \"Bearer sk-SECRET-1\"\n";
        let (_dir, path) = file(text);
        let err = read(&path).unwrap_err().to_string();
        assert!(err.contains("not valid TOML at line 3"), "{err}");
        assert!(!err.contains("sk-SECRET"), "{err}");
    }

    #[test]
    fn a_fifo_a_huge_file_and_a_world_writable_one_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo.toml");
        let name = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo(3) on a NUL-terminated path this test owns.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        let err = read(&fifo).unwrap_err().to_string();
        assert!(err.contains("not a regular file"), "{err}");

        let (_huge_dir, huge) = file(&"#".repeat(MAX_BYTES as usize + 1));
        assert!(read(&huge).unwrap_err().to_string().contains("is over"));

        let (_open_dir, open) = file("");
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert!(read(&open).unwrap_err().to_string().contains("chmod o-w"));
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o664)).unwrap();
        assert_eq!(read(&open).unwrap(), "");
    }
}
