//! Attacks that make other machines do the work: `smurf` (pings to a broadcast address with
//! the victim's address forged, or the flood of echo replies the victim then gets), `fraggle`
//! (the same with UDP echo and chargen) and `echo_chargen_loop` (UDP between ports 7 and 19).
//!
//! FAQ 1.1 (ports 7 and 19) and the section 5 signatures, whose text is lost; the topics in
//! the knowledge data carry the background.

use std::{net::IpAddr, sync::Arc};

use serde::{Deserialize, Serialize};

use super::{
    Acc, Claims, Config, Ctx, Detector, Out, View, addr_list, base, secs,
    table::{Capped, Lru},
};
use crate::{
    contact::{Contact, Proto},
    findings::{Evidence, Kind, Later, evidence},
    knowledge::Level,
    volume::Volume,
};

pub(crate) const SMURF: Kind = Kind::Smurf;
pub(crate) const FRAGGLE: Kind = Kind::Fraggle;
pub(crate) const LOOP: Kind = Kind::EchoChargenLoop;

const ECHO: u16 = 7;
const CHARGEN: u16 = 19;

/// `smurf`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmurfConfig {
    pub enabled: bool,
    /// Distinct hosts sending echo replies to one address within the window that make it a
    /// victim. High, because a host that pings many machines gets as many replies.
    pub reply_sources: usize,
    pub window_secs: u64,
    /// Or, by volume: this many echo replies within the window (counted from the per-source
    /// volume, not first contacts: each amplifier is one contact however much it sends) ...
    pub volume_replies: u64,
    /// ... from at least this many different hosts.
    pub volume_sources: usize,
}

impl Default for SmurfConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            reply_sources: 50,
            window_secs: 10,
            volume_replies: 1_000,
            volume_sources: 12,
        }
    }
}

/// `fraggle`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FraggleConfig {
    pub enabled: bool,
    /// Distinct hosts sending UDP from port 7 or 19 to one address within the window that make
    /// it a victim.
    pub reply_sources: usize,
    pub window_secs: u64,
}

impl Default for FraggleConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            reply_sources: 10,
            window_secs: 10,
        }
    }
}

/// Replies flowing to one address: who sent them lately, and the finding once there are many.
struct Victims {
    recent: Lru<IpAddr, Lru<IpAddr, ()>>,
    /// Shared with the evidence the book makes later (see `Out::retire`).
    cases: Lru<IpAddr, Arc<Acc>>,
    /// Sender → the address it was last seen replying to: where its volume goes.
    replied_to: Lru<IpAddr, IpAddr>,
    /// Replies counted from the volume per address, and since when (the window's start, or the
    /// finding's).
    replies: Lru<IpAddr, (u64, u64)>,
}

/// What a draft about a victim needs: its sources, the count to add, when it began, and the
/// evidence to make later.
struct Reply {
    src: Option<String>,
    add: u64,
    first_ns: u64,
    acc: Arc<Acc>,
}

impl Victims {
    fn new(cap: usize) -> Self {
        Self {
            recent: Lru::new(cap),
            cases: Lru::new(cap),
            replied_to: Lru::new(cap),
            replies: Lru::new(cap),
        }
    }

    fn expire(&mut self, now: u64, window_ns: u64, case_ns: u64) {
        self.recent.expire(now.saturating_sub(window_ns));
        self.cases.expire(now.saturating_sub(case_ns));
        self.replied_to
            .expire(now.saturating_sub(case_ns.max(window_ns)));
        self.replies
            .expire(now.saturating_sub(case_ns.max(window_ns)));
    }

    /// Replies counted by volume to `dst` so far.
    fn replies_to(&self, dst: &IpAddr) -> u64 {
        self.replies.get(dst).map_or(0, |r| r.0)
    }

