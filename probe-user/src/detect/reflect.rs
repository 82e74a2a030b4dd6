//! `reflection`: today's smurf. Someone sends small requests to UDP services that answer with
//! more (DNS, NTP, memcached, SSDP, CLDAP...), with the victim's address forged as the source;
//! the services' answers converge on the victim. At the victim that is UDP *from* a reflector
//! service's port (`track::reflector_port`) to its high ports, from many sources at once, or
//! from a few when each answer is large (a handful of memcached servers suffice).
//!
//! Who reflects comes from first contacts (each reflector's first answer to the victim; the
//! kernel keys them by the service's source port); how much from the per-source volume, since
//! a reflector's later answers are repeats of its contact. A host's own resolvers and time
//! servers answer it too, but a handful of them with small answers: the thresholds keep that
//! quiet. Echo (7) and chargen (19) are `fraggle`'s.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::{Claims, Config, Ctx, Detector, Out, View, addr_list, secs, table::Lru};
use crate::{
    contact::Proto,
    findings::{Draft, Evidence, Kind, evidence},
    knowledge::{Direction, Level},
    volume::Volume,
};

pub(crate) const KIND: Kind = Kind::Reflection;

/// `reflection`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReflectionConfig {
    pub enabled: bool,
    /// Reflectors of one service answering one address within the window that make it a
    /// victim, together with `packets`.
    pub reflectors: usize,
    /// Answers within the window, with `reflectors`.
    pub packets: u64,
    /// Or: this few reflectors suffice when their answers are large...
    pub large_reflectors: usize,
    /// ... averaging at least this many bytes (a DNS answer to an ordinary query is a few
    /// hundred, an amplified one thousands; memcached's run to hundreds of kilobytes) ...
    pub large_answer_bytes: u64,
    /// ... and at least this many bytes in all within the window.
    pub large_bytes: u64,
    pub window_secs: u64,
}

impl Default for ReflectionConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            // A recursive resolver gets answers from many servers too: a flood is more of
            // them, and faster, than a busy resolver's (100 answers a second from 50).
            reflectors: 50,
            packets: 1_000,
            large_reflectors: 2,
            large_answer_bytes: 1_000,
            large_bytes: 1_000_000,
            window_secs: 10,
        }
    }
}

const ECHO: u16 = 7;
const CHARGEN: u16 = 19;

/// Answers of one service converging on one address.
struct Target {
    /// Reflectors seen answering within the window, by when.
    reflectors: Lru<IpAddr, ()>,
    /// Answers and bytes counted since `since_ns` (from the volume).
    packets: u64,
    bytes: u64,
    since_ns: u64,
    /// Reflectors passed on in drafts so far (a finding's count).
    reported: u64,
    open: bool,
}

pub(crate) struct Reflect {
    /// (victim, service port) → its answers.
    targets: Lru<(IpAddr, u16), Target>,
    /// Reflector → the (victim, service port) it was last seen answering.
    answering: Lru<IpAddr, (IpAddr, u16)>,
}

