//! What the parser makes of one frame.
//!
//! [`parse`] (host, over a byte slice) and [`parse_raw`] (kernel, over the XDP context's
//! `data`/`data_end`) are the same function: the XDP program, the unit tests and the offline
//! replay all see a frame the same way.

mod options;
mod parse;

pub use options::{IpOptions, OptionsSpan};
pub use parse::{
    Attempt, Datagram, IPV6_MAX_EXTENSIONS, MAX_L4_OFFSET, Segment, Shortcut, options_raw, parse,
    parse_into, parse_raw, payload_of, payload_prefix, shortcut, shortcut_of,
};

/// EtherType values the parser follows. <https://www.iana.org/assignments/ieee-802-numbers>
pub mod ether_type {
    pub const IPV4: u16 = 0x0800;
    pub const IPV6: u16 = 0x86dd;
    /// IEEE 802.1Q customer tag.
    pub const VLAN: u16 = 0x8100;
    /// IEEE 802.1ad service tag (the outer tag of Q-in-Q).
    pub const QINQ: u16 = 0x88a8;
}

/// IP protocol numbers the parser decodes. <https://www.iana.org/assignments/protocol-numbers>
pub mod ip_proto {
    pub const HOPOPT: u8 = 0;
    pub const ICMP: u8 = 1;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const IPV6_ROUTE: u8 = 43;
    pub const IPV6_FRAG: u8 = 44;
    pub const ICMPV6: u8 = 58;
    pub const IPV6_NONXT: u8 = 59;
    pub const IPV6_OPTS: u8 = 60;
}

/// TCP flag bits as they sit in byte 13 of the header (RFC 9293 §3.1, RFC 3168 for ECE/CWR).
pub mod tcp_flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
    pub const ECE: u8 = 0x40;
    pub const CWR: u8 = 0x80;

    /// True for flags that open a connection: SYN set, ACK clear.
    #[inline(always)]
    pub const fn open_connection(flags: u8) -> bool {
        flags & (SYN | ACK) == SYN
    }
}

/// Bits of [`IpOptions::kinds`]: bit `n` is set when an IPv4 option whose *number* (the low five
/// bits of the option type, RFC 791 §3.1) is `n` appears in the header.
pub mod ip_option {
    pub const END: u32 = 1 << 0;
    pub const NOP: u32 = 1 << 1;
    pub const SECURITY: u32 = 1 << 2;
    /// Loose source and record route, type 131.
    pub const LSRR: u32 = 1 << 3;
    pub const TIMESTAMP: u32 = 1 << 4;
    /// Record route, type 7.
    pub const RECORD_ROUTE: u32 = 1 << 7;
    /// Strict source and record route, type 137.
    pub const SSRR: u32 = 1 << 9;
    /// Router alert, type 148.
    pub const ROUTER_ALERT: u32 = 1 << 20;
}

/// Network layer of a parsed frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(u8)]
pub enum Network {
    /// An EtherType the probe does not decode (ARP, LLDP, ...): only counted.
    #[default]
    Other = 0,
    Ipv4 = 4,
    Ipv6 = 6,
}

/// Transport layer of a parsed IP packet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(u8)]
pub enum Transport {
    /// No transport header to read: a non-first fragment, an IPv6 "no next header", or a
    /// protocol the probe does not decode ([`Packet::protocol`] still says which).
    #[default]
    None = 0,
    Tcp = 1,
    Udp = 2,
    Icmp = 3,
    Icmpv6 = 4,
}

/// Why a frame was counted as malformed instead of parsed. Each names the first rule broken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Malformed {
    /// Shorter than an Ethernet header, or a VLAN tag cut off.
    Ethernet = 1,
    /// IPv4 header cut off, version not 4, or IHL < 5.
    Ipv4Header = 2,
    /// IPv4 total length smaller than its header, or larger than the frame holds.
    Ipv4Length = 3,
    /// IPv4 options that overrun the header or carry a length below 2. The parser copies
    /// options without walking them; [`IpOptions::kinds`] reports this when it walks them.
    Ipv4Options = 4,
    /// IPv6 header cut off, or version not 6.
    Ipv6Header = 5,
    /// IPv6 payload length larger than the frame holds.
    Ipv6Length = 6,
    /// An IPv6 extension header cut off, or more of them than the parser follows.
    Ipv6Extension = 7,
    /// TCP header cut off, or data offset < 5.
    Tcp = 8,
    /// UDP header cut off, or UDP length < 8.
    Udp = 9,
    /// ICMP or ICMPv6 header cut off.
    Icmp = 10,
}

impl Malformed {
    /// A short stable name, for logs and JSON.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Ethernet => "ethernet",
            Self::Ipv4Header => "ipv4_header",
            Self::Ipv4Length => "ipv4_length",
            Self::Ipv4Options => "ipv4_options",
            Self::Ipv6Header => "ipv6_header",
            Self::Ipv6Length => "ipv6_length",
            Self::Ipv6Extension => "ipv6_extension",
            Self::Tcp => "tcp",
            Self::Udp => "udp",
            Self::Icmp => "icmp",
        }
    }
}

