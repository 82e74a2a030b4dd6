//! The first-contact event and the payload prefix it carries, from frames built here.

mod common;

use std::mem::MaybeUninit;

use common::{
    DST4, DST6, SRC4, SRC6, V4, addr4, ethernet, fragment_header, icmp, tcp, udp, v6_frame,
};
use probe_common::{
    event::{FirstContact, PAYLOAD_BYTES, frag},
    packet::{Network, Packet, Transport, ip_proto, parse, payload_of, tcp_flags},
};

const GRE: u8 = 47;

fn parsed(frame: &[u8]) -> Packet {
    parse(frame).expect("well-formed")
}

/// `data` in the first bytes of a 16-byte payload buffer, zeros after.
fn prefix(data: &[u8]) -> [u8; 16] {
    let mut out = [0; 16];
    out[..data.len()].copy_from_slice(data);
    out
}

// ---------------------------------------------------------------------------------------------
// payload_of
// ---------------------------------------------------------------------------------------------

#[test]
fn a_long_tcp_payload_gives_its_first_16_bytes() {
    let data: Vec<u8> = (1..=20).collect();
    let f = V4::new(ip_proto::TCP).frame(&tcp(80, tcp_flags::PSH | tcp_flags::ACK, 512, &data));
    let p = parsed(&f);
    assert_eq!((p.payload_offset, p.payload_len), (54, 20));
    assert_eq!(payload_of(&f, &p), (prefix(&data[..16]), 16));
}

#[test]
fn a_short_payload_in_a_padded_frame_counts_only_the_payload() {
    // 5 bytes of UDP payload at offset 42, padded to the 60-byte minimum: 18 bytes lie after the
    // offset, so 16 are read, but only the 5 the IP header declares are counted.
    let mut f = V4::new(ip_proto::UDP).frame(&udp(53, b"hello"));
    f.resize(60, 0);
    let p = parsed(&f);
    assert_eq!((p.payload_offset, p.payload_len), (42, 5));
    assert_eq!(payload_of(&f, &p), (prefix(b"hello"), 5));

    // Three trailer bytes: 8 bytes lie after the offset, so 8 are read. Bytes past the count are
    // the frame's, whatever they hold.
    let mut f = V4::new(ip_proto::UDP).frame(&udp(53, b"hello"));
    f.extend_from_slice(&[0xee; 3]);
    let p = parsed(&f);
    assert_eq!(
        payload_of(&f, &p),
        (prefix(&[b'h', b'e', b'l', b'l', b'o', 0xee, 0xee, 0xee]), 5)
    );
}

#[test]
fn an_unpadded_payload_is_cut_to_16_8_4_or_2_bytes_and_a_single_byte_is_not_read() {
    // The prefix is read in fixed sizes (16, 8, 4 or 2 bytes, the most the frame holds): with
    // nothing after the payload, 1 byte reads as none, 3 as 2, 5 as 4, 15 as 8.
    for n in 0..=24u8 {
        let data: Vec<u8> = (1..=n).collect();
        let f = V4::new(ip_proto::UDP).frame(&udp(53, &data));
        let p = parsed(&f);
        assert_eq!(p.payload_len, u16::from(n));
        let count = match n {
            16.. => 16,
            8..=15 => 8,
            4..=7 => 4,
            2..=3 => 2,
            0..=1 => 0,
        };
        assert_eq!(
            payload_of(&f, &p),
            (prefix(&data[..usize::from(count)]), count),
            "{n} payload bytes"
        );
    }
}

#[test]
fn packets_without_payload_give_no_payload_bytes() {
    // A bare SYN, even with padding after it: the IP header declares no payload.
    let mut syn = V4::new(ip_proto::TCP).frame(&tcp(443, tcp_flags::SYN, 512, &[]));
    syn.resize(60, 0xee);
    // A non-first fragment: its bytes are no transport payload.
    let fragment = V4 {
        flags_fragment: 185,
        ..V4::new(ip_proto::UDP)
    }
    .frame(&[0xab; 40]);
    // An IPv6 "no next header", with bytes after it.
    let none = v6_frame(ip_proto::IPV6_NONXT, 64, &[0xab; 24]);
    // ARP: no IP at all.
    let mut arp = ethernet(0x0806);
    arp.extend_from_slice(&[0xab; 46]);
    for f in [syn, fragment, none, arp] {
        let p = parsed(&f);
        assert_eq!(payload_of(&f, &p), ([0; 16], 0), "{p:?}");
    }
}

#[test]
fn the_payload_of_an_undecoded_protocol_is_its_ip_payload() {
    // GRE (RFC 2784) carrying IPv4: no transport header, so its first bytes are the payload.
    let gre: Vec<u8> = [0, 0, 0x08, 0x00].into_iter().chain(0x40..0x54).collect();
    let f = V4::new(GRE).frame(&gre);
    let p = parsed(&f);
    assert_eq!(p.transport, Transport::None);
    assert_eq!(payload_of(&f, &p), (prefix(&gre[..16]), 16));
}

