//! The store's multi-step changes, each a Lua script so that Redis runs it as one step.
//!
//! Two nodes publishing to one session at once must not both read `seq` = 4 and both write
//! event 5, and a session must not end between the check that it exists and the append. A
//! script runs with nothing interleaved, in one round trip; [`redis::Script`] sends it by hash
//! and loads it again after a Redis restart emptied the script cache.

use std::sync::LazyLock;

use redis::Script;

/// `publish.lua`: number and append an event.
pub(crate) static PUBLISH: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("publish.lua")));

/// `end.lua`: append the end entry and delete the record.
pub(crate) static END: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("end.lua")));

/// `settings.lua`: record what a standard client established (`SessionSettings`).
pub(crate) static SETTINGS: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("settings.lua")));

/// `touch.lua`: refresh last activity and both TTLs.
pub(crate) static TOUCH: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("touch.lua")));
