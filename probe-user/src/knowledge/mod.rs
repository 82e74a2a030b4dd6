//! What ports, ICMP messages, addresses and traffic patterns mean: the probe's knowledge, built
//! from the Firewall Forensics FAQ and from today's public reports on the most probed ports,
//! written in the probe's own words.
//!
//! # Where the data lives, and why
//!
//! The built-in tables are two TOML files embedded at build time with `include_str!` and parsed
//! once on first use: `faq.toml`, the FAQ's facts (2000), and `modern.toml`, the ports most
//! probed today, each entry naming the reports and advisories it rests on. A port both describe
//! keeps both entries (see [`Knowledge::port_answers`]). They are data rather than Rust tables
//! because:
//!
//! - users extend and override them with `--knowledge FILE` in exactly the same format, read by
//!   exactly the same strict reader, so there is one schema to document and test, and an entry
//!   can be copied from the built-in file into a user's file and edited;
//! - the texts are long prose; in TOML they read as prose and are reviewed as data, not code;
//! - the reader names file, line and field for every problem, so a mistake in the built-in file
//!   fails its unit test with the same precise message a user would get.
//!
//! The cost is one parse (well under a millisecond) the first time [`Knowledge`] is built, and
//! the guarantee that it parses comes from the tests instead of the compiler.
//!
//! # Answers
//!
//! [`Knowledge::port`] and [`Knowledge::icmp`] always answer. Ports the tables do not cover fall
//! back to the system's service names (`/etc/services`, saying only the name is known) and then
//! to the port's [`RangeClass`]. Each answer says where it came from ([`Basis`]).

mod address;
mod data;
mod error;
mod icmp;
mod named;
mod ports;
mod range;
mod services;
pub mod tools;
mod types;

use std::{net::IpAddr, path::Path, sync::OnceLock};

use serde::Serialize;

use self::data::{Mode, Table, Tables};
pub use self::{
    address::{Cidr, CidrError},
    data::{
        AddressEntry, Caveat, ClassEntry, IcmpEntry, Info, PortEntry, SignatureEntry, TopicEntry,
    },
    error::KnowledgeError,
    icmp::IcmpMatch,
    named::named,
    ports::PortMatch,
    range::RangeClass,
    services::{SYSTEM_SERVICES, Services},
    types::{
        Applies, Basis, Category, Direction, IcmpFamily, Level, PortSpan, Proto, Protos, SpanError,
        UnknownWord, Vocabulary,
    },
};

/// The FAQ's table.
const FAQ_TOML: &str = include_str!("faq.toml");

/// What the FAQ's table is called in messages.
const FAQ_TOML_NAME: &str = "<built-in>/knowledge/faq.toml";

/// The table of today's most probed ports.
const MODERN_TOML: &str = include_str!("modern.toml");

/// What the modern table is called in messages.
const MODERN_TOML_NAME: &str = "<built-in>/knowledge/modern.toml";

/// Both built-in tables, as parsed.
#[derive(Debug)]
struct Builtin {
    faq: Tables,
    modern: Tables,
}

#[cfg_attr(
    not(test),
    expect(
        clippy::panic,
        reason = "embedded data, not input: its unit test proves it parses"
    )
)]
fn builtin_tables() -> &'static Builtin {
    static TABLES: OnceLock<Builtin> = OnceLock::new();
    TABLES.get_or_init(|| {
        let table = |name: &str, text: &str, which: Table| {
            data::parse(Path::new(name), text, Mode::Builtin(which), &mut []).unwrap_or_else(|e| {
                panic!("the built-in knowledge must parse (checked by its unit test): {e}")
            })
        };
        Builtin {
            faq: table(FAQ_TOML_NAME, FAQ_TOML, Table::Faq),
            modern: table(MODERN_TOML_NAME, MODERN_TOML, Table::Modern),
        }
    })
}

/// The probe's knowledge: the built-in tables (the FAQ's and today's), a user's additions, and
/// the system's service names. Cheap to query; build it once and share it.
#[derive(Clone, Debug)]
pub struct Knowledge {
    /// The FAQ's table, with entries a user's file replaced changed in place.
    tables: Tables,
    /// The table of today's most probed ports, with replaced entries changed in place.
    modern: Tables,
    /// Entries from a user's file that replace nothing; consulted before the built-in tables.
    added: Tables,
    /// The system's service names, the fallback for ports no table describes.
    services: Services,
}

