//! The names of a session's keys.
//!
//! Both keys of a session carry its id as a hash tag (`{...}`), so a Redis Cluster puts them in
//! one slot and the scripts that touch both stay legal there:
//!
//! - `<prefix>:{<id>}:session`, a hash: the [`SessionRecord`](super::SessionRecord) fields plus
//!   `seq`, the number of the session's last event (absent until the first). Its TTL is the
//!   session's idle timeout.
//! - `<prefix>:{<id>}:events`, a stream whose entry `N-0` is event `N`, holding either `data` (the
//!   event's JSON) or `end` (why the session ended). Its TTL follows the session's.

use uuid::Uuid;

/// The two keys of one session.
#[derive(Debug, Clone)]
pub(crate) struct SessionKeys {
    pub(crate) session: String,
    pub(crate) events: String,
}

impl SessionKeys {
    pub(crate) fn new(prefix: &str, id: Uuid) -> Self {
        Self {
            session: format!("{prefix}:{{{id}}}:session"),
            events: format!("{prefix}:{{{id}}}:events"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_keys_share_the_session_hash_tag() {
        let id = Uuid::nil();
        let keys = SessionKeys::new("construct", id);
        assert_eq!(keys.session, format!("construct:{{{id}}}:session"));
        assert_eq!(keys.events, format!("construct:{{{id}}}:events"));
    }
}
