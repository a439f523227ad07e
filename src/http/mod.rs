//! The HTTP face of the daemon: one module per endpoint family, sharing [`AppState`].
//!
//! Handlers hold no session state. They read the request, ask the actors by message (each ask
//! bounded by [`construct_actors::ASK_TIMEOUT`]), and turn the answer into a response or an SSE stream. Every
//! failure a client can cause is an [`error::HttpError`], mapped to a status in one place.

pub mod accept;
pub mod admin;
pub mod admin_token;
pub mod api_key;
mod ask;
pub mod auth;
pub mod body;
mod client_address;
pub mod config;
mod cwd_lookup;
pub mod dashboard;
pub mod error;
pub mod events;
pub mod guard;
pub mod health;
pub mod identity;
pub mod mcp;
pub mod metrics;
pub mod request_log;
mod routes;
pub mod servers;
pub mod session;
mod sse_body;
mod state;
mod stream_response;
pub mod ticket;

pub use ask::{ask, unanswered};
pub use client_address::creator;
pub use routes::routes;
pub use state::{AppState, Started, StatelessSession, StatelessSessions};
