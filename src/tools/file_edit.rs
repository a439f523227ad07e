//! `file_edit`: replaces an exact piece of text in a file of the workspace.
//!
//! `old_string` must occur exactly once, unless `replace_all` asks for every occurrence, so that
//! an edit never lands somewhere the model did not look; no match, or several, is an error that
//! says which, and leaves the file untouched. Matching is exact, byte for byte: whitespace and line
//! endings included.
//!
//! The file is read under `file_read`'s rules (UTF-8 text only, at most
//! `tools.files.max_read_bytes`), so a model can change only what it could have read, and
//! written back like `file_write` writes: atomically, keeping its permissions.

use std::path::Path;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Value, json};

use super::file_read::{Unreadable, read_text};
use super::file_write::write_atomically;
use super::{CallContext, Tool, ToolError, ToolOutput, blocking, parse_args};
use crate::config::FilesConfig;

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
        let path = match ctx.workspace.resolve(&args.path) {
            Ok(path) => path,
            Err(reason) => return Ok(ToolOutput::failure(reason)),
        };
        let shown = ctx.workspace.display(&path);
        let max_bytes = self.max_bytes;
        let outcome = blocking::run(ctx, move |_| edit(&path, &shown, &args, max_bytes)).await;
        Ok(outcome.map_or_else(ToolOutput::failure, ToolOutput::text))
    }
}

/// Applies the edit to `path` (named `shown` in messages) and says how many places changed.
fn edit(path: &Path, shown: &str, args: &Args, max_bytes: u64) -> Result<String, String> {
    let text = read_text(path, shown, max_bytes).map_err(|refusal| match refusal {
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
    let edited = text.replace(&args.old_string, &args.new_string);
    write_atomically(path, shown, edited.as_bytes())?;
    let plural = if found == 1 { "" } else { "s" };
    Ok(format!("replaced {found} occurrence{plural} in {shown}"))
}
