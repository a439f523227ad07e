//! Looking up the folder a `POST /session` asks for, off the HTTP workers.
//!
//! Making a cwd canonical asks the filesystem, and a hung mount (NFS, FUSE) can stall that
//! indefinitely; on an HTTP worker it would stall every other connection of that thread. So the
//! lookup runs on tokio's blocking threads, a few at a time daemon-wide, each awaited for a
//! bounded time:
//!
//! - a cwd longer than [`MAX_CWD_BYTES`] is refused before the filesystem is asked;
//! - a request finding all [`MAX_LOOKUPS`] places taken is refused at once, not queued;
//! - a lookup that has not answered within [`LOOKUP_TIMEOUT`] is refused. Its thread, and its
//!   place, stay taken until the filesystem answers: a filesystem that never does holds
//!   [`MAX_LOOKUPS`] threads at most. So a key holder who points cwds at a mount that never
//!   answers (a FUSE filesystem of their own) keeps every place taken, and other requests
//!   naming a cwd get `503` until it answers. Each lookup that times out is logged, with its
//!   path, as a warning.
//!
//! (The blocking threads are the HTTP worker's runtime's. A runtime waits for its blocking
//! threads when dropped, but the daemon does not join its workers' threads when it exits, so a
//! lookup still hung then does not hold the exit up.)

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use super::error::HttpError;
use crate::paths;

/// Longest cwd accepted, in bytes: Linux's `PATH_MAX`; a longer path names no directory.
const MAX_CWD_BYTES: usize = 4096;

/// Most cwds being looked up at once, daemon-wide.
const MAX_LOOKUPS: usize = 8;

/// How long a request waits for its cwd's filesystem.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// The daemon's lookups.
pub static LOOKUPS: CwdLookups = CwdLookups::new(MAX_LOOKUPS, LOOKUP_TIMEOUT);

/// Lookups of requested cwds: how many may be under way, and how long one is awaited.
pub struct CwdLookups {
    places: Semaphore,
    limit: usize,
    timeout: Duration,
}

impl CwdLookups {
    /// At most `limit` lookups at once, each awaited for `timeout`.
    const fn new(limit: usize, timeout: Duration) -> Self {
        Self {
            places: Semaphore::const_new(limit),
            limit,
            timeout,
        }
    }

    /// The requested cwd made canonical ([`paths::resolve_cwd`]): `400` if it names no folder
    /// that can be read, `503` if the filesystem does not answer in time or too many lookups are
    /// under way. (`'static`: a lookup's place goes with it to its blocking thread, which may
    /// outlive the request.)
    pub async fn resolve(&'static self, requested: String) -> Result<Arc<Path>, HttpError> {
        self.resolve_with(requested, paths::resolve_cwd).await
    }

