//! The admin token: it opens the administrator's routes and the dashboard.
//!
//! It comes from the configuration (`admin.token`) or, when that is unset, is generated at start
//! from the OS random source and printed once on standard output. It is compared in constant
//! time.

use subtle::ConstantTimeEq as _;

/// The daemon's admin token.
pub struct AdminToken {
    token: String,
    /// Whether the daemon generated it (and so must tell the operator once).
    generated: bool,
}

impl AdminToken {
    /// The configured token, or a freshly generated one (256 random bits, 64 hex digits).
    pub fn new(configured: Option<&str>) -> Self {
        match configured {
            Some(token) => Self {
                token: token.to_owned(),
                generated: false,
            },
            None => Self {
                token: construct_actors::token::Token::mint().reveal(),
                generated: true,
            },
        }
    }

    /// The token, when the daemon generated it: to be printed once at start.
    pub fn generated(&self) -> Option<&str> {
        self.generated.then_some(self.token.as_str())
    }

    /// Whether `presented` is the admin token, compared in constant time (only a difference in
    /// length shows).
    pub fn matches(&self, presented: &str) -> bool {
        bool::from(self.token.as_bytes().ct_eq(presented.as_bytes()))
    }
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_admin_token_matches_only_itself() {
        let token = AdminToken::new(Some("0123456789abcdef"));
        assert!(token.matches("0123456789abcdef"));
        assert!(!token.matches("0123456789abcdeF"));
        assert!(!token.matches("0123456789abcde"));
        assert!(!token.matches(""));
        assert_eq!(token.generated(), None);
        assert!(!format!("{token:?}").contains("0123"));
    }

    #[test]
    fn an_unset_token_is_generated_and_shown_once() {
        let token = AdminToken::new(None);
        let shown = token.generated().unwrap().to_owned();
        assert_eq!(shown.len(), 64);
        assert!(token.matches(&shown));
        assert_ne!(AdminToken::new(None).generated(), Some(shown.as_str()));
    }
}
