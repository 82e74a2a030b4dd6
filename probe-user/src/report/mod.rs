//! The "what am I seeing" report: from the findings of a period (the history's, or a
//! replayed capture's) the ports most probed with what they mean, the sources with their
//! findings, and the findings by kind and level over time; for a capture also its counters
//! (ports, ICMP messages, TCP flags, busiest sources). One [`Report`], built once, written as
//! text, Markdown, JSON or one self-contained HTML file ([`Format`]).

mod html;
mod text;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use crate::{
    contact,
    findings::{Finding, format_rfc3339_ms},
    history::Stored,
    knowledge::{Direction, Knowledge, Level, Proto},
    query::answer::{FlagRow, IcmpRow, PortRow, Stats},
    sources::SourceRow,
};

/// Rows each "top" table holds.
pub const TOP: usize = 20;
/// Ports of one finding's evidence counted at most (a full scan lists thousands).
pub const PORTS_PER_FINDING: usize = 256;
/// Buckets are hours up to this span, days beyond it.
const HOURLY_UP_TO_NS: u64 = 31 * DAY_NS;
const HOUR_NS: u64 = 3_600_000_000_000;
const DAY_NS: u64 = 24 * HOUR_NS;

/// How a report is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned tables for a terminal.
    Text,
    /// Markdown tables, for a ticket or a wiki.
    Markdown,
    /// One JSON object (the same fields as the other formats).
    Json,
    /// One self-contained HTML file, charts drawn inline in SVG: no script, nothing fetched.
    Html,
}

/// Findings of one level and above it, as the report counts them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Levels {
    pub hostile: u64,
    pub suspicious: u64,
    pub notable: u64,
    pub benign: u64,
}

impl Levels {
    fn add(&mut self, level: Level) {
        self.add_n(level, 1);
    }

    fn add_n(&mut self, level: Level, n: u64) {
        match level {
            Level::Hostile => self.hostile += n,
            Level::Suspicious => self.suspicious += n,
            Level::Notable => self.notable += n,
            Level::Benign => self.benign += n,
        }
    }

    pub fn total(&self) -> u64 {
        self.hostile + self.suspicious + self.notable + self.benign
    }

    /// The counts, highest level first, with the level's name.
    pub fn each(&self) -> [(Level, u64); 4] {
        [
            (Level::Hostile, self.hostile),
            (Level::Suspicious, self.suspicious),
            (Level::Notable, self.notable),
            (Level::Benign, self.benign),
        ]
    }
}

/// Findings of one kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KindRow {
    pub kind: String,
    pub levels: Levels,
}

/// A port the findings are about, with what it means.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PortLine {
    pub port: u16,
    pub proto: Proto,
    /// Distinct sources of the findings about it (`many` not counted).
    pub sources: u64,
    pub findings: u64,
    /// The highest level of those findings.
    pub level: Level,
    pub name: String,
    pub meaning: String,
    /// The port's own level in the knowledge tables.
    pub known_level: Level,
}

/// A source and its findings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SourceLine {
    pub src: String,
    pub findings: u64,
    /// Its highest level.
    pub level: Level,
    /// Its findings' kinds, each with its port where it has one (`trojan_probe 31337`),
    /// highest level first.
    pub kinds: Vec<String>,
    #[serde(serialize_with = "time")]
    pub first_seen: u64,
    #[serde(serialize_with = "time")]
    pub last_seen: u64,
}

/// Findings opened in one bucket of time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Bucket {
    #[serde(serialize_with = "time")]
    pub start: u64,
    pub levels: Levels,
}

/// A capture's own counters, as `probe query` answers the daemon's.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Counters {
    pub stats: Stats,
    /// The busiest destination ports.
    pub ports: Vec<PortRow>,
    pub icmp: Vec<IcmpRow>,
    pub flags: Vec<FlagRow>,
    /// The busiest sources, each with its findings.
    pub sources: Vec<SourceRow>,
}

