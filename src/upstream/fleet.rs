//! The configured servers as the last load left them, and the one owner of the shared servers'
//! connections.
//!
//! The daemon starts with one configuration and may be given others while it runs (a reload:
//! `SIGHUP`, or the configuration file changing). [`Fleet::apply`] compares the new `[servers]`
//! with the running ones, server by server: a server added is started, one removed or disabled
//! is stopped, one changed is restarted, and every other one is left running, its calls in
//! flight with it. A change to how a server is shown (`prefix`) or how many sessions may have it
//! (`max_sessions`) needs no new process, and restarts nothing.
//!
//! What it publishes, the shared servers' connections and the session-scoped servers'
//! configurations, goes out on two `watch` channels: the daemon's catalog follows the first, the
//! keeper of the sessions' own servers follows both. The fleet is owned by whoever reloads (one
//! task), so nothing about it is shared or locked.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use tokio::sync::watch;

use super::catalog::ServerSet;
use super::config::{Scope, ServerConfig, ServersConfig};
use super::connection::Upstream;
use super::roots::Roots;
use crate::metrics_recorder;

/// The session-scoped servers' configurations, by name.
pub type OwnSet = Arc<BTreeMap<Arc<str>, ServerConfig>>;

/// The owner of the shared servers' connections, and of what the configuration says of the
/// session-scoped ones.
pub struct Fleet {
    /// What a shared server answers to `roots/list`: the workspace roots.
    roots: Roots,
    shared: BTreeMap<Arc<str>, (ServerConfig, Upstream)>,
    shared_out: watch::Sender<ServerSet>,
    own_out: watch::Sender<OwnSet>,
}

/// What the fleet publishes, for those who follow it.
pub struct Published {
    /// The shared servers' connections.
    pub shared: watch::Receiver<ServerSet>,
    /// The session-scoped servers' configurations.
    pub own: watch::Receiver<OwnSet>,
}

/// What a load changed, server by server (names in order).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Servers added (or enabled): started.
    pub started: Vec<Arc<str>>,
    /// Servers removed (or disabled): stopped.
    pub stopped: Vec<Arc<str>>,
    /// Servers whose configuration changed: stopped and started again.
    pub restarted: Vec<Arc<str>>,
    /// Servers whose prefix or `max_sessions` changed, and nothing else: kept running.
    pub reshown: Vec<Arc<str>>,
}

impl Fleet {
    /// The fleet of `config`'s enabled servers, its shared ones started (on the current tokio
    /// runtime) with `roots` as their roots, and what it publishes.
    pub fn start(config: &ServersConfig, roots: Roots) -> (Self, Published) {
        let (shared_out, shared) = watch::channel(ServerSet::from([]));
        let (own_out, own) = watch::channel(OwnSet::default());
        let mut fleet = Self {
            roots,
            shared: BTreeMap::new(),
            shared_out,
            own_out,
        };
        fleet.apply(config);
        (fleet, Published { shared, own })
    }

    /// Makes the running servers those of `config`: starts, stops and restarts what changed,
    /// leaves the rest running, and publishes the result.
    pub fn apply(&mut self, config: &ServersConfig) -> Changes {
        let wanted = |scope| -> BTreeMap<Arc<str>, ServerConfig> {
            config
                .enabled()
                .filter(|(_, server)| server.scope == scope)
                .map(|(name, server)| (Arc::from(name), server.clone()))
                .collect()
        };
        let (shared, own) = (wanted(Scope::Shared), wanted(Scope::Session));
        let mut changes = self.apply_shared(shared);
        let was: BTreeMap<_, _> = self.own_out.borrow().as_ref().clone();
        changes.add(Changes::between(&was, &own));
        for name in &changes.started {
            metrics_recorder::upstream_configured(name);
        }
        self.own_out.send_if_modified(|published| {
            let modified = **published != own;
            if modified {
                *published = Arc::new(own);
            }
            modified
        });
        changes
    }

