//! What a reader found in a CLI's files: each MCP server as that CLI describes it, in terms the
//! daemon's `[servers.<name>]` tables have, with notes on what has no equivalent there.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Map, Value};

use super::vars::Syntax;

/// Why a server of the legacy HTTP+SSE transport is not imported.
pub const SSE_ONLY: &str = "it uses the legacy HTTP+SSE transport, which the daemon does not \
     speak (only Streamable HTTP): use the server's Streamable HTTP URL if it has one";

/// What a reader found.
#[derive(Debug, Default)]
pub struct Scan {
    /// The files it looked for, read or not.
    pub looked_at: Vec<PathBuf>,
    /// The files it read (those that exist), in the order the CLI applies them.
    pub files: Vec<PathBuf>,
    /// The servers, one per name: where a name is in several files, the one the CLI uses.
    pub found: Vec<Found>,
}

impl Scan {
    /// Adds every server of the object `servers` (the member `key` of a file, absent when the
    /// file has none), each read by `parse`, found at `origin`.
    pub fn add_all(
        &mut self,
        servers: Option<&Value>,
        key: &str,
        origin: &str,
        parse: impl Fn(&Value) -> Result<Imported, String>,
    ) -> anyhow::Result<()> {
        let Some(servers) = servers else {
            return Ok(());
        };
        let Some(servers) = servers.as_object() else {
            anyhow::bail!("{origin}: {key} is not an object");
        };
        for (name, value) in servers {
            self.add(Found {
                name: name.clone(),
                origin: origin.to_owned(),
                server: parse(value),
            });
        }
        Ok(())
    }

    /// Adds `found`, replacing an earlier server of the same name (a later file overrides an
    /// earlier one in every CLI), with a note saying so.
    pub fn add(&mut self, mut found: Found) {
        if let Some(at) = self.found.iter().position(|old| old.name == found.name) {
            let old = self.found.remove(at);
            found.note(format!("overrides the entry in {}", old.origin));
        }
        self.found.push(found);
    }
}

/// One server entry of a CLI's file.
#[derive(Debug)]
pub struct Found {
    /// Its name in the CLI.
    pub name: String,
    /// Where it is: the file, and the scope when the file has several.
    pub origin: String,
    /// The server, or why it cannot be imported.
    pub server: Result<Imported, String>,
}

impl Found {
    /// Imports the server switched off (`enabled = false`), for `why`.
    pub fn switch_off(&mut self, why: &str) {
        if let Ok(server) = &mut self.server {
            server.enabled = Some(false);
            server.notes.push(format!("switched off: {why}"));
        }
    }

    /// Adds a note to an importable server.
    pub fn note(&mut self, note: String) {
        if let Ok(server) = &mut self.server {
            server.notes.push(note);
        }
    }
}

/// A server as the daemon's configuration can hold it, its strings still as the CLI wrote them
/// (with its references to variables).
#[derive(Debug)]
pub struct Imported {
    /// How the daemon reaches it.
    pub transport: Transport,
    /// `enabled`, when the CLI says.
    pub enabled: Option<bool>,
    /// `tools.allow`.
    pub allow: Vec<String>,
    /// `tools.deny`.
    pub deny: Vec<String>,
    /// `start_timeout`, when the CLI has one.
    pub start_timeout: Option<Duration>,
    /// `call_timeout`, when the CLI has one.
    pub call_timeout: Option<Duration>,
    /// How the CLI reads references to environment variables in its strings.
    pub syntax: Syntax,
    /// What did not carry over, or changed on the way, one line each.
    pub notes: Vec<String>,
}

impl Imported {
    /// A server reached by `transport`, with nothing else set.
    pub fn new(transport: Transport, syntax: Syntax) -> Self {
        Self {
            transport,
            enabled: None,
            allow: Vec::new(),
            deny: Vec::new(),
            start_timeout: None,
            call_timeout: None,
            syntax,
            notes: Vec::new(),
        }
    }
}

/// How the daemon reaches a server.
#[derive(Debug, PartialEq, Eq)]
pub enum Transport {
    /// A program it starts, spoken to over its stdio.
    Stdio {
        /// `command`.
        command: String,
        /// `args`.
        args: Vec<String>,
        /// `env`, in the CLI's order.
        env: Vec<(String, String)>,
        /// `inherit_env`.
        inherit_env: Vec<String>,
        /// `cwd`, as the CLI wrote it.
        cwd: Option<String>,
    },
    /// A Streamable HTTP endpoint.
    Remote {
        /// `url`.
        url: String,
        /// `headers`, in the CLI's order.
        headers: Vec<(String, String)>,
    },
}

impl Transport {
    /// A stdio server running `command args…` with `env`.
    pub fn stdio(command: String, args: Vec<String>, env: Vec<(String, String)>) -> Self {
        Self::Stdio {
            command,
            args,
            env,
            inherit_env: Vec::new(),
            cwd: None,
        }
    }
}

