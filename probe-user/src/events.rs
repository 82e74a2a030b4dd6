//! Reading first-contact events from the kernel's ring buffer.
//!
//! The kernel remembers reported contacts per CPU, so a contact whose packets arrive on two
//! CPUs (a sender that moved between CPUs, traffic spread over queues) is reported from each.
//! [`Recent`] passes each on once, so the detectors count a contact once, as the replay does.

use std::{io, mem::size_of};

use aya::maps::{MapData, RingBuf};
use probe_common::{
    event::FirstContact,
    packet::Packet,
    track::{contact_key, flow_hash},
};
use tokio::io::{Interest, unix::AsyncFd};

use crate::contact::Contact;

/// Converts the kernel's clock (`bpf_ktime_get_ns`: CLOCK_MONOTONIC) to wall-clock time.
#[derive(Clone, Copy, Debug)]
pub struct KernelClock {
    /// Realtime minus monotonic, in nanoseconds, taken once at start.
    offset_ns: i128,
}

fn now(clock: libc::clockid_t) -> i128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; both clocks always exist on Linux.
    unsafe { libc::clock_gettime(clock, &raw mut ts) };
    i128::from(ts.tv_sec) * 1_000_000_000 + i128::from(ts.tv_nsec)
}

impl KernelClock {
    pub fn new() -> Self {
        Self {
            offset_ns: now(libc::CLOCK_REALTIME) - now(libc::CLOCK_MONOTONIC),
        }
    }

    /// Wall-clock nanoseconds since the Unix epoch for a kernel timestamp.
    pub fn wall(self, ktime_ns: u64) -> u64 {
        u64::try_from(i128::from(ktime_ns) + self.offset_ns).unwrap_or(0)
    }

    /// Wall-clock nanoseconds now.
    pub fn now_wall() -> u64 {
        u64::try_from(now(libc::CLOCK_REALTIME)).unwrap_or(0)
    }
}

impl Default for KernelClock {
    fn default() -> Self {
        Self::new()
    }
}

/// Slots of [`Recent`]'s table (2 MiB): repeats from another CPU come within moments of the
/// first report, far fewer contacts apart than this.
pub const RECENT_SLOTS: usize = 1 << 18;

/// The contacts most recently passed on, in one table direct-mapped by their hash (the
/// kernel's per-CPU tables, merged): a contact is new unless its slot holds its hash. A contact
/// whose slot another has taken over is passed on again when it recurs, as the kernel would.
pub struct Recent {
    slots: Vec<u64>,
}

impl Recent {
    /// A table of `slots` slots (rounded up to a power of two).
    pub fn new(slots: usize) -> Self {
        Self {
            slots: vec![0; slots.max(1).next_power_of_two()],
        }
    }

    /// True unless `e`'s contact was passed on recently (then it is a repeat from another CPU).
    pub fn first(&mut self, e: &FirstContact) -> bool {
        // The packet's fields the contact key is made of, so the key is the kernel's.
        let p = Packet {
            network: e.network(),
            transport: e.transport(),
            protocol: e.protocol,
            src: e.src,
            dst: e.dst,
            dst_port: e.dst_port,
            ttl: e.ttl,
            tcp_flags: e.tcp_flags,
            icmp_type: e.icmp_type,
            icmp_code: e.icmp_code,
            fragment_offset: e.fragment_offset,
            ..Packet::default()
        };
        let Some(key) = contact_key(&p) else {
            return true;
        };
        let hash = flow_hash(&key);
        let mask = self.slots.len() - 1;
        // The low bits pick the slot; the mask keeps the index inside the table.
        #[expect(
            clippy::cast_possible_truncation,
            reason = "only the bits under the mask are used"
        )]
        let slot = &mut self.slots[hash as usize & mask];
        if *slot == hash {
            return false;
        }
        *slot = hash;
        true
    }
}

/// The ring buffer, registered with the async runtime.
pub struct Events {
    ring: AsyncFd<RingBuf<MapData>>,
    clock: KernelClock,
    recent: Recent,
    /// Contacts dropped as repeats reported from another CPU.
    pub repeats: u64,
}

impl Events {
    pub fn new(ring: RingBuf<MapData>) -> io::Result<Self> {
        // SAFETY: the ring buffer owns its map's descriptor, open and unchanged for as long as
        // it lives, and the AsyncFd owns the ring buffer.
        let ring = unsafe { AsyncFd::register_with_interest(ring, Interest::READABLE) }
            .map_err(|e| io::Error::other(e.to_string()))?;
        Ok(Self {
            ring,
            clock: KernelClock::new(),
            recent: Recent::new(RECENT_SLOTS),
            repeats: 0,
        })
    }

