//! Parse result → counters. Each CPU adds into its own slice: plain loads and stores, no atomics.

use aya_ebpf::{helpers::bpf_get_smp_processor_id, programs::XdpContext};
use aya_log_ebpf::debug;
use probe_common::{
    counters::{
        DST_PORTS, ICMP, ICMPV6, SRC_PORTS, SYN_PORTS, TCP_FLAGS, TOTALS, icmp_key, port_key,
        port_proto, total,
    },
    packet::{Network, Packet, Shortcut, Transport, parse_into, shortcut, tcp_flags},
    track::{answer_key, contact_key, flow_hash, reflector_port},
};

use crate::{
    maps::{Block, PACKET, block, bump},
    track,
};

#[inline(always)]
pub fn frame(ctx: &XdpContext) {
    // SAFETY: a BPF helper with no arguments and no preconditions.
    let cpu = unsafe { bpf_get_smp_processor_id() };
    let Some(c) = block(cpu) else {
        return;
    };
    let (start, end) = (ctx.data(), ctx.data_end());
    bump(c, TOTALS, total::PACKETS, 1);
    bump(c, TOTALS, total::BYTES, (end - start) as u64);
    // The busiest classes first, without building a Packet: an established TCP segment needs
    // its counters and nothing more, another TCP segment its counters and its tracking, and a
    // UDP datagram its counters, plus tracking only if its contact is new.
    // SAFETY: data..data_end is the packet the kernel handed us.
    let new_datagram = match unsafe { shortcut(start, end, &track::Listed) } {
        Some(Shortcut::Established(s)) => {
            bump(c, TOTALS, network_total(s.network), 1);
            tcp(c, s.src_port, s.dst_port, s.tcp_flags);
            // The first segment after a reported SYN completed its handshake: reported once,
            // as the contact's answer. Every other segment stops at this one slot.
            if track::awaits_answer(cpu, s.contact)
                && let Some(p) = PACKET.get_ptr_mut(0)
            {
                // SAFETY: this CPU's own slot (see below); the frame as above.
                let p = unsafe { &mut *p };
                if unsafe { parse_into(p, start, end) }.is_ok() {
                    track::answer(ctx, p, s.contact, c);
                }
            }
            return;
        }
        Some(Shortcut::Attempt(a)) => {
            bump(c, TOTALS, network_total(a.network), 1);
            tcp(c, a.src_port, a.dst_port, a.tcp_flags);
            let known = track::seen(cpu, a.contact);
            if track::attempt(&a, (end - start) as u32, known, c) {
                // Only a first contact the rate limit lets through needs the whole packet,
                // for its event. The shortcut took the frame, so the parser does too.
                if let Some(p) = PACKET.get_ptr_mut(0) {
                    // SAFETY: this CPU's own slot (see below); the frame as above.
                    let p = unsafe { &mut *p };
                    if unsafe { parse_into(p, start, end) }.is_ok() {
                        track::emit(ctx, p, a.contact, c);
                    }
                }
            }
            return;
        }
        Some(Shortcut::Datagram(d)) => {
            // A reflected answer's repeats go on to update its source (below, after the full
            // parse): a reflection flood is one contact per reflector, and its volume is the
            // attack. Every other repeat stops here.
            let reflected = d.dst_port >= 1024 && reflector_port(d.src_port);
            if track::seen(cpu, d.contact) && !reflected {
                bump(c, TOTALS, network_total(d.network), 1);
                udp(c, d.src_port, d.dst_port);
                return;
            }
            if reflected {
                // Hashed again below, where whether it is known is asked too.
                None
            } else {
                // A new contact: the full parse below builds what tracking needs, and its
                // hash (the one `flow_hash` of its contact key gives) is already known.
                Some(d.contact)
            }
        }
        None => None,
    };
    // Everything else is parsed into this CPU's slot in map memory, not onto the 512-byte stack.
    let Some(p) = PACKET.get_ptr_mut(0) else {
        return;
    };
    // SAFETY: this CPU's own slot, used by nothing else during this run of the program.
    let p = unsafe { &mut *p };
    // SAFETY: as above.
    if let Err(why) = unsafe { parse_into(p, start, end) } {
        bump(c, TOTALS, total::MALFORMED, 1);
        // Off unless the daemon runs at debug level (it sets AYA_LOG_LEVEL at load): then
        // the cost is one load and compare per malformed frame.
        debug!(ctx, "malformed frame ({}): counted, not parsed", why.name());
        return;
    }
    let p: &Packet = p;
    if p.vlan_tags != 0 {
        bump(c, TOTALS, total::VLAN_TAGGED, 1);
    }
    match p.network {
        Network::Ipv4 => bump(c, TOTALS, total::IPV4, 1),
        Network::Ipv6 => bump(c, TOTALS, total::IPV6, 1),
        Network::Other => {
            bump(c, TOTALS, total::OTHER_ETHER_TYPE, 1);
            return;
        }
    }
    if p.is_fragment {
        bump(c, TOTALS, total::FRAGMENTS, 1);
    }
    if p.tiny_fragment {
        bump(c, TOTALS, total::TINY_FRAGMENTS, 1);
    }
    if p.long_chain {
        bump(c, TOTALS, total::LONG_HEADER_CHAINS, 1);
    }
    match p.transport {
        Transport::Tcp if p.tcp_flags_known() => tcp(c, p.src_port, p.dst_port, p.tcp_flags),
        // A tiny fragment cut before the flags: its ports, and no flag combination it never had.
        Transport::Tcp => ports(c, port_proto::TCP, p.src_port, p.dst_port),
        Transport::Udp => udp(c, p.src_port, p.dst_port),
        Transport::Icmp => bump(c, ICMP, icmp_key(p.icmp_type, p.icmp_code), 1),
        Transport::Icmpv6 => bump(c, ICMPV6, icmp_key(p.icmp_type, p.icmp_code), 1),
        Transport::None => {}
    }
    let (hash, known) = match new_datagram {
        Some(hash) => (hash, false),
        None => {
            // Non-first fragments stop here: counted, nothing more to learn. So does an
            // established segment, once it was checked for being an answer (as above, for the
            // segments the shortcut leaves to the parser: tagged, with options, ...).
            let Some(key) = contact_key(p, &track::Listed) else {
                if let Some(key) = answer_key(p, &track::Listed) {
                    let hash = flow_hash(&key);
                    if track::awaits_answer(cpu, hash) {
                        track::answer(ctx, p, hash, c);
                    }
                }
                return;
            };
            let hash = flow_hash(&key);
            (hash, track::seen(cpu, hash))
        }
    };
    // A repeat of a reported UDP or ICMP contact has nothing more to say, unless it is an echo
    // reply or a reflected answer (their volume is the attack); a repeated SYN, FIN or RST to
    // a reported port still tells about its source.
    if known && !matches!(p.transport, Transport::Tcp) && !p.tracks_volume() {
        return;
    }
    track::packet(ctx, p, hash, known, c);
}

