//! The closed-loop scenarios: `calls`, `sessions` and `auth-contention`, one file each. Each runs
//! the daemon and the ceiling side by side, run after run alternating between them so that
//! drift on a noisy machine hits both alike, and reports medians.

mod auth_contention;
mod calls;
mod sessions;
mod side_by_side;

pub use self::auth_contention::auth_contention;
pub use self::calls::calls;
pub use self::sessions::sessions;
