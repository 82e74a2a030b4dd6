//! ICMP messages worth a finding of their own (FAQ section 2), for ICMP and, where the message
//! carries over, ICMPv6: `icmp_frag_needed` (3/4; v6 packet too big), `icmp_redirect` (5; v6
//! 137), `router_advertisement` (9; v6 134), `source_quench` (4), `ttl_exceeded` (11; v6 3) and
//! `parameter_problem` (12; v6 4). The level is the knowledge data's for the message.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::{
    Acc, Claims, Config, Ctx, Detector, Out, View, addr_list, addr_words, base, table::Lru,
};
use crate::{
    findings::{Evidence, Kind, evidence},
    knowledge::IcmpFamily,
};

pub(crate) const FRAG_NEEDED: Kind = Kind::IcmpFragNeeded;
pub(crate) const REDIRECT: Kind = Kind::IcmpRedirect;
pub(crate) const ROUTER_ADV: Kind = Kind::RouterAdvertisement;
pub(crate) const QUENCH: Kind = Kind::SourceQuench;
pub(crate) const TTL_EXCEEDED: Kind = Kind::TtlExceeded;
pub(crate) const PARAM_PROBLEM: Kind = Kind::ParameterProblem;

/// Each ICMP kind on or off.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "one switch per finding kind, as they appear in the config file"
)]
pub struct IcmpConfig {
    pub frag_needed: bool,
    pub redirect: bool,
    pub router_advertisement: bool,
    pub source_quench: bool,
    pub ttl_exceeded: bool,
    pub parameter_problem: bool,
}

impl Default for IcmpConfig {
    fn default() -> Self {
        Self {
            frag_needed: true,
            redirect: true,
            router_advertisement: true,
            source_quench: true,
            ttl_exceeded: true,
            parameter_problem: true,
        }
    }
}

/// The kind an ICMP message belongs to, if it has one.
fn kind_of(cfg: &IcmpConfig, family: IcmpFamily, ty: u8, code: u8) -> Option<Kind> {
    let kind = match (family, ty, code) {
        (IcmpFamily::V4, 3, 4) | (IcmpFamily::V6, 2, _) => (cfg.frag_needed, FRAG_NEEDED),
        (IcmpFamily::V4, 5, _) | (IcmpFamily::V6, 137, _) => (cfg.redirect, REDIRECT),
        (IcmpFamily::V4, 9, _) | (IcmpFamily::V6, 134, _) => (cfg.router_advertisement, ROUTER_ADV),
        (IcmpFamily::V4, 4, _) => (cfg.source_quench, QUENCH),
        (IcmpFamily::V4, 11, _) | (IcmpFamily::V6, 3, _) => (cfg.ttl_exceeded, TTL_EXCEEDED),
        (IcmpFamily::V4, 12, _) | (IcmpFamily::V6, 4, _) => (cfg.parameter_problem, PARAM_PROBLEM),
        _ => return None,
    };
    kind.0.then_some(kind.1)
}

/// The probe's own reading of each kind; `{src}` is the sender, `{dst}` the receiver.
fn reading(kind: Kind, src: &str, dst: &str) -> String {
    match kind {
        FRAG_NEEDED => format!(
            "{src} reports that a packet from {dst} was too large for the next link and could \
             not be split because it asked not to be. That is how path MTU discovery works, and \
             it is normally harmless. Never block these: without them, TCP connections that send \
             full-size packets hang for no visible reason (FAQ 2). Many of them from one router \
             usually mean a tunnel or VPN with a small MTU on the path."
        ),
        REDIRECT => format!(
            "{src} told {dst} to send some traffic through a different router. Hosts on a tidy \
             network seldom need this, and from outside your network it is never legitimate: a \
             forged redirect lets an attacker route traffic through a machine of theirs and read \
             or change it. Hosts should ignore redirects (Linux: \
             net.ipv4.conf.all.accept_redirects=0) and the border should drop them."
        ),
        ROUTER_ADV => format!(
            "{src} announced itself to {dst} as a router. On IPv6 links routers do this all the \
             time; it matters only if {src} is not a router you run. A rogue announcement can \
             make hosts send everything through an attacker's machine, or into a void. If you \
             do not know {src}, find it; switches with RA guard stop this."
        ),
        QUENCH => format!(
            "{src} asked {dst} to slow down. Routers stopped sending source quench long ago (RFC \
             6633 retired it) and current systems ignore it, so one today is most likely forged, \
             an old trick to throttle someone's connections. It is safe to drop."
        ),
        TTL_EXCEEDED => format!(
            "{src} reports that a packet from {dst} ran out of hops on the way (code 0) or could \
             not be reassembled in time (code 1). Running traceroute produces exactly these \
             answers, so after one they are expected; without one they point to a routing loop \
             or lost fragments, or to someone using {dst}'s address as a forged source."
        ),
        _ => format!(
            "{src} says a packet from {dst} had a header it could not make sense of. Ordinary \
             stacks almost never cause this; it usually answers deliberately malformed packets, \
             such as those of an operating-system fingerprinting scan. Either {dst} sent such \
             packets, or someone sent them in its name."
        ),
    }
}

pub(crate) struct Icmp {
    cases: Lru<(Kind, IpAddr), Acc>,
}

impl Icmp {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            cases: Lru::new(cap),
        }
    }
}

impl Detector for Icmp {
    fn expire(&mut self, now: u64, case_ns: u64, _config: &Config) {
        self.cases.expire(now.saturating_sub(case_ns));
    }

