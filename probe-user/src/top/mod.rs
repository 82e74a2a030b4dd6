//! `probe top`: a live, full-screen view of the running daemon.
//!
//! The state ([`App`]) changes in two ways only, both plain functions over it and so tested
//! without a terminal: [`App::absorb`] takes a refresh's answers (or the trouble getting them)
//! and works out rates; [`keys::handle`] takes a key. [`view::draw`] turns the state into a
//! screen, and [`screen::run`] ties them to a terminal and the asking thread ([`feed`]).

pub mod feed;
pub mod keys;
pub mod screen;
pub mod view;

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    time::Duration,
};

use self::feed::{Answers, Outcome, PORT_ROWS, Trouble, Want, rate};
use crate::{
    findings::Finding,
    query::{
        answer::{IcmpRow, PortAnswer, PortRow, Stats},
        protocol::Proto,
    },
    sources::SourceRow,
};

/// How long rate history a ports row's sparkline shows.
pub const HISTORY: Duration = Duration::from_mins(1);
/// With a daemon whose `stats` answer does not count its open findings (an older one), a
/// finding counts as open while its last contact is this recent: the daemon's default
/// `findings.window_secs`, after which it closes a finding.
pub const OPEN_WINDOW: Duration = Duration::from_mins(5);
/// Findings held for the findings pane, the newest.
pub const KEEP_FINDINGS: usize = 2000;
/// How long a notice (the daemon back, a refusal) stays on screen.
const NOTICE_FOR: Duration = Duration::from_secs(5);
/// Characters a filter holds at most.
const FILTER_MAX: usize = 64;

/// The four panes, in the order Tab visits them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Pane {
    Ports,
    Sources,
    Findings,
    Icmp,
}

impl Pane {
    pub const ALL: [Self; 4] = [Self::Ports, Self::Sources, Self::Findings, Self::Icmp];

    pub const fn index(self) -> usize {
        match self {
            Self::Ports => 0,
            Self::Sources => 1,
            Self::Findings => 2,
            Self::Icmp => 3,
        }
    }

    #[must_use]
    pub const fn next(self) -> Self {
        Self::ALL[(self.index() + 1) % 4]
    }

    #[must_use]
    pub const fn previous(self) -> Self {
        Self::ALL[(self.index() + 3) % 4]
    }

    pub const fn title(self) -> &'static str {
        match self {
            Self::Ports => "Ports",
            Self::Sources => "Sources",
            Self::Findings => "Findings",
            Self::Icmp => "ICMP",
        }
    }

    /// The orders `s` cycles through, the first the default.
    pub const fn sorts(self) -> &'static [&'static str] {
        match self {
            Self::Ports => &["rate", "total", "SYNs", "port"],
            Self::Sources => &["rate", "packets", "ports", "hosts"],
            Self::Findings => &["newest", "level"],
            Self::Icmp => &["rate", "total", "type"],
        }
    }
}

/// One row of one pane, by what it is rather than where it is: a selection or the details
/// follow it as the rows move.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    Port(u16, Proto),
    Source(String),
    Finding(u64),
    /// Family (`icmp`, `icmpv6`), type and code.
    Icmp(String, u8, u8),
}

/// What covers the panes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Overlay {
    Help,
    Details {
        target: Target,
        /// Lines scrolled past.
        scroll: u16,
    },
}

/// Whether the daemon answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Link {
    /// Nothing asked yet.
    Connecting,
    /// The last refresh was answered.
    Live,
    /// The daemon stopped answering at `since_ns` (wall clock), for `message`.
    Lost { since_ns: u64, message: String },
}

