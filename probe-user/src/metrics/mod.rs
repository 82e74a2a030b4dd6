//! `/metrics`: the counters, findings and the probe's own health in the Prometheus text
//! exposition format (version 0.0.4), for a Prometheus server to scrape.
//!
//! Names follow Prometheus's conventions: one `probe_` prefix, base units, `_total` on
//! counters, `_info` for metadata, and an `iface` label on every series. The number of series
//! is bounded by design, whatever the traffic: a port has series of its own only when the
//! knowledge tables describe it or it is among the busiest `top_ports` others (of its protocol
//! and direction); the rest are summed under `port="other"`. ICMP types and codes are kept the
//! same way (the busiest [`TOP_ICMP`] per family), TCP flag sets are at most 256, and source
//! addresses are never labels (`probe query sources` has them). [`bound`] says how many
//! series that makes at most, per interface: a daemon watching several writes each family
//! once, with every interface's series under it.

pub mod server;
mod text;

use std::collections::BTreeMap;

use probe_common::counters::{port_proto, total};

use self::text::Exposition;
use crate::{
    counters::Snapshot,
    findings::Kind,
    knowledge::{Direction, Knowledge, Level, Proto},
    query::answer,
};

/// Where the daemon serves `/metrics` unless told otherwise: the loopback address only, as
/// the metrics tell what the interface sees; `--metrics ADDR` opens them to a Prometheus
/// server elsewhere on purpose.
pub const DEFAULT_ADDRESS: &str = "127.0.0.1:9464";
/// Ports beyond the described ones with series of their own, per protocol and direction.
pub const DEFAULT_TOP_PORTS: u16 = 32;
/// ICMP (type, code) pairs with series of their own, per family.
pub const TOP_ICMP: usize = 64;

/// Everything one scrape shows.
pub struct Scrape<'a> {
    pub iface: &'a str,
    pub snapshot: &'a Snapshot,
    pub knowledge: &'a Knowledge,
    /// Findings opened since the daemon started, by kind and the level they opened at.
    pub findings: &'a BTreeMap<(Kind, Level), u64>,
    pub open_findings: usize,
    /// Slots of the per-source table (every CPU's part), and how many hold a source.
    pub source_slots: u64,
    pub source_slots_used: u64,
    /// How long the last collection (counter read and delta) took.
    pub collect_seconds: f64,
    pub top_ports: usize,
}

