//! Bounded tables the detectors keep their state in.
//!
//! What the detectors write never depends on hash order: sets that evidence lists are ordered
//! (`BTreeSet`), and [`Lru`] hands its entries out in key order and drops them by age, ties by
//! key. So a replay gives the same evidence as the live run. Every table has a cap and drops
//! its least recently touched entry to stay under it.

use std::{
    cmp::Reverse,
    collections::{BinaryHeap, HashMap, hash_map::Entry},
    fmt::Write as _,
    hash::Hash,
};

/// Tables with at most this many entries are kept in a plain vector.
const SMALL_LRU: usize = 64;

/// A map that remembers when each entry was last touched, drops the stalest beyond `cap`, and
/// expires entries not touched for a while.
#[derive(Clone, Debug)]
pub(crate) struct Lru<K: Ord + Hash + Clone, V> {
    slots: Slots<K, V>,
    cap: usize,
}

#[derive(Clone, Debug)]
enum Slots<K, V> {
    /// (key, last touched, value), in no order. The scans keep one small table per source
    /// and host (or port), made and dropped by the thousand: a vector searched end to end is
    /// one allocation and no hashing.
    Small(Vec<(K, u64, V)>),
    /// Entries in a hash map and their ages in a min-heap of (last touched, key): ordered
    /// trees made each touch of a large table a dozen key comparisons and node shifts. A
    /// touch pushes a new pair instead of moving the old one, which goes stale and is skipped
    /// when it reaches the top, so the heap hands out entries in the same order (oldest
    /// first, ties by key) as an ordered set of the live pairs would.
    ///
    /// Values are boxed: a hash table keeps up to half its buckets empty and holds two
    /// copies of itself while it grows, so a value kept inline (a detector's evidence is a
    /// couple of hundred bytes) cost that much again per entry, and more at the moment a
    /// table of thousands doubled.
    Big {
        map: HashMap<K, (u64, Box<V>)>,
        order: BinaryHeap<Reverse<(u64, K)>>,
    },
}

impl<K: Ord + Hash + Clone, V> Lru<K, V> {
    pub(crate) fn new(cap: usize) -> Self {
        let cap = cap.max(1);
        let slots = if cap <= SMALL_LRU {
            Slots::Small(Vec::new())
        } else {
            Slots::Big {
                map: HashMap::new(),
                order: BinaryHeap::new(),
            }
        };
        Self { slots, cap }
    }

    pub(crate) fn len(&self) -> usize {
        match &self.slots {
            Slots::Small(v) => v.len(),
            Slots::Big { map, .. } => map.len(),
        }
    }

    pub(crate) fn get(&self, k: &K) -> Option<&V> {
        match &self.slots {
            Slots::Small(v) => v.iter().find(|e| e.0 == *k).map(|e| &e.2),
            Slots::Big { map, .. } => map.get(k).map(|(_, v)| &**v),
        }
    }

    /// The entry for `k`, to change without marking it touched.
    pub(crate) fn get_mut(&mut self, k: &K) -> Option<&mut V> {
        match &mut self.slots {
            Slots::Small(v) => v.iter_mut().find(|e| e.0 == *k).map(|e| &mut e.2),
            Slots::Big { map, .. } => map.get_mut(k).map(|(_, v)| &mut **v),
        }
    }

    /// The entry for `k`, made by `make` if missing, marked touched at `now` (never moved back
    /// in time by a late contact).
    pub(crate) fn touch(&mut self, k: &K, now: u64, make: impl FnOnce() -> V) -> &mut V {
        let cap = self.cap;
        match &mut self.slots {
            Slots::Small(v) => {
                if let Some(i) = v.iter().position(|e| e.0 == *k) {
                    let e = &mut v[i];
                    e.1 = e.1.max(now);
                    return &mut e.2;
                }
                // Make room before adding, so the newcomer is never the one dropped.
                while v.len() >= cap {
                    let Some(i) = stalest(v) else {
                        break;
                    };
                    v.swap_remove(i);
                }
                v.push((k.clone(), now, make()));
                let last = v.len() - 1;
                &mut v[last].2
            }
            Slots::Big { map, order } => {
                compact(map, order);
                if map.len() >= cap && !map.contains_key(k) {
                    while map.len() >= cap {
                        let Some(Reverse((at, stale))) = order.pop() else {
                            break;
                        };
                        if live(map, at, &stale) {
                            map.remove(&stale);
                        }
                    }
                }
                match map.entry(k.clone()) {
                    Entry::Occupied(e) => {
                        let slot = e.into_mut();
                        if now > slot.0 {
                            slot.0 = now;
                            order.push(Reverse((now, k.clone())));
                        }
                        &mut slot.1
                    }
                    Entry::Vacant(e) => {
                        order.push(Reverse((now, k.clone())));
                        &mut e.insert((now, Box::new(make()))).1
                    }
                }
            }
        }
    }

