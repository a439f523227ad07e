//! A child's whole process group, killed when dropped: what a command that forks (a shell line,
//! an MCP server started through `npx` or `uvx`) leaves behind goes with it.
//!
//! Shared by the `shell` tool and the upstream MCP servers, which both spawn their children with
//! `process_group(0)` so that each leads a group of its own.

use tokio::process::Child;

/// The process group the child leads; killed, whole, when this is dropped.
pub struct ProcessGroup(libc::pid_t);

impl ProcessGroup {
    /// The group `child` leads (it was spawned with `process_group(0)`).
    pub fn of(child: &Child) -> Self {
        let pid = child
            .id()
            .and_then(|pid| libc::pid_t::try_from(pid).ok())
            .expect("a child that was not waited for has a pid");
        Self(pid)
    }

    /// Sends SIGKILL to every process of the group. Its id stays reserved while any member
    /// lives, even after the leader is reaped; once all are gone, another process would have to
    /// get the same pid (allocated cyclically) and lead a group with it within the call.
    pub fn kill(&self) {
        // SAFETY: killpg only sends a signal; a group that is already gone gives ESRCH.
        unsafe {
            libc::killpg(self.0, libc::SIGKILL);
        }
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.kill();
    }
}
