//! Between two reads of the counters: what became active.
//!
//! A port or ICMP type/code "becomes active" when it counted packets in this interval but none
//! in the previous one. Steady traffic is reported once, when it starts; traffic that pauses for
//! an interval and resumes is reported again.

use crate::{counters::Snapshot, knowledge::Proto};

/// Something that became active, with what it counted in this interval.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Became {
    Port {
        proto: Proto,
        port: u16,
        packets: u64,
        /// Connection attempts (TCP only).
        syn: u64,
    },
    Icmp {
        /// True for ICMPv6.
        v6: bool,
        icmp_type: u8,
        code: u8,
        packets: u64,
    },
}

/// Remembers the previous read and what was active in it.
pub struct Collector {
    last: Snapshot,
    active_ports: Vec<bool>,
    active_icmp: Vec<bool>,
    active_icmpv6: Vec<bool>,
}

impl Default for Collector {
    fn default() -> Self {
        Self::new(Snapshot::zeroed())
    }
}

/// Marks keys whose count grew as active; yields `(key, delta)` for those that were not before.
fn newly_active<'a>(
    now: &'a [u64],
    last: &'a [u64],
    active: &'a mut [bool],
) -> impl Iterator<Item = (usize, u64)> + 'a {
    now.iter()
        .zip(last)
        .zip(active.iter_mut())
        .enumerate()
        .filter_map(|(key, ((&n, &l), was))| {
            let delta = n.wrapping_sub(l);
            let became = delta != 0 && !*was;
            *was = delta != 0;
            became.then_some((key, delta))
        })
}

impl Collector {
    /// Starts from `baseline`: what was counted before it is not news.
    pub fn new(baseline: Snapshot) -> Self {
        Self {
            active_ports: vec![false; baseline.dst_ports.len()],
            active_icmp: vec![false; baseline.icmp.len()],
            active_icmpv6: vec![false; baseline.icmpv6.len()],
            last: baseline,
        }
    }

    /// Compares `now` with the previous read and keeps it for the next one. The two trade
    /// places rather than being copied (a snapshot is some 3.5 MiB): afterwards `now` holds
    /// the previous read, buffers for the caller's next `CounterMaps::read_into` to overwrite.
    pub fn observe(&mut self, now: &mut Snapshot) -> Vec<Became> {
        let mut out = Vec::new();
        for (key, packets) in
            newly_active(&now.dst_ports, &self.last.dst_ports, &mut self.active_ports)
        {
            let proto = Proto::of_counter_index((key / 65_536) as u32);
            let port = (key % 65_536) as u16;
            let syn = if proto == Proto::Tcp {
                now.syn_ports[port as usize].wrapping_sub(self.last.syn_ports[port as usize])
            } else {
                0
            };
            out.push(Became::Port {
                proto,
                port,
                packets,
                syn,
            });
        }
        for (v6, now_c, last_c, active) in [
            (false, &now.icmp, &self.last.icmp, &mut self.active_icmp),
            (
                true,
                &now.icmpv6,
                &self.last.icmpv6,
                &mut self.active_icmpv6,
            ),
        ] {
            for (key, packets) in newly_active(now_c, last_c, active) {
                out.push(Became::Icmp {
                    v6,
                    icmp_type: (key >> 8) as u8,
                    code: key as u8,
                    packets,
                });
            }
        }
        std::mem::swap(&mut self.last, now);
        out
    }
}

#[cfg(test)]
mod tests {
    use probe_common::counters::{icmp_key, port_key, port_proto};

    use super::*;

    fn with_udp(port: u16, n: u64) -> Snapshot {
        let mut s = Snapshot::zeroed();
        s.dst_ports[port_key(port_proto::UDP, port) as usize] = n;
        s
    }

    #[test]
    fn a_port_is_reported_when_it_starts_not_while_it_stays_busy() {
        let mut c = Collector::default();
        assert_eq!(
            c.observe(&mut with_udp(53, 4)),
            [Became::Port {
                proto: Proto::Udp,
                port: 53,
                packets: 4,
                syn: 0
            }]
        );
        let mut next = with_udp(53, 9);
        assert_eq!(c.observe(&mut next), []);
        assert_eq!(
            next,
            with_udp(53, 4),
            "the previous read comes back for reuse"
        );
        // Quiet for one interval, then busy again: news again.
        assert_eq!(c.observe(&mut with_udp(53, 9)), []);
        assert_eq!(
            c.observe(&mut with_udp(53, 10)),
            [Became::Port {
                proto: Proto::Udp,
                port: 53,
                packets: 1,
                syn: 0
            }]
        );
    }

    #[test]
    fn counts_before_the_baseline_are_not_news() {
        let mut c = Collector::new(with_udp(53, 100));
        assert_eq!(c.observe(&mut with_udp(53, 100)), []);
    }

    #[test]
    fn tcp_reports_connection_attempts_and_icmp_its_type_and_code() {
        let mut c = Collector::default();
        let mut s = Snapshot::zeroed();
        s.dst_ports[port_key(port_proto::TCP, 31_337) as usize] = 3;
        s.syn_ports[31_337] = 2;
        s.icmpv6[icmp_key(128, 0) as usize] = 1;
        s.icmp[icmp_key(3, 4) as usize] = 5;
        assert_eq!(
            c.observe(&mut s),
            [
                Became::Port {
                    proto: Proto::Tcp,
                    port: 31_337,
                    packets: 3,
                    syn: 2
                },
                Became::Icmp {
                    v6: false,
                    icmp_type: 3,
                    code: 4,
                    packets: 5
                },
                Became::Icmp {
                    v6: true,
                    icmp_type: 128,
                    code: 0,
                    packets: 1
                },
            ]
        );
    }
}
