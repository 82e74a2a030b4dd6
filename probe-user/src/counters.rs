//! Reading the kernel's counters: the counter map is mapped read-only once, and a read sums the
//! CPUs' blocks straight out of shared memory, with no syscall per key.

use std::io;

use crate::mapped::Mapped;
use aya::maps::MapData;
use probe_common::{
    counters::{
        BLOCK, DST_PORTS, Family, ICMP, ICMPV6, MAP, SRC_PORTS, SYN_PORTS, TCP_FLAGS, TOTALS,
        icmp_key, port_key, port_proto, total,
    },
    packet::{Network, Packet, Transport, tcp_flags},
};

/// The counters of a loaded program, ready to be read from any thread.
pub struct CounterMaps {
    map: Mapped<u64>,
    cpus: usize,
}

/// Errors mapping the counters.
#[derive(Debug, thiserror::Error)]
pub enum CountersError {
    #[error(
        "mapping the counter map {MAP} into memory failed (the probe reads its counters through mmap of a BPF array, which needs Linux 5.5 or later)"
    )]
    Mmap {
        #[source]
        source: io::Error,
    },
}

impl CounterMaps {
    /// Maps the counter map, `cpus` blocks long.
    pub fn new(map: MapData, cpus: usize) -> Result<Self, CountersError> {
        let map = Mapped::new(map, BLOCK as usize * cpus)
            .map_err(|source| CountersError::Mmap { source })?;
        Ok(Self { map, cpus })
    }

    /// Sums every CPU's counters of `family` into `out` (overwritten; `out.len()` = slice size).
    fn sum_into(&self, family: Family, out: &mut [u64]) {
        let slice = family.slice as usize;
        out.fill(0);
        for cpu in 0..self.cpus {
            let row = cpu * BLOCK as usize + family.offset as usize;
            for (key, sum) in out.iter_mut().enumerate().take(slice) {
                // `row + key < cpus * BLOCK`: the family lies inside the block.
                *sum = sum.wrapping_add(self.map.get(row + key).unwrap_or(0));
            }
        }
    }

    /// Reads every counter, summed over CPUs.
    pub fn read(&self) -> Snapshot {
        let mut s = Snapshot::zeroed();
        self.read_into(&mut s);
        s
    }

    /// Reads every counter into an existing snapshot, reusing its buffers.
    pub fn read_into(&self, s: &mut Snapshot) {
        self.sum_into(TOTALS, &mut s.totals);
        self.sum_into(DST_PORTS, &mut s.dst_ports);
        self.sum_into(SRC_PORTS, &mut s.src_ports);
        self.sum_into(SYN_PORTS, &mut s.syn_ports);
        self.sum_into(TCP_FLAGS, &mut s.tcp_flags);
        self.sum_into(ICMP, &mut s.icmp);
        self.sum_into(ICMPV6, &mut s.icmpv6);
    }
}

/// Every counter at one moment, summed over CPUs. Indexed as the kernel maps are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub totals: Vec<u64>,
    pub dst_ports: Vec<u64>,
    pub src_ports: Vec<u64>,
    pub syn_ports: Vec<u64>,
    pub tcp_flags: Vec<u64>,
    pub icmp: Vec<u64>,
    pub icmpv6: Vec<u64>,
}

impl Snapshot {
    /// All zeros, sized as the maps.
    pub fn zeroed() -> Self {
        let v = |f: Family| vec![0; f.slice as usize];
        Self {
            totals: v(TOTALS),
            dst_ports: v(DST_PORTS),
            src_ports: v(SRC_PORTS),
            syn_ports: v(SYN_PORTS),
            tcp_flags: v(TCP_FLAGS),
            icmp: v(ICMP),
            icmpv6: v(ICMPV6),
        }
    }

    /// Adds `other`'s counters to these, family by family, saturating: a daemon watching several
    /// interfaces answers with their sum, and a sum pinned at the top reads truer than one
    /// wrapped to a small number.
    pub fn add(&mut self, other: &Snapshot) {
        let families = [
            (&mut self.totals, &other.totals),
            (&mut self.dst_ports, &other.dst_ports),
            (&mut self.src_ports, &other.src_ports),
            (&mut self.syn_ports, &other.syn_ports),
            (&mut self.tcp_flags, &other.tcp_flags),
            (&mut self.icmp, &other.icmp),
            (&mut self.icmpv6, &other.icmpv6),
        ];
        for (sum, more) in families {
            for (s, m) in sum.iter_mut().zip(more) {
                *s = s.saturating_add(*m);
            }
        }
    }

