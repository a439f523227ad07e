//! Running synchronous work (file-system walks, searches) off the async workers, with progress.
//!
//! The work runs on tokio's blocking pool, so it cannot stall the HTTP workers. It reports
//! progress through a small bounded queue that the call's task forwards to the [`ProgressSink`];
//! a report that finds the queue full is dropped (the next one supersedes it). It must poll
//! [`Blocking::cancelled`] between steps, because a blocking thread cannot be stopped from
//! outside. A panic in the work panics the call's task, which the runner turns into `-32603`.

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{CallContext, Progress};

/// Reports waiting to be forwarded; a few are enough, since each supersedes the last.
const QUEUE: usize = 8;

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

/// Runs `work` on the blocking pool, forwarding its progress, and returns its result.
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
    let handle = tokio::task::spawn_blocking(move || work(&blocking));
    while let Some(progress) = receiver.recv().await {
        ctx.progress.report(progress).await;
    }
    match handle.await {
        Ok(value) => value,
        Err(err) => match err.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(err) => panic!("blocking work did not finish: {err}"),
        },
    }
}
