//! `dialup_remnant`: traffic meant for whoever had this address before (FAQ 1.10). Chat, game
//! and streaming servers and trojan masters keep calling a client that hung up; the next user
//! of the address receives it.
//!
//! Often the port that explains it is the *source*: a game server's UDP from 27015, ICQ's from
//! 4000, to whatever port the old client had. The game and chat source ports come from the
//! knowledge data (entries for source ports in the `game` and `chat` categories), so a
//! `--knowledge` file extends them. Fixed ones: RealAudio streams to UDP 6970–7170, PowWow's
//! TCP 13223 (or a connection opening with its "OPNG"), SubSeven's data port 6776.
//!
//! One finding per receiving address and program, whatever the number of senders: a
//! remnant is something that happens to your address.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::{
    Acc, Claims, Config, Ctx, Detector, Out, View, addr_list, addr_words, base, plural, table::Lru,
};
use crate::{
    contact::Proto,
    findings::{Evidence, Kind, evidence},
    knowledge::{Category, Direction, Level, Proto as KProto},
};

pub(crate) const KIND: Kind = Kind::DialupRemnant;

/// `dialup_remnant`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DialupConfig {
    pub enabled: bool,
    /// UDP destination ports where RealAudio clients receive streams.
    pub realaudio_first: u16,
    pub realaudio_last: u16,
    /// PowWow's TCP port.
    pub powwow: u16,
    /// SubSeven's data port, which a master keeps calling after its slave went away.
    pub sub7: u16,
}

impl Default for DialupConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            realaudio_first: 6970,
            realaudio_last: 7170,
            powwow: 13_223,
            sub7: 6776,
        }
    }
}

/// Which program left the traffic behind, and where its port is.
struct Remnant {
    app: String,
    port: u16,
    side: Direction,
    level: Level,
}

pub(crate) struct Dialup {
    /// (destination, application, port): one finding each.
    cases: Lru<(IpAddr, String, u16), Acc>,
}

impl Dialup {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            cases: Lru::new(cap),
        }
    }

    fn classify(v: &View<'_>, ctx: &Ctx<'_>) -> Option<Remnant> {
        let c = v.c;
        let cfg = &ctx.config.dialup_remnant;
        match c.proto {
            Proto::Udp => {
                if (cfg.realaudio_first..=cfg.realaudio_last).contains(&c.dst_port) {
                    return Some(Remnant {
                        app: "RealAudio".to_owned(),
                        port: c.dst_port,
                        side: Direction::Destination,
                        level: Level::Benign,
                    });
                }
                // A server's port as the source, to a client's temporary port.
                if c.dst_port < 1024 {
                    return None;
                }
                let entry = ctx
                    .knowledge
                    .port_entry(c.src_port, KProto::Udp, Direction::Source)?;
                matches!(entry.info.category, Category::Game | Category::Chat).then(|| Remnant {
                    app: entry.info.name.clone(),
                    port: c.src_port,
                    side: Direction::Source,
                    level: Level::Benign,
                })
            }
            Proto::Tcp if v.syn || !c.payload.is_empty() => {
                let opng = ctx
                    .knowledge
                    .first_bytes(&c.payload)
                    .is_some_and(|a| a.name == "PowWow");
                if v.syn && c.dst_port == cfg.sub7 {
                    Some(Remnant {
                        app: "SubSeven".to_owned(),
                        port: c.dst_port,
                        side: Direction::Destination,
                        level: Level::Notable,
                    })
                } else if (v.syn && c.dst_port == cfg.powwow) || opng {
                    Some(Remnant {
                        app: "PowWow".to_owned(),
                        port: c.dst_port,
                        side: Direction::Destination,
                        level: Level::Benign,
                    })
                } else {
                    None
                }
            }
            _ => None,
        }
    }
}

impl Detector for Dialup {
    fn expire(&mut self, now: u64, case_ns: u64, _config: &Config) {
        self.cases.expire(now.saturating_sub(case_ns));
    }

