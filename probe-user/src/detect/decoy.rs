//! `decoy_scan`: the same ports of one host probed from several sources at once (FAQ 1.3). A
//! scanner such as `nmap -D` sends every probe several times, once from its own address and
//! once from each forged decoy, so that the real source hides in the crowd.
//!
//! # Spotting the group
//!
//! For each target host the detector keeps, per port, the sources that probed it within
//! `spread_secs` of the first one (a *round*). A round with at least `sources` sources is a
//! co-probed port. Sources that took part in at least `common_ports` co-probed rounds form the
//! group; with at least `sources` members it is a decoy scan. One finding per target.
//!
//! # Naming the real source
//!
//! FAQ 1.3 gives two tests: compare the TTL of each source's probes with the TTL its genuine
//! traffic shows (the FAQ pings each source; a passive probe compares with what the source
//! sent *before* the scan), and look back for which source was in contact before (the real
//! attacker usually was, the decoys were not). A third follows from how decoys are made: all
//! forged copies leave one machine, so they share one TTL pattern. Each rule that singles out
//! exactly one member gives it a vote:
//!
//! 1. `ttl_matches_earlier` — its probes' TTLs agree (within `ttl_slack`) with the TTL of its
//!    first contact before the scan, and no other member's do;
//! 2. `earlier_contact` — it alone was seen more than `history_gap_secs` before the group's
//!    first probe (the probe remembers sources for `limits.history_secs`). A member whose
//!    probes keep a steady TTL that differs from its earlier traffic does not count: that is
//!    a forged copy of an address that really did talk to you before;
//! 3. `ttl_stands_apart` — with three or more members, its TTL range does not overlap the
//!    TTLs of any other member, while the others' ranges all overlap each other: the copies
//!    travelled one path, it travelled another (no slack here: one hop is the difference).
//!
//! The member with the most votes, if it is the only one with that many, is named; two or
//! more votes make the verdict `high` confidence, one `medium`. Otherwise the finding says the
//! real source cannot be told apart and why.
//!
//! What this means for a plain `nmap -D`: nmap sends every copy from the scanning host and
//! draws each packet's TTL at random (37–59 before the hops), so rules 1 and 3 find nothing
//! and only an earlier contact from the scanner (a ping, a connection, a scan without decoys)
//! names it. Decoys sent from a different hop count than the real probes are named by rule 3.
//! The evidence lists every member's TTLs and history so a reader can check the reasoning.

use std::{fmt::Write as _, net::IpAddr};

use serde::{Deserialize, Serialize};

use super::{
    Claims, Config, Ctx, Detector, Out, Seen, Story, View, base, secs, span,
    table::{Lru, PortSet, Ttls},
};
use crate::{
    contact::Contact,
    findings::{
        Evidence, Kind,
        evidence::{self, DecoyMember, Faq},
    },
    knowledge::{Knowledge, Level},
};

pub(crate) const KIND: Kind = Kind::DecoyScan;

/// The opening of the finding's explanation; the verdict on the real source follows it.
pub(crate) const STORY: Story = Story {
    topic: "decoy-scan",
    marks: &["n", "ports", "dst", "spread"],
};

/// Probe TTLs varying by at most this much are steady enough to compare with earlier traffic;
/// more, and the scanner is randomising them (nmap does, by up to 22).
const STEADY_TTL_SPREAD: u8 = 4;

/// `decoy_scan`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DecoyConfig {
    pub enabled: bool,
    /// Sources that must probe the same port of one host within `spread_secs`, and members a
    /// group needs.
    pub sources: usize,
    /// Co-probed ports each member must share.
    pub common_ports: u64,
    /// How close together the copies of one probe arrive.
    pub spread_secs: u64,
    /// A target's state is dropped after this long without probes.
    pub window_secs: u64,
    /// Contact this long before the group's first probe counts as "earlier".
    pub history_gap_secs: u64,
    /// TTLs this close count as equal when comparing probes with earlier traffic (0: one hop
    /// of difference is exactly what unmasks a copy).
    pub ttl_slack: u8,
    /// Targets watched at once.
    pub max_targets: usize,
    /// Open rounds (ports) kept per target.
    pub max_rounds: usize,
    /// Sources kept per round and members per target.
    pub max_sources: usize,
}