/// A port row with what two answers say about it.
#[derive(Clone, Debug, PartialEq)]
pub struct PortLine {
    pub row: PortRow,
    /// Packets per second since the previous answer.
    pub rate: Option<f64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SourceLine {
    pub row: SourceRow,
    /// The interface the row is about, when the daemon watches several (one row each).
    pub iface: Option<String>,
    pub rate: Option<f64>,
}

impl SourceLine {
    /// The source as the table shows it: its address, and its interface when it has one.
    pub fn name(&self) -> String {
        match &self.iface {
            Some(iface) => format!("{} ({iface})", self.row.src),
            None => self.row.src.clone(),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct IcmpLine {
    pub row: IcmpRow,
    pub rate: Option<f64>,
}

/// What the daemon said, with rates.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Data {
    /// The latest totals.
    pub stats: Option<Stats>,
    /// Packets and bytes per second.
    pub packet_rate: Option<f64>,
    pub byte_rate: Option<f64>,
    pub ports: Vec<PortLine>,
    pub sources: Vec<SourceLine>,
    pub icmp: Vec<IcmpLine>,
    /// The findings held, by id.
    pub findings: BTreeMap<u64, Finding>,
    /// The `port` answer for the port whose details are open.
    pub port: Option<PortAnswer>,
    /// Recent packet rates of each port, oldest first, at most [`HISTORY`] of them.
    pub history: HashMap<(u16, Proto), VecDeque<f64>>,
    /// When the latest answers came (monotonic) and the wall clock then.
    pub at: Option<Duration>,
    pub wall_ns: u64,
}

/// The whole state of `probe top`.
#[derive(Clone, Debug)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "independent switches, each flipped by its own key or answer"
)]
pub struct App {
    /// The daemon's socket, as shown.
    pub socket: String,
    /// Time between refreshes.
    pub interval: Duration,
    /// False for a monochrome screen (`--mono`, `NO_COLOR`).
    pub color: bool,
    pub data: Data,
    pub link: Link,
    /// A line for the operator (the daemon back, a refusal) and until when it shows
    /// (monotonic).
    pub notice: Option<(String, Duration)>,
    pub focus: Pane,
    /// Per pane: the selected row's index.
    pub selected: [usize; 4],
    /// Per pane: the selected row's identity, followed as rows move.
    pub following: [Option<Target>; 4],
    /// Per pane: the index of its order in [`Pane::sorts`].
    pub sort: [usize; 4],
    /// Rows shown only when they contain this text (any case).
    pub filter: String,
    /// True while `/` takes what is typed into the filter.
    pub editing: bool,
    pub overlay: Option<Overlay>,
    /// True while nothing is asked for and the screen holds still.
    pub paused: bool,
    /// Rows a page key moves by; the screen sets it to the focused pane's height.
    pub page: usize,
    /// Set when a key wants answers at once (details opened, pause ended).
    pub refresh_now: bool,
    pub quit: bool,
}

impl App {
    pub fn new(socket: String, interval: Duration, color: bool) -> Self {
        Self {
            socket,
            interval,
            color,
            data: Data::default(),
            link: Link::Connecting,
            notice: None,
            focus: Pane::Ports,
            selected: [0; 4],
            following: [None, None, None, None],
            sort: [0; 4],
            filter: String::new(),
            editing: false,
            overlay: None,
            paused: false,
            page: 10,
            refresh_now: false,
            quit: false,
        }
    }

    /// What the next refresh asks for.
    pub fn want(&self) -> Want {
        // After a loss the daemon may be a new one, numbering its findings from 1 again: ask
        // for all it holds, which replace those held.
        let lost = matches!(self.link, Link::Lost { .. });
        let findings_since_ns = self
            .data
            .findings
            .values()
            .map(|f| f.last_seen_ns)
            .max()
            .filter(|_| !lost)
            .map(|newest| {
                newest.saturating_sub(
                    u64::try_from(feed::FINDINGS_OVERLAP.as_nanos()).unwrap_or(u64::MAX),
                )
            });
        let port = match &self.overlay {
            Some(Overlay::Details {
                target: Target::Port(port, _),
                ..
            }) => Some(*port),
            _ => None,
        };
        Want {
            findings_since_ns,
            port,
        }
    }

    /// Samples a ports row's sparkline holds: a minute of refreshes.
    pub fn history_len(&self) -> usize {
        let interval = self.interval.as_millis().max(1);
        let samples = HISTORY.as_millis().div_ceil(interval);
        usize::try_from(samples).unwrap_or(usize::MAX).clamp(2, 600)
    }

    /// Takes a refresh's outcome.
    pub fn absorb(&mut self, outcome: Outcome) {
        match outcome {
            Ok(answers) => self.answered(answers),
            Err(trouble) => self.troubled(trouble),
        }
        self.follow();
    }

    fn troubled(&mut self, trouble: Trouble) {
        if !trouble.lost {
            // The daemon is there but said no (busy): the next refresh asks again.
            self.notice = Some((trouble.message, trouble.at + NOTICE_FOR));
            return;
        }
        match &mut self.link {
            Link::Lost { message, .. } => *message = trouble.message,
            _ => {
                self.link = Link::Lost {
                    since_ns: trouble.wall_ns,
                    message: trouble.message,
                };
            }
        }
        // Rates start again from the next answer: the counters may have gone with the daemon.
        self.data.at = None;
        self.notice = None;
    }

