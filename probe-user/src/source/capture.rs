//! A capture file as the pipeline's source: each frame through the parser the XDP program runs
//! and the kernel's own first-contact rule (probe-common's `track`, as one CPU), in capture
//! time. Windows close on capture time as the daemon's interval closes them on wall time.
//!
//! A frame cut short by the capture's snapshot length is read as far as it goes (the reader
//! sets its lengths to what the capture holds: `capture::fit_to_capture`) and counted as
//! truncated, never as malformed: what the capture left out cannot be judged.
//!
//! A caller may read ahead first ([`CaptureSource::look_ahead`]) to decide something from the
//! capture's beginning before the detectors start; what was read ahead comes out again first.

use std::collections::VecDeque;

use probe_common::{
    event::FirstContact,
    packet::parse,
    track::{
        SourceKey, SourceState,
        user::{FirstContacts, Verdict},
    },
};

use crate::{
    capture::{Capture, CaptureError},
    contact::Contact,
    counters::Snapshot,
    pipeline::{Input, Lost, Output, Pipeline},
    volume::{VOLUME_EVERY_NS, VolumeTracker},
};

/// What a replay went through.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub frames: u64,
    /// Whole frames the parser refused.
    pub malformed: u64,
    /// Frames the capture holds only part of (its snapshot length cut them), whether or not
    /// the part held parsed.
    pub truncated: u64,
    pub contacts: u64,
    pub rate_limited: u64,
    pub skipped_link_types: u64,
}

/// Frames in, inputs out.
pub struct CaptureSource {
    capture: Capture,
    rule: FirstContacts,
    /// How often, in capture time, a tick is due (the daemon's `--interval`).
    tick_ns: u64,
    next_tick: Option<u64>,
    /// The latest capture time seen.
    last_ns: u64,
    /// What each source sent, taken from the rule's per-source table as the daemon takes it
    /// from the kernel's, and when that is next due.
    volume: VolumeTracker,
    next_volume: Option<u64>,
    totals: Totals,
    /// What [`CaptureSource::look_ahead`] read, handed out by `next` before anything new.
    ahead: VecDeque<Input>,
    /// How the look-ahead stopped, if it reached the end or damage: said once `ahead` is
    /// handed out.
    ahead_end: Option<Result<(), CaptureError>>,
    /// Every frame counted as the kernel counts it, when asked for ([`CaptureSource::counting`]).
    counters: Option<Box<Snapshot>>,
    /// The earliest capture time seen.
    first_ns: Option<u64>,
}

impl CaptureSource {
    /// Reads `capture` through `rule`, ticking every `tick_ns` of capture time.
    pub fn new(capture: Capture, rule: FirstContacts, tick_ns: u64) -> Self {
        Self {
            capture,
            rule,
            tick_ns: tick_ns.max(1),
            next_tick: None,
            last_ns: 0,
            volume: VolumeTracker::default(),
            next_volume: None,
            totals: Totals::default(),
            ahead: VecDeque::new(),
            ahead_end: None,
            counters: None,
            first_ns: None,
        }
    }

    /// Also counts every frame as the XDP program does (ports, flags, ICMP, totals), for a
    /// report of the capture.
    #[must_use]
    pub fn counting(mut self) -> Self {
        self.counters = Some(Box::new(Snapshot::zeroed()));
        self
    }

    /// The counters so far, when counting.
    pub fn counters(&self) -> Option<&Snapshot> {
        self.counters.as_deref()
    }

    /// Every source in the rule's per-source table, as the daemon reads the kernel's (times
    /// are capture times).
    pub fn sources(&self) -> Vec<(SourceKey, SourceState)> {
        crate::sources::merge_slots(self.rule.source_table.slots().iter().copied())
    }

    /// The earliest capture time read (0 before any frame).
    pub fn start_ns(&self) -> u64 {
        self.first_ns.unwrap_or(0)
    }

    /// Reads on until `contacts` more first contacts are in hand (or the capture ends or is
    /// damaged) and keeps every input that made, for `next` to hand out again in order.
    /// Returns the first contacts read ahead so far.
    pub fn look_ahead(&mut self, contacts: usize) -> impl Iterator<Item = &Contact> {
        let mut ahead = std::mem::take(&mut self.ahead);
        let mut found = 0;
        while found < contacts && self.ahead_end.is_none() {
            let mut keep = |input: Input| {
                found += usize::from(matches!(input, Input::Contact(_)));
                ahead.push_back(input);
            };
            match self.read(&mut keep) {
                Ok(true) => {}
                Ok(false) => self.ahead_end = Some(Ok(())),
                Err(e) => self.ahead_end = Some(Err(e)),
            }
        }
        self.ahead = ahead;
        self.ahead.iter().filter_map(|input| match input {
            Input::Contact(c) => Some(c),
            Input::Tick { .. } | Input::Volume { .. } => None,
        })
    }