impl Default for DecoyConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            sources: 3,
            common_ports: 5,
            spread_secs: 5,
            window_secs: 60,
            history_gap_secs: 5,
            ttl_slack: 0,
            max_targets: 64,
            max_rounds: 1024,
            max_sources: 64,
        }
    }
}

/// The copies of one probe: who sent them and with which TTL.
struct Round {
    first_ns: u64,
    senders: Vec<(IpAddr, u8)>,
}

/// A source that took part in co-probed rounds.
#[derive(Default)]
struct Member {
    first_ns: u64,
    rounds: u64,
    ttls: Ttls,
}

/// One target host.
struct Target {
    rounds: Lru<(u8, u16), Round>,
    members: Lru<IpAddr, Member>,
    /// Ports that were co-probed.
    ports: PortSet,
    /// Probes by group members, and how many of them were reported.
    contacts: u64,
    reported: u64,
    found_ns: Option<u64>,
}

impl Target {
    /// Adds `c` to its port's round. When the round becomes co-probed everyone in it gains a
    /// round; a later newcomer gains one for itself.
    fn join(&mut self, c: &Contact, need: usize, max_sources: usize, spread: u64) {
        self.rounds.expire(c.ts_ns.saturating_sub(spread));
        let round = self
            .rounds
            .touch(&(c.protocol, c.dst_port), c.ts_ns, || Round {
                first_ns: c.ts_ns,
                senders: Vec::new(),
            });
        if c.ts_ns.saturating_sub(round.first_ns) > spread {
            *round = Round {
                first_ns: c.ts_ns,
                senders: Vec::new(),
            };
        }
        let fresh = !round.senders.iter().any(|(a, _)| *a == c.src);
        if fresh && round.senders.len() < max_sources {
            round.senders.push((c.src, c.ttl));
        }
        let joined: Vec<(IpAddr, u8)> = if !fresh || round.senders.len() < need {
            Vec::new()
        } else if round.senders.len() == need {
            round.senders.clone()
        } else {
            vec![(c.src, c.ttl)]
        };
        if !joined.is_empty() {
            self.ports.insert(c.dst_port);
        }
        for (addr, ttl) in joined {
            let member = self.members.touch(&addr, c.ts_ns, || Member {
                first_ns: c.ts_ns,
                ..Member::default()
            });
            member.rounds += 1;
            member.ttls.add(ttl);
        }
    }
}

pub(crate) struct Decoy {
    targets: Lru<IpAddr, Target>,
}

/// What one member looks like to the rules.
struct Profile {
    addr: IpAddr,
    rounds: u64,
    ttl_min: u8,
    ttl_max: u8,
    earlier: Option<Seen>,
}

impl Decoy {
    pub(crate) fn new(config: &DecoyConfig, cap: usize) -> Self {
        Self {
            targets: Lru::new(config.max_targets.clamp(1, cap.max(1))),
        }
    }

    /// Whether `src` is a member of a decoy group against `dst`.
    fn is_member(&self, src: IpAddr, dst: IpAddr) -> bool {
        self.targets
            .get(&dst)
            .filter(|t| t.found_ns.is_some())
            .and_then(|t| t.members.get(&src))
            .is_some()
    }

    /// How many sources probed `c`'s destination port in its current round.
    fn co_probed(&self, c: &Contact) -> usize {
        self.targets
            .get(&c.dst)
            .and_then(|t| t.rounds.get(&(c.protocol, c.dst_port)))
            .map_or(0, |r| r.senders.len())
    }

