//! The benchmark's packet classes, built with the lab's frame builder (`probe_lab::craft`): the
//! in-kernel classes, the veth traffic and the replay capture all come from here. Addresses are
//! the lab's (198.18.0.0/15, 2001:db8::/32); IPv4 header checksums are right, the others are
//! left zero (nothing the probe or tcpdump -nn reads).

use std::net::{Ipv4Addr, Ipv6Addr};

pub use probe_common::packet::tcp_flags as flag;
use probe_lab::{
    ATTACKER_MAC,
    craft::{self, ETHER_IPV4, ETHER_IPV6, Ipv4, TPID_8021AD, TPID_8021Q, Tcp, proto},
};

/// Destination MAC of every frame: not the sensor's, so the sensor's stack drops the frame at
/// once (PACKET_OTHERHOST) and never answers: a sensor on a mirror port sees traffic like this.
const OTHER_HOST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x99];

/// The lab's attacker ([`probe_lab::ATTACKER_V4`]).
pub const ATTACKER: [u8; 4] = [198, 18, 0, 2];
/// An address behind the sensor ([`probe_lab::ROUTED_V4`]).
pub const TARGET: [u8; 4] = [198, 18, 1, 7];
/// The lab's attacker over IPv6 ([`probe_lab::ATTACKER_V6`]).
pub const ATTACKER6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
/// The sensor over IPv6 ([`probe_lab::SENSOR_V6`]).
pub const TARGET6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];

/// IPv4 "don't fragment", which the benchmark's TCP and UDP carry as a real stack's would.
const DONT_FRAGMENT: u16 = 0x4000;

/// Ethernet from the attacker to a MAC nobody in the lab has.
fn ethernet(tags: &[(u16, u16)], ether_type: u16) -> Vec<u8> {
    craft::ethernet_between(OTHER_HOST_MAC, craft::mac(ATTACKER_MAC), tags, ether_type)
}

/// An IPv4 frame: `h` over `payload`, untagged.
fn ipv4_frame(h: &Ipv4, payload: &[u8]) -> Vec<u8> {
    let mut f = ethernet(&[], ETHER_IPV4);
    f.extend_from_slice(&h.packet(payload));
    f
}

/// A plain IPv4 header with "don't fragment" set.
fn v4(src: [u8; 4], dst: [u8; 4], protocol: u8) -> Ipv4 {
    Ipv4 {
        flags_fragment: DONT_FRAGMENT,
        ..Ipv4::new(Ipv4Addr::from(src), Ipv4Addr::from(dst), protocol)
    }
}

/// A TCP segment as a real client's: window 64,240, an acknowledgment number when ACK is set.
fn tcp(sport: u16, dport: u16, flags: u8, payload: &[u8]) -> Vec<u8> {
    let ack = if flags & flag::ACK != 0 {
        0x1000_0000
    } else {
        0
    };
    Tcp {
        ack,
        window: 64_240,
        ..Tcp::new(sport, dport, flags)
    }
    .segment(payload)
}

/// An ICMP echo request with its checksum.
fn icmp_echo(id: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    let [id0, id1] = id.to_be_bytes();
    let [seq0, seq1] = seq.to_be_bytes();
    craft::icmp(8, 0, [id0, id1, seq0, seq1], payload)
}

/// IPv4 TCP segment from `src:sport` to `dst:dport`.
pub fn tcp4(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, flags: u8, data: &[u8]) -> Vec<u8> {
    ipv4_frame(&v4(src, dst, proto::TCP), &tcp(sport, dport, flags, data))
}

pub fn udp4(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, data: &[u8]) -> Vec<u8> {
    ipv4_frame(&v4(src, dst, proto::UDP), &craft::udp(sport, dport, data))
}

pub fn echo4(src: [u8; 4], dst: [u8; 4], ttl: u8, seq: u16) -> Vec<u8> {
    let h = Ipv4 {
        ttl,
        ..v4(src, dst, proto::ICMP)
    };
    ipv4_frame(&h, &icmp_echo(0x4242, seq, &[0x61; 32]))
}

pub fn tcp6(src: [u8; 16], dst: [u8; 16], sport: u16, dport: u16, flags: u8) -> Vec<u8> {
    let mut f = ethernet(&[], ETHER_IPV6);
    f.extend_from_slice(&craft::ipv6(
        Ipv6Addr::from(src),
        Ipv6Addr::from(dst),
        proto::TCP,
        64,
        &tcp(sport, dport, flags, &[]),
    ));
    f
}

/// ICMP echo with a record-route option filling the 40 option bytes (what `ping -R` sends).
pub fn echo4_record_route(src: [u8; 4], dst: [u8; 4]) -> Vec<u8> {
    let mut options = vec![0u8; 40];
    options[..3].copy_from_slice(&[7, 39, 4]);
    let h = Ipv4 {
        options,
        ..v4(src, dst, proto::ICMP)
    };
    ipv4_frame(&h, &icmp_echo(0x4243, 1, &[0x62; 32]))
}

/// UDP to port 53 under an 802.1ad service tag and an 802.1Q customer tag (Q-in-Q).
pub fn udp4_qinq(src: [u8; 4], dst: [u8; 4]) -> Vec<u8> {
    let mut f = ethernet(&[(TPID_8021AD, 100), (TPID_8021Q, 200)], ETHER_IPV4);
    f.extend_from_slice(&v4(src, dst, proto::UDP).packet(&craft::udp(5353, 53, &[0x63; 32])));
    f
}

