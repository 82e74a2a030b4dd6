//! What a probed port means, from the knowledge data: `trojan_probe` for ports of trojans and
//! backdoors (FAQ 1.4), `port_meaning` for every other port the tables describe at or above
//! `min_level`. The entry is the one [`crate::knowledge::Knowledge::port_entry`] gives: of the FAQ's and the
//! modern table's, the higher level (at the same level the modern one). One finding per (source, port): its `port` is the port, so a log search for
//! `port == 31337` finds it, and a source that tries three trojans' ports has three findings.
//!
//! Only probes count (a SYN, or UDP that is not a reply), and only when no specific detector
//! claimed the contact and the source is not already reported as a port scanner or a decoy
//! scan member: there the scan finding tells the story, not each port.

use std::net::IpAddr;

use serde::{Deserialize, Deserializer, Serialize};

use super::{
    Acc, Claims, Config, Ctx, Detector, Out, Story, View, addr_words,
    answer::Answer,
    base, ip_text,
    table::{Capped, Lru},
};
use crate::{
    contact::Proto,
    findings::{
        Evidence, Kind,
        evidence::{self, PortNote},
    },
    knowledge::{Basis, Category, Direction, Info, Level, named},
};

pub(crate) const PORT_MEANING: Kind = Kind::PortMeaning;
pub(crate) const TROJAN: Kind = Kind::TrojanProbe;
pub(crate) const SERVICE: Kind = Kind::Service;

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

/// One port a source tried: what the knowledge says of it, and the contacts.
struct Source {
    acc: Acc,
    note: PortNote,
    meaning: String,
}

/// (source, port, IP protocol): one finding each.
type PortKey = (IpAddr, u16, u8);

/// A port that answered the probes of a `port_meaning` or `trojan_probe` finding: the
/// clients, and the contacts since the last draft.
struct Served {
    clients: Capped<IpAddr>,
    first_ns: u64,
    added: u64,
}

pub(crate) struct Meaning {
    meanings: Lru<PortKey, Source>,
    trojans: Lru<PortKey, Source>,
    /// (server, port, IP protocol): one `service` finding each.
    services: Lru<PortKey, Served>,
}

impl Meaning {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            meanings: Lru::new(cap),
            trojans: Lru::new(cap),
            services: Lru::new(cap),
        }
    }
}

impl Detector for Meaning {
    fn expire(&mut self, now: u64, case_ns: u64, _config: &Config) {
        self.meanings.expire(now.saturating_sub(case_ns));
        self.trojans.expire(now.saturating_sub(case_ns));
        self.services.expire(now.saturating_sub(case_ns));
    }

