//! Host tests of the frame parser, over frames built here from the RFCs.
//!
//! The builder below writes Ethernet II with 802.1Q/802.1ad tags, IPv4 (RFC 791) with options and
//! fragment fields, IPv6 (RFC 8200) with extension headers, TCP (RFC 9293), UDP (RFC 768), ICMP
//! (RFC 792) and `ICMPv6` (RFC 4443). Checksums stay zero: the parser never verifies them.
//! Most tests compare the whole [`Packet`], so a field the parser gets wrong fails every test that
//! reaches it, not only the one named after it.

extern crate std;

use std::{vec, vec::Vec};

use proptest::{prelude::*, sample::Index};

use super::{
    Attempt, Datagram, IPV6_MAX_EXTENSIONS, IpOptions, Malformed, Network, OptionsSpan, Packet,
    Segment, Shortcut, Transport, ether_type, ip_option, ip_proto, parse, shortcut_of, tcp_flags,
};

/// Source ports listed for the tests: every eighth port of each protocol (UDP's shifted by
/// one), so generated packets meet listed, unlisted and reserved source ports alike.
struct Eighths;

impl crate::track::SourcePorts for Eighths {
    fn listed(&self, udp: bool, port: u16) -> bool {
        port.wrapping_add(u16::from(udp)) % 8 == 0
    }
}

const EIGHTHS: Eighths = Eighths;

const ETH: usize = 14;
const TAG: usize = 4;
const IPV4_HEADER: usize = 20;
const IPV6_HEADER: usize = 40;

const ARP: u16 = 0x0806;
const GRE: u8 = 47;

// Documentation addresses: 192.0.2.1, 198.51.100.2 (RFC 5737), 2001:db8::1, 2001:db8::2 (RFC 3849).
const SRC4: [u8; 4] = [192, 0, 2, 1];
const DST4: [u8; 4] = [198, 51, 100, 2];
const SRC6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const DST6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

// ---------------------------------------------------------------------------------------------
// Frame builder
// ---------------------------------------------------------------------------------------------

/// An IPv4 address laid out as in [`Packet::src`].
fn addr4(a: [u8; 4]) -> [u8; 16] {
    let mut out = [0; 16];
    out[..4].copy_from_slice(&a);
    out
}

/// Ethernet II header with one 4-byte tag per TPID in `tpids`, outermost first.
fn ethernet(tpids: &[u16], ether_type: u16) -> Vec<u8> {
    // Locally administered unicast MACs: destination, then source.
    let mut b = vec![0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01];
    for (i, tpid) in tpids.iter().enumerate() {
        b.extend_from_slice(&tpid.to_be_bytes());
        // TCI: priority 0, DEI 0, VLAN ID 100, 101, ...
        b.extend_from_slice(&(100 + i as u16).to_be_bytes());
    }
    b.extend_from_slice(&ether_type.to_be_bytes());
    b
}

/// Writes a big-endian 16-bit field, to break a header a builder made well-formed.
fn set_u16(bytes: &mut [u8], at: usize, value: u16) {
    bytes[at..at + 2].copy_from_slice(&value.to_be_bytes());
}

#[derive(Clone, Debug)]
struct Ipv4 {
    src: [u8; 4],
    dst: [u8; 4],
    ttl: u8,
    id: u16,
    dont_fragment: bool,
    more_fragments: bool,
    /// In 8-byte units.
    fragment_offset: u16,
    protocol: u8,
    /// Raw option bytes, whole 32-bit words (IHL counts words).
    options: Vec<u8>,
}

impl Ipv4 {
    fn new(protocol: u8) -> Self {
        Self {
            src: SRC4,
            dst: DST4,
            ttl: 64,
            id: 0x1c46,
            dont_fragment: true,
            more_fragments: false,
            fragment_offset: 0,
            protocol,
            options: Vec::new(),
        }
    }

    /// The header (RFC 791 §3.1) of a datagram carrying `payload_len` bytes.
    fn header(&self, payload_len: usize) -> Vec<u8> {
        assert!(self.options.len().is_multiple_of(4) && self.options.len() <= 40);
        let header_len = IPV4_HEADER + self.options.len();
        let total = u16::try_from(header_len + payload_len).expect("datagram over 64 KiB");
        let flags = (u16::from(self.dont_fragment) << 14)
            | (u16::from(self.more_fragments) << 13)
            | self.fragment_offset;
        let mut h = vec![0x40 | (header_len / 4) as u8, 0];
        h.extend_from_slice(&total.to_be_bytes());
        h.extend_from_slice(&self.id.to_be_bytes());
        h.extend_from_slice(&flags.to_be_bytes());
        h.extend_from_slice(&[self.ttl, self.protocol, 0, 0]);
        h.extend_from_slice(&self.src);
        h.extend_from_slice(&self.dst);
        h.extend_from_slice(&self.options);
        h
    }

    fn frame(&self, tpids: &[u16], payload: &[u8]) -> Vec<u8> {
        let mut f = ethernet(tpids, ether_type::IPV4);
        f.extend(self.header(payload.len()));
        f.extend_from_slice(payload);
        f
    }
}

#[derive(Clone, Debug)]
struct Ipv6 {
    src: [u8; 16],
    dst: [u8; 16],
    hop_limit: u8,
    next_header: u8,
}

impl Ipv6 {
    fn new(next_header: u8) -> Self {
        Self {
            src: SRC6,
            dst: DST6,
            hop_limit: 255,
            next_header,
        }
    }

    /// The fixed header (RFC 8200 §3) of a packet whose payload, extension headers included, is
    /// `payload_len` bytes.
    fn header(&self, payload_len: usize) -> Vec<u8> {
        let len = u16::try_from(payload_len).expect("payload over 64 KiB");
        // Version 6, traffic class 0xb8, flow label 0x12345: only the version nibble is parsed,
        // so the bits around it must not disturb it.
        let mut h = vec![0x6b, 0x81, 0x23, 0x45];
        h.extend_from_slice(&len.to_be_bytes());
        h.extend_from_slice(&[self.next_header, self.hop_limit]);
        h.extend_from_slice(&self.src);
        h.extend_from_slice(&self.dst);
        h
    }

    fn frame(&self, tpids: &[u16], payload: &[u8]) -> Vec<u8> {
        let mut f = ethernet(tpids, ether_type::IPV6);
        f.extend(self.header(payload.len()));
        f.extend_from_slice(payload);
        f
    }
}

/// A hop-by-hop or destination options header (RFC 8200 §4.3, §4.6) of `8 * (1 + units)` bytes,
/// its options area filled by one `PadN` option (§4.2).
fn options_header(next: u8, units: u8) -> Vec<u8> {
    assert!(units <= 31, "one PadN covers at most 257 bytes");
    let len = 8 * (1 + usize::from(units));
    let mut h = vec![next, units, 1, (len - 4) as u8];
    h.resize(len, 0);
    h
}

/// A routing header (RFC 8200 §4.4) of `8 * (1 + units)` bytes: experimental type 253 (RFC 4727)
/// with no segments left, which every node skips.
fn routing_header(next: u8, units: u8) -> Vec<u8> {
    let mut h = vec![next, units, 253, 0];
    h.resize(8 * (1 + usize::from(units)), 0);
    h
}

/// A fragment header (RFC 8200 §4.5); `offset` in 8-byte units.
fn fragment_header(next: u8, offset: u16, more: bool, id: u32) -> Vec<u8> {
    let mut h = vec![next, 0];
    h.extend_from_slice(&((offset << 3) | u16::from(more)).to_be_bytes());
    h.extend_from_slice(&id.to_be_bytes());
    h
}

/// Chains extension headers (kind, units) before `upper`: returns the fixed header's Next Header
/// and the chain's bytes. Kinds: hop-by-hop, routing, destination options.
fn extension_chain(exts: &[(u8, u8)], upper: u8) -> (u8, Vec<u8>) {
    let mut bytes = Vec::new();
    for (i, &(kind, units)) in exts.iter().enumerate() {
        let next = exts.get(i + 1).map_or(upper, |e| e.0);
        bytes.extend(match kind {
            ip_proto::IPV6_ROUTE => routing_header(next, units),
            ip_proto::HOPOPT | ip_proto::IPV6_OPTS => options_header(next, units),
            _ => unreachable!("not a chainable extension header: {kind}"),
        });
    }
    (exts.first().map_or(upper, |e| e.0), bytes)
}

#[derive(Clone, Debug)]
struct Tcp {
    src_port: u16,
    dst_port: u16,
    flags: u8,
    window: u16,
    /// Raw option bytes, whole 32-bit words (the data offset counts words).
    options: Vec<u8>,
}

impl Tcp {
    fn new(flags: u8) -> Self {
        Self {
            src_port: 49152,
            dst_port: 443,
            flags,
            window: 64240,
            options: Vec::new(),
        }
    }

    /// A segment (RFC 9293 §3.1) carrying `data`.
    fn segment(&self, data: &[u8]) -> Vec<u8> {
        assert!(self.options.len().is_multiple_of(4) && self.options.len() <= 40);
        let words = (5 + self.options.len() / 4) as u8;
        let mut s = Vec::new();
        s.extend_from_slice(&self.src_port.to_be_bytes());
        s.extend_from_slice(&self.dst_port.to_be_bytes());
        s.extend_from_slice(&1_000u32.to_be_bytes()); // sequence number
        s.extend_from_slice(&2_000u32.to_be_bytes()); // acknowledgment number
        s.extend_from_slice(&[words << 4, self.flags]);
        s.extend_from_slice(&self.window.to_be_bytes());
        s.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
        s.extend_from_slice(&self.options);
        s.extend_from_slice(data);
        s
    }
}

/// A UDP datagram (RFC 768) whose length field covers `data`.
fn udp(src_port: u16, dst_port: u16, data: &[u8]) -> Vec<u8> {
    let len = u16::try_from(8 + data.len()).expect("datagram over 64 KiB");
    let mut d = Vec::new();
    d.extend_from_slice(&src_port.to_be_bytes());
    d.extend_from_slice(&dst_port.to_be_bytes());
    d.extend_from_slice(&len.to_be_bytes());
    d.extend_from_slice(&[0, 0]);
    d.extend_from_slice(data);
    d
}

/// An ICMP or `ICMPv6` message: type, code, checksum, then `rest` (the 4 bytes that complete the
/// 8-byte header, then the body).
fn icmp(icmp_type: u8, code: u8, rest: &[u8]) -> Vec<u8> {
    let mut m = vec![icmp_type, code, 0, 0];
    m.extend_from_slice(rest);
    m
}

/// What an untagged frame of `len` bytes around `Ipv4::new(protocol)` parses to, before the
/// transport fields.
fn v4_packet(len: usize, protocol: u8) -> Packet {
    Packet {
        len: len as u32,
        ether_type: ether_type::IPV4,
        network: Network::Ipv4,
        src: addr4(SRC4),
        dst: addr4(DST4),
        ttl: 64,
        ip_id: 0x1c46,
        dont_fragment: true,
        protocol,
        ..Packet::default()
    }
}

