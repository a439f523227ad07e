//! `ProgressSink`: how a running tool reports progress, to its caller and to the session.
//!
//! One report goes two ways: to the call's own stream (bounded; when the caller reads slowly,
//! reports are dropped for it, since progress is advisory) and, as a `ProgressEvent`, to the
//! session actor, which fans it out to every follower. The session leg waits for mailbox room so
//! that a tool reporting in a tight loop is slowed rather than allowed to flood the actor; the
//! wait is bounded, after which the report is dropped for the followers.

use std::time::Duration;

use actix::Addr;
use chrono::Utc;
use construct_actors::{ProgressEvent, ProgressToken, Publish, SessionActor};
use tokio::sync::mpsc;

/// How long one report may wait for room in the session's mailbox.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(1);

/// One progress report of a call.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// Work done so far.
    pub progress: u64,
    /// Total work, when known.
    pub total: Option<u64>,
    /// What is happening now.
    pub message: Option<String>,
}

/// The reporting end handed to a running tool.
pub struct ProgressSink {
    token: ProgressToken,
    tool: &'static str,
    call: mpsc::Sender<Progress>,
    session: Addr<SessionActor>,
}

impl ProgressSink {
    /// A sink for one call of `tool`, identified to followers by `token`.
    pub fn new(
        token: ProgressToken,
        tool: &'static str,
        call: mpsc::Sender<Progress>,
        session: Addr<SessionActor>,
    ) -> Self {
        Self {
            token,
            tool,
            call,
            session,
        }
    }

    /// Reports progress to the caller and the session's followers.
    pub async fn report(&self, progress: Progress) {
        let event = ProgressEvent {
            token: self.token.clone(),
            progress: progress.progress,
            total: progress.total,
            message: progress.message.clone(),
            tool: Some(self.tool.to_owned()),
            timestamp: Utc::now(),
        };
        // A full queue means the caller is not reading; a closed one means it left.
        let _ = self.call.try_send(progress);
        let published = self
            .session
            .send(Publish(event.serialize()))
            .timeout(PUBLISH_TIMEOUT)
            .await;
        if let Err(err) = published {
            tracing::debug!(tool = self.tool, %err, "progress event not published");
        }
    }
}
