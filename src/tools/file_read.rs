//! `file_read`: the text of a file in the workspace, whole or a range of lines.
//!
//! The content comes back byte for byte (no line numbers, no re-encoding), so what a model reads
//! is exactly what `file_edit` will match. A read never holds more than
//! `tools.files.max_read_bytes` of the file, so one call cannot flood the model's context or the
//! daemon's memory: a whole-file read of a larger file is refused with its size and a hint to read
//! it in parts, and a range read stops at the cap, keeping whole lines and saying where to go on.
//!
//! Only text is returned. A NUL byte in the first 8 KiB, or bytes that are not UTF-8, make a
//! binary file, refused: its bytes could not travel as JSON text unaltered. Folders and special
//! files (FIFOs, devices) are refused; the file is opened non-blocking, since opening a FIFO
//! blocks, and beneath the workspace root's descriptor (see [`super::beneath`]), so that a
//! symlink swapped in after the check cannot lead the read out of the workspace.
//!
//! [`read_text`] applies these rules to a whole file; `file_edit` uses it too, so that it can
//! change only what `file_read` could have shown.

use std::fs::File;
use std::io::{self, BufRead as _, BufReader, Read as _, Seek as _};
use std::num::NonZeroU64;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Value, json};

use super::beneath::{self, Root};
use super::blocking::{self, Blocking};
use super::config::FilesConfig;
use super::{CallContext, Tool, ToolError, ToolOutput, Workspace, parse_args};

/// How much of the start of a file is searched for a NUL byte, the mark of a binary file.
const SNIFF_BYTES: usize = 8 * 1024;
/// Lines skipped between two looks at the cancellation signal, on the way to `offset`.
const LINES_BETWEEN_POLLS: u64 = 4096;

/// The `file_read` tool.
pub struct FileRead {
    max_bytes: u64,
}

impl FileRead {
    /// The tool, capped at `config.max_read_bytes` per read.
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
    offset: Option<NonZeroU64>,
    limit: Option<NonZeroU64>,
}

#[async_trait]
impl Tool for FileRead {
    fn name(&self) -> &'static str {
        "file_read"
    }

    fn description(&self) -> &'static str {
        "Reads a UTF-8 text file in the workspace and returns its exact content (no line \
         numbers). Give `offset` (first line, 1-based) and/or `limit` (number of lines) to read \
         only those lines; a file too large to read whole must be read in such parts. Binary \
         files and folders are refused."
    }

    fn input_schema(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "path": {"type": "string", "minLength": 1,
                         "description": "The file, relative to the session's folder or absolute."},
                "offset": {"type": "integer", "minimum": 1,
                           "description": "First line to return, counting from 1 (default 1)."},
                "limit": {"type": "integer", "minimum": 1,
                          "description": "Number of lines to return (default: to the end)."}
            },
            "required": ["path"],
            "additionalProperties": false
        })
    }

    async fn call(&self, args: Value, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
        let args: Args = parse_args(args)?;
        let workspace = ctx.workspace.clone();
        let max_bytes = self.max_bytes;
        let output = blocking::run(ctx, move |work| {
            let (root, path, shown) = open(&workspace, &args.path)?;
            if args.offset.is_none() && args.limit.is_none() {
                read_whole(&root, &path, &shown, max_bytes)
            } else {
                let lines = Lines {
                    first: args.offset.map_or(1, NonZeroU64::get),
                    count: args.limit.map(NonZeroU64::get),
                };
                read_lines(&root, &path, &shown, &lines, max_bytes, work)
            }
        })
        .await;
        Ok(output.unwrap_or_else(ToolOutput::failure))
    }
}

/// Checks `requested` and opens the workspace root holding it: the root, the checked path and
/// the path as messages show it. Shared by the file tools; runs on the blocking pool.
pub(super) fn open(
    workspace: &Workspace,
    requested: &str,
) -> Result<(Root, PathBuf, String), String> {
    let path = workspace.resolve(requested)?;
    let shown = workspace.display(&path);
    let root = workspace
        .open_root(&path)
        .map_err(|err| explain(&shown, &err))?;
    Ok((root, path, shown))
}

