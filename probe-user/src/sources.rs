//! Who is sending: the kernel's per-source table (`SOURCES`), read and merged over CPUs.
//!
//! Each CPU keeps its own direct-mapped table of the sources of tracked packets (every packet
//! but established TCP and repeats of a reported UDP or ICMP contact): packets, SYNs, sketches
//! of the destination ports and hosts, the TTL range, first and last seen. The table is mapped
//! read-only ([`crate::mapped`]); a read walks every CPU's slots and merges the ones of the same
//! source. With the default 65,536 slots per CPU that is 10 MiB a CPU, read only when a
//! `sources` or `port` query asks (a few milliseconds a CPU), never on the packet path.

use std::{collections::HashMap, io, net::IpAddr};

use aya::maps::MapData;
use probe_common::track::{
    HOST_SKETCH_BITS, PORT_SKETCH_BITS, SourceKey, SourceSlot, SourceState, port_bit,
};
use serde::{Deserialize, Serialize};

use crate::mapped::Mapped;

/// The per-source table of a loaded program, mapped.
pub struct SourceMaps {
    map: Mapped<SourceSlot>,
    /// Slots of one CPU's part.
    part_len: usize,
}

impl SourceMaps {
    /// Maps `slots` slots (every part of `cpus` CPUs) of the `SOURCES` map.
    pub fn new(map: MapData, slots: u32, cpus: usize) -> io::Result<Self> {
        Ok(Self {
            map: Mapped::new(map, slots as usize)?,
            part_len: slots as usize / cpus.max(1),
        })
    }

    /// Slots of one CPU's part: a source's slot is at the same place in every part.
    pub fn part_len(&self) -> usize {
        self.part_len
    }

    /// Every source in the table now, its CPUs' states merged.
    pub fn read(&self) -> Vec<(SourceKey, SourceState)> {
        merge_slots(self.slots())
    }

    /// Slots in the table (every CPU's part), and how many hold a source.
    pub fn occupancy(&self) -> (u64, u64) {
        let used = self.slots().filter(|s| s.key.ip_version != 0).count();
        (self.map.len() as u64, used as u64)
    }

    /// Every slot as it is now, every CPU's part.
    pub fn slots(&self) -> impl Iterator<Item = SourceSlot> + '_ {
        (0..self.map.len()).filter_map(|i| self.map.get(i))
    }
}

/// Merges the slots of one source kept by several CPUs: counts add up, times and TTLs widen,
/// sketches unite. Empty slots (a zero key) are skipped.
pub fn merge_slots(slots: impl Iterator<Item = SourceSlot>) -> Vec<(SourceKey, SourceState)> {
    let mut by_key: HashMap<SourceKey, SourceState> = HashMap::new();
    for slot in slots {
        if slot.key.ip_version == 0 {
            continue;
        }
        by_key
            .entry(slot.key)
            .and_modify(|s| merge(s, &slot.state))
            .or_insert(slot.state);
    }
    by_key.into_iter().collect()
}

fn merge(into: &mut SourceState, other: &SourceState) {
    into.first_seen_ns = into.first_seen_ns.min(other.first_seen_ns);
    if other.last_seen_ns > into.last_seen_ns {
        into.last_seen_ns = other.last_seen_ns;
        into.last_icmp = other.last_icmp;
    }
    into.packets = into.packets.saturating_add(other.packets);
    into.syns = into.syns.saturating_add(other.syns);
    into.bytes = into.bytes.saturating_add(other.bytes);
    into.echo_replies = into.echo_replies.saturating_add(other.echo_replies);
    into.reflected = into.reflected.saturating_add(other.reflected);
    for (a, b) in into.ports.iter_mut().zip(other.ports) {
        *a |= b;
    }
    for (a, b) in into.hosts.iter_mut().zip(other.hosts) {
        *a |= b;
    }
    into.ttl_min = into.ttl_min.min(other.ttl_min);
    into.ttl_max = into.ttl_max.max(other.ttl_max);
}

