//! Turning a counter snapshot into the answers the protocol returns.

use probe_common::counters::total;
use serde::{Deserialize, Serialize};

use super::protocol::{Proto, Query};
use crate::{
    counters::Snapshot,
    knowledge::{Direction, IcmpFamily, Knowledge, RangeClass},
};

/// Totals, as `probe query stats` shows them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub packets: u64,
    pub bytes: u64,
    pub ipv4: u64,
    pub ipv6: u64,
    pub other_ether_type: u64,
    pub vlan_tagged: u64,
    pub fragments: u64,
    /// First fragments too short to hold their transport header (an evasion technique).
    pub tiny_fragments: u64,
    /// IPv6 extension header chains longer than the parser walks.
    pub long_header_chains: u64,
    pub malformed: u64,
    /// TCP segments counted on ports (non-first fragments are not).
    pub tcp: u64,
    /// UDP datagrams counted on ports.
    pub udp: u64,
    pub icmp: u64,
    pub icmpv6: u64,
    /// First-contact events delivered to the daemon.
    pub events: u64,
    /// First contacts not reported: rate limit reached.
    pub events_rate_limited: u64,
    /// First contacts not reported: ring buffer full.
    pub events_ring_full: u64,
    /// The watched interface and how the program is attached (`native`, `skb`), when the
    /// daemon says and the answer is about one interface; absent from answers made from
    /// counters alone, and from answers summing several interfaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iface: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attach: Option<String>,
    /// Every interface the counters were summed over, when more than one: a client that
    /// knows only `iface` sees none named rather than one named wrongly.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interfaces: Vec<Watched>,
    /// Findings open now, by level, when the daemon says (not in answers made from counters
    /// alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_findings: Option<OpenFindings>,
}

/// How many findings are open, by level.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenFindings {
    pub benign: u64,
    pub notable: u64,
    pub suspicious: u64,
    pub hostile: u64,
}

impl OpenFindings {
    /// From counts in level order (benign first).
    pub fn from_levels([benign, notable, suspicious, hostile]: [u64; 4]) -> Self {
        Self {
            benign,
            notable,
            suspicious,
            hostile,
        }
    }

    /// Counts in level order (benign first).
    pub fn levels(self) -> [u64; 4] {
        [self.benign, self.notable, self.suspicious, self.hostile]
    }
}

/// A watched interface and how the program is attached to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watched {
    pub iface: String,
    /// `native` or `skb`.
    pub attach: String,
}

impl Stats {
    /// Names the interfaces the counters came from: one in `iface` and `attach`, as a
    /// single-interface daemon always has; several in `interfaces`.
    pub fn name(&mut self, mut watched: Vec<Watched>) {
        if let [one] = watched.as_mut_slice() {
            self.iface = Some(std::mem::take(&mut one.iface));
            self.attach = Some(std::mem::take(&mut one.attach));
        } else {
            self.interfaces = watched;
        }
    }

    /// What the counters watch, for people: `eth0 (native XDP)`, `eth0, eth1 (native XDP)`
    /// when the modes agree, else `eth0 (native XDP), eth1 (skb XDP)`; made printable. None
    /// when the answer names no interface.
    pub fn watching(&self) -> Option<String> {
        let line = |t: &str| crate::printable::line(t).into_owned();
        if let (Some(iface), Some(attach)) = (&self.iface, &self.attach) {
            return Some(format!("{} ({} XDP)", line(iface), line(attach)));
        }
        let first = self.interfaces.first()?;
        if self.interfaces.iter().all(|w| w.attach == first.attach) {
            let names: Vec<String> = self.interfaces.iter().map(|w| line(&w.iface)).collect();
            return Some(format!(
                "{} ({} XDP)",
                names.join(", "),
                line(&first.attach)
            ));
        }
        let each: Vec<String> = self
            .interfaces
            .iter()
            .map(|w| format!("{} ({} XDP)", line(&w.iface), line(&w.attach)))
            .collect();
        Some(each.join(", "))
    }
}

