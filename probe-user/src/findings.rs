//! Findings: what the detectors concluded, in the documented schema (`docs/findings.md`), and
//! the book that turns a stream of conclusions into few lines.
//!
//! A detector says what one contact shows as a [`Draft`]. The [`Book`] keeps one open
//! [`Finding`] per (kind, subject) — the subject is usually the source address — and folds later
//! drafts into it: the count grows, `last_seen` and the evidence move on. It emits a finding
//! once when it opens (`status: "new"`), then at most once per refresh interval while drafts
//! keep arriving (`status: "update"`), and once more on [`Book::flush`] if anything changed
//! since the last line. A case closes when no draft arrived for the window.
//!
//! Every time in here comes from the contacts or from the caller's `now_ns`, never from the
//! system clock, and refreshes are stamped with the moment they fell due rather than the moment
//! someone asked: the same contacts give the same lines, live or replayed.

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt::{self, Write as _},
    str::FromStr,
    sync::Arc,
};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::{contact::Proto, knowledge::Level};

const NS_PER_SEC: u64 = 1_000_000_000;
const NS_PER_MS: u64 = 1_000_000;

/// Whether a line opens a finding or refreshes one already reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The first line of this finding.
    New,
    /// A later state of a finding already reported with the same `id`.
    Update,
}

impl Status {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Update => "update",
        }
    }
}

/// What a finding is about. Serialised as the documented kind names, which are never renamed.
///
/// Ordered by name, not by declaration: the book walks and breaks deadline ties in (kind,
/// subject) order, and that order shows in the output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A port with a known meaning was probed.
    PortMeaning,
    /// A probe of a port known for a trojan or backdoor.
    TrojanProbe,
    /// One source, many ports of one host.
    VerticalScan,
    /// One source, one port, many hosts.
    HorizontalSweep,
    /// Echo requests from one source to many hosts.
    PingSweep,
    /// The same ports from several sources at once.
    DecoyScan,
    /// TCP flags no real connection uses.
    StealthScan,
    /// TCP or UDP from or to port 0.
    PortZero,
    /// Traceroute probes (UDP or ICMP).
    Traceroute,
    /// Echo requests to a broadcast address, or the replies they cause.
    Smurf,
    /// UDP echo or chargen to a broadcast address, or the replies.
    Fraggle,
    /// UDP between the echo and chargen ports.
    EchoChargenLoop,
    /// Sscan's low source ports or its set of ports.
    Sscan,
    /// A DNS query from a low source port.
    DnsLowSourcePort,
    /// Traffic for a game, chat or media program a previous user ran.
    DialupRemnant,
    /// A search for open proxies.
    ProxyCheck,
    /// A service looked for on its usual and alternate ports.
    RemappedService,
    /// NetBIOS name queries.
    NetbiosChatter,
    /// ICMP fragmentation needed (packet too big).
    IcmpFragNeeded,
    /// ICMP redirect.
    IcmpRedirect,
    /// ICMP router advertisement.
    RouterAdvertisement,
    /// ICMP source quench.
    SourceQuench,
    /// ICMP time exceeded.
    TtlExceeded,
    /// ICMP parameter problem.
    ParameterProblem,
    /// A source address that cannot be real here.
    BogonSource,
    /// A packet to a subnet's broadcast address.
    DirectedBroadcast,
    /// An IPv4 packet that chooses its own route.
    SourceRouted,
    /// Source address equals destination address.
    Land,
    /// First-contact events the kernel could not deliver.
    ProbeOverload,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Self; 29] = [
        Self::PortMeaning,
        Self::TrojanProbe,
        Self::VerticalScan,
        Self::HorizontalSweep,
        Self::PingSweep,
        Self::DecoyScan,
        Self::StealthScan,
        Self::PortZero,
        Self::Traceroute,
        Self::Smurf,
        Self::Fraggle,
        Self::EchoChargenLoop,
        Self::Sscan,
        Self::DnsLowSourcePort,
        Self::DialupRemnant,
        Self::ProxyCheck,
        Self::RemappedService,
        Self::NetbiosChatter,
        Self::IcmpFragNeeded,
        Self::IcmpRedirect,
        Self::RouterAdvertisement,
        Self::SourceQuench,
        Self::TtlExceeded,
        Self::ParameterProblem,
        Self::BogonSource,
        Self::DirectedBroadcast,
        Self::SourceRouted,
        Self::Land,
        Self::ProbeOverload,
    ];

    /// The documented name, as written in the `kind` field.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::PortMeaning => "port_meaning",
            Self::TrojanProbe => "trojan_probe",
            Self::VerticalScan => "vertical_scan",
            Self::HorizontalSweep => "horizontal_sweep",
            Self::PingSweep => "ping_sweep",
            Self::DecoyScan => "decoy_scan",
            Self::StealthScan => "stealth_scan",
            Self::PortZero => "port_zero",
            Self::Traceroute => "traceroute",
            Self::Smurf => "smurf",
            Self::Fraggle => "fraggle",
            Self::EchoChargenLoop => "echo_chargen_loop",
            Self::Sscan => "sscan",
            Self::DnsLowSourcePort => "dns_low_source_port",
            Self::DialupRemnant => "dialup_remnant",
            Self::ProxyCheck => "proxy_check",
            Self::RemappedService => "remapped_service",
            Self::NetbiosChatter => "netbios_chatter",
            Self::IcmpFragNeeded => "icmp_frag_needed",
            Self::IcmpRedirect => "icmp_redirect",
            Self::RouterAdvertisement => "router_advertisement",
            Self::SourceQuench => "source_quench",
            Self::TtlExceeded => "ttl_exceeded",
            Self::ParameterProblem => "parameter_problem",
            Self::BogonSource => "bogon_source",
            Self::DirectedBroadcast => "directed_broadcast",
            Self::SourceRouted => "source_routed",
            Self::Land => "land",
            Self::ProbeOverload => "probe_overload",
        }
    }
}

