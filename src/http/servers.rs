//! `GET /admin/servers`: every upstream MCP server the daemon runs, its state, tools, restarts
//! and last error, for the administrator (admin token or owner key, like `/admin/sessions`).

use actix_web::http::header::{CACHE_CONTROL, CacheControl, CacheDirective};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::error::HttpError;
use super::{AppState, admin};
use crate::upstream::{Status, UpstreamError};

/// `GET /admin/servers` with the admin token → `{"servers": [...]}`, by name.
pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, HttpError> {
    admin::require(&req, &state)?;
    let servers: Vec<Value> = state
        .upstreams
        .statuses()
        .await
        .iter()
        .map(server_json)
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, CacheControl(vec![CacheDirective::NoStore])))
        .json(json!({ "servers": servers })))
}

/// One server as the list shows it; one whose connection did not answer shows why.
fn server_json(status: &Result<Status, UpstreamError>) -> Value {
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