    /// Makes the running shared servers those of `wanted`, and publishes them when they changed.
    fn apply_shared(&mut self, wanted: BTreeMap<Arc<str>, ServerConfig>) -> Changes {
        let was: BTreeMap<_, _> = self
            .shared
            .iter()
            .map(|(name, (config, _))| (Arc::clone(name), config.clone()))
            .collect();
        let changes = Changes::between(&was, &wanted);
        for name in changes.stopped.iter().chain(&changes.restarted) {
            if let Some((_, upstream)) = self.shared.remove(name) {
                upstream.stop();
            }
        }
        for (name, config) in wanted {
            match self.shared.get_mut(&name) {
                Some((kept, _)) => *kept = config,
                None => {
                    let upstream =
                        Upstream::start_with_roots(&name, config.clone(), self.roots.clone());
                    self.shared.insert(name, (config, upstream));
                }
            }
        }
        if changes.is_empty() {
            return changes;
        }
        let set: ServerSet = self
            .shared
            .values()
            .map(|(config, upstream)| (upstream.clone(), config.prefix))
            .collect();
        self.shared_out.send_replace(set);
        changes
    }
}

impl Changes {
    /// What going from the servers `was` to the servers `now` changes.
    pub fn between(
        was: &BTreeMap<Arc<str>, ServerConfig>,
        now: &BTreeMap<Arc<str>, ServerConfig>,
    ) -> Self {
        let mut changes = Self::default();
        for (name, config) in now {
            match was.get(name) {
                None => changes.started.push(Arc::clone(name)),
                Some(old) if !old.runs_like(config) => changes.restarted.push(Arc::clone(name)),
                Some(old) if old != config => changes.reshown.push(Arc::clone(name)),
                Some(_) => {}
            }
        }
        changes.stopped = was
            .keys()
            .filter(|name| !now.contains_key(*name))
            .cloned()
            .collect();
        changes
    }

    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.started.is_empty()
            && self.stopped.is_empty()
            && self.restarted.is_empty()
            && self.reshown.is_empty()
    }

    /// Adds `other`'s changes (of other servers) to these, keeping each list in name order.
    fn add(&mut self, other: Changes) {
        for (mine, theirs) in [
            (&mut self.started, other.started),
            (&mut self.stopped, other.stopped),
            (&mut self.restarted, other.restarted),
            (&mut self.reshown, other.reshown),
        ] {
            mine.extend(theirs);
            mine.sort();
        }
    }
}

impl fmt::Display for Changes {
    /// `started [a, b]; stopped [c]`, naming only what changed; `nothing changed` otherwise.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("nothing changed");
        }
        let parts = [
            ("started", &self.started),
            ("stopped", &self.stopped),
            ("restarted", &self.restarted),
            ("shown anew", &self.reshown),
        ];
        let mut first = true;
        for (what, names) in parts.into_iter().filter(|(_, names)| !names.is_empty()) {
            let names: Vec<&str> = names.iter().map(|name| &**name).collect();
            let sep = if first { "" } else { "; " };
            write!(f, "{sep}{what} {}", names.join(", "))?;
            first = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::config::Prefix;

    fn servers(entries: &[(&str, ServerConfig)]) -> BTreeMap<Arc<str>, ServerConfig> {
        entries
            .iter()
            .map(|(name, config)| (Arc::from(*name), config.clone()))
            .collect()
    }

    fn stdio(command: &str) -> ServerConfig {
        ServerConfig {
            command: Some(command.into()),
            ..ServerConfig::default()
        }
    }

    #[test]
    fn each_server_is_started_stopped_restarted_shown_anew_or_left() {
        let reshown = ServerConfig {
            prefix: Prefix::Never,
            max_sessions: 3,
            ..stdio("kept")
        };
        let was = servers(&[
            ("a", stdio("a")),
            ("b", stdio("b")),
            ("c", stdio("c")),
            ("k", stdio("kept")),
        ]);
        let now = servers(&[
            ("a", stdio("a")),
            ("c", stdio("c2")),
            ("d", stdio("d")),
            ("k", reshown),
        ]);
        let changes = Changes::between(&was, &now);
        let names =
            |list: &[Arc<str>]| list.iter().map(|name| name.to_string()).collect::<Vec<_>>();
        assert_eq!(names(&changes.started), ["d"]);
        assert_eq!(names(&changes.stopped), ["b"]);
        assert_eq!(names(&changes.restarted), ["c"]);
        assert_eq!(names(&changes.reshown), ["k"]);
        assert_eq!(
            changes.to_string(),
            "started d; stopped b; restarted c; shown anew k"
        );
        assert!(Changes::between(&now, &now).is_empty());
        assert_eq!(Changes::between(&now, &now).to_string(), "nothing changed");
    }
}
