//! Running synchronous work (file I/O, regex compilation, walks, searches) off the async workers,
//! with progress.
//!
//! The work runs on a thread of its own, started for the call, at a lower scheduling priority
//! (nice +10 on Linux): it can neither stall the HTTP workers by running on them nor starve them
//! of CPU, so eight CPU-bound searches on a two-core machine leave `/health` answered in
//! milliseconds. The number of such threads is bounded by `tools.max_concurrent_calls`, plus
//! those of calls abandoned while their work finishes (each bounded: regexes by their size limit,
//! walks and reads by polling cancellation).
//!
//! The work reports progress through a small bounded queue that the call's task forwards to the
//! [`ProgressSink`]; a report that finds the queue full is dropped (the next one supersedes it).
//! It must poll [`Blocking::cancelled`] between steps, because a thread cannot be stopped from
//! outside. A panic in the work panics the call's task, which the runner turns into `-32603`.
//!
//! [`ProgressSink`]: super::ProgressSink

use std::panic::AssertUnwindSafe;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::{CallContext, Progress};

/// Reports waiting to be forwarded; a few are enough, since each supersedes the last.
const QUEUE: usize = 8;
/// How much lower than the HTTP workers' the work threads' priority is (a `nice` increment).
const NICENESS: libc::c_int = 10;

/// What blocking work may use.
pub struct Blocking {
    progress: mpsc::Sender<Progress>,
    cancel: CancellationToken,
}

impl Blocking {
    /// Offers a progress report; dropped if the previous ones have not been forwarded yet.
    pub fn report(&self, progress: Progress) {
        let _ = self.progress.try_send(progress);
    }

    /// Whether the call was cancelled; the work should return soon when it is.
    pub fn cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }
}

/// Runs `work` on a thread of its own at a lower priority, forwarding its progress, and returns
/// its result.
///
/// # Panics
/// If `work` panics (the panic is carried to the caller), or if no thread can be started.
pub async fn run<T, F>(ctx: &CallContext, work: F) -> T
where
    T: Send + 'static,
    F: FnOnce(&Blocking) -> T + Send + 'static,
{
    let (sender, mut receiver) = mpsc::channel(QUEUE);
    // A child of the call's token: cancelled with the call, and also when this future is dropped
    // (the call was abandoned), without cancelling the call when the work simply finishes.
    let cancel = ctx.cancel.child_token();
    let _cancel_on_drop = cancel.clone().drop_guard();
    let blocking = Blocking {
        progress: sender,
        cancel,
    };
    let (done, result) = oneshot::channel();
    std::thread::Builder::new()
        .name("tool-work".into())
        .spawn(move || {
            lower_priority();
            let _ = done.send(std::panic::catch_unwind(AssertUnwindSafe(|| {
                work(&blocking)
            })));
        })
        .unwrap_or_else(|err| panic!("cannot start a thread for the call: {err}"));
    while let Some(progress) = receiver.recv().await {
        ctx.progress.report(progress).await;
    }
    match result.await {
        Ok(Ok(value)) => value,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("the call's thread ended without an answer"),
    }
}

/// Lowers the calling thread's priority by [`NICENESS`]. On Linux a thread's nice value is its
/// own; raising it needs no privilege. A failure is harmless: the work then runs at the
/// workers' priority.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: plain system calls on the calling thread, with no pointers.
    unsafe {
        let thread = libc::gettid();
        let _ = libc::setpriority(libc::PRIO_PROCESS, thread as libc::id_t, NICENESS);
    }
}
