//! `GET /metrics`: the daemon's metrics in the Prometheus text format (see
//! `crate::metrics_recorder` for what is counted and where).
//!
//! No credentials by default, like `/health`: the numbers name tools and routes, never a session
//! or a token. `metrics.token` locks it behind `Authorization: Bearer <token>` (compared in
//! constant time); `metrics.enabled = false` turns counting off and answers `404`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;
use subtle::ConstantTimeEq as _;

use super::error::HttpError;
use super::{AppState, auth};
use crate::metrics_recorder;

/// The content type of the Prometheus text exposition format.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `GET /metrics`.
pub async fn scrape(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, HttpError> {
    let config = &state.config.metrics;
    let handle = match metrics_recorder::handle() {
        Some(handle) if config.enabled => handle,
        _ => {
            return Ok(HttpResponse::NotFound()
                .json(json!({"error": "metrics are disabled (metrics.enabled = false)"})));
        }
    };
    if let Some(token) = &config.token {
        let presented = auth::bearer(&req)?;
        if !bool::from(presented.as_bytes().ct_eq(token.as_bytes())) {
            return Err(HttpError::Unauthorized("wrong metrics token"));
        }
    }
    Ok(HttpResponse::Ok()
        .content_type(TEXT_FORMAT)
        .body(handle.render()))
}
