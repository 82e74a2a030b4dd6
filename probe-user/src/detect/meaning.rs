//! What a probed port means, from the knowledge data: `trojan_probe` for ports of trojans and
//! backdoors (FAQ 1.4), `port_meaning` for every other port the tables describe at or above
//! `min_level`. One finding per source, listing the ports it tried.
//!
//! Only probes count (a SYN, or UDP that is not a reply), and only when no specific detector
//! claimed the contact and the source is not already reported as a port scanner or a decoy
//! scan member: there the scan finding tells the story, not each port.

use std::{collections::BTreeMap, net::IpAddr};

use serde::{Deserialize, Deserializer, Serialize};

use super::{Acc, Claims, Config, Ctx, Detector, Out, Story, View, addr_words, base, table::Lru};
use crate::{
    contact::Proto,
    findings::{
        Evidence, Kind,
        evidence::{self, PortNote},
    },
    knowledge::{Category, Direction, Info, Level},
};

pub(crate) const PORT_MEANING: Kind = Kind::PortMeaning;
pub(crate) const TROJAN: Kind = Kind::TrojanProbe;

/// `trojan_probe`'s explanation, before the most worrying port's own.
pub(crate) const TROJAN_STORY: Story = Story {
    topic: "trojan-probes",
    marks: &["src", "tried", "hosts", "which"],
};

/// `port_meaning`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PortMeaningConfig {
    pub enabled: bool,
    /// Ports whose knowledge level is below this are not reported (`benign`, `notable`,
    /// `suspicious`, `hostile`).
    #[serde(deserialize_with = "level")]
    pub min_level: Level,
}

impl Default for PortMeaningConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            min_level: Level::Notable,
        }
    }
}

fn level<'de, D: Deserializer<'de>>(d: D) -> Result<Level, D::Error> {
    String::deserialize(d)?
        .parse()
        .map_err(serde::de::Error::custom)
}

/// One port a source tried.
#[derive(Clone)]
struct Note {
    name: String,
    meaning: String,
    level: Level,
    faq: Option<String>,
}

struct Source {
    acc: Acc,
    notes: BTreeMap<(u16, &'static str), Note>,
    /// The most worrying port's long explanation.
    worst: Option<(Level, String)>,
}

impl Source {
    /// Remembers what `port` means; the most worrying port's explanation is kept in full.
    fn note(&mut self, port: u16, proto: &'static str, info: &Info) {
        let key = (port, proto);
        if self.notes.len() < MAX_NOTES || self.notes.contains_key(&key) {
            self.notes.insert(
                key,
                Note {
                    name: info.name.clone(),
                    meaning: info.meaning.clone(),
                    level: info.level,
                    faq: info.faq.clone(),
                },
            );
        }
        if self.worst.as_ref().is_none_or(|(l, _)| info.level > *l) {
            self.worst = Some((info.level, info.explanation.clone()));
        }
    }

    fn port_notes(&self) -> Vec<PortNote> {
        self.notes
            .iter()
            .map(|((port, proto), n)| PortNote {
                port: *port,
                proto,
                name: n.name.clone(),
                level: n.level,
                faq: n.faq.clone(),
            })
            .collect()
    }
}

pub(crate) struct Meaning {
    meanings: Lru<IpAddr, Source>,
    trojans: Lru<IpAddr, Source>,
}

/// Ports listed per finding at most.
const MAX_NOTES: usize = 32;

impl Meaning {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            meanings: Lru::new(cap),
            trojans: Lru::new(cap),
        }
    }
}

impl Detector for Meaning {
    fn expire(&mut self, now: u64, case_ns: u64, _config: &Config) {
        self.meanings.expire(now.saturating_sub(case_ns));
        self.trojans.expire(now.saturating_sub(case_ns));
    }

    fn observe(&mut self, v: &View<'_>, ctx: &Ctx<'_>, claims: &mut Claims, o: &mut Out<'_>) {
        // A detector before this one explained the port, or a scan finding covers it.
        if claims.port_explained || claims.ports_covered() {
            return;
        }
        let c = v.c;
        let udp_probe = c.proto == Proto::Udp && !v.udp_reply;
        if !(v.syn || v.cut_tcp || udp_probe) {
            return;
        }
        let Some(kp) = v.kproto() else {
            return;
        };
        let Some(entry) = ctx
            .knowledge
            .port_entry(c.dst_port, kp, Direction::Destination)
        else {
            return;
        };
        let info = &entry.info;
        let trojan = matches!(info.category, Category::Trojan | Category::Backdoor);
        let (kind, table) = if trojan {
            if !ctx.config.trojan_probe.enabled {
                return;
            }
            (TROJAN, &mut self.trojans)
        } else {
            if !ctx.config.port_meaning.enabled || info.level < ctx.config.port_meaning.min_level {
                return;
            }
            (PORT_MEANING, &mut self.meanings)
        };
        let list = ctx.config.limits.max_list;
        let s = table.touch(&c.src, c.ts_ns, || Source {
            acc: Acc::new(c.ts_ns, list),
            notes: BTreeMap::new(),
            worst: None,
        });
        s.acc.see(c);
        s.note(c.dst_port, c.proto.as_str(), info);
        let level = s
            .notes
            .values()
            .map(|n| n.level)
            .max()
            .unwrap_or(info.level);
        let ports = s.port_notes();
        let hosts = addr_words(&s.acc.hosts, list);
        let single = s.notes.len() == 1;
        let mut text = if trojan {
            // The evidence cites the probed ports' FAQ sections: only the text is the topic's.
            let which = if single { "that port" } else { "those ports" };
            let tried = list_ports(&s.notes);
            TROJAN_STORY
                .tell(ctx.knowledge, &[&v.src, &tried, &hosts, which])
                .0
        } else {
            format!(
                "{src} tried {} on {hosts}.",
                list_ports(&s.notes),
                src = v.src
            )
        };
        if let Some((_, long)) = &s.worst {
            text.push(' ');
            text.push_str(long);
        }
        o.push(super::Draft {
            dst: s.acc.dst(),
            port: s.acc.port(),
            add: s.acc.take(),
            first_seen_ns: s.acc.first_ns,
            evidence: Some(Evidence::Ports(evidence::Ports {
                ports,
                hosts: super::addr_list(&s.acc.hosts, list),
                faq: info.faq.clone().map_or("1".into(), Into::into),
            })),
            explanation: text,
            ..base(kind, level, v)
        });
    }
}

