//! The dashboard (`GET /`): its files are served from the binary under a strict
//! Content-Security-Policy, pass the Origin/Host fence from the daemon's own origin, and, in real
//! headless Chromium, show a tool call's progress bar advancing to completion.
//!
//! The browser test is `#[ignore]`d, since it needs Chromium and playwright-core:
//!
//! ```sh
//! bash tests/e2e/setup.sh && cargo test --test dashboard -- --ignored
//! SCREENSHOT=docs/dashboard.png cargo test --test dashboard -- --ignored   # and a screenshot
//! ```

mod common;

use std::io::Read as _;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::servers::broken_script;
use common::{Daemon, client};
use serde_json::{Value, json};

const ADMIN: &str = "admin-0123456789abcdef";

/// Longest the browser script may run before it is killed and the test fails.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(120);

const SETUP: &str = "bash tests/e2e/setup.sh";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `GET path` with optional `Origin`.
async fn get(daemon: &Daemon, path: &str, origin: Option<&str>) -> reqwest::Response {
    let mut request = client().get(daemon.url(path));
    if let Some(origin) = origin {
        request = request.header("Origin", origin);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn the_page_and_its_files_are_served_from_the_binary_under_a_strict_policy() {
    let daemon = Daemon::start("");
    let mut bodies = String::new();
    for (path, content_type) in [
        ("/", "text/html"),
        ("/dashboard/app.js", "text/javascript; charset=utf-8"),
        ("/dashboard/style.css", "text/css; charset=utf-8"),
    ] {
        let response = get(&daemon, path, None).await;
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers().clone();
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with(content_type),
            "{path}: {:?}",
            headers["content-type"]
        );
        let policy = headers["content-security-policy"].to_str().unwrap();
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "connect-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(policy.contains(directive), "{path}: {policy}");
        }
        assert!(!policy.contains("unsafe-inline") && !policy.contains("unsafe-eval"));
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["referrer-policy"], "no-referrer");
        bodies.push_str(&response.text().await.unwrap());
    }
    // Everything the page needs comes from the daemon: no CDN, no other host.
    for foreign in ["http://", "https://", "//cdn", "@import"] {
        assert!(
            !bodies.contains(foreign),
            "the dashboard refers to {foreign}"
        );
    }
    assert!(bodies.contains(r#"<script src="/dashboard/app.js" defer></script>"#));
    // The admin token is kept per tab, never in localStorage, a cookie or a URL.
    assert!(bodies.contains("sessionStorage"));
    assert!(!bodies.contains("localStorage.") && !bodies.contains("document.cookie"));

    assert_eq!(
        get(&daemon, "/dashboard/nothing.js", None).await.status(),
        404
    );
}

#[tokio::test]
async fn the_page_passes_the_origin_fence_from_its_own_origin_only() {
    let daemon = Daemon::start(&format!("[admin]\ntoken = \"{ADMIN}\"\n"));
    let own = daemon.base.clone();
    assert_eq!(get(&daemon, "/", Some(&own)).await.status(), 200);
    assert_eq!(
        get(&daemon, "/", Some("http://evil.example"))
            .await
            .status(),
        403
    );
    // What the page does, from its own origin: list sessions, get a stream ticket.
    let session = daemon.session().await;
    let listed = client()
        .get(daemon.url("/admin/sessions"))
        .header("Origin", &own)
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    let ticket = client()
        .post(daemon.url(&format!("/session/{}/ticket", session.id)))
        .header("Origin", &own)
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(ticket.status(), 200);
    let refused = client()
        .post(daemon.url(&format!("/session/{}/ticket", session.id)))
        .header("Origin", "http://evil.example")
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
}

/// A port nothing listens on right now, for the script's proxy.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
#[ignore = "needs chromium: tests/e2e/setup.sh"]
async fn in_chromium_a_tool_calls_progress_bar_advances_to_completion() {
    let script = root().join("tests/e2e/dashboard.mjs");
    let installed = root().join("target/e2e/node_modules/playwright-core");
    assert!(
        installed.exists(),
        "{} is missing: run `{SETUP}` from {} first",
        installed.display(),
        root().display()
    );
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "{chromium} is missing: run `{SETUP}` first"
    );

    // Tab B of the script reaches the daemon through a proxy on this port, which the fence must
    // accept as Host and Origin.
    let proxy_port = free_port();
    // Two MCP servers behind the daemon, for the servers panel: one that starts, one that cannot.
    let servers = format!(
        "[servers.tools]\ncommand = \"python3\"\nargs = [{:?}, \"ok\"]\n\n\
         [servers.missing]\ncommand = \"/nonexistent/mcp-server\"\n",
        broken_script().display().to_string()
    );
    let daemon = Daemon::start_with(
        &format!(
            "[security]\nallowed_hosts = [\"127.0.0.1:{proxy_port}\"]\n\
             allowed_origins = [\"http://127.0.0.1:{proxy_port}\"]\n\n{servers}"
        ),
        &[("CONSTRUCT_ACTOR_ADMIN__TOKEN", ADMIN)],
    );
    // A few sessions, as a dashboard would see them; the test watches the first.
    let home = daemon.home.path();
    for dir in ["api-server", "docs-site", "infra"] {
        std::fs::create_dir_all(home.join("projects").join(dir)).unwrap();
    }
    let watched = daemon
        .session_with(
            json!({"cwd": home.join("projects/api-server"), "label": "claude · api-server"}),
        )
        .await;
    daemon
        .session_with(json!({"cwd": home.join("projects/docs-site"), "label": "codex · docs-site"}))
        .await;
    daemon
        .session_with(json!({"cwd": home.join("projects/infra"), "label": "gemini · infra"}))
        .await;

    let screenshot = std::env::var("SCREENSHOT").ok().map(|path| {
        let path = root().join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        path
    });
    let mut command = Command::new("node");
    command
        .arg(&script)
        .current_dir(root())
        .env("DASHBOARD_URL", &daemon.base)
        .env("ADMIN_TOKEN", ADMIN)
        .env("SESSION_ID", &watched.id)
        .env("SESSION_TOKEN", &watched.token)
        .env("SESSION_LABEL", "claude · api-server")
        .env("PROXY_PORT", proxy_port.to_string())
        .env("CHROMIUM", &chromium)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match &screenshot {
        Some(path) => command.env("SCREENSHOT", path),
        None => command.env_remove("SCREENSHOT"),
    };
    let (status, stdout, stderr) =
        tokio::task::spawn_blocking(move || run_bounded(command, BROWSER_TIMEOUT))
            .await
            .unwrap();
    let context = format!(
        "browser script {status:?}\nstdout:\n{stdout}\nstderr:\n{stderr}\ndaemon stderr:\n{}",
        daemon.stderr()
    );
    assert_eq!(status, Some(0), "{context}");
    let report: Value = stdout
        .lines()
        .rev()
        .find_map(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| panic!("no JSON report: {context}"));
    assert_eq!(report["ok"], true, "{context}");
    assert_eq!(report["final"]["count"], "10 / 10", "{context}");
    assert_eq!(report["final"]["updates"], 10, "{context}");
    assert!(
        report["reconnects"]["B"].as_u64().unwrap() >= 1,
        "{context}"
    );
    if let Some(path) = screenshot {
        let png = std::fs::read(&path).unwrap();
        assert!(
            png.starts_with(b"\x89PNG"),
            "{} is not a PNG",
            path.display()
        );
        eprintln!("screenshot written to {}", path.display());
    }
    eprintln!("{stdout}");
}

/// Runs `command` to its end, killing it and everything it started (the browser) after `limit`;
/// its exit code (`None`: killed or by a signal) and its output.
fn run_bounded(mut command: Command, limit: Duration) -> (Option<i32>, String, String) {
    let mut child = command
        .process_group(0)
        .spawn()
        .expect("node starts (is Node.js installed?)");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = out.read_to_string(&mut text);
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = err.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if Instant::now() >= deadline {
            let group = i32::try_from(child.id()).unwrap();
            // SAFETY: signalling the process group of the child this test spawned and has not
            // yet reaped (it leads its own group).
            unsafe { libc::kill(-group, libc::SIGKILL) };
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (status, out.join().unwrap(), err.join().unwrap())
}
