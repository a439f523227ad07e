//! The names the daemon's clients call upstream tools by: each server's `prefix` applied, so that
//! no upstream tool shadows a built-in tool or another server's tool.
//!
//! Built-in tools keep their names. Then, in server-name order: `always` gives
//! `<server>__<tool>`; `never` gives the tool's own name, unless it is taken (the tool is then
//! not offered); `on_collision` gives the tool's own name unless a built-in tool, or any other
//! server's tool, has it too, and `<server>__<tool>` otherwise. A name still taken after that is
//! not offered, and a warning says so.

use std::collections::BTreeMap;

use super::config::Prefix;

/// Between a server's name and its tool's in a prefixed name.
pub const SEPARATOR: &str = "__";

/// One server's tools, as [`expose`] needs them.
pub struct ServerTools<'a> {
    /// The server's name.
    pub server: &'a str,
    /// How its tools are named.
    pub prefix: Prefix,
    /// Its tools' own names (those its filter offers).
    pub tools: Vec<&'a str>,
}

/// Where an exposed name leads: a server and its own name for the tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The server.
    pub server: String,
    /// The tool, as the server names it.
    pub tool: String,
}

/// Every upstream tool's exposed name and where it leads, given the built-in tools' names.
pub fn expose<'a>(
    builtin: impl IntoIterator<Item = &'a str>,
    servers: &[ServerTools<'a>],
) -> BTreeMap<String, Target> {
    let builtin: Vec<&str> = builtin.into_iter().collect();
    let shared = |own: &str, server: &str| {
        builtin.contains(&own)
            || servers
                .iter()
                .any(|other| other.server != server && other.tools.contains(&own))
    };
    let mut exposed = BTreeMap::new();
    for server in servers {
        for &own in &server.tools {
            let prefixed = || format!("{}{SEPARATOR}{own}", server.server);
            let name = match server.prefix {
                Prefix::Always => prefixed(),
                Prefix::Never => own.to_owned(),
                Prefix::OnCollision if shared(own, server.server) => prefixed(),
                Prefix::OnCollision => own.to_owned(),
            };
            if builtin.contains(&name.as_str()) || exposed.contains_key(&name) {
                tracing::warn!(server = server.server, tool = own, %name, "tool not offered: its name is taken");
                continue;
            }
            let target = Target {
                server: server.server.to_owned(),
                tool: own.to_owned(),
            };
            exposed.insert(name, target);
        }
    }
    exposed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(builtin: &[&str], servers: &[ServerTools<'_>]) -> Vec<(String, String)> {
        expose(builtin.iter().copied(), servers)
            .into_iter()
            .map(|(name, target)| (name, format!("{}/{}", target.server, target.tool)))
            .collect()
    }

    fn server<'a>(server: &'a str, prefix: Prefix, tools: &[&'a str]) -> ServerTools<'a> {
        ServerTools {
            server,
            prefix,
            tools: tools.to_vec(),
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
    fn a_prefixed_name_that_is_taken_is_not_offered() {
        let servers = [
            server("a", Prefix::Never, &["b__x"]),
            server("b", Prefix::Always, &["x"]),
        ];
        assert_eq!(names(&[], &servers), pairs(&[("b__x", "a/b__x")]));
    }
}
