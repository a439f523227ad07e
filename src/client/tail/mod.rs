//! `construct-actor tail --session <id> [--token <t>]`: a session's progress events, live.
//!
//! Without `--token`, the owner key from the daemon's discovery file buys a single-use stream
//! ticket before each connection, so no credential needs to appear on the command line (where
//! `ps` would show it).
//!
//! On a terminal each running call is one progress bar (`indicatif`), keyed by its progress
//! token; otherwise each event is one plain line, `[<timestamp>] <tool> #<token>
//! <progress>/<total> <message>`, in order. A dropped connection is resumed with
//! `Last-Event-ID` (the daemon replays what was missed, so nothing is lost or shown twice),
//! after the stream's `retry:` delay, growing on repeated failures, and given up after
//! [`MAX_ATTEMPTS`] in a row. Events the daemon could not deliver are reported as
//! `lagged: N events lost`; the session's end ends the command (exit 0).

mod follower;
mod progress;
mod view;

use std::io::IsTerminal as _;
use std::time::Duration;

use anyhow::bail;

use self::follower::{Credential, Follower, Outcome};
use self::view::View;
use super::daemon::{self, Daemon};
use crate::cli::TailArgs;

/// Connection attempts in a row that may fail before `tail` gives up.
pub const MAX_ATTEMPTS: u32 = 8;

/// The reconnection delay before the stream has said its own (`retry:`).
const DEFAULT_RETRY: Duration = Duration::from_secs(1);

/// The longest wait between two attempts, however many failed.
const MAX_BACKOFF: Duration = Duration::from_secs(15);

/// Runs `tail`.
pub async fn run(args: TailArgs) -> anyhow::Result<()> {
    match follow(args).await {
        // Whoever read the output (`tail … | head`) has seen enough.
        Err(err)
            if err
                .downcast_ref::<std::io::Error>()
                .is_some_and(|err| err.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            Ok(())
        }
        other => other,
    }
}

/// Follows the session until it ends or cannot be followed any more.
async fn follow(args: TailArgs) -> anyhow::Result<()> {
    if uuid::Uuid::parse_str(&args.session).is_err() {
        bail!("{:?} is not a session id (a UUID)", args.session);
    }
    let daemon = daemon::locate(args.daemon.url.as_deref(), &args.daemon.discovery).await?;
    let credential = credential(args.token, &daemon)?;
    // Without --url, the discovery file tells whether a daemon that stopped answering is gone.
    let discovery = args
        .daemon
        .url
        .is_none()
        .then(|| crate::paths::expand_home(&args.daemon.discovery));
    let mut view = View::new(std::io::stdout().is_terminal());
    let mut follower = Follower {
        daemon,
        session: args.session,
        credential,
        last_id: args.last_event_id,
        retry: DEFAULT_RETRY,
    };
    let mut failures = 0;
    loop {
        let (reason, delivered) = match follower.follow(&mut view).await? {
            Outcome::Ended(reason) => {
                view.line(&format!("session ended ({reason})"))?;
                return Ok(());
            }
            Outcome::Dropped { reason, delivered } => (reason, delivered),
        };
        failures = if delivered { 1 } else { failures + 1 };
        if failures > MAX_ATTEMPTS {
            bail!("lost the daemon after {MAX_ATTEMPTS} attempts in a row: {reason}");
        }
        if !delivered
            && let Some(path) = &discovery
            && let Some(gone) = daemon::gone(path, &follower.daemon.mcp_url)
        {
            bail!("{gone}; the connection ended: {reason}");
        }
        let delay = backoff(follower.retry, failures);
        view.note(&format!(
            "tail: connection lost ({reason}); reconnecting in {} ms",
            delay.as_millis()
        ));
        tokio::time::sleep(delay).await;
    }
}

/// What opens the stream: `--token`, else the owner key of the daemon's discovery file.
fn credential(token: Option<String>, daemon: &Daemon) -> anyhow::Result<Credential> {
    Ok(match (token, &daemon.api_key) {
        (Some(token), _) => Credential::Token(token),
        (None, Some(key)) => Credential::OwnerKey(key.clone()),
        (None, None) => bail!(
            "following a session needs its token (--token) when the daemon's discovery file \
             holds no owner key"
        ),
    })
}

/// The wait before attempt `failures` + 1: the stream's retry delay, doubling per failure in a
/// row, at most [`MAX_BACKOFF`].
fn backoff(retry: Duration, failures: u32) -> Duration {
    let factor = 1u32 << failures.saturating_sub(1).min(16);
    retry.saturating_mul(factor).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_from_the_retry_delay_and_is_capped() {
        let retry = Duration::from_millis(200);
        assert_eq!(backoff(retry, 1), retry);
        assert_eq!(backoff(retry, 3), retry * 4);
        assert_eq!(backoff(retry, 30), MAX_BACKOFF);
    }
}
