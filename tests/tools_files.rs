//! `file_read`, `file_write` and `file_edit` over real HTTP: contents on disk, ranges, size and
//! binary refusals, atomic writes, schema violations, and every way out of the workspace.

mod common;

use std::fs;
use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _, symlink};
use std::path::Path;

use common::{Daemon, Session};
use serde_json::{Value, json};

/// The file tools, each with arguments that would read or change `path`.
fn every_tool_on(path: &str) -> [(&'static str, Value); 3] {
    [
        ("file_read", json!({"path": path})),
        (
            "file_write",
            json!({"path": path, "content": "pwned", "create_dirs": true}),
        ),
        (
            "file_edit",
            json!({"path": path, "old_string": "secret", "new_string": "pwned"}),
        ),
    ]
}

/// A daemon with `extra` configuration and a session in its home folder.
async fn started(extra: &str) -> (Daemon, Session) {
    let daemon = Daemon::start(extra);
    let session = daemon.session().await;
    (daemon, session)
}

/// The final message of a call of `tool`.
async fn call(daemon: &Daemon, session: &Session, tool: &str, args: Value) -> Value {
    let messages = daemon.call(session, tool, args, json!({})).await;
    messages.last().expect("a final response").clone()
}

/// The text blocks of a result.
fn blocks(answer: &Value) -> Vec<String> {
    answer["result"]["content"]
        .as_array()
        .unwrap_or_else(|| panic!("a result with content: {answer}"))
        .iter()
        .map(|block| block["text"].as_str().unwrap().to_owned())
        .collect()
}

/// Calls `tool`, which must succeed, and returns its text blocks.
async fn succeeds(daemon: &Daemon, session: &Session, tool: &str, args: Value) -> Vec<String> {
    let answer = call(daemon, session, tool, args.clone()).await;
    assert_eq!(
        answer["result"]["isError"], false,
        "{tool} {args}: {answer}"
    );
    blocks(&answer)
}

/// Calls `tool`, which must run and fail, and returns why.
async fn fails(daemon: &Daemon, session: &Session, tool: &str, args: Value) -> String {
    let answer = call(daemon, session, tool, args.clone()).await;
    assert_eq!(answer["result"]["isError"], true, "{tool} {args}: {answer}");
    blocks(&answer).concat()
}

/// Calls `tool` with arguments its schema rejects and returns the JSON-RPC error message.
async fn rejected(daemon: &Daemon, session: &Session, tool: &str, args: Value) -> String {
    let answer = call(daemon, session, tool, args.clone()).await;
    assert_eq!(answer["error"]["code"], -32602, "{tool} {args}: {answer}");
    answer["error"]["message"].as_str().unwrap().to_owned()
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap()
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

/// The entries of a folder, by name, sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn the_file_tools_are_enabled_by_default_with_strict_schemas() {
    let (daemon, session) = started("").await;
    let answer = daemon.rpc(&session, "tools/list", json!({})).await;
    let tools = answer["result"]["tools"].as_array().unwrap();
    for name in ["file_edit", "file_read", "file_write"] {
        let tool = tools
            .iter()
            .find(|tool| tool["name"] == name)
            .unwrap_or_else(|| panic!("{name} is listed"));
        assert!(tool["description"].as_str().is_some_and(|d| d.len() > 40));
        assert_eq!(tool["inputSchema"]["additionalProperties"], false);
        assert_eq!(tool["inputSchema"]["required"][0], "path");
    }
}

#[tokio::test]
async fn file_read_returns_a_whole_file_exactly() {
    let (daemon, session) = started("").await;
    let content = "héllo\r\n\tworld\n  indented, no final newline";
    fs::write(daemon.home.path().join("notes.txt"), content).unwrap();
    let text = succeeds(&daemon, &session, "file_read", json!({"path": "notes.txt"})).await;
    assert_eq!(text, [content]);
    fs::write(daemon.home.path().join("empty"), "").unwrap();
    let text = succeeds(&daemon, &session, "file_read", json!({"path": "empty"})).await;
    assert_eq!(text, [""]);
}

#[tokio::test]
async fn file_read_returns_exactly_the_lines_asked_for() {
    let (daemon, session) = started("").await;
    fs::write(
        daemon.home.path().join("five"),
        "one\ntwo\nthree\nfour\nfive",
    )
    .unwrap();
    for (args, expected) in [
        (json!({"offset": 2, "limit": 2}), "two\nthree\n"),
        (json!({"offset": 4}), "four\nfive"),
        (json!({"limit": 1}), "one\n"),
        (json!({"offset": 5, "limit": 10}), "five"),
        (
            json!({"offset": 1, "limit": 5}),
            "one\ntwo\nthree\nfour\nfive",
        ),
    ] {
        let mut args = args;
        args["path"] = json!("five");
        let text = succeeds(&daemon, &session, "file_read", args.clone()).await;
        assert_eq!(text, [expected], "{args}");
    }
    let reason = fails(
        &daemon,
        &session,
        "file_read",
        json!({"path": "five", "offset": 6}),
    )
    .await;
    assert!(
        reason.contains("past the end") && reason.contains("5 lines"),
        "{reason}"
    );
}

#[tokio::test]
async fn file_read_refuses_a_missing_file_a_directory_and_binary_files() {
    let (daemon, session) = started("").await;
    let home = daemon.home.path();
    fs::create_dir(home.join("folder")).unwrap();
    fs::write(home.join("image.png"), b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").unwrap();
    fs::write(home.join("latin1.txt"), b"caf\xe9 au lait\n").unwrap();
    let cases = [
        (json!({"path": "missing.txt"}), "missing.txt does not exist"),
        (json!({"path": "folder"}), "folder is a directory"),
        (json!({"path": "image.png"}), "image.png is a binary file"),
        (
            json!({"path": "image.png", "offset": 1}),
            "image.png is a binary file",
        ),
        (json!({"path": "latin1.txt"}), "latin1.txt is a binary file"),
        (
            json!({"path": "latin1.txt", "limit": 1}),
            "latin1.txt is a binary file",
        ),
    ];
    for (args, needle) in cases {
        let reason = fails(&daemon, &session, "file_read", args.clone()).await;
        assert!(reason.contains(needle), "{args}: {reason}");
    }
}

#[tokio::test]
async fn file_read_refuses_a_whole_file_over_the_limit_and_suggests_a_range() {
    let (daemon, session) = started("[tools.files]\nmax_read_bytes = 64\n").await;
    let lines: String = (1..=20).map(|n| format!("line {n:02}\n")).collect();
    assert_eq!(lines.len(), 160);
    fs::write(daemon.home.path().join("big.txt"), &lines).unwrap();
    let reason = fails(&daemon, &session, "file_read", json!({"path": "big.txt"})).await;
    assert!(reason.contains("160 bytes"), "{reason}");
    assert!(reason.contains("64"), "{reason}");
    assert!(
        reason.contains("offset") && reason.contains("limit"),
        "{reason}"
    );

    let text = succeeds(
        &daemon,
        &session,
        "file_read",
        json!({"path": "big.txt", "offset": 3, "limit": 2}),
    )
    .await;
    assert_eq!(text, ["line 03\nline 04\n"]);
}

#[tokio::test]
async fn file_read_stops_a_range_at_the_limit_on_a_line_boundary_and_says_where_to_go_on() {
    let (daemon, session) = started("[tools.files]\nmax_read_bytes = 64\n").await;
    let home = daemon.home.path();
    let lines: String = (1..=20).map(|n| format!("line {n:02}\n")).collect();
    fs::write(home.join("big.txt"), &lines).unwrap();
    let text = succeeds(
        &daemon,
        &session,
        "file_read",
        json!({"path": "big.txt", "offset": 2}),
    )
    .await;
    assert_eq!(text.len(), 2, "{text:?}");
    assert_eq!(text[0], lines[8..72]);
    assert!(text[1].contains("truncated"), "{}", text[1]);
    assert!(text[1].contains("continue with offset 10"), "{}", text[1]);

    // One line longer than the limit: its start, cut on a character boundary.
    fs::write(home.join("long.txt"), format!("{}é tail\n", "x".repeat(63))).unwrap();
    let text = succeeds(
        &daemon,
        &session,
        "file_read",
        json!({"path": "long.txt", "limit": 1}),
    )
    .await;
    assert_eq!(text[0], "x".repeat(63));
    assert!(text[1].contains("line 1 is longer"), "{}", text[1]);
}

#[tokio::test]
async fn file_write_creates_a_file_with_the_content_and_usual_permissions() {
    let (daemon, session) = started("").await;
    let home = daemon.home.path();
    let text = succeeds(
        &daemon,
        &session,
        "file_write",
        json!({"path": "new.txt", "content": "héllo\n"}),
    )
    .await;
    assert_eq!(text, ["created new.txt: wrote 7 bytes"]);
    assert_eq!(read(&home.join("new.txt")), "héllo\n");
    // The daemon inherited this process's umask: a file created here shows what it allows.
    fs::write(home.join("reference"), "").unwrap();
    assert_eq!(mode(&home.join("new.txt")), mode(&home.join("reference")));
}

#[tokio::test]
async fn file_write_overwrites_a_file_keeping_its_permissions_and_no_temporary_file() {
    let (daemon, session) = started("").await;
    let home = daemon.home.path();
    let script = home.join("run.sh");
    fs::write(&script, "old content that is longer\n").unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o751)).unwrap();
    let before = entries(home);
    let text = succeeds(
        &daemon,
        &session,
        "file_write",
        json!({"path": "run.sh", "content": "#!/bin/sh\n"}),
    )
    .await;
    assert_eq!(text, ["overwrote run.sh: wrote 10 bytes"]);
    assert_eq!(read(&script), "#!/bin/sh\n");
    assert_eq!(mode(&script), 0o751);
    assert_eq!(entries(home), before);
}

