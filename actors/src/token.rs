//! Session tokens: minted from a cryptographically secure generator and checked in constant time.
//!
//! A token is 256 random bits, shown to the client once as 64 lowercase hex digits. The bits come
//! from the thread's [`rand::rngs::ThreadRng`]: ChaCha12, seeded from the operating system's
//! random source and reseeded from it after every 64 KiB it produces, so that minting a token
//! costs no system call (asking the OS for every token was a `getrandom` per session, a tenth of
//! creating one). The token is as unpredictable as before: an attacker who sees any number of
//! tokens learns nothing of the next without breaking ChaCha. (Like any generator with state in
//! memory, it is not reseeded by a snapshot and restore of the whole process or machine; the
//! daemon is not run that way.)
//!
//! Sessions keep only a [`TokenDigest`], the SHA-256 of the raw bytes (32 bytes per idle
//! session), in memory and in the cluster store alike: whoever reads that store (a backup,
//! `MONITOR`, a replica) or the daemon's memory learns no usable token, and a 256-bit random
//! secret needs no salt or slow hash: there is nothing to guess from its digest. A presented
//! token is decoded, hashed and compared with [`subtle`], so that the time taken says nothing
//! about how many leading characters were right.

use rand::CryptoRng;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// Number of random bytes in a token (256 bits, well past the 128 the protocol asks for).
const TOKEN_BYTES: usize = 32;

/// Number of bytes in a SHA-256 digest.
const DIGEST_BYTES: usize = 32;

/// A session's secret: what a client must present as `Authorization: Bearer <token>`.
#[derive(Clone)]
pub struct Token([u8; TOKEN_BYTES]);

impl Token {
    /// Mints a new token from this thread's cryptographically secure generator.
    ///
    /// # Panics
    /// Panics only if the OS has no random source to seed the generator from, in which case no
    /// token could be safe.
    pub fn mint() -> Self {
        Self::mint_from(&mut rand::rng())
    }

    /// Mints a new token from `rng`, which must be cryptographically secure.
    fn mint_from(rng: &mut impl CryptoRng) -> Self {
        let mut bytes = [0u8; TOKEN_BYTES];
        rng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// The text form handed to the client, once, when the session is created.
    pub fn reveal(&self) -> String {
        encode_hex(&self.0)
    }

    /// What the cluster store keeps in place of this token.
    pub fn digest(&self) -> TokenDigest {
        TokenDigest(sha256(&self.0))
    }

    /// Whether `presented` is this token. Malformed input is simply not a match.
    pub fn matches(&self, presented: &str) -> bool {
        match decode_hex::<TOKEN_BYTES>(presented) {
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

/// The SHA-256 of a token's raw bytes: enough to check a presented token, useless to present.
#[derive(Clone, Copy)]
pub struct TokenDigest([u8; DIGEST_BYTES]);

impl TokenDigest {
    /// Whether `presented` (the token's 64 hex digits) is the token this digest was made from.
    /// Malformed input is simply not a match.
    pub fn matches(&self, presented: &str) -> bool {
        match decode_hex::<TOKEN_BYTES>(presented) {
            Some(bytes) => bool::from(self.0.ct_eq(&sha256(&bytes))),
            None => false,
        }
    }

    /// The digest as 64 lowercase hex digits, the form a store keeps.
    pub fn to_hex(&self) -> String {
        encode_hex(&self.0)
    }

    /// Reads back what [`TokenDigest::to_hex`] wrote; anything else is `None`.
    pub fn from_hex(text: &str) -> Option<Self> {
        decode_hex(text).map(Self)
    }
}

/// Compared in constant time, like the tokens themselves.
impl PartialEq for TokenDigest {
    fn eq(&self, other: &Self) -> bool {
        bool::from(self.0.ct_eq(&other.0))
    }
}

impl Eq for TokenDigest {}

impl std::fmt::Debug for TokenDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenDigest(..)")
    }
}

fn sha256(bytes: &[u8]) -> [u8; DIGEST_BYTES] {
    Sha256::digest(bytes).into()
}

/// Lowercase hex, two digits a byte, read from a table: through `fmt`, the 64 digits of each new
/// session's token were a tenth of creating it.
fn encode_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

/// Decodes exactly `N` bytes of hex; anything else is `None`.
fn decode_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let digits = text.as_bytes();
    if digits.len() != N * 2 {
        return None;
    }
    let mut bytes = [0u8; N];
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

    #[test]
    fn a_digest_matches_its_token_and_nothing_else() {
        let token = Token::mint();
        let text = token.reveal();
        let digest = token.digest();
        assert!(digest.matches(&text));
        assert!(digest.matches(&text.to_uppercase()));
        assert!(!digest.matches(&Token::mint().reveal()));
        assert!(!digest.matches(&text[..63]));
        assert!(!digest.matches(""));
        assert!(!digest.matches(&format!("{}zz", &text[..62])));
        // The digest itself is not a token that opens the session.
        assert!(!digest.matches(&digest.to_hex()));
        assert!(!token.matches(&digest.to_hex()));
    }

    #[test]
    fn a_digest_is_the_sha256_of_the_raw_bytes() {
        // SHA-256 of 32 zero bytes.
        let zeros = Token([0; TOKEN_BYTES]);
        assert_eq!(
            zeros.digest().to_hex(),
            "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925"
        );
    }

    #[test]
    fn a_digest_survives_its_hex_form() {
        let digest = Token::mint().digest();
        let hex = digest.to_hex();
        assert_eq!(hex.len(), 64);
        assert_eq!(hex, hex.to_lowercase());
        assert_eq!(TokenDigest::from_hex(&hex), Some(digest));
        assert_eq!(TokenDigest::from_hex(&hex.to_uppercase()), Some(digest));
        assert_eq!(TokenDigest::from_hex(&hex[..62]), None);
        assert_eq!(TokenDigest::from_hex(&format!("{}xy", &hex[..62])), None);
        assert_ne!(Token::mint().digest(), digest);
    }

    #[test]
    fn debug_does_not_leak_the_digest() {
        let digest = Token::mint().digest();
        assert_eq!(format!("{digest:?}"), "TokenDigest(..)");
    }
}