    /// Adds `v`'s probe to its port's round and reports the group once there is one.
    fn round(&mut self, v: &View<'_>, ctx: &Ctx<'_>, o: &mut Out<'_>) {
        let c = v.c;
        let cfg = &ctx.config.decoy_scan;
        let need = cfg.sources.max(2);
        let spread = secs(cfg.spread_secs);
        let max_sources = cfg.max_sources.max(need);
        let target = self.targets.touch(&c.dst, c.ts_ns, || Target {
            rounds: Lru::new(cfg.max_rounds),
            members: Lru::new(max_sources),
            ports: PortSet::default(),
            contacts: 0,
            reported: 0,
            found_ns: None,
        });
        target.join(c, need, max_sources, spread);
        // Picked in any order and sorted only once it is a group: a flood of forged sources
        // fills the members without any of them qualifying.
        let mut group: Vec<(IpAddr, u64, Ttls)> = target
            .members
            .iter_any_order()
            .filter(|(_, m)| m.rounds >= cfg.common_ports.max(1))
            .map(|(a, m)| (*a, m.first_ns, m.ttls.clone()))
            .collect();
        let is_member = group.iter().any(|(a, _, _)| *a == c.src);
        if group.len() < need || !is_member {
            return;
        }
        group.sort_unstable_by_key(|(a, _, _)| *a);
        // The group's probes are its members' co-probed rounds, counted whenever a member joined:
        // a source that qualifies late brings its earlier probes with it.
        let probes: u64 = group
            .iter()
            .filter_map(|(a, _, _)| target.members.get(a).map(|m| m.rounds))
            .sum();
        target.contacts = target.contacts.max(probes.max(1));
        if target.found_ns.is_none() {
            target.found_ns = Some(c.ts_ns);
        }
        let add = target.contacts.saturating_sub(target.reported);
        target.reported = target.contacts;
        let group_first = group.iter().map(|(_, f, _)| *f).min().unwrap_or(c.ts_ns);
        let profiles = profiles(
            &group,
            &target.members,
            ctx.seen,
            secs(cfg.history_gap_secs),
        );
        let verdict = judge(&profiles, cfg.ttl_slack);
        let runs = ctx.config.limits.max_port_runs;
        let sources: Vec<DecoyMember> = profiles
            .iter()
            .take(ctx.config.limits.max_list.max(need))
            .map(Profile::member)
            .collect();
        let real = verdict.real.map(|a| a.to_string());
        let (explanation, faq) = explain(
            v,
            ctx.knowledge,
            &profiles,
            &verdict,
            target.ports.len(),
            spread,
            group_first,
        );
        o.push(super::Draft {
            subject: v.dst.clone(),
            src: Some(real.clone().unwrap_or_else(|| "many".to_owned())),
            port: None,
            add,
            first_seen_ns: group_first,
            evidence: Some(Evidence::Decoy(evidence::Decoy {
                ports: target.ports.render(runs),
                common_ports: target.ports.len(),
                sources,
                sources_total: profiles.len(),
                real_source: real,
                confidence: verdict.confidence,
                reasons: verdict.reasons,
                faq,
            })),
            explanation,
            ..base(KIND, Level::Suspicious, v)
        });
    }
}

impl Detector for Decoy {
    fn expire(&mut self, now: u64, _case_ns: u64, config: &Config) {
        let window = secs(
            config
                .decoy_scan
                .window_secs
                .max(config.decoy_scan.spread_secs),
        );
        self.targets.expire(now.saturating_sub(window));
    }

    fn observe(&mut self, v: &View<'_>, ctx: &Ctx<'_>, claims: &mut Claims, o: &mut Out<'_>) {
        let c = v.c;
        let cfg = &ctx.config.decoy_scan;
        if cfg.enabled && v.probe && c.proto.has_ports() && !claims.not_scan {
            self.round(v, ctx, o);
        }
        // Whether or not this contact counted, later detectors learn where its source and port
        // stand: a member's probes and a co-probed port belong to the decoy scan.
        claims.decoy_member = self.is_member(c.src, c.dst);
        claims.co_probers = self.co_probed(c);
    }
}

