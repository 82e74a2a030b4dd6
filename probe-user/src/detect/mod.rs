//! Detectors: from first contacts to findings.
//!
//! The [`Engine`] takes one [`Contact`] at a time (live events or a replayed capture), runs every
//! detector over it in a fixed order, and folds what they conclude into findings through the
//! [`Book`]: one finding per (kind, subject), refreshed, never thousands. Each detector lives in
//! its own module with its own thresholds in [`Config`]; `docs/findings.md` lists them all.
//!
//! # Time and order
//!
//! Time comes only from `Contact::ts_ns` and the `now_ns` arguments, never from the system
//! clock, and every table is ordered, so the same calls give the same findings, byte for byte:
//! a replay driven by capture timestamps writes what the live daemon wrote. Before it looks at a
//! contact, [`Engine::contact`] settles everything that fell due before the contact's time, so
//! how often the caller runs [`Engine::tick`] changes when lines appear, not what they say.
//!
//! # Claims
//!
//! Each detector is a part implementing `Detector`, and the engine runs them in the fixed order
//! `chain` documents, specific ones before general ones. A `Claims` value goes along the chain:
//! when a detector explains a contact's destination port (a traceroute probe, a NetBIOS query,
//! a DNS query from a low port...) it *claims* it there, and `port_meaning` and `trojan_probe`
//! stay quiet about that contact; traceroute probes are not counted as port-scan probes either.
//! A source already reported as a port scanner (or a decoy scan's member) gets no per-port
//! findings: its scan finding covers them. No detector asks another one anything; what one
//! needs from another reaches it through the claims.
//!
//! # What counts as a probe
//!
//! A TCP segment with SYN and without ACK, RST or FIN; a TCP segment with an impossible flag set
//! (counted by `stealth_scan`); a UDP datagram unless it looks like a reply (from a port below
//! 1024 to one above, like DNS answers). SYN+ACK answers our own connections and is never a
//! probe; established TCP never reaches the detectors at all.

mod address;
mod amplify;
mod answer;
mod config_file;
mod crafted;
mod decoy;
mod dialup;
mod dns;
mod evasion;
mod flood;
mod home;
mod icmp;
mod meaning;
mod netbios;
mod overload;
mod proxy;
mod reflect;
mod remap;
mod scan;
mod sscan;
mod table;
mod tools;
mod traceroute;

use std::{
    fmt::Write as _,
    net::{IpAddr, Ipv4Addr},
    sync::Arc,
};

use probe_common::packet::tcp_flags;
use serde::{Deserialize, Serialize};

pub use self::{
    address::{BogonConfig, BroadcastConfig},
    amplify::{FraggleConfig, SmurfConfig},
    config_file::ConfigFileError,
    decoy::DecoyConfig,
    dialup::DialupConfig,
    evasion::HeaderChainConfig,
    flood::FloodConfig,
    home::{Guess, HomeConfig, describe as describe_home, is_private, networks_of},
    icmp::IcmpConfig,
    meaning::PortMeaningConfig,
    proxy::ProxyConfig,
    reflect::ReflectionConfig,
    remap::{RemapConfig, RemapFamily},
    scan::{SweepConfig, VerticalConfig},
    sscan::SscanConfig,
    traceroute::TracerouteConfig,
};
use self::{
    home::Home,
    table::{Capped, Lru, PortSet, Tags, Ttls},
};
use crate::{
    contact::{Contact, Proto},
    findings::{Book, BookConfig, Draft, Finding, Kind, evidence::Faq},
    knowledge::{IcmpFamily, Knowledge, Level},
    volume::Volume,
};

const NS_PER_SEC: u64 = 1_000_000_000;

/// Seconds to nanoseconds, saturating.
pub(crate) const fn secs(s: u64) -> u64 {
    s.saturating_mul(NS_PER_SEC)
}

/// A detector that is on or off and has nothing else to set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Toggle {
    pub enabled: bool,
}

impl Default for Toggle {
    fn default() -> Self {
        Self { enabled: true }
    }
}

/// Caps on memory and on the size of evidence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Entries each per-source (or per-pair, per-target) table keeps at most; the least
    /// recently touched is dropped beyond it.
    pub max_tracked: usize,
    /// Addresses listed in one finding's evidence at most (the total is still counted).
    pub max_list: usize,
    /// Runs of ports (`"1-1024,3306"`) written in one finding's evidence at most.
    pub max_port_runs: usize,
    /// How long the probe remembers that a source was seen, for "has it been here before?".
    pub history_secs: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_tracked: 16_384,
            max_list: 32,
            max_port_runs: 64,
            history_secs: 3600,
        }
    }
}

