//! What every configuration section says about a value that cannot work, and the checks the
//! sections share.
//!
//! Each section lives beside the part that reads it (`[tools]` beside the tools, `[server]`
//! beside the HTTP endpoints, …) and checks its own values; `config` assembles the sections and
//! reports the first [`InvalidSetting`]. The shared checks live here, apart from both, so that a
//! section never imports the assembly that imports it.

use std::borrow::Cow;
use std::time::Duration;

/// A value of the right type that cannot work: the dotted key at fault, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {reason}")]
pub struct InvalidSetting {
    /// The dotted key, e.g. `sessions.max_sessions`, or `servers.git.command` in a table whose
    /// keys the user names.
    pub key: Cow<'static, str>,
    /// Why the value cannot work.
    pub reason: String,
}

impl InvalidSetting {
    /// The value of `key` cannot work, for `reason`.
    pub fn new(key: &'static str, reason: impl Into<String>) -> Self {
        Self {
            key: Cow::Borrowed(key),
            reason: reason.into(),
        }
    }

    /// The same error, its key placed under the table `table` (`command` under `servers.git`
    /// is `servers.git.command`): how a table whose name the user chose reports its keys.
    pub fn under(self, table: &str) -> Self {
        Self {
            key: Cow::Owned(format!("{table}.{}", self.key)),
            reason: self.reason,
        }
    }
}

/// A count or size that must not be zero.
pub fn at_least_one<N: PartialEq + From<u8>>(
    key: &'static str,
    value: N,
) -> Result<(), InvalidSetting> {
    if value == N::from(0) {
        return Err(InvalidSetting::new(key, "must be at least 1"));
    }
    Ok(())
}

/// A duration that must not be zero.
pub fn longer_than_zero(key: &'static str, value: Duration) -> Result<(), InvalidSetting> {
    if value.is_zero() {
        return Err(InvalidSetting::new(key, "must be longer than zero"));
    }
    Ok(())
}

/// Credentials someone must type or paste (the one value of an optional key, or every value of a
/// list): long enough not to be guessed, and made of visible ASCII, so that they survive an HTTP
/// header unchanged (a key of spaces could never match).
pub fn secrets<'a>(
    key: &'static str,
    values: impl IntoIterator<Item = &'a String>,
) -> Result<(), InvalidSetting> {
    for value in values {
        if value.chars().count() < 16 || value.chars().any(|c| !c.is_ascii_graphic()) {
            return Err(InvalidSetting::new(
                key,
                "needs at least 16 characters, all visible ASCII (no spaces)",
            ));
        }
    }
    Ok(())
}

/// How a section's `Debug` shows an optional secret: whether it is set, never its value.
pub fn hidden(secret: &Option<String>) -> Option<&'static str> {
    secret.as_ref().map(|_| "..")
}

/// The section at `key` of the TOML `text` (its defaults for what the text leaves out), once
/// `check` accepts it: what the configuration makes of that section of a file. For the sections'
/// tests.
#[cfg(test)]
pub fn read_section<T: serde::de::DeserializeOwned>(
    text: &str,
    key: &str,
    check: impl Fn(&T) -> Result<(), InvalidSetting>,
) -> Result<T, InvalidSetting> {
    use figment::providers::{Format as _, Toml};
    let section = figment::Figment::from(Toml::string(text))
        .extract_inner(key)
        .unwrap();
    check(&section).map(|()| section)
}