/// The members of one server entry, read by key; what was never asked for is left over.
pub struct Entry<'a> {
    members: &'a Map<String, Value>,
    asked: Vec<&'a str>,
}

impl<'a> Entry<'a> {
    /// The entry `value`, which must be an object.
    pub fn new(value: &'a Value) -> Result<Self, String> {
        match value {
            Value::Object(members) => Ok(Self {
                members,
                asked: Vec::new(),
            }),
            _ => Err("the entry is not an object".into()),
        }
    }

    /// The value of `key`, if present, marked as read.
    pub fn get(&mut self, key: &'a str) -> Option<&'a Value> {
        self.asked.push(key);
        self.members.get(key).filter(|value| !value.is_null())
    }

    /// A string member.
    pub fn string(&mut self, key: &'a str) -> Result<Option<String>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(_) => Err(format!("{key} is not a string")),
        }
    }

    /// A boolean member.
    pub fn bool(&mut self, key: &'a str) -> Result<Option<bool>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(on)) => Ok(Some(*on)),
            Some(_) => Err(format!("{key} is not true or false")),
        }
    }

    /// A list of strings (absent: empty).
    pub fn strings(&mut self, key: &'a str) -> Result<Vec<String>, String> {
        let Some(value) = self.get(key) else {
            return Ok(Vec::new());
        };
        value
            .as_array()
            .and_then(|items| {
                items
                    .iter()
                    .map(|item| item.as_str().map(str::to_owned))
                    .collect()
            })
            .ok_or_else(|| format!("{key} is not a list of strings"))
    }

    /// An object of strings (absent: empty).
    pub fn string_map(&mut self, key: &'a str) -> Result<Vec<(String, String)>, String> {
        let Some(value) = self.get(key) else {
            return Ok(Vec::new());
        };
        value
            .as_object()
            .and_then(|members| {
                members
                    .iter()
                    .map(|(name, value)| Some((name.clone(), value.as_str()?.to_owned())))
                    .collect()
            })
            .ok_or_else(|| format!("{key} is not an object of strings"))
    }

    /// A duration given as a number of `unit`s (a positive number; fractions allowed).
    pub fn duration(&mut self, key: &'a str, unit: Duration) -> Result<Option<Duration>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(value) => value
                .as_f64()
                .filter(|count| count.is_finite() && *count > 0.0)
                .and_then(|count| Duration::try_from_secs_f64(unit.as_secs_f64() * count).ok())
                .map(Some)
                .ok_or_else(|| format!("{key} is not a positive number")),
        }
    }

    /// Notes for the members never read: they have no equivalent in the daemon.
    pub fn left_over(&self) -> Vec<String> {
        self.members
            .keys()
            .filter(|key| !self.asked.contains(&key.as_str()))
            .map(|key| format!("{key} has no equivalent in the daemon: left out"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn members_are_typed_and_the_rest_noted() {
        let value = json!({
            "command": "uvx", "args": ["a", "b"], "env": {"K": "v"}, "timeout": 1500,
            "trust": true, "description": null, "bad": 3
        });
        let mut entry = Entry::new(&value).unwrap();
        assert_eq!(entry.string("command").unwrap().as_deref(), Some("uvx"));
        assert_eq!(entry.strings("args").unwrap(), ["a", "b"]);
        assert_eq!(entry.string_map("env").unwrap(), [("K".into(), "v".into())]);
        assert_eq!(
            entry.duration("timeout", Duration::from_millis(1)).unwrap(),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(entry.string("description").unwrap(), None);
        assert_eq!(entry.string("bad").unwrap_err(), "bad is not a string");
        assert_eq!(
            entry.strings("env").unwrap_err(),
            "env is not a list of strings"
        );
        assert_eq!(
            entry.left_over(),
            ["trust has no equivalent in the daemon: left out"]
        );
        assert!(Entry::new(&json!([1])).is_err());
        let negative = json!({"t": -1});
        let mut entry = Entry::new(&negative).unwrap();
        assert!(entry.duration("t", Duration::from_secs(1)).is_err());
    }

    #[test]
    fn a_later_file_overrides_an_earlier_one() {
        let found = |origin: &str| Found {
            name: "git".into(),
            origin: origin.into(),
            server: Ok(Imported::new(
                Transport::stdio("x".into(), Vec::new(), Vec::new()),
                Syntax::Plain,
            )),
        };
        let mut scan = Scan::default();
        scan.add(found("user"));
        scan.add(found("project"));
        assert_eq!(scan.found.len(), 1);
        assert_eq!(scan.found[0].origin, "project");
        assert_eq!(
            scan.found[0].server.as_ref().unwrap().notes,
            ["overrides the entry in user"]
        );
    }
}
