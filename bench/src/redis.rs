//! The `redis-server` the cluster scenario's daemons share: found on PATH, started on a free
//! loopback port in a temporary folder, persisting nothing, ready once it answers `PING`.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Context as _;

use crate::servers::{self, Kind, Server};

/// Why a scenario needing Redis cannot run.
pub const NO_REDIS: &str = "redis-server is not on PATH; install it: bash tests/cluster/setup.sh";

/// The `redis-server` executable on PATH, if any.
pub fn redis_server() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("redis-server"))
        .find(|file| {
            std::fs::metadata(file)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Starts `redis-server` (from PATH) on a free loopback port, persisting nothing, in a fresh
/// temporary folder, and waits until it answers PING. The port is free when chosen; should
/// another process take it before Redis binds it, Redis exits and another port is tried (three
/// in all).
pub fn start_redis() -> anyhow::Result<Server> {
    let binary = redis_server().context(NO_REDIS)?;
    let mut attempt = start_redis_on(&binary, free_port()?);
    for _ in 1..3 {
        if attempt.is_ok() {
            break;
        }
        attempt = start_redis_on(&binary, free_port()?);
    }
    attempt
}

/// A loopback port nothing listens on right now.
fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
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
    servers::spawn_until_ready(Kind::Redis, command, dir, port, "answer PING", answers_ping)
}

/// Whether a Redis server at `addr` answers `PING` within half a second.
fn answers_ping(addr: SocketAddr) -> bool {
    let timeout = Duration::from_millis(500);
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, timeout) else {
        return false;
    };
    let mut answer = [0u8; 7];
    stream.set_read_timeout(Some(timeout)).is_ok()
        && stream.write_all(b"PING\r\n").is_ok()
        && stream.read_exact(&mut answer).is_ok()
        && answer == *b"+PONG\r\n"
}
