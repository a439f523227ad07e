//! The hidden `echo-upstream` subcommand: a minimal upstream MCP server for the `forwarded`
//! scenario, built on the official Rust SDK (rmcp's Streamable HTTP server, stateful sessions,
//! served by hyper with one keep-alive HTTP/1.1 connection per client and TCP_NODELAY; or, with
//! `--stdio`, rmcp's stdio transport) with one tool, `echo`, that answers `Echo: <message>` as
//! server-everything's does. Node's server-everything spends several times the daemon's CPU per
//! call; beside it, this one shows the daemon's share of a forwarded call against an upstream as
//! cheap as the SDK makes one.

use std::convert::Infallible;
use std::sync::Arc;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rmcp::handler::server::ServerHandler;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, ServiceExt as _};
use serde_json::json;
use tokio::net::TcpListener;

/// The tool's one argument, as server-everything names it.
pub const ECHO_ARGUMENT: &str = "message";

/// The server's handler: one `echo` tool.
#[derive(Clone, Default)]
struct Echo;

impl ServerHandler for Echo {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let schema = json!({
            "type": "object",
            "properties": {ECHO_ARGUMENT: {"type": "string"}},
            "required": [ECHO_ARGUMENT],
        });
        let serde_json::Value::Object(schema) = schema else {
            unreachable!("a JSON object literal")
        };
        let tool = Tool::new("echo", "Echoes back the message.", Arc::new(schema));
        Ok(ListToolsResult::with_all_items(vec![tool]))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        if request.name != "echo" {
            return Err(ErrorData::invalid_params(
                format!("no tool {}", request.name),
                None,
            ));
        }
        let message = request
            .arguments
            .as_ref()
            .and_then(|arguments| arguments.get(ECHO_ARGUMENT))
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| ErrorData::invalid_params("message must be a string", None))?;
        let text = ContentBlock::text(format!("Echo: {message}"));
        Ok(CallToolResult::success(vec![text]).into())
    }
}

/// Serves on 127.0.0.1:0 until killed, after printing `http://ADDR/mcp` on its first line; or,
/// `stdio`, on stdin and stdout until stdin ends.
pub fn run(stdio: bool) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if stdio {
        return runtime.block_on(serve_stdio());
    }
    runtime.block_on(serve())
}

async fn serve_stdio() -> anyhow::Result<()> {
    let running = Echo.serve(rmcp::transport::stdio()).await?;
    running.waiting().await?;
    Ok(())
}

async fn serve() -> anyhow::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let service = StreamableHttpService::new(
        || Ok(Echo),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default(),
    );
    println!("echo-upstream listening on http://{addr}/mcp");
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let service = service.clone();
        tokio::spawn(async move {
            let handler = service_fn(move |request| {
                let service = service.clone();
                async move { Ok::<_, Infallible>(service.handle(request).await) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), handler)
                .await;
        });
    }
}