/// As [`v4_packet`], for `Ipv6::new`.
fn v6_packet(len: usize, protocol: u8) -> Packet {
    Packet {
        len: len as u32,
        ether_type: ether_type::IPV6,
        network: Network::Ipv6,
        src: SRC6,
        dst: DST6,
        ttl: 255,
        protocol,
        ..Packet::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Well-formed frames
// ---------------------------------------------------------------------------------------------

#[test]
fn tcp_over_ipv4_yields_addresses_ports_flags_window_and_offsets() {
    // MSS 1460, NOP, NOP, SACK permitted: data offset 7.
    let tcp = Tcp {
        options: vec![2, 4, 0x05, 0xb4, 1, 1, 4, 2],
        ..Tcp::new(tcp_flags::SYN)
    };
    let f = Ipv4::new(ip_proto::TCP).frame(&[], &tcp.segment(b"hello"));
    assert_eq!(
        parse(&f),
        Ok(Packet {
            transport: Transport::Tcp,
            src_port: 49152,
            dst_port: 443,
            tcp_flags: tcp_flags::SYN,
            tcp_window: 64240,
            tcp_seq: 1_000,
            l4_offset: 34,
            payload_offset: 62,
            payload_len: 5,
            ..v4_packet(67, ip_proto::TCP)
        })
    );
}

#[test]
fn udp_over_ipv4_yields_ports_and_payload() {
    let f = Ipv4::new(ip_proto::UDP).frame(&[], &udp(53000, 53, b"query"));
    assert_eq!(
        parse(&f),
        Ok(Packet {
            transport: Transport::Udp,
            src_port: 53000,
            dst_port: 53,
            l4_offset: 34,
            payload_offset: 42,
            payload_len: 5,
            ..v4_packet(47, ip_proto::UDP)
        })
    );
}

#[test]
fn icmp_over_ipv4_yields_type_and_code() {
    // Port unreachable: 4 unused bytes, then the offending datagram's header and 8 bytes.
    let quoted = [Ipv4::new(ip_proto::UDP).header(8), udp(53000, 33434, &[])].concat();
    let rest = [&[0u8; 4][..], &quoted].concat();
    let f = Ipv4::new(ip_proto::ICMP).frame(&[], &icmp(3, 3, &rest));
    assert_eq!(
        parse(&f),
        Ok(Packet {
            transport: Transport::Icmp,
            icmp_type: 3,
            icmp_code: 3,
            l4_offset: 34,
            payload_offset: 42,
            payload_len: 28,
            ..v4_packet(70, ip_proto::ICMP)
        })
    );
}

#[test]
fn one_8021q_tag_is_crossed_and_shifts_every_offset_by_four() {
    let tcp = Tcp::new(tcp_flags::ACK | tcp_flags::PSH);
    let f = Ipv4::new(ip_proto::TCP).frame(&[ether_type::VLAN], &tcp.segment(b"abc"));
    assert_eq!(
        parse(&f),
        Ok(Packet {
            vlan_tags: 1,
            transport: Transport::Tcp,
            src_port: 49152,
            dst_port: 443,
            tcp_flags: tcp_flags::ACK | tcp_flags::PSH,
            tcp_window: 64240,
            tcp_seq: 1_000,
            l4_offset: 38,
            payload_offset: 58,
            payload_len: 3,
            ..v4_packet(61, ip_proto::TCP)
        })
    );
}

#[test]
fn an_8021ad_outer_tag_and_an_8021q_inner_tag_are_both_crossed() {
    let tags = [ether_type::QINQ, ether_type::VLAN];
    let f = Ipv4::new(ip_proto::UDP).frame(&tags, &udp(53000, 53, b"query"));
    assert_eq!(
        parse(&f),
        Ok(Packet {
            vlan_tags: 2,
            transport: Transport::Udp,
            src_port: 53000,
            dst_port: 53,
            l4_offset: 42,
            payload_offset: 50,
            payload_len: 5,
            ..v4_packet(55, ip_proto::UDP)
        })
    );
}

#[test]
fn a_lone_8021ad_tag_is_crossed() {
    let echo = icmp(8, 0, &[0x12, 0x34, 0, 1, 0xaa, 0xbb]);
    let f = Ipv4::new(ip_proto::ICMP).frame(&[ether_type::QINQ], &echo);
    assert_eq!(
        parse(&f),
        Ok(Packet {
            vlan_tags: 1,
            transport: Transport::Icmp,
            icmp_type: 8,
            l4_offset: 38,
            payload_offset: 46,
            payload_len: 2,
            ..v4_packet(48, ip_proto::ICMP)
        })
    );
}

#[test]
fn a_third_tag_is_not_followed_so_the_frame_is_another_ether_type() {
    let mut f = ethernet(
        &[ether_type::QINQ, ether_type::VLAN, ether_type::VLAN],
        ether_type::IPV4,
    );
    f.extend(Ipv4::new(ip_proto::UDP).header(13));
    f.extend(udp(53000, 53, b"query"));
    assert_eq!(
        parse(&f),
        Ok(Packet {
            len: 59,
            vlan_tags: 2,
            ether_type: ether_type::VLAN,
            ..Packet::default()
        })
    );
}

#[test]
fn a_vlan_tagged_ipv6_packet_is_parsed() {
    let f = Ipv6::new(ip_proto::UDP).frame(&[ether_type::VLAN], &udp(5353, 5353, &[0; 10]));
    assert_eq!(
        parse(&f),
        Ok(Packet {
            vlan_tags: 1,
            transport: Transport::Udp,
            src_port: 5353,
            dst_port: 5353,
            l4_offset: 58,
            payload_offset: 66,
            payload_len: 10,
            ..v6_packet(76, ip_proto::UDP)
        })
    );
}

/// The span the parser must record for options `raw` in a frame with `tags` VLAN tags: right
/// after the fixed header, or offset 0 and length 0 when there are none.
fn span(tags: usize, raw: &[u8]) -> OptionsSpan {
    if raw.is_empty() {
        return OptionsSpan::default();
    }
    OptionsSpan {
        offset: (ETH + TAG * tags + IPV4_HEADER) as u16,
        len: raw.len() as u8,
    }
}

/// The options area [`Packet::ip_options_in`] must copy out of a frame whose options are `raw`.
fn copied(raw: &[u8]) -> IpOptions {
    let mut o = IpOptions {
        len: raw.len() as u8,
        ..IpOptions::default()
    };
    o.bytes[..raw.len()].copy_from_slice(raw);
    o
}

#[test]
fn a_header_without_options_has_an_empty_options_area() {
    let f = Ipv4::new(ip_proto::UDP).frame(&[], &udp(1, 2, &[]));
    let p = parse(&f).expect("well-formed");
    assert_eq!(p.ip_options, OptionsSpan { offset: 0, len: 0 });
    let options = p.ip_options_in(&f);
    assert_eq!(options, IpOptions::default());
    assert!(options.is_empty());
    assert_eq!(options.as_bytes(), &[] as &[u8]);
    assert_eq!(options.kinds(), Ok(0));
}

#[test]
fn each_ipv4_option_is_copied_and_sets_the_bit_of_its_option_number() {
    let cases: [(&[u8], u32); 8] = [
        (&[1, 1, 1, 1], ip_option::NOP),
        (
            &[1, 131, 7, 4, 192, 0, 2, 9],
            ip_option::NOP | ip_option::LSRR,
        ),
        (
            &[1, 137, 7, 4, 192, 0, 2, 9],
            ip_option::NOP | ip_option::SSRR,
        ),
        (
            &[1, 7, 7, 4, 0, 0, 0, 0],
            ip_option::NOP | ip_option::RECORD_ROUTE,
        ),
        // Timestamps only (flag 0), room for two.
        (
            &[68, 12, 5, 0, 0, 0, 0, 1, 0, 0, 0, 2],
            ip_option::TIMESTAMP,
        ),
        (&[148, 4, 0, 0], ip_option::ROUTER_ALERT),
        // RFC 1108 basic security, then one NOP to fill the word.
        (
            &[130, 11, 0xab, 0x80, 0, 0, 0, 0, 0, 0, 0, 1],
            ip_option::SECURITY | ip_option::NOP,
        ),
        (&[0, 0, 0, 0], ip_option::END),
    ];
    for (options, bits) in cases {
        let ip = Ipv4 {
            options: options.to_vec(),
            ..Ipv4::new(ip_proto::UDP)
        };
        let f = ip.frame(&[], &udp(53000, 53, b"x"));
        // The transport starts after the options, wherever IHL puts it.
        let l4 = 34 + options.len();
        let p = parse(&f);
        assert_eq!(
            p,
            Ok(Packet {
                ip_options: span(0, options),
                transport: Transport::Udp,
                src_port: 53000,
                dst_port: 53,
                l4_offset: l4 as u16,
                payload_offset: (l4 + 8) as u16,
                payload_len: 1,
                ..v4_packet(l4 + 9, ip_proto::UDP)
            }),
            "options {options:?}"
        );
        let copy = p.unwrap().ip_options_in(&f);
        assert_eq!(copy, copied(options), "options {options:?}");
        assert_eq!(copy.kinds(), Ok(bits), "options {options:?}");
    }
}

#[test]
fn several_ipv4_options_set_all_their_bits_and_the_transport_follows_the_full_header() {
    let options = [
        1, // NOP
        7, 7, 4, 0, 0, 0, 0, // record route, one slot
        68, 12, 5, 0, 0, 0, 0, 1, 0, 0, 0, 2, // timestamp
        148, 4, 0, 0, // router alert
        131, 7, 4, 192, 0, 2, 9, // loose source route
        0, // end of list
    ];
    let ip = Ipv4 {
        options: options.to_vec(),
        ..Ipv4::new(ip_proto::TCP)
    };
    let f = ip.frame(&[], &Tcp::new(tcp_flags::SYN).segment(&[]));
    let p = parse(&f);
    assert_eq!(
        p,
        Ok(Packet {
            ip_options: OptionsSpan {
                offset: 34,
                len: 32
            },
            transport: Transport::Tcp,
            src_port: 49152,
            dst_port: 443,
            tcp_flags: tcp_flags::SYN,
            tcp_window: 64240,
            tcp_seq: 1_000,
            l4_offset: 66,
            payload_offset: 86,
            payload_len: 0,
            ..v4_packet(86, ip_proto::TCP)
        })
    );
    let copy = p.unwrap().ip_options_in(&f);
    assert_eq!(copy, copied(&options));
    assert_eq!(
        copy.kinds(),
        Ok(ip_option::NOP
            | ip_option::RECORD_ROUTE
            | ip_option::TIMESTAMP
            | ip_option::ROUTER_ALERT
            | ip_option::LSRR
            | ip_option::END)
    );
}

#[test]
fn a_full_40_byte_options_area_is_copied_word_for_word() {
    // IHL 15: a record route with nine distinct slots and an end-of-list fills all ten words,
    // so a word copied to the wrong place or left out shows.
    let mut options = vec![7, 39, 4];
    options.extend(1..=36u8);
    options.push(0);
    let ip = Ipv4 {
        options: options.clone(),
        ..Ipv4::new(ip_proto::UDP)
    };
    let f = ip.frame(&[], &udp(53000, 53, &[]));
    let p = parse(&f);
    assert_eq!(
        p,
        Ok(Packet {
            ip_options: OptionsSpan {
                offset: 34,
                len: 40
            },
            transport: Transport::Udp,
            src_port: 53000,
            dst_port: 53,
            l4_offset: 74,
            payload_offset: 82,
            payload_len: 0,
            ..v4_packet(82, ip_proto::UDP)
        })
    );
    let copy = p.unwrap().ip_options_in(&f);
    assert_eq!(copy, copied(&options));
    assert_eq!(copy.kinds(), Ok(ip_option::RECORD_ROUTE | ip_option::END));
}

#[test]
fn options_behind_vlan_tags_are_found_four_bytes_further_per_tag() {
    // Two tags put the options at offset 42, the furthest the copy follows.
    let options = [148, 4, 0, 0, 131, 7, 4, 192, 0, 2, 9, 0];
    let ip = Ipv4 {
        options: options.to_vec(),
        ..Ipv4::new(ip_proto::UDP)
    };
    let cases: [(&[u16], u16); 3] = [
        (&[], 34),
        (&[ether_type::VLAN], 38),
        (&[ether_type::QINQ, ether_type::VLAN], 42),
    ];
    for (tags, offset) in cases {
        let f = ip.frame(tags, &udp(53000, 53, b"x"));
        let p = parse(&f).expect("well-formed");
        assert_eq!(
            p.ip_options,
            OptionsSpan { offset, len: 12 },
            "{} tags",
            tags.len()
        );
        assert_eq!(p.ip_options, span(tags.len(), &options));
        let copy = p.ip_options_in(&f);
        assert_eq!(copy, copied(&options), "{} tags", tags.len());
        assert_eq!(
            copy.kinds(),
            Ok(ip_option::ROUTER_ALERT | ip_option::LSRR | ip_option::END)
        );
    }
}

#[test]
fn options_copied_out_of_a_shorter_frame_keep_only_the_words_inside_it() {
    // The span of a 12-byte options area, over a frame that ends two bytes into its third
    // word: the whole words are copied, the cut one reads as zeros.
    let options = [1, 1, 1, 1, 148, 4, 0, 0, 1, 1, 1, 0];
    let ip = Ipv4 {
        options: options.to_vec(),
        ..Ipv4::new(ip_proto::UDP)
    };
    let f = ip.frame(&[], &udp(53000, 53, &[]));
    let p = parse(&f).expect("well-formed");
    assert_eq!(
        p.ip_options,
        OptionsSpan {
            offset: 34,
            len: 12
        }
    );
    assert_eq!(
        p.ip_options_in(&f[..44]),
        copied(&[1, 1, 1, 1, 148, 4, 0, 0, 0, 0, 0, 0])
    );
    assert_eq!(p.ip_options_in(&f[..34]), copied(&[0; 12]));
}

#[test]
fn end_of_option_list_stops_the_walk_before_later_bytes() {
    // Read past the end-of-list, [7, 0xff] would be a record route overrunning the area.
    let ip = Ipv4 {
        options: vec![1, 0, 7, 0xff],
        ..Ipv4::new(ip_proto::UDP)
    };
    let f = ip.frame(&[], &udp(53000, 53, &[]));
    let p = parse(&f).expect("well-formed");
    assert_eq!(p.ip_options, OptionsSpan { offset: 34, len: 4 });
    let copy = p.ip_options_in(&f);
    assert_eq!(copy, copied(&[1, 0, 7, 0xff]));
    assert_eq!(copy.kinds(), Ok(ip_option::NOP | ip_option::END));
}

#[test]
fn an_options_length_beyond_the_buffer_is_clamped_to_it() {
    let o = IpOptions {
        len: 44,
        bytes: [1; 40],
    };
    assert_eq!(o.as_bytes(), &[1; 40]);
    assert_eq!(o.kinds(), Ok(ip_option::NOP));
}

#[test]
fn tcp_over_ipv6_yields_ports_flags_window_and_hop_limit() {
    let f = Ipv6::new(ip_proto::TCP).frame(
        &[],
        &Tcp::new(tcp_flags::SYN | tcp_flags::ACK).segment(b"abc"),
    );
    assert_eq!(
        parse(&f),
        Ok(Packet {
            transport: Transport::Tcp,
            src_port: 49152,
            dst_port: 443,
            tcp_flags: tcp_flags::SYN | tcp_flags::ACK,
            tcp_window: 64240,
            tcp_seq: 1_000,
            l4_offset: 54,
            payload_offset: 74,
            payload_len: 3,
            ..v6_packet(77, ip_proto::TCP)
        })
    );
}

#[test]
fn udp_over_ipv6_yields_ports_and_payload() {
    let f = Ipv6::new(ip_proto::UDP).frame(&[], &udp(5353, 5353, &[0; 10]));
    assert_eq!(
        parse(&f),
        Ok(Packet {
            transport: Transport::Udp,
            src_port: 5353,
            dst_port: 5353,
            l4_offset: 54,
            payload_offset: 62,
            payload_len: 10,
            ..v6_packet(72, ip_proto::UDP)
        })
    );
}

#[test]
fn icmpv6_over_ipv6_yields_type_and_code() {
    // Destination unreachable, port unreachable (type 1, code 4).
    let f = Ipv6::new(ip_proto::ICMPV6).frame(&[], &icmp(1, 4, &[0; 12]));
    assert_eq!(
        parse(&f),
        Ok(Packet {
            transport: Transport::Icmpv6,
            icmp_type: 1,
            icmp_code: 4,
            l4_offset: 54,
            payload_offset: 62,
            payload_len: 8,
            ..v6_packet(70, ip_proto::ICMPV6)
        })
    );
}

#[test]
fn each_ipv6_extension_header_is_skipped_to_the_transport() {
    let cases = [
        (ip_proto::HOPOPT, options_header(ip_proto::UDP, 0)),
        (ip_proto::IPV6_ROUTE, routing_header(ip_proto::UDP, 1)),
        (ip_proto::IPV6_OPTS, options_header(ip_proto::UDP, 2)),
    ];
    for (kind, ext) in cases {
        let f = Ipv6::new(kind).frame(&[], &[ext.clone(), udp(5353, 53, b"q")].concat());
        let l4 = 54 + ext.len();
        assert_eq!(
            parse(&f),
            Ok(Packet {
                transport: Transport::Udp,
                src_port: 5353,
                dst_port: 53,
                l4_offset: l4 as u16,
                payload_offset: (l4 + 8) as u16,
                payload_len: 1,
                extensions: 1,
                ..v6_packet(l4 + 9, ip_proto::UDP)
            }),
            "extension header {kind}"
        );
    }
}

#[test]
fn a_chain_of_every_extension_header_kind_is_followed_to_the_transport() {
    let payload = [
        options_header(ip_proto::IPV6_ROUTE, 0), // hop-by-hop, 8
        routing_header(ip_proto::IPV6_OPTS, 1),  // routing, 16
        options_header(ip_proto::IPV6_FRAG, 0),  // destination options, 8
        fragment_header(ip_proto::IPV6_OPTS, 0, true, 0xdead_beef), // first fragment, 8
        options_header(ip_proto::TCP, 0),        // destination options, 8
        Tcp::new(tcp_flags::SYN).segment(&[]),
    ]
    .concat();
    let f = Ipv6::new(ip_proto::HOPOPT).frame(&[], &payload);
    assert_eq!(
        parse(&f),
        Ok(Packet {
            ip_id: 0xdead_beef,
            more_fragments: true,
            is_fragment: true,
            transport: Transport::Tcp,
            src_port: 49152,
            dst_port: 443,
            tcp_flags: tcp_flags::SYN,
            tcp_window: 64240,
            tcp_seq: 1_000,
            l4_offset: 102,
            payload_offset: 122,
            payload_len: 0,
            extensions: 5,
            ..v6_packet(122, ip_proto::TCP)
        })
    );
}

#[test]
fn six_extension_headers_are_followed_to_the_transport() {
    let exts = [(ip_proto::HOPOPT, 0), (ip_proto::IPV6_ROUTE, 0)]
        .into_iter()
        .chain([(ip_proto::IPV6_OPTS, 0); 4])
        .collect::<Vec<_>>();
    let (first, chain) = extension_chain(&exts, ip_proto::UDP);
    let f = Ipv6::new(first).frame(&[], &[chain, udp(5353, 53, &[])].concat());
    assert_eq!(
        parse(&f),
        Ok(Packet {
            transport: Transport::Udp,
            src_port: 5353,
            dst_port: 53,
            l4_offset: 102,
            payload_offset: 110,
            payload_len: 0,
            extensions: 6,
            ..v6_packet(110, ip_proto::UDP)
        })
    );
}

/// A SYN to 443 behind routing headers of `units` each, as the parser sees it.
fn syn_behind_routing_headers(units: &[u8]) -> (Vec<u8>, Result<Packet, Malformed>) {
    let exts: Vec<(u8, u8)> = units.iter().map(|&u| (ip_proto::IPV6_ROUTE, u)).collect();
    let (first, chain) = extension_chain(&exts, ip_proto::TCP);
    let f = Ipv6::new(first).frame(
        &[],
        &[chain, Tcp::new(tcp_flags::SYN).segment(&[])].concat(),
    );
    let p = parse(&f);
    (f, p)
}

#[test]
fn an_extension_chain_ending_at_the_offset_cap_is_followed() {
    // 54 + 4 × 2048 + 968 = 9214: the last transport offset under MAX_L4_OFFSET (9216) that a
    // chain of 8-byte units reaches from an untagged frame.
    let (f, p) = syn_behind_routing_headers(&[255, 255, 255, 255, 120]);
    assert_eq!(f.len(), 9234);
    assert_eq!(
        p,
        Ok(Packet {
            transport: Transport::Tcp,
            src_port: 49152,
            dst_port: 443,
            tcp_flags: tcp_flags::SYN,
            tcp_window: 64240,
            tcp_seq: 1_000,
            l4_offset: 9214,
            payload_offset: 9234,
            payload_len: 0,
            extensions: 5,
            ..v6_packet(9234, ip_proto::TCP)
        })
    );
}

#[test]
fn a_single_608_byte_destination_options_header_is_followed() {
    // One header of 76 units (8 × 76 = 608 bytes), which hosts accept; the old 512-byte cap
    // made it malformed.
    // 2 bytes of header, then 606 of padding as three PadN options (255 + 2, 255 + 2, 90 + 2).
    let mut options = vec![ip_proto::UDP, 75];
    for n in [255u8, 255, 90] {
        options.extend([1, n]);
        options.resize(options.len() + usize::from(n), 0);
    }
    assert_eq!(options.len(), 608);
    let payload = [options, udp(33000, 4711, b"x")].concat();
    let f = Ipv6::new(ip_proto::IPV6_OPTS).frame(&[], &payload);
    assert_eq!(
        parse(&f),
        Ok(Packet {
            transport: Transport::Udp,
            src_port: 33000,
            dst_port: 4711,
            l4_offset: 662,
            payload_offset: 670,
            payload_len: 1,
            extensions: 1,
            ..v6_packet(671, ip_proto::UDP)
        })
    );
}

#[test]
fn ipv4_first_fragment_keeps_its_ports() {
    let ip = Ipv4 {
        id: 0x4242,
        dont_fragment: false,
        more_fragments: true,
        ..Ipv4::new(ip_proto::UDP)
    };
    // The UDP length describes the whole datagram, longer than this fragment carries.
    let mut d = udp(53000, 53, &[0xab; 32]);
    set_u16(&mut d, 4, 1480);
    let f = ip.frame(&[], &d);
    let p = parse(&f);
    assert_eq!(
        p,
        Ok(Packet {
            ip_id: 0x4242,
            dont_fragment: false,
            more_fragments: true,
            is_fragment: true,
            transport: Transport::Udp,
            src_port: 53000,
            dst_port: 53,
            l4_offset: 34,
            payload_offset: 42,
            payload_len: 32,
            ..v4_packet(74, ip_proto::UDP)
        })
    );
    assert!(!p.unwrap().is_non_first_fragment());
}

/// The first fragment of a SYN to 443 (MSS option: 24-byte header) holding `held` bytes of
/// it, the rest of the frame being Ethernet padding of 0xff (which must never be read).
fn tiny_syn_fragment(held: usize) -> Vec<u8> {
    let ip = Ipv4 {
        dont_fragment: false,
        more_fragments: true,
        ..Ipv4::new(ip_proto::TCP)
    };
    let seg = Tcp {
        options: vec![2, 4, 5, 0xb4],
        ..Tcp::new(tcp_flags::SYN)
    }
    .segment(&[]);
    let mut f = ip.frame(&[], &seg[..held]);
    f.resize(f.len().max(60) + 8, 0xff);
    f
}

#[test]
fn a_first_fragment_of_eight_bytes_is_a_tiny_fragment_with_ports_and_no_flags() {
    // What nmap -f sends: the ports and the sequence number, the flags in the next fragment.
    let f = tiny_syn_fragment(8);
    let p = parse(&f).unwrap();
    assert_eq!(
        p,
        Packet {
            dont_fragment: false,
            more_fragments: true,
            is_fragment: true,
            tiny_fragment: true,
            l4_held: 8,
            transport: Transport::Tcp,
            src_port: 49152,
            dst_port: 443,
            l4_offset: 34,
            ..v4_packet(f.len(), ip_proto::TCP)
        }
    );
    assert!(!p.tcp_flags_known() && !p.is_connection_attempt());
}

#[test]
fn a_first_fragment_of_sixteen_bytes_carries_the_flags_and_window() {
    // nmap --mtu 16: bytes 13 (flags) and 14–15 (window) are in; the checksum is not.
    let f = tiny_syn_fragment(16);
    let p = parse(&f).unwrap();
    assert_eq!(
        p,
        Packet {
            dont_fragment: false,
            more_fragments: true,
            is_fragment: true,
            tiny_fragment: true,
            l4_held: 16,
            transport: Transport::Tcp,
            src_port: 49152,
            dst_port: 443,
            tcp_flags: tcp_flags::SYN,
            tcp_window: 64240,
            tcp_seq: 1_000,
            l4_offset: 34,
            ..v4_packet(f.len(), ip_proto::TCP)
        }
    );
    assert!(p.tcp_flags_known() && p.is_connection_attempt());
}

#[test]
fn tiny_tcp_fragments_read_what_each_size_holds() {
    // (bytes held, ports, flags, window)
    let cases = [
        (0, None, 0, 0),
        (3, None, 0, 0),
        (4, Some((49152, 443)), 0, 0),
        (13, Some((49152, 443)), 0, 0),
        (14, Some((49152, 443)), tcp_flags::SYN, 0),
        (15, Some((49152, 443)), tcp_flags::SYN, 0),
        (19, Some((49152, 443)), tcp_flags::SYN, 64240),
        // The fixed header whole, its MSS option in the next fragment.
        (20, Some((49152, 443)), tcp_flags::SYN, 64240),
        (23, Some((49152, 443)), tcp_flags::SYN, 64240),
    ];
    for (held, ports, flags, window) in cases {
        let f = tiny_syn_fragment(held);
        let p = parse(&f).unwrap();
        let (transport, (src_port, dst_port)) = match ports {
            Some(ports) => (Transport::Tcp, ports),
            None => (Transport::None, (0, 0)),
        };
        assert_eq!(
            (
                p.tiny_fragment,
                p.l4_held,
                p.transport,
                p.src_port,
                p.dst_port
            ),
            (true, held as u8, transport, src_port, dst_port),
            "{held} bytes"
        );
        assert_eq!((p.tcp_flags, p.tcp_window), (flags, window), "{held} bytes");
        assert_eq!(p.tcp_flags_known(), held >= 14, "{held} bytes");
    }
    // The whole header in the first fragment is an ordinary first fragment.
    let p = parse(&tiny_syn_fragment(24)).unwrap();
    assert_eq!(
        (p.tiny_fragment, p.l4_held, p.payload_offset),
        (false, 0, 58)
    );
}

#[test]
fn a_short_transport_header_without_more_fragments_is_still_malformed() {
    // Only a first fragment has a later one to hold the rest; a whole packet is cut.
    let seg = Tcp::new(tcp_flags::SYN).segment(&[]);
    let f = Ipv4::new(ip_proto::TCP).frame(&[], &seg[..8]);
    assert_eq!(parse(&f), Err(Malformed::Tcp));
    let icmp = [8, 0, 0, 0];
    let f = Ipv4::new(ip_proto::ICMP).frame(&[], &icmp);
    assert_eq!(parse(&f), Err(Malformed::Icmp));
}

#[test]
fn a_tiny_icmp_first_fragment_keeps_its_type_and_code() {
    let ip = Ipv4 {
        more_fragments: true,
        ..Ipv4::new(ip_proto::ICMP)
    };
    let f = ip.frame(&[], &[8, 0, 0, 0]);
    assert_eq!(
        parse(&f),
        Ok(Packet {
            more_fragments: true,
            is_fragment: true,
            tiny_fragment: true,
            l4_held: 4,
            transport: Transport::Icmp,
            icmp_type: 8,
            l4_offset: 34,
            ..v4_packet(38, ip_proto::ICMP)
        })
    );
}

#[test]
fn an_ipv6_first_fragment_ending_inside_its_header_chain_is_a_tiny_fragment() {
    // RFC 7112: the first fragment must hold the whole chain. Here it ends 8 bytes into a
    // 16-byte destination options header; the UDP header is in the next fragment.
    let opts = options_header(ip_proto::UDP, 1);
    let payload = [
        fragment_header(ip_proto::IPV6_OPTS, 0, true, 77),
        opts[..8].to_vec(),
    ]
    .concat();
    let f = Ipv6::new(ip_proto::IPV6_FRAG).frame(&[], &payload);
    assert_eq!(
        parse(&f),
        Ok(Packet {
            ip_id: 77,
            more_fragments: true,
            is_fragment: true,
            tiny_fragment: true,
            extensions: 1,
            ..v6_packet(70, ip_proto::IPV6_OPTS)
        })
    );
    // The same cut without a fragment header is a malformed packet.
    let f = Ipv6::new(ip_proto::IPV6_OPTS).frame(&[], &opts[..8]);
    assert_eq!(parse(&f), Err(Malformed::Ipv6Extension));
}

#[test]
fn an_ipv6_first_fragment_with_four_bytes_of_tcp_is_a_tiny_fragment_with_ports() {
    let seg = Tcp::new(tcp_flags::SYN).segment(&[]);
    let payload = [
        fragment_header(ip_proto::TCP, 0, true, 5),
        seg[..4].to_vec(),
    ]
    .concat();
    let f = Ipv6::new(ip_proto::IPV6_FRAG).frame(&[], &payload);
    assert_eq!(
        parse(&f),
        Ok(Packet {
            ip_id: 5,
            more_fragments: true,
            is_fragment: true,
            tiny_fragment: true,
            l4_held: 4,
            extensions: 1,
            transport: Transport::Tcp,
            src_port: 49152,
            dst_port: 443,
            l4_offset: 62,
            ..v6_packet(66, ip_proto::TCP)
        })
    );
}

#[test]
fn ipv4_non_first_fragment_has_no_transport_and_no_ports() {
    let ip = Ipv4 {
        id: 0x4242,
        dont_fragment: false,
        more_fragments: true,
        fragment_offset: 185,
        ..Ipv4::new(ip_proto::UDP)
    };
    // Mid-datagram bytes that would read as ports if the parser looked.
    let f = ip.frame(&[], &[0xab; 40]);
    let p = parse(&f);
    assert_eq!(
        p,
        Ok(Packet {
            ip_id: 0x4242,
            dont_fragment: false,
            more_fragments: true,
            fragment_offset: 185,
            is_fragment: true,
            ..v4_packet(74, ip_proto::UDP)
        })
    );
    assert!(p.unwrap().is_non_first_fragment());
}

#[test]
fn ipv4_last_fragment_is_a_fragment_without_more_fragments() {
    let ip = Ipv4 {
        dont_fragment: false,
        fragment_offset: 370,
        ..Ipv4::new(ip_proto::UDP)
    };
    let f = ip.frame(&[], &[0xab; 16]);
    assert_eq!(
        parse(&f),
        Ok(Packet {
            dont_fragment: false,
            fragment_offset: 370,
            is_fragment: true,
            ..v4_packet(50, ip_proto::UDP)
        })
    );
}

#[test]
fn ipv4_fragment_offset_is_the_low_13_bits_next_to_the_flags() {
    // DF, MF and the largest offset: all three fields set at once, 0x7fff on the wire.
    let ip = Ipv4 {
        more_fragments: true,
        fragment_offset: 0x1fff,
        ..Ipv4::new(ip_proto::TCP)
    };
    let f = ip.frame(&[], &[0; 8]);
    assert_eq!(
        parse(&f),
        Ok(Packet {
            more_fragments: true,
            fragment_offset: 0x1fff,
            is_fragment: true,
            ..v4_packet(42, ip_proto::TCP)
        })
    );
}

#[test]
fn ipv4_non_first_fragment_shorter_than_a_transport_header_is_not_malformed() {
    // Three bytes of a TCP stream: no header to check, so nothing to find wrong.
    let ip = Ipv4 {
        fragment_offset: 3,
        ..Ipv4::new(ip_proto::TCP)
    };
    let f = ip.frame(&[], &[1, 2, 3]);
    assert_eq!(
        parse(&f),
        Ok(Packet {
            fragment_offset: 3,
            is_fragment: true,
            ..v4_packet(37, ip_proto::TCP)
        })
    );
}

#[test]
fn ipv6_first_fragment_keeps_its_ports_and_the_fragment_identification() {
    let mut d = udp(5353, 53, &[0xab; 16]);
    set_u16(&mut d, 4, 1000);
    let payload = [fragment_header(ip_proto::UDP, 0, true, 0xdead_beef), d].concat();
    let f = Ipv6::new(ip_proto::IPV6_FRAG).frame(&[], &payload);
    assert_eq!(
        parse(&f),
        Ok(Packet {
            ip_id: 0xdead_beef,
            more_fragments: true,
            is_fragment: true,
            transport: Transport::Udp,
            src_port: 5353,
            dst_port: 53,
            l4_offset: 62,
            payload_offset: 70,
            payload_len: 16,
            extensions: 1,
            ..v6_packet(86, ip_proto::UDP)
        })
    );
}

#[test]
fn ipv6_non_first_fragment_has_no_transport_and_no_ports() {
    let payload = [
        fragment_header(ip_proto::UDP, 185, false, 0xdead_beef),
        vec![0xab; 24],
    ]
    .concat();
    let f = Ipv6::new(ip_proto::IPV6_FRAG).frame(&[], &payload);
    let p = parse(&f);
    assert_eq!(
        p,
        Ok(Packet {
            ip_id: 0xdead_beef,
            fragment_offset: 185,
            is_fragment: true,
            extensions: 1,
            ..v6_packet(86, ip_proto::UDP)
        })
    );
    assert!(p.unwrap().is_non_first_fragment());
}

#[test]
fn ipv6_fragment_offset_and_m_flag_are_decoded_apart() {
    // Largest offset with M set: 0xffff in the field, reserved bits included.
    let payload = [fragment_header(ip_proto::TCP, 0x1fff, true, 7), vec![0; 8]].concat();
    let mut f = Ipv6::new(ip_proto::IPV6_FRAG).frame(&[], &payload);
    set_u16(&mut f, ETH + IPV6_HEADER + 2, 0xffff);
    assert_eq!(
        parse(&f),
        Ok(Packet {
            ip_id: 7,
            more_fragments: true,
            fragment_offset: 0x1fff,
            is_fragment: true,
            extensions: 1,
            ..v6_packet(70, ip_proto::TCP)
        })
    );
}

#[test]
fn ipv6_no_next_header_ends_the_packet_without_a_transport() {
    // RFC 8200 §4.7: bytes after a No Next Header are ignored, so they may be anything.
    let bare = Ipv6::new(ip_proto::IPV6_NONXT).frame(&[], &[0xab; 8]);
    assert_eq!(parse(&bare), Ok(v6_packet(62, ip_proto::IPV6_NONXT)));

    let after_options =
        Ipv6::new(ip_proto::IPV6_OPTS).frame(&[], &options_header(ip_proto::IPV6_NONXT, 0));
    assert_eq!(
        parse(&after_options),
        Ok(Packet {
            extensions: 1,
            ..v6_packet(62, ip_proto::IPV6_NONXT)
        })
    );
}

#[test]
fn unknown_ip_protocol_is_named_with_its_offsets_but_no_transport() {
    // GRE (RFC 2784) carrying an IPv4 header.
    let gre = [&[0, 0, 0x08, 0x00][..], &Ipv4::new(ip_proto::UDP).header(0)].concat();
    let f = Ipv4::new(GRE).frame(&[], &gre);
    assert_eq!(
        parse(&f),
        Ok(Packet {
            l4_offset: 34,
            payload_offset: 34,
            payload_len: 24,
            ..v4_packet(58, GRE)
        })
    );
}

#[test]
fn icmp_numbers_are_decoded_only_under_their_own_ip_version() {
    // ICMPv6's protocol number under IPv4, and ICMP's under IPv6: neither is ICMP of that version.
    let v4 = Ipv4::new(ip_proto::ICMPV6).frame(&[], &icmp(128, 0, &[0; 4]));
    assert_eq!(
        parse(&v4),
        Ok(Packet {
            l4_offset: 34,
            payload_offset: 34,
            payload_len: 8,
            ..v4_packet(42, ip_proto::ICMPV6)
        })
    );
    let v6 = Ipv6::new(ip_proto::ICMP).frame(&[], &icmp(8, 0, &[0; 4]));
    assert_eq!(
        parse(&v6),
        Ok(Packet {
            l4_offset: 54,
            payload_offset: 54,
            payload_len: 8,
            ..v6_packet(62, ip_proto::ICMP)
        })
    );
}

#[test]
fn arp_is_another_ether_type_and_nothing_more() {
    // An ARP request (RFC 826) for 192.0.2.2 from 192.0.2.1.
    let mut f = ethernet(&[], ARP);
    f.extend_from_slice(&[0, 1, 0x08, 0x00, 6, 4, 0, 1]);
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x01, 192, 0, 2, 1]);
    f.extend_from_slice(&[0, 0, 0, 0, 0, 0, 192, 0, 2, 2]);
    assert_eq!(
        parse(&f),
        Ok(Packet {
            len: 42,
            ether_type: ARP,
            ..Packet::default()
        })
    );
}