impl Ord for Kind {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl PartialOrd for Kind {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for Kind {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Kind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// One finding, as written to the log, the JSON Lines output and the query answer.
///
/// Times are kept in nanoseconds since the Unix epoch and written as RFC 3339 UTC strings with
/// millisecond precision (`2024-05-01T12:00:03.250Z`); reading a line back keeps milliseconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// When this line was made: the contact that opened or changed the finding, or the moment a
    /// refresh fell due.
    #[serde(rename = "ts", with = "rfc3339")]
    pub ts_ns: u64,
    /// Numbers findings in the order they opened; an update carries the id of its finding.
    pub id: u64,
    pub status: Status,
    /// What was found.
    pub kind: Kind,
    #[serde(with = "level_word")]
    pub level: Level,
    /// The source address, `"many"` when several sources share the finding, `null` when none
    /// applies.
    pub src: Option<String>,
    /// The destination address, `"many"` when several, `null` when none applies.
    pub dst: Option<String>,
    /// `tcp`, `udp`, `icmp`, `icmpv6` or `ip`; `null` when none applies.
    #[serde(with = "proto_word")]
    pub proto: Option<Proto>,
    /// The one port the finding is about, when there is one.
    pub port: Option<u16>,
    /// Contacts (or, for `probe_overload`, lost events) the finding rests on so far.
    pub count: u64,
    #[serde(rename = "first_seen", with = "rfc3339")]
    pub first_seen_ns: u64,
    #[serde(rename = "last_seen", with = "rfc3339")]
    pub last_seen_ns: u64,
    /// What the verdict rests on: ports, hosts, TTLs, flags, FAQ section. An object.
    pub evidence: Value,
    /// What is happening, how sure the probe is, and what to do, in plain words.
    pub explanation: String,
}

impl Finding {
    /// One JSON object, no newline.
    pub fn to_json_line(&self) -> String {
        // A Finding holds only strings, numbers and a JSON value: serializing cannot fail.
        serde_json::to_string(self)
            .unwrap_or_else(|e| format!(r#"{{"kind":"{}","error":"{e}"}}"#, self.kind))
    }

    /// A line for people: level, kind, who, the count, and the first sentence of the
    /// explanation.
    pub fn summary(&self) -> String {
        let mut s = format!("{} {}", self.level, self.kind);
        match (&self.src, &self.dst) {
            (Some(src), Some(dst)) => {
                let _ = write!(s, " {src} -> {dst}");
            }
            (Some(src), None) => {
                let _ = write!(s, " from {src}");
            }
            (None, Some(dst)) => {
                let _ = write!(s, " to {dst}");
            }
            (None, None) => {}
        }
        if let Some(port) = self.port {
            match self.proto {
                Some(p) => {
                    let _ = write!(s, " port {port}/{}", p.as_str());
                }
                None => {
                    let _ = write!(s, " port {port}");
                }
            }
        }
        let _ = write!(
            s,
            " (x{}, {}, #{}): {}",
            self.count,
            self.status.as_str(),
            self.id,
            first_sentence(&self.explanation)
        );
        s
    }
}

/// The explanation up to and including its first full stop followed by a space or the end.
fn first_sentence(text: &str) -> &str {
    let bytes = text.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'.' && bytes.get(i + 1).is_none_or(|n| *n == b' ' || *n == b'\n') {
            return &text[..=i];
        }
    }
    text
}

/// What a detector concluded from one contact, before dedupe.
#[derive(Clone, Debug, PartialEq)]
pub struct Draft {
    pub kind: Kind,
    /// Who the finding is about beyond its kind (usually the source address): drafts with the
    /// same kind and subject fold into one finding.
    pub subject: String,
    pub level: Level,
    pub src: Option<String>,
    pub dst: Option<String>,
    pub proto: Option<Proto>,
    pub port: Option<u16>,
    /// Contacts (or events) this draft adds to the finding's count.
    pub add: u64,
    /// When what the draft describes began; used when the draft opens a finding.
    pub first_seen_ns: u64,
    /// The latest contact the draft rests on.
    pub last_seen_ns: u64,
    /// The detector's whole current evidence (it replaces the previous one).
    pub evidence: Value,
    pub explanation: String,
    /// Makes `evidence` and `explanation` (which are then left empty) only when a line needs
    /// them. Most drafts only move a finding's count on and are replaced by the next one
    /// before any line is written, so building their text up front is wasted work.
    pub later: Option<Later>,
}

/// Evidence and explanation made on demand, from a snapshot the detector will not change.
#[derive(Clone)]
pub struct Later(Arc<dyn Fn() -> (Value, String) + Send + Sync>);

impl Later {
    pub fn new(make: impl Fn() -> (Value, String) + Send + Sync + 'static) -> Self {
        Self(Arc::new(make))
    }

