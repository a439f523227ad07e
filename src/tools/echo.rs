//! `echo`: returns its text. The smallest complete tool, for tests and benchmarks.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{CallContext, Tool, ToolError, ToolOutput, parse_args};

/// The `echo` tool.
pub struct Echo;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    text: String,
}

#[async_trait]
impl Tool for Echo {
    fn name(&self) -> &'static str {
        "echo"
    }

    fn description(&self) -> &'static str {
        "Returns the given text unchanged."
    }

    fn input_schema(&self) -> Value {
        json!({
            "type": "object",
            "properties": {"text": {"type": "string", "description": "The text to return."}},
            "required": ["text"],
            "additionalProperties": false
        })
    }

    async fn call(&self, args: Value, _: &CallContext) -> Result<ToolOutput, ToolError> {
        let args: Args = parse_args(args)?;
        Ok(ToolOutput::text(args.text))
    }
}