    pub fn total(&self, key: u32) -> u64 {
        self.totals[key as usize]
    }

    /// Packets to (or, with `source`, from) `port` over `proto` (a `port_proto` value).
    pub fn port(&self, proto: u32, port: u16, source: bool) -> u64 {
        let ports = if source {
            &self.src_ports
        } else {
            &self.dst_ports
        };
        ports[port_key(proto, port) as usize]
    }

    /// TCP packets counted on ports (every TCP segment that was not a non-first fragment).
    pub fn tcp_packets(&self) -> u64 {
        self.dst_ports[..65_536].iter().sum()
    }

    pub fn udp_packets(&self) -> u64 {
        self.dst_ports[65_536..].iter().sum()
    }

    /// Counts one frame of `len` bytes as the XDP program does (probe-ebpf/src/count.rs), from
    /// what the shared parser made of it (`None`: refused, malformed). The replay counts a
    /// capture with it.
    pub fn count(&mut self, len: usize, packet: Option<&Packet>) {
        self.totals[total::PACKETS as usize] += 1;
        self.totals[total::BYTES as usize] += len as u64;
        let Some(p) = packet else {
            self.totals[total::MALFORMED as usize] += 1;
            return;
        };
        let mut bump = |key: u32| self.totals[key as usize] += 1;
        if p.vlan_tags != 0 {
            bump(total::VLAN_TAGGED);
        }
        match p.network {
            Network::Ipv4 => bump(total::IPV4),
            Network::Ipv6 => bump(total::IPV6),
            Network::Other => {
                bump(total::OTHER_ETHER_TYPE);
                return;
            }
        }
        if p.is_fragment {
            bump(total::FRAGMENTS);
        }
        if p.tiny_fragment {
            bump(total::TINY_FRAGMENTS);
        }
        if p.long_chain {
            bump(total::LONG_HEADER_CHAINS);
        }
        let mut ports = |proto: u32| {
            self.dst_ports[port_key(proto, p.dst_port) as usize] += 1;
            self.src_ports[port_key(proto, p.src_port) as usize] += 1;
        };
        match p.transport {
            Transport::Tcp => {
                ports(port_proto::TCP);
                // A tiny fragment cut before the flags has no flag combination to count.
                if p.tcp_flags_known() {
                    self.tcp_flags[usize::from(p.tcp_flags)] += 1;
                    if tcp_flags::open_connection(p.tcp_flags) {
                        self.syn_ports[usize::from(p.dst_port)] += 1;
                    }
                }
            }
            Transport::Udp => ports(port_proto::UDP),
            Transport::Icmp => self.icmp[icmp_key(p.icmp_type, p.icmp_code) as usize] += 1,
            Transport::Icmpv6 => self.icmpv6[icmp_key(p.icmp_type, p.icmp_code) as usize] += 1,
            Transport::None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_snapshots_add_up_family_by_family_and_saturate() {
        let mut a = Snapshot::zeroed();
        a.totals[total::PACKETS as usize] = 10;
        a.dst_ports[port_key(port_proto::UDP, 53) as usize] = 4;
        a.icmp[icmp_key(8, 0) as usize] = 2;
        a.tcp_flags[0x02] = u64::MAX - 1;
        let mut b = Snapshot::zeroed();
        b.totals[total::PACKETS as usize] = 5;
        b.dst_ports[port_key(port_proto::UDP, 53) as usize] = 3;
        b.src_ports[port_key(port_proto::TCP, 443) as usize] = 7;
        b.syn_ports[22] = 1;
        b.icmpv6[icmp_key(128, 0) as usize] = 6;
        b.tcp_flags[0x02] = 5;
        a.add(&b);
        assert_eq!(a.total(total::PACKETS), 15);
        assert_eq!(a.port(port_proto::UDP, 53, false), 7);
        assert_eq!(a.port(port_proto::TCP, 443, true), 7);
        assert_eq!(a.syn_ports[22], 1);
        assert_eq!(a.icmp[icmp_key(8, 0) as usize], 2);
        assert_eq!(a.icmpv6[icmp_key(128, 0) as usize], 6);
        assert_eq!(a.tcp_flags[0x02], u64::MAX, "pinned, not wrapped");
        assert_eq!(a.udp_packets(), 7);
    }
}
