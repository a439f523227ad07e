//! `shell`: runs a command in the session's cwd and returns its exit status and output.
//!
//! Safety model. The tool is off by default and, when enabled, needs `tools.shell.allow`:
//! - `["*"]` runs any command line through `sh -c`, with the daemon's own permissions: pipes,
//!   redirections, `;` and everything else a shell does. Only for trusted callers.
//! - any other list runs no shell at all: the command is split into words like a POSIX shell
//!   would (quotes, escapes) and its first word must be one of the listed programs, compared as
//!   the exact string given (`/bin/rm` is not `rm`). `;`, `|`, `$(…)` are then plain arguments.
//!   Listing a program that runs other programs (`sh`, `env`, `xargs`, `find`…) allows those too.
//!
//! Nothing outlives the call. The child leads a process group of its own, and a guard kills the
//! whole group (SIGKILL) when the command exits, times out, or is cancelled, and when the call's
//! future is dropped; so background jobs and grandchildren go with it, unless they left the group
//! themselves (`setsid`). The timeout is the call's `timeout_ms` or the configured default,
//! capped at the configured maximum. Standard input is empty (`/dev/null`); every output line is
//! reported as progress as it comes, and at most `max_output_bytes` of each stream is kept.

use std::io;
use std::os::unix::process::ExitStatusExt as _;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt as _};
use tokio::process::{Child, Command};
use tokio::time::Instant;

use super::config::ShellConfig;
use super::{CallContext, Progress, Tool, ToolError, ToolOutput, parse_args};
use crate::process_group::ProcessGroup;

/// How long, once the command exited or was stopped, the rest may take: the leader's exit to be
/// seen and the output pipes to close. Only a process that left the group can keep the pipes open
/// longer (its output is then left unread), and only one stuck in the kernel can outlive SIGKILL.
const SETTLE: Duration = Duration::from_secs(2);
/// Longest line reported as one progress message; longer lines are reported in pieces.
const MAX_LINE_BYTES: usize = 4096;
/// Bytes read from a pipe at once.
const CHUNK_BYTES: usize = 8192;

/// The `shell` tool.
pub struct Shell {
    config: ShellConfig,
}

impl Shell {
    /// The tool, under the `[tools.shell]` configuration.
    pub fn new(config: &ShellConfig) -> Self {
        Self {
            config: config.clone(),
        }
    }

    /// The command to run for `command_line`, or why it may not run.
    fn command(&self, command_line: &str) -> Result<Command, String> {
        if self.config.allow == ["*"] {
            let mut command = Command::new("sh");
            command.arg("-c").arg(command_line);
            return Ok(command);
        }
        let words = shlex::split(command_line)
            .ok_or("the command has an unbalanced quote or a trailing backslash")?;
        let Some((program, args)) = words.split_first() else {
            return Err("the command is empty".into());
        };
        if !self.config.allow.contains(program) {
            return Err(format!(
                "{program} is not an allowed program (allowed: {})",
                self.config.allow.join(", ")
            ));
        }
        let mut command = Command::new(program);
        command.args(args);
        Ok(command)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    command: String,
    timeout_ms: Option<u64>,
}

#[async_trait]
impl Tool for Shell {
    fn name(&self) -> &'static str {
        "shell"
    }

    fn description(&self) -> &'static str {
        "Runs a command in the session's working directory and returns its exit code, standard \
         output and standard error; output lines are reported as progress while it runs. \
         Depending on the configuration the command line goes through `sh -c`, or is split into \
         words and run without a shell when its program is on the allow-list."
    }

    fn input_schema(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "command": {"type": "string", "description": "The command line to run."},
                "timeout_ms": {"type": "integer", "minimum": 1,
                               "description": "Kill the command after this many milliseconds \
                                               (capped by the configuration)."}
            },
            "required": ["command"],
            "additionalProperties": false
        })
    }

    async fn call(&self, args: Value, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
        let args: Args = parse_args(args)?;
        let mut command = match self.command(&args.command) {
            Ok(command) => command,
            Err(refusal) => return Ok(ToolOutput::failure(refusal)),
        };
        let timeout = args
            .timeout_ms
            .map_or(self.config.default_timeout, Duration::from_millis)
            .min(self.config.max_timeout);
        command
            .current_dir(ctx.workspace.cwd())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let child = match command.spawn() {
            Ok(child) => child,
            Err(err) => {
                return Ok(ToolOutput::failure(format!(
                    "cannot run the command: {err}"
                )));
            }
        };
        Ok(run(child, timeout, self.config.max_output_bytes, ctx).await)
    }
}

