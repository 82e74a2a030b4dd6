//! Pinning the program's link and maps in bpffs, so a daemon that dies (or is upgraded) leaves
//! the probe counting, and the next one picks up the same maps instead of starting over.
//!
//! Layout: `/sys/fs/bpf/probe/<netns>-<iface>/v<LAYOUT>/{link,<MAP>...}`. The network
//! namespace's inode is part of the name because interface names repeat across namespaces;
//! the layout version is part of the path because reused pins are not checked against the
//! new program's map definitions by the loader: a change of layout must not reuse old pins.

use std::{
    ffi::CString,
    io,
    os::unix::fs::MetadataExt as _,
    path::{Path, PathBuf},
};

/// The maps' layout version (bumped in probe-common with any change to them).
pub const LAYOUT: u32 = probe_common::PIN_LAYOUT;
/// Where bpffs is mounted.
pub const BPFFS: &str = "/sys/fs/bpf";
/// `statfs` type of bpffs.
const BPF_FS_MAGIC: i64 = 0xcafe_4a11;

/// The pin directory of one interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pins {
    dir: PathBuf,
}

/// Whether bpffs is there to pin in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bpffs {
    Mounted,
    /// It was not; the daemon mounted it.
    MountedNow,
    /// Not mounted and mounting failed (for example inside `ip netns exec`, which remounts
    /// /sys): the daemon runs without pins.
    Unavailable,
}

fn is_bpffs(path: &Path) -> bool {
    let Ok(c) = CString::new(path.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid C string and `st` a writable statfs.
    let rc = unsafe { libc::statfs(c.as_ptr(), &raw mut st) };
    // f_type is i64 here but narrower on some architectures.
    #[allow(
        clippy::useless_conversion,
        reason = "the field's type differs by architecture"
    )]
    let f_type = i64::from(st.f_type);
    rc == 0 && f_type == BPF_FS_MAGIC
}

/// True when bpffs is mounted at [`BPFFS`] in this process's view of the mounts.
pub fn bpffs_mounted() -> bool {
    is_bpffs(Path::new(BPFFS))
}

