//! The lab the probe is tested and measured in: an attacker namespace and a sensor namespace
//! joined by a veth pair ([`Lab`]), what runs inside them ([`Background`], [`SensorCapture`],
//! [`PcapCapture`], [`FarAttacker`], [`InNetns`]), and frames built byte by byte ([`craft`])
//! sent from the attacker's interface ([`RawSocket`]).
//!
//! The integration tests (package probe-integration) and the benchmark (probe-bench) both use
//! it, so both keep the lab's rules (../shared/docs/lab.md): addresses only from 198.18.0.0/15
//! and 2001:db8::/32, no route out, names unique per run, and guards that remove every
//! namespace, link, process and file on `Drop`, also when a test or a benchmark fails.

pub mod craft;
mod lab;
mod netns;
mod raw;
mod scratch;

pub use lab::{
    ATTACKER_MAC, ATTACKER_V4, ATTACKER_V6, Background, FAR_GATEWAY_MAC, FAR_GATEWAY_V4, FAR_MAC,
    FAR_V4, FarAttacker, Lab, PcapCapture, ROUTED_V4, SECOND_ATTACKER_V4, SECOND_SENSOR_V4,
    SENSOR_MAC, SENSOR_V4, SENSOR_V6, SecondLink, SensorCapture, namespace_exists, python,
    unique_id,
};
pub use netns::InNetns;
pub use raw::RawSocket;
pub use scratch::Scratch;
