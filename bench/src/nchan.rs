//! nginx with the nchan pub/sub module, the peer of the `fanout` scenario: a widely used server
//! whose whole job is fanning messages out to many followers, so that the daemon's fan-out is
//! compared with more than a ceiling that does no work. nginx and the module come installed
//! (Debian: `apt-get install nginx libnginx-mod-nchan`); the bench starts its own nginx with a
//! configuration of its own in a temporary folder (pid file, temporary paths and the
//! configuration there, the error log on its stderr), on a free loopback port, and stops it by
//! its pid. Its master and worker processes are measured as one server.
//!
//! Each channel is the name in its paths: `POST /pub/{channel}` publishes one message
//! (`nchan_publisher`); `GET /sub/{channel}` follows the channel as Server-Sent Events
//! (`nchan_subscriber eventsource`), from the next message published
//! (`nchan_subscriber_first_message newest`). A channel keeps its last messages for followers
//! that come back (`nchan_message_buffer_length`, the daemon's subscriber queue).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};

use crate::servers::{self, Kind, Server};

/// How to install nginx and nchan (Debian, Ubuntu).
pub const INSTALL: &str = "apt-get install nginx libnginx-mod-nchan";

/// Where Debian's `libnginx-mod-nchan` puts the module.
const MODULE: &str = "/usr/lib/nginx/modules/ngx_nchan_module.so";

/// Where nginx is when `/usr/sbin` is not on PATH (as for most users but root).
const SBIN: &str = "/usr/sbin";

/// The path that publishes to `channel` (a word: letters, digits, `_`).
pub fn publish_path(channel: &str) -> String {
    format!("/pub/{channel}")
}

/// The path that follows `channel` as Server-Sent Events.
pub fn subscribe_path(channel: &str) -> String {
    format!("/sub/{channel}")
}

/// nginx's worker processes: one per core, as the daemon and the ceiling run one worker thread
/// per core (actix-web's default).
pub fn worker_processes() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// An installed nginx and nchan module.
#[derive(Debug)]
pub struct Nginx {
    binary: PathBuf,
    module: PathBuf,
}

impl Nginx {
    /// nginx (on PATH or in /usr/sbin) and the nchan module, or why they cannot be used.
    pub fn find() -> anyhow::Result<Self> {
        let binary = servers::executable("nginx", &[SBIN])
            .with_context(|| format!("nginx is not installed ({INSTALL})"))?;
        let module = PathBuf::from(MODULE);
        if !module.is_file() {
            bail!("the nchan module is not installed, no {MODULE} ({INSTALL})");
        }
        Ok(Self { binary, module })
    }

    /// Starts nginx ready for `followers` followers, each channel keeping its last `buffer`
    /// messages, and waits until it answers.
    pub fn start(&self, followers: usize, buffer: usize) -> anyhow::Result<Server> {
        let settings = Settings {
            module: &self.module,
            workers: worker_processes(),
            connections: (followers + 256).max(1024),
            buffer,
        };
        let server = servers::on_a_free_port(|port| self.start_on(&settings, port))?;
        Ok(server.with_children())
    }

    /// Starts nginx on `port` in a fresh temporary folder.
    fn start_on(&self, settings: &Settings<'_>, port: u16) -> anyhow::Result<Server> {
        let dir = tempfile::Builder::new()
            .prefix("construct-bench-nchan-")
            .tempdir()?;
        let conf = dir.path().join("nginx.conf");
        std::fs::write(&conf, settings.config(dir.path(), port))?;
        let mut command = Command::new(&self.binary);
        command
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf)
            .args(["-e", "stderr"]);
        servers::spawn_until_ready(Kind::Nchan, command, dir, port, "answer HTTP", |addr| {
            servers::answers(addr, b"GET /health HTTP/1.0\r\n\r\n", b"HTTP/1.1 200")
        })
    }
}

/// What nginx's configuration is made of.
struct Settings<'a> {
    /// The nchan module to load.
    module: &'a Path,
    /// Worker processes ([`worker_processes`]).
    workers: usize,
    /// Connections per worker process.
    connections: usize,
    /// Messages each channel keeps (`nchan_message_buffer_length`).
    buffer: usize,
}

