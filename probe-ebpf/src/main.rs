//! The probe's XDP program. It watches and never drops: every path returns `XDP_PASS`.
#![no_std]
#![no_main]

mod count;
mod maps;
mod track;

use aya_ebpf::{bindings::xdp_action, macros::xdp, programs::XdpContext};

#[xdp]
pub fn probe(ctx: XdpContext) -> u32 {
    count::frame(&ctx);
    xdp_action::XDP_PASS
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

/// License of the program: GPL-compatible, so the kernel lets it call GPL-only helpers.
#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