/// A source's row in the `sources` and `port` answers. A daemon answering for several
/// interfaces gives each interface's rows apart, each naming its interface: a source seen on
/// two has two rows, as its sketches (distinct ports and hosts) cannot be summed from rows.
/// Without `iface` the wire form is the [`SourceRow`](crate::sources::SourceRow)'s alone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceEntry {
    #[serde(flatten)]
    pub row: crate::sources::SourceRow,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iface: Option<String>,
}

impl From<crate::sources::SourceRow> for SourceEntry {
    fn from(row: crate::sources::SourceRow) -> Self {
        Self { row, iface: None }
    }
}

// Readers of a row (probe top's port pane) need only the row: they read an entry as one.
impl std::ops::Deref for SourceEntry {
    type Target = crate::sources::SourceRow;

    fn deref(&self) -> &Self::Target {
        &self.row
    }
}

/// One port's counters, with what the port is known for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortRow {
    pub port: u16,
    pub proto: Proto,
    pub packets: u64,
    /// Connection attempts (SYN without ACK); destination TCP ports only, else 0.
    pub syn: u64,
    pub class: String,
    /// Short name of what uses the port (as a source port, for `--source`).
    pub name: String,
    /// What traffic on it most likely is, in one line.
    pub meaning: String,
    /// benign, notable, suspicious or hostile.
    pub level: String,
}

/// One ICMP or ICMPv6 type and code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IcmpRow {
    /// `icmp` or `icmpv6`.
    pub family: String,
    #[serde(rename = "type")]
    pub icmp_type: u8,
    pub code: u8,
    pub packets: u64,
    pub name: String,
    pub meaning: String,
    pub level: String,
}

impl IcmpRow {
    /// The row as a table shows it: family, type, code, packets, level, `NAME: MEANING`.
    pub fn cells(&self) -> Vec<String> {
        vec![
            self.family.clone(),
            self.icmp_type.to_string(),
            self.code.to_string(),
            self.packets.to_string(),
            self.level.clone(),
            crate::knowledge::named(&self.name, &self.meaning).into_owned(),
        ]
    }
}

/// One combination of TCP flags.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlagRow {
    pub bits: u8,
    /// Names joined by commas in header order (`SYN,ACK`), or `NULL` for none.
    pub flags: String,
    pub packets: u64,
}

/// Flag names in the order of their bits.
const FLAG_NAMES: [&str; 8] = ["FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"];

/// `SYN,ACK` for 0x12; `NULL` when no flag is set.
pub fn flag_names(bits: u8) -> String {
    if bits == 0 {
        return "NULL".to_owned();
    }
    let names: Vec<&str> = FLAG_NAMES
        .iter()
        .enumerate()
        .filter(|(i, _)| bits & (1 << i) != 0)
        .map(|(_, n)| *n)
        .collect();
    names.join(",")
}

/// Busiest first; ties by key so output is stable.
fn busiest_first<T>(rows: &mut Vec<T>, packets: impl Fn(&T) -> u64, top: Option<usize>) {
    rows.sort_by_key(|r| std::cmp::Reverse(packets(r)));
    if let Some(n) = top {
        rows.truncate(n);
    }
}

pub fn stats(s: &Snapshot) -> Stats {
    Stats {
        packets: s.total(total::PACKETS),
        bytes: s.total(total::BYTES),
        ipv4: s.total(total::IPV4),
        ipv6: s.total(total::IPV6),
        other_ether_type: s.total(total::OTHER_ETHER_TYPE),
        vlan_tagged: s.total(total::VLAN_TAGGED),
        fragments: s.total(total::FRAGMENTS),
        tiny_fragments: s.total(total::TINY_FRAGMENTS),
        long_header_chains: s.total(total::LONG_HEADER_CHAINS),
        malformed: s.total(total::MALFORMED),
        tcp: s.tcp_packets(),
        udp: s.udp_packets(),
        icmp: s.icmp.iter().sum(),
        icmpv6: s.icmpv6.iter().sum(),
        events: s.total(total::EVENTS),
        events_rate_limited: s.total(total::EVENTS_RATE_LIMITED),
        events_ring_full: s.total(total::EVENTS_RING_FULL),
        iface: None,
        attach: None,
        interfaces: Vec::new(),
        open_findings: None,
    }
}

