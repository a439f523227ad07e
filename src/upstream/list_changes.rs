//! When a list on offer changes: in the daemon's catalog (the shared servers'), or in one
//! session's, which also holds its own servers' (`scope = "session"`). The keeper of those
//! servers replaces a session's catalog when they start, when a reload restarts them, or when
//! one refused for `max_sessions` gets its turn. What `notifications/…/list_changed` is sent on.
//!
//! A catalog is rebuilt whenever any of its lists changes; only a change of the one list
//! followed counts, and a burst of changes may be told once (the notification only says "list
//! again").

use std::sync::Arc;

use futures::Stream;
use tokio::sync::watch;

use super::catalog::{Catalog, Listing};
use super::session_servers::Followed;

/// One item each time `listing` changes in `catalog`.
pub fn of_catalog(
    catalog: watch::Receiver<Arc<Catalog>>,
    listing: Listing,
) -> impl Stream<Item = ()> + 'static {
    Following::new(catalog, None).changes(listing)
}

/// One item each time `listing` changes for a session: in the daemon's `shared` catalog until
/// the session's own is made, then in the session's, as `session` replaces it.
pub fn of_session(
    shared: watch::Receiver<Arc<Catalog>>,
    session: Followed,
    listing: Listing,
) -> impl Stream<Item = ()> + 'static {
    Following::new(shared, Some(session)).changes(listing)
}

/// What a change stream follows, and the catalog it last compared.
struct Following {
    shared: watch::Receiver<Arc<Catalog>>,
    session: Option<Followed>,
    /// The session's own catalog, once it has one.
    own: Option<watch::Receiver<Arc<Catalog>>>,
    seen: Arc<Catalog>,
}

impl Following {
    fn new(shared: watch::Receiver<Arc<Catalog>>, session: Option<Followed>) -> Self {
        let seen = Arc::clone(&shared.borrow());
        Self {
            shared,
            session,
            own: None,
            seen,
        }
    }

    fn changes(self, listing: Listing) -> impl Stream<Item = ()> + 'static {
        futures::stream::unfold(self, move |mut following| async move {
            loop {
                following.changed().await?;
                let now = following.current();
                let same = now.lists_the_same(&following.seen, listing);
                following.seen = now;
                if !same {
                    return Some(((), following));
                }
            }
        })
    }

    /// The catalog on offer now (the session's own, once it has one), every change so far
    /// marked seen.
    fn current(&mut self) -> Arc<Catalog> {
        let shared = Arc::clone(&self.shared.borrow_and_update());
        match &mut self.own {
            Some(own) => Arc::clone(&own.borrow_and_update()),
            None => shared,
        }
    }

    /// Resolves when something followed changed; `None` once nothing can.
    async fn changed(&mut self) -> Option<()> {
        tokio::select! {
            Ok(()) = self.shared.changed() => {}
            Ok(()) = changed(&mut self.own) => {}
            replaced = changed(&mut self.session) => {
                replaced.ok()?;
                let session = self.session.as_mut()?.borrow_and_update().clone();
                self.own = match session {
                    Some(catalog) => Some(catalog.followed().await.clone()),
                    None => None,
                };
            }
            else => return None,
        }
        Some(())
    }
}

/// A change of `watched`, when there is one; never otherwise.
async fn changed<T>(
    watched: &mut Option<watch::Receiver<T>>,
) -> Result<(), watch::error::RecvError> {
    match watched {
        Some(watched) => watched.changed().await,
        None => std::future::pending().await,
    }
}