    /// Drops the entry for `k`, if any (its stale place in a big table's order is skipped
    /// later, as any other's).
    pub(crate) fn remove(&mut self, k: &K) {
        match &mut self.slots {
            Slots::Small(v) => v.retain(|e| e.0 != *k),
            Slots::Big { map, .. } => {
                map.remove(k);
            }
        }
    }

    /// Drops every entry last touched before `before`.
    pub(crate) fn expire(&mut self, before: u64) {
        match &mut self.slots {
            Slots::Small(v) => v.retain(|e| e.1 >= before),
            Slots::Big { map, order } => {
                // Every pair in the heap, stale or not, is at least as old as the top one: a
                // top touched at or after `before` means nothing is due, without a lookup.
                while let Some(Reverse((at, k))) = order.peek()
                    && *at < before
                {
                    let is_live = live(map, *at, k);
                    let Some(Reverse((_, k))) = order.pop() else {
                        break;
                    };
                    if is_live {
                        map.remove(&k);
                    }
                }
            }
        }
    }

    /// When the stalest entry was last touched.
    pub(crate) fn oldest(&mut self) -> Option<u64> {
        match &mut self.slots {
            Slots::Small(v) => v.iter().map(|e| e.1).min(),
            Slots::Big { map, order } => {
                while let Some(Reverse((at, k))) = order.peek() {
                    if live(map, *at, k) {
                        return Some(*at);
                    }
                    order.pop();
                }
                None
            }
        }
    }

    /// Every entry, in no particular order: only for callers that sort what they keep, or
    /// only count or test it.
    pub(crate) fn iter_any_order(&self) -> Box<dyn Iterator<Item = (&K, &V)> + '_> {
        match &self.slots {
            Slots::Small(v) => Box::new(v.iter().map(|e| (&e.0, &e.2))),
            Slots::Big { map, .. } => Box::new(map.iter().map(|(k, (_, v))| (k, &**v))),
        }
    }

    /// Every entry, in key order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        let mut all: Vec<(&K, &V)> = match &self.slots {
            Slots::Small(v) => v.iter().map(|e| (&e.0, &e.2)).collect(),
            Slots::Big { map, .. } => map.iter().map(|(k, (_, v))| (k, &**v)).collect(),
        };
        all.sort_unstable_by(|a, b| a.0.cmp(b.0));
        all.into_iter()
    }
}

/// Where the entry least recently touched (ties: lowest key) sits in a small table.
fn stalest<K: Ord, V>(v: &[(K, u64, V)]) -> Option<usize> {
    (0..v.len()).min_by(|&a, &b| (v[a].1, &v[a].0).cmp(&(v[b].1, &v[b].0)))
}

/// Whether `(at, k)` is the current age of a live entry rather than a stale pair.
fn live<K: Hash + Eq, V>(map: &HashMap<K, (u64, V)>, at: u64, k: &K) -> bool {
    map.get(k).is_some_and(|(t, _)| *t == at)
}

/// Rebuilds the heap from the live entries once stale pairs outnumber them.
fn compact<K: Ord + Hash + Clone, V>(
    map: &HashMap<K, (u64, V)>,
    order: &mut BinaryHeap<Reverse<(u64, K)>>,
) {
    if order.len() > map.len().saturating_mul(2).saturating_add(64) {
        *order = map
            .iter()
            .map(|(k, (at, _))| Reverse((*at, k.clone())))
            .collect();
    }
}

/// A set that keeps at most `cap` members and counts the ones it had no room for.
///
/// A sorted vector, not a `BTreeSet`: most sets hold one or two members (a source's one
/// target), and a tree's first node costs some 200 bytes where the vector's first allocation
/// costs the members; with thousands of sources tracked per detector that is most of the
/// detectors' memory. Caps are a few hundred, so an insertion's shift stays short.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Capped<T: Ord> {
    set: Vec<T>,
    cap: usize,
    /// Insertions refused for lack of room (they may repeat members already refused).
    dropped: u64,
}