/// Every detector's thresholds and windows. All fields have defaults, so a file (TOML, JSON)
/// need only name what it changes (`[vertical_scan] ports = 50`). Unknown fields are refused.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The networks the probe protects.
    pub home: HomeConfig,
    /// Folding and refreshing of findings.
    pub findings: BookConfig,
    pub limits: Limits,
    pub port_meaning: PortMeaningConfig,
    pub trojan_probe: Toggle,
    pub vertical_scan: VerticalConfig,
    pub horizontal_sweep: SweepConfig,
    pub ping_sweep: SweepConfig,
    pub decoy_scan: DecoyConfig,
    pub stealth_scan: Toggle,
    pub port_zero: Toggle,
    pub traceroute: TracerouteConfig,
    pub smurf: SmurfConfig,
    pub fraggle: FraggleConfig,
    pub echo_chargen_loop: Toggle,
    pub sscan: SscanConfig,
    pub dns_low_source_port: Toggle,
    pub dialup_remnant: DialupConfig,
    pub proxy_check: ProxyConfig,
    pub remapped_service: RemapConfig,
    pub netbios_chatter: Toggle,
    /// The six ICMP message kinds, each on or off.
    pub icmp: IcmpConfig,
    pub bogon_source: BogonConfig,
    pub directed_broadcast: BroadcastConfig,
    pub source_routed: Toggle,
    pub tiny_fragment: Toggle,
    pub reflection: ReflectionConfig,
    pub flood: FloodConfig,
    pub long_header_chain: HeaderChainConfig,
    pub land: Toggle,
    pub probe_overload: Toggle,
}

/// What the probe remembers about every recent source, for the decoy detector's "was it here
/// before the scan?".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Seen {
    pub(crate) first_ns: u64,
    pub(crate) first_ttl: u8,
}

/// One contact, classified once for all detectors.
#[expect(
    clippy::struct_excessive_bools,
    reason = "independent facts about one packet, each read by several detectors"
)]
pub(crate) struct View<'a> {
    pub(crate) c: &'a Contact,
    pub(crate) src: String,
    pub(crate) dst: String,
    /// TCP SYN without ACK, RST or FIN: a connection attempt.
    pub(crate) syn: bool,
    /// TCP in a tiny fragment that ended before its flags (what `nmap -f` sends): a probe of
    /// its port whose flags are in a later fragment.
    pub(crate) cut_tcp: bool,
    /// The name of an impossible TCP flag set (`NULL`, `FIN`, `XMAS`, `SYN+FIN`...).
    pub(crate) odd_flags: Option<String>,
    /// UDP that looks like an answer: from a port below 1024 to one above.
    pub(crate) udp_reply: bool,
    /// A probe of the destination port: `syn`, `cut_tcp`, `odd_flags`, or UDP that is not
    /// `udp_reply`.
    pub(crate) probe: bool,
    /// IPv4 destination ending in .255 or .0 (not the limited broadcast, not multicast).
    pub(crate) broadcast: bool,
    pub(crate) icmp: Option<IcmpFamily>,
}

impl<'a> View<'a> {
    pub(crate) fn new(c: &'a Contact) -> Self {
        let tcp = c.proto == Proto::Tcp;
        let udp = c.proto == Proto::Udp;
        let f = c.tcp_flags;
        let syn = tcp
            && f & tcp_flags::SYN != 0
            && f & (tcp_flags::ACK | tcp_flags::RST | tcp_flags::FIN) == 0
            // An FTP server opening the data connection of an active-mode transfer we asked
            // for: a reply, not a probe.
            && !(c.src_port == 20 && c.dst_port >= 1024);
        let cut_tcp = tcp && !c.tcp_flags_known();
        let syn = syn && !cut_tcp;
        let odd_flags = if tcp && !cut_tcp {
            crafted::odd_flags(f)
        } else {
            None
        };
        let udp_reply = udp && c.src_port != 0 && c.src_port < 1024 && c.dst_port >= 1024;
        let probe = syn || cut_tcp || odd_flags.is_some() || (udp && !udp_reply);
        let icmp = match c.proto {
            Proto::Icmp => Some(IcmpFamily::V4),
            Proto::Icmpv6 => Some(IcmpFamily::V6),
            _ => None,
        };
        Self {
            c,
            src: ip_text(c.src),
            dst: ip_text(c.dst),
            syn,
            cut_tcp,
            odd_flags,
            udp_reply,
            probe,
            broadcast: is_broadcast(c.dst),
            icmp,
        }
    }