/// The whole report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// What it was made from: `the findings history PATH`, `the capture FILE`.
    pub source: String,
    #[serde(serialize_with = "time")]
    pub from: u64,
    #[serde(serialize_with = "time")]
    pub to: u64,
    /// Findings by level, all kinds.
    pub levels: Levels,
    /// Every kind found, most findings first.
    pub kinds: Vec<KindRow>,
    /// The ports most sources were found probing.
    pub ports: Vec<PortLine>,
    /// The sources with the worst findings.
    pub sources: Vec<SourceLine>,
    /// Length of each bucket of `over_time`, in seconds: an hour, or a day for a span of
    /// more than 31 days.
    pub bucket_secs: u64,
    /// Findings opened per bucket, from `from` to `to`.
    pub over_time: Vec<Bucket>,
    /// A capture's counters; none for the history, which keeps findings only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counters: Option<Counters>,
    /// Every finding (its latest state), in the order they opened.
    pub findings: Vec<Stored>,
}

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's serialize_with passes a reference"
)]
fn time<S: serde::Serializer>(ns: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_rfc3339_ms(*ns))
}

/// The knowledge's protocol of a finding's transport, for the port tables.
fn port_proto(p: Option<contact::Proto>) -> Option<Proto> {
    match p {
        Some(contact::Proto::Tcp) => Some(Proto::Tcp),
        Some(contact::Proto::Udp) => Some(Proto::Udp),
        _ => None,
    }
}

/// Ports a finding is about: its `port`, and those of its evidence (`ports` as a list of
/// entries, or as runs like `"20-25,80 (+3 more ports)"`), at most [`PORTS_PER_FINDING`].
fn ports_of(f: &Finding) -> BTreeSet<(u16, Proto)> {
    let mut out = BTreeSet::new();
    let proto = port_proto(f.proto);
    if let (Some(port), Some(proto)) = (f.port, proto) {
        out.insert((port, proto));
    }
    match f.evidence.get("ports") {
        Some(serde_json::Value::Array(entries)) => {
            for e in entries.iter().take(PORTS_PER_FINDING) {
                let port = e
                    .get("port")
                    .and_then(serde_json::Value::as_u64)
                    .and_then(|p| u16::try_from(p).ok());
                let proto = match e.get("proto").and_then(serde_json::Value::as_str) {
                    Some("tcp") => Some(Proto::Tcp),
                    Some("udp") => Some(Proto::Udp),
                    _ => proto,
                };
                if let (Some(port), Some(proto)) = (port, proto) {
                    out.insert((port, proto));
                }
            }
        }
        Some(serde_json::Value::String(runs)) => {
            let Some(proto) = proto else {
                return out;
            };
            let listed = runs.split(" (").next().unwrap_or_default();
            'runs: for run in listed.split(',') {
                let mut ends = run.trim().splitn(2, '-').map(|p| p.trim().parse::<u16>());
                let (Some(Ok(lo)), hi) = (ends.next(), ends.next()) else {
                    continue;
                };
                let hi = match hi {
                    Some(Ok(hi)) => hi,
                    Some(Err(_)) => continue,
                    None => lo,
                };
                for port in lo..=hi {
                    if out.len() >= PORTS_PER_FINDING {
                        break 'runs;
                    }
                    out.insert((port, proto));
                }
            }
        }
        _ => {}
    }
    out
}

/// A source address a finding names alone (not `many`, not none).
fn one_source(f: &Finding) -> Option<&str> {
    f.src.as_deref().filter(|s| *s != "many")
}

