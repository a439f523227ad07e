//! The upstream servers' resources and resource templates as the daemon offers them, and which
//! server a `resources/read` goes to.
//!
//! URIs are the servers' own, never rewritten: they already name their server's scheme and
//! path, and servers hand them out in tool results (`resource_link`), embedded resources and
//! prompts, which a client must be able to read back as they are. A read goes to:
//! 1. the server that lists the URI (if two list the same URI, the first by name; the other's
//!    is not offered, and a warning says so);
//! 2. otherwise the server with a template whose literal start (up to its first `{`) is the
//!    longest start of the URI (the server checks the rest, and answers not found itself);
//! 3. otherwise, when only one server offers resources at all, that one (it may serve URIs it
//!    does not list, such as those its tools hand out);
//! 4. otherwise nobody: the read is answered as not found.
//!
//! A server that is down keeps its routes (its last lists), so that a read of one of its URIs is
//! answered as the server being down, not as an unknown URI; its resources are not listed.
//!
//! A `resources/subscribe` goes where a read of the same URI would, if that server takes
//! subscriptions (see `Lists::subscribable`).

use std::collections::HashMap;

use serde_json::Value;

use super::connection::Upstream;
use super::lists::{Lists, SharedLists};

/// Every ready server's resources and templates.
#[derive(Default)]
pub struct Resources {
    /// The servers, in name order.
    servers: Vec<Upstream>,
    /// Where reads go, by index in `servers`.
    routes: Routes,
    /// The `resources/list` entries.
    listings: Vec<Value>,
    /// The `resources/templates/list` entries.
    template_listings: Vec<Value>,
}

/// Where reads go: servers by their index.
#[derive(Default, PartialEq)]
struct Routes {
    /// Each listed URI, to the server that lists it.
    by_uri: HashMap<String, usize>,
    /// Each template's literal start and its server, longest first.
    templates: Vec<(String, usize)>,
    /// The servers that offer resources.
    offering: Vec<usize>,
    /// The servers that take subscriptions.
    subscribable: Vec<usize>,
}

/// Why a subscription to a URI cannot be taken.
pub enum Unsubscribable<'a> {
    /// No server lists it or has a template for it.
    Unknown,
    /// The server it belongs to does not take subscriptions.
    Refused(&'a Upstream),
}

/// The same resources and routes (of the same servers: a catalog's are fixed).
impl PartialEq for Resources {
    fn eq(&self, other: &Self) -> bool {
        self.routes == other.routes
            && self.listings == other.listings
            && self.template_listings == other.template_listings
    }
}

impl Resources {
    /// The resources of `servers` (in name order), given each one's lists.
    pub fn build(servers: &[Upstream], lists: &[SharedLists]) -> Self {
        let mut merged = Self {
            servers: servers.to_vec(),
            ..Self::default()
        };
        for (index, lists) in lists.iter().enumerate() {
            let name = servers[index].name();
            for resource in &lists.resources {
                if let Some(&first) = merged.routes.by_uri.get(&resource.uri) {
                    let first = servers[first].name();
                    tracing::warn!(server = %name, uri = %resource.uri, %first, "resource not offered: another server lists its URI");
                    continue;
                }
                if lists.up {
                    merged.listings.push(to_json(resource));
                }
            }
            if lists.up {
                merged
                    .template_listings
                    .extend(lists.templates.iter().map(to_json));
            }
            merged.routes.add(index, lists);
        }
        merged.routes.sort();
        merged
    }

    /// The server a `resources/read` of `uri` goes to, if any.
    pub fn server_of(&self, uri: &str) -> Option<&Upstream> {
        self.routes.server_of(uri).map(|index| &self.servers[index])
    }

    /// The server a `resources/subscribe` of `uri` goes to: the one its reads go to, when that
    /// one takes subscriptions.
    pub fn subscription_route(&self, uri: &str) -> Result<&Upstream, Unsubscribable<'_>> {
        let index = self.routes.server_of(uri).ok_or(Unsubscribable::Unknown)?;
        match self.routes.subscribable.contains(&index) {
            true => Ok(&self.servers[index]),
            false => Err(Unsubscribable::Refused(&self.servers[index])),
        }
    }

    /// Whether any server takes subscriptions (as it said when it was last ready).
    pub fn subscribable(&self) -> bool {
        !self.routes.subscribable.is_empty()
    }

    /// The servers, in name order: those whose resources these are.
    pub fn servers(&self) -> &[Upstream] {
        &self.servers
    }

    /// Whether `other` lists the same resources and templates (whatever its routes): if so,
    /// clients need not hear of the rebuild (`notifications/resources/list_changed`).
    pub fn lists_the_same(&self, other: &Resources) -> bool {
        self.listings == other.listings && self.template_listings == other.template_listings
    }

    /// The `resources` array of a `resources/list` result.
    pub fn listings(&self) -> &[Value] {
        &self.listings
    }

    /// The `resourceTemplates` array of a `resources/templates/list` result.
    pub fn template_listings(&self) -> &[Value] {
        &self.template_listings
    }
}

