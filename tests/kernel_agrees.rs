//! The host parser and the kernel agree: generated frames, valid and malformed, are sent through
//! the live XDP program, and every counter the daemon reports (totals, destination and source
//! ports with connection attempts, ICMP types and codes, TCP flag combinations) moves by exactly
//! what `probe_common::packet::parse`, run on the host over the same bytes, says it must.
//!
//! A property test (proptest): each case is a batch of frames; the counters are read before and
//! after the batch and the difference compared, so a failing case shrinks to the smallest batch
//! of the simplest frames that still disagree. The seed is fixed (override it with
//! `PROPTEST_RNG_SEED`, the case count with `PROPTEST_CASES`).
//!
//! The frames: up to three VLAN tags; IPv4 with options and fragment fields; IPv6 with up to
//! seven extension headers including fragment headers; TCP (any flags, options), UDP, ICMP,
//! ICMPv6, other protocols; other EtherTypes; random bytes behind an IP EtherType; and each of
//! them possibly cut short or with one header field made inconsistent. Every frame is at least
//! 14 bytes (a whole Ethernet header): the kernel refuses to send anything shorter from a packet
//! socket (`EINVAL`, checked below), and a veth could not deliver it, so no shorter frame can
//! reach the program here; the parser's handling of those is left to the host tests.
//! Addresses come only from the lab ranges: mutations never touch address bytes, and random
//! bytes behind an IP EtherType have lab addresses written over where the addresses would be.

use std::{
    cell::Cell,
    collections::BTreeMap,
    fmt::Write as _,
    net::{Ipv4Addr, Ipv6Addr},
    thread,
    time::{Duration, Instant},
};

use probe_common::packet::{Network, Transport, parse};
use probe_integration::{
    Daemon, Lab, RawSocket, Stats,
    craft::{self, Ipv4, TPID_8021AD, TPID_8021Q, proto},
    require_root,
};
use proptest::{
    collection::vec,
    prelude::*,
    test_runner::{Config, RngSeed, TestCaseError, TestRunner},
};
use serde_json::Value;

/// The fixed seed: every run sends the same frames.
const SEED: u64 = 0x6b65_726e_656c;
/// Cases (batches) and frames per batch: 6 × 40-60, about 300 frames.
const CASES: u32 = 6;
const BATCH: std::ops::RangeInclusive<usize> = 40..=60;
/// How long a batch may take to be counted.
const COUNT_LIMIT: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------------------------
// What a frame is made of.

#[derive(Clone, Debug)]
enum Transport4 {
    Tcp {
        src: u16,
        dst: u16,
        flags: u8,
        options: Vec<u8>,
    },
    Udp {
        src: u16,
        dst: u16,
    },
    /// ICMP in IPv4, ICMPv6 in IPv6.
    Icmp {
        icmp_type: u8,
        code: u8,
    },
    /// Any other protocol number (59 is IPv6's "no next header"; 58 in IPv4 is not ICMP).
    Other {
        protocol: u8,
    },
}

#[derive(Clone, Debug)]
enum Extension {
    HopByHop(u8),
    Routing(u8),
    DestinationOptions(u8),
    Fragment { offset: u16, more: bool },
}

#[derive(Clone, Debug)]
enum Layer3 {
    V4 {
        src: u32,
        dst: u8,
        options: Vec<(u8, u8)>,
        dont_fragment: bool,
        more_fragments: bool,
        offset: u16,
        ttl: u8,
        l4: Transport4,
    },
    V6 {
        src: u16,
        dst: u16,
        extensions: Vec<Extension>,
        hop_limit: u8,
        l4: Transport4,
    },
    /// An EtherType the probe only counts.
    Other { ether_type: u16 },
    /// Random bytes behind the IPv4 (`v6` false) or IPv6 EtherType.
    Garbage { v6: bool },
}