    /// Adds what each sender of `sources` replied (`replies` of each) to the address it
    /// replies to; returns the addresses that now have `threshold` replies within the window
    /// from `min_senders` senders or more, or an open case, in address order.
    fn volume(
        &mut self,
        now: u64,
        sources: &[Volume],
        replies: impl Fn(&Volume) -> u64,
        window_ns: u64,
        (threshold, min_senders): (u64, usize),
    ) -> Vec<IpAddr> {
        let mut touched: Vec<IpAddr> = Vec::new();
        for v in sources {
            let n = replies(v);
            if n == 0 {
                continue;
            }
            let Some(&dst) = self.replied_to.get(&v.src) else {
                continue;
            };
            let open = self.cases.get(&dst).is_some();
            let r = self.replies.touch(&dst, now, || (0, now));
            if !open && now.saturating_sub(r.1) > window_ns {
                *r = (0, now);
            }
            r.0 = r.0.saturating_add(n);
            if !touched.contains(&dst) {
                touched.push(dst);
            }
        }
        touched.sort();
        touched.retain(|dst| {
            let senders = self.recent.get(dst).map_or(0, Lru::len);
            self.cases.get(dst).is_some()
                || (self.replies_to(dst) >= threshold && senders >= min_senders.max(1))
        });
        touched
    }

    /// The case of `dst`, opened from its recent senders if it was not yet; counts no contact.
    fn flood(&mut self, dst: IpAddr, now: u64, list: usize) -> Reply {
        let senders: Vec<IpAddr> = self
            .recent
            .get(&dst)
            .map(|r| r.iter().map(|(a, ())| *a).collect())
            .unwrap_or_default();
        let shared = self.cases.touch(&dst, now, || {
            let mut acc = Acc::new(now, list);
            acc.contacts = senders.len() as u64;
            for s in &senders {
                acc.sources.insert(*s);
            }
            Arc::new(acc)
        });
        let acc = Arc::make_mut(shared);
        acc.last_ns = acc.last_ns.max(now);
        Reply {
            src: acc.src(),
            add: acc.take(),
            first_ns: acc.first_ns,
            acc: Arc::clone(shared),
        }
    }

    /// Whether `dst` is a victim already: then every reply to it makes a draft.
    fn is_open(&self, dst: &IpAddr) -> bool {
        self.cases.get(dst).is_some()
    }

    /// Counts a reply to `c.dst`; returns the victim's evidence once `threshold` distinct
    /// senders were seen within the window.
    fn reply(
        &mut self,
        c: &Contact,
        threshold: usize,
        window_ns: u64,
        list: usize,
    ) -> Option<Reply> {
        let threshold = threshold.max(1);
        self.replied_to.touch(&c.src, c.ts_ns, || c.dst);
        let recent = self.recent.touch(&c.dst, c.ts_ns, || Lru::new(threshold));
        recent.touch(&c.src, c.ts_ns, || ());
        recent.expire(c.ts_ns.saturating_sub(window_ns));
        let senders: Vec<IpAddr> = recent.iter().map(|(a, ())| *a).collect();
        let open = self.cases.get(&c.dst).is_some();
        if !open && senders.len() < threshold {
            return None;
        }
        let shared = self.cases.touch(&c.dst, c.ts_ns, || {
            let mut acc = Acc::new(c.ts_ns, list);
            // The replies that crossed the threshold, this one aside.
            acc.contacts = senders.len().saturating_sub(1) as u64;
            for s in &senders {
                acc.sources.insert(*s);
            }
            Arc::new(acc)
        });
        let acc = Arc::make_mut(shared);
        acc.see(c);
        Some(Reply {
            src: acc.src(),
            add: acc.take(),
            first_ns: acc.first_ns,
            acc: Arc::clone(shared),
        })
    }
}

pub(crate) struct Amplify {
    /// Shared with the evidence the book makes later (see `Out::retire`).
    smurf_amp: Lru<IpAddr, Arc<Acc>>,
    fraggle_amp: Lru<IpAddr, Arc<Acc>>,
    loops: Lru<IpAddr, Arc<Acc>>,
    smurf_victims: Victims,
    fraggle_victims: Victims,
}