#[tokio::test]
async fn file_write_refuses_what_writing_in_place_would_refuse() {
    let (daemon, session) = started("").await;
    let file = daemon.home.path().join("read-only.txt");
    fs::write(&file, "keep me\n").unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o444)).unwrap();
    let args = json!({"path": "read-only.txt", "content": "changed\n"});
    // Root may write anything; everyone else may not write a read-only file.
    if fs::OpenOptions::new().write(true).open(&file).is_ok() {
        succeeds(&daemon, &session, "file_write", args).await;
        assert_eq!(read(&file), "changed\n");
    } else {
        let reason = fails(&daemon, &session, "file_write", args).await;
        assert!(reason.contains("permission denied"), "{reason}");
        assert_eq!(read(&file), "keep me\n");
    }
    assert_eq!(mode(&file), 0o444);
}

#[tokio::test]
async fn file_write_creates_missing_folders_only_when_asked() {
    let (daemon, session) = started("").await;
    let home = daemon.home.path();
    let reason = fails(
        &daemon,
        &session,
        "file_write",
        json!({"path": "a/b/c.txt", "content": "deep"}),
    )
    .await;
    assert!(reason.contains("folder a/b does not exist"), "{reason}");
    assert!(reason.contains("create_dirs"), "{reason}");
    assert!(!home.join("a").exists());

    let text = succeeds(
        &daemon,
        &session,
        "file_write",
        json!({"path": "a/b/c.txt", "content": "deep", "create_dirs": true}),
    )
    .await;
    assert_eq!(text, ["created a/b/c.txt: wrote 4 bytes"]);
    assert_eq!(read(&home.join("a/b/c.txt")), "deep");
}

