//! Replacing a configuration file safely: a backup of the previous version, then an atomic
//! write (a temporary file in the same folder, then a rename) readable by its owner only.

use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// Permissions of a written configuration file: it holds a session token.
const PRIVATE_FILE: u32 = 0o600;

/// Permissions of a folder this creates to hold one (e.g. `~/.codex`).
const PRIVATE_DIR: u32 = 0o700;

/// The file's text, `None` when it does not exist.
pub fn read_existing(path: &Path) -> anyhow::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Where writing `path` really writes: the file a symbolic link points to (so that a config
/// kept in a dotfiles repository stays linked), else `path` itself.
fn real_target(path: &Path) -> anyhow::Result<PathBuf> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => std::fs::canonicalize(path)
            .with_context(|| format!("{} is a symbolic link to nothing", path.display())),
        _ => Ok(path.to_owned()),
    }
}

/// The backup path of `path`: `<path>.bak`.
pub fn backup_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".bak");
    PathBuf::from(name)
}

/// Writes `contents` to `path` atomically with owner-only permissions, creating its folder when
/// missing. An existing file is first copied to `<path>.bak` (with its own permissions), which
/// is returned.
pub fn replace(path: &Path, contents: &str) -> anyhow::Result<Option<PathBuf>> {
    let target = real_target(path)?;
    let dir = target
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(PRIVATE_DIR)
        .create(dir)
        .with_context(|| format!("cannot create the folder {}", dir.display()))?;
    let backup = match std::fs::read(&target) {
        Ok(previous) => {
            let mode = std::fs::metadata(&target)
                .map(|meta| meta.permissions().mode() & 0o7777)
                .unwrap_or(PRIVATE_FILE);
            let backup = backup_path(&target);
            write_atomically(dir, &backup, &previous, mode)
                .with_context(|| format!("cannot keep a backup at {}", backup.display()))?;
            Some(backup)
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
        Err(err) => return Err(err).with_context(|| format!("cannot read {}", target.display())),
    };
    write_atomically(dir, &target, contents.as_bytes(), PRIVATE_FILE)
        .with_context(|| format!("cannot write {}", target.display()))?;
    Ok(backup)
}

/// `bytes` to `path` through a temporary file in `dir`, renamed over it once synced.
fn write_atomically(dir: &Path, path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    let mut file = tempfile::Builder::new()
        .prefix(".construct-")
        .tempfile_in(dir)?;
    file.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|err| err.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_keeping_a_backup_and_the_link() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.json");
        std::fs::write(&real, "old").unwrap();
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o644)).unwrap();
        let link = dir.path().join("nested/link.json");
        std::fs::create_dir(dir.path().join("nested")).unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();

        let backup = replace(&link, "new").unwrap().unwrap();
        assert_eq!(std::fs::read_to_string(&link).unwrap(), "new");
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(backup, backup_path(&real.canonicalize().unwrap()));
        assert_eq!(std::fs::read_to_string(&backup).unwrap(), "old");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&real), 0o600);
        assert_eq!(mode(&backup), 0o644);

        let fresh = dir.path().join("made/for/it.json");
        assert_eq!(replace(&fresh, "x").unwrap(), None);
        assert_eq!(mode(fresh.parent().unwrap()), 0o700);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            4,
            "no temporary file is left behind"
        );
    }
}
