//! How a fan-out run publishes, by the server it publishes to. On the daemon (and on the
//! ceiling, which answers the same requests) a fresh session's `tools/call sleep` reports one
//! progress event per step, which the followers read on the session's events stream. On nchan
//! the bench posts one message per step to a fresh channel ([`NchanChannel`]).

use std::net::SocketAddr;
use std::time::Instant;

use anyhow::bail;
use bytes::Bytes;
use http::StatusCode;
use serde_json::json;

use super::followers::{Followers, Numbering, Stream};
use super::nchan_channel::NchanChannel;
use crate::client::{self, Conn, Creds};
use crate::servers::{Kind, Server};

/// Where a run publishes.
pub enum Publisher {
    /// A fresh session on the daemon or the ceiling, and the connection its call goes on.
    Session { control: Conn, creds: Creds },
    /// A fresh channel on nchan.
    Channel(NchanChannel),
}

impl Publisher {
    /// A fresh place to publish on `server`.
    pub async fn open(server: &Server) -> anyhow::Result<Self> {
        if server.kind == Kind::Nchan {
            return Ok(Self::Channel(NchanChannel::open(server.addr).await?));
        }
        let mut control = Conn::connect(server.addr).await?;
        let creds = control.create_session().await?;
        Ok(Self::Session { control, creds })
    }

    /// The events stream its followers read on the server at `addr` (the publisher's own,
    /// unless a cluster shares the session).
    pub fn stream(&self, addr: SocketAddr) -> Stream {
        match self {
            Self::Session { creds, .. } => Stream {
                addr,
                path: format!("/session/{}/events", creds.id),
                bearer: Some(creds.bearer.clone()),
                numbering: Numbering::EventId,
            },
            Self::Channel(channel) => channel.stream(addr),
        }
    }

    /// Makes sure that what it publishes reaches each of the `n` subscribed `followers`: the
    /// daemon and the ceiling add a follower before they answer its `GET`; nchan is checked
    /// ([`NchanChannel::reach`]).
    pub async fn reach(&mut self, followers: &Followers, n: usize) -> anyhow::Result<()> {
        match self {
            Self::Session { .. } => Ok(()),
            Self::Channel(channel) => channel.reach(followers, n).await,
        }
    }

    /// Publishes `steps` events over `duration_ms` (0: as fast as it goes); returns how long
    /// that took, s.
    pub async fn publish(&mut self, steps: u64, duration_ms: u64) -> anyhow::Result<f64> {
        match self {
            Self::Session { control, creds } => {
                call_sleep(control, creds, steps, duration_ms).await
            }
            Self::Channel(channel) => channel.publish(steps, duration_ms).await,
        }
    }
}

/// Publishes `steps` events over `duration_ms` in session `creds` (`tools/call sleep`, with a
/// progress token); returns how long the call took, s.
async fn call_sleep(
    control: &mut Conn,
    creds: &Creds,
    steps: u64,
    duration_ms: u64,
) -> anyhow::Result<f64> {
    let start = Instant::now();
    let call = json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "sleep", "arguments": {"duration_ms": duration_ms, "steps": steps},
                   "_meta": {"progressToken": 5}}
    });
    let request = control.mcp(creds, Bytes::from(call.to_string()))?;
    let (status, body) = control.exchange(request).await?;
    let secs = start.elapsed().as_secs_f64();
    if status != StatusCode::OK || !client::contains(&body, b"\"result\"") {
        bail!(
            "the publishing tools/call answered {status}: {}",
            String::from_utf8_lossy(&body[body.len().saturating_sub(300)..])
        );
    }
    Ok(secs)
}
