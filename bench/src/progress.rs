//! The progress events of the fan-out publishers that are not the daemon (the ceiling's, and the
//! messages posted to nchan): the same JSON as the daemon's `sleep` tool reports at each step,
//! with the step, the total and an RFC 3339 timestamp taken as the event is made, so that every
//! follower checks and times them alike; and the same pacing.

use std::time::Duration;

use chrono::{SecondsFormat, Utc};

/// The JSON of step `step` of `steps`, stamped now.
pub fn event_data(step: u64, steps: u64) -> String {
    format!(
        r#"{{"token":5,"progress":{step},"total":{steps},"message":"step {step} of {steps}","tool":"sleep","timestamp":"{}"}}"#,
        Utc::now().to_rfc3339_opts(SecondsFormat::Nanos, true)
    )
}

/// The pause before each of `steps` steps spread over `duration_ms`, as the daemon's `sleep`
/// tool spreads them (zero: as fast as the publisher goes).
pub fn pause(steps: u64, duration_ms: u64) -> Duration {
    Duration::from_millis(duration_ms) / u32::try_from(steps.max(1)).unwrap_or(u32::MAX)
}
