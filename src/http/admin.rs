//! The administrator's routes: `GET /admin/sessions`, the list of every session.
//!
//! With the owner key, the admin token ([`super::admin_token`]) is the only credential these
//! routes accept: a session's token, which any client creating a session gets, never lists the
//! others.

use std::time::Duration;

use actix_web::http::header::{CACHE_CONTROL, CacheControl, CacheDirective};
use actix_web::{HttpRequest, HttpResponse, web};
use construct_actors::{Describe, ListSessions, ListedSession, SessionInfo};
use futures::StreamExt as _;
use serde_json::{Value, json};

use super::error::HttpError;
use super::{AppState, ask, auth};

/// How many sessions are asked to describe themselves at once.
const DESCRIBE_CONCURRENCY: usize = 32;

/// Longest one session may take to describe itself; one that does not answer in time is left
/// out of the list (it is stopping, or too busy to be worth waiting for).
const DESCRIBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Longest the whole listing may take before the answer is `503`.
const LIST_TIMEOUT: Duration = Duration::from_secs(10);

/// Checks that the request carries the admin token (or the owner key, see [`AppState::is_admin`]).
pub fn require(req: &HttpRequest, state: &AppState) -> Result<(), HttpError> {
    if state.is_admin(auth::bearer(req)?) {
        Ok(())
    } else {
        Err(HttpError::Unauthorized("wrong admin token"))
    }
}

/// `GET /admin/sessions` with the admin token → `{"sessions": [...]}`, oldest first.
pub async fn sessions(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, HttpError> {
    require(&req, &state)?;
    let listed = ask(&state.registry, ListSessions).await?;
    let described = tokio::time::timeout(LIST_TIMEOUT, describe_all(listed))
        .await
        .map_err(|_| {
            HttpError::Unavailable("the sessions took too long to answer; try again".into())
        })?;
    let mut sessions = described;
    sessions.sort_by_key(|(info, _)| (info.created_at, info.id));
    let sessions: Vec<Value> = sessions
        .iter()
        .map(|(info, by_daemon)| session_json(info, *by_daemon))
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, CacheControl(vec![CacheDirective::NoStore])))
        .json(json!({ "sessions": sessions })))
}

/// Asks every listed session, a bounded number at a time, to describe itself; those that ended
/// meanwhile or do not answer in time are skipped.
async fn describe_all(listed: Vec<ListedSession>) -> Vec<(SessionInfo, bool)> {
    futures::stream::iter(listed)
        .map(|entry| async move {
            let answer = entry.session.send(Describe).timeout(DESCRIBE_TIMEOUT).await;
            match answer {
                Ok(info) => Some((info, entry.by_daemon)),
                Err(err) => {
                    tracing::debug!(session = %entry.id, %err, "left out of the session list");
                    None
                }
            }
        })
        .buffer_unordered(DESCRIBE_CONCURRENCY)
        .filter_map(std::future::ready)
        .collect()
        .await
}

/// One session as the list shows it. `owner` is `"daemon"` for a session the daemon made for
/// itself (`by_daemon`: one stateless requests run in) and `"client"` for every other. `client`
/// is what the MCP client using the session said it is at `initialize` (`{"name", "version"}`),
/// `null` before that.
fn session_json(info: &SessionInfo, by_daemon: bool) -> Value {
    let settings = &info.settings;
    let client = settings
        .client_name
        .as_deref()
        .map(|name| json!({"name": name, "version": settings.client_version.as_deref()}));
    json!({
        "session_id": info.id,
        "label": info.label.as_deref(),
        "cwd": info.cwd.to_string_lossy(),
        "created_at": info.created_at,
        "last_activity": info.last_activity,
        "subscribers": info.subscribers,
        "running_calls": info.running_calls,
        "owner": if by_daemon { "daemon" } else { "client" },
        "client": client,
    })
}
