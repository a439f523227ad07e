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
//! content), one pointing out, or to nothing, is refused.
//!
//! [`write_atomically`] is shared with `file_edit`.

use std::fs::{self, OpenOptions, Permissions};
use std::io::{self, Write as _};
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Value, json};

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
        let path = match ctx.workspace.resolve(&args.path) {
            Ok(path) => path,
            Err(reason) => return Ok(ToolOutput::failure(reason)),
        };
        let workspace = ctx.workspace.clone();
        let outcome = blocking::run(ctx, move |_| write(&path, &args, &workspace)).await;
        Ok(outcome.map_or_else(ToolOutput::failure, ToolOutput::text))
    }
}

/// Writes `args.content` to `path`, creating its folder if asked, and says what it did.
fn write(path: &Path, args: &Args, workspace: &Workspace) -> Result<String, String> {
    let shown = workspace.display(path);
    let existed = match fs::metadata(path) {
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
        Err(err) => return Err(format!("cannot write {shown}: {err}")),
    };
    if let Some(folder) = path.parent()
        && !folder.exists()
    {
        let folder_shown = workspace.display(folder);
        if !args.create_dirs {
            return Err(format!(
                "folder {folder_shown} does not exist; set create_dirs to create it"
            ));
        }
        fs::create_dir_all(folder)
            .map_err(|err| format!("cannot create folder {folder_shown}: {err}"))?;
    }
    write_atomically(path, &shown, args.content.as_bytes())?;
    let done = if existed { "overwrote" } else { "created" };
    Ok(format!(
        "{done} {shown}: wrote {} bytes",
        args.content.len()
    ))
}

/// Makes `bytes` the content of the file `path` (named `shown` in messages, its folder existing)
/// through a temporary file in the same folder and a rename, so that no one ever sees a partial
/// file. A file replaced keeps its permissions; one that could not be opened for writing is
/// refused, as writing in place would be.
pub(super) fn write_atomically(path: &Path, shown: &str, bytes: &[u8]) -> Result<(), String> {
    replace(path, bytes).map_err(|err| match err.kind() {
        io::ErrorKind::PermissionDenied => format!("cannot write {shown}: permission denied"),
        _ => format!("cannot write {shown}: {err}"),
    })
}

fn replace(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let folder = path.parent().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, "the path has no parent folder")
    })?;
    let replaced = match fs::metadata(path) {
        Ok(metadata) => {
            OpenOptions::new().write(true).open(path)?;
            Some(metadata.permissions())
        }
        Err(err) if err.kind() == io::ErrorKind::NotFound => None,
        Err(err) => return Err(err),
    };
    // Created as any new file would be (the umask applies); removed again if anything fails.
    let mut temp = tempfile::Builder::new()
        .permissions(Permissions::from_mode(0o666))
        .tempfile_in(folder)?;
    if let Some(permissions) = replaced {
        temp.as_file().set_permissions(permissions)?;
    }
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|err| err.error)?;
    Ok(())
}
