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
