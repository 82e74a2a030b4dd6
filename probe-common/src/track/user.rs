//! The first-contact rule on the host: the kernel's reported-contacts table as a `Vec`, with
//! the same slots, the same hashes and the same token bucket (see the parent module).
//!
//! [`FirstContacts`] is one CPU's whole rule, as the offline replay runs it. [`ContactTable`]
//! alone is what the daemon uses to pass a contact reported by two CPUs on once.

use std::{vec, vec::Vec};

use super::{
    Bucket, DEFAULT_SOURCES, SOURCE_PORT_WORDS, Sighting, SourceKey, SourcePorts, SourceSlot,
    answer_key, answered, awaits_answer, contact_key, contact_slot, flow_hash, holds, source_hash,
    source_port_bit, table_slots,
};
use crate::{
    event::FirstContact,
    packet::{Packet, Transport},
};

/// A direct-mapped table of contact hashes, laid out as one CPU's part of the kernel's.
#[derive(Clone, Debug)]
pub struct ContactTable {
    slots: Vec<u64>,
    mask: u32,
}

impl ContactTable {
    /// A table of `requested` slots, rounded as the kernel's are ([`table_slots`]).
    pub fn new(requested: u32) -> Self {
        let slots = table_slots(requested);
        Self {
            slots: vec![0; slots as usize],
            mask: slots - 1,
        }
    }

    /// Slots in the table.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// True when the contact hashing to `hash` holds its slot: reported already.
    #[inline]
    pub fn known(&self, hash: u64) -> bool {
        holds(self.slots[contact_slot(hash, self.mask) as usize], hash)
    }

    /// Marks the contact hashing to `hash` answered, if it holds its slot and was not answered
    /// yet: true then (the answer is to be reported, once).
    #[inline]
    pub fn answer(&mut self, hash: u64) -> bool {
        let slot = &mut self.slots[contact_slot(hash, self.mask) as usize];
        if !awaits_answer(*slot, hash) {
            return false;
        }
        *slot = answered(hash);
        true
    }

    /// Records the contact hashing to `hash` as reported, taking its slot over.
    #[inline]
    pub fn record(&mut self, hash: u64) {
        self.slots[contact_slot(hash, self.mask) as usize] = hash;
    }

    /// Records `hash` and says whether it was new: the check and the record in one.
    #[inline]
    pub fn first(&mut self, hash: u64) -> bool {
        let slot = &mut self.slots[contact_slot(hash, self.mask) as usize];
        if holds(*slot, hash) {
            return false;
        }
        *slot = hash;
        true
    }
}

/// The significant source ports, as the host keeps them: the bitmap the daemon copies into
/// the kernel's `SOURCE_PORTS` map, and the replay's rule reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourcePortSet {
    words: Vec<u64>,
}

impl Default for SourcePortSet {
    fn default() -> Self {
        Self {
            words: vec![0; SOURCE_PORT_WORDS as usize],
        }
    }
}

impl SourcePortSet {
    /// Lists `port` of UDP (else TCP).
    pub fn insert(&mut self, udp: bool, port: u16) {
        let (word, bit) = source_port_bit(udp, port);
        self.words[word as usize] |= bit;
    }

    /// The bitmap, word by word, as the kernel's map holds it.
    pub fn words(&self) -> &[u64] {
        &self.words
    }