    fn answered(&mut self, a: Answers) {
        if let Link::Lost { since_ns, .. } = self.link {
            let gone = a.wall_ns.saturating_sub(since_ns) / 1_000_000_000;
            self.notice = Some((
                format!("the daemon answers again (no answer for {gone}s); rates start again"),
                a.at + NOTICE_FOR,
            ));
        }
        self.link = Link::Live;
        if self
            .notice
            .as_ref()
            .is_some_and(|(_, until)| *until <= a.at)
        {
            self.notice = None;
        }
        // Rates need an earlier answer: none on the first, nor on the first after a loss.
        let seconds = self
            .data
            .at
            .map(|before| a.at.saturating_sub(before).as_secs_f64());

        let before = self.data.stats.as_ref().zip(seconds);
        self.data.packet_rate = before.and_then(|(s, t)| rate(a.stats.packets, Some(s.packets), t));
        self.data.byte_rate = before.and_then(|(s, t)| rate(a.stats.bytes, Some(s.bytes), t));
        self.data.stats = Some(a.stats);

        self.take_ports(a.ports, seconds);

        let earlier = seconds.map(|t| {
            Earlier::new(
                self.data
                    .sources
                    .iter()
                    .map(|l| ((l.iface.clone(), l.row.src.clone()), l.row.packets)),
                feed::SOURCE_ROWS,
                t,
            )
        });
        self.data.sources = a
            .sources
            .into_iter()
            .map(|entry| {
                let key = (entry.iface, entry.row.src);
                let rate = earlier
                    .as_ref()
                    .and_then(|e| e.rate(&key, entry.row.packets));
                let (iface, src) = key;
                SourceLine {
                    row: SourceRow { src, ..entry.row },
                    iface,
                    rate,
                }
            })
            .collect();

        let icmp_key = |r: &IcmpRow| (r.family.clone(), r.icmp_type, r.code);
        let earlier = seconds.map(|t| {
            Earlier::new(
                self.data
                    .icmp
                    .iter()
                    .map(|l| (icmp_key(&l.row), l.row.packets)),
                feed::ICMP_ROWS,
                t,
            )
        });
        self.data.icmp = a
            .icmp
            .into_iter()
            .map(|row| IcmpLine {
                rate: earlier
                    .as_ref()
                    .and_then(|e| e.rate(&icmp_key(&row), row.packets)),
                row,
            })
            .collect();

        self.take_findings(a.findings, a.findings_since_ns.is_none());
        self.data.port = a.port;
        self.data.at = Some(a.at);
        self.data.wall_ns = a.wall_ns;
    }

    /// The ports' rates, and each one's history of them.
    fn take_ports(&mut self, ports: Vec<PortRow>, seconds: Option<f64>) {
        let earlier = seconds.map(|t| {
            Earlier::new(
                self.data
                    .ports
                    .iter()
                    .map(|l| ((l.row.port, l.row.proto), l.row.packets)),
                PORT_ROWS,
                t,
            )
        });
        let keep = self.history_len();
        let mut history = std::mem::take(&mut self.data.history);
        self.data.ports = ports
            .into_iter()
            .map(|row| {
                let key = (row.port, row.proto);
                let r = earlier.as_ref().and_then(|e| e.rate(&key, row.packets));
                let mut h = history.remove(&key).unwrap_or_default();
                if let Some(r) = r {
                    h.push_back(r);
                }
                while h.len() > keep {
                    h.pop_front();
                }
                self.data.history.insert(key, h);
                PortLine { row, rate: r }
            })
            .collect();
    }

    /// Findings: a whole answer replaces those held, a partial one is merged in.
    fn take_findings(&mut self, findings: Vec<Finding>, whole: bool) {
        if whole {
            self.data.findings.clear();
        }
        for f in findings {
            self.data.findings.insert(f.id, f);
        }
        while self.data.findings.len() > KEEP_FINDINGS {
            self.data.findings.pop_first();
        }
    }

    /// Keeps each pane's selection on the row it was on, or in range when that row went.
    fn follow(&mut self) {
        for pane in Pane::ALL {
            let targets = self.targets(pane);
            let i = pane.index();
            if let Some(at) = self.following[i]
                .as_ref()
                .and_then(|t| targets.iter().position(|x| x == t))
            {
                self.selected[i] = at;
            } else {
                self.selected[i] = self.selected[i].min(targets.len().saturating_sub(1));
                self.following[i] = targets.get(self.selected[i]).cloned();
            }
        }
    }

    /// Moves the focused pane's selection by `by` rows (negative: up), within its rows.
    pub fn move_by(&mut self, by: isize) {
        let pane = self.focus;
        let targets = self.targets(pane);
        let i = pane.index();
        let last = targets.len().saturating_sub(1);
        let to = self.selected[i].saturating_add_signed(by).min(last);
        self.selected[i] = to;
        self.following[i] = targets.get(to).cloned();
    }

