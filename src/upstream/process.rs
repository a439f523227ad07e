//! Starting a stdio server's process: a clean environment, a process group of its own (killed
//! whole when the server stops or its connection is dropped), no core dumps and a bounded number
//! of open files, and its stderr read line by line into the daemon's log under its name.
//!
//! The child inherits no credentials from the daemon: its environment is `PATH`, `HOME`, the
//! daemon's values of the names its `inherit_env` lists, and its own `env` table, nothing else.

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::BufReader;
use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command};

use super::config::ServerConfig;
use super::lines::BoundedLines;
use crate::paths;
use crate::process_group::ProcessGroup;

/// The daemon's variables every child gets: without them `npx`, `uvx` and friends cannot run.
const ALWAYS_INHERITED: &[&str] = &["PATH", "HOME"];

/// Longest stderr line logged, in bytes; the rest of a longer line is dropped.
pub const MAX_STDERR_LINE_BYTES: usize = 4096;

/// Stderr lines of one server logged per second at most; the rest are counted, and the count is
/// logged once the second is over, so a server that floods its stderr cannot flood the log.
const MAX_STDERR_LINES_PER_SECOND: u32 = 50;

/// Open files a child may hold at most (its soft limit, when the daemon's is higher).
const MAX_OPEN_FILES: libc::rlim_t = 4096;

/// A running server process and its pipes.
pub struct ServerProcess {
    /// The process itself (killed when dropped).
    pub child: Child,
    /// Its process group (killed, whole, when dropped).
    pub group: ProcessGroup,
    /// Where requests go.
    pub stdin: ChildStdin,
    /// Where its messages come from.
    pub stdout: ChildStdout,
}

/// Starts the server `name` as `config` says, and logs its stderr until it closes.
pub fn spawn(name: &str, config: &ServerConfig) -> std::io::Result<ServerProcess> {
    let program = config.command.as_deref().unwrap_or_default();
    let mut command = Command::new(program);
    command
        .args(&config.args)
        .env_clear()
        .envs(inherited(config))
        .envs(&config.env.0)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(cwd) = &config.cwd {
        command.current_dir(paths::expand_home(cwd));
    }
    // SAFETY: the closure runs in the child between fork and exec, and calls only getrlimit and
    // setrlimit, which are async-signal-safe; it allocates nothing and takes no lock.
    unsafe {
        command.pre_exec(limit_resources);
    }
    let mut child = command.spawn()?;
    let group = ProcessGroup::of(&child);
    let (Some(stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(std::io::Error::other("the child's pipes were not opened"));
    };
    tokio::spawn(log_stderr(name.to_owned(), stderr));
    Ok(ServerProcess {
        child,
        group,
        stdin,
        stdout,
    })
}

/// The daemon's variables the child gets: `PATH`, `HOME` and those `inherit_env` names, when set.
fn inherited(config: &ServerConfig) -> Vec<(String, std::ffi::OsString)> {
    ALWAYS_INHERITED
        .iter()
        .copied()
        .chain(config.inherit_env.iter().map(String::as_str))
        .filter_map(|name| std::env::var_os(name).map(|value| (name.to_owned(), value)))
        .collect()
}

/// In the child, before exec: no core dumps (a crashing server must not write its memory, with
/// whatever secrets it held, to disk), and at most [`MAX_OPEN_FILES`] open files.
fn limit_resources() -> std::io::Result<()> {
    let no_core = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    let mut files = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: both calls only read or write the struct given, which lives on this stack.
    unsafe {
        if libc::setrlimit(libc::RLIMIT_CORE, &no_core) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut files) == 0 && files.rlim_cur > MAX_OPEN_FILES
        {
            files.rlim_cur = MAX_OPEN_FILES;
            libc::setrlimit(libc::RLIMIT_NOFILE, &files);
        }
    }
    Ok(())
}

/// Logs each line the server writes to stderr, cut to [`MAX_STDERR_LINE_BYTES`], with its name,
/// at most [`MAX_STDERR_LINES_PER_SECOND`] a second. Every line is read, logged or not, so the
/// server never blocks on a full pipe.
async fn log_stderr(server: String, stderr: ChildStderr) {
    let mut lines = BoundedLines::new(BufReader::new(stderr), MAX_STDERR_LINE_BYTES);
    let mut budget = LogBudget::new(MAX_STDERR_LINES_PER_SECOND, Instant::now());
    while let Ok(Some(line)) = lines.next_line().await {
        let (log, skipped) = budget.admit(Instant::now());
        tell_skipped(&server, skipped);
        if log {
            let text = String::from_utf8_lossy(&line.bytes);
            let cut = if line.cut { "…" } else { "" };
            tracing::info!(server = %server, "stderr: {text}{cut}");
        }
    }
    tell_skipped(&server, budget.skipped);
}

