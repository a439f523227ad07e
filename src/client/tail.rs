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

use std::io::{IsTerminal as _, Write as _};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use eventsource_stream::Eventsource as _;
use futures::StreamExt as _;
use indexmap::IndexMap;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;

use super::daemon::{self, Daemon};
use super::text::one_line;
use crate::cli::TailArgs;

/// Connection attempts in a row that may fail before `tail` gives up.
pub const MAX_ATTEMPTS: u32 = 8;

/// The reconnection delay before the stream has said its own (`retry:`).
const DEFAULT_RETRY: Duration = Duration::from_secs(1);

/// The longest wait between two attempts, however many failed.
const MAX_BACKOFF: Duration = Duration::from_secs(15);

/// A connection silent this long (not even a keep-alive comment) is taken as dead.
const SILENCE: Duration = Duration::from_secs(90);

/// A connection that lasted this long counts as a success, even without events.
const HEALTHY: Duration = Duration::from_secs(10);

/// Bars of finished calls kept on screen before the oldest go.
const FINISHED_KEPT: usize = 16;

/// Bars on screen at most, finished or not (calls whose total is unknown never finish).
const MAX_BARS: usize = 64;

/// How one connection ended.
enum Outcome {
    /// The session ended, for this reason.
    Ended(String),
    /// The connection broke or closed; `delivered` when it got anywhere first.
    Dropped { reason: String, delivered: bool },
}

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
    let credential = match (args.token, &daemon.api_key) {
        (Some(token), _) => Credential::Token(token),
        (None, Some(key)) => Credential::OwnerKey(key.clone()),
        (None, None) => bail!(
            "following a session needs its token (--token) when the daemon's discovery file \
             holds no owner key"
        ),
    };
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
        match follower.follow(&mut view).await? {
            Outcome::Ended(reason) => {
                view.line(&format!("session ended ({reason})"))?;
                return Ok(());
            }
            Outcome::Dropped { reason, delivered } => {
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
    }
}

/// The wait before attempt `failures` + 1: the stream's retry delay, doubling per failure in a
/// row, at most [`MAX_BACKOFF`].
fn backoff(retry: Duration, failures: u32) -> Duration {
    let factor = 1u32 << failures.saturating_sub(1).min(16);
    retry.saturating_mul(factor).min(MAX_BACKOFF)
}

/// What opens the session's events stream.
enum Credential {
    /// The session's own token, as a bearer header.
    Token(String),
    /// The owner key, traded for a single-use stream ticket before each connection.
    OwnerKey(String),
}

/// One session followed across connections.
struct Follower {
    daemon: Daemon,
    session: String,
    credential: Credential,
    /// The id of the last event shown: where a new connection resumes.
    last_id: Option<u64>,
    /// The stream's `retry:` delay.
    retry: Duration,
}

