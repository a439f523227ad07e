//! Turning user-given paths into absolute ones: `~` expansion and working-directory checks.

use std::path::{Path, PathBuf};

/// `path` with a leading `~` (alone or followed by `/`) replaced by the home directory.
/// Other forms such as `~user` are left as they are.
pub fn expand_home(path: &Path) -> PathBuf {
    let Ok(rest) = path.strip_prefix("~") else {
        return path.to_owned();
    };
    match dirs::home_dir() {
        Some(home) => home.join(rest),
        None => path.to_owned(),
    }
}

/// The canonical absolute form of a session's requested working directory, or a one-line reason
/// naming the path when it does not exist or is not a directory.
pub fn resolve_cwd(requested: &str) -> Result<PathBuf, String> {
    let expanded = expand_home(Path::new(requested));
    let canonical = std::fs::canonicalize(&expanded).map_err(|err| {
        format!(
            "cwd {} does not exist or cannot be read: {err}",
            expanded.display()
        )
    })?;
    if !canonical.is_dir() {
        return Err(format!("cwd {} is not a directory", canonical.display()));
    }
    Ok(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tilde_means_home_and_nothing_else_changes() {
        let home = dirs::home_dir().unwrap();
        assert_eq!(expand_home(Path::new("~")), home);
        assert_eq!(expand_home(Path::new("~/a/b")), home.join("a/b"));
        assert_eq!(expand_home(Path::new("/x/~")), PathBuf::from("/x/~"));
        assert_eq!(expand_home(Path::new("~user/x")), PathBuf::from("~user/x"));
    }

    #[test]
    fn cwd_must_exist_and_be_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "").unwrap();
        assert_eq!(
            resolve_cwd(dir.path().to_str().unwrap()).unwrap(),
            dir.path().canonicalize().unwrap()
        );
        assert!(
            resolve_cwd(file.to_str().unwrap())
                .unwrap_err()
                .contains("not a directory")
        );
        let missing = dir.path().join("missing");
        assert!(
            resolve_cwd(missing.to_str().unwrap())
                .unwrap_err()
                .contains("missing")
        );
    }
}
