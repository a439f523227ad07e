//! How the daemon stops once something tells it to: whatever resolves the future it is given (a
//! signal, for the binary; a test's channel), never a signal handled here.
//!
//! Sessions run on the HTTP workers' threads, and actix stops an idle worker (its sessions with
//! it) as soon as the server stops. So the daemon first stops accepting, closes the sessions'
//! event streams, and lets the running calls finish within the grace period; the calls still
//! running then end with an error response, which their clients get before the connections
//! close. Only then does the server stop.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use actix::Addr;
use actix_web::dev::ServerHandle;
use construct_actors::{ASK_TIMEOUT, SessionRegistry};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::http::AppState;

/// How long the calls stopped after the grace period have to send their error responses before
/// the connections close.
const STOPPED_CALLS_WAIT: Duration = Duration::from_secs(1);

/// The graceful shutdown of one running server: what it acts on, and how long it waits.
pub struct Shutdown {
    server: ServerHandle,
    registry: Addr<SessionRegistry>,
    call_slots: Arc<Semaphore>,
    /// Every permit of `call_slots`: all of them free means no call is running.
    all_calls: u32,
    stopping: CancellationToken,
    grace: Duration,
}

impl Shutdown {
    /// The shutdown of `server`, which serves `state`.
    pub fn new(server: ServerHandle, state: &AppState) -> Self {
        Self {
            server,
            registry: state.registry.clone(),
            call_slots: Arc::clone(&state.call_slots),
            all_calls: u32::try_from(state.config.tools.max_concurrent_calls).unwrap_or(u32::MAX),
            stopping: state.stopping.clone(),
            grace: state.config.server.shutdown_grace,
        }
    }

    /// Waits for `trigger` to resolve, then stops the server gracefully.
    pub async fn after(self, trigger: impl Future<Output = ()>) {
        trigger.await;
        tracing::info!("shutting down");
        self.server.pause().await;
        // Ends every session's event streams; the sessions themselves stay for their calls.
        let _ = self
            .registry
            .send(construct_actors::Shutdown)
            .timeout(ASK_TIMEOUT)
            .await;
        if !self.calls_end_within(self.grace).await {
            // The grace period is over: the calls still running end with an error response.
            self.stopping.cancel();
            self.calls_end_within(STOPPED_CALLS_WAIT).await;
        }
        self.server.stop(true).await;
    }

    /// Whether every running call ends within `wait`.
    async fn calls_end_within(&self, wait: Duration) -> bool {
        tokio::time::timeout(wait, self.call_slots.acquire_many(self.all_calls))
            .await
            .is_ok()
    }
}
