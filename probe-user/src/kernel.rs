//! What the running kernel offers the probe, as `probe --version` tells it: found without root
//! and without loading anything, from the release uname(2) reports and from files anyone may
//! look for. Nothing here can say whether an interface's driver runs XDP natively: only
//! attaching to that interface tells, which `probe run` does and logs.

use std::path::Path;

/// A kernel release's version: major, minor, patch.
pub type Version = (u32, u32, u32);

/// BPF ring buffers (`BPF_MAP_TYPE_RINGBUF`), which carry the first-contact events, came in 5.8.
pub const RING_BUFFER_SINCE: Version = (5, 8, 0);
/// XDP came in 4.8.
pub const XDP_SINCE: Version = (4, 8, 0);

/// The kernel's own BTF (CONFIG_DEBUG_INFO_BTF).
const BTF: &str = "/sys/kernel/btf/vmlinux";
/// A sysctl that exists exactly when the kernel has the bpf() system call
/// (CONFIG_BPF_SYSCALL), readable by anyone.
const BPF_SYSCALL: &str = "/proc/sys/kernel/unprivileged_bpf_disabled";

/// What was found about the running kernel. `None`: the place to look is not there (no sysfs
/// or procfs mounted), so nothing can be said either way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// The release uname reports (`6.12.0-rc3+`), if it could be read.
    pub release: Option<String>,
    /// Whether the kernel's BTF is there.
    pub btf: Option<bool>,
    /// Whether the kernel has the bpf() system call.
    pub bpf_syscall: Option<bool>,
}

impl Found {
    /// Looks at the running kernel.
    pub fn here() -> Self {
        Self {
            release: release(),
            btf: exists(Path::new(BTF)),
            bpf_syscall: exists(Path::new(BPF_SYSCALL)),
        }
    }
}

/// The version at the start of a release: `6.12.0-rc3+` is 6.12.0, `6.12-rc3` is 6.12.0,
/// `5.15.153.1-microsoft-standard-WSL2` is 5.15.153. `None` unless it starts with
/// MAJOR.MINOR in digits.
pub fn parse_release(release: &str) -> Option<Version> {
    /// The leading digits of `part` as a number, and whether they are all of it.
    fn leading(part: &str) -> Option<(u32, bool)> {
        let digits = part
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(part.len());
        let n = part[..digits].parse().ok()?;
        Some((n, digits == part.len()))
    }
    let mut parts = release.splitn(3, '.');
    let (major, whole) = leading(parts.next()?)?;
    if !whole {
        return None;
    }
    let (minor, whole) = leading(parts.next()?)?;
    // A patch level follows only a minor number that ends at its dot; `6.1.x` has none.
    let patch = match parts.next() {
        Some(rest) if whole => leading(rest).map_or(0, |(n, _)| n),
        _ => 0,
    };
    Some((major, minor, patch))
}

/// Whether `path` exists; `None` when its directory does not either (the filesystem it lives
/// on is not mounted here).
fn exists(path: &Path) -> Option<bool> {
    if path.symlink_metadata().is_ok() {
        Some(true)
    } else {
        path.parent().filter(|dir| dir.is_dir()).map(|_| false)
    }
}

