//! What the upstream servers offer through the daemon, by the names and URIs its clients use:
//! one snapshot of their tools, prompts and resources, rebuilt whenever a server's lists change
//! (it became ready, failed, or sent a `list_changed` notification).
//!
//! Each connection publishes its own tools and lists; one task follows them all and publishes
//! the merged [`Catalog`] through a `watch` channel. Requests take the current snapshot (an
//! `Arc`) and find what they need in it without asking anyone, so a list, a `tools/call` or a
//! `prompts/get` never waits on a server to be found; a server that is down simply has nothing
//! in it. Each listing (its JSON, renamed) is built here once per change, not once per request.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use futures::future::select_all;
use rmcp::model::Prompt;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::watch;

use super::config::Prefix;
use super::connection::{Tools, Upstream};
use super::error::UpstreamError;
use super::lists::SharedLists;
use super::names::{self, OwnName, ServerItems};
use super::resources::Resources;
use super::tool::UpstreamTool;

/// Everything the upstream servers offer now.
#[derive(Default)]
pub struct Catalog {
    /// How many servers are configured (ready or not).
    servers: usize,
    tools: BTreeMap<String, Offered>,
    prompts: BTreeMap<String, Offered>,
    resources: Resources,
    /// Servers the caller may not reach now, and why (a session over a server's
    /// `max_sessions`): their tools are not on offer, and a call naming one fails saying so.
    refused: Vec<UpstreamError>,
}

/// One of the lists whose changes clients are told of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    /// `tools/list`.
    Tools,
    /// `prompts/list`.
    Prompts,
    /// `resources/list` and `resources/templates/list`.
    Resources,
}

/// One tool or prompt on offer: where requests go, and how its list shows it.
struct Offered {
    upstream: Upstream,
    /// Whether its server is ready: only then is it listed.
    up: bool,
    /// The server's own name for it.
    own: Arc<str>,
    /// Its list entry, under the name clients know it by.
    listing: Value,
}

impl Catalog {
    /// The tool clients call `name`, if a ready server offers it.
    pub fn get(&self, name: &str) -> Option<UpstreamTool> {
        self.tools.get_key_value(name).map(|(name, offered)| {
            UpstreamTool::new(
                offered.upstream.clone(),
                Arc::clone(&offered.own),
                name.as_str().into(),
            )
        })
    }

    /// The `tools/list` entries of every tool on offer, by name.
    pub fn listings(&self) -> impl Iterator<Item = &Value> {
        self.tools.values().map(|offered| &offered.listing)
    }

    /// Whether any upstream server is configured: then the daemon offers resources and prompts
    /// (whatever is ready now), and otherwise answers their methods as unknown.
    pub fn has_servers(&self) -> bool {
        self.servers > 0
    }

    /// Why `name` cannot be called, when it names (`<server>__<tool>`) a tool of a server the
    /// caller may not reach now.
    pub fn refusal(&self, name: &str) -> Option<&UpstreamError> {
        self.refused
            .iter()
            .find(|refused| names::prefixed_by(name, &refused.server))
    }

    /// The prompt clients call `name`: its server and the server's own name for it (the server
    /// may be down: asking it then says so).
    pub fn prompt(&self, name: &str) -> Option<(&Upstream, &str)> {
        self.prompts
            .get(name)
            .map(|offered| (&offered.upstream, &*offered.own))
    }

    /// The `prompts/list` entries of every prompt on offer, by name.
    pub fn prompt_listings(&self) -> impl Iterator<Item = &Value> {
        self.prompts
            .values()
            .filter(|offered| offered.up)
            .map(|offered| &offered.listing)
    }

    /// The resources and templates on offer, and where reads go.
    pub fn resources(&self) -> &Resources {
        &self.resources
    }

    /// Whether `other` lists the same `listing`, the same way: if so, clients need not hear of
    /// the rebuild (`notifications/tools/list_changed` and the like).
    pub fn lists_the_same(&self, other: &Catalog, listing: Listing) -> bool {
        match listing {
            Listing::Tools => same(&self.tools, &other.tools),
            Listing::Prompts => same(&self.prompts, &other.prompts),
            Listing::Resources => self.resources.lists_the_same(&other.resources),
        }
    }

    /// Whether `other` offers the same, in every list and every route: if so, it need not be
    /// published.
    fn offers_the_same(&self, other: &Catalog) -> bool {
        self.servers == other.servers
            && same(&self.tools, &other.tools)
            && same(&self.prompts, &other.prompts)
            && self.resources == other.resources
    }

