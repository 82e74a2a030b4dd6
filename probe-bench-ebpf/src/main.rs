//! Yardsticks for `cargo xtask bench`, in an object of their own so that the daemon's object
//! holds nothing but the probe. The benchmark loads this object beside the daemon's, with the
//! same kernel, CPU and harness.
//!
//! - `bench_empty`: returns `XDP_PASS` and nothing else: the floor of `BPF_PROG_TEST_RUN`.
//! - `bench_minimal`: the least a counting program can do: parse Ethernet/IPv4/TCP at constant
//!   offsets and bump one per-CPU counter.
//! - `bench_vary`: makes `BPF_PROG_TEST_RUN`'s repeats differ. The kernel reruns a program on
//!   the same buffer without copying the input again, so this program bumps a field of the frame
//!   in place (a destination port, a source address) and tail-calls the program under test: each
//!   repeat then sees a packet it has never seen. The program under test is the daemon's `probe`,
//!   from the other object: the benchmark puts its descriptor into `BENCH_TARGETS` (a tail call
//!   only needs both programs to be XDP). Its own cost is measured by tail-calling `bench_empty`
//!   the same way, and subtracted.
#![no_std]
#![no_main]

use aya_ebpf::{
    bindings::xdp_action,
    macros::{map, xdp},
    maps::{Array, PerCpuArray, ProgramArray},
    programs::XdpContext,
};

/// `bench_minimal`'s counter.
#[map]
static BENCH_COUNT: PerCpuArray<u64> = PerCpuArray::with_max_entries(1, 0);

/// What `bench_vary` bumps and where it jumps; set from userspace before each run.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct VaryConfig {
    /// Offset in the frame of the big-endian 32-bit word to bump.
    pub offset: u32,
    /// Bits of that word that count up (and wrap); the rest stay as they are.
    pub mask: u32,
    /// Slot of `BENCH_TARGETS` to tail-call.
    pub slot: u32,
}

#[map]
static BENCH_VARY: Array<VaryConfig> = Array::with_max_entries(1, 0);

/// Programs `bench_vary` may tail-call.
#[map]
static BENCH_TARGETS: ProgramArray = ProgramArray::with_max_entries(4, 0);

/// No frame field is bumped beyond this offset (IPv6 + TCP ports with two VLAN tags is 66).
const MAX_VARY_OFFSET: usize = 96;

#[xdp]
pub fn bench_empty(_ctx: XdpContext) -> u32 {
    xdp_action::XDP_PASS
}

#[xdp]
pub fn bench_minimal(ctx: XdpContext) -> u32 {
    let (start, end) = (ctx.data(), ctx.data_end());
    // Ethernet (14) + IPv4 without options (20) + TCP ports and flags (14): constant offsets.
    if start + 48 > end {
        return xdp_action::XDP_PASS;
    }
    // SAFETY: bytes 0..48 of the frame are inside [data, data_end), checked above.
    let (ether_type, proto, dst_port) = unsafe {
        let at = |off: usize| *((start + off) as *const u8);
        (
            u16::from_be_bytes([at(12), at(13)]),
            at(23),
            u16::from_be_bytes([at(36), at(37)]),
        )
    };
    if ether_type == 0x0800
        && proto == 6
        && dst_port != 0
        && let Some(count) = BENCH_COUNT.get_ptr_mut(0)
    {
        // SAFETY: this CPU's own element of a per-CPU array.
        unsafe { *count += 1 };
    }
    xdp_action::XDP_PASS
}

#[xdp]
pub fn bench_vary(ctx: XdpContext) -> u32 {
    let Some(cfg) = BENCH_VARY.get(0) else {
        return xdp_action::XDP_ABORTED;
    };
    let (offset, mask, slot) = (cfg.offset as usize, cfg.mask, cfg.slot);
    if offset > MAX_VARY_OFFSET {
        return xdp_action::XDP_ABORTED;
    }
    let (start, end) = (ctx.data(), ctx.data_end());
    if start + offset + 4 > end {
        return xdp_action::XDP_ABORTED;
    }
    let word = (start + offset) as *mut [u8; 4];
    // SAFETY: the four bytes at `offset` are inside the frame (checked above); unaligned access
    // through a byte array is fine.
    unsafe {
        let v = u32::from_be_bytes(core::ptr::read_unaligned(word));
        let bumped = (v & !mask) | (v.wrapping_add(1) & mask);
        core::ptr::write_unaligned(word, bumped.to_be_bytes());
        BENCH_TARGETS.tail_call(&ctx, slot);
    }
    // Only reached when the slot is empty: DROP tells userspace the setup is wrong.
    xdp_action::XDP_DROP
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

/// License of the programs, the same as the probe's.
#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
