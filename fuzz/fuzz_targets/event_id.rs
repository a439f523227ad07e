//! The two `Last-Event-ID` parsers on arbitrary input: `mcp::relay::parse_event_id` (resumable
//! call streams, `<stream>-<n>`) and `http::events::parse_last_event_id` (session events
//! streams, a decimal id); see `checks::event_id`.

#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::event_id(data));