pub fn ports(
    s: &Snapshot,
    k: &Knowledge,
    proto: Option<Proto>,
    source: bool,
    top: Option<usize>,
) -> Vec<PortRow> {
    let mut rows = Vec::new();
    for p in [Proto::Tcp, Proto::Udp] {
        if proto.is_some_and(|want| want != p) {
            continue;
        }
        for port in 0..=u16::MAX {
            let packets = s.port(p.counter_index(), port, source);
            if packets == 0 {
                continue;
            }
            let syn = if p == Proto::Tcp && !source {
                s.syn_ports[port as usize]
            } else {
                0
            };
            rows.push(PortRow {
                port,
                proto: p,
                packets,
                syn,
                class: RangeClass::of(port).to_string(),
                name: String::new(),
                meaning: String::new(),
                level: String::new(),
            });
        }
    }
    busiest_first(&mut rows, |r| r.packets, top);
    // Looked up after the cut: a busy interface can have every port active.
    let direction = if source {
        Direction::Source
    } else {
        Direction::Destination
    };
    for r in &mut rows {
        let m = k.port(r.port, r.proto, direction);
        r.name = m.name;
        r.meaning = m.meaning;
        r.level = m.level.to_string();
    }
    rows
}

pub fn icmp(s: &Snapshot, k: &Knowledge, top: Option<usize>) -> Vec<IcmpRow> {
    let mut rows = Vec::new();
    for (family, counts) in [("icmp", &s.icmp), ("icmpv6", &s.icmpv6)] {
        for (key, &packets) in counts.iter().enumerate() {
            if packets != 0 {
                rows.push(IcmpRow {
                    family: family.to_owned(),
                    icmp_type: (key >> 8) as u8,
                    code: key as u8,
                    packets,
                    name: String::new(),
                    meaning: String::new(),
                    level: String::new(),
                });
            }
        }
    }
    busiest_first(&mut rows, |r| r.packets, top);
    for r in &mut rows {
        let family = if r.family == "icmp" {
            IcmpFamily::V4
        } else {
            IcmpFamily::V6
        };
        let m = k.icmp(family, r.icmp_type, r.code);
        r.name = m.name;
        r.meaning = m.meaning;
        r.level = m.level.to_string();
    }
    rows
}

pub fn flags(s: &Snapshot, top: Option<usize>) -> Vec<FlagRow> {
    let mut rows: Vec<FlagRow> = s
        .tcp_flags
        .iter()
        .enumerate()
        .filter(|(_, n)| **n != 0)
        .map(|(bits, &packets)| FlagRow {
            bits: bits as u8,
            flags: flag_names(bits as u8),
            packets,
        })
        .collect();
    busiest_first(&mut rows, |r| r.packets, top);
    rows
}

/// Answers `query` from `s`, as the JSON value the protocol carries.
/// Rows a `ports`, `icmp` or `flags` answer holds when the request names no `top`: the busiest
/// ones. A full answer of every port is a few tens of megabytes; a client that wants it asks.
pub const DEFAULT_TOP: usize = 4096;

/// A whole response carrying `ok`, serialized straight from the rows: going through a
/// `serde_json::Value` first cost several times the answer's size in memory.
#[derive(Serialize)]
struct Ok<'a, T: Serialize> {
    version: u32,
    ok: &'a T,
}

/// The response body for `value`: `{"version":1,"ok":...}`.
pub fn ok_body<T: Serialize>(value: &T) -> serde_json::Result<Vec<u8>> {
    serde_json::to_vec(&Ok {
        version: super::protocol::VERSION,
        ok: value,
    })
}