/// A header field made inconsistent after the frame is built.
#[derive(Clone, Debug)]
enum Mutation {
    None,
    /// Cut the frame to `n`/256 of its length (at least 14 bytes).
    Cut(u8),
    /// Set the IP version nibble.
    Version(u8),
    /// Set IPv4's IHL nibble.
    Ihl(u8),
    /// Set IPv4's total length or IPv6's payload length.
    IpLength(u16),
    /// Set TCP's data offset nibble.
    TcpOffset(u8),
    /// Set UDP's length field.
    UdpLength(u16),
    /// Set a byte of the transport header or payload (after the addresses) to `value`.
    Byte {
        at: u8,
        value: u8,
    },
}

#[derive(Clone, Debug)]
struct Spec {
    tags: Vec<bool>,
    layer3: Layer3,
    payload: Vec<u8>,
    mutation: Mutation,
}

fn transport() -> impl Strategy<Value = Transport4> {
    prop_oneof![
        4 => (any::<u16>(), any::<u16>(), any::<u8>(), vec(any::<u8>(), 0..=40)).prop_map(
            |(src, dst, flags, options)| Transport4::Tcp { src, dst, flags, options }
        ),
        3 => (any::<u16>(), any::<u16>()).prop_map(|(src, dst)| Transport4::Udp { src, dst }),
        3 => (any::<u8>(), any::<u8>())
            .prop_map(|(icmp_type, code)| Transport4::Icmp { icmp_type, code }),
        1 => prop_oneof![Just(0u8), Just(43), Just(44), Just(47), Just(58), Just(59), Just(60), any::<u8>()]
            .prop_map(|protocol| Transport4::Other { protocol }),
    ]
}

fn extension() -> impl Strategy<Value = Extension> {
    prop_oneof![
        (0u8..3).prop_map(Extension::HopByHop),
        (0u8..3).prop_map(Extension::Routing),
        (0u8..3).prop_map(Extension::DestinationOptions),
        (prop_oneof![Just(0u16), 1u16..0x2000], any::<bool>())
            .prop_map(|(offset, more)| Extension::Fragment { offset, more }),
    ]
}

fn layer3() -> impl Strategy<Value = Layer3> {
    let v4 = (
        0u32..(1 << 17),
        any::<u8>(),
        vec(
            (
                prop_oneof![
                    Just(0u8),
                    Just(1),
                    Just(7),
                    Just(68),
                    Just(130),
                    Just(148),
                    any::<u8>()
                ],
                0u8..12,
            ),
            0..6,
        ),
        any::<bool>(),
        any::<bool>(),
        prop_oneof![3 => Just(0u16), 1 => 1u16..0x2000],
        any::<u8>(),
        transport(),
    )
        .prop_map(
            |(src, dst, options, dont_fragment, more_fragments, offset, ttl, l4)| Layer3::V4 {
                src,
                dst,
                options,
                dont_fragment,
                more_fragments,
                offset,
                ttl,
                l4,
            },
        );
    let v6 = (
        any::<u16>(),
        any::<u16>(),
        prop_oneof![2 => Just(Vec::new()), 3 => vec(extension(), 1..=7)],
        any::<u8>(),
        transport(),
    )
        .prop_map(|(src, dst, extensions, hop_limit, l4)| Layer3::V6 {
            src,
            dst,
            extensions,
            hop_limit,
            l4,
        });
    let other = prop_oneof![
        Just(0x88ccu16),
        Just(0x88b5),
        Just(0x9000),
        Just(0x0030),
        0x0600u16..0x0800
    ]
    .prop_map(|ether_type| Layer3::Other { ether_type });
    prop_oneof![
        5 => v4,
        4 => v6,
        1 => other,
        1 => any::<bool>().prop_map(|v6| Layer3::Garbage { v6 }),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        10 => Just(Mutation::None),
        3 => any::<u8>().prop_map(Mutation::Cut),
        1 => (0u8..16).prop_map(Mutation::Version),
        1 => (0u8..16).prop_map(Mutation::Ihl),
        1 => any::<u16>().prop_map(Mutation::IpLength),
        1 => (0u8..16).prop_map(Mutation::TcpOffset),
        1 => any::<u16>().prop_map(Mutation::UdpLength),
        1 => (any::<u8>(), any::<u8>()).prop_map(|(at, value)| Mutation::Byte { at, value }),
    ]
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        prop_oneof![6 => Just(Vec::new()), 2 => vec(any::<bool>(), 1..=3)],
        layer3(),
        vec(any::<u8>(), 0..48),
        mutation(),
    )
        .prop_map(|(tags, layer3, payload, mutation)| Spec {
            tags,
            layer3,
            payload,
            mutation,
        })
}

