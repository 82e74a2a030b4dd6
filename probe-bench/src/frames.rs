//! Frames built byte by byte: the packet classes of the in-kernel benchmark, the veth traffic
//! and the replay capture all come from here. Addresses are lab addresses (198.18.0.0/15,
//! 2001:db8::/32); IPv4 header checksums are right, transport checksums are left zero (nothing
//! the probe or tcpdump -nn reads).

/// Destination MAC of every frame: not the sensor's, so the sensor's stack drops the frame at
/// once (PACKET_OTHERHOST) and never answers: a sensor on a mirror port sees traffic like this.
pub const DST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x99];
pub const SRC_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];

pub const ATTACKER: [u8; 4] = [198, 18, 0, 2];
pub const TARGET: [u8; 4] = [198, 18, 1, 7];
pub const ATTACKER6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
pub const TARGET6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];

const ETHER_IPV4: u16 = 0x0800;
const ETHER_IPV6: u16 = 0x86dd;

pub mod flag {
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
}

/// Ethernet header, with VLAN tags given as (TPID, VID), outermost first.
pub fn ethernet(tags: &[(u16, u16)], ether_type: u16) -> Vec<u8> {
    let mut f = Vec::with_capacity(128);
    f.extend_from_slice(&DST_MAC);
    f.extend_from_slice(&SRC_MAC);
    for &(tpid, vid) in tags {
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&vid.to_be_bytes());
    }
    f.extend_from_slice(&ether_type.to_be_bytes());
    f
}

/// An IPv4 header's variable parts.
#[derive(Clone, Copy)]
pub struct V4<'a> {
    pub src: [u8; 4],
    pub dst: [u8; 4],
    pub protocol: u8,
    pub ttl: u8,
    pub id: u16,
    /// Flags and fragment offset, as on the wire.
    pub frag: u16,
    /// Options, a multiple of four bytes.
    pub options: &'a [u8],
    /// Claimed total length, to build a malformed header; `None`: the real one.
    pub total_len: Option<u16>,
}

impl V4<'_> {
    pub const fn new(src: [u8; 4], dst: [u8; 4], protocol: u8) -> Self {
        Self {
            src,
            dst,
            protocol,
            ttl: 64,
            id: 1,
            frag: 0x4000,
            options: &[],
            total_len: None,
        }
    }
}

fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Appends an IPv4 header and `payload` to `f`.
pub fn ipv4(mut f: Vec<u8>, h: &V4, payload: &[u8]) -> Vec<u8> {
    let header_len = 20 + h.options.len();
    let total = h.total_len.unwrap_or((header_len + payload.len()) as u16);
    let start = f.len();
    f.push(0x40 | (header_len / 4) as u8);
    f.push(0);
    f.extend_from_slice(&total.to_be_bytes());
    f.extend_from_slice(&h.id.to_be_bytes());
    f.extend_from_slice(&h.frag.to_be_bytes());
    f.push(h.ttl);
    f.push(h.protocol);
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(&h.src);
    f.extend_from_slice(&h.dst);
    f.extend_from_slice(h.options);
    let sum = checksum(&f[start..]);
    f[start + 10..start + 12].copy_from_slice(&sum.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// Appends an IPv6 header (no extension headers) and `payload` to `f`.
pub fn ipv6(mut f: Vec<u8>, src: [u8; 16], dst: [u8; 16], next: u8, payload: &[u8]) -> Vec<u8> {
    f.extend_from_slice(&[0x60, 0, 0, 0]);
    f.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    f.push(next);
    f.push(64);
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    f.extend_from_slice(payload);
    f
}

pub fn tcp(sport: u16, dport: u16, flags: u8, seq: u32, payload: &[u8]) -> Vec<u8> {
    let mut t = Vec::with_capacity(20 + payload.len());
    t.extend_from_slice(&sport.to_be_bytes());
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&seq.to_be_bytes());
    let ack = if flags & flag::ACK != 0 {
        0x1000_0000u32
    } else {
        0
    };
    t.extend_from_slice(&ack.to_be_bytes());
    t.push(0x50);
    t.push(flags);
    t.extend_from_slice(&64_240u16.to_be_bytes());
    t.extend_from_slice(&[0, 0, 0, 0]);
    t.extend_from_slice(payload);
    t
}

pub fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = Vec::with_capacity(8 + payload.len());
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    u
}

