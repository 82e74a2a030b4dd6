//! The probe's user side: load the XDP program, read its counters, explain and serve them.
//!
//! Data flows left to right: `loader` (program and maps) → `counters` (mmap'd per-CPU slices)
//! → `collector` (what became active) → `query` (socket protocol, server, client).
//! `knowledge` says what a port or ICMP message means; `cli` holds one file per subcommand.

// Nothing read from the network, the socket or a file may panic the daemon.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod capture;
pub mod cli;
pub mod collector;
pub mod contact;
pub mod counters;
pub mod detect;
pub mod duration;
pub mod events;
pub mod findings;
pub mod iface;
pub mod kernel_log;
pub mod knowledge;
pub mod loader;
pub mod pins;
pub mod privilege;
pub mod query;
pub mod replay;
pub mod sink;
pub mod tracker;
