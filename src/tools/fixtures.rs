//! The test-fixture tool profile: tools that exist to exercise the daemon, not to be useful.
//!
//! Off by default; `[tools] fixtures = true` adds every tool here to those enabled. The official
//! MCP conformance suite calls fixture tools by name, and the daemon's own tests use them to
//! reach paths no real tool should (a panic, for one).

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Value, json};

use super::{CallContext, Tool, ToolError, ToolOutput};

/// Every fixture tool.
pub fn all() -> Vec<Arc<dyn Tool>> {
    vec![Arc::new(Panic)]
}

/// `test_panic`: panics, to show a panicking tool fails its own call and nothing else.
struct Panic;

#[async_trait]
impl Tool for Panic {
    fn name(&self) -> &'static str {
        "test_panic"
    }

    fn description(&self) -> &'static str {
        "Test fixture: panics. The call fails with an internal error; the daemon goes on."
    }

    fn input_schema(&self) -> Value {
        json!({"type": "object", "additionalProperties": false})
    }

    async fn call(&self, _: Value, _: &CallContext) -> Result<ToolOutput, ToolError> {
        panic!("test_panic was called");
    }
}
