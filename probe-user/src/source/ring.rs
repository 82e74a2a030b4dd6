//! The daemon's source: first-contact events from the kernel's ring buffer.
//!
//! The kernel remembers reported contacts per CPU, so a contact whose packets arrive on two
//! CPUs (a sender that moved between CPUs, traffic spread over queues) is reported from each.
//! A [`ContactTable`] of the shared rule, holding every CPU's reports, passes each on once, so
//! the detectors count a contact once, as the replay does.

use std::{io, mem::size_of};

use aya::maps::{MapData, RingBuf};
use probe_common::{
    event::FirstContact,
    track::user::{ContactTable, SourcePortSet},
};
use tokio::io::{Interest, unix::AsyncFd};

use super::clock::KernelClock;
use crate::contact::Contact;

/// Slots of the table of contacts passed on (2 MiB): repeats from another CPU come within
/// moments of the first report, far fewer contacts apart than this.
pub const RECENT_SLOTS: u32 = 1 << 18;

/// True unless `e`'s contact was passed on recently (then it is a repeat from another CPU).
/// `sources`: the significant source ports the kernel keys contacts by.
fn first(recent: &mut ContactTable, sources: &SourcePortSet, e: &FirstContact) -> bool {
    e.contact_hash(sources)
        .is_none_or(|hash| recent.first(hash))
}

/// The ring buffer, registered with the async runtime.
pub struct Events {
    ring: AsyncFd<RingBuf<MapData>>,
    reader: Reader,
}

/// What turns ring records into contacts: the clock, and the contacts passed on so far.
struct Reader {
    clock: KernelClock,
    recent: ContactTable,
    /// The source ports the kernel's map lists, as it keyed the contacts.
    sources: SourcePortSet,
    /// Contacts dropped as repeats reported from another CPU.
    repeats: u64,
}

impl Reader {
    /// Hands every record in `ring` to `each` as a contact, once per contact. Returns how many
    /// records were of the wrong size (an object built from other sources) and skipped.
    fn read_all(&mut self, ring: &mut RingBuf<MapData>, each: &mut impl FnMut(Contact)) -> usize {
        let mut skipped = 0;
        while let Some(item) = ring.next() {
            if item.len() < size_of::<FirstContact>() {
                skipped += 1;
                continue;
            }
            // SAFETY: the record holds at least a FirstContact's bytes; it is plain old data,
            // read unaligned.
            let event = unsafe { item.as_ptr().cast::<FirstContact>().read_unaligned() };
            if first(&mut self.recent, &self.sources, &event) {
                each(Contact::from_event(&event, self.clock.wall(event.ts_ns)));
            } else {
                self.repeats += 1;
            }
        }
        skipped
    }
}

impl Events {
    pub fn new(ring: RingBuf<MapData>, sources: SourcePortSet) -> io::Result<Self> {
        // SAFETY: the ring buffer owns its map's descriptor, open and unchanged for as long as
        // it lives, and the AsyncFd owns the ring buffer.
        let ring = unsafe { AsyncFd::register_with_interest(ring, Interest::READABLE) }
            .map_err(|e| e.into_parts().1)?;
        Ok(Self {
            ring,
            reader: Reader {
                clock: KernelClock::new(),
                recent: ContactTable::new(RECENT_SLOTS),
                sources,
                repeats: 0,
            },
        })
    }

    /// Takes the source ports a reload wrote into the kernel's map.
    pub fn set_sources(&mut self, sources: SourcePortSet) {
        self.reader.sources = sources;
    }

    /// Contacts dropped as repeats reported from another CPU.
    pub fn repeats(&self) -> u64 {
        self.reader.repeats
    }

    /// Hands every event already in the ring to `each`, without waiting (for shutdown).
    pub fn drain(&mut self, mut each: impl FnMut(Contact)) -> usize {
        self.reader.read_all(self.ring.get_mut(), &mut each)
    }

    /// Waits for events, then hands every one available to `each`. A record of the wrong size
    /// is skipped and counted in the return value.
    pub async fn next_batch(&mut self, mut each: impl FnMut(Contact)) -> io::Result<usize> {
        let mut guard = self.ring.readable_mut().await?;
        let skipped = self.reader.read_all(guard.get_inner_mut(), &mut each);
        guard.clear_ready();
        Ok(skipped)
    }
}

#[cfg(test)]
mod tests {
    use probe_common::packet::{ip_proto, parse, tcp_flags};

    use super::{ContactTable, FirstContact, SourcePortSet, first};

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
        let mut recent = ContactTable::new(1024);
        let none = SourcePortSet::default();
        let first = |recent: &mut ContactTable, e: &FirstContact| first(recent, &none, e);
        let once = event(&syn(445));
        assert!(first(&mut recent, &once));
        assert!(
            !first(&mut recent, &once),
            "the second CPU's report is a repeat"
        );
        // Another port, and an echo request at each TTL (a traceroute), are contacts of their
        // own; the same TTL again is not.
        assert!(first(&mut recent, &event(&syn(139))));
        assert!(first(&mut recent, &event(&echo(1))));
        assert!(first(&mut recent, &event(&echo(2))));
        assert!(!first(&mut recent, &event(&echo(2))));
        assert!(!first(&mut recent, &event(&syn(445))));
    }
}