    pub fn make(&self) -> (Value, String) {
        (self.0)()
    }
}

impl fmt::Debug for Later {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Later(..)")
    }
}

impl PartialEq for Later {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// How findings are folded and refreshed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BookConfig {
    /// A finding closes after this long without a new draft; a later draft opens a new one.
    pub window_secs: u64,
    /// A finding that changed is written again at most this often.
    pub refresh_secs: u64,
    /// Open findings kept at most; beyond it the one due soonest is closed early.
    pub max_open: usize,
}

impl Default for BookConfig {
    fn default() -> Self {
        Self {
            window_secs: 300,
            refresh_secs: 60,
            max_open: 4096,
        }
    }
}

type Key = (Kind, String);

#[derive(Clone, Debug)]
struct Case {
    /// Its evidence and explanation are left empty while `later` is set.
    finding: Finding,
    /// Makes the evidence and explanation of the latest draft. Kept after a line was made
    /// from it, so that the text is made once per line rather than made and then copied.
    later: Option<Later>,
    /// When the last line for this case was made.
    last_emit_ns: u64,
    /// Changed since the last line.
    dirty: bool,
    /// The deadline under which the case sits in [`Book::deadlines`].
    deadline_ns: u64,
}

/// Open findings, folded by (kind, subject).
#[derive(Clone, Debug)]
pub struct Book {
    window_ns: u64,
    refresh_ns: u64,
    max_open: usize,
    /// Open cases by kind, then subject: walked in (kind, subject) order, and looked up by a
    /// borrowed subject without building a key.
    open: BTreeMap<Kind, BTreeMap<String, Case>>,
    /// Cases in `open`.
    open_count: usize,
    /// Every open case under its next deadline (a refresh or its closing).
    deadlines: BTreeSet<(u64, Key)>,
    next_id: u64,
}

impl Book {
    pub fn new(config: &BookConfig) -> Self {
        Self {
            window_ns: config.window_secs.max(1).saturating_mul(NS_PER_SEC),
            refresh_ns: config.refresh_secs.max(1).saturating_mul(NS_PER_SEC),
            max_open: config.max_open.max(1),
            open: BTreeMap::new(),
            open_count: 0,
            deadlines: BTreeSet::new(),
            next_id: 1,
        }
    }

    /// Whether a finding of this kind and subject is open.
    pub fn is_open(&self, kind: Kind, subject: &str) -> bool {
        self.open
            .get(&kind)
            .is_some_and(|cases| cases.contains_key(subject))
    }

    /// Open findings.
    pub fn len(&self) -> usize {
        self.open_count
    }

    pub fn is_empty(&self) -> bool {
        self.open_count == 0
    }

    fn case_mut(&mut self, kind: Kind, subject: &str) -> Option<&mut Case> {
        self.open.get_mut(&kind)?.get_mut(subject)
    }

    fn remove(&mut self, kind: Kind, subject: &str) -> Option<Case> {
        let case = self.open.get_mut(&kind)?.remove(subject)?;
        self.open_count -= 1;
        Some(case)
    }