    /// Hands `emit` the next input read ahead, else reads one frame
    /// ([`CaptureSource::read`]). False at the end of the capture.
    pub fn next(&mut self, emit: &mut impl FnMut(Input)) -> Result<bool, CaptureError> {
        if let Some(input) = self.ahead.pop_front() {
            emit(input);
            return Ok(true);
        }
        match self.ahead_end.replace(Ok(())) {
            Some(Ok(())) => Ok(false),
            Some(Err(e)) => Err(e),
            None => {
                self.ahead_end = None;
                self.read(emit)
            }
        }
    }

    /// Reads one frame and hands `emit` what it makes: a tick when one fell due before it, and
    /// its first contact when it is one the rule reports. False at the end of the capture.
    fn read(&mut self, emit: &mut impl FnMut(Input)) -> Result<bool, CaptureError> {
        let Some(frame) = self.capture.next_frame()? else {
            return Ok(false);
        };
        self.totals.frames += 1;
        let ts = frame.ts_ns;
        self.last_ns = self.last_ns.max(ts);
        self.first_ns = Some(self.first_ns.map_or(ts, |f| f.min(ts)));
        let due = *self
            .next_tick
            .get_or_insert(ts.saturating_add(self.tick_ns));
        if ts >= due {
            emit(Input::Tick {
                now_ns: ts,
                lost: self.lost(),
            });
            self.next_tick = Some(ts.saturating_add(self.tick_ns));
        }
        let volume_due = *self
            .next_volume
            .get_or_insert(ts.saturating_add(VOLUME_EVERY_NS));
        if ts >= volume_due {
            emit(self.volume(ts));
            self.next_volume = Some(ts.saturating_add(VOLUME_EVERY_NS));
        }
        if frame.truncated {
            self.totals.truncated += 1;
        }
        let parsed = parse(&frame.data);
        if let Some(counters) = &mut self.counters
            && (parsed.is_ok() || !frame.truncated)
        {
            counters.count(frame.data.len(), parsed.as_ref().ok());
        }
        let Ok(p) = parsed else {
            if !frame.truncated {
                self.totals.malformed += 1;
            }
            return Ok(true);
        };
        // A tiny fragment is one that ends inside its transport header. In a datagram the
        // snapshot cut, the capture ends there, not necessarily the fragment: no verdict.
        if frame.fitted && p.tiny_fragment {
            return Ok(true);
        }
        let verdict = self.rule.observe(&p, ts);
        if matches!(verdict, Verdict::New | Verdict::Answer) {
            if verdict == Verdict::New {
                self.totals.contacts += 1;
            }
            let event = FirstContact::from_frame(&frame.data, &p, ts);
            emit(Input::Contact(Contact::from_event(&event, ts)));
        }
        Ok(true)
    }

    /// What each source sent since the last volume, at capture time `now_ns`.
    pub fn volume(&mut self, now_ns: u64) -> Input {
        Input::Volume {
            now_ns,
            sources: self.volume.observe(
                self.rule.source_table.slots().iter().copied(),
                self.rule.source_table.slots().len(),
            ),
        }
    }

    /// Events the rule held back so far, as the kernel's loss counters would show them.
    pub fn lost(&self) -> Lost {
        Lost {
            rate_limited: self.rule.rate_limited,
            ring_full: 0,
        }
    }

    /// The latest capture time read: where the replay ends.
    pub fn end_ns(&self) -> u64 {
        self.last_ns
    }

    pub fn totals(&self) -> Totals {
        Totals {
            rate_limited: self.rule.rate_limited,
            skipped_link_types: self.capture.skipped_link_types(),
            ..self.totals
        }
    }
}

