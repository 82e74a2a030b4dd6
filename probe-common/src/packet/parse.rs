//! The frame parser, written once for the verifier and the host.
//!
//! Every read goes through [`load`], which checks `start + off + N > end` before touching memory,
//! with `off` either a constant or a value capped by a constant just before. That is the shape
//! the BPF verifier can prove safe; on the host the same checks keep the parser inside its slice.
//! No offset is ever taken straight from a 16-bit packet field: those are compared, never added
//! to a pointer unclamped (the verifier stops tracking ranges once an offset can reach 0xFFFF).

use super::{Malformed, Network, OptionsSpan, Packet, Transport, ether_type, ip_proto, tcp_flags};

const ETH_HEADER: usize = 14;
const VLAN_TAG: usize = 4;
const IPV4_HEADER: usize = 20;
const IPV6_HEADER: usize = 40;
const TCP_HEADER: usize = 20;
const UDP_HEADER: usize = 8;
const ICMP_HEADER: usize = 8;
/// IPv6 extension headers the parser walks. A conforming sender chains at most five of the
/// kinds it walks (hop-by-hop, destination options twice, routing, fragment: RFC 8200 §4.1);
/// the rest is room for the long chains evasion uses, walked so the port behind them is still
/// seen. A chain longer than this is not malformed: it is reported as a long chain
/// ([`Packet::long_chain`]). The bound keeps the loop, unrolled for the verifier, finite.
pub const IPV6_MAX_EXTENSIONS: usize = 24;
/// No transport header is read beyond this offset: past a 9,216-byte jumbo frame, so on
/// Ethernet only [`IPV6_MAX_EXTENSIONS`] ends a walk. The cap keeps the offset provably bounded
/// for the verifier, which stops tracking ranges that can reach 0xFFFF.
pub const MAX_L4_OFFSET: usize = 9_216;

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

/// A header whose first `N` bytes were checked to lie inside the frame ([`fits`]). Fields are
/// read with typed unaligned loads: with misaligned access allowed (the XDP program enables it,
/// as x86-64 and arm64 do natively) a 16- or 32-bit field is one load and one byte swap, where a
/// byte array read field by field costs a load, shift and or per byte.
#[derive(Clone, Copy)]
struct Header<const N: usize>(usize);

impl<const N: usize> Header<N> {
    #[inline(always)]
    fn u8(self, i: usize) -> u8 {
        // SAFETY: `i < N` at every call site (constant offsets); `fits` checked the N bytes.
        unsafe { *((self.0 + i) as *const u8) }
    }

    #[inline(always)]
    fn be16(self, i: usize) -> u16 {
        // SAFETY: as `u8`, for `i + 2 <= N`; unaligned reads are fine.
        u16::from_be(unsafe { core::ptr::read_unaligned((self.0 + i) as *const u16) })
    }

    #[inline(always)]
    fn be32(self, i: usize) -> u32 {
        // SAFETY: as `u8`, for `i + 4 <= N`.
        u32::from_be(unsafe { core::ptr::read_unaligned((self.0 + i) as *const u32) })
    }

    /// Little-endian: the byte order [`crate::track::flow_hash`] reads an address in.
    #[inline(always)]
    fn le32(self, i: usize) -> u32 {
        // SAFETY: as `u8`, for `i + 4 <= N`.
        u32::from_le(unsafe { core::ptr::read_unaligned((self.0 + i) as *const u32) })
    }

    #[inline(always)]
    fn le64(self, i: usize) -> u64 {
        // SAFETY: as `u8`, for `i + 8 <= N`.
        u64::from_le(unsafe { core::ptr::read_unaligned((self.0 + i) as *const u64) })
    }

    #[inline(always)]
    fn bytes<const M: usize>(self, i: usize) -> [u8; M] {
        // SAFETY: as `u8`, for `i + M <= N`.
        unsafe { core::ptr::read_unaligned((self.0 + i) as *const [u8; M]) }
    }
}