#[tokio::test]
async fn file_write_refuses_to_write_onto_a_directory() {
    let (daemon, session) = started("").await;
    let folder = daemon.home.path().join("src");
    fs::create_dir(&folder).unwrap();
    fs::write(folder.join("main.rs"), "fn main() {}\n").unwrap();
    let reason = fails(
        &daemon,
        &session,
        "file_write",
        json!({"path": "src", "content": "oops"}),
    )
    .await;
    assert!(reason.contains("src is a directory"), "{reason}");
    assert!(folder.is_dir());
    assert_eq!(read(&folder.join("main.rs")), "fn main() {}\n");
}

#[tokio::test]
async fn file_write_through_a_symlink_inside_the_workspace_writes_its_target() {
    let (daemon, session) = started("").await;
    let home = daemon.home.path();
    fs::write(home.join("target.txt"), "before\n").unwrap();
    symlink(home.join("target.txt"), home.join("link.txt")).unwrap();
    succeeds(
        &daemon,
        &session,
        "file_write",
        json!({"path": "link.txt", "content": "after\n"}),
    )
    .await;
    assert_eq!(read(&home.join("target.txt")), "after\n");
    assert!(
        fs::symlink_metadata(home.join("link.txt"))
            .unwrap()
            .is_symlink()
    );
}

