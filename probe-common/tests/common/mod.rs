//! Frames for the integration tests, built field by field from the RFCs: Ethernet II, IPv4
//! (RFC 791), IPv6 (RFC 8200) with a fragment header, TCP (RFC 9293), UDP (RFC 768), ICMP
//! (RFC 792) and ICMPv6 (RFC 4443). Checksums stay zero: nothing here verifies them.

#![allow(dead_code, reason = "each test crate uses part of the builder")]

use probe_common::packet::ether_type;

// Documentation addresses: RFC 5737 and RFC 3849.
pub const SRC4: [u8; 4] = [192, 0, 2, 1];
pub const DST4: [u8; 4] = [198, 51, 100, 2];
pub const SRC6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
pub const DST6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

/// Offset of the network header in an untagged frame.
pub const ETH: usize = 14;

/// An IPv4 address laid out as in `Packet::src`: four bytes, then zeros.
pub fn addr4(a: [u8; 4]) -> [u8; 16] {
    let mut out = [0; 16];
    out[..4].copy_from_slice(&a);
    out
}

/// An untagged Ethernet II header.
pub fn ethernet(ether_type: u16) -> Vec<u8> {
    let mut b = vec![0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01];
    b.extend_from_slice(&ether_type.to_be_bytes());
    b
}

/// An IPv4 header's fields; `new` gives DF set, TTL 64, no options.
#[derive(Clone, Debug)]
pub struct V4 {
    pub ttl: u8,
    pub id: u16,
    /// Flags and fragment offset, as the 16 bits on the wire (0x4000 is DF).
    pub flags_fragment: u16,
    pub protocol: u8,
    /// Whole 32-bit words.
    pub options: Vec<u8>,
}

impl V4 {
    pub fn new(protocol: u8) -> Self {
        Self {
            ttl: 64,
            id: 0x1c46,
            flags_fragment: 0x4000,
            protocol,
            options: Vec::new(),
        }
    }

    /// An untagged frame from [`SRC4`] to [`DST4`] carrying `payload`.
    pub fn frame(&self, payload: &[u8]) -> Vec<u8> {
        assert!(self.options.len().is_multiple_of(4) && self.options.len() <= 40);
        let header_len = 20 + self.options.len();
        let total = u16::try_from(header_len + payload.len()).expect("datagram over 64 KiB");
        let mut f = ethernet(ether_type::IPV4);
        f.extend_from_slice(&[0x40 | (header_len / 4) as u8, 0]);
        f.extend_from_slice(&total.to_be_bytes());
        f.extend_from_slice(&self.id.to_be_bytes());
        f.extend_from_slice(&self.flags_fragment.to_be_bytes());
        f.extend_from_slice(&[self.ttl, self.protocol, 0, 0]);
        f.extend_from_slice(&SRC4);
        f.extend_from_slice(&DST4);
        f.extend_from_slice(&self.options);
        f.extend_from_slice(payload);
        f
    }
}

/// An untagged IPv6 frame from [`SRC6`] to [`DST6`]; `payload` includes any extension headers.
pub fn v6_frame(next_header: u8, hop_limit: u8, payload: &[u8]) -> Vec<u8> {
    let len = u16::try_from(payload.len()).expect("payload over 64 KiB");
    let mut f = ethernet(ether_type::IPV6);
    f.extend_from_slice(&[0x60, 0, 0, 0]);
    f.extend_from_slice(&len.to_be_bytes());
    f.extend_from_slice(&[next_header, hop_limit]);
    f.extend_from_slice(&SRC6);
    f.extend_from_slice(&DST6);
    f.extend_from_slice(payload);
    f
}

/// An IPv6 fragment header; `offset` in 8-byte units.
pub fn fragment_header(next: u8, offset: u16, more: bool, id: u32) -> Vec<u8> {
    let mut h = vec![next, 0];
    h.extend_from_slice(&((offset << 3) | u16::from(more)).to_be_bytes());
    h.extend_from_slice(&id.to_be_bytes());
    h
}

/// A TCP segment without options from port 49152, window `window`, carrying `data`.
pub fn tcp(dst_port: u16, flags: u8, window: u16, data: &[u8]) -> Vec<u8> {
    let mut s = Vec::new();
    s.extend_from_slice(&49152u16.to_be_bytes());
    s.extend_from_slice(&dst_port.to_be_bytes());
    s.extend_from_slice(&1_000u32.to_be_bytes()); // sequence number
    s.extend_from_slice(&0u32.to_be_bytes()); // acknowledgment number
    s.extend_from_slice(&[5 << 4, flags]);
    s.extend_from_slice(&window.to_be_bytes());
    s.extend_from_slice(&[0; 4]); // checksum, urgent pointer
    s.extend_from_slice(data);
    s
}

/// A UDP datagram from port 53000 whose length field covers `data`.
pub fn udp(dst_port: u16, data: &[u8]) -> Vec<u8> {
    let len = u16::try_from(8 + data.len()).expect("datagram over 64 KiB");
    let mut d = Vec::new();
    d.extend_from_slice(&53000u16.to_be_bytes());
    d.extend_from_slice(&dst_port.to_be_bytes());
    d.extend_from_slice(&len.to_be_bytes());
    d.extend_from_slice(&[0, 0]);
    d.extend_from_slice(data);
    d
}

/// An ICMP or ICMPv6 message: type, code, checksum, then `rest` (the header's last four bytes,
/// then the body).
pub fn icmp(icmp_type: u8, code: u8, rest: &[u8]) -> Vec<u8> {
    let mut m = vec![icmp_type, code, 0, 0];
    m.extend_from_slice(rest);
    m
}