/// The `N` bytes at `start + off` as a [`Header`], or `None` when they are not all before `end`.
///
/// # Safety
/// `[start, end)` must be readable memory.
#[inline(always)]
unsafe fn fits<const N: usize>(start: usize, end: usize, off: usize) -> Option<Header<N>> {
    if start + off + N > end {
        return None;
    }
    Some(Header(start + off))
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
    let Some(eth) = (unsafe { fits::<2>(start, end, 12) }) else {
        return Err(Malformed::Ethernet);
    };
    let mut et = eth.be16(0);
    let mut off = ETH_HEADER;
    // Two tags at most (802.1ad outer, 802.1Q inner), unrolled so `off` stays a constant.
    if et == ether_type::VLAN || et == ether_type::QINQ {
        let Some(tag) = (unsafe { fits::<2>(start, end, ETH_HEADER + 2) }) else {
            return Err(Malformed::Ethernet);
        };
        et = tag.be16(0);
        off = ETH_HEADER + VLAN_TAG;
        p.vlan_tags = 1;
        if et == ether_type::VLAN || et == ether_type::QINQ {
            let Some(tag) = (unsafe { fits::<2>(start, end, ETH_HEADER + VLAN_TAG + 2) }) else {
                return Err(Malformed::Ethernet);
            };
            et = tag.be16(0);
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

/// What counting a segment of an established TCP connection needs, and what tells whether it
/// answers a reported contact.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    pub network: Network,
    pub src_port: u16,
    pub dst_port: u16,
    pub tcp_flags: u8,
    /// [`crate::track::flow_hash`] of the key of the contact its connection opened with
    /// ([`crate::track::answer_key`]).
    pub contact: u64,
}

/// What counting a UDP datagram needs, and what tells whether its contact was reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Datagram {
    pub network: Network,
    pub src_port: u16,
    pub dst_port: u16,
    /// [`crate::track::flow_hash`] of the datagram's contact key.
    pub contact: u64,
}

/// What counting and tracking a TCP segment outside an established connection needs (a SYN,
/// FIN, RST, SYN+ACK, NULL, Xmas, ...): what the per-source table learns, and the contact.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attempt {
    pub network: Network,
    pub src_port: u16,
    pub dst_port: u16,
    pub tcp_flags: u8,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// Addresses laid out as [`Packet::src`] and [`Packet::dst`].
    pub src: [u8; 16],
    pub dst: [u8; 16],
    /// [`crate::track::flow_hash`] of the segment's contact key.
    pub contact: u64,
}

impl Attempt {
    /// True for a segment that opens a connection: SYN set, ACK clear.
    pub const fn is_connection_attempt(&self) -> bool {
        tcp_flags::open_connection(self.tcp_flags)
    }
}

/// The busiest classes of traffic, read by [`shortcut`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shortcut {
    /// A TCP segment of an established connection: counted, never tracked.
    Established(Segment),
    /// A UDP datagram: counted, and tracked only if its contact is new.
    Datagram(Datagram),
    /// Any other TCP segment: counted and tracked; parsed in full only for an event.
    Attempt(Attempt),
}