    /// Moves the focused pane's selection to its first or last row.
    pub fn move_to_end(&mut self, last: bool) {
        let by = if last { isize::MAX } else { isize::MIN };
        self.move_by(by);
    }

    /// The selected row of the focused pane.
    pub fn selection(&self) -> Option<Target> {
        let i = self.focus.index();
        self.targets(self.focus).get(self.selected[i]).cloned()
    }

    /// A pane's order, by name.
    pub fn sort_name(&self, pane: Pane) -> &'static str {
        let sorts = pane.sorts();
        sorts[self.sort[pane.index()] % sorts.len()]
    }

    /// Wall-clock time of the latest answer or try.
    pub fn now_ns(&self) -> u64 {
        match &self.link {
            Link::Lost { since_ns, .. } => self.data.wall_ns.max(*since_ns),
            _ => self.data.wall_ns,
        }
    }

    /// Open findings per level (benign, notable, suspicious, hostile), and whether the daemon
    /// counted them: as its `stats` answer says, else those whose last contact is within
    /// [`OPEN_WINDOW`] of now.
    pub fn open_by_level(&self) -> ([u64; 4], bool) {
        if let Some(open) = self.data.stats.as_ref().and_then(|s| s.open_findings) {
            return (open.levels(), true);
        }
        (self.recent_by_level(), false)
    }

    /// Findings whose last contact is within [`OPEN_WINDOW`] of now, per level.
    fn recent_by_level(&self) -> [u64; 4] {
        let window = u64::try_from(OPEN_WINDOW.as_nanos()).unwrap_or(u64::MAX);
        let since = self.now_ns().saturating_sub(window);
        let mut counts = [0; 4];
        for f in self.data.findings.values() {
            if f.last_seen_ns >= since {
                counts[f.level as usize] += 1;
            }
        }
        counts
    }

    fn matches(&self, haystack: &str) -> bool {
        self.filter.is_empty()
            || haystack
                .to_lowercase()
                .contains(&self.filter.to_lowercase())
    }

    /// The ports pane's rows, filtered and in its order.
    pub fn port_rows(&self) -> Vec<&PortLine> {
        let mut rows: Vec<&PortLine> = self
            .data
            .ports
            .iter()
            .filter(|l| {
                let r = &l.row;
                self.matches(&format!(
                    "{}/{} {} {} {}",
                    r.port,
                    proto_name(r.proto),
                    r.name,
                    r.meaning,
                    r.level
                ))
            })
            .collect();
        // Ties go to the busier port, then the lower port: the order is stable.
        let key = |l: &PortLine| (l.row.port, l.row.proto);
        let tie = |a: &PortLine, b: &PortLine| {
            b.row.packets.cmp(&a.row.packets).then(key(a).cmp(&key(b)))
        };
        match self.sort_name(Pane::Ports) {
            "total" => rows.sort_by(|a, b| tie(a, b)),
            "SYNs" => rows.sort_by(|a, b| b.row.syn.cmp(&a.row.syn).then_with(|| tie(a, b))),
            "port" => rows.sort_by_key(|l| key(l)),
            _ => rows.sort_by(|a, b| by_rate(b.rate, a.rate).then_with(|| tie(a, b))),
        }
        rows
    }

    pub fn source_rows(&self) -> Vec<&SourceLine> {
        let mut rows: Vec<&SourceLine> = self
            .data
            .sources
            .iter()
            .filter(|l| {
                let kinds: Vec<String> = l
                    .row
                    .findings
                    .iter()
                    .map(|f| format!("{} {} {}", f.kind, f.level, f.port.unwrap_or(0)))
                    .collect();
                self.matches(&format!("{} {}", l.row.src, kinds.join(" ")))
            })
            .collect();
        let tie = |a: &SourceLine, b: &SourceLine| {
            b.row
                .packets
                .cmp(&a.row.packets)
                .then_with(|| a.row.src.cmp(&b.row.src))
        };
        match self.sort_name(Pane::Sources) {
            "packets" => rows.sort_by(|a, b| tie(a, b)),
            "ports" => rows.sort_by(|a, b| b.row.ports.cmp(&a.row.ports).then_with(|| tie(a, b))),
            "hosts" => rows.sort_by(|a, b| b.row.hosts.cmp(&a.row.hosts).then_with(|| tie(a, b))),
            _ => rows.sort_by(|a, b| by_rate(b.rate, a.rate).then_with(|| tie(a, b))),
        }
        rows
    }