#[test]
fn ethernet_padding_after_the_datagram_is_not_payload() {
    let mut f = Ipv4::new(ip_proto::UDP).frame(&[], &udp(53000, 53, &[1, 2, 3, 4]));
    f.resize(60, 0); // the minimum Ethernet frame without FCS
    assert_eq!(
        parse(&f),
        Ok(Packet {
            transport: Transport::Udp,
            src_port: 53000,
            dst_port: 53,
            l4_offset: 34,
            payload_offset: 42,
            payload_len: 4,
            ..v4_packet(60, ip_proto::UDP)
        })
    );
}

#[test]
fn udp_payload_length_is_what_the_ip_header_declares() {
    // UDP length 8 while IP carries 4 more bytes: the documented rule takes IP's word.
    let mut d = udp(53000, 53, &[1, 2, 3, 4]);
    set_u16(&mut d, 4, 8);
    let f = Ipv4::new(ip_proto::UDP).frame(&[], &d);
    assert_eq!(
        parse(&f),
        Ok(Packet {
            transport: Transport::Udp,
            src_port: 53000,
            dst_port: 53,
            l4_offset: 34,
            payload_offset: 42,
            payload_len: 4,
            ..v4_packet(46, ip_proto::UDP)
        })
    );
}

#[test]
fn tcp_data_offset_may_reach_exactly_the_end_of_the_ip_payload() {
    // Data offset 7 over a 28-byte segment: options, no data.
    let tcp = Tcp {
        options: vec![1; 8],
        ..Tcp::new(tcp_flags::FIN | tcp_flags::ACK)
    };
    let f = Ipv4::new(ip_proto::TCP).frame(&[], &tcp.segment(&[]));
    assert_eq!(
        parse(&f),
        Ok(Packet {
            transport: Transport::Tcp,
            src_port: 49152,
            dst_port: 443,
            tcp_flags: tcp_flags::FIN | tcp_flags::ACK,
            tcp_window: 64240,
            tcp_seq: 1_000,
            l4_offset: 34,
            payload_offset: 62,
            payload_len: 0,
            ..v4_packet(62, ip_proto::TCP)
        })
    );
}