#[tokio::test]
async fn file_edit_replaces_a_unique_occurrence_keeping_permissions() {
    let (daemon, session) = started("").await;
    let file = daemon.home.path().join("lib.rs");
    fs::write(&file, "fn a() {\n    1\n}\nfn b() {\n    2\n}\n").unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
    let text = succeeds(
        &daemon,
        &session,
        "file_edit",
        json!({"path": "lib.rs", "old_string": "fn b() {\n    2", "new_string": "fn b() {\n    20"}),
    )
    .await;
    assert_eq!(text, ["replaced 1 occurrence in lib.rs"]);
    assert_eq!(read(&file), "fn a() {\n    1\n}\nfn b() {\n    20\n}\n");
    assert_eq!(mode(&file), 0o600);
}

#[tokio::test]
async fn file_edit_replaces_every_occurrence_when_asked() {
    let (daemon, session) = started("").await;
    let file = daemon.home.path().join("names.txt");
    fs::write(&file, "foo bar foo\nbaz foo\n").unwrap();
    let text = succeeds(
        &daemon,
        &session,
        "file_edit",
        json!({"path": "names.txt", "old_string": "foo", "new_string": "quux",
               "replace_all": true}),
    )
    .await;
    assert_eq!(text, ["replaced 3 occurrences in names.txt"]);
    assert_eq!(read(&file), "quux bar quux\nbaz quux\n");
}

#[tokio::test]
async fn file_edit_refusals_say_why_and_leave_the_file_unchanged() {
    let (daemon, session) = started("").await;
    let file = daemon.home.path().join("names.txt");
    let original = "foo bar foo\nbaz foo\n";
    fs::write(&file, original).unwrap();
    let cases = [
        (
            json!({"old_string": "nothing like it", "new_string": "x"}),
            "old_string was not found in names.txt",
        ),
        (
            json!({"old_string": "foo", "new_string": "x"}),
            "old_string occurs 3 times in names.txt",
        ),
        (
            json!({"old_string": "foo", "new_string": "x", "replace_all": false}),
            "occurs 3 times",
        ),
        (
            json!({"old_string": "bar", "new_string": "bar"}),
            "identical",
        ),
    ];
    for (mut args, needle) in cases {
        args["path"] = json!("names.txt");
        let reason = fails(&daemon, &session, "file_edit", args.clone()).await;
        assert!(reason.contains(needle), "{args}: {reason}");
        assert_eq!(read(&file), original);
    }
}

#[tokio::test]
async fn file_edit_follows_file_read_rules_on_missing_binary_large_files_and_folders() {
    let (daemon, session) = started("[tools.files]\nmax_read_bytes = 64\n").await;
    let home = daemon.home.path();
    fs::create_dir(home.join("folder")).unwrap();
    let binary = b"foo\0bar".as_slice();
    fs::write(home.join("data.bin"), binary).unwrap();
    let large = format!("foo\n{}", "-".repeat(100));
    fs::write(home.join("large.txt"), &large).unwrap();
    for (path, needle) in [
        ("missing.txt", "missing.txt does not exist"),
        ("folder", "folder is a directory"),
        ("data.bin", "data.bin is a binary file"),
        (
            "large.txt",
            "large.txt is 104 bytes, more than the 64 bytes",
        ),
    ] {
        let reason = fails(
            &daemon,
            &session,
            "file_edit",
            json!({"path": path, "old_string": "foo", "new_string": "oof"}),
        )
        .await;
        assert!(reason.contains(needle), "{path}: {reason}");
    }
    assert!(!home.join("missing.txt").exists());
    assert_eq!(fs::read(home.join("data.bin")).unwrap(), binary);
    assert_eq!(read(&home.join("large.txt")), large);
}

#[tokio::test]
async fn every_file_tool_refuses_a_fifo_without_blocking_on_it() {
    let (daemon, session) = started("").await;
    let fifo = daemon.home.path().join("pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    for (tool, args) in every_tool_on("pipe") {
        let reason = fails(&daemon, &session, tool, args).await;
        assert!(
            reason.contains("pipe is not a regular file"),
            "{tool}: {reason}"
        );
    }
    let reason = fails(
        &daemon,
        &session,
        "file_read",
        json!({"path": "pipe", "limit": 1}),
    )
    .await;
    assert!(reason.contains("not a regular file"), "{reason}");
    assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
}

