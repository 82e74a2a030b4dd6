//! The frame parser, written once for the verifier and the host.
//!
//! Every read goes through [`load`], which checks `start + off + N > end` before touching memory,
//! with `off` either a constant or a value capped by a constant just before. That is the shape
//! the BPF verifier can prove safe; on the host the same checks keep the parser inside its slice.
//! No offset is ever taken straight from a 16-bit packet field: those are compared, never added
//! to a pointer unclamped (the verifier stops tracking ranges once an offset can reach 0xFFFF).

use super::{Malformed, Network, OptionsSpan, Packet, Transport, ether_type, ip_proto};

const ETH_HEADER: usize = 14;
const VLAN_TAG: usize = 4;
const IPV4_HEADER: usize = 20;
const IPV6_HEADER: usize = 40;
const TCP_HEADER: usize = 20;
const UDP_HEADER: usize = 8;
const ICMP_HEADER: usize = 8;
/// IPv6 extension headers followed before giving up (hop-by-hop, routing, fragment,
/// destination options twice and one spare: more than a sane sender chains).
const IPV6_MAX_EXTENSIONS: usize = 6;
/// No transport header is read beyond this offset. Real extension chains are far shorter; the
/// cap keeps the offset provably bounded for the verifier.
const MAX_L4_OFFSET: usize = 512;

/// Reads `N` bytes at `start + off`, or `None` when they are not all before `end`.
///
/// # Safety
/// `[start, end)` must be readable memory.
#[inline(always)]
unsafe fn load<const N: usize>(start: usize, end: usize, off: usize) -> Option<[u8; N]> {
    if start + off + N > end {
        return None;
    }
    // SAFETY: the bytes [start + off, start + off + N) lie inside [start, end), which the caller
    // guarantees readable; the read is unaligned-safe.
    Some(unsafe { core::ptr::read_unaligned((start + off) as *const [u8; N]) })
}

#[inline(always)]
fn be16(b0: u8, b1: u8) -> u16 {
    u16::from_be_bytes([b0, b1])
}

/// Parses the frame at `[start, end)` on the host: a safe wrapper over [`parse_raw`].
pub fn parse(frame: &[u8]) -> Result<Packet, Malformed> {
    let start = frame.as_ptr() as usize;
    // SAFETY: a slice is readable over its whole length.
    unsafe { parse_raw(start, start + frame.len()) }
}

/// Parses the frame in `[start, end)`: the XDP program passes its `data`/`data_end`.
///
/// # Safety
/// `[start, end)` must be readable memory (an XDP packet, or a live byte slice).
#[inline(always)]
pub unsafe fn parse_raw(start: usize, end: usize) -> Result<Packet, Malformed> {
    let mut p = Packet::default();
    // SAFETY: forwarded.
    unsafe { parse_into(&mut p, start, end) }?;
    Ok(p)
}

/// Zeroes `p` with one store per 32-bit word. `*p = Packet::default()` compiles, for BPF, into
/// a byte-at-a-time memset loop (some 300 instructions a packet, the biggest cost of the whole
/// counting path); volatile word stores cannot be merged back into one.
///
/// # Safety
/// `p` must be valid for writes (every bit pattern of zeros is a valid Packet).
#[inline(always)]
unsafe fn reset(p: *mut Packet) {
    const WORDS: usize = size_of::<Packet>() / 4;
    let words = p.cast::<u32>();
    for i in 0..WORDS {
        // SAFETY: word `i` lies inside `*p` (Packet is 4-aligned and a multiple of 4 long,
        // asserted in mod.rs); all-zero is `Packet::default()`.
        unsafe { words.add(i).write_volatile(0) };
    }
}

