//! `sleep`: waits, reporting progress a given number of times. Exercises the progress and
//! cancellation paths end to end; kept for tests and benchmarks.

use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{CallContext, Progress, Tool, ToolError, ToolOutput, parse_args};

/// Longest sleep accepted, so that a typo cannot park a call for hours.
const MAX_DURATION_MS: u64 = 10 * 60 * 1000;
/// Most progress reports accepted.
const MAX_STEPS: u64 = 100_000;

/// The `sleep` tool.
pub struct Sleep;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    #[serde(default = "default_duration_ms")]
    duration_ms: u64,
    #[serde(default = "default_steps")]
    steps: u64,
}

fn default_duration_ms() -> u64 {
    200
}

fn default_steps() -> u64 {
    4
}

#[async_trait]
impl Tool for Sleep {
    fn name(&self) -> &'static str {
        "sleep"
    }

    fn description(&self) -> &'static str {
        "Waits duration_ms milliseconds in `steps` equal parts, reporting progress after each."
    }

    fn input_schema(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "duration_ms": {"type": "integer", "minimum": 0, "maximum": MAX_DURATION_MS,
                                "default": default_duration_ms()},
                "steps": {"type": "integer", "minimum": 0, "maximum": MAX_STEPS,
                          "default": default_steps()}
            },
            "additionalProperties": false
        })
    }

    async fn call(&self, args: Value, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
        let args: Args = parse_args(args)?;
        if args.duration_ms > MAX_DURATION_MS {
            return Err(ToolError::InvalidArguments(format!(
                "duration_ms: at most {MAX_DURATION_MS}"
            )));
        }
        if args.steps > MAX_STEPS {
            return Err(ToolError::InvalidArguments(format!(
                "steps: at most {MAX_STEPS}"
            )));
        }
        let step = Duration::from_millis(args.duration_ms)
            / u32::try_from(args.steps.max(1)).unwrap_or(u32::MAX);
        for done in 1..=args.steps {
            // A zero sleep would still wait for the next timer tick (about 1 ms).
            if !step.is_zero() {
                tokio::time::sleep(step).await;
            }
            ctx.progress
                .report(Progress {
                    progress: done,
                    total: Some(args.steps),
                    message: Some(format!("step {done} of {}", args.steps)),
                })
                .await;
        }
        if args.steps == 0 {
            tokio::time::sleep(Duration::from_millis(args.duration_ms)).await;
        }
        Ok(ToolOutput::text(format!("slept {} ms", args.duration_ms)))
    }
}