impl Routes {
    /// Adds the server `index`'s routes, after those of the servers before it.
    fn add(&mut self, index: usize, lists: &Lists) {
        if lists.offers_resources {
            self.offering.push(index);
        }
        if lists.subscribable {
            self.subscribable.push(index);
        }
        for resource in &lists.resources {
            self.by_uri.entry(resource.uri.clone()).or_insert(index);
        }
        for template in &lists.templates {
            let start = literal_start(&template.uri_template).to_owned();
            self.templates.push((start, index));
        }
    }

    /// Puts the longest template starts first; among equal ones, the first server stays first.
    fn sort(&mut self) {
        self.templates
            .sort_by_key(|(start, _)| std::cmp::Reverse(start.len()));
    }

    fn server_of(&self, uri: &str) -> Option<usize> {
        if let Some(&index) = self.by_uri.get(uri) {
            return Some(index);
        }
        let templated = self
            .templates
            .iter()
            .find(|(start, _)| uri.starts_with(start.as_str()));
        match (templated, self.offering.as_slice()) {
            (Some(&(_, index)), _) => Some(index),
            (None, &[only]) => Some(only),
            (None, _) => None,
        }
    }
}

/// What a template's URIs start with: its text up to its first expression.
fn literal_start(template: &str) -> &str {
    template.split('{').next().unwrap_or_default()
}

fn to_json(item: &impl serde::Serialize) -> Value {
    serde_json::to_value(item).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_templates_literal_start_ends_at_its_first_expression() {
        assert_eq!(
            literal_start("demo://resource/dynamic/text/{resourceId}"),
            "demo://resource/dynamic/text/"
        );
        assert_eq!(literal_start("file:///{+path}{?q}"), "file:///");
        assert_eq!(literal_start("{+uri}"), "");
        assert_eq!(literal_start("static://x"), "static://x");
    }

    fn lists(resources: &[&str], templates: &[&str]) -> Lists {
        let resource = |uri: &&str| rmcp::model::Resource::new(*uri, "r");
        let template = |uri: &&str| rmcp::model::ResourceTemplate::new(*uri, "t");
        Lists {
            up: true,
            offers_resources: true,
            subscribable: false,
            listens: false,
            resources: resources.iter().map(resource).collect(),
            templates: templates.iter().map(template).collect(),
            prompts: Vec::new(),
        }
    }

    fn routes(servers: &[Lists]) -> Routes {
        let mut routes = Routes::default();
        for (index, lists) in servers.iter().enumerate() {
            routes.add(index, lists);
        }
        routes.sort();
        routes
    }

    #[test]
    fn a_listed_uri_goes_to_its_first_lister_then_the_longest_template_start_wins() {
        let routes = routes(&[
            lists(&["demo://a", "shared://x"], &["demo://{+path}"]),
            lists(&["shared://x"], &["demo://deep/{id}", "{+any}"]),
        ]);
        assert_eq!(routes.server_of("shared://x"), Some(0));
        assert_eq!(routes.server_of("demo://a"), Some(0));
        assert_eq!(routes.server_of("demo://deep/7"), Some(1));
        assert_eq!(routes.server_of("demo://other"), Some(0));
        assert_eq!(routes.server_of("elsewhere://z"), Some(1), "the catch-all");
    }

    #[test]
    fn an_unmatched_uri_goes_to_the_only_server_offering_resources_or_nowhere() {
        let one = routes(&[lists(&["a://1"], &[])]);
        assert_eq!(one.server_of("a://unlisted"), Some(0));
        let two = routes(&[lists(&["a://1"], &[]), lists(&["b://1"], &[])]);
        assert_eq!(two.server_of("c://1"), None);
    }
}
