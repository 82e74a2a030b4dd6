//! What each kind of finding rests on: one struct per kind (or family of kinds), with the field
//! names and shapes `docs/findings.md` documents, so the compiler checks every field a detector
//! writes.
//!
//! A [`Finding`](super::Finding) carries its evidence as a JSON object: the book turns an
//! [`Evidence`] into one only when a line is written. Objects in `serde_json` keep their keys
//! sorted, so the order fields are declared in here does not show in the output.

use std::{borrow::Cow, collections::BTreeMap};

use serde::Serialize;
use serde_json::Value;

use crate::knowledge::Level;

/// The FAQ section a verdict rests on (`"1.3"`, `"1.1, 5"`, `"general"`).
pub type Faq = Cow<'static, str>;

/// Counts by a name (TCP flag set, probe type, ICMP message, IP option).
pub type Tally = BTreeMap<String, u64>;

/// Evidence of any kind.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Evidence {
    Bogon(Bogon),
    Land(Land),
    SourceRouted(SourceRouted),
    Broadcast(Broadcast),
    Amplifier(Amplifier),
    Victim(Victim),
    EchoLoop(EchoLoop),
    PortZero(PortZero),
    Stealth(Stealth),
    Decoy(Decoy),
    Dialup(Dialup),
    DnsLowPort(DnsLowPort),
    Icmp(Icmp),
    Ports(Ports),
    Netbios(Netbios),
    Proxy(Proxy),
    Remap(Remap),
    Sscan(Sscan),
    Traceroute(Traceroute),
    Vertical(Vertical),
    Sweep(Sweep),
    PingSweep(PingSweep),
    Overload(Overload),
    /// Whatever a test of the book needs.
    #[cfg(test)]
    Raw(Value),
}

impl Evidence {
    /// The JSON object written in a finding's `evidence`.
    pub fn to_value(&self) -> Value {
        // Strings, numbers, lists and maps with string keys: serializing cannot fail.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// `bogon_source`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Bogon {
    pub block: String,
    pub block_name: String,
    pub hosts: Vec<String>,
    pub ttl_min: u8,
    pub ttl_max: u8,
    pub faq: Faq,
}

/// `land`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Land {
    pub proto: &'static str,
    pub src_port: u16,
    pub dst_port: u16,
    pub ports: String,
    pub ttl: u8,
    pub faq: Faq,
}

/// `source_routed`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SourceRouted {
    pub options: Vec<&'static str>,
    pub packets_by_option: Tally,
    pub hosts: Vec<String>,
    pub faq: Faq,
}

/// `directed_broadcast`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Broadcast {
    pub hosts: Vec<String>,
    pub proto: &'static str,
    pub ports: String,
    pub ttl: u8,
    pub faq: Faq,
}

/// `smurf` and `fraggle`, amplifier side: a forged request to a broadcast address.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Amplifier {
    /// Always `"amplifier"`.
    pub role: &'static str,
    pub broadcasts: Vec<String>,
    /// The service ports asked (`fraggle` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ports: Option<String>,
    pub faq: Faq,
}

/// `smurf` and `fraggle`, victim side: replies from a crowd.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Victim {
    /// Always `"victim"`.
    pub role: &'static str,
    pub sources: Vec<String>,
    pub sources_total: usize,
    pub window_secs: u64,
    pub faq: Faq,
}

/// `echo_chargen_loop`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EchoLoop {
    pub src_port: u16,
    pub dst_port: u16,
    pub hosts: Vec<String>,
    pub faq: Faq,
}

/// `port_zero`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PortZero {
    pub src_port: u16,
    pub dst_port: u16,
    /// The TCP flags by name; `null` for UDP.
    pub flags: Option<String>,
    pub packets: Tally,
    pub hosts: Vec<String>,
    pub faq: Faq,
}

/// `stealth_scan`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Stealth {
    pub flag_sets: Tally,
    pub ports: String,
    pub distinct_ports: u64,
    pub hosts: Vec<String>,
    pub hosts_total: usize,
    pub ttl_min: u8,
    pub ttl_max: u8,
    pub faq: Faq,
}

