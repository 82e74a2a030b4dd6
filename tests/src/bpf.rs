//! Reading what the daemon pinned in bpffs with `bpftool`, independently of the daemon: the
//! maps' sizes and contents, and the program its pinned link runs.

use std::{path::Path, process::Command};

use serde_json::Value;

/// `bpftool -j <args>`, parsed; panics unless it succeeds.
pub fn bpftool(args: &[&str]) -> Value {
    let out = Command::new("bpftool")
        .arg("-j")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run bpftool (`cargo xtask setup` installs it): {e}"));
    assert!(
        out.status.success(),
        "bpftool {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("bpftool prints JSON with -j")
}

fn path_arg(path: &Path) -> String {
    path.to_str()
        .unwrap_or_else(|| panic!("a non-UTF-8 pin path {}", path.display()))
        .to_owned()
}

/// `bpftool map show pinned <path>`: `max_entries`, `bytes_memlock`, ...
pub fn map_info(path: &Path) -> Value {
    bpftool(&["map", "show", "pinned", &path_arg(path)])
}

fn bytes(v: &Value) -> Vec<u8> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a byte list: {v}"))
        .iter()
        .map(|b| {
            let hex = b.as_str().and_then(|s| s.strip_prefix("0x")).unwrap_or("?");
            u8::from_str_radix(hex, 16).unwrap_or_else(|_| panic!("not a hex byte: {b}"))
        })
        .collect()
}

/// Possible CPUs (`/sys/devices/system/cpu/possible`, e.g. `0-1`): how many parts the daemon
/// sizes each per-CPU table for.
pub fn possible_cpus() -> u64 {
    let list = std::fs::read_to_string("/sys/devices/system/cpu/possible")
        .unwrap_or_else(|e| panic!("reading the possible CPUs: {e}"));
    list.trim()
        .split(',')
        .map(|range| {
            let bound = |s: &str| {
                s.parse::<u64>()
                    .unwrap_or_else(|_| panic!("not a CPU number: {s:?} in {list:?}"))
            };
            if let Some((lo, hi)) = range.split_once('-') {
                bound(hi) - bound(lo) + 1
            } else {
                bound(range);
                1
            }
        })
        .sum()
}

/// Every entry of the pinned map at `path` as (key bytes, value bytes).
pub fn map_entries(path: &Path) -> Vec<(Vec<u8>, Vec<u8>)> {
    let dump = bpftool(&["map", "dump", "pinned", &path_arg(path)]);
    dump.as_array()
        .unwrap_or_else(|| panic!("bpftool map dump did not print a list: {dump}"))
        .iter()
        .map(|e| {
            // Per-CPU maps list their values per CPU; only the keys matter then.
            let value = if e["value"].is_array() {
                bytes(&e["value"])
            } else {
                Vec::new()
            };
            (bytes(&e["key"]), value)
        })
        .collect()
}

/// The packets total read straight from the pinned counter map at `path` (no daemon needed):
/// counter `total::PACKETS` of every CPU's block, summed. The map is mapped read-only, as the
/// daemon reads it (probe-common/src/counters.rs: element `cpu` of the map is
/// that CPU's block, `BLOCK` counters long, totals first).
pub fn pinned_packets(path: &Path) -> u64 {
    use probe_common::counters::{BLOCK, TOTALS, total};
    let info = map_info(path);
    let cpus = info["max_entries"]
        .as_u64()
        .unwrap_or_else(|| panic!("no max_entries in {info}")) as usize;
    assert_eq!(
        info["bytes_value"].as_u64(),
        Some(u64::from(BLOCK) * 8),
        "{info}"
    );
    let fd = open_pinned(path);
    let len = cpus * BLOCK as usize * 8;
    // SAFETY: a read-only shared mapping of a BPF_F_MMAPABLE array of `len` bytes; the kernel
    // refuses a length beyond the map.
    let base = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_SHARED,
            std::os::fd::AsRawFd::as_raw_fd(&fd),
            0,
        )
    };
    assert_ne!(
        base,
        libc::MAP_FAILED,
        "mapping {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
    let at = TOTALS.index(total::PACKETS) as usize;
    let sum = (0..cpus)
        .map(|cpu| {
            // SAFETY: inside the mapping (`cpu < cpus`, the index inside the block); the
            // kernel may be writing it, hence volatile.
            unsafe {
                base.cast::<u64>()
                    .add(cpu * BLOCK as usize + at)
                    .read_volatile()
            }
        })
        .sum();
    // SAFETY: exactly the mapping made above.
    unsafe { libc::munmap(base, len) };
    sum
}

/// Opens the BPF object pinned at `path` (`BPF_OBJ_GET`). Read-write: a shared mapping of a
/// descriptor opened read-only is not shared in the kernel's eyes, and a BPF map refuses it.
fn open_pinned(path: &Path) -> std::os::fd::OwnedFd {
    use std::os::{fd::FromRawFd as _, unix::ffi::OsStrExt as _};
    /// `union bpf_attr` as `BPF_OBJ_GET` reads it.
    #[repr(C)]
    struct ObjGet {
        pathname: u64,
        bpf_fd: u32,
        file_flags: u32,
        path_fd: i32,
    }
    const BPF_OBJ_GET: libc::c_long = 7;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .unwrap_or_else(|_| panic!("a NUL in {}", path.display()));
    let attr = ObjGet {
        pathname: c_path.as_ptr() as u64,
        bpf_fd: 0,
        file_flags: 0,
        path_fd: 0,
    };
    // SAFETY: `attr` is a valid BPF_OBJ_GET attribute of the size passed, its path a live C
    // string.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_OBJ_GET,
            &raw const attr,
            size_of::<ObjGet>(),
        )
    };
    assert!(
        fd >= 0,
        "opening the pinned map {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
    // SAFETY: a new descriptor the kernel just gave us, owned from here on.
    unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) }
}

/// The id of the program the pinned link at `link` runs.
pub fn link_program(link: &Path) -> u64 {
    let v = bpftool(&["link", "show", "pinned", &path_arg(link)]);
    v["prog_id"]
        .as_u64()
        .unwrap_or_else(|| panic!("no prog_id in {v}"))
}

/// True while a program with this id is loaded.
pub fn program_loaded(id: u64) -> bool {
    Command::new("bpftool")
        .args(["prog", "show", "id", &id.to_string()])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// KiB of the per-source table (`SOURCES`, `slots` per CPU) a daemon maps into its memory to
/// read it: resident in the daemon once read, though the kernel allocated it and holds it
/// whether or not it is mapped. Memory bounds are the daemon's own plus this.
pub fn mapped_sources_kib(slots: u32) -> u64 {
    let slot = size_of::<probe_common::track::SourceSlot>() as u64;
    (possible_cpus() * u64::from(slots) * slot).div_ceil(1024)
}