/// The exposition text of the interfaces `all` describe, one `iface` label value each.
pub fn render(all: &[Scrape<'_>]) -> String {
    let each: Vec<Exposition> = all.iter().map(exposition).collect();
    text::merge(&each)
}

/// One interface's families.
fn exposition(s: &Scrape<'_>) -> Exposition {
    let mut e = Exposition::new(s.iface);
    e.family(
        "probe_build_info",
        "gauge",
        "The probe's version; always 1.",
    );
    e.sample(
        "probe_build_info",
        &[("version", env!("CARGO_PKG_VERSION"))],
        1.0,
    );
    totals(&mut e, s);
    ports(&mut e, s);
    icmp(&mut e, s);
    flags_and_findings(&mut e, s);
    health(&mut e, s);
    e
}

/// The packet, byte and class totals, and what the kernel could not deliver.
fn totals(e: &mut Exposition, s: &Scrape<'_>) {
    let snap = s.snapshot;
    let totals: [(&str, &str, u64); 10] = [
        (
            "probe_packets_total",
            "Packets seen on the interface.",
            snap.total(total::PACKETS),
        ),
        (
            "probe_bytes_total",
            "Bytes of the packets seen (whole frames).",
            snap.total(total::BYTES),
        ),
        (
            "probe_malformed_packets_total",
            "Frames counted, not parsed: a header claimed more than the frame held.",
            snap.total(total::MALFORMED),
        ),
        (
            "probe_fragments_total",
            "IP fragments.",
            snap.total(total::FRAGMENTS),
        ),
        (
            "probe_tiny_fragments_total",
            "First fragments too short for their transport header (RFC 1858).",
            snap.total(total::TINY_FRAGMENTS),
        ),
        (
            "probe_long_header_chains_total",
            "IPv6 packets whose extension headers go on beyond what the parser walks.",
            snap.total(total::LONG_HEADER_CHAINS),
        ),
        (
            "probe_vlan_tagged_packets_total",
            "Frames with one or more VLAN tags.",
            snap.total(total::VLAN_TAGGED),
        ),
        (
            "probe_other_ether_type_packets_total",
            "Frames neither IPv4 nor IPv6.",
            snap.total(total::OTHER_ETHER_TYPE),
        ),
        (
            "probe_events_total",
            "First contacts (and their answers) delivered by the kernel.",
            snap.total(total::EVENTS),
        ),
        (
            "probe_open_findings",
            "Findings open now.",
            s.open_findings as u64,
        ),
    ];
    for (name, help, value) in totals {
        let kind = if name.ends_with("_total") {
            "counter"
        } else {
            "gauge"
        };
        e.family(name, kind, help);
        e.sample(name, &[], value as f64);
    }
    e.family(
        "probe_ip_packets_total",
        "counter",
        "IP packets by version.",
    );
    e.sample(
        "probe_ip_packets_total",
        &[("version", "4")],
        snap.total(total::IPV4) as f64,
    );
    e.sample(
        "probe_ip_packets_total",
        &[("version", "6")],
        snap.total(total::IPV6) as f64,
    );
    e.family(
        "probe_events_lost_total",
        "counter",
        "First contacts the kernel counted but did not deliver, by reason.",
    );
    e.sample(
        "probe_events_lost_total",
        &[("reason", "rate_limited")],
        snap.total(total::EVENTS_RATE_LIMITED) as f64,
    );
    e.sample(
        "probe_events_lost_total",
        &[("reason", "ring_full")],
        snap.total(total::EVENTS_RING_FULL) as f64,
    );
}

/// TCP flag sets and findings by kind and level.
fn flags_and_findings(e: &mut Exposition, s: &Scrape<'_>) {
    let snap = s.snapshot;
    e.family(
        "probe_tcp_flags_total",
        "counter",
        "TCP segments by their combination of flags.",
    );
    for row in answer::flags(snap, None) {
        e.sample(
            "probe_tcp_flags_total",
            &[("flags", &row.flags)],
            row.packets as f64,
        );
    }
    e.family(
        "probe_findings_total",
        "counter",
        "Findings opened since the daemon started, by kind and the level they opened at.",
    );
    for ((kind, level), n) in s.findings {
        e.sample(
            "probe_findings_total",
            &[("kind", kind.as_str()), ("level", &level.to_string())],
            *n as f64,
        );
    }
}

/// The probe's own state: its per-source table and its last collection.
fn health(e: &mut Exposition, s: &Scrape<'_>) {
    e.family(
        "probe_source_table_slots",
        "gauge",
        "Slots of the kernel's per-source table, every CPU's part.",
    );
    e.sample("probe_source_table_slots", &[], s.source_slots as f64);
    e.family(
        "probe_source_table_used_slots",
        "gauge",
        "Slots of the per-source table holding a source.",
    );
    e.sample(
        "probe_source_table_used_slots",
        &[],
        s.source_slots_used as f64,
    );
    e.family(
        "probe_collect_duration_seconds",
        "gauge",
        "How long the last reading of the kernel's counters took.",
    );
    e.sample("probe_collect_duration_seconds", &[], s.collect_seconds);
}

/// Per-port packets (both directions) and connection attempts, each port described by the
/// knowledge or among the busiest others, the rest under `other`.
fn ports(e: &mut Exposition, s: &Scrape<'_>) {
    e.family(
        "probe_port_packets_total",
        "counter",
        "TCP segments and UDP datagrams by port, as destination or as source port.",
    );
    let mut attempts = Vec::new();
    for (proto, name, index) in [
        (Proto::Tcp, "tcp", port_proto::TCP),
        (Proto::Udp, "udp", port_proto::UDP),
    ] {
        for (direction, dir_name) in [
            (Direction::Destination, "destination"),
            (Direction::Source, "source"),
        ] {
            let source = direction == Direction::Source;
            let active: Vec<(u16, u64)> = (0..=u16::MAX)
                .map(|port| (port, s.snapshot.port(index, port, source)))
                .filter(|&(_, n)| n > 0)
                .collect();
            let (kept, other) = select(&active, s.top_ports, |port| {
                s.knowledge.port_entry(port, proto, direction).is_some()
            });
            for &(port, n) in &kept {
                e.sample(
                    "probe_port_packets_total",
                    &[
                        ("proto", name),
                        ("direction", dir_name),
                        ("port", &port.to_string()),
                    ],
                    n as f64,
                );
            }
            if other > 0 {
                e.sample(
                    "probe_port_packets_total",
                    &[("proto", name), ("direction", dir_name), ("port", "other")],
                    other as f64,
                );
            }
            if proto == Proto::Tcp && !source {
                attempts = kept.iter().map(|&(port, _)| port).collect();
            }
        }
    }
    e.family(
        "probe_port_connection_attempts_total",
        "counter",
        "TCP connection attempts (SYN without ACK) by destination port.",
    );
    let mut rest = 0u64;
    for port in 0..=u16::MAX {
        let n = s.snapshot.syn_ports[usize::from(port)];
        if n == 0 {
            continue;
        }
        if attempts.binary_search(&port).is_ok() {
            e.sample(
                "probe_port_connection_attempts_total",
                &[("proto", "tcp"), ("port", &port.to_string())],
                n as f64,
            );
        } else {
            rest += n;
        }
    }
    if rest > 0 {
        e.sample(
            "probe_port_connection_attempts_total",
            &[("proto", "tcp"), ("port", "other")],
            rest as f64,
        );
    }
}

/// Of `active` (port, count) pairs in port order: those `known` says are described, plus the
/// `top` busiest others (ties: the lower port), in port order; and the sum of the rest.
fn select(
    active: &[(u16, u64)],
    top: usize,
    known: impl Fn(u16) -> bool,
) -> (Vec<(u16, u64)>, u64) {
    let (mut kept, mut others): (Vec<_>, Vec<_>) =
        active.iter().copied().partition(|&(port, _)| known(port));
    others.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let rest = others.iter().skip(top).map(|&(_, n)| n).sum();
    kept.extend(others.into_iter().take(top));
    kept.sort_unstable();
    (kept, rest)
}

fn icmp(e: &mut Exposition, s: &Scrape<'_>) {
    e.family(
        "probe_icmp_messages_total",
        "counter",
        "ICMP and ICMPv6 messages by type and code.",
    );
    let rows = answer::icmp(s.snapshot, s.knowledge, None);
    for family in ["icmp", "icmpv6"] {
        // Busiest first, as `answer::icmp` sorts them.
        let mine: Vec<_> = rows.iter().filter(|r| r.family == family).collect();
        for r in mine.iter().take(TOP_ICMP) {
            e.sample(
                "probe_icmp_messages_total",
                &[
                    ("family", family),
                    ("type", &r.icmp_type.to_string()),
                    ("code", &r.code.to_string()),
                ],
                r.packets as f64,
            );
        }
        let rest: u64 = mine.iter().skip(TOP_ICMP).map(|r| r.packets).sum();
        if rest > 0 {
            e.sample(
                "probe_icmp_messages_total",
                &[("family", family), ("type", "other"), ("code", "other")],
                rest as f64,
            );
        }
    }
}

/// The most series one scrape can hold with `knowledge` and `top_ports`: for each protocol and
/// direction, the ports the knowledge describes plus `top_ports` plus `other`; the connection
/// attempts likewise for TCP destinations; [`TOP_ICMP`] + 1 per ICMP family; 256 flag sets;
/// every kind at every level; and the fixed series.
pub fn bound(knowledge: &Knowledge, top_ports: usize) -> usize {
    let mut ports = 0;
    for proto in [Proto::Tcp, Proto::Udp] {
        for direction in [Direction::Destination, Direction::Source] {
            let described = (0..=u16::MAX)
                .filter(|&p| knowledge.port_entry(p, proto, direction).is_some())
                .count();
            let n = described + top_ports + 1;
            ports += n;
            if proto == Proto::Tcp && direction == Direction::Destination {
                ports += n;
            }
        }
    }
    // Build info, ten totals, two IP versions, two loss reasons, the table and the collector.
    let fixed = 1 + 10 + 2 + 2 + 3;
    ports + 2 * (TOP_ICMP + 1) + 256 + Kind::ALL.len() * 4 + fixed
}

#[cfg(test)]
mod tests {
    use probe_common::counters::{icmp_key, port_key};

    use super::*;

    fn k() -> Knowledge {
        Knowledge::new(crate::knowledge::Services::empty())
    }

    fn scrape(snapshot: &Snapshot, knowledge: &Knowledge, top_ports: usize) -> String {
        let findings = BTreeMap::from([
            ((Kind::TrojanProbe, Level::Hostile), 2),
            ((Kind::VerticalScan, Level::Suspicious), 1),
        ]);
        render(&[Scrape {
            iface: "eth0",
            snapshot,
            knowledge,
            findings: &findings,
            open_findings: 3,
            source_slots: 131_072,
            source_slots_used: 7,
            collect_seconds: 0.0025,
            top_ports,
        }])
    }

    /// The series lines (not comments) of `text` whose name is `name`.
    fn series<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
        text.lines()
            .filter(|l| !l.starts_with('#') && l.split('{').next() == Some(name))
            .collect()
    }

    #[test]
    fn a_scrape_shows_counters_ports_icmp_flags_findings_and_health() {
        let mut s = Snapshot::zeroed();
        s.totals[total::PACKETS as usize] = 40;
        s.totals[total::BYTES as usize] = 2400;
        s.totals[total::IPV4 as usize] = 39;
        s.totals[total::IPV6 as usize] = 1;
        s.totals[total::EVENTS_RATE_LIMITED as usize] = 5;
        // A described port (31337, Back Orifice), an undescribed one, a source port.
        s.dst_ports[port_key(port_proto::TCP, 31_337) as usize] = 3;
        s.syn_ports[31_337] = 3;
        s.dst_ports[port_key(port_proto::TCP, 40_001) as usize] = 2;
        s.syn_ports[40_001] = 2;
        s.src_ports[port_key(port_proto::UDP, 53) as usize] = 4;
        s.icmp[icmp_key(3, 4) as usize] = 6;
        s.tcp_flags[0x02] = 5;
        let text = scrape(&s, &k(), 32);
        assert!(text.starts_with(
            "# HELP probe_build_info The probe's version; always 1.\n\
             # TYPE probe_build_info gauge\n"
        ));
        assert_eq!(
            series(&text, "probe_packets_total"),
            ["probe_packets_total{iface=\"eth0\"} 40"]
        );
        assert_eq!(
            series(&text, "probe_bytes_total"),
            ["probe_bytes_total{iface=\"eth0\"} 2400"]
        );
        assert_eq!(
            series(&text, "probe_ip_packets_total"),
            [
                "probe_ip_packets_total{iface=\"eth0\",version=\"4\"} 39",
                "probe_ip_packets_total{iface=\"eth0\",version=\"6\"} 1",
            ]
        );
        assert_eq!(
            series(&text, "probe_events_lost_total"),
            [
                "probe_events_lost_total{iface=\"eth0\",reason=\"rate_limited\"} 5",
                "probe_events_lost_total{iface=\"eth0\",reason=\"ring_full\"} 0",
            ]
        );
        assert_eq!(
            series(&text, "probe_port_packets_total"),
            [
                "probe_port_packets_total{iface=\"eth0\",proto=\"tcp\",direction=\"destination\",port=\"31337\"} 3",
                "probe_port_packets_total{iface=\"eth0\",proto=\"tcp\",direction=\"destination\",port=\"40001\"} 2",
                "probe_port_packets_total{iface=\"eth0\",proto=\"udp\",direction=\"source\",port=\"53\"} 4",
            ]
        );
        assert_eq!(
            series(&text, "probe_port_connection_attempts_total"),
            [
                "probe_port_connection_attempts_total{iface=\"eth0\",proto=\"tcp\",port=\"31337\"} 3",
                "probe_port_connection_attempts_total{iface=\"eth0\",proto=\"tcp\",port=\"40001\"} 2",
            ]
        );
        assert_eq!(
            series(&text, "probe_icmp_messages_total"),
            ["probe_icmp_messages_total{iface=\"eth0\",family=\"icmp\",type=\"3\",code=\"4\"} 6"]
        );
        assert_eq!(
            series(&text, "probe_tcp_flags_total"),
            ["probe_tcp_flags_total{iface=\"eth0\",flags=\"SYN\"} 5"]
        );
        assert_eq!(
            series(&text, "probe_findings_total"),
            [
                "probe_findings_total{iface=\"eth0\",kind=\"trojan_probe\",level=\"hostile\"} 2",
                "probe_findings_total{iface=\"eth0\",kind=\"vertical_scan\",level=\"suspicious\"} 1",
            ]
        );
        assert_eq!(
            series(&text, "probe_open_findings"),
            ["probe_open_findings{iface=\"eth0\"} 3"]
        );
        assert_eq!(
            series(&text, "probe_source_table_used_slots"),
            ["probe_source_table_used_slots{iface=\"eth0\"} 7"]
        );
        assert_eq!(
            series(&text, "probe_collect_duration_seconds"),
            ["probe_collect_duration_seconds{iface=\"eth0\"} 0.0025"]
        );
        // Every family is declared once, before its series.
        let types = text.lines().filter(|l| l.starts_with("# TYPE ")).count();
        assert_eq!(types, 21);
    }

    #[test]
    fn a_scan_of_every_port_keeps_the_series_bounded() {
        let knowledge = k();
        let mut s = Snapshot::zeroed();
        for port in 0..=u16::MAX {
            for proto in [port_proto::TCP, port_proto::UDP] {
                s.dst_ports[port_key(proto, port) as usize] = u64::from(port) + 1;
                s.src_ports[port_key(proto, port) as usize] = 1;
            }
            s.syn_ports[usize::from(port)] = 1;
            s.icmp[icmp_key((port >> 8) as u8, port as u8) as usize] = 1;
        }
        for flags in 0..256 {
            s.tcp_flags[flags] = 1;
        }
        let text = scrape(&s, &knowledge, 32);
        let lines = text.lines().filter(|l| !l.starts_with('#')).count();
        assert!(lines <= bound(&knowledge, 32), "{lines} series");
        let described = (0..=u16::MAX)
            .filter(|&p| {
                knowledge
                    .port_entry(p, Proto::Tcp, Direction::Destination)
                    .is_some()
            })
            .count();
        let tcp_destination = series(&text, "probe_port_packets_total")
            .into_iter()
            .filter(|l| l.contains("proto=\"tcp\",direction=\"destination\""))
            .count();
        // The described ports, the 32 busiest others, and `other`.
        assert_eq!(tcp_destination, described + 32 + 1);
        // The busiest undescribed ports are the highest (each port's count is its number + 1).
        assert!(text.contains(
            "probe_port_packets_total{iface=\"eth0\",proto=\"tcp\",direction=\"destination\",port=\"65535\"} 65536"
        ));
        let icmp = series(&text, "probe_icmp_messages_total");
        assert_eq!(icmp.len(), TOP_ICMP + 1);
        assert_eq!(series(&text, "probe_tcp_flags_total").len(), 256);
    }
}
