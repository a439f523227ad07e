//! Who a `/mcp` request speaks for: a Construct session (`X-Construct-Session` plus its bearer
//! token), a standard session (`Mcp-Session-Id`), or nobody yet.
//!
//! A standard session's id, as the daemon hands it out at `initialize`, is `<uuid>.<token>`: the
//! header is then the whole credential, as MCP clients expect, and the session's uuid alone (which
//! dashboards see) grants nothing. A Construct session may be used through the standard header too,
//! as `Mcp-Session-Id: <uuid>` with `Authorization: Bearer <token>`.
//!
//! Failures differ by kind, as each protocol expects: a Construct client gets `401`, a standard
//! client `404` (its session is gone: start a new one), whatever the exact reason.

use actix::Addr;
use actix_web::HttpRequest;
use actix_web::http::header::HeaderName;
use construct_actors::{SessionActor, SessionInfo};
use uuid::Uuid;

use super::auth;
use super::error::HttpError;
use crate::mcp::version::Era;

/// The standard session header.
pub const MCP_SESSION_ID: &str = "Mcp-Session-Id";

/// [`MCP_SESSION_ID`] as requests are looked up by (see `crate::headers::SESSION_HEADER_NAME`).
pub const MCP_SESSION_ID_NAME: HeaderName = HeaderName::from_static("mcp-session-id");

/// The credentials a request carries.
pub enum Identity {
    /// `X-Construct-Session` with a bearer token.
    Construct {
        /// The session.
        id: Uuid,
        /// Its token.
        token: String,
    },
    /// `Mcp-Session-Id` (legacy era only).
    Standard {
        /// The session.
        id: Uuid,
        /// Its token.
        token: String,
    },
    /// Neither.
    Anonymous,
}

impl Identity {
    /// Reads the credentials of `req`; modern-era requests ignore `Mcp-Session-Id`, as the
    /// specification asks of servers speaking that revision.
    pub fn of(req: &HttpRequest, era: Era) -> Result<Self, HttpError> {
        if req
            .headers()
            .contains_key(crate::headers::SESSION_HEADER_NAME)
        {
            return Ok(Self::Construct {
                id: auth::session_header(req)?,
                token: auth::bearer(req)?.to_owned(),
            });
        }
        let standard = req.headers().get(MCP_SESSION_ID_NAME);
        match standard {
            Some(value) if era == Era::Legacy => {
                let text = value
                    .to_str()
                    .map_err(|_| HttpError::SessionNotFound)?
                    .trim();
                let (id, token) = match text.split_once('.') {
                    Some((id, token)) => (id, token.to_owned()),
                    None => (
                        text,
                        auth::bearer(req)
                            .map_err(|_| HttpError::SessionNotFound)?
                            .to_owned(),
                    ),
                };
                let id = Uuid::try_parse(id).map_err(|_| HttpError::SessionNotFound)?;
                Ok(Self::Standard { id, token })
            }
            _ => Ok(Self::Anonymous),
        }
    }

    /// The session these credentials open, with its facts. `None` for [`Identity::Anonymous`].
    pub async fn open(
        &self,
        req: &HttpRequest,
    ) -> Result<Option<(Addr<SessionActor>, SessionInfo)>, HttpError> {
        match self {
            Self::Construct { id, token } => auth::authenticate(req, *id, token).await.map(Some),
            Self::Standard { id, token } => match auth::authenticate(req, *id, token).await {
                Ok(opened) => Ok(Some(opened)),
                Err(HttpError::Unauthorized(_)) => Err(HttpError::SessionNotFound),
                Err(other) => Err(other),
            },
            Self::Anonymous => Ok(None),
        }
    }

    /// Whether the request came from a standard MCP client (which must follow the `Accept`
    /// rules); Construct clients predate them and are served as before.
    pub fn is_construct(&self) -> bool {
        matches!(self, Self::Construct { .. })
    }
}

/// The `Mcp-Session-Id` value handed out for a session.
pub fn session_header_value(id: Uuid, token: &str) -> String {
    format!("{id}.{token}")
}
