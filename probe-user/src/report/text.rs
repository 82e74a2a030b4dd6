//! The report as text for a terminal and as Markdown: the same sections and tables, aligned
//! for one, piped for the other.

use std::fmt::Write as _;

use super::{Levels, Report};
use crate::{findings::format_rfc3339_ms, knowledge::named, printable};

/// One table of the report: a title, its columns, its rows, and what to say when empty.
pub(super) struct Section {
    pub title: String,
    pub head: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
    pub empty: &'static str,
}

fn level_cells(l: &Levels) -> Vec<String> {
    l.each().iter().map(|(_, n)| n.to_string()).collect()
}

/// The lines above the tables: what the report covers.
pub(super) fn heading(r: &Report) -> Vec<String> {
    let l = &r.levels;
    vec![
        format!("probe report: {}", r.source),
        format!(
            "from {} to {}",
            format_rfc3339_ms(r.from),
            format_rfc3339_ms(r.to)
        ),
        format!(
            "{} findings: {} hostile, {} suspicious, {} notable, {} benign",
            l.total(),
            l.hostile,
            l.suspicious,
            l.notable,
            l.benign
        ),
    ]
}

/// Every table of the report, in order.
pub(super) fn sections(r: &Report) -> Vec<Section> {
    let mut out = vec![
        Section {
            title: "Findings by kind".to_owned(),
            head: vec![
                "KIND",
                "HOSTILE",
                "SUSPICIOUS",
                "NOTABLE",
                "BENIGN",
                "TOTAL",
            ],
            rows: r
                .kinds
                .iter()
                .map(|k| {
                    let mut row = vec![k.kind.clone()];
                    row.extend(level_cells(&k.levels));
                    row.push(k.levels.total().to_string());
                    row
                })
                .collect(),
            empty: "no findings",
        },
        Section {
            title: "Ports probed by the most sources".to_owned(),
            head: vec![
                "PORT",
                "PROTO",
                "SOURCES",
                "FINDINGS",
                "LEVEL",
                "NAME: MEANING",
            ],
            rows: r
                .ports
                .iter()
                .map(|p| {
                    vec![
                        p.port.to_string(),
                        proto(p.proto).to_owned(),
                        p.sources.to_string(),
                        p.findings.to_string(),
                        p.level.to_string(),
                        named(&p.name, &p.meaning).into_owned(),
                    ]
                })
                .collect(),
            empty: "no findings about ports",
        },
        Section {
            title: "Sources with the worst findings".to_owned(),
            head: vec!["SOURCE", "FINDINGS", "LEVEL", "LAST SEEN", "WHAT"],
            rows: r
                .sources
                .iter()
                .map(|s| {
                    vec![
                        s.src.clone(),
                        s.findings.to_string(),
                        s.level.to_string(),
                        format_rfc3339_ms(s.last_seen),
                        s.kinds.join(", "),
                    ]
                })
                .collect(),
            empty: "no findings name a source",
        },
        Section {
            title: format!(
                "Findings opened per {}",
                if r.bucket_secs >= 86_400 {
                    "day"
                } else {
                    "hour"
                }
            ),
            head: vec!["FROM", "HOSTILE", "SUSPICIOUS", "NOTABLE", "BENIGN"],
            rows: r
                .over_time
                .iter()
                .filter(|b| b.levels.total() > 0)
                .map(|b| {
                    let mut row = vec![format_rfc3339_ms(b.start)];
                    row.extend(level_cells(&b.levels));
                    row
                })
                .collect(),
            empty: "no findings",
        },
    ];
    if let Some(c) = &r.counters {
        out.extend(capture_sections(c));
    }
    out
}

