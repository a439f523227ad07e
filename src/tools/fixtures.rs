//! The test-fixture tool profile: tools that exist to exercise the daemon, not to be useful.
//!
//! Off by default; `[tools] fixtures = true` adds every tool here to those enabled. The official
//! MCP conformance suite calls these by name and checks what they return (the names, schemas and
//! outputs follow its reference server), and the daemon's own tests use them to reach paths no
//! real tool should (a panic, for one).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};

use super::{
    CallContext, Content, EmbeddedResource, LogLevel, Progress, Tool, ToolError, ToolOutput,
};

/// A 1×1 red PNG.
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";
/// A tiny WAV file.
const WAV: &str = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA=";
/// The pause between the steps of the fixtures that report as they go.
const STEP: Duration = Duration::from_millis(50);

/// Every fixture tool.
pub fn all() -> Vec<Arc<dyn Tool>> {
    // Those that do more than return: report progress, log, drop the stream, take a rich
    // schema, panic.
    let others: [Arc<dyn Tool>; 5] = [
        Arc::new(WithProgress),
        Arc::new(WithLogging),
        Arc::new(Reconnection),
        Arc::new(SchemaFeatures),
        Arc::new(Panic),
    ];
    fixed()
        .into_iter()
        .map(|tool| -> Arc<dyn Tool> { Arc::new(tool) })
        .chain(others)
        .collect()
}

/// The fixtures that always return the same output: one of each kind of content, and a failure.
fn fixed() -> Vec<Fixed> {
    let text = |text: &str| Content::Text { text: text.into() };
    let image = || Content::Image {
        data: PNG.into(),
        mime_type: "image/png".into(),
    };
    let resource = |uri: &str, mime: &str, text: &str| Content::Resource {
        resource: EmbeddedResource {
            uri: uri.into(),
            mime_type: mime.into(),
            text: text.into(),
        },
    };
    vec![
        Fixed::succeeding(
            "test_simple_text",
            "Test fixture: returns a fixed text.",
            vec![text("This is a simple text response for testing.")],
        ),
        Fixed::succeeding(
            "test_image_content",
            "Test fixture: returns a PNG image.",
            vec![image()],
        ),
        Fixed::succeeding(
            "test_audio_content",
            "Test fixture: returns a WAV sound.",
            vec![Content::Audio {
                data: WAV.into(),
                mime_type: "audio/wav".into(),
            }],
        ),
        Fixed::succeeding(
            "test_embedded_resource",
            "Test fixture: returns an embedded text resource.",
            vec![resource(
                "test://embedded-resource",
                "text/plain",
                "This is an embedded resource content.",
            )],
        ),
        Fixed::succeeding(
            "test_multiple_content_types",
            "Test fixture: returns text, an image and a resource.",
            vec![
                text("Multiple content types test:"),
                image(),
                resource(
                    "test://mixed-content-resource",
                    "application/json",
                    r#"{"test":"data","value":123}"#,
                ),
            ],
        ),
        Fixed {
            name: "test_error_handling",
            description: "Test fixture: runs and fails, as a result marked isError.",
            output: ToolOutput::failure("This tool intentionally returns an error for testing"),
        },
    ]
}

/// An input schema with no arguments.
fn no_arguments() -> Value {
    json!({"type": "object", "properties": {}})
}

/// A fixture that always returns the same output.
struct Fixed {
    name: &'static str,
    description: &'static str,
    output: ToolOutput,
}

impl Fixed {
    /// A fixture that succeeds with `content`.
    fn succeeding(name: &'static str, description: &'static str, content: Vec<Content>) -> Self {
        Self {
            name,
            description,
            output: ToolOutput {
                content,
                is_error: false,
            },
        }
    }
}

#[async_trait]
impl Tool for Fixed {
    fn name(&self) -> &'static str {
        self.name
    }

    fn description(&self) -> &'static str {
        self.description
    }

    fn input_schema(&self) -> Value {
        no_arguments()
    }

    async fn call(&self, _: Value, _: &CallContext) -> Result<ToolOutput, ToolError> {
        Ok(self.output.clone())
    }
}

/// `test_tool_with_progress`: reports 0, 50 and 100 of 100.
struct WithProgress;

#[async_trait]
impl Tool for WithProgress {
    fn name(&self) -> &'static str {
        "test_tool_with_progress"
    }

    fn description(&self) -> &'static str {
        "Test fixture: reports progress 0, 50 and 100 of 100."
    }

    fn input_schema(&self) -> Value {
        no_arguments()
    }

    async fn call(&self, _: Value, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
        for (step, done) in [0, 50, 100].into_iter().enumerate() {
            if step > 0 {
                tokio::time::sleep(STEP).await;
            }
            let message = format!("Completed step {step} of 2");
            ctx.progress
                .report(Progress {
                    progress: done,
                    total: Some(100),
                    message: Some(message),
                })
                .await;
        }
        Ok(ToolOutput::text("Progress reported: 0, 50, 100 of 100."))
    }
}

/// `test_tool_with_logging`: logs three messages at `info`.
struct WithLogging;

#[async_trait]
impl Tool for WithLogging {
    fn name(&self) -> &'static str {
        "test_tool_with_logging"
    }

    fn description(&self) -> &'static str {
        "Test fixture: sends three log messages at level info while it runs."
    }

    fn input_schema(&self) -> Value {
        no_arguments()
    }

    async fn call(&self, _: Value, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
        for (step, line) in [
            "Tool execution started",
            "Tool processing data",
            "Tool execution completed",
        ]
        .into_iter()
        .enumerate()
        {
            if step > 0 {
                tokio::time::sleep(STEP).await;
            }
            ctx.log.log(LogLevel::Info, line);
        }
        Ok(ToolOutput::text("Tool with logging executed successfully"))
    }
}

/// `test_reconnection`: closes the caller's connection before answering, so that a client able
/// to resume must reconnect with `Last-Event-ID` to get the result (SEP-1699).
struct Reconnection;

#[async_trait]
impl Tool for Reconnection {
    fn name(&self) -> &'static str {
        "test_reconnection"
    }

    fn description(&self) -> &'static str {
        "Test fixture: closes the response stream before the result, which arrives on resume."
    }

    fn input_schema(&self) -> Value {
        no_arguments()
    }

    async fn call(&self, _: Value, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
        ctx.progress.request_reconnect();
        tokio::time::sleep(STEP * 2).await;
        Ok(ToolOutput::text(
            "Reconnection test completed successfully. If you received this, the client properly reconnected after stream closure.",
        ))
    }
}

/// `json_schema_2020_12_tool`: an input schema using 2020-12 features, listed verbatim.
struct SchemaFeatures;

#[async_trait]
impl Tool for SchemaFeatures {
    fn name(&self) -> &'static str {
        "json_schema_2020_12_tool"
    }

    fn description(&self) -> &'static str {
        "Tool with JSON Schema 2020-12 features"
    }

    fn input_schema(&self) -> Value {
        json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "$defs": {
                "address": {
                    "type": "object",
                    "properties": {"street": {"type": "string"}, "city": {"type": "string"}}
                }
            },
            "properties": {"name": {"type": "string"}, "address": {"$ref": "#/$defs/address"}},
            "additionalProperties": false
        })
    }

    async fn call(&self, args: Value, _: &CallContext) -> Result<ToolOutput, ToolError> {
        Ok(ToolOutput::text(format!(
            "JSON Schema 2020-12 tool called with: {args}"
        )))
    }
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
