//! Replays every input kept for the fuzz targets, through the same checks the targets make
//! (`fuzz/checks.rs`): the seeds (`fuzz/seeds/<target>/`) and every input that once crashed a
//! target (`fuzz/regressions/<target>/`; copy a crash from `fuzz/artifacts/<target>/` there to
//! keep it fixed), plus inputs built here that are too big to store.

#[path = "../fuzz/checks.rs"]
mod checks;

use std::path::Path;

/// Every stored input of `target`, with its file name.
fn stored(target: &str) -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut inputs = Vec::new();
    for kind in ["seeds", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(kind).join(target)) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.starts_with('.') {
                inputs.push((
                    format!("{kind}/{name}"),
                    std::fs::read(entry.path()).unwrap(),
                ));
            }
        }
    }
    inputs
}

#[test]
fn stored_jsonrpc_inputs_pass_the_decoder_checks() {
    let inputs = stored("jsonrpc_decode");
    assert!(!inputs.is_empty(), "the seeds are there");
    for (name, data) in inputs {
        eprintln!("{name}");
        checks::jsonrpc_decode(&data);
    }
}

#[test]
fn stored_event_ids_pass_the_parser_checks() {
    let inputs = stored("event_id");
    assert!(!inputs.is_empty(), "the seeds are there");
    for (name, data) in inputs {
        eprintln!("{name}");
        checks::event_id(&data);
    }
}

#[test]
fn stored_tool_calls_pass_the_meta_and_argument_checks() {
    let inputs = stored("tools_call");
    assert!(!inputs.is_empty(), "the seeds are there");
    for (name, data) in inputs {
        eprintln!("{name}");
        checks::tools_call(&data);
    }
}

#[test]
fn pathological_tool_calls_pass_the_checks() {
    let call = |arguments: &str, meta: &str| {
        format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"file_write","arguments":{arguments},"_meta":{meta}}}}}"#
        )
        .into_bytes()
    };
    let deep = format!("{}1{}", "[".repeat(120), "]".repeat(120));
    let huge = format!("\"{}\"", "x".repeat(1 << 20));
    let escapes = format!("\"{}\"", "\\u0000".repeat(10_000));
    for data in [
        call(&format!(r#"{{"path":{deep},"content":{deep}}}"#), "{}"),
        call(&format!(r#"{{"path":{huge},"content":{huge}}}"#), "null"),
        call(r#"{"path":"a","content":"b","unknown":{"x":[]}}"#, "{}"),
        call("{}", &format!(r#"{{"progressToken":{deep}}}"#)),
        call("{}", &format!(r#"{{"progressToken":{huge}}}"#)),
        call("{}", &format!(r#"{{"progressToken":{escapes}}}"#)),
        call("{}", &format!(r#"{{"k":{huge},"progressToken":1}}"#)),
        call("[]", r#"{"progressToken":"12345678901234567890123456789"}"#),
    ] {
        checks::tools_call(&data);
    }
}

#[test]
fn pathological_inputs_pass_the_checks() {
    let deep = |open: &str, depth: usize| open.repeat(depth).into_bytes();
    for data in [
        deep("[", 100_000),
        deep("{\"a\":", 100_000),
        format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes(),
        format!(
            r#"{{"jsonrpc":"2.0","id":{},"method":"x"}}"#,
            "9".repeat(10_000)
        )
        .into_bytes(),
        format!(
            r#"{{"jsonrpc":"2.0","id":"{}","method":"x"}}"#,
            "\\u0000".repeat(10_000)
        )
        .into_bytes(),
        br#"{"jsonrpc":"2.0","id":-0.0,"method":"x"}"#.to_vec(),
        br#"{"jsonrpc":"2.0","id":1e400,"method":"x"}"#.to_vec(),
        br#"{"jsonrpc":"2.0","id":1,"method":"x","jsonrpc":"1.0"}"#.to_vec(),
    ] {
        checks::jsonrpc_decode(&data);
    }
    for data in [
        "-".repeat(100_000),
        format!("{}-1", "a".repeat(100_000)),
        "a-18446744073709551616".to_owned(),
        "a--1".to_owned(),
        "a-+1".to_owned(),
        " \t7\t ".to_owned(),
        "+7".to_owned(),
        "٣".to_owned(),
    ] {
        checks::event_id(data.as_bytes());
    }
}
