//! The fence in front of every route: `Origin` and `Host` checks against DNS rebinding.
//!
//! A web page the user visits can make the browser send requests to `127.0.0.1`; if its own
//! name resolves to `127.0.0.1` (DNS rebinding) the browser even thinks it is same-origin. Two
//! checks close that door, as the MCP transport specification asks: a request that carries an
//! `Origin` must come from this daemon's own origin or a configured one, and, when the daemon
//! listens on loopback, the `Host` must name the loopback address and port it listens on (or a
//! configured host). Both refusals are `403` with a one-line reason. Requests without `Origin`
//! (CLIs, curl) pass the first check: only browsers send it, and they always do.

use std::net::SocketAddr;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HOST, ORIGIN};
use actix_web::middleware::Next;
use actix_web::web;

use super::config::SecurityConfig;
use super::error::HttpError;

/// Which `Origin` and `Host` values are acceptable; computed once the port is known.
#[derive(Debug, Clone)]
pub struct Guard {
    origins: Vec<String>,
    /// `None`: any host (a non-loopback bind with no configured hosts).
    hosts: Option<Vec<String>>,
}

impl Guard {
    /// The fence for a daemon listening on `addr` with `security` settings.
    pub fn new(addr: SocketAddr, security: &SecurityConfig) -> Self {
        let port = addr.port();
        let loopback_names = ["127.0.0.1", "localhost", "[::1]"];
        let mut origins: Vec<String> = loopback_names
            .iter()
            .map(|name| format!("http://{name}:{port}"))
            .collect();
        origins.extend(
            security
                .allowed_origins
                .iter()
                .map(|o| o.to_ascii_lowercase()),
        );
        let configured = security
            .allowed_hosts
            .iter()
            .map(|h| h.to_ascii_lowercase());
        let hosts = if addr.ip().is_loopback() {
            let mut hosts: Vec<String> = loopback_names
                .iter()
                .map(|name| format!("{name}:{port}"))
                .collect();
            hosts.extend(configured);
            Some(hosts)
        } else if security.allowed_hosts.is_empty() {
            None
        } else {
            Some(configured.collect())
        };
        Self { origins, hosts }
    }

    /// Why `request` must be refused, if it must.
    fn refusal(&self, origin: Option<&str>, host: Option<&str>) -> Option<&'static str> {
        if let Some(origin) = origin
            && !self.origins.iter().any(|o| o.eq_ignore_ascii_case(origin))
        {
            return Some("the request's Origin is not allowed");
        }
        if let (Some(hosts), Some(host)) = (&self.hosts, host)
            && !hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
        {
            return Some("the request's Host is not allowed");
        }
        None
    }
}

/// The middleware: refuses foreign origins and hosts before any handler runs.
pub async fn check(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if let Some(guard) = req.app_data::<web::Data<Guard>>() {
        let header = |name| {
            req.headers()
                .get(name)
                .map(|v| v.to_str().unwrap_or("\u{0}"))
        };
        if let Some(reason) = guard.refusal(header(ORIGIN), header(HOST)) {
            return Err(HttpError::Forbidden(reason).into());
        }
    }
    next.call(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(addr: &str, security: SecurityConfig) -> Guard {
        Guard::new(addr.parse().unwrap(), &security)
    }

    #[test]
    fn loopback_daemons_accept_only_their_own_origin_and_host() {
        let g = guard("127.0.0.1:4000", SecurityConfig::default());
        assert_eq!(g.refusal(None, Some("127.0.0.1:4000")), None);
        assert_eq!(
            g.refusal(Some("http://localhost:4000"), Some("localhost:4000")),
            None
        );
        assert!(
            g.refusal(Some("http://evil.example"), Some("127.0.0.1:4000"))
                .is_some()
        );
        assert!(
            g.refusal(Some("http://localhost:4001"), Some("127.0.0.1:4000"))
                .is_some()
        );
        assert!(g.refusal(None, Some("evil.example:4000")).is_some());
        assert!(g.refusal(Some("null"), None).is_some());
    }

    #[test]
    fn configured_origins_and_hosts_are_added() {
        let security = SecurityConfig {
            allowed_origins: vec!["https://Dash.example".into()],
            allowed_hosts: vec!["dev.box:4000".into()],
            ..SecurityConfig::default()
        };
        let g = guard("127.0.0.1:4000", security);
        assert_eq!(
            g.refusal(Some("https://dash.example"), Some("DEV.box:4000")),
            None
        );
    }

    #[test]
    fn non_loopback_daemons_check_hosts_only_when_configured() {
        let g = guard("0.0.0.0:4000", SecurityConfig::default());
        assert_eq!(g.refusal(None, Some("anything:4000")), None);
        assert!(g.refusal(Some("http://evil.example"), None).is_some());
    }
}
