//! `glob_search` and `content_search` over real HTTP: matches, `.gitignore`, caps, progress,
//! bad patterns, workspace escapes, and `/health` while pathological patterns are compiled (its
//! figures print with `cargo test --test tools_search health -- --nocapture`).

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Daemon, Session};
use serde_json::{Value, json};

/// A small project: sources, an ignored build folder, a hidden file and a binary file.
fn project(root: &Path) {
    let write = |path: &str, text: &[u8]| {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(".gitignore", b"target/\n");
    write("src/main.rs", b"fn main() {\n    println!(\"hello\");\n}\n");
    write(
        "src/lib.rs",
        b"pub fn hello() -> &'static str {\n    \"Hello\"\n}\n",
    );
    write("docs/notes.md", b"say hello\n");
    write("target/debug/out.rs", b"fn hello() {}\n");
    write(".hidden/secret.rs", b"fn hello() {}\n");
    write("data.bin", b"hello\0\x01\x02");
}

async fn run(daemon: &Daemon, session: &Session, tool: &str, args: Value) -> Value {
    let messages = daemon.call(session, tool, args, json!({})).await;
    messages.last().unwrap().clone()
}

fn text(answer: &Value) -> &str {
    answer["result"]["content"][0]["text"].as_str().unwrap()
}

async fn daemon_with_project() -> (Daemon, Session) {
    let daemon = Daemon::start("");
    project(daemon.home.path());
    let session = daemon.session().await;
    (daemon, session)
}

#[tokio::test]
async fn glob_search_lists_matching_files_sorted_and_respects_gitignore() {
    let (daemon, session) = daemon_with_project().await;
    let answer = run(
        &daemon,
        &session,
        "glob_search",
        json!({"pattern": "**/*.rs"}),
    )
    .await;
    assert_eq!(answer["result"]["isError"], false);
    assert_eq!(text(&answer), "src/lib.rs\nsrc/main.rs");
}

#[tokio::test]
async fn glob_search_within_a_folder_and_with_no_match() {
    let (daemon, session) = daemon_with_project().await;
    let answer = run(
        &daemon,
        &session,
        "glob_search",
        json!({"pattern": "*.md", "path": "docs"}),
    )
    .await;
    assert_eq!(text(&answer), "docs/notes.md");
    let none = run(
        &daemon,
        &session,
        "glob_search",
        json!({"pattern": "**/*.py"}),
    )
    .await;
    assert_eq!(none["result"]["isError"], false);
    assert!(text(&none).starts_with("no files match"));
}

#[tokio::test]
async fn glob_search_stops_at_the_cap_and_says_so() {
    let (daemon, session) = daemon_with_project().await;
    let answer = run(
        &daemon,
        &session,
        "glob_search",
        json!({"pattern": "**", "max_results": 2}),
    )
    .await;
    let lines: Vec<&str> = text(&answer).lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[2].contains("stopped at 2 results"));
}

#[tokio::test]
async fn glob_search_reports_progress_on_large_trees() {
    let daemon = Daemon::start("");
    for i in 0..450 {
        std::fs::write(daemon.home.path().join(format!("f{i:03}.txt")), "x").unwrap();
    }
    let session = daemon.session().await;
    let mut events = daemon.follow(&session).await;
    daemon.wait_for_subscribers(&session, 1).await;
    let messages = daemon
        .call(
            &session,
            "glob_search",
            json!({"pattern": "*.txt", "max_results": 1000}),
            json!({}),
        )
        .await;
    let progress: Vec<&Value> = messages
        .iter()
        .filter(|m| m["method"] == "notifications/progress")
        .collect();
    assert_eq!(progress.len(), 2, "a report every 200 files");
    assert_eq!(progress[0]["params"]["message"], "scanned 200 files");
    let event = common::next_data(&mut events).await;
    assert_eq!(event["tool"], "glob_search");
    assert_eq!(event["progress"], 200);
    assert_eq!(text(messages.last().unwrap()).lines().count(), 450);
}

