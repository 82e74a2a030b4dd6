//! Which packets become contacts, and the hashes and sketches the kernel keeps of them.

mod common;

use std::collections::HashSet;

use common::{
    DST4, DST6, ETH, SRC4, SRC6, V4, addr4, ethernet, fragment_header, icmp, tcp, udp, v6_frame,
};
use probe_common::{
    packet::{Packet, ip_proto, parse, tcp_flags},
    track::{
        ContactKey, HOST_SKETCH_BITS, NoneListed, PORT_SKETCH_BITS, SourceSlot, contact_key,
        flow_hash, host_bit, is_established_tcp, port_bit,
    },
};

const GRE: u8 = 47;

fn parsed(frame: &[u8]) -> Packet {
    parse(frame).expect("well-formed")
}

fn key_of(frame: &[u8]) -> Option<ContactKey> {
    contact_key(&parsed(frame), &NoneListed)
}

/// The key of a packet from [`SRC4`] to [`DST4`].
fn v4_key(protocol: u8, port: u16, ttl: u8) -> ContactKey {
    ContactKey {
        src: addr4(SRC4),
        dst: addr4(DST4),
        port,
        protocol,
        ip_version: 4,
        ttl,
        pad: 0,
        src_port: 0,
    }
}

/// The key of a packet from [`SRC6`] to [`DST6`].
fn v6_key(protocol: u8, port: u16, ttl: u8) -> ContactKey {
    ContactKey {
        src: SRC6,
        dst: DST6,
        port,
        protocol,
        ip_version: 6,
        ttl,
        pad: 0,
        src_port: 0,
    }
}

// ---------------------------------------------------------------------------------------------
// contact_key
// ---------------------------------------------------------------------------------------------

#[test]
fn a_frame_that_is_not_ip_has_no_contact_key() {
    // An ARP request (RFC 826): parsed, counted, never tracked.
    let mut arp = ethernet(0x0806);
    arp.extend_from_slice(&[0, 1, 0x08, 0x00, 6, 4, 0, 1]);
    arp.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x01, 192, 0, 2, 1]);
    arp.extend_from_slice(&[0, 0, 0, 0, 0, 0, 192, 0, 2, 2]);
    assert_eq!(key_of(&arp), None);
    assert_eq!(contact_key(&Packet::default(), &NoneListed), None);
}

#[test]
fn established_tcp_segments_have_no_contact_key() {
    let flags = [
        tcp_flags::ACK,
        tcp_flags::ACK | tcp_flags::PSH,
        tcp_flags::FIN | tcp_flags::ACK,
        tcp_flags::RST | tcp_flags::ACK,
        tcp_flags::ACK | tcp_flags::URG | tcp_flags::ECE | tcp_flags::CWR,
    ];
    for f in flags {
        let v4 = parsed(&V4::new(ip_proto::TCP).frame(&tcp(443, f, 512, b"data")));
        assert!(is_established_tcp(&v4), "flags {f:#04x}");
        assert_eq!(contact_key(&v4, &NoneListed), None, "IPv4, flags {f:#04x}");
        let v6 = parsed(&v6_frame(ip_proto::TCP, 64, &tcp(443, f, 512, &[])));
        assert!(is_established_tcp(&v6), "flags {f:#04x}");
        assert_eq!(contact_key(&v6, &NoneListed), None, "IPv6, flags {f:#04x}");
    }
}

#[test]
fn tcp_with_syn_or_without_ack_is_a_contact_on_its_destination_port() {
    let flags = [
        tcp_flags::SYN,
        tcp_flags::SYN | tcp_flags::ECE | tcp_flags::CWR,
        // Unsolicited SYN+ACKs are backscatter: tracked.
        tcp_flags::SYN | tcp_flags::ACK,
        tcp_flags::FIN | tcp_flags::SYN | tcp_flags::RST | tcp_flags::ACK,
        0, // NULL scan
        tcp_flags::FIN,
        tcp_flags::FIN | tcp_flags::PSH | tcp_flags::URG, // XMAS scan
        tcp_flags::RST,
    ];
    for f in flags {
        let v4 = parsed(&V4::new(ip_proto::TCP).frame(&tcp(443, f, 512, &[])));
        assert!(!is_established_tcp(&v4), "flags {f:#04x}");
        assert_eq!(
            contact_key(&v4, &NoneListed),
            Some(v4_key(ip_proto::TCP, 443, 0)),
            "flags {f:#04x}"
        );
        let v6 = parsed(&v6_frame(ip_proto::TCP, 64, &tcp(8080, f, 512, &[])));
        assert_eq!(
            contact_key(&v6, &NoneListed),
            Some(v6_key(ip_proto::TCP, 8080, 0)),
            "flags {f:#04x}"
        );
    }
}

