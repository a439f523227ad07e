//! Opening a connection to an upstream server: its transport (a child's stdio, or Streamable
//! HTTP), the MCP handshake in either era, and its first tool list (and resource, template and
//! prompt lists, when it offers them), all within `start_timeout`.
//!
//! What comes out is a [`Link`]: the client to send requests through, the tools, a future
//! that ends, with the reason, when the connection does (the process exited, printed garbage,
//! the HTTP server went away), and for a 2026-07-28 server the listener that keeps its
//! `subscriptions/listen` stream (see `listen`). Dropping the link's future closes the
//! connection and kills the process group.

use std::collections::HashMap;
use std::sync::{Arc, Once};
use std::time::Duration;

use futures::future::BoxFuture;
use rmcp::model::{ProtocolVersion, Tool};
use rmcp::service::{ClientLifecycleMode, ClientServiceExt as _, Peer, RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use tokio::sync::{mpsc, oneshot};

use super::config::ServerConfig;
use super::handler::UpstreamHandler;
use super::http_client;
use super::in_order::{InOrder, ServerNotice};
use super::listen::Listener;
use super::lists::{self, Lists};
use super::pages;
use super::process;
use super::stdio::StdioTransport;

/// An open connection to a server.
pub struct Link {
    /// Where requests go.
    pub peer: Peer<RoleClient>,
    /// Its tools, as it lists them.
    pub tools: Vec<Tool>,
    /// Its resources, templates and prompts.
    pub lists: Lists,
    /// Ends, with the reason, when the connection does; dropping it closes the connection.
    pub ended: BoxFuture<'static, String>,
    /// Its listen stream's keeper, when it speaks 2026-07-28 and has something to tell.
    pub listener: Option<Listener>,
}

/// What a connection hands over as it comes: its progress reports, in order, and its changed
/// tool lists.
pub struct Receivers {
    /// Takes the tool-list changes.
    pub handler: UpstreamHandler,
    /// Where progress reports and log messages go.
    pub notices: mpsc::Sender<ServerNotice>,
}

/// Opens the connection to `server`, bounded by its `start_timeout`.
pub async fn open(
    server: Arc<str>,
    config: ServerConfig,
    receivers: Receivers,
) -> Result<Link, String> {
    let limit = config.start_timeout;
    match tokio::time::timeout(limit, connect(server, &config, receivers)).await {
        Ok(link) => link,
        Err(_) => Err(format!(
            "did not start within start_timeout ({limit:?}): no handshake or tool list"
        )),
    }
}

async fn connect(
    server: Arc<str>,
    config: &ServerConfig,
    receivers: Receivers,
) -> Result<Link, String> {
    let Receivers { handler, notices } = receivers;
    let signals = handler.signals();
    let (running, reason) = match &config.url {
        Some(url) => {
            let transport = InOrder::new(remote(url, config)?, server.clone(), notices);
            (handshake(handler, transport).await?, None)
        }
        None => {
            let program = config.command.as_deref().unwrap_or_default();
            let child = process::spawn(&server, config)
                .map_err(|err| format!("cannot start {program:?}: {err}"))?;
            let (transport, mut reason) = StdioTransport::new(child, config.max_message_bytes);
            let transport = InOrder::new(transport, server.clone(), notices);
            match handshake(handler, transport).await {
                Ok(running) => (running, Some(reason)),
                // The transport's own reason (its exit status, a bad line) says more.
                Err(err) => return Err(reason.try_recv().unwrap_or(err)),
            }
        }
    };
    let peer = running.peer().clone();
    let tools = list_tools(Arc::clone(&server), peer.clone(), config.start_timeout).await?;
    let lists = lists::fetch(&server, &peer, config.start_timeout).await;
    Ok(Link {
        listener: Listener::start(&server, &peer, config, signals),
        peer,
        tools,
        lists,
        ended: Box::pin(ended(running, reason)),
    })
}

/// The handshake, in the era the server speaks: `server/discover` first, then `initialize` when
/// the server answers that it does not know it.
async fn handshake<T, E, A>(
    handler: UpstreamHandler,
    transport: T,
) -> Result<RunningService<RoleClient, UpstreamHandler>, String>
where
    T: rmcp::transport::IntoTransport<RoleClient, E, A>,
    E: std::error::Error + Send + Sync + 'static,
{
    let lifecycle = ClientLifecycleMode::Auto {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        legacy_version: Some(ProtocolVersion::V_2025_11_25),
    };
    handler
        .serve_with_lifecycle(transport, lifecycle)
        .await
        .map_err(|err| format!("the MCP handshake failed: {err}"))
}

/// Every page of the server's tool list, within `limit`.
pub async fn list_tools(
    server: Arc<str>,
    peer: Peer<RoleClient>,
    limit: Duration,
) -> Result<Vec<Tool>, String> {
    let pages = pages::all(&server, "tools/list", |params| peer.list_tools(params));
    match tokio::time::timeout(limit, pages).await {
        Ok(Ok(tools)) => Ok(tools),
        Ok(Err(err)) => Err(format!("tools/list failed: {err}")),
        Err(_) => Err(format!("tools/list took longer than {limit:?}")),
    }
}

/// Waits for the connection to end: the reason its transport gave, or rmcp's.
async fn ended(
    running: RunningService<RoleClient, UpstreamHandler>,
    reason: Option<oneshot::Receiver<String>>,
) -> String {
    let quit = running.waiting().await;
    match reason {
        Some(reason) => reason.await.unwrap_or_else(|_| format!("{quit:?}")),
        None => format!("the connection closed ({quit:?})"),
    }
}

/// The Streamable HTTP transport to `url`, with the server's headers and message bound.
fn remote(
    url: &str,
    config: &ServerConfig,
) -> Result<impl rmcp::transport::Transport<RoleClient> + 'static, String> {
    install_crypto_provider();
    let mut headers = HashMap::new();
    for (name, value) in &config.headers.0 {
        let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
            .map_err(|err| format!("header {name:?}: {err}"))?;
        let value = reqwest::header::HeaderValue::from_str(value)
            .map_err(|err| format!("header {name}: {err}"))?;
        headers.insert(name, value);
    }
    let mut transport = StreamableHttpClientTransportConfig::with_uri(url.to_owned());
    transport.custom_headers = headers;
    transport.max_sse_event_size = config.max_message_bytes;
    transport.max_json_response_size = config.max_message_bytes;
    let client = http_client::pooled(transport.max_concurrent_requests)?;
    Ok(StreamableHttpClientTransport::with_client(
        client, transport,
    ))
}

/// rmcp's HTTP client verifies TLS through rustls with the process's default crypto provider:
/// the ring one this crate already builds.
fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
