//! What a port means, in one direction, for one protocol. Always an answer: an entry of the
//! tables, else the system's service name, else the port's range class.
//!
//! Choosing among entries: a user's new entries before built-in ones; then the narrowest port
//! range; then an entry for exactly this protocol before one for both; then one for exactly
//! this direction before one for either.
//!
//! A source port is read differently from a destination port. Entries written for sources (or
//! for either end) come first. A low source port (below 1024) with no such entry is most likely
//! the service on that port answering, so its destination entry or service name is reworded as
//! a reply. A higher source port with no entry is a client's temporary port, and the answer says
//! so, adding what the port would mean as a destination.

use std::fmt::Write as _;

use serde::Serialize;

use super::{
    Knowledge, RangeClass,
    data::{Info, PortEntry},
    types::{Applies, Basis, Category, Direction, Level, PortSpan, Proto, Protos},
};

/// What a port means. Never empty: `name`, `meaning` and `explanation` always have text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PortMatch {
    pub port: u16,
    pub proto: Proto,
    pub direction: Direction,
    /// Short name, e.g. "Back Orifice".
    pub name: String,
    /// One line, e.g. for a log line or a table row.
    pub meaning: String,
    /// What it is, why someone sends it, what to do. Paragraphs are separated by a blank line.
    pub explanation: String,
    pub level: Level,
    pub category: Category,
    /// The IANA range the port is in.
    pub class: RangeClass,
    /// FAQ section(s), e.g. "1.1, 1.4"; `None` for service-name answers and user entries
    /// without one.
    pub faq: Option<String>,
    /// Where the answer came from: faq, general, override, services or range.
    pub basis: Basis,
    /// The port or range of the table entry that answered; `None` for services/range answers.
    pub entry: Option<PortSpan>,
    /// A detail the FAQ had but both surviving copies lost.
    pub lost: Option<String>,
    /// Where practice differs from the range class for this port.
    pub caveats: Vec<String>,
}

/// Sources below this are reserved ports: a packet from one is usually a server's reply.
const RESERVED_END: u16 = 1024;

fn pick(list: &[PortEntry], port: u16, proto: Proto, direction: Direction) -> Option<&PortEntry> {
    list.iter()
        .filter(|e| {
            e.ports.contains(port) && e.proto.covers(proto) && e.direction.covers(direction)
        })
        .min_by_key(|e| {
            (
                e.ports.width(),
                e.proto == Protos::Both,
                e.direction == Applies::Either,
            )
        })
}

impl Knowledge {
    /// The source ports the tables describe as sources (FAQ 1.2, 1.9, 1.10: a game or chat
    /// server's port, ICQ's, Sub7's...), the user's entries included: the set the kernel keys
    /// contacts by, so that each of these source ports is a first contact of its own. Ports
    /// below 1024 are keyed by rule and need no entry.
    pub fn source_ports(&self) -> probe_common::track::user::SourcePortSet {
        let mut set = probe_common::track::user::SourcePortSet::default();
        for e in self.added.ports.iter().chain(&self.tables.ports) {
            if e.direction != Applies::Source {
                continue;
            }
            for port in e.ports.lo..=e.ports.hi {
                if e.proto != Protos::Udp {
                    set.insert(false, port);
                }
                if e.proto != Protos::Tcp {
                    set.insert(true, port);
                }
            }
        }
        set
    }

    /// The table entry for a port, if any covers it (a user's new entries first).
    pub fn port_entry(&self, port: u16, proto: Proto, direction: Direction) -> Option<&PortEntry> {
        pick(&self.added.ports, port, proto, direction)
            .or_else(|| pick(&self.tables.ports, port, proto, direction))
    }

    /// What `port` means for `proto`, seen as the packet's `direction` port.
    pub fn port(&self, port: u16, proto: Proto, direction: Direction) -> PortMatch {
        let mut m = self.port_answer(port, proto, direction);
        // Caveats qualify the range class; an entry that names the port already says more.
        if !matches!(m.basis, Basis::Range | Basis::Services) {
            m.caveats.clear();
        }
        m
    }

    fn port_answer(&self, port: u16, proto: Proto, direction: Direction) -> PortMatch {
        let class = RangeClass::of(port);
        let base = Base {
            port,
            proto,
            direction,
            class,
            caveats: self.caveats_for(port),
        };
        if let Some(entry) = self.port_entry(port, proto, direction) {
            let mut m = base.with_info(&entry.info, Some(entry.ports));
            if direction == Direction::Source && entry.info.category == Category::Dynamic {
                self.add_destination_note(&mut m);
            }
            return m;
        }
        match direction {
            Direction::Destination => match self.services.name(port, proto) {
                Some(service) => self.service_answer(base, service),
                None => base.with_info(self.class_info(class, direction), None),
            },
            Direction::Source if port < RESERVED_END => {
                if let Some(entry) = self.port_entry(port, proto, Direction::Destination) {
                    reply_from_entry(base, entry)
                } else if let Some(service) = self.services.name(port, proto) {
                    reply_from_service(base, service)
                } else {
                    base.with_info(self.class_info(class, direction), None)
                }
            }
            Direction::Source => {
                let mut m = base.with_info(self.class_info(class, direction), None);
                self.add_destination_note(&mut m);
                m
            }
        }
    }

    fn caveats_for(&self, port: u16) -> Vec<String> {
        self.added
            .caveats
            .iter()
            .chain(&self.tables.caveats)
            .filter(|c| c.ports.contains(port))
            .map(|c| c.text.clone())
            .collect()
    }

