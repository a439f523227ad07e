//! Reaching files beneath a workspace root's descriptor, so that a symlink swapped in after
//! [`super::Workspace::resolve`] checked a path cannot lead the tool out of the workspace.
//!
//! [`Root`] is a root folder opened once per call; every open, `stat`, folder creation and rename
//! a file tool makes goes through it with a path relative to it, using `cap-std`: on Linux that
//! is `openat2` with `RESOLVE_BENEATH` (elsewhere, or where the call is filtered, a resolution
//! component by component with `O_NOFOLLOW`). A symlink met on the way is followed only while it
//! stays beneath the root (and, with `openat2`, only if it is relative); one leading out fails
//! with an error [`is_escape`] recognizes, which the tools report as "outside the workspace". The
//! checked path is resolved, so outside a race the relative path holds no links and no `..`:
//! links inside the workspace, absolute ones included, are followed by the check, not here.
//!
//! What remains: the root itself is opened by its path, so an attacker able to rename the root
//! folder (or one above it) still wins; the fence is each root, not the folders above it.

use std::ffi::OsStr;
use std::fs::{File, Metadata};
use std::hash::{BuildHasher as _, RandomState};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use cap_std::ambient_authority;
use cap_std::fs::{Dir, OpenOptions, OpenOptionsExt as _};

/// A workspace root, opened.
#[derive(Debug)]
pub struct Root {
    dir: Dir,
    path: PathBuf,
}

impl Root {
    /// Opens the root folder at `path` (absolute, canonical).
    pub(super) fn open(path: &Path) -> io::Result<Self> {
        Ok(Self {
            dir: Dir::open_ambient_dir(path, ambient_authority())?,
            path: path.to_owned(),
        })
    }

    /// `path` (absolute, inside this root) relative to the root; `.` for the root itself.
    fn relative<'a>(&self, path: &'a Path) -> &'a Path {
        match path.strip_prefix(&self.path) {
            Ok(rest) if rest.as_os_str().is_empty() => Path::new("."),
            Ok(rest) => rest,
            // Callers pass paths found inside this root; anything else is refused by cap-std
            // as an absolute path would be.
            Err(_) => path,
        }
    }

    /// Opens `path` for reading and says what it is (from the open file, so what was checked is
    /// what is read). Opened non-blocking, so that a FIFO put in its place does not block the
    /// thread; the caller refuses anything but a regular file.
    pub fn open_file(&self, path: &Path) -> io::Result<(File, Metadata)> {
        let file = self
            .dir
            .open_with(
                self.relative(path),
                OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY),
            )
            .map_err(confine)?
            .into_std();
        let metadata = file.metadata()?;
        Ok((file, metadata))
    }

    /// What `path` is (a link inside the root followed), without opening it.
    pub fn metadata(&self, path: &Path) -> io::Result<cap_std::fs::Metadata> {
        self.dir.metadata(self.relative(path)).map_err(confine)
    }

    /// Opens the folder `path`, creating it and its missing parents first when `create` is set.
    pub fn folder(&self, path: &Path, create: bool) -> io::Result<Folder> {
        let relative = self.relative(path);
        if create {
            self.dir.create_dir_all(relative).map_err(confine)?;
        }
        let dir = self.dir.open_dir(relative).map_err(confine)?;
        Ok(Folder { dir })
    }
}

/// A folder beneath a root, opened: a file in it is replaced through this descriptor, so the
/// temporary file and the rename stay in the folder that was opened, whatever its path becomes.
#[derive(Debug)]
pub struct Folder {
    dir: Dir,
}

impl Folder {
    /// What the entry `name` is, following a link only while it stays in this folder.
    pub fn metadata(&self, name: &OsStr) -> io::Result<cap_std::fs::Metadata> {
        self.dir.metadata(name).map_err(confine)
    }

    /// Makes `bytes` the content of the file `name` through a temporary file in this folder and
    /// a rename, so that no one ever sees a partial file. A file replaced keeps its permissions;
    /// one that could not be opened for writing is refused, as writing in place would be. A new
    /// file gets 0666 less the umask. The temporary file is removed if anything fails.
    pub fn replace(&self, name: &OsStr, bytes: &[u8]) -> io::Result<()> {
        // Non-blocking: a FIFO put in the file's place must not block the thread.
        let writable = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
            .clone();
        let kept = match self.dir.open_with(name, &writable) {
            Ok(existing) => Some(existing.into_std().metadata()?.permissions()),
            Err(err) if err.kind() == io::ErrorKind::NotFound => None,
            Err(err) => return Err(confine(err)),
        };
        let (temp, mut file) = self.temporary(name)?;
        if let Some(permissions) = kept {
            file.set_permissions(permissions)?;
        }
        file.write_all(bytes)?;
        file.sync_all()?;
        self.dir
            .rename(&temp.name, &self.dir, name)
            .map_err(confine)?;
        temp.kept();
        Ok(())
    }

