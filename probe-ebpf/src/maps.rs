//! The counter maps. Sizes here hold one CPU; the daemon resizes each to
//! `possible CPUs * slice` before loading (see `probe_common::counters`).

use aya_ebpf::{
    macros::map,
    maps::{Array, PerCpuArray},
};
use probe_common::packet::Packet;
use probe_common::counters::{
    BPF_F_MMAPABLE, DST_PORTS as DST, ICMP as ICMP4, ICMPV6 as ICMP6, SRC_PORTS as SRC,
    SYN_PORTS as SYN, TCP_FLAGS as FLAGS, TOTALS as TOT,
};

#[map]
pub static TOTALS: Array<u64> = Array::with_max_entries(TOT.slice, BPF_F_MMAPABLE);
#[map]
pub static DST_PORTS: Array<u64> = Array::with_max_entries(DST.slice, BPF_F_MMAPABLE);
#[map]
pub static SRC_PORTS: Array<u64> = Array::with_max_entries(SRC.slice, BPF_F_MMAPABLE);
#[map]
pub static SYN_PORTS: Array<u64> = Array::with_max_entries(SYN.slice, BPF_F_MMAPABLE);
#[map]
pub static TCP_FLAGS: Array<u64> = Array::with_max_entries(FLAGS.slice, BPF_F_MMAPABLE);
#[map]
pub static ICMP: Array<u64> = Array::with_max_entries(ICMP4.slice, BPF_F_MMAPABLE);
#[map]
pub static ICMPV6: Array<u64> = Array::with_max_entries(ICMP6.slice, BPF_F_MMAPABLE);

/// Adds `n` to `key` of this CPU's slice of `map`. An index past the map (a CPU the daemon did
/// not size for) finds no element and is skipped rather than misfiled.
#[inline(always)]
pub fn add(map: &Array<u64>, cpu: u32, slice: u32, key: u32, n: u64) {
    if let Some(counter) = map.get_ptr_mut(cpu * slice + key) {
        // SAFETY: the pointer is to a live array element, and only this CPU writes its slice
        // (XDP runs with migration disabled, so the program cannot move CPU mid-packet).
        unsafe { *counter += n };
    }
}

/// Each CPU's parsed packet: the parser writes here rather than onto the 512-byte stack, which
/// the tracker's frame shares.
#[map]
pub static PACKET: PerCpuArray<Packet> = PerCpuArray::with_max_entries(1, 0);