    /// The catalog of `servers`' current tools and lists, given the built-in tools' names
    /// (which no upstream tool may take).
    fn build(
        builtin: &[&'static str],
        servers: &[(Upstream, Prefix)],
        tools: &[Tools],
        lists: &[SharedLists],
        refused: &[UpstreamError],
    ) -> Self {
        let prompts: Vec<&[Prompt]> = lists.iter().map(|lists| &lists.prompts[..]).collect();
        let tools: Vec<&[rmcp::model::Tool]> = tools.iter().map(|tools| &tools[..]).collect();
        let up: Vec<bool> = lists.iter().map(|lists| lists.up).collect();
        let upstreams: Vec<Upstream> = servers
            .iter()
            .map(|(upstream, _)| upstream.clone())
            .collect();
        Self {
            servers: servers.len(),
            tools: offer("tool", builtin, servers, &tools, &vec![true; tools.len()]),
            prompts: offer("prompt", &[], servers, &prompts, &up),
            resources: Resources::build(&upstreams, lists),
            refused: refused.to_vec(),
        }
    }
}

/// The `items` of each of `servers` (of one `kind`) under the names clients know them by; those
/// of a server that is not `up` are kept (requests for them say it is down) but not listed.
fn offer<T: OwnName + Serialize>(
    kind: &str,
    builtin: &[&str],
    servers: &[(Upstream, Prefix)],
    items: &[&[T]],
    up: &[bool],
) -> BTreeMap<String, Offered> {
    let named: Vec<ServerItems<'_, T>> = servers
        .iter()
        .zip(items)
        .map(|((upstream, prefix), items)| ServerItems {
            server: upstream.name(),
            prefix: *prefix,
            items,
        })
        .collect();
    names::expose(kind, builtin, &named)
        .into_iter()
        .map(|(name, target)| {
            let offered = Offered {
                upstream: servers[target.server].0.clone(),
                up: up[target.server],
                own: target.item.own_name().into(),
                listing: names::listing(target.item, &name),
            };
            (name, offered)
        })
        .collect()
}

/// Whether `mine` and `theirs` offer the same names, listed the same, from servers in the same
/// state.
fn same(mine: &BTreeMap<String, Offered>, theirs: &BTreeMap<String, Offered>) -> bool {
    mine.len() == theirs.len()
        && mine
            .iter()
            .zip(theirs)
            .all(|((name, mine), (other, theirs))| {
                name == other && mine.up == theirs.up && mine.listing == theirs.listing
            })
}

/// The servers a catalog is made of, in name order, with their prefixes.
pub type ServerSet = Arc<[(Upstream, Prefix)]>;

/// What one server publishes: its tools and its other lists.
type Watches = (watch::Receiver<Tools>, watch::Receiver<SharedLists>);

/// Follows the servers of `servers` (a set that may change, by a reload) and their tools and
/// lists, and keeps the merged catalog current: the receiver always holds the latest, with the
/// `refused` servers named, and is told of a change only when what is on offer did change (a
/// server that lists the same again changes nothing for clients). The task ends when the last
/// receiver is dropped; the connections are their owners' to stop (the fleet's, the keeper of
/// the sessions' servers).
pub fn follow(
    builtin: Arc<[&'static str]>,
    mut servers: watch::Receiver<ServerSet>,
    refused: Vec<UpstreamError>,
) -> watch::Receiver<Arc<Catalog>> {
    let mut set = servers.borrow_and_update().clone();
    let mut watches = watches_of(&set);
    let first = rebuild(&builtin, &set, &refused, &mut watches);
    let (publish, catalog) = watch::channel(Arc::new(first));
    tokio::spawn(async move {
        // A set that can no longer change (its sender is gone) is simply kept.
        let mut set_may_change = true;
        loop {
            tokio::select! {
                () = publish.closed() => break,
                changed = servers.changed(), if set_may_change => match changed {
                    Ok(()) => {
                        set = servers.borrow_and_update().clone();
                        watches = watches_of(&set);
                    }
                    Err(_) => {
                        set_may_change = false;
                        continue;
                    }
                },
                () = any_changed(&mut watches) => {}
            }
            let rebuilt = rebuild(&builtin, &set, &refused, &mut watches);
            publish.send_if_modified(|current| {
                let changed = !current.offers_the_same(&rebuilt);
                if changed {
                    *current = Arc::new(rebuilt);
                }
                changed
            });
        }
    });
    catalog
}

/// What each server of `set` publishes.
fn watches_of(set: &[(Upstream, Prefix)]) -> Vec<Watches> {
    set.iter()
        .map(|(upstream, _)| (upstream.tools(), upstream.lists()))
        .collect()
}

/// Resolves when one of `watches` changed, or its connection stopped (then it is left out of
/// the next waits); never, while none can change.
async fn any_changed(watches: &mut [Watches]) {
    let changes: Vec<Pin<Box<dyn Future<Output = _> + Send + '_>>> = watches
        .iter_mut()
        .filter(|(tools, lists)| tools.has_changed().is_ok() && lists.has_changed().is_ok())
        .flat_map(|(tools, lists)| {
            let changes: [Pin<Box<dyn Future<Output = _> + Send + '_>>; 2] =
                [Box::pin(tools.changed()), Box::pin(lists.changed())];
            changes
        })
        .collect();
    if changes.is_empty() {
        return std::future::pending().await;
    }
    // A stopped connection (an error) counts as a change: its last lists are read once more,
    // and it is left out of the next waits; its owner takes it out of the set.
    let _ = select_all(changes).await;
}

/// The catalog of the tools and lists in `watches`, each marked seen, and of the `refused`
/// servers.
fn rebuild(
    builtin: &[&'static str],
    servers: &[(Upstream, Prefix)],
    refused: &[UpstreamError],
    watches: &mut [Watches],
) -> Catalog {
    let (tools, lists): (Vec<Tools>, Vec<SharedLists>) = watches
        .iter_mut()
        .map(|(tools, lists)| {
            (
                tools.borrow_and_update().clone(),
                lists.borrow_and_update().clone(),
            )
        })
        .unzip();
    Catalog::build(builtin, servers, &tools, &lists, refused)
}