    /// Drops the unmade evidence of an open finding: the caller is about to change what it was
    /// to be made from, and merges a draft for the same finding right after, before anything
    /// else reads the book. That frees the snapshot, so the detector can change it in place
    /// instead of copying it.
    pub fn retire(&mut self, kind: Kind, subject: &str) {
        if let Some(case) = self.case_mut(kind, subject) {
            case.later = None;
        }
    }

    /// Folds a draft in. Returns the lines it causes: a new finding, an update when the level
    /// rose, or a finding closed early to make room.
    pub fn merge(&mut self, d: Draft) -> Vec<Finding> {
        let mut out = Vec::new();
        let (window_ns, refresh_ns) = (self.window_ns, self.refresh_ns);
        if let Some(case) = self
            .open
            .get_mut(&d.kind)
            .and_then(|c| c.get_mut(&d.subject))
        {
            let old_deadline = case.deadline_ns;
            let f = &mut case.finding;
            let rose = d.level > f.level;
            // A new verdict on who is behind it (a decoy scan naming its real source) is news.
            let renamed = d.src != f.src;
            f.level = f.level.max(d.level);
            f.count = f.count.saturating_add(d.add);
            f.last_seen_ns = f.last_seen_ns.max(d.last_seen_ns);
            f.first_seen_ns = f.first_seen_ns.min(d.first_seen_ns);
            f.src = d.src;
            f.dst = d.dst;
            f.proto = d.proto;
            f.port = d.port;
            // Left empty by a draft with a `later`.
            f.evidence = d.evidence;
            f.explanation = d.explanation;
            case.later = d.later;
            case.dirty = true;
            if rose || renamed {
                // A finding that became more worrying, or now names someone else, is worth a
                // line at once.
                out.push(emit(case, d.last_seen_ns));
            }
            let new_deadline = deadline(window_ns, refresh_ns, case);
            case.deadline_ns = new_deadline;
            // Between two lines of a busy finding the deadline stays put.
            if new_deadline != old_deadline {
                let key: Key = (d.kind, d.subject);
                self.deadlines.remove(&(old_deadline, key.clone()));
                self.deadlines.insert((new_deadline, key));
            }
            return out;
        }
        if self.open_count >= self.max_open
            && let Some((_, (kind, subject))) = self.deadlines.pop_first()
            && let Some(mut case) = self.remove(kind, &subject)
            && case.dirty
        {
            let at = d.last_seen_ns.max(case.last_emit_ns);
            out.push(emit(&mut case, at));
        }
        let id = self.next_id;
        self.next_id = self.next_id.saturating_add(1);
        let ts = d.last_seen_ns;
        let finding = Finding {
            ts_ns: ts,
            id,
            status: Status::New,
            kind: d.kind,
            level: d.level,
            src: d.src,
            dst: d.dst,
            proto: d.proto,
            port: d.port,
            count: d.add,
            first_seen_ns: d.first_seen_ns.min(ts),
            last_seen_ns: ts,
            evidence: d.evidence,
            explanation: d.explanation,
        };
        let mut line = finding.clone();
        if let Some(later) = &d.later {
            (line.evidence, line.explanation) = later.make();
        }
        out.push(line);
        let mut case = Case {
            finding,
            later: d.later,
            last_emit_ns: ts,
            dirty: false,
            deadline_ns: 0,
        };
        case.deadline_ns = deadline(self.window_ns, self.refresh_ns, &case);
        self.deadlines
            .insert((case.deadline_ns, (d.kind, d.subject.clone())));
        self.open.entry(d.kind).or_default().insert(d.subject, case);
        self.open_count += 1;
        out
    }

    /// The current state of every open finding, as its next line would show it.
    pub fn open_findings(&self) -> Vec<Finding> {
        self.open
            .values()
            .flat_map(BTreeMap::values)
            .map(|case| {
                let mut f = case.finding.clone();
                if let Some(later) = &case.later {
                    (f.evidence, f.explanation) = later.make();
                }
                f
            })
            .collect()
    }

    /// Lines that fell due by `now_ns`: refreshes of changed findings (stamped with the moment
    /// each fell due) and last lines of findings that close. In time order.
    pub fn due(&mut self, now_ns: u64) -> Vec<Finding> {
        let mut out = Vec::new();
        while let Some((at, _)) = self.deadlines.first()
            && *at <= now_ns
        {
            let Some((at, key)) = self.deadlines.pop_first() else {
                break;
            };
            let (window_ns, refresh_ns) = (self.window_ns, self.refresh_ns);
            let Some(case) = self.case_mut(key.0, &key.1) else {
                continue;
            };
            let closes = case.finding.last_seen_ns.saturating_add(window_ns) <= at;
            if case.dirty {
                out.push(emit(case, at));
            }
            if closes {
                self.remove(key.0, &key.1);
            } else {
                let next = deadline(window_ns, refresh_ns, case);
                case.deadline_ns = next;
                self.deadlines.insert((next, key));
            }
        }
        out
    }