/// The busiest classes of traffic, read at constant offsets: a TCP segment or a UDP datagram,
/// in an untagged frame, over IPv4 without options and not fragmented, or over IPv6 with the
/// transport right after the fixed header. A TCP segment is [`Shortcut::Established`] when
/// [`crate::track::is_established_tcp`] says so, [`Shortcut::Attempt`] otherwise.
///
/// A shortcut through [`parse_into`], not a second parser: it applies the same checks to the
/// same fields, and returns `Some` only for a frame that [`parse`] accepts with these values
/// (and, where there is one, this contact hash). The unit tests, the parser's proptests and
/// its fuzz target hold it to that. Everything else, malformed frames included, gets `None`
/// and goes through the full parse.
///
/// # Safety
/// `[start, end)` must be readable memory (an XDP packet, or a live byte slice).
#[inline(always)]
pub unsafe fn shortcut(
    start: usize,
    end: usize,
    sources: &impl crate::track::SourcePorts,
) -> Option<Shortcut> {
    const L3: usize = ETH_HEADER;
    // SAFETY (every `fits`): forwarded from this function's contract.
    let eth = unsafe { fits::<ETH_HEADER>(start, end, 0) }?;
    let (network, protocol, l4, ip_payload) = match eth.be16(12) {
        ether_type::IPV4 => {
            let h = unsafe { fits::<IPV4_HEADER>(start, end, L3) }?;
            // Version 4, no options; neither MF nor an offset.
            if h.u8(0) != 0x45 || h.be16(6) & 0x3fff != 0 {
                return None;
            }
            let total_len = h.be16(2) as usize;
            if total_len < IPV4_HEADER || start + L3 + total_len > end {
                return None;
            }
            (
                Network::Ipv4,
                h.u8(9),
                L3 + IPV4_HEADER,
                total_len - IPV4_HEADER,
            )
        }
        ether_type::IPV6 => {
            let h = unsafe { fits::<IPV6_HEADER>(start, end, L3) }?;
            if h.u8(0) >> 4 != 6 {
                return None;
            }
            let payload_len = h.be16(4) as usize;
            if start + L3 + IPV6_HEADER + payload_len > end {
                return None;
            }
            (Network::Ipv6, h.u8(6), L3 + IPV6_HEADER, payload_len)
        }
        _ => return None,
    };
    match protocol {
        ip_proto::TCP => {
            let t = unsafe { fits::<TCP_HEADER>(start, end, l4) }?;
            let doff = ((t.u8(12) >> 4) as usize) * 4;
            let flags = t.u8(13);
            if doff < TCP_HEADER || doff > ip_payload || start + l4 + doff > end {
                return None;
            }
            let (src_port, dst_port) = (t.be16(0), t.be16(2));
            // SAFETY: the IP header was checked to fit above.
            let contact = unsafe {
                contact_hash(
                    start,
                    network,
                    dst_port,
                    crate::track::keyed_source_port(sources, false, src_port),
                    ip_proto::TCP,
                )
            };
            if flags & (tcp_flags::ACK | tcp_flags::SYN) == tcp_flags::ACK {
                return Some(Shortcut::Established(Segment {
                    network,
                    src_port,
                    dst_port,
                    tcp_flags: flags,
                    contact,
                }));
            }
            // SAFETY: as above.
            let (src, dst, ttl) = unsafe { addresses(start, network) };
            Some(Shortcut::Attempt(Attempt {
                network,
                src_port,
                dst_port,
                tcp_flags: flags,
                ttl,
                src,
                dst,
                contact,
            }))
        }
        ip_proto::UDP => {
            let u = unsafe { fits::<UDP_HEADER>(start, end, l4) }?;
            let ulen = u.be16(4) as usize;
            if ulen < UDP_HEADER || ip_payload < UDP_HEADER || ulen > ip_payload {
                return None;
            }
            let (src_port, dst_port) = (u.be16(0), u.be16(2));
            let keyed = crate::track::keyed_source_port(sources, true, src_port);
            Some(Shortcut::Datagram(Datagram {
                network,
                src_port,
                dst_port,
                // SAFETY: the IP header was checked to fit above.
                contact: unsafe { contact_hash(start, network, dst_port, keyed, ip_proto::UDP) },
            }))
        }
        _ => None,
    }
}

/// [`crate::track::flow_hash`] of the contact key of a shortcut's packet, hashed straight from
/// the frame: the addresses as the key holds them (an IPv4 one in the first four bytes), read
/// as the little-endian words the hash takes.
///
/// # Safety
/// The untagged IP header of `network` must be readable at `start + ETH_HEADER`.
#[inline(always)]
unsafe fn contact_hash(
    start: usize,
    network: Network,
    port: u16,
    src_port: u16,
    protocol: u8,
) -> u64 {
    let tail = crate::track::contact_tail(port, src_port, protocol, 0, network as u8);
    // Hashed in each branch, so the IPv4 one folds its zero halves away.
    if network == Network::Ipv4 {
        let ip = Header::<IPV4_HEADER>(start + ETH_HEADER);
        crate::track::flow_hash_of(
            [u64::from(ip.le32(12)), 0],
            [u64::from(ip.le32(16)), 0],
            tail,
        )
    } else {
        let ip = Header::<IPV6_HEADER>(start + ETH_HEADER);
        crate::track::flow_hash_of([ip.le64(8), ip.le64(16)], [ip.le64(24), ip.le64(32)], tail)
    }
}

