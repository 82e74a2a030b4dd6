//! The Prometheus text exposition format (0.0.4), written by hand: `# HELP` and `# TYPE` lines
//! per family, one line per series, label values escaped.

use std::fmt::Write as _;

/// An exposition being written; every series gets the `iface` label first.
pub(super) struct Exposition {
    out: String,
    iface: String,
    series: usize,
    /// Where each family's `# HELP` line and its first series start in `out`, in order: what
    /// [`merge`] needs to put several interfaces' series under one header.
    families: Vec<(usize, usize)>,
}

impl Exposition {
    pub(super) fn new(iface: &str) -> Self {
        Self {
            out: String::with_capacity(16 << 10),
            iface: iface.to_owned(),
            series: 0,
            families: Vec::new(),
        }
    }

    /// Starts a family: its help text and type (`counter`, `gauge`).
    pub(super) fn family(&mut self, name: &str, kind: &str, help: &str) {
        let start = self.out.len();
        let _ = writeln!(self.out, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
        self.families.push((start, self.out.len()));
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

    #[cfg(test)]
    pub(super) fn finish(self) -> String {
        self.out
    }

    /// Each family's header and series, in order.
    fn parts(&self) -> impl Iterator<Item = (&str, &str)> {
        self.families.iter().enumerate().map(|(i, &(head, body))| {
            let end = self
                .families
                .get(i + 1)
                .map_or(self.out.len(), |&(next, _)| next);
            (&self.out[head..body], &self.out[body..end])
        })
    }
}

/// Several interfaces' expositions as one: the format wants each family once, its series
/// together, so each family's header is written once and every interface's series follow it.
/// All were written by the same code, so they hold the same families in the same order.
pub(super) fn merge(all: &[Exposition]) -> String {
    let Some(first) = all.first() else {
        return String::new();
    };
    let mut out = String::with_capacity(all.iter().map(|e| e.out.len()).sum());
    let mut parts: Vec<_> = all.iter().map(Exposition::parts).collect();
    for (head, body) in first.parts() {
        out.push_str(head);
        out.push_str(body);
        for other in parts.iter_mut().skip(1) {
            if let Some((other_head, other_body)) = other.next() {
                debug_assert_eq!(head, other_head, "the same families in the same order");
                out.push_str(other_body);
            }
        }
    }
    out
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

    #[test]
    fn several_interfaces_share_each_familys_header() {
        let one = |iface: &str, n: f64| {
            let mut e = Exposition::new(iface);
            e.family("probe_a_total", "counter", "A.");
            e.sample("probe_a_total", &[], n);
            e.family("probe_b", "gauge", "B.");
            e.sample("probe_b", &[("k", "x")], n + 1.0);
            e.sample("probe_b", &[("k", "y")], n + 2.0);
            e
        };
        assert_eq!(
            merge(&[one("eth0", 1.0), one("eth1", 10.0)]),
            "# HELP probe_a_total A.\n# TYPE probe_a_total counter\n\
             probe_a_total{iface=\"eth0\"} 1\n\
             probe_a_total{iface=\"eth1\"} 10\n\
             # HELP probe_b B.\n# TYPE probe_b gauge\n\
             probe_b{iface=\"eth0\",k=\"x\"} 2\n\
             probe_b{iface=\"eth0\",k=\"y\"} 3\n\
             probe_b{iface=\"eth1\",k=\"x\"} 11\n\
             probe_b{iface=\"eth1\",k=\"y\"} 12\n"
        );
        assert_eq!(merge(&[one("eth0", 1.0)]), one("eth0", 1.0).finish());
    }
}
