//! Reading a child's output one line at a time without ever holding more than a bound of it.
//!
//! `read_until` cannot be bounded (it returns only at a newline, by which time a line of
//! gigabytes is in memory), so lines are gathered from `fill_buf` and `consume`, checking the
//! bound before each append. A line over the bound is kept up to it, marked as cut, and the rest
//! of it is skipped. The partial line lives in the reader, not in the future, so a read that is
//! dropped (the transport's `receive` is polled inside a `select!`) loses nothing.

use tokio::io::{AsyncBufRead, AsyncBufReadExt as _};

/// One line, without its `\n` (nor a `\r` before it).
#[derive(Debug, PartialEq, Eq)]
pub struct Line {
    /// Its bytes, at most the reader's bound.
    pub bytes: Vec<u8>,
    /// Whether it was longer than the bound (and `bytes` holds only its start).
    pub cut: bool,
}

/// Lines of `R`, each at most `max` bytes.
pub struct BoundedLines<R> {
    reader: R,
    max: usize,
    partial: Vec<u8>,
    /// Set once the current line reached the bound: its rest is skipped up to the newline.
    cut: bool,
}

impl<R: AsyncBufRead + Unpin> BoundedLines<R> {
    /// Lines of `reader`, each cut to `max` bytes.
    pub fn new(reader: R, max: usize) -> Self {
        Self {
            reader,
            max,
            partial: Vec::new(),
            cut: false,
        }
    }

    /// The next line; `None` at the end of the stream (a last line without a newline included).
    pub async fn next_line(&mut self) -> std::io::Result<Option<Line>> {
        loop {
            let available = self.reader.fill_buf().await?;
            if available.is_empty() {
                if self.partial.is_empty() && !self.cut {
                    return Ok(None);
                }
                return Ok(Some(self.take_line()));
            }
            let newline = available.iter().position(|&b| b == b'\n');
            let end = newline.unwrap_or(available.len());
            let room = self.max - self.partial.len();
            if end > room {
                self.cut = true;
            }
            self.partial.extend_from_slice(&available[..end.min(room)]);
            let consumed = newline.map_or(end, |at| at + 1);
            self.reader.consume(consumed);
            if newline.is_some() {
                return Ok(Some(self.take_line()));
            }
        }
    }

    fn take_line(&mut self) -> Line {
        let mut bytes = std::mem::take(&mut self.partial);
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
        Line {
            bytes,
            cut: std::mem::take(&mut self.cut),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn lines(input: &[u8], max: usize, chunk: usize) -> Vec<Line> {
        let reader = tokio::io::BufReader::with_capacity(chunk, input);
        let mut lines = BoundedLines::new(reader, max);
        let mut out = Vec::new();
        while let Some(line) = lines.next_line().await.unwrap() {
            out.push(line);
        }
        out
    }

    fn line(text: &str, cut: bool) -> Line {
        Line {
            bytes: text.as_bytes().to_vec(),
            cut,
        }
    }

    #[tokio::test]
    async fn lines_are_split_and_long_ones_cut_whatever_the_chunks() {
        for chunk in [1, 3, 64] {
            assert_eq!(
                lines(b"ab\r\nabcdefgh\n\nxyz", 4, chunk).await,
                vec![
                    line("ab", false),
                    line("abcd", true),
                    line("", false),
                    line("xyz", false)
                ],
                "chunk {chunk}"
            );
        }
    }

    #[tokio::test]
    async fn a_line_of_exactly_the_bound_is_whole() {
        assert_eq!(lines(b"abcd\n", 4, 2).await, vec![line("abcd", false)]);
        assert_eq!(lines(b"abcde", 4, 2).await, vec![line("abcd", true)]);
    }
}