/// How many distinct items set `set` of a sketch's `bits` bits: linear counting (Whang et al.,
/// "A linear-time probabilistic counting algorithm", 1990), `-m ln(1 - set/m)`. A full sketch
/// says only "at least this many".
pub fn distinct(set: u32, bits: u32) -> u64 {
    if set == 0 {
        return 0;
    }
    let m = f64::from(bits);
    let free = f64::from(bits.saturating_sub(set)).max(0.5);
    // Whole items: the estimate is never below what the bits prove. It is positive (free ≤
    // m) and below 4,000 for these sketches, so the cast keeps it whole.
    #[expect(
        clippy::cast_sign_loss,
        clippy::cast_possible_truncation,
        reason = "a positive value of a few thousand"
    )]
    let estimate = (m * (m / free).ln()).round() as u64;
    estimate.max(u64::from(set))
}

/// Hops from the sender, from the TTL seen: the distance below the nearest usual initial TTL
/// (64 for Linux and macOS, 128 for Windows, 255 for network gear) at or above it.
pub fn hops(ttl: u8) -> u8 {
    let initial = match ttl {
        0..=64 => 64,
        65..=128 => 128,
        _ => 255,
    };
    initial - ttl
}

/// One source, as `probe query sources` answers it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRow {
    pub src: String,
    /// Tracked packets: every packet but established TCP and repeats of a reported UDP or ICMP
    /// contact.
    pub packets: u64,
    /// Connection attempts (SYN without ACK).
    pub syns: u64,
    /// Distinct destination ports, estimated from a 512-bit sketch.
    pub ports: u64,
    /// Distinct destination hosts, estimated from a 256-bit sketch.
    pub hosts: u64,
    pub ttl_min: u8,
    pub ttl_max: u8,
    /// Estimated hops from the sender (see [`hops`]).
    pub hops: u8,
    /// Wall-clock nanoseconds since the Unix epoch.
    pub first_seen_ns: u64,
    pub last_seen_ns: u64,
    /// The source's open findings: `kind` and, for a finding about one port, `port`.
    pub findings: Vec<SourceFinding>,
}

#[cfg(test)]
impl SourceRow {
    /// A row for tests: `src` sent `packets` to one port of one host, one hop away, seen at
    /// `seen_ns`, with no findings.
    pub fn sample(src: &str, packets: u64, seen_ns: u64) -> Self {
        Self {
            src: src.to_owned(),
            packets,
            syns: 0,
            ports: 1,
            hosts: 1,
            ttl_min: 64,
            ttl_max: 64,
            hops: 0,
            first_seen_ns: seen_ns,
            last_seen_ns: seen_ns,
            findings: Vec::new(),
        }
    }
}

/// An open finding about a source, in its row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceFinding {
    pub id: u64,
    pub kind: String,
    pub level: String,
    pub port: Option<u16>,
}

impl SourceFinding {
    /// How a table names it: its kind, and its port when it is about one
    /// (`trojan_probe 31337`).
    pub fn label(&self) -> String {
        match self.port {
            Some(p) => format!("{} {p}", self.kind),
            None => self.kind.clone(),
        }
    }
}

/// The address of a key.
pub fn address(key: &SourceKey) -> IpAddr {
    if key.ip_version == 4 {
        IpAddr::from([key.addr[0], key.addr[1], key.addr[2], key.addr[3]])
    } else {
        IpAddr::from(key.addr)
    }
}

/// True when `state`'s port sketch has `port`'s bit: the source sent to `port`, or to one of
/// the ports sharing its bit (about one in 512 of the others).
pub fn may_have_sent_to(state: &SourceState, port: u16) -> bool {
    let bit = port_bit(port);
    state.ports[(bit / 64) as usize % 8] & (1 << (bit % 64)) != 0
}

/// The row of a source: its state with estimates, times converted by `wall` (kernel monotonic
/// to wall-clock), without findings.
pub fn row(key: &SourceKey, s: &SourceState, wall: impl Fn(u64) -> u64) -> SourceRow {
    let ports: u32 = s.ports.iter().map(|w| w.count_ones()).sum();
    let hosts: u32 = s.hosts.iter().map(|w| w.count_ones()).sum();
    SourceRow {
        src: address(key).to_string(),
        packets: s.packets,
        syns: s.syns,
        ports: distinct(ports, PORT_SKETCH_BITS),
        hosts: distinct(hosts, HOST_SKETCH_BITS),
        ttl_min: s.ttl_min,
        ttl_max: s.ttl_max,
        hops: hops(s.ttl_max),
        first_seen_ns: wall(s.first_seen_ns),
        last_seen_ns: wall(s.last_seen_ns),
        findings: Vec::new(),
    }
}

