//! The contract between the probe's XDP program and its daemon.
//!
//! Everything that crosses the kernel boundary lives here: the packet parser (run by the kernel
//! program, the host tests and the offline replay alike) and the layout of the counter maps.
#![no_std]

#[cfg(feature = "user")]
extern crate std;

pub mod counters;
pub mod event;
pub mod packet;
pub mod track;

/// Version of the maps' layout: keys, values and meanings of everything the daemon pins. Pins
/// live under a directory named after it, so a daemon never reuses maps laid out for another
/// version of the program. Bump it with any such change.
pub const PIN_LAYOUT: u32 = 4;