#[tokio::test]
async fn content_search_finds_lines_with_numbers_skipping_ignored_hidden_and_binary_files() {
    let (daemon, session) = daemon_with_project().await;
    let answer = run(
        &daemon,
        &session,
        "content_search",
        json!({"pattern": "hello"}),
    )
    .await;
    assert_eq!(answer["result"]["isError"], false);
    assert_eq!(
        text(&answer),
        "docs/notes.md:1:say hello\nsrc/lib.rs:1:pub fn hello() -> &'static str {\nsrc/main.rs:2:    println!(\"hello\");"
    );
}

#[tokio::test]
async fn content_search_case_insensitive_and_glob_filtered() {
    let (daemon, session) = daemon_with_project().await;
    let answer = run(
        &daemon,
        &session,
        "content_search",
        json!({"pattern": "HELLO", "case_insensitive": true, "glob": "src/lib.rs"}),
    )
    .await;
    assert_eq!(
        text(&answer),
        "src/lib.rs:1:pub fn hello() -> &'static str {\nsrc/lib.rs:2:    \"Hello\""
    );
}

#[tokio::test]
async fn content_search_in_one_file_with_a_cap() {
    let (daemon, session) = daemon_with_project().await;
    let answer = run(
        &daemon,
        &session,
        "content_search",
        json!({"pattern": "l", "path": "src/lib.rs", "max_results": 1}),
    )
    .await;
    let lines: Vec<&str> = text(&answer).lines().collect();
    assert_eq!(lines[0], "src/lib.rs:1:pub fn hello() -> &'static str {");
    assert!(lines[1].contains("stopped at 1 matches"));
}

#[tokio::test]
async fn content_search_with_no_match_says_how_many_files_it_read() {
    let (daemon, session) = daemon_with_project().await;
    let answer = run(
        &daemon,
        &session,
        "content_search",
        json!({"pattern": "zebra"}),
    )
    .await;
    assert_eq!(answer["result"]["isError"], false);
    assert!(text(&answer).starts_with("no matches for zebra in "));
}

#[tokio::test]
async fn bad_patterns_are_tool_errors_that_say_why() {
    let (daemon, session) = daemon_with_project().await;
    let regex = run(
        &daemon,
        &session,
        "content_search",
        json!({"pattern": "(unclosed"}),
    )
    .await;
    assert_eq!(regex["result"]["isError"], true);
    assert!(text(&regex).starts_with("invalid regex"));
    let glob = run(&daemon, &session, "glob_search", json!({"pattern": "a[b"})).await;
    assert_eq!(glob["result"]["isError"], true);
    assert!(text(&glob).starts_with("invalid glob"));
    let filter = run(
        &daemon,
        &session,
        "content_search",
        json!({"pattern": "x", "glob": "{"}),
    )
    .await;
    assert_eq!(filter["result"]["isError"], true);
}

#[tokio::test]
async fn searches_outside_the_workspace_are_refused() {
    let (daemon, session) = daemon_with_project().await;
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("x.rs"), "hello").unwrap();
    std::os::unix::fs::symlink(outside.path(), daemon.home.path().join("link")).unwrap();
    for path in ["..", outside.path().to_str().unwrap(), "link"] {
        for tool in ["glob_search", "content_search"] {
            let answer = run(
                &daemon,
                &session,
                tool,
                json!({"pattern": "*", "path": path}),
            )
            .await;
            assert_eq!(answer["result"]["isError"], true, "{tool} {path}");
            assert!(
                text(&answer).contains("outside the workspace"),
                "{tool} {path}"
            );
        }
    }
    // A symlink inside the tree pointing out is not followed by a walk either.
    let answer = run(
        &daemon,
        &session,
        "content_search",
        json!({"pattern": "hello"}),
    )
    .await;
    assert!(!text(&answer).contains("x.rs"));
}

#[tokio::test]
async fn search_arguments_are_checked_against_the_schema() {
    let (daemon, session) = daemon_with_project().await;
    for (tool, args, field) in [
        ("glob_search", json!({}), "pattern"),
        (
            "glob_search",
            json!({"pattern": "*", "max_results": 0}),
            "max_results",
        ),
        ("content_search", json!({"pattern": ""}), "pattern"),
        (
            "content_search",
            json!({"pattern": "x", "case_insensitive": "yes"}),
            "case_insensitive",
        ),
        (
            "content_search",
            json!({"pattern": "x", "extra": 1}),
            "extra",
        ),
    ] {
        let answer = run(&daemon, &session, tool, args).await;
        assert_eq!(answer["error"]["code"], -32602);
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(field), "{message} should name {field}");
    }
}

