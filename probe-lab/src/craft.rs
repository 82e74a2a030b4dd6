//! Frames built byte by byte, for [`crate::RawSocket`], for `BPF_PROG_TEST_RUN` and for the
//! benchmark's traffic and captures: Ethernet (with any VLAN tags), IPv4 (with options,
//! fragment fields, even a false length), IPv6, TCP, UDP and ICMP, each exactly as asked, so a
//! test can also build what no stack would send.
//!
//! Only the IPv4 header checksum is computed: the probe never checks a checksum, and the lab's
//! frames go to addresses the sensor's kernel drops unread (or answers, which the XDP program,
//! on the receive path only, never sees).

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::lab::{ATTACKER_MAC, SENSOR_MAC};

/// EtherType of IPv4.
pub const ETHER_IPV4: u16 = 0x0800;
/// EtherType of IPv6.
pub const ETHER_IPV6: u16 = 0x86dd;
/// EtherType of ARP (a type the probe only counts).
pub const ETHER_ARP: u16 = 0x0806;
/// Tag protocol identifier of an IEEE 802.1Q (customer) VLAN tag.
pub const TPID_8021Q: u16 = 0x8100;
/// Tag protocol identifier of an IEEE 802.1ad (service, outer Q-in-Q) VLAN tag.
pub const TPID_8021AD: u16 = 0x88a8;

/// IP protocol numbers.
pub mod proto {
    pub const ICMP: u8 = 1;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const IPV6_HOP_BY_HOP: u8 = 0;
    pub const IPV6_ROUTING: u8 = 43;
    pub const IPV6_FRAGMENT: u8 = 44;
    pub const ICMPV6: u8 = 58;
    pub const IPV6_NO_NEXT: u8 = 59;
    pub const IPV6_DEST_OPTS: u8 = 60;
}

/// `aa:bb:cc:dd:ee:ff` as bytes.
pub fn mac(text: &str) -> [u8; 6] {
    let mut out = [0u8; 6];
    let mut parts = text.split(':');
    for b in &mut out {
        let part = parts.next().unwrap_or_else(|| panic!("short MAC {text}"));
        *b = u8::from_str_radix(part, 16).unwrap_or_else(|e| panic!("bad MAC {text}: {e}"));
    }
    out
}

/// An Ethernet header from the attacker to the sensor: `tags` are (TPID, TCI) pairs, outermost
/// first, then `ether_type`.
pub fn ethernet(tags: &[(u16, u16)], ether_type: u16) -> Vec<u8> {
    ethernet_between(mac(SENSOR_MAC), mac(ATTACKER_MAC), tags, ether_type)
}

/// An Ethernet header from `src` to `dst`, with `tags` and `ether_type` as in [`ethernet`].
pub fn ethernet_between(
    dst: [u8; 6],
    src: [u8; 6],
    tags: &[(u16, u16)],
    ether_type: u16,
) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + 4 * tags.len());
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    for &(tpid, tci) in tags {
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&tci.to_be_bytes());
    }
    f.extend_from_slice(&ether_type.to_be_bytes());
    f
}

/// The Internet checksum (RFC 1071) of `bytes`.
fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Fields of an IPv4 header; the lengths and the checksum are computed.
#[derive(Clone, Debug)]
pub struct Ipv4 {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: u8,
    pub ttl: u8,
    pub id: u16,
    /// The flags and fragment offset word: DF 0x4000, MF 0x2000, offset in 8-byte units.
    pub flags_fragment: u16,
    /// Option bytes, padded here with End-of-options bytes to a multiple of four.
    pub options: Vec<u8>,
    /// The total length the header claims; `None`: the true one. A claim beyond the frame
    /// makes a malformed packet.
    pub total_len: Option<u16>,
}

impl Ipv4 {
    /// A plain header (TTL 64, no options, not fragmented).
    pub fn new(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8) -> Self {
        Self {
            src,
            dst,
            protocol,
            ttl: 64,
            id: 1,
            flags_fragment: 0,
            options: Vec::new(),
            total_len: None,
        }
    }

    /// The header followed by `payload`; the total length covers both.
    pub fn packet(&self, payload: &[u8]) -> Vec<u8> {
        let mut options = self.options.clone();
        options.resize(options.len().div_ceil(4) * 4, 0);
        assert!(options.len() <= 40, "IPv4 options fit in 40 bytes");
        let header_len = 20 + options.len();
        let total = self.total_len.unwrap_or_else(|| {
            u16::try_from(header_len + payload.len()).expect("an IPv4 packet fits 64 KiB")
        });
        let mut h = Vec::with_capacity(header_len + payload.len());
        h.push(0x40 | (header_len / 4) as u8);
        h.push(0);
        h.extend_from_slice(&total.to_be_bytes());
        h.extend_from_slice(&self.id.to_be_bytes());
        h.extend_from_slice(&self.flags_fragment.to_be_bytes());
        h.push(self.ttl);
        h.push(self.protocol);
        h.extend_from_slice(&[0, 0]);
        h.extend_from_slice(&self.src.octets());
        h.extend_from_slice(&self.dst.octets());
        h.extend_from_slice(&options);
        let sum = checksum(&h);
        h[10..12].copy_from_slice(&sum.to_be_bytes());
        h.extend_from_slice(payload);
        h
    }
}

