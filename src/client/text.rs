//! Making text from the daemon safe to show in a terminal.

/// `text` on one line with no control characters: newlines and tabs become spaces and other
/// control characters (terminal escape sequences among them) become `?`, so that a tool's
/// message or a session's label can neither break the output's line structure nor drive the
/// terminal.
pub fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\n' | '\r' | '\t' => ' ',
            c if c.is_control() => '?',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_cannot_reach_the_terminal() {
        assert_eq!(one_line("a\nb\tc"), "a b c");
        assert_eq!(one_line("\u{1b}[2Jgone"), "?[2Jgone");
        assert_eq!(one_line("plain é"), "plain é");
    }
}