impl Amplify {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            smurf_amp: Lru::new(cap),
            fraggle_amp: Lru::new(cap),
            loops: Lru::new(cap),
            smurf_victims: Victims::new(cap),
            fraggle_victims: Victims::new(cap),
        }
    }

    /// `smurf`, both sides.
    fn smurf(&mut self, v: &View<'_>, ctx: &Ctx<'_>, claims: &mut Claims, o: &mut Out<'_>) {
        let c = v.c;
        let cfg = ctx.config;
        let list = cfg.limits.max_list;
        let ipv4_icmp = c.proto == Proto::Icmp;
        // Amplifier side: a ping to a broadcast address.
        if cfg.smurf.enabled && ipv4_icmp && c.icmp_type == 8 && v.broadcast {
            claims.broadcast_explained = true;
            o.retire(SMURF, &v.src);
            let shared = self
                .smurf_amp
                .touch(&c.src, c.ts_ns, || Arc::new(Acc::new(c.ts_ns, list)));
            let acc = Arc::make_mut(shared);
            acc.see(c);
            let (dst, add, first_seen_ns) = (acc.dst(), acc.take(), acc.first_ns);
            let acc = Arc::clone(shared);
            let (to, from) = (v.dst.clone(), v.src.clone());
            o.push(super::Draft {
                dst,
                port: None,
                add,
                first_seen_ns,
                later: Some(Later::new(move || {
                    let evidence = Evidence::Amplifier(evidence::Amplifier {
                        role: "amplifier",
                        broadcasts: addr_list(&acc.hosts, list),
                        faq: "5, 2".into(),
                    });
                    let explanation = format!(
                        "A ping addressed to {to}, which looks like a subnet's broadcast \
                         address, arrived with the source {from}. This is how a smurf attack is \
                         launched: every host on the subnet answers the ping, and all the \
                         answers go to the forged source. So {from} is most likely the victim, \
                         not the sender. Make sure your routers do not forward directed \
                         broadcasts and your hosts ignore broadcast pings (Linux: \
                         net.ipv4.icmp_echo_ignore_broadcasts=1).",
                    );
                    (evidence, explanation)
                })),
                ..base(SMURF, Level::Hostile, v)
            });
        }
        // Victim side: echo replies from many hosts.
        if cfg.smurf.enabled && v.echo_reply() {
            if self.smurf_victims.is_open(&c.dst) {
                o.retire(SMURF, &format!("victim {}", v.dst));
            }
            if let Some(r) = self.smurf_victims.reply(
                c,
                cfg.smurf.reply_sources,
                secs(cfg.smurf.window_secs),
                list,
            ) {
                let acc = r.acc;
                let to = v.dst.clone();
                let (threshold, window) = (cfg.smurf.reply_sources, cfg.smurf.window_secs);
                let replies = self.smurf_victims.replies_to(&c.dst);
                o.push(super::Draft {
                    subject: format!("victim {}", v.dst),
                    src: r.src,
                    port: None,
                    add: r.add,
                    first_seen_ns: r.first_ns,
                    later: Some(Later::new(move || {
                        let evidence = victim_evidence(&acc.sources, list, window, replies, "5, 2");
                        let explanation = format!(
                            "{n} different hosts sent ping replies to {to}, at least \
                             {threshold} of them within {window} s. Unasked-for echo replies \
                             from a crowd are what the target of a smurf attack receives: \
                             someone pinged broadcast addresses with {to} as the forged source. \
                             If {to} itself just pinged a broadcast address or many hosts, these \
                             are simply its answers. A real flood has to be filtered upstream: \
                             ask your provider, and give them the sources listed.",
                            n = acc.sources.len(),
                        );
                        (evidence, explanation)
                    })),
                    ..base(SMURF, Level::Hostile, v)
                });
            }
        }
    }

    /// `fraggle`, both sides.
    fn fraggle(&mut self, v: &View<'_>, ctx: &Ctx<'_>, claims: &mut Claims, o: &mut Out<'_>) {
        let c = v.c;
        let cfg = ctx.config;
        let list = cfg.limits.max_list;
        let to_service = c.dst_port == ECHO || c.dst_port == CHARGEN;
        let from_service = c.src_port == ECHO || c.src_port == CHARGEN;
        if cfg.fraggle.enabled && to_service && v.broadcast {
            claims.broadcast_explained = true;
            claims.port_explained = true;
            o.retire(FRAGGLE, &v.src);
            let shared = self
                .fraggle_amp
                .touch(&c.src, c.ts_ns, || Arc::new(Acc::new(c.ts_ns, list)));
            let acc = Arc::make_mut(shared);
            acc.see(c);
            let (dst, add, first_seen_ns) = (acc.dst(), acc.take(), acc.first_ns);
            let acc = Arc::clone(shared);
            let (to, from) = (v.dst.clone(), v.src.clone());
            let (port, runs) = (c.dst_port, cfg.limits.max_port_runs);
            o.push(super::Draft {
                dst,
                add,
                first_seen_ns,
                later: Some(Later::new(move || {
                    let evidence = Evidence::FraggleAmplifier(evidence::FraggleAmplifier {
                        role: "amplifier",
                        broadcasts: addr_list(&acc.hosts, list),
                        ports: acc.ports.render(runs),
                        faq: "5, 1.1".into(),
                    });
                    let explanation = format!(
                        "A UDP datagram to the {service} port of {to}, which looks like a \
                         subnet's broadcast address, arrived with the source {from}. That is a \
                         fraggle attack, the UDP cousin of smurf: every host there running \
                         {service} answers, and the answers go to {from}, which is probably \
                         forged and the real victim. Turn off the echo and chargen services and \
                         stop routers from forwarding directed broadcasts.",
                        service = service(port),
                    );
                    (evidence, explanation)
                })),
                ..base(FRAGGLE, Level::Hostile, v)
            });
        }
        if cfg.fraggle.enabled && from_service && c.dst_port != ECHO && c.dst_port != CHARGEN {
            if self.fraggle_victims.is_open(&c.dst) {
                o.retire(FRAGGLE, &format!("victim {}", v.dst));
            }
            if let Some(r) = self.fraggle_victims.reply(
                c,
                cfg.fraggle.reply_sources,
                secs(cfg.fraggle.window_secs),
                list,
            ) {
                claims.port_explained = true;
                let acc = r.acc;
                let to = v.dst.clone();
                let (threshold, window) = (cfg.fraggle.reply_sources, cfg.fraggle.window_secs);
                o.push(super::Draft {
                    subject: format!("victim {}", v.dst),
                    src: r.src,
                    port: None,
                    add: r.add,
                    first_seen_ns: r.first_ns,
                    later: Some(Later::new(move || {
                        let evidence = victim_evidence(&acc.sources, list, window, 0, "5, 1.1");
                        let explanation = format!(
                            "{n} different hosts sent UDP from their echo or chargen ports to \
                             {to}, at least {threshold} of them within {window} s. Those \
                             services only speak when spoken to, so someone sent them datagrams \
                             in {to}'s name, most likely to broadcast addresses: this is the \
                             receiving end of a fraggle attack. Filter UDP from ports 7 and 19 at \
                             your border and ask your provider to help with the sources.",
                            n = acc.sources.len(),
                        );
                        (evidence, explanation)
                    })),
                    ..base(FRAGGLE, Level::Hostile, v)
                });
            }
        }
    }

    /// `echo_chargen_loop`.
    fn echo_loop(&mut self, v: &View<'_>, ctx: &Ctx<'_>, claims: &mut Claims, o: &mut Out<'_>) {
        let c = v.c;
        let cfg = ctx.config;
        let list = cfg.limits.max_list;
        let to_service = c.dst_port == ECHO || c.dst_port == CHARGEN;
        let from_service = c.src_port == ECHO || c.src_port == CHARGEN;
        if cfg.echo_chargen_loop.enabled && to_service && from_service {
            claims.port_explained = true;
            o.retire(LOOP, &v.src);
            let shared = self
                .loops
                .touch(&c.src, c.ts_ns, || Arc::new(Acc::new(c.ts_ns, list)));
            let acc = Arc::make_mut(shared);
            acc.see(c);
            let (dst, add, first_seen_ns) = (acc.dst(), acc.take(), acc.first_ns);
            let acc = Arc::clone(shared);
            let (to, from) = (v.dst.clone(), v.src.clone());
            let (src_port, dst_port) = (c.src_port, c.dst_port);
            o.push(super::Draft {
                dst,
                add,
                first_seen_ns,
                later: Some(Later::new(move || {
                    let evidence = Evidence::EchoLoop(evidence::EchoLoop {
                        src_port,
                        dst_port,
                        hosts: addr_list(&acc.hosts, list),
                        faq: "1.1".into(),
                    });
                    let explanation = format!(
                        "A UDP datagram went from the {from_service} port of {from} to the \
                         {to_service} port of {to}. Echo sends back whatever arrives and chargen \
                         answers anything with a burst of characters, so a datagram between two \
                         of them starts a loop: each answers the other until a packet is lost, \
                         burning both hosts' bandwidth. No client sends from these ports, so the \
                         source was forged to turn {to} and {from} against each other. Turn off \
                         echo and chargen (inetd's small services) and drop ports 7 and 19 at \
                         the border.",
                        from_service = service(src_port),
                        to_service = service(dst_port),
                    );
                    (evidence, explanation)
                })),
                ..base(LOOP, Level::Hostile, v)
            });
        }
    }
}