// ---------------------------------------------------------------------------------------------
// Building the bytes.

/// Where the parts of a built frame start, for the mutations.
struct Offsets {
    l3: usize,
    /// First byte after the addresses.
    after_addresses: usize,
    l4: Option<usize>,
}

fn lab_v4(offset: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(Ipv4Addr::new(198, 18, 0, 0)) + offset)
}

/// `2001:db8:<a>::<b>`: inside the documentation prefix.
fn lab_v6(a: u16, b: u16) -> Ipv6Addr {
    Ipv6Addr::new(0x2001, 0x0db8, a, 0, 0, 0, 0, b)
}

fn transport_bytes(l4: &Transport4, payload: &[u8]) -> (u8, u8, Vec<u8>) {
    match l4 {
        Transport4::Tcp {
            src,
            dst,
            flags,
            options,
        } => (
            proto::TCP,
            proto::TCP,
            craft::tcp(*src, *dst, *flags, options, payload),
        ),
        Transport4::Udp { src, dst } => (proto::UDP, proto::UDP, craft::udp(*src, *dst, payload)),
        Transport4::Icmp { icmp_type, code } => (
            proto::ICMP,
            proto::ICMPV6,
            craft::icmp(*icmp_type, *code, [0, 1, 0, 1], payload),
        ),
        Transport4::Other { protocol } => (*protocol, *protocol, payload.to_vec()),
    }
}

/// IPv4 options from (kind, length) pairs: a one-byte kind (0 and 1), or kind, length and
/// zeros; lengths below 2 are kept as given (malformed on purpose).
fn v4_options(options: &[(u8, u8)]) -> Vec<u8> {
    let mut out = Vec::new();
    for &(kind, len) in options {
        if kind <= 1 {
            out.push(kind);
        } else {
            out.push(kind);
            out.push(len);
            out.extend(std::iter::repeat_n(0, usize::from(len.saturating_sub(2))));
        }
    }
    out.truncate(40);
    out
}

/// An IPv6 extension chain ending in `last` (the protocol after it), followed by `rest`.
fn v6_chain(extensions: &[Extension], last: u8, rest: &[u8]) -> (u8, Vec<u8>) {
    let mut body = rest.to_vec();
    let mut next = last;
    for e in extensions.iter().rev() {
        let (code, header) = match e {
            Extension::HopByHop(n) | Extension::Routing(n) | Extension::DestinationOptions(n) => {
                let code = match e {
                    Extension::HopByHop(_) => proto::IPV6_HOP_BY_HOP,
                    Extension::Routing(_) => proto::IPV6_ROUTING,
                    _ => proto::IPV6_DEST_OPTS,
                };
                let mut h = vec![next, *n];
                h.resize((usize::from(*n) + 1) * 8, 0);
                (code, h)
            }
            Extension::Fragment { offset, more } => {
                let word = (offset << 3) | u16::from(*more);
                let mut h = vec![next, 0];
                h.extend_from_slice(&word.to_be_bytes());
                h.extend_from_slice(&0x1234_5678u32.to_be_bytes());
                (proto::IPV6_FRAGMENT, h)
            }
        };
        let mut joined = header;
        joined.extend_from_slice(&body);
        body = joined;
        next = code;
    }
    (next, body)
}

