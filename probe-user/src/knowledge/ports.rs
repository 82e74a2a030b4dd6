//! What a port means, in one direction, for one protocol. Always an answer: an entry of the
//! tables, else the system's service name, else the port's range class.
//!
//! Choosing among entries: a user's new entries before built-in ones; then the narrowest port
//! range; then an entry for exactly this protocol before one for both; then one for exactly
//! this direction before one for either.
//!
//! There are two built-in tables, the FAQ's and the modern one, and a port may be in both (23,
//! 445, 8080...). Each table picks its best entry by the rules above; of the two, the one with
//! the higher level answers, and at the same level the modern one (see
//! [`Knowledge::port_entry`]). [`Knowledge::port_answers`] gives the other too.
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
    /// FAQ section(s), e.g. "1.1, 1.4"; `None` for service-name answers, modern entries and
    /// user entries without one.
    pub faq: Option<String>,
    /// The reports and advisories a modern entry rests on; `None` for the FAQ's entries.
    pub source: Option<String>,
    /// Where the answer came from: faq, general, modern, override, services or range.
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

/// Of the FAQ's entry and the modern one for the same port, the one detectors use: the higher
/// level, so that a finding is never milder than what either source knows; at the same level
/// the modern entry, which describes the traffic seen today. An entry a user's file changed
/// beats one it left alone, whatever the levels: the user has the last word.
fn prefer<'a>(faq: Option<&'a PortEntry>, modern: Option<&'a PortEntry>) -> Option<&'a PortEntry> {
    match (faq, modern) {
        (Some(f), Some(m)) => {
            let rank = |e: &PortEntry| (e.info.basis == Basis::Override, e.info.level);
            Some(if rank(m) >= rank(f) { m } else { f })
        }
        (f, m) => f.or(m),
    }
}

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
        for e in self
            .added
            .ports
            .iter()
            .chain(&self.tables.ports)
            .chain(&self.modern.ports)
        {
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

    /// The table entry for a port that detectors use, if any covers it. A user's new entries
    /// come first; then the FAQ's table and the modern table each offer their best entry, and
    /// of two the higher level answers, at the same level the modern one (a user's changes to
    /// a built-in entry win over both).
    pub fn port_entry(&self, port: u16, proto: Proto, direction: Direction) -> Option<&PortEntry> {
        pick(&self.added.ports, port, proto, direction).or_else(|| {
            prefer(
                pick(&self.tables.ports, port, proto, direction),
                pick(&self.modern.ports, port, proto, direction),
            )
        })
    }

    /// What `port` means for `proto`, seen as the packet's `direction` port: the one answer
    /// detectors, log lines and `probe query` use.
    pub fn port(&self, port: u16, proto: Proto, direction: Direction) -> PortMatch {
        finish(self.port_answer(port, proto, direction))
    }

    /// Every answer the tables have for a port: first [`Knowledge::port`]'s, then the FAQ's
    /// table's and the modern table's own where they differ from it. A port the FAQ described
    /// in 2000 and today's reports describe again (23, 445, 8080...) so shows both, each with
    /// its basis. Never empty.
    pub fn port_answers(&self, port: u16, proto: Proto, direction: Direction) -> Vec<PortMatch> {
        let mut all = vec![self.port(port, proto, direction)];
        for table in [&self.tables.ports, &self.modern.ports] {
            let base = self.base(port, proto, direction);
            let entry = |d: Direction| pick(table, port, proto, d);
            if let Some(m) = self.entry_answer(base, entry).map(finish)
                && !all.contains(&m)
            {
                all.push(m);
            }
        }
        all
    }

    fn base(&self, port: u16, proto: Proto, direction: Direction) -> Base {
        Base {
            port,
            proto,
            direction,
            class: RangeClass::of(port),
            caveats: self.caveats_for(port),
        }
    }

    fn port_answer(&self, port: u16, proto: Proto, direction: Direction) -> PortMatch {
        let base = self.base(port, proto, direction);
        let class = base.class;
        if let Some(m) = self.entry_answer(base.clone(), |d| self.port_entry(port, proto, d)) {
            return m;
        }
        match direction {
            Direction::Destination => match self.services.name(port, proto) {
                Some(service) => self.service_answer(base, service),
                None => base.with_info(self.class_info(class, direction), None),
            },
            Direction::Source if port < RESERVED_END => {
                if let Some(service) = self.services.name(port, proto) {
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

    /// The answer a table entry gives, `entry` picking it for a direction: the entry for this
    /// direction, or, for a low source port, the destination entry reworded as a reply.
    fn entry_answer<'a>(
        &self,
        base: Base,
        entry: impl Fn(Direction) -> Option<&'a PortEntry>,
    ) -> Option<PortMatch> {
        let (port, direction) = (base.port, base.direction);
        if let Some(e) = entry(direction) {
            let mut m = base.with_info(&e.info, Some(e.ports));
            if direction == Direction::Source && e.info.category == Category::Dynamic {
                self.add_destination_note(&mut m);
            }
            return Some(m);
        }
        if direction == Direction::Source && port < RESERVED_END {
            return entry(Direction::Destination).map(|e| reply_from_entry(base, e));
        }
        None
    }

    fn caveats_for(&self, port: u16) -> Vec<String> {
        self.added
            .caveats
            .iter()
            .chain(&self.tables.caveats)
            .chain(&self.modern.caveats)
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
            .chain(&self.modern.classes)
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
                "\n\nAs a destination, {}/{} would be {} A client's temporary \
                 port lands on such numbers by chance; only read it that way if the traffic \
                 fits.",
                m.port,
                m.proto,
                super::named(name, meaning)
            );
        }
    }
}

/// Caveats qualify the range class; an entry that names the port already says more.
fn finish(mut m: PortMatch) -> PortMatch {
    if !matches!(m.basis, Basis::Range | Basis::Services) {
        m.caveats.clear();
    }
    m
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
            source: None,
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
            source: info.source.clone(),
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
        source: info.source.clone(),
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
        source: None,
        basis: Basis::Range,
        meaning: "A port nothing in the probe's knowledge describes.".to_owned(),
        explanation: "Neither the FAQ tables nor the system's service list name this port."
            .to_owned(),
        lost: None,
        story: None,
    },
});

