//! `ToolRegistry`: the enabled tools, by name, in the order `tools/list` shows them.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};

use super::Tool;

/// The tools this daemon offers. Built once at start from the configuration; read-only after.
pub struct ToolRegistry {
    tools: BTreeMap<&'static str, Arc<dyn Tool>>,
}

impl ToolRegistry {
    /// The registry of the named tools. Names were validated with the configuration; an unknown
    /// one here is skipped with a warning rather than trusted.
    pub fn new(enabled: &[String]) -> Self {
        let mut tools = BTreeMap::new();
        for name in enabled {
            match super::build(name) {
                Some(tool) => {
                    tools.insert(tool.name(), tool);
                }
                None => tracing::warn!(tool = %name, "unknown tool not enabled"),
            }
        }
        Self { tools }
    }

    /// The tool called `name`, if it is enabled.
    pub fn get(&self, name: &str) -> Option<Arc<dyn Tool>> {
        self.tools.get(name).cloned()
    }

    /// The `tools` array of a `tools/list` result, sorted by name.
    pub fn describe(&self) -> Value {
        Value::Array(
            self.tools
                .values()
                .map(|tool| {
                    json!({
                        "name": tool.name(),
                        "description": tool.description(),
                        "inputSchema": tool.input_schema(),
                    })
                })
                .collect(),
        )
    }
}
