//! End-to-end harness for the probe: a two-namespace lab joined by a veth pair, the real daemon
//! attached to the sensor's end, and readers for what `probe query --json` answers.
//!
//! Every test builds its own [`Lab`] (names carry the process id and a counter, so tests run in
//! parallel and a crashed earlier run cannot collide), starts a [`Daemon`] on it, sends a known
//! set of packets from the attacker side with real tools, and asserts exact counters. Guards
//! remove namespaces, processes and files on `Drop`, also when a test panics.

mod counters;
mod daemon;
mod lab;
mod privilege;

pub use counters::{PortRow, Stats, flag_list, flag_names, icmp_list, port_list, port_row};
pub use daemon::{Daemon, probe_bin};
pub use lab::{
    ATTACKER_MAC, ATTACKER_V4, ATTACKER_V6, Background, Lab, ROUTED_V4, SENSOR_MAC, SENSOR_V4,
    SENSOR_V6, SensorCapture, namespace_exists, python,
};
pub use privilege::privileged;

/// Returns from the calling test unless it runs as root (see [`privileged`]).
#[macro_export]
macro_rules! require_root {
    () => {
        if !$crate::privileged() {
            return;
        }
    };
}