impl Detector for Amplify {
    fn expire(&mut self, now: u64, case_ns: u64, config: &Config) {
        let before = now.saturating_sub(case_ns);
        self.smurf_amp.expire(before);
        self.fraggle_amp.expire(before);
        self.loops.expire(before);
        self.smurf_victims
            .expire(now, secs(config.smurf.window_secs), case_ns);
        self.fraggle_victims
            .expire(now, secs(config.fraggle.window_secs), case_ns);
    }

    fn observe(&mut self, v: &View<'_>, ctx: &Ctx<'_>, claims: &mut Claims, o: &mut Out<'_>) {
        self.smurf(v, ctx, claims, o);
        if v.c.proto == Proto::Udp {
            self.fraggle(v, ctx, claims, o);
            self.echo_loop(v, ctx, claims, o);
        }
    }

    /// `smurf` at the victim by volume: hundreds of echo replies a second from a dozen hosts
    /// are a smurf however few first contacts they make (one per amplifier).
    fn volume(&mut self, now: u64, sources: &[Volume], ctx: &Ctx<'_>, o: &mut Out<'_>) {
        let cfg = &ctx.config.smurf;
        if !cfg.enabled {
            return;
        }
        let list = ctx.config.limits.max_list;
        let window = cfg.window_secs;
        let victims = self.smurf_victims.volume(
            now,
            sources,
            |v| v.echo_replies,
            secs(window),
            (cfg.volume_replies, cfg.volume_sources),
        );
        for dst in victims {
            let to = super::ip_text(dst);
            let subject = format!("victim {to}");
            if self.smurf_victims.is_open(&dst) {
                o.retire(SMURF, &subject);
            }
            let replies = self.smurf_victims.replies_to(&dst);
            let r = self.smurf_victims.flood(dst, now, list);
            let acc = r.acc;
            let what = to.clone();
            o.push(super::Draft {
                kind: SMURF,
                subject,
                level: Level::Hostile,
                src: r.src,
                dst: Some(to),
                proto: Some(if dst.is_ipv4() {
                    Proto::Icmp
                } else {
                    Proto::Icmpv6
                }),
                port: None,
                tool: None,
                add: r.add,
                first_seen_ns: r.first_ns,
                last_seen_ns: now,
                evidence: None,
                explanation: String::new(),
                later: Some(Later::new(move || {
                    let evidence = victim_evidence(&acc.sources, list, window, replies, "5, 2");
                    let explanation = format!(
                        "{n} different hosts sent {replies} ping replies to {what} within \
                         {window} s, far more than anything {what} asked. A flood of echo \
                         replies from a crowd is what the target of a smurf attack receives: \
                         someone pinged broadcast addresses (or many hosts) with {what} as the \
                         forged source. Each amplifier is one first contact however much it \
                         sends; the count is the volume. Filter it upstream: ask your provider, \
                         and give them the sources listed.",
                        n = acc.sources.len(),
                    );
                    (evidence, explanation)
                })),
            });
        }
    }
}