    /// On shutdown: the last state of every finding that changed since its last line, stamped
    /// `now_ns`. Everything is closed afterwards.
    pub fn flush(&mut self, now_ns: u64) -> Vec<Finding> {
        let mut out = self.due(now_ns);
        let mut rest: Vec<Case> = std::mem::take(&mut self.open)
            .into_values()
            .flat_map(BTreeMap::into_values)
            .collect();
        self.open_count = 0;
        self.deadlines.clear();
        rest.sort_by_key(|c| (c.finding.last_seen_ns, c.finding.id));
        for case in &mut rest {
            if case.dirty {
                out.push(emit(case, now_ns.max(case.finding.last_seen_ns)));
            }
        }
        out
    }
}

/// When `case` next needs attention: a refresh if it changed, else its closing.
fn deadline(window_ns: u64, refresh_ns: u64, case: &Case) -> u64 {
    let closing = case.finding.last_seen_ns.saturating_add(window_ns);
    if case.dirty {
        closing.min(case.last_emit_ns.saturating_add(refresh_ns))
    } else {
        closing
    }
}

/// A line for `case` as it stands, stamped `ts`; the case is clean afterwards.
fn emit(case: &mut Case, ts: u64) -> Finding {
    let ts = ts.max(case.finding.last_seen_ns);
    case.dirty = false;
    case.last_emit_ns = ts;
    let mut f = case.finding.clone();
    if let Some(later) = &case.later {
        (f.evidence, f.explanation) = later.make();
    }
    f.ts_ns = ts;
    f.status = Status::Update;
    f
}

/// RFC 3339 UTC with milliseconds: `1970-01-01T00:00:00.000Z`.
pub fn format_rfc3339_ms(ns: u64) -> String {
    let secs = ns / NS_PER_SEC;
    let ms = (ns % NS_PER_SEC) / NS_PER_MS;
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Reads `YYYY-MM-DDTHH:MM:SS[.fraction]Z` (UTC only; `t`/`z` accepted) back to nanoseconds.
/// Digits of the fraction beyond nanoseconds are ignored.
pub fn parse_rfc3339(text: &str) -> Option<u64> {
    let bytes = text.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<u64> {
        let part = bytes.get(range)?;
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        part.iter().try_fold(0u64, |acc, digit| {
            acc.checked_mul(10)?.checked_add(u64::from(digit - b'0'))
        })
    };
    let sep = |at: usize, want: &[u8]| bytes.get(at).is_some_and(|c| want.contains(c));
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt") && sep(13, b":") && sep(16, b":")) {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if year < 1970 || !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut pos = 19;
    let mut frac_ns = 0u64;
    if sep(pos, b".") {
        pos += 1;
        let start = pos;
        while bytes.get(pos).is_some_and(u8::is_ascii_digit) {
            pos += 1;
        }
        let digits = bytes.get(start..pos)?;
        if digits.is_empty() {
            return None;
        }
        let mut scale = 100_000_000u64;
        for digit in digits.iter().take(9) {
            frac_ns += u64::from(digit - b'0') * scale;
            scale /= 10;
        }
    }
    if !(sep(pos, b"Zz") && pos + 1 == bytes.len()) {
        return None;
    }
    let days = days_from_civil(year, month, day)?;
    let secs = days
        .checked_mul(86_400)?
        .checked_add(hour * 3600 + minute * 60 + second)?;
    secs.checked_mul(NS_PER_SEC)?.checked_add(frac_ns)
}

fn is_leap(y: u64) -> bool {
    y.is_multiple_of(4) && (!y.is_multiple_of(100) || y.is_multiple_of(400))
}

fn days_in_month(y: u64, m: u64) -> u64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// (year, month, day) of a count of days since 1970-01-01, counted in 400-year eras of
/// 146,097 days from 0000-03-01 so that leap days fall at the end of each year.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Days from 0000-03-01 to 1970-01-01.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// The inverse of [`civil_from_days`], for dates from 1970 on.
fn days_from_civil(y: u64, m: u64, d: u64) -> Option<u64> {
    let y = if m <= 2 { y.checked_sub(1)? } else { y };
    let era = y / 400;
    let yoe = y % 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe).checked_sub(719_468)
}

mod rfc3339 {
    use super::{Deserialize, Deserializer, Serializer, format_rfc3339_ms, parse_rfc3339};

