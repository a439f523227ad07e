//! Reloading the configuration while the daemon runs: on `SIGHUP`, and when the configuration
//! file changes.
//!
//! The file is looked at twice a second (its size, time and inode: a `stat`, no read), which
//! also sees what an inotify watch on the file would miss: an editor that saves by renaming a
//! new file over the old one, a symlink swapped to another target. A change is read once the
//! file has stayed the same for one look, so that a save caught half-written is not applied.
//!
//! Only `[servers]` takes effect at once: servers added, removed or changed are started, stopped
//! or restarted ([`Fleet::apply`]), and sessions and the other servers are untouched. Every other
//! section is read once, at start: a reload that changes one says so in the log, naming it, and
//! the daemon goes on as it started. A file that cannot be read or is not valid changes nothing:
//! the error is logged (as `check-config` would give it), counted as a rejected reload, and the
//! next change is read again. What a file must be to be read at all is `crate::config_file`'s.

use std::os::unix::fs::MetadataExt as _;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use futures::{Stream, StreamExt as _};
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, Overrides};
use crate::metrics_recorder::{self, Reload};
use crate::upstream::Fleet;

/// How often the configuration file is looked at.
const LOOK_EVERY: Duration = Duration::from_millis(500);

/// Longest a reload may read and check the file (a file on a hung network mount): past it the
/// reload is rejected, and the next change or SIGHUP is served.
const LOAD_TIMEOUT: Duration = Duration::from_secs(10);

/// Applies new configurations to the running daemon; the one owner of its [`Fleet`].
pub struct Reloader {
    /// The configuration file, when the daemon was started with one.
    file: Option<PathBuf>,
    /// The configuration in force.
    running: Config,
    fleet: Fleet,
}

/// One version of the file, as `stat` tells it apart from another; `None` when it is missing.
type Stamp = Option<(Option<SystemTime>, u64, u64, u64)>;

impl Reloader {
    /// The reloader of a daemon running `running`, read from `file` (when there is one), whose
    /// servers are `fleet`.
    pub fn new(file: Option<PathBuf>, running: Config, fleet: Fleet) -> Self {
        Self {
            file,
            running,
            fleet,
        }
    }

    /// Reloads at each of `hangups` (a `SIGHUP` each) and when the file changes, until `stop`.
    pub async fn run(mut self, hangups: impl Stream<Item = ()>, stop: CancellationToken) {
        let mut hangups = std::pin::pin!(hangups);
        let mut seen = self.stamp().await;
        let mut settling: Option<Stamp> = None;
        let mut look = tokio::time::interval(LOOK_EVERY);
        look.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                Some(()) = hangups.next() => self.reload("SIGHUP").await,
                _ = look.tick(), if self.file.is_some() => {
                    let now = self.stamp().await;
                    if now == seen {
                        settling = None;
                    } else if settling == Some(now) {
                        seen = now;
                        settling = None;
                        self.reload("the configuration file changed").await;
                    } else {
                        settling = Some(now);
                    }
                }
            }
        }
    }

    /// The file's stamp now.
    async fn stamp(&self) -> Stamp {
        let file = self.file.as_ref()?;
        let meta = tokio::fs::metadata(file).await.ok()?;
        Some((meta.modified().ok(), meta.len(), meta.ino(), meta.dev()))
    }

    /// Reads the configuration again (off the async threads) and applies what can be applied.
    async fn reload(&mut self, why: &'static str) {
        let file = self.file.clone();
        // The command line's --bind and --port stay what they were.
        let overrides = Overrides {
            bind: Some(self.running.server.bind),
            port: Some(self.running.server.port),
        };
        let load = tokio::task::spawn_blocking(move || Config::load(file.as_deref(), overrides));
        let config = match tokio::time::timeout(LOAD_TIMEOUT, load).await {
            Ok(Ok(Ok(config))) => config,
            Ok(Ok(Err(err))) => return reject(why, &err),
            Ok(Err(err)) => return reject(why, &err),
            Err(_) => return reject(why, &format!("not read within {LOAD_TIMEOUT:?}")),
        };
        let changes = self.fleet.apply(&config.servers);
        let unapplied = self.running.sections_changed_besides_servers(&config);
        if !unapplied.is_empty() {
            tracing::warn!(
                sections = unapplied.join(", "),
                "changed in the configuration, but only read at start: restart the daemon to apply them"
            );
        }
        tracing::info!(why, %changes, "configuration reloaded");
        metrics_recorder::config_reload(Reload::Applied);
        self.running.servers = config.servers;
    }
}

/// A reload for `why` that failed with `err`: nothing changed.
fn reject(why: &'static str, err: &dyn std::fmt::Display) {
    tracing::error!(why, %err, "configuration not reloaded: the running one stays");
    metrics_recorder::config_reload(Reload::Rejected);
}