    /// Ports listed, both protocols together.
    pub fn len(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl SourcePorts for SourcePortSet {
    #[inline]
    fn listed(&self, udp: bool, port: u16) -> bool {
        let (word, bit) = source_port_bit(udp, port);
        self.words[word as usize] & bit != 0
    }
}

/// One CPU's per-source table on the host: the kernel's `SOURCES` part, with the same slots and
/// the same update ([`SourceSlot::see`]).
#[derive(Clone, Debug)]
pub struct SourceTable {
    slots: Vec<SourceSlot>,
    mask: u32,
}

impl SourceTable {
    /// A table of `requested` slots, rounded as the kernel's are.
    pub fn new(requested: u32) -> Self {
        let slots = table_slots(requested);
        Self {
            slots: vec![SourceSlot::EMPTY; slots as usize],
            mask: slots - 1,
        }
    }

    /// Updates the slot of `p`'s source, seen at `now_ns`.
    pub fn see(&mut self, p: &Packet, now_ns: u64) {
        let key = SourceKey {
            addr: p.src,
            ip_version: p.network as u8,
            pad: [0; 3],
        };
        let icmp = matches!(p.transport, Transport::Icmp | Transport::Icmpv6);
        let sighting = Sighting {
            src: &p.src,
            dst: &p.dst,
            network: p.network,
            dst_port: p.dst_port,
            ttl: p.ttl,
            syn: p.is_connection_attempt(),
            icmp: if icmp {
                p.icmp_type.saturating_add(1)
            } else {
                0
            },
            len: p.len,
            echo_reply: p.is_echo_reply(),
            reflected: p.is_reflected(),
        };
        let slot = contact_slot(source_hash(&key), self.mask) as usize;
        self.slots[slot].see(&key, &sighting, now_ns);
    }

    /// Every slot, empty ones (a zero key) included.
    pub fn slots(&self) -> &[SourceSlot] {
        &self.slots
    }
}

/// What the rule made of one packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Not a contact: not IP, established TCP (but for an [`Verdict::Answer`]), or a
    /// non-first fragment.
    Untracked,
    /// A contact reported already (its slot holds its hash).
    Known,
    /// A first contact within the rate limit: reported.
    New,
    /// A first contact over the rate limit: counted, not reported, and not recorded, so it is
    /// reported when it recurs with a token to spare.
    RateLimited,
    /// The first established segment of a reported contact's connection: the contact was
    /// answered, and this segment is reported as its answer (once; no token, as each answer
    /// follows a reported contact).
    Answer,
}

/// One CPU's first-contact rule: its table of reported contacts, its token bucket, and the
/// source ports that key contacts of their own.
#[derive(Clone, Debug)]
pub struct FirstContacts {
    table: ContactTable,
    sources: SourcePortSet,
    /// The per-source table, updated as the kernel updates its own.
    pub source_table: SourceTable,
    bucket: Bucket,
    rate: u64,
    burst: u64,
    /// First contacts not reported because of the rate limit (the kernel's
    /// `EVENTS_RATE_LIMITED`).
    pub rate_limited: u64,
}

impl FirstContacts {
    /// The rule with a table of `slots` (rounded as the kernel's), `rate` events a second and a
    /// burst of `burst`, as `--max-contacts`, `--event-rate` and `--event-burst` set them.
    pub fn new(slots: u32, rate: u64, burst: u64) -> Self {
        Self {
            table: ContactTable::new(slots),
            sources: SourcePortSet::default(),
            source_table: SourceTable::new(DEFAULT_SOURCES),
            bucket: Bucket::default(),
            rate,
            burst,
            rate_limited: 0,
        }
    }

    /// The rule with `sources` listed as significant source ports (the daemon's knowledge).
    #[must_use]
    pub fn with_sources(mut self, sources: SourcePortSet) -> Self {
        self.sources = sources;
        self
    }

    /// The rule with a per-source table of `slots` (`--max-sources`).
    #[must_use]
    pub fn with_source_slots(mut self, slots: u32) -> Self {
        self.source_table = SourceTable::new(slots);
        self
    }

    /// Applies the rule to `p`, seen at `now_ns`, and updates the per-source table where the
    /// kernel would: for a new contact, for TCP outside a connection, and for an echo reply or
    /// reflected answer even when its contact is known (their volume is the attack).
    pub fn observe(&mut self, p: &Packet, now_ns: u64) -> Verdict {
        let Some(key) = contact_key(p, &self.sources) else {
            return match answer_key(p, &self.sources) {
                Some(key) if self.table.answer(flow_hash(&key)) => Verdict::Answer,
                _ => Verdict::Untracked,
            };
        };
        let hash = flow_hash(&key);
        let known = self.table.known(hash);
        if !known || matches!(p.transport, Transport::Tcp) || p.tracks_volume() {
            self.source_table.see(p, now_ns);
        }
        self.observe_hash(hash, now_ns)
    }