/// Says in the log how many of `server`'s stderr lines were not logged, if any.
fn tell_skipped(server: &str, skipped: u64) {
    if skipped > 0 {
        tracing::warn!(
            server = %server,
            "{skipped} stderr lines not logged (over {MAX_STDERR_LINES_PER_SECOND} a second)"
        );
    }
}

/// How many lines may be logged in each second, and how many were not.
struct LogBudget {
    per_second: u32,
    window: Instant,
    logged: u32,
    skipped: u64,
}

impl LogBudget {
    fn new(per_second: u32, now: Instant) -> Self {
        Self {
            per_second,
            window: now,
            logged: 0,
            skipped: 0,
        }
    }

    /// Whether a line arriving at `now` is logged, and how many lines before it were skipped and
    /// not yet told (told once, when the second they fell in is over).
    fn admit(&mut self, now: Instant) -> (bool, u64) {
        let mut untold = 0;
        if now.duration_since(self.window) >= Duration::from_secs(1) {
            untold = std::mem::take(&mut self.skipped);
            self.window = now;
            self.logged = 0;
        }
        if self.logged < self.per_second {
            self.logged += 1;
            (true, untold)
        } else {
            self.skipped += 1;
            (false, untold)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::config::Secrets;

    fn config(script: &str) -> ServerConfig {
        ServerConfig {
            command: Some("sh".into()),
            args: vec!["-c".into(), script.into()],
            ..ServerConfig::default()
        }
    }

    async fn output(mut process: ServerProcess) -> String {
        use tokio::io::AsyncReadExt as _;
        drop(process.stdin);
        let mut text = String::new();
        process.stdout.read_to_string(&mut text).await.unwrap();
        text
    }

    #[tokio::test]
    async fn the_child_gets_only_path_home_and_what_is_listed() {
        // SAFETY: this test's own variable, set before the child starts; no other test reads it.
        unsafe { std::env::set_var("CONSTRUCT_UPSTREAM_TEST_SECRET", "s3cret") };
        let mut server = config("env | sort; ulimit -c");
        server.env = Secrets([("GIVEN".to_owned(), "yes".to_owned())].into());
        let text = output(spawn("t", &server).unwrap()).await;
        let names: Vec<&str> = text.lines().filter_map(|l| l.split('=').next()).collect();
        for expected in ["GIVEN", "HOME", "PATH"] {
            assert!(names.contains(&expected), "{text}");
        }
        assert!(!text.contains("s3cret"), "{text}");
        assert!(text.trim_end().ends_with('0'), "core dumps allowed: {text}");

        server.inherit_env = vec!["CONSTRUCT_UPSTREAM_TEST_SECRET".into()];
        let text = output(spawn("t", &server).unwrap()).await;
        assert!(
            text.contains("CONSTRUCT_UPSTREAM_TEST_SECRET=s3cret"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn dropping_the_process_kills_its_whole_group() {
        let process = spawn("t", &config("sleep 30 & echo $!; wait")).unwrap();
        let mut stdout = BoundedLines::new(BufReader::new(process.stdout), 64);
        let line = stdout.next_line().await.unwrap().unwrap();
        let grandchild: libc::pid_t = String::from_utf8(line.bytes).unwrap().parse().unwrap();
        drop((process.child, process.group, process.stdin));
        // Killed, it may stay a zombie until someone reaps it: gone is not running.
        let running = || {
            std::fs::read_to_string(format!("/proc/{grandchild}/stat"))
                .is_ok_and(|stat| !stat.contains(") Z "))
        };
        let gone = async {
            while running() {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(5), gone)
            .await
            .expect("the server's own child outlived it");
    }

    #[test]
    fn a_flood_of_stderr_lines_is_logged_up_to_the_budget_then_counted_once() {
        let start = Instant::now();
        let mut budget = LogBudget::new(3, start);
        let admitted: Vec<(bool, u64)> = (0..5).map(|_| budget.admit(start)).collect();
        assert_eq!(
            admitted,
            [(true, 0), (true, 0), (true, 0), (false, 0), (false, 0)]
        );
        let later = start + Duration::from_millis(1500);
        assert_eq!(
            budget.admit(later),
            (true, 2),
            "the skipped lines are told once"
        );
        assert_eq!(budget.admit(later), (true, 0));
    }

    #[tokio::test]
    async fn a_missing_program_is_an_error_at_once() {
        let mut server = config("");
        server.command = Some("/nonexistent/mcp-server".into());
        assert!(spawn("t", &server).is_err());
    }
}