    #[expect(
        clippy::trivially_copy_pass_by_ref,
        reason = "serde's `with` passes a reference"
    )]
    pub fn serialize<S: Serializer>(ns: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_rfc3339_ms(*ns))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let text = String::deserialize(d)?;
        parse_rfc3339(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "{text:?} is not an RFC 3339 UTC time like 2024-05-01T12:00:03.250Z"
            ))
        })
    }
}

mod level_word {
    use super::{Deserialize, Deserializer, FromStr, Level, Serialize, Serializer};

    #[expect(
        clippy::trivially_copy_pass_by_ref,
        reason = "serde's `with` passes a reference"
    )]
    pub fn serialize<S: Serializer>(level: &Level, s: S) -> Result<S::Ok, S::Error> {
        level.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Level, D::Error> {
        let text = String::deserialize(d)?;
        Level::from_str(&text).map_err(serde::de::Error::custom)
    }
}

mod proto_word {
    use super::{Deserialize, Deserializer, Proto, Serializer};

    #[expect(
        clippy::trivially_copy_pass_by_ref,
        clippy::ref_option,
        reason = "serde's `with` passes a reference to the field"
    )]
    pub fn serialize<S: Serializer>(proto: &Option<Proto>, s: S) -> Result<S::Ok, S::Error> {
        match proto {
            Some(p) => s.serialize_str(p.as_str()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Proto>, D::Error> {
        let Some(text) = Option::<String>::deserialize(d)? else {
            return Ok(None);
        };
        [
            Proto::Tcp,
            Proto::Udp,
            Proto::Icmp,
            Proto::Icmpv6,
            Proto::Other,
        ]
        .into_iter()
        .find(|p| p.as_str() == text)
        .map(Some)
        .ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown proto {text:?}; expected tcp, udp, icmp, icmpv6 or ip"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use serde_json::json;

    use super::*;

    const S: u64 = NS_PER_SEC;
    /// 2024-05-01T12:00:00Z.
    const T0: u64 = 1_714_564_800 * S;

    fn draft(kind: Kind, subject: &str, at: u64) -> Draft {
        Draft {
            kind,
            subject: subject.to_owned(),
            level: Level::Suspicious,
            src: Some(subject.to_owned()),
            dst: Some("198.18.0.1".to_owned()),
            proto: Some(Proto::Tcp),
            port: None,
            add: 1,
            first_seen_ns: at,
            last_seen_ns: at,
            evidence: json!({ "at": at }),
            explanation: "A test. More words.".to_owned(),
            later: None,
        }
    }

    fn book() -> Book {
        Book::new(&BookConfig {
            window_secs: 300,
            refresh_secs: 60,
            max_open: 4,
        })
    }

    #[test]
    fn kinds_serialise_as_their_documented_names_and_read_back() {
        let mut names = std::collections::BTreeSet::new();
        for kind in Kind::ALL {
            let text = serde_json::to_string(&kind).unwrap();
            assert_eq!(text, format!("\"{}\"", kind.as_str()));
            assert_eq!(serde_json::from_str::<Kind>(&text).unwrap(), kind);
            assert!(names.insert(kind.as_str()), "{kind} twice");
        }
        // Ordered as their names are, which is the order the book walks them in.
        let mut sorted = Kind::ALL;
        sorted.sort();
        assert!(sorted.windows(2).all(|w| w[0].as_str() < w[1].as_str()));
    }

    #[test]
    fn times_are_rfc3339_utc_with_milliseconds() {
        assert_eq!(format_rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            format_rfc3339_ms(T0 + 3 * S + 250 * NS_PER_MS + 999),
            "2024-05-01T12:00:03.250Z"
        );
        // A leap day and the last millisecond of a year.
        assert_eq!(
            format_rfc3339_ms(951_782_400 * S),
            "2000-02-29T00:00:00.000Z"
        );
        assert_eq!(
            format_rfc3339_ms(1_704_067_199 * S + 999 * NS_PER_MS),
            "2023-12-31T23:59:59.999Z"
        );
    }

    #[test]
    fn times_parse_back() {
        assert_eq!(
            parse_rfc3339("2024-05-01T12:00:03.250Z"),
            Some(T0 + 3 * S + 250 * NS_PER_MS)
        );
        assert_eq!(parse_rfc3339("2000-02-29T00:00:00Z"), Some(951_782_400 * S));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00.000000001Z"), Some(1));
        for bad in [
            "",
            "2024-05-01",
            "2024-05-01T12:00:03.250",
            "2024-05-01T12:00:03.Z",
            "2023-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-05-01T24:00:00Z",
            "1969-12-31T23:59:59Z",
            "2024-05-01T12:00:03+02:00",
            "२०२४-05-01T12:00:03Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad:?}");
        }
        for day in [0u64, 59, 60, 365, 10_957, 19_844, 200_000] {
            let ns = day * 86_400 * S;
            assert_eq!(parse_rfc3339(&format_rfc3339_ms(ns)), Some(ns), "day {day}");
        }
    }

    #[test]
    fn a_finding_is_one_json_object_in_the_documented_shape() {
        let mut b = book();
        let f = b
            .merge(draft(Kind::VerticalScan, "198.18.0.66", T0))
            .remove(0);
        let line = f.to_json_line();
        assert!(!line.contains('\n'));
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            v,
            json!({
                "ts": "2024-05-01T12:00:00.000Z",
                "id": 1,
                "status": "new",
                "kind": "vertical_scan",
                "level": "suspicious",
                "src": "198.18.0.66",
                "dst": "198.18.0.1",
                "proto": "tcp",
                "port": null,
                "count": 1,
                "first_seen": "2024-05-01T12:00:00.000Z",
                "last_seen": "2024-05-01T12:00:00.000Z",
                "evidence": { "at": T0 },
                "explanation": "A test. More words."
            })
        );
        let back: Finding = serde_json::from_str(&line).unwrap();
        assert_eq!(back, f);
    }

    #[test]
    fn the_summary_is_one_line_with_the_first_sentence() {
        let mut b = book();
        let mut d = draft(Kind::PortMeaning, "198.18.0.66", T0);
        d.port = Some(31_337);
        let f = b.merge(d).remove(0);
        assert_eq!(
            f.summary(),
            "suspicious port_meaning 198.18.0.66 -> 198.18.0.1 port 31337/tcp (x1, new, #1): A test."
        );
    }

    #[test]
    fn the_same_kind_and_subject_fold_into_one_finding_refreshed_once_per_interval() {
        // 201 drafts over 150 s, the book driven as time goes by: three lines in all.
        let mut b = book();
        let mut lines = b.merge(draft(Kind::VerticalScan, "a", T0));
        for i in 1..=200u64 {
            let at = T0 + i * 750 * NS_PER_MS;
            lines.extend(b.due(at));
            lines.extend(b.merge(draft(Kind::VerticalScan, "a", at)));
        }
        let seen: Vec<_> = lines
            .iter()
            .map(|f| (f.status, f.ts_ns, f.count, f.id))
            .collect();
        assert_eq!(
            seen,
            vec![
                (Status::New, T0, 1, 1),
                (Status::Update, T0 + 60 * S, 80, 1),
                (Status::Update, T0 + 120 * S, 160, 1),
            ]
        );
        assert_eq!(lines[2].last_seen_ns, T0 + 119_250 * NS_PER_MS);
        // Nothing due before 180 s; flush writes the state that changed since 120 s.
        assert!(b.due(T0 + 150 * S).is_empty());
        let last = b.flush(T0 + 152 * S);
        assert_eq!(last.len(), 1);
        assert_eq!(
            (
                last[0].ts_ns,
                last[0].count,
                last[0].id,
                last[0].last_seen_ns
            ),
            (T0 + 152 * S, 201, 1, T0 + 150 * S)
        );
        assert!(b.is_empty());
        assert!(b.flush(T0 + 153 * S).is_empty());
    }

    #[test]
    fn a_refresh_is_stamped_when_it_fell_due_not_when_asked() {
        let mut b = book();
        b.merge(draft(Kind::VerticalScan, "a", T0));
        b.merge(draft(Kind::VerticalScan, "a", T0 + 10 * S));
        let lines = b.due(T0 + 100 * S);
        assert_eq!(lines.len(), 1);
        assert_eq!((lines[0].ts_ns, lines[0].count), (T0 + 60 * S, 2));
    }

    #[test]
    fn a_quiet_finding_closes_after_the_window_and_a_later_draft_opens_a_new_one() {
        let mut b = book();
        b.merge(draft(Kind::Land, "a", T0));
        assert!(b.due(T0 + 299 * S).is_empty());
        assert!(b.is_open(Kind::Land, "a"));
        assert!(b.due(T0 + 300 * S).is_empty(), "unchanged: closes silently");
        assert!(!b.is_open(Kind::Land, "a"));
        let again = b.merge(draft(Kind::Land, "a", T0 + 400 * S));
        assert_eq!(
            (again.len(), again[0].id, again[0].status),
            (1, 2, Status::New)
        );
    }

    #[test]
    fn a_rising_level_is_written_at_once() {
        let mut b = book();
        b.merge(draft(Kind::PortMeaning, "a", T0));
        let mut d = draft(Kind::PortMeaning, "a", T0 + S);
        d.level = Level::Hostile;
        let out = b.merge(d);
        assert_eq!(out.len(), 1);
        assert_eq!(
            (out[0].level, out[0].status, out[0].count),
            (Level::Hostile, Status::Update, 2)
        );
    }

    #[test]
    fn the_book_is_bounded() {
        let mut b = book();
        for i in 0..10u64 {
            b.merge(draft(Kind::Land, &format!("s{i}"), T0 + i * S));
        }
        assert_eq!(b.len(), 4);
        assert!(b.is_open(Kind::Land, "s9") && !b.is_open(Kind::Land, "s0"));
    }

    /// A draft whose evidence is made later, counting how often it is made.
    fn later_draft(subject: &str, at: u64, made: &Arc<AtomicUsize>) -> Draft {
        let made = Arc::clone(made);
        Draft {
            evidence: Value::Null,
            explanation: String::new(),
            later: Some(Later::new(move || {
                made.fetch_add(1, Ordering::Relaxed);
                (json!({ "at": at }), format!("Made for {at}. More words."))
            })),
            ..draft(Kind::VerticalScan, subject, at)
        }
    }

    #[test]
    fn evidence_left_for_later_is_made_once_per_line_from_the_latest_draft() {
        let made = Arc::new(AtomicUsize::new(0));
        let mut b = book();
        let new = b.merge(later_draft("a", T0, &made));
        assert_eq!(new.len(), 1);
        assert_eq!(
            (new[0].evidence.clone(), new[0].explanation.as_str()),
            (
                json!({ "at": T0 }),
                format!("Made for {T0}. More words.").as_str()
            )
        );
        assert_eq!(made.load(Ordering::Relaxed), 1);
        // A hundred drafts fold in without a line: nothing is made.
        for i in 1..=100u64 {
            assert!(b.merge(later_draft("a", T0 + i * S / 10, &made)).is_empty());
        }
        assert_eq!(made.load(Ordering::Relaxed), 1);
        // The refresh shows the last draft's evidence, made once.
        let last = T0 + 10 * S;
        let lines = b.due(T0 + 60 * S);
        assert_eq!(lines.len(), 1);
        assert_eq!(
            (lines[0].count, lines[0].status, lines[0].evidence.clone()),
            (101, Status::Update, json!({ "at": last }))
        );
        assert_eq!(
            lines[0].explanation,
            format!("Made for {last}. More words.")
        );
        assert_eq!(made.load(Ordering::Relaxed), 2);
        // Asking for the open state makes it again, the same.
        let open = b.open_findings();
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].evidence, json!({ "at": last }));
        assert_eq!(made.load(Ordering::Relaxed), 3);
        // Nothing changed since the refresh: the flush writes nothing and makes nothing.
        assert!(b.flush(T0 + 100 * S).is_empty());
        assert_eq!(made.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn a_finding_closed_to_make_room_shows_its_latest_evidence() {
        let made = Arc::new(AtomicUsize::new(0));
        let mut b = book();
        b.merge(later_draft("a", T0, &made));
        b.merge(later_draft("a", T0 + S, &made));
        for (i, subject) in ["b", "c", "d"].into_iter().enumerate() {
            b.merge(draft(Kind::Land, subject, T0 + 2 * S + i as u64));
        }
        // The book holds four: a fifth closes "a", whose refresh is due first.
        let out = b.merge(draft(Kind::Land, "e", T0 + 10 * S));
        assert_eq!(out.len(), 2);
        assert_eq!(
            (out[0].kind.as_str(), out[0].count, out[0].evidence.clone()),
            ("vertical_scan", 2, json!({ "at": T0 + S }))
        );
        assert_eq!(
            out[0].explanation,
            format!("Made for {}. More words.", T0 + S)
        );
        assert_eq!((out[1].kind.as_str(), out[1].status), ("land", Status::New));
        assert_eq!(made.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn a_retired_finding_takes_the_next_drafts_evidence() {
        let made = Arc::new(AtomicUsize::new(0));
        let mut b = book();
        b.merge(later_draft("a", T0, &made));
        b.merge(later_draft("a", T0 + S, &made));
        b.retire(Kind::VerticalScan, "a");
        // Retiring an unknown finding does nothing.
        b.retire(Kind::VerticalScan, "zz");
        b.merge(later_draft("a", T0 + 2 * S, &made));
        let lines = b.flush(T0 + 3 * S);
        assert_eq!(lines.len(), 1);
        assert_eq!(
            (lines[0].count, lines[0].evidence.clone()),
            (3, json!({ "at": T0 + 2 * S }))
        );
        assert_eq!(made.load(Ordering::Relaxed), 2);
    }
}
