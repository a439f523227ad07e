//! One connection to a session's events stream at a time: opening it (with the session's token,
//! or a single-use ticket bought with the owner key), resuming after the last event shown, and
//! showing its events until the session ends or the connection drops. Whether and when to
//! connect again is the caller's.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use eventsource_stream::{Event, Eventsource as _};
use futures::StreamExt as _;
use serde_json::Value;

use super::progress::Progress;
use super::view::View;
use crate::client::daemon::{self, Daemon};
use crate::client::text::one_line;

/// A connection silent this long (not even a keep-alive comment) is taken as dead.
const SILENCE: Duration = Duration::from_secs(90);

/// A connection that lasted this long counts as a success, even without events.
const HEALTHY: Duration = Duration::from_secs(10);

/// The shortest reconnection delay a stream's `retry:` may set.
const MIN_RETRY: Duration = Duration::from_millis(100);

/// How one connection ended.
pub enum Outcome {
    /// The session ended, for this reason.
    Ended(String),
    /// The connection broke or closed; `delivered` when it got anywhere first.
    Dropped { reason: String, delivered: bool },
}

impl Outcome {
    /// The daemon could not be reached.
    fn unreached(err: &reqwest::Error) -> Self {
        Outcome::Dropped {
            reason: daemon::describe_send_error(err),
            delivered: false,
        }
    }

    /// The daemon answered with a failure worth retrying.
    async fn failed(response: reqwest::Response) -> Self {
        Outcome::Dropped {
            reason: daemon::failure(response).await,
            delivered: false,
        }
    }
}

/// What opens the session's events stream.
pub enum Credential {
    /// The session's own token, as a bearer header.
    Token(String),
    /// The owner key, traded for a single-use stream ticket before each connection.
    OwnerKey(String),
}

/// What one event of the stream came to.
enum Taken {
    /// The session ended, for this reason.
    Ended(String),
    /// Something was shown.
    Shown,
    /// Nothing to show (a keep-alive, an event already shown, one of another kind).
    Skipped,
}

/// One session followed across connections.
pub struct Follower {
    /// The daemon serving the session.
    pub daemon: Daemon,
    /// The session's id.
    pub session: String,
    /// What opens its stream.
    pub credential: Credential,
    /// The id of the last event shown: where a new connection resumes.
    pub last_id: Option<u64>,
    /// The stream's `retry:` delay.
    pub retry: Duration,
}

impl Follower {
    /// One connection: its events until it ends. Errors are the ones retrying cannot fix.
    pub async fn follow(&mut self, view: &mut View) -> anyhow::Result<Outcome> {
        match self.open().await? {
            Ok(response) => self.read(response, view).await,
            Err(dropped) => Ok(dropped),
        }
    }

    /// The URL of the session's endpoint `what` (`/session/{id}/{what}`).
    fn session_url(&self, what: &str) -> String {
        self.daemon
            .url(&format!("/session/{}/{what}", self.session))
    }

    /// A stream ticket for the session, bought with the owner key; `Err` when the daemon could
    /// not be reached (a dropped connection, to retry).
    async fn ticket(&self, key: &str) -> anyhow::Result<Result<String, Outcome>> {
        let sent = self
            .daemon
            .http
            .post(self.session_url("ticket"))
            .bearer_auth(key)
            .timeout(daemon::REQUEST_TIMEOUT)
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(err) => return Ok(Err(Outcome::unreached(&err))),
        };
        if response.status() == reqwest::StatusCode::UNAUTHORIZED {
            return Err(self.refused(response).await);
        }
        if !response.status().is_success() {
            return Ok(Err(Outcome::failed(response).await));
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

    /// The events stream, opened after the last event shown; `Err` (inside) when the
    /// connection dropped before it opened, to retry.
    async fn open(&self) -> anyhow::Result<Result<reqwest::Response, Outcome>> {
        let request = self
            .daemon
            .http
            .get(self.session_url("events"))
            .header(reqwest::header::ACCEPT, "text/event-stream");
        let mut request = match &self.credential {
            Credential::Token(token) => request.bearer_auth(token),
            Credential::OwnerKey(key) => match self.ticket(key).await? {
                Ok(ticket) => request.query(&[("ticket", ticket)]),
                Err(dropped) => return Ok(Err(dropped)),
            },
        };
        if let Some(id) = self.last_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(err) => return Ok(Err(Outcome::unreached(&err))),
        };
        let status = response.status();
        if status == reqwest::StatusCode::UNAUTHORIZED {
            return Err(self.refused(response).await);
        }
        if status.is_server_error() {
            return Ok(Err(Outcome::failed(response).await));
        }
        if !status.is_success() {
            bail!(
                "cannot follow session {}: {}",
                self.session,
                daemon::failure(response).await
            );
        }
        Ok(Ok(response))
    }

    /// Shows the stream's events until the session ends or the connection drops.
    async fn read(
        &mut self,
        response: reqwest::Response,
        view: &mut View,
    ) -> anyhow::Result<Outcome> {
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
            match self.take(&event, view)? {
                Taken::Ended(reason) => return Ok(Outcome::Ended(reason)),
                Taken::Shown => delivered = true,
                Taken::Skipped => {}
            }
        };
        Ok(Outcome::Dropped {
            reason,
            delivered: delivered || opened.elapsed() >= HEALTHY,
        })
    }

    /// Takes one event of the stream: its `retry:` delay, and what it says.
    fn take(&mut self, event: &Event, view: &mut View) -> anyhow::Result<Taken> {
        if let Some(retry) = event.retry {
            self.retry = retry.max(MIN_RETRY);
        }
        Ok(match event.event.as_str() {
            "session-ended" => {
                let reason = serde_json::from_str::<Value>(&event.data)
                    .ok()
                    .and_then(|data| data["reason"].as_str().map(one_line))
                    .unwrap_or_else(|| "ended".to_owned());
                Taken::Ended(reason)
            }
            "lagged" => {
                let missed = serde_json::from_str::<Value>(&event.data)
                    .ok()
                    .and_then(|data| data["missed"].as_u64())
                    .unwrap_or(0);
                view.line(&format!("lagged: {missed} events lost"))?;
                Taken::Shown
            }
            "" | "message" => self.show_progress(event, view)?,
            _ => Taken::Skipped,
        })
    }

    /// Shows a progress event, unless it was shown already (a replay) or is not one.
    fn show_progress(&mut self, event: &Event, view: &mut View) -> anyhow::Result<Taken> {
        if event.data.is_empty() {
            return Ok(Taken::Skipped);
        }
        let id = event.id.trim().parse::<u64>().ok();
        if let (Some(id), Some(last)) = (id, self.last_id)
            && id <= last
        {
            return Ok(Taken::Skipped); // already shown
        }
        let Ok(data) = serde_json::from_str::<Value>(&event.data) else {
            return Ok(Taken::Skipped);
        };
        view.progress(&Progress::from_json(&data))?;
        if id.is_some() {
            self.last_id = id;
        }
        Ok(Taken::Shown)
    }
}
