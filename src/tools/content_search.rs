//! `content_search`: lines matching a regular expression across files, with their paths and line
//! numbers, built from the crates ripgrep is made of (`ignore`, `grep-regex`, `grep-searcher`).
//!
//! Binary files are skipped, `.gitignore` is respected, very long lines are shortened, results are
//! capped, and progress says how many files have been scanned.

use std::ops::ControlFlow;

use async_trait::async_trait;
use grep_regex::RegexMatcherBuilder;
use grep_searcher::{BinaryDetection, SearcherBuilder, sinks};
use serde::Deserialize;
use serde_json::{Value, json};

use super::glob_search::scope;
use super::{CallContext, Tool, ToolError, ToolOutput, blocking, parse_args, walk};
use crate::config::SearchConfig;

/// Longest matching line shown, in characters; the rest is elided.
const MAX_LINE_CHARS: usize = 400;

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
        let scope = match scope(ctx, args.path.as_deref(), args.max_results, &self.config) {
            Ok(scope) => scope,
            Err(refusal) => return Ok(refusal),
        };
        let matcher = match RegexMatcherBuilder::new()
            .case_insensitive(args.case_insensitive)
            .build(&args.pattern)
        {
            Ok(matcher) => matcher,
            Err(err) => return Ok(ToolOutput::failure(format!("invalid regex: {err}"))),
        };
        let only = match args.glob.as_deref().map(walk::glob).transpose() {
            Ok(only) => only,
            Err(reason) => return Ok(ToolOutput::failure(reason)),
        };
        let workspace = ctx.workspace.clone();
        let root = scope.root.clone();
        let limit = scope.limit;
        let (lines, more, walked) = blocking::run(ctx, move |blocking| {
            let mut searcher = SearcherBuilder::new()
                .binary_detection(BinaryDetection::quit(0))
                .line_number(true)
                .build();
            let mut lines = Vec::new();
            let mut more = false;
            let walked = walk::files(&root, only.as_ref(), blocking, |path| {
                let shown = workspace.display(path);
                let sink = sinks::Lossy(|number, line: &str| {
                    if lines.len() == limit {
                        more = true;
                        return Ok(false);
                    }
                    lines.push(format!("{shown}:{number}:{}", shorten(line.trim_end())));
                    Ok(true)
                });
                // An unreadable file is skipped, as ripgrep does.
                let _ = searcher.search_path(&matcher, path, sink);
                if more {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            });
            (lines, more, walked)
        })
        .await;
        if walked == walk::Walked::Cancelled {
            return Ok(ToolOutput::failure("cancelled"));
        }
        let walk::Walked::Done { files } = walked else {
            unreachable!("handled above")
        };
        if lines.is_empty() {
            return Ok(ToolOutput::text(format!(
                "no matches for {} in {files} files",
                args.pattern
            )));
        }
        let mut text = lines;
        if more {
            text.push(format!(
                "(stopped at {limit} matches; narrow the search or raise max_results)"
            ));
        }
        Ok(ToolOutput::text(text.join("\n")))
    }
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