    /// Hands every event already in the ring to `each`, without waiting (for shutdown).
    pub fn drain(&mut self, mut each: impl FnMut(Contact)) -> usize {
        let clock = self.clock;
        let ring = self.ring.get_mut();
        let mut skipped = 0;
        while let Some(item) = ring.next() {
            if item.len() < size_of::<FirstContact>() {
                skipped += 1;
                continue;
            }
            // SAFETY: as in `next_batch`.
            let event = unsafe { item.as_ptr().cast::<FirstContact>().read_unaligned() };
            if self.recent.first(&event) {
                each(Contact::from_event(&event, clock.wall(event.ts_ns)));
            } else {
                self.repeats += 1;
            }
        }
        skipped
    }

    /// Waits for events, then hands every one available to `each`. A record of the wrong size
    /// (an object built from other sources) is skipped and counted in the return value.
    pub async fn next_batch(&mut self, mut each: impl FnMut(Contact)) -> io::Result<usize> {
        let mut guard = self.ring.readable_mut().await?;
        let mut skipped = 0;
        let ring = guard.get_inner_mut();
        while let Some(item) = ring.next() {
            if item.len() < size_of::<FirstContact>() {
                skipped += 1;
                continue;
            }
            // SAFETY: the record holds at least a FirstContact's bytes; it is plain old data,
            // read unaligned.
            let event = unsafe { item.as_ptr().cast::<FirstContact>().read_unaligned() };
            if self.recent.first(&event) {
                each(Contact::from_event(&event, self.clock.wall(event.ts_ns)));
            } else {
                self.repeats += 1;
            }
        }
        guard.clear_ready();
        Ok(skipped)
    }
}

#[cfg(test)]
mod tests {
    use probe_common::packet::{Network, Transport, ip_proto, parse, tcp_flags};

    use super::{KernelClock, Recent};

    /// The event the kernel would send for `frame`.
    fn event(frame: &[u8]) -> probe_common::event::FirstContact {
        let p = parse(frame).expect("a well-formed frame");
        probe_common::event::FirstContact::from_frame(frame, &p, 7)
    }

    /// An IPv4 frame from 198.18.0.2 to 198.18.0.1: `l4` after a 20-byte header, TTL `ttl`.
    fn ipv4(protocol: u8, ttl: u8, l4: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x08, 0x00, 0x45, 0]);
        f.extend_from_slice(&u16::try_from(20 + l4.len()).unwrap_or(0).to_be_bytes());
        f.extend_from_slice(&[
            0, 1, 0, 0, ttl, protocol, 0, 0, 198, 18, 0, 2, 198, 18, 0, 1,
        ]);
        f.extend_from_slice(l4);
        f
    }

    fn syn(port: u16) -> Vec<u8> {
        let mut t = vec![0xc0, 0x00];
        t.extend_from_slice(&port.to_be_bytes());
        t.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, tcp_flags::SYN, 0x72, 0x10]);
        t.extend_from_slice(&[0, 0, 0, 0]);
        ipv4(ip_proto::TCP, 64, &t)
    }

    fn echo(ttl: u8) -> Vec<u8> {
        ipv4(ip_proto::ICMP, ttl, &[8, 0, 0, 0, 0, 1, 0, 1])
    }

    #[test]
    fn a_contact_reported_from_two_cpus_is_passed_on_once() {
        let mut recent = Recent::new(1024);
        let first = event(&syn(445));
        assert_eq!(first.transport(), Transport::Tcp);
        assert_eq!(first.network(), Network::Ipv4);
        assert!(recent.first(&first));
        assert!(!recent.first(&first), "the second CPU's report is a repeat");
        // Another port, and an echo request at each TTL (a traceroute), are contacts of their
        // own; the same TTL again is not.
        assert!(recent.first(&event(&syn(139))));
        assert!(recent.first(&event(&echo(1))));
        assert!(recent.first(&event(&echo(2))));
        assert!(!recent.first(&event(&echo(2))));
        assert!(!recent.first(&event(&syn(445))));
    }

    #[test]
    fn a_contact_whose_slot_was_taken_is_passed_on_again() {
        // Two slots: port 445 and the first port that shares its slot.
        let mut recent = Recent::new(2);
        let a = event(&syn(445));
        assert!(recent.first(&a));
        let b = (1..=u16::MAX)
            .map(|port| event(&syn(port)))
            .find(|e| {
                let mut probe = Recent::new(2);
                probe.first(&a);
                // `e` is new and then `a` is new again: `e` took `a`'s slot.
                probe.first(e) && probe.first(&a)
            })
            .expect("some port shares a slot of two");
        assert!(recent.first(&b));
        assert!(
            recent.first(&a),
            "its slot was taken: reported again, as the kernel would"
        );
    }

    #[test]
    fn kernel_time_converts_to_about_now() {
        let clock = KernelClock::new();
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: as in `now`.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &raw mut ts) };
        let mono =
            u64::try_from(ts.tv_sec).unwrap() * 1_000_000_000 + u64::try_from(ts.tv_nsec).unwrap();
        let wall = clock.wall(mono);
        let real = KernelClock::now_wall();
        assert!(real.abs_diff(wall) < 1_000_000_000, "{wall} vs {real}");
    }
}
