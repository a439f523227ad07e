//! A result of many lines (search results), bounded in count and in bytes while it is built:
//! a line that would pass either bound is not kept, and the text then says where it stopped, so
//! a search over huge files or many long paths returns a bounded answer instead of growing with
//! its input.

/// Lines collected so far, and why collecting stopped, if it did.
pub struct Listing {
    lines: Vec<String>,
    bytes: usize,
    max_lines: usize,
    max_bytes: usize,
    full: Option<Full>,
}

/// The bound that stopped a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Full {
    Lines,
    Bytes,
}

impl Listing {
    /// An empty listing of at most `max_lines` lines and `max_bytes` bytes of text.
    pub fn new(max_lines: usize, max_bytes: usize) -> Self {
        Self {
            lines: Vec::new(),
            bytes: 0,
            max_lines,
            max_bytes,
            full: None,
        }
    }

    /// Adds `line` if it fits; returns whether the caller should go on.
    pub fn push(&mut self, line: String) -> bool {
        if self.full.is_some() {
            return false;
        }
        // Each line after the first costs a newline too.
        let cost = line.len() + usize::from(!self.lines.is_empty());
        if self.lines.len() == self.max_lines {
            self.full = Some(Full::Lines);
        } else if self.bytes + cost > self.max_bytes {
            self.full = Some(Full::Bytes);
        } else {
            self.bytes += cost;
            self.lines.push(line);
        }
        self.full.is_none()
    }

    /// Whether no line was kept.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// The lines, one per line of text, and a last line saying which bound stopped them, naming
    /// the results `what` (e.g. "matches").
    pub fn text(self, what: &str) -> String {
        let note = self.full.map(|full| match full {
            Full::Lines => format!(
                "(stopped at {} {what}; narrow the search or raise max_results)",
                self.max_lines
            ),
            Full::Bytes => format!(
                "(stopped after {} {what}: the result reached its {}-byte limit, \
                 tools.search.max_output_bytes; narrow the search)",
                self.lines.len(),
                self.max_bytes
            ),
        });
        let mut lines = self.lines;
        lines.extend(note);
        lines.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_stops_at_either_bound_and_says_which() {
        let mut by_count = Listing::new(2, 100);
        assert!(by_count.push("a".into()));
        assert!(by_count.push("b".into()));
        assert!(!by_count.push("c".into()));
        assert!(!by_count.push("d".into()));
        let text = by_count.text("results");
        assert!(text.starts_with("a\nb\n(stopped at 2 results"), "{text}");

        let mut by_bytes = Listing::new(100, 7);
        assert!(by_bytes.push("abc".into()));
        assert!(by_bytes.push("def".into()));
        assert!(!by_bytes.push("g".into()));
        let text = by_bytes.text("matches");
        assert!(
            text.starts_with("abc\ndef\n(stopped after 2 matches"),
            "{text}"
        );
        assert!(text.contains("7-byte"), "{text}");
    }
}