/// Source and destination address (laid out as [`Packet::src`]) and TTL of a shortcut's
/// packet.
///
/// # Safety
/// As [`contact_hash`].
#[inline(always)]
unsafe fn addresses(start: usize, network: Network) -> ([u8; 16], [u8; 16], u8) {
    let (mut src, mut dst) = ([0u8; 16], [0u8; 16]);
    if network == Network::Ipv4 {
        let ip = Header::<IPV4_HEADER>(start + ETH_HEADER);
        src[..4].copy_from_slice(&ip.bytes::<4>(12));
        dst[..4].copy_from_slice(&ip.bytes::<4>(16));
        (src, dst, ip.u8(8))
    } else {
        let ip = Header::<IPV6_HEADER>(start + ETH_HEADER);
        (ip.bytes::<16>(8), ip.bytes::<16>(24), ip.u8(7))
    }
}

/// [`shortcut`] over a byte slice, for the host.
pub fn shortcut_of(frame: &[u8], sources: &impl crate::track::SourcePorts) -> Option<Shortcut> {
    let start = frame.as_ptr() as usize;
    // SAFETY: a slice is readable over its whole length.
    unsafe { shortcut(start, start + frame.len(), sources) }
}

/// IPv4 header at `off` (≤ 22), then the transport.
#[inline(always)]
unsafe fn ipv4(p: &mut Packet, start: usize, end: usize, off: usize) -> Result<(), Malformed> {
    let Some(h) = (unsafe { fits::<IPV4_HEADER>(start, end, off) }) else {
        return Err(Malformed::Ipv4Header);
    };
    let version_ihl = h.u8(0);
    if version_ihl >> 4 != 4 {
        return Err(Malformed::Ipv4Header);
    }
    let ihl = ((version_ihl & 0x0f) as usize) * 4;
    if ihl < IPV4_HEADER {
        return Err(Malformed::Ipv4Header);
    }
    let total_len = h.be16(2) as usize;
    // Compared, never used as an offset: see the module comment.
    if total_len < ihl || start + off + total_len > end {
        return Err(Malformed::Ipv4Length);
    }

    p.network = Network::Ipv4;
    p.src[..4].copy_from_slice(&h.bytes::<4>(12));
    p.dst[..4].copy_from_slice(&h.bytes::<4>(16));
    p.ttl = h.u8(8);
    p.ip_id = u32::from(h.be16(4));
    let frag = h.be16(6);
    p.dont_fragment = frag & 0x4000 != 0;
    p.more_fragments = frag & 0x2000 != 0;
    p.fragment_offset = frag & 0x1fff;
    p.is_fragment = p.more_fragments || p.fragment_offset != 0;
    p.protocol = h.u8(9);

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
    let Some(h) = (unsafe { fits::<IPV6_HEADER>(start, end, off) }) else {
        return Err(Malformed::Ipv6Header);
    };
    if h.u8(0) >> 4 != 6 {
        return Err(Malformed::Ipv6Header);
    }
    let payload_len = h.be16(4) as usize;
    if start + off + IPV6_HEADER + payload_len > end {
        return Err(Malformed::Ipv6Length);
    }
    p.network = Network::Ipv6;
    p.src = h.bytes::<16>(8);
    p.dst = h.bytes::<16>(24);
    p.ttl = h.u8(7);

    let mut next = h.u8(6);
    let first_ext = off + IPV6_HEADER;
    let mut pos = first_ext;
    for _ in 0..IPV6_MAX_EXTENSIONS {
        let this = next;
        let size = match this {
            ip_proto::HOPOPT | ip_proto::IPV6_ROUTE | ip_proto::IPV6_OPTS => {
                let Some(e) = (unsafe { fits::<2>(start, end, pos) }) else {
                    return cut_chain(p, this);
                };
                next = e.u8(0);
                (e.u8(1) as usize + 1) * 8
            }
            ip_proto::IPV6_FRAG => {
                let Some(e) = (unsafe { fits::<8>(start, end, pos) }) else {
                    return cut_chain(p, this);
                };
                next = e.u8(0);
                let frag = e.be16(2);
                p.fragment_offset = frag >> 3;
                p.more_fragments = frag & 1 != 0;
                // An atomic fragment (offset 0, M clear) is a whole datagram (RFC 6946).
                p.is_fragment = p.more_fragments || p.fragment_offset != 0;
                p.ip_id = e.be32(4);
                8
            }
            _ => break,
        };
        pos += size;
        if pos - first_ext > payload_len {
            return cut_chain(p, this);
        }
        p.extensions += 1;
        if p.fragment_offset != 0 {
            // What follows a non-first fragment's header is data, not headers
            // (RFC 8200 §4.5): stop here.
            break;
        }
        if pos > MAX_L4_OFFSET {
            // Longer than the parser reads: not malformed, but reported as a long chain.
            p.long_chain = true;
            p.protocol = next;
            return Ok(());
        }
    }
    p.protocol = next;
    if p.fragment_offset == 0
        && matches!(
            next,
            ip_proto::HOPOPT | ip_proto::IPV6_ROUTE | ip_proto::IPV6_OPTS | ip_proto::IPV6_FRAG
        )
    {
        // More extension headers than the parser walks.
        p.long_chain = true;
        return Ok(());
    }
    if p.fragment_offset != 0 || next == ip_proto::IPV6_NONXT {
        return Ok(());
    }
    unsafe { transport(p, start, end, pos, payload_len - (pos - first_ext)) }
}

