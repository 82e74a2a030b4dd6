//! How much each source sent: the per-source table, read now and then, turned into what each
//! source added since the last look. Contacts say who is new; volume says how much, which is
//! what floods are made of: a smurf's or a reflection's victim gets one first contact per
//! amplifier and thousands of packets.
//!
//! The daemon reads the kernel's table ([`crate::sources::SourceMaps`]), the replay its own
//! copy of the same rule (`track::user::SourceTable`); both hand the slots to a
//! [`VolumeTracker`] once per [`VOLUME_EVERY_NS`] of their clock.

use std::{
    collections::{HashMap, HashSet},
    net::IpAddr,
};

use probe_common::track::{SourceKey, SourceSlot, SourceState};

use crate::sources::{address, merge_slots};

/// How often volume is taken: once a second of wall time live, of capture time in a replay.
/// Reading the kernel's table walks every CPU's slots (10 MiB a CPU by default): a few
/// milliseconds, so under 1% of a core at this rate.
pub const VOLUME_EVERY_NS: u64 = 1_000_000_000;

/// Sources are only passed on once they matter to a volume detector: an echo reply or a
/// reflected answer, or this many packets (a flood from one source).
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

/// The counts last passed on for a source, and when its slot was taken.
#[derive(Clone, Copy, Debug)]
struct Seen {
    first_seen_ns: u64,
    last_seen_ns: u64,
    packets: u64,
    bytes: u64,
    syns: u64,
    echo_replies: u64,
    reflected: u64,
}

/// Successive reads of a per-source table, turned into each source's additions.
#[derive(Debug, Default)]
pub struct VolumeTracker {
    seen: HashMap<SourceKey, Seen>,
    /// The latest `last_seen_ns` of the previous read: slots not touched since are skipped.
    since_ns: u64,
}

/// Sources remembered at most: the table's default size on two CPUs. Beyond it the ones not
/// touched longest are forgotten (and, if they come back, counted from their slot's start).
const MAX_REMEMBERED: usize = 1 << 17;

impl VolumeTracker {
    /// What each source added since the previous call, from `slots` (every CPU's, in any
    /// order; walked twice). Sources are in address order.
    pub fn observe<I>(&mut self, slots: impl Fn() -> I) -> Vec<Volume>
    where
        I: Iterator<Item = SourceSlot>,
    {
        let since = self.since_ns;
        // Only sources touched since the last look that a volume detector weighs (see
        // `MIN_PACKETS`), or passed on before: their keys first, then every CPU's slot of each,
        // so a source whose other CPU's slot is older is still summed whole. A flood of
        // spoofed sources, one packet each, leaves this empty.
        let mut latest = since;
        let fresh: HashSet<SourceKey> = slots()
            .filter(|s| s.state.last_seen_ns > since && s.key.ip_version != 0)
            .inspect(|s| latest = latest.max(s.state.last_seen_ns))
            .filter(|s| {
                s.state.echo_replies > 0
                    || s.state.reflected > 0
                    || s.state.packets >= MIN_PACKETS
                    || self.seen.contains_key(&s.key)
            })
            .map(|s| s.key)
            .collect();
        self.since_ns = latest;
        if fresh.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::new();
        for (key, s) in merge_slots(slots().filter(|s| fresh.contains(&s.key))) {
            let counts = Seen::of(&s);
            // A slot taken over since (a later first sighting) starts again from zero.
            let before = self
                .seen
                .get(&key)
                .filter(|b| b.first_seen_ns == s.first_seen_ns);
            let added = before.map_or(counts, |b| counts.minus(b));
            let passed_on = before.is_some();
            if passed_on
                || added.echo_replies > 0
                || added.reflected > 0
                || added.packets >= MIN_PACKETS
            {
                self.seen.insert(key, counts);
                if added.packets > 0 {
                    out.push(added.volume(address(&key)));
                }
            }
        }
        if self.seen.len() > MAX_REMEMBERED {
            let mut ages: Vec<u64> = self.seen.values().map(|s| s.last_seen_ns).collect();
            let cut = ages.len() - MAX_REMEMBERED;
            let (_, oldest_kept, _) = ages.select_nth_unstable(cut);
            let oldest_kept = *oldest_kept;
            self.seen.retain(|_, s| s.last_seen_ns >= oldest_kept);
        }
        out.sort_by_key(|v| v.src);
        out
    }
}

impl Seen {
    fn of(s: &SourceState) -> Self {
        Self {
            first_seen_ns: s.first_seen_ns,
            last_seen_ns: s.last_seen_ns,
            packets: s.packets,
            bytes: s.bytes,
            syns: s.syns,
            echo_replies: u64::from(s.echo_replies),
            reflected: u64::from(s.reflected),
        }
    }

    fn minus(self, b: &Self) -> Self {
        Self {
            packets: self.packets.saturating_sub(b.packets),
            bytes: self.bytes.saturating_sub(b.bytes),
            syns: self.syns.saturating_sub(b.syns),
            echo_replies: self.echo_replies.saturating_sub(b.echo_replies),
            reflected: self.reflected.saturating_sub(b.reflected),
            ..self
        }
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
        let first = t.observe(|| {
            [
                slot(2, 10, 20, 5, 5, 0),
                slot(3, 10, 20, 3, 0, 0),
                slot(4, 10, 20, 70, 0, 0),
            ]
            .into_iter()
        });
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
        let second = t.observe(|| {
            [
                slot(2, 10, 30, 12, 12, 0),
                slot(3, 10, 20, 3, 0, 0),
                slot(4, 25, 30, 66, 0, 0),
            ]
            .into_iter()
        });
        assert_eq!(
            second
                .iter()
                .map(|v| (v.src, v.packets, v.echo_replies))
                .collect::<Vec<_>>(),
            [(key(2), 7, 7), (key(4), 66, 0)]
        );
        // Nothing new: nothing passed on.
        assert!(
            t.observe(|| [slot(2, 10, 30, 12, 12, 0)].into_iter())
                .is_empty()
        );
    }
}
