//! A session's identity as the cluster store keeps it, and its translation to hash fields.
//!
//! Times are RFC 3339 text and the digest is hex, so that an operator reading the hash with
//! `redis-cli` sees what it says; the working directory is kept as raw bytes, because a Unix path
//! need not be UTF-8.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt as _;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use uuid::Uuid;

use super::StoreError;
use crate::settings::SessionSettings;
use crate::token::{Token, TokenDigest};

const TOKEN_SHA256: &str = "token_sha256";
const CWD: &str = "cwd";
const LABEL: &str = "label";
const CREATED_AT: &str = "created_at";
pub(crate) const LAST_ACTIVITY: &str = "last_activity";
const PROTOCOL_VERSION: &str = "protocol_version";
const LOG_LEVEL: &str = "log_level";
const CLIENT_NAME: &str = "client_name";
const CLIENT_VERSION: &str = "client_version";
const CLIENT_CAPABILITIES: &str = "client_capabilities";

/// What every node needs to know about a session, whichever node created it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// The session's id (also in its keys' names).
    pub id: Uuid,
    /// Checks a presented token; the token itself is never stored.
    pub token_digest: TokenDigest,
    /// The directory the session's tools work in.
    pub cwd: Arc<Path>,
    /// The label its client gave it, if any.
    pub label: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last used, as of the last [`touch`](super::ClusterStore::touch).
    pub last_activity: DateTime<Utc>,
    /// What a standard MCP client established for it (recorded with
    /// [`save_settings`](super::ClusterStore::save_settings)), so that every node serves it alike.
    pub settings: SessionSettings,
}

impl SessionRecord {
    /// A new session's record, its id and token freshly drawn, and the token itself, to be shown
    /// to its client once.
    pub(crate) fn mint(cwd: Arc<Path>, label: Option<String>) -> (Self, Token) {
        let token = Token::mint();
        let now = Utc::now();
        let record = Self {
            id: Uuid::new_v4(),
            token_digest: token.digest(),
            cwd,
            label,
            created_at: now,
            last_activity: now,
            settings: SessionSettings::default(),
        };
        (record, token)
    }

    /// The hash fields that hold this record (`seq` is the store's own).
    pub(crate) fn to_fields(&self) -> Vec<(&'static str, Vec<u8>)> {
        let mut fields = vec![
            (TOKEN_SHA256, self.token_digest.to_hex().into_bytes()),
            (CWD, self.cwd.as_os_str().as_bytes().to_vec()),
            (CREATED_AT, timestamp(self.created_at).into_bytes()),
            (LAST_ACTIVITY, timestamp(self.last_activity).into_bytes()),
        ];
        if let Some(label) = &self.label {
            fields.push((LABEL, label.clone().into_bytes()));
        }
        fields.extend(
            settings_fields(&self.settings).map(|(name, value)| (name, value.as_bytes().to_vec())),
        );
        fields
    }

    /// Reads back the record of session `id` from its hash fields.
    pub(crate) fn from_fields(
        id: Uuid,
        mut fields: HashMap<String, Vec<u8>>,
    ) -> Result<Self, StoreError> {
        let mut take = |name: &str| {
            fields
                .remove(name)
                .ok_or_else(|| corrupt(id, &format!("has no {name}")))
        };
        let digest = take(TOKEN_SHA256)?;
        let cwd = take(CWD)?;
        let created_at = take(CREATED_AT)?;
        let last_activity = take(LAST_ACTIVITY)?;
        let label = fields.remove(LABEL);
        let mut setting = |name: &str| {
            fields
                .remove(name)
                .map(|value| {
                    String::from_utf8(value)
                        .map(Arc::from)
                        .map_err(|_| corrupt(id, &format!("has a non-UTF-8 {name}")))
                })
                .transpose()
        };
        let settings = SessionSettings {
            protocol_version: setting(PROTOCOL_VERSION)?,
            log_level: setting(LOG_LEVEL)?,
            client_name: setting(CLIENT_NAME)?,
            client_version: setting(CLIENT_VERSION)?,
            client_capabilities: setting(CLIENT_CAPABILITIES)?,
        };
        Ok(Self {
            id,
            token_digest: std::str::from_utf8(&digest)
                .ok()
                .and_then(TokenDigest::from_hex)
                .ok_or_else(|| corrupt(id, "has a malformed token_sha256"))?,
            cwd: Arc::from(Path::new(OsStr::from_bytes(&cwd))),
            label: label
                .map(|label| {
                    String::from_utf8(label).map_err(|_| corrupt(id, "has a non-UTF-8 label"))
                })
                .transpose()?,
            created_at: parse_timestamp(id, CREATED_AT, &created_at)?,
            last_activity: parse_timestamp(id, LAST_ACTIVITY, &last_activity)?,
            settings,
        })
    }
}