fn build(spec: &Spec) -> Vec<u8> {
    let tags: Vec<(u16, u16)> = spec
        .tags
        .iter()
        .map(|&outer| (if outer { TPID_8021AD } else { TPID_8021Q }, 7))
        .collect();
    let (ether_type, l3, offsets) = match &spec.layer3 {
        Layer3::V4 {
            src,
            dst,
            options,
            dont_fragment,
            more_fragments,
            offset,
            ttl,
            l4,
        } => {
            let (protocol, _, l4_bytes) = transport_bytes(l4, &spec.payload);
            let options = v4_options(options);
            let ip = Ipv4 {
                ttl: *ttl,
                flags_fragment: (u16::from(*dont_fragment) << 14)
                    | (u16::from(*more_fragments) << 13)
                    | offset,
                options,
                ..Ipv4::new(lab_v4(*src), Ipv4Addr::new(198, 18, 1, *dst), protocol)
            };
            let packet = ip.packet(&l4_bytes);
            let header = packet.len() - l4_bytes.len();
            (
                craft::ETHER_IPV4,
                packet,
                Offsets {
                    l3: 0,
                    after_addresses: 20,
                    l4: Some(header),
                },
            )
        }
        Layer3::V6 {
            src,
            dst,
            extensions,
            hop_limit,
            l4,
        } => {
            let (_, protocol, l4_bytes) = transport_bytes(l4, &spec.payload);
            let (next, body) = v6_chain(extensions, protocol, &l4_bytes);
            let packet = craft::ipv6(lab_v6(0, *src), lab_v6(1, *dst), next, *hop_limit, &body);
            let l4_at = packet.len() - l4_bytes.len();
            (
                craft::ETHER_IPV6,
                packet,
                Offsets {
                    l3: 0,
                    after_addresses: 40,
                    l4: Some(l4_at),
                },
            )
        }
        Layer3::Other { ether_type } => (
            *ether_type,
            spec.payload.clone(),
            Offsets {
                l3: 0,
                after_addresses: 0,
                l4: None,
            },
        ),
        Layer3::Garbage { v6 } => {
            let mut bytes = spec.payload.clone();
            bytes.resize(bytes.len().max(48), 0x5a);
            let (ether_type, span, after) = if *v6 {
                let mut a = lab_v6(0, 2).octets().to_vec();
                a.extend_from_slice(&lab_v6(1, 7).octets());
                (craft::ETHER_IPV6, (8, a), 40)
            } else {
                let mut a = lab_v4(2).octets().to_vec();
                a.extend_from_slice(&lab_v4(0x107).octets());
                (craft::ETHER_IPV4, (12, a), 20)
            };
            bytes[span.0..span.0 + span.1.len()].copy_from_slice(&span.1);
            (
                ether_type,
                bytes,
                Offsets {
                    l3: 0,
                    after_addresses: after,
                    l4: None,
                },
            )
        }
    };
    let mut frame = craft::ethernet(&tags, ether_type);
    let base = frame.len();
    frame.extend_from_slice(&l3);
    mutate(&mut frame, spec, base, &offsets);
    frame
}