    pub(crate) fn echo_request(&self) -> bool {
        matches!(
            (self.icmp, self.c.icmp_type),
            (Some(IcmpFamily::V4), 8) | (Some(IcmpFamily::V6), 128)
        )
    }

    pub(crate) fn echo_reply(&self) -> bool {
        matches!(
            (self.icmp, self.c.icmp_type),
            (Some(IcmpFamily::V4), 0) | (Some(IcmpFamily::V6), 129)
        )
    }

    /// The knowledge tables' protocol for TCP and UDP.
    pub(crate) fn kproto(&self) -> Option<crate::knowledge::Proto> {
        match self.c.proto {
            Proto::Tcp => Some(crate::knowledge::Proto::Tcp),
            Proto::Udp => Some(crate::knowledge::Proto::Udp),
            _ => None,
        }
    }

    /// "a SYN", "a UDP datagram", "an ICMP message"... for explanations.
    pub(crate) fn what(&self) -> String {
        match self.c.proto {
            Proto::Tcp if self.syn => "a TCP connection attempt (SYN)".to_owned(),
            Proto::Tcp if self.cut_tcp => {
                "a TCP segment whose flags were in a later fragment".to_owned()
            }
            Proto::Tcp => format!("a TCP segment ({})", flag_names(self.c.tcp_flags)),
            Proto::Udp => "a UDP datagram".to_owned(),
            Proto::Icmp | Proto::Icmpv6 => format!(
                "an {} message (type {}, code {})",
                if self.c.proto == Proto::Icmp {
                    "ICMP"
                } else {
                    "ICMPv6"
                },
                self.c.icmp_type,
                self.c.icmp_code
            ),
            Proto::Other => format!("an IP packet of protocol {}", self.c.protocol),
        }
    }
}

/// An IPv4 address that is most likely a subnet's broadcast address: it ends in .255 or .0.
/// The limited broadcast 255.255.255.255, "this network" 0.x.x.x, multicast and class E are
/// not directed broadcasts.
pub(crate) fn is_broadcast(addr: IpAddr) -> bool {
    let IpAddr::V4(a) = addr else {
        return false;
    };
    let [first, .., last] = a.octets();
    (last == 255 || last == 0) && first != 0 && first < 224 && a != Ipv4Addr::BROADCAST
}

/// TCP flags by name, `FIN+PSH+URG`; `none` when no flag is set.
pub(crate) fn flag_names(flags: u8) -> String {
    const NAMES: [(u8, &str); 8] = [
        (tcp_flags::FIN, "FIN"),
        (tcp_flags::SYN, "SYN"),
        (tcp_flags::RST, "RST"),
        (tcp_flags::PSH, "PSH"),
        (tcp_flags::ACK, "ACK"),
        (tcp_flags::URG, "URG"),
        (tcp_flags::ECE, "ECE"),
        (tcp_flags::CWR, "CWR"),
    ];
    let names: Vec<&str> = NAMES
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|(_, n)| *n)
        .collect();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join("+")
    }
}

/// A duration for explanations: `850 ms`, `12.3 s`, `4 min 10 s`.
pub(crate) fn span(ns: u64) -> String {
    let ms = ns / 1_000_000;
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{}.{} s", ms / 1000, (ms % 1000) / 100)
    } else {
        format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000)
    }
}

/// `"s"` unless `n` is 1.
pub(crate) const fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// One detector: a part of the chain [`Engine::contact`] runs every contact through.
pub(crate) trait Detector: Send {
    /// Forgets what fell out of its windows by `now`; `case_ns` is how long a finding stays
    /// open without news.
    fn expire(&mut self, now: u64, case_ns: u64, config: &Config);

