//! How much each source sent: the per-source table, read now and then, turned into what each
//! source added since the last look. Contacts say who is new; volume says how much, which is
//! what floods are made of: a smurf's or a reflection's victim gets one first contact per
//! amplifier and thousands of packets.
//!
//! The daemon reads the kernel's table ([`crate::sources::SourceMaps`]), the replay its own
//! copy of the same rule (`track::user::SourceTable`); both hand the slots to a
//! [`VolumeTracker`] once per [`VOLUME_EVERY_NS`] of their clock.

use std::{collections::HashMap, net::IpAddr};

use probe_common::track::{SourceKey, SourceSlot, SourceState};

use crate::sources::address;

/// How often volume is taken: once a second of wall time live, of capture time in a replay.
/// Reading the kernel's table walks every CPU's slots (10 MiB a CPU by default): a few
/// milliseconds, so under 1% of a core at this rate.
pub const VOLUME_EVERY_NS: u64 = 1_000_000_000;

/// Sources are only passed on when they matter to a volume detector in this look: an echo
/// reply or a reflected answer, or this many packets (a flood from one source). A flood of
/// spoofed sources, one packet each, passes nothing on.
pub const MIN_PACKETS: u64 = 64;

/// What one source added since the last look.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Volume {
    pub src: IpAddr,
    pub packets: u64,
    pub bytes: u64,
    pub syns: u64,
    pub echo_replies: u64,
    pub reflected: u64,
}

/// The counts of one slot, or their growth.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Counts {
    packets: u64,
    bytes: u64,
    syns: u64,
    echo_replies: u64,
    reflected: u64,
}

/// What a slot held at the last look: when its source was first seen (a new first sighting is
/// a new occupant, counted from zero) and its counts. The counts of packets are kept to their
/// low 32 bits, their growth taken modulo 2^32: no slot gains four billion packets between
/// two looks a second apart, and the table's every slot is remembered, so each byte counts.
#[derive(Clone, Copy, Debug, Default)]
struct Taken {
    first_seen_ns: u64,
    bytes: u64,
    packets: u32,
    syns: u32,
    echo_replies: u32,
    reflected: u32,
}

const _: () = assert!(size_of::<Taken>() == 32);

impl Taken {
    #[expect(
        clippy::cast_possible_truncation,
        reason = "the low 32 bits, on purpose (see the type)"
    )]
    fn of(s: &SourceState) -> Self {
        Self {
            first_seen_ns: s.first_seen_ns,
            bytes: s.bytes,
            packets: s.packets as u32,
            syns: s.syns as u32,
            echo_replies: s.echo_replies,
            reflected: s.reflected,
        }
    }

    /// What `self` added since `before` (of the same occupant).
    fn since(&self, before: &Self) -> Counts {
        Counts {
            packets: u64::from(self.packets.wrapping_sub(before.packets)),
            bytes: self.bytes.saturating_sub(before.bytes),
            syns: u64::from(self.syns.wrapping_sub(before.syns)),
            echo_replies: u64::from(self.echo_replies.wrapping_sub(before.echo_replies)),
            reflected: u64::from(self.reflected.wrapping_sub(before.reflected)),
        }
    }
}

/// Successive reads of a per-source table, turned into each source's additions.
///
/// Remembered per slot, not per source: a slot untouched since the last look added nothing,
/// so one pass over the table skips it at the cost of one comparison. A source's slots in the
/// CPUs' parts of the table sit at the same place in each part (the slot is its hash, masked),
/// so its additions are summed by that place, without hashing its address; two different
/// sources at one place in two parts (rare) are summed apart. Measured in
/// `cargo xtask bench`, "volume" row.
#[derive(Debug, Default)]
pub struct VolumeTracker {
    taken: Vec<Taken>,
    /// Per place in a part: one more than the index, in this look's sums, of the source that
    /// changed there (0: none).
    places: Vec<u32>,
    /// The latest `last_seen_ns` of the previous read: slots not touched since are skipped.
    since_ns: u64,
}

impl VolumeTracker {
    /// What each source added since the previous call, from `slots`: every CPU's part of the
    /// table, each `part_len` slots long, slot by slot, in the same order every time (the
    /// replay's table is one part). Sources are in address order.
    pub fn observe(
        &mut self,
        slots: impl Iterator<Item = SourceSlot>,
        part_len: usize,
    ) -> Vec<Volume> {
        let part_len = part_len.max(1);
        let since = self.since_ns;
        let mut latest = since;
        self.places.clear();
        self.places.resize(part_len, 0);
        let mut sums: Vec<(SourceKey, Counts)> = Vec::new();
        let mut apart: HashMap<SourceKey, Counts> = HashMap::new();
        for (i, slot) in slots.enumerate() {
            let st = &slot.state;
            if slot.key.ip_version == 0 || st.last_seen_ns <= since {
                continue;
            }
            latest = latest.max(st.last_seen_ns);
            if i >= self.taken.len() {
                self.taken.resize(i + 1, Taken::default());
            }
            let now = Taken::of(st);
            let t = &mut self.taken[i];
            let added = if t.first_seen_ns == st.first_seen_ns {
                now.since(t)
            } else {
                now.since(&Taken::default())
            };
            *t = now;
            if added.packets == 0 {
                continue;
            }
            let place = &mut self.places[i % part_len];
            match sums.get_mut((*place as usize).wrapping_sub(1)) {
                Some((key, sum)) if *key == slot.key => sum.add(&added),
                Some(_) => apart.entry(slot.key).or_default().add(&added),
                None => {
                    sums.push((slot.key, added));
                    *place = u32::try_from(sums.len()).unwrap_or(u32::MAX);
                }
            }
        }
        self.since_ns = latest;
        let mut out: Vec<Volume> = sums
            .into_iter()
            .chain(apart)
            .filter(|(_, c)| c.echo_replies > 0 || c.reflected > 0 || c.packets >= MIN_PACKETS)
            .map(|(key, c)| c.volume(address(&key)))
            .collect();
        out.sort_unstable_by_key(|v| order(v.src));
        // A source apart from its place's first may also have been summed there under
        // another CPU's part: one line per source.
        out.dedup_by(|b, a| {
            if a.src == b.src {
                a.packets += b.packets;
                a.bytes += b.bytes;
                a.syns += b.syns;
                a.echo_replies += b.echo_replies;
                a.reflected += b.reflected;
                true
            } else {
                false
            }
        });
        out
    }
}

