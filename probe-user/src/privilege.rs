//! Giving up privilege once it is no longer needed.
//!
//! Loading and attaching need CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON (or root). After that the
//! daemon only reads memory it has mapped and descriptors it holds, so it drops every
//! capability, unless it must re-attach later (`--follow`), when it keeps the ones attaching
//! needs. No new privilege can be gained afterwards (PR_SET_NO_NEW_PRIVS).

use std::io;

const CAP_NET_ADMIN: u32 = 12;
const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;
/// `_LINUX_CAPABILITY_VERSION_3`: two 32-bit words per set.
const VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct Header {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct Data {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Capabilities re-attaching an XDP program needs: the three loading needs, which the README
/// asks for (a kernel with CAP_BPF, 5.8 or later). CAP_SYS_ADMIN, which older kernels wanted
/// in their place, is not kept.
pub const FOR_ATTACHING: &[u32] = &[CAP_NET_ADMIN, CAP_BPF, CAP_PERFMON];

/// Keeps only `keep` in the permitted and effective sets (and none inheritable), and forbids
/// gaining privilege through exec.
pub fn keep_only(keep: &[u32]) -> io::Result<()> {
    let mut words = [0u32; 2];
    for &cap in keep {
        words[(cap / 32) as usize] |= 1 << (cap % 32);
    }
    let mut header = Header {
        version: VERSION_3,
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    // Only what we still hold can be kept: capset fails when asked to raise a capability.
    // SAFETY: header and a two-element data array, as the v3 ABI requires.
    if unsafe { libc::syscall(libc::SYS_capget, &raw mut header, data.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    for (d, w) in data.iter_mut().zip(words) {
        d.permitted &= w;
        d.effective &= w;
        d.inheritable = 0;
    }
    // SAFETY: as above.
    if unsafe { libc::syscall(libc::SYS_capset, &raw mut header, data.as_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a plain prctl with constant arguments.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// False when the calling thread surely lacks what loading and attaching need (CAP_NET_ADMIN,
/// and CAP_BPF or CAP_SYS_ADMIN): the daemon then stops before anything else with the one
/// line that says to run it as root. True when it has them or cannot tell.
pub fn may_load() -> bool {
    let has = |set: u64, cap: u32| set & (1 << cap) != 0;
    match effective() {
        Ok(set) => has(set, CAP_NET_ADMIN) && (has(set, CAP_BPF) || has(set, CAP_SYS_ADMIN)),
        Err(_) => true,
    }
}

/// The effective capability set of the calling thread (capabilities are a thread's own), as
/// the kernel reports it.
pub fn effective() -> io::Result<u64> {
    let status = std::fs::read_to_string("/proc/thread-self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .ok_or_else(|| io::Error::other("no CapEff line in /proc/thread-self/status"))
}

/// Gives the socket at `path` to the `probe` group when that group exists, so its members can
/// query without root (the socket is mode 0660).
pub fn socket_group(path: &std::path::Path) -> io::Result<Option<u32>> {
    let Ok(name) = std::ffi::CString::new("probe") else {
        return Ok(None);
    };
    // SAFETY: a valid C string; the result is only read immediately.
    let group = unsafe { libc::getgrnam(name.as_ptr()) };
    if group.is_null() {
        return Ok(None);
    }
    // SAFETY: non-null pointer from getgrnam, read before any other call to it.
    let gid = unsafe { (*group).gr_gid };
    std::os::unix::fs::chown(path, None, Some(gid))?;
    Ok(Some(gid))
}