#[test]
fn the_ack_rule_applies_to_tcp_only() {
    // UDP and ICMP never carry TCP flags; a stray value in the field must not untrack them.
    let udp = Packet {
        tcp_flags: tcp_flags::ACK,
        ..parsed(&V4::new(ip_proto::UDP).frame(&udp(53, b"q")))
    };
    assert!(!is_established_tcp(&udp));
    assert_eq!(
        contact_key(&udp, &NoneListed),
        Some(v4_key(ip_proto::UDP, 53, 0))
    );
}

#[test]
fn udp_is_a_contact_on_its_destination_port() {
    let v4 = V4::new(ip_proto::UDP).frame(&udp(53, b"query"));
    assert_eq!(key_of(&v4), Some(v4_key(ip_proto::UDP, 53, 0)));
    let v6 = v6_frame(ip_proto::UDP, 64, &udp(5353, &[0; 12]));
    assert_eq!(key_of(&v6), Some(v6_key(ip_proto::UDP, 5353, 0)));
}

#[test]
fn non_first_fragments_have_no_contact_key() {
    // MF set, offset 185 (0xb9); the last fragment (MF clear, offset 370); an IPv6 one at
    // offset 185.
    for flags_fragment in [0x2000 | 0x00b9, 370] {
        let ip = V4 {
            flags_fragment,
            ..V4::new(ip_proto::UDP)
        };
        assert_eq!(
            key_of(&ip.frame(&[0xab; 40])),
            None,
            "{flags_fragment:#06x}"
        );
    }
    let payload = [fragment_header(ip_proto::TCP, 185, true, 7), vec![0xab; 24]].concat();
    assert_eq!(key_of(&v6_frame(ip_proto::IPV6_FRAG, 64, &payload)), None);
}

#[test]
fn a_first_fragment_is_a_contact_on_its_ports() {
    let ip = V4 {
        flags_fragment: 0x2000,
        ..V4::new(ip_proto::UDP)
    };
    assert_eq!(
        key_of(&ip.frame(&udp(53, &[0; 32]))),
        Some(v4_key(ip_proto::UDP, 53, 0))
    );
    let payload = [
        fragment_header(ip_proto::UDP, 0, true, 7),
        udp(4789, &[0; 16]),
    ]
    .concat();
    assert_eq!(
        key_of(&v6_frame(ip_proto::IPV6_FRAG, 64, &payload)),
        Some(v6_key(ip_proto::UDP, 4789, 0))
    );
}

#[test]
fn icmp_contact_port_is_type_and_code_and_only_echo_requests_keep_the_ttl() {
    // (type, code, port, ttl kept); the frames' TTL is 37.
    let cases = [
        (8, 0, 0x0800, 37),  // echo request
        (0, 0, 0x0000, 0),   // echo reply
        (3, 3, 0x0303, 0),   // port unreachable
        (5, 1, 0x0501, 0),   // redirect for host
        (11, 0, 0x0b00, 0),  // time exceeded
        (13, 0, 0x0d00, 0),  // timestamp
        (128, 0, 0x8000, 0), // ICMPv6's echo request number means nothing to ICMP
    ];
    for (icmp_type, code, port, ttl) in cases {
        let ip = V4 {
            ttl: 37,
            ..V4::new(ip_proto::ICMP)
        };
        let f = ip.frame(&icmp(icmp_type, code, &[0, 1, 0, 1]));
        assert_eq!(
            key_of(&f),
            Some(v4_key(ip_proto::ICMP, port, ttl)),
            "type {icmp_type} code {code}"
        );
    }
}