impl Follower {
    /// A stream ticket for the session, bought with the owner key; `Err` when the daemon could
    /// not be reached (a dropped connection, to retry).
    async fn ticket(&self, key: &str) -> anyhow::Result<Result<String, Outcome>> {
        let url = self
            .daemon
            .url(&format!("/session/{}/ticket", self.session));
        let sent = self
            .daemon
            .http
            .post(url)
            .bearer_auth(key)
            .timeout(daemon::REQUEST_TIMEOUT)
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(err) => {
                return Ok(Err(Outcome::Dropped {
                    reason: daemon::describe_send_error(&err),
                    delivered: false,
                }));
            }
        };
        if response.status() == reqwest::StatusCode::UNAUTHORIZED {
            return Err(self.refused(response).await);
        }
        if !response.status().is_success() {
            return Ok(Err(Outcome::Dropped {
                reason: daemon::failure(response).await,
                delivered: false,
            }));
        }
        let body: serde_json::Value = response
            .json()
            .await
            .context("the daemon's ticket answer is not JSON")?;
        let ticket = body["ticket"]
            .as_str()
            .context("the daemon's ticket answer has no ticket")?;
        Ok(Ok(ticket.to_owned()))
    }

    /// The error for a `401`: the session is unknown or over, or the credential is wrong.
    async fn refused(&self, response: reqwest::Response) -> anyhow::Error {
        anyhow::anyhow!(
            "the daemon refused to show session {}: {} (unknown session, wrong token, or a \
             session that has ended)",
            self.session,
            daemon::failure(response).await
        )
    }

    /// One connection: its events until it ends. Errors are the ones retrying cannot fix.
    async fn follow(&mut self, view: &mut View) -> anyhow::Result<Outcome> {
        let url = self
            .daemon
            .url(&format!("/session/{}/events", self.session));
        let request = self
            .daemon
            .http
            .get(url)
            .header(reqwest::header::ACCEPT, "text/event-stream");
        let mut request = match &self.credential {
            Credential::Token(token) => request.bearer_auth(token),
            Credential::OwnerKey(key) => match self.ticket(key).await? {
                Ok(ticket) => request.query(&[("ticket", ticket)]),
                Err(dropped) => return Ok(dropped),
            },
        };
        if let Some(id) = self.last_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(err) => {
                return Ok(Outcome::Dropped {
                    reason: daemon::describe_send_error(&err),
                    delivered: false,
                });
            }
        };
        let status = response.status();
        if status == reqwest::StatusCode::UNAUTHORIZED {
            return Err(self.refused(response).await);
        }
        if status.is_server_error() {
            return Ok(Outcome::Dropped {
                reason: daemon::failure(response).await,
                delivered: false,
            });
        }
        if !status.is_success() {
            bail!(
                "cannot follow session {}: {}",
                self.session,
                daemon::failure(response).await
            );
        }
        let opened = Instant::now();
        let mut delivered = false;
        let bytes =
            tokio_stream::StreamExt::timeout(response.bytes_stream(), SILENCE).map(|chunk| {
                match chunk {
                    Ok(Ok(bytes)) => Ok(bytes),
                    Ok(Err(err)) => Err(daemon::describe_send_error(&err)),
                    Err(_) => Err(format!("nothing heard for {} s", SILENCE.as_secs())),
                }
            });
        let mut events = std::pin::pin!(bytes.eventsource());
        let reason = loop {
            let event = match events.next().await {
                Some(Ok(event)) => event,
                Some(Err(err)) => break err.to_string(),
                None => break "the daemon closed the stream".to_owned(),
            };
            if let Some(retry) = event.retry {
                self.retry = retry.max(Duration::from_millis(100));
            }
            match event.event.as_str() {
                "session-ended" => {
                    let reason = serde_json::from_str::<Value>(&event.data)
                        .ok()
                        .and_then(|data| data["reason"].as_str().map(one_line))
                        .unwrap_or_else(|| "ended".to_owned());
                    return Ok(Outcome::Ended(reason));
                }
                "lagged" => {
                    let missed = serde_json::from_str::<Value>(&event.data)
                        .ok()
                        .and_then(|data| data["missed"].as_u64())
                        .unwrap_or(0);
                    view.line(&format!("lagged: {missed} events lost"))?;
                    delivered = true;
                }
                "" | "message" => {
                    if event.data.is_empty() {
                        continue;
                    }
                    let id = event.id.trim().parse::<u64>().ok();
                    if let (Some(id), Some(last)) = (id, self.last_id)
                        && id <= last
                    {
                        continue; // already shown
                    }
                    let Ok(data) = serde_json::from_str::<Value>(&event.data) else {
                        continue;
                    };
                    view.progress(&Progress::from_json(&data))?;
                    if id.is_some() {
                        self.last_id = id;
                    }
                    delivered = true;
                }
                _ => {}
            }
        };
        Ok(Outcome::Dropped {
            reason,
            delivered: delivered || opened.elapsed() >= HEALTHY,
        })
    }
}

/// One progress event, as shown.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// The call's progress token, as text (strings without quotes).
    pub token: String,
    /// The tool's name, when the event has one.
    pub tool: Option<String>,
    /// How far.
    pub progress: u64,
    /// Out of how much, when known.
    pub total: Option<u64>,
    /// What it is doing.
    pub message: Option<String>,
    /// When (RFC 3339, as the daemon wrote it).
    pub timestamp: String,
}

impl Progress {
    /// Reads a `ProgressEvent` leniently: a field of the wrong type is taken as absent.
    pub fn from_json(data: &Value) -> Self {
        let number = |value: &Value| {
            value
                .as_u64()
                .or_else(|| value.as_f64().map(|f| f.max(0.0) as u64))
        };
        Self {
            token: match &data["token"] {
                Value::String(text) => one_line(text),
                Value::Null => "?".to_owned(),
                other => one_line(&other.to_string()),
            },
            tool: data["tool"].as_str().map(one_line),
            progress: number(&data["progress"]).unwrap_or(0),
            total: number(&data["total"]),
            message: data["message"].as_str().map(one_line),
            timestamp: data["timestamp"]
                .as_str()
                .map_or_else(String::new, one_line),
        }
    }

    /// The title of the call: its tool, or `tool #<token>` when the event names none.
    pub fn title(&self) -> String {
        match &self.tool {
            Some(tool) => tool.clone(),
            None => format!("tool #{}", self.token),
        }
    }

    /// `[<timestamp>] <tool> #<token> <progress>/<total> <message>` (parts that are unknown left
    /// out).
    pub fn line(&self) -> String {
        let mut line = format!(
            "[{}] {} #{} {}",
            self.timestamp,
            self.tool.as_deref().unwrap_or("tool"),
            self.token,
            self.progress
        );
        if let Some(total) = self.total {
            line.push_str(&format!("/{total}"));
        }
        if let Some(message) = &self.message {
            line.push(' ');
            line.push_str(message);
        }
        line
    }
}