// ---------------------------------------------------------------------------------------------
// FirstContact
// ---------------------------------------------------------------------------------------------

const TS: u64 = 1_700_000_000_123_456_789;

/// `bytes` at the start of a 40-byte options area, zeros after.
fn options_area(bytes: &[u8]) -> [u8; 40] {
    let mut out = [0; 40];
    out[..bytes.len()].copy_from_slice(bytes);
    out
}

#[test]
fn a_first_contact_is_128_bytes_aligned_to_8() {
    assert_eq!(size_of::<FirstContact>(), 128);
    assert_eq!(align_of::<FirstContact>(), 8);
    assert_eq!(PAYLOAD_BYTES, 16);
}

#[test]
fn the_first_contact_of_an_ipv4_syn_with_lsrr_and_payload_has_every_field() {
    // NOP, then a loose source route (RFC 791 §3.1) through 198.18.7.9.
    let options = [1, 131, 7, 4, 198, 18, 7, 9];
    let ip = V4 {
        ttl: 51,
        id: 0xbeef,
        options: options.to_vec(),
        ..V4::new(ip_proto::TCP)
    };
    let f = ip.frame(&tcp(22, tcp_flags::SYN, 1024, b"SSH-2.0-probe-test\r\n"));
    let p = parsed(&f);
    let e = FirstContact::from_frame(&f, &p, TS);
    assert_eq!(
        e,
        FirstContact {
            ts_ns: TS,
            src: addr4(SRC4),
            dst: addr4(DST4),
            ip_id: 0xbeef,
            src_port: 49152,
            dst_port: 22,
            tcp_window: 1024,
            fragment_offset: 0,
            ip_version: 4,
            protocol: 6,
            transport: 1,
            ttl: 51,
            tcp_flags: 0x02,
            icmp_type: 0,
            icmp_code: 0,
            frag: frag::DONT_FRAGMENT,
            options_len: 8,
            payload_len: 16,
            l4_held: 0,
            extensions: 0,
            tcp_seq: 1_000,
            pad: [0; 4],
            options: options_area(&options),
            payload: *b"SSH-2.0-probe-te",
        }
    );
    assert_eq!(
        (e.transport(), e.network()),
        (Transport::Tcp, Network::Ipv4)
    );
}

#[test]
fn the_first_contact_of_an_ipv6_udp_first_fragment_has_the_fragment_bits() {
    // Ten payload bytes, nothing after them: the prefix reads 8 (see payload_of above).
    let mut d = udp(4789, b"0123456789");
    // The UDP length covers the whole datagram, longer than this fragment.
    d[4..6].copy_from_slice(&1400u16.to_be_bytes());
    let payload = [fragment_header(ip_proto::UDP, 0, true, 0xdead_beef), d].concat();
    let f = v6_frame(ip_proto::IPV6_FRAG, 33, &payload);
    let p = parsed(&f);
    let e = FirstContact::from_frame(&f, &p, TS);
    assert_eq!(
        e,
        FirstContact {
            ts_ns: TS,
            src: SRC6,
            dst: DST6,
            ip_id: 0xdead_beef,
            src_port: 53000,
            dst_port: 4789,
            tcp_window: 0,
            fragment_offset: 0,
            ip_version: 6,
            protocol: 17,
            transport: 2,
            ttl: 33,
            tcp_flags: 0,
            icmp_type: 0,
            icmp_code: 0,
            frag: frag::MORE_FRAGMENTS | frag::IS_FRAGMENT,
            options_len: 0,
            payload_len: 8,
            l4_held: 0,
            extensions: 1,
            tcp_seq: 0,
            pad: [0; 4],
            options: [0; 40],
            payload: prefix(b"01234567"),
        }
    );
    assert_eq!(
        (e.transport(), e.network()),
        (Transport::Udp, Network::Ipv6)
    );
}

#[test]
fn the_first_contact_of_a_non_first_ipv6_fragment_has_its_offset_and_no_transport() {
    let payload = [
        fragment_header(ip_proto::UDP, 185, false, 42),
        vec![0xab; 24],
    ]
    .concat();
    let f = v6_frame(ip_proto::IPV6_FRAG, 64, &payload);
    let e = FirstContact::from_frame(&f, &parsed(&f), TS);
    assert_eq!(
        (e.ip_id, e.fragment_offset, e.frag, e.protocol),
        (42, 185, frag::IS_FRAGMENT, 17)
    );
    assert_eq!((e.transport, e.src_port, e.dst_port), (0, 0, 0));
    assert_eq!((e.payload_len, e.payload), (0, [0; 16]));
    assert_eq!(e.transport(), Transport::None);
}

