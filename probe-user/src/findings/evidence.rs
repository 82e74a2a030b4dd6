//! What each kind of finding rests on: one struct per kind (or family of kinds), with the field
//! names and shapes `docs/findings.md` documents, so the compiler checks every field a detector
//! writes.
//!
//! A [`Finding`](super::Finding) carries its evidence as a JSON object: the book turns an
//! [`Evidence`] into one only when a line is written, moving its strings into the object rather
//! than copying them as serializing would (a finding line lists up to 32 addresses, and a busy
//! replay writes a hundred thousand lines). Objects in `serde_json` keep their keys sorted, so
//! the order fields are declared in here does not show in the output.

use std::{borrow::Cow, collections::BTreeMap};

use serde_json::{Map, Value};

use crate::knowledge::Level;

/// The FAQ section a verdict rests on (`"1.3"`, `"1.1, 5"`, `"general"`).
pub type Faq = Cow<'static, str>;

/// Counts by a name (TCP flag set, probe type, ICMP message, IP option).
pub type Tally = BTreeMap<String, u64>;

/// A value that becomes JSON by moving what it owns.
pub trait IntoJson {
    fn into_json(self) -> Value;
}

impl IntoJson for String {
    fn into_json(self) -> Value {
        Value::String(self)
    }
}

impl IntoJson for &'static str {
    fn into_json(self) -> Value {
        Value::String(self.to_owned())
    }
}

impl IntoJson for Faq {
    fn into_json(self) -> Value {
        Value::String(self.into_owned())
    }
}

macro_rules! into_json_via_from {
    ($($t:ty),*) => {
        $(impl IntoJson for $t {
            fn into_json(self) -> Value {
                Value::from(self)
            }
        })*
    };
}

into_json_via_from!(bool, u8, u16, u32, u64, usize);