/// An IPv6 header (hop limit `hop_limit`, next header `next`) followed by `payload`, whose
/// length the header declares.
pub fn ipv6(src: Ipv6Addr, dst: Ipv6Addr, next: u8, hop_limit: u8, payload: &[u8]) -> Vec<u8> {
    let len = u16::try_from(payload.len()).expect("an IPv6 payload fits 64 KiB");
    let mut h = Vec::with_capacity(40 + payload.len());
    h.extend_from_slice(&[0x60, 0, 0, 0]);
    h.extend_from_slice(&len.to_be_bytes());
    h.push(next);
    h.push(hop_limit);
    h.extend_from_slice(&src.octets());
    h.extend_from_slice(&dst.octets());
    h.extend_from_slice(payload);
    h
}

/// A TCP segment's header fields; the data offset is computed.
#[derive(Clone, Debug)]
pub struct Tcp<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub flags: u8,
    pub seq: u32,
    pub ack: u32,
    pub window: u16,
    /// Option bytes, padded here with End-of-options bytes to a multiple of four.
    pub options: &'a [u8],
}

impl Tcp<'_> {
    /// Sequence number 1, acknowledgment number 0, window 1024, no options.
    pub fn new(src_port: u16, dst_port: u16, flags: u8) -> Self {
        Self {
            src_port,
            dst_port,
            flags,
            seq: 1,
            ack: 0,
            window: 1024,
            options: &[],
        }
    }

    /// The header followed by `payload`.
    pub fn segment(&self, payload: &[u8]) -> Vec<u8> {
        let mut options = self.options.to_vec();
        options.resize(options.len().div_ceil(4) * 4, 0);
        assert!(options.len() <= 40, "TCP options fit in 40 bytes");
        let offset_words = (20 + options.len()) / 4;
        let mut t = Vec::with_capacity(20 + options.len() + payload.len());
        t.extend_from_slice(&self.src_port.to_be_bytes());
        t.extend_from_slice(&self.dst_port.to_be_bytes());
        t.extend_from_slice(&self.seq.to_be_bytes());
        t.extend_from_slice(&self.ack.to_be_bytes());
        t.push((offset_words as u8) << 4);
        t.push(self.flags);
        t.extend_from_slice(&self.window.to_be_bytes());
        t.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
        t.extend_from_slice(&options);
        t.extend_from_slice(payload);
        t
    }
}

/// A TCP segment as [`Tcp::new`] makes it, with `options`.
pub fn tcp(src_port: u16, dst_port: u16, flags: u8, options: &[u8], payload: &[u8]) -> Vec<u8> {
    Tcp {
        options,
        ..Tcp::new(src_port, dst_port, flags)
    }
    .segment(payload)
}

/// A UDP datagram whose length field covers `payload`.
pub fn udp(src_port: u16, dst_port: u16, payload: &[u8]) -> Vec<u8> {
    let len = u16::try_from(8 + payload.len()).expect("a UDP datagram fits 64 KiB");
    let mut u = Vec::with_capacity(8 + payload.len());
    u.extend_from_slice(&src_port.to_be_bytes());
    u.extend_from_slice(&dst_port.to_be_bytes());
    u.extend_from_slice(&len.to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    u
}

/// An ICMP or ICMPv6 message: type, code, a zero checksum, four bytes of `rest` (identifier and
/// sequence of an echo, unused of an error), then `payload`.
pub fn icmp(icmp_type: u8, code: u8, rest: [u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut m = vec![icmp_type, code, 0, 0];
    m.extend_from_slice(&rest);
    m.extend_from_slice(payload);
    m
}

/// A small deterministic random generator (SplitMix64), so every run sends the same traffic
/// and a failure reproduces.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    pub fn u16(&mut self) -> u16 {
        self.next_u64() as u16
    }

    pub fn u8(&mut self) -> u8 {
        self.next_u64() as u8
    }

    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.u8()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ipv4_checksum_of_a_known_header_verifies() {
        let h = Ipv4::new(
            "198.18.0.2".parse().unwrap(),
            "198.18.1.7".parse().unwrap(),
            proto::UDP,
        )
        .packet(&[]);
        assert_eq!(checksum(&h), 0, "a header with its checksum sums to zero");
        assert_eq!(h.len(), 20);
    }
}