/// The tables of a capture's own counters.
fn capture_sections(c: &super::Counters) -> Vec<Section> {
    let s = &c.stats;
    let mut out = Vec::new();
    {
        out.push(Section {
            title: "Capture totals".to_owned(),
            head: vec!["COUNTER", "VALUE"],
            rows: [
                ("packets", s.packets),
                ("bytes", s.bytes),
                ("ipv4", s.ipv4),
                ("ipv6", s.ipv6),
                ("tcp (on ports)", s.tcp),
                ("udp (on ports)", s.udp),
                ("icmp", s.icmp),
                ("icmpv6", s.icmpv6),
                ("fragments", s.fragments),
                ("malformed", s.malformed),
                ("first contacts", s.events),
                ("contacts over the event rate", s.events_rate_limited),
            ]
            .iter()
            .map(|(k, v)| vec![(*k).to_owned(), v.to_string()])
            .collect(),
            empty: "nothing counted",
        });
        out.push(Section {
            title: "Busiest destination ports".to_owned(),
            head: vec!["PORT", "PROTO", "PACKETS", "SYN", "LEVEL", "NAME: MEANING"],
            rows: c
                .ports
                .iter()
                .map(|p| {
                    vec![
                        p.port.to_string(),
                        proto(p.proto).to_owned(),
                        p.packets.to_string(),
                        p.syn.to_string(),
                        p.level.clone(),
                        named(&p.name, &p.meaning).into_owned(),
                    ]
                })
                .collect(),
            empty: "no TCP or UDP",
        });
        out.push(Section {
            title: "ICMP messages".to_owned(),
            head: vec![
                "FAMILY",
                "TYPE",
                "CODE",
                "PACKETS",
                "LEVEL",
                "NAME: MEANING",
            ],
            rows: c
                .icmp
                .iter()
                .map(crate::query::answer::IcmpRow::cells)
                .collect(),
            empty: "no ICMP",
        });
        out.push(Section {
            title: "TCP flags".to_owned(),
            head: vec!["FLAGS", "PACKETS"],
            rows: c
                .flags
                .iter()
                .map(|f| vec![f.flags.clone(), f.packets.to_string()])
                .collect(),
            empty: "no TCP",
        });
        out.push(sources_section(c));
    }
    out
}

/// A capture's busiest sources, each with its findings.
fn sources_section(c: &super::Counters) -> Section {
    Section {
        title: "Busiest sources".to_owned(),
        head: vec!["SOURCE", "PACKETS", "SYN", "PORTS~", "HOSTS~", "FINDINGS"],
        rows: c
            .sources
            .iter()
            .map(|s| {
                let found: Vec<String> = s
                    .findings
                    .iter()
                    .map(crate::sources::SourceFinding::label)
                    .collect();
                vec![
                    s.src.clone(),
                    s.packets.to_string(),
                    s.syns.to_string(),
                    s.ports.to_string(),
                    s.hosts.to_string(),
                    found.join(", "),
                ]
            })
            .collect(),
        empty: "no sources",
    }
}

fn proto(p: crate::knowledge::Proto) -> &'static str {
    match p {
        crate::knowledge::Proto::Tcp => "tcp",
        crate::knowledge::Proto::Udp => "udp",
    }
}

/// The report for a terminal: aligned tables (numbers right), one blank line between.
/// Every text from a finding or a file goes through [`printable::line`] before it is aligned.
pub fn text(r: &Report) -> String {
    let heading: Vec<String> = heading(r)
        .iter()
        .map(|l| printable::line(l).into_owned())
        .collect();
    let mut out = heading.join("\n");
    out.push('\n');
    for s in sections(r) {
        let _ = write!(out, "\n{}\n", s.title);
        if s.rows.is_empty() {
            let _ = writeln!(out, "({})", s.empty);
        } else {
            let rows = s
                .rows
                .iter()
                .map(|row| {
                    row.iter()
                        .map(|c| printable::line(c).into_owned())
                        .collect()
                })
                .collect();
            out.push_str(&crate::cli::query::table(&s.head, rows, true, ""));
        }
    }
    out
}

/// A Markdown table cell: one line, its pipes escaped, and no HTML a viewer would render.
fn cell(text: &str) -> String {
    printable::line(text)
        .replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The report in Markdown: a title, the heading as a list, one table per section.
pub fn markdown(r: &Report) -> String {
    let mut lines = heading(r).into_iter().map(|l| cell(&l));
    let mut out = format!("# {}\n\n", lines.next().unwrap_or_default());
    for l in lines {
        let _ = writeln!(out, "- {l}");
    }
    for s in sections(r) {
        let _ = write!(out, "\n## {}\n\n", s.title);
        if s.rows.is_empty() {
            let _ = writeln!(out, "_{}_", s.empty);
            continue;
        }
        let _ = writeln!(out, "| {} |", s.head.join(" | "));
        let numeric: Vec<bool> = (0..s.head.len())
            .map(|i| {
                s.rows
                    .iter()
                    .all(|r| r.get(i).is_some_and(|c| c.parse::<u64>().is_ok()))
            })
            .collect();
        let rule: Vec<&str> = numeric
            .iter()
            .map(|n| if *n { "---:" } else { "---" })
            .collect();
        let _ = writeln!(out, "|{}|", rule.join("|"));
        for row in &s.rows {
            let cells: Vec<String> = row.iter().map(|c| cell(c)).collect();
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        }
    }
    out
}