    /// The range-class text for a direction (a user's replacement first).
    fn class_info(&self, class: RangeClass, direction: Direction) -> &Info {
        self.added
            .classes
            .iter()
            .chain(&self.tables.classes)
            .find(|c| c.class == class && c.direction == direction)
            .map_or(&FALLBACK.info, |c| &c.info)
    }

    fn service_answer(&self, base: Base, service: &str) -> PortMatch {
        let class = self.class_info(base.class, Direction::Destination);
        let from = self
            .services
            .origin()
            .map_or_else(String::new, |p| format!(" ({})", p.display()));
        PortMatch {
            name: service.to_owned(),
            meaning: format!(
                "Named \"{service}\" in the system's service list; beyond that name nothing is known."
            ),
            explanation: format!(
                "Neither the FAQ nor the probe's own tables describe port {port}/{proto}. The \
                 system's service list{from} registers it as \"{service}\". That tells what the \
                 port is assigned to, not who is using it or why.\n\n{class}",
                port = base.port,
                proto = base.proto,
                class = class.explanation,
            ),
            level: class.level,
            category: Category::Service,
            faq: None,
            basis: Basis::Services,
            entry: None,
            lost: None,
            ..base.into_match()
        }
    }

    /// For a source port: say what the port would mean as a destination, if anything does.
    fn add_destination_note(&self, m: &mut PortMatch) {
        let dest = self
            .port_entry(m.port, m.proto, Direction::Destination)
            .map(|e| (e.info.name.as_str(), e.info.meaning.as_str()))
            .or_else(|| {
                self.services
                    .name(m.port, m.proto)
                    .map(|s| (s, "a name from the system's service list"))
            });
        if let Some((name, meaning)) = dest {
            let _ = write!(
                m.explanation,
                "\n\nAs a destination, {}/{} would be {name}: {meaning} A client's temporary \
                 port lands on such numbers by chance; only read it that way if the traffic \
                 fits.",
                m.port, m.proto
            );
        }
    }
}

/// The parts of an answer that do not depend on which entry answered.
#[derive(Clone)]
struct Base {
    port: u16,
    proto: Proto,
    direction: Direction,
    class: RangeClass,
    caveats: Vec<String>,
}

impl Base {
    fn into_match(self) -> PortMatch {
        PortMatch {
            port: self.port,
            proto: self.proto,
            direction: self.direction,
            name: String::new(),
            meaning: String::new(),
            explanation: String::new(),
            level: Level::Notable,
            category: Category::Unknown,
            class: self.class,
            faq: None,
            basis: Basis::Range,
            entry: None,
            lost: None,
            caveats: self.caveats,
        }
    }

    fn with_info(self, info: &Info, entry: Option<PortSpan>) -> PortMatch {
        PortMatch {
            name: info.name.clone(),
            meaning: info.meaning.clone(),
            explanation: info.explanation.clone(),
            level: info.level,
            category: info.category,
            faq: info.faq.clone(),
            // Entries speak for themselves; range-class texts are the range fallback.
            basis: if entry.is_some() {
                info.basis
            } else {
                Basis::Range
            },
            entry,
            lost: info.lost.clone(),
            ..self.into_match()
        }
    }
}

/// A low source port with only a destination entry: the service there is answering.
fn reply_from_entry(base: Base, entry: &PortEntry) -> PortMatch {
    let info = &entry.info;
    let (port, name) = (base.port, info.name.clone());
    // A backdoor answering is no better than a backdoor being sought.
    let level = if matches!(info.category, Category::Trojan | Category::Backdoor) {
        info.level
    } else {
        Level::Benign
    };
    PortMatch {
        meaning: format!(
            "Sent from the {name} port: most likely the program listening there, answering."
        ),
        explanation: format!(
            "As a source, port {port} usually means the {name} service replying to a connection \
             opened from the other side. Low source ports are easy to forge, and NAT gateways \
             sometimes hand them out (FAQ 1.2, 1.9), so check that the packet answers \
             something.\n\nAs a destination this port means: {}",
            info.meaning
        ),
        level,
        category: info.category,
        faq: info.faq.clone(),
        basis: info.basis,
        entry: Some(entry.ports),
        lost: info.lost.clone(),
        name,
        ..base.into_match()
    }
}

/// A low source port known only by its service name.
fn reply_from_service(base: Base, service: &str) -> PortMatch {
    PortMatch {
        name: service.to_owned(),
        meaning: format!(
            "Sent from the \"{service}\" port: probably that service answering; only its name is known."
        ),
        explanation: format!(
            "The system's service list names port {port}/{proto} \"{service}\"; neither the FAQ \
             nor the probe's tables say more. From a low port like this, the sender is most \
             likely that service replying. Low source ports are easy to forge, and NAT gateways \
             sometimes hand them out (FAQ 1.2, 1.9).",
            port = base.port,
            proto = base.proto,
        ),
        level: Level::Benign,
        category: Category::Service,
        basis: Basis::Services,
        ..base.into_match()
    }
}

/// Used only if a knowledge table lacks a range class, which the built-in one never does.
struct Fallback {
    info: Info,
}

static FALLBACK: std::sync::LazyLock<Fallback> = std::sync::LazyLock::new(|| Fallback {
    info: Info {
        name: "Unnamed port".to_owned(),
        category: Category::Unknown,
        level: Level::Notable,
        faq: Some("1".to_owned()),
        basis: Basis::Range,
        meaning: "A port nothing in the probe's knowledge describes.".to_owned(),
        explanation: "Neither the FAQ tables nor the system's service list name this port."
            .to_owned(),
        lost: None,
        story: None,
    },
});