/// A slot of source 198.18.0.`last`, for tests.
#[cfg(test)]
pub(crate) fn tests_slot(last: u8) -> SourceSlot {
    tests::slot(last, 0, &[], 64, (0, 0))
}

#[cfg(test)]
mod tests {
    use probe_common::track::{host_bit, port_bit};

    use super::*;

    pub(super) fn slot(
        last: u8,
        packets: u64,
        ports: &[u16],
        ttl: u8,
        seen: (u64, u64),
    ) -> SourceSlot {
        let mut s = SourceSlot {
            key: SourceKey {
                addr: [198, 18, 0, last, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                ip_version: 4,
                pad: [0; 3],
            },
            pad: [0; 4],
            state: SourceState {
                first_seen_ns: seen.0,
                last_seen_ns: seen.1,
                packets,
                syns: packets,
                bytes: packets * 60,
                ports: [0; 8],
                hosts: [0; 4],
                echo_replies: 0,
                reflected: 0,
                ttl_min: ttl,
                ttl_max: ttl,
                last_icmp: 0,
                pad: [0; 5],
            },
        };
        for &p in ports {
            let b = port_bit(p);
            s.state.ports[(b / 64) as usize] |= 1 << (b % 64);
        }
        let h = host_bit(&[198, 18, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        s.state.hosts[(h / 64) as usize] |= 1 << (h % 64);
        s
    }

    #[test]
    fn one_source_on_two_cpus_is_one_row_with_its_counts_added() {
        let empty = SourceSlot {
            key: SourceKey {
                addr: [0; 16],
                ip_version: 0,
                pad: [0; 3],
            },
            ..slot(9, 0, &[], 0, (0, 0))
        };
        let merged = merge_slots(
            [
                slot(2, 3, &[22, 80], 61, (100, 200)),
                empty,
                slot(2, 4, &[80, 443], 57, (50, 150)),
                slot(3, 1, &[53], 64, (10, 10)),
            ]
            .into_iter(),
        );
        let mut rows: Vec<SourceRow> = merged.iter().map(|(k, s)| row(k, s, |t| t + 1)).collect();
        rows.sort_by(|a, b| a.src.cmp(&b.src));
        assert_eq!(
            rows,
            [
                SourceRow {
                    src: "198.18.0.2".to_owned(),
                    packets: 7,
                    syns: 7,
                    ports: 3,
                    hosts: 1,
                    ttl_min: 57,
                    ttl_max: 61,
                    hops: 3,
                    first_seen_ns: 51,
                    last_seen_ns: 201,
                    findings: Vec::new(),
                },
                SourceRow {
                    src: "198.18.0.3".to_owned(),
                    packets: 1,
                    syns: 1,
                    ports: 1,
                    hosts: 1,
                    ttl_min: 64,
                    ttl_max: 64,
                    hops: 0,
                    first_seen_ns: 11,
                    last_seen_ns: 11,
                    findings: Vec::new(),
                },
            ]
        );
        let two = merged
            .iter()
            .find(|(k, _)| k.addr[3] == 2)
            .map(|(_, s)| *s)
            .unwrap();
        assert!(may_have_sent_to(&two, 443) && may_have_sent_to(&two, 22));
    }

    #[test]
    fn sketch_estimates_follow_linear_counting() {
        assert_eq!(distinct(0, 512), 0);
        assert_eq!(distinct(1, 512), 1);
        // 512 × ln(512 / 256) = 354.9: half the bits set means about 355 items.
        assert_eq!(distinct(256, 512), 355);
        // A full sketch counts half a free bit: 512 × ln(1024) = 3,548.9, a lower bound.
        assert_eq!(distinct(512, 512), 3_549);
        assert_eq!((hops(64), hops(52), hops(113), hops(250)), (0, 12, 15, 5));
    }
}