#[test]
fn icmpv6_contact_port_is_type_and_code_and_only_echo_requests_keep_the_hop_limit() {
    // (type, code, port, hop limit kept); the frames' hop limit is 200.
    let cases = [
        (128, 0, 0x8000, 200), // echo request
        (129, 0, 0x8100, 0),   // echo reply
        (1, 4, 0x0104, 0),     // port unreachable
        (3, 0, 0x0300, 0),     // time exceeded
        (135, 0, 0x8700, 0),   // neighbour solicitation
        (8, 0, 0x0800, 0),     // ICMP's echo request number means nothing to ICMPv6
    ];
    for (icmp_type, code, port, ttl) in cases {
        let f = v6_frame(ip_proto::ICMPV6, 200, &icmp(icmp_type, code, &[0, 1, 0, 1]));
        assert_eq!(
            key_of(&f),
            Some(v6_key(ip_proto::ICMPV6, port, ttl)),
            "type {icmp_type} code {code}"
        );
    }
}

#[test]
fn each_ttl_of_an_icmp_traceroute_is_a_new_contact() {
    let keys: Vec<ContactKey> = (1..=30)
        .map(|ttl| {
            let ip = V4 {
                ttl,
                ..V4::new(ip_proto::ICMP)
            };
            key_of(&ip.frame(&icmp(8, 0, &[0, 1, 0, 1]))).expect("tracked")
        })
        .collect();
    let ttls: Vec<u8> = keys.iter().map(|k| k.ttl).collect();
    assert_eq!(ttls, (1..=30).collect::<Vec<u8>>());
    let hashes: HashSet<u64> = keys.iter().map(flow_hash).collect();
    assert_eq!(hashes.len(), 30);
}

#[test]
fn undecoded_protocols_are_contacts_on_port_zero() {
    // GRE (RFC 2784) carrying IPv4, an IPv6 "no next header", and ICMP's number under IPv6.
    let gre = V4::new(GRE).frame(&[0, 0, 0x08, 0x00, 0x45, 0, 0, 20]);
    assert_eq!(key_of(&gre), Some(v4_key(GRE, 0, 0)));
    let none = v6_frame(ip_proto::IPV6_NONXT, 64, &[]);
    assert_eq!(key_of(&none), Some(v6_key(ip_proto::IPV6_NONXT, 0, 0)));
    let icmp_in_v6 = v6_frame(ip_proto::ICMP, 64, &icmp(8, 0, &[0; 4]));
    assert_eq!(key_of(&icmp_in_v6), Some(v6_key(ip_proto::ICMP, 0, 0)));
}

#[test]
fn contact_key_takes_the_addresses_the_parser_read() {
    // Not the builder's defaults: a key that ignored the packet's addresses would still pass
    // the tests above.
    let mut f = V4::new(ip_proto::UDP).frame(&udp(123, &[0; 48]));
    f[ETH + 12..ETH + 20].copy_from_slice(&[203, 0, 113, 7, 10, 1, 2, 3]);
    assert_eq!(
        key_of(&f),
        Some(ContactKey {
            src: addr4([203, 0, 113, 7]),
            dst: addr4([10, 1, 2, 3]),
            ..v4_key(ip_proto::UDP, 123, 0)
        })
    );
}

// ---------------------------------------------------------------------------------------------
// flow_hash
// ---------------------------------------------------------------------------------------------

/// Keys of different shapes: a TCP SYN, an IPv6 UDP datagram, an ICMP echo request with its TTL.
fn sample_keys() -> [ContactKey; 3] {
    [
        v4_key(ip_proto::TCP, 443, 0),
        v6_key(ip_proto::UDP, 53, 0),
        v4_key(ip_proto::ICMP, 0x0800, 64),
    ]
}

#[test]
fn equal_keys_hash_equal() {
    for k in sample_keys() {
        let copy = ContactKey { ..k };
        assert_eq!(flow_hash(&k), flow_hash(&copy), "{k:?}");
    }
    // A key made by the parser and one written out by hand.
    let parsed_key = key_of(&V4::new(ip_proto::TCP).frame(&tcp(443, tcp_flags::SYN, 512, &[])));
    assert_eq!(
        parsed_key.map(|k| flow_hash(&k)),
        Some(flow_hash(&v4_key(ip_proto::TCP, 443, 0)))
    );
}