    /// Looks at one contact: reads what the detectors before it claimed, adds its own claims
    /// for the ones after it, and pushes its drafts.
    fn observe(&mut self, v: &View<'_>, ctx: &Ctx<'_>, claims: &mut Claims, o: &mut Out<'_>);

    /// Weighs what sources sent since the last volume, at `now`. Only the detectors about
    /// *how much* (floods at a victim) have anything to do here.
    fn volume(&mut self, _now: u64, _sources: &[Volume], _ctx: &Ctx<'_>, _o: &mut Out<'_>) {}

    /// Takes an answer to an earlier contact (see [`answer`]): the detectors about probes
    /// stop counting it, and withdraw a finding still waiting for answers that it was about.
    fn answer(&mut self, _a: &answer::Answer, _ctx: &Ctx<'_>, _o: &mut Out<'_>) {}
}

/// What is known about one contact beyond the packet, handed along the chain in its order:
/// each field says who sets it and who reads it, so a detector only learns from those before
/// it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "independent claims, each set by one detector and read by another"
)]
pub(crate) struct Claims {
    /// The engine, before the chain: the source already has an open `sscan` finding.
    pub(crate) sscan_reported: bool,
    /// The engine, before the chain: the source already has an open `vertical_scan` finding.
    pub(crate) vertical_reported: bool,
    /// A specific detector explained the destination port (port 0, fraggle, echo/chargen,
    /// traceroute, NetBIOS, DNS, dial-up, sscan, proxy and remap checks): `port_meaning` and
    /// `trojan_probe` stay quiet.
    pub(crate) port_explained: bool,
    /// A traceroute probe, not a port-scan probe: `decoy_scan` and the scans do not count it.
    pub(crate) not_scan: bool,
    /// `smurf` or `fraggle` explained the broadcast destination: `directed_broadcast` stays
    /// quiet.
    pub(crate) broadcast_explained: bool,
    /// `decoy_scan`: the source is a member of a decoy group against the destination.
    pub(crate) decoy_member: bool,
    /// `decoy_scan`: sources in the current round of the destination port.
    pub(crate) co_probers: usize,
}

impl Claims {
    /// The source's probes belong to another finding (a decoy group's, an sscan run's): the
    /// scans do not count them.
    pub(crate) fn scan_covered(&self) -> bool {
        self.decoy_member || self.sscan_reported
    }

    /// The contact's port is part of a scan finding already (the source's, or a decoy round
    /// of two or more sources): no per-port finding.
    pub(crate) fn ports_covered(&self) -> bool {
        self.scan_covered() || self.vertical_reported || self.co_probers >= 2
    }
}

/// A finding's explanation, kept in the knowledge data as the `story` of the topic it cites,
/// so that the story and the topic are written in one place and a `--knowledge` file can
/// reword it.
pub(crate) struct Story {
    /// The topic's id.
    pub(crate) topic: &'static str,
    /// The `{name}` marks the story has, in the order [`Story::tell`] takes their values.
    pub(crate) marks: &'static [&'static str],
}

/// Every story a detector tells, for the test that the built-in data has each.
#[cfg(test)]
pub(crate) const STORIES: &[&Story] = &[
    &address::BOGON_STORY,
    &address::ROUTED_STORY,
    &address::BROADCAST_STORY,
    &decoy::STORY,
    &dns::STORY,
    &meaning::TROJAN_STORY,
    &netbios::STORY,
    &proxy::STORY,
    &remap::STORY,
    &sscan::STORY,
    &traceroute::STORY,
];

impl Story {
    /// The story with `values` in its marks, and its topic's FAQ section for the evidence.
    /// A mark the detector does not know (a user's file may have one) stays as written.
    pub(crate) fn tell(&self, knowledge: &Knowledge, values: &[&str]) -> (String, Faq) {
        let Some((text, faq)) = knowledge.story(self.topic) else {
            // Only a user's file can lack it, and only by renaming the topic.
            return (String::new(), Faq::Borrowed(""));
        };
        let mut out = String::with_capacity(text.len() + 64);
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let value = after.find('}').and_then(|close| {
                let at = self.marks.iter().position(|m| *m == &after[..close])?;
                Some((values.get(at).copied().unwrap_or_default(), close))
            });
            if let Some((value, close)) = value {
                out.push_str(value);
                rest = &after[close + 1..];
            } else {
                out.push('{');
                rest = after;
            }
        }
        out.push_str(rest);
        (out, Faq::Owned(faq.unwrap_or_default().to_owned()))
    }
}

