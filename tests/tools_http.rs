//! The `http_request` tool over real HTTP, aimed at the daemon itself on 127.0.0.1 (and at a
//! small redirecting server for the redirect rules).

mod common;

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{Daemon, Session};
use serde_json::{Value, json};

/// A daemon with `http_request` enabled for 127.0.0.1, plus `extra` keys of
/// `[tools.http_request]`.
fn http_daemon(extra: &str) -> Daemon {
    Daemon::start(&format!(
        "[tools]\nenabled = [\"http_request\"]\n\
         [tools.http_request]\nallow_hosts = [\"127.0.0.1\"]\n{extra}"
    ))
}

/// Calls `http_request` with `arguments` and returns the text and `isError` of its result.
async fn request(daemon: &Daemon, session: &Session, arguments: Value) -> (String, bool) {
    let messages = daemon
        .call(session, "http_request", arguments, json!({}))
        .await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    let result = &messages[0]["result"];
    let text = result["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("a text result: {}", messages[0]));
    (text.to_owned(), result["isError"].as_bool().unwrap())
}

/// The body of a result text: what follows the blank line after the headers.
fn body(text: &str) -> &str {
    text.split_once("\n\n").expect("headers, then the body").1
}

#[tokio::test]
async fn a_get_returns_status_headers_and_body() {
    let daemon = http_daemon("");
    let session = daemon.session().await;
    let (text, is_error) = request(&daemon, &session, json!({"url": daemon.url("/health")})).await;
    assert!(!is_error, "{text}");
    assert!(text.starts_with("HTTP/1.1 200 OK\n"), "{text}");
    assert!(
        text.contains("\ncontent-type: application/json\n"),
        "{text}"
    );
    let health: Value = serde_json::from_str(body(&text)).unwrap();
    assert_eq!(health["status"], "ok");
}

#[tokio::test]
async fn a_post_sends_its_body_and_headers() {
    let daemon = http_daemon("");
    let session = daemon.session().await;
    let (text, is_error) = request(
        &daemon,
        &session,
        json!({"url": daemon.url("/session"), "method": "POST",
               "headers": {"content-type": "application/json",
                           "authorization": format!("Bearer {}", daemon.api_key())},
               "body": json!({"label": "made by a tool"}).to_string()}),
    )
    .await;
    assert!(!is_error, "{text}");
    assert!(text.starts_with("HTTP/1.1 200 OK\n"), "{text}");
    let created: Value = serde_json::from_str(body(&text)).unwrap();
    let id = created["session_id"].as_str().unwrap();
    let token = created["token"].as_str().unwrap();

    let (text, is_error) = request(
        &daemon,
        &session,
        json!({"url": daemon.url(&format!("/session/{id}")),
               "headers": {"Authorization": format!("Bearer {token}")}}),
    )
    .await;
    assert!(!is_error, "{text}");
    let described: Value = serde_json::from_str(body(&text)).unwrap();
    assert_eq!(described["label"], "made by a tool");
}

#[tokio::test]
async fn an_error_status_is_a_normal_result() {
    let daemon = http_daemon("");
    let session = daemon.session().await;
    let url = daemon.url(&format!("/session/{}", uuid::Uuid::new_v4()));
    let (text, is_error) = request(&daemon, &session, json!({"url": url})).await;
    assert!(!is_error, "a 401 is information, not a failed call");
    assert!(text.starts_with("HTTP/1.1 401 Unauthorized\n"), "{text}");
    assert!(body(&text).contains("error"), "{text}");
}

#[tokio::test]
async fn requests_outside_the_rules_are_refused() {
    let daemon = http_daemon("");
    let session = daemon.session().await;
    let port = daemon.base.rsplit(':').next().unwrap();
    for (arguments, needle) in [
        (
            json!({"url": format!("http://localhost:{port}/health")}),
            "host localhost is not allowed (allowed: 127.0.0.1)",
        ),
        (
            json!({"url": "ftp://127.0.0.1/file"}),
            "only http and https URLs are allowed, not ftp:",
        ),
        (
            json!({"url": "file:///etc/passwd"}),
            "only http and https URLs are allowed, not file:",
        ),
        (json!({"url": "not a url"}), "invalid URL"),
        (
            json!({"url": daemon.url("/health"), "headers": {"bad name": "x"}}),
            "invalid header name \"bad name\"",
        ),
        (
            json!({"url": daemon.url("/health"), "headers": {"x-ok": "line\nbreak"}}),
            "invalid value for header x-ok",
        ),
    ] {
        let (text, is_error) = request(&daemon, &session, arguments.clone()).await;
        assert!(is_error, "{arguments}");
        assert!(text.contains(needle), "{arguments}: {text}");
    }
}

#[tokio::test]
async fn bad_arguments_are_32602() {
    let daemon = http_daemon("");
    let session = daemon.session().await;
    for arguments in [
        json!({}),
        json!({"url": daemon.url("/health"), "method": "DELETE"}),
        json!({"url": daemon.url("/health"), "headers": {"x": 1}}),
    ] {
        let messages = daemon
            .call(&session, "http_request", arguments.clone(), json!({}))
            .await;
        assert_eq!(messages[0]["error"]["code"], -32602, "{arguments}");
    }
}

#[tokio::test]
async fn long_bodies_are_cut_at_the_configured_size() {
    let daemon = http_daemon("max_response_bytes = 10\n");
    let session = daemon.session().await;
    let (text, is_error) = request(&daemon, &session, json!({"url": daemon.url("/health")})).await;
    assert!(!is_error, "{text}");
    let (kept, note) = body(&text).split_once("\n\n").unwrap();
    assert_eq!(kept.len(), 10, "{text}");
    assert!(kept.starts_with("{\""), "{text}");
    assert_eq!(note, "[body truncated: only its first 10 bytes are shown]");
}

#[tokio::test]
async fn a_refused_connection_is_a_failure() {
    let daemon = http_daemon("");
    let session = daemon.session().await;
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let (text, is_error) = request(
        &daemon,
        &session,
        json!({"url": format!("http://127.0.0.1:{port}/")}),
    )
    .await;
    assert!(is_error);
    assert!(text.starts_with("request failed: "), "{text}");
    assert!(text.to_lowercase().contains("connect"), "{text}");
}

/// A server on 127.0.0.1 answering every request with a redirect to `location(path)`; counts
/// the requests it got.
fn redirecting_server(location: fn(u16, &str) -> String) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&requests);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            let mut header = String::new();
            while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                header.clear();
            }
            counter.fetch_add(1, Ordering::SeqCst);
            let path = request_line.split_whitespace().nth(1).unwrap_or("/");
            let _ = write!(
                stream,
                "HTTP/1.1 302 Found\r\nLocation: {}\r\nContent-Length: 0\r\n\
                 Connection: close\r\n\r\n",
                location(port, path)
            );
        }
    });
    (port, requests)
}

