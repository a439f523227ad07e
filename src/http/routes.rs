//! The routing table: which handler answers which method and path.

use actix_web::web;

use super::{admin, dashboard, events, health, mcp, metrics, servers, session, ticket};

/// Registers every route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health::health))
        .route("/metrics", web::get().to(metrics::scrape))
        .route("/session", web::post().to(session::create))
        .route("/session/{id}", web::get().to(session::describe))
        .route("/session/{id}", web::delete().to(session::end))
        .route("/session/{id}/events", web::get().to(events::follow))
        .route("/session/{id}/ticket", web::post().to(ticket::issue))
        .route("/admin/sessions", web::get().to(admin::sessions))
        .route("/admin/servers", web::get().to(servers::list))
        .route("/mcp", web::post().to(mcp::post))
        .route("/mcp", web::get().to(mcp::get))
        .route("/mcp", web::delete().to(mcp::delete))
        .configure(dashboard::routes);
}
