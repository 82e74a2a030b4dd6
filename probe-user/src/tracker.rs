//! The kernel's first-contact rules, for the replay: the same contact keys, the same
//! remembered-contacts capacity and the same event rate limit, driven by capture time.
//!
//! The kernel keeps one token bucket per CPU; a capture has no CPUs, so the replay uses one.
//! The replay remembers contacts in an exact LRU of the same capacity; the kernel's per-CPU
//! tables are direct-mapped and forget a contact when another takes over its slot. Either way
//! a forgotten contact that recurs is reported again.

use std::collections::{HashMap, VecDeque};

use probe_common::{
    packet::Packet,
    track::{ContactKey, contact_key},
};

/// What the tracker made of one packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Not tracked (established TCP, non-IP, a non-first fragment) or already reported.
    Known,
    /// A first contact: report it.
    New,
    /// A first contact over the rate limit: counted, not reported.
    RateLimited,
}

pub struct Tracker {
    /// Each remembered contact and the stamp of its last use.
    seen: HashMap<ContactKey, u64>,
    /// Uses in order; stale entries (older stamps) are skipped when evicting.
    order: VecDeque<(u64, ContactKey)>,
    capacity: usize,
    stamp: u64,
    rate: u64,
    burst_milli: u64,
    milli_tokens: u64,
    last_ns: Option<u64>,
    /// First contacts not reported because of the rate limit.
    pub rate_limited: u64,
}

impl Tracker {
    pub fn new(capacity: u32, rate: u64, burst: u64) -> Self {
        Self {
            seen: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1) as usize,
            stamp: 0,
            rate,
            burst_milli: burst.saturating_mul(1000),
            milli_tokens: 0,
            last_ns: None,
            rate_limited: 0,
        }
    }

    fn touch(&mut self, key: ContactKey) {
        self.stamp += 1;
        self.seen.insert(key, self.stamp);
        self.order.push_back((self.stamp, key));
        while self.seen.len() > self.capacity {
            let Some((stamp, old)) = self.order.pop_front() else {
                break;
            };
            if self.seen.get(&old) == Some(&stamp) {
                self.seen.remove(&old);
            }
        }
        // Keep the order queue from growing without bound under many repeats.
        if self.order.len() > 4 * self.capacity + 1024 {
            let seen = &self.seen;
            self.order.retain(|(stamp, k)| seen.get(k) == Some(stamp));
        }
    }

    /// As the kernel's bucket: refilled at `rate` per second of capture time, one token an event.
    fn take_token(&mut self, now: u64) -> bool {
        let elapsed = self
            .last_ns
            .map_or(10_000_000_000, |last| now.saturating_sub(last))
            .min(10_000_000_000);
        self.last_ns = Some(now);
        let refill = elapsed.saturating_mul(self.rate) / 1_000_000;
        self.milli_tokens = self
            .milli_tokens
            .saturating_add(refill)
            .min(self.burst_milli);
        if self.milli_tokens < 1000 {
            return false;
        }
        self.milli_tokens -= 1000;
        true
    }

    pub fn observe(&mut self, p: &Packet, ts_ns: u64) -> Verdict {
        let Some(key) = contact_key(p) else {
            return Verdict::Known;
        };
        if self.seen.contains_key(&key) {
            self.touch(key);
            return Verdict::Known;
        }
        if !self.take_token(ts_ns) {
            self.rate_limited += 1;
            return Verdict::RateLimited;
        }
        self.touch(key);
        Verdict::New
    }
}

#[cfg(test)]
mod tests {
    use probe_common::packet::{Network, Transport, tcp_flags};

    use super::*;

    fn udp(port: u16) -> Packet {
        Packet {
            network: Network::Ipv4,
            transport: Transport::Udp,
            protocol: 17,
            src: [198, 18, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            dst: [198, 18, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            dst_port: port,
            ..Packet::default()
        }
    }

    #[test]
    fn a_contact_is_new_once_and_established_tcp_never() {
        let mut t = Tracker::new(10, 1000, 100);
        assert_eq!(t.observe(&udp(53), 0), Verdict::New);
        assert_eq!(t.observe(&udp(53), 1), Verdict::Known);
        let ack = Packet {
            transport: Transport::Tcp,
            protocol: 6,
            tcp_flags: tcp_flags::ACK,
            ..udp(80)
        };
        assert_eq!(t.observe(&ack, 2), Verdict::Known);
        let syn = Packet {
            tcp_flags: tcp_flags::SYN,
            ..ack
        };
        assert_eq!(t.observe(&syn, 3), Verdict::New);
    }

    #[test]
    fn the_least_recently_seen_contact_is_forgotten_first() {
        let mut t = Tracker::new(2, 1000, 100);
        t.observe(&udp(1), 0);
        t.observe(&udp(2), 0);
        t.observe(&udp(1), 0); // 1 is now more recent than 2
        assert_eq!(t.observe(&udp(3), 0), Verdict::New); // evicts 2
        assert_eq!(t.observe(&udp(1), 0), Verdict::Known);
        assert_eq!(t.observe(&udp(2), 0), Verdict::New);
    }

    #[test]
    fn the_rate_limit_counts_what_it_holds_back_and_refills_with_time() {
        // Two events a second, a burst of three.
        let mut t = Tracker::new(100, 2, 3);
        let verdicts: Vec<_> = (0..5).map(|p| t.observe(&udp(p), 0)).collect();
        assert_eq!(verdicts[..3], [Verdict::New; 3]);
        assert_eq!(verdicts[3..], [Verdict::RateLimited; 2]);
        assert_eq!(t.rate_limited, 2);
        // Half a second later one token is back; the held-back contact is still new.
        assert_eq!(t.observe(&udp(3), 500_000_000), Verdict::New);
        assert_eq!(t.observe(&udp(4), 500_000_000), Verdict::RateLimited);
    }
}