/// Bytes an answer to `query` may take at most, held against the server's budget before it is
/// built: rows (every port of both protocols at most) times a generous row.
pub fn estimate(query: &Query) -> usize {
    const ROW: usize = 256;
    let rows = |top: Option<usize>, most: usize| top.unwrap_or(DEFAULT_TOP).min(most);
    match query {
        Query::Stats => 1024,
        // Ports: both protocols' 65,536; ICMP: both families' 65,536 type-code pairs.
        Query::Ports { top, .. } | Query::Icmp { top } => rows(*top, 2 * 65_536) * ROW,
        Query::Flags { top } => rows(*top, 256) * ROW,
        // The findings kept (10,000 at most, a few KiB each) are not counted before: this
        // much is held first, and the answer's real size is checked once it is made.
        Query::Findings { .. } => 4 << 20,
        // A source row with a few findings; a port's answer holds ten sources and its
        // findings.
        Query::Sources { top, .. } => rows(Some(top.unwrap_or(DEFAULT_SOURCES)), 1 << 24) * 512,
        Query::Port { .. } => 64 << 10,
    }
}

/// Rows a `sources` answer holds when the request names no `top`.
pub const DEFAULT_SOURCES: usize = 100;
/// Sources a `port` answer lists.
pub const PORT_SOURCES: usize = 10;

/// One protocol's counters of a port.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortCounts {
    /// Packets to the port.
    pub packets: u64,
    /// Connection attempts to it (TCP only).
    pub syn: u64,
    /// Packets from it (as a source port).
    pub as_source: u64,
    pub name: String,
    pub meaning: String,
    pub level: String,
}

/// `probe query port P`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PortAnswer {
    pub port: u16,
    pub class: String,
    pub tcp: PortCounts,
    pub udp: PortCounts,
    /// The busiest sources whose port sketch holds the port (a sketch bit is shared by about
    /// one port in 512, so a source here may have sent to another port of the same bit).
    pub sources: Vec<SourceEntry>,
    /// Open and recent findings whose `port` is this port.
    pub findings: Vec<crate::findings::Finding>,
}

/// The counters and meanings of `port`, without its sources and findings.
pub fn port(s: &Snapshot, k: &Knowledge, port: u16) -> PortAnswer {
    let counts = |p: Proto| {
        let m = k.port(port, p, Direction::Destination);
        PortCounts {
            packets: s.port(p.counter_index(), port, false),
            syn: if p == Proto::Tcp {
                s.syn_ports[port as usize]
            } else {
                0
            },
            as_source: s.port(p.counter_index(), port, true),
            name: m.name,
            meaning: m.meaning,
            level: m.level.to_string(),
        }
    };
    PortAnswer {
        port,
        class: RangeClass::of(port).to_string(),
        tcp: counts(Proto::Tcp),
        udp: counts(Proto::Udp),
        sources: Vec::new(),
        findings: Vec::new(),
    }
}

/// The response body answering `query` from counters (`top` defaults to [`DEFAULT_TOP`]).
pub fn answer_body(query: &Query, s: &Snapshot, k: &Knowledge) -> serde_json::Result<Vec<u8>> {
    let top = |t: Option<usize>| Some(t.unwrap_or(DEFAULT_TOP));
    match query {
        Query::Stats => ok_body(&stats(s)),
        Query::Ports {
            proto,
            source,
            top: t,
        } => ok_body(&ports(s, k, *proto, *source, top(*t))),
        Query::Icmp { top: t } => ok_body(&icmp(s, k, top(*t))),
        Query::Flags { top: t } => ok_body(&flags(s, top(*t))),
        Query::Port { port: p } => ok_body(&port(s, k, *p)),
        // Findings and sources come from the daemon's stores, not the counters.
        Query::Findings { .. } | Query::Sources { .. } => ok_body(&Vec::<()>::new()),
    }
}