    /// A new, empty file with a fresh hidden name (of a fixed length, so that it fits wherever
    /// `name` does) in this folder.
    fn temporary(&self, name: &OsStr) -> io::Result<(Temporary<'_>, File)> {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true).mode(0o666);
        let mut last = None;
        // Random names collide only when someone plants them; a few tries are plenty.
        for _ in 0..8 {
            let temp = PathBuf::from(format!(
                ".construct-{:016x}.tmp",
                RandomState::new().hash_one(name)
            ));
            match self.dir.open_with(&temp, &options) {
                Ok(file) => {
                    let temp = Temporary {
                        dir: &self.dir,
                        name: temp,
                        keep: false,
                    };
                    return Ok((temp, file.into_std()));
                }
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists => last = Some(err),
                Err(err) => return Err(confine(err)),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::from(io::ErrorKind::AlreadyExists)))
    }
}

/// A temporary file's name, removed when dropped unless it was renamed into place.
struct Temporary<'a> {
    dir: &'a Dir,
    name: PathBuf,
    keep: bool,
}

impl Temporary<'_> {
    fn kept(mut self) {
        self.keep = true;
    }
}

impl Drop for Temporary<'_> {
    fn drop(&mut self) {
        if !self.keep {
            let _ = self.dir.remove_file(&self.name);
        }
    }
}

/// The error of a path that led out of its root.
#[derive(Debug, thiserror::Error)]
#[error("a symlink on the path leads out of it (changed since the path was checked)")]
struct Escape;

/// Whether `err` says a path led out of its root (a symlink swapped in, most likely).
pub fn is_escape(err: &io::Error) -> bool {
    err.get_ref().is_some_and(|inner| inner.is::<Escape>())
}

/// cap-std reports a path leading out as `PermissionDenied` without an OS error code; every
/// genuine permission error carries one (`EACCES`, `EPERM`). That one becomes an [`Escape`].
fn confine(err: io::Error) -> io::Error {
    if err.kind() == io::ErrorKind::PermissionDenied && err.raw_os_error().is_none() {
        io::Error::new(io::ErrorKind::PermissionDenied, Escape)
    } else {
        err
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_inside_are_followed_and_links_out_are_escapes() {
        let root_dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let real = root_dir.path().canonicalize().unwrap();
        std::fs::write(real.join("file"), "inside").unwrap();
        std::fs::write(outside.path().join("secret"), "outside").unwrap();
        std::os::unix::fs::symlink("file", real.join("in")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), real.join("out")).unwrap();
        std::os::unix::fs::symlink(outside.path(), real.join("out-dir")).unwrap();
        let root = Root::open(&real).unwrap();

        let (file, metadata) = root.open_file(&real.join("in")).unwrap();
        assert!(metadata.is_file());
        assert_eq!(io::read_to_string(file).unwrap(), "inside");
        for escape in ["out", "out-dir/secret", "../x"] {
            let err = root.open_file(&real.join(escape)).unwrap_err();
            assert!(is_escape(&err), "{escape}: {err}");
        }
        let err = root.folder(&real.join("out-dir/new"), true).unwrap_err();
        assert!(is_escape(&err), "{err}");
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 1);
    }

    #[test]
    fn replace_leaves_no_temporary_file_and_keeps_permissions() {
        use std::fs::Permissions;
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().canonicalize().unwrap();
        let root = Root::open(&real).unwrap();
        let folder = root.folder(&real.join("a/b"), true).unwrap();
        folder.replace(OsStr::new("f"), b"one").unwrap();
        let path = real.join("a/b/f");
        std::fs::set_permissions(&path, Permissions::from_mode(0o640)).unwrap();
        folder.replace(OsStr::new("f"), b"two").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        assert_eq!(std::fs::read_dir(real.join("a/b")).unwrap().count(), 1);
    }
}
