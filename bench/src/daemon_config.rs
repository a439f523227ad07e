//! The configuration the benchmark gives the daemon: generated as dotted keys and TOML values,
//! limits far above what the scenarios reach, checked by the daemon's own `check-config` before
//! it starts.

use std::path::Path;
use std::process::Command;

use anyhow::{Context as _, bail};

/// The daemon's configuration for benchmarks, as dotted keys and TOML values.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    entries: Vec<(String, String)>,
    /// Keys that older or newer daemons may not know: dropped (with a note) if refused.
    optional: Vec<String>,
}

impl DaemonConfig {
    /// Discovery off, quiet logs, limits far above anything the scenarios reach, and the
    /// per-address session-creation rate limit effectively off.
    pub fn for_benchmarks(max_sessions: usize, max_subscribers: usize, queue: usize) -> Self {
        let entries = [
            ("server.bind", "\"127.0.0.1\"".to_owned()),
            ("server.port", "0".to_owned()),
            ("server.shutdown_grace", "\"1s\"".to_owned()),
            ("discovery.enabled", "false".to_owned()),
            (
                "security.api_keys",
                format!("[\"{}\"]", crate::client::API_KEY),
            ),
            ("sessions.max_sessions", max_sessions.to_string()),
            ("sessions.max_subscribers", max_subscribers.to_string()),
            ("sessions.subscriber_queue", queue.to_string()),
            ("sessions.create_per_minute", "1000000000".to_owned()),
            ("tools.max_concurrent_calls", "4096".to_owned()),
            ("tools.max_calls_per_session", "64".to_owned()),
            ("log.level", "\"warn\"".to_owned()),
        ];
        Self {
            entries: entries
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
            optional: vec!["sessions.create_per_minute".to_owned()],
        }
    }

    /// Sets (or replaces) `key` to the TOML `value`; `KEY=VALUE` from the command line.
    pub fn set(&mut self, key: &str, value: &str) {
        self.entries.retain(|(k, _)| k != key);
        self.entries.push((key.to_owned(), value.to_owned()));
    }

    /// The TOML text.
    pub fn render(&self) -> String {
        let mut sections: Vec<(&str, Vec<(&str, &str)>)> = Vec::new();
        for (key, value) in &self.entries {
            let (section, leaf) = key.rsplit_once('.').unwrap_or(("", key));
            match sections.iter_mut().find(|(s, _)| *s == section) {
                Some((_, items)) => items.push((leaf, value)),
                None => sections.push((section, vec![(leaf, value)])),
            }
        }
        let mut text = String::new();
        for (section, items) in sections {
            if !section.is_empty() {
                text.push_str(&format!("[{section}]\n"));
            }
            for (leaf, value) in items {
                text.push_str(&format!("{leaf} = {value}\n"));
            }
        }
        text
    }

    /// Writes the configuration to `path`, checked by `daemon check-config`; optional keys the
    /// daemon refuses are dropped. Returns the notes to print.
    pub fn write_checked(&mut self, daemon: &Path, path: &Path) -> anyhow::Result<Vec<String>> {
        let mut notes = Vec::new();
        loop {
            std::fs::write(path, self.render())?;
            let output = Command::new(daemon)
                .arg("check-config")
                .arg(path)
                .output()
                .with_context(|| format!("cannot run {} check-config", daemon.display()))?;
            if output.status.success() {
                return Ok(notes);
            }
            let message = String::from_utf8_lossy(&output.stderr).into_owned();
            let refused = self.optional.iter().position(|key| {
                let leaf = key.rsplit_once('.').map_or(key.as_str(), |(_, l)| l);
                message.contains(leaf)
            });
            match refused {
                Some(index) => {
                    let key = self.optional.remove(index);
                    notes.push(format!("daemon does not know {key}; left out"));
                    self.entries.retain(|(k, _)| *k != key);
                }
                None => bail!("the generated daemon configuration is refused: {message}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_render_by_section() {
        let mut config = DaemonConfig::for_benchmarks(10, 20, 30);
        config.set("server.keep_alive", "\"5s\"");
        let text = config.render();
        assert!(
            text.starts_with("[server]\nbind = \"127.0.0.1\"\n"),
            "{text}"
        );
        assert!(text.contains("keep_alive = \"5s\""), "{text}");
        assert_eq!(text.matches("[server]").count(), 1, "{text}");
        assert!(text.contains("[sessions]\nmax_sessions = 10\n"), "{text}");
    }
}