fn mutate(frame: &mut Vec<u8>, spec: &Spec, base: usize, at: &Offsets) {
    let l3 = base + at.l3;
    let v4 = matches!(spec.layer3, Layer3::V4 { .. });
    let ip = matches!(spec.layer3, Layer3::V4 { .. } | Layer3::V6 { .. });
    let l4 = at.l4.map(|o| base + o);
    match spec.mutation {
        Mutation::Cut(n) => {
            let keep = (frame.len() * usize::from(n) / 256).max(14);
            frame.truncate(keep);
        }
        Mutation::Version(v) if ip => frame[l3] = (v << 4) | (frame[l3] & 0x0f),
        Mutation::Ihl(ihl) if v4 => frame[l3] = 0x40 | ihl,
        Mutation::IpLength(len) if v4 => frame[l3 + 2..l3 + 4].copy_from_slice(&len.to_be_bytes()),
        Mutation::IpLength(len) if ip => frame[l3 + 4..l3 + 6].copy_from_slice(&len.to_be_bytes()),
        Mutation::TcpOffset(doff) => {
            if let (
                Some(l4),
                Layer3::V4 {
                    l4: Transport4::Tcp { .. },
                    ..
                }
                | Layer3::V6 {
                    l4: Transport4::Tcp { .. },
                    ..
                },
            ) = (l4, &spec.layer3)
                && l4 + 12 < frame.len()
            {
                frame[l4 + 12] = (doff << 4) | (frame[l4 + 12] & 0x0f);
            }
        }
        Mutation::UdpLength(len) => {
            if let (
                Some(l4),
                Layer3::V4 {
                    l4: Transport4::Udp { .. },
                    ..
                }
                | Layer3::V6 {
                    l4: Transport4::Udp { .. },
                    ..
                },
            ) = (l4, &spec.layer3)
                && l4 + 6 <= frame.len()
            {
                frame[l4 + 4..l4 + 6].copy_from_slice(&len.to_be_bytes());
            }
        }
        Mutation::Byte { at: n, value } => {
            let from = l3 + at.after_addresses;
            if from < frame.len() {
                let i = from + usize::from(n) % (frame.len() - from);
                frame[i] = value;
            }
        }
        // No mutation, or one that does not apply to this frame.
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// Counting: what the host parser says the kernel must count, and what the daemon reports.

/// Every counter `probe query` shows, keyed as it shows them; zero rows left out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Counts {
    stats: Stats,
    /// (proto, destination port) → (packets, connection attempts).
    dst_ports: BTreeMap<(String, u16), (u64, u64)>,
    /// (proto, source port) → packets.
    src_ports: BTreeMap<(String, u16), u64>,
    /// (family, type, code) → messages.
    icmp: BTreeMap<(String, u8, u8), u64>,
    /// flag byte → segments.
    flags: BTreeMap<u8, u64>,
}

fn bump<K: Ord>(map: &mut BTreeMap<K, u64>, key: K) {
    *map.entry(key).or_default() += 1;
}

/// What the kernel must count for `frames`, per the host parser and the counters' meanings
/// (probe-common/src/counters.rs, docs/protocol.md).
fn host_counts(frames: &[Vec<u8>]) -> Counts {
    let mut c = Counts::default();
    for frame in frames {
        c.stats.packets += 1;
        c.stats.bytes += frame.len() as u64;
        let Ok(p) = parse(frame) else {
            c.stats.malformed += 1;
            continue;
        };
        c.stats.vlan_tagged += u64::from(p.vlan_tags != 0);
        match p.network {
            Network::Ipv4 => c.stats.ipv4 += 1,
            Network::Ipv6 => c.stats.ipv6 += 1,
            Network::Other => {
                c.stats.other_ether_type += 1;
                continue;
            }
        }
        c.stats.fragments += u64::from(p.is_fragment);
        c.stats.tiny_fragments += u64::from(p.tiny_fragment);
        c.stats.long_header_chains += u64::from(p.long_chain);
        let proto = match p.transport {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
            Transport::Icmp => {
                c.stats.icmp += 1;
                bump(&mut c.icmp, ("icmp".to_owned(), p.icmp_type, p.icmp_code));
                continue;
            }
            Transport::Icmpv6 => {
                c.stats.icmpv6 += 1;
                bump(&mut c.icmp, ("icmpv6".to_owned(), p.icmp_type, p.icmp_code));
                continue;
            }
            Transport::None => continue,
        };
        let row = c
            .dst_ports
            .entry((proto.to_owned(), p.dst_port))
            .or_default();
        row.0 += 1;
        row.1 += u64::from(p.is_connection_attempt());
        bump(&mut c.src_ports, (proto.to_owned(), p.src_port));
        if proto == "tcp" {
            c.stats.tcp += 1;
            // A tiny fragment cut before the flags has none to count.
            if p.tcp_flags_known() {
                bump(&mut c.flags, p.tcp_flags);
            }
        } else {
            c.stats.udp += 1;
        }
    }
    c
}

fn rows(v: &Value) -> &Vec<Value> {
    v.as_array()
        .unwrap_or_else(|| panic!("expected a list: {v}"))
}

fn uint(row: &Value, name: &str) -> u64 {
    row[name]
        .as_u64()
        .unwrap_or_else(|| panic!("no integer {name:?} in {row}"))
}

fn text(row: &Value, name: &str) -> String {
    row[name]
        .as_str()
        .unwrap_or_else(|| panic!("no string {name:?} in {row}"))
        .to_owned()
}

fn byte(row: &Value, name: &str) -> u8 {
    u8::try_from(uint(row, name)).unwrap_or_else(|_| panic!("{name} out of range in {row}"))
}

fn port(row: &Value) -> u16 {
    u16::try_from(uint(row, "port")).unwrap_or_else(|_| panic!("port out of range in {row}"))
}

/// Everything the daemon counts, now.
fn daemon_counts(probe: &Daemon) -> Counts {
    let mut c = Counts {
        stats: probe.stats(),
        ..Counts::default()
    };
    for r in rows(&probe.query(&["ports"])) {
        let key = (text(r, "proto"), port(r));
        c.dst_ports
            .insert(key, (uint(r, "packets"), uint(r, "syn")));
    }
    for r in rows(&probe.query(&["ports", "--source"])) {
        c.src_ports
            .insert((text(r, "proto"), port(r)), uint(r, "packets"));
    }
    for r in rows(&probe.query(&["icmp"])) {
        let key = (text(r, "family"), byte(r, "type"), byte(r, "code"));
        c.icmp.insert(key, uint(r, "packets"));
    }
    for r in rows(&probe.query(&["flags"])) {
        c.flags.insert(byte(r, "bits"), uint(r, "packets"));
    }
    c
}

fn minus_map<K: Ord + Clone>(
    after: &BTreeMap<K, u64>,
    before: &BTreeMap<K, u64>,
) -> BTreeMap<K, u64> {
    after
        .iter()
        .map(|(k, &n)| (k.clone(), n - before.get(k).copied().unwrap_or(0)))
        .filter(|&(_, n)| n != 0)
        .collect()
}

/// What changed from `before` to `after` (counters only grow).
fn delta(after: &Counts, before: &Counts) -> Counts {
    let (a, b) = (&after.stats, &before.stats);
    Counts {
        stats: Stats {
            packets: a.packets - b.packets,
            bytes: a.bytes - b.bytes,
            ipv4: a.ipv4 - b.ipv4,
            ipv6: a.ipv6 - b.ipv6,
            other_ether_type: a.other_ether_type - b.other_ether_type,
            vlan_tagged: a.vlan_tagged - b.vlan_tagged,
            fragments: a.fragments - b.fragments,
            tiny_fragments: a.tiny_fragments - b.tiny_fragments,
            long_header_chains: a.long_header_chains - b.long_header_chains,
            malformed: a.malformed - b.malformed,
            tcp: a.tcp - b.tcp,
            udp: a.udp - b.udp,
            icmp: a.icmp - b.icmp,
            icmpv6: a.icmpv6 - b.icmpv6,
        },
        dst_ports: after
            .dst_ports
            .iter()
            .map(|(k, &(n, s))| {
                let (bn, bs) = before.dst_ports.get(k).copied().unwrap_or((0, 0));
                (k.clone(), (n - bn, s - bs))
            })
            .filter(|&(_, (n, s))| n != 0 || s != 0)
            .collect(),
        src_ports: minus_map(&after.src_ports, &before.src_ports),
        icmp: minus_map(&after.icmp, &before.icmp),
        flags: minus_map(&after.flags, &before.flags),
    }
}

/// Sends `frames` and returns what the daemon counted for them.
fn counted_by_kernel(
    probe: &Daemon,
    raw: &RawSocket,
    frames: &[Vec<u8>],
) -> Result<Counts, TestCaseError> {
    let before = daemon_counts(probe);
    for f in frames {
        raw.send(f);
    }
    let target = before.stats.packets + frames.len() as u64;
    let deadline = Instant::now() + COUNT_LIMIT;
    loop {
        let packets = probe.stats().packets;
        if packets == target {
            break;
        }
        if packets > target || Instant::now() > deadline {
            return Err(TestCaseError::fail(format!(
                "the kernel counted {} frames of the {} sent",
                packets - before.stats.packets,
                frames.len()
            )));
        }
        thread::sleep(Duration::from_millis(20));
    }
    // The last frame's other counters are written in the same program run as its packet count:
    // a moment later they are all in.
    thread::sleep(Duration::from_millis(100));
    Ok(delta(&daemon_counts(probe), &before))
}

fn hex(frame: &[u8]) -> String {
    frame.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

#[test]
fn the_kernel_counts_generated_frames_exactly_as_the_host_parser_says() {
    require_root!();
    let lab = Lab::new();
    let probe = Daemon::start(&lab);
    let raw = lab.raw_socket();
    let short = raw
        .try_send(&[0u8; 13])
        .expect_err("a 13-byte frame cannot be sent");
    assert_eq!(short.raw_os_error(), Some(libc::EINVAL), "{short}");

    let mut config = Config {
        cases: CASES,
        failure_persistence: None,
        max_shrink_iters: 150,
        max_shrink_time: 60_000,
        ..Config::default()
    };
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        config.rng_seed = RngSeed::Fixed(SEED);
    }
    if let Some(cases) = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
    {
        config.cases = cases;
    }
    let mut runner = TestRunner::new(config);
    // Every frame sent (shrinking sends more), and what the agreeing ones were.
    let sent = Cell::new(0u64);
    let kinds = Cell::new(Stats::default());
    let result = runner.run(&vec(spec(), BATCH), |specs| {
        let frames: Vec<Vec<u8>> = specs.iter().map(build).collect();
        let expected = host_counts(&frames);
        sent.set(sent.get() + frames.len() as u64);
        let got = counted_by_kernel(&probe, &raw, &frames)?;
        if got != expected {
            let listing: Vec<String> = frames.iter().map(|f| hex(f)).collect();
            return Err(TestCaseError::fail(format!(
                "kernel and host parser disagree\nkernel: {got:#?}\nhost:   {expected:#?}\nframes:\n{}",
                listing.join("\n")
            )));
        }
        let (k, e) = (kinds.get(), expected.stats);
        kinds.set(Stats {
            packets: k.packets + e.packets,
            bytes: k.bytes + e.bytes,
            ipv4: k.ipv4 + e.ipv4,
            ipv6: k.ipv6 + e.ipv6,
            other_ether_type: k.other_ether_type + e.other_ether_type,
            vlan_tagged: k.vlan_tagged + e.vlan_tagged,
            fragments: k.fragments + e.fragments,
            tiny_fragments: k.tiny_fragments + e.tiny_fragments,
            long_header_chains: k.long_header_chains + e.long_header_chains,
            malformed: k.malformed + e.malformed,
            tcp: k.tcp + e.tcp,
            udp: k.udp + e.udp,
            icmp: k.icmp + e.icmp,
            icmpv6: k.icmpv6 + e.icmpv6,
        });
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let (sent, s) = (sent.get(), kinds.get());
    eprintln!("agreed on {sent} frames: {s:?}");
    // Every kind of frame was in the mix: each counter moved.
    for (name, n) in [
        ("malformed", s.malformed),
        ("ipv4", s.ipv4),
        ("ipv6", s.ipv6),
        ("fragments", s.fragments),
        ("vlan_tagged", s.vlan_tagged),
        ("other_ether_type", s.other_ether_type),
        ("tcp", s.tcp),
        ("udp", s.udp),
        ("icmp", s.icmp),
        ("icmpv6", s.icmpv6),
    ] {
        assert!(
            n > 0,
            "no frame counted as {name}: the generator misses a kind ({s:?})"
        );
    }
    assert_eq!(lab.attacker_tx_dropped(), 0, "the lab dropped frames");
    assert_eq!(probe.settled_stats().packets, sent);
}