/// Parses the frame in `[start, end)` into `p`, which it resets first. The XDP program parses
/// into a per-CPU map slot this way, keeping the packet off its 512-byte stack.
///
/// # Safety
/// `[start, end)` must be readable memory (an XDP packet, or a live byte slice).
#[inline(always)]
pub unsafe fn parse_into(p: &mut Packet, start: usize, end: usize) -> Result<(), Malformed> {
    // SAFETY: `p` is a valid, exclusively borrowed Packet.
    unsafe { reset(p) };
    p.len = (end - start) as u32;

    // SAFETY (all `load` calls below): forwarded from this function's contract.
    let Some(eth) = (unsafe { load::<2>(start, end, 12) }) else {
        return Err(Malformed::Ethernet);
    };
    let mut et = be16(eth[0], eth[1]);
    let mut off = ETH_HEADER;
    // Two tags at most (802.1ad outer, 802.1Q inner), unrolled so `off` stays a constant.
    if et == ether_type::VLAN || et == ether_type::QINQ {
        let Some(tag) = (unsafe { load::<2>(start, end, ETH_HEADER + 2) }) else {
            return Err(Malformed::Ethernet);
        };
        et = be16(tag[0], tag[1]);
        off = ETH_HEADER + VLAN_TAG;
        p.vlan_tags = 1;
        if et == ether_type::VLAN || et == ether_type::QINQ {
            let Some(tag) = (unsafe { load::<2>(start, end, ETH_HEADER + VLAN_TAG + 2) }) else {
                return Err(Malformed::Ethernet);
            };
            et = be16(tag[0], tag[1]);
            off = ETH_HEADER + 2 * VLAN_TAG;
            p.vlan_tags = 2;
        }
    }
    p.ether_type = et;

    match et {
        ether_type::IPV4 => unsafe { ipv4(p, start, end, off) },
        ether_type::IPV6 => unsafe { ipv6(p, start, end, off) },
        _ => Ok(()),
    }
}

/// IPv4 header at `off` (≤ 22), then the transport.
#[inline(always)]
unsafe fn ipv4(p: &mut Packet, start: usize, end: usize, off: usize) -> Result<(), Malformed> {
    let Some(h) = (unsafe { load::<IPV4_HEADER>(start, end, off) }) else {
        return Err(Malformed::Ipv4Header);
    };
    if h[0] >> 4 != 4 {
        return Err(Malformed::Ipv4Header);
    }
    let ihl = ((h[0] & 0x0f) as usize) * 4;
    if ihl < IPV4_HEADER {
        return Err(Malformed::Ipv4Header);
    }
    let total_len = be16(h[2], h[3]) as usize;
    // Compared, never used as an offset: see the module comment.
    if total_len < ihl || start + off + total_len > end {
        return Err(Malformed::Ipv4Length);
    }

    p.network = Network::Ipv4;
    p.src[..4].copy_from_slice(&h[12..16]);
    p.dst[..4].copy_from_slice(&h[16..20]);
    p.ttl = h[8];
    p.ip_id = u32::from(be16(h[4], h[5]));
    let frag = be16(h[6], h[7]);
    p.dont_fragment = frag & 0x4000 != 0;
    p.more_fragments = frag & 0x2000 != 0;
    p.fragment_offset = frag & 0x1fff;
    p.is_fragment = p.more_fragments || p.fragment_offset != 0;
    p.protocol = h[9];

    if ihl > IPV4_HEADER {
        // Inside the frame: the header is inside `total_len`, checked above.
        p.ip_options = OptionsSpan {
            offset: (off + IPV4_HEADER) as u16,
            len: (ihl - IPV4_HEADER) as u8,
        };
    }
    if p.fragment_offset != 0 {
        return Ok(());
    }
    unsafe { transport(p, start, end, off + ihl, total_len - ihl) }
}

/// The IPv4 options `span` points at, copied out of `[start, end)`; zeros past their end.
///
/// Whole 32-bit words (IHL counts words), unrolled with constant offsets: in a loop the compiler
/// hoists `end - 4` out of the bound check, and the verifier forbids arithmetic on the packet's
/// end pointer.
///
/// # Safety
/// `[start, end)` must be readable memory.
#[inline(always)]
pub unsafe fn options_raw(start: usize, end: usize, span: &OptionsSpan) -> [u8; 40] {
    let mut out = [0u8; 40];
    let off = span.offset as usize;
    let len = span.len as usize;
    // Options start after at most two VLAN tags and the fixed header; the cap makes it provable.
    if off > ETH_HEADER + 2 * VLAN_TAG + IPV4_HEADER {
        return out;
    }
    macro_rules! word {
        ($at:literal) => {
            if len > $at {
                // SAFETY: forwarded from this function's contract.
                if let Some(bytes) = unsafe { load::<4>(start, end, off + $at) } {
                    out[$at..$at + 4].copy_from_slice(&bytes);
                }
            }
        };
    }
    word!(0);
    word!(4);
    word!(8);
    word!(12);
    word!(16);
    word!(20);
    word!(24);
    word!(28);
    word!(32);
    word!(36);
    out
}

