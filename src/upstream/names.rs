//! The names the daemon's clients know upstream tools and prompts by: each server's `prefix`
//! applied, so that nothing a server offers shadows a built-in tool or another server's offer.
//!
//! Built-in tools keep their names. Then, in server-name order: `always` gives
//! `<server>__<name>`; `never` gives the server's own name, unless it is taken (the item is then
//! not offered); `on_collision` gives the own name unless a built-in tool, or any other server's
//! item of the same kind, has it too, and `<server>__<name>` otherwise. A name still taken after
//! that is not offered, and a warning says so. Tools and prompts are named apart: a prompt may
//! share a tool's name.

use std::collections::{BTreeMap, HashMap};

use rmcp::model::{Prompt, Tool};
use serde::Serialize;
use serde_json::Value;

use super::config::Prefix;

/// Between a server's name and its item's in a prefixed name.
pub const SEPARATOR: &str = "__";

/// Whether `name` has the form of `server`'s prefixed names (`<server>__…`).
pub fn prefixed_by(name: &str, server: &str) -> bool {
    name.strip_prefix(server)
        .is_some_and(|rest| rest.starts_with(SEPARATOR))
}

/// What a server offers under a name of its own (a tool, a prompt).
pub trait OwnName {
    /// The server's own name for it.
    fn own_name(&self) -> &str;
}

impl OwnName for Tool {
    fn own_name(&self) -> &str {
        &self.name
    }
}

impl OwnName for Prompt {
    fn own_name(&self) -> &str {
        &self.name
    }
}

impl OwnName for &str {
    fn own_name(&self) -> &str {
        self
    }
}

/// One server's items of one kind, as [`expose`] needs them.
pub struct ServerItems<'a, T> {
    /// The server's name.
    pub server: &'a str,
    /// How its items are named.
    pub prefix: Prefix,
    /// Its items (those it offers).
    pub items: &'a [T],
}

/// Where an exposed name leads: the server (its index among those given) and its item.
#[derive(Debug)]
pub struct Target<'a, T> {
    /// The server's index in the slice given to [`expose`].
    pub server: usize,
    /// The item, under the server's own name.
    pub item: &'a T,
}

/// Every item's exposed name and where it leads, given the names no item may take (the built-in
/// tools'); `kind` ("tool", "prompt") names them in warnings.
pub fn expose<'a, T: OwnName>(
    kind: &str,
    builtin: &[&str],
    servers: &[ServerItems<'a, T>],
) -> BTreeMap<String, Target<'a, T>> {
    let offered_by = servers_offering(servers);
    let shared = |own: &str, server: &str| {
        builtin.contains(&own)
            || offered_by
                .get(own)
                .is_some_and(|offering| offering.iter().any(|other| *other != server))
    };
    // `<other server>__…` is that server's to give, whatever order the servers come in.
    let reserved = |own: &str, server: &str| {
        servers
            .iter()
            .any(|other| other.server != server && prefixed_by(own, other.server))
    };
    let mut exposed = BTreeMap::new();
    for (index, server) in servers.iter().enumerate() {
        for item in server.items {
            let own = item.own_name();
            let prefixed = || format!("{}{SEPARATOR}{own}", server.server);
            let name = match server.prefix {
                Prefix::Always => prefixed(),
                Prefix::Never if reserved(own, server.server) => String::new(),
                Prefix::Never => own.to_owned(),
                Prefix::OnCollision
                    if shared(own, server.server) || reserved(own, server.server) =>
                {
                    prefixed()
                }
                Prefix::OnCollision => own.to_owned(),
            };
            if name.is_empty() || builtin.contains(&name.as_str()) || exposed.contains_key(&name) {
                tracing::warn!(server = server.server, kind, own, %name, "not offered: its name is taken");
                continue;
            }
            exposed.insert(
                name,
                Target {
                    server: index,
                    item,
                },
            );
        }
    }
    exposed
}

/// Each name any of `servers` offers, and the servers offering it (in one pass: a catalog may
/// hold thousands of items, and comparing each with every other would be quadratic).
fn servers_offering<'a, T: OwnName>(
    servers: &[ServerItems<'a, T>],
) -> HashMap<&'a str, Vec<&'a str>> {
    let mut offered_by: HashMap<&str, Vec<&str>> = HashMap::new();
    for server in servers {
        for item in server.items {
            let offering = offered_by.entry(item.own_name()).or_default();
            if offering.last() != Some(&server.server) {
                offering.push(server.server);
            }
        }
    }
    offered_by
}

/// `item`'s listing (its JSON as the server sent it) under the name clients know it by.
pub fn listing(item: &impl Serialize, name: &str) -> Value {
    let mut listing = serde_json::to_value(item).unwrap_or_default();
    if let Value::Object(fields) = &mut listing {
        fields.insert("name".into(), Value::String(name.to_owned()));
    }
    listing
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(builtin: &[&str], servers: &[ServerItems<'_, &str>]) -> Vec<(String, String)> {
        expose("tool", builtin, servers)
            .into_iter()
            .map(|(name, target)| {
                let server = servers[target.server].server;
                (name, format!("{server}/{}", target.item))
            })
            .collect()
    }

    fn server<'a>(
        server: &'a str,
        prefix: Prefix,
        items: &'a [&'a str],
    ) -> ServerItems<'a, &'a str> {
        ServerItems {
            server,
            prefix,
            items,
        }
    }

    fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
        expected
            .iter()
            .map(|(name, target)| (name.to_string(), target.to_string()))
            .collect()
    }

    #[test]
    fn always_prefixes_and_never_keeps_the_name() {
        let servers = [
            server("git", Prefix::Always, &["status"]),
            server("time", Prefix::Never, &["now"]),
        ];
        assert_eq!(
            names(&["echo"], &servers),
            pairs(&[("git__status", "git/status"), ("now", "time/now")])
        );
    }

    #[test]
    fn nothing_shadows_a_builtin_or_another_servers_tool() {
        let servers = [
            server("a", Prefix::Never, &["echo", "search"]),
            server("b", Prefix::Never, &["search"]),
            server("c", Prefix::OnCollision, &["echo", "search", "own"]),
        ];
        assert_eq!(
            names(&["echo"], &servers),
            pairs(&[
                ("c__echo", "c/echo"),
                ("c__search", "c/search"),
                ("own", "c/own"),
                ("search", "a/search"),
            ])
        );
    }

    #[test]
    fn no_server_takes_another_servers_prefixed_names() {
        // `a` comes first, but `b__x` is `b`'s: `a`'s tool of that name is not offered
        // (`never`) or is prefixed (`on_collision`).
        let servers = [
            server("a", Prefix::Never, &["b__x"]),
            server("b", Prefix::Always, &["x"]),
        ];
        assert_eq!(names(&[], &servers), pairs(&[("b__x", "b/x")]));
        let servers = [
            server("a", Prefix::OnCollision, &["b__y"]),
            server("b", Prefix::Always, &["y"]),
        ];
        assert_eq!(
            names(&[], &servers),
            pairs(&[("a__b__y", "a/b__y"), ("b__y", "b/y")])
        );
    }
}