    /// The findings pane's rows: newest (last contact) first, or worst first.
    pub fn finding_rows(&self) -> Vec<&Finding> {
        let mut rows: Vec<&Finding> = self
            .data
            .findings
            .values()
            .filter(|f| {
                self.matches(&format!(
                    "{} {} {} {} {} {} {}",
                    f.kind,
                    f.level,
                    f.src.as_deref().unwrap_or(""),
                    f.dst.as_deref().unwrap_or(""),
                    f.port.map(|p| p.to_string()).unwrap_or_default(),
                    f.tool.as_deref().unwrap_or(""),
                    f.explanation
                ))
            })
            .collect();
        let newest =
            |a: &Finding, b: &Finding| b.last_seen_ns.cmp(&a.last_seen_ns).then(b.id.cmp(&a.id));
        if self.sort_name(Pane::Findings) == "level" {
            rows.sort_by(|a, b| b.level.cmp(&a.level).then_with(|| newest(a, b)));
        } else {
            rows.sort_by(|a, b| newest(a, b));
        }
        rows
    }

    pub fn icmp_rows(&self) -> Vec<&IcmpLine> {
        let mut rows: Vec<&IcmpLine> = self
            .data
            .icmp
            .iter()
            .filter(|l| {
                let r = &l.row;
                self.matches(&format!(
                    "{} {}/{} {} {} {}",
                    r.family, r.icmp_type, r.code, r.name, r.meaning, r.level
                ))
            })
            .collect();
        let key = |l: &IcmpLine| (l.row.family.clone(), l.row.icmp_type, l.row.code);
        match self.sort_name(Pane::Icmp) {
            "total" => rows.sort_by(|a, b| {
                b.row
                    .packets
                    .cmp(&a.row.packets)
                    .then_with(|| key(a).cmp(&key(b)))
            }),
            "type" => rows.sort_by_key(|l| key(l)),
            _ => rows.sort_by(|a, b| {
                by_rate(b.rate, a.rate)
                    .then(b.row.packets.cmp(&a.row.packets))
                    .then_with(|| key(a).cmp(&key(b)))
            }),
        }
        rows
    }

    /// A pane's rows by identity, in the order shown.
    pub fn targets(&self, pane: Pane) -> Vec<Target> {
        match pane {
            Pane::Ports => self
                .port_rows()
                .iter()
                .map(|l| Target::Port(l.row.port, l.row.proto))
                .collect(),
            Pane::Sources => self
                .source_rows()
                .iter()
                .map(|l| Target::Source(l.row.src.clone()))
                .collect(),
            Pane::Findings => self
                .finding_rows()
                .iter()
                .map(|f| Target::Finding(f.id))
                .collect(),
            Pane::Icmp => self
                .icmp_rows()
                .iter()
                .map(|l| Target::Icmp(l.row.family.clone(), l.row.icmp_type, l.row.code))
                .collect(),
        }
    }

    /// Sets the filter (and keeps selections on rows that still show).
    pub fn set_filter(&mut self, text: &str) {
        self.filter = text.chars().take(FILTER_MAX).collect();
        self.follow();
    }

    /// The next order of the focused pane.
    pub fn next_sort(&mut self) {
        let i = self.focus.index();
        self.sort[i] = (self.sort[i] + 1) % self.focus.sorts().len();
        self.follow();
    }
}

/// The counts of the previous answer, to work out rates from.
struct Earlier<K> {
    counts: HashMap<K, u64>,
    /// True when the answer held fewer rows than asked for: a row missing from it had none.
    /// Otherwise a missing row had an unknown count, below the last one shown.
    complete: bool,
    /// Time between the two answers.
    seconds: f64,
}

impl<K: Eq + std::hash::Hash> Earlier<K> {
    fn new(rows: impl Iterator<Item = (K, u64)>, asked: usize, seconds: f64) -> Self {
        let counts: HashMap<K, u64> = rows.collect();
        Self {
            complete: counts.len() < asked,
            counts,
            seconds,
        }
    }

    fn rate(&self, key: &K, now: u64) -> Option<f64> {
        let before = self.counts.get(key).copied();
        rate(now, before.or(self.complete.then_some(0)), self.seconds)
    }
}

/// Higher rates first when called as `by_rate(b, a)`; an unknown rate is lowest.
fn by_rate(a: Option<f64>, b: Option<f64>) -> std::cmp::Ordering {
    a.unwrap_or(-1.0).total_cmp(&b.unwrap_or(-1.0))
}

pub const fn proto_name(p: Proto) -> &'static str {
    match p {
        Proto::Tcp => "tcp",
        Proto::Udp => "udp",
    }
}

#[cfg(test)]
mod tests;