impl<T: Ord> Capped<T> {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            set: Vec::new(),
            cap: cap.max(1),
            dropped: 0,
        }
    }

    /// True if `v` was not yet a member and was added.
    pub(crate) fn insert(&mut self, v: T) -> bool {
        let Err(at) = self.set.binary_search(&v) else {
            return false;
        };
        if self.set.len() >= self.cap {
            self.dropped = self.dropped.saturating_add(1);
            return false;
        }
        // Grown one at a time while small: a set of one member holds one.
        if self.set.len() == self.set.capacity() && self.set.len() < 4 {
            self.set.reserve_exact(1);
        }
        self.set.insert(at, v);
        true
    }

    pub(crate) fn contains(&self, v: &T) -> bool {
        self.set.binary_search(v).is_ok()
    }

    pub(crate) fn len(&self) -> usize {
        self.set.len()
    }

    /// True when members were refused: `len` is then a lower bound.
    pub(crate) fn overflowed(&self) -> bool {
        self.dropped > 0
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        self.set.iter()
    }

    pub(crate) fn first(&self) -> Option<&T> {
        self.set.first()
    }
}

/// Counts by name (probe kinds, flag sets, options), in name order. A sorted vector for the
/// same reason as [`Capped`]: most hold one name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Tags(Vec<(Box<str>, u64)>);

impl Tags {
    /// Counts one more `tag`.
    pub(crate) fn add(&mut self, tag: &str) {
        match self.0.binary_search_by(|(t, _)| (**t).cmp(tag)) {
            Ok(i) => self.0[i].1 += 1,
            Err(i) => {
                if self.0.len() == self.0.capacity() && self.0.len() < 4 {
                    self.0.reserve_exact(1);
                }
                self.0.insert(i, (tag.into(), 1));
            }
        }
    }

    /// How often `tag` was counted.
    pub(crate) fn get(&self, tag: &str) -> u64 {
        self.0
            .binary_search_by(|(t, _)| (**t).cmp(tag))
            .map_or(0, |i| self.0[i].1)
    }

    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(t, _)| &**t)
    }

    /// The counts as evidence writes them.
    pub(crate) fn tally(&self) -> crate::findings::evidence::Tally {
        self.0.iter().map(|(t, n)| (t.to_string(), *n)).collect()
    }
}

/// Ports kept in a sorted list before the set switches to a bitmap.
const SMALL_PORTS: usize = 64;

/// A set of ports: a short sorted list (128 bytes at most), turned into an 8 KiB bitmap only
/// when a set grows past 64 ports, which only scans do.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct PortSet {
    small: Vec<u16>,
    bits: Option<Box<[u64; 1024]>>,
    len: u32,
}

impl PortSet {
    /// True if `port` was not yet a member.
    pub(crate) fn insert(&mut self, port: u16) -> bool {
        if self.bits.is_none() {
            match self.small.binary_search(&port) {
                Ok(_) => return false,
                Err(at) if self.small.len() < SMALL_PORTS => {
                    self.small.insert(at, port);
                    self.len += 1;
                    return true;
                }
                Err(_) => {
                    let mut bits = Box::new([0u64; 1024]);
                    for p in self.small.drain(..) {
                        bits[usize::from(p / 64)] |= 1u64 << (p % 64);
                    }
                    self.bits = Some(bits);
                }
            }
        }
        let Some(bits) = self.bits.as_mut() else {
            return false;
        };
        let (word, mask) = (usize::from(port / 64), 1u64 << (port % 64));
        if bits[word] & mask != 0 {
            return false;
        }
        bits[word] |= mask;
        self.len += 1;
        true
    }

    pub(crate) fn contains(&self, port: u16) -> bool {
        match &self.bits {
            Some(b) => b[usize::from(port / 64)] & (1u64 << (port % 64)) != 0,
            None => self.small.binary_search(&port).is_ok(),
        }
    }

    pub(crate) fn len(&self) -> u32 {
        self.len
    }

    /// The lowest member.
    pub(crate) fn first(&self) -> Option<u16> {
        match &self.bits {
            Some(_) => self.next_member(0),
            None => self.small.first().copied(),
        }
    }

    fn next_member(&self, from: u32) -> Option<u16> {
        let bits = self.bits.as_ref()?;
        let mut index = usize::try_from(from / 64).ok()?;
        // The word holding `from`, with the bits below it cleared.
        let shift = from % 64;
        let mut word = (bits.get(index)? >> shift) << shift;
        while word == 0 {
            index += 1;
            word = *bits.get(index)?;
        }
        u16::try_from(index * 64 + word.trailing_zeros() as usize).ok()
    }

