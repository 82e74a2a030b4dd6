//! Reading first-contact events from the kernel's ring buffer.

use std::{io, mem::size_of};

use aya::maps::{MapData, RingBuf};
use probe_common::event::FirstContact;
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

/// The ring buffer, registered with the async runtime.
pub struct Events {
    ring: AsyncFd<RingBuf<MapData>>,
    clock: KernelClock,
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
            each(Contact::from_event(&event, clock.wall(event.ts_ns)));
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
            each(Contact::from_event(&event, self.clock.wall(event.ts_ns)));
        }
        guard.clear_ready();
        Ok(skipped)
    }
}

#[cfg(test)]
mod tests {
    use super::KernelClock;

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