#[cfg(test)]
mod tests {
    use super::*;

    /// An entry of table `name` at `level`.
    fn entry(name: &str, level: Level, basis: Basis) -> PortEntry {
        PortEntry {
            ports: PortSpan::single(8080),
            proto: Protos::Tcp,
            direction: Applies::Destination,
            info: Info {
                name: name.to_owned(),
                category: Category::Service,
                level,
                faq: None,
                source: None,
                basis,
                meaning: String::new(),
                explanation: String::new(),
                lost: None,
                story: None,
            },
        }
    }

    #[test]
    fn the_higher_level_answers_then_todays_entry_then_the_users_word() {
        let chosen = |faq: &PortEntry, modern: &PortEntry| {
            prefer(Some(faq), Some(modern)).map(|e| e.info.name.clone())
        };
        let (faq, modern) = ("faq", "modern");
        // The higher level, from either table.
        assert_eq!(
            chosen(
                &entry(faq, Level::Hostile, Basis::Faq),
                &entry(modern, Level::Notable, Basis::Modern)
            )
            .as_deref(),
            Some(faq)
        );
        assert_eq!(
            chosen(
                &entry(faq, Level::Notable, Basis::General),
                &entry(modern, Level::Suspicious, Basis::Modern)
            )
            .as_deref(),
            Some(modern)
        );
        // At the same level, today's.
        assert_eq!(
            chosen(
                &entry(faq, Level::Notable, Basis::Faq),
                &entry(modern, Level::Notable, Basis::Modern)
            )
            .as_deref(),
            Some(modern)
        );
        // An entry the user changed beats one left alone, whatever the levels.
        assert_eq!(
            chosen(
                &entry(faq, Level::Benign, Basis::Override),
                &entry(modern, Level::Hostile, Basis::Modern)
            )
            .as_deref(),
            Some(faq)
        );
        // One alone answers.
        let only = entry(modern, Level::Benign, Basis::Modern);
        assert_eq!(prefer(None, Some(&only)), Some(&only));
        assert_eq!(prefer(Some(&only), None), Some(&only));
        assert_eq!(prefer(None, None), None);
    }
}