/// IPv6 header at `off` (≤ 22), its extension headers, then the transport.
#[inline(always)]
unsafe fn ipv6(p: &mut Packet, start: usize, end: usize, off: usize) -> Result<(), Malformed> {
    let Some(h) = (unsafe { load::<8>(start, end, off) }) else {
        return Err(Malformed::Ipv6Header);
    };
    let (Some(src), Some(dst)) = (unsafe { load::<16>(start, end, off + 8) }, unsafe {
        load::<16>(start, end, off + 24)
    }) else {
        return Err(Malformed::Ipv6Header);
    };
    if h[0] >> 4 != 6 {
        return Err(Malformed::Ipv6Header);
    }
    let payload_len = be16(h[4], h[5]) as usize;
    if start + off + IPV6_HEADER + payload_len > end {
        return Err(Malformed::Ipv6Length);
    }
    p.network = Network::Ipv6;
    p.src = src;
    p.dst = dst;
    p.ttl = h[7];

    let mut next = h[6];
    let first_ext = off + IPV6_HEADER;
    let mut pos = first_ext;
    for _ in 0..IPV6_MAX_EXTENSIONS {
        match next {
            ip_proto::HOPOPT | ip_proto::IPV6_ROUTE | ip_proto::IPV6_OPTS => {
                let Some(e) = (unsafe { load::<2>(start, end, pos) }) else {
                    return Err(Malformed::Ipv6Extension);
                };
                next = e[0];
                pos += (e[1] as usize + 1) * 8;
            }
            ip_proto::IPV6_FRAG => {
                let Some(e) = (unsafe { load::<8>(start, end, pos) }) else {
                    return Err(Malformed::Ipv6Extension);
                };
                next = e[0];
                let frag = be16(e[2], e[3]);
                p.fragment_offset = frag >> 3;
                p.more_fragments = frag & 1 != 0;
                // An atomic fragment (offset 0, M clear) is a whole datagram (RFC 6946).
                p.is_fragment = p.more_fragments || p.fragment_offset != 0;
                p.ip_id = u32::from_be_bytes([e[4], e[5], e[6], e[7]]);
                pos += 8;
                if p.fragment_offset != 0 {
                    // What follows a non-first fragment's header is data, not headers
                    // (RFC 8200 §4.5): stop here.
                    break;
                }
            }
            _ => break,
        }
        if pos > MAX_L4_OFFSET || pos - first_ext > payload_len {
            return Err(Malformed::Ipv6Extension);
        }
    }
    if p.fragment_offset == 0
        && matches!(
            next,
            ip_proto::HOPOPT | ip_proto::IPV6_ROUTE | ip_proto::IPV6_OPTS | ip_proto::IPV6_FRAG
        )
    {
        // More extension headers than the parser follows.
        return Err(Malformed::Ipv6Extension);
    }
    p.protocol = next;
    if p.fragment_offset != 0 || next == ip_proto::IPV6_NONXT {
        return Ok(());
    }
    unsafe { transport(p, start, end, pos, payload_len - (pos - first_ext)) }
}

