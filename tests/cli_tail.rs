//! `construct-actor tail` against a live daemon: a call's events in order, one line each (its
//! standard output is not a terminal here), the session's end ending it with 0, a dropped
//! connection resumed without a gap or a repeat, lost events reported, a wrong token refused.

mod common;

use std::io::{BufRead as _, BufReader, Read as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Daemon, Session, WAIT};
use serde_json::json;

/// A running `tail`, its output read line by line; killed when dropped.
struct Tail {
    child: Child,
    lines: tokio::sync::mpsc::UnboundedReceiver<String>,
    stderr: Arc<Mutex<String>>,
    /// The thread reading standard error, joined once the process has exited.
    stderr_reader: Option<std::thread::JoinHandle<()>>,
}

impl Tail {
    fn start(args: &[&str]) -> Self {
        let home = tempfile::tempdir().unwrap();
        let mut child = Command::new(common::binary())
            .arg("tail")
            .args(args)
            .env("HOME", home.path())
            .env_remove("CONSTRUCT_ACTOR_DISCOVERY__PATH")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let (tx, lines) = tokio::sync::mpsc::unbounded_channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        let mut err = child.stderr.take().unwrap();
        let stderr_reader = std::thread::spawn(move || {
            let mut buffer = [0; 1024];
            while let Ok(n @ 1..) = err.read(&mut buffer) {
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buffer[..n]));
            }
        });
        Self {
            child,
            lines,
            stderr,
            stderr_reader: Some(stderr_reader),
        }
    }

    /// Follows `session` of `daemon` through its discovery file.
    fn follow(daemon: &Daemon, session: &Session, extra: &[&str]) -> Self {
        let mut args = vec![
            "--session",
            &session.id,
            "--token",
            &session.token,
            "--discovery",
            daemon.discovery.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        Self::start(&args)
    }

    /// `tail` of `session` with no token: what opens the session comes from the discovery file.
    fn follow_without_token(daemon: &Daemon, session: &Session) -> Self {
        Self::start(&[
            "--session",
            &session.id,
            "--discovery",
            daemon.discovery.to_str().unwrap(),
        ])
    }

    /// The next line of output; fails the test after [`WAIT`].
    async fn line(&mut self) -> String {
        match tokio::time::timeout(WAIT, self.lines.recv()).await {
            Ok(Some(line)) => line,
            Ok(None) => panic!("tail's output ended; stderr: {}", self.stderr()),
            Err(_) => panic!("no line from tail; stderr: {}", self.stderr()),
        }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Its exit code, waiting at most [`WAIT`].
    fn exit_code(&mut self) -> Option<i32> {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // All it wrote is read once its end of the pipe is closed.
                if let Some(reader) = self.stderr_reader.take() {
                    reader.join().unwrap();
                }
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "tail did not exit; stderr: {}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Tail {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Checks a progress line `[<RFC 3339>] <rest>` and returns `<rest>`.
fn progress_line(line: &str) -> &str {
    let (stamp, rest) = line
        .strip_prefix('[')
        .and_then(|line| line.split_once("] "))
        .unwrap_or_else(|| panic!("not a progress line: {line}"));
    assert!(
        chrono::DateTime::parse_from_rfc3339(stamp).is_ok(),
        "{line}"
    );
    rest
}

/// Runs a `sleep` call of three steps (progress token 5) in `session`, which `tail` follows,
/// and checks that `tail` shows each step in order; then ends the session and checks that `tail`
/// says so and exits 0.
async fn shows_each_step_then_the_end(daemon: &Daemon, session: &Session, tail: &mut Tail) {
    daemon.wait_for_subscribers(session, 1).await;
    let messages = daemon
        .call(
            session,
            "sleep",
            json!({"duration_ms": 150, "steps": 3}),
            json!({"progressToken": 5}),
        )
        .await;
    assert_eq!(
        messages.len(),
        4,
        "three progress notifications, then the result"
    );
    for step in 1..=3 {
        assert_eq!(
            progress_line(&tail.line().await),
            format!("sleep #5 {step}/3 step {step} of 3")
        );
    }

    let response = daemon.delete_session(&session.id, &session.token).await;
    assert_eq!(response.status(), 204);
    assert_eq!(tail.line().await, "session ended (closed)");
    assert_eq!(tail.exit_code(), Some(0), "stderr: {}", tail.stderr());
}

#[tokio::test]
async fn tail_shows_a_calls_events_in_order_and_exits_0_when_the_session_ends() {
    let daemon = Daemon::start("");
    let session = daemon.session().await;
    let mut tail = Tail::follow(&daemon, &session, &[]);
    shows_each_step_then_the_end(&daemon, &session, &mut tail).await;
}

#[tokio::test]
async fn a_string_token_and_calls_side_by_side_are_told_apart() {
    let daemon = Daemon::start("");
    let session = daemon.session().await;
    let mut tail = Tail::follow(&daemon, &session, &[]);
    daemon.wait_for_subscribers(&session, 1).await;

    // Two calls at once (distinct request ids), one with a string progress token.
    let call = |id: u64, token: serde_json::Value| {
        let message = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": "sleep", "arguments": {"duration_ms": 100, "steps": 2},
                       "_meta": {"progressToken": token}}});
        let daemon = &daemon;
        let session = &session;
        async move {
            let response = daemon.mcp(session, message).await;
            assert_eq!(response.status(), 200);
            let mut stream = common::sse(response);
            let mut last = serde_json::Value::Null;
            while let Some(event) = common::next_event(&mut stream).await {
                last = serde_json::from_str(&event.data).unwrap();
            }
            assert_eq!(last["result"]["isError"], false, "{last}");
        }
    };
    futures::future::join(call(1, json!("build")), call(2, json!(9))).await;
    let mut lines = Vec::new();
    for _ in 0..4 {
        lines.push(progress_line(&tail.line().await).to_owned());
    }
    let build: Vec<&String> = lines.iter().filter(|l| l.contains("#build")).collect();
    assert_eq!(
        build,
        [
            "sleep #build 1/2 step 1 of 2",
            "sleep #build 2/2 step 2 of 2"
        ]
    );
    lines.sort();
    assert_eq!(
        lines,
        [
            "sleep #9 1/2 step 1 of 2",
            "sleep #9 2/2 step 2 of 2",
            "sleep #build 1/2 step 1 of 2",
            "sleep #build 2/2 step 2 of 2",
        ]
    );
}