/// The extension header `kind` runs past the IPv6 payload. In a first fragment the rest of the
/// chain is in a later fragment: a chain split across fragments, which RFC 7112 forbids because
/// it hides the transport header from filters, is a tiny fragment. Anywhere else the packet is
/// malformed.
#[inline(always)]
fn cut_chain(p: &mut Packet, kind: u8) -> Result<(), Malformed> {
    if !p.more_fragments {
        return Err(Malformed::Ipv6Extension);
    }
    p.tiny_fragment = true;
    p.protocol = kind;
    Ok(())
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
            let Some(h) =
                (unsafe { header::<TCP_HEADER>(p, start, end, l4, ip_payload, Malformed::Tcp) })?
            else {
                return Ok(());
            };
            let doff = ((h.u8(12) >> 4) as usize) * 4;
            if doff < TCP_HEADER || start + l4 + doff > end {
                return Err(Malformed::Tcp);
            }
            if doff > ip_payload {
                // Options cut by the end of a first fragment: the fixed header is whole.
                return unsafe { cut_short(p, start, end, l4, ip_payload, Malformed::Tcp) };
            }
            p.transport = Transport::Tcp;
            p.src_port = h.be16(0);
            p.dst_port = h.be16(2);
            p.tcp_flags = h.u8(13);
            p.tcp_window = h.be16(14);
            p.tcp_seq = h.be32(4);
            doff
        }
        (ip_proto::UDP, _) => {
            let Some(h) =
                (unsafe { header::<UDP_HEADER>(p, start, end, l4, ip_payload, Malformed::Udp) })?
            else {
                return Ok(());
            };
            let ulen = h.be16(4) as usize;
            if ulen < UDP_HEADER || (whole && ulen > ip_payload) {
                return Err(Malformed::Udp);
            }
            p.transport = Transport::Udp;
            p.src_port = h.be16(0);
            p.dst_port = h.be16(2);
            UDP_HEADER
        }
        (ip_proto::ICMP, Network::Ipv4) | (ip_proto::ICMPV6, Network::Ipv6) => {
            let Some(h) =
                (unsafe { header::<ICMP_HEADER>(p, start, end, l4, ip_payload, Malformed::Icmp) })?
            else {
                return Ok(());
            };
            p.transport = if p.network == Network::Ipv4 {
                Transport::Icmp
            } else {
                Transport::Icmpv6
            };
            p.icmp_type = h.u8(0);
            p.icmp_code = h.u8(1);
            ICMP_HEADER
        }
        _ => 0,
    };
    p.payload_offset = (l4 + header) as u16;
    p.payload_len = (ip_payload - header) as u16;
    Ok(())
}

