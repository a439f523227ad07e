//! A `tools/call` (or any message) on arbitrary bytes: the `_meta` limits and every tool's
//! argument schema (see `checks::tools_call`).

#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::tools_call(data));