/// Everything the probe knows about one well-formed frame.
///
/// Offsets are from the start of the frame. Fields that a layer does not have stay zero.
#[expect(
    clippy::struct_excessive_bools,
    reason = "header bits as the wire has them; the XDP program reads each with one load"
)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Packet {
    /// Frame length in bytes, as received.
    pub len: u32,
    /// VLAN tags crossed (0, 1 or 2).
    pub vlan_tags: u8,
    /// The EtherType after any VLAN tags.
    pub ether_type: u16,
    pub network: Network,
    /// Source address: IPv4 in the first four bytes, the rest zero; IPv6 in all sixteen.
    pub src: [u8; 16],
    /// Destination address, laid out as [`Packet::src`].
    pub dst: [u8; 16],
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// IPv4 identification, or the IPv6 fragment header's identification (0 without one).
    pub ip_id: u32,
    /// Where the IPv4 options are; [`Packet::ip_options_in`] copies them out of the frame.
    pub ip_options: OptionsSpan,
    /// IPv4 DF bit.
    pub dont_fragment: bool,
    /// IPv4 MF bit, or the IPv6 fragment header's M flag.
    pub more_fragments: bool,
    /// Fragment offset in 8-byte units; non-zero means a non-first fragment.
    pub fragment_offset: u16,
    /// True for any fragment (first or not) of a fragmented datagram.
    pub is_fragment: bool,
    /// The upper-layer protocol number (after IPv6 extension headers).
    pub protocol: u8,
    pub transport: Transport,
    pub src_port: u16,
    pub dst_port: u16,
    pub tcp_flags: u8,
    pub tcp_window: u16,
    /// The TCP sequence number (0 when the header held none): scanners set it in telling ways.
    pub tcp_seq: u32,
    pub icmp_type: u8,
    pub icmp_code: u8,
    /// Offset of the transport header (0 when there is none).
    pub l4_offset: u16,
    /// Offset of the transport payload: after the TCP/UDP/ICMP header (0 when there is none).
    pub payload_offset: u16,
    /// Bytes of transport payload, as the IP header declares them (clamped to the frame).
    pub payload_len: u16,
    /// A first fragment too short to hold its transport header (or, for IPv6, its whole
    /// extension header chain): RFC 1858's tiny fragment. What it holds is decoded; see
    /// [`Packet::l4_held`].
    pub tiny_fragment: bool,
    /// For a tiny fragment, the bytes of the transport header it holds (0 otherwise): ports
    /// from 4, TCP flags from 14 ([`Packet::tcp_flags_known`]).
    pub l4_held: u8,
    /// IPv6 extension headers walked.
    pub extensions: u8,
    /// An IPv6 extension header chain longer than the parser walks
    /// (`IPV6_MAX_EXTENSIONS` headers, or past `MAX_L4_OFFSET`): no transport decoded,
    /// [`Packet::protocol`] is the header where the walk stopped.
    pub long_chain: bool,
}

impl Packet {
    /// True for a TCP segment that opens a connection: SYN set, ACK clear.
    pub const fn is_connection_attempt(&self) -> bool {
        matches!(self.transport, Transport::Tcp) && tcp_flags::open_connection(self.tcp_flags)
    }

    /// An ICMP or ICMPv6 echo reply.
    pub const fn is_echo_reply(&self) -> bool {
        matches!(
            (self.transport, self.icmp_type),
            (Transport::Icmp, 0) | (Transport::Icmpv6, 129)
        )
    }

    /// UDP from a reflector service's port to a port of 1024 or above: an answer, asked for or
    /// (in a reflection attack) forged for ([`crate::track::reflector_port`]).
    pub const fn is_reflected(&self) -> bool {
        matches!(self.transport, Transport::Udp)
            && self.dst_port >= 1024
            && crate::track::reflector_port(self.src_port)
    }

    /// A packet whose repeats still update its source's state: an echo reply or a reflected
    /// answer, what smurf and reflection floods are made of, so their volume is seen although
    /// each amplifier's first packet is its only first contact.
    pub const fn tracks_volume(&self) -> bool {
        self.is_echo_reply() || self.is_reflected()
    }

    /// False for a tiny fragment that ends before the TCP flags (byte 13): its `tcp_flags` are
    /// unknown, not a NULL segment.
    pub const fn tcp_flags_known(&self) -> bool {
        !self.tiny_fragment || self.l4_held >= 14
    }

    /// A non-first fragment carries no transport header: it must not count as a port hit.
    pub const fn is_non_first_fragment(&self) -> bool {
        self.fragment_offset != 0
    }

    /// The IPv4 options of this packet, copied out of `frame` (the frame it was parsed from).
    pub fn ip_options_in(&self, frame: &[u8]) -> IpOptions {
        let start = frame.as_ptr() as usize;
        // SAFETY: a slice is readable over its whole length.
        let bytes = unsafe { options_raw(start, start + frame.len(), &self.ip_options) };
        IpOptions {
            len: self.ip_options.len,
            bytes,
        }
    }

    /// The IPv4 source address, when the packet is IPv4.
    pub const fn src_v4(&self) -> Option<[u8; 4]> {
        match self.network {
            Network::Ipv4 => Some([self.src[0], self.src[1], self.src[2], self.src[3]]),
            _ => None,
        }
    }

    /// The IPv4 destination address, when the packet is IPv4.
    pub const fn dst_v4(&self) -> Option<[u8; 4]> {
        match self.network {
            Network::Ipv4 => Some([self.dst[0], self.dst[1], self.dst[2], self.dst[3]]),
            _ => None,
        }
    }
}

// The parser zeroes a Packet word by word (parse.rs, `reset`), and all zeros must be its default.
const _: () = assert!(size_of::<Packet>().is_multiple_of(4) && align_of::<Packet>() >= 4);

#[cfg(test)]
mod tests;