/// Why a command was stopped before it exited on its own.
#[derive(Clone, Copy)]
enum Stop {
    TimedOut(Duration),
    Cancelled,
}

/// Waits for `child`, reporting and capturing its output, killing it on timeout or cancellation.
async fn run(mut child: Child, timeout: Duration, limit: usize, ctx: &CallContext) -> ToolOutput {
    // Declared after `child`, so dropped before it: the group dies first, then the leader.
    let group = ProcessGroup::of(&child);
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        unreachable!("both output streams are piped");
    };
    let mut stdout = Pipe::new(stdout, limit);
    let mut stderr = Pipe::new(stderr, limit);
    let mut status: Option<ExitStatus> = None;
    let mut stop: Option<Stop> = None;
    let mut deadline = Instant::now() + timeout;
    let mut lines_so_far = 0;
    while status.is_none() || stdout.open || stderr.open {
        let lines = tokio::select! {
            read = stdout.read(), if stdout.open => stdout.absorb(read),
            read = stderr.read(), if stderr.open => stderr.absorb(read),
            exited = child.wait(), if status.is_none() => match exited {
                Ok(exited) => {
                    status = Some(exited);
                    group.kill();
                    deadline = Instant::now() + SETTLE;
                    Vec::new()
                }
                Err(err) => return ToolOutput::failure(format!("waiting for the command: {err}")),
            },
            () = ctx.cancel.cancelled(), if stop.is_none() => {
                stop = Some(Stop::Cancelled);
                group.kill();
                deadline = Instant::now() + SETTLE;
                Vec::new()
            }
            () = tokio::time::sleep_until(deadline) => {
                if status.is_some() || stop.is_some() {
                    break;
                }
                stop = Some(Stop::TimedOut(timeout));
                group.kill();
                deadline = Instant::now() + SETTLE;
                Vec::new()
            }
        };
        for line in lines {
            lines_so_far += 1;
            ctx.progress
                .report(Progress {
                    progress: lines_so_far,
                    total: None,
                    message: Some(line),
                })
                .await;
        }
    }
    outcome(status, stop, &stdout.output, &stderr.output)
}

/// The result: how the command ended, then its output.
fn outcome(
    status: Option<ExitStatus>,
    stop: Option<Stop>,
    stdout: &Output,
    stderr: &Output,
) -> ToolOutput {
    let ending = match (stop, status) {
        (Some(Stop::TimedOut(after)), _) => format!(
            "timed out after {} ms; the command and its process group were killed",
            after.as_millis()
        ),
        (Some(Stop::Cancelled), _) => {
            "cancelled; the command and its process group were killed".to_owned()
        }
        (None, Some(status)) => match (status.code(), status.signal()) {
            (Some(code), _) => format!("exit code {code}"),
            (None, Some(signal)) => format!("killed by signal {signal}"),
            (None, None) => format!("ended: {status}"),
        },
        (None, None) => unreachable!("the loop ends with an exit status or a stop"),
    };
    let text = format!(
        "{ending}\n{}{}",
        stdout.section("stdout"),
        stderr.section("stderr")
    );
    let succeeded = stop.is_none() && status.is_some_and(|status| status.success());
    ToolOutput::texts([text], !succeeded)
}

/// One output stream of the child, read chunk by chunk.
struct Pipe<R> {
    reader: R,
    buffer: Box<[u8; CHUNK_BYTES]>,
    open: bool,
    output: Output,
}

impl<R: AsyncRead + Unpin> Pipe<R> {
    fn new(reader: R, limit: usize) -> Self {
        Self {
            reader,
            buffer: Box::new([0; CHUNK_BYTES]),
            open: true,
            output: Output::new(limit),
        }
    }

