//! Session tokens: minted from the operating system's random source and checked in constant time.
//!
//! A token is 256 random bits, shown to the client once as 64 lowercase hex digits. The session
//! keeps only the raw bytes, so an idle session pays 32 bytes for it, and a presented token is
//! decoded and compared with [`subtle`] so that the time taken says nothing about how many leading
//! characters were right.

use std::fmt::Write as _;

use subtle::ConstantTimeEq as _;

/// Number of random bytes in a token (256 bits, well past the 128 the protocol asks for).
const TOKEN_BYTES: usize = 32;

/// A session's secret: what a client must present as `Authorization: Bearer <token>`.
#[derive(Clone)]
pub struct Token([u8; TOKEN_BYTES]);

impl Token {
    /// Mints a new token from the OS random source.
    ///
    /// # Panics
    /// Panics only if the OS has no random source at all, in which case no token could be safe.
    pub fn mint() -> Self {
        let mut bytes = [0u8; TOKEN_BYTES];
        getrandom::fill(&mut bytes).expect("the OS random source is unavailable");
        Self(bytes)
    }

    /// The text form handed to the client, once, when the session is created.
    pub fn reveal(&self) -> String {
        let mut text = String::with_capacity(TOKEN_BYTES * 2);
        for byte in self.0 {
            let _ = write!(text, "{byte:02x}");
        }
        text
    }

    /// Whether `presented` is this token. Malformed input is simply not a match.
    pub fn matches(&self, presented: &str) -> bool {
        match decode_hex(presented) {
            Some(bytes) => bool::from(self.0.ct_eq(&bytes)),
            None => false,
        }
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(..)")
    }
}

/// Decodes exactly `TOKEN_BYTES` bytes of hex; anything else is `None`.
fn decode_hex(text: &str) -> Option<[u8; TOKEN_BYTES]> {
    let digits = text.as_bytes();
    if digits.len() != TOKEN_BYTES * 2 {
        return None;
    }
    let mut bytes = [0u8; TOKEN_BYTES];
    for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
        let high = char::from(pair[0]).to_digit(16)?;
        let low = char::from(pair[1]).to_digit(16)?;
        *byte = u8::try_from(high * 16 + low).ok()?;
    }
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revealed_token_matches_itself_and_nothing_else() {
        let token = Token::mint();
        let text = token.reveal();
        assert_eq!(text.len(), 64);
        assert!(token.matches(&text));
        assert!(token.matches(&text.to_uppercase()));
        assert!(!token.matches(&Token::mint().reveal()));
        assert!(!token.matches(&text[..63]));
        assert!(!token.matches(""));
        assert!(!token.matches(&format!("{}zz", &text[..62])));
    }

    #[test]
    fn two_tokens_differ() {
        assert_ne!(Token::mint().reveal(), Token::mint().reveal());
    }

    #[test]
    fn debug_does_not_leak_the_secret() {
        let token = Token::mint();
        assert!(!format!("{token:?}").contains(&token.reveal()));
    }
}
