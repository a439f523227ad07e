//! The routes of the `forwarded` scenario: each upstream called directly, and the same upstream
//! program called through the daemon, over Streamable HTTP (`url`) and over stdio (`command`);
//! and the daemon's built-in echo, on the same client path with no upstream.

use crate::load::ToolCall;

/// The scenario's HTTP servers, by index.
pub const DAEMON: usize = 0;
pub const RMCP: usize = 1;
pub const EVERYTHING: usize = 2;

/// Its stdio servers, by index: the bench's own (called directly) and the daemon's children
/// (forwarded to) are the same programs in the same order.
pub const RMCP_STDIO: usize = 0;
pub const EVERYTHING_STDIO: usize = 1;

/// The echo tools' argument.
const HELLO: &str = r#"{"message":"hello"}"#;

/// How a route's clients reach the server they call.
#[derive(Clone, Copy)]
pub enum Via {
    /// Standard MCP clients (2025-11-25 sessions, one keep-alive connection each) to one of the
    /// scenario's HTTP servers.
    Http(usize),
    /// Clients sharing the pipes of one of the bench's own stdio servers, as the daemon shares
    /// its child's.
    Stdio(usize),
}

/// Whose CPU a route also reads, besides the server its clients call.
#[derive(Clone, Copy)]
pub enum Upstream {
    /// Nobody's (a direct route: the server it calls is the upstream).
    None,
    /// One of the scenario's HTTP servers.
    Server(usize),
    /// One of the daemon's stdio children.
    DaemonChild(usize),
}

/// One way of calling an echo tool.
pub struct Route {
    pub label: &'static str,
    pub via: Via,
    pub tool: ToolCall,
    /// The route (index in [`ROUTES`]) calling the same upstream program directly.
    pub direct: Option<usize>,
    pub upstream: Upstream,
}

impl Route {
    /// Whether the daemon forwards this route's calls to an upstream.
    pub fn is_forwarded(&self) -> bool {
        !matches!(self.upstream, Upstream::None)
    }

    /// Whether its clients call the daemon.
    pub fn through_daemon(&self) -> bool {
        matches!(self.via, Via::Http(DAEMON))
    }

    /// An upstream's own `echo`, called directly.
    const fn direct(label: &'static str, via: Via) -> Self {
        let tool = ToolCall {
            name: "echo",
            arguments: HELLO,
        };
        Self {
            label,
            via,
            tool,
            direct: None,
            upstream: Upstream::None,
        }
    }

    /// The daemon's tool `name`, forwarded to `upstream`; `direct` calls the same program.
    const fn forwarded(
        label: &'static str,
        name: &'static str,
        direct: usize,
        upstream: Upstream,
    ) -> Self {
        let tool = ToolCall {
            name,
            arguments: HELLO,
        };
        Self {
            label,
            via: Via::Http(DAEMON),
            tool,
            direct: Some(direct),
            upstream,
        }
    }
}

/// The routes, measured in this order run after run.
pub const ROUTES: [Route; 9] = [
    Route::direct("rmcp echo, direct (HTTP)", Via::Http(RMCP)),
    Route::forwarded(
        "rmcp echo, through the daemon (url)",
        "rmcp__echo",
        0,
        Upstream::Server(RMCP),
    ),
    Route::direct("rmcp echo, direct (stdio)", Via::Stdio(RMCP_STDIO)),
    Route::forwarded(
        "rmcp echo, through the daemon (stdio child)",
        "rmcpstdio__echo",
        2,
        Upstream::DaemonChild(RMCP_STDIO),
    ),
    Route::direct("server-everything, direct (HTTP)", Via::Http(EVERYTHING)),
    Route::forwarded(
        "server-everything, through the daemon (url)",
        "everything__echo",
        4,
        Upstream::Server(EVERYTHING),
    ),
    Route::direct(
        "server-everything, direct (stdio)",
        Via::Stdio(EVERYTHING_STDIO),
    ),
    Route::forwarded(
        "server-everything, through the daemon (stdio child)",
        "stdio__echo",
        6,
        Upstream::DaemonChild(EVERYTHING_STDIO),
    ),
    Route {
        label: "the daemon's built-in echo (no upstream)",
        via: Via::Http(DAEMON),
        tool: ToolCall {
            name: "echo",
            arguments: r#"{"text":"hello"}"#,
        },
        direct: None,
        upstream: Upstream::None,
    },
];

/// The daemon's tools the routes call, which it must offer before anything is measured.
pub fn forwarded_tools() -> Vec<&'static str> {
    ROUTES
        .iter()
        .filter(|route| route.is_forwarded())
        .map(|route| route.tool.name)
        .collect()
}

/// The index of the built-in route.
pub fn built_in() -> usize {
    ROUTES
        .iter()
        .position(|route| route.through_daemon() && !route.is_forwarded())
        .expect("a built-in route")
}
