//! `GET /admin/servers`: every upstream MCP server the daemon runs, its state, tools, restarts
//! and last error (for a session-scoped server, each session's connection), for the
//! administrator (admin token or owner key, like `/admin/sessions`).

use actix_web::http::header::{CACHE_CONTROL, CacheControl, CacheDirective};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::error::HttpError;
use super::{AppState, admin};
use crate::upstream::{ServerView, Status, UpstreamError};

/// `GET /admin/servers` with the admin token → `{"servers": [...]}`, by name.
pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, HttpError> {
    admin::require(&req, &state)?;
    let servers: Vec<Value> = state
        .upstreams
        .views()
        .await
        .iter()
        .map(view_json)
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, CacheControl(vec![CacheDirective::NoStore])))
        .json(json!({ "servers": servers })))
}

/// One server as the list shows it. A session-scoped one shows each session's connection under
/// `sessions`, and in the fields every server has, what they add up to: `idle` with none, else
/// `ready` when all are, else the state of the first that is not; the first one's tools; the
/// sum of calls and restarts; the first error.
fn view_json(view: &ServerView) -> Value {
    match view {
        ServerView::Shared(status) => {
            let mut shown = status_json(status);
            shown["scope"] = "shared".into();
            shown
        }
        ServerView::Session {
            name,
            max_sessions,
            connections: Err(reason),
        } => json!({
            "name": &**name, "scope": "session", "max_sessions": max_sessions,
            "state": "unknown", "last_error": reason,
        }),
        ServerView::Session {
            name,
            max_sessions,
            connections: Ok(connections),
        } => {
            let sessions: Vec<Value> = connections
                .iter()
                .map(|(session, status)| {
                    let mut shown = status_json(status);
                    shown["session"] = session.to_string().into();
                    shown
                })
                .collect();
            let first = |field: &str| sessions.iter().map(|s| &s[field]).find(|v| !v.is_null());
            let sum = |field: &str| {
                sessions
                    .iter()
                    .filter_map(|s| s[field].as_u64())
                    .sum::<u64>()
            };
            let state = match sessions.iter().find(|s| s["state"] != "ready") {
                _ if sessions.is_empty() => "idle".into(),
                Some(other) => other["state"].clone(),
                None => "ready".into(),
            };
            json!({
                "name": &**name, "scope": "session", "max_sessions": max_sessions,
                "state": state, "tools": first("tools").cloned().unwrap_or(json!([])),
                "calls": sum("calls"), "restarts": sum("restarts"),
                "last_error": first("last_error"), "sessions": sessions,
            })
        }
    }
}

/// One connection as the list shows it; one that did not answer shows why.
fn status_json(status: &Result<Status, UpstreamError>) -> Value {
    match status {
        Ok(status) => json!({
            "name": &*status.server,
            "state": status.state.as_str(),
            "tools": status.tools.iter().map(|tool| &*tool.name).collect::<Vec<_>>(),
            "restarts": status.restarts,
            "last_error": status.last_error,
            "calls": status.calls,
        }),
        Err(err) => json!({
            "name": &*err.server,
            "state": "unknown",
            "last_error": err.to_string(),
        }),
    }
}