/// Makes sure bpffs is mounted at [`BPFFS`], mounting it if it is not.
pub fn ensure_bpffs() -> Bpffs {
    let path = Path::new(BPFFS);
    if is_bpffs(path) {
        return Bpffs::Mounted;
    }
    if std::fs::create_dir_all(path).is_err() {
        return Bpffs::Unavailable;
    }
    let (Ok(src), Ok(target), Ok(fstype)) = (
        CString::new("bpf"),
        CString::new(BPFFS),
        CString::new("bpf"),
    ) else {
        return Bpffs::Unavailable;
    };
    // SAFETY: valid C strings; no mount data.
    let rc = unsafe {
        libc::mount(
            src.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if rc == 0 && is_bpffs(path) {
        Bpffs::MountedNow
    } else {
        Bpffs::Unavailable
    }
}

/// The inode of the calling thread's network namespace. A thread's own: a daemon run
/// in-process may have entered another namespace than the process's first thread.
pub(crate) fn netns_inode() -> io::Result<u64> {
    Ok(std::fs::metadata("/proc/thread-self/ns/net")?.ino())
}

impl Pins {
    /// The pin directory of `iface` in this network namespace (not created).
    pub fn for_iface(iface: &str) -> io::Result<Self> {
        Self::under(Path::new(BPFFS), iface)
    }

    /// As [`Pins::for_iface`], under another root (tests).
    pub fn under(root: &Path, iface: &str) -> io::Result<Self> {
        let ns = netns_inode()?;
        Ok(Self {
            dir: root
                .join("probe")
                .join(format!("{ns}-{iface}"))
                .join(format!("v{LAYOUT}")),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn map(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn link(&self) -> PathBuf {
        self.dir.join("link")
    }

    /// True when a link is pinned: a probe is attached (its daemon may be dead).
    pub fn has_link(&self) -> bool {
        self.link().exists()
    }

    pub fn create(&self) -> io::Result<()> {
        std::fs::create_dir_all(&self.dir)
    }

    /// Removes every pin of this interface (every layout version) and the directories. Removing
    /// the link's pin detaches the program once no process holds the link any more.
    pub fn remove(&self) -> io::Result<()> {
        let Some(iface_dir) = self.dir.parent() else {
            return Ok(());
        };
        match std::fs::remove_dir_all(iface_dir) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// The network namespaces that exist, by inode, as far as this process can see: those of
/// every process and thread, and those kept by a bind mount (`ip netns add` keeps its under
/// /run/netns, container runtimes elsewhere; every nsfs mount in view counts).
pub fn live_netns() -> std::collections::BTreeSet<u64> {
    let mut live = std::collections::BTreeSet::new();
    let inode = |path: &Path| std::fs::metadata(path).map(|m| m.ino()).ok();
    if let Ok(procs) = std::fs::read_dir("/proc") {
        for p in procs.flatten() {
            live.extend(inode(&p.path().join("ns/net")));
            if let Ok(tasks) = std::fs::read_dir(p.path().join("task")) {
                live.extend(
                    tasks
                        .flatten()
                        .filter_map(|t| inode(&t.path().join("ns/net"))),
                );
            }
        }
    }
    // mountinfo: "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS ... - FSTYPE SOURCE ...".
    if let Ok(mounts) = std::fs::read_to_string("/proc/self/mountinfo") {
        for line in mounts.lines() {
            let mut halves = line.splitn(2, " - ");
            let (Some(front), Some(back)) = (halves.next(), halves.next()) else {
                continue;
            };
            if back.starts_with("nsfs ")
                && let Some(point) = front.split(' ').nth(4)
            {
                live.extend(inode(Path::new(&point.replace("\\040", " "))));
            }
        }
    }
    live
}

/// The pin directories whose network namespace no longer exists: what was left by daemons of
/// namespaces deleted since (the interface went with its namespace, so nothing counts there).
pub fn stale() -> io::Result<Vec<PathBuf>> {
    let root = Path::new(BPFFS).join("probe");
    let entries = match std::fs::read_dir(&root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let live = live_netns();
    let mut stale = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(ns) = name
            .to_str()
            .and_then(|n| n.split_once('-'))
            .and_then(|(ns, _)| ns.parse::<u64>().ok())
        else {
            continue;
        };
        if !live.contains(&ns) {
            stale.push(entry.path());
        }
    }
    stale.sort();
    Ok(stale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_namespace_is_live() {
        assert!(live_netns().contains(&netns_inode().unwrap()));
    }

    #[test]
    fn pins_live_per_namespace_interface_and_layout() {
        let p = Pins::under(Path::new("/x"), "eth1").unwrap();
        let ns = netns_inode().unwrap();
        assert_eq!(p.dir(), Path::new(&format!("/x/probe/{ns}-eth1/v{LAYOUT}")));
        assert_eq!(
            p.link(),
            Path::new(&format!("/x/probe/{ns}-eth1/v{LAYOUT}/link"))
        );
        assert_eq!(
            p.map("COUNTERS"),
            Path::new(&format!("/x/probe/{ns}-eth1/v{LAYOUT}/COUNTERS"))
        );
    }

    #[test]
    fn remove_clears_every_layout_of_the_interface_and_tolerates_absence() {
        let root = tempfile::tempdir().unwrap();
        let p = Pins::under(root.path(), "veth0").unwrap();
        p.create().unwrap();
        std::fs::write(p.link(), b"").unwrap();
        let old = p.dir().parent().unwrap().join("v0");
        std::fs::create_dir_all(&old).unwrap();
        assert!(p.has_link());
        p.remove().unwrap();
        assert!(!p.has_link());
        assert!(!old.exists());
        p.remove().unwrap();
    }

    #[test]
    fn a_plain_directory_is_not_bpffs() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!is_bpffs(dir.path()));
    }
}
