//! `construct_actor::mcp::jsonrpc::decode` on arbitrary bytes (see `checks::jsonrpc_decode`).

#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::jsonrpc_decode(data));