impl IntoJson for Level {
    fn into_json(self) -> Value {
        // Its documented word, as serializing it writes.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

impl<T: IntoJson> IntoJson for Option<T> {
    fn into_json(self) -> Value {
        self.map_or(Value::Null, IntoJson::into_json)
    }
}

impl<T: IntoJson> IntoJson for Vec<T> {
    fn into_json(self) -> Value {
        Value::Array(self.into_iter().map(IntoJson::into_json).collect())
    }
}

impl IntoJson for Tally {
    fn into_json(self) -> Value {
        Value::Object(self.into_iter().map(|(k, n)| (k, Value::from(n))).collect())
    }
}

/// Declares evidence structs, each with an [`IntoJson`] that writes every field under its
/// name (or the name after `=>`).
macro_rules! evidence_structs {
    (@key $field:ident $key:literal) => {
        $key
    };
    (@key $field:ident) => {
        stringify!($field)
    };
    ($(
        $(#[$meta:meta])*
        pub struct $name:ident {
            $($(#[$field_meta:meta])* pub $field:ident: $ty:ty $(=> $key:literal)?,)*
        }
    )*) => {$(
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq)]
        pub struct $name {
            $($(#[$field_meta])* pub $field: $ty,)*
        }

        impl IntoJson for $name {
            fn into_json(self) -> Value {
                let mut object = Map::new();
                $(object.insert(
                    evidence_structs!(@key $field $($key)?).to_owned(),
                    self.$field.into_json(),
                );)*
                Value::Object(object)
            }
        }
    )*};
}

/// Declares [`Evidence`], one variant per evidence struct of the same name.
macro_rules! evidence_enum {
    ($($variant:ident),* $(,)?) => {
        /// Evidence of any kind.
        #[derive(Clone, Debug, PartialEq)]
        pub enum Evidence {
            $($variant($variant),)*
            /// Whatever a test of the book needs.
            #[cfg(test)]
            Raw(Value),
        }

        impl Evidence {
            /// The JSON object written in a finding's `evidence`.
            pub fn into_value(self) -> Value {
                match self {
                    $(Self::$variant(e) => e.into_json(),)*
                    #[cfg(test)]
                    Self::Raw(v) => v,
                }
            }
        }
    };
}

evidence_enum!(
    Bogon,
    Land,
    SourceRouted,
    Broadcast,
    Amplifier,
    FraggleAmplifier,
    Victim,
    EchoLoop,
    PortZero,
    Stealth,
    TinyFragment,
    HeaderChain,
    Reflection,
    Decoy,
    Dialup,
    DnsLowPort,
    Icmp,
    Ports,
    Netbios,
    Proxy,
    Remap,
    Sscan,
    Traceroute,
    Vertical,
    Sweep,
    PingSweep,
    Overload,
    Service,
    Flood,
);

evidence_structs! {
    /// `bogon_source`.
    pub struct Bogon {
        pub block: String,
        pub block_name: String,
        pub hosts: Vec<String>,
        pub ttl_min: u8,
        pub ttl_max: u8,
        pub faq: Faq,
    }

    /// `land`.
    pub struct Land {
        pub proto: &'static str,
        pub src_port: u16,
        pub dst_port: u16,
        pub ports: String,
        pub ttl: u8,
        pub faq: Faq,
    }

    /// `source_routed`.
    pub struct SourceRouted {
        pub options: Vec<&'static str>,
        pub packets_by_option: Tally,
        pub hosts: Vec<String>,
        pub faq: Faq,
    }

    /// `directed_broadcast`.
    pub struct Broadcast {
        pub hosts: Vec<String>,
        pub proto: &'static str,
        pub ports: String,
        pub ttl: u8,
        pub faq: Faq,
    }

    /// `smurf`, amplifier side: a forged ping to a broadcast address.
    pub struct Amplifier {
        /// Always `"amplifier"`.
        pub role: &'static str,
        pub broadcasts: Vec<String>,
        pub faq: Faq,
    }

    /// `fraggle`, amplifier side: a forged datagram to a broadcast address's echo or chargen.
    pub struct FraggleAmplifier {
        /// Always `"amplifier"`.
        pub role: &'static str,
        pub broadcasts: Vec<String>,
        /// The service ports asked.
        pub ports: String,
        pub faq: Faq,
    }

    /// `smurf` and `fraggle`, victim side: replies from a crowd.
    pub struct Victim {
        /// Always `"victim"`.
        pub role: &'static str,
        pub sources: Vec<String>,
        pub sources_total: usize,
        pub window_secs: u64,
        /// Echo replies counted from the senders' volume (smurf; 0 for fraggle).
        pub replies: u64,
        pub faq: Faq,
    }

    /// `echo_chargen_loop`.
    pub struct EchoLoop {
        pub src_port: u16,
        pub dst_port: u16,
        pub hosts: Vec<String>,
        pub faq: Faq,
    }

    /// `port_zero`.
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

    /// `reflection`.
    pub struct Reflection {
        /// The service's name and port.
        pub service: String,
        pub reflectors: Vec<String>,
        pub reflectors_total: usize,
        /// Answers and bytes counted since the window began.
        pub packets: u64,
        pub bytes: u64,
        pub average_bytes: u64,
        pub window_secs: u64,
        pub faq: Faq,
    }

    /// `tiny_fragment`.
    pub struct TinyFragment {
        pub fragments: u64,
        /// What the first fragments left for later ones, with counts: `tcp_flags`, `ports`,
        /// `rest_of_header`, `ipv6_header_chain`.
        pub hidden: Tally,
        /// Bytes of the transport header the latest one held.
        pub held_bytes: u8,
        pub ports: String,
        pub hosts: Vec<String>,
        pub ttl_min: u8,
        pub ttl_max: u8,
        pub faq: Faq,
    }

    /// `long_header_chain`.
    pub struct HeaderChain {
        pub packets: u64,
        /// Extension headers in the latest packet (walked, when `beyond_walk`).
        pub extensions: u8,
        /// The latest chain went on past what the parser walks.
        pub beyond_walk: bool,
        /// Packets by `walked` (the transport was found) and `past_the_walk`.
        pub chains: Tally,
        pub ports: String,
        pub hosts: Vec<String>,
        pub faq: Faq,
    }

    /// `decoy_scan`.
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
    pub struct DecoyMember {
        pub addr: String,
        pub ttl_min: u8,
        pub ttl_max: u8,
        pub probes: u64,
        pub earlier_contact: bool,
        pub earlier_ttl: Option<u8>,
    }

    /// `dialup_remnant`.
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
    pub struct DnsLowPort {
        pub src_ports: String,
        pub servers: Vec<String>,
        pub faq: Faq,
    }

    /// The six ICMP message kinds.
    pub struct Icmp {
        pub family: &'static str,
        pub icmp_type: u8 => "type",
        pub code: u8,
        pub name: String,
        pub messages: Tally,
        pub hosts: Vec<String>,
        pub faq: Faq,
    }

    /// `flood`: one source's packets outside any connection in the window.
    pub struct Flood {
        pub packets: u64,
        pub syns: u64,
        pub bytes: u64,
        pub window_secs: u64,
        pub per_second: u64,
    }

    /// `service`: every table's meaning of the port, and the clients it answered.
    pub struct Service {
        pub meanings: Vec<PortNote>,
        pub clients: Vec<String>,
        pub clients_total: usize,
        pub faq: Faq,
    }

    /// `port_meaning` and `trojan_probe`.
    pub struct Ports {
        pub ports: Vec<PortNote>,
        pub hosts: Vec<String>,
        pub faq: Faq,
    }

    /// What one probed port means.
    pub struct PortNote {
        pub port: u16,
        pub proto: &'static str,
        pub name: String,
        pub level: Level,
        pub faq: Option<String>,
        /// Which table answered: `faq`, `general`, `modern` or `override`.
        pub basis: &'static str,
        /// The reports a modern entry rests on.
        pub source: Option<String>,
    }

    /// `netbios_chatter`.
    pub struct Netbios {
        pub hosts: Vec<String>,
        pub hosts_total: usize,
        pub src_port: u16,
        pub faq: Faq,
    }

    /// `proxy_check`.
    pub struct Proxy {
        pub ports: String,
        pub hosts: Vec<String>,
        pub faq: Faq,
    }

    /// `remapped_service`.
    pub struct Remap {
        pub service: String,
        pub usual_port: u16,
        pub ports_tried: Vec<u16>,
        pub hosts: Vec<String>,
        pub faq: Faq,
    }

    /// `sscan`.
    pub struct Sscan {
        pub low_source_ports: Vec<u16>,
        pub sscan_ports_hit: Vec<u16>,
        pub distinct_ports: u64,
        pub hosts: Vec<String>,
        pub ports: String,
        pub faq: Faq,
    }

    /// `traceroute`.
    pub struct Traceroute {
        /// `udp` or `icmp`.
        pub mode: &'static str,
        pub probes: u64,
        pub ttls: Vec<u8>,
        pub ports: String,
        pub faq: Faq,
    }

    /// `vertical_scan`.
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
    pub struct Sweep {
        pub ports: String,
        pub hosts: Vec<String>,
        pub hosts_total: u64,
        pub ttl_min: u8,
        pub ttl_max: u8,
        pub faq: Faq,
    }

    /// `ping_sweep`.
    pub struct PingSweep {
        pub hosts: Vec<String>,
        pub hosts_total: u64,
        pub ttl_min: u8,
        pub ttl_max: u8,
        pub faq: Faq,
    }

    /// `probe_overload`.
    pub struct Overload {
        /// Events held back by the rate limit, summed over the finding.
        pub rate_limited: u64,
        /// Events lost to a full ring buffer, summed over the finding.
        pub ring_full: u64,
        /// The kernel's running totals.
        pub rate_limited_total: u64,
        pub ring_full_total: u64,
    }
}
