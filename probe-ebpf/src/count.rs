//! Parse result → counters. Each CPU adds into its own slice: plain loads and stores, no atomics.

use aya_ebpf::{helpers::bpf_get_smp_processor_id, programs::XdpContext};
use aya_log_ebpf::debug;
use probe_common::{
    counters::{icmp_key, port_key, port_proto, total},
    packet::{Network, Packet, Transport, established_tcp, parse_into},
    track::{contact_key, flow_hash},
};

use crate::{
    maps::{
        DST_PORTS, ICMP, ICMPV6, PACKET, SRC_PORTS, SYN_PORTS, TCP_FLAGS, TOTALS, add, bump, slice,
    },
    track,
};

#[inline(always)]
pub fn frame(ctx: &XdpContext) {
    // SAFETY: a BPF helper with no arguments and no preconditions.
    let cpu = unsafe { bpf_get_smp_processor_id() };
    let Some(totals) = slice(&TOTALS, cpu) else {
        return;
    };
    let (start, end) = (ctx.data(), ctx.data_end());
    bump(totals, total::PACKETS, 1);
    bump(totals, total::BYTES, (end - start) as u64);
    // The busiest class first, without building a Packet: its counters are all it needs.
    // SAFETY: data..data_end is the packet the kernel handed us.
    if let Some(s) = unsafe { established_tcp(start, end) } {
        let network = match s.network {
            Network::Ipv6 => total::IPV6,
            _ => total::IPV4,
        };
        bump(totals, network, 1);
        add(&DST_PORTS, cpu, port_key(port_proto::TCP, s.dst_port), 1);
        add(&SRC_PORTS, cpu, port_key(port_proto::TCP, s.src_port), 1);
        add(&TCP_FLAGS, cpu, u32::from(s.tcp_flags), 1);
        return;
    }
    // Everything else is parsed into this CPU's slot in map memory, not onto the 512-byte stack.
    let Some(p) = PACKET.get_ptr_mut(0) else {
        return;
    };
    // SAFETY: this CPU's own slot, used by nothing else during this run of the program.
    let p = unsafe { &mut *p };
    // SAFETY: as above.
    if let Err(why) = unsafe { parse_into(p, start, end) } {
        bump(totals, total::MALFORMED, 1);
        // Off unless the daemon runs at debug level (it sets AYA_LOG_LEVEL at load): then
        // the cost is one load and compare per malformed frame.
        debug!(ctx, "malformed frame ({}): counted, not parsed", why.name());
        return;
    }
    let p: &Packet = p;
    if p.vlan_tags != 0 {
        bump(totals, total::VLAN_TAGGED, 1);
    }
    match p.network {
        Network::Ipv4 => bump(totals, total::IPV4, 1),
        Network::Ipv6 => bump(totals, total::IPV6, 1),
        Network::Other => {
            bump(totals, total::OTHER_ETHER_TYPE, 1);
            return;
        }
    }
    if p.is_fragment {
        bump(totals, total::FRAGMENTS, 1);
    }
    match p.transport {
        Transport::Tcp => {
            add(&DST_PORTS, cpu, port_key(port_proto::TCP, p.dst_port), 1);
            add(&SRC_PORTS, cpu, port_key(port_proto::TCP, p.src_port), 1);
            add(&TCP_FLAGS, cpu, u32::from(p.tcp_flags), 1);
            if p.is_connection_attempt() {
                add(&SYN_PORTS, cpu, u32::from(p.dst_port), 1);
            }
        }
        Transport::Udp => {
            add(&DST_PORTS, cpu, port_key(port_proto::UDP, p.dst_port), 1);
            add(&SRC_PORTS, cpu, port_key(port_proto::UDP, p.src_port), 1);
        }
        Transport::Icmp => add(&ICMP, cpu, icmp_key(p.icmp_type, p.icmp_code), 1),
        Transport::Icmpv6 => add(&ICMPV6, cpu, icmp_key(p.icmp_type, p.icmp_code), 1),
        Transport::None => {}
    }
    // Non-first fragments stop here: counted, nothing more to learn.
    let Some(key) = contact_key(p) else { return };
    let hash = flow_hash(&key);
    let known = track::seen(hash);
    // A repeat of a reported UDP or ICMP contact has nothing more to say; a repeated SYN, FIN
    // or RST to a reported port still tells about its source.
    if known && !matches!(p.transport, Transport::Tcp) {
        return;
    }
    track::packet(ctx, p, hash, known, totals);
}