/// An address as one sortable number, IPv4 before IPv6 (as `IpAddr`'s own order).
fn order(a: IpAddr) -> (u8, u128) {
    match a {
        IpAddr::V4(v4) => (4, u128::from(u32::from(v4))),
        IpAddr::V6(v6) => (6, u128::from(v6)),
    }
}

impl Counts {
    fn add(&mut self, b: &Self) {
        self.packets = self.packets.saturating_add(b.packets);
        self.bytes = self.bytes.saturating_add(b.bytes);
        self.syns = self.syns.saturating_add(b.syns);
        self.echo_replies = self.echo_replies.saturating_add(b.echo_replies);
        self.reflected = self.reflected.saturating_add(b.reflected);
    }

    fn volume(self, src: IpAddr) -> Volume {
        Volume {
            src,
            packets: self.packets,
            bytes: self.bytes,
            syns: self.syns,
            echo_replies: self.echo_replies,
            reflected: self.reflected,
        }
    }
}

#[cfg(test)]
mod tests {
    use probe_common::track::SourceKey;

    use super::*;

    fn slot(
        last: u8,
        first: u64,
        seen: u64,
        packets: u64,
        echo: u32,
        reflected: u32,
    ) -> SourceSlot {
        let mut s = crate::sources::tests_slot(last);
        s.state.first_seen_ns = first;
        s.state.last_seen_ns = seen;
        s.state.packets = packets;
        s.state.bytes = packets * 100;
        s.state.echo_replies = echo;
        s.state.reflected = reflected;
        s
    }

    fn key(last: u8) -> IpAddr {
        address(&SourceKey {
            addr: [198, 18, 0, last, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            ip_version: 4,
            pad: [0; 3],
        })
    }

    #[test]
    fn each_look_passes_on_what_a_source_added_since_the_last() {
        let mut t = VolumeTracker::default();
        // An amplifier's replies, a quiet source (not passed on), a flood of plain packets.
        let first = t.observe(
            [
                slot(2, 10, 20, 5, 5, 0),
                slot(3, 10, 20, 3, 0, 0),
                slot(4, 10, 20, 70, 0, 0),
            ]
            .into_iter(),
            3,
        );
        assert_eq!(
            first
                .iter()
                .map(|v| (v.src, v.packets, v.bytes, v.echo_replies))
                .collect::<Vec<_>>(),
            [(key(2), 5, 500, 5), (key(4), 70, 7000, 0)]
        );
        // A second look: the amplifier's seven more replies; the flood's slot was taken over
        // (a later first sighting), so it counts from its new start; the untouched source is
        // skipped.
        let second = t.observe(
            [
                slot(2, 10, 30, 12, 12, 0),
                slot(3, 10, 20, 3, 0, 0),
                slot(4, 25, 30, 66, 0, 0),
            ]
            .into_iter(),
            3,
        );
        assert_eq!(
            second
                .iter()
                .map(|v| (v.src, v.packets, v.echo_replies))
                .collect::<Vec<_>>(),
            [(key(2), 7, 7), (key(4), 66, 0)]
        );
        // Nothing new: nothing passed on.
        assert!(
            t.observe(
                [
                    slot(2, 10, 30, 12, 12, 0),
                    slot(3, 10, 20, 3, 0, 0),
                    slot(4, 25, 30, 66, 0, 0)
                ]
                .into_iter(),
                3
            )
            .is_empty()
        );
    }

    #[test]
    fn a_sources_parts_are_summed_by_place_and_different_sources_at_one_place_apart() {
        let mut t = VolumeTracker::default();
        // Two parts of two slots: source 2 at place 0 in both; at place 1, source 3 in the
        // first part and source 5 in the second.
        let got = t.observe(
            [
                slot(2, 10, 20, 40, 0, 0),
                slot(3, 10, 20, 70, 0, 0),
                slot(2, 11, 21, 30, 0, 0),
                slot(5, 12, 22, 80, 0, 0),
            ]
            .into_iter(),
            2,
        );
        assert_eq!(
            got.iter().map(|v| (v.src, v.packets)).collect::<Vec<_>>(),
            [(key(2), 70), (key(3), 70), (key(5), 80)]
        );
    }
}