pub fn icmp_echo(id: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut i = vec![8, 0, 0, 0];
    i.extend_from_slice(&id.to_be_bytes());
    i.extend_from_slice(&seq.to_be_bytes());
    i.extend_from_slice(payload);
    let sum = checksum(&i);
    i[2..4].copy_from_slice(&sum.to_be_bytes());
    i
}

/// IPv4 TCP segment from `src:sport` to `dst:dport`.
pub fn tcp4(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, flags: u8, data: &[u8]) -> Vec<u8> {
    ipv4(
        ethernet(&[], ETHER_IPV4),
        &V4::new(src, dst, 6),
        &tcp(sport, dport, flags, 1, data),
    )
}

pub fn udp4(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, data: &[u8]) -> Vec<u8> {
    ipv4(
        ethernet(&[], ETHER_IPV4),
        &V4::new(src, dst, 17),
        &udp(sport, dport, data),
    )
}

pub fn echo4(src: [u8; 4], dst: [u8; 4], ttl: u8, seq: u16) -> Vec<u8> {
    let h = V4 {
        ttl,
        ..V4::new(src, dst, 1)
    };
    ipv4(
        ethernet(&[], ETHER_IPV4),
        &h,
        &icmp_echo(0x4242, seq, &[0x61; 32]),
    )
}

pub fn tcp6(src: [u8; 16], dst: [u8; 16], sport: u16, dport: u16, flags: u8) -> Vec<u8> {
    ipv6(
        ethernet(&[], ETHER_IPV6),
        src,
        dst,
        6,
        &tcp(sport, dport, flags, 1, &[]),
    )
}

/// ICMP echo with a record-route option filling the 40 option bytes (what `ping -R` sends).
pub fn echo4_record_route(src: [u8; 4], dst: [u8; 4]) -> Vec<u8> {
    let mut options = [0u8; 40];
    options[..3].copy_from_slice(&[7, 39, 4]);
    let h = V4 {
        options: &options,
        ..V4::new(src, dst, 1)
    };
    ipv4(
        ethernet(&[], ETHER_IPV4),
        &h,
        &icmp_echo(0x4243, 1, &[0x62; 32]),
    )
}

/// UDP to port 53 under an 802.1ad service tag and an 802.1Q customer tag (Q-in-Q).
pub fn udp4_qinq(src: [u8; 4], dst: [u8; 4]) -> Vec<u8> {
    ipv4(
        ethernet(&[(0x88a8, 100), (0x8100, 200)], ETHER_IPV4),
        &V4::new(src, dst, 17),
        &udp(5353, 53, &[0x63; 32]),
    )
}

/// A non-first fragment of a UDP datagram: offset 1480 bytes, last fragment, no UDP header.
pub fn fragment4(src: [u8; 4], dst: [u8; 4], id: u16) -> Vec<u8> {
    let h = V4 {
        id,
        frag: 1480 / 8,
        ..V4::new(src, dst, 17)
    };
    ipv4(ethernet(&[], ETHER_IPV4), &h, &[0x64; 100])
}

/// An IPv4 header that claims 1500 bytes in a short frame: refused by the parser.
pub fn malformed4(src: [u8; 4], dst: [u8; 4]) -> Vec<u8> {
    let h = V4 {
        total_len: Some(1500),
        ..V4::new(src, dst, 6)
    };
    ipv4(
        ethernet(&[], ETHER_IPV4),
        &h,
        &tcp(40_000, 80, flag::SYN, 1, &[]),
    )
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
    fn every_builder_parses_as_intended() {
        let syn = parse(&tcp4(ATTACKER, TARGET, 40_000, 80, flag::SYN, &[])).unwrap();
        assert!(syn.is_connection_attempt());
        assert_eq!(syn.dst_port, 80);
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