#[test]
fn a_connection_attempt_is_a_tcp_syn_without_ack() {
    let cases = [
        (tcp_flags::SYN, true),
        // ECN setup SYN (RFC 3168 §6.1.1).
        (tcp_flags::SYN | tcp_flags::ECE | tcp_flags::CWR, true),
        (tcp_flags::SYN | tcp_flags::ACK, false),
        (tcp_flags::ACK, false),
        (tcp_flags::RST, false),
        (
            tcp_flags::FIN | tcp_flags::SYN | tcp_flags::RST | tcp_flags::ACK,
            false,
        ),
    ];
    for (flags, attempt) in cases {
        let f = Ipv4::new(ip_proto::TCP).frame(&[], &Tcp::new(flags).segment(&[]));
        let p = parse(&f).expect("well-formed");
        assert_eq!(p.tcp_flags, flags);
        assert_eq!(p.is_connection_attempt(), attempt, "flags {flags:#04x}");
    }
}

#[test]
fn udp_is_never_a_connection_attempt() {
    let f = Ipv4::new(ip_proto::UDP).frame(&[], &udp(53000, 53, &[]));
    let p = parse(&f).expect("well-formed");
    assert!(!p.is_connection_attempt());
    // The rule looks at the transport, not only at the flag bits.
    let odd = Packet {
        tcp_flags: tcp_flags::SYN,
        ..p
    };
    assert!(!odd.is_connection_attempt());
    assert!(
        Packet {
            transport: Transport::Tcp,
            ..odd
        }
        .is_connection_attempt()
    );
}

