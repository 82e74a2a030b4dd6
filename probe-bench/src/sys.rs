//! The few `bpf()` commands aya 0.14 does not offer (batch lookups) or hides behind per-type
//! wrappers, called directly so every read strategy pays the same syscall cost.

use std::{io, os::fd::RawFd};

// Commands of bpf(2), from include/uapi/linux/bpf.h.
const BPF_MAP_LOOKUP_ELEM: libc::c_long = 1;
const BPF_MAP_UPDATE_ELEM: libc::c_long = 2;
const BPF_MAP_GET_NEXT_KEY: libc::c_long = 4;
const BPF_MAP_LOOKUP_BATCH: libc::c_long = 24;

/// The element commands' part of `union bpf_attr`.
#[repr(C)]
struct ElemAttr {
    map_fd: u32,
    pad: u32,
    key: u64,
    /// `value` or `next_key`.
    value: u64,
    flags: u64,
}

/// The batch commands' part of `union bpf_attr`.
#[repr(C)]
struct BatchAttr {
    in_batch: u64,
    out_batch: u64,
    keys: u64,
    values: u64,
    count: u32,
    map_fd: u32,
    elem_flags: u64,
    flags: u64,
}

/// bpf(cmd, attr, sizeof attr). The kernel accepts an attr shorter than its own union.
fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> io::Result<()> {
    // SAFETY: `attr` is a live, writable, #[repr(C)] prefix of `union bpf_attr` for `cmd`, and
    // every pointer inside it points at a buffer sized as the map requires (callers' contract).
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            std::ptr::from_mut(attr).cast::<libc::c_void>(),
            size_of::<T>() as libc::c_uint,
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// One element: `value` must be the map's value size (times possible CPUs for per-CPU maps).
pub fn lookup(fd: RawFd, key: &[u8], value: &mut [u8]) -> io::Result<()> {
    let mut attr = ElemAttr {
        map_fd: fd.cast_unsigned(),
        pad: 0,
        key: key.as_ptr() as u64,
        value: value.as_mut_ptr() as u64,
        flags: 0,
    };
    bpf(BPF_MAP_LOOKUP_ELEM, &mut attr)
}

pub fn update(fd: RawFd, key: &[u8], value: &[u8]) -> io::Result<()> {
    let mut attr = ElemAttr {
        map_fd: fd.cast_unsigned(),
        pad: 0,
        key: key.as_ptr() as u64,
        value: value.as_ptr() as u64,
        flags: 0,
    };
    bpf(BPF_MAP_UPDATE_ELEM, &mut attr)
}

/// The key after `key` (the first key with `None`); `Ok(false)` at the end of the map.
pub fn next_key(fd: RawFd, key: Option<&[u8]>, next: &mut [u8]) -> io::Result<bool> {
    let mut attr = ElemAttr {
        map_fd: fd.cast_unsigned(),
        pad: 0,
        key: key.map_or(0, |k| k.as_ptr() as u64),
        value: next.as_mut_ptr() as u64,
        flags: 0,
    };
    match bpf(BPF_MAP_GET_NEXT_KEY, &mut attr) {
        Ok(()) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Reads the whole map with `BPF_MAP_LOOKUP_BATCH`, `chunk` elements per call, into `keys` and
/// `values` (each long enough for the map). Returns the number of elements read.
pub fn lookup_all_batched(
    fd: RawFd,
    key_size: usize,
    value_size: usize,
    chunk: u32,
    keys: &mut [u8],
    values: &mut [u8],
) -> io::Result<usize> {
    // The kernel's opaque position: a u32 for arrays and hash maps alike; 8 bytes to be safe.
    let mut token = [0u64; 2];
    let mut read = 0usize;
    let mut first = true;
    loop {
        let room = (keys.len() / key_size - read).min(chunk as usize) as u32;
        if room == 0 {
            return Ok(read);
        }
        let (in_ptr, out_ptr) = {
            let base = token.as_mut_ptr();
            // SAFETY: both halves lie inside `token`.
            (base as u64, unsafe { base.add(1) } as u64)
        };
        let mut attr = BatchAttr {
            in_batch: if first { 0 } else { in_ptr },
            out_batch: out_ptr,
            keys: keys[read * key_size..].as_mut_ptr() as u64,
            values: values[read * value_size..].as_mut_ptr() as u64,
            count: room,
            map_fd: fd.cast_unsigned(),
            elem_flags: 0,
            flags: 0,
        };
        let result = bpf(BPF_MAP_LOOKUP_BATCH, &mut attr);
        // On ENOENT the kernel still reports the last, partial, chunk in `count`.
        read += attr.count as usize;
        match result {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(read),
            Err(e) => return Err(e),
        }
        token[0] = token[1];
        first = false;
    }
}