/// The running kernel's release, as uname(2) reports it.
fn release() -> Option<String> {
    // SAFETY: utsname is a C struct of byte arrays, for which all zeroes is a valid value.
    let mut name: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: uname writes only into the struct it is given, which lives across the call.
    if unsafe { libc::uname(&raw mut name) } != 0 {
        return None;
    }
    // Up to the terminating zero, which the kernel always writes; the whole array otherwise.
    let bytes: Vec<u8> = name
        .release
        .iter()
        .take_while(|&&c| c != 0)
        // c_char is i8 on some targets and u8 on others; its one byte either way.
        .map(|c| c.to_ne_bytes()[0])
        .collect();
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// The line `probe --version` adds after the version: the release and, for each feature, yes,
/// no (with what it lacks) or unknown.
pub fn describe(found: &Found) -> String {
    let version = found.release.as_deref().and_then(parse_release);
    let btf = match found.btf {
        Some(true) => "yes",
        Some(false) => "no",
        None => "unknown",
    };
    let before = |first: Version| format!("no (before {}.{})", first.0, first.1);
    let ring = match version {
        Some(v) if v >= RING_BUFFER_SINCE => "yes".to_owned(),
        Some(_) => before(RING_BUFFER_SINCE),
        None => "unknown".to_owned(),
    };
    let xdp = match (found.bpf_syscall, version) {
        (Some(false), _) => "no (no bpf() system call)".to_owned(),
        (None, _) | (_, None) => "unknown".to_owned(),
        (Some(true), Some(v)) if v < XDP_SINCE => before(XDP_SINCE),
        (Some(true), Some(_)) => "yes (native mode depends on the interface's driver)".to_owned(),
    };
    let release = found
        .release
        .as_deref()
        .map_or("(uname failed)".into(), crate::printable::line);
    format!("kernel {release}: BTF {btf}, BPF ring buffer {ring}, XDP {xdp}")
}

/// What `probe --version` prints after `probe `: the version, then what this kernel offers.
pub fn version_text(found: &Found) -> String {
    format!("{}\n{}", env!("CARGO_PKG_VERSION"), describe(found))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_release_starts_with_its_version() {
        for (release, version) in [
            ("6.18.44-fc-v1272", Some((6, 18, 44))),
            ("6.12.0-rc3+", Some((6, 12, 0))),
            ("6.12-rc3", Some((6, 12, 0))),
            ("5.8", Some((5, 8, 0))),
            ("4.19.0-26-amd64", Some((4, 19, 0))),
            ("5.15.153.1-microsoft-standard-WSL2", Some((5, 15, 153))),
            ("6.1.x", Some((6, 1, 0))),
            ("6.1.", Some((6, 1, 0))),
            ("garbage", None),
            ("", None),
            ("6", None),
            ("6.", None),
            (".12.0", None),
            ("v6.1", None),
            ("6rc.1", None),
            ("6.x.1", None),
            ("99999999999.1.0", None),
            ("6.99999999999", None),
        ] {
            assert_eq!(parse_release(release), version, "{release:?}");
        }
    }

    fn found(release: Option<&str>, btf: Option<bool>, bpf_syscall: Option<bool>) -> Found {
        Found {
            release: release.map(str::to_owned),
            btf,
            bpf_syscall,
        }
    }

    #[test]
    fn a_recent_kernel_has_everything_but_says_what_it_cannot_know() {
        assert_eq!(
            describe(&found(Some("6.12.0-rc3+"), Some(true), Some(true))),
            "kernel 6.12.0-rc3+: BTF yes, BPF ring buffer yes, XDP yes (native mode depends on \
             the interface's driver)"
        );
        assert_eq!(
            describe(&found(Some("5.8.0"), Some(true), Some(true))),
            "kernel 5.8.0: BTF yes, BPF ring buffer yes, XDP yes (native mode depends on the \
             interface's driver)"
        );
    }

    #[test]
    fn an_old_kernel_says_what_it_lacks() {
        assert_eq!(
            describe(&found(Some("5.4.0-150-generic"), Some(false), Some(true))),
            "kernel 5.4.0-150-generic: BTF no, BPF ring buffer no (before 5.8), XDP yes (native \
             mode depends on the interface's driver)"
        );
        assert_eq!(
            describe(&found(Some("4.4.0"), Some(false), Some(true))),
            "kernel 4.4.0: BTF no, BPF ring buffer no (before 5.8), XDP no (before 4.8)"
        );
        assert_eq!(
            describe(&found(Some("6.1.0"), Some(true), Some(false))),
            "kernel 6.1.0: BTF yes, BPF ring buffer yes, XDP no (no bpf() system call)"
        );
    }

    #[test]
    fn what_cannot_be_read_is_unknown() {
        assert_eq!(
            describe(&found(Some("garbage"), None, None)),
            "kernel garbage: BTF unknown, BPF ring buffer unknown, XDP unknown"
        );
        assert_eq!(
            describe(&found(None, Some(true), Some(true))),
            "kernel (uname failed): BTF yes, BPF ring buffer unknown, XDP unknown"
        );
        assert_eq!(
            describe(&found(Some("6.1\u{1b}[2J"), Some(true), Some(true))),
            "kernel 6.1\\u{1b}[2J: BTF yes, BPF ring buffer yes, XDP yes (native mode depends \
             on the interface's driver)"
        );
    }

    #[test]
    fn a_missing_file_is_no_only_where_its_directory_is() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("vmlinux"), "").unwrap();
        assert_eq!(exists(&dir.path().join("vmlinux")), Some(true));
        assert_eq!(exists(&dir.path().join("absent")), Some(false));
        assert_eq!(exists(&dir.path().join("no-sysfs/vmlinux")), None);
    }

    #[test]
    fn the_version_text_is_the_version_then_the_kernel() {
        let kernel = found(Some("6.6.1"), Some(true), Some(false));
        assert_eq!(
            version_text(&kernel),
            format!(
                "{}\nkernel 6.6.1: BTF yes, BPF ring buffer yes, XDP no (no bpf() system call)",
                env!("CARGO_PKG_VERSION")
            )
        );
    }
}
