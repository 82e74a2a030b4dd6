//! The watched interface's state: present or gone, up or down, and its index (a deleted and
//! re-created interface comes back with a new one).
//!
//! Read through a socket ioctl in this process's network namespace; /sys/class/net would show
//! the namespace that mounted sysfs, which `nsenter --net` does not change.

use std::ffi::CString;

/// What the interface looks like now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Gone,
    Down { index: u32 },
    Up { index: u32 },
}

impl State {
    pub const fn index(self) -> Option<u32> {
        match self {
            Self::Gone => None,
            Self::Down { index } | Self::Up { index } => Some(index),
        }
    }
}

/// Reads `iface`'s state.
pub fn state(iface: &str) -> State {
    let Ok(name) = CString::new(iface) else {
        return State::Gone;
    };
    // SAFETY: `name` is a valid C string for the call.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if index == 0 {
        return State::Gone;
    }
    if is_up(iface).unwrap_or(false) {
        State::Up { index }
    } else {
        State::Down { index }
    }
}

/// `IFF_UP` from SIOCGIFFLAGS.
fn is_up(iface: &str) -> Option<bool> {
    let bytes = iface.as_bytes();
    // SAFETY: an ifreq is plain data; zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    if bytes.len() >= req.ifr_name.len() {
        return None;
    }
    for (dst, &b) in req.ifr_name.iter_mut().zip(bytes) {
        *dst = libc::c_char::from_ne_bytes([b]);
    }
    // SAFETY: a datagram socket only to issue the ioctl; closed below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: `req` is a valid ifreq with a NUL-terminated name; the kernel fills the flags.
    let rc = unsafe { libc::ioctl(fd, libc::SIOCGIFFLAGS, &raw mut req) };
    // SAFETY: `fd` is ours.
    unsafe { libc::close(fd) };
    if rc != 0 {
        return None;
    }
    // SAFETY: SIOCGIFFLAGS filled the flags member of the union.
    let flags = unsafe { req.ifr_ifru.ifru_flags };
    Some(i32::from(flags) & libc::IFF_UP != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_present_and_a_made_up_name_is_gone() {
        assert!(matches!(
            state("lo"),
            State::Up { index: 1 } | State::Down { index: 1 }
        ));
        assert_eq!(state("no-such-if0"), State::Gone);
        assert_eq!(
            state("this-name-is-far-too-long-for-an-interface"),
            State::Gone
        );
    }
}
