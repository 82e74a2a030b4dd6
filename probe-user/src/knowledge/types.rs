//! The small vocabulary of the knowledge tables: protocols, directions, levels, categories, and
//! where an answer came from. Each type parses from and prints as the word used in the data file,
//! the command line and JSON.

use std::{fmt, str::FromStr};

use probe_common::counters::port_proto;
use serde::{Deserialize, Serialize, Serializer};

/// A transport protocol with ports: the one "TCP or UDP" of the user side, in the knowledge
/// tables, the query protocol and the command line alike.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    /// Its index in the kernel's port counters (`counters::port_proto`).
    pub const fn counter_index(self) -> u32 {
        match self {
            Self::Tcp => port_proto::TCP,
            Self::Udp => port_proto::UDP,
        }
    }

    /// The protocol of an index in the kernel's port counters (the inverse of
    /// [`Proto::counter_index`]; the counters hold only TCP and UDP).
    pub const fn of_counter_index(index: u32) -> Self {
        if index == port_proto::TCP {
            Self::Tcp
        } else {
            Self::Udp
        }
    }
}

/// Which protocols a table entry covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protos {
    Tcp,
    Udp,
    Both,
}

/// Which end of a packet a port was seen at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// The port the packet was sent to.
    Destination,
    /// The port the packet was sent from.
    Source,
}

/// Which direction a table entry describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Applies {
    Destination,
    Source,
    /// The same meaning whichever end the port is at.
    Either,
}

/// How worried a reader should be. Ordered from least to most.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Everyday traffic.
    Benign,
    /// Worth knowing about; usually harmless.
    Notable,
    /// Usually someone looking for a weakness.
    Suspicious,
    /// An attack, or a backdoor being sought or used.
    Hostile,
}

/// What kind of thing an entry describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    Service,
    Mail,
    FileSharing,
    RemoteAccess,
    Management,
    Rpc,
    Proxy,
    Trojan,
    Backdoor,
    Game,
    Chat,
    Streaming,
    Adware,
    Remap,
    Dynamic,
    Diagnostic,
    Scan,
    Attack,
    Routing,
    Error,
    Address,
    /// Web servers and the consoles and tools served over HTTP(S).
    Web,
    /// Databases and caches.
    Database,
    /// Industrial control, building automation and IoT messaging protocols.
    Industrial,
    Unknown,
}

/// Where an answer came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Basis {
    /// The fact is in the surviving FAQ text.
    Faq,
    /// Written from well-established knowledge where the FAQ's text is missing or silent.
    General,
    /// The table of today's most probed ports, from public reports and advisories (its
    /// entries name them in `source`).
    Modern,
    /// A user's knowledge file.
    Override,
    /// Only the system's service name is known (`/etc/services`).
    Services,
    /// Nothing names the port; the answer is its range class.
    Range,
    /// Nothing at all is known (an ICMP type no table has).
    Unknown,
}

/// ICMP for IPv4 or ICMPv6.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IcmpFamily {
    V4,
    V6,
}

/// A port or an inclusive range of ports. Serializes as `"31337"` or `"6970-7170"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortSpan {
    pub lo: u16,
    pub hi: u16,
}

/// The words a value of one of these types may be written as.
pub trait Vocabulary: Sized + Copy + PartialEq + 'static {
    /// Every value with its word, in the order they are listed in help and errors.
    const WORDS: &'static [(&'static str, Self)];
    /// What the value is called in messages ("level", "category").
    const WHAT: &'static str;

    fn word(self) -> &'static str {
        Self::WORDS
            .iter()
            .find(|(_, v)| *v == self)
            .map_or("?", |(w, _)| w)
    }

    /// The accepted words, comma separated, for messages.
    fn expected() -> String {
        Self::WORDS
            .iter()
            .map(|(w, _)| *w)
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn from_word(s: &str) -> Option<Self> {
        let s = s.trim();
        Self::WORDS
            .iter()
            .find(|(w, _)| w.eq_ignore_ascii_case(s))
            .map(|(_, v)| *v)
    }
}

/// A word that is not one of a type's accepted words.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {given:?}; expected one of: {expected}")]
pub struct UnknownWord {
    pub what: &'static str,
    pub given: String,
    pub expected: String,
}

macro_rules! vocabulary {
    ($ty:ty, $what:literal, [$(($word:literal, $val:expr)),+ $(,)?]) => {
        impl Vocabulary for $ty {
            const WORDS: &'static [(&'static str, Self)] = &[$(($word, $val)),+];
            const WHAT: &'static str = $what;
        }

        impl $ty {
            /// The word for this value, as written in the data file and JSON.
            pub fn as_str(self) -> &'static str {
                Vocabulary::word(self)
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = UnknownWord;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                <$ty as Vocabulary>::from_word(s).ok_or_else(|| UnknownWord {
                    what: $what,
                    given: s.to_owned(),
                    expected: <$ty as Vocabulary>::expected(),
                })
            }
        }
    };
}

