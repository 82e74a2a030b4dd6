//! The Prometheus text exposition format (0.0.4), written by hand: `# HELP` and `# TYPE` lines
//! per family, one line per series, label values escaped.

use std::fmt::Write as _;

/// An exposition being written; every series gets the `iface` label first.
pub(super) struct Exposition {
    out: String,
    iface: String,
    series: usize,
}

impl Exposition {
    pub(super) fn new(iface: &str) -> Self {
        Self {
            out: String::with_capacity(16 << 10),
            iface: iface.to_owned(),
            series: 0,
        }
    }

    /// Starts a family: its help text and type (`counter`, `gauge`).
    pub(super) fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    /// One series of the family last started.
    pub(super) fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(name);
        self.out.push_str("{iface=\"");
        push_label_value(&mut self.out, &self.iface);
        self.out.push('"');
        for (k, v) in labels {
            let _ = write!(self.out, ",{k}=\"");
            push_label_value(&mut self.out, v);
            self.out.push('"');
        }
        self.out.push_str("} ");
        if value.fract() == 0.0 && value.abs() < 9e15 {
            let _ = writeln!(self.out, "{value:.0}");
        } else {
            let _ = writeln!(self.out, "{value}");
        }
        self.series += 1;
    }

    pub(super) fn finish(self) -> String {
        self.out
    }
}

/// Backslash and newline escaped, as the format asks of help text.
fn escape_help(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n")
}

/// Backslash, double quote and newline escaped, as the format asks of label values.
fn push_label_value(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_and_series_are_written_in_the_text_format_with_escaped_values() {
        let mut e = Exposition::new("eth\"0");
        e.family("probe_x_total", "counter", "A help\\text\nover two lines.");
        e.sample("probe_x_total", &[("port", "80")], 12.0);
        e.sample("probe_x_total", &[("kind", "a\\b\nc")], 0.25);
        assert_eq!(e.series, 2);
        assert_eq!(
            e.finish(),
            "# HELP probe_x_total A help\\\\text\\nover two lines.\n\
             # TYPE probe_x_total counter\n\
             probe_x_total{iface=\"eth\\\"0\",port=\"80\"} 12\n\
             probe_x_total{iface=\"eth\\\"0\",kind=\"a\\\\b\\nc\"} 0.25\n"
        );
    }
}