/// `decoy_scan`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Decoy {
    pub ports: String,
    pub common_ports: u32,
    pub sources: Vec<DecoyMember>,
    pub sources_total: usize,
    pub real_source: Option<String>,
    /// `high` or `medium`; `null` when no source is named.
    pub confidence: Option<&'static str>,
    pub reasons: Vec<&'static str>,
    pub faq: Faq,
}

/// One source of a decoy scan, as the rules saw it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DecoyMember {
    pub addr: String,
    pub ttl_min: u8,
    pub ttl_max: u8,
    pub probes: u64,
    pub earlier_contact: bool,
    pub earlier_ttl: Option<u8>,
}

/// `dialup_remnant`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Dialup {
    pub app: String,
    pub port: u16,
    /// `source` or `destination`: which end's port names the program.
    pub side: &'static str,
    pub sources: Vec<String>,
    pub sources_total: u64,
    pub faq: Faq,
}

/// `dns_low_source_port`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DnsLowPort {
    pub src_ports: String,
    pub servers: Vec<String>,
    pub faq: Faq,
}

/// The six ICMP message kinds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Icmp {
    pub family: &'static str,
    #[serde(rename = "type")]
    pub icmp_type: u8,
    pub code: u8,
    pub name: String,
    pub messages: Tally,
    pub hosts: Vec<String>,
    pub faq: Faq,
}

/// `port_meaning` and `trojan_probe`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Ports {
    pub ports: Vec<PortNote>,
    pub hosts: Vec<String>,
    pub faq: Faq,
}

/// What one probed port means.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PortNote {
    pub port: u16,
    pub proto: &'static str,
    pub name: String,
    pub level: Level,
    pub faq: Option<String>,
}

/// `netbios_chatter`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Netbios {
    pub hosts: Vec<String>,
    pub hosts_total: usize,
    pub src_port: u16,
    pub faq: Faq,
}

/// `proxy_check`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Proxy {
    pub ports: String,
    pub hosts: Vec<String>,
    pub faq: Faq,
}

/// `remapped_service`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Remap {
    pub service: String,
    pub usual_port: u16,
    pub ports_tried: Vec<u16>,
    pub hosts: Vec<String>,
    pub faq: Faq,
}

/// `sscan`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Sscan {
    pub low_source_ports: Vec<u16>,
    pub sscan_ports_hit: Vec<u16>,
    pub distinct_ports: u64,
    pub hosts: Vec<String>,
    pub ports: String,
    pub faq: Faq,
}

/// `traceroute`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Traceroute {
    /// `udp` or `icmp`.
    pub mode: &'static str,
    pub probes: u64,
    pub ttls: Vec<u8>,
    pub ports: String,
    pub faq: Faq,
}

/// `vertical_scan`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Vertical {
    pub ports: String,
    pub distinct_ports: u64,
    /// `syn` and `udp` counts.
    pub probes: Tally,
    pub hosts: Vec<String>,
    pub ttl_min: u8,
    pub ttl_max: u8,
    pub faq: Faq,
}

/// `horizontal_sweep`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Sweep {
    pub ports: String,
    pub hosts: Vec<String>,
    pub hosts_total: u64,
    pub ttl_min: u8,
    pub ttl_max: u8,
    pub faq: Faq,
}

/// `ping_sweep`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PingSweep {
    pub hosts: Vec<String>,
    pub hosts_total: u64,
    pub ttl_min: u8,
    pub ttl_max: u8,
    pub faq: Faq,
}

/// `probe_overload`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Overload {
    /// Events held back by the rate limit, summed over the finding.
    pub rate_limited: u64,
    /// Events lost to a full ring buffer, summed over the finding.
    pub ring_full: u64,
    /// The kernel's running totals.
    pub rate_limited_total: u64,
    pub ring_full_total: u64,
}