#[test]
fn ipv4_accessors_give_addresses_only_for_ipv4() {
    let v4 = parse(&Ipv4::new(ip_proto::UDP).frame(&[], &udp(1, 2, &[]))).expect("well-formed");
    assert_eq!((v4.src_v4(), v4.dst_v4()), (Some(SRC4), Some(DST4)));
    let v6 = parse(&Ipv6::new(ip_proto::UDP).frame(&[], &udp(1, 2, &[]))).expect("well-formed");
    assert_eq!((v6.src_v4(), v6.dst_v4()), (None, None));
}

#[test]
fn malformed_names_are_stable() {
    let names = [
        (Malformed::Ethernet, "ethernet"),
        (Malformed::Ipv4Header, "ipv4_header"),
        (Malformed::Ipv4Length, "ipv4_length"),
        (Malformed::Ipv4Options, "ipv4_options"),
        (Malformed::Ipv6Header, "ipv6_header"),
        (Malformed::Ipv6Length, "ipv6_length"),
        (Malformed::Ipv6Extension, "ipv6_extension"),
        (Malformed::Tcp, "tcp"),
        (Malformed::Udp, "udp"),
        (Malformed::Icmp, "icmp"),
    ];
    for (m, name) in names {
        assert_eq!(m.name(), name);
    }
}

// ---------------------------------------------------------------------------------------------
// Malformed frames: each rule, each way of breaking it
// ---------------------------------------------------------------------------------------------

#[test]
fn a_frame_shorter_than_an_ethernet_header_is_malformed() {
    let f = ethernet(&[], ARP);
    for n in 0..ETH {
        assert_eq!(parse(&f[..n]), Err(Malformed::Ethernet), "{n} bytes");
    }
    // The header alone is enough.
    assert_eq!(
        parse(&f),
        Ok(Packet {
            len: 14,
            ether_type: ARP,
            ..Packet::default()
        })
    );
}

#[test]
fn a_cut_first_vlan_tag_is_malformed() {
    let f = Ipv4::new(ip_proto::UDP).frame(&[ether_type::VLAN], &udp(1, 2, &[]));
    for n in ETH..ETH + TAG {
        assert_eq!(parse(&f[..n]), Err(Malformed::Ethernet), "{n} bytes");
    }
}

#[test]
fn a_cut_second_vlan_tag_is_malformed() {
    let tags = [ether_type::QINQ, ether_type::VLAN];
    let f = Ipv4::new(ip_proto::UDP).frame(&tags, &udp(1, 2, &[]));
    for n in ETH + TAG..ETH + 2 * TAG {
        assert_eq!(parse(&f[..n]), Err(Malformed::Ethernet), "{n} bytes");
    }
}

#[test]
fn a_cut_ipv4_header_is_malformed() {
    for tags in [&[][..], &[ether_type::QINQ, ether_type::VLAN]] {
        let f = Ipv4::new(ip_proto::UDP).frame(tags, &udp(53000, 53, b"query"));
        let l3 = ETH + TAG * tags.len();
        for n in l3..l3 + IPV4_HEADER {
            assert_eq!(parse(&f[..n]), Err(Malformed::Ipv4Header), "{n} bytes");
        }
    }
}

#[test]
fn an_ipv4_ether_type_over_another_ip_version_is_malformed() {
    for version in (0..16u8).filter(|&v| v != 4) {
        let mut f = Ipv4::new(ip_proto::UDP).frame(&[], &udp(53000, 53, &[]));
        f[ETH] = (version << 4) | 5;
        assert_eq!(parse(&f), Err(Malformed::Ipv4Header), "version {version}");
    }
}

#[test]
fn an_ipv4_ihl_below_five_is_malformed() {
    for ihl in 0..5 {
        let mut f = Ipv4::new(ip_proto::UDP).frame(&[], &udp(53000, 53, &[]));
        f[ETH] = 0x40 | ihl;
        assert_eq!(parse(&f), Err(Malformed::Ipv4Header), "IHL {ihl}");
    }
}

#[test]
fn an_ipv4_total_length_shorter_than_the_header_is_malformed() {
    let mut plain = Ipv4::new(ip_proto::UDP).frame(&[], &udp(53000, 53, &[]));
    set_u16(&mut plain, ETH + 2, 19);
    assert_eq!(parse(&plain), Err(Malformed::Ipv4Length));
    set_u16(&mut plain, ETH + 2, 0);
    assert_eq!(parse(&plain), Err(Malformed::Ipv4Length));

    // With options, shorter than IHL * 4 although longer than 20.
    let ip = Ipv4 {
        options: vec![1; 4],
        ..Ipv4::new(ip_proto::UDP)
    };
    let mut with_options = ip.frame(&[], &udp(53000, 53, &[]));
    set_u16(&mut with_options, ETH + 2, 23);
    assert_eq!(parse(&with_options), Err(Malformed::Ipv4Length));
}

#[test]
fn an_ipv4_total_length_beyond_the_frame_is_malformed() {
    let mut f = Ipv4::new(ip_proto::UDP).frame(&[], &udp(53000, 53, b"query"));
    set_u16(&mut f, ETH + 2, 34);
    assert_eq!(parse(&f), Err(Malformed::Ipv4Length));
    // The same, seen as a frame cut anywhere after the IPv4 header.
    let whole = Ipv4::new(ip_proto::UDP).frame(&[], &udp(53000, 53, b"query"));
    for n in ETH + IPV4_HEADER..whole.len() {
        assert_eq!(parse(&whole[..n]), Err(Malformed::Ipv4Length), "{n} bytes");
    }
}

// The parser records where the IPv4 options are without judging them (a walk costs the verifier
// too much); `IpOptions::kinds` names a broken option when it walks `Packet::ip_options_in`.

#[test]
fn an_ipv4_option_overrunning_the_options_area_is_malformed_when_walked() {
    // A record route claiming 8 bytes in a 4-byte area, first and after two NOPs.
    for options in [[7, 8, 4, 0], [1, 1, 7, 3]] {
        let ip = Ipv4 {
            options: options.to_vec(),
            ..Ipv4::new(ip_proto::UDP)
        };
        let f = ip.frame(&[], &udp(53000, 53, &[0; 16]));
        let p = parse(&f);
        assert_eq!(
            p,
            Ok(Packet {
                ip_options: OptionsSpan { offset: 34, len: 4 },
                transport: Transport::Udp,
                src_port: 53000,
                dst_port: 53,
                l4_offset: 38,
                payload_offset: 46,
                payload_len: 16,
                ..v4_packet(62, ip_proto::UDP)
            }),
            "options {options:?}"
        );
        let copy = p.unwrap().ip_options_in(&f);
        assert_eq!(copy, copied(&options), "options {options:?}");
        assert_eq!(
            copy.kinds(),
            Err(Malformed::Ipv4Options),
            "options {options:?}"
        );
    }
}

#[test]
fn an_ipv4_option_length_below_two_is_malformed_when_walked() {
    for options in [[7, 1, 0, 0], [68, 0, 0, 0], [1, 148, 1, 1]] {
        let ip = Ipv4 {
            options: options.to_vec(),
            ..Ipv4::new(ip_proto::UDP)
        };
        let f = ip.frame(&[], &udp(53000, 53, &[]));
        let p = parse(&f).expect("options are not judged");
        assert_eq!(p.ip_options, OptionsSpan { offset: 34, len: 4 });
        let copy = p.ip_options_in(&f);
        assert_eq!(copy, copied(&options), "options {options:?}");
        assert_eq!(
            copy.kinds(),
            Err(Malformed::Ipv4Options),
            "options {options:?}"
        );
    }
}

#[test]
fn an_ipv4_option_length_byte_past_the_options_area_is_malformed_when_walked() {
    // A record route type in the last options byte. The byte after the header is 2, a valid
    // length, but it is the UDP source port's: the walk must not borrow it.
    let ip = Ipv4 {
        options: vec![1, 1, 1, 7],
        ..Ipv4::new(ip_proto::UDP)
    };
    let f = ip.frame(&[], &udp(0x0200, 53, &[]));
    let p = parse(&f).expect("options are not judged");
    assert_eq!(p.ip_options, OptionsSpan { offset: 34, len: 4 });
    let copy = p.ip_options_in(&f);
    assert_eq!(copy, copied(&[1, 1, 1, 7]));
    assert_eq!(copy.kinds(), Err(Malformed::Ipv4Options));
}

#[test]
fn a_cut_ipv6_header_is_malformed() {
    let f = Ipv6::new(ip_proto::UDP).frame(&[], &udp(5353, 53, b"q"));
    // Both the first eight bytes and the addresses after them must be present.
    for n in ETH..ETH + IPV6_HEADER {
        assert_eq!(parse(&f[..n]), Err(Malformed::Ipv6Header), "{n} bytes");
    }
}

#[test]
fn an_ipv6_ether_type_over_another_ip_version_is_malformed() {
    for version in (0..16u8).filter(|&v| v != 6) {
        let mut f = Ipv6::new(ip_proto::UDP).frame(&[], &udp(5353, 53, &[]));
        f[ETH] = (version << 4) | 0x0b;
        assert_eq!(parse(&f), Err(Malformed::Ipv6Header), "version {version}");
    }
}

