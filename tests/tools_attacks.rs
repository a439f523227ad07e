//! Issue 12's attacks on the tools' resources, replayed against the real daemon: an edit whose
//! result would be gigabytes, and pathological regexes while `/health` is timed. (The symlink
//! races are in `tools_races.rs`: their flipping threads would load the CPU this file times.)
//!
//! The `/health` test prints its figures: `cargo test --test tools_attacks -- --nocapture`.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Daemon, Session};
use serde_json::{Value, json};

/// The final message of a call of `tool`.
async fn call(daemon: &Daemon, session: &Session, tool: &str, args: Value) -> Value {
    let messages = daemon.call(session, tool, args, json!({})).await;
    messages.last().expect("a final response").clone()
}

/// The text blocks of a result, joined.
fn text(answer: &Value) -> String {
    answer["result"]["content"]
        .as_array()
        .unwrap_or_else(|| panic!("a result with content: {answer}"))
        .iter()
        .map(|block| block["text"].as_str().unwrap_or_default())
        .collect()
}

async fn assert_healthy(daemon: &Daemon) {
    let response = common::client()
        .get(daemon.url("/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn an_edit_whose_result_would_exceed_the_read_limit_is_refused_before_it_is_built() {
    let daemon = Daemon::start("");
    let session = daemon.session().await;
    let path = daemon.home.path().join("a.txt");
    std::fs::write(&path, "a".repeat(256 * 1024)).unwrap();
    let answer = call(
        &daemon,
        &session,
        "file_edit",
        json!({"path": "a.txt", "old_string": "a", "new_string": "b".repeat(20_000),
               "replace_all": true}),
    )
    .await;
    assert_eq!(answer["result"]["isError"], true, "{answer}");
    let reason = text(&answer);
    assert!(
        reason.contains("5242880000 bytes") && reason.contains("tools.files.max_read_bytes"),
        "{reason}"
    );
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 256 * 1024);
    assert_healthy(&daemon).await;
}

/// The 99th percentile of `samples`.
fn p99(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[(samples.len() * 99 / 100).min(samples.len() - 1)]
}

#[tokio::test]
async fn health_stays_fast_while_eight_pathological_searches_run() {
    let daemon = Arc::new(Daemon::start(""));
    std::fs::write(daemon.home.path().join("words.txt"), "word ".repeat(1000)).unwrap();
    let mut searches = Vec::new();
    for _ in 0..8 {
        let daemon = Arc::clone(&daemon);
        let session = daemon.session().await;
        searches.push(tokio::spawn(async move {
            let args = json!({"pattern": r"\w{3500}"});
            call(&daemon, &session, "content_search", args).await
        }));
    }
    let started = Instant::now();
    let mut latencies = Vec::new();
    let mut unanswered = 0;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    while !searches.iter().all(|search| search.is_finished()) || latencies.len() < 50 {
        let asked = Instant::now();
        match client.get(daemon.url("/health")).send().await {
            Ok(response) if response.status() == 200 => latencies.push(asked.elapsed()),
            _ => unanswered += 1,
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
        if started.elapsed() > Duration::from_secs(120) {
            break;
        }
    }
    let p99 = p99(&mut latencies);
    let max = latencies.last().copied().unwrap_or_default();
    eprintln!(
        "health during 8 regex searches: {} samples, p99 {p99:?}, max {max:?}, {unanswered} \
         unanswered, searches done after {:?}",
        latencies.len(),
        started.elapsed()
    );
    assert_eq!(unanswered, 0);
    assert!(p99 < Duration::from_millis(100), "p99 {p99:?}");
    for search in searches {
        let answer = search.await.expect("every search answers");
        assert_eq!(answer["result"]["isError"], true, "{answer}");
        let reason = text(&answer);
        assert!(reason.contains("tools.search.regex_size_limit"), "{reason}");
    }
}
