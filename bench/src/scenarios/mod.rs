//! The closed-loop scenarios: `calls` (and `standard-calls`), `sessions`, `auth-contention` and `forwarded`, one file
//! each. Each runs the daemon and its comparison (the ceiling; for `forwarded`, the upstream MCP
//! servers called directly; its routes and its report have files of their own) side by side, run
//! after run alternating between them so that drift on a noisy machine hits both alike, and reports
//! medians.

mod auth_contention;
mod calls;
mod forwarded;
mod forwarded_report;
mod forwarded_routes;
mod sessions;
mod side_by_side;

pub use self::auth_contention::auth_contention;
pub use self::calls::{calls, standard_calls};
pub use self::forwarded::forwarded;
pub use self::sessions::sessions;
