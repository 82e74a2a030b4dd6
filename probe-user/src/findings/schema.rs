//! What a finding is, as written: the documented JSON schema.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::time::{format_rfc3339_ms, parse_rfc3339};
use crate::{contact::Proto, knowledge::Level};

/// Whether a line opens a finding or refreshes one already reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The first line of this finding.
    New,
    /// A later state of a finding already reported with the same `id`.
    Update,
}

impl Status {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Update => "update",
        }
    }
}

/// What a finding is about. Serialised as the documented kind names, which are never renamed.
///
/// Declared in the order of their names, so that the derived order is the names' order: the
/// book walks and breaks deadline ties in (kind, subject) order, and that order shows in the
/// output. A test keeps the two orders the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A source address that cannot be real here.
    BogonSource,
    /// The same ports from several sources at once.
    DecoyScan,
    /// Traffic for a game, chat or media program a previous user ran.
    DialupRemnant,
    /// A packet to a subnet's broadcast address.
    DirectedBroadcast,
    /// A DNS query from a low source port.
    DnsLowSourcePort,
    /// UDP between the echo and chargen ports.
    EchoChargenLoop,
    /// One source sending far more packets outside any connection than a visitor does.
    Flood,
    /// UDP echo or chargen to a broadcast address, or the replies.
    Fraggle,
    /// One source, one port, many hosts.
    HorizontalSweep,
    /// ICMP fragmentation needed (packet too big).
    IcmpFragNeeded,
    /// ICMP redirect.
    IcmpRedirect,
    /// Source address equals destination address.
    Land,
    /// More IPv6 extension headers than a conforming sender chains.
    LongHeaderChain,
    /// NetBIOS name queries.
    NetbiosChatter,
    /// A host of the home networks probing many ports or hosts outside them.
    OutboundScan,
    /// ICMP parameter problem.
    ParameterProblem,
    /// Echo requests from one source to many hosts.
    PingSweep,
    /// A port with a known meaning was probed.
    PortMeaning,
    /// TCP or UDP from or to port 0.
    PortZero,
    /// First-contact events the kernel could not deliver.
    ProbeOverload,
    /// A search for open proxies.
    ProxyCheck,
    /// Answers of a UDP service converging on one address: a reflection attack's victim.
    Reflection,
    /// A service looked for on its usual and alternate ports.
    RemappedService,
    /// ICMP router advertisement.
    RouterAdvertisement,
    /// A port that answered: a service runs there (informational).
    Service,
    /// Echo requests to a broadcast address, or the replies they cause.
    Smurf,
    /// ICMP source quench.
    SourceQuench,
    /// An IPv4 packet that chooses its own route.
    SourceRouted,
    /// Sscan's low source ports or its set of ports.
    Sscan,
    /// TCP flags no real connection uses.
    StealthScan,
    /// A first fragment too short to hold its transport header.
    TinyFragment,
    /// Traceroute probes (UDP or ICMP).
    Traceroute,
    /// A probe of a port known for a trojan or backdoor.
    TrojanProbe,
    /// ICMP time exceeded.
    TtlExceeded,
    /// One source, many ports of one host.
    VerticalScan,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Self; 35] = [
        Self::PortMeaning,
        Self::TrojanProbe,
        Self::Service,
        Self::VerticalScan,
        Self::HorizontalSweep,
        Self::PingSweep,
        Self::OutboundScan,
        Self::DecoyScan,
        Self::StealthScan,
        Self::PortZero,
        Self::Traceroute,
        Self::Smurf,
        Self::Fraggle,
        Self::Reflection,
        Self::Flood,
        Self::EchoChargenLoop,
        Self::Sscan,
        Self::DnsLowSourcePort,
        Self::DialupRemnant,
        Self::ProxyCheck,
        Self::RemappedService,
        Self::NetbiosChatter,
        Self::IcmpFragNeeded,
        Self::IcmpRedirect,
        Self::RouterAdvertisement,
        Self::SourceQuench,
        Self::TtlExceeded,
        Self::ParameterProblem,
        Self::BogonSource,
        Self::DirectedBroadcast,
        Self::SourceRouted,
        Self::Land,
        Self::TinyFragment,
        Self::LongHeaderChain,
        Self::ProbeOverload,
    ];

    /// Kinds about probes that an answer turns into a conversation: a new finding of one waits
    /// for answers before its first line (`BookConfig::answer_wait_secs`), and its detector
    /// withdraws it if they come.
    pub const fn waits_for_answer(self) -> bool {
        matches!(
            self,
            Self::PortMeaning
                | Self::TrojanProbe
                | Self::VerticalScan
                | Self::HorizontalSweep
                | Self::OutboundScan
        )
    }

    /// The documented name, as written in the `kind` field.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::PortMeaning => "port_meaning",
            Self::TrojanProbe => "trojan_probe",
            Self::VerticalScan => "vertical_scan",
            Self::HorizontalSweep => "horizontal_sweep",
            Self::PingSweep => "ping_sweep",
            Self::OutboundScan => "outbound_scan",
            Self::Service => "service",
            Self::DecoyScan => "decoy_scan",
            Self::StealthScan => "stealth_scan",
            Self::PortZero => "port_zero",
            Self::Traceroute => "traceroute",
            Self::Smurf => "smurf",
            Self::Fraggle => "fraggle",
            Self::Reflection => "reflection",
            Self::Flood => "flood",
            Self::EchoChargenLoop => "echo_chargen_loop",
            Self::Sscan => "sscan",
            Self::DnsLowSourcePort => "dns_low_source_port",
            Self::DialupRemnant => "dialup_remnant",
            Self::ProxyCheck => "proxy_check",
            Self::RemappedService => "remapped_service",
            Self::NetbiosChatter => "netbios_chatter",
            Self::IcmpFragNeeded => "icmp_frag_needed",
            Self::IcmpRedirect => "icmp_redirect",
            Self::RouterAdvertisement => "router_advertisement",
            Self::SourceQuench => "source_quench",
            Self::TtlExceeded => "ttl_exceeded",
            Self::ParameterProblem => "parameter_problem",
            Self::BogonSource => "bogon_source",
            Self::DirectedBroadcast => "directed_broadcast",
            Self::SourceRouted => "source_routed",
            Self::Land => "land",
            Self::TinyFragment => "tiny_fragment",
            Self::LongHeaderChain => "long_header_chain",
            Self::ProbeOverload => "probe_overload",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for Kind {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Kind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// One finding, as written to the log, the JSON Lines output and the query answer.
///
/// Times are kept in nanoseconds since the Unix epoch and written as RFC 3339 UTC strings with
/// millisecond precision (`2024-05-01T12:00:03.250Z`); reading a line back keeps milliseconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// When this line was made: the contact that opened or changed the finding, or the moment a
    /// refresh fell due.
    #[serde(rename = "ts", with = "rfc3339")]
    pub ts_ns: u64,
    /// Numbers findings in the order they opened; an update carries the id of its finding.
    pub id: u64,
    pub status: Status,
    /// What was found.
    pub kind: Kind,
    #[serde(with = "level_word")]
    pub level: Level,
    /// The source address, `"many"` when several sources share the finding, `null` when none
    /// applies.
    pub src: Option<String>,
    /// The destination address, `"many"` when several, `null` when none applies.
    pub dst: Option<String>,
    /// `tcp`, `udp`, `icmp`, `icmpv6` or `ip`; `null` when none applies.
    #[serde(with = "proto_word")]
    pub proto: Option<Proto>,
    /// The one port the finding is about, when there is one.
    pub port: Option<u16>,
    /// The scanner the source's probes were recognised as (`zmap`, `masscan`, `mirai`,
    /// `nmap`), `null` when none (docs/findings.md, "Tools").
    #[serde(default)]
    pub tool: Option<String>,
    /// Contacts (or, for `probe_overload`, lost events) the finding rests on so far.
    pub count: u64,
    #[serde(rename = "first_seen", with = "rfc3339")]
    pub first_seen_ns: u64,
    #[serde(rename = "last_seen", with = "rfc3339")]
    pub last_seen_ns: u64,
    /// What the verdict rests on: ports, hosts, TTLs, flags, FAQ section. An object.
    pub evidence: Value,
    /// What is happening, how sure the probe is, and what to do, in plain words.
    pub explanation: String,
}

