//! Waiting, in a `select!`, on work that may not be under way: a refresh, a retry's backoff, a
//! stream being opened. One of a connection's or a listener's branches waits on an
//! `Option<future>`: when there is none, the branch simply never fires.

use std::future::Future;

/// What `future` gives, once it does; never when there is none.
pub async fn when<F: Future + Unpin>(future: &mut Option<F>) -> F::Output {
    match future {
        Some(future) => future.await,
        None => std::future::pending().await,
    }
}
