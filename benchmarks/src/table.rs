//! A section of the report: rows of figures, each judged against its target or not, printed as
//! aligned text on stdout and as a Markdown table in BENCHMARKS.md.

use crate::bounds::Bound;

/// One table of the report.
pub struct Table {
    pub title: &'static str,
    /// What the rows measure, in which unit, the target and how a row is judged.
    pub about: String,
    pub columns: Vec<&'static str>,
    /// How many leading columns are labels (left-aligned in the text output).
    pub labels: usize,
    pub rows: Vec<Row>,
}

pub struct Row {
    pub cells: Vec<String>,
    pub verdict: Verdict,
}

pub enum Verdict {
    /// A baseline, or a table without a target.
    None,
    /// A row shown for reference, not judged.
    Reference(&'static str),
    Pass,
    /// Missed; the bound says what limits the figure.
    Miss(Bound),
}

impl Verdict {
    pub fn of(pass: bool, bound: Bound) -> Verdict {
        if pass {
            Verdict::Pass
        } else {
            Verdict::Miss(bound)
        }
    }

    fn word(&self) -> String {
        match self {
            Verdict::None => String::new(),
            Verdict::Reference(what) => format!("reference: {what}"),
            Verdict::Pass => "PASS".into(),
            Verdict::Miss(_) => "MISS".into(),
        }
    }
}

impl Table {
    pub fn new(title: &'static str, about: String, columns: Vec<&'static str>, labels: usize) -> Table {
        Table { title, about, columns, labels, rows: Vec::new() }
    }

    pub fn row(&mut self, cells: Vec<String>, verdict: Verdict) {
        debug_assert_eq!(cells.len(), self.columns.len(), "{}: one cell per column", self.title);
        self.rows.push(Row { cells, verdict });
    }

    pub fn judged(&self) -> usize {
        self.rows.iter().filter(|row| matches!(row.verdict, Verdict::Pass | Verdict::Miss(_))).count()
    }

    /// What bounds each missed row, each bound once, in the order of the rows.
    pub fn misses(&self) -> Vec<Bound> {
        let mut bounds = Vec::new();
        for row in &self.rows {
            if let Verdict::Miss(bound) = row.verdict {
                if !bounds.contains(&bound) {
                    bounds.push(bound);
                }
            }
        }
        bounds
    }

    pub fn missed(&self) -> usize {
        self.rows.iter().filter(|row| matches!(row.verdict, Verdict::Miss(_))).count()
    }

    /// The title, what is measured, and the rows in aligned columns.
    pub fn text(&self) -> String {
        let lines: Vec<Vec<String>> = std::iter::once(self.columns.iter().map(|c| c.to_string()).collect())
            .chain(self.rows.iter().map(|row| row.cells.clone()))
            .collect();
        let widths: Vec<usize> = (0..self.columns.len())
            .map(|i| lines.iter().map(|line| line[i].chars().count()).max().unwrap_or(0))
            .collect();
        let mut out = format!("\n{}\n{}", self.title, wrapped(&self.about, 100));
        for (i, line) in lines.iter().enumerate() {
            let mut text = String::new();
            for (column, (cell, width)) in line.iter().zip(&widths).enumerate() {
                if column < self.labels {
                    text += &format!("{cell:<width$}  ");
                } else {
                    text += &format!("{cell:>width$}  ");
                }
            }
            if let Some(row) = i.checked_sub(1).map(|r| &self.rows[r]) {
                text += &row.verdict.word();
            }
            out += text.trim_end();
            out.push('\n');
        }
        out
    }

    /// A Markdown section: the title, what is measured, the table, then a paragraph for each bound
    /// that a missed row meets.
    pub fn markdown(&self) -> String {
        let mut out = format!("### {}\n\n{}\n\n", self.title, self.about);
        let header: Vec<&str> = self.columns.iter().copied().chain(std::iter::once("")).collect();
        out += &format!("| {} |\n", header.join(" | "));
        let align: Vec<&str> =
            (0..header.len()).map(|i| if i < self.labels || i + 1 == header.len() { "---" } else { "---:" }).collect();
        out += &format!("|{}|\n", align.join("|"));
        for row in &self.rows {
            let verdict = match row.verdict {
                Verdict::Miss(_) => "**MISS**".to_string(),
                ref verdict => verdict.word(),
            };
            out += &format!("| {} | {verdict} |\n", row.cells.join(" | "));
        }
        for bound in self.misses() {
            out += &format!("\n{}\n", bound.paragraph());
        }
        out
    }
}

/// `text` broken into lines of at most `width` characters, at spaces, each ending in a newline.
fn wrapped(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            out += &line;
            out.push('\n');
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line += word;
    }
    out += &line;
    out.push('\n');
    out
}
