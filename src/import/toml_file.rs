//! Reading a TOML file (Codex's `config.toml`, the daemon's own) for editing, with an error
//! that fits on one line: `toml_edit`'s own message draws the line at fault over several.

use std::path::Path;

use toml_edit::DocumentMut;

/// The document in `text`, the content of `path`; an error naming the file, the line and the
/// column when it is not TOML.
pub fn parse(path: &Path, text: &str) -> anyhow::Result<DocumentMut> {
    text.parse::<DocumentMut>().map_err(|err| {
        let at = err.span().map_or_else(String::new, |span| {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |at| at + 1) + 1;
            format!(" (line {line}, column {column})")
        });
        anyhow::anyhow!(
            "{} is not valid TOML: {}{at}",
            path.display(),
            err.message().trim_end().replace('\n', "; ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_is_one_line_with_its_place() {
        let err = parse(Path::new("/c.toml"), "a = 1\n[mcp_servers.git\n").unwrap_err();
        let err = err.to_string();
        assert!(err.starts_with("/c.toml is not valid TOML: "), "{err}");
        assert!(err.ends_with("(line 2, column 17)"), "{err}");
        assert!(!err.contains('\n'), "{err}");
        assert!(parse(Path::new("/c.toml"), "").is_ok());
    }
}
