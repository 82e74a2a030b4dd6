//! Forwards the XDP program's aya-log messages to the daemon's log.

use aya_log::EbpfLogger;
use tokio::io::{Interest, unix::AsyncFd};

/// Spawns a task that drains the program's log ring whenever it has data. The logger owns the
/// ring's descriptor; the task ends when the runtime shuts down.
pub fn forward(logger: EbpfLogger<&'static dyn log::Log>) {
    // SAFETY: the logger owns its ring buffer's descriptor and keeps it open, unchanged, for as
    // long as it lives; the AsyncFd owns the logger.
    let registered = unsafe { AsyncFd::register_with_interest(logger, Interest::READABLE) };
    let mut fd = match registered {
        Ok(fd) => fd,
        Err(e) => {
            log::warn!("cannot watch the XDP program's log ring, its messages will not show: {e}");
            return;
        }
    };
    tokio::spawn(async move {
        loop {
            let Ok(mut guard) = fd.readable_mut().await else {
                return;
            };
            guard.get_inner_mut().flush();
            guard.clear_ready();
        }
    });
}

/// The kernel side's level number (aya-log's: error 1 … trace 5, 0 for off) for a filter.
pub fn level(filter: log::LevelFilter) -> u8 {
    match filter {
        log::LevelFilter::Off => 0,
        log::LevelFilter::Error => 1,
        log::LevelFilter::Warn => 2,
        log::LevelFilter::Info => 3,
        log::LevelFilter::Debug => 4,
        log::LevelFilter::Trace => 5,
    }
}
