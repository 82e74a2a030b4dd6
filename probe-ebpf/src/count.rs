//! Parse result → counters. Each CPU adds into its own slice: plain loads and stores, no atomics.

use aya_ebpf::{helpers::bpf_get_smp_processor_id, maps::Array, programs::XdpContext};
use aya_log_ebpf::debug;
use probe_common::{
    counters::{
        DST_PORTS as DST, ICMP as ICMP4, ICMPV6 as ICMP6, SRC_PORTS as SRC, SYN_PORTS as SYN,
        TCP_FLAGS as FLAGS, TOTALS as TOT, icmp_key, port_key, port_proto, total,
    },
    packet::{Network, Transport, parse_raw},
};

use crate::maps::{DST_PORTS, ICMP, ICMPV6, SRC_PORTS, SYN_PORTS, TCP_FLAGS, TOTALS};

/// Adds `n` to `key` of this CPU's slice of `map`. An index past the map (a CPU the daemon did
/// not size for) finds no element and is skipped rather than misfiled.
#[inline(always)]
fn add(map: &Array<u64>, cpu: u32, slice: u32, key: u32, n: u64) {
    if let Some(counter) = map.get_ptr_mut(cpu * slice + key) {
        // SAFETY: the pointer is to a live array element, and only this CPU writes its slice
        // (XDP runs with migration disabled, so the program cannot move CPU mid-packet).
        unsafe { *counter += n };
    }
}

#[inline(always)]
pub fn frame(ctx: &XdpContext) {
    // SAFETY: a BPF helper with no arguments and no preconditions.
    let cpu = unsafe { bpf_get_smp_processor_id() };
    // SAFETY: data..data_end is the packet the kernel handed us.
    let parsed = unsafe { parse_raw(ctx.data(), ctx.data_end()) };
    let total = |key, n| add(&TOTALS, cpu, TOT.slice, key, n);
    total(total::PACKETS, 1);
    let p = match parsed {
        Ok(p) => p,
        Err(why) => {
            total(total::BYTES, (ctx.data_end() - ctx.data()) as u64);
            total(total::MALFORMED, 1);
            // Off unless the daemon runs at debug level (it sets AYA_LOG_LEVEL at load): then
            // the cost is one load and compare per malformed frame.
            debug!(ctx, "malformed frame ({}): counted, not parsed", why.name());
            return;
        }
    };
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
}