/// A non-first fragment of a UDP datagram: offset 1480 bytes, last fragment, no UDP header.
pub fn fragment4(src: [u8; 4], dst: [u8; 4], id: u16) -> Vec<u8> {
    let h = Ipv4 {
        id,
        flags_fragment: 1480 / 8,
        ..v4(src, dst, proto::UDP)
    };
    ipv4_frame(&h, &[0x64; 100])
}

/// The first fragment of a SYN holding 8 bytes of its TCP header, as `nmap -f` sends it: a
/// tiny fragment.
pub fn tiny4(src: [u8; 4], dst: [u8; 4]) -> Vec<u8> {
    let h = Ipv4 {
        id: 9,
        flags_fragment: 0x2000,
        ..Ipv4::new(Ipv4Addr::from(src), Ipv4Addr::from(dst), proto::TCP)
    };
    ipv4_frame(&h, &tcp(40_000, 80, flag::SYN, &[])[..8])
}

/// UDP to port 4712 behind `n` empty destination options headers.
pub fn udp6_behind_options(src: [u8; 16], dst: [u8; 16], n: usize) -> Vec<u8> {
    let mut chain = Vec::new();
    for i in 0..n {
        let next = if i + 1 == n {
            proto::UDP
        } else {
            proto::IPV6_DEST_OPTS
        };
        chain.extend_from_slice(&[next, 0, 1, 4, 0, 0, 0, 0]);
    }
    chain.extend_from_slice(&craft::udp(33_000, 4712, &[0x65; 16]));
    let mut f = ethernet(&[], ETHER_IPV6);
    f.extend_from_slice(&craft::ipv6(
        Ipv6Addr::from(src),
        Ipv6Addr::from(dst),
        proto::IPV6_DEST_OPTS,
        64,
        &chain,
    ));
    f
}

/// An IPv4 header that claims 1500 bytes in a short frame: refused by the parser.
pub fn malformed4(src: [u8; 4], dst: [u8; 4]) -> Vec<u8> {
    let h = Ipv4 {
        total_len: Some(1500),
        ..v4(src, dst, proto::TCP)
    };
    ipv4_frame(&h, &tcp(40_000, 80, flag::SYN, &[]))
}

/// Offsets the in-kernel benchmark bumps between repeats (see probe-bench-ebpf's `bench_vary`).
pub mod offset {
    /// IPv4 source address (Ethernet 14 + 12).
    pub const IPV4_SRC: u32 = 26;
    /// TCP ports after an IPv4 header without options: source port, destination port.
    pub const IPV4_TCP_PORTS: u32 = 34;
    /// TCP ports after an IPv6 header without extension headers.
    pub const IPV6_TCP_PORTS: u32 = 54;
}

#[cfg(test)]
mod tests {
    use probe_common::packet::{Network, Transport, parse};

    use super::*;

    #[test]
    fn the_addresses_are_the_labs() {
        assert_eq!(Ipv4Addr::from(ATTACKER).to_string(), probe_lab::ATTACKER_V4);
        assert_eq!(Ipv4Addr::from(TARGET).to_string(), probe_lab::ROUTED_V4);
        assert_eq!(
            Ipv6Addr::from(ATTACKER6).to_string(),
            probe_lab::ATTACKER_V6
        );
        assert_eq!(Ipv6Addr::from(TARGET6).to_string(), probe_lab::SENSOR_V6);
    }

    #[test]
    fn every_builder_parses_as_intended() {
        let syn = parse(&tcp4(ATTACKER, TARGET, 40_000, 80, flag::SYN, &[])).unwrap();
        assert!(syn.is_connection_attempt());
        assert_eq!((syn.dst_port, syn.tcp_window), (80, 64_240));
        let v6 = parse(&tcp6(ATTACKER6, TARGET6, 40_000, 22, flag::SYN)).unwrap();
        assert_eq!((v6.network, v6.dst_port), (Network::Ipv6, 22));
        let rr = parse(&echo4_record_route(ATTACKER, TARGET)).unwrap();
        assert_eq!((rr.ip_options.len, rr.transport), (40, Transport::Icmp));
        let q = parse(&udp4_qinq(ATTACKER, TARGET)).unwrap();
        assert_eq!((q.vlan_tags, q.dst_port), (2, 53));
        let frag = parse(&fragment4(ATTACKER, TARGET, 7)).unwrap();
        assert!(frag.is_non_first_fragment());
        assert!(parse(&malformed4(ATTACKER, TARGET)).is_err());
        let echo = parse(&echo4(ATTACKER, TARGET, 64, 1)).unwrap();
        assert_eq!(echo.icmp_type, 8);
    }

    #[test]
    fn the_bumped_offsets_are_where_the_fields_are() {
        let f = tcp4(ATTACKER, TARGET, 0x1234, 0x5678, flag::SYN, &[]);
        let at = offset::IPV4_TCP_PORTS as usize;
        assert_eq!(f[at..at + 4], [0x12, 0x34, 0x56, 0x78]);
        let at = offset::IPV4_SRC as usize;
        assert_eq!(f[at..at + 4], ATTACKER);
        let f = tcp6(ATTACKER6, TARGET6, 0x1234, 0x5678, flag::SYN);
        let at = offset::IPV6_TCP_PORTS as usize;
        assert_eq!(f[at..at + 4], [0x12, 0x34, 0x56, 0x78]);
    }
}