    /// A port finding still waiting for answers whose probe was answered was a conversation:
    /// withdrawn, and the port reported as a service running there (informational), with
    /// every table's meaning of it — 6969 was GateCrasher's in 2000 and is a BitTorrent
    /// tracker's today; which one it is, the answer alone cannot say.
    fn answer(&mut self, a: &Answer, ctx: &Ctx<'_>, o: &mut Out<'_>) {
        let kp = match a.proto {
            Proto::Tcp => crate::knowledge::Proto::Tcp,
            Proto::Udp => crate::knowledge::Proto::Udp,
            _ => return,
        };
        let (client, server) = (ip_text(a.client), ip_text(a.server));
        let subject = format!("{client} {}/{}", a.port, a.proto.as_str());
        let key = (a.client, a.port, a.protocol);
        let mut withdrew = false;
        for (kind, table) in [
            (PORT_MEANING, &mut self.meanings),
            (TROJAN, &mut self.trojans),
        ] {
            if o.withdraw(kind, &subject) {
                table.remove(&key);
                withdrew = true;
            }
        }
        if !withdrew {
            return;
        }
        let list = ctx.config.limits.max_list;
        let port_use = self
            .services
            .touch(&(a.server, a.port, a.protocol), a.ts_ns, || Served {
                clients: Capped::new(list),
                first_ns: a.ts_ns,
                added: 0,
            });
        port_use.clients.insert(a.client);
        port_use.added += 1;
        let answers = ctx
            .knowledge
            .port_answers(a.port, kp, Direction::Destination);
        let notes: Vec<PortNote> = answers
            .iter()
            .map(|m| PortNote {
                port: a.port,
                proto: a.proto.as_str(),
                name: m.name.clone(),
                level: m.level,
                faq: m.faq.clone(),
                basis: m.basis.as_str(),
                source: m.source.clone(),
            })
            .collect();
        let meanings = answers
            .iter()
            .map(|m| {
                let meaning = named(&m.name, &m.meaning);
                format!("{} ({})", meaning.trim_end_matches('.'), m.basis.as_str())
            })
            .collect::<Vec<_>>()
            .join("; ");
        let clients = addr_words(&port_use.clients, list.min(8));
        let explanation = format!(
            "{server} answered {clients} on {port}/{proto}: the connection completed (or the \
             request got its reply), so a service runs there and this was a conversation, not \
             a probe. What the port is known for: {meanings}. Make sure the service on \
             {server} is the one you expect; a port known for a backdoor that carries a real \
             conversation is worth a look at what listens on it.",
            port = a.port,
            proto = a.proto.as_str(),
        );
        let evidence = Evidence::Service(evidence::Service {
            meanings: notes,
            clients: super::addr_list(&port_use.clients, list),
            clients_total: port_use.clients.len(),
            faq: answers
                .first()
                .map_or_else(|| "1".into(), |m| evidence_faq_of(m.faq.as_ref(), m.basis)),
        });
        o.push(super::Draft {
            kind: SERVICE,
            subject: format!("{server} {}/{}", a.port, a.proto.as_str()),
            level: Level::Benign,
            src: Some(client),
            dst: Some(server),
            proto: Some(a.proto),
            port: Some(a.port),
            tool: None,
            add: std::mem::take(&mut port_use.added),
            first_seen_ns: port_use.first_ns,
            last_seen_ns: a.ts_ns,
            evidence: Some(evidence),
            explanation,
            later: None,
        });
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
        let key = (c.src, c.dst_port, c.protocol);
        let s = table.touch(&key, c.ts_ns, || Source {
            acc: Acc::new(c.ts_ns, list),
            note: PortNote {
                port: c.dst_port,
                proto: c.proto.as_str(),
                name: info.name.clone(),
                level: info.level,
                faq: info.faq.clone(),
                basis: info.basis.as_str(),
                source: info.source.clone(),
            },
            meaning: info.meaning.clone(),
        });
        s.acc.see(c);
        let hosts = addr_words(&s.acc.hosts, list);
        let tried = format!(
            "{}/{} ({})",
            c.dst_port,
            c.proto.as_str(),
            named(&s.note.name, &s.meaning)
        );
        let mut text = if trojan {
            // The evidence cites the port's FAQ section: only the text is the topic's.
            TROJAN_STORY
                .tell(ctx.knowledge, &[&v.src, &tried, &hosts, "that port"])
                .0
        } else {
            format!("{src} tried {tried} on {hosts}.", src = v.src)
        };
        text.push(' ');
        text.push_str(&info.explanation);
        o.push(super::Draft {
            subject: format!(
                "{} {tried_port}/{}",
                v.src,
                c.proto.as_str(),
                tried_port = c.dst_port
            ),
            dst: s.acc.dst(),
            port: Some(c.dst_port),
            add: s.acc.take(),
            first_seen_ns: s.acc.first_ns,
            evidence: Some(Evidence::Ports(evidence::Ports {
                ports: vec![s.note.clone()],
                hosts: super::addr_list(&s.acc.hosts, list),
                faq: evidence_faq(info),
            })),
            explanation: text,
            ..base(kind, info.level, v)
        });
    }
}