/// The `N`-byte transport header at `l4` when the frame and the IP payload (`ip_payload`) hold
/// it. Otherwise [`cut_short`]: `Ok(None)` for a tiny fragment (recorded in `p`), `err` for a
/// whole packet.
///
/// The frame check comes first: the IP length implies it, and compared in the other order the
/// compiler drops it, which the verifier cannot follow. Past the IP payload the frame may hold
/// Ethernet padding, hence the second check.
///
/// # Safety
/// As [`transport`].
#[inline(always)]
unsafe fn header<const N: usize>(
    p: &mut Packet,
    start: usize,
    end: usize,
    l4: usize,
    ip_payload: usize,
    err: Malformed,
) -> Result<Option<Header<N>>, Malformed> {
    if let Some(h) = unsafe { fits::<N>(start, end, l4) }.filter(|_| ip_payload >= N) {
        return Ok(Some(h));
    }
    unsafe { cut_short(p, start, end, l4, ip_payload, err) }.map(|()| None)
}

/// A transport header the packet does not hold whole: a tiny fragment when the packet is a
/// first fragment (the rest is in a later one), else `err`.
///
/// # Safety
/// As [`transport`].
#[inline(always)]
unsafe fn cut_short(
    p: &mut Packet,
    start: usize,
    end: usize,
    l4: usize,
    ip_payload: usize,
    err: Malformed,
) -> Result<(), Malformed> {
    if !p.more_fragments {
        return Err(err);
    }
    unsafe { tiny_fragment(p, start, end, l4, ip_payload) };
    Ok(())
}

/// A first fragment too short to hold its transport header whole: the tiny fragment of
/// RFC 1858 §3.1 and RFC 3128, which moves the TCP flags (or the ports) into a later fragment
/// so that a filter judging first fragments cannot see them; for IPv6, RFC 7112 forbids it.
/// Not malformed: what it holds of the header (`held` bytes at `l4`) is kept, the ports from
/// 4 bytes on, the TCP flags from 14, the window from 16, an ICMP type and code from 2.
///
/// # Safety
/// As [`transport`]; `l4 + held` lies inside the frame (the IP length was checked).
#[inline(always)]
unsafe fn tiny_fragment(p: &mut Packet, start: usize, end: usize, l4: usize, held: usize) {
    p.tiny_fragment = true;
    p.l4_held = if held > 255 { 255 } else { held as u8 };
    match (p.protocol, p.network) {
        (ip_proto::TCP | ip_proto::UDP, _) => {
            // Reads of fixed sizes, the largest the fragment holds (the verifier's terms). A
            // UDP header is tiny below 8 bytes, so only its ports are ever read.
            // Each frame check before its length check, as in `transport`.
            let ports = if let Some(h) =
                unsafe { fits::<16>(start, end, l4) }.filter(|_| held >= 16)
            {
                p.tcp_flags = h.u8(13);
                p.tcp_window = h.be16(14);
                p.tcp_seq = h.be32(4);
                Some((h.be16(0), h.be16(2)))
            } else if let Some(h) = unsafe { fits::<14>(start, end, l4) }.filter(|_| held >= 14) {
                p.tcp_flags = h.u8(13);
                p.tcp_seq = h.be32(4);
                Some((h.be16(0), h.be16(2)))
            } else {
                unsafe { fits::<4>(start, end, l4) }
                    .filter(|_| held >= 4)
                    .map(|h| (h.be16(0), h.be16(2)))
            };
            if let Some((src, dst)) = ports {
                p.transport = if p.protocol == ip_proto::TCP {
                    Transport::Tcp
                } else {
                    Transport::Udp
                };
                p.src_port = src;
                p.dst_port = dst;
            }
        }
        (ip_proto::ICMP, Network::Ipv4) | (ip_proto::ICMPV6, Network::Ipv6) => {
            if let Some(h) = unsafe { fits::<2>(start, end, l4) }.filter(|_| held >= 2) {
                p.transport = if p.network == Network::Ipv4 {
                    Transport::Icmp
                } else {
                    Transport::Icmpv6
                };
                p.icmp_type = h.u8(0);
                p.icmp_code = h.u8(1);
            }
        }
        _ => {}
    }
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
