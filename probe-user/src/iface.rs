//! The watched interface's state: present or gone, up or down, and its index (a deleted and
//! re-created interface comes back with a new one); and its addresses, which say which
//! networks the probe protects unless told.
//!
//! Read through a socket ioctl in this process's network namespace; /sys/class/net would show
//! the namespace that mounted sysfs, which `nsenter --net` does not change.

use std::{
    ffi::{CStr, CString},
    io,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
};

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

/// `iface`'s addresses, each with its prefix length, from `getifaddrs` (this network
/// namespace, IPv4 and IPv6); none for an interface that has none or does not exist.
pub fn addresses(iface: &str) -> io::Result<Vec<(IpAddr, u8)>> {
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs allocates the list and points `list` at it; freed below.
    if unsafe { libc::getifaddrs(&raw mut list) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut found = Vec::new();
    let mut at = list;
    while !at.is_null() {
        // SAFETY: `at` is a node of the list getifaddrs made, alive until freeifaddrs.
        let entry = unsafe { &*at };
        at = entry.ifa_next;
        if entry.ifa_name.is_null() || entry.ifa_addr.is_null() {
            continue;
        }
        // SAFETY: the kernel's interface name, NUL-terminated.
        if unsafe { CStr::from_ptr(entry.ifa_name) }.to_bytes() != iface.as_bytes() {
            continue;
        }
        // SAFETY: getifaddrs's addresses are sockaddrs sized by their family.
        let Some(addr) = (unsafe { ip_of(entry.ifa_addr) }) else {
            continue;
        };
        let full = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = if entry.ifa_netmask.is_null() {
            full
        } else {
            // SAFETY: as for the address; the mask has the address's family.
            match unsafe { ip_of(entry.ifa_netmask) } {
                Some(IpAddr::V4(m)) => m.to_bits().count_ones() as u8,
                Some(IpAddr::V6(m)) => m.to_bits().count_ones() as u8,
                None => full,
            }
        };
        found.push((addr, prefix));
    }
    // SAFETY: the list getifaddrs made, not used after this.
    unsafe { libc::freeifaddrs(list) };
    Ok(found)
}

/// The IP address in `sa`, if it is IPv4 or IPv6.
///
/// # Safety
///
/// `sa` points to a sockaddr as large as its family's (`sockaddr_in`, `sockaddr_in6`).
unsafe fn ip_of(sa: *const libc::sockaddr) -> Option<IpAddr> {
    // SAFETY: every sockaddr starts with its family.
    match i32::from(unsafe { (*sa).sa_family }) {
        libc::AF_INET => {
            // SAFETY: an AF_INET sockaddr is a sockaddr_in; read unaligned, as sockaddr's
            // alignment is smaller.
            let sin = unsafe { sa.cast::<libc::sockaddr_in>().read_unaligned() };
            Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                sin.sin_addr.s_addr,
            ))))
        }
        libc::AF_INET6 => {
            // SAFETY: an AF_INET6 sockaddr is a sockaddr_in6.
            let sin6 = unsafe { sa.cast::<libc::sockaddr_in6>().read_unaligned() };
            Some(IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr)))
        }
        _ => None,
    }
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

    #[test]
    fn loopback_has_its_address_and_prefix_and_a_made_up_name_none() {
        let lo = addresses("lo").unwrap();
        assert!(lo.contains(&(IpAddr::V4(Ipv4Addr::LOCALHOST), 8)), "{lo:?}");
        assert!(addresses("no-such-if0").unwrap().is_empty());
    }
}
