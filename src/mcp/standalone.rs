//! What a 2025-11-25 session's standalone stream (`GET /mcp`) carries: the daemon's own
//! notifications that belong to no request. That is each list's change (tools, prompts,
//! resources) and the updates of the resources the session subscribed to, which go to its
//! newest open standalone stream alone (a message goes on one stream, never on several).

use futures::stream::{self, BoxStream};
use futures::{Stream, StreamExt as _};

use crate::mcp::changes;
use crate::upstream::{Listing, SessionRef, Upstreams};

/// The messages of a new standalone stream of `session`, as text.
pub async fn messages(
    upstreams: &Upstreams,
    session: SessionRef,
) -> impl Stream<Item = String> + 'static {
    let lists = [Listing::Tools, Listing::Prompts, Listing::Resources].map(|listing| {
        changes::list_changes(upstreams, listing, Some(session.clone()), None).boxed()
    });
    let SessionRef {
        id: session, ended, ..
    } = session;
    let updates: BoxStream<'static, String> = match upstreams
        .subscriptions()
        .attach(session, ended)
        .await
    {
        Some(updates) => changes::resource_updates(updates, None).boxed(),
        None => {
            tracing::warn!(%session, "this standalone stream goes without resource updates: the keeper of subscriptions is busy");
            stream::pending().boxed()
        }
    };
    stream::select(stream::select_all(lists), updates)
}
