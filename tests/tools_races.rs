//! Issue 12's symlink races, replayed against the real daemon: another process flips a path of
//! the workspace between a file (or folder) inside and a symlink to one outside while the file
//! tools run, as fast as it can, with `renameat2(RENAME_EXCHANGE)` so that the path always
//! exists. No call may read or write outside. (A file apart from the other tool tests: its
//! flipping threads would disturb their `/health` timing.)
//!
//! The tests print their counts: `cargo test --test tools_races -- --nocapture`.

mod common;

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use common::{Daemon, Session};
use serde_json::{Value, json};

/// Calls per flip test, as the issue asks.
const TRIES: usize = 1000;
/// Calls of a flip test in flight at once, each worker in a session of its own (the harness
/// gives every call the same request id).
const CONCURRENT: usize = 4;

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

/// Swaps two paths atomically (`renameat2(RENAME_EXCHANGE)`), so each name is always there.
fn exchange(a: &Path, b: &Path) {
    let a = CString::new(a.as_os_str().as_bytes()).unwrap();
    let b = CString::new(b.as_os_str().as_bytes()).unwrap();
    // SAFETY: both are valid NUL-terminated paths; the call reads them only.
    let done = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    assert_eq!(done, 0, "{}", std::io::Error::last_os_error());
}

/// A thread exchanging `a` and `b` as fast as it can until dropped.
struct Flipper {
    stop: Arc<AtomicBool>,
    flips: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Flipper {
    fn start(a: PathBuf, b: PathBuf) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flips = Arc::new(AtomicU64::new(0));
        let thread = std::thread::spawn({
            let (stop, flips) = (Arc::clone(&stop), Arc::clone(&flips));
            move || {
                while !stop.load(Ordering::Relaxed) {
                    exchange(&a, &b);
                    flips.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        Self {
            stop,
            flips,
            thread: Some(thread),
        }
    }

    /// Stops flipping and says how many flips there were.
    fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap();
        self.flips.load(Ordering::Relaxed)
    }
}

/// Makes `calls` calls of `tool` with the arguments `args(i)`, [`CONCURRENT`] at a time, and
/// returns their final messages.
async fn calls(daemon: &Arc<Daemon>, tool: &'static str, args: fn(usize) -> Value) -> Vec<Value> {
    let mut workers = Vec::new();
    for worker in 0..CONCURRENT {
        let daemon = Arc::clone(daemon);
        let session = daemon.session().await;
        workers.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            for i in (worker..TRIES).step_by(CONCURRENT) {
                answers.push(call(&daemon, &session, tool, args(i)).await);
            }
            answers
        }));
    }
    let mut answers = Vec::new();
    for worker in workers {
        answers.extend(worker.await.unwrap());
    }
    answers
}

#[tokio::test]
async fn file_read_never_returns_a_file_outside_while_a_link_is_flipped_in() {
    let daemon = Arc::new(Daemon::start(""));
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret.txt");
    std::fs::write(&secret, "outside\n").unwrap();
    let ws = daemon.home.path();
    std::fs::write(ws.join("flip"), "inside\n").unwrap();
    std::os::unix::fs::symlink(&secret, ws.join("flip-alt")).unwrap();

    let flipper = Flipper::start(ws.join("flip"), ws.join("flip-alt"));
    let answers = calls(&daemon, "file_read", |_| json!({"path": "flip"})).await;
    let flips = flipper.stop();

    let outside_reads = answers
        .iter()
        .filter(|a| text(a).contains("outside\n"))
        .count();
    let inside_reads = answers.iter().filter(|a| text(a) == "inside\n").count();
    eprintln!(
        "file_read under a flipped link: {outside_reads} outside, {inside_reads} inside, {} \
         refused, of {TRIES} calls ({flips} flips)",
        TRIES - outside_reads - inside_reads
    );
    assert_eq!(outside_reads, 0);
    assert!(
        inside_reads > 0,
        "the race was run: some reads saw the file"
    );
    assert!(flips > TRIES as u64, "the link flipped during the calls");
}

#[tokio::test]
async fn file_write_never_lands_outside_while_a_folder_is_flipped_for_a_link() {
    let daemon = Arc::new(Daemon::start(""));
    let outside = tempfile::tempdir().unwrap();
    let ws = daemon.home.path();
    std::fs::create_dir(ws.join("dir")).unwrap();
    std::os::unix::fs::symlink(outside.path(), ws.join("dir-alt")).unwrap();

    let flipper = Flipper::start(ws.join("dir"), ws.join("dir-alt"));
    let answers = calls(&daemon, "file_write", |i| {
        // Half into the folder, half into a new folder in it (create_dirs).
        let path = if i % 2 == 0 {
            format!("dir/f{i}.txt")
        } else {
            format!("dir/new{i}/f.txt")
        };
        json!({"path": path, "content": "planted", "create_dirs": i % 2 == 1})
    })
    .await;
    let flips = flipper.stop();

    // Files in `dir` and in the folders in it: where the writes land.
    let count = |dir: &Path| -> usize {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    std::fs::read_dir(path).unwrap().count()
                } else {
                    1
                }
            })
            .sum()
    };
    // After an even number of flips `dir` is the folder again; either way, one of the two is.
    let inside_dir = if ws.join("dir").is_symlink() {
        ws.join("dir-alt")
    } else {
        ws.join("dir")
    };
    // Anything at all outside, an empty folder included, is a write that escaped.
    let outside_writes = std::fs::read_dir(outside.path()).unwrap().count();
    let inside_writes = count(&inside_dir);
    let written = answers
        .iter()
        .filter(|a| a["result"]["isError"] == false)
        .count();
    eprintln!(
        "file_write under a flipped folder: {outside_writes} outside, {inside_writes} inside, \
         {written} reported written, of {TRIES} calls ({flips} flips)",
    );
    assert_eq!(outside_writes, 0);
    assert!(inside_writes > 0, "the race was run: some writes landed");
    assert_eq!(
        written, inside_writes,
        "every write reported done landed inside"
    );
    assert!(flips > TRIES as u64, "the folder flipped during the calls");
}

#[tokio::test]
async fn content_search_never_reads_a_file_outside_while_a_folder_is_flipped_for_a_link() {
    let daemon = Arc::new(Daemon::start(""));
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "needle outside\n").unwrap();
    let ws = daemon.home.path();
    std::fs::create_dir(ws.join("dir")).unwrap();
    std::fs::write(ws.join("dir/secret.txt"), "needle inside\n").unwrap();
    std::os::unix::fs::symlink(outside.path(), ws.join("dir-alt")).unwrap();

    let flipper = Flipper::start(ws.join("dir"), ws.join("dir-alt"));
    let answers = calls(&daemon, "content_search", |i| {
        // Half search the flipped folder itself, half the whole workspace.
        let path = if i % 2 == 0 { "dir" } else { "." };
        json!({"pattern": "needle", "path": path})
    })
    .await;
    let flips = flipper.stop();

    let outside_reads = answers
        .iter()
        .filter(|a| text(a).contains("needle outside"))
        .count();
    let inside_reads = answers
        .iter()
        .filter(|a| text(a).contains("needle inside"))
        .count();
    eprintln!(
        "content_search under a flipped folder: {outside_reads} outside, {inside_reads} found \
         inside, of {TRIES} calls ({flips} flips)"
    );
    assert_eq!(outside_reads, 0);
    assert!(
        inside_reads > 0,
        "the race was run: some searches found the file"
    );
}