#[tokio::test]
async fn arguments_outside_a_file_tools_schema_are_32602_naming_the_field() {
    let (daemon, session) = started("").await;
    let cases = [
        ("file_read", json!({}), "path"),
        ("file_read", json!({"path": 5}), "path"),
        ("file_read", json!({"path": "a", "offset": 0}), "offset"),
        ("file_read", json!({"path": "a", "limit": -1}), "limit"),
        ("file_read", json!({"path": "a", "offset": 1.5}), "offset"),
        (
            "file_read",
            json!({"path": "a", "encoding": "utf8"}),
            "encoding",
        ),
        ("file_write", json!({"path": "a"}), "content"),
        (
            "file_write",
            json!({"path": "a", "content": "x", "create_dirs": "yes"}),
            "create_dirs",
        ),
        ("file_write", json!({"path": "", "content": "x"}), "path"),
        (
            "file_edit",
            json!({"path": "a", "old_string": "", "new_string": "x"}),
            "old_string",
        ),
        (
            "file_edit",
            json!({"path": "a", "old_string": "x"}),
            "new_string",
        ),
        (
            "file_edit",
            json!({"path": "a", "old_string": "x", "new_string": "y", "replace_all": 1}),
            "replace_all",
        ),
    ];
    for (tool, args, field) in cases {
        let message = rejected(&daemon, &session, tool, args.clone()).await;
        assert!(message.contains(field), "{tool} {args}: {message}");
    }
    assert!(!daemon.home.path().join("a").exists());
}

#[tokio::test]
async fn relative_and_absolute_paths_outside_the_workspace_are_refused_by_every_file_tool() {
    let (daemon, session) = started("").await;
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret.txt");
    fs::write(&secret, "secret\n").unwrap();
    let name = outside.path().file_name().unwrap().to_str().unwrap();
    let relative = format!("../{name}/secret.txt");
    let absolute = secret.to_str().unwrap().to_owned();
    let created = outside.path().join("new/file.txt");
    for path in [
        relative.as_str(),
        absolute.as_str(),
        &format!("../{name}/new/file.txt"),
        created.to_str().unwrap(),
    ] {
        for (tool, args) in every_tool_on(path) {
            let reason = fails(&daemon, &session, tool, args).await;
            assert!(
                reason.contains("outside the workspace"),
                "{tool} {path}: {reason}"
            );
        }
    }
    assert_eq!(read(&secret), "secret\n");
    assert!(!outside.path().join("new").exists());
}

#[tokio::test]
async fn a_symlink_to_a_file_outside_cannot_be_read_written_or_edited_through() {
    let (daemon, session) = started("").await;
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret.txt");
    fs::write(&secret, "secret\n").unwrap();
    let link = daemon.home.path().join("innocent.txt");
    symlink(&secret, &link).unwrap();
    for (tool, args) in every_tool_on("innocent.txt") {
        let reason = fails(&daemon, &session, tool, args).await;
        assert!(reason.contains("outside the workspace"), "{tool}: {reason}");
        assert!(!reason.contains("secret\n"), "{tool}: {reason}");
    }
    assert_eq!(read(&secret), "secret\n");
    assert_eq!(fs::read_link(&link).unwrap(), secret);
}

#[tokio::test]
async fn a_symlinked_folder_pointing_outside_is_refused_by_every_file_tool() {
    let (daemon, session) = started("").await;
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret.txt");
    fs::write(&secret, "secret\n").unwrap();
    symlink(outside.path(), daemon.home.path().join("vendor")).unwrap();
    for path in [
        "vendor/secret.txt",
        "vendor/new.txt",
        "vendor/deeper/new.txt",
    ] {
        for (tool, args) in every_tool_on(path) {
            let reason = fails(&daemon, &session, tool, args).await;
            assert!(
                reason.contains("outside the workspace"),
                "{tool} {path}: {reason}"
            );
        }
    }
    assert_eq!(read(&secret), "secret\n");
    assert_eq!(entries(outside.path()), ["secret.txt"]);
}

