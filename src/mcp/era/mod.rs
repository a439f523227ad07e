//! How each of the two eras of MCP ([`crate::mcp::version::Era`]) answers a message: [`legacy`],
//! in a session (opened by `POST /session` or by `initialize`), and [`modern`], stateless
//! requests that each carry their revision, the client's capabilities and routing headers.

pub mod legacy;
pub mod modern;