#[test]
fn an_ipv6_payload_length_beyond_the_frame_is_malformed() {
    let mut f = Ipv6::new(ip_proto::UDP).frame(&[], &udp(5353, 53, b"q"));
    set_u16(&mut f, ETH + 4, 10);
    assert_eq!(parse(&f), Err(Malformed::Ipv6Length));
    let whole = Ipv6::new(ip_proto::UDP).frame(&[], &udp(5353, 53, b"q"));
    for n in ETH + IPV6_HEADER..whole.len() {
        assert_eq!(parse(&whole[..n]), Err(Malformed::Ipv6Length), "{n} bytes");
    }
}

#[test]
fn a_cut_ipv6_extension_header_is_malformed() {
    // A hop-by-hop header announced but absent, or one byte of it.
    let none = Ipv6::new(ip_proto::HOPOPT).frame(&[], &[]);
    assert_eq!(parse(&none), Err(Malformed::Ipv6Extension));
    let one_byte = Ipv6::new(ip_proto::HOPOPT).frame(&[], &[ip_proto::UDP]);
    assert_eq!(parse(&one_byte), Err(Malformed::Ipv6Extension));
    // Half a fragment header.
    let frag = fragment_header(ip_proto::UDP, 0, true, 1);
    let half = Ipv6::new(ip_proto::IPV6_FRAG).frame(&[], &frag[..4]);
    assert_eq!(parse(&half), Err(Malformed::Ipv6Extension));
}

#[test]
fn twenty_four_extension_headers_are_followed_and_twenty_five_are_a_long_chain() {
    let within = vec![(ip_proto::IPV6_OPTS, 0); IPV6_MAX_EXTENSIONS];
    let (first, chain) = extension_chain(&within, ip_proto::UDP);
    let f = Ipv6::new(first).frame(&[], &[chain, udp(5353, 53, &[])].concat());
    // 54 + 24 × 8 = 246.
    assert_eq!(
        parse(&f),
        Ok(Packet {
            transport: Transport::Udp,
            src_port: 5353,
            dst_port: 53,
            l4_offset: 246,
            payload_offset: 254,
            payload_len: 0,
            extensions: 24,
            ..v6_packet(254, ip_proto::UDP)
        })
    );

    let beyond = vec![(ip_proto::IPV6_OPTS, 0); IPV6_MAX_EXTENSIONS + 1];
    let (first, chain) = extension_chain(&beyond, ip_proto::UDP);
    let f = Ipv6::new(first).frame(&[], &[chain, udp(5353, 53, &[])].concat());
    // Not malformed: the walk stops at the 25th header, which is named as the protocol.
    assert_eq!(
        parse(&f),
        Ok(Packet {
            extensions: 24,
            long_chain: true,
            ..v6_packet(262, ip_proto::IPV6_OPTS)
        })
    );
}

#[test]
fn extension_headers_longer_than_the_ipv6_payload_are_malformed() {
    // A 16-byte hop-by-hop header in an 8-byte payload; the frame's padding holds the rest.
    let hop = options_header(ip_proto::UDP, 1);
    let mut f = Ipv6::new(ip_proto::HOPOPT).frame(&[], &hop[..8]);
    f.extend_from_slice(&hop[8..]);
    assert_eq!(parse(&f), Err(Malformed::Ipv6Extension));
    // A fragment header that lies wholly in padding after an empty payload.
    let mut f = Ipv6::new(ip_proto::IPV6_FRAG).frame(&[], &[]);
    f.extend(fragment_header(ip_proto::UDP, 0, false, 1));
    assert_eq!(parse(&f), Err(Malformed::Ipv6Extension));
}

#[test]
fn an_extension_chain_past_the_offset_cap_is_a_long_chain() {
    // One unit more than in `an_extension_chain_ending_at_the_offset_cap_is_followed`: the
    // fifth header ends at 9222.
    let (f, p) = syn_behind_routing_headers(&[255, 255, 255, 255, 121]);
    assert_eq!(
        p,
        Ok(Packet {
            extensions: 5,
            long_chain: true,
            ..v6_packet(f.len(), ip_proto::TCP)
        })
    );
}

#[test]
fn a_cut_tcp_header_is_malformed() {
    let seg = Tcp::new(tcp_flags::SYN).segment(&[]);
    for n in 0..20 {
        let v4 = Ipv4::new(ip_proto::TCP).frame(&[], &seg[..n]);
        assert_eq!(parse(&v4), Err(Malformed::Tcp), "IPv4, {n} bytes");
        let v6 = Ipv6::new(ip_proto::TCP).frame(&[], &seg[..n]);
        assert_eq!(parse(&v6), Err(Malformed::Tcp), "IPv6, {n} bytes");
    }
}

#[test]
fn a_tcp_data_offset_below_five_is_malformed() {
    for words in 0..5u8 {
        let mut f = Ipv4::new(ip_proto::TCP).frame(&[], &Tcp::new(tcp_flags::ACK).segment(&[0; 8]));
        f[ETH + IPV4_HEADER + 12] = words << 4;
        assert_eq!(parse(&f), Err(Malformed::Tcp), "data offset {words}");
    }
}

#[test]
fn a_tcp_data_offset_beyond_the_ip_payload_is_malformed() {
    // Data offset 6 over a 20-byte segment; the frame's padding holds the 4 bytes it claims.
    let mut padded = Ipv4::new(ip_proto::TCP).frame(&[], &Tcp::new(tcp_flags::SYN).segment(&[]));
    padded[ETH + IPV4_HEADER + 12] = 6 << 4;
    padded.extend_from_slice(&[1; 4]);
    assert_eq!(parse(&padded), Err(Malformed::Tcp));
    // Data offset 15 over a 20-byte segment in IPv6.
    let mut f = Ipv6::new(ip_proto::TCP).frame(&[], &Tcp::new(tcp_flags::SYN).segment(&[]));
    f[ETH + IPV6_HEADER + 12] = 15 << 4;
    assert_eq!(parse(&f), Err(Malformed::Tcp));
}

#[test]
fn tcp_options_cut_by_the_end_of_the_frame_fail_the_ip_length_check_first() {
    // The IP length covers the whole segment, so a frame that ends inside the TCP options is
    // already short of what IP declares: the IP rule names it.
    let tcp = Tcp {
        options: vec![1; 12],
        ..Tcp::new(tcp_flags::SYN)
    };
    let seg = tcp.segment(&[]);
    let v4 = Ipv4::new(ip_proto::TCP).frame(&[], &seg);
    for n in ETH + IPV4_HEADER + 20..v4.len() {
        assert_eq!(
            parse(&v4[..n]),
            Err(Malformed::Ipv4Length),
            "IPv4, {n} bytes"
        );
    }
    let v6 = Ipv6::new(ip_proto::TCP).frame(&[], &seg);
    for n in ETH + IPV6_HEADER + 20..v6.len() {
        assert_eq!(
            parse(&v6[..n]),
            Err(Malformed::Ipv6Length),
            "IPv6, {n} bytes"
        );
    }
}

#[test]
fn a_cut_udp_header_is_malformed() {
    let d = udp(53000, 53, &[]);
    for n in 0..8 {
        let v4 = Ipv4::new(ip_proto::UDP).frame(&[], &d[..n]);
        assert_eq!(parse(&v4), Err(Malformed::Udp), "IPv4, {n} bytes");
        let v6 = Ipv6::new(ip_proto::UDP).frame(&[], &d[..n]);
        assert_eq!(parse(&v6), Err(Malformed::Udp), "IPv6, {n} bytes");
    }
}

#[test]
fn a_udp_header_in_an_ip_payload_shorter_than_eight_is_malformed_unless_a_first_fragment() {
    // IP declares 4 bytes of UDP; the frame's padding holds the other 4 of the header.
    let d = udp(53000, 53, &[]);
    let ip = Ipv4::new(ip_proto::UDP);
    let mut f = ip.frame(&[], &d[..4]);
    f.extend_from_slice(&d[4..]);
    assert_eq!(parse(&f), Err(Malformed::Udp));
    // In a first fragment the rest of the header is in the next one: a tiny fragment, whose
    // 4 bytes are the ports (the padding is not read as the UDP length).
    let ip = Ipv4 {
        more_fragments: true,
        ..Ipv4::new(ip_proto::UDP)
    };
    let mut f = ip.frame(&[], &d[..4]);
    f.extend_from_slice(&d[4..]);
    assert_eq!(
        parse(&f),
        Ok(Packet {
            more_fragments: true,
            is_fragment: true,
            tiny_fragment: true,
            l4_held: 4,
            transport: Transport::Udp,
            src_port: 53000,
            dst_port: 53,
            l4_offset: 34,
            ..v4_packet(42, ip_proto::UDP)
        })
    );
}

#[test]
fn a_udp_length_below_eight_is_malformed() {
    for len in 0..8 {
        let mut d = udp(53000, 53, b"query");
        set_u16(&mut d, 4, len);
        let f = Ipv4::new(ip_proto::UDP).frame(&[], &d);
        assert_eq!(parse(&f), Err(Malformed::Udp), "UDP length {len}");
    }
}

#[test]
fn a_udp_length_beyond_the_ip_payload_of_a_whole_datagram_is_malformed() {
    let mut d = udp(53000, 53, b"query");
    set_u16(&mut d, 4, 14);
    assert_eq!(
        parse(&Ipv4::new(ip_proto::UDP).frame(&[], &d)),
        Err(Malformed::Udp)
    );
    assert_eq!(
        parse(&Ipv6::new(ip_proto::UDP).frame(&[], &d)),
        Err(Malformed::Udp)
    );
    // The same UDP bytes in a first fragment (MF set): the UDP length covers the whole
    // datagram, so it cannot be held against this packet.
    let first = Ipv4 {
        more_fragments: true,
        ..Ipv4::new(ip_proto::UDP)
    };
    assert_eq!(
        parse(&first.frame(&[], &d)),
        Ok(Packet {
            more_fragments: true,
            is_fragment: true,
            transport: Transport::Udp,
            src_port: 53000,
            dst_port: 53,
            l4_offset: 34,
            payload_offset: 42,
            payload_len: 5,
            ..v4_packet(47, ip_proto::UDP)
        })
    );
}

#[test]
fn a_cut_icmp_header_is_malformed() {
    let m = icmp(8, 0, &[0, 1, 0, 1]);
    for n in 0..8 {
        let f = Ipv4::new(ip_proto::ICMP).frame(&[], &m[..n]);
        assert_eq!(parse(&f), Err(Malformed::Icmp), "{n} bytes");
    }
}

#[test]
fn an_icmp_header_in_an_ip_payload_shorter_than_eight_is_malformed() {
    let m = icmp(8, 0, &[0, 1, 0, 1]);
    let mut f = Ipv4::new(ip_proto::ICMP).frame(&[], &m[..4]);
    f.extend_from_slice(&m[4..]);
    assert_eq!(parse(&f), Err(Malformed::Icmp));
}

#[test]
fn a_cut_icmpv6_header_is_malformed() {
    let m = icmp(128, 0, &[0, 1, 0, 1]);
    for n in 0..8 {
        let f = Ipv6::new(ip_proto::ICMPV6).frame(&[], &m[..n]);
        assert_eq!(parse(&f), Err(Malformed::Icmp), "{n} bytes");
    }
    // Padding after a 4-byte payload does not complete the header.
    let mut padded = Ipv6::new(ip_proto::ICMPV6).frame(&[], &m[..4]);
    padded.extend_from_slice(&m[4..]);
    assert_eq!(parse(&padded), Err(Malformed::Icmp));
}

// ---------------------------------------------------------------------------------------------
// Bugs found and fixed: kept so they stay fixed
// ---------------------------------------------------------------------------------------------

#[test]
fn ipv6_non_first_fragment_data_is_not_read_as_extension_headers() {
    // RFC 8200 §4.5: the Fragment header's Next Header names the first header of the
    // *fragmentable part*, which a non-first fragment does not carry: here a destination options
    // header (final-destination options travel in the fragmentable part, §4.1). The bytes after
    // the Fragment header are mid-datagram data.
    let payload = [
        fragment_header(ip_proto::IPV6_OPTS, 185, false, 0xdead_beef),
        vec![0xab; 24],
    ]
    .concat();
    let f = Ipv6::new(ip_proto::IPV6_FRAG).frame(&[], &payload);
    assert_eq!(
        parse(&f),
        Ok(Packet {
            ip_id: 0xdead_beef,
            fragment_offset: 185,
            is_fragment: true,
            extensions: 1,
            ..v6_packet(86, ip_proto::IPV6_OPTS)
        })
    );
}

