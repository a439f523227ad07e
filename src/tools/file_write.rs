//! `file_write`: creates a file in the workspace, or replaces one, with the given text.
//!
//! The write is atomic: the content goes to a temporary file in the same folder, which is then
//! renamed over the target. A reader, or the file system after a crash, sees the old content or
//! the new, never half of it, and a failed write leaves the old file as it was. Replacing keeps
//! the file's permissions, and refuses a file that could not be written in place (read-only),
//! since a rename would otherwise override that; a new file gets the usual permissions (0666 less
//! the umask), not a temporary file's 0600.
//!
//! A missing parent folder is an error naming it unless `create_dirs` is set, so a mistyped path
//! does not silently grow a new tree. The path, folders to create included, must resolve inside
//! the workspace: a symlink inside it is written through (the link stays, its target gets the
//! content), one pointing out, or to nothing, is refused. The folders are created, and the folder
//! opened, beneath the workspace root's descriptor, and the temporary file and the rename happen
//! in that opened folder (see [`super::beneath`]): a link swapped in after the check cannot lead
//! the write out of the workspace.
//!
//! [`write_atomically`] is shared with `file_edit`.

use std::io;
use std::path::Path;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Value, json};

use super::beneath::{self, Folder, Root};
use super::file_read::{explain, open};
use super::{CallContext, Tool, ToolError, ToolOutput, Workspace, blocking, parse_args};

/// The `file_write` tool.
pub struct FileWrite;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    path: String,
    content: String,
    #[serde(default)]
    create_dirs: bool,
}

#[async_trait]
impl Tool for FileWrite {
    fn name(&self) -> &'static str {
        "file_write"
    }

    fn description(&self) -> &'static str {
        "Writes `content` to a file in the workspace, creating it or replacing all of its \
         content, atomically. The parent folder must exist unless `create_dirs` is true. To \
         change part of an existing file, prefer file_edit."
    }

    fn input_schema(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "path": {"type": "string", "minLength": 1,
                         "description": "The file, relative to the session's folder or absolute."},
                "content": {"type": "string",
                            "description": "The file's entire new content."},
                "create_dirs": {"type": "boolean", "default": false,
                                "description": "Create missing parent folders."}
            },
            "required": ["path", "content"],
            "additionalProperties": false
        })
    }

    async fn call(&self, args: Value, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
        let args: Args = parse_args(args)?;
        let workspace = ctx.workspace.clone();
        let outcome = blocking::run(ctx, move |_| write(&workspace, &args)).await;
        Ok(outcome.map_or_else(ToolOutput::failure, ToolOutput::text))
    }
}

/// Writes `args.content` to `args.path`, creating its folder if asked, and says what it did.
fn write(workspace: &Workspace, args: &Args) -> Result<String, String> {
    let (root, path, shown) = open(workspace, &args.path)?;
    let existed = match root.metadata(&path) {
        Ok(metadata) if metadata.is_dir() => {
            return Err(format!("{shown} is a directory; give the path of a file"));
        }
        Ok(metadata) if !metadata.is_file() => {
            return Err(format!(
                "{shown} is not a regular file (a FIFO, socket or device)"
            ));
        }
        Ok(_) => true,
        Err(err) if err.kind() == io::ErrorKind::NotFound => false,
        Err(err) => return Err(cannot_write(&shown, &err)),
    };
    let folder = open_folder(workspace, &root, &path, args.create_dirs)?;
    write_atomically(&folder, &path, &shown, args.content.as_bytes())?;
    let done = if existed { "overwrote" } else { "created" };
    Ok(format!(
        "{done} {shown}: wrote {} bytes",
        args.content.len()
    ))
}

/// Opens the folder of the file `path` beneath `root`, creating it first if it is missing and
/// `create` is set.
pub(super) fn open_folder(
    workspace: &Workspace,
    root: &Root,
    path: &Path,
    create: bool,
) -> Result<Folder, String> {
    let folder = path.parent().unwrap_or(path);
    let shown = workspace.display(folder);
    match root.folder(folder, false) {
        Err(err) if err.kind() == io::ErrorKind::NotFound && !create => Err(format!(
            "folder {shown} does not exist; set create_dirs to create it"
        )),
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            root.folder(folder, true).map_err(|err| {
                if beneath::is_escape(&err) {
                    explain(&shown, &err)
                } else {
                    format!("cannot create folder {shown}: {err}")
                }
            })
        }
        opened => opened.map_err(|err| explain(&shown, &err)),
    }
}

/// Makes `bytes` the content of the file `path` (named `shown` in messages) in its opened
/// `folder`, atomically (see [`Folder::replace`]).
pub(super) fn write_atomically(
    folder: &Folder,
    path: &Path,
    shown: &str,
    bytes: &[u8],
) -> Result<(), String> {
    let Some(name) = path.file_name() else {
        return Err(format!("{shown} is a directory; give the path of a file"));
    };
    folder
        .replace(name, bytes)
        .map_err(|err| cannot_write(shown, &err))
}

/// One line on a failed write of `shown`.
fn cannot_write(shown: &str, err: &io::Error) -> String {
    if beneath::is_escape(err) {
        explain(shown, err)
    } else if err.kind() == io::ErrorKind::PermissionDenied {
        format!("cannot write {shown}: permission denied")
    } else {
        format!("cannot write {shown}: {err}")
    }
}
