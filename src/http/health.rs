//! `GET /health`: the liveness probe. Needs no credentials and touches no actor, so it answers
//! even when the actors are saturated.

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::AppState;
use crate::mcp::version;

/// `200 {"status":"ok","pid","uptime_seconds","started_at","protocol_version"}`.
pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    let started = &state.started;
    HttpResponse::Ok().json(json!({
        "status": "ok",
        "pid": started.pid,
        "uptime_seconds": started.instant.elapsed().as_secs(),
        "started_at": started.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "protocol_version": version::LATEST,
    }))
}