#[test]
fn ipv6_atomic_fragment_is_a_whole_datagram_not_a_fragment() {
    // RFC 8200 §4.5 / RFC 6946: offset 0 with M clear is a whole datagram, to be processed as
    // such; IPv4 with MF clear and offset 0 is likewise no fragment in this parser.
    let payload = [
        fragment_header(ip_proto::UDP, 0, false, 9),
        udp(5353, 53, &[]),
    ]
    .concat();
    let f = Ipv6::new(ip_proto::IPV6_FRAG).frame(&[], &payload);
    assert_eq!(
        parse(&f),
        Ok(Packet {
            ip_id: 9,
            transport: Transport::Udp,
            src_port: 5353,
            dst_port: 53,
            l4_offset: 62,
            payload_offset: 70,
            payload_len: 0,
            extensions: 1,
            ..v6_packet(70, ip_proto::UDP)
        })
    );
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

/// What must hold of any `Ok`: everything the parser points at lies inside the frame.
fn offsets_fit(bytes: &[u8], p: &Packet) -> Result<(), TestCaseError> {
    let len = bytes.len();
    prop_assert_eq!(p.len as usize, len);
    prop_assert!(p.vlan_tags <= 2);
    prop_assert!(usize::from(p.l4_offset) <= len);
    prop_assert!(usize::from(p.payload_offset) <= len);
    prop_assert!(usize::from(p.payload_offset) + usize::from(p.payload_len) <= len);
    if p.transport == Transport::None {
        prop_assert_eq!((p.src_port, p.dst_port, p.tcp_flags), (0, 0, 0));
    } else if p.tiny_fragment {
        // Part of a header: what it holds lies in the frame, and no payload is claimed.
        prop_assert!(usize::from(p.l4_offset) + usize::from(p.l4_held) <= len);
        prop_assert_eq!((p.payload_offset, p.payload_len), (0, 0));
        prop_assert!(p.more_fragments && p.fragment_offset == 0);
    } else {
        // A decoded transport has a whole header between its offset and its payload.
        prop_assert!(p.payload_offset >= p.l4_offset + 8);
    }
    if p.network == Network::Ipv4 {
        // The options area is the frame's bytes right after the fixed IPv4 header.
        let at = ETH + TAG * usize::from(p.vlan_tags) + IPV4_HEADER;
        let len = usize::from(p.ip_options.len);
        prop_assert!(len <= 40 && len.is_multiple_of(4));
        let expected_offset = if len == 0 { 0 } else { at as u16 };
        prop_assert_eq!(p.ip_options.offset, expected_offset);
        let copy = p.ip_options_in(bytes);
        prop_assert_eq!(copy.as_bytes(), &bytes[at..at + len]);
        // Walking arbitrary options names a kind set or a malformation, never panics.
        if let Err(m) = copy.kinds() {
            prop_assert_eq!(m, Malformed::Ipv4Options);
        }
    } else {
        prop_assert_eq!(p.ip_options, OptionsSpan::default());
    }
    Ok(())
}

fn tpids() -> impl Strategy<Value = Vec<u16>> {
    prop::collection::vec(
        prop_oneof![Just(ether_type::VLAN), Just(ether_type::QINQ)],
        0..=2,
    )
}

/// A well-formed TCP or UDP packet over IPv4 or IPv6, as the fields it was built from.
#[derive(Clone, Debug)]
struct Spec {
    tpids: Vec<u16>,
    ipv6: bool,
    src: [u8; 16],
    dst: [u8; 16],
    ttl: u8,
    id: u16,
    dont_fragment: bool,
    /// IPv6 only: (kind, units) of each extension header.
    extensions: Vec<(u8, u8)>,
    /// Flags, window and option bytes for TCP; `None` for UDP.
    tcp: Option<(u8, u16, Vec<u8>)>,
    src_port: u16,
    dst_port: u16,
    data: Vec<u8>,
}

prop_compose! {
    fn spec()(
        tpids in tpids(),
        ipv6 in any::<bool>(),
        src in any::<[u8; 16]>(),
        dst in any::<[u8; 16]>(),
        ttl in any::<u8>(),
        id in any::<u16>(),
        dont_fragment in any::<bool>(),
        extensions in prop::collection::vec(
            (
                prop_oneof![
                    Just(ip_proto::HOPOPT),
                    Just(ip_proto::IPV6_ROUTE),
                    Just(ip_proto::IPV6_OPTS),
                ],
                0u8..=2,
            ),
            0..=6,
        ),
        tcp in prop::option::of((
            any::<u8>(),
            any::<u16>(),
            (0usize..=10).prop_flat_map(|words| prop::collection::vec(any::<u8>(), 4 * words)),
        )),
        src_port in any::<u16>(),
        dst_port in any::<u16>(),
        data in prop::collection::vec(any::<u8>(), 0..64),
    ) -> Spec {
        Spec { tpids, ipv6, src, dst, ttl, id, dont_fragment, extensions, tcp, src_port, dst_port, data }
    }
}

/// The frame a [`Spec`] describes and the packet the parser must make of it.
fn build(s: &Spec) -> (Vec<u8>, Packet) {
    let (protocol, transport, l4, header_len, flags, window) = match &s.tcp {
        Some((flags, window, options)) => {
            let tcp = Tcp {
                src_port: s.src_port,
                dst_port: s.dst_port,
                flags: *flags,
                window: *window,
                options: options.clone(),
            };
            (
                ip_proto::TCP,
                Transport::Tcp,
                tcp.segment(&s.data),
                20 + options.len(),
                *flags,
                *window,
            )
        }
        None => (
            ip_proto::UDP,
            Transport::Udp,
            udp(s.src_port, s.dst_port, &s.data),
            8,
            0,
            0,
        ),
    };
    let l3 = ETH + TAG * s.tpids.len();
    let (frame, l4_offset, base) = if s.ipv6 {
        let (first, mut payload) = extension_chain(&s.extensions, protocol);
        let l4_offset = l3 + IPV6_HEADER + payload.len();
        payload.extend(l4);
        let ip = Ipv6 {
            src: s.src,
            dst: s.dst,
            hop_limit: s.ttl,
            next_header: first,
        };
        let base = Packet {
            ether_type: ether_type::IPV6,
            network: Network::Ipv6,
            src: s.src,
            dst: s.dst,
            extensions: s.extensions.len() as u8,
            ..Packet::default()
        };
        (ip.frame(&s.tpids, &payload), l4_offset, base)
    } else {
        let src = [s.src[0], s.src[1], s.src[2], s.src[3]];
        let dst = [s.dst[0], s.dst[1], s.dst[2], s.dst[3]];
        let ip = Ipv4 {
            src,
            dst,
            ttl: s.ttl,
            id: s.id,
            dont_fragment: s.dont_fragment,
            ..Ipv4::new(protocol)
        };
        let base = Packet {
            ether_type: ether_type::IPV4,
            network: Network::Ipv4,
            src: addr4(src),
            dst: addr4(dst),
            ip_id: u32::from(s.id),
            dont_fragment: s.dont_fragment,
            ..Packet::default()
        };
        (ip.frame(&s.tpids, &l4), l3 + IPV4_HEADER, base)
    };
    let expected = Packet {
        len: frame.len() as u32,
        vlan_tags: s.tpids.len() as u8,
        ttl: s.ttl,
        protocol,
        transport,
        src_port: s.src_port,
        dst_port: s.dst_port,
        tcp_flags: flags,
        tcp_window: window,
        // The builder's sequence number, for TCP.
        tcp_seq: if transport == Transport::Tcp {
            1_000
        } else {
            0
        },
        l4_offset: l4_offset as u16,
        payload_offset: (l4_offset + header_len) as u16,
        payload_len: s.data.len() as u16,
        ..base
    };
    (frame, expected)
}

/// An IPv4 option the builder can write, with the bit it must set.
fn ipv4_option() -> impl Strategy<Value = (Vec<u8>, u32)> {
    // Route options: type, length, pointer, then `slots` addresses.
    let route = |kind: u8, slots: usize| {
        let mut o = vec![kind, (3 + 4 * slots) as u8, 4];
        o.resize(3 + 4 * slots, 0);
        o
    };
    prop_oneof![
        Just((vec![1], ip_option::NOP)),
        (0usize..=2).prop_map(move |n| (route(7, n), ip_option::RECORD_ROUTE)),
        (1usize..=2).prop_map(move |n| (route(131, n), ip_option::LSRR)),
        (1usize..=2).prop_map(move |n| (route(137, n), ip_option::SSRR)),
        (0usize..=2).prop_map(|n| {
            let mut o = vec![68, (4 + 4 * n) as u8, 5, 0];
            o.resize(4 + 4 * n, 0);
            (o, ip_option::TIMESTAMP)
        }),
        Just((vec![148, 4, 0, 0], ip_option::ROUTER_ALERT)),
        Just((
            vec![130, 11, 0xab, 0x80, 0, 0, 0, 0, 0, 0, 0],
            ip_option::SECURITY
        )),
    ]
}

/// The shortcut agrees with the parser on `frame`: when it answers, the parser accepts the
/// frame with the same values (and, for TCP outside a connection and UDP, the same contact
/// hash), in an untagged, unfragmented packet without IPv4 options or IPv6 extension headers,
/// carrying TCP or UDP; and for every such frame the parser accepts, the shortcut answers.
fn shortcut_agrees(frame: &[u8]) -> Result<(), TestCaseError> {
    let short = shortcut_of(frame, &EIGHTHS);
    let parsed = parse(frame);
    let expected = parsed.as_ref().ok().and_then(expected_shortcut);
    prop_assert_eq!(short, expected, "parser says {:?}", parsed);
    Ok(())
}

/// What the shortcut must answer for a frame the parser made `p` of.
fn expected_shortcut(p: &Packet) -> Option<Shortcut> {
    let plain = p.vlan_tags == 0
        && !p.is_fragment
        && p.ip_options.len == 0
        && p.l4_offset == if p.network == Network::Ipv4 { 34 } else { 54 };
    if !plain {
        return None;
    }
    if crate::track::is_established_tcp(p) {
        let key = crate::track::answer_key(p, &EIGHTHS)?;
        return Some(Shortcut::Established(Segment {
            network: p.network,
            src_port: p.src_port,
            dst_port: p.dst_port,
            tcp_flags: p.tcp_flags,
            contact: crate::track::flow_hash(&key),
        }));
    }
    if p.transport == Transport::Tcp {
        let key = crate::track::contact_key(p, &EIGHTHS)?;
        return Some(Shortcut::Attempt(Attempt {
            network: p.network,
            src_port: p.src_port,
            dst_port: p.dst_port,
            tcp_flags: p.tcp_flags,
            ttl: p.ttl,
            src: p.src,
            dst: p.dst,
            contact: crate::track::flow_hash(&key),
        }));
    }
    if p.transport == Transport::Udp {
        let key = crate::track::contact_key(p, &EIGHTHS)?;
        return Some(Shortcut::Datagram(Datagram {
            network: p.network,
            src_port: p.src_port,
            dst_port: p.dst_port,
            contact: crate::track::flow_hash(&key),
        }));
    }
    None
}

#[test]
#[expect(
    clippy::too_many_lines,
    reason = "one table of frames and what the shortcut must answer for each"
)]
fn the_shortcut_answers_for_tcp_and_udp_and_leaves_everything_else_to_the_parser() {
    let ack = Tcp::new(tcp_flags::ACK | tcp_flags::PSH).segment(b"data");
    let v4 = Ipv4::new(ip_proto::TCP).frame(&[], &ack);
    // An established segment's contact is the one a SYN of its connection has.
    let syn_of_it =
        parse(&Ipv4::new(ip_proto::TCP).frame(&[], &Tcp::new(tcp_flags::SYN).segment(b"")))
            .expect("a SYN parses");
    assert_eq!(
        shortcut_of(&v4, &EIGHTHS),
        Some(Shortcut::Established(Segment {
            network: Network::Ipv4,
            src_port: 49152,
            dst_port: 443,
            tcp_flags: tcp_flags::ACK | tcp_flags::PSH,
            contact: crate::track::flow_hash(
                &crate::track::contact_key(&syn_of_it, &EIGHTHS).expect("a SYN is tracked")
            ),
        }))
    );
    let v6 = Ipv6::new(ip_proto::TCP).frame(&[], &ack);
    assert!(
        matches!(shortcut_of(&v6, &EIGHTHS), Some(Shortcut::Established(s)) if (s.network, s.dst_port) == (Network::Ipv6, 443)),
        "{:?}",
        shortcut_of(&v6, &EIGHTHS)
    );
    // A datagram's contact hash is the one its parsed contact key gives, for both versions.
    let dns4 = Ipv4::new(ip_proto::UDP).frame(&[], &udp(5353, 53, b"query"));
    let dns6 = Ipv6::new(ip_proto::UDP).frame(&[], &udp(5353, 53, b"query"));
    for (frame, network) in [(&dns4, Network::Ipv4), (&dns6, Network::Ipv6)] {
        let p = parse(frame).expect("a UDP frame parses");
        let key = crate::track::contact_key(&p, &EIGHTHS).expect("UDP is tracked");
        assert_eq!(
            shortcut_of(frame, &EIGHTHS),
            Some(Shortcut::Datagram(Datagram {
                network,
                src_port: 5353,
                dst_port: 53,
                contact: crate::track::flow_hash(&key),
            }))
        );
    }
    // Another port, another contact.
    let other = Ipv4::new(ip_proto::UDP).frame(&[], &udp(5353, 54, b"query"));
    let hash = |f: &[u8]| match shortcut_of(f, &EIGHTHS) {
        Some(Shortcut::Datagram(d)) => d.contact,
        s => panic!("not a datagram: {s:?}"),
    };
    assert_ne!(hash(&dns4), hash(&other));
    assert_ne!(hash(&dns4), hash(&dns6));
    // A SYN, SYN+ACK, RST, FIN or NULL segment is tracked: it carries what the source table
    // learns and its contact's hash, for both versions.
    let outside = [
        tcp_flags::SYN,
        tcp_flags::SYN | tcp_flags::ACK,
        tcp_flags::RST,
        tcp_flags::FIN,
        0,
    ];
    for flags in outside {
        let seg = Tcp::new(flags).segment(&[]);
        for (frame, ttl, src, dst) in [
            (
                Ipv4::new(ip_proto::TCP).frame(&[], &seg),
                64,
                addr4(SRC4),
                addr4(DST4),
            ),
            (Ipv6::new(ip_proto::TCP).frame(&[], &seg), 255, SRC6, DST6),
        ] {
            let p = parse(&frame).expect("a TCP frame parses");
            let key = crate::track::contact_key(&p, &EIGHTHS)
                .expect("TCP outside a connection is tracked");
            assert_eq!(
                shortcut_of(&frame, &EIGHTHS),
                Some(Shortcut::Attempt(Attempt {
                    network: p.network,
                    src_port: 49152,
                    dst_port: 443,
                    tcp_flags: flags,
                    ttl,
                    src,
                    dst,
                    contact: crate::track::flow_hash(&key),
                })),
                "flags {flags:#04x}, {:?}",
                p.network
            );
            assert_eq!(
                matches!(shortcut_of(&frame, &EIGHTHS), Some(Shortcut::Attempt(a)) if a.is_connection_attempt()),
                p.is_connection_attempt()
            );
        }
    }
    // Each of these goes through the full parse: tags, options, fragments and extension
    // headers move or hide the transport, ICMP is left to the parser, and a broken length is
    // for the parser to name.
    let mut fragment = Ipv4::new(ip_proto::TCP);
    fragment.more_fragments = true;
    let mut udp_fragment = Ipv4::new(ip_proto::UDP);
    udp_fragment.more_fragments = true;
    let mut options = Ipv4::new(ip_proto::TCP);
    options.options = vec![1, 1, 1, 0];
    let mut udp_options = Ipv4::new(ip_proto::UDP);
    udp_options.options = vec![1, 1, 1, 0];
    let (next, exts) = extension_chain(&[(ip_proto::HOPOPT, 0)], ip_proto::TCP);
    let mut with_ext = exts;
    with_ext.extend_from_slice(&ack);
    let mut too_long = v4.clone();
    set_u16(&mut too_long, ETH + 2, 2000);
    let mut udp_len_too_long = dns4.clone();
    set_u16(&mut udp_len_too_long, ETH + 20 + 4, 200);
    let syn = Tcp::new(tcp_flags::SYN).segment(&[]);
    let mut syn_fragment = Ipv4::new(ip_proto::TCP);
    syn_fragment.more_fragments = true;
    let others = [
        Ipv4::new(ip_proto::TCP).frame(&[ether_type::VLAN], &syn),
        options.frame(&[], &syn),
        syn_fragment.frame(&[], &syn),
        Ipv4::new(ip_proto::TCP).frame(&[ether_type::VLAN], &ack),
        Ipv4::new(ip_proto::UDP).frame(&[ether_type::VLAN], &udp(1, 2, b"")),
        options.frame(&[], &ack),
        udp_options.frame(&[], &udp(1, 2, b"")),
        fragment.frame(&[], &ack),
        udp_fragment.frame(&[], &udp(1, 2, b"")),
        Ipv6::new(next).frame(&[], &with_ext),
        Ipv4::new(ip_proto::ICMP).frame(&[], &[8, 0, 0, 0, 0, 1, 0, 1]),
        too_long,
        udp_len_too_long,
        v4[..v4.len() - 10].to_vec(),
    ];
    for (i, f) in others.iter().enumerate() {
        assert_eq!(shortcut_of(f, &EIGHTHS), None, "frame {i}");
        shortcut_agrees(f).unwrap_or_else(|e| panic!("frame {i}: {e}"));
    }
    for f in [&v4, &v6, &dns4, &dns6, &other] {
        shortcut_agrees(f).expect("an eligible frame");
    }
}