/// How each group member looks to the rules. `group` holds (address, first co-probe, TTLs).
fn profiles(
    group: &[(IpAddr, u64, Ttls)],
    members: &Lru<IpAddr, Member>,
    seen: &Lru<IpAddr, Seen>,
    gap_ns: u64,
) -> Vec<Profile> {
    let group_first = group.iter().map(|(_, f, _)| *f).min().unwrap_or(0);
    group
        .iter()
        .map(|(addr, _, ttls)| Profile {
            addr: *addr,
            rounds: members.get(addr).map_or(0, |m| m.rounds),
            ttl_min: ttls.min,
            ttl_max: ttls.max,
            earlier: seen
                .get(addr)
                .filter(|s| s.first_ns.saturating_add(gap_ns) < group_first)
                .copied(),
        })
        .collect()
}

impl Profile {
    /// Its earlier traffic arrived with a TTL within its probes' range (give or take `slack`).
    fn earlier_ttl_matches(&self, slack: u8) -> bool {
        self.earlier.is_some_and(|s| {
            s.first_ttl.saturating_add(slack) >= self.ttl_min
                && s.first_ttl <= self.ttl_max.saturating_add(slack)
        })
    }

    /// Its probes keep a steady TTL (so they can be compared) that its earlier traffic did
    /// not have.
    fn contradicts_earlier(&self, slack: u8) -> bool {
        self.earlier.is_some()
            && self.ttl_max.saturating_sub(self.ttl_min) <= STEADY_TTL_SPREAD
            && !self.earlier_ttl_matches(slack)
    }

    fn member(&self) -> DecoyMember {
        DecoyMember {
            addr: self.addr.to_string(),
            ttl_min: self.ttl_min,
            ttl_max: self.ttl_max,
            probes: self.rounds,
            earlier_contact: self.earlier.is_some(),
            earlier_ttl: self.earlier.map(|s| s.first_ttl),
        }
    }
}

/// Which member is real, and why.
struct Verdict {
    real: Option<IpAddr>,
    reasons: Vec<&'static str>,
    confidence: Option<&'static str>,
}

