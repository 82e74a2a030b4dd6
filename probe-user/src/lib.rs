//! The probe's user side: load the XDP program, read its counters and events, detect, explain
//! and serve.
//!
//! Data flows left to right (docs/architecture.md): `loader` (program and maps) → `counters`
//! (mmap'd per-CPU slices), `sources` (the per-source table) and `source` (first-contact events live, a capture offline) →
//! `pipeline` → `detect` (with `knowledge`) → `findings` → `sink`, `query`. `daemon` runs it
//! live; `cli` holds one file per subcommand and only turns flags into settings.

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
pub mod daemon;
pub mod detect;
pub mod duration;
pub mod error;
pub mod findings;
pub mod history;
pub mod iface;
pub mod kernel;
pub mod kernel_log;
pub mod knowledge;
pub mod loader;
pub mod mapped;
pub mod metrics;
pub mod pins;
pub mod pipeline;
pub mod printable;
pub mod privilege;
pub mod query;
pub mod report;
pub mod sink;
pub mod source;
pub mod sources;
pub mod textfile;
pub mod top;
pub mod volume;