#[tokio::test]
async fn redirects_are_followed_only_to_allowed_hosts_and_only_five_times() {
    let daemon = http_daemon("");
    let session = daemon.session().await;

    let (port, requests) = redirecting_server(|port, _| format!("http://localhost:{port}/"));
    let (text, is_error) = request(
        &daemon,
        &session,
        json!({"url": format!("http://127.0.0.1:{port}/")}),
    )
    .await;
    assert!(is_error);
    assert!(
        text.contains("redirect refused: host localhost is not allowed"),
        "{text}"
    );
    assert_eq!(requests.load(Ordering::SeqCst), 1);

    let (port, requests) = redirecting_server(|_, path| format!("{path}x"));
    let (text, is_error) = request(
        &daemon,
        &session,
        json!({"url": format!("http://127.0.0.1:{port}/")}),
    )
    .await;
    assert!(is_error);
    assert!(text.contains("more than 5 redirects"), "{text}");
    assert_eq!(
        requests.load(Ordering::SeqCst),
        6,
        "the first request and 5 redirects"
    );
}

#[test]
fn enabling_http_request_without_allowed_hosts_fails_check_config() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    std::fs::write(&file, "[tools]\nenabled = [\"http_request\"]\n").unwrap();
    let output = Command::new(common::binary())
        .arg("check-config")
        .arg(&file)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("tools.http_request.allow_hosts"),
        "{stderr}"
    );
}
