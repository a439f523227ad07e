//! The `redis-server` the cluster scenario's daemons share: found on PATH, started on a free
//! loopback port in a temporary folder, persisting nothing, ready once it answers `PING`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context as _;

use crate::servers::{self, Kind, Server};

/// Why a scenario needing Redis cannot run.
pub const NO_REDIS: &str = "redis-server is not on PATH; install it: bash tests/cluster/setup.sh";

/// The `redis-server` executable on PATH, if any.
pub fn redis_server() -> Option<PathBuf> {
    servers::executable("redis-server", &[])
}

/// Starts `redis-server` (from PATH) on a free loopback port, persisting nothing, in a fresh
/// temporary folder, and waits until it answers PING.
pub fn start_redis() -> anyhow::Result<Server> {
    let binary = redis_server().context(NO_REDIS)?;
    servers::on_a_free_port(|port| start_redis_on(&binary, port))
}

/// Starts `binary` on `port`; see [`start_redis`].
fn start_redis_on(binary: &Path, port: u16) -> anyhow::Result<Server> {
    let dir = tempfile::Builder::new()
        .prefix("construct-bench-redis-")
        .tempdir()?;
    let mut command = Command::new(binary);
    command
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(dir.path());
    servers::spawn_until_ready(Kind::Redis, command, dir, port, "answer PING", |addr| {
        servers::answers(addr, b"PING\r\n", b"+PONG\r\n")
    })
}