#[test]
fn flow_hash_changes_when_any_one_field_changes() {
    for base in sample_keys() {
        let h = flow_hash(&base);
        let mut variants = Vec::new();
        for i in 0..16 {
            let mut k = base;
            k.src[i] ^= 1;
            variants.push(k);
            let mut k = base;
            k.dst[i] ^= 0x80;
            variants.push(k);
        }
        // Source and destination swapped: the reply direction is another contact.
        variants.push(ContactKey {
            src: base.dst,
            dst: base.src,
            ..base
        });
        for port in [base.port ^ 1, base.port.wrapping_add(1), base.port ^ 0x8000] {
            variants.push(ContactKey { port, ..base });
        }
        for protocol in [ip_proto::TCP, ip_proto::UDP, ip_proto::ICMP, GRE] {
            if protocol != base.protocol {
                variants.push(ContactKey { protocol, ..base });
            }
        }
        for ttl in [base.ttl ^ 1, base.ttl.wrapping_add(64)] {
            variants.push(ContactKey { ttl, ..base });
        }
        for k in &variants {
            assert_ne!(flow_hash(k), h, "{k:?} against {base:?}");
        }
    }
}

#[test]
fn flow_hash_is_never_zero_and_separates_every_port_protocol_and_ttl_of_one_pair() {
    // Zero marks an empty cache slot. For one address pair, the port, protocol and TTL are mixed
    // in as one word, so every combination tried here must hash apart.
    for base in [v4_key(ip_proto::TCP, 0, 0), v6_key(ip_proto::UDP, 0, 0)] {
        let mut seen = HashSet::new();
        for protocol in [ip_proto::TCP, ip_proto::UDP] {
            for port in 0..=u16::MAX {
                let h = flow_hash(&ContactKey {
                    port,
                    protocol,
                    ..base
                });
                assert_ne!(h, 0, "port {port} protocol {protocol}");
                assert!(seen.insert(h), "port {port} protocol {protocol} collides");
            }
        }
        for ttl in 0..=u8::MAX {
            let h = flow_hash(&ContactKey {
                port: 0x0800,
                protocol: ip_proto::ICMP,
                ttl,
                ..base
            });
            assert_ne!(h, 0, "ttl {ttl}");
            assert!(seen.insert(h), "ttl {ttl} collides");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Sketches
// ---------------------------------------------------------------------------------------------

#[test]
fn the_sketch_sizes_match_the_source_state_arrays_and_the_cache_is_a_power_of_two() {
    let s = SourceSlot::EMPTY.state;
    assert_eq!(s.ports.len() * 64, PORT_SKETCH_BITS as usize);
    assert_eq!(s.hosts.len() * 64, HOST_SKETCH_BITS as usize);
}

#[test]
fn every_port_has_a_bit_inside_the_port_sketch_and_every_bit_is_used() {
    let mut bits = HashSet::new();
    for port in 0..=u16::MAX {
        let b = port_bit(port);
        assert!(b < PORT_SKETCH_BITS, "port {port}: bit {b}");
        assert_eq!(port_bit(port), b, "port {port}");
        bits.insert(b);
    }
    assert_eq!(bits.len(), PORT_SKETCH_BITS as usize);
}

#[test]
fn every_host_has_a_bit_inside_the_host_sketch_and_every_bit_is_used() {
    let mut v4_bits = HashSet::new();
    let mut v6_bits = HashSet::new();
    for i in 0..=u16::MAX {
        let [hi, lo] = i.to_be_bytes();
        let v4 = addr4([10, 0, hi, lo]);
        let mut v6 = DST6;
        v6[14..].copy_from_slice(&[hi, lo]);
        for (addr, bits) in [(v4, &mut v4_bits), (v6, &mut v6_bits)] {
            let b = host_bit(&addr);
            assert!(b < HOST_SKETCH_BITS, "{addr:?}: bit {b}");
            bits.insert(b);
        }
    }
    assert_eq!(v4_bits.len(), HOST_SKETCH_BITS as usize);
    assert_eq!(v6_bits.len(), HOST_SKETCH_BITS as usize);
}

#[cfg(feature = "user")]
mod estimate {
    use probe_common::track::{PORT_SKETCH_BITS, port_bit, sketch_estimate};

    /// Bits set in a port sketch after `ports`, set as the XDP program sets them.
    fn bits_set_by(ports: impl IntoIterator<Item = u16>) -> u32 {
        let mut sketch = [0u64; 8];
        for port in ports {
            let b = port_bit(port);
            sketch[(b / 64) as usize] |= 1 << (b % 64);
        }
        sketch.iter().map(|w| w.count_ones()).sum()
    }

    fn assert_close(actual: f64, expected: f64) {
        assert!(
            (actual - expected).abs() < 1e-9,
            "{actual} is not {expected}"
        );
    }

    #[test]
    fn an_empty_sketch_estimates_zero() {
        assert!(sketch_estimate(0, 512) == 0.0);
        assert!(sketch_estimate(0, 256) == 0.0);
    }

    #[test]
    fn an_empty_sketch_estimates_positive_zero() {
        let e = sketch_estimate(0, 512);
        assert!(e == 0.0 && e.is_sign_positive(), "{e:?}");
    }

    #[test]
    fn the_estimate_is_linear_counting() {
        // -m ln(zeros / m)
        assert_close(sketch_estimate(1, 512), -512.0 * (511.0f64 / 512.0).ln());
        assert_close(sketch_estimate(256, 512), 512.0 * 2.0f64.ln());
        assert_close(sketch_estimate(128, 256), 256.0 * 2.0f64.ln());
        assert_close(sketch_estimate(384, 512), 512.0 * 4.0f64.ln());
    }

    #[test]
    fn a_full_sketch_saturates_at_m_ln_m() {
        let full = 512.0 * 512.0f64.ln();
        assert_close(sketch_estimate(512, 512), full);
        // More bits than the sketch has reads as full.
        assert_close(sketch_estimate(600, 512), full);
        assert_close(sketch_estimate(u32::MAX, 512), full);
        // One zero bit left already reads m ln m: the estimate never falls as bits are set.
        assert_close(sketch_estimate(511, 512), full);
        for set in 0..511 {
            assert!(
                sketch_estimate(set + 1, 512) > sketch_estimate(set, 512),
                "{set}"
            );
        }
    }

    #[test]
    fn n_distinct_ports_estimate_n_within_ten_percent() {
        // A sequential scan from port 1, and a scattered one.
        for n in [10u16, 100, 300] {
            let scans = [
                (1..=n).collect::<Vec<u16>>(),
                (0..n).map(|i| 1024 + 211 * i).collect(),
            ];
            for ports in scans {
                let e = sketch_estimate(bits_set_by(ports), PORT_SKETCH_BITS);
                let err = (e - f64::from(n)).abs() / f64::from(n);
                assert!(err < 0.10, "{n} ports estimated as {e}");
            }
        }
    }
}

// Direct-mapped tables

#[test]
fn table_sizes_round_up_to_a_power_of_two_of_at_least_two() {
    use probe_common::track::table_slots;
    assert_eq!(table_slots(0), 2);
    assert_eq!(table_slots(1), 2);
    assert_eq!(table_slots(2), 2);
    assert_eq!(table_slots(3), 4);
    assert_eq!(table_slots(1000), 1024);
    assert_eq!(table_slots(65_536), 65_536);
    assert_eq!(table_slots(65_537), 131_072);
    assert_eq!(table_slots(u32::MAX), 1 << 31);
}

#[test]
fn a_table_over_every_cpu_stays_within_a_32_bit_index() {
    use probe_common::track::{MAX_TABLE_ENTRIES, slots_per_cpu};
    // Room enough: the power of two asked for.
    assert_eq!(slots_per_cpu(262_144, 2), 262_144);
    assert_eq!(slots_per_cpu(1000, 64), 1024);
    // 2^24 slots on 256 CPUs would be 2^32 entries: halved once.
    assert_eq!(slots_per_cpu(1 << 24, 256), 1 << 23);
    assert_eq!(slots_per_cpu(1 << 24, 128), 1 << 24);
    assert_eq!(
        u64::from(slots_per_cpu(1 << 24, 4096)) * 4096,
        MAX_TABLE_ENTRIES
    );
    assert_eq!(slots_per_cpu(1 << 24, 0), 1 << 24);
}

/// Distinct slots `hashes` fall into in a table of `slots` (a power of two).
fn slots_used(hashes: impl Iterator<Item = u64>, slots: u32) -> usize {
    hashes
        .map(|h| (h as u32) & (slots - 1))
        .collect::<HashSet<_>>()
        .len()
}

#[test]
fn a_port_scan_spreads_over_the_contacts_table_as_a_random_hash_would() {
    // 65,536 ports of one host into 262,144 slots: a uniform hash fills 1 - e^(-1/4) of the
    // keys' worth, about 88.5%. A hash that ignored the port's high byte would fill at most 256.
    let slots = probe_common::track::DEFAULT_CONTACTS;
    let used = slots_used(
        (0..=u16::MAX).map(|port| flow_hash(&v4_key(ip_proto::TCP, port, 0))),
        slots,
    );
    assert!((57_000..=59_000).contains(&used), "{used} slots");
}

#[test]
fn a_host_sweep_spreads_over_the_contacts_table_as_a_random_hash_would() {
    // One port on 65,536 consecutive IPv4 hosts, and on 65,536 IPv6 hosts differing in the
    // last two bytes: 88.5% of the keys' worth each, as for the port scan.
    let slots = probe_common::track::DEFAULT_CONTACTS;
    let v4 = slots_used(
        (0..65_536u32).map(|i| {
            let mut key = v4_key(ip_proto::TCP, 445, 0);
            key.dst[..4].copy_from_slice(&(0xc612_0000 | i).to_be_bytes());
            flow_hash(&key)
        }),
        slots,
    );
    let v6 = slots_used(
        (0..65_536u32).map(|i| {
            let mut key = v6_key(ip_proto::TCP, 445, 0);
            key.dst[14..].copy_from_slice(&(i as u16).to_be_bytes());
            flow_hash(&key)
        }),
        slots,
    );
    assert!(v4 >= 57_000, "IPv4: {v4} slots");
    assert!(v6 >= 57_000, "IPv6: {v6} slots");
}

#[test]
fn contacts_from_a_spread_of_sources_spread_over_the_contacts_table() {
    // A flood from 65,536 IPv6 sources differing in their top bytes (the part a random
    // source changes first) to one port: 88.5% of the keys' worth.
    let slots = probe_common::track::DEFAULT_CONTACTS;
    let used = slots_used(
        (0..65_536u32).map(|i| {
            let mut key = v6_key(ip_proto::UDP, 53, 0);
            key.src[..2].copy_from_slice(&(i as u16).to_be_bytes());
            flow_hash(&key)
        }),
        slots,
    );
    assert!(used >= 57_000, "{used} slots");
}

#[test]
fn a_sweep_of_sources_spreads_over_the_source_table_as_a_random_hash_would() {
    use probe_common::track::{DEFAULT_SOURCES, SourceKey, source_hash};
    // 65,536 consecutive IPv4 sources into 65,536 slots: about 1 - 1/e = 63.2% used.
    let used = slots_used(
        (0..65_536u32).map(|i| {
            let mut addr = [0; 16];
            addr[..4].copy_from_slice(&(0xc612_0000 | i).to_be_bytes());
            source_hash(&SourceKey {
                addr,
                ip_version: 4,
                pad: [0; 3],
            })
        }),
        DEFAULT_SOURCES,
    );
    assert!((40_500..=42_300).contains(&used), "{used} slots");
}

#[test]
fn the_same_bytes_as_an_ipv4_and_an_ipv6_source_are_two_sources() {
    use probe_common::track::{SourceKey, source_hash};
    let key = |ip_version| SourceKey {
        addr: [198, 18, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        ip_version,
        pad: [0; 3],
    };
    assert_ne!(source_hash(&key(4)), source_hash(&key(6)));
    assert_ne!(source_hash(&key(4)), 0);
}

/// Lists UDP 27015 only.
struct HalfLife;

impl probe_common::track::SourcePorts for HalfLife {
    fn listed(&self, udp: bool, port: u16) -> bool {
        udp && port == 27015
    }
}

#[test]
fn a_significant_source_port_is_part_of_the_contact_and_others_are_not() {
    use probe_common::track::keyed_source_port;
    // Reserved ports are keyed by rule, listed ports by the list, the rest not at all.
    assert_eq!(keyed_source_port(&NoneListed, true, 1001), 1001);
    assert_eq!(keyed_source_port(&NoneListed, false, 20), 20);
    assert_eq!(keyed_source_port(&NoneListed, true, 0), 0);
    assert_eq!(keyed_source_port(&NoneListed, true, 27015), 0);
    assert_eq!(keyed_source_port(&HalfLife, true, 27015), 27015);
    assert_eq!(
        keyed_source_port(&HalfLife, false, 27015),
        0,
        "listed for UDP only"
    );
    assert_eq!(keyed_source_port(&HalfLife, true, 1024), 0);

    let from = |sport: u16| {
        let mut d = udp(50_000, b"x");
        d[..2].copy_from_slice(&sport.to_be_bytes());
        parsed(&V4::new(ip_proto::UDP).frame(&d))
    };
    let key = |sport| contact_key(&from(sport), &HalfLife).expect("UDP is tracked");
    assert_eq!(key(27015).src_port, 27015);
    assert_eq!(key(40_000).src_port, 0);
    // Two server ports to one client port: two contacts; two client ports: one.
    assert_ne!(flow_hash(&key(27015)), flow_hash(&key(53)));
    assert_eq!(flow_hash(&key(40_000)), flow_hash(&key(40_001)));
    // Without a keyed source port the hash is what it was before source ports were keyed.
    let plain = ContactKey {
        src_port: 0,
        ..key(27015)
    };
    assert_eq!(flow_hash(&plain), flow_hash(&key(40_000)));
}

#[test]
fn a_source_slot_counts_its_packets_and_is_taken_over_by_another_source() {
    use probe_common::track::{Sighting, SourceKey};
    let key = |last| SourceKey {
        addr: [198, 18, 0, last, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        ip_version: 4,
        pad: [0; 3],
    };
    let (src, dst) = (key(2).addr, key(1).addr);
    let sighting = |len, echo_reply, reflected, ttl| Sighting {
        src: &src,
        dst: &dst,
        network: probe_common::packet::Network::Ipv4,
        dst_port: 40_000,
        ttl,
        syn: false,
        icmp: 0,
        len,
        echo_reply,
        reflected,
    };
    let mut slot = SourceSlot::EMPTY;
    slot.see(&key(2), &sighting(98, true, false, 60), 10);
    slot.see(&key(2), &sighting(1442, false, true, 57), 20);
    slot.see(&key(2), &sighting(1442, false, true, 61), 30);
    let s = slot.state;
    assert_eq!(
        (s.first_seen_ns, s.last_seen_ns, s.packets, s.bytes),
        (10, 30, 3, 98 + 2 * 1442)
    );
    assert_eq!(
        (s.echo_replies, s.reflected, s.ttl_min, s.ttl_max),
        (1, 2, 57, 61)
    );
    // Another source hashing here starts afresh.
    slot.see(&key(3), &sighting(60, false, false, 64), 40);
    let s = slot.state;
    assert_eq!(
        (
            slot.key,
            s.first_seen_ns,
            s.packets,
            s.bytes,
            s.echo_replies,
            s.reflected
        ),
        (key(3), 40, 1, 60, 0, 0)
    );
}

#[test]
fn reflector_ports_are_the_amplifying_services_and_not_echo() {
    use probe_common::track::reflector_port;
    for port in [17, 19, 53, 123, 161, 389, 1900, 3702, 5353, 11211] {
        assert!(reflector_port(port), "{port}");
    }
    for port in [7, 22, 80, 443, 1024, 40_000] {
        assert!(!reflector_port(port), "{port}");
    }
}
