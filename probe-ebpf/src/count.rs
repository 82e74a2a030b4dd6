//! Parse result → counters. Each CPU adds into its own slice: plain loads and stores, no atomics.

use aya_ebpf::{helpers::bpf_get_smp_processor_id, programs::XdpContext};
use aya_log_ebpf::debug;
use probe_common::{
    counters::{
        DST_PORTS as DST, ICMP as ICMP4, ICMPV6 as ICMP6, SRC_PORTS as SRC, SYN_PORTS as SYN,
        TCP_FLAGS as FLAGS, TOTALS as TOT, icmp_key, port_key, port_proto, total,
    },
    packet::{Network, Packet, Transport, parse_into},
    track::contact_key,
};

use crate::{
    maps::{DST_PORTS, ICMP, ICMPV6, PACKET, SRC_PORTS, SYN_PORTS, TCP_FLAGS, TOTALS, add},
    track,
};

#[inline(always)]
pub fn frame(ctx: &XdpContext) {
    // SAFETY: a BPF helper with no arguments and no preconditions.
    let cpu = unsafe { bpf_get_smp_processor_id() };
    let total = |key, n| add(&TOTALS, cpu, TOT.slice, key, n);
    total(total::PACKETS, 1);
    // The packet is parsed into this CPU's slot in map memory, not onto the 512-byte stack.
    let Some(p) = PACKET.get_ptr_mut(0) else { return };
    // SAFETY: this CPU's own slot, used by nothing else during this run of the program;
    // data..data_end is the packet the kernel handed us.
    let p = unsafe { &mut *p };
    // SAFETY: as above.
    if let Err(why) = unsafe { parse_into(p, ctx.data(), ctx.data_end()) } {
        total(total::BYTES, (ctx.data_end() - ctx.data()) as u64);
        total(total::MALFORMED, 1);
        // Off unless the daemon runs at debug level (it sets AYA_LOG_LEVEL at load): then
        // the cost is one load and compare per malformed frame.
        debug!(ctx, "malformed frame ({}): counted, not parsed", why.name());
        return;
    }
    let p: &Packet = p;
    total(total::BYTES, u64::from(p.len));
    if p.vlan_tags != 0 {
        total(total::VLAN_TAGGED, 1);
    }
    match p.network {
        Network::Ipv4 => total(total::IPV4, 1),
        Network::Ipv6 => total(total::IPV6, 1),
        Network::Other => {
            total(total::OTHER_ETHER_TYPE, 1);
            return;
        }
    }
    if p.is_fragment {
        total(total::FRAGMENTS, 1);
    }
    match p.transport {
        Transport::Tcp => {
            add(
                &DST_PORTS,
                cpu,
                DST.slice,
                port_key(port_proto::TCP, p.dst_port),
                1,
            );
            add(
                &SRC_PORTS,
                cpu,
                SRC.slice,
                port_key(port_proto::TCP, p.src_port),
                1,
            );
            add(&TCP_FLAGS, cpu, FLAGS.slice, u32::from(p.tcp_flags), 1);
            if p.is_connection_attempt() {
                add(&SYN_PORTS, cpu, SYN.slice, u32::from(p.dst_port), 1);
            }
        }
        Transport::Udp => {
            add(
                &DST_PORTS,
                cpu,
                DST.slice,
                port_key(port_proto::UDP, p.dst_port),
                1,
            );
            add(
                &SRC_PORTS,
                cpu,
                SRC.slice,
                port_key(port_proto::UDP, p.src_port),
                1,
            );
        }
        Transport::Icmp => add(
            &ICMP,
            cpu,
            ICMP4.slice,
            icmp_key(p.icmp_type, p.icmp_code),
            1,
        ),
        Transport::Icmpv6 => {
            add(
                &ICMPV6,
                cpu,
                ICMP6.slice,
                icmp_key(p.icmp_type, p.icmp_code),
                1,
            );
        }
        Transport::None => {}
    }
    // Established TCP and non-first fragments stop here: counted, nothing more to learn.
    if let Some(key) = contact_key(p) {
        track::packet(ctx, p, &key, cpu);
    }
}
