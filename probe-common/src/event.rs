//! First contacts: the kernel's report of each new (source, destination, protocol, port or ICMP
//! message) it sees, with what the first packet of it looked like.
//!
//! The same type is made by the XDP program (into a ring buffer) and by the offline replay (from
//! a capture), so the detectors read one thing whatever the source.

use crate::packet::{Network, Packet, Transport, options_raw, payload_prefix};

/// Bits of [`FirstContact::frag`]: how the IP layer carried the packet.
pub mod frag {
    pub const DONT_FRAGMENT: u8 = 1 << 0;
    pub const MORE_FRAGMENTS: u8 = 1 << 1;
    pub const IS_FRAGMENT: u8 = 1 << 2;
    /// `Packet::tiny_fragment`.
    pub const TINY_FRAGMENT: u8 = 1 << 3;
    /// `Packet::long_chain`.
    pub const LONG_CHAIN: u8 = 1 << 4;
}

/// Payload bytes an event carries: enough to recognise a protocol by its first bytes.
pub const PAYLOAD_BYTES: usize = 16;

/// One first contact, as the kernel reports it. `#[repr(C)]` without implicit padding: it is
/// copied byte for byte out of the ring buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct FirstContact {
    /// When it was seen: `bpf_ktime_get_ns` (monotonic, since boot) live, capture time in replay.
    pub ts_ns: u64,
    /// Source address: IPv4 in the first four bytes, the rest zero; IPv6 in all sixteen.
    pub src: [u8; 16],
    pub dst: [u8; 16],
    /// IPv4 identification or IPv6 fragment identification.
    pub ip_id: u32,
    pub src_port: u16,
    pub dst_port: u16,
    pub tcp_window: u16,
    pub fragment_offset: u16,
    /// 4 or 6.
    pub ip_version: u8,
    /// The IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, ...).
    pub protocol: u8,
    /// A [`Transport`] as `u8`.
    pub transport: u8,
    pub ttl: u8,
    pub tcp_flags: u8,
    pub icmp_type: u8,
    pub icmp_code: u8,
    /// [`frag`] bits.
    pub frag: u8,
    /// Bytes of IPv4 options in `options`.
    pub options_len: u8,
    /// Bytes of payload captured in `payload` (at most [`PAYLOAD_BYTES`]).
    pub payload_len: u8,
    /// `Packet::l4_held`: for a tiny fragment, the bytes of transport header it holds.
    pub l4_held: u8,
    /// `Packet::extensions`: IPv6 extension headers walked.
    pub extensions: u8,
    /// The TCP sequence number.
    pub tcp_seq: u32,
    pub pad: [u8; 4],
    /// The IPv4 options area, raw.
    pub options: [u8; 40],
    /// The first bytes of the transport payload.
    pub payload: [u8; PAYLOAD_BYTES],
}

const _: () = assert!(size_of::<FirstContact>() == 128);

impl FirstContact {
    /// The event for `p`, parsed from `frame`, seen at `ts_ns` (the replay's way in).
    pub fn from_frame(frame: &[u8], p: &Packet, ts_ns: u64) -> Self {
        let mut e = core::mem::MaybeUninit::<Self>::uninit();
        let start = frame.as_ptr() as usize;
        // SAFETY: `write_from` initialises every field, padding included; a slice is readable.
        unsafe {
            Self::write_from(e.as_mut_ptr(), start, start + frame.len(), p, ts_ns);
            e.assume_init()
        }
    }

    /// Writes the event for `p`, parsed from `[start, end)`, at `dst`, field by field. The XDP
    /// program fills a ring-buffer slot this way: the BPF stack (512 bytes) has no room for a
    /// copy of the event.
    ///
    /// # Safety
    /// `dst` must be valid for writes of a `FirstContact`; `[start, end)` readable.
    #[inline(always)]
    pub unsafe fn write_from(dst: *mut Self, start: usize, end: usize, p: &Packet, ts_ns: u64) {
        let mut frag_bits = 0;
        if p.dont_fragment {
            frag_bits |= frag::DONT_FRAGMENT;
        }
        if p.more_fragments {
            frag_bits |= frag::MORE_FRAGMENTS;
        }
        if p.is_fragment {
            frag_bits |= frag::IS_FRAGMENT;
        }
        if p.tiny_fragment {
            frag_bits |= frag::TINY_FRAGMENT;
        }
        if p.long_chain {
            frag_bits |= frag::LONG_CHAIN;
        }
        // SAFETY: the caller guarantees `dst` writable and the frame readable.
        unsafe {
            let (payload, payload_len) = payload_prefix(start, end, p);
            (&raw mut (*dst).ts_ns).write(ts_ns);
            (&raw mut (*dst).src).write(p.src);
            (&raw mut (*dst).dst).write(p.dst);
            (&raw mut (*dst).ip_id).write(p.ip_id);
            (&raw mut (*dst).src_port).write(p.src_port);
            (&raw mut (*dst).dst_port).write(p.dst_port);
            (&raw mut (*dst).tcp_window).write(p.tcp_window);
            (&raw mut (*dst).fragment_offset).write(p.fragment_offset);
            (&raw mut (*dst).ip_version).write(p.network as u8);
            (&raw mut (*dst).protocol).write(p.protocol);
            (&raw mut (*dst).transport).write(p.transport as u8);
            (&raw mut (*dst).ttl).write(p.ttl);
            (&raw mut (*dst).tcp_flags).write(p.tcp_flags);
            (&raw mut (*dst).icmp_type).write(p.icmp_type);
            (&raw mut (*dst).icmp_code).write(p.icmp_code);
            (&raw mut (*dst).frag).write(frag_bits);
            (&raw mut (*dst).options_len).write(p.ip_options.len);
            (&raw mut (*dst).payload_len).write(payload_len);
            (&raw mut (*dst).l4_held).write(p.l4_held);
            (&raw mut (*dst).extensions).write(p.extensions);
            (&raw mut (*dst).tcp_seq).write(p.tcp_seq);
            (&raw mut (*dst).pad).write([0; 4]);
            (&raw mut (*dst).options).write(options_raw(start, end, &p.ip_options));
            (&raw mut (*dst).payload).write(payload);
        }
    }

    /// The transport, decoded (unknown values read as `None`).
    pub const fn transport(&self) -> Transport {
        match self.transport {
            1 => Transport::Tcp,
            2 => Transport::Udp,
            3 => Transport::Icmp,
            4 => Transport::Icmpv6,
            _ => Transport::None,
        }
    }

    /// True for an answer, not a first contact: an established TCP segment (ACK without SYN),
    /// reported because it is the first of a reported contact's connection
    /// ([`crate::track::UNANSWERED`]). No first contact has these flags.
    pub const fn is_answer(&self) -> bool {
        self.transport == Transport::Tcp as u8
            && self.tcp_flags & (crate::packet::tcp_flags::ACK | crate::packet::tcp_flags::SYN)
                == crate::packet::tcp_flags::ACK
    }

    pub const fn network(&self) -> Network {
        match self.ip_version {
            4 => Network::Ipv4,
            6 => Network::Ipv6,
            _ => Network::Other,
        }
    }
}

#[cfg(feature = "user")]
// SAFETY: plain old data: integers and byte arrays, no padding (size asserted above).
unsafe impl aya::Pod for FirstContact {}