impl Default for Knowledge {
    fn default() -> Self {
        Self::builtin()
    }
}

impl Knowledge {
    /// The built-in tables and the system's service names. Never fails: without a readable
    /// `/etc/services`, uncovered ports fall back to their range class.
    pub fn builtin() -> Self {
        Self::new(Services::system())
    }

    /// The built-in tables with the given service names (for tests, or another services file).
    pub fn new(services: Services) -> Self {
        let builtin = builtin_tables();
        Self {
            tables: builtin.faq.clone(),
            modern: builtin.modern.clone(),
            added: Tables::default(),
            services,
        }
    }

    /// The built-in knowledge plus, if given, a user's knowledge file. A bad file is an error
    /// naming the file, line and field; nothing from it is used.
    pub fn load(path: Option<&Path>) -> Result<Self, KnowledgeError> {
        let k = Self::builtin();
        match path {
            Some(path) => k.with_overrides_file(path),
            None => Ok(k),
        }
    }

    /// Use these service names instead of the current ones.
    #[must_use]
    pub fn with_services(self, services: Services) -> Self {
        Self { services, ..self }
    }

    /// Add or override entries from a knowledge file.
    pub fn with_overrides_file(self, path: &Path) -> Result<Self, KnowledgeError> {
        let text = crate::textfile::read(path, crate::textfile::MAX_KNOWLEDGE_BYTES).map_err(
            |source| KnowledgeError::Read {
                path: path.to_path_buf(),
                source,
            },
        )?;
        self.with_overrides(path, &text)
    }

    /// Add or override entries from the text of a knowledge file; `path` names it in errors.
    ///
    /// An entry whose key (port span + proto + direction; family + type + code; class +
    /// direction; cidr; bytes; id) matches a built-in entry replaces it, keeping the fields it
    /// leaves out; where both built-in tables have that key, it replaces both. Any other entry
    /// is new, needs name, category, level and meaning, and is preferred over built-in entries
    /// when both cover a port.
    pub fn with_overrides(mut self, path: &Path, text: &str) -> Result<Self, KnowledgeError> {
        let mut added = data::parse(
            path,
            text,
            Mode::Override,
            &mut [&mut self.tables, &mut self.modern],
        )?;
        // A later file's new entries take precedence over an earlier file's.
        append(&mut added, std::mem::take(&mut self.added));
        self.added = added;
        Ok(self)
    }

    /// The service names in use.
    pub fn services(&self) -> &Services {
        &self.services
    }

    /// The most specific address block `addr` lies in, if any (FAQ section 3).
    pub fn address(&self, addr: IpAddr) -> Option<Answer> {
        self.added
            .addresses
            .iter()
            .chain(&self.tables.addresses)
            .chain(&self.modern.addresses)
            .filter(|e| e.cidr.contains(addr))
            .max_by_key(|e| e.cidr.prefix())
            .map(|e| Listed::Address(e).answer())
    }

    /// The protocol a connection's first bytes identify, if any (FAQ 1.13). The longest
    /// matching signature wins.
    pub fn first_bytes(&self, payload: &[u8]) -> Option<Answer> {
        self.added
            .signatures
            .iter()
            .chain(&self.tables.signatures)
            .chain(&self.modern.signatures)
            .filter(|e| payload.starts_with(e.bytes.as_bytes()))
            .max_by_key(|e| e.bytes.len())
            .map(|e| Listed::Signature(e).answer())
    }

    /// A topic by id (`smurf`, `decoy-scan`, ...).
    pub fn topic(&self, id: &str) -> Option<Answer> {
        self.added
            .topics
            .iter()
            .chain(&self.tables.topics)
            .chain(&self.modern.topics)
            .find(|e| e.id == id)
            .map(|e| Listed::Topic(e).answer())
    }

    /// The finding story of topic `id` with its FAQ section, for the detector that cites it.
    /// A user's entry for the topic replaces the built-in one.
    pub fn story(&self, id: &str) -> Option<(&str, Option<&str>)> {
        self.added
            .topics
            .iter()
            .chain(&self.tables.topics)
            .chain(&self.modern.topics)
            .find(|e| e.id == id)
            .and_then(|e| Some((e.info.story.as_deref()?, e.info.faq.as_deref())))
    }

