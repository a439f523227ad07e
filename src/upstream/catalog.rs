//! The upstream tools the daemon offers, by the names its clients call them: one snapshot,
//! rebuilt whenever a server's tool list changes (it became ready, failed, or sent
//! `notifications/tools/list_changed`).
//!
//! Each connection publishes its own tools; one task follows them all and publishes the merged
//! [`Catalog`] through a `watch` channel. Requests take the current snapshot (an `Arc`) and find
//! their tool in it without asking anyone, so a `tools/list` or a `tools/call` never waits on a
//! server; a server that is down simply has no tools in it. The listing of each tool (its JSON,
//! renamed) is built here once per change, not once per `tools/list`.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::select_all;
use serde_json::Value;
use tokio::sync::watch;

use super::config::Prefix;
use super::connection::{Tools, Upstream};
use super::names::{self, ServerTools};
use super::tool::UpstreamTool;

/// Every upstream tool on offer now, by the name clients call it.
#[derive(Default)]
pub struct Catalog {
    tools: BTreeMap<String, Offered>,
}

/// One tool on offer: where calls go, and how `tools/list` shows it.
struct Offered {
    upstream: Upstream,
    /// The server's own name for it.
    tool: Arc<str>,
    /// Its `tools/list` entry, under the name clients call it.
    listing: Value,
}

impl Catalog {
    /// The tool clients call `name`, if a ready server offers it.
    pub fn get(&self, name: &str) -> Option<UpstreamTool> {
        self.tools.get_key_value(name).map(|(name, offered)| {
            UpstreamTool::new(
                offered.upstream.clone(),
                Arc::clone(&offered.tool),
                name.as_str().into(),
            )
        })
    }

    /// The `tools/list` entries of every tool on offer, by name.
    pub fn listings(&self) -> impl Iterator<Item = &Value> {
        self.tools.values().map(|offered| &offered.listing)
    }

    /// Whether `other` offers the same tools, listed the same: if so, clients need not hear
    /// of the rebuild.
    fn offers_the_same(&self, other: &Catalog) -> bool {
        self.tools.len() == other.tools.len()
            && self
                .tools
                .iter()
                .zip(&other.tools)
                .all(|((name, mine), (other_name, theirs))| {
                    name == other_name && mine.listing == theirs.listing
                })
    }

    /// The catalog of `servers`' current tools, given the built-in tools' names (which no
    /// upstream tool may take).
    fn build(builtin: &[&'static str], servers: &[(Upstream, Prefix)], now: &[Tools]) -> Self {
        let named: Vec<ServerTools<'_>> = servers
            .iter()
            .zip(now)
            .map(|((upstream, prefix), tools)| ServerTools {
                server: upstream.name(),
                prefix: *prefix,
                tools: tools.iter().map(|tool| &*tool.name).collect(),
            })
            .collect();
        let exposed = names::expose(builtin.iter().copied(), &named);
        let mut tools = BTreeMap::new();
        for (name, target) in exposed {
            let Some(index) = servers
                .iter()
                .position(|(upstream, _)| **upstream.name() == *target.server)
            else {
                continue;
            };
            let Some(tool) = now[index].iter().find(|tool| *tool.name == *target.tool) else {
                continue;
            };
            let mut listing = serde_json::to_value(tool).unwrap_or_default();
            if let Value::Object(fields) = &mut listing {
                fields.insert("name".into(), Value::String(name.clone()));
            }
            let offered = Offered {
                upstream: servers[index].0.clone(),
                tool: target.tool.as_str().into(),
                listing,
            };
            tools.insert(name, offered);
        }
        Self { tools }
    }
}

/// Follows `servers`' tool lists and keeps the merged catalog current: the receiver always holds
/// the latest, and is told of a change only when the tools on offer did change (a server
/// that lists the same tools again changes nothing for clients). The task ends when the last
/// receiver is dropped, and with it the handles it holds, so the connections stop when the
/// daemon drops its catalog.
pub fn follow(
    builtin: Vec<&'static str>,
    servers: Vec<(Upstream, Prefix)>,
) -> watch::Receiver<Arc<Catalog>> {
    let mut watches: Vec<watch::Receiver<Tools>> = servers
        .iter()
        .map(|(upstream, _)| upstream.tools())
        .collect();
    let (publish, catalog) = watch::channel(Arc::new(rebuild(&builtin, &servers, &mut watches)));
    if servers.is_empty() {
        return catalog;
    }
    tokio::spawn(async move {
        loop {
            let changed = select_all(watches.iter_mut().map(|tools| Box::pin(tools.changed())));
            tokio::select! {
                () = publish.closed() => break,
                (changed, _, _) = changed => if changed.is_err() { break },
            }
            let rebuilt = rebuild(&builtin, &servers, &mut watches);
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

/// The catalog of the tool lists in `watches`, each marked seen.
fn rebuild(
    builtin: &[&'static str],
    servers: &[(Upstream, Prefix)],
    watches: &mut [watch::Receiver<Tools>],
) -> Catalog {
    let now: Vec<Tools> = watches
        .iter_mut()
        .map(|tools| tools.borrow_and_update().clone())
        .collect();
    Catalog::build(builtin, servers, &now)
}