    fn observe(&mut self, v: &View<'_>, ctx: &Ctx<'_>, claims: &mut Claims, o: &mut Out<'_>) {
        if !ctx.config.dialup_remnant.enabled {
            return;
        }
        let Some(r) = Self::classify(v, ctx) else {
            return;
        };
        let c = v.c;
        claims.port_explained = true;
        let list = ctx.config.limits.max_list;
        let acc = self
            .cases
            .touch(&(c.dst, r.app.clone(), r.port), c.ts_ns, || {
                Acc::new(c.ts_ns, list)
            });
        acc.see(c);
        let senders = acc.sources.len() as u64;
        let from = addr_words(&acc.sources, list);
        let story = match r.app.as_str() {
            "SubSeven" => format!(
                "{from} keep{s} trying {dst} on TCP {port}, SubSeven's data port. A SubSeven \
                 master reconnects to a slave that went away, so the likely story is that this \
                 address belonged to an infected machine before and its controller has not \
                 noticed (FAQ 1.10, 1.4.1). It does not mean {dst} is infected: check with `ss \
                 -ltnp` that nothing listens on {port} or 27374. The sender, though, runs a \
                 trojan controller.",
                s = if senders == 1 { "s" } else { "" },
                dst = v.dst,
                port = r.port,
            ),
            "PowWow" => format!(
                "{from} tr{y} to open a PowWow chat connection to {dst} (TCP {port}). PowWow \
                 retries stubbornly, so it can look like probes from many people; it usually \
                 means this address belonged to a PowWow user before, whose partners have not \
                 given up (FAQ 1.10, 1.1). Harmless; it fades as they time out.",
                y = if senders == 1 { "ies" } else { "y" },
                dst = v.dst,
                port = r.port,
            ),
            "RealAudio" => format!(
                "{from} sen{d} UDP to {dst} port {port}, in the 6970-7170 range where RealAudio \
                 clients receive their streams. Either someone on {dst} is listening to a \
                 stream, or the address belonged to a listener until recently and the server \
                 is still sending (FAQ 1.10). Harmless; it stops by itself.",
                d = if senders == 1 { "ds" } else { "d" },
                dst = v.dst,
                port = r.port,
            ),
            app => format!(
                "{from} sen{d} UDP from port {port} to {dst}. The port that explains this is the \
                 source: {port} is {app}, and its server keeps talking to whatever client port \
                 it was given, so the destination port means nothing. Either someone on {dst} \
                 uses {app}, or the address belonged to such a user until recently (common with \
                 dial-up and DHCP) and the server has not given up yet (FAQ 1.10). Harmless; it \
                 stops by itself.",
                d = if senders == 1 { "ds" } else { "d" },
                port = r.port,
                dst = v.dst,
            ),
        };
        let side = match r.side {
            Direction::Source => "source",
            Direction::Destination => "destination",
        };
        o.push(super::Draft {
            subject: format!("{} {} {}", v.dst, r.app, r.port),
            src: acc.src(),
            port: Some(r.port),
            add: acc.take(),
            first_seen_ns: acc.first_ns,
            evidence: Some(Evidence::Dialup(evidence::Dialup {
                app: r.app.clone(),
                port: r.port,
                side,
                sources: addr_list(&acc.sources, list),
                sources_total: senders,
                faq: "1.10".into(),
            })),
            explanation: format!("{story} {senders} sender{s} so far.", s = plural(senders)),
            ..base(KIND, r.level, v)
        });
    }
}

#[cfg(test)]
mod tests {
    use probe_common::packet::tcp_flags::PSH;
    use serde_json::json;

    use super::*;
    use crate::detect::{meaning::TROJAN, testkit::*};

    #[test]
    fn a_game_server_source_port_explains_udp_to_a_random_port() {
        let lines = run(
            &mut engine(),
            &[
                udp("198.18.0.20", 27_015, "198.18.0.1", 50_123),
                at(udp("198.18.0.21", 27_015, "198.18.0.1", 50_124), 5),
            ],
        );
        let f = last_of(&lines, KIND);
        assert_eq!(
            (f.level, f.src.as_deref(), f.dst.as_deref(), f.port, f.count),
            (
                Level::Benign,
                Some("many"),
                Some("198.18.0.1"),
                Some(27_015),
                2
            )
        );
        assert_eq!(f.evidence["side"], json!("source"));
        assert_eq!(f.evidence["app"], json!("Half-Life server"));
        assert_eq!(f.evidence["sources_total"], json!(2));
        assert_eq!(opened(&lines), vec![KIND]);
    }

    #[test]
    fn icq_from_4000_to_a_high_port_but_not_to_a_service() {
        let lines = run(
            &mut engine(),
            &[udp("198.18.0.20", 4000, "198.18.0.1", 3344)],
        );
        let f = last_of(&lines, KIND);
        assert_eq!(
            (f.src.as_deref(), f.port),
            (Some("198.18.0.20"), Some(4000))
        );
        assert_eq!(f.evidence["app"], json!("ICQ"));
        let lines = run(&mut engine(), &[udp("198.18.0.20", 4000, "198.18.0.1", 53)]);
        assert!(of(&lines, KIND).is_empty());
    }

    #[test]
    fn realaudio_powwow_and_sub7() {
        let lines = run(
            &mut engine(),
            &[udp("198.18.0.30", 40_000, "198.18.0.1", 7000)],
        );
        let f = last_of(&lines, KIND);
        assert_eq!((f.port, f.level), (Some(7000), Level::Benign));
        assert_eq!(f.evidence["side"], json!("destination"));

        let lines = run(&mut engine(), &[syn("198.18.0.31", "198.18.0.1", 13_223)]);
        assert_eq!(last_of(&lines, KIND).evidence["app"], json!("PowWow"));

        let mut opng = tcp("198.18.0.32", 40_000, "198.18.0.1", 2000, PSH);
        opng.payload = b"OPNG\0\0".to_vec();
        let lines = run(&mut engine(), &[opng]);
        assert_eq!(last_of(&lines, KIND).evidence["app"], json!("PowWow"));

        let lines = run(&mut engine(), &[syn("198.18.0.33", "198.18.0.1", 6776)]);
        let f = last_of(&lines, KIND);
        assert_eq!(
            (f.level, f.port, f.src.as_deref()),
            (Level::Notable, Some(6776), Some("198.18.0.33"))
        );
        assert_eq!(f.evidence["app"], json!("SubSeven"));
        assert!(of(&lines, TROJAN).is_empty(), "the remnant explains 6776");
    }

    #[test]
    fn ordinary_udp_is_not_a_remnant() {
        let lines = run(
            &mut engine(),
            &[
                udp("198.18.0.20", 40_000, "198.18.0.1", 27_015),
                udp("198.18.0.20", 50_000, "198.18.0.1", 6969),
                udp("198.18.0.20", 443, "198.18.0.1", 50_000),
            ],
        );
        assert!(of(&lines, KIND).is_empty());
    }
}