    /// Applies the rule to the contact hashing to `hash`, seen at `now_ns`.
    pub fn observe_hash(&mut self, hash: u64, now_ns: u64) -> Verdict {
        if self.table.known(hash) {
            return Verdict::Known;
        }
        if !self.bucket.take(now_ns, self.rate, self.burst) {
            self.rate_limited += 1;
            return Verdict::RateLimited;
        }
        self.table.record(hash);
        Verdict::New
    }
}

impl FirstContact {
    /// The contact this event reports, from the fields the kernel keyed it by; `None` for an
    /// event no contact rule would have made. `sources`: the significant source ports the
    /// kernel keyed it with.
    pub fn contact_hash(&self, sources: &impl SourcePorts) -> Option<u64> {
        let p = Packet {
            network: self.network(),
            transport: self.transport(),
            protocol: self.protocol,
            src: self.src,
            dst: self.dst,
            src_port: self.src_port,
            dst_port: self.dst_port,
            ttl: self.ttl,
            tcp_flags: self.tcp_flags,
            icmp_type: self.icmp_type,
            icmp_code: self.icmp_code,
            fragment_offset: self.fragment_offset,
            ..Packet::default()
        };
        contact_key(&p, sources).map(|key| flow_hash(&key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        packet::{Network, Transport, tcp_flags},
        track::NoneListed,
    };

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

    const T: u64 = 1_700_000_000_000_000_000;

    #[test]
    fn a_contact_is_new_once_and_established_tcp_is_never_a_contact() {
        let mut rule = FirstContacts::new(1024, 1000, 100);
        assert_eq!(rule.observe(&udp(53), T), Verdict::New);
        assert_eq!(rule.observe(&udp(53), T + 1), Verdict::Known);
        let ack = Packet {
            transport: Transport::Tcp,
            protocol: 6,
            tcp_flags: tcp_flags::ACK,
            ..udp(80)
        };
        assert_eq!(rule.observe(&ack, T + 2), Verdict::Untracked);
        let syn = Packet {
            tcp_flags: tcp_flags::SYN,
            ..ack
        };
        assert_eq!(rule.observe(&syn, T + 3), Verdict::New);
        assert_eq!(rule.rate_limited, 0);
    }

    #[test]
    fn the_first_established_segment_after_a_reported_syn_is_its_answer_once() {
        // A bucket of one: the answer takes no token.
        let mut rule = FirstContacts::new(1024, 1, 1);
        let syn = Packet {
            transport: Transport::Tcp,
            protocol: 6,
            tcp_flags: tcp_flags::SYN,
            src_port: 40_000,
            ..udp(12_345)
        };
        let ack = Packet {
            tcp_flags: tcp_flags::ACK,
            ..syn
        };
        let other = Packet {
            dst_port: 6969,
            ..ack
        };
        assert_eq!(rule.observe(&other, T), Verdict::Untracked, "no SYN seen");
        assert_eq!(rule.observe(&syn, T), Verdict::New);
        assert_eq!(rule.observe(&ack, T + 1), Verdict::Answer);
        assert_eq!(rule.observe(&ack, T + 2), Verdict::Untracked);
        // Answered is still reported: the SYN again is a repeat, and is not answered again.
        assert_eq!(rule.observe(&syn, T + 3), Verdict::Known);
        assert_eq!(rule.observe(&ack, T + 4), Verdict::Untracked);
        // A rate-limited SYN was never recorded: its ACK answers nothing.
        let refused = Packet {
            dst_port: 7000,
            ..syn
        };
        assert_eq!(rule.observe(&refused, T + 5), Verdict::RateLimited);
        let refused_ack = Packet {
            tcp_flags: tcp_flags::ACK | tcp_flags::PSH,
            ..refused
        };
        assert_eq!(rule.observe(&refused_ack, T + 6), Verdict::Untracked);
    }

    #[test]
    fn a_contact_whose_slot_was_taken_over_is_new_again() {
        // Two slots: port 1 and the first port whose hash lands in its slot.
        let mut rule = FirstContacts::new(2, 1000, 100);
        let hash = |port| flow_hash(&contact_key(&udp(port), &NoneListed).unwrap());
        let rival = (2..=u16::MAX)
            .find(|&p| hash(p) & 1 == hash(1) & 1)
            .unwrap();
        assert_eq!(rule.observe(&udp(1), T), Verdict::New);
        assert_eq!(rule.observe(&udp(rival), T), Verdict::New);
        assert_eq!(rule.observe(&udp(1), T), Verdict::New, "its slot was taken");
        assert_eq!(rule.observe(&udp(1), T), Verdict::Known);
    }

    #[test]
    fn the_bucket_starts_full_counts_what_it_refuses_and_refills_with_time() {
        // Two events a second, a burst of three: the first packet finds ten seconds' refill,
        // capped at three.
        let mut rule = FirstContacts::new(1024, 2, 3);
        let verdicts: Vec<_> = (10..15).map(|p| rule.observe(&udp(p), T)).collect();
        assert_eq!(
            verdicts,
            [
                Verdict::New,
                Verdict::New,
                Verdict::New,
                Verdict::RateLimited,
                Verdict::RateLimited
            ]
        );
        assert_eq!(rule.rate_limited, 2);
        // Half a second later one token is back; the refused contact was not recorded.
        assert_eq!(rule.observe(&udp(13), T + 500_000_000), Verdict::New);
        assert_eq!(
            rule.observe(&udp(14), T + 500_000_000),
            Verdict::RateLimited
        );
        // Time that goes back refills nothing.
        assert_eq!(rule.observe(&udp(14), T), Verdict::RateLimited);
        assert_eq!(rule.rate_limited, 4);
    }

    #[test]
    fn a_bucket_refills_ten_seconds_at_most() {
        let mut b = Bucket::default();
        assert!(b.take(T, 1, 1_000_000));
        // 9 of the 10 refilled tokens are left.
        assert_eq!(b.milli_tokens, 9_000);
        // A minute later: ten seconds' worth more, not sixty.
        assert!(b.take(T + 60_000_000_000, 1, 1_000_000));
        assert_eq!(b.milli_tokens, 18_000);
    }

    #[test]
    fn a_table_is_sized_as_the_kernels_and_first_records() {
        assert_eq!(ContactTable::new(1000).len(), 1024);
        assert_eq!(ContactTable::new(0).len(), 2);
        let mut t = ContactTable::new(8);
        let h = flow_hash(&contact_key(&udp(7), &NoneListed).unwrap());
        assert!(!t.known(h));
        assert!(t.first(h));
        assert!(t.known(h));
        assert!(!t.first(h));
    }

    #[test]
    fn an_event_hashes_to_its_packets_contact() {
        for p in [
            udp(53),
            Packet {
                transport: Transport::Tcp,
                protocol: 6,
                tcp_flags: tcp_flags::SYN,
                ..udp(445)
            },
            Packet {
                transport: Transport::Icmp,
                protocol: 1,
                icmp_type: 8,
                ttl: 3,
                ..udp(0)
            },
        ] {
            let frame_free = FirstContact {
                ts_ns: 0,
                src: p.src,
                dst: p.dst,
                ip_id: 0,
                src_port: 0,
                dst_port: p.dst_port,
                tcp_window: 0,
                fragment_offset: 0,
                ip_version: p.network as u8,
                protocol: p.protocol,
                transport: p.transport as u8,
                ttl: p.ttl,
                tcp_flags: p.tcp_flags,
                icmp_type: p.icmp_type,
                icmp_code: p.icmp_code,
                frag: 0,
                options_len: 0,
                payload_len: 0,
                l4_held: 0,
                extensions: 0,
                tcp_seq: 0,
                pad: [0; 4],
                options: [0; 40],
                payload: [0; 16],
            };
            assert_eq!(
                frame_free.contact_hash(&NoneListed),
                Some(flow_hash(&contact_key(&p, &NoneListed).unwrap()))
            );
        }
    }
}
