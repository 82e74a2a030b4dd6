//! Arbitrary bytes as an Ethernet frame through everything the XDP program and the replay do with
//! one: parse, copy the IPv4 options out and walk them, take the payload prefix, build the
//! contact key and the first-contact event; and the shortcut the XDP program takes first
//! (TCP, UDP) must agree with the parser. Nothing may panic, and every offset the
//! parser reports must lie inside the frame. libFuzzer hands over an exactly sized heap buffer, so
//! AddressSanitizer flags any read past the end.
#![no_main]

use libfuzzer_sys::fuzz_target;
use probe_common::{
    counters::{DST_PORTS, ICMP, SYN_PORTS, TCP_FLAGS, icmp_key, port_key, port_proto},
    event::{FirstContact, PAYLOAD_BYTES},
    packet::{
        Attempt, Datagram, Malformed, Network, Packet, Segment, Shortcut, Transport, ip_proto,
        parse, payload_of, shortcut_of,
    },
    track::{NoneListed, answer_key, contact_key, flow_hash, is_established_tcp},
};

const ETH_HEADER: usize = 14;
const VLAN_TAG: usize = 4;
const IPV4_HEADER: usize = 20;

fuzz_target!(|frame: &[u8]| {
    let short = shortcut_of(frame, &NoneListed);
    let Ok(p) = parse(frame) else {
        assert_eq!(
            short, None,
            "shortcut answered for a frame the parser refuses"
        );
        return;
    };
    shortcut_agrees(short, &p);
    layers_are_consistent(frame, &p);
    offsets_are_inside(frame, &p);
    options_are_copied_exactly(frame, &p);
    payload_is_copied_exactly(frame, &p);
    counter_keys_fit(&p);
    contact_key_follows_the_packet(&p);
    event_mirrors_the_packet(frame, &p);
    bytes_after_the_frame_change_nothing(frame, &p);
});

fn layers_are_consistent(frame: &[u8], p: &Packet) {
    assert_eq!(p.len as usize, frame.len());
    assert!(p.vlan_tags <= 2);
    assert_eq!(p.is_fragment, p.more_fragments || p.fragment_offset != 0);
    if p.network == Network::Other {
        assert_eq!(p.transport, Transport::None);
        assert_eq!((p.src, p.dst, p.ttl, p.protocol), ([0; 16], [0; 16], 0, 0));
    }
    if p.network == Network::Ipv4 {
        assert_eq!(p.src[4..], [0; 12]);
        assert_eq!(p.dst[4..], [0; 12]);
    }
    let expected = match p.transport {
        Transport::None => None,
        Transport::Tcp => Some(ip_proto::TCP),
        Transport::Udp => Some(ip_proto::UDP),
        Transport::Icmp => Some(ip_proto::ICMP),
        Transport::Icmpv6 => Some(ip_proto::ICMPV6),
    };
    if let Some(protocol) = expected {
        assert_eq!(p.protocol, protocol);
        // A non-first fragment has no transport header to read.
        assert_eq!(p.fragment_offset, 0);
    }
    assert!(!matches!(
        (p.transport, p.network),
        (Transport::Icmp, Network::Ipv6) | (Transport::Icmpv6, Network::Ipv4)
    ));
}

fn offsets_are_inside(frame: &[u8], p: &Packet) {
    let l4 = usize::from(p.l4_offset);
    let payload = usize::from(p.payload_offset);
    let payload_len = usize::from(p.payload_len);
    if p.transport != Transport::None {
        let header = payload - l4;
        match p.transport {
            Transport::Tcp => assert!((20..=60).contains(&header) && header % 4 == 0),
            _ => assert_eq!(header, 8),
        }
        assert!(l4 >= ETH_HEADER + usize::from(p.vlan_tags) * VLAN_TAG + IPV4_HEADER);
    }
    if l4 == 0 {
        assert_eq!((payload, payload_len), (0, 0));
    }
    assert!(l4 <= payload || payload == 0);
    assert!(
        payload + payload_len <= frame.len(),
        "payload runs past the frame"
    );
    assert!(l4 <= frame.len());
}

fn options_are_copied_exactly(frame: &[u8], p: &Packet) {
    let span = p.ip_options;
    let options = p.ip_options_in(frame);
    assert_eq!(options.len, span.len);
    if span.len == 0 {
        assert_eq!(options.bytes, [0; 40]);
    } else {
        assert_eq!(p.network, Network::Ipv4);
        assert!(span.len <= 40 && span.len % 4 == 0);
        let at = usize::from(span.offset);
        assert_eq!(
            at,
            ETH_HEADER + usize::from(p.vlan_tags) * VLAN_TAG + IPV4_HEADER
        );
        let end = at + usize::from(span.len);
        assert!(end <= frame.len(), "options run past the frame");
        assert_eq!(options.as_bytes(), &frame[at..end]);
        assert!(
            options.bytes[usize::from(span.len)..]
                .iter()
                .all(|&b| b == 0)
        );
    }
    // The walk may refuse the options, but only as malformed options.
    if let Err(e) = options.kinds() {
        assert_eq!(e, Malformed::Ipv4Options);
    }
}