    /// `"1-1024,3306,8080"`: at most `max_runs` runs, then `" (+N more ports)"`.
    ///
    /// Stops at the first run it will not show: detectors render their evidence on every
    /// contact, so walking the whole set each time would make a long scan cost the square of
    /// its length. The set knows its size, so the rest is counted without being walked.
    pub(crate) fn render(&self, max_runs: usize) -> String {
        let mut runs: Vec<(u16, u16)> = Vec::new();
        let mut shown = 0u32;
        let mut truncated = false;
        let mut take = |p: u16| -> bool {
            let extends =
                matches!(runs.last(), Some((_, hi)) if u32::from(*hi) + 1 == u32::from(p));
            if extends {
                if let Some(last) = runs.last_mut() {
                    last.1 = p;
                }
            } else if runs.len() >= max_runs {
                truncated = true;
                return false;
            } else {
                runs.push((p, p));
            }
            shown += 1;
            true
        };
        if self.bits.is_none() {
            for &p in &self.small {
                if !take(p) {
                    break;
                }
            }
        } else {
            let mut from = 0u32;
            while let Some(p) = self.next_member(from) {
                if !take(p) {
                    break;
                }
                from = u32::from(p) + 1;
            }
        }
        let mut s = String::new();
        for (lo, hi) in runs {
            if !s.is_empty() {
                s.push(',');
            }
            push_dec(&mut s, u64::from(lo));
            if lo != hi {
                s.push('-');
                push_dec(&mut s, u64::from(hi));
            }
        }
        if truncated {
            let _ = write!(s, " (+{} more ports)", self.len.saturating_sub(shown));
        }
        s
    }
}

/// Appends `n` in decimal, as `Display` writes it. A scan's port runs are up to a hundred
/// numbers per line; the formatting machinery cost more than the rest of the rendering.
pub(crate) fn push_dec(s: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[at..] {
        s.push(char::from(d));
    }
}

/// Lowest and highest TTL seen, plus the distinct values (at most 64 kept).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Ttls {
    pub(crate) min: u8,
    pub(crate) max: u8,
    pub(crate) values: Capped<u8>,
}

impl Default for Ttls {
    fn default() -> Self {
        Self {
            min: u8::MAX,
            max: 0,
            values: Capped::new(64),
        }
    }
}

impl Ttls {
    pub(crate) fn add(&mut self, ttl: u8) {
        self.min = self.min.min(ttl);
        self.max = self.max.max(ttl);
        self.values.insert(ttl);
    }