/// Why a file cannot be read whole as text.
pub(super) enum Unreadable {
    /// It holds more than the cap: this many bytes.
    TooLarge(u64),
    /// Anything else, in one line naming the file.
    Other(String),
}

/// The whole text of the regular file `path` (named `shown` in messages), provided it holds at
/// most `max_bytes` bytes of UTF-8 text.
pub(super) fn read_text(
    root: &Root,
    path: &Path,
    shown: &str,
    max_bytes: u64,
) -> Result<String, Unreadable> {
    let (file, size) = open_regular(root, path, shown).map_err(Unreadable::Other)?;
    if size > max_bytes {
        return Err(Unreadable::TooLarge(size));
    }
    let mut bytes = Vec::new();
    // The file may have grown since it was measured: never read past the cap.
    (&file)
        .take(max_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(|err| Unreadable::Other(explain(shown, &err)))?;
    if bytes.len() as u64 > max_bytes {
        let size = file.metadata().map_or(bytes.len() as u64, |now| now.len());
        return Err(Unreadable::TooLarge(size));
    }
    if has_nul(&bytes) {
        return Err(Unreadable::Other(binary(shown)));
    }
    String::from_utf8(bytes).map_err(|_| Unreadable::Other(binary(shown)))
}

fn read_whole(root: &Root, path: &Path, shown: &str, max_bytes: u64) -> Result<ToolOutput, String> {
    match read_text(root, path, shown, max_bytes) {
        Ok(text) => Ok(ToolOutput::text(text)),
        Err(Unreadable::TooLarge(size)) => Err(format!(
            "{shown} is {size} bytes, more than the {max_bytes} bytes one read may return; \
             read it in parts with offset (first line) and limit (number of lines)"
        )),
        Err(Unreadable::Other(reason)) => Err(reason),
    }
}

/// A range of lines: the first (from 1) and how many, or all the rest.
struct Lines {
    first: u64,
    count: Option<u64>,
}

/// The lines of `path` in `lines`, streamed so that no more than `max_bytes` are ever kept.
fn read_lines(
    root: &Root,
    path: &Path,
    shown: &str,
    lines: &Lines,
    max_bytes: u64,
    work: &Blocking,
) -> Result<ToolOutput, String> {
    let mut reader = open_at_line(root, path, shown, lines.first, work)?;
    let mut taken =
        Taken::read(&mut reader, lines.count, max_bytes).map_err(|err| explain(shown, &err))?;
    if taken.bytes.is_empty() && !taken.truncated && lines.first > 1 {
        return Err(past_the_end(shown, lines.first - 1, lines.first));
    }
    let note = taken.truncated.then(|| taken.cut(lines.first, max_bytes));
    let text = match String::from_utf8(taken.bytes) {
        Ok(text) => text,
        // A line cut at the cap may end inside a character: drop that character's start.
        Err(err) if taken.truncated && err.utf8_error().error_len().is_none() => {
            let valid = err.utf8_error().valid_up_to();
            String::from_utf8_lossy(&err.as_bytes()[..valid]).into_owned()
        }
        Err(_) => return Err(binary(shown)),
    };
    Ok(ToolOutput::texts(std::iter::once(text).chain(note), false))
}

/// Opens the text file `path` and skips to its line `first` (from 1), refusing a binary file.
fn open_at_line(
    root: &Root,
    path: &Path,
    shown: &str,
    first: u64,
    work: &Blocking,
) -> Result<BufReader<File>, String> {
    let io_error = |err: io::Error| explain(shown, &err);
    let (mut file, _) = open_regular(root, path, shown)?;
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    (&file)
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(io_error)?;
    if has_nul(&head) {
        return Err(binary(shown));
    }
    file.rewind().map_err(io_error)?;
    let mut reader = BufReader::new(file);
    for skipped in 0..first - 1 {
        if skipped % LINES_BETWEEN_POLLS == 0 && work.cancelled() {
            return Err("cancelled".into());
        }
        if reader.skip_until(b'\n').map_err(io_error)? == 0 {
            return Err(past_the_end(shown, skipped, first));
        }
    }
    Ok(reader)
}

/// The lines a range read took: whole lines, then possibly the start of one that did not fit.
struct Taken {
    /// What was read.
    bytes: Vec<u8>,
    /// Whole lines taken.
    complete: u64,
    /// The length of `bytes` at the end of the last whole line.
    complete_len: usize,
    /// Whether the cap stopped the read (then `bytes` holds one byte over it).
    truncated: bool,
}

impl Taken {
    /// Reads up to `count` lines (all the rest when `None`) of at most `max_bytes` together.
    fn read(reader: &mut BufReader<File>, count: Option<u64>, max_bytes: u64) -> io::Result<Self> {
        let mut taken = Self {
            bytes: Vec::new(),
            complete: 0,
            complete_len: 0,
            truncated: false,
        };
        while count.is_none_or(|count| taken.complete < count) {
            let budget = max_bytes - taken.bytes.len() as u64;
            // One byte over the budget tells a line that does not fit from one that just fits.
            let read = (&mut *reader)
                .take(budget + 1)
                .read_until(b'\n', &mut taken.bytes)?;
            if read == 0 {
                break;
            }
            if taken.bytes.len() as u64 > max_bytes {
                taken.truncated = true;
                break;
            }
            taken.complete += 1;
            taken.complete_len = taken.bytes.len();
        }
        Ok(taken)
    }

    /// Cuts a truncated read back to what may be shown, and says where to go on; `first` is the
    /// range's first line.
    fn cut(&mut self, first: u64, max_bytes: u64) -> String {
        if self.complete > 0 {
            self.bytes.truncate(self.complete_len);
            format!(
                "[truncated: {max_bytes}-byte read limit reached after {} lines; \
                 continue with offset {}]",
                self.complete,
                first + self.complete
            )
        } else {
            // Drop the byte read over the budget.
            self.bytes.truncate(self.bytes.len() - 1);
            format!(
                "[truncated: line {first} is longer than the {max_bytes}-byte read limit; only \
                 its start is shown]"
            )
        }
    }
}

/// Opens `path` for reading beneath `root`, refusing folders and special files, with its size.
fn open_regular(root: &Root, path: &Path, shown: &str) -> Result<(File, u64), String> {
    let (file, metadata) = root.open_file(path).map_err(|err| explain(shown, &err))?;
    if metadata.is_dir() {
        return Err(format!("{shown} is a directory, not a file"));
    }
    if !metadata.is_file() {
        return Err(format!(
            "{shown} is not a regular file (a FIFO, socket or device)"
        ));
    }
    Ok((file, metadata.len()))
}

/// Whether the start of a file holds a NUL byte, which text never does.
fn has_nul(bytes: &[u8]) -> bool {
    bytes[..bytes.len().min(SNIFF_BYTES)].contains(&0)
}

fn binary(shown: &str) -> String {
    format!("{shown} is a binary file (it holds NUL bytes or is not UTF-8); only text is supported")
}

fn past_the_end(shown: &str, lines: u64, offset: u64) -> String {
    format!("offset {offset} is past the end of {shown}, which has {lines} lines")
}

/// One line on a failed read of `shown`, plain about the usual causes.
pub(super) fn explain(shown: &str, err: &io::Error) -> String {
    if beneath::is_escape(err) {
        return format!("{shown} is outside the workspace: {err}");
    }
    match err.kind() {
        io::ErrorKind::NotFound => format!("{shown} does not exist"),
        io::ErrorKind::PermissionDenied => format!("cannot read {shown}: permission denied"),
        _ => format!("cannot read {shown}: {err}"),
    }
}
