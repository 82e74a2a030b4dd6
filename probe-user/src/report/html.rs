//! The report as one HTML file that needs nothing else: its style inline, its charts drawn in
//! SVG inside it, no script and nothing fetched, so it reads the same offline, attached to a
//! ticket or mailed. Every text that comes from a finding, a capture or a knowledge file is
//! escaped: an explanation holding `<script>` shows as text.

use std::fmt::Write as _;

use super::{
    Levels, Report,
    text::{Section, heading, sections},
};
use crate::{findings::format_rfc3339_ms, knowledge::Level, printable};

/// Findings listed in full at the end, at most (the worst and latest first).
const LISTED: usize = 1000;

/// `text` safe inside an element or a quoted attribute, control characters escaped too.
pub fn escape(text: &str) -> String {
    let text = printable::line(text);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A level's colour in the charts and badges.
fn colour(level: Level) -> &'static str {
    match level {
        Level::Hostile => "#c0392b",
        Level::Suspicious => "#d68910",
        Level::Notable => "#2e86c1",
        Level::Benign => "#229954",
    }
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;\
max-width:72em;padding:0 1em;color:#222}h1{margin-bottom:.2em}h2{margin-top:1.6em;border-bottom:1px \
solid #ddd}.meta{color:#555}table{border-collapse:collapse;margin:.5em 0;font-size:.92em}\
th,td{border:1px solid #ddd;padding:.25em .5em;text-align:left;vertical-align:top}\
th{background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}\
.badge{display:inline-block;color:#fff;border-radius:.3em;padding:.15em .6em;margin-right:.4em}\
svg{display:block;margin:.5em 0;max-width:100%;height:auto}svg text{font-size:11px;fill:#333}\
.empty{color:#777;font-style:italic}";

/// The whole file.
pub fn html(r: &Report) -> String {
    let mut out = String::new();
    let head = heading(r);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>probe report</h1>\n",
        escape(&head[0])
    );
    let _ = writeln!(
        out,
        "<p class=\"meta\">{}<br>{}</p>",
        escape(&r.source),
        escape(&head[1])
    );
    out.push_str("<p>");
    for (level, n) in r.levels.each() {
        let _ = write!(
            out,
            "<span class=\"badge\" style=\"background:{}\">{n} {level}</span>",
            colour(level)
        );
    }
    out.push_str("</p>\n");
    let per = if r.bucket_secs >= 86_400 {
        "day"
    } else {
        "hour"
    };
    let _ = writeln!(out, "<h2>Findings opened per {per}</h2>");
    out.push_str(&columns(r));
    out.push_str(&legend());
    let all = sections(r);
    let mut sections = all.into_iter();
    if let Some(kinds) = sections.next() {
        let _ = writeln!(out, "<h2>{}</h2>", escape(&kinds.title));
        let rows: Vec<(String, Levels)> =
            r.kinds.iter().map(|k| (k.kind.clone(), k.levels)).collect();
        out.push_str(&bars(&rows));
        out.push_str(&table(&kinds));
    }
    if let Some(ports) = sections.next() {
        let _ = writeln!(out, "<h2>{}</h2>", escape(&ports.title));
        let rows: Vec<(String, Levels)> = r
            .ports
            .iter()
            .map(|p| {
                // As long as its sources, in the colour of its worst finding.
                let mut l = Levels::default();
                l.add_n(p.level, p.sources.max(1));
                (format!("{}/{}", p.port, proto_word(p.proto)), l)
            })
            .collect();
        out.push_str(&bars(&rows));
        out.push_str(&table(&ports));
    }
    // The rest: sources, the table behind the first chart, and a capture's counters.
    for s in sections {
        let _ = writeln!(out, "<h2>{}</h2>", escape(&s.title));
        out.push_str(&table(&s));
    }
    out.push_str(&findings(r));
    out.push_str("</body>\n</html>\n");
    out
}

fn proto_word(p: crate::knowledge::Proto) -> &'static str {
    match p {
        crate::knowledge::Proto::Tcp => "tcp",
        crate::knowledge::Proto::Udp => "udp",
    }
}

/// A section's table; number columns right-aligned.
fn table(s: &Section) -> String {
    if s.rows.is_empty() {
        return format!("<p class=\"empty\">{}</p>\n", escape(s.empty));
    }
    let numeric: Vec<bool> = (0..s.head.len())
        .map(|i| {
            s.rows
                .iter()
                .all(|r| r.get(i).is_some_and(|c| c.parse::<u64>().is_ok()))
        })
        .collect();
    let mut out = String::from("<table>\n<tr>");
    for h in &s.head {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("</tr>\n");
    for row in &s.rows {
        out.push_str("<tr>");
        for (i, c) in row.iter().enumerate() {
            if numeric.get(i).copied().unwrap_or(false) {
                let _ = write!(out, "<td class=\"n\">{}</td>", escape(c));
            } else {
                let _ = write!(out, "<td>{}</td>", escape(c));
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
    out
}

fn legend() -> String {
    let mut out = String::from("<p>");
    for level in [
        Level::Hostile,
        Level::Suspicious,
        Level::Notable,
        Level::Benign,
    ] {
        let _ = write!(
            out,
            "<span class=\"badge\" style=\"background:{}\">{level}</span>",
            colour(level)
        );
    }
    out.push_str("</p>\n");
    out
}

/// Findings opened per bucket as columns stacked by level, the busiest bucket full height.
fn columns(report: &Report) -> String {
    const WIDTH: f64 = 720.0;
    const HEIGHT: f64 = 160.0;
    const LEFT: f64 = 36.0;
    const BOTTOM: f64 = 18.0;
    let top = report
        .over_time
        .iter()
        .map(|b| b.levels.total())
        .max()
        .unwrap_or(0)
        .max(1);
    let buckets = report.over_time.len().max(1) as f64;
    let step = (WIDTH - LEFT) / buckets;
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{}\" \
         viewBox=\"0 0 {WIDTH} {}\" role=\"img\" aria-label=\"findings opened over time\">\n",
        HEIGHT + BOTTOM,
        HEIGHT + BOTTOM
    );
    let _ = writeln!(
        out,
        "<line x1=\"{LEFT}\" y1=\"{HEIGHT}\" x2=\"{WIDTH}\" y2=\"{HEIGHT}\" stroke=\"#999\"/>\
         <text x=\"{}\" y=\"10\" text-anchor=\"end\">{top}</text>\
         <text x=\"{}\" y=\"{HEIGHT}\" text-anchor=\"end\">0</text>",
        LEFT - 4.0,
        LEFT - 4.0
    );
    for (i, b) in report.over_time.iter().enumerate() {
        let left = LEFT + i as f64 * step;
        let mut bottom = HEIGHT;
        for (level, count) in b.levels.each().iter().rev() {
            if *count == 0 {
                continue;
            }
            let height = (HEIGHT - 12.0) * *count as f64 / top as f64;
            bottom -= height;
            let _ = writeln!(
                out,
                "<rect x=\"{left:.1}\" y=\"{bottom:.1}\" width=\"{:.1}\" height=\"{height:.1}\" fill=\"{}\">\
                 <title>{} {count} {level}</title></rect>",
                (step - 1.0).max(0.5),
                colour(*level),
                escape(&format_rfc3339_ms(b.start))
            );
        }
    }
    if let (Some(first), Some(last)) = (report.over_time.first(), report.over_time.last()) {
        let _ = writeln!(
            out,
            "<text x=\"{LEFT}\" y=\"{}\">{}</text><text x=\"{WIDTH}\" y=\"{}\" \
             text-anchor=\"end\">{}</text>",
            HEIGHT + 14.0,
            escape(&format_rfc3339_ms(first.start)),
            HEIGHT + 14.0,
            escape(&format_rfc3339_ms(last.start))
        );
    }
    out.push_str("</svg>\n");
    out
}

/// One horizontal bar per row, stacked by level, the longest full width.
fn bars(rows: &[(String, Levels)]) -> String {
    const WIDTH: f64 = 720.0;
    const LABEL: f64 = 160.0;
    const ROW: f64 = 18.0;
    if rows.is_empty() {
        return String::new();
    }
    let top = rows
        .iter()
        .map(|(_, l)| l.total())
        .max()
        .unwrap_or(0)
        .max(1);
    let height = ROW * rows.len() as f64;
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" \
         viewBox=\"0 0 {WIDTH} {height}\" role=\"img\">\n"
    );
    for (i, (label, levels)) in rows.iter().enumerate() {
        let y = i as f64 * ROW;
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            LABEL - 6.0,
            y + 13.0,
            escape(label)
        );
        let mut x = LABEL;
        for (level, count) in levels.each() {
            if count == 0 {
                continue;
            }
            let w = (WIDTH - LABEL - 40.0) * count as f64 / top as f64;
            let _ = write!(
                out,
                "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{}\" fill=\"{}\">\
                 <title>{} {count} {level}</title></rect>",
                y + 2.0,
                ROW - 4.0,
                colour(level),
                escape(label)
            );
            x += w;
        }
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            x + 4.0,
            y + 13.0,
            levels.total()
        );
    }
    out.push_str("</svg>\n");
    out
}

/// Every finding in full (the worst and latest first), explanations included.
fn findings(r: &Report) -> String {
    let mut listed: Vec<&crate::history::Stored> = r.findings.iter().collect();
    listed.sort_by(|a, b| {
        (b.finding.level, b.finding.last_seen_ns).cmp(&(a.finding.level, a.finding.last_seen_ns))
    });
    let mut out = String::from("<h2>Findings</h2>\n");
    if listed.is_empty() {
        out.push_str("<p class=\"empty\">no findings</p>\n");
        return out;
    }
    if listed.len() > LISTED {
        let _ = writeln!(
            out,
            "<p>The {LISTED} worst and latest of {}; the JSON report holds them all.</p>",
            listed.len()
        );
        listed.truncate(LISTED);
    }
    out.push_str(
        "<table>\n<tr><th>LEVEL</th><th>KIND</th><th>SOURCE</th><th>DESTINATION</th>\
         <th>PORT</th><th>COUNT</th><th>FIRST SEEN</th><th>LAST SEEN</th>\
         <th>EXPLANATION</th></tr>\n",
    );
    for s in listed {
        let f = &s.finding;
        let port = match (f.port, f.proto) {
            (Some(p), Some(proto)) => format!("{p}/{}", proto.as_str()),
            (Some(p), None) => p.to_string(),
            (None, _) => String::new(),
        };
        let _ = writeln!(
            out,
            "<tr><td><span class=\"badge\" style=\"background:{}\">{}</span></td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td>\
             <td>{}</td></tr>",
            colour(f.level),
            f.level,
            escape(f.kind.as_str()),
            escape(f.src.as_deref().unwrap_or("")),
            escape(f.dst.as_deref().unwrap_or("")),
            escape(&port),
            f.count,
            escape(&format_rfc3339_ms(f.first_seen_ns)),
            escape(&format_rfc3339_ms(f.last_seen_ns)),
            escape(&f.explanation)
        );
    }
    out.push_str("</table>\n");
    out
}