impl Reflect {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            targets: Lru::new(cap),
            answering: Lru::new(cap),
        }
    }

    /// The draft about `target` once it is a victim, else `None`.
    fn check(key: (IpAddr, u16), t: &mut Target, now: u64, ctx: &Ctx<'_>) -> Option<Draft> {
        let cfg = &ctx.config.reflection;
        let n = t.reflectors.len();
        let average = t.bytes.checked_div(t.packets).unwrap_or(0);
        let many = n >= cfg.reflectors.max(1) && t.packets >= cfg.packets;
        let large = n >= cfg.large_reflectors.max(1)
            && average >= cfg.large_answer_bytes
            && t.bytes >= cfg.large_bytes;
        if !(t.open || many || large) {
            return None;
        }
        t.open = true;
        let (victim, port) = key;
        let list = ctx.config.limits.max_list;
        let mut sources = super::table::Capped::new(list.saturating_mul(8));
        for (r, ()) in t.reflectors.iter() {
            sources.insert(*r);
        }
        let service = ctx
            .knowledge
            .port_entry(port, crate::knowledge::Proto::Udp, Direction::Destination)
            .map_or_else(
                || format!("UDP {port}"),
                |e| format!("{} (UDP {port})", e.info.name),
            );
        let add = (n as u64).saturating_sub(t.reported);
        t.reported = t.reported.max(n as u64);
        let dst = super::ip_text(victim);
        let explanation = format!(
            "{n} different hosts answered {dst} from the {service} port within {window} s: \
             {packets} answers, {bytes} bytes, {average} bytes each on average. {dst} did not \
             ask them all: someone sent those services small requests with {dst}'s address \
             forged as the source, and the services' larger answers converge on it. This is a \
             reflection (amplification) attack, the smurf of today (US-CERT TA14-017A lists \
             the services). The hosts listed are reflectors, not the attacker. Filter UDP from \
             port {port} towards {dst} upstream (ask your provider), and make sure your own \
             servers of that service do not answer the whole Internet.",
            window = ctx.config.reflection.window_secs,
            packets = t.packets,
            bytes = t.bytes,
        );
        Some(Draft {
            kind: KIND,
            subject: format!("{dst} {port}"),
            level: Level::Hostile,
            src: super::one_or_many(&sources),
            dst: Some(dst),
            proto: Some(Proto::Udp),
            port: Some(port),
            tool: None,
            add,
            first_seen_ns: t.since_ns,
            last_seen_ns: now,
            evidence: Some(Evidence::Reflection(evidence::Reflection {
                service,
                reflectors: addr_list(&sources, list),
                reflectors_total: n,
                packets: t.packets,
                bytes: t.bytes,
                average_bytes: average,
                window_secs: ctx.config.reflection.window_secs,
                faq: "general".into(),
            })),
            explanation,
            later: None,
        })
    }
}

impl Detector for Reflect {
    fn expire(&mut self, now: u64, case_ns: u64, config: &Config) {
        let window = secs(config.reflection.window_secs.max(1));
        self.answering
            .expire(now.saturating_sub(case_ns.max(window)));
        self.targets.expire(now.saturating_sub(case_ns.max(window)));
    }

    fn observe(&mut self, v: &View<'_>, ctx: &Ctx<'_>, claims: &mut Claims, o: &mut Out<'_>) {
        let c = v.c;
        let cfg = &ctx.config.reflection;
        if !cfg.enabled
            || c.proto != Proto::Udp
            || c.dst_port < 1024
            || c.src_port == ECHO
            || c.src_port == CHARGEN
            || !probe_common::track::reflector_port(c.src_port)
        {
            return;
        }
        let key = (c.dst, c.src_port);
        self.answering.touch(&c.src, c.ts_ns, || key);
        let window = secs(cfg.window_secs.max(1));
        let t = self.targets.touch(&key, c.ts_ns, || Target {
            reflectors: Lru::new(ctx.config.limits.max_tracked),
            packets: 0,
            bytes: 0,
            since_ns: c.ts_ns,
            reported: 0,
            open: false,
        });
        t.reflectors.touch(&c.src, c.ts_ns, || ());
        if !t.open {
            t.reflectors.expire(c.ts_ns.saturating_sub(window));
        }
        if let Some(d) = Self::check(key, t, c.ts_ns, ctx) {
            // The answers are explained: no per-port finding for the victim's ports.
            claims.port_explained = true;
            o.push(d);
        }
    }

