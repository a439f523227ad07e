//! Protocol revisions this daemon speaks, and how one is chosen at `initialize`.

/// The revision the daemon prefers and reports on `/health`.
pub const LATEST: &str = "2025-11-25";

/// Every revision a client may ask for, newest first.
pub const SUPPORTED: &[&str] = &[LATEST, "2025-06-18", "2025-03-26", "2024-11-05"];

/// The revision to answer a client that asked for `requested`: the same one when supported,
/// otherwise the latest, as the lifecycle chapter of the specification prescribes (the client
/// then decides whether it can go on).
pub fn negotiate(requested: Option<&str>) -> &'static str {
    requested
        .and_then(|asked| SUPPORTED.iter().copied().find(|known| *known == asked))
        .unwrap_or(LATEST)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_supported_revision_is_echoed_and_others_get_the_latest() {
        assert_eq!(negotiate(Some("2025-03-26")), "2025-03-26");
        assert_eq!(negotiate(Some("1999-01-01")), LATEST);
        assert_eq!(negotiate(None), LATEST);
    }
}