/// A TCP relay to the daemon that the test can cut, and keep down for a while.
struct Relay {
    port: u16,
    down: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl Relay {
    fn bind() -> (Self, TcpListener) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let relay = Self {
            port: listener.local_addr().unwrap().port(),
            down: Arc::new(AtomicBool::new(false)),
            open: Arc::new(Mutex::new(Vec::new())),
        };
        (relay, listener)
    }

    /// Relays every connection to `target` until the test ends.
    fn run(&self, listener: TcpListener, target: SocketAddr) {
        let down = self.down.clone();
        let open = self.open.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if down.load(Ordering::SeqCst) {
                    drop(client); // refused while down
                    continue;
                }
                let Ok(server) = TcpStream::connect(target) else {
                    continue;
                };
                open.lock().unwrap().push(client.try_clone().unwrap());
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
    }

    /// Cuts every open connection and refuses new ones until [`Relay::up`].
    fn cut(&self) {
        self.down.store(true, Ordering::SeqCst);
        for stream in self.open.lock().unwrap().drain(..) {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }

    fn up(&self) {
        self.down.store(false, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn a_dropped_connection_is_resumed_without_a_gap_or_a_repeat() {
    let (relay, listener) = Relay::bind();
    let daemon = Daemon::start(&format!(
        "[sessions]\nretry = \"100ms\"\n\n[security]\nallowed_hosts = [\"127.0.0.1:{}\"]\n",
        relay.port
    ));
    let target: SocketAddr = daemon.base.trim_start_matches("http://").parse().unwrap();
    relay.run(listener, target);
    let session = daemon.session().await;
    let url = format!("http://127.0.0.1:{}/mcp", relay.port);
    let mut tail = Tail::start(&[
        "--session",
        &session.id,
        "--token",
        &session.token,
        "--url",
        &url,
    ]);
    daemon.wait_for_subscribers(&session, 1).await;

    let call = daemon.call(
        &session,
        "sleep",
        json!({"duration_ms": 1600, "steps": 8}),
        json!({"progressToken": 3}),
    );
    let follow = async {
        let mut seen = vec![progress_line(&tail.line().await).to_owned()];
        // Cut the stream after the first event and keep it down while the call goes on.
        relay.cut();
        tokio::time::sleep(Duration::from_millis(700)).await;
        relay.up();
        while seen.len() < 8 {
            seen.push(progress_line(&tail.line().await).to_owned());
        }
        seen
    };
    let (messages, seen) = futures::future::join(call, follow).await;
    assert_eq!(messages.len(), 9);
    let expected: Vec<String> = (1..=8)
        .map(|step| format!("sleep #3 {step}/8 step {step} of 8"))
        .collect();
    assert_eq!(seen, expected, "stderr: {}", tail.stderr());
    assert!(
        tail.stderr().contains("reconnecting"),
        "the drop was noticed: {}",
        tail.stderr()
    );

    daemon.delete_session(&session.id, &session.token).await;
    assert_eq!(tail.line().await, "session ended (closed)");
    assert_eq!(tail.exit_code(), Some(0));
}

#[tokio::test]
async fn events_no_longer_kept_are_reported_as_lost() {
    let daemon = Daemon::start("[sessions]\nhistory = 2\n");
    let session = daemon.session().await;
    daemon
        .call(
            &session,
            "sleep",
            json!({"duration_ms": 50, "steps": 5}),
            json!({"progressToken": 1}),
        )
        .await;
    // From the session's first event: three are gone from its history of two.
    let mut tail = Tail::follow(&daemon, &session, &["--last-event-id", "0"]);
    assert_eq!(tail.line().await, "lagged: 3 events lost");
    assert_eq!(
        progress_line(&tail.line().await),
        "sleep #1 4/5 step 4 of 5"
    );
    assert_eq!(
        progress_line(&tail.line().await),
        "sleep #1 5/5 step 5 of 5"
    );
    daemon.delete_session(&session.id, &session.token).await;
    assert_eq!(tail.line().await, "session ended (closed)");
    assert_eq!(tail.exit_code(), Some(0));
}

#[tokio::test]
async fn a_wrong_token_is_refused_with_a_clear_message() {
    let daemon = Daemon::start("");
    let session = daemon.session().await;
    let wrong = Session {
        token: "0".repeat(64),
        ..session.clone()
    };
    let mut tail = Tail::follow(&daemon, &wrong, &[]);
    assert_eq!(tail.exit_code(), Some(1));
    let stderr = tail.stderr();
    assert!(
        stderr.contains(&format!("refused to show session {}", session.id))
            && stderr.contains("401"),
        "{stderr}"
    );
    assert!(!stderr.contains(&wrong.token), "the token is not echoed");
}

#[tokio::test]
async fn without_a_daemon_it_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("mcp.json");
    let mut tail = Tail::start(&[
        "--session",
        "00000000-0000-4000-8000-000000000000",
        "--token",
        "t",
        "--discovery",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(tail.exit_code(), Some(1));
    assert!(
        tail.stderr()
            .contains("no construct-actor daemon is running"),
        "{}",
        tail.stderr()
    );
}

#[test]
fn a_session_id_must_be_a_uuid() {
    let mut tail = Tail::start(&[
        "--session",
        "../admin",
        "--token",
        "t",
        "--url",
        "http://127.0.0.1:9/mcp",
    ]);
    assert_eq!(tail.exit_code(), Some(1));
    assert!(
        tail.stderr().contains("not a session id"),
        "{}",
        tail.stderr()
    );
}

#[tokio::test]
async fn a_daemon_that_stops_or_dies_ends_tail_with_a_clear_message() {
    // A clean stop removes the discovery file.
    let mut daemon = Daemon::start("");
    let session = daemon.session().await;
    let mut tail = Tail::follow(&daemon, &session, &[]);
    daemon.wait_for_subscribers(&session, 1).await;
    assert!(daemon.terminate().success());
    assert_eq!(tail.exit_code(), Some(1));
    assert!(
        tail.stderr().contains("the daemon has stopped"),
        "{}",
        tail.stderr()
    );

    // A daemon killed outright leaves its discovery file behind, naming a dead process.
    let mut daemon = Daemon::start("");
    let session = daemon.session().await;
    let mut tail = Tail::follow(&daemon, &session, &[]);
    daemon.wait_for_subscribers(&session, 1).await;
    let pid = i32::try_from(daemon.pid()).unwrap();
    // SAFETY: signalling the daemon this test spawned, which has not been reaped.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    daemon.terminate_wait();
    assert!(daemon.discovery.exists());
    assert_eq!(tail.exit_code(), Some(1));
    assert!(
        tail.stderr().contains(&format!(
            "the daemon has stopped (process {pid} has exited)"
        )),
        "{}",
        tail.stderr()
    );
}

#[tokio::test]
async fn without_a_token_the_owner_key_from_the_discovery_file_opens_the_session() {
    let daemon = Daemon::start("");
    let session = daemon.session().await;
    let mut tail = Tail::follow_without_token(&daemon, &session);
    shows_each_step_then_the_end(&daemon, &session, &mut tail).await;
}

#[tokio::test]
async fn without_a_token_or_an_owner_key_it_says_what_to_give() {
    let daemon = Daemon::start("[security]\nrequire_api_key = false\n");
    let session = daemon.session().await;
    let mut tail = Tail::follow_without_token(&daemon, &session);
    assert_eq!(tail.exit_code(), Some(1));
    assert!(tail.stderr().contains("--token"), "{}", tail.stderr());
}
