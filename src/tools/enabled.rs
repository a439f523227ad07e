//! The enabled tools (`ToolRegistry`): those the configuration names, built once at start with
//! their argument schemas compiled, found by name for each call, and listed in the order
//! `tools/list` shows them.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};

use super::config::ToolsConfig;
use super::content_search::ContentSearch;
use super::echo::Echo;
use super::file_edit::FileEdit;
use super::file_read::FileRead;
use super::file_write::FileWrite;
use super::glob_search::GlobSearch;
use super::http_request::HttpRequest;
use super::shell::Shell;
use super::sleep::Sleep;
use super::{Tool, fixtures};

/// A tool and the validator of its arguments, compiled once.
struct Entry {
    tool: Arc<dyn Tool>,
    schema: jsonschema::Validator,
}

/// The tools this daemon offers. Built once at start from the configuration; read-only after.
pub struct ToolRegistry {
    tools: BTreeMap<&'static str, Entry>,
}

impl ToolRegistry {
    /// The registry of the tools `config` enables. Names were validated with the configuration;
    /// an unknown one here is skipped with a warning rather than trusted.
    ///
    /// # Panics
    /// If a tool's own input schema is not a valid JSON Schema: a programming error that the
    /// test suite catches for every tool.
    pub fn new(config: &ToolsConfig) -> Self {
        let mut tools = BTreeMap::new();
        let fixtures = config.fixtures.then(fixtures::all).unwrap_or_default();
        let configured = config.enabled.iter().filter_map(|name| {
            let tool = build(name, config);
            if tool.is_none() {
                tracing::warn!(tool = %name, "unknown tool not enabled");
            }
            tool
        });
        for tool in configured.chain(fixtures) {
            let name = tool.name();
            let schema = jsonschema::validator_for(&tool.input_schema())
                .unwrap_or_else(|err| panic!("tool {name} has an invalid input schema: {err}"));
            tools.insert(tool.name(), Entry { tool, schema });
        }
        Self { tools }
    }

    /// The tool called `name`, if it is enabled.
    pub fn get(&self, name: &str) -> Option<Arc<dyn Tool>> {
        self.tools.get(name).map(|entry| Arc::clone(&entry.tool))
    }

    /// The names of the enabled tools, sorted.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.tools.keys().copied()
    }

    /// Checks `args` against the schema of tool `name`; the error names the offending field.
    pub fn validate(&self, name: &str, args: &Value) -> Result<(), String> {
        let Some(entry) = self.tools.get(name) else {
            return Err(format!("unknown tool: {name}"));
        };
        entry
            .schema
            .validate(args)
            .map_err(|err| format!("arguments{}: {err}", err.instance_path()))
    }

    /// The tools' entries of a `tools/list` result, sorted by name.
    pub fn describe(&self) -> Vec<Value> {
        self.tools
            .values()
            .map(|Entry { tool, .. }| {
                json!({
                    "name": tool.name(),
                    "description": tool.description(),
                    "inputSchema": tool.input_schema(),
                })
            })
            .collect()
    }
}

/// Builds the tool called `name`, if there is one, with its part of the configuration.
fn build(name: &str, config: &ToolsConfig) -> Option<Arc<dyn Tool>> {
    match name {
        "content_search" => Some(Arc::new(ContentSearch::new(&config.search))),
        "echo" => Some(Arc::new(Echo)),
        "file_edit" => Some(Arc::new(FileEdit::new(&config.files))),
        "file_read" => Some(Arc::new(FileRead::new(&config.files))),
        "file_write" => Some(Arc::new(FileWrite)),
        "glob_search" => Some(Arc::new(GlobSearch::new(&config.search))),
        "http_request" => Some(Arc::new(HttpRequest::new(&config.http_request))),
        "shell" => Some(Arc::new(Shell::new(&config.shell))),
        "sleep" => Some(Arc::new(Sleep)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_tool_has_a_valid_schema_and_a_matching_name() {
        let config = ToolsConfig {
            enabled: crate::tools::ALL.iter().map(|s| s.to_string()).collect(),
            ..ToolsConfig::default()
        };
        let registry = ToolRegistry::new(&config);
        for name in crate::tools::ALL {
            assert_eq!(registry.get(name).unwrap().name(), *name);
        }
    }

    #[test]
    fn fixtures_are_added_only_when_asked() {
        let mut config = ToolsConfig::default();
        assert!(ToolRegistry::new(&config).get("test_panic").is_none());
        config.fixtures = true;
        assert!(ToolRegistry::new(&config).get("test_panic").is_some());
        assert!(ToolRegistry::new(&config).get("echo").is_some());
    }

    #[test]
    fn schema_violations_name_the_field() {
        let registry = ToolRegistry::new(&ToolsConfig::default());
        let err = registry.validate("echo", &json!({"text": 5})).unwrap_err();
        assert!(err.starts_with("arguments/text:"), "{err}");
        let err = registry.validate("echo", &json!({})).unwrap_err();
        assert!(err.contains("\"text\""), "{err}");
    }
}
