//! Exact frames from the attacker's interface: an `AF_PACKET` raw socket opened inside the
//! attacker namespace, for traffic no tool makes byte for byte (the parser-agreement test) or
//! at a rate and variety no tool gives with a known content (the flood).
//!
//! Every frame handed to [`RawSocket::send`] leaves, once: the lab gives the attacker's end a
//! queue ([`crate::Lab::raw_socket`]) so that a busy veth holds frames instead of dropping them,
//! and a full queue is reported to the sender (`ENOBUFS`), which waits and sends again. Tests
//! still check the interface's drop counter ([`crate::Lab::attacker_tx_dropped`]) so that a
//! kernel that drops anyway fails loudly instead of passing for a miscounting probe.

use std::{
    io,
    os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd},
    thread,
    time::{Duration, Instant},
};

use crate::netns::InNetns;

/// How long one frame may wait for room in a full queue before the send is a failure.
const SEND_LIMIT: Duration = Duration::from_secs(5);

/// A raw packet socket bound to one interface of one namespace; frames sent on it go out
/// exactly as given (Ethernet header included).
pub struct RawSocket {
    fd: OwnedFd,
}

impl RawSocket {
    /// Opens a socket on `iface` inside network namespace `ns` (a name under /run/netns).
    ///
    /// The socket is made on a thread of its own that enters the namespace (`setns` changes
    /// only the calling thread's namespace); a socket keeps the namespace it was made in, so it
    /// then works from any thread.
    pub fn open(ns: &str, iface: &str) -> Self {
        let netns = ns.to_owned();
        let name = iface.to_owned();
        let made = thread::spawn(move || -> io::Result<OwnedFd> {
            // Only this short-lived thread moves.
            let _inside = InNetns::enter(&netns)?;
            // Protocol 0: this socket only sends, it is never handed received frames.
            // SAFETY: plain socket call.
            let raw =
                unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
            if raw < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: `raw` is a fresh descriptor nothing else owns.
            let fd = unsafe { OwnedFd::from_raw_fd(raw) };
            let name = std::ffi::CString::new(name).map_err(io::Error::other)?;
            // SAFETY: a valid C string.
            let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
            if index == 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: sockaddr_ll is plain data; zero is valid.
            let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            addr.sll_family = libc::AF_PACKET as u16;
            addr.sll_ifindex = i32::try_from(index).map_err(io::Error::other)?;
            // SAFETY: `addr` is a sockaddr_ll of the size given.
            let rc = unsafe {
                libc::bind(
                    fd.as_raw_fd(),
                    (&raw const addr).cast(),
                    u32::try_from(size_of::<libc::sockaddr_ll>()).map_err(io::Error::other)?,
                )
            };
            if rc != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(fd)
        });
        let fd = made
            .join()
            .expect("the socket thread does not panic")
            .unwrap_or_else(|e| panic!("opening a raw socket on {iface} in {ns}: {e}"));
        Self { fd }
    }

    /// Sends one frame; when the queue is full, waits for room (at most [`SEND_LIMIT`]).
    /// Panics if the frame cannot be sent at all (too short, too long, interface gone).
    pub fn send(&self, frame: &[u8]) {
        if let Err(e) = self.try_send(frame) {
            panic!("sending a {}-byte frame failed: {e}", frame.len());
        }
    }

    /// As [`RawSocket::send`], but returns the error (an interface that is down, say).
    pub fn try_send(&self, frame: &[u8]) -> io::Result<()> {
        let deadline = Instant::now() + SEND_LIMIT;
        let mut pause = Duration::from_micros(50);
        loop {
            // SAFETY: `frame` is readable for its length; the socket is bound.
            let n =
                unsafe { libc::send(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
            if usize::try_from(n).is_ok_and(|n| n == frame.len()) {
                return Ok(());
            }
            let e = io::Error::last_os_error();
            let full = matches!(e.raw_os_error(), Some(libc::ENOBUFS | libc::EAGAIN));
            if n >= 0 {
                return Err(io::Error::other(format!(
                    "sent {n} of {} bytes",
                    frame.len()
                )));
            }
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            if !full || Instant::now() > deadline {
                return Err(e);
            }
            // The queue is full: the frame was not sent; let the receiver catch up.
            thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(5));
        }
    }
}