fn payload_is_copied_exactly(frame: &[u8], p: &Packet) {
    let (bytes, n) = payload_of(frame, p);
    let n = usize::from(n);
    assert!(n <= PAYLOAD_BYTES && n <= usize::from(p.payload_len));
    let at = usize::from(p.payload_offset);
    assert_eq!(&bytes[..n], &frame[at..at + n]);
}

fn counter_keys_fit(p: &Packet) {
    assert!(port_key(port_proto::UDP, p.dst_port) < DST_PORTS.slice);
    assert!(u32::from(p.dst_port) < SYN_PORTS.slice);
    assert!(u32::from(p.tcp_flags) < TCP_FLAGS.slice);
    assert!(icmp_key(p.icmp_type, p.icmp_code) < ICMP.slice);
}

/// The shortcut answers exactly for TCP and UDP in an untagged, unfragmented packet with the
/// transport right after a fixed-size IP header, with the parser's values and the hash of the
/// parsed contact key (for an established segment, of the contact it answers).
fn shortcut_agrees(short: Option<Shortcut>, p: &Packet) {
    let fixed_l4 = if p.network == Network::Ipv4 { 34 } else { 54 };
    let plain =
        p.vlan_tags == 0 && !p.is_fragment && p.ip_options.len == 0 && p.l4_offset == fixed_l4;
    let expected = if !plain {
        None
    } else if is_established_tcp(p) {
        answer_key(p, &NoneListed).map(|k| {
            Shortcut::Established(Segment {
                network: p.network,
                src_port: p.src_port,
                dst_port: p.dst_port,
                tcp_flags: p.tcp_flags,
                contact: flow_hash(&k),
            })
        })
    } else if p.transport == Transport::Tcp {
        contact_key(p, &NoneListed).map(|k| {
            Shortcut::Attempt(Attempt {
                network: p.network,
                src_port: p.src_port,
                dst_port: p.dst_port,
                tcp_flags: p.tcp_flags,
                ttl: p.ttl,
                src: p.src,
                dst: p.dst,
                contact: flow_hash(&k),
            })
        })
    } else if p.transport == Transport::Udp {
        contact_key(p, &NoneListed).map(|k| {
            Shortcut::Datagram(Datagram {
                network: p.network,
                src_port: p.src_port,
                dst_port: p.dst_port,
                contact: flow_hash(&k),
            })
        })
    } else {
        None
    };
    assert_eq!(short, expected);
}

fn contact_key_follows_the_packet(p: &Packet) {
    let tracked = p.network != Network::Other && p.fragment_offset == 0 && !is_established_tcp(p);
    let key = contact_key(p, &NoneListed);
    assert_eq!(key.is_some(), tracked);
    if let Some(k) = key {
        assert_eq!((k.src, k.dst, k.protocol), (p.src, p.dst, p.protocol));
        assert_eq!(k.ip_version, p.network as u8);
        assert_eq!(k.pad, 0);
        // Reserved source ports are keyed; no port is listed here.
        let reserved = (1..1024).contains(&p.src_port);
        assert_eq!(
            k.src_port,
            if reserved && matches!(p.transport, Transport::Tcp | Transport::Udp) {
                p.src_port
            } else {
                0
            }
        );
        assert_ne!(flow_hash(&k), 0);
    }
}

fn event_mirrors_the_packet(frame: &[u8], p: &Packet) {
    let e = FirstContact::from_frame(frame, p, 42);
    let (payload, payload_len) = payload_of(frame, p);
    assert_eq!(e.ts_ns, 42);
    assert_eq!((e.src, e.dst, e.ip_id), (p.src, p.dst, p.ip_id));
    assert_eq!((e.src_port, e.dst_port), (p.src_port, p.dst_port));
    assert_eq!(
        (e.protocol, e.ttl, e.tcp_flags),
        (p.protocol, p.ttl, p.tcp_flags)
    );
    assert_eq!((e.icmp_type, e.icmp_code), (p.icmp_type, p.icmp_code));
    assert_eq!(e.fragment_offset, p.fragment_offset);
    assert_eq!(e.transport(), p.transport);
    assert_eq!(e.network(), p.network);
    assert_eq!(e.options_len, p.ip_options.len);
    assert_eq!(e.options, p.ip_options_in(frame).bytes);
    assert_eq!((e.payload, e.payload_len), (payload, payload_len));
    assert_eq!((e.l4_held, e.extensions), (p.l4_held, p.extensions));
}

/// Every check the parser makes against the frame's end passes at least as easily with more
/// bytes, and every field comes from header bytes: so a frame that parses must parse the same
/// with junk appended. A difference would mean the result depends on bytes beyond the frame.
fn bytes_after_the_frame_change_nothing(frame: &[u8], p: &Packet) {
    let mut longer = frame.to_vec();
    longer.extend_from_slice(&[0xa5; 64]);
    let q = parse(&longer).expect("a frame that parses must parse with bytes appended");
    assert_eq!(Packet { len: p.len, ..q }, *p);
}