/// The evidence's `faq`: the entry's section; for a modern entry without one, `modern` (its
/// port note names the reports); for a user's entry without one, section 1, ports in general.
fn evidence_faq(info: &Info) -> evidence::Faq {
    evidence_faq_of(info.faq.as_ref(), info.basis)
}

fn evidence_faq_of(faq: Option<&String>, basis: Basis) -> evidence::Faq {
    match (faq, basis) {
        (Some(faq), _) => faq.clone().into(),
        (None, Basis::Modern) => "modern".into(),
        (None, _) => "1".into(),
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
        // The meaning starts with the name, which is not said twice.
        assert!(
            f.explanation.starts_with(
                "198.18.0.66 tried 143/tcp (IMAP mail; servers with login-time overflows made it \
                 a favourite worm target.) on 198.18.0.1. "
            ),
            "{}",
            f.explanation
        );
    }

    #[test]
    fn each_port_a_source_tries_is_its_own_finding_naming_the_port() {
        let lines = run(
            &mut engine(),
            &[
                syn("198.18.0.66", "198.18.0.1", 22),
                at(udp("198.18.0.66", 40_000, "198.18.0.1", 161), 5),
                at(syn("198.18.0.66", "198.18.0.2", 22), 6),
            ],
        );
        let found: Vec<_> = of(&lines, PORT_MEANING)
            .iter()
            .map(|f| (f.id, f.level, f.port, f.proto.map(Proto::as_str), f.count))
            .collect();
        // SSH is suspicious: the modern table's entry (password guessing) outranks the FAQ's
        // notable one.
        assert_eq!(
            found,
            [
                // Both wait for answers; none comes, and the flush writes them in the order
                // they were last seen. The same port on a second host is the same finding,
                // counted again.
                (1, Level::Suspicious, Some(161), Some("udp"), 1),
                (2, Level::Suspicious, Some(22), Some("tcp"), 2),
            ]
        );
        let ssh = of(&lines, PORT_MEANING)[1];
        assert_eq!(ssh.dst.as_deref(), Some("many"));
        assert_eq!(ssh.evidence["ports"][0]["port"], json!(22));
        assert_eq!(ssh.evidence["hosts"], json!(["198.18.0.1", "198.18.0.2"]));
    }

    #[test]
    fn benign_and_unknown_ports_and_replies_have_no_meaning_finding() {
        let lines = run(
            &mut engine(),
            &[
                udp("198.18.0.66", 40_000, "198.18.0.1", 53),
                // The web ports are in the modern table, as benign: a connection alone is normal.
                syn("198.18.0.66", "198.18.0.1", 80),
                syn("198.18.0.66", "198.18.0.1", 443),
                syn_ack("198.18.0.9", 22, "198.18.0.1", 40_000),
                udp("198.18.0.53", 53, "198.18.0.1", 31_337),
            ],
        );
        assert!(lines.is_empty(), "{lines:#?}");
        let mut cfg = Config::default();
        cfg.port_meaning.min_level = Level::Suspicious;
        // FTP is notable.
        let lines = run(
            &mut engine_with(cfg),
            &[syn("198.18.0.66", "198.18.0.1", 21)],
        );
        assert!(lines.is_empty());
    }

    #[test]
    fn a_probe_of_a_modern_port_is_a_finding_at_its_level_citing_its_reports() {
        let lines = run(
            &mut engine(),
            &[
                syn("198.18.0.66", "198.18.0.1", 3389),
                at(syn("198.18.0.66", "198.18.0.1", 5555), 2),
                at(udp("198.18.0.66", 40_000, "198.18.0.1", 1900), 3),
                at(syn("198.18.0.66", "198.18.0.1", 23), 4),
            ],
        );
        let found: Vec<_> = of(&lines, PORT_MEANING)
            .iter()
            .map(|f| {
                (
                    f.level,
                    f.port,
                    f.evidence["ports"][0]["name"].clone(),
                    f.evidence["ports"][0]["basis"].clone(),
                    f.evidence["faq"].clone(),
                )
            })
            .collect();
        assert_eq!(
            found,
            [
                (
                    Level::Suspicious,
                    Some(3389),
                    json!("Remote Desktop (RDP)"),
                    json!("modern"),
                    json!("modern")
                ),
                (
                    Level::Hostile,
                    Some(5555),
                    json!("Android Debug Bridge"),
                    json!("modern"),
                    json!("modern")
                ),
                (
                    Level::Notable,
                    Some(1900),
                    json!("SSDP (UPnP discovery)"),
                    json!("modern"),
                    json!("modern")
                ),
                // In both tables at the same level: today's entry answers.
                (
                    Level::Suspicious,
                    Some(23),
                    json!("Telnet"),
                    json!("modern"),
                    json!("modern")
                ),
            ]
        );
        let rdp = of(&lines, PORT_MEANING)[0];
        assert_eq!(
            rdp.evidence["ports"][0]["source"],
            json!(
                "CISA alert AA19-168A (BlueKeep, CVE-2019-0708); CISA #StopRansomware Guide; \
                 SANS ISC port report 3389"
            )
        );
        assert!(
            rdp.explanation.starts_with(
                "198.18.0.66 tried 3389/tcp (Remote Desktop (RDP): Windows Remote Desktop: \
                 scanned for password guessing and for unpatched flaws like BlueKeep.) on \
                 198.18.0.1. Remote Desktop gives a full Windows session"
            ),
            "{}",
            rdp.explanation
        );
        // The FAQ's entries keep citing their section.
        let lines = run(&mut engine(), &[syn("198.18.0.66", "198.18.0.1", 143)]);
        let imap = last_of(&lines, PORT_MEANING);
        assert_eq!(imap.evidence["faq"], json!("1.1"));
        assert_eq!(imap.evidence["ports"][0]["basis"], json!("faq"));
        assert_eq!(imap.evidence["ports"][0]["source"], json!(null));
    }

    #[test]
    fn a_modern_backdoor_port_is_a_trojan_probe() {
        let lines = run(&mut engine(), &[syn("198.18.0.66", "198.18.0.1", 4444)]);
        assert!(of(&lines, PORT_MEANING).is_empty());
        let f = last_of(&lines, TROJAN);
        assert_eq!((f.level, f.port), (Level::Hostile, Some(4444)));
        assert_eq!(
            f.evidence["ports"][0]["name"],
            json!("Metasploit / Blaster shell")
        );
        assert_eq!(f.evidence["faq"], json!("modern"));
    }

    #[test]
    fn trojan_ports_are_trojan_probes_one_per_port() {
        let lines = run(
            &mut engine(),
            &[
                syn("198.18.0.66", "198.18.0.1", 12_345),
                at(syn("198.18.0.66", "198.18.0.1", 27_374), 3),
                at(udp("198.18.0.66", 40_000, "198.18.0.1", 31_337), 5),
            ],
        );
        let found: Vec<_> = of(&lines, TROJAN)
            .iter()
            .map(|f| {
                (
                    f.level,
                    f.src.as_deref(),
                    f.port,
                    f.evidence["ports"][0]["name"].clone(),
                )
            })
            .collect();
        assert_eq!(
            found,
            [
                (
                    Level::Hostile,
                    Some("198.18.0.66"),
                    Some(12_345),
                    json!("NetBus")
                ),
                (
                    Level::Hostile,
                    Some("198.18.0.66"),
                    Some(27_374),
                    json!("SubSeven")
                ),
                (
                    Level::Hostile,
                    Some("198.18.0.66"),
                    Some(31_337),
                    json!("Back Orifice")
                ),
            ]
        );
        assert!(of(&lines, PORT_MEANING).is_empty());
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
