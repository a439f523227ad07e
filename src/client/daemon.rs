//! Finding the running daemon (the discovery file, or `--url`) and talking to it over HTTP.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use reqwest::Url;

use crate::discovery::{self, Discovery};
use crate::paths;

/// How long connecting to the daemon may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long one plain (non-streaming) request may take, answer included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the `/health` probe may take: a live local daemon answers at once.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(5);

/// A daemon that answered its health check.
#[derive(Debug, Clone)]
pub struct Daemon {
    /// `http://host:port` (no trailing slash): the root of every endpoint but `/mcp`.
    pub base: String,
    /// The MCP endpoint, exactly as the discovery file (or `--url`) gave it.
    pub mcp_url: String,
    /// The HTTP client to speak to it with.
    pub http: reqwest::Client,
    /// The owner key the daemon wrote into its discovery file, when it did (never with `--url`:
    /// the key is only trusted from the owner-only file).
    pub api_key: Option<String>,
}

impl Daemon {
    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// The running daemon named by `url` (an explicit `--url`) or, without one, by the discovery
/// file at `discovery` (a leading `~` is the home directory); checked with `GET /health`.
///
/// Every way of not finding one is an error that says which: no discovery file, a stale one
/// whose process is gone, or a URL that does not answer.
pub async fn locate(url: Option<&str>, discovery: &Path) -> anyhow::Result<Daemon> {
    let (mcp_url, origin, api_key) = match url {
        Some(url) => (url.to_owned(), format!("--url {url}"), None),
        None => {
            let path = paths::expand_home(discovery);
            let found = read_discovery(&path)?;
            let origin = format!("the discovery file {}", path.display());
            (found.url, origin, found.api_key)
        }
    };
    let (base, mcp_url) = endpoints(&mcp_url).with_context(|| format!("in {origin}"))?;
    let http = http_client(&base)?;
    check_health(&http, &base).await.with_context(|| {
        format!("no construct-actor daemon answers at {mcp_url} (from {origin})")
    })?;
    Ok(Daemon {
        base,
        mcp_url,
        http,
        api_key,
    })
}

/// The discovery file at `path`, when its daemon process is still alive.
fn read_discovery(path: &Path) -> anyhow::Result<Discovery> {
    let found = match Discovery::read(path) {
        Ok(found) => {
            found.map_err(|reason| anyhow::anyhow!("untrusted discovery file {reason}"))?
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => bail!(
            "no construct-actor daemon is running: there is no discovery file at {} \
             (start the daemon with `construct-actor`, or pass --discovery PATH or --url URL)",
            path.display()
        ),
        Err(err) => bail!("cannot read the discovery file {}: {err}", path.display()),
    };
    if let Some(pid) = found.pid
        && !process_alive(pid)
    {
        bail!(
            "no construct-actor daemon is running: the discovery file {} names process {pid}, \
             which has exited (the file is stale; start the daemon again)",
            path.display()
        );
    }
    Ok(found)
}

/// Why the daemon at `mcp_url`, found through the discovery file at `path` (`~` expanded), is
/// gone for good, if the file says so: removed (a clean stop), naming a process that has
/// exited (a crash), or naming another URL (a new daemon, which knows none of the old one's
/// sessions).
pub fn gone(path: &Path, mcp_url: &str) -> Option<String> {
    let Ok(found) = Discovery::read(path) else {
        return Some(format!(
            "the daemon has stopped (its discovery file {} is gone)",
            path.display()
        ));
    };
    let found = found.ok()?;
    if let Some(pid) = found.pid
        && !process_alive(pid)
    {
        return Some(format!("the daemon has stopped (process {pid} has exited)"));
    }
    (found.url != mcp_url).then(|| {
        format!(
            "the daemon was restarted (now at {}): the session ended with the old one",
            found.url
        )
    })
}

/// Whether a process with this id exists (signal 0 checks without sending anything).
fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return true; // not a pid this system can have: let the health check decide
    };
    if pid <= 0 {
        return true;
    }
    // SAFETY: kill with signal 0 sends nothing; it only reports whether the process exists.
    if unsafe { libc::kill(pid, 0) } == 0 {
        return true;
    }
    // EPERM: it exists but belongs to someone else.
    std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// The daemon's base URL (`http://host:port`) and MCP URL from an MCP URL
/// (`http://host:port/mcp`) or a base URL.
pub fn endpoints(url: &str) -> anyhow::Result<(String, String)> {
    let parsed = Url::parse(url).with_context(|| format!("{url:?} is not a URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        bail!("{url:?} is not an http:// or https:// URL");
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        bail!("{url:?} has a query or fragment; give the daemon's /mcp URL");
    }
    let trimmed = url.trim_end_matches('/');
    match trimmed.strip_suffix("/mcp") {
        Some(base) => Ok((base.to_owned(), url.to_owned())),
        None => Ok((trimmed.to_owned(), format!("{trimmed}/mcp"))),
    }
}

/// An HTTP client for the daemon at `base`: bounded connection time, and no proxy for a
/// loopback daemon (a proxy from the environment could not reach this machine's loopback).
pub fn http_client(base: &str) -> anyhow::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .user_agent(concat!("construct-actor/", env!("CARGO_PKG_VERSION")));
    if is_loopback(base) {
        builder = builder.no_proxy();
    }
    builder.build().context("cannot set up an HTTP client")
}

/// Whether `url`'s host is this machine.
fn is_loopback(url: &str) -> bool {
    let Ok(parsed) = Url::parse(url) else {
        return false;
    };
    let Some(host) = parsed.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `GET /health` must answer `200 {"status": "ok", …}`.
async fn check_health(http: &reqwest::Client, base: &str) -> anyhow::Result<()> {
    let response = http
        .get(format!("{base}/health"))
        .timeout(HEALTH_TIMEOUT)
        .send()
        .await
        .map_err(|err| anyhow::anyhow!("GET /health failed: {}", describe_send_error(&err)))?;
    let status = response.status();
    if !status.is_success() {
        bail!("GET /health answered {status}");
    }
    let body: serde_json::Value = response.json().await.map_err(|_| {
        anyhow::anyhow!("GET /health did not answer JSON: not a construct-actor daemon?")
    })?;
    if body["status"] != "ok" {
        bail!("GET /health answered {body}");
    }
    Ok(())
}

/// A transport error in a few words (reqwest's own text nests its causes).
pub fn describe_send_error(err: &reqwest::Error) -> String {
    let mut text = if err.is_connect() {
        "cannot connect".to_owned()
    } else if err.is_timeout() {
        "timed out".to_owned()
    } else {
        err.to_string()
    };
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A non-2xx answer as one line: the status and the daemon's `{"error"}` reason when it gave one.
pub async fn failure(response: reqwest::Response) -> String {
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    let reason = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|json| json["error"].as_str().map(str::to_owned))
        .unwrap_or(body);
    let reason = crate::client::text::one_line(reason.trim());
    if reason.is_empty() {
        status.to_string()
    } else {
        format!("{status}: {reason}")
    }
}

/// The default discovery path, with `~` expanded (for messages and tests).
pub fn default_discovery() -> PathBuf {
    paths::expand_home(Path::new(discovery::DEFAULT_PATH))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_and_mcp_urls_from_either_form() {
        let both = |url| endpoints(url).unwrap();
        assert_eq!(
            both("http://127.0.0.1:7000/mcp"),
            (
                "http://127.0.0.1:7000".to_owned(),
                "http://127.0.0.1:7000/mcp".to_owned()
            )
        );
        assert_eq!(
            both("http://127.0.0.1:7000/"),
            (
                "http://127.0.0.1:7000".to_owned(),
                "http://127.0.0.1:7000/mcp".to_owned()
            )
        );
        assert!(endpoints("ftp://x/mcp").is_err());
        assert!(endpoints("not a url").is_err());
    }

    #[test]
    fn only_this_machine_is_loopback() {
        assert!(is_loopback("http://127.0.0.1:1"));
        assert!(is_loopback("http://[::1]:1"));
        assert!(is_loopback("http://LOCALHOST:1"));
        assert!(!is_loopback("http://10.0.0.1:1"));
        assert!(!is_loopback("http://example.com"));
    }

    #[test]
    fn this_process_is_alive() {
        assert!(process_alive(std::process::id()));
    }
}