/// The hash fields of the settings `settings` holds (absent ones are left out).
pub(crate) fn settings_fields(
    settings: &SessionSettings,
) -> impl Iterator<Item = (&'static str, &str)> {
    [
        (PROTOCOL_VERSION, &settings.protocol_version),
        (LOG_LEVEL, &settings.log_level),
        (CLIENT_NAME, &settings.client_name),
        (CLIENT_VERSION, &settings.client_version),
        (CLIENT_CAPABILITIES, &settings.client_capabilities),
    ]
    .into_iter()
    .filter_map(|(name, value)| value.as_deref().map(|value| (name, value)))
}

/// A time as the store writes it: RFC 3339 in UTC, with as many fraction digits as it needs.
pub(crate) fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn parse_timestamp(id: Uuid, name: &str, text: &[u8]) -> Result<DateTime<Utc>, StoreError> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
        .map(|at| at.with_timezone(&Utc))
        .ok_or_else(|| corrupt(id, &format!("has a malformed {name}")))
}

fn corrupt(id: Uuid, what: &str) -> StoreError {
    StoreError::Corrupt(format!("the shared record of session {id} {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::Token;

    fn record(label: Option<&str>) -> SessionRecord {
        let at = DateTime::parse_from_rfc3339("2026-01-02T03:04:05.123456789Z")
            .unwrap()
            .with_timezone(&Utc);
        SessionRecord {
            id: Uuid::new_v4(),
            token_digest: Token::mint().digest(),
            cwd: Arc::from(Path::new(OsStr::from_bytes(b"/tmp/not-\xffutf8"))),
            label: label.map(str::to_owned),
            created_at: at,
            last_activity: at + chrono::Duration::seconds(1),
            settings: SessionSettings::default(),
        }
    }

    fn round_trip(record: &SessionRecord) -> Result<SessionRecord, StoreError> {
        let fields = record
            .to_fields()
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect();
        SessionRecord::from_fields(record.id, fields)
    }

    #[test]
    fn a_record_survives_its_fields_with_or_without_a_label() {
        for label in [Some("build"), None] {
            let record = record(label);
            assert_eq!(round_trip(&record).unwrap(), record);
        }
    }

    #[test]
    fn settings_survive_their_fields_and_absent_ones_stay_absent() {
        let mut record = record(None);
        record.settings.protocol_version = Some(Arc::from("2025-11-25"));
        assert_eq!(round_trip(&record).unwrap(), record);
        record.settings.log_level = Some(Arc::from("debug"));
        assert_eq!(round_trip(&record).unwrap(), record);
        record.settings.client_name = Some(Arc::from("claude-code"));
        record.settings.client_version = Some(Arc::from("2.1.197"));
        assert_eq!(round_trip(&record).unwrap(), record);
    }

    #[test]
    fn a_missing_or_malformed_field_is_corrupt() {
        let record = record(None);
        let fields: HashMap<String, Vec<u8>> = record
            .to_fields()
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect();
        for (name, bad) in [(TOKEN_SHA256, "zz"), (CREATED_AT, "yesterday")] {
            let mut broken = fields.clone();
            broken.insert(name.to_owned(), bad.as_bytes().to_vec());
            let err = SessionRecord::from_fields(record.id, broken).unwrap_err();
            assert!(
                matches!(&err, StoreError::Corrupt(why) if why.contains(name)),
                "{err}"
            );
        }
        let mut missing = fields;
        missing.remove(CWD);
        let err = SessionRecord::from_fields(record.id, missing).unwrap_err();
        assert!(
            matches!(&err, StoreError::Corrupt(why) if why.contains("cwd")),
            "{err}"
        );
    }
}
