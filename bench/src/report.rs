//! What the scenarios report: Markdown tables for people, the same (and every run) as JSON.

use serde::Serialize;

/// One scenario's outcome.
#[derive(Debug, Serialize)]
pub struct ScenarioReport {
    /// `calls`, `sessions`, `fanout`, `auth-contention`.
    pub name: &'static str,
    /// Medians of the runs.
    pub tables: Vec<Table>,
    /// Each target with its measured value.
    pub targets: Vec<Target>,
    /// Remarks worth reading next to the numbers.
    pub notes: Vec<String>,
    /// Every run, as measured.
    pub runs: serde_json::Value,
}

/// A Markdown table.
#[derive(Debug, Serialize)]
pub struct Table {
    /// Shown above it.
    pub title: String,
    /// Column names.
    pub headers: Vec<String>,
    /// Cells.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these columns.
    pub fn new(title: impl Into<String>, headers: &[&str]) -> Self {
        Self {
            title: title.into(),
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The Markdown text.
    pub fn markdown(&self) -> String {
        let mut text = format!("{}\n\n", self.title);
        text.push_str(&format!("| {} |\n", self.headers.join(" | ")));
        text.push_str(&format!(
            "|{}\n",
            self.headers.iter().map(|_| "---|").collect::<String>()
        ));
        for row in &self.rows {
            text.push_str(&format!("| {} |\n", row.join(" | ")));
        }
        text
    }
}

/// A target and whether it was met.
#[derive(Debug, Serialize)]
pub struct Target {
    /// Scenario and measure.
    pub what: String,
    /// The goal, e.g. `≤ 15 µs`.
    pub goal: String,
    /// The measured median.
    pub measured: String,
    /// Met or missed.
    pub met: bool,
}

impl Target {
    /// A target met when `measured <= limit`.
    pub fn at_most(what: impl Into<String>, measured: f64, limit: f64, unit: &str) -> Self {
        Self {
            what: what.into(),
            goal: format!("≤ {limit} {unit}"),
            measured: format!("{} {unit}", fmt(measured)),
            met: measured <= limit,
        }
    }

    /// A target met when `measured` is at least a peer's own figure: `peer` is its name and
    /// that figure.
    pub fn at_least_of(
        what: impl Into<String>,
        measured: f64,
        peer: (&str, f64),
        unit: &str,
    ) -> Self {
        Self::against(what.into(), measured, peer, unit, ("≥", measured >= peer.1))
    }

    /// A target met when `measured` is at most a peer's own figure: `peer` is its name and that
    /// figure.
    pub fn at_most_of(
        what: impl Into<String>,
        measured: f64,
        peer: (&str, f64),
        unit: &str,
    ) -> Self {
        Self::against(what.into(), measured, peer, unit, ("≤", measured <= peer.1))
    }

    /// The target `sign` the peer's figure (`≥ nchan's 254123 /s`), measured as
    /// `180000 /s (0.71×)`; `met` says whether it holds.
    fn against(
        what: String,
        measured: f64,
        (peer, of_peer): (&str, f64),
        unit: &str,
        (sign, met): (&str, bool),
    ) -> Self {
        Self {
            what,
            goal: format!("{sign} {peer}'s {} {unit}", fmt(of_peer)),
            measured: format!("{} {unit} ({})", fmt(measured), ratio(measured, of_peer)),
            met,
        }
    }

    /// A target met when `measured >= limit`.
    pub fn at_least(what: impl Into<String>, measured: f64, limit: f64, unit: &str) -> Self {
        Self {
            what: what.into(),
            goal: format!("≥ {limit}{unit}"),
            measured: format!("{}{unit}", fmt(measured)),
            met: measured >= limit,
        }
    }
}

/// A number with about three significant digits.
pub fn fmt(value: f64) -> String {
    if value.is_nan() {
        return "-".into();
    }
    let magnitude = value.abs();
    if magnitude >= 1000.0 {
        format!("{value:.0}")
    } else if magnitude >= 100.0 {
        format!("{value:.1}")
    } else if magnitude >= 10.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.3}")
    }
}

/// Two numbers as `a / b` (a median and a 99th percentile, say), each as [`fmt`] writes it.
pub fn fmt_pair(a: f64, b: f64) -> String {
    format!("{} / {}", fmt(a), fmt(b))
}

/// A ratio as `0.62×`.
pub fn ratio(numerator: f64, denominator: f64) -> String {
    if denominator > 0.0 {
        format!("{:.2}×", numerator / denominator)
    } else {
        "-".into()
    }
}

/// Every scenario's Markdown.
pub fn markdown(reports: &[ScenarioReport]) -> String {
    let mut text = String::new();
    for report in reports {
        text.push_str(&format!("## {}\n\n", report.name));
        for table in &report.tables {
            text.push_str(&table.markdown());
            text.push('\n');
        }
        if !report.notes.is_empty() {
            for note in &report.notes {
                text.push_str(&format!("- {note}\n"));
            }
            text.push('\n');
        }
    }
    let mut targets = Table::new(
        "## targets",
        &["scenario / measure", "target", "measured", ""],
    );
    for report in reports {
        for target in &report.targets {
            targets.row(vec![
                target.what.clone(),
                target.goal.clone(),
                target.measured.clone(),
                if target.met { "met" } else { "**missed**" }.into(),
            ]);
        }
    }
    text.push_str(&targets.markdown());
    text
}
