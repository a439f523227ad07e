//! The routing table: which handler answers which method and path.

use actix_web::web;

use super::{admin, dashboard, events, health, mcp, metrics, servers, session, ticket};

/// The routes whose pattern is a plain path (no `{…}` segment), the dashboard's aside: a request
/// for exactly one of these paths is matched by that pattern, so that the request log can name
/// its route without matching the path again.
pub const PLAIN_PATHS: [&str; 6] = [
    "/health",
    "/metrics",
    "/session",
    "/admin/sessions",
    "/admin/servers",
    "/mcp",
];

/// Registers every route. actix-web tries them in order, and each `{…}` pattern it passes costs a
/// regex match, so `/mcp` (every MCP message) comes first and the plain paths before the patterns.
pub fn routes(cfg: &mut web::ServiceConfig) {
    let [
        health_path,
        metrics_path,
        session_path,
        admin_sessions,
        admin_servers,
        mcp_path,
    ] = PLAIN_PATHS;
    cfg.route(mcp_path, web::post().to(mcp::post))
        .route(mcp_path, web::get().to(mcp::get))
        .route(mcp_path, web::delete().to(mcp::delete))
        .route(health_path, web::get().to(health::health))
        .route(metrics_path, web::get().to(metrics::scrape))
        .route(session_path, web::post().to(session::create))
        .route(admin_sessions, web::get().to(admin::sessions))
        .route(admin_servers, web::get().to(servers::list))
        .route("/session/{id}", web::get().to(session::describe))
        .route("/session/{id}", web::delete().to(session::end))
        .route("/session/{id}/events", web::get().to(events::follow))
        .route("/session/{id}/ticket", web::post().to(ticket::issue))
        .configure(dashboard::routes);
}
