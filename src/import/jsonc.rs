//! Reading the CLIs' JSON files, which may be JSON with comments: OpenCode writes
//! `opencode.jsonc` (`opencode mcp add` does) and Gemini CLI strips comments from its settings.
//! Comments (`//`, `/* */`) and trailing commas are removed outside strings, then the text is
//! plain JSON; plain JSON passes through unchanged.

use std::path::Path;

use anyhow::{Context as _, bail};
use serde_json::{Map, Value};

use super::server::Scan;
use crate::client::files;

/// The JSON object in the file at `path`, recorded in `scan` as looked at (and as read when it
/// exists); `None` when there is no such file.
pub fn read(scan: &mut Scan, path: &Path) -> anyhow::Result<Option<Map<String, Value>>> {
    scan.looked_at.push(path.to_owned());
    let Some(text) = files::read_existing(path)? else {
        return Ok(None);
    };
    scan.files.push(path.to_owned());
    object(path, &text).map(Some)
}

/// The JSON object in `path`'s `text`: an error naming the file when it is not one.
pub fn object(path: &Path, text: &str) -> anyhow::Result<Map<String, Value>> {
    if text.trim().is_empty() {
        return Ok(Map::new());
    }
    let value: Value = serde_json::from_str(&strip(text))
        .with_context(|| format!("{} is not valid JSON", path.display()))?;
    match value {
        Value::Object(members) => Ok(members),
        _ => bail!("{} is JSON but not an object", path.display()),
    }
}

/// `text` without comments and trailing commas (outside strings).
fn strip(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    // Where a comma waits: dropped if the next thing that is not white space closes.
    let mut comma: Option<usize> = None;
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                comma = None;
                out.push(c);
                while let Some(c) = chars.next() {
                    out.push(c);
                    match c {
                        '\\' => out.extend(chars.next()),
                        '"' => break,
                        _ => {}
                    }
                }
            }
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut last = ' ';
                for c in chars.by_ref() {
                    if last == '*' && c == '/' {
                        break;
                    }
                    last = c;
                }
                out.push(' ');
            }
            ',' => {
                comma = Some(out.len());
                out.push(c);
            }
            '}' | ']' => {
                if let Some(at) = comma.take() {
                    out.replace_range(at..=at, " ");
                }
                out.push(c);
            }
            c if c.is_whitespace() => out.push(c),
            c => {
                comma = None;
                out.push(c);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_and_trailing_commas_go_strings_stay() {
        let text = r#"{
  // a comment with "quotes" and a , comma
  "$schema": "https://opencode.ai/config.json", /* block
  comment */
  "url": "http://h/a//b", "s": "/* not a comment */ \" ,}",
  "list": [1, 2,],
  "mcp": { "x": { "enabled": true, }, },
}"#;
        let parsed = object(Path::new("f.jsonc"), text).unwrap();
        assert_eq!(parsed["url"], "http://h/a//b");
        assert_eq!(parsed["s"], "/* not a comment */ \" ,}");
        assert_eq!(parsed["list"], serde_json::json!([1, 2]));
        assert_eq!(parsed["mcp"]["x"]["enabled"], true);
    }

    #[test]
    fn what_is_not_an_object_is_an_error_naming_the_file() {
        assert!(object(Path::new("f"), "  \n").unwrap().is_empty());
        let err = object(Path::new("/x/f.json"), "{\"a\": ").unwrap_err();
        assert!(
            format!("{err:#}").starts_with("/x/f.json is not valid JSON: "),
            "{err:#}"
        );
        let err = object(Path::new("/x/f.json"), "[1]").unwrap_err();
        assert_eq!(err.to_string(), "/x/f.json is JSON but not an object");
    }
}
