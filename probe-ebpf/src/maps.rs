//! The counter maps. Each element is one CPU's whole slice of a family, so one lookup (keyed by
//! the CPU) serves every counter of that family a packet bumps. The program is built with one
//! element; the daemon sets each map to `possible CPUs` elements before loading (see
//! `probe_common::counters`). In memory this is the flat `cpu * SLICE + key` layout the daemon
//! maps.

use aya_ebpf::{
    macros::map,
    maps::{Array, PerCpuArray},
};
use probe_common::{
    counters::{
        BPF_F_MMAPABLE, DST_PORTS as DST, ICMP as ICMP4, ICMPV6 as ICMP6, SRC_PORTS as SRC,
        SYN_PORTS as SYN, TCP_FLAGS as FLAGS, TOTALS as TOT,
    },
    packet::Packet,
};

/// One CPU's counters of a family; `N` is a power of two (asserted in probe-common).
pub type Slice<const N: usize> = [u64; N];

#[map]
pub static TOTALS: Array<Slice<{ TOT.slice as usize }>> =
    Array::with_max_entries(1, BPF_F_MMAPABLE);
#[map]
pub static DST_PORTS: Array<Slice<{ DST.slice as usize }>> =
    Array::with_max_entries(1, BPF_F_MMAPABLE);
#[map]
pub static SRC_PORTS: Array<Slice<{ SRC.slice as usize }>> =
    Array::with_max_entries(1, BPF_F_MMAPABLE);
#[map]
pub static SYN_PORTS: Array<Slice<{ SYN.slice as usize }>> =
    Array::with_max_entries(1, BPF_F_MMAPABLE);
#[map]
pub static TCP_FLAGS: Array<Slice<{ FLAGS.slice as usize }>> =
    Array::with_max_entries(1, BPF_F_MMAPABLE);
#[map]
pub static ICMP: Array<Slice<{ ICMP4.slice as usize }>> =
    Array::with_max_entries(1, BPF_F_MMAPABLE);
#[map]
pub static ICMPV6: Array<Slice<{ ICMP6.slice as usize }>> =
    Array::with_max_entries(1, BPF_F_MMAPABLE);

/// This CPU's slice of `map`. `None` for a CPU the daemon did not size for: its packets are
/// skipped rather than misfiled.
#[inline(always)]
pub fn slice<const N: usize>(map: &Array<Slice<N>>, cpu: u32) -> Option<&mut Slice<N>> {
    // SAFETY: a live array element; only this CPU writes its slice (XDP runs with migration
    // disabled, so the program cannot move CPU mid-packet), so plain loads and stores suffice.
    map.get_ptr_mut(cpu).map(|s| unsafe { &mut *s })
}

/// Adds `n` to counter `key` of `s`. The mask keeps the index provably inside the slice, for
/// the verifier, without a branch; keys are built in range (see `probe_common::counters`).
#[inline(always)]
pub fn bump<const N: usize>(s: &mut Slice<N>, key: u32, n: u64) {
    s[key as usize & (N - 1)] += n;
}

/// Adds `n` to `key` of this CPU's slice of `map`: for a family touched once per packet.
#[inline(always)]
pub fn add<const N: usize>(map: &Array<Slice<N>>, cpu: u32, key: u32, n: u64) {
    if let Some(s) = slice(map, cpu) {
        bump(s, key, n);
    }
}

/// Each CPU's parsed packet: the parser writes here rather than onto the 512-byte stack, which
/// the tracker's frame shares.
#[map]
pub static PACKET: PerCpuArray<Packet> = PerCpuArray::with_max_entries(1, 0);