impl Settings<'_> {
    /// The configuration of an nginx in `dir` listening on 127.0.0.1:`port`: in the foreground,
    /// everything it writes in `dir` or on its stderr, no access log.
    fn config(&self, dir: &Path, port: u16) -> String {
        let Self {
            module,
            workers,
            connections,
            buffer,
        } = self;
        let (module, dir) = (module.display(), dir.display());
        format!(
            r"# construct-bench's nginx + nchan, for the fanout scenario.
load_module {module};
daemon off;
master_process on;
worker_processes {workers};
pid {dir}/nginx.pid;
error_log stderr warn;
events {{
    worker_connections {connections};
}}
http {{
    access_log off;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    # A message's body stays in memory, never in a temporary file.
    client_body_buffer_size 16k;
    client_max_body_size 16k;
    # The publisher's one keep-alive connection carries every message of a run.
    keepalive_requests 1000000;
    nchan_message_buffer_length {buffer};
    server {{
        listen 127.0.0.1:{port};
        location = /health {{
            return 200 ok;
        }}
        location ~ ^/pub/(\w+)$ {{
            nchan_publisher;
            nchan_channel_id $1;
        }}
        location ~ ^/sub/(\w+)$ {{
            nchan_subscriber eventsource;
            nchan_channel_id $1;
            nchan_subscriber_first_message newest;
        }}
    }}
}}
"
        )
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufReader, Write as _};
    use std::net::TcpStream;
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_configuration_keeps_nginx_in_its_folder_on_loopback() {
        let settings = Settings {
            module: Path::new(MODULE),
            workers: 2,
            connections: 1256,
            buffer: 256,
        };
        let config = settings.config(Path::new("/tmp/bench-dir"), 4321);
        assert!(config.contains(&format!("load_module {MODULE};")));
        assert!(config.contains("listen 127.0.0.1:4321;"));
        assert!(config.contains("worker_processes 2;"));
        assert!(config.contains("worker_connections 1256;"));
        assert!(config.contains("nchan_message_buffer_length 256;"));
        for line in config
            .lines()
            .filter(|l| l.contains("path") || l.contains("pid "))
        {
            assert!(line.contains("/tmp/bench-dir/"), "{line}");
        }
    }

    /// Reads lines from `reader` until one starts with `prefix`.
    fn line_starting(reader: &mut impl std::io::BufRead, prefix: &str) -> String {
        let mut line = String::new();
        loop {
            line.clear();
            assert!(
                reader.read_line(&mut line).unwrap() > 0,
                "no {prefix:?} line"
            );
            if line.starts_with(prefix) {
                return line;
            }
        }
    }

    #[test]
    #[ignore = "needs nginx and the nchan module: apt-get install nginx libnginx-mod-nchan"]
    fn the_bench_nginx_fans_a_posted_message_out_and_stops_with_its_workers() {
        let server = Nginx::find().unwrap().start(10, 256).unwrap();
        let pids = server.pids().unwrap();
        assert_eq!(pids.len(), 1 + worker_processes(), "master and workers");
        let mut follower = TcpStream::connect(server.addr).unwrap();
        follower
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        write!(
            follower,
            "GET {} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n",
            subscribe_path("t")
        )
        .unwrap();
        let mut reader = BufReader::new(follower.try_clone().unwrap());
        line_starting(&mut reader, ": hi");
        let body = r#"{"progress":1}"#;
        let mut publisher = TcpStream::connect(server.addr).unwrap();
        write!(
            publisher,
            "POST {} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
            publish_path("t"),
            body.len()
        )
        .unwrap();
        let data = line_starting(&mut reader, "data:");
        assert_eq!(data.trim_end(), format!("data: {body}"));
        server.stop();
        for pid in pids {
            let proc = format!("/proc/{pid}");
            assert!(
                !Path::new(&proc).exists(),
                "process {pid} outlived the stop"
            );
        }
    }
}
