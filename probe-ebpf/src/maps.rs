//! The counter map: each element is one CPU's whole block of counters, so one lookup (keyed by
//! the CPU) serves every counter a packet bumps. The program is built with one element; the
//! daemon sets the map to `possible CPUs` elements before loading (see
//! `probe_common::counters`). In memory this is the flat `cpu * BLOCK + index` layout the
//! daemon maps.

use aya_ebpf::{
    macros::map,
    maps::{Array, PerCpuArray},
};
use probe_common::{
    counters::{BLOCK, BPF_F_MMAPABLE, Family},
    packet::Packet,
};

/// One CPU's counters.
pub type Block = [u64; BLOCK as usize];

#[map]
pub static COUNTERS: Array<Block> = Array::with_max_entries(1, BPF_F_MMAPABLE);

/// This CPU's block. `None` for a CPU the daemon did not size for: its packets are skipped
/// rather than misfiled.
#[inline(always)]
pub fn block(cpu: u32) -> Option<&'static mut Block> {
    // SAFETY: a live array element; only this CPU writes its block (XDP runs with migration
    // disabled, so the program cannot move CPU mid-packet), so plain loads and stores suffice.
    COUNTERS.get_ptr_mut(cpu).map(|b| unsafe { &mut *b })
}

/// Adds `n` to counter `key` of `family` in block `b`.
#[inline(always)]
pub fn bump(b: &mut Block, family: Family, key: u32, n: u64) {
    b[family.index(key) as usize] += n;
}

/// Each CPU's parsed packet: the parser writes here rather than onto the 512-byte stack, which
/// the tracker's frame shares.
#[map]
pub static PACKET: PerCpuArray<Packet> = PerCpuArray::with_max_entries(1, 0);
