//! `glob_search`: the files under a folder whose paths match a glob, `.gitignore` respected.
//!
//! The glob is compiled, the folder checked and walked on the blocking pool, which reports how
//! many files it has scanned; results are sorted and capped in count and bytes
//! ([`super::listing`]), and the answer says when a cap cut them short. Each file found is looked
//! at again beneath the workspace root's descriptor before it is listed (see [`super::walk`]).

use std::ops::ControlFlow;
use std::path::PathBuf;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Value, json};

use super::beneath::Root;
use super::blocking::{self, Blocking};
use super::config::SearchConfig;
use super::file_read::explain;
use super::listing::Listing;
use super::{CallContext, Tool, ToolError, ToolOutput, Workspace, parse_args, walk};

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

/// Where a search runs and how much it may return: shared by both search tools.
pub(super) struct Scope {
    /// The workspace root holding `from`, opened.
    pub root: Root,
    /// The folder (or file) to search, checked.
    pub from: PathBuf,
    /// An empty listing with the caps of this call.
    pub listing: Listing,
}

/// Runs a search on a work thread ([`blocking::run`]): checks where it runs (`path`, by default
/// the session's folder) and its caps (`asked` results at most, within the configuration's),
/// then runs `search`, whose text, or refusal, is the call's result.
pub(super) async fn search<F>(
    ctx: &CallContext,
    config: &SearchConfig,
    path: Option<String>,
    asked: Option<usize>,
    search: F,
) -> ToolOutput
where
    F: FnOnce(Scope, &Workspace, &Blocking) -> Result<String, String> + Send + 'static,
{
    let workspace = ctx.workspace.clone();
    let config = config.clone();
    let outcome = blocking::run(ctx, move |blocking| {
        let from = workspace.resolve(path.as_deref().unwrap_or("."))?;
        let shown = workspace.display(&from);
        let root = workspace
            .open_root(&from)
            .map_err(|err| explain(&shown, &err))?;
        root.metadata(&from).map_err(|err| explain(&shown, &err))?;
        let limit = asked.unwrap_or(config.max_results).min(config.max_results);
        let scope = Scope {
            root,
            from,
            listing: Listing::new(limit, config.max_output_bytes),
        };
        search(scope, &workspace, blocking)
    })
    .await;
    outcome.map_or_else(ToolOutput::failure, ToolOutput::text)
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
        let (path, asked) = (args.path.clone(), args.max_results);
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
                let matcher = walk::glob(&args.pattern)?;
                let walked = walk::files(&from, workspace, Some(&matcher), blocking, |path| {
                    // Listed only if it is, now, a file beneath the root.
                    if root.metadata(path).is_ok_and(|metadata| metadata.is_file())
                        && !listing.push(workspace.display(path))
                    {
                        return ControlFlow::Break(());
                    }
                    ControlFlow::Continue(())
                });
                if walked == walk::Walked::Cancelled {
                    return Err("cancelled".to_owned());
                }
                if listing.is_empty() {
                    return Ok(format!(
                        "no files match {} under {}",
                        args.pattern,
                        workspace.display(&from)
                    ));
                }
                Ok(listing.text("results"))
            },
        )
        .await;
        Ok(output)
    }
}