    /// [`Self::resolve`], asking `lookup` on a blocking thread.
    async fn resolve_with(
        &'static self,
        requested: String,
        lookup: impl FnOnce(&str) -> Result<PathBuf, String> + Send + 'static,
    ) -> Result<Arc<Path>, HttpError> {
        if requested.len() > MAX_CWD_BYTES {
            return Err(HttpError::BadRequest(format!(
                "cwd is longer than {MAX_CWD_BYTES} bytes"
            )));
        }
        let place = self.places.try_acquire().map_err(|_| {
            // Not a warning: any client can repeat it at will. The lookups holding the places
            // were warned of when they timed out.
            tracing::debug!(cwd = %requested, "cwd refused: every lookup place is taken");
            HttpError::Unavailable(format!(
                "{} session folders are being looked up already; try again shortly",
                self.limit
            ))
        })?;
        let looked_up = requested.clone();
        let looking = tokio::task::spawn_blocking(move || {
            // Held until the filesystem answers, however long the caller waited.
            let _place = place;
            lookup(&looked_up)
        });
        match tokio::time::timeout(self.timeout, looking).await {
            Ok(Ok(found)) => found.map(Arc::from).map_err(HttpError::BadRequest),
            Ok(Err(failed)) => {
                tracing::error!("looking up a session's cwd failed: {failed}");
                Err(HttpError::Unavailable(
                    "the cwd could not be resolved".into(),
                ))
            }
            Err(_) => {
                tracing::warn!(cwd = %requested, "cwd lookup unanswered: its filesystem hangs");
                Err(HttpError::Unavailable(format!(
                    "the cwd did not resolve within {} s: its filesystem does not answer",
                    self.timeout.as_secs_f64()
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! The refusals a hung filesystem causes, with a lookup that stands in for one: it blocks
    //! until its test lets it go. (A real hung mount needs a FUSE filesystem and privileges.)

    use std::sync::mpsc;
    use std::time::Instant;

    use super::*;

    /// Lookups of their own, leaked for the `'static` their places need.
    fn lookups(limit: usize, timeout: Duration) -> &'static CwdLookups {
        Box::leak(Box::new(CwdLookups::new(limit, timeout)))
    }

    /// A lookup that hangs until the returned sender is dropped, then finds the folder.
    fn hanging() -> (
        mpsc::Sender<()>,
        impl FnOnce(&str) -> Result<PathBuf, String> + Send + 'static,
    ) {
        let (release, released) = mpsc::channel::<()>();
        let lookup = move |requested: &str| {
            let _ = released.recv();
            Ok(PathBuf::from(requested))
        };
        (release, lookup)
    }

    /// Waits (bounded) until `lookups` has `free` places.
    async fn places_free(lookups: &CwdLookups, free: usize) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while lookups.places.available_permits() != free {
            assert!(Instant::now() < deadline, "places never became {free}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// The 503's reason `lookup` answers within 2 s; a lookup still waiting then fails the test
    /// rather than hang it.
    async fn unavailable(lookup: impl Future<Output = Result<Arc<Path>, HttpError>>) -> String {
        let answered = tokio::time::timeout(Duration::from_secs(2), lookup).await;
        match answered.expect("no answer within 2 s") {
            Err(HttpError::Unavailable(reason)) => reason,
            other => panic!("expected a 503, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_lookup_the_filesystem_does_not_answer_in_time_is_a_503_and_keeps_its_place() {
        let lookups = lookups(2, Duration::from_millis(50));
        let (gate, hung) = hanging();
        let reason = unavailable(lookups.resolve_with("/hung".into(), hung)).await;
        assert!(reason.contains("did not resolve within 0.05 s"), "{reason}");
        // The thread still waits on the filesystem, and its place stays taken until it answers.
        assert_eq!(lookups.places.available_permits(), 1);
        drop(gate);
        places_free(lookups, 2).await;
    }

    #[tokio::test]
    async fn a_lookup_beyond_the_limit_is_refused_at_once() {
        let lookups = lookups(1, Duration::from_secs(30));
        let (gate, hung) = hanging();
        let first = tokio::spawn(lookups.resolve_with("/first".into(), hung));
        places_free(lookups, 0).await;
        let second = lookups.resolve_with("/second".into(), |_| {
            panic!("a lookup beyond the limit ran")
        });
        let reason = unavailable(second).await;
        assert!(
            reason.contains("1 session folders are being looked up"),
            "{reason}"
        );
        // Once the filesystem answers, the first is served and its place is free again.
        drop(gate);
        assert_eq!(&*first.await.unwrap().unwrap(), Path::new("/first"));
        places_free(lookups, 1).await;
    }

    #[tokio::test]
    async fn a_lookup_that_panics_is_a_503_and_frees_its_place() {
        let lookups = lookups(1, Duration::from_secs(30));
        let reason =
            unavailable(lookups.resolve_with("/x".into(), |_| panic!("the lookup broke"))).await;
        assert_eq!(reason, "the cwd could not be resolved");
        places_free(lookups, 1).await;
    }

    #[tokio::test]
    async fn a_folder_that_cannot_be_read_is_a_400_and_an_overlong_one_is_never_looked_up() {
        let lookups = lookups(1, Duration::from_secs(30));
        let missing = lookups
            .resolve_with("/missing".into(), |cwd| Err(format!("{cwd} is missing")))
            .await;
        assert!(
            matches!(missing, Err(HttpError::BadRequest(reason)) if reason == "/missing is missing")
        );
        let longest = "/a".repeat(MAX_CWD_BYTES / 2);
        let found = lookups
            .resolve_with(longest.clone(), |cwd| Ok(cwd.into()))
            .await;
        assert_eq!(&*found.unwrap(), Path::new(&longest));
        let refused = lookups
            .resolve_with(longest + "/", |_| panic!("an overlong cwd was looked up"))
            .await;
        assert!(
            matches!(refused, Err(HttpError::BadRequest(reason)) if reason.contains("longer than 4096 bytes"))
        );
    }
}
