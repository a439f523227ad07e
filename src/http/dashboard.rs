//! `GET /`: the dashboard, a page served by the daemon itself. Its files (`dashboard/` in the
//! source tree) are compiled into the binary: no CDN, no build step, nothing fetched from
//! elsewhere, which the page's Content-Security-Policy enforces.
//!
//! The page asks for the admin token (kept in the tab's `sessionStorage`, never in a URL), lists
//! the sessions through `GET /admin/sessions`, and follows a chosen session's events through a
//! stream ticket (`POST /session/{id}/ticket`, then `EventSource` on
//! `/session/{id}/events?ticket=…`), drawing one progress bar per tool call.

use actix_web::http::header::{self, ContentType};
use actix_web::{HttpResponse, web};

/// The page.
const INDEX_HTML: &str = include_str!("../../dashboard/index.html");
/// Its script.
const APP_JS: &str = include_str!("../../dashboard/app.js");
/// Its style sheet.
const STYLE_CSS: &str = include_str!("../../dashboard/style.css");

/// Only this origin's own files and connections; no inline script, no framing, no forms posted
/// anywhere.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// Registers the dashboard's routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(index))
        .route("/dashboard/app.js", web::get().to(app_js))
        .route("/dashboard/style.css", web::get().to(style_css));
}

/// `GET /`
pub async fn index() -> HttpResponse {
    file(ContentType::html(), INDEX_HTML)
}

/// `GET /dashboard/app.js`
pub async fn app_js() -> HttpResponse {
    file(ContentType(mime_javascript()), APP_JS)
}

/// `GET /dashboard/style.css`
pub async fn style_css() -> HttpResponse {
    file(ContentType(mime_css()), STYLE_CSS)
}

fn mime_javascript() -> actix_web::mime::Mime {
    "text/javascript; charset=utf-8"
        .parse()
        .expect("a valid media type")
}

fn mime_css() -> actix_web::mime::Mime {
    "text/css; charset=utf-8"
        .parse()
        .expect("a valid media type")
}

fn file(content_type: ContentType, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(content_type)
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        // The files change only with the binary; a new daemon must not be shown an old page.
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body)
}