/// What the detectors conclude from one contact: drafts go into the book as they are made,
/// and the lines that causes are collected.
pub(crate) struct Out<'b> {
    book: &'b mut Book,
    pub(crate) lines: Vec<Finding>,
    /// The contact's source, and the scanner it is recognised as: drafts about that source
    /// name it.
    tool: Option<(String, (&'static str, u32, u32))>,
}

impl<'b> Out<'b> {
    fn new(book: &'b mut Book, lines: Vec<Finding>) -> Self {
        Self {
            book,
            lines,
            tool: None,
        }
    }

    /// Folds `d` into the book at once. A detector that changes a snapshot behind an earlier
    /// draft's unmade evidence pushes the next draft right after, so nothing can ask for that
    /// evidence in between (see [`Out::retire`]).
    pub(crate) fn push(&mut self, mut d: Draft) {
        if let Some((src, tool)) = &self.tool
            && d.tool.is_none()
            && d.src.as_deref() == Some(src.as_str())
        {
            d.tool = Some(*tool);
        }
        self.lines.extend(self.book.merge(d));
    }

    /// Frees the snapshot behind the unmade evidence of the open `kind` finding about
    /// `subject`, so that the detector can change it in place. Only right before a change
    /// that is followed, unconditionally, by a [`Out::push`] for the same finding.
    pub(crate) fn retire(&mut self, kind: Kind, subject: &str) {
        self.book.retire(kind, subject);
    }

    /// Whether a `kind` finding about `subject` is open.
    pub(crate) fn is_open(&self, kind: Kind, subject: &str) -> bool {
        self.book.is_open(kind, subject)
    }

    /// Whether the `kind` finding about `subject` is open and still waiting for answers.
    pub(crate) fn is_held(&self, kind: Kind, subject: &str) -> bool {
        self.book.is_held(kind, subject)
    }

    /// Drops the `kind` finding about `subject` if it is still waiting for answers; true then.
    pub(crate) fn withdraw(&mut self, kind: Kind, subject: &str) -> bool {
        self.book.withdraw(kind, subject)
    }
}

/// A draft about `v`'s contact, subject its source, counting one contact.
pub(crate) fn base(kind: Kind, level: Level, v: &View<'_>) -> Draft {
    base_to(kind, level, v, Some(v.dst.clone()))
}

/// [`base`] with another destination, for detectors that name one of their own (copying the
/// contact's only to drop it costs an allocation per contact).
pub(crate) fn base_to(kind: Kind, level: Level, v: &View<'_>, dst: Option<String>) -> Draft {
    let c = v.c;
    Draft {
        kind,
        subject: v.src.clone(),
        level,
        src: Some(v.src.clone()),
        dst,
        proto: Some(c.proto),
        port: c.proto.has_ports().then_some(c.dst_port),
        tool: None,
        add: 1,
        first_seen_ns: c.ts_ns,
        last_seen_ns: c.ts_ns,
        evidence: None,
        explanation: String::new(),
        later: None,
    }
}

/// What one finding has gathered so far: the evidence most detectors share.
#[derive(Clone, Debug)]
pub(crate) struct Acc {
    pub(crate) first_ns: u64,
    pub(crate) last_ns: u64,
    pub(crate) contacts: u64,
    /// Contacts already handed to the book in a draft.
    reported: u64,
    pub(crate) ports: PortSet,
    pub(crate) hosts: Capped<IpAddr>,
    pub(crate) sources: Capped<IpAddr>,
    pub(crate) ttls: Ttls,
    pub(crate) tags: Tags,
}

impl Acc {
    pub(crate) fn new(now: u64, list_cap: usize) -> Self {
        Self {
            first_ns: now,
            last_ns: now,
            contacts: 0,
            reported: 0,
            ports: PortSet::default(),
            hosts: Capped::new(list_cap.max(1).saturating_mul(8)),
            sources: Capped::new(list_cap.max(1).saturating_mul(8)),
            ttls: Ttls::default(),
            tags: Tags::default(),
        }
    }

    /// Counts `c`: time, TTL, destination host, source, and the destination port if it has
    /// one.
    pub(crate) fn see(&mut self, c: &Contact) {
        self.contacts = self.contacts.saturating_add(1);
        self.first_ns = self.first_ns.min(c.ts_ns);
        self.last_ns = self.last_ns.max(c.ts_ns);
        self.ttls.add(c.ttl);
        self.hosts.insert(c.dst);
        self.sources.insert(c.src);
        if c.proto.has_ports() {
            self.ports.insert(c.dst_port);
        }
    }

    pub(crate) fn tag(&mut self, tag: &str) {
        self.tags.add(tag);
    }

    /// Contacts not yet reported, now reported.
    pub(crate) fn take(&mut self) -> u64 {
        let n = self.contacts.saturating_sub(self.reported);
        self.reported = self.contacts;
        n
    }

    /// The one host, or `"many"`.
    pub(crate) fn dst(&self) -> Option<String> {
        one_or_many(&self.hosts)
    }

    /// The one source, or `"many"`.
    pub(crate) fn src(&self) -> Option<String> {
        one_or_many(&self.sources)
    }

    /// The one port, if only one was seen.
    pub(crate) fn port(&self) -> Option<u16> {
        if self.ports.len() == 1 {
            self.ports.first()
        } else {
            None
        }
    }
}

pub(crate) fn one_or_many(set: &Capped<IpAddr>) -> Option<String> {
    match set.len() {
        0 => None,
        1 if !set.overflowed() => set.first().map(|a| ip_text(*a)),
        _ => Some("many".to_owned()),
    }
}

/// An address as `Display` writes it. IPv4 addresses, nearly all of what the detectors list,
/// are written digit by digit: going through the formatting machinery for each octet made
/// address lists the largest cost of writing a finding.
pub(crate) fn ip_text(addr: IpAddr) -> String {
    let mut s = String::with_capacity(15);
    push_ip(&mut s, addr);
    s
}

/// Appends `addr` as [`ip_text`] writes it.
pub(crate) fn push_ip(s: &mut String, addr: IpAddr) {
    let IpAddr::V4(a) = addr else {
        let _ = write!(s, "{addr}");
        return;
    };
    for (i, octet) in a.octets().into_iter().enumerate() {
        if i > 0 {
            s.push('.');
        }
        if octet >= 100 {
            s.push(char::from(b'0' + octet / 100));
        }
        if octet >= 10 {
            s.push(char::from(b'0' + octet / 10 % 10));
        }
        s.push(char::from(b'0' + octet % 10));
    }
}

/// Up to `max` addresses, for evidence.
pub(crate) fn addr_list(set: &Capped<IpAddr>, max: usize) -> Vec<String> {
    set.iter().take(max).map(|a| ip_text(*a)).collect()
}

/// [`addr_list`] and [`addr_words`] of the same `max` addresses, each written once.
pub(crate) fn addr_list_and_words(set: &Capped<IpAddr>, max: usize) -> (Vec<String>, String) {
    let shown: Vec<String> = set.iter().take(max).map(|a| ip_text(*a)).collect();
    let more = set.len().saturating_sub(shown.len());
    let words = match (shown.len(), more) {
        (0, _) => "no address".to_owned(),
        (_, 0) => shown.join(", "),
        _ => format!("{} and {more} more", shown.join(", ")),
    };
    (shown, words)
}

/// `198.18.0.1`, or `198.18.0.1, 198.18.0.2 and 3 more`.
pub(crate) fn addr_words(set: &Capped<IpAddr>, max: usize) -> String {
    let mut s = String::new();
    let mut shown = 0;
    for a in set.iter().take(max) {
        if shown > 0 {
            s.push_str(", ");
        }
        push_ip(&mut s, *a);
        shown += 1;
    }
    let more = set.len().saturating_sub(shown);
    match (shown, more) {
        (0, _) => "no address".to_owned(),
        (_, 0) => s,
        _ => format!("{s} and {more} more"),
    }
}

/// The detection engine: every detector, the source history and the book of open findings.
pub struct Engine {
    config: Config,
    /// The home networks of `config`, built once.
    home: Home,
    knowledge: Arc<Knowledge>,
    book: Book,
    /// Recent sources and when each was first seen.
    seen: Lru<IpAddr, Seen>,
    /// The latest time the engine was given.
    now_ns: u64,
    /// Every contact detector, in the order of [`chain`].
    detectors: Vec<Box<dyn Detector>>,
    /// `probe_overload`: the kernel's drop counters at the last call.
    overload: overload::Overload,
    /// Which scanner each source runs, from its probes' marks.
    tools: tools::Tools,
    /// Recent UDP requests, whose replies are answers.
    requests: answer::Requests,
}

/// The contact detectors in the order they see a contact. Specific ones come before general
/// ones, so that their claims reach the detectors they silence:
///
/// 1. `bogon_source`, `land`, `source_routed` (no claims either way);
/// 2. `stealth_scan`, `port_zero` (port 0 claims its port); `tiny_fragment`,
///    `long_header_chain` (no claims: a fragmented probe is still counted by the scans);
/// 3. `smurf`, `fraggle`, `echo_chargen_loop` (claim broadcasts and ports 7 and 19),
///    `reflection` (claims the answers it explains), `flood` (volume only);
/// 4. `directed_broadcast` (quiet about what smurf and fraggle explained);
/// 5. the six ICMP kinds;
/// 6. `traceroute` (claims its probes: not port scans, no port meaning);
/// 7. `netbios_chatter`, 8. `dns_low_source_port`, 9. `dialup_remnant`, 10. `sscan`
///    (claim their ports);
/// 11. `decoy_scan` (says whether the source is a member and how many sources co-probed the
///     port);
/// 12. `proxy_check`, 13. `remapped_service` (claim their ports);
/// 14. `vertical_scan`, `horizontal_sweep`, `ping_sweep` (skip decoy members, sscan sources
///     and traceroute probes);
/// 15. `port_meaning`, `trojan_probe` (last: quiet about anything claimed or covered).
fn chain(config: &Config, cap: usize) -> Vec<Box<dyn Detector>> {
    vec![
        Box::new(address::Address::new(cap)),
        Box::new(crafted::Crafted::new(cap)),
        Box::new(evasion::Evasion::new(cap)),
        Box::new(amplify::Amplify::new(cap)),
        Box::new(reflect::Reflect::new(cap)),
        Box::new(flood::Flood::new(cap)),
        Box::new(address::Broadcast::new(cap)),
        Box::new(icmp::Icmp::new(cap)),
        Box::new(traceroute::Traceroute::new(cap)),
        Box::new(netbios::Netbios::new(cap)),
        Box::new(dns::Dns::new(cap)),
        Box::new(dialup::Dialup::new(cap)),
        Box::new(sscan::Sscan::new(cap)),
        Box::new(decoy::Decoy::new(&config.decoy_scan, cap)),
        Box::new(proxy::Proxy::new(cap)),
        Box::new(remap::Remap::new(cap)),
        Box::new(scan::Scan::new(cap)),
        Box::new(meaning::Meaning::new(cap)),
    ]
}

/// What every detector needs besides the contact.
pub(crate) struct Ctx<'a> {
    pub(crate) config: &'a Config,
    /// `config.home`'s networks, ready to ask.
    pub(crate) home: &'a Home,
    /// Shared so that evidence made later can keep it.
    pub(crate) knowledge: &'a Arc<Knowledge>,
    /// Recent sources and when each was first seen, as they stood before this contact.
    pub(crate) seen: &'a Lru<IpAddr, Seen>,
}