#[tokio::test]
async fn content_search_results_are_bounded_in_bytes_and_long_lines_shortened() {
    let daemon = Daemon::start("[tools.search]\nmax_output_bytes = 2000\n");
    let line = format!("needle {}\n", "x".repeat(1000));
    std::fs::write(daemon.home.path().join("long.txt"), line.repeat(100)).unwrap();
    let session = daemon.session().await;
    let answer = run(
        &daemon,
        &session,
        "content_search",
        json!({"pattern": "needle"}),
    )
    .await;
    assert_eq!(answer["result"]["isError"], false, "{answer}");
    let lines: Vec<&str> = text(&answer).lines().collect();
    let (note, found) = lines.split_last().unwrap();
    assert_eq!(found.len(), 4, "{lines:?}");
    assert!(
        found.iter().all(|l| l.ends_with("(line shortened)")),
        "{lines:?}"
    );
    assert!(found.join("\n").len() <= 2000);
    assert!(
        note.contains("stopped after 4 matches") && note.contains("tools.search.max_output_bytes"),
        "{note}"
    );
}

#[tokio::test]
async fn glob_search_results_are_bounded_in_bytes() {
    let daemon = Daemon::start("[tools.search]\nmax_output_bytes = 1000\n");
    for i in 0..20 {
        let name = format!("{i:02}-{}.txt", "n".repeat(200));
        std::fs::write(daemon.home.path().join(name), "").unwrap();
    }
    let session = daemon.session().await;
    let answer = run(
        &daemon,
        &session,
        "glob_search",
        json!({"pattern": "*.txt"}),
    )
    .await;
    let lines: Vec<&str> = text(&answer).lines().collect();
    let (note, found) = lines.split_last().unwrap();
    assert_eq!(found.len(), 4, "{lines:?}");
    assert!(found.join("\n").len() <= 1000);
    assert!(note.contains("stopped after 4 results"), "{note}");
}

#[tokio::test]
async fn a_file_with_a_line_longer_than_the_search_buffer_is_skipped_and_counted() {
    let daemon = Daemon::start("");
    let huge = format!("needle {}\n", "x".repeat(5 * 1024 * 1024));
    std::fs::write(daemon.home.path().join("huge.txt"), huge).unwrap();
    std::fs::write(daemon.home.path().join("small.txt"), "needle\n").unwrap();
    let session = daemon.session().await;
    let answer = run(
        &daemon,
        &session,
        "content_search",
        json!({"pattern": "needle"}),
    )
    .await;
    assert_eq!(answer["result"]["isError"], false, "{answer}");
    let text = text(&answer);
    assert!(text.starts_with("small.txt:1:needle\n"), "{text}");
    assert!(text.contains("(1 files could not be searched"), "{text}");
}

#[tokio::test]
async fn a_pattern_too_large_once_compiled_is_refused_naming_the_limit() {
    let daemon = Daemon::start("[tools.search]\nregex_size_limit = 10000\n");
    let session = daemon.session().await;
    let answer = run(
        &daemon,
        &session,
        "content_search",
        json!({"pattern": "[a-z]{2000}"}),
    )
    .await;
    assert_eq!(answer["result"]["isError"], true, "{answer}");
    let reason = text(&answer);
    assert!(
        reason.contains("10000-byte tools.search.regex_size_limit"),
        "{reason}"
    );
    let answer = run(
        &daemon,
        &session,
        "content_search",
        json!({"pattern": "[a-z]{20}"}),
    )
    .await;
    assert_eq!(answer["result"]["isError"], false, "{answer}");
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
        // A session each: the harness gives every call the same request id.
        let session = daemon.session().await;
        searches.push(tokio::spawn(async move {
            let args = json!({"pattern": r"\w{3500}"});
            run(&daemon, &session, "content_search", args).await
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