impl Report {
    /// The report of `findings` (the latest state of each) seen from `from` to `to`, made from
    /// `source`; ports explained with `knowledge`.
    pub fn new(
        source: String,
        from: u64,
        to: u64,
        findings: Vec<Stored>,
        knowledge: &Knowledge,
    ) -> Self {
        let mut levels = Levels::default();
        let mut kinds: BTreeMap<&str, Levels> = BTreeMap::new();
        let mut ports: HashMap<(u16, Proto), (BTreeSet<&str>, u64, Level)> = HashMap::new();
        let mut sources: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
        for s in &findings {
            let f = &s.finding;
            levels.add(f.level);
            kinds.entry(f.kind.as_str()).or_default().add(f.level);
            for key in ports_of(f) {
                let entry = ports
                    .entry(key)
                    .or_insert_with(|| (BTreeSet::new(), 0, Level::Benign));
                if let Some(src) = one_source(f) {
                    entry.0.insert(src);
                }
                entry.1 += 1;
                entry.2 = entry.2.max(f.level);
            }
            if let Some(src) = one_source(f) {
                sources.entry(src).or_default().push(f);
            }
        }
        let mut kinds: Vec<KindRow> = kinds
            .into_iter()
            .map(|(kind, levels)| KindRow {
                kind: kind.to_owned(),
                levels,
            })
            .collect();
        kinds.sort_by_key(|k| std::cmp::Reverse(k.levels.total()));
        let mut ports: Vec<PortLine> = ports
            .into_iter()
            .map(|((port, proto), (srcs, n, level))| {
                let m = knowledge.port(port, proto, Direction::Destination);
                PortLine {
                    port,
                    proto,
                    sources: srcs.len() as u64,
                    findings: n,
                    level,
                    name: m.name,
                    meaning: m.meaning,
                    known_level: m.level,
                }
            })
            .collect();
        ports.sort_by(|a, b| {
            (b.sources, b.findings, b.level)
                .cmp(&(a.sources, a.findings, a.level))
                .then((a.port, a.proto).cmp(&(b.port, b.proto)))
        });
        ports.truncate(TOP);
        let mut sources: Vec<SourceLine> = sources
            .into_iter()
            .map(|(src, mut found)| {
                found.sort_by(|a, b| b.level.cmp(&a.level).then(a.id.cmp(&b.id)));
                let mut kinds = Vec::new();
                for f in &found {
                    let k = match f.port {
                        Some(p) => format!("{} {p}", f.kind),
                        None => f.kind.as_str().to_owned(),
                    };
                    if !kinds.contains(&k) {
                        kinds.push(k);
                    }
                }
                SourceLine {
                    src: src.to_owned(),
                    findings: found.len() as u64,
                    level: found.first().map_or(Level::Benign, |f| f.level),
                    kinds,
                    first_seen: found.iter().map(|f| f.first_seen_ns).min().unwrap_or(0),
                    last_seen: found.iter().map(|f| f.last_seen_ns).max().unwrap_or(0),
                }
            })
            .collect();
        sources.sort_by(|a, b| {
            (b.level, b.findings)
                .cmp(&(a.level, a.findings))
                .then_with(|| a.src.cmp(&b.src))
        });
        sources.truncate(TOP);
        let (bucket_secs, over_time) = buckets(from, to, &findings);
        Self {
            source,
            from,
            to,
            levels,
            kinds,
            ports,
            sources,
            bucket_secs,
            over_time,
            counters: None,
            findings,
        }
    }

    /// The report with a capture's counters.
    #[must_use]
    pub fn with_counters(mut self, counters: Counters) -> Self {
        self.counters = Some(counters);
        self
    }

    /// The report written in `format`.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Text => text::text(self),
            Format::Markdown => text::markdown(self),
            Format::Json => {
                // Strings, numbers and JSON values only: serializing cannot fail.
                let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
                s.push('\n');
                s
            }
            Format::Html => html::html(self),
        }
    }
}

/// Findings opened per hour (per day beyond [`HOURLY_UP_TO_NS`]) from `from` to `to`; one
/// opened before `from` counts in the first bucket.
fn buckets(from: u64, to: u64, findings: &[Stored]) -> (u64, Vec<Bucket>) {
    let to = to.max(from);
    let width = if to - from > HOURLY_UP_TO_NS {
        DAY_NS
    } else {
        HOUR_NS
    };
    let first = from / width;
    let last = to / width;
    let mut out: Vec<Bucket> = (first..=last)
        .map(|b| Bucket {
            start: b * width,
            levels: Levels::default(),
        })
        .collect();
    for s in findings {
        let b = (s.finding.first_seen_ns / width).clamp(first, last) - first;
        if let Some(bucket) = usize::try_from(b).ok().and_then(|b| out.get_mut(b)) {
            bucket.levels.add(s.finding.level);
        }
    }
    (width / 1_000_000_000, out)
}

#[cfg(test)]
mod tests;