impl Engine {
    pub fn new(config: Config, knowledge: Arc<Knowledge>) -> Self {
        let cap = config.limits.max_tracked.max(1);
        Self {
            home: Home::new(config.home.networks.as_deref().unwrap_or_default()),
            book: Book::new(&config.findings),
            seen: Lru::new(cap),
            now_ns: 0,
            detectors: chain(&config, cap),
            overload: overload::Overload::default(),
            tools: tools::Tools::new(cap),
            requests: answer::Requests::new(cap),
            config,
            knowledge,
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// What ports and ICMP messages mean, as the detectors read it.
    pub fn knowledge(&self) -> &Arc<Knowledge> {
        &self.knowledge
    }

    /// Takes new settings and knowledge (a reload) and keeps everything learned: open
    /// findings, the detectors' tables, the source history. Thresholds, windows, switches and
    /// the home networks apply from the next contact. What sizes the tables or the book (`[limits]`,
    /// `[findings]`, `[decoy_scan]`) was fixed at start; where it changed, this says so, and
    /// the new values apply at the next start.
    pub fn reconfigure(&mut self, config: Config, knowledge: Arc<Knowledge>) -> Vec<&'static str> {
        let mut fixed = Vec::new();
        if config.limits != self.config.limits {
            fixed.push("limits");
        }
        if config.findings != self.config.findings {
            fixed.push("findings");
        }
        if config.decoy_scan != self.config.decoy_scan {
            fixed.push("decoy_scan");
        }
        self.config = Config {
            limits: self.config.limits.clone(),
            findings: self.config.findings.clone(),
            decoy_scan: self.config.decoy_scan.clone(),
            ..config
        };
        self.home = Home::new(self.config.home.networks.as_deref().unwrap_or_default());
        self.knowledge = knowledge;
        fixed
    }

    /// Findings open right now.
    pub fn open_findings(&self) -> usize {
        self.book.len()
    }

    /// Open findings by level (benign, notable, suspicious, hostile), cheaply.
    pub fn open_by_level(&self) -> [u64; 4] {
        self.book.open_by_level()
    }

    /// The current state of every open finding (between refresh lines, fresher than the last
    /// line written).
    pub fn open_state(&self) -> Vec<Finding> {
        self.book.open_findings()
    }

    /// Looks at one first contact, or at the kernel's report that one was answered. Returns
    /// the lines it causes, after any refreshes that fell due before its time.
    pub fn contact(&mut self, c: &Contact) -> Vec<Finding> {
        if answer::is_answer(c) {
            let out = self.advance(c.ts_ns);
            return match self.requests.see(c) {
                Some(a) => self.answered(&a, out),
                None => out,
            };
        }
        let mut lines = self.first_contact(c);
        if let Some(a) = self.requests.see(c) {
            lines = self.answered(&a, lines);
        }
        lines
    }

    /// Runs the detectors over the answer `a`, after `out`.
    fn answered(&mut self, a: &answer::Answer, out: Vec<Finding>) -> Vec<Finding> {
        let ctx = Ctx {
            config: &self.config,
            home: &self.home,
            knowledge: &self.knowledge,
            seen: &self.seen,
        };
        let mut o = Out::new(&mut self.book, out);
        for detector in &mut self.detectors {
            detector.answer(a, &ctx, &mut o);
        }
        o.lines
    }

    fn first_contact(&mut self, c: &Contact) -> Vec<Finding> {
        let out = self.advance(c.ts_ns);
        let v = View::new(c);
        // Asked before any draft of this contact reaches the book, as the scan detectors must
        // see the findings as they stood before it.
        let mut claims = Claims {
            sscan_reported: self.book.is_open(sscan::KIND, &v.src),
            vertical_reported: self.book.is_open(scan::VERTICAL, &v.src)
                || self
                    .book
                    .is_open(scan::OUTBOUND, &scan::outbound_ports(&v.src)),
            ..Claims::default()
        };
        let ctx = Ctx {
            config: &self.config,
            home: &self.home,
            knowledge: &self.knowledge,
            seen: &self.seen,
        };
        let mut o = Out::new(&mut self.book, out);
        o.tool = self
            .tools
            .observe(&v)
            .map(|(tool, matched, probes)| (v.src.clone(), (tool.name(), matched, probes)));
        for detector in &mut self.detectors {
            detector.observe(&v, &ctx, &mut claims, &mut o);
        }
        let lines = o.lines;
        let seen = self.seen.touch(&c.src, c.ts_ns, || Seen {
            first_ns: c.ts_ns,
            first_ttl: c.ttl,
        });
        if c.ts_ns < seen.first_ns {
            seen.first_ns = c.ts_ns;
            seen.first_ttl = c.ttl;
        }
        lines
    }

    /// Takes what each source sent since the last volume (see [`crate::volume`]), at `now_ns`.
    pub fn volume(&mut self, now_ns: u64, sources: &[Volume]) -> Vec<Finding> {
        let out = self.advance(now_ns);
        let now = self.now_ns;
        let ctx = Ctx {
            config: &self.config,
            knowledge: &self.knowledge,
            seen: &self.seen,
            home: &self.home,
        };
        let mut o = Out::new(&mut self.book, out);
        for detector in &mut self.detectors {
            detector.volume(now, sources, &ctx, &mut o);
        }
        o.lines
    }

    /// Lets time pass: expires windows and returns refreshes and last lines that fell due.
    /// Call it now and then (once a second is plenty); a replay calls it with capture times.
    pub fn tick(&mut self, now_ns: u64) -> Vec<Finding> {
        self.advance(now_ns)
    }

    /// Reports events the kernel could not deliver. `rate_limited` and `ring_full` are the
    /// kernel's running totals; the finding counts what was added since the last call (a total
    /// that went down — the counters were reset — counts in full).
    pub fn overload(&mut self, now_ns: u64, rate_limited: u64, ring_full: u64) -> Vec<Finding> {
        let mut out = self.advance(now_ns);
        let case_ns = secs(self.config.findings.window_secs.max(1));
        if let Some(d) = self.overload.update(
            now_ns,
            rate_limited,
            ring_full,
            case_ns,
            self.config.probe_overload.enabled,
        ) {
            out.extend(self.book.merge(d));
        }
        out
    }

    /// On shutdown: what fell due by `now_ns`, then the last state of every finding that
    /// changed since its last line. The engine starts afresh afterwards (history aside).
    pub fn flush(&mut self, now_ns: u64) -> Vec<Finding> {
        self.now_ns = self.now_ns.max(now_ns);
        self.book.flush(now_ns.max(self.now_ns))
    }

    fn advance(&mut self, now_ns: u64) -> Vec<Finding> {
        self.now_ns = self.now_ns.max(now_ns);
        let now = self.now_ns;
        let case_ns = secs(self.config.findings.window_secs.max(1));
        self.seen
            .expire(now.saturating_sub(secs(self.config.limits.history_secs)));
        self.tools.expire(now.saturating_sub(case_ns));
        self.requests.expire(now.saturating_sub(case_ns));
        for detector in &mut self.detectors {
            detector.expire(now, case_ns, &self.config);
        }
        self.book.due(now)
    }
}

#[cfg(test)]
pub(crate) mod testkit;

#[cfg(test)]
mod tests;
