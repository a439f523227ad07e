//! From a server found in a CLI's files to the daemon's `[servers.<name>]`: a name the daemon
//! accepts, references to environment variables resolved (see [`super::vars`]), a relative
//! `cwd` made absolute, the daemon's own entry left out, and the result checked the way
//! `check-config` checks it. What changed on the way becomes the table's comments.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::server::{Found, Transport};
use super::vars::{self, Lookup, Syntax};
use crate::client::entry::SERVER_NAME;
use crate::headers::SESSION_HEADER;
use crate::upstream::config::{MAX_NAME_CHARS, ServerConfig, ServersConfig, ToolFilter};

/// Why the daemon's own entry is not imported.
pub const DAEMON_ITSELF: &str =
    "it is this daemon (the entry `construct-actor connect` writes): a daemon never proxies itself";

/// A server ready for the daemon's configuration.
#[derive(Debug)]
pub struct Planned {
    /// Its name there.
    pub name: String,
    /// Its table.
    pub server: ServerConfig,
    /// Where it came from and what changed, one line each.
    pub comments: Vec<String>,
}

/// `found` as the daemon's server, relative paths taken from `folder` and variables from
/// `lookup`; why not, when it cannot be imported.
pub fn plan(found: &Found, folder: &Path, lookup: Lookup<'_>) -> Result<Planned, String> {
    let imported = found.server.as_ref().map_err(Clone::clone)?;
    if is_daemon(&found.name, &imported.transport) {
        return Err(DAEMON_ITSELF.into());
    }
    let name = daemon_name(&found.name)?;
    let mut resolver = Resolver {
        syntax: imported.syntax,
        lookup,
        notes: vec![format!("imported from {}", found.origin)],
    };
    if name != found.name {
        resolver.notes.push(format!(
            "renamed from {:?}: a server name is letters, digits, _ and -",
            found.name
        ));
    }
    resolver.notes.extend(imported.notes.iter().cloned());
    let mut server = ServerConfig::default();
    match &imported.transport {
        Transport::Stdio {
            command,
            args,
            env,
            inherit_env,
            cwd,
        } => {
            server.command = Some(resolver.text("command", command)?);
            for arg in args {
                server.args.push(resolver.text("args", arg)?);
            }
            resolver.env(&mut server, env, inherit_env)?;
            if let Some(cwd) = cwd {
                let cwd = resolver.text("cwd", cwd)?;
                server.cwd = Some(resolver.folder(&cwd, folder));
            }
        }
        Transport::Remote { url, headers } => {
            server.url = Some(resolver.text("url", url)?);
            for (header, value) in headers {
                let value = resolver.text(&format!("headers.{header}"), value)?;
                server.headers.0.insert(header.clone(), value);
            }
        }
    }
    server.enabled = imported.enabled.unwrap_or(true);
    server.tools = ToolFilter {
        allow: imported.allow.clone(),
        deny: imported.deny.clone(),
    };
    server.start_timeout = imported.start_timeout.unwrap_or(server.start_timeout);
    server.call_timeout = imported.call_timeout.unwrap_or(server.call_timeout);
    ServersConfig(BTreeMap::from([(name.clone(), server.clone())]))
        .validate()
        .map_err(|err| format!("the daemon would refuse it: {err}"))?;
    Ok(Planned {
        name,
        server,
        comments: resolver.notes,
    })
}

/// Whether an entry is the daemon itself: a remote server named like `connect`'s entry, or
/// one sent a Construct session header.
fn is_daemon(name: &str, transport: &Transport) -> bool {
    let Transport::Remote { headers, .. } = transport else {
        return false;
    };
    name == SERVER_NAME
        || headers
            .iter()
            .any(|(header, _)| header.eq_ignore_ascii_case(SESSION_HEADER))
}

/// `name` as a daemon server name: each other character made `-`, at most [`MAX_NAME_CHARS`].
fn daemon_name(name: &str) -> Result<String, String> {
    let plain: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .take(MAX_NAME_CHARS)
        .collect();
    if plain.trim_matches('-').is_empty() {
        return Err(format!(
            "its name {name:?} has no letter or digit to name it by"
        ));
    }
    Ok(plain)
}

/// Resolves a server's strings, noting what it changed.
struct Resolver<'a> {
    syntax: Syntax,
    lookup: Lookup<'a>,
    notes: Vec<String>,
}