/// Where events are shown.
enum View {
    /// One line per event on standard output.
    Lines,
    /// Live progress bars.
    Bars(Bars),
}

impl View {
    fn new(terminal: bool) -> Self {
        if terminal {
            View::Bars(Bars::new())
        } else {
            View::Lines
        }
    }

    fn progress(&mut self, event: &Progress) -> anyhow::Result<()> {
        match self {
            View::Lines => print_line(&event.line()),
            View::Bars(bars) => {
                bars.update(event);
                Ok(())
            }
        }
    }

    /// A remark about the connection, on standard error (above the bars on a terminal).
    fn note(&mut self, text: &str) {
        match self {
            View::Lines => eprintln!("{text}"),
            View::Bars(bars) => bars.multi.suspend(|| eprintln!("{text}")),
        }
    }

    fn line(&mut self, text: &str) -> anyhow::Result<()> {
        match self {
            View::Lines => print_line(text),
            View::Bars(bars) => {
                let _ = bars.multi.println(text);
                Ok(())
            }
        }
    }
}

/// One line on standard output, flushed at once (whoever reads it is following live).
fn print_line(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .context("cannot write to standard output")
}

/// The progress bars of the calls seen, most recent last.
struct Bars {
    multi: MultiProgress,
    calls: IndexMap<String, ProgressBar>,
}

impl Bars {
    fn new() -> Self {
        Self {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stdout()),
            calls: IndexMap::new(),
        }
    }

    fn update(&mut self, event: &Progress) {
        let restarted = self.calls.get(&event.token).is_some_and(|bar| {
            bar.is_finished() && event.progress < bar.position() // the token was reused
        });
        if restarted && let Some(bar) = self.calls.shift_remove(&event.token) {
            self.multi.remove(&bar);
        }
        let bar = match self.calls.get(&event.token) {
            Some(bar) => bar.clone(),
            None => {
                let bar = self.multi.add(ProgressBar::no_length());
                self.calls.insert(event.token.clone(), bar.clone());
                self.forget_finished();
                bar
            }
        };
        match event.total {
            Some(total) => {
                bar.set_style(known_total());
                bar.set_length(total);
            }
            None => {
                bar.set_style(unknown_total());
                bar.unset_length();
            }
        }
        bar.set_prefix(event.title());
        bar.set_position(event.progress);
        bar.set_message(event.message.clone().unwrap_or_default());
        if event.total.is_some_and(|total| event.progress >= total) {
            bar.finish();
        } else {
            bar.tick();
        }
    }

    /// Removes the oldest finished bars beyond [`FINISHED_KEPT`], then the oldest of any
    /// beyond [`MAX_BARS`].
    fn forget_finished(&mut self) {
        let finished = self.calls.values().filter(|bar| bar.is_finished()).count();
        let mut excess = finished.saturating_sub(FINISHED_KEPT);
        self.calls.retain(|_, bar| {
            if excess > 0 && bar.is_finished() {
                excess -= 1;
                self.multi.remove(bar);
                false
            } else {
                true
            }
        });
        while self.calls.len() > MAX_BARS {
            if let Some((_, bar)) = self.calls.shift_remove_index(0) {
                self.multi.remove(&bar);
            }
        }
    }
}

fn known_total() -> ProgressStyle {
    ProgressStyle::with_template("{prefix:.bold} [{bar:30.cyan/blue}] {pos}/{len} {wide_msg}")
        .expect("a valid template")
        .progress_chars("=> ")
}

fn unknown_total() -> ProgressStyle {
    ProgressStyle::with_template("{prefix:.bold} {spinner} {pos} {wide_msg}")
        .expect("a valid template")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lines_show_what_the_event_has() {
        let full = Progress::from_json(&json!({"token": 5, "progress": 1, "total": 3,
            "message": "step 1\nof 3", "tool": "sleep", "timestamp": "2026-01-01T00:00:00Z"}));
        assert_eq!(
            full.line(),
            "[2026-01-01T00:00:00Z] sleep #5 1/3 step 1 of 3"
        );
        assert_eq!(full.title(), "sleep");
        let bare = Progress::from_json(&json!({"token": "abc", "progress": 2, "timestamp": "t"}));
        assert_eq!(bare.line(), "[t] tool #abc 2");
        assert_eq!(bare.title(), "tool #abc");
    }

    #[test]
    fn backoff_grows_from_the_retry_delay_and_is_capped() {
        let retry = Duration::from_millis(200);
        assert_eq!(backoff(retry, 1), retry);
        assert_eq!(backoff(retry, 3), retry * 4);
        assert_eq!(backoff(retry, 30), MAX_BACKOFF);
    }
}