    /// Every entry: a user's new entries first, then the FAQ's table and the modern table, each
    /// in file order.
    pub fn list(&self) -> Vec<Listed<'_>> {
        let mut all = Vec::new();
        for t in [&self.added, &self.tables, &self.modern] {
            all.extend(t.ports.iter().map(Listed::Port));
            all.extend(t.icmp.iter().map(Listed::Icmp));
            all.extend(t.classes.iter().map(Listed::Class));
            all.extend(t.addresses.iter().map(Listed::Address));
            all.extend(t.signatures.iter().map(Listed::Signature));
            all.extend(t.topics.iter().map(Listed::Topic));
        }
        all
    }

    /// Where practice differs from the range classes, for every port.
    pub fn caveats(&self) -> impl Iterator<Item = &Caveat> {
        self.added
            .caveats
            .iter()
            .chain(&self.tables.caveats)
            .chain(&self.modern.caveats)
    }
}

fn append(to: &mut Tables, from: Tables) {
    to.ports.extend(from.ports);
    to.icmp.extend(from.icmp);
    to.classes.extend(from.classes);
    to.caveats.extend(from.caveats);
    to.addresses.extend(from.addresses);
    to.signatures.extend(from.signatures);
    to.topics.extend(from.topics);
}

/// One entry of the tables, of whatever kind. Serializes as the entry with a `kind` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Listed<'a> {
    Port(&'a PortEntry),
    Icmp(&'a IcmpEntry),
    Class(&'a ClassEntry),
    Address(&'a AddressEntry),
    Signature(&'a SignatureEntry),
    Topic(&'a TopicEntry),
}

impl Listed<'_> {
    pub fn info(&self) -> &Info {
        match self {
            Self::Port(e) => &e.info,
            Self::Icmp(e) => &e.info,
            Self::Class(e) => &e.info,
            Self::Address(e) => &e.info,
            Self::Signature(e) => &e.info,
            Self::Topic(e) => &e.info,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Self::Port(_) => "port",
            Self::Icmp(_) => "icmp",
            Self::Class(_) => "class",
            Self::Address(_) => "address",
            Self::Signature(_) => "signature",
            Self::Topic(_) => "topic",
        }
    }

    /// How a person would ask for this entry: `31337/tcp+udp`, `icmp 3 4`, `icmp6 128`,
    /// `10.0.0.0/8`, `bytes "OPNG"`, `topic smurf`, `well-known`.
    pub fn key(&self) -> String {
        match self {
            Self::Port(e) => {
                let proto = match e.proto {
                    Protos::Tcp => "tcp",
                    Protos::Udp => "udp",
                    Protos::Both => "tcp+udp",
                };
                format!("{}/{proto}", e.ports)
            }
            Self::Icmp(e) => {
                let family = match e.family {
                    IcmpFamily::V4 => "icmp",
                    IcmpFamily::V6 => "icmp6",
                };
                match e.code {
                    Some(c) => format!("{family} {} {c}", e.icmp_type),
                    None => format!("{family} {}", e.icmp_type),
                }
            }
            Self::Class(e) => e.class.as_str().to_owned(),
            Self::Address(e) => e.cidr.to_string(),
            Self::Signature(e) => format!("bytes {:?}", e.bytes),
            Self::Topic(e) => format!("topic {}", e.id),
        }
    }

    /// The direction a port or class entry describes.
    pub fn direction(&self) -> Option<Applies> {
        match self {
            Self::Port(e) => Some(e.direction),
            Self::Class(e) => Some(e.direction.into()),
            _ => None,
        }
    }

    /// A flat, owned answer for this entry.
    pub fn answer(&self) -> Answer {
        let info = self.info();
        Answer {
            kind: self.kind(),
            key: self.key(),
            name: info.name.clone(),
            meaning: info.meaning.clone(),
            explanation: info.explanation.clone(),
            level: info.level,
            category: info.category,
            faq: info.faq.clone(),
            source: info.source.clone(),
            basis: info.basis,
            lost: info.lost.clone(),
        }
    }
}

/// What an address block, a connection's first bytes or a topic means.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Answer {
    /// address, signature or topic (or any kind, from [`Listed::answer`]).
    pub kind: &'static str,
    /// The entry's key: `10.0.0.0/8`, `bytes "OPNG"`, `topic smurf`.
    pub key: String,
    pub name: String,
    pub meaning: String,
    pub explanation: String,
    pub level: Level,
    pub category: Category,
    pub faq: Option<String>,
    /// The reports an entry of the modern table rests on.
    pub source: Option<String>,
    pub basis: Basis,
    pub lost: Option<String>,
}

#[cfg(test)]
mod tests;