fn service(port: u16) -> &'static str {
    if port == ECHO {
        "echo (7)"
    } else {
        "chargen (19)"
    }
}

/// The evidence of a smurf or fraggle victim: who sent the unasked-for answers, and in what
/// window.
fn victim_evidence(
    sources: &Capped<IpAddr>,
    list: usize,
    window: u64,
    replies: u64,
    faq: &'static str,
) -> Evidence {
    Evidence::Victim(evidence::Victim {
        role: "victim",
        sources: addr_list(sources, list),
        sources_total: sources.len(),
        window_secs: window,
        replies,
        faq: faq.into(),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{
        contact::Contact,
        detect::{address::BROADCAST, testkit::*},
        findings::Status,
    };

    /// Echo replies from amplifiers 198.18.9.1..=`n` to 198.18.0.1, one first contact each.
    fn amplifier_replies(n: u8) -> Vec<Contact> {
        (1..=n)
            .map(|a| {
                at(
                    icmp(&format!("198.18.9.{a}"), "198.18.0.1", 0, 0),
                    u64::from(a),
                )
            })
            .collect()
    }

    fn echo_volume(n: u8, each: u64) -> Vec<Volume> {
        (1..=n)
            .map(|a| Volume {
                src: ip(&format!("198.18.9.{a}")),
                packets: each,
                bytes: each * 98,
                syns: 0,
                echo_replies: each,
                reflected: 0,
            })
            .collect()
    }

    #[test]
    fn a_flood_of_echo_replies_from_a_dozen_amplifiers_is_a_smurf_by_volume() {
        let mut e = engine();
        // Twelve amplifiers: far below the 50 first contacts that alone make a victim.
        let mut lines = run(&mut e, &amplifier_replies(12));
        assert!(of(&lines, SMURF).is_empty(), "{lines:#?}");
        // A hundred replies each within the second: 1,200, a smurf by volume.
        lines.extend(e.volume(T0 + SEC, &echo_volume(12, 100)));
        let f = last_of(&lines, SMURF);
        assert_eq!(
            (f.level, f.src.as_deref(), f.dst.as_deref(), f.count),
            (Level::Hostile, Some("many"), Some("198.18.0.1"), 12)
        );
        assert_eq!(f.evidence["role"], json!("victim"));
        assert_eq!(f.evidence["replies"], json!(1_200));
        assert_eq!(f.evidence["sources_total"], json!(12));
        assert!(
            f.explanation.contains("1200 ping replies"),
            "{}",
            f.explanation
        );
    }

    #[test]
    fn few_replies_or_few_amplifiers_are_no_smurf() {
        // Many replies from five hosts (a host pinging five others hard), or twelve hosts
        // answering a few pings each.
        let mut e = engine();
        let mut lines = run(&mut e, &amplifier_replies(5));
        lines.extend(e.volume(T0 + SEC, &echo_volume(5, 400)));
        let mut f = engine();
        lines.extend(run(&mut f, &amplifier_replies(12)));
        lines.extend(f.volume(T0 + SEC, &echo_volume(12, 5)));
        assert!(of(&lines, SMURF).is_empty(), "{lines:#?}");
    }

    #[test]
    fn a_ping_to_a_broadcast_address_is_a_smurf_launch() {
        let lines = run(&mut engine(), &[icmp("198.18.0.77", "198.18.1.255", 8, 0)]);
        let f = last_of(&lines, SMURF);
        assert_eq!(
            (f.level, f.src.as_deref(), f.dst.as_deref(), f.count),
            (Level::Hostile, Some("198.18.0.77"), Some("198.18.1.255"), 1)
        );
        assert_eq!(f.evidence["role"], json!("amplifier"));
        assert!(
            of(&lines, BROADCAST).is_empty(),
            "smurf explains the broadcast"
        );
        let lines = run(&mut engine(), &[icmp("198.18.0.77", "198.18.1.254", 8, 0)]);
        assert!(of(&lines, SMURF).is_empty());
    }

    fn replies(n: u8, dst: &str) -> Vec<Contact> {
        (0..n)
            .map(|i| at(icmp(&format!("198.18.2.{i}"), dst, 0, 0), u64::from(i) * 10))
            .collect()
    }

    #[test]
    fn echo_replies_from_many_hosts_make_a_smurf_victim() {
        let lines = run(&mut engine(), &replies(60, "198.18.0.1"));
        let f = last_of(&lines, SMURF);
        assert_eq!(
            (f.level, f.src.as_deref(), f.dst.as_deref(), f.count),
            (Level::Hostile, Some("many"), Some("198.18.0.1"), 60)
        );
        assert_eq!(f.evidence["sources_total"], json!(60));
        assert_eq!(f.evidence["role"], json!("victim"));
        let first = of(&lines, SMURF)[0];
        assert_eq!((first.status, first.count), (Status::New, 50));
    }

    #[test]
    fn replies_to_a_few_pings_are_not_a_smurf() {
        assert!(of(&run(&mut engine(), &replies(49, "198.18.0.1")), SMURF).is_empty());
        // Sixty replies spread over more than the window are not either.
        let slow: Vec<_> = (0..60u8)
            .map(|i| {
                at(
                    icmp(&format!("198.18.2.{i}"), "198.18.0.1", 0, 0),
                    u64::from(i) * 500,
                )
            })
            .collect();
        assert!(of(&run(&mut engine(), &slow), SMURF).is_empty());
    }

    #[test]
    fn udp_echo_or_chargen_to_a_broadcast_address_is_fraggle() {
        let lines = run(
            &mut engine(),
            &[udp("198.18.0.77", 40_000, "198.18.1.255", 7)],
        );
        let f = last_of(&lines, FRAGGLE);
        assert_eq!(
            (f.level, f.src.as_deref(), f.dst.as_deref(), f.port, f.count),
            (
                Level::Hostile,
                Some("198.18.0.77"),
                Some("198.18.1.255"),
                Some(7),
                1
            )
        );
        assert_eq!(opened(&lines), vec![FRAGGLE]);
        let lines = run(
            &mut engine(),
            &[udp("198.18.0.77", 40_000, "198.18.1.0", 19)],
        );
        assert_eq!(last_of(&lines, FRAGGLE).port, Some(19));
        let lines = run(
            &mut engine(),
            &[udp("198.18.0.77", 40_000, "198.18.1.9", 7)],
        );
        assert!(of(&lines, FRAGGLE).is_empty());
    }

    #[test]
    fn udp_from_echo_ports_of_many_hosts_makes_a_fraggle_victim() {
        let contacts: Vec<_> = (0..10u8)
            .map(|i| {
                at(
                    udp(&format!("198.18.2.{i}"), 19, "198.18.0.1", 40_000),
                    u64::from(i),
                )
            })
            .collect();
        let lines = run(&mut engine(), &contacts);
        let f = last_of(&lines, FRAGGLE);
        assert_eq!(
            (f.src.as_deref(), f.dst.as_deref(), f.count),
            (Some("many"), Some("198.18.0.1"), 10)
        );
        assert_eq!(f.evidence["role"], json!("victim"));
        assert!(of(&run(&mut engine(), &contacts[..9]), FRAGGLE).is_empty());
    }

    #[test]
    fn udp_between_echo_and_chargen_is_a_loop() {
        let lines = run(&mut engine(), &[udp("198.18.0.9", 19, "198.18.0.1", 7)]);
        let f = last_of(&lines, LOOP);
        assert_eq!(
            (f.level, f.src.as_deref(), f.port, f.count),
            (Level::Hostile, Some("198.18.0.9"), Some(7), 1)
        );
        assert_eq!(
            (
                f.evidence["src_port"].clone(),
                f.evidence["dst_port"].clone()
            ),
            (json!(19), json!(7))
        );
        assert_eq!(opened(&lines), vec![LOOP]);
        let lines = run(&mut engine(), &[udp("198.18.0.9", 40_000, "198.18.0.1", 7)]);
        assert!(of(&lines, LOOP).is_empty());
    }
}
