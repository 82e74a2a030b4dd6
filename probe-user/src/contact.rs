//! A first contact, decoded for the detectors: addresses as `IpAddr`, time as wall-clock
//! nanoseconds, IPv4 options walked. Live events and replayed packets both end up here.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use probe_common::{
    event::{FirstContact, frag},
    packet::{IpOptions, Network, Transport},
};
use serde::Serialize;

/// Which transport a contact used, as the detectors see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
    Icmp,
    Icmpv6,
    /// Any other IP protocol (its number is in [`Contact::protocol`]).
    Other,
}

impl Proto {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
            Self::Icmp => "icmp",
            Self::Icmpv6 => "icmpv6",
            Self::Other => "ip",
        }
    }

    pub const fn has_ports(self) -> bool {
        matches!(self, Self::Tcp | Self::Udp)
    }
}

/// One first contact: the first packet of a new (source, destination, protocol, port or ICMP
/// message), as the kernel (or the replay) saw it.
#[expect(
    clippy::struct_excessive_bools,
    reason = "independent header facts, each read by a detector"
)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contact {
    /// Wall-clock time, nanoseconds since the Unix epoch (capture time in a replay).
    pub ts_ns: u64,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub proto: Proto,
    /// The IP protocol number.
    pub protocol: u8,
    /// Ports (0 for ICMP and other protocols).
    pub src_port: u16,
    pub dst_port: u16,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    pub ip_id: u32,
    pub tcp_flags: u8,
    pub tcp_window: u16,
    pub tcp_seq: u32,
    pub icmp_type: u8,
    pub icmp_code: u8,
    /// IPv4 option numbers present, as bits of `probe_common::packet::ip_option`.
    pub ip_options: u32,
    /// The options area could not be walked (an option overran it).
    pub ip_options_malformed: bool,
    pub dont_fragment: bool,
    pub more_fragments: bool,
    pub fragment_offset: u16,
    /// A first fragment too short for its transport header (RFC 1858's tiny fragment).
    pub tiny_fragment: bool,
    /// For a tiny fragment, the bytes of the transport header it held.
    pub l4_held: u8,
    /// IPv6 extension headers walked before the transport.
    pub extensions: u8,
    /// An IPv6 extension header chain longer than the parser walks.
    pub long_chain: bool,
    /// The first bytes of the transport payload (at most 16).
    pub payload: Vec<u8>,
}

fn address(bytes: [u8; 16], network: Network) -> IpAddr {
    match network {
        Network::Ipv4 => IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3])),
        _ => IpAddr::V6(Ipv6Addr::from(bytes)),
    }
}

impl Contact {
    /// False for TCP in a tiny fragment that ended before the flags: `tcp_flags` is then
    /// unknown, not zero.
    pub const fn tcp_flags_known(&self) -> bool {
        !self.tiny_fragment || self.l4_held >= 14
    }

    /// Decodes `e`, whose timestamp becomes `ts_ns` (the caller converts the kernel's monotonic
    /// clock, or passes a capture time).
    pub fn from_event(e: &FirstContact, ts_ns: u64) -> Self {
        let network = e.network();
        let proto = match e.transport() {
            Transport::Tcp => Proto::Tcp,
            Transport::Udp => Proto::Udp,
            Transport::Icmp => Proto::Icmp,
            Transport::Icmpv6 => Proto::Icmpv6,
            Transport::None => Proto::Other,
        };
        let options = IpOptions {
            len: e.options_len.min(40),
            bytes: e.options,
        };
        let (ip_options, ip_options_malformed) = match options.kinds() {
            Ok(bits) => (bits, false),
            Err(_) => (0, true),
        };
        let payload_len = usize::from(e.payload_len).min(e.payload.len());
        Self {
            ts_ns,
            src: address(e.src, network),
            dst: address(e.dst, network),
            proto,
            protocol: e.protocol,
            src_port: e.src_port,
            dst_port: e.dst_port,
            ttl: e.ttl,
            ip_id: e.ip_id,
            tcp_flags: e.tcp_flags,
            tcp_window: e.tcp_window,
            tcp_seq: e.tcp_seq,
            icmp_type: e.icmp_type,
            icmp_code: e.icmp_code,
            ip_options,
            ip_options_malformed,
            dont_fragment: e.frag & frag::DONT_FRAGMENT != 0,
            more_fragments: e.frag & frag::MORE_FRAGMENTS != 0,
            fragment_offset: e.fragment_offset,
            tiny_fragment: e.frag & frag::TINY_FRAGMENT != 0,
            l4_held: e.l4_held,
            extensions: e.extensions,
            long_chain: e.frag & frag::LONG_CHAIN != 0,
            payload: e.payload[..payload_len].to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use probe_common::packet::{ip_option, parse};

    use super::*;

    /// An IPv4 TCP SYN from 198.18.0.66:40000 to 198.18.0.1:31337, TTL 61, with a loose
    /// source route option and two payload bytes.
    fn syn_with_lsrr() -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend([0x08, 0x00]);
        let options = [131u8, 7, 4, 198, 18, 0, 9, 0]; // LSRR (one hop) + EOL
        let total = 20 + options.len() + 20 + 2;
        f.extend([0x47, 0, 0, total as u8, 0x12, 0x34, 0x40, 0, 61, 6, 0, 0]);
        f.extend([198, 18, 0, 66, 198, 18, 0, 1]);
        f.extend(options);
        f.extend([
            0x9c, 0x40, 0x7a, 0x69, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0x04, 0x00, 0, 0, 0, 0,
        ]);
        f.extend(b"hi");
        f
    }

    #[test]
    fn an_event_decodes_to_addresses_ports_flags_options_and_payload() {
        let frame = syn_with_lsrr();
        let p = parse(&frame).unwrap();
        let e = FirstContact::from_frame(&frame, &p, 5);
        let c = Contact::from_event(&e, 1_700_000_000_000_000_000);
        assert_eq!(c.ts_ns, 1_700_000_000_000_000_000);
        assert_eq!(c.src, "198.18.0.66".parse::<IpAddr>().unwrap());
        assert_eq!(c.dst, "198.18.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(
            (c.proto, c.protocol, c.src_port, c.dst_port),
            (Proto::Tcp, 6, 40_000, 31_337)
        );
        assert_eq!(
            (c.ttl, c.ip_id, c.tcp_flags, c.tcp_window),
            (61, 0x1234, 0x02, 1024)
        );
        assert_eq!(c.ip_options, ip_option::LSRR | ip_option::END);
        assert!(!c.ip_options_malformed);
        assert!(c.dont_fragment && !c.more_fragments);
        assert_eq!(c.payload, b"hi");
    }
}
