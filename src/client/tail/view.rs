//! Where `tail` shows a session's events: one line each, or on a terminal one live progress bar
//! per running call, keyed by its progress token, with finished bars kept only a while.

use std::io::Write as _;

use anyhow::Context as _;
use indexmap::IndexMap;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::progress::Progress;

/// Bars of finished calls kept on screen before the oldest go.
const FINISHED_KEPT: usize = 16;

/// Bars on screen at most, finished or not (calls whose total is unknown never finish).
const MAX_BARS: usize = 64;

/// Where events are shown.
pub enum View {
    /// One line per event on standard output.
    Lines,
    /// Live progress bars.
    Bars(Bars),
}

impl View {
    /// Bars on a terminal, else lines.
    pub fn new(terminal: bool) -> Self {
        if terminal {
            View::Bars(Bars::new())
        } else {
            View::Lines
        }
    }

    /// Shows a progress event.
    pub fn progress(&mut self, event: &Progress) -> anyhow::Result<()> {
        match self {
            View::Lines => print_line(&event.line()),
            View::Bars(bars) => {
                bars.update(event);
                Ok(())
            }
        }
    }

    /// A remark about the connection, on standard error (above the bars on a terminal).
    pub fn note(&mut self, text: &str) {
        match self {
            View::Lines => eprintln!("{text}"),
            View::Bars(bars) => bars.multi.suspend(|| eprintln!("{text}")),
        }
    }

    /// A line about the session (a lag, its end), on standard output.
    pub fn line(&mut self, text: &str) -> anyhow::Result<()> {
        match self {
            View::Lines => print_line(text),
            View::Bars(bars) => {
                let _ = bars.multi.println(text);
                Ok(())
            }
        }
    }
}

/// One line on standard output, flushed at once (whoever reads it is following live).
fn print_line(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .context("cannot write to standard output")
}

/// The progress bars of the calls seen, most recent last.
pub struct Bars {
    multi: MultiProgress,
    calls: IndexMap<String, ProgressBar>,
}

impl Bars {
    fn new() -> Self {
        Self {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stdout()),
            calls: IndexMap::new(),
        }
    }

    fn update(&mut self, event: &Progress) {
        let restarted = self.calls.get(&event.token).is_some_and(|bar| {
            bar.is_finished() && event.progress < bar.position() // the token was reused
        });
        if restarted && let Some(bar) = self.calls.shift_remove(&event.token) {
            self.multi.remove(&bar);
        }
        let bar = match self.calls.get(&event.token) {
            Some(bar) => bar.clone(),
            None => {
                let bar = self.multi.add(ProgressBar::no_length());
                self.calls.insert(event.token.clone(), bar.clone());
                self.forget_finished();
                bar
            }
        };
        match event.total {
            Some(total) => {
                bar.set_style(known_total());
                bar.set_length(total);
            }
            None => {
                bar.set_style(unknown_total());
                bar.unset_length();
            }
        }
        bar.set_prefix(event.title());
        bar.set_position(event.progress);
        bar.set_message(event.message.clone().unwrap_or_default());
        if event.total.is_some_and(|total| event.progress >= total) {
            bar.finish();
        } else {
            bar.tick();
        }
    }

    /// Removes the oldest finished bars beyond [`FINISHED_KEPT`], then the oldest of any
    /// beyond [`MAX_BARS`].
    fn forget_finished(&mut self) {
        let finished = self.calls.values().filter(|bar| bar.is_finished()).count();
        let mut excess = finished.saturating_sub(FINISHED_KEPT);
        self.calls.retain(|_, bar| {
            if excess > 0 && bar.is_finished() {
                excess -= 1;
                self.multi.remove(bar);
                false
            } else {
                true
            }
        });
        while self.calls.len() > MAX_BARS {
            if let Some((_, bar)) = self.calls.shift_remove_index(0) {
                self.multi.remove(&bar);
            }
        }
    }
}

/// The style of a bar whose total is known.
fn known_total() -> ProgressStyle {
    ProgressStyle::with_template("{prefix:.bold} [{bar:30.cyan/blue}] {pos}/{len} {wide_msg}")
        .expect("a valid template")
        .progress_chars("=> ")
}

/// The style of a call whose total is unknown: a spinner and a count.
fn unknown_total() -> ProgressStyle {
    ProgressStyle::with_template("{prefix:.bold} {spinner} {pos} {wide_msg}")
        .expect("a valid template")
}