    fn observe(&mut self, v: &View<'_>, ctx: &Ctx<'_>, _claims: &mut Claims, o: &mut Out<'_>) {
        let c = v.c;
        let Some(family) = v.icmp else {
            return;
        };
        let Some(kind) = kind_of(&ctx.config.icmp, family, c.icmp_type, c.icmp_code) else {
            return;
        };
        let list = ctx.config.limits.max_list;
        let acc = self
            .cases
            .touch(&(kind, c.src), c.ts_ns, || Acc::new(c.ts_ns, list));
        acc.see(c);
        acc.tag(&format!("{}/{}", c.icmp_type, c.icmp_code));
        let m = ctx.knowledge.icmp(family, c.icmp_type, c.icmp_code);
        let explanation = format!(
            "{} The tables call it \"{}\": {}",
            reading(kind, &v.src, &addr_words(&acc.hosts, list)),
            m.name,
            m.meaning
        );
        o.push(super::Draft {
            dst: acc.dst(),
            port: None,
            add: acc.take(),
            first_seen_ns: acc.first_ns,
            evidence: Some(Evidence::Icmp(evidence::Icmp {
                family: family.as_str(),
                icmp_type: c.icmp_type,
                code: c.icmp_code,
                name: m.name,
                messages: acc.tags.tally(),
                hosts: addr_list(&acc.hosts, list),
                faq: m.faq.map_or("2".into(), Into::into),
            })),
            explanation,
            ..base(kind, m.level, v)
        });
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{detect::testkit::*, knowledge::Level};

    #[test]
    fn each_message_has_its_kind_and_the_knowledge_level() {
        for (c, kind, level) in [
            (
                icmp("198.18.0.9", "198.18.0.1", 3, 4),
                FRAG_NEEDED,
                Level::Notable,
            ),
            (
                icmp6("2001:db8::9", "2001:db8::1", 2, 0),
                FRAG_NEEDED,
                Level::Notable,
            ),
            (
                icmp("198.18.0.9", "198.18.0.1", 5, 1),
                REDIRECT,
                Level::Suspicious,
            ),
            (
                icmp6("2001:db8::9", "2001:db8::1", 137, 0),
                REDIRECT,
                Level::Suspicious,
            ),
            (
                icmp("198.18.0.9", "198.18.0.1", 9, 0),
                ROUTER_ADV,
                Level::Suspicious,
            ),
            (
                icmp6("2001:db8::9", "2001:db8::1", 134, 0),
                ROUTER_ADV,
                Level::Notable,
            ),
            (
                icmp("198.18.0.9", "198.18.0.1", 4, 0),
                QUENCH,
                Level::Notable,
            ),
            (
                icmp("198.18.0.9", "198.18.0.1", 11, 0),
                TTL_EXCEEDED,
                Level::Benign,
            ),
            (
                icmp("198.18.0.9", "198.18.0.1", 11, 1),
                TTL_EXCEEDED,
                Level::Notable,
            ),
            (
                icmp6("2001:db8::9", "2001:db8::1", 3, 0),
                TTL_EXCEEDED,
                Level::Benign,
            ),
            (
                icmp("198.18.0.9", "198.18.0.1", 12, 0),
                PARAM_PROBLEM,
                Level::Suspicious,
            ),
            (
                icmp6("2001:db8::9", "2001:db8::1", 4, 1),
                PARAM_PROBLEM,
                Level::Suspicious,
            ),
        ] {
            let (src, ty, code) = (c.src.to_string(), c.icmp_type, c.icmp_code);
            let lines = run(&mut engine(), &[c]);
            let f = last_of(&lines, kind);
            assert_eq!(
                (f.level, f.src.as_deref(), f.count, f.port),
                (level, Some(src.as_str()), 1, None),
                "{kind} {ty}/{code}"
            );
            assert_eq!(f.evidence["type"], json!(ty));
            assert_eq!(f.evidence["code"], json!(code));
            assert_eq!(opened(&lines), vec![kind]);
        }
    }

    #[test]
    fn other_messages_have_no_icmp_kind() {
        let lines = run(
            &mut engine(),
            &[
                icmp("198.18.0.9", "198.18.0.1", 3, 3),
                icmp("198.18.0.9", "198.18.0.1", 3, 1),
                icmp("198.18.0.9", "198.18.0.1", 8, 0),
                icmp("198.18.0.9", "198.18.0.1", 0, 0),
                icmp6("2001:db8::9", "2001:db8::1", 135, 0),
                icmp6("2001:db8::9", "2001:db8::1", 1, 4),
            ],
        );
        assert!(lines.is_empty(), "{lines:#?}");
    }

    #[test]
    fn messages_from_one_router_fold_and_can_be_switched_off() {
        let lines = run(
            &mut engine(),
            &[
                icmp("198.18.0.9", "198.18.0.1", 11, 0),
                at(icmp("198.18.0.9", "198.18.0.2", 11, 1), 5),
            ],
        );
        let f = last_of(&lines, TTL_EXCEEDED);
        assert_eq!(
            (f.count, f.dst.as_deref(), f.level),
            (2, Some("many"), Level::Notable)
        );
        assert_eq!(f.evidence["messages"], json!({"11/0": 1, "11/1": 1}));
        let mut cfg = crate::detect::Config::default();
        cfg.icmp.redirect = false;
        let lines = run(
            &mut engine_with(cfg),
            &[icmp("198.18.0.9", "198.18.0.1", 5, 0)],
        );
        assert!(lines.is_empty());
    }
}
