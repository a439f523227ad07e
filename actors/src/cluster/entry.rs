//! One entry of a session's events stream, as read back from Redis.
//!
//! Entry `N-0` is the session's event `N`, so the number a follower sends back as
//! `Last-Event-ID` is directly where to resume reading, on any node.

use bytestring::ByteString;
use redis::Value;
use redis::streams::StreamId;

use super::StoreError;
use crate::subscriber::EndReason;

/// The field of an entry holding an event's JSON.
pub(crate) const DATA: &str = "data";
/// The field of the last entry of an ended session, holding why it ended.
pub(crate) const END: &str = "end";

/// One numbered entry of a session's events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEntry {
    /// The session's event number: 1, 2, 3… with no gaps, the same on every node.
    pub seq: u64,
    /// What it holds.
    pub kind: EntryKind,
}

/// What an entry holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A published event's JSON text.
    Event(ByteString),
    /// The session ended; nothing follows.
    End(EndReason),
}

impl StreamEntry {
    /// Reads an entry of session stream `key`.
    pub(crate) fn parse(key: &str, mut entry: StreamId) -> Result<Self, StoreError> {
        let corrupt =
            |what: &str| StoreError::Corrupt(format!("entry {} of {key} {what}", entry.id));
        let seq = entry
            .id
            .strip_suffix("-0")
            .and_then(|seq| seq.parse().ok())
            .ok_or_else(|| corrupt("is not numbered N-0"))?;
        let kind = if let Some(data) = entry.map.remove(DATA) {
            EntryKind::Event(
                text(data)
                    .ok_or_else(|| corrupt("has non-UTF-8 data"))?
                    .into(),
            )
        } else if let Some(reason) = entry.map.remove(END) {
            let reason = text(reason).ok_or_else(|| corrupt("has a non-UTF-8 end"))?;
            EntryKind::End(end_reason(&reason).ok_or_else(|| corrupt("has an unknown end"))?)
        } else {
            return Err(corrupt("has neither data nor end"));
        };
        Ok(Self { seq, kind })
    }
}

/// The id of the entry for event `seq`.
pub(crate) fn entry_id(seq: u64) -> String {
    format!("{seq}-0")
}

fn text(value: Value) -> Option<String> {
    redis::from_redis_value(value).ok()
}

fn end_reason(word: &str) -> Option<EndReason> {
    [EndReason::Closed, EndReason::Expired]
        .into_iter()
        .find(|reason| reason.as_str() == word)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(id: &str, field: &str, value: &[u8]) -> StreamId {
        StreamId {
            id: id.to_owned(),
            map: [(field.to_owned(), Value::BulkString(value.to_vec()))].into(),
            ..StreamId::default()
        }
    }

    #[test]
    fn events_and_ends_are_read_with_their_numbers() {
        let event = StreamEntry::parse("k", raw("7-0", DATA, b"{\"a\":1}")).unwrap();
        assert_eq!(event.seq, 7);
        assert_eq!(event.kind, EntryKind::Event("{\"a\":1}".into()));
        for reason in [EndReason::Closed, EndReason::Expired] {
            let end = StreamEntry::parse("k", raw("8-0", END, reason.as_str().as_bytes())).unwrap();
            assert_eq!(
                end,
                StreamEntry {
                    seq: 8,
                    kind: EntryKind::End(reason)
                }
            );
        }
    }

    #[test]
    fn foreign_entries_are_corrupt() {
        for entry in [
            raw("7-1", DATA, b"{}"),
            raw("x-0", DATA, b"{}"),
            raw("7-0", "other", b"{}"),
            raw("7-0", DATA, b"\xff"),
            raw("7-0", END, b"bored"),
        ] {
            assert!(matches!(
                StreamEntry::parse("k", entry),
                Err(StoreError::Corrupt(_))
            ));
        }
    }
}
