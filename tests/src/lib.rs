//! End-to-end harness for the probe: a two-namespace lab joined by a veth pair, the real daemon
//! attached to the sensor's end, and readers for what `probe query --json` answers.
//!
//! Every test builds its own [`Lab`] (names carry the process id and a counter, so tests run in
//! parallel and a crashed earlier run cannot collide), starts a [`Daemon`] on it, sends a known
//! set of packets from the attacker side with real tools, and asserts exact counters. Guards
//! remove namespaces, processes and files on `Drop`, also when a test panics.
//!
//! Findings: the daemon always writes them to a private `--findings` file;
//! [`Daemon::finish`] stops it (which flushes every finding's last state) and returns the final
//! [`Finding`]s, [`Daemon::query_findings`] asks the running daemon, and [`expect`] checks a
//! finding's fields, naming the one that differs. [`PcapCapture`] records what arrives on the
//! sensor's interface and [`replay`] runs `probe replay` on it.
//! [`FarAttacker`] adds a sender one hop further away; [`bogon_sources`] holds the only
//! addresses outside the lab ranges the tests use.
//!
//! Exact frames: [`craft`] builds them byte by byte and [`RawSocket`] sends them from the
//! attacker's interface ([`Lab::raw_socket`]). [`Client`] speaks the query protocol by hand, to
//! send the daemon what `probe query` never would.
//!
//! The lab, the frame builder and the other guards come from probe-lab, which the benchmark
//! shares; they are re-exported here so the tests name everything through this crate.

mod bogons;
pub mod bpf;
mod client;
mod counters;
mod daemon;
mod expect;
mod findings;
mod privilege;

pub use bogons::{Bogon, bogon_sources};
pub use client::{Client, Reply, error_code};
pub use counters::{PortRow, Stats, flag_list, flag_names, icmp_list, port_list, port_row};
pub use daemon::{Daemon, probe_bin, refused_start, scrape_metrics};
pub use expect::{Expect, expect};
pub use findings::{
    Finding, FindingKey, Replay, describe, keys, kinds, latest, of_kind, only, parse_lines, replay,
    replay_agrees, replay_with, write_captures,
};
pub use privilege::privileged;
pub use probe_lab::{
    ATTACKER_MAC, ATTACKER_V4, ATTACKER_V6, Background, FAR_GATEWAY_MAC, FAR_GATEWAY_V4, FAR_MAC,
    FAR_V4, FarAttacker, Lab, PcapCapture, ROUTED_V4, RawSocket, SECOND_ATTACKER_V4,
    SECOND_SENSOR_V4, SENSOR_MAC, SENSOR_V4, SENSOR_V6, Scratch, SecondLink, SensorCapture, craft,
    namespace_exists, python,
};

/// Returns from the calling test unless it runs as root (see [`privileged`]).
#[macro_export]
macro_rules! require_root {
    () => {
        if !$crate::privileged() {
            return;
        }
    };
}
