//! `glob_search`: the files under a folder whose paths match a glob, `.gitignore` respected.
//!
//! The walk runs on the blocking pool and reports how many files it has scanned; results are
//! sorted and capped, and the answer says when the cap cut them short.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{CallContext, Tool, ToolError, ToolOutput, blocking, parse_args, walk};
use crate::config::SearchConfig;

/// The `glob_search` tool.
pub struct GlobSearch {
    config: SearchConfig,
}

impl GlobSearch {
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
    max_results: Option<usize>,
}

/// Where a search runs and how many results it may return: shared by both search tools.
pub(super) struct Scope {
    pub root: std::path::PathBuf,
    pub limit: usize,
}

/// Resolves the folder (or file) to search and the result cap, or explains why not.
pub(super) fn scope(
    ctx: &CallContext,
    path: Option<&str>,
    asked: Option<usize>,
    config: &SearchConfig,
) -> Result<Scope, ToolOutput> {
    let root = ctx
        .workspace
        .resolve(path.unwrap_or("."))
        .map_err(ToolOutput::failure)?;
    if !root.exists() {
        return Err(ToolOutput::failure(format!(
            "{} does not exist",
            ctx.workspace.display(&root)
        )));
    }
    let limit = asked.unwrap_or(config.max_results).min(config.max_results);
    Ok(Scope { root, limit })
}

#[async_trait]
impl Tool for GlobSearch {
    fn name(&self) -> &'static str {
        "glob_search"
    }

    fn description(&self) -> &'static str {
        "Lists files whose path (relative to `path`, default the session's folder) matches a glob \
         such as `**/*.rs` or `src/*.{ts,tsx}`. Respects .gitignore and skips hidden files. \
         Results are sorted paths, one per line, relative to the session's folder."
    }

    fn input_schema(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "pattern": {"type": "string", "minLength": 1,
                            "description": "Glob matched against paths relative to `path`."},
                "path": {"type": "string", "description": "Folder to search (default: the session's folder)."},
                "max_results": {"type": "integer", "minimum": 1,
                                "description": "Most paths to return."}
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
        let matcher = match walk::glob(&args.pattern) {
            Ok(matcher) => matcher,
            Err(reason) => return Ok(ToolOutput::failure(reason)),
        };
        let root = scope.root.clone();
        let limit = scope.limit;
        let (found, walked) = blocking::run(ctx, move |blocking| {
            let mut found = Vec::new();
            let mut more = false;
            let walked = walk::files(&root, Some(&matcher), blocking, |path| {
                if found.len() == limit {
                    more = true;
                    return std::ops::ControlFlow::Break(());
                }
                found.push(path.to_owned());
                std::ops::ControlFlow::Continue(())
            });
            ((found, more), walked)
        })
        .await;
        let (found, more) = found;
        if walked == walk::Walked::Cancelled {
            return Ok(ToolOutput::failure("cancelled"));
        }
        if found.is_empty() {
            return Ok(ToolOutput::text(format!(
                "no files match {} under {}",
                args.pattern,
                ctx.workspace.display(&scope.root)
            )));
        }
        let mut text: Vec<String> = found.iter().map(|p| ctx.workspace.display(p)).collect();
        if more {
            text.push(format!(
                "(stopped at {limit} results; narrow the pattern or raise max_results)"
            ));
        }
        Ok(ToolOutput::text(text.join("\n")))
    }
}
