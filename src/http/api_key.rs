//! API keys: what creating a session (either way) and every stateless request must present as
//! `Authorization: Bearer <key>`.
//!
//! By default the daemon is its owner's alone: with no `security.api_keys` configured it
//! generates an owner key at start, which only the discovery file (mode 0600) tells. The owner
//! key also opens the administrator's routes, so that the owner's own `sessions` and `tail`
//! need nothing but that file; configured keys, which may be handed to several people, do not.
//! With `security.require_api_key = false` and no keys, nothing is checked.
//!
//! Keys are compared in constant time, like session tokens.

use actix_web::HttpRequest;
use subtle::ConstantTimeEq as _;

use super::auth;
use super::config::SecurityConfig;
use super::error::HttpError;

/// Which key a request presented: an index into the configured keys, then the owner key (`0`
/// when no key is needed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyId(usize);

impl KeyId {
    /// The position of the key.
    pub fn index(self) -> usize {
        self.0
    }
}

/// The keys this daemon accepts.
pub struct ApiKeys {
    configured: Vec<String>,
    owner: Option<String>,
}

impl ApiKeys {
    /// The configured keys, plus a freshly generated owner key (256 random bits, 64 hex digits)
    /// when `security` asks for a key and configures none.
    pub fn new(security: &SecurityConfig) -> Self {
        Self {
            configured: security.api_keys.clone(),
            owner: security
                .generates_api_key()
                .then(|| construct_actors::token::Token::mint().reveal()),
        }
    }

    /// The generated owner key, for the discovery file.
    pub fn owner(&self) -> Option<&str> {
        self.owner.as_deref()
    }

    /// Whether `presented` is the owner key.
    pub fn is_owner(&self, presented: &str) -> bool {
        self.owner
            .as_deref()
            .is_some_and(|owner| equal(owner, presented))
    }

    /// How many keys there are (at least one [`KeyId`] exists even when none is needed).
    pub fn count(&self) -> usize {
        (self.configured.len() + usize::from(self.owner.is_some())).max(1)
    }

    /// Which key `req` carries; an error when it carries none of them and one is required.
    pub fn require(&self, req: &HttpRequest) -> Result<KeyId, HttpError> {
        if self.configured.is_empty() && self.owner.is_none() {
            return Ok(KeyId(0));
        }
        let presented = auth::bearer(req).map_err(|_| {
            HttpError::Unauthorized(
                "this needs the daemon's API key as \"Authorization: Bearer <key>\" (its owner \
                 finds it as \"api_key\" in the discovery file)",
            )
        })?;
        // Every key is compared, so the time taken does not tell which one matched.
        let found = self.configured.iter().chain(&self.owner).enumerate().fold(
            None,
            |found, (index, key)| {
                if equal(key, presented) {
                    Some(index)
                } else {
                    found
                }
            },
        );
        if let Some(index) = found {
            Ok(KeyId(index))
        } else {
            Err(HttpError::Unauthorized("the API key is not valid"))
        }
    }
}

/// Constant-time equality (only a difference in length shows).
fn equal(key: &str, presented: &str) -> bool {
    bool::from(key.as_bytes().ct_eq(presented.as_bytes()))
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKeys(..)")
    }
}