vocabulary!(
    Proto,
    "protocol",
    [("tcp", Proto::Tcp), ("udp", Proto::Udp)]
);
vocabulary!(
    Protos,
    "protocol",
    [
        ("tcp", Protos::Tcp),
        ("udp", Protos::Udp),
        ("both", Protos::Both)
    ]
);
vocabulary!(
    Direction,
    "direction",
    [
        ("destination", Direction::Destination),
        ("source", Direction::Source)
    ]
);
vocabulary!(
    Applies,
    "direction",
    [
        ("destination", Applies::Destination),
        ("source", Applies::Source),
        ("either", Applies::Either),
    ]
);
vocabulary!(
    Level,
    "level",
    [
        ("benign", Level::Benign),
        ("notable", Level::Notable),
        ("suspicious", Level::Suspicious),
        ("hostile", Level::Hostile),
    ]
);
vocabulary!(
    Category,
    "category",
    [
        ("service", Category::Service),
        ("mail", Category::Mail),
        ("file-sharing", Category::FileSharing),
        ("remote-access", Category::RemoteAccess),
        ("management", Category::Management),
        ("rpc", Category::Rpc),
        ("proxy", Category::Proxy),
        ("trojan", Category::Trojan),
        ("backdoor", Category::Backdoor),
        ("game", Category::Game),
        ("chat", Category::Chat),
        ("streaming", Category::Streaming),
        ("adware", Category::Adware),
        ("remap", Category::Remap),
        ("dynamic", Category::Dynamic),
        ("diagnostic", Category::Diagnostic),
        ("scan", Category::Scan),
        ("attack", Category::Attack),
        ("routing", Category::Routing),
        ("error", Category::Error),
        ("address", Category::Address),
        ("web", Category::Web),
        ("database", Category::Database),
        ("industrial", Category::Industrial),
        ("unknown", Category::Unknown),
    ]
);
vocabulary!(
    Basis,
    "basis",
    [
        ("faq", Basis::Faq),
        ("general", Basis::General),
        ("modern", Basis::Modern),
        ("override", Basis::Override),
        ("services", Basis::Services),
        ("range", Basis::Range),
        ("unknown", Basis::Unknown),
    ]
);
vocabulary!(
    IcmpFamily,
    "ICMP family",
    [("v4", IcmpFamily::V4), ("v6", IcmpFamily::V6)]
);

impl Protos {
    pub fn covers(self, proto: Proto) -> bool {
        matches!(
            (self, proto),
            (Self::Both, _) | (Self::Tcp, Proto::Tcp) | (Self::Udp, Proto::Udp)
        )
    }
}

impl Applies {
    pub fn covers(self, direction: Direction) -> bool {
        matches!(
            (self, direction),
            (Self::Either, _)
                | (Self::Destination, Direction::Destination)
                | (Self::Source, Direction::Source)
        )
    }
}

impl From<Direction> for Applies {
    fn from(d: Direction) -> Self {
        match d {
            Direction::Destination => Self::Destination,
            Direction::Source => Self::Source,
        }
    }
}

impl From<Proto> for Protos {
    fn from(p: Proto) -> Self {
        match p {
            Proto::Tcp => Self::Tcp,
            Proto::Udp => Self::Udp,
        }
    }
}

impl PortSpan {
    pub const fn single(port: u16) -> Self {
        Self { lo: port, hi: port }
    }

    pub const fn contains(self, port: u16) -> bool {
        self.lo <= port && port <= self.hi
    }

    /// How many ports the span covers (1 for a single port).
    pub const fn width(self) -> u32 {
        self.hi as u32 - self.lo as u32 + 1
    }

    pub const fn overlaps(self, other: Self) -> bool {
        self.lo <= other.hi && other.lo <= self.hi
    }
}

impl fmt::Display for PortSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.lo == self.hi {
            write!(f, "{}", self.lo)
        } else {
            write!(f, "{}-{}", self.lo, self.hi)
        }
    }
}

impl Serialize for PortSpan {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Why a port span did not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SpanError {
    #[error("{0:?} is not a port number from 0 to 65535")]
    NotAPort(String),
    #[error("range {lo}-{hi} runs backwards; write the lower port first")]
    Backwards { lo: u16, hi: u16 },
}

impl FromStr for PortSpan {
    type Err = SpanError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let port = |p: &str| {
            p.trim()
                .parse::<u16>()
                .map_err(|_| SpanError::NotAPort(p.trim().to_owned()))
        };
        match s.split_once('-') {
            None => port(s).map(Self::single),
            Some((lo, hi)) => {
                let (lo, hi) = (port(lo)?, port(hi)?);
                if lo > hi {
                    Err(SpanError::Backwards { lo, hi })
                } else {
                    Ok(Self { lo, hi })
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_and_ignore_case() {
        assert_eq!("Hostile".parse::<Level>(), Ok(Level::Hostile));
        assert_eq!(
            "file-sharing".parse::<Category>(),
            Ok(Category::FileSharing)
        );
        assert_eq!(Category::RemoteAccess.to_string(), "remote-access");
        assert_eq!(Level::Notable.as_str(), "notable");
        let err = "hostle".parse::<Level>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown level \"hostle\"; expected one of: benign, notable, suspicious, hostile"
        );
    }

    #[test]
    fn levels_are_ordered_by_worry() {
        assert!(Level::Benign < Level::Notable);
        assert!(Level::Notable < Level::Suspicious);
        assert!(Level::Suspicious < Level::Hostile);
    }

    #[test]
    fn spans_parse_and_print() {
        assert_eq!("31337".parse::<PortSpan>(), Ok(PortSpan::single(31337)));
        let r: PortSpan = "6970-7170".parse().unwrap();
        assert_eq!((r.lo, r.hi, r.width()), (6970, 7170, 201));
        assert_eq!(r.to_string(), "6970-7170");
        assert_eq!(
            "10-5".parse::<PortSpan>(),
            Err(SpanError::Backwards { lo: 10, hi: 5 })
        );
        assert_eq!(
            "70000".parse::<PortSpan>(),
            Err(SpanError::NotAPort("70000".into()))
        );
        assert!(r.contains(6970) && r.contains(7170) && !r.contains(7171));
    }

    #[test]
    fn coverage_rules() {
        assert!(Protos::Both.covers(Proto::Udp));
        assert!(!Protos::Tcp.covers(Proto::Udp));
        assert!(Applies::Either.covers(Direction::Source));
        assert!(!Applies::Destination.covers(Direction::Source));
    }
}