    pub(crate) fn list(&self) -> Vec<u8> {
        self.values.iter().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both kinds of table, with room for `cap` entries.
    fn both(cap: usize) -> [Lru<u32, u32>; 2] {
        let mut big = Lru::new(SMALL_LRU + 1);
        big.cap = cap;
        let small = Lru::new(cap);
        assert!(matches!(small.slots, Slots::Small(_)) && matches!(big.slots, Slots::Big { .. }));
        [small, big]
    }

    #[test]
    fn the_lru_drops_the_stalest_and_expires_by_time() {
        for mut t in both(2) {
            *t.touch(&1, 10, || 0) += 1;
            *t.touch(&2, 20, || 0) += 1;
            *t.touch(&1, 30, || 0) += 1;
            *t.touch(&3, 40, || 0) += 1;
            assert_eq!(t.len(), 2);
            assert_eq!(t.get(&1), Some(&2));
            assert_eq!(t.get(&2), None, "2 was the stalest");
            // A late touch does not move an entry back in time.
            t.touch(&3, 5, || 0);
            t.expire(35);
            assert_eq!((t.get(&1), t.get(&3)), (None, Some(&1)));
            assert_eq!(t.len(), 1);
        }
    }

    #[test]
    fn the_lru_drops_by_age_then_key_whatever_order_times_come_in() {
        for mut t in both(3) {
            t.touch(&1, 10, || 1);
            t.touch(&2, 10, || 2);
            t.touch(&3, 5, || 3);
            // Full: the stalest, 3 (touched at 5), makes room.
            t.touch(&4, 7, || 4);
            assert_eq!(t.iter().map(|(k, _)| *k).collect::<Vec<_>>(), vec![1, 2, 4]);
            // 1 moves on; of 2 (10) and 4 (7), 4 goes.
            t.touch(&1, 20, || 0);
            t.touch(&5, 8, || 5);
            assert_eq!(t.iter().map(|(k, _)| *k).collect::<Vec<_>>(), vec![1, 2, 5]);
            assert_eq!(t.oldest(), Some(8));
            // A tie in age goes to the lower key.
            t.touch(&5, 10, || 0);
            t.touch(&6, 30, || 6);
            assert_eq!(
                t.iter().map(|(k, v)| (*k, *v)).collect::<Vec<_>>(),
                vec![(1, 1), (5, 5), (6, 6)]
            );
            t.expire(20);
            assert_eq!(t.iter().map(|(k, _)| *k).collect::<Vec<_>>(), vec![1, 6]);
            assert_eq!(t.oldest(), Some(20));
            // Touching one entry over and over keeps the heap small and the answers right.
            for now in 31..10_000u64 {
                t.touch(&6, now, || 0);
            }
            if let Slots::Big { order, .. } = &t.slots {
                // Rebuilt from the two live entries whenever it passes 2 * 2 + 64 pairs, the
                // heap cycles between 3 and 69 pairs instead of growing by one per touch.
                assert_eq!(order.len(), 55);
            }
            t.touch(&7, 40, || 7);
            t.touch(&8, 50, || 8);
            assert_eq!(t.iter().map(|(k, _)| *k).collect::<Vec<_>>(), vec![6, 7, 8]);
            assert_eq!(t.oldest(), Some(40));
            t.expire(9_999);
            assert_eq!(t.oldest(), Some(9_999));
            assert_eq!((t.len(), t.get(&6)), (1, Some(&6)));
        }
    }

    #[test]
    fn capped_sets_count_what_they_refused() {
        let mut s = Capped::new(2);
        assert!(s.insert(5) && s.insert(1) && !s.insert(5));
        assert!(!s.insert(9));
        assert!(s.overflowed());
        assert_eq!(s.iter().copied().collect::<Vec<_>>(), vec![1, 5]);
        // Members come out in order whatever order they went in.
        let mut s = Capped::new(8);
        for v in [7, 3, 9, 3, 1, 8] {
            s.insert(v);
        }
        assert_eq!(s.iter().copied().collect::<Vec<_>>(), vec![1, 3, 7, 8, 9]);
        assert_eq!(
            (s.first(), s.contains(&8), s.contains(&2)),
            (Some(&1), true, false)
        );
    }

    #[test]
    fn tags_count_by_name_in_name_order() {
        let mut t = Tags::default();
        for tag in ["udp", "syn", "udp", "fragment", "udp"] {
            t.add(tag);
        }
        assert_eq!((t.get("udp"), t.get("syn"), t.get("xmas")), (3, 1, 0));
        assert_eq!(
            t.names().collect::<Vec<_>>(),
            vec!["fragment", "syn", "udp"]
        );
        let tally = t.tally();
        assert_eq!(
            tally.into_iter().collect::<Vec<_>>(),
            vec![
                ("fragment".to_owned(), 1),
                ("syn".to_owned(), 1),
                ("udp".to_owned(), 3)
            ]
        );
    }

    #[test]
    fn numbers_are_written_as_display_writes_them() {
        let mut values: Vec<u64> = (0..=1100).collect();
        values.extend([9_999, 10_000, 65_535, 65_536, 99_999_999, u64::MAX]);
        for n in values {
            let mut s = String::from("x");
            push_dec(&mut s, n);
            assert_eq!(s, format!("x{n}"));
        }
    }

    #[test]
    fn port_sets_render_as_runs() {
        let mut p = PortSet::default();
        assert_eq!((p.render(8), p.first()), (String::new(), None));
        for port in [80u16, 1, 2, 3, 65_535, 443, 444, 0, 63, 64, 65] {
            p.insert(port);
        }
        assert!(!p.insert(80));
        assert_eq!(p.len(), 11);
        assert_eq!(p.render(8), "0-3,63-65,80,443-444,65535");
        assert_eq!(p.render(2), "0-3,63-65 (+4 more ports)");
        assert_eq!(p.first(), Some(0));
        assert!(p.contains(65_535) && !p.contains(62));
        // Past 64 members the set becomes a bitmap and reads the same.
        for port in 1000..1100u16 {
            p.insert(port);
        }
        assert!(!p.insert(1050) && p.contains(80) && !p.contains(1100));
        assert_eq!(p.len(), 111);
        assert_eq!(p.render(8), "0-3,63-65,80,443-444,1000-1099,65535");
        assert_eq!(p.first(), Some(0));
    }
}