/// A TCP segment's port and flag counters, and its destination's connection attempts.
#[inline(always)]
fn tcp(c: &mut Block, src_port: u16, dst_port: u16, flags: u8) {
    bump(c, DST_PORTS, port_key(port_proto::TCP, dst_port), 1);
    bump(c, SRC_PORTS, port_key(port_proto::TCP, src_port), 1);
    bump(c, TCP_FLAGS, u32::from(flags), 1);
    // Never for an established segment, where the compiler knows it and drops the test.
    if tcp_flags::open_connection(flags) {
        bump(c, SYN_PORTS, u32::from(dst_port), 1);
    }
}

/// A UDP datagram's port counters.
#[inline(always)]
fn udp(c: &mut Block, src_port: u16, dst_port: u16) {
    ports(c, port_proto::UDP, src_port, dst_port);
}

/// The destination and source port counters of `proto`.
#[inline(always)]
fn ports(c: &mut Block, proto: u32, src_port: u16, dst_port: u16) {
    bump(c, DST_PORTS, port_key(proto, dst_port), 1);
    bump(c, SRC_PORTS, port_key(proto, src_port), 1);
}

/// The totals counter of a shortcut's network (IPv4 or IPv6; the shortcut takes nothing else).
#[inline(always)]
fn network_total(network: Network) -> u32 {
    match network {
        Network::Ipv6 => total::IPV6,
        _ => total::IPV4,
    }
}
