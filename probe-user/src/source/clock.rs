//! Clocks: the kernel's monotonic event times turned into wall-clock time.

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