/// Runs every frame of `source` through `pipeline`, then finishes it at the capture's last
/// time. On damage the findings so far are still written and flushed; the error says where.
pub fn replay<O: Output>(
    source: &mut CaptureSource,
    pipeline: &mut Pipeline<O>,
) -> Result<(), CaptureError> {
    let result = loop {
        match source.next(&mut |input| pipeline.push(input)) {
            Ok(true) => {}
            Ok(false) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    // The volume since the last look, as the daemon takes it when it stops.
    pipeline.push(source.volume(source.end_ns()));
    pipeline.finish(source.end_ns(), source.lost());
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        capture::testfiles::{SYN, ether, ipv4, ipv4_frag, pcap, tcp, udp, whole},
        contact::Proto,
    };

    #[test]
    fn frames_cut_by_the_snapshot_are_counted_as_truncated_and_read_as_far_as_they_go() {
        let syn = ether(0x0800, &ipv4(6, &tcp(40_000, SYN, 4, 0)));
        let linux_syn = ether(0x0800, &ipv4(6, &tcp(40_001, SYN, 20, 0)));
        let first_fragment = ether(0x0800, &ipv4_frag(17, 0x2000, &udp(53, 100)));
        let short_syn = ether(0x0800, &ipv4(6, &tcp(40_002, SYN, 20, 0)));
        let mut bad_length = syn.clone();
        bad_length[16..18].copy_from_slice(&200u16.to_be_bytes());
        let query = ether(0x0800, &ipv4(17, &udp(53, 10)));
        let file = pcap(
            1,
            64,
            &[
                whole(&syn),
                // Read with its fixed TCP header: a contact.
                (linux_syn.len(), &linux_syn[..64]),
                // Cut inside its UDP header: the capture cannot say whether the fragment was
                // tiny, so no contact.
                (first_fragment.len(), &first_fragment[..40]),
                // Cut inside its IP header: refused, but truncated rather than malformed.
                (short_syn.len(), &short_syn[..30]),
                whole(&bad_length),
                whole(&query),
            ],
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cut.pcap");
        std::fs::write(&path, file).unwrap();

        let capture = Capture::open(&path).unwrap();
        let rule = FirstContacts::new(1024, 1_000_000, 1_000_000);
        let mut source = CaptureSource::new(capture, rule, 60_000_000_000);
        let mut contacts = Vec::new();
        while source
            .next(&mut |input| {
                if let Input::Contact(c) = input {
                    contacts.push((c.proto, c.dst_port, c.tcp_flags, c.ts_ns));
                }
            })
            .unwrap()
        {}
        assert_eq!(
            contacts,
            [
                (Proto::Tcp, 40_000, SYN, 1_000_000_000),
                (Proto::Tcp, 40_001, SYN, 2_000_000_000),
                (Proto::Udp, 53, 0, 6_000_000_000),
            ]
        );
        assert_eq!(
            source.totals(),
            Totals {
                frames: 6,
                malformed: 1,
                truncated: 3,
                contacts: 3,
                rate_limited: 0,
                skipped_link_types: 0,
            }
        );
    }

    #[test]
    fn a_counting_replay_counts_every_frame_as_the_kernel_does() {
        use probe_common::counters::{icmp_key, port_proto, total};

        let syn = ether(0x0800, &ipv4(6, &tcp(40_000, SYN, 0, 0)));
        let ack = ether(0x0800, &ipv4(6, &tcp(443, 0x10, 0, 0)));
        let query = ether(0x0800, &ipv4(17, &udp(53, 10)));
        let ping = ether(0x0800, &ipv4(1, &[8, 0, 0, 0, 0, 1, 0, 1]));
        let mut bad_length = syn.clone();
        bad_length[16..18].copy_from_slice(&200u16.to_be_bytes());
        let arp = ether(0x0806, &[0; 28]);
        let frames = [&syn, &syn, &ack, &query, &ping, &bad_length, &arp];
        let records: Vec<(usize, &[u8])> = frames.iter().map(|f| whole(f)).collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("count.pcap");
        std::fs::write(&path, pcap(1, 65_535, &records)).unwrap();
        let rule = FirstContacts::new(1024, 1_000_000, 1_000_000);
        let mut source =
            CaptureSource::new(Capture::open(&path).unwrap(), rule, 1_000_000_000).counting();
        while source.next(&mut |_| {}).unwrap() {}
        let c = source.counters().unwrap();
        let bytes: usize = frames.iter().map(|f| f.len()).sum();
        assert_eq!(c.total(total::PACKETS), 7);
        assert_eq!(c.total(total::BYTES), bytes as u64);
        assert_eq!(c.total(total::IPV4), 5);
        assert_eq!(c.total(total::MALFORMED), 1);
        assert_eq!(c.total(total::OTHER_ETHER_TYPE), 1);
        assert_eq!(c.port(port_proto::TCP, 40_000, false), 2);
        assert_eq!(c.syn_ports[40_000], 2);
        assert_eq!(c.port(port_proto::TCP, 443, false), 1);
        assert_eq!(c.syn_ports[443], 0);
        assert_eq!(c.tcp_flags[usize::from(SYN)], 2);
        assert_eq!(c.tcp_flags[0x10], 1);
        assert_eq!(c.port(port_proto::UDP, 53, false), 1);
        assert_eq!(c.icmp[icmp_key(8, 0) as usize], 1);
        assert_eq!((c.tcp_packets(), c.udp_packets()), (3, 1));
        // The rule's per-source table: the one sender of every tracked packet.
        let sources = source.sources();
        assert_eq!(sources.len(), 1);
        assert_eq!(
            crate::sources::address(&sources[0].0).to_string(),
            "198.18.0.2"
        );
    }

    use probe_common::track;

    use crate::capture::tests::{legacy_header, record};

    /// An Ethernet frame of a UDP datagram from 198.18.0.2:40000 to `dst`:`port`.
    fn udp_frame(dst: [u8; 4], port: u16) -> Vec<u8> {
        let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00];
        f.extend([0x45, 0, 0, 28, 0, 1, 0x40, 0, 64, 17, 0, 0, 198, 18, 0, 2]);
        f.extend(dst);
        f.extend(40_000u16.to_be_bytes());
        f.extend(port.to_be_bytes());
        f.extend([0, 8, 0, 0]);
        f
    }

    /// Every input of the capture in `bytes`, after reading `ahead` contacts ahead (and the
    /// destinations those were), and how it ended.
    fn inputs(bytes: &[u8], ahead: usize) -> (Vec<String>, Vec<Input>, Option<u64>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.pcap");
        std::fs::write(&path, bytes).unwrap();
        let rule = FirstContacts::new(
            track::DEFAULT_CONTACTS,
            track::DEFAULT_EVENT_RATE,
            track::DEFAULT_EVENT_BURST,
        );
        let mut source = CaptureSource::new(Capture::open(&path).unwrap(), rule, 1_000_000_000);
        let seen = source
            .look_ahead(ahead)
            .map(|c| c.dst.to_string())
            .collect();
        let mut out = Vec::new();
        let damage = loop {
            match source.next(&mut |i| out.push(i)) {
                Ok(true) => {}
                Ok(false) => break None,
                Err(CaptureError::Damaged { offset, .. }) => break Some(offset),
                Err(e) => panic!("{e}"),
            }
        };
        (seen, out, damage)
    }

    #[test]
    fn what_was_read_ahead_comes_out_again_in_order_and_damage_after_it() {
        let mut bytes = legacy_header();
        for (i, port) in (1..=4u16).enumerate() {
            bytes.extend(record(
                7 + i as u32 * 2,
                0,
                &udp_frame([198, 18, 0, port as u8], 40_000 + port),
            ));
        }
        let damage_at = bytes.len() as u64;
        let mut cut = record(20, 0, &[0xbb; 10]);
        cut[8..12].copy_from_slice(&4000u32.to_le_bytes());
        bytes.extend(cut);

        let (none, plain, end) = inputs(&bytes, 0);
        assert!(none.is_empty());
        // Four contacts, and before each of the last three (2 s apart) a tick (1 s interval)
        // and a volume (once a second).
        assert_eq!(plain.len(), 10);
        assert_eq!(
            plain
                .iter()
                .map(|i| match i {
                    Input::Contact(_) => 'c',
                    Input::Tick { .. } => 't',
                    Input::Volume { .. } => 'v',
                })
                .collect::<String>(),
            "ctvctvctvc"
        );
        assert_eq!(end, Some(damage_at));
        let (two, after_two, end) = inputs(&bytes, 2);
        assert_eq!(two, ["198.18.0.1", "198.18.0.2"]);
        assert_eq!((after_two, end), (plain.clone(), Some(damage_at)));
        // Asking for more than there is reads to the damage and keeps it for its turn.
        let (all, after_all, end) = inputs(&bytes, 10);
        assert_eq!(all.len(), 4);
        assert_eq!((after_all, end), (plain, Some(damage_at)));
    }
}