impl Resolver<'_> {
    /// `text` (the value of `what`) with its references replaced by their values.
    fn text(&mut self, what: &str, text: &str) -> Result<String, String> {
        let expanded =
            vars::expand(text, self.syntax, self.lookup).map_err(|err| format!("{what}: {err}"))?;
        if !expanded.names.is_empty() {
            self.notes.push(format!(
                "{what}: has the value ${} has now (the daemon expands no variables)",
                expanded.names.join(", $")
            ));
        }
        Ok(expanded.text)
    }

    /// `env` into the server: an entry that only names the variable of the same name is
    /// passed on from the daemon's environment (`inherit_env`), with `inherit`.
    fn env(
        &mut self,
        server: &mut ServerConfig,
        env: &[(String, String)],
        inherit: &[String],
    ) -> Result<(), String> {
        for (name, value) in env {
            if vars::sole_reference(value, self.syntax) == Some(name.as_str()) {
                server.inherit_env.push(name.clone());
            } else {
                let value = self.text(&format!("env.{name}"), value)?;
                server.env.0.insert(name.clone(), value);
            }
        }
        for name in inherit {
            if !server.inherit_env.contains(name) {
                server.inherit_env.push(name.clone());
            }
        }
        if !server.inherit_env.is_empty() {
            self.notes.push(format!(
                "inherit_env: start the daemon with {} set",
                server.inherit_env.join(", ")
            ));
        }
        Ok(())
    }

    /// `cwd` as an absolute path: a relative one is taken from `folder`, as the CLI does.
    fn folder(&mut self, cwd: &str, folder: &Path) -> PathBuf {
        let path = Path::new(cwd);
        if path.is_absolute() || cwd.starts_with('~') {
            return path.to_owned();
        }
        self.notes
            .push(format!("cwd: {cwd:?} taken from {}", folder.display()));
        folder.join(path)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::import::server::Imported;

    fn lookup(name: &str) -> Option<String> {
        (name == "TOKEN").then(|| "t0k".into())
    }

    fn found(name: &str, imported: Imported) -> Found {
        Found {
            name: name.into(),
            origin: "/h/.claude.json (user scope)".into(),
            server: Ok(imported),
        }
    }

    fn stdio(env: &[(&str, &str)]) -> Imported {
        let env = env
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        Imported::new(
            Transport::stdio("uvx".into(), vec!["${TOKEN}".into()], env),
            Syntax::Claude,
        )
    }

    #[test]
    fn references_become_inherit_env_or_their_values() {
        let imported = stdio(&[
            ("GITHUB_TOKEN", "${GITHUB_TOKEN}"),
            ("API_KEY", "${TOKEN}"),
            ("MODE", "literal"),
        ]);
        let planned = plan(&found("git", imported), Path::new("/p"), &lookup).unwrap();
        let server = &planned.server;
        assert_eq!(server.args, ["t0k"]);
        assert_eq!(server.inherit_env, ["GITHUB_TOKEN"]);
        assert_eq!(server.env.0["API_KEY"], "t0k");
        assert_eq!(server.env.0["MODE"], "literal");
        assert_eq!(
            planned.comments,
            [
                "imported from /h/.claude.json (user scope)",
                "args: has the value $TOKEN has now (the daemon expands no variables)",
                "env.API_KEY: has the value $TOKEN has now (the daemon expands no variables)",
                "inherit_env: start the daemon with GITHUB_TOKEN set",
            ]
        );
    }

    #[test]
    fn names_folders_and_limits_carry_over() {
        let mut imported = Imported::new(
            Transport::Stdio {
                command: "node".into(),
                args: Vec::new(),
                env: Vec::new(),
                inherit_env: vec!["HOME2".into()],
                cwd: Some(".".into()),
            },
            Syntax::Plain,
        );
        imported.enabled = Some(false);
        imported.call_timeout = Some(Duration::from_secs(9));
        imported.allow = vec!["a".into()];
        let dir = tempfile::tempdir().unwrap();
        let planned = plan(&found("my server.v2", imported), dir.path(), &lookup).unwrap();
        assert_eq!(planned.name, "my-server-v2");
        assert!(planned.comments[1].starts_with("renamed from \"my server.v2\""));
        let server = &planned.server;
        assert_eq!(server.cwd.as_deref(), Some(dir.path().join(".").as_path()));
        assert!(!server.enabled);
        assert_eq!(server.call_timeout, Duration::from_secs(9));
        assert_eq!(server.start_timeout, ServerConfig::default().start_timeout);
        assert_eq!(server.tools.allow, ["a"]);
        assert_eq!(server.inherit_env, ["HOME2"]);
    }

    #[test]
    fn what_is_not_imported_says_why() {
        let unset = stdio(&[("KEY", "${MISSING}")]);
        assert_eq!(
            plan(&found("a", unset), Path::new("/p"), &lookup).unwrap_err(),
            "env.KEY: it needs $MISSING, which is not set here"
        );
        let daemon = |header: &str| {
            Imported::new(
                Transport::Remote {
                    url: "http://127.0.0.1:7/mcp".into(),
                    headers: vec![(header.into(), "v".into())],
                },
                Syntax::Plain,
            )
        };
        for (name, header) in [
            ("construct", "Authorization"),
            ("other", "x-construct-session"),
        ] {
            let err = plan(&found(name, daemon(header)), Path::new("/p"), &lookup);
            assert_eq!(err.unwrap_err(), DAEMON_ITSELF);
        }
        let missing_folder = Imported::new(
            Transport::Stdio {
                command: "x".into(),
                args: Vec::new(),
                env: Vec::new(),
                inherit_env: Vec::new(),
                cwd: Some("/nonexistent-folder".into()),
            },
            Syntax::Plain,
        );
        let err = plan(&found("a", missing_folder), Path::new("/p"), &lookup).unwrap_err();
        assert!(
            err.starts_with("the daemon would refuse it: servers.a.cwd:"),
            "{err}"
        );
        assert!(plan(&found("…", stdio(&[])), Path::new("/p"), &lookup).is_err());
        let skipped = Found {
            name: "s".into(),
            origin: "o".into(),
            server: Err("why".into()),
        };
        assert_eq!(plan(&skipped, Path::new("/p"), &lookup).unwrap_err(), "why");
    }
}
