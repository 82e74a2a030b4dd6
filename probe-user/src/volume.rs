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

/// A source's additions are passed on when they matter to a volume detector: an echo reply or
/// a reflected answer, or this many packets (a flood from one source). Fewer are put back in
/// their slots, taken with what follows, so a flood that starts just before a look is counted
/// whole at the next; and a place passed on at the last look passes on whatever it adds, so a
/// flood's last packets are counted too. A flood of spoofed sources, one packet each, passes
/// nothing on.
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
    /// Per place in a part: something there was passed on at the last look (see
    /// [`MIN_PACKETS`]); and the same for this look, being made.
    hot: Vec<bool>,
    next_hot: Vec<bool>,
    /// The latest `last_seen_ns` of the previous read: slots last touched before it are
    /// skipped.
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
        self.hot.resize(part_len, false);
        self.next_hot.clear();
        self.next_hot.resize(part_len, false);
        let mut sums: Vec<Sum> = Vec::new();
        let mut apart: HashMap<SourceKey, u32> = HashMap::new();
        let mut small: Vec<Small> = Vec::new();
        for (i, slot) in slots.enumerate() {
            let st = &slot.state;
            // Strictly before: the kernel stamps slots with a jiffy-grained clock, so a slot
            // counted again in the jiffy of the last look still shows that look's time.
            if slot.key.ip_version == 0 || st.last_seen_ns < since {
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
            let at = i % part_len;
            let place = &mut self.places[at];
            let sum = match sums.get((*place as usize).wrapping_sub(1)) {
                Some(s) if s.key == slot.key => *place - 1,
                Some(_) => *apart.entry(slot.key).or_insert_with(|| {
                    sums.push(Sum::new(slot.key));
                    u32::try_from(sums.len() - 1).unwrap_or(u32::MAX)
                }),
                None => {
                    sums.push(Sum::new(slot.key));
                    *place = u32::try_from(sums.len()).unwrap_or(u32::MAX);
                    *place - 1
                }
            };
            let Some(into) = sums.get_mut(sum as usize) else {
                continue;
            };
            into.counts.add(&added);
            let hot = self.hot.get(at).copied().unwrap_or(false);
            match Small::of(i, sum, &added) {
                Some(s) if !hot => small.push(s),
                _ => {
                    into.passes = true;
                    self.next_hot[at] = true;
                }
            }
        }
        for s in &mut sums {
            let c = &s.counts;
            s.passes |= c.echo_replies > 0 || c.reflected > 0 || c.packets >= MIN_PACKETS;
        }
        // A small addition of a source passed on is passed on with it; the others are put
        // back, to be taken with what their slots add next.
        for s in &small {
            if sums.get(s.sum as usize).is_some_and(|sum| sum.passes) {
                self.next_hot[s.slot as usize % part_len] = true;
            } else if let Some(t) = self.taken.get_mut(s.slot as usize) {
                t.packets = t.packets.wrapping_sub(u32::from(s.packets));
                t.syns = t.syns.wrapping_sub(u32::from(s.syns));
                t.bytes = t.bytes.wrapping_sub(u64::from(s.bytes));
            }
        }
        self.since_ns = latest;
        std::mem::swap(&mut self.hot, &mut self.next_hot);
        let mut out: Vec<Volume> = sums
            .into_iter()
            .filter(|s| s.passes)
            .map(|s| s.counts.volume(address(&s.key)))
            .collect();
        out.sort_unstable_by_key(|v| order(v.src));
        // A source apart from its place's first may also have been summed there under
        // another CPU's part: one line per source. (Each part decided alone whether it passes:
        // a small one held back is not lost, only taken later.)
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

/// One source's additions in a look (or part of them: see `apart` in
/// [`VolumeTracker::observe`]), and whether they are passed on.
struct Sum {
    key: SourceKey,
    counts: Counts,
    passes: bool,
}

impl Sum {
    fn new(key: SourceKey) -> Self {
        Self {
            key,
            counts: Counts::default(),
            passes: false,
        }
    }
}

/// A slot's addition too small to pass on by itself (see [`MIN_PACKETS`]): enough to put it
/// back if its source is not passed on either. Sixteen bytes, as a flood of spoofed sources
/// makes one a source.
struct Small {
    slot: u32,
    sum: u32,
    bytes: u32,
    packets: u8,
    syns: u8,
}

impl Small {
    /// `added`, at slot `slot` and summed at `sum`, when it is small.
    fn of(slot: usize, sum: u32, added: &Counts) -> Option<Self> {
        if added.packets >= MIN_PACKETS || added.echo_replies > 0 || added.reflected > 0 {
            return None;
        }
        Some(Self {
            slot: u32::try_from(slot).ok()?,
            sum,
            bytes: u32::try_from(added.bytes).ok()?,
            packets: u8::try_from(added.packets).ok()?,
            syns: u8::try_from(added.syns).ok()?,
        })
    }
}

const _: () = assert!(size_of::<Small>() == 16);

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
    fn replies_counted_in_the_jiffy_of_the_last_look_are_passed_on_at_the_next() {
        let mut t = VolumeTracker::default();
        // The kernel's clock is jiffy-grained: a look at time 30 sees 500 replies, and the
        // 940 that arrive after it, in the same jiffy, leave the slot stamped 30 still.
        let first = t.observe([slot(2, 10, 30, 500, 500, 0)].into_iter(), 1);
        assert_eq!(
            first.iter().map(|v| v.echo_replies).collect::<Vec<_>>(),
            [500]
        );
        let second = t.observe([slot(2, 10, 30, 1440, 1440, 0)].into_iter(), 1);
        assert_eq!(
            second
                .iter()
                .map(|v| (v.src, v.packets, v.echo_replies))
                .collect::<Vec<_>>(),
            [(key(2), 940, 940)]
        );
        // Looked at again unchanged: nothing more.
        assert!(
            t.observe([slot(2, 10, 30, 1440, 1440, 0)].into_iter(), 1)
                .is_empty()
        );
    }

    #[test]
    fn a_flood_that_straddles_looks_is_counted_whole_its_first_and_last_packets_too() {
        let mut t = VolumeTracker::default();
        // 19 SYNs before a look: too few to pass on, put back.
        assert!(
            t.observe([slot(2, 10, 20, 19, 0, 0)].into_iter(), 1)
                .is_empty()
        );
        // 11,962 more by the next: all 11,981 passed on.
        let second = t.observe([slot(2, 10, 30, 11_981, 0, 0)].into_iter(), 1);
        assert_eq!(
            second
                .iter()
                .map(|v| (v.src, v.packets, v.bytes))
                .collect::<Vec<_>>(),
            [(key(2), 11_981, 1_198_100)]
        );
        // The last 19: few, but from a place passed on at the last look.
        let third = t.observe([slot(2, 10, 40, 12_000, 0, 0)].into_iter(), 1);
        assert_eq!(
            third
                .iter()
                .map(|v| (v.src, v.packets, v.bytes))
                .collect::<Vec<_>>(),
            [(key(2), 19, 1_900)]
        );
        // Quiet since: nothing, and its place is no longer one that was passed on.
        assert!(
            t.observe([slot(2, 10, 40, 12_000, 0, 0)].into_iter(), 1)
                .is_empty()
        );
        assert!(
            t.observe([slot(2, 10, 50, 12_005, 0, 0)].into_iter(), 1)
                .is_empty()
        );
        // A new occupant of the slot counts from its own start, the five put back forgotten.
        let fifth = t.observe([slot(3, 45, 60, 70, 0, 0)].into_iter(), 1);
        assert_eq!(
            fifth.iter().map(|v| (v.src, v.packets)).collect::<Vec<_>>(),
            [(key(3), 70)]
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
