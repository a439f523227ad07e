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
use super::error::HttpError;
use crate::config::Config;

/// The keys this daemon accepts.
pub struct ApiKeys {
    configured: Vec<String>,
    owner: Option<String>,
}

impl ApiKeys {
    /// The configured keys, plus a freshly generated owner key (256 random bits, 64 hex digits)
    /// when `config` asks for a key and configures none.
    pub fn new(config: &Config) -> Self {
        Self {
            configured: config.security.api_keys.clone(),
            owner: config
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

    /// Whether `req` may proceed: it carries one of the keys, or none is required.
    pub fn require(&self, req: &HttpRequest) -> Result<(), HttpError> {
        if self.configured.is_empty() && self.owner.is_none() {
            return Ok(());
        }
        let presented = auth::bearer(req).map_err(|_| {
            HttpError::Unauthorized(
                "this needs the daemon's API key as \"Authorization: Bearer <key>\" (its owner \
                 finds it as \"api_key\" in the discovery file)",
            )
        })?;
        let matches = self
            .configured
            .iter()
            .chain(&self.owner)
            .fold(false, |any, key| any | equal(key, presented));
        if matches {
            Ok(())
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