/// `31337/tcp (Back Orifice: meaning)` for each port, joined.
fn list_ports(notes: &BTreeMap<(u16, &'static str), Note>) -> String {
    let parts: Vec<String> = notes
        .iter()
        .take(6)
        .map(|((port, proto), n)| format!("{port}/{proto} ({}: {})", n.name, n.meaning))
        .collect();
    let more = notes.len().saturating_sub(parts.len());
    if more > 0 {
        format!("{} and {more} more", parts.join("; "))
    } else {
        parts.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::detect::{Config, testkit::*};

    #[test]
    fn a_probe_of_a_described_port_gets_its_meaning_and_level() {
        let lines = run(&mut engine(), &[syn("198.18.0.66", "198.18.0.1", 143)]);
        let f = last_of(&lines, PORT_MEANING);
        assert_eq!(
            (f.level, f.src.as_deref(), f.dst.as_deref(), f.port, f.count),
            (
                Level::Suspicious,
                Some("198.18.0.66"),
                Some("198.18.0.1"),
                Some(143),
                1
            )
        );
        assert_eq!(f.evidence["ports"][0]["name"], json!("IMAP"));
        assert_eq!(f.evidence["ports"][0]["level"], json!("suspicious"));
        assert!(
            f.explanation
                .starts_with("198.18.0.66 tried 143/tcp (IMAP: ")
        );
    }

    #[test]
    fn several_ports_from_one_source_are_one_finding_at_the_highest_level() {
        let lines = run(
            &mut engine(),
            &[
                syn("198.18.0.66", "198.18.0.1", 22),
                at(udp("198.18.0.66", 40_000, "198.18.0.1", 161), 5),
            ],
        );
        let f = last_of(&lines, PORT_MEANING);
        assert_eq!((f.level, f.port, f.count), (Level::Suspicious, None, 2));
        assert_eq!(f.evidence["ports"][0]["port"], json!(22));
        assert_eq!(f.evidence["ports"][1]["proto"], json!("udp"));
        let first = of(&lines, PORT_MEANING)[0];
        assert_eq!((first.level, first.port), (Level::Notable, Some(22)));
    }

    #[test]
    fn benign_and_unknown_ports_and_replies_have_no_meaning_finding() {
        let lines = run(
            &mut engine(),
            &[
                udp("198.18.0.66", 40_000, "198.18.0.1", 53),
                syn("198.18.0.66", "198.18.0.1", 80),
                syn("198.18.0.66", "198.18.0.1", 443),
                syn_ack("198.18.0.9", 22, "198.18.0.1", 40_000),
                udp("198.18.0.53", 53, "198.18.0.1", 31_337),
            ],
        );
        assert!(lines.is_empty(), "{lines:#?}");
        let mut cfg = Config::default();
        cfg.port_meaning.min_level = Level::Suspicious;
        let lines = run(
            &mut engine_with(cfg),
            &[syn("198.18.0.66", "198.18.0.1", 22)],
        );
        assert!(lines.is_empty());
    }

    #[test]
    fn trojan_ports_are_trojan_probes() {
        let lines = run(
            &mut engine(),
            &[
                syn("198.18.0.66", "198.18.0.1", 12_345),
                at(udp("198.18.0.66", 40_000, "198.18.0.1", 31_337), 5),
            ],
        );
        let f = last_of(&lines, TROJAN);
        assert_eq!(
            (f.level, f.src.as_deref(), f.port, f.count),
            (Level::Hostile, Some("198.18.0.66"), None, 2)
        );
        assert_eq!(f.evidence["ports"][0]["name"], json!("NetBus"));
        assert_eq!(f.evidence["ports"][1]["name"], json!("Back Orifice"));
        assert!(of(&lines, PORT_MEANING).is_empty());
        let first = of(&lines, TROJAN)[0];
        assert_eq!((first.port, first.count), (Some(12_345), 1));
    }

    #[test]
    fn a_port_scanner_gets_no_per_port_findings_after_its_scan_is_found() {
        let mut contacts: Vec<_> = (2000u16..2020)
            .enumerate()
            .map(|(i, p)| at(syn("198.18.0.66", "198.18.0.1", p), i as u64))
            .collect();
        contacts.push(at(syn("198.18.0.66", "198.18.0.1", 143), 100));
        contacts.push(at(syn("198.18.0.66", "198.18.0.1", 31_337), 101));
        let lines = run(&mut engine(), &contacts);
        assert_eq!(opened(&lines), vec![Kind::VerticalScan]);
    }

    #[test]
    fn the_min_level_reads_as_a_word() {
        let cfg = config(r#"{"port_meaning": {"min_level": "hostile"}}"#).unwrap();
        assert_eq!(cfg.port_meaning.min_level, Level::Hostile);
        assert!(config(r#"{"port_meaning": {"min_level": "scary"}}"#).is_err());
    }
}