#[tokio::test]
async fn file_write_through_a_dangling_symlink_pointing_outside_creates_nothing() {
    let (daemon, session) = started("").await;
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("planted.txt");
    symlink(&target, daemon.home.path().join("dangling")).unwrap();
    for (tool, args) in every_tool_on("dangling") {
        let reason = fails(&daemon, &session, tool, args).await;
        assert!(
            reason.contains("symlink to a missing target"),
            "{tool}: {reason}"
        );
    }
    assert!(!target.exists());
    assert!(entries(outside.path()).is_empty());
}

#[tokio::test]
async fn a_configured_workspace_root_allows_paths_outside_the_cwd_and_nothing_beyond() {
    let root = tempfile::tempdir().unwrap();
    let root_path = root.path().canonicalize().unwrap();
    fs::create_dir(root_path.join("project")).unwrap();
    let daemon = Daemon::start(&format!(
        "[tools]\nworkspace_roots = [{:?}]\nconfine_to_cwd = false\n",
        root_path.to_str().unwrap()
    ));
    let session = daemon
        .session_with(json!({"cwd": root_path.join("project")}))
        .await;
    let shared = root_path.join("shared/notes.txt");

    let text = succeeds(
        &daemon,
        &session,
        "file_write",
        json!({"path": "../shared/notes.txt", "content": "one\ntwo\n", "create_dirs": true}),
    )
    .await;
    assert!(text[0].starts_with("created "), "{text:?}");
    assert_eq!(read(&shared), "one\ntwo\n");
    succeeds(
        &daemon,
        &session,
        "file_edit",
        json!({"path": shared, "old_string": "two", "new_string": "2"}),
    )
    .await;
    let text = succeeds(
        &daemon,
        &session,
        "file_read",
        json!({"path": "../shared/notes.txt", "offset": 2}),
    )
    .await;
    assert_eq!(text, ["2\n"]);

    // The daemon's own home is outside the configured root.
    let elsewhere = daemon.home.path().join("construct-actor.toml");
    for (tool, args) in every_tool_on(elsewhere.to_str().unwrap()) {
        let reason = fails(&daemon, &session, tool, args).await;
        assert!(reason.contains("outside the workspace"), "{tool}: {reason}");
    }
}

#[tokio::test]
async fn dot_dot_after_a_symlinked_folder_means_what_the_kernel_means() {
    let (daemon, session) = started("").await;
    let ws = daemon.home.path();
    fs::create_dir_all(ws.join("sub/inner")).unwrap();
    fs::create_dir_all(ws.join("a/b")).unwrap();
    fs::create_dir(ws.join("top")).unwrap();
    fs::write(ws.join("sub/x"), "the kernel's x\n").unwrap();
    fs::write(ws.join("x"), "the lexical x\n").unwrap();
    symlink("sub/inner", ws.join("reldir")).unwrap();
    symlink("../../top", ws.join("a/b/link")).unwrap();

    let text = succeeds(
        &daemon,
        &session,
        "file_read",
        json!({"path": "reldir/../x"}),
    )
    .await;
    assert_eq!(text, ["the kernel's x\n"]);
    // Lexically `a/x`, inside; as the kernel resolves it, the folder above the workspace.
    for (tool, args) in every_tool_on("a/b/link/../../x") {
        let reason = fails(&daemon, &session, tool, args).await;
        assert!(reason.contains("outside the workspace"), "{tool}: {reason}");
    }
    assert!(!ws.join("a/x").exists());
}

#[tokio::test]
async fn an_edit_whose_result_would_exceed_the_read_limit_is_refused_before_it_is_built() {
    let (daemon, session) = started("").await;
    let path = daemon.home.path().join("a.txt");
    fs::write(&path, "a".repeat(256 * 1024)).unwrap();
    // 5 GB once built: the size is computed first, and the edit refused.
    let args = json!({"path": "a.txt", "old_string": "a", "new_string": "b".repeat(20_000),
                      "replace_all": true});
    let reason = fails(&daemon, &session, "file_edit", args).await;
    assert!(
        reason.contains("5242880000 bytes") && reason.contains("tools.files.max_read_bytes"),
        "{reason}"
    );
    assert_eq!(fs::metadata(&path).unwrap().len(), 256 * 1024);
    let health = common::client()
        .get(daemon.url("/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}