    /// Reads the next chunk into the buffer. Cancel-safe: nothing is lost if it is dropped.
    async fn read(&mut self) -> io::Result<usize> {
        self.reader.read(&mut self.buffer[..]).await
    }

    /// Takes in what [`Pipe::read`] returned; gives the lines it completed. At the end of the
    /// stream (or a read error) the pipe closes and the unfinished line counts as complete.
    fn absorb(&mut self, read: io::Result<usize>) -> Vec<String> {
        match read {
            Ok(n) if n > 0 => self.output.push(&self.buffer[..n]),
            _ => {
                self.open = false;
                self.output.finish().into_iter().collect()
            }
        }
    }
}

/// What was kept of one stream, and the line being assembled for progress.
struct Output {
    kept: Vec<u8>,
    total: usize,
    limit: usize,
    line: Vec<u8>,
}

impl Output {
    fn new(limit: usize) -> Self {
        Self {
            kept: Vec::new(),
            total: 0,
            limit,
            line: Vec::new(),
        }
    }

    /// Keeps what fits of `chunk` and returns the lines it completes.
    fn push(&mut self, chunk: &[u8]) -> Vec<String> {
        let room = self.limit.saturating_sub(self.kept.len());
        self.kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
        self.total += chunk.len();
        let mut lines = Vec::new();
        for &byte in chunk {
            if byte == b'\n' {
                lines.push(self.take_line());
            } else {
                self.line.push(byte);
                if self.line.len() == MAX_LINE_BYTES {
                    lines.push(self.take_line());
                }
            }
        }
        lines
    }

    /// The unfinished last line, if any.
    fn finish(&mut self) -> Option<String> {
        (!self.line.is_empty()).then(|| self.take_line())
    }

    fn take_line(&mut self) -> String {
        let line = String::from_utf8_lossy(&self.line);
        let line = line.strip_suffix('\r').unwrap_or(&line).to_owned();
        self.line.clear();
        line
    }

    /// The stream's part of the result, with a header saying whether it was cut.
    fn section(&self, name: &str) -> String {
        let header = if self.total > self.kept.len() {
            format!(
                "--- {name} (truncated: first {} of {} bytes) ---",
                self.kept.len(),
                self.total
            )
        } else {
            format!("--- {name} ---")
        };
        let body = String::from_utf8_lossy(&self.kept);
        let newline = if body.is_empty() || body.ends_with('\n') {
            ""
        } else {
            "\n"
        };
        format!("{header}\n{body}{newline}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_splits_lines_and_keeps_up_to_the_limit() {
        let mut output = Output::new(5);
        assert_eq!(output.push(b"ab\r\ncd"), ["ab"]);
        assert_eq!(output.push(b"e\nf"), ["cde"]);
        assert_eq!(output.finish().as_deref(), Some("f"));
        assert_eq!(output.finish(), None);
        assert_eq!(
            output.section("stdout"),
            "--- stdout (truncated: first 5 of 9 bytes) ---\nab\r\nc\n"
        );
    }

    #[test]
    fn long_lines_are_reported_in_pieces() {
        let mut output = Output::new(usize::MAX);
        let lines = output.push(&[b'x'; MAX_LINE_BYTES * 2 + 1]);
        assert_eq!(lines.len(), 2);
        assert_eq!(output.finish().map(|line| line.len()), Some(1));
    }

    #[test]
    fn allow_lists_compare_the_program_exactly() {
        let shell = Shell::new(&ShellConfig {
            allow: vec!["echo".into()],
            ..ShellConfig::default()
        });
        assert!(shell.command("echo 'a b' c").is_ok());
        let refusal = shell.command("/bin/echo hi").unwrap_err();
        assert_eq!(
            refusal,
            "/bin/echo is not an allowed program (allowed: echo)"
        );
        assert!(
            shell
                .command("echo 'unbalanced")
                .unwrap_err()
                .contains("quote")
        );
        assert_eq!(shell.command("  ").unwrap_err(), "the command is empty");
    }
}
