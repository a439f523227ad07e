//! Every page of a server's list, bounded in count: a server that pages on and on (or hands out
//! a cursor forever) is cut off at [`MAX_ITEMS`] items, with a warning, rather than listed until
//! memory runs out. Each page is already bounded in bytes by the server's `max_message_bytes`,
//! and the whole listing in time by its caller's timeout.

use std::future::Future;

use rmcp::ServiceError;
use rmcp::model::{
    ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult, ListToolsResult,
    PaginatedRequestParams,
};

/// Most items kept of one list of one server.
pub const MAX_ITEMS: usize = 4096;

/// One page of a list: its items and the cursor of the next page.
pub trait Page {
    /// What the list holds.
    type Item;
    /// Its items, and the cursor of the next page (none: the last page).
    fn split(self) -> (Vec<Self::Item>, Option<String>);
}

macro_rules! page {
    ($result:ty, $items:ident, $item:ty) => {
        impl Page for $result {
            type Item = $item;
            fn split(self) -> (Vec<$item>, Option<String>) {
                (self.$items, self.next_cursor)
            }
        }
    };
}

page!(ListToolsResult, tools, rmcp::model::Tool);
page!(ListPromptsResult, prompts, rmcp::model::Prompt);
page!(ListResourcesResult, resources, rmcp::model::Resource);
page!(
    ListResourceTemplatesResult,
    resource_templates,
    rmcp::model::ResourceTemplate
);

/// The items of every page `fetch` gives for `method` of `server`, at most [`MAX_ITEMS`].
pub async fn all<P, F, Fut>(
    server: &str,
    method: &str,
    mut fetch: F,
) -> Result<Vec<P::Item>, ServiceError>
where
    P: Page,
    F: FnMut(Option<PaginatedRequestParams>) -> Fut,
    Fut: Future<Output = Result<P, ServiceError>>,
{
    let mut items = Vec::new();
    let mut cursor = None;
    loop {
        let mut params = PaginatedRequestParams::default();
        params.cursor = cursor;
        let (page, next) = fetch(Some(params)).await?.split();
        items.extend(page);
        if items.len() > MAX_ITEMS {
            tracing::warn!(
                server,
                method,
                kept = MAX_ITEMS,
                "list cut: the server lists too many"
            );
            items.truncate(MAX_ITEMS);
            return Ok(items);
        }
        match next {
            Some(next) => cursor = Some(next),
            None => return Ok(items),
        }
    }
}