#[test]
fn the_first_contact_of_an_icmp_echo_request_has_type_code_and_payload() {
    let ip = V4 {
        ttl: 3,
        flags_fragment: 0,
        ..V4::new(ip_proto::ICMP)
    };
    let f = ip.frame(&icmp(8, 0, b"\x12\x34\x00\x01abcdefghijklmnopqrstuvw"));
    let e = FirstContact::from_frame(&f, &parsed(&f), TS);
    assert_eq!(
        e,
        FirstContact {
            ts_ns: TS,
            src: addr4(SRC4),
            dst: addr4(DST4),
            ip_id: 0x1c46,
            src_port: 0,
            dst_port: 0,
            tcp_window: 0,
            fragment_offset: 0,
            ip_version: 4,
            protocol: 1,
            transport: 3,
            ttl: 3,
            tcp_flags: 0,
            icmp_type: 8,
            icmp_code: 0,
            frag: 0,
            options_len: 0,
            payload_len: 16,
            l4_held: 0,
            extensions: 0,
            tcp_seq: 0,
            pad: [0; 4],
            options: [0; 40],
            payload: *b"abcdefghijklmnop",
        }
    );
    assert_eq!(
        (e.transport(), e.network()),
        (Transport::Icmp, Network::Ipv4)
    );
}

#[test]
fn write_from_sets_every_byte_of_a_dirty_slot() {
    // The ring-buffer slot holds a previous event's bytes: every field, padding included, must be
    // overwritten.
    let ip = V4 {
        options: vec![148, 4, 0, 0],
        ..V4::new(ip_proto::UDP)
    };
    let f = ip.frame(&udp(53, b"query!!!"));
    let p = parsed(&f);
    let mut slot = MaybeUninit::<FirstContact>::uninit();
    let start = f.as_ptr() as usize;
    // SAFETY: the slot is writable and sized for a FirstContact; `f` is readable over its length.
    // Every bit pattern is a valid FirstContact (integers and byte arrays), so reading it back
    // is sound even if a field were missed.
    let e = unsafe {
        slot.as_mut_ptr().write_bytes(0xa5, 1);
        FirstContact::write_from(slot.as_mut_ptr(), start, start + f.len(), &p, TS);
        slot.assume_init()
    };
    assert_eq!(e, FirstContact::from_frame(&f, &p, TS));
    assert_eq!(
        (e.l4_held, e.extensions, e.options_len, e.options),
        (0, 0, 4, options_area(&[148, 4, 0, 0]))
    );
    assert_eq!((e.payload_len, e.payload), (8, prefix(b"query!!!")));
}

#[test]
fn transport_and_network_decode_the_stored_numbers() {
    let f = V4::new(ip_proto::UDP).frame(&udp(53, &[]));
    let base = FirstContact::from_frame(&f, &parsed(&f), TS);
    let transports = [
        (0, Transport::None),
        (1, Transport::Tcp),
        (2, Transport::Udp),
        (3, Transport::Icmp),
        (4, Transport::Icmpv6),
        (5, Transport::None),
        (255, Transport::None),
    ];
    for (transport, decoded) in transports {
        let e = FirstContact { transport, ..base };
        assert_eq!(e.transport(), decoded, "{transport}");
    }
    let networks = [
        (0, Network::Other),
        (4, Network::Ipv4),
        (6, Network::Ipv6),
        (5, Network::Other),
        (255, Network::Other),
    ];
    for (ip_version, decoded) in networks {
        let e = FirstContact { ip_version, ..base };
        assert_eq!(e.network(), decoded, "{ip_version}");
    }
}

#[test]
fn transport_and_network_round_trip_what_the_parser_found() {
    let frames = [
        V4::new(ip_proto::TCP).frame(&tcp(443, tcp_flags::SYN, 512, &[])),
        V4::new(ip_proto::UDP).frame(&udp(53, b"q")),
        V4::new(ip_proto::ICMP).frame(&icmp(8, 0, &[0; 4])),
        V4::new(GRE).frame(&[0; 8]),
        v6_frame(ip_proto::TCP, 64, &tcp(443, tcp_flags::SYN, 512, &[])),
        v6_frame(ip_proto::UDP, 64, &udp(53, b"q")),
        v6_frame(ip_proto::ICMPV6, 64, &icmp(128, 0, &[0; 4])),
        v6_frame(ip_proto::IPV6_NONXT, 64, &[]),
    ];
    for f in &frames {
        let p = parsed(f);
        let e = FirstContact::from_frame(f, &p, TS);
        assert_eq!((e.transport(), e.network()), (p.transport, p.network));
    }
}