proptest! {
    #[test]
    fn any_bytes_parse_without_panic_and_offsets_fit(
        bytes in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        if let Ok(p) = parse(&bytes) {
            offsets_fit(&bytes, &p)?;
        }
        shortcut_agrees(&bytes)?;
    }

    #[test]
    fn bytes_behind_an_ipv4_header_shape_parse_without_panic(
        tags in tpids(),
        ihl in 5u8..=15,
        consistent_length in any::<bool>(),
        total_len in any::<u16>(),
        fields in any::<[u8; 16]>(),
        protocol in prop_oneof![
            Just(ip_proto::ICMP), Just(ip_proto::TCP), Just(ip_proto::UDP), Just(GRE), any::<u8>(),
        ],
        frag in prop_oneof![Just(0u16), Just(0x4000), Just(0x2000), any::<u16>()],
        tail in prop::collection::vec(any::<u8>(), 0..120),
    ) {
        let mut header = fields;
        header[0] = 0x40 | ihl;
        let total = if consistent_length { (20 + tail.len()) as u16 } else { total_len };
        header[2..4].copy_from_slice(&total.to_be_bytes());
        header[6..8].copy_from_slice(&frag.to_be_bytes());
        header[9] = protocol;
        let mut f = ethernet(&tags, ether_type::IPV4);
        f.extend_from_slice(&header);
        f.extend_from_slice(&[192, 0, 2, 1]); // destination; the source is in `fields`
        f.extend_from_slice(&tail);
        shortcut_agrees(&f)?;
        match parse(&f) {
            Ok(p) => {
                offsets_fit(&f, &p)?;
                prop_assert_eq!(p.network, Network::Ipv4);
                prop_assert_eq!(p.vlan_tags as usize, tags.len());
                prop_assert_eq!(&p.src[..4], &header[12..16]);
                prop_assert_eq!(p.dst_v4(), Some([192, 0, 2, 1]));
                prop_assert_eq!((p.ttl, p.protocol), (header[8], protocol));
                prop_assert_eq!(p.fragment_offset, frag & 0x1fff);
                let copy = p.ip_options_in(&f);
                prop_assert_eq!(copy.as_bytes(), &tail[..usize::from(ihl) * 4 - 20]);
            }
            // A version-4 header of 20 bytes or more is past the Ethernet and header rules, and
            // options are never judged by the parser.
            Err(m) => prop_assert!(
                matches!(
                    m,
                    Malformed::Ipv4Length
                        | Malformed::Tcp
                        | Malformed::Udp
                        | Malformed::Icmp
                ),
                "{:?}", m
            ),
        }
    }

    #[test]
    fn bytes_behind_an_ipv6_header_shape_parse_without_panic(
        tags in tpids(),
        consistent_length in any::<bool>(),
        payload_len in any::<u16>(),
        next in prop_oneof![
            Just(ip_proto::HOPOPT), Just(ip_proto::IPV6_ROUTE), Just(ip_proto::IPV6_FRAG),
            Just(ip_proto::IPV6_OPTS), Just(ip_proto::TCP), Just(ip_proto::UDP),
            Just(ip_proto::ICMPV6), Just(ip_proto::IPV6_NONXT), any::<u8>(),
        ],
        hop_limit in any::<u8>(),
        src in any::<[u8; 16]>(),
        tail in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let len = if consistent_length { tail.len() as u16 } else { payload_len };
        let mut f = ethernet(&tags, ether_type::IPV6);
        f.extend_from_slice(&[0x60, 0, 0, 0]);
        f.extend_from_slice(&len.to_be_bytes());
        f.extend_from_slice(&[next, hop_limit]);
        f.extend_from_slice(&src);
        f.extend_from_slice(&DST6);
        f.extend_from_slice(&tail);
        shortcut_agrees(&f)?;
        match parse(&f) {
            Ok(p) => {
                offsets_fit(&f, &p)?;
                prop_assert_eq!(p.network, Network::Ipv6);
                prop_assert_eq!((p.src, p.dst, p.ttl), (src, DST6, hop_limit));
            }
            Err(m) => prop_assert!(
                matches!(
                    m,
                    Malformed::Ipv6Length
                        | Malformed::Ipv6Extension
                        | Malformed::Tcp
                        | Malformed::Udp
                        | Malformed::Icmp
                ),
                "{:?}", m
            ),
        }
    }

    #[test]
    fn a_generated_tcp_or_udp_packet_parses_to_the_fields_it_was_built_from(s in spec()) {
        let (frame, expected) = build(&s);
        shortcut_agrees(&frame)?;
        prop_assert_eq!(parse(&frame), Ok(expected));
    }

    #[test]
    fn a_truncated_packet_is_malformed_at_the_layer_it_was_cut_in(s in spec(), cut in any::<Index>()) {
        // The builder adds no padding, so every cut falls short of what some header declares.
        let (frame, _) = build(&s);
        let n = cut.index(frame.len());
        let l3 = ETH + TAG * s.tpids.len();
        let expected = match (n < l3, s.ipv6) {
            (true, _) => Malformed::Ethernet,
            (false, false) if n < l3 + IPV4_HEADER => Malformed::Ipv4Header,
            (false, false) => Malformed::Ipv4Length,
            (false, true) if n < l3 + IPV6_HEADER => Malformed::Ipv6Header,
            (false, true) => Malformed::Ipv6Length,
        };
        shortcut_agrees(&frame[..n])?;
        prop_assert_eq!(parse(&frame[..n]), Err(expected), "cut at {}", n);
    }

    #[test]
    fn any_list_of_well_formed_ipv4_options_is_copied_and_walks_to_exactly_their_bits(
        options in prop::collection::vec(ipv4_option(), 0..12),
    ) {
        let mut bytes = Vec::new();
        let mut bits = 0;
        for (option, bit) in options {
            if bytes.len() + option.len() > 40 {
                break;
            }
            bytes.extend(option);
            bits |= bit;
        }
        if !bytes.len().is_multiple_of(4) {
            // Padding with end-of-list octets (RFC 791 §3.1), which the walk stops at.
            bytes.resize(bytes.len().next_multiple_of(4), 0);
            bits |= ip_option::END;
        }
        let l4 = 34 + bytes.len();
        let ip = Ipv4 { options: bytes.clone(), ..Ipv4::new(ip_proto::UDP) };
        let f = ip.frame(&[], &udp(53000, 53, &[]));
        let p = parse(&f);
        prop_assert_eq!(p.map(|p| p.ip_options_in(&f)), Ok(copied(&bytes)));
        prop_assert_eq!(p.map(|p| p.ip_options_in(&f).kinds()), Ok(Ok(bits)));
        prop_assert_eq!(
            p,
            Ok(Packet {
                ip_options: span(0, &bytes),
                transport: Transport::Udp,
                src_port: 53000,
                dst_port: 53,
                l4_offset: l4 as u16,
                payload_offset: (l4 + 8) as u16,
                ..v4_packet(l4 + 8, ip_proto::UDP)
            })
        );
    }
}