#[cfg(test)]
mod tests {
    use probe_common::counters::{icmp_key, port_key, port_proto};
    use serde_json::json;

    use super::*;

    fn snapshot() -> Snapshot {
        let mut s = Snapshot::zeroed();
        s.dst_ports[port_key(port_proto::TCP, 22) as usize] = 5;
        s.syn_ports[22] = 3;
        s.dst_ports[port_key(port_proto::UDP, 53) as usize] = 9;
        s.dst_ports[port_key(port_proto::UDP, 60_000) as usize] = 5;
        s.src_ports[port_key(port_proto::UDP, 53) as usize] = 2;
        s.tcp_flags[0x12] = 4;
        s.tcp_flags[0] = 1;
        s.icmp[icmp_key(3, 4) as usize] = 7;
        s.icmpv6[icmp_key(128, 0) as usize] = 1;
        s.totals[total::PACKETS as usize] = 30;
        s
    }

    fn k() -> Knowledge {
        Knowledge::new(crate::knowledge::Services::empty())
    }

    #[test]
    fn an_answer_without_top_holds_the_busiest_default_rows_and_its_room_is_estimated() {
        let mut s = Snapshot::zeroed();
        for port in 0..5000u16 {
            s.dst_ports[port_key(port_proto::UDP, port) as usize] = u64::from(port) + 1;
        }
        let query = Query::Ports {
            proto: None,
            source: false,
            top: None,
        };
        let body = answer_body(&query, &s, &k()).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["version"], 1);
        let rows = v["ok"].as_array().unwrap();
        assert_eq!(rows.len(), DEFAULT_TOP);
        assert_eq!(rows[0]["port"], 4999, "busiest first");
        assert!(body.len() <= estimate(&query), "{} bytes", body.len());
        let all = Query::Ports {
            proto: None,
            source: false,
            top: Some(usize::MAX),
        };
        assert_eq!(estimate(&all), 2 * 65_536 * 256);
        assert_eq!(estimate(&Query::Stats), 1024);
    }

    #[test]
    fn ports_are_busiest_first_with_syns_and_classes() {
        let rows = ports(&snapshot(), &k(), None, false, None);
        let got: Vec<_> = rows
            .iter()
            .map(|r| (r.port, r.proto, r.packets, r.syn, r.class.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (53, Proto::Udp, 9, 0, "well-known"),
                (22, Proto::Tcp, 5, 3, "well-known"),
                (60_000, Proto::Udp, 5, 0, "dynamic"),
            ]
        );
    }

    #[test]
    fn ports_filter_by_protocol_direction_and_top() {
        let s = snapshot();
        assert_eq!(ports(&s, &k(), Some(Proto::Tcp), false, None).len(), 1);
        let src = ports(&s, &k(), None, true, None);
        assert_eq!(src.len(), 1);
        assert_eq!((src[0].port, src[0].packets, src[0].syn), (53, 2, 0));
        assert_eq!(ports(&s, &k(), None, false, Some(1))[0].port, 53);
    }

    #[test]
    fn icmp_rows_split_type_and_code_per_family() {
        let rows = icmp(&snapshot(), &k(), None);
        let got: Vec<_> = rows
            .iter()
            .map(|r| (r.family.as_str(), r.icmp_type, r.code, r.packets))
            .collect();
        assert_eq!(got, [("icmp", 3, 4, 7), ("icmpv6", 128, 0, 1)]);
    }

    #[test]
    fn rows_carry_what_the_port_or_message_means() {
        let mut s = Snapshot::zeroed();
        s.dst_ports[port_key(port_proto::TCP, 31_337) as usize] = 2;
        s.src_ports[port_key(port_proto::UDP, 27_015) as usize] = 1;
        s.icmp[icmp_key(3, 4) as usize] = 1;
        let dst = &ports(&s, &k(), None, false, None)[0];
        assert_eq!(
            (dst.name.as_str(), dst.level.as_str()),
            ("Back Orifice", "hostile")
        );
        assert!(dst.meaning.contains("Back Orifice"), "{}", dst.meaning);
        let src = &ports(&s, &k(), None, true, None)[0];
        assert_eq!(
            (src.name.as_str(), src.level.as_str()),
            ("Half-Life server", "benign")
        );
        let frag = &icmp(&s, &k(), None)[0];
        assert_eq!(
            (frag.name.as_str(), frag.level.as_str()),
            ("Fragmentation Needed", "notable")
        );
    }

    #[test]
    fn flags_are_named_in_header_order() {
        assert_eq!(flag_names(0x12), "SYN,ACK");
        assert_eq!(flag_names(0x29), "FIN,PSH,URG");
        assert_eq!(flag_names(0), "NULL");
        assert_eq!(flag_names(0xff), "FIN,SYN,RST,PSH,ACK,URG,ECE,CWR");
        let rows = flags(&snapshot(), None);
        assert_eq!(
            rows[0],
            FlagRow {
                bits: 0x12,
                flags: "SYN,ACK".into(),
                packets: 4
            }
        );
        assert_eq!(rows[1].flags, "NULL");
    }

    fn watched(iface: &str, attach: &str) -> Watched {
        Watched {
            iface: iface.into(),
            attach: attach.into(),
        }
    }

    #[test]
    fn stats_of_one_interface_name_it_as_ever_and_of_several_list_them() {
        let mut one = stats(&Snapshot::zeroed());
        one.name(vec![watched("eth0", "native")]);
        let v = serde_json::to_value(&one).unwrap();
        assert_eq!(
            (&v["iface"], &v["attach"]),
            (&json!("eth0"), &json!("native"))
        );
        assert_eq!(v.get("interfaces"), None);
        assert_eq!(one.watching().as_deref(), Some("eth0 (native XDP)"));

        let mut two = stats(&Snapshot::zeroed());
        two.name(vec![watched("eth0", "native"), watched("eth1", "native")]);
        let v = serde_json::to_value(&two).unwrap();
        assert_eq!((v.get("iface"), v.get("attach")), (None, None));
        assert_eq!(
            v["interfaces"],
            json!([
                {"iface": "eth0", "attach": "native"},
                {"iface": "eth1", "attach": "native"}
            ])
        );
        assert_eq!(serde_json::from_value::<Stats>(v).unwrap(), two);
        assert_eq!(two.watching().as_deref(), Some("eth0, eth1 (native XDP)"));
        two.interfaces[1].attach = "skb".into();
        assert_eq!(
            two.watching().as_deref(),
            Some("eth0 (native XDP), eth1 (skb XDP)")
        );
        assert_eq!(stats(&Snapshot::zeroed()).watching(), None);
    }

    #[test]
    fn a_source_entry_without_an_interface_is_the_rows_own_wire_form() {
        let row = crate::sources::SourceRow {
            src: "198.18.0.2".into(),
            packets: 3,
            syns: 1,
            ports: 2,
            hosts: 1,
            ttl_min: 60,
            ttl_max: 64,
            hops: 0,
            first_seen_ns: 1,
            last_seen_ns: 2,
            findings: Vec::new(),
        };
        let plain = serde_json::to_string(&row).unwrap();
        let entry = SourceEntry::from(row.clone());
        assert_eq!(serde_json::to_string(&entry).unwrap(), plain);
        let named = SourceEntry {
            row,
            iface: Some("eth1".into()),
        };
        let text = serde_json::to_string(&named).unwrap();
        assert_eq!(
            text,
            format!("{},\"iface\":\"eth1\"}}", &plain[..plain.len() - 1])
        );
        assert_eq!(serde_json::from_str::<SourceEntry>(&text).unwrap(), named);
    }

    #[test]
    fn stats_sum_the_families() {
        let st = stats(&snapshot());
        assert_eq!(
            (st.packets, st.tcp, st.udp, st.icmp, st.icmpv6),
            (30, 5, 14, 7, 1)
        );
    }
}