fn judge(members: &[Profile], slack: u8) -> Verdict {
    let mut votes: Vec<(IpAddr, Vec<&'static str>)> =
        members.iter().map(|m| (m.addr, Vec::new())).collect();
    let mut vote = |addr: IpAddr, why: &'static str| {
        if let Some((_, v)) = votes.iter_mut().find(|(a, _)| *a == addr) {
            v.push(why);
        }
    };
    // 1. The probes' TTL agrees with the source's earlier traffic.
    let matching: Vec<IpAddr> = members
        .iter()
        .filter(|m| m.earlier_ttl_matches(slack))
        .map(|m| m.addr)
        .collect();
    if let [one] = matching.as_slice() {
        vote(*one, "ttl_matches_earlier");
    }
    // 2. Seen before the scan — unless its steady probe TTL contradicts its earlier traffic,
    // which is what a forged copy of a real, known address looks like.
    let earlier: Vec<IpAddr> = members
        .iter()
        .filter(|m| m.earlier.is_some() && !m.contradicts_earlier(slack))
        .map(|m| m.addr)
        .collect();
    if let [one] = earlier.as_slice() {
        vote(*one, "earlier_contact");
    }
    // 3. A TTL range clear of the one all the others share.
    if members.len() >= 3 {
        let apart: Vec<IpAddr> = members
            .iter()
            .filter(|m| {
                let others = members.iter().filter(|o| o.addr != m.addr);
                let lo = others.clone().map(|o| o.ttl_min).max().unwrap_or(0);
                let hi = others.clone().map(|o| o.ttl_max).min().unwrap_or(u8::MAX);
                let all_lo = others.clone().map(|o| o.ttl_min).min().unwrap_or(0);
                let all_hi = others.map(|o| o.ttl_max).max().unwrap_or(u8::MAX);
                // No slack here: one hop of difference is exactly what gives a path away.
                let others_agree = lo <= hi;
                let clear = m.ttl_max < all_lo || m.ttl_min > all_hi;
                others_agree && clear
            })
            .map(|m| m.addr)
            .collect();
        if let [one] = apart.as_slice() {
            vote(*one, "ttl_stands_apart");
        }
    }
    let best = votes.iter().map(|(_, v)| v.len()).max().unwrap_or(0);
    let leaders: Vec<&(IpAddr, Vec<&'static str>)> =
        votes.iter().filter(|(_, v)| v.len() == best).collect();
    match leaders.as_slice() {
        [(addr, reasons)] if best > 0 => Verdict {
            real: Some(*addr),
            reasons: reasons.clone(),
            confidence: Some(if best >= 2 { "high" } else { "medium" }),
        },
        _ => Verdict {
            real: None,
            reasons: Vec::new(),
            confidence: None,
        },
    }
}

fn ttl_words(lo: u8, hi: u8) -> String {
    if lo == hi {
        format!("TTL {lo}")
    } else {
        format!("TTLs {lo}-{hi}")
    }
}

/// The explanation, and the FAQ section of the topic its opening comes from.
fn explain(
    v: &View<'_>,
    knowledge: &Knowledge,
    members: &[Profile],
    verdict: &Verdict,
    ports: u32,
    spread_ns: u64,
    group_first: u64,
) -> (String, Faq) {
    let n = members.len();
    let (mut s, faq) = STORY.tell(
        knowledge,
        &[&n.to_string(), &ports.to_string(), &v.dst, &span(spread_ns)],
    );
    let band_lo = members.iter().map(|m| m.ttl_min).min().unwrap_or(0);
    let band_hi = members.iter().map(|m| m.ttl_max).max().unwrap_or(0);
    if let Some(real) = verdict.real {
        let Some(me) = members.iter().find(|m| m.addr == real) else {
            return (s, faq);
        };
        let others: Vec<&Profile> = members.iter().filter(|m| m.addr != real).collect();
        let o_lo = others.iter().map(|m| m.ttl_min).min().unwrap_or(0);
        let o_hi = others.iter().map(|m| m.ttl_max).max().unwrap_or(0);
        let why: Vec<String> = verdict
            .reasons
            .iter()
            .map(|r| match *r {
                "earlier_contact" => format!(
                    "it was in touch {ago} before the scan began and none of the others were; \
                     the real attacker usually shows up earlier in the logs",
                    ago = me.earlier.map_or_else(String::new, |e| span(
                        group_first.saturating_sub(e.first_ns)
                    ))
                ),
                "ttl_matches_earlier" => format!(
                    "its probes arrive with {} like its earlier, ordinary traffic ({}), while \
                     the others' probes do not match theirs",
                    ttl_words(me.ttl_min, me.ttl_max),
                    me.earlier.map_or(0, |e| e.first_ttl)
                ),
                _ => format!(
                    "its probes arrive with {} while all the others share {}: forged copies \
                     leave one machine and travel one path, and its packets travelled another",
                    ttl_words(me.ttl_min, me.ttl_max),
                    ttl_words(o_lo, o_hi)
                ),
            })
            .collect();
        let _ = write!(
            s,
            " The real scanner is most likely {real} ({conf} confidence): {why}. The other {k} \
             addresses are probably decoys that did nothing to you; do not complain to their \
             owners. Treat it as a port scan from {real}: check which of the probed ports are \
             open, and block it.",
            conf = verdict.confidence.unwrap_or("medium"),
            why = why.join("; and "),
            k = n.saturating_sub(1),
        );
    } else {
        let varied = members
            .iter()
            .any(|m| m.ttl_max.saturating_sub(m.ttl_min) > 4);
        let _ = write!(
            s,
            " The probe cannot tell which address is real: all of them arrive with TTLs in \
             the same band ({}){}, and none was in touch before the scan. Look further back in \
             your logs for one of these addresses: the one that contacted you before is the \
             scanner. Meanwhile treat it as a port scan and check which probed ports are open.",
            if band_lo == band_hi {
                band_lo.to_string()
            } else {
                format!("{band_lo}-{band_hi}")
            },
            if varied {
                ", changing from packet to packet as nmap does on purpose to defeat TTL \
                 comparison"
            } else {
                ", as if one machine sent them all"
            },
        );
    }
    (s, faq)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{
        contact::Contact,
        detect::{meaning::PORT_MEANING, scan::VERTICAL, testkit::*},
        findings::Status,
    };

    const TARGET: &str = "198.18.0.1";

    /// Each port probed once from every source, in the same order, 1 ms apart; `ttl_of` says
    /// each copy's TTL.
    fn decoy_scan(
        sources: &[&str],
        ports: impl Iterator<Item = u16>,
        start_ms: u64,
        ttl_of: impl Fn(usize, u16) -> u8,
    ) -> Vec<Contact> {
        let mut out = Vec::new();
        let mut ms = start_ms;
        for port in ports {
            for (i, s) in sources.iter().enumerate() {
                out.push(at(ttl(syn(s, TARGET, port), ttl_of(i, port)), ms));
                ms += 1;
            }
        }
        out
    }

    const SOURCES: [&str; 4] = ["198.18.5.1", "198.18.5.2", "198.18.0.66", "198.18.5.3"];

    #[test]
    fn decoys_from_another_hop_count_give_the_real_source_away() {
        // The decoys arrive with TTL 64; the real scanner, one router further, with 63.
        let contacts = decoy_scan(&SOURCES, 1000..1100, 0, |i, _| if i == 2 { 63 } else { 64 });
        let lines = run(&mut engine(), &contacts);
        let f = last_of(&lines, KIND);
        assert_eq!(
            (f.level, f.src.as_deref(), f.dst.as_deref(), f.port, f.count),
            (
                Level::Suspicious,
                Some("198.18.0.66"),
                Some(TARGET),
                None,
                400
            )
        );
        assert_eq!(f.evidence["real_source"], json!("198.18.0.66"));
        assert_eq!(f.evidence["reasons"], json!(["ttl_stands_apart"]));
        assert_eq!(f.evidence["confidence"], json!("medium"));
        assert_eq!(f.evidence["common_ports"], json!(100));
        assert_eq!(f.evidence["ports"], json!("1000-1099"));
        assert_eq!(f.evidence["sources_total"], json!(4));
        assert_eq!(
            f.evidence["sources"][0],
            json!({"addr": "198.18.0.66", "ttl_min": 63, "ttl_max": 63, "probes": 100,
                   "earlier_contact": false, "earlier_ttl": null})
        );
        // Exactly one decoy_scan, and its members are not each reported as vertical scans.
        assert_eq!(
            of(&lines, KIND)
                .iter()
                .filter(|f| f.status == Status::New)
                .count(),
            1
        );
        assert!(
            of(&lines, VERTICAL).is_empty(),
            "{:#?}",
            of(&lines, VERTICAL)
        );
        // When the group forms, three sources have co-probed five ports each; the fourth is one
        // port short, and its probes join the count when it qualifies.
        let first = of(&lines, KIND)[0];
        assert_eq!((first.status, first.count), (Status::New, 15));
    }

    #[test]
    fn nmap_style_decoys_are_named_by_the_scanners_earlier_contact() {
        // Random TTLs per packet for everyone (nmap); the scanner pinged a minute before.
        let mut contacts = vec![ttl(icmp("198.18.0.66", TARGET, 8, 0), 63)];
        contacts.extend(decoy_scan(&SOURCES, 1..=50, 60_000, |i, p| {
            36 + ((usize::from(p) * 7 + i * 13) % 23) as u8
        }));
        let lines = run(&mut engine(), &contacts);
        let f = last_of(&lines, KIND);
        assert_eq!(f.src.as_deref(), Some("198.18.0.66"));
        assert_eq!(f.evidence["reasons"], json!(["earlier_contact"]));
        assert_eq!(f.evidence["sources"][0]["earlier_ttl"], json!(63));
        assert_eq!(f.evidence["sources"][1]["earlier_contact"], json!(false));
        assert!(f.explanation.contains("198.18.0.66 (medium confidence)"));
    }

    #[test]
    fn history_and_ttl_together_give_high_confidence() {
        // The scanner talked before with TTL 63, and its probes keep TTL 63; the decoys' 64.
        let mut contacts = vec![ttl(syn("198.18.0.66", TARGET, 22), 63)];
        contacts.extend(decoy_scan(&SOURCES, 1000..1010, 30_000, |i, _| {
            if i == 2 { 63 } else { 64 }
        }));
        let f = last_of(&run(&mut engine(), &contacts), KIND).clone();
        assert_eq!(f.src.as_deref(), Some("198.18.0.66"));
        assert_eq!(
            f.evidence["reasons"],
            json!(["ttl_matches_earlier", "earlier_contact", "ttl_stands_apart"])
        );
        assert_eq!(f.evidence["confidence"], json!("high"));
    }

    #[test]
    fn a_decoy_borrowing_a_known_address_is_not_taken_for_the_scanner() {
        // 198.18.5.1 really talked before (TTL 64, next door); the scan, copies included,
        // comes from one machine a hop away (TTL 63). History alone would accuse 198.18.5.1;
        // its TTL clears it, and nobody is named.
        let mut contacts = vec![ttl(syn("198.18.5.1", TARGET, 25), 64)];
        contacts.extend(decoy_scan(&SOURCES, 1000..1010, 30_000, |_, _| 63));
        let f = last_of(&run(&mut engine(), &contacts), KIND).clone();
        assert_eq!(f.src.as_deref(), Some("many"));
        assert_eq!(f.evidence["real_source"], json!(null));
        assert_eq!(f.evidence["sources"][1]["earlier_ttl"], json!(64));
        assert!(f.explanation.contains("as if one machine sent them all"));
    }

    #[test]
    fn without_a_clue_the_real_source_stays_unnamed() {
        let contacts = decoy_scan(&SOURCES, 1000..1050, 0, |i, p| {
            36 + ((usize::from(p) * 7 + i * 13) % 23) as u8
        });
        let lines = run(&mut engine(), &contacts);
        let f = last_of(&lines, KIND);
        assert_eq!((f.src.as_deref(), f.count), (Some("many"), 200));
        assert_eq!(f.evidence["real_source"], json!(null));
        assert!(f.explanation.contains("cannot tell which address is real"));
        assert!(f.explanation.contains("packet to packet"));
    }

    #[test]
    fn near_misses_are_not_decoy_scans() {
        // Two sources only; four common ports only; copies too far apart.
        let two = decoy_scan(&SOURCES[..2], 1000..1100, 0, |_, _| 64);
        assert!(of(&run(&mut engine(), &two), KIND).is_empty());
        let four = decoy_scan(&SOURCES, 1000..1004, 0, |_, _| 64);
        assert!(of(&run(&mut engine(), &four), KIND).is_empty());
        let mut slow = Vec::new();
        for (k, port) in (1000u16..1010).enumerate() {
            for (i, s) in SOURCES.iter().enumerate() {
                slow.push(at(syn(s, TARGET, port), (k * 4 + i) as u64 * 6000));
            }
        }
        assert!(of(&run(&mut engine(), &slow), KIND).is_empty());
    }

    #[test]
    fn many_clients_of_one_web_server_are_not_decoys() {
        let contacts: Vec<_> = (0..40u8)
            .flat_map(|i| {
                let s = format!("198.18.3.{i}");
                [
                    at(syn(&s, TARGET, 80), u64::from(i) * 10),
                    at(syn(&s, TARGET, 443), u64::from(i) * 10 + 1),
                ]
            })
            .collect();
        let lines = run(&mut engine(), &contacts);
        assert!(of(&lines, KIND).is_empty());
        assert!(of(&lines, PORT_MEANING).is_empty());
    }
}
