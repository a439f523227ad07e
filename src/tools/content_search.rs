//! `content_search`: lines matching a regular expression across files, with their paths and line
//! numbers, built from the crates ripgrep is made of (`ignore`, `grep-regex`, `grep-searcher`).
//!
//! Binary files are skipped, `.gitignore` is respected, very long lines are shortened, results are
//! capped in count and bytes ([`super::listing`]), and progress says how many files have been
//! scanned.
//!
//! Everything runs on the blocking pool, compiling the pattern included: the compiled program is
//! capped at `tools.search.regex_size_limit` bytes, so a pattern like `\w{3500}` is refused in
//! milliseconds instead of holding a thread (and memory) for seconds. Each file is opened beneath
//! the workspace root's descriptor ([`super::beneath`]), so a swapped link cannot lead the search
//! to a file outside. A line is read whole before it is shortened, so the searcher's buffer is
//! capped at [`MAX_LINE_BYTES`]: a file with a longer line is skipped, and the answer counts it.

use std::ops::ControlFlow;

use async_trait::async_trait;
use grep_regex::{RegexMatcher, RegexMatcherBuilder};
use grep_searcher::{BinaryDetection, SearcherBuilder, sinks};
use serde::Deserialize;
use serde_json::{Value, json};

use super::config::SearchConfig;
use super::glob_search::{Scope, search};
use super::{CallContext, Tool, ToolError, ToolOutput, parse_args, walk};

/// Longest matching line shown, in characters; the rest is elided.
const MAX_LINE_CHARS: usize = 400;
/// Longest line the searcher holds in memory; a file with a longer one is skipped.
const MAX_LINE_BYTES: usize = 4 * 1024 * 1024;

/// The `content_search` tool.
pub struct ContentSearch {
    config: SearchConfig,
}

impl ContentSearch {
    /// The tool, capped as configured.
    pub fn new(config: &SearchConfig) -> Self {
        Self {
            config: config.clone(),
        }
    }
}

#[derive(Deserialize)]
struct Args {
    pattern: String,
    path: Option<String>,
    glob: Option<String>,
    #[serde(default)]
    case_insensitive: bool,
    max_results: Option<usize>,
}

#[async_trait]
impl Tool for ContentSearch {
    fn name(&self) -> &'static str {
        "content_search"
    }

    fn description(&self) -> &'static str {
        "Searches file contents for a regular expression (Rust regex syntax) under `path` \
         (default: the session's folder), respecting .gitignore and skipping binary files. \
         Returns `path:line:text` lines; `glob` limits which files are searched."
    }

    fn input_schema(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "pattern": {"type": "string", "minLength": 1, "description": "Regular expression."},
                "path": {"type": "string", "description": "Folder or file to search (default: the session's folder)."},
                "glob": {"type": "string", "description": "Only search files whose relative path matches this glob, e.g. `**/*.py`."},
                "case_insensitive": {"type": "boolean", "default": false},
                "max_results": {"type": "integer", "minimum": 1, "description": "Most matching lines to return."}
            },
            "required": ["pattern"],
            "additionalProperties": false
        })
    }

    async fn call(&self, args: Value, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
        let args: Args = parse_args(args)?;
        let (path, asked) = (args.path.clone(), args.max_results);
        let size_limit = self.config.regex_size_limit;
        let output = search(
            ctx,
            &self.config,
            path,
            asked,
            move |scope, workspace, blocking| {
                let Scope {
                    root,
                    from,
                    mut listing,
                } = scope;
                let matcher = compile(&args.pattern, args.case_insensitive, size_limit)?;
                let only = args.glob.as_deref().map(walk::glob).transpose()?;
                let mut searcher = SearcherBuilder::new()
                    .binary_detection(BinaryDetection::quit(0))
                    .line_number(true)
                    .heap_limit(Some(MAX_LINE_BYTES))
                    .build();
                let mut skipped = 0_u64;
                let walked = walk::files(&from, workspace, only.as_ref(), blocking, |path| {
                    let shown = workspace.display(path);
                    let mut more = true;
                    let sink = sinks::Lossy(|number, line: &str| {
                        more =
                            listing.push(format!("{shown}:{number}:{}", shorten(line.trim_end())));
                        Ok(more)
                    });
                    // Opened beneath the root: a link swapped in cannot lead out. An unreadable file
                    // is skipped, as ripgrep does, and counted.
                    let searched = match root.open_file(path) {
                        Ok((file, metadata)) if metadata.is_file() => {
                            searcher.search_file(&matcher, &file, sink).is_ok()
                        }
                        _ => false,
                    };
                    skipped += u64::from(!searched);
                    if more {
                        ControlFlow::Continue(())
                    } else {
                        ControlFlow::Break(())
                    }
                });
                let walk::Walked::Done { files } = walked else {
                    return Err("cancelled".to_owned());
                };
                let skipped = (skipped > 0).then(|| {
                    format!(
                        "({skipped} files could not be searched: unreadable, or a line longer than \
                     {MAX_LINE_BYTES} bytes)"
                    )
                });
                let text = if listing.is_empty() {
                    format!("no matches for {} in {files} files", args.pattern)
                } else {
                    listing.text("matches")
                };
                Ok(std::iter::once(text)
                    .chain(skipped)
                    .collect::<Vec<_>>()
                    .join("\n"))
            },
        )
        .await;
        Ok(output)
    }
}

/// Compiles `pattern` into at most `limit` bytes, explaining a refusal in a line.
fn compile(pattern: &str, case_insensitive: bool, limit: usize) -> Result<RegexMatcher, String> {
    RegexMatcherBuilder::new()
        .case_insensitive(case_insensitive)
        .size_limit(limit)
        .dfa_size_limit(limit)
        .build(pattern)
        .map_err(|err| {
            let err = err.to_string();
            if err.contains("size limit") {
                format!(
                    "the pattern is too large once compiled: it exceeds the {limit}-byte \
                     tools.search.regex_size_limit; use smaller repetition counts or a simpler \
                     pattern"
                )
            } else {
                format!("invalid regex: {err}")
            }
        })
}

/// `line`, cut to [`MAX_LINE_CHARS`] characters with a marker when longer.
fn shorten(line: &str) -> String {
    match line.char_indices().nth(MAX_LINE_CHARS) {
        Some((cut, _)) => format!("{}… (line shortened)", &line[..cut]),
        None => line.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_shortened_on_a_char_boundary() {
        assert_eq!(shorten("short"), "short");
        let long = "é".repeat(MAX_LINE_CHARS + 5);
        let cut = shorten(&long);
        assert!(cut.starts_with(&"é".repeat(MAX_LINE_CHARS)));
        assert!(cut.ends_with("(line shortened)"));
    }
}
