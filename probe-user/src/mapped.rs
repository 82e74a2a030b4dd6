//! A BPF array created with `BPF_F_MMAPABLE`, mapped read-only into the daemon: it reads what
//! the kernel writes straight out of shared memory, with no syscall per element.

use std::{
    io,
    marker::PhantomData,
    os::fd::{AsFd as _, AsRawFd as _},
    ptr::NonNull,
};

use aya::maps::MapData;

/// `len` elements of `T`, mapped read-only.
pub struct Mapped<T> {
    base: NonNull<T>,
    /// Elements mapped.
    len: usize,
    /// Length of the mapping in bytes (whole pages).
    bytes: usize,
    /// Keeps the map's file descriptor, and so the map, alive while it is mapped.
    _map: MapData,
    _values: PhantomData<T>,
}

// SAFETY: the mapping is read-only and only read with volatile loads; the kernel is the only
// writer, and nothing in `Mapped` changes after construction.
unsafe impl<T> Send for Mapped<T> {}
// SAFETY: as above: shared access is read-only.
unsafe impl<T> Sync for Mapped<T> {}

impl<T: Copy> Mapped<T> {
    /// Maps the first `len` elements of `map`.
    pub fn new(map: MapData, len: usize) -> io::Result<Self> {
        // SAFETY: sysconf has no preconditions.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
        let bytes = (len * size_of::<T>()).div_ceil(page).max(1) * page;
        // SAFETY: a read-only shared mapping of a BPF_F_MMAPABLE array; the kernel checks that
        // `bytes` fits the map and fails the call otherwise.
        let addr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                bytes,
                libc::PROT_READ,
                libc::MAP_SHARED,
                map.fd().as_fd().as_raw_fd(),
                0,
            )
        };
        if addr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let base = NonNull::new(addr.cast::<T>())
            .ok_or_else(|| io::Error::other("mmap returned a null address"))?;
        Ok(Self {
            base,
            len,
            bytes,
            _map: map,
            _values: PhantomData,
        })
    }

    /// Elements mapped.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Element `i` as it is now (`None` past the end). The kernel may be writing it: the copy
    /// is a volatile read, which may mix fields of two moments but is never undefined.
    #[inline]
    pub fn get(&self, i: usize) -> Option<T> {
        // SAFETY: `i < len`, inside the mapping; `T` is plain old data (every bit pattern of
        // the kernel's values is valid), read unaligned-safe at its natural alignment.
        (i < self.len).then(|| unsafe { self.base.as_ptr().add(i).read_volatile() })
    }
}

impl<T> Drop for Mapped<T> {
    fn drop(&mut self) {
        // SAFETY: `base`/`bytes` are exactly what mmap returned, unmapped once.
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.bytes) };
    }
}
