//! Rows of the results table, printed to stdout one per line as tab-separated fields for
//! `cargo xtask bench` to lay out (progress goes to stderr).

use std::io::Write as _;

/// Median, min and max of a set of trials.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Summary {
    /// `None` for no trials.
    pub fn of(values: &[f64]) -> Option<Self> {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            f64::midpoint(v[n / 2 - 1], v[n / 2])
        };
        Some(Self {
            median,
            min: v[0],
            max: v[n - 1],
        })
    }
}

/// Whether a row meets its target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// No target: a yardstick or a breakdown.
    Info,
    Met,
    Missed,
    /// The row could not be measured; the note says why.
    Unavailable,
}

impl Verdict {
    pub const fn judge(met: bool) -> Self {
        if met { Self::Met } else { Self::Missed }
    }

    const fn word(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Met => "met",
            Self::Missed => "MISSED",
            Self::Unavailable => "n/a",
        }
    }
}

/// One line of the table.
pub struct Row {
    pub section: &'static str,
    pub name: String,
    pub summary: Option<Summary>,
    pub unit: &'static str,
    /// The comparison the target is about, e.g. `2.1× empty`.
    pub ratio: String,
    pub target: String,
    pub verdict: Verdict,
    pub note: String,
}

impl Row {
    pub fn unavailable(
        section: &'static str,
        name: impl Into<String>,
        why: impl Into<String>,
    ) -> Self {
        Self {
            section,
            name: name.into(),
            summary: None,
            unit: "",
            ratio: String::new(),
            target: String::new(),
            verdict: Verdict::Unavailable,
            note: why.into(),
        }
    }

    /// Prints the row for xtask and flushes, so a later failure cannot lose it.
    pub fn emit(&self) {
        let num = |f: fn(&Summary) -> f64| {
            self.summary
                .as_ref()
                .map_or_else(|| "-".to_owned(), |s| format_value(f(s)))
        };
        let clean = |s: &str| s.replace(['\t', '\n'], " ");
        let line = [
            "ROW".to_owned(),
            self.section.to_owned(),
            clean(&self.name),
            num(|s| s.median),
            num(|s| s.min),
            num(|s| s.max),
            self.unit.to_owned(),
            clean(&self.ratio),
            clean(&self.target),
            self.verdict.word().to_owned(),
            clean(&self.note),
        ]
        .join("\t");
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
        eprintln!(
            "  {:<58} {:>10} {:<8} {:<14} {}",
            self.name,
            num(|s| s.median),
            self.unit,
            self.ratio,
            self.verdict.word()
        );
    }
}

/// Three significant digits, without scientific notation.
pub fn format_value(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        let s = Summary::of(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
        assert!((Summary::of(&[4.0, 1.0, 2.0, 3.0]).unwrap().median - 2.5).abs() < 1e-9);
        assert!(Summary::of(&[]).is_none());
    }

    #[test]
    fn values_keep_three_digits() {
        assert_eq!(format_value(12.345), "12.3");
        assert_eq!(format_value(1234.4), "1234");
        assert_eq!(format_value(0.01234), "0.012");
    }
}
