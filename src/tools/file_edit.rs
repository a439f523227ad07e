//! `file_edit`: replaces an exact piece of text in a file of the workspace.
//!
//! `old_string` must occur exactly once, unless `replace_all` asks for every occurrence, so that
//! an edit never lands somewhere the model did not look; no match, or several, is an error that
//! says which, and leaves the file untouched. Matching is exact, byte for byte: whitespace and line
//! endings included.
//!
//! The file is read under `file_read`'s rules (UTF-8 text only, at most
//! `tools.files.max_read_bytes`), so a model can change only what it could have read, and
//! written back like `file_write` writes: atomically, keeping its permissions, beneath the
//! workspace root's descriptor. The size of the result is computed (with checked arithmetic)
//! before it is built, and an edit that would make the file larger than
//! `tools.files.max_read_bytes` is refused: `replace_all` of one character by a long text would
//! otherwise ask for gigabytes.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Value, json};

use super::config::FilesConfig;
use super::file_read::{Unreadable, open, read_text};
use super::file_write::{open_folder, write_atomically};
use super::{CallContext, Tool, ToolError, ToolOutput, Workspace, blocking, parse_args};

/// The `file_edit` tool.
pub struct FileEdit {
    max_bytes: u64,
}

impl FileEdit {
    /// The tool, for files of at most `config.max_read_bytes`.
    pub fn new(config: &FilesConfig) -> Self {
        Self {
            max_bytes: config.max_read_bytes,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    path: String,
    old_string: String,
    new_string: String,
    #[serde(default)]
    replace_all: bool,
}

#[async_trait]
impl Tool for FileEdit {
    fn name(&self) -> &'static str {
        "file_edit"
    }

    fn description(&self) -> &'static str {
        "Replaces `old_string` with `new_string` in a text file of the workspace. `old_string` \
         must match the file exactly (whitespace and indentation included) and occur exactly \
         once; include enough surrounding lines to make it unique, or set `replace_all` to \
         replace every occurrence. Read the file first to copy the text exactly."
    }

    fn input_schema(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "path": {"type": "string", "minLength": 1,
                         "description": "The file, relative to the session's folder or absolute."},
                "old_string": {"type": "string", "minLength": 1,
                               "description": "The exact text to replace."},
                "new_string": {"type": "string",
                               "description": "The text to put in its place; must differ."},
                "replace_all": {"type": "boolean", "default": false,
                                "description": "Replace every occurrence instead of exactly one."}
            },
            "required": ["path", "old_string", "new_string"],
            "additionalProperties": false
        })
    }

    async fn call(&self, args: Value, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
        let args: Args = parse_args(args)?;
        if args.old_string.is_empty() {
            return Err(ToolError::InvalidArguments(
                "old_string: must not be empty".into(),
            ));
        }
        if args.old_string == args.new_string {
            return Ok(ToolOutput::failure(
                "old_string and new_string are identical: the edit would change nothing",
            ));
        }
        let workspace = ctx.workspace.clone();
        let max_bytes = self.max_bytes;
        let outcome = blocking::run(ctx, move |_| edit(&workspace, &args, max_bytes)).await;
        Ok(outcome.map_or_else(ToolOutput::failure, ToolOutput::text))
    }
}

/// Applies the edit to `args.path` and says how many places changed.
fn edit(workspace: &Workspace, args: &Args, max_bytes: u64) -> Result<String, String> {
    let (root, path, shown) = open(workspace, &args.path)?;
    let shown = shown.as_str();
    let text = read_text(&root, &path, shown, max_bytes).map_err(|refusal| match refusal {
        Unreadable::TooLarge(size) => format!(
            "{shown} is {size} bytes, more than the {max_bytes} bytes a file may have to be \
             edited"
        ),
        Unreadable::Other(reason) => reason,
    })?;
    let found = text.matches(&args.old_string).count();
    match found {
        0 => {
            return Err(format!(
                "old_string was not found in {shown}; it must match the file exactly, \
                 whitespace and indentation included"
            ));
        }
        1 => {}
        _ if args.replace_all => {}
        _ => {
            return Err(format!(
                "old_string occurs {found} times in {shown}; include more surrounding text to \
                 make it unique, or set replace_all to replace all {found}"
            ));
        }
    }
    let size = edited_size(text.len(), found, &args.old_string, &args.new_string);
    if size.is_none_or(|size| size > max_bytes) {
        let size = size.map_or_else(|| "more than 2^64".to_owned(), |size| size.to_string());
        return Err(format!(
            "replacing {found} occurrence{} in {shown} would make it {size} bytes, more than \
             the {max_bytes} bytes tools.files.max_read_bytes allows; nothing was changed",
            if found == 1 { "" } else { "s" }
        ));
    }
    let edited = text.replace(&args.old_string, &args.new_string);
    let folder = open_folder(workspace, &root, &path, false)?;
    write_atomically(&folder, &path, shown, edited.as_bytes())?;
    let plural = if found == 1 { "" } else { "s" };
    Ok(format!("replaced {found} occurrence{plural} in {shown}"))
}

/// The size of a text of `len` bytes once its `found` occurrences of `old` are replaced by
/// `new`, or `None` if it does not fit in a `u64`.
fn edited_size(len: usize, found: usize, old: &str, new: &str) -> Option<u64> {
    let found = u64::try_from(found).ok()?;
    let removed = found.checked_mul(u64::try_from(old.len()).ok()?)?;
    let added = found.checked_mul(u64::try_from(new.len()).ok()?)?;
    u64::try_from(len)
        .ok()?
        .checked_sub(removed)?
        .checked_add(added)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_edited_size_is_computed_without_overflow() {
        assert_eq!(edited_size(10, 2, "ab", "xyz"), Some(12));
        assert_eq!(edited_size(10, 2, "ab", ""), Some(6));
        assert_eq!(
            edited_size(256 * 1024, 256 * 1024, "a", &"b".repeat(20_000)),
            Some(5_242_880_000)
        );
        assert_eq!(edited_size(usize::MAX, usize::MAX, "a", "bb"), None);
    }
}