/// The transport header at `l4` (≤ [`MAX_L4_OFFSET`]); `ip_payload` is what the IP header
/// declares for it and everything after.
#[inline(always)]
unsafe fn transport(
    p: &mut Packet,
    start: usize,
    end: usize,
    l4: usize,
    ip_payload: usize,
) -> Result<(), Malformed> {
    if l4 > MAX_L4_OFFSET {
        return Err(Malformed::Ipv6Extension);
    }
    p.l4_offset = l4 as u16;
    // A first fragment carries only part of the datagram: lengths inside the transport header
    // describe the whole of it, so they cannot be checked against this packet.
    let whole = !p.more_fragments;
    let header = match (p.protocol, p.network) {
        (ip_proto::TCP, _) => {
            let Some(h) = (unsafe { load::<TCP_HEADER>(start, end, l4) }) else {
                return Err(Malformed::Tcp);
            };
            let doff = ((h[12] >> 4) as usize) * 4;
            if doff < TCP_HEADER || doff > ip_payload || start + l4 + doff > end {
                return Err(Malformed::Tcp);
            }
            p.transport = Transport::Tcp;
            p.src_port = be16(h[0], h[1]);
            p.dst_port = be16(h[2], h[3]);
            p.tcp_flags = h[13];
            p.tcp_window = be16(h[14], h[15]);
            doff
        }
        (ip_proto::UDP, _) => {
            let Some(h) = (unsafe { load::<UDP_HEADER>(start, end, l4) }) else {
                return Err(Malformed::Udp);
            };
            let ulen = be16(h[4], h[5]) as usize;
            if ulen < UDP_HEADER || ip_payload < UDP_HEADER || (whole && ulen > ip_payload) {
                return Err(Malformed::Udp);
            }
            p.transport = Transport::Udp;
            p.src_port = be16(h[0], h[1]);
            p.dst_port = be16(h[2], h[3]);
            UDP_HEADER
        }
        (ip_proto::ICMP, Network::Ipv4) | (ip_proto::ICMPV6, Network::Ipv6) => {
            let Some(h) = (unsafe { load::<ICMP_HEADER>(start, end, l4) }) else {
                return Err(Malformed::Icmp);
            };
            if ip_payload < ICMP_HEADER {
                return Err(Malformed::Icmp);
            }
            p.transport = if p.network == Network::Ipv4 {
                Transport::Icmp
            } else {
                Transport::Icmpv6
            };
            p.icmp_type = h[0];
            p.icmp_code = h[1];
            ICMP_HEADER
        }
        _ => 0,
    };
    p.payload_offset = (l4 + header) as u16;
    p.payload_len = (ip_payload - header) as u16;
    Ok(())
}

/// The first bytes of `p`'s transport payload (at most 16), and how many there are. Reads
/// 16, 8, 4 or 2 bytes, the most the frame holds: fixed sizes the verifier can check. A payload
/// of a single byte in an unpadded frame is not captured.
///
/// # Safety
/// `[start, end)` must be the readable frame `p` was parsed from.
#[inline(always)]
pub unsafe fn payload_prefix(start: usize, end: usize, p: &Packet) -> ([u8; 16], u8) {
    let mut out = [0u8; 16];
    let off = p.payload_offset as usize;
    let want = p.payload_len as usize;
    // Capped so the offset is provably bounded (the parser never sets it beyond this). No
    // `off == 0` test here: the compiler would fuse the two into one wrapping range check the
    // verifier cannot follow; `want == 0` covers a packet without payload.
    if want == 0 || off > MAX_L4_OFFSET + 60 {
        return (out, 0);
    }
    // SAFETY (each load): forwarded from this function's contract.
    if let Some(b) = unsafe { load::<16>(start, end, off) } {
        out = b;
        return (out, want.min(16) as u8);
    }
    if let Some(b) = unsafe { load::<8>(start, end, off) } {
        out[..8].copy_from_slice(&b);
        return (out, want.min(8) as u8);
    }
    if let Some(b) = unsafe { load::<4>(start, end, off) } {
        out[..4].copy_from_slice(&b);
        return (out, want.min(4) as u8);
    }
    // No 1-byte read: its bound check compiles to a form the verifier cannot use.
    if let Some(b) = unsafe { load::<2>(start, end, off) } {
        out[..2].copy_from_slice(&b);
        return (out, want.min(2) as u8);
    }
    (out, 0)
}

/// [`payload_prefix`] over a byte slice, for the host.
pub fn payload_of(frame: &[u8], p: &Packet) -> ([u8; 16], u8) {
    let start = frame.as_ptr() as usize;
    // SAFETY: a slice is readable over its whole length.
    unsafe { payload_prefix(start, start + frame.len(), p) }
}