    fn volume(&mut self, now: u64, sources: &[Volume], ctx: &Ctx<'_>, o: &mut Out<'_>) {
        if !ctx.config.reflection.enabled {
            return;
        }
        let window = secs(ctx.config.reflection.window_secs.max(1));
        let mut touched = Vec::new();
        for v in sources.iter().filter(|v| v.reflected > 0) {
            let Some(&key) = self.answering.get(&v.src) else {
                continue;
            };
            let Some(t) = self.targets.get_mut(&key) else {
                continue;
            };
            // A window with nothing reported starts again; an open finding keeps counting.
            if !t.open && now.saturating_sub(t.since_ns) > window {
                t.since_ns = now;
                t.packets = 0;
                t.bytes = 0;
            }
            t.packets = t.packets.saturating_add(v.reflected);
            // The source's bytes: a reflector sends the victim little but answers.
            t.bytes = t.bytes.saturating_add(v.bytes);
            if !touched.contains(&key) {
                touched.push(key);
            }
        }
        touched.sort();
        for key in touched {
            if let Some(t) = self.targets.get_mut(&key)
                && let Some(d) = Self::check(key, t, now, ctx)
            {
                o.push(d);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::detect::testkit::*;

    const VICTIM: &str = "198.18.0.1";

    /// A reflector's first answer from `port` to the victim, `ms` in.
    fn answer(reflector: u8, port: u16, ms: u64) -> crate::contact::Contact {
        at(
            udp(
                &format!("198.18.5.{reflector}"),
                port,
                VICTIM,
                40_000 + u16::from(reflector),
            ),
            ms,
        )
    }

    /// What `reflectors` each sent, `answers` answers of `size` bytes.
    fn volume(reflectors: std::ops::RangeInclusive<u8>, answers: u64, size: u64) -> Vec<Volume> {
        reflectors
            .map(|r| Volume {
                src: ip(&format!("198.18.5.{r}")),
                packets: answers,
                bytes: answers * size,
                syns: 0,
                echo_replies: 0,
                reflected: answers,
            })
            .collect()
    }

    #[test]
    fn answers_from_sixty_dns_servers_are_a_reflection_naming_the_victim_and_port() {
        let mut e = engine();
        let contacts: Vec<_> = (1..=60).map(|r| answer(r, 53, u64::from(r))).collect();
        let mut lines = run(&mut e, &contacts);
        // Sixty reflectors but one answer each so far: not yet.
        assert!(of(&lines, KIND).is_empty(), "{lines:#?}");
        // Small answers: many of them from many reflectors is the finding.
        lines.extend(e.volume(T0 + SEC, &volume(1..=60, 20, 300)));
        let f = last_of(&lines, KIND);
        assert_eq!(
            (f.level, f.src.as_deref(), f.dst.as_deref(), f.port, f.count),
            (Level::Hostile, Some("many"), Some(VICTIM), Some(53), 60)
        );
        assert_eq!(f.evidence["reflectors_total"], json!(60));
        assert_eq!(f.evidence["packets"], json!(1_200));
        assert_eq!(f.evidence["bytes"], json!(360_000));
        assert_eq!(f.evidence["average_bytes"], json!(300));
        assert_eq!(f.evidence["service"], json!("DNS (UDP 53)"));
        assert!(
            f.explanation.contains("forged as the source"),
            "{}",
            f.explanation
        );
    }

    #[test]
    fn three_memcached_servers_with_large_answers_are_enough() {
        let mut e = engine();
        let contacts: Vec<_> = (1..=3).map(|r| answer(r, 11_211, u64::from(r))).collect();
        run(&mut e, &contacts);
        let lines = e.volume(T0 + SEC, &volume(1..=3, 400, 1_400));
        let f = last_of(&lines, KIND);
        assert_eq!((f.port, f.count), (Some(11_211), 3));
        assert_eq!(f.evidence["bytes"], json!(1_680_000));
    }

    #[test]
    fn a_hosts_own_resolvers_and_time_servers_stay_quiet() {
        let mut e = engine();
        // Three resolvers and four NTP servers answering this host, small answers, steadily.
        let mut contacts: Vec<_> = (1..=3).map(|r| answer(r, 53, u64::from(r))).collect();
        contacts.extend((4..=7).map(|r| answer(r, 123, u64::from(r))));
        let mut lines = run(&mut e, &contacts);
        for s in 1..=60 {
            let mut v = volume(1..=3, 60, 120);
            v.extend(volume(4..=7, 1, 90));
            lines.extend(e.volume(T0 + s * SEC, &v));
        }
        assert!(of(&lines, KIND).is_empty(), "{lines:#?}");
    }
}
