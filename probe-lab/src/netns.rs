//! Moving the calling thread into a lab namespace and back.

use std::{
    fs::File,
    io,
    os::fd::{AsRawFd as _, OwnedFd},
};

/// The calling thread inside network namespace `name` (under /run/netns) until dropped, when it
/// returns to the namespace it came from. `setns` moves only this thread: sockets it opens and
/// interfaces it names by name are the namespace's, the rest of the process stays where it is.
pub struct InNetns {
    home: OwnedFd,
}

impl InNetns {
    pub fn enter(name: &str) -> io::Result<Self> {
        let home: OwnedFd = File::open("/proc/thread-self/ns/net")?.into();
        let target = File::open(format!("/run/netns/{name}"))?;
        // SAFETY: setns with a valid namespace descriptor; it only affects this thread.
        if unsafe { libc::setns(target.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Self { home })
    }
}

impl Drop for InNetns {
    fn drop(&mut self) {
        // SAFETY: as in `enter`, back to the namespace this thread came from.
        if unsafe { libc::setns(self.home.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            eprintln!(
                "warning: returning to the original network namespace failed: {}",
                io::Error::last_os_error()
            );
        }
    }
}