impl Finding {
    /// One JSON object, no newline.
    pub fn to_json_line(&self) -> String {
        // A Finding holds only strings, numbers and a JSON value: serializing cannot fail.
        serde_json::to_string(self)
            .unwrap_or_else(|e| format!(r#"{{"kind":"{}","error":"{e}"}}"#, self.kind))
    }

    /// [`Self::to_json_line`] with the interface it was seen on last: a daemon's lines name
    /// their interface (it may watch several), a replay's have none.
    pub fn to_json_line_on(&self, iface: &str) -> String {
        #[derive(Serialize)]
        struct On<'a> {
            #[serde(flatten)]
            finding: &'a Finding,
            iface: &'a str,
        }
        serde_json::to_string(&On {
            finding: self,
            iface,
        })
        .unwrap_or_else(|e| format!(r#"{{"kind":"{}","error":"{e}"}}"#, self.kind))
    }
}

/// Nanoseconds since the Unix epoch as an RFC 3339 UTC string (serde's `with`), for every
/// time the project writes in JSON.
pub(crate) mod rfc3339 {
    use super::{Deserialize, Deserializer, Serializer, format_rfc3339_ms, parse_rfc3339};

    #[expect(
        clippy::trivially_copy_pass_by_ref,
        reason = "serde's `with` passes a reference"
    )]
    pub fn serialize<S: Serializer>(ns: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_rfc3339_ms(*ns))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let text = String::deserialize(d)?;
        parse_rfc3339(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "{text:?} is not an RFC 3339 UTC time like 2024-05-01T12:00:03.250Z"
            ))
        })
    }
}

mod level_word {
    use super::{Deserialize, Deserializer, FromStr, Level, Serialize, Serializer};

    #[expect(
        clippy::trivially_copy_pass_by_ref,
        reason = "serde's `with` passes a reference"
    )]
    pub fn serialize<S: Serializer>(level: &Level, s: S) -> Result<S::Ok, S::Error> {
        level.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Level, D::Error> {
        let text = String::deserialize(d)?;
        Level::from_str(&text).map_err(serde::de::Error::custom)
    }
}

mod proto_word {
    use super::{Deserialize, Deserializer, Proto, Serializer};

    #[expect(
        clippy::trivially_copy_pass_by_ref,
        clippy::ref_option,
        reason = "serde's `with` passes a reference to the field"
    )]
    pub fn serialize<S: Serializer>(proto: &Option<Proto>, s: S) -> Result<S::Ok, S::Error> {
        match proto {
            Some(p) => s.serialize_str(p.as_str()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Proto>, D::Error> {
        let Some(text) = Option::<String>::deserialize(d)? else {
            return Ok(None);
        };
        [
            Proto::Tcp,
            Proto::Udp,
            Proto::Icmp,
            Proto::Icmpv6,
            Proto::Other,
        ]
        .into_iter()
        .find(|p| p.as_str() == text)
        .map(Some)
        .ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown proto {text:?}; expected tcp, udp, icmp, icmpv6 or ip"
            ))
        })
    }
}
