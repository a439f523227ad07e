//! What can go wrong with the cluster store, sorted by what the caller should do about it.
//!
//! [`StoreError::Unavailable`] is passing: Redis is down, unreachable, restarting or refusing us,
//! and the same call may well work later (the daemon answers 503). [`StoreError::Corrupt`] is
//! not: what Redis holds is not what this code writes, and retrying reads the same thing again.

use std::time::Duration;

use redis::{ErrorKind, RedisError, ServerErrorKind};

/// Why a store call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// Redis could not serve the call within the timeout; one line saying why.
    #[error("{0}")]
    Unavailable(String),
    /// A record or entry in Redis is malformed, or Redis rejected a command as invalid for the
    /// data it holds.
    #[error("{0}")]
    Corrupt(String),
    /// The configuration cannot work whatever Redis does, e.g. a malformed URL.
    #[error("{0}")]
    InvalidConfig(String),
}

/// What the daemon is told when a request needs the cluster's store (Redis) and cannot use it:
/// one line saying why. The same request may work later: the daemon reconnects by itself.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("shared session store unavailable: {0}")]
pub struct Unavailable(pub String);

impl From<StoreError> for Unavailable {
    fn from(err: StoreError) -> Self {
        Self(err.to_string())
    }
}

impl StoreError {
    /// The call did not finish within `timeout`.
    pub(crate) fn timed_out(timeout: Duration) -> Self {
        Self::Unavailable(format!(
            "Redis did not answer within {} ms",
            timeout.as_millis()
        ))
    }
}

impl From<RedisError> for StoreError {
    fn from(err: RedisError) -> Self {
        let reason = one_line(&err.to_string());
        if is_about_the_data(&err) {
            Self::Corrupt(format!("Redis rejected the shared store's data: {reason}"))
        } else {
            Self::Unavailable(format!("Redis unavailable: {reason}"))
        }
    }
}

/// Whether Redis answered, but refused the command for what the keys hold (a wrong type, an
/// entry id out of order, a reply of the wrong shape). Everything else is about reaching Redis.
fn is_about_the_data(err: &RedisError) -> bool {
    match err.kind() {
        ErrorKind::UnexpectedReturnType
        | ErrorKind::Server(ServerErrorKind::ResponseError | ServerErrorKind::ExecAbort) => true,
        ErrorKind::Extension => err.code() == Some("WRONGTYPE"),
        _ => false,
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreachable_redis_is_unavailable_on_one_line() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused\nat once");
        let StoreError::Unavailable(reason) = StoreError::from(RedisError::from(io)) else {
            panic!("a refused connection is passing");
        };
        assert!(reason.starts_with("Redis unavailable: "), "{reason}");
        assert!(!reason.contains('\n'), "{reason}");
    }

    #[test]
    fn a_reply_of_the_wrong_shape_is_corrupt() {
        let err = RedisError::from((ErrorKind::UnexpectedReturnType, "not a number"));
        assert!(matches!(StoreError::from(err), StoreError::Corrupt(_)));
    }

    #[test]
    fn a_timeout_names_redis_and_the_limit() {
        let err = StoreError::timed_out(Duration::from_millis(1500));
        assert_eq!(
            err,
            StoreError::Unavailable("Redis did not answer within 1500 ms".into())
        );
    }
}
