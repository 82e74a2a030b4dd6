//! Scans by breadth: `vertical_scan` (one source, many ports of one host), `horizontal_sweep`
//! (one source, one port on many hosts) and `ping_sweep` (one source pinging many hosts).
//!
//! Counted probes: TCP SYN and UDP that is not a reply. Impossible flag sets are
//! `stealth_scan`'s, traceroute probes are not probes, and members of a decoy scan or an
//! sscan run are covered by those findings. Once a source is reported, its further probes
//! (to any host) fold into the same finding until it goes quiet.

use std::{hash::Hash, net::IpAddr, sync::Arc};

use serde::{Deserialize, Serialize};

use super::{
    Acc, Claims, Config, Ctx, Detector, Out, View, addr_list, addr_list_and_words, addr_words,
    answer::Answer, base_to, ip_text, plural, secs, span, table::Lru,
};
use crate::{
    contact::Proto,
    findings::{Evidence, Kind, Later, evidence},
    knowledge::Level,
};

pub(crate) const VERTICAL: Kind = Kind::VerticalScan;
pub(crate) const HORIZONTAL: Kind = Kind::HorizontalSweep;
pub(crate) const PING_SWEEP: Kind = Kind::PingSweep;
pub(crate) const OUTBOUND: Kind = Kind::OutboundScan;

/// The subject of `src`'s `outbound_scan` finding about many ports of one host outside
/// (`"198.18.0.5 ports"`); [`outbound_hosts`] is the one about one port on many hosts. Two
/// findings, as `vertical_scan` and `horizontal_sweep` are two.
pub(crate) fn outbound_ports(src: &str) -> String {
    format!("{src} ports")
}

pub(crate) fn outbound_hosts(src: &str) -> String {
    format!("{src} hosts")
}

/// Whether `v` goes from a home host to a host outside the home networks: a scan it belongs
/// to is the home host's (`outbound_scan`), not a scan of the hosts the probe protects.
fn outbound(v: &View<'_>, ctx: &Ctx<'_>) -> bool {
    ctx.home.neighbour(v.c.src) && !ctx.home.neighbour(v.c.dst)
}

/// `vertical_scan`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VerticalConfig {
    pub enabled: bool,
    /// Distinct ports of one host probed by one source within the window.
    pub ports: usize,
    pub window_secs: u64,
}

impl Default for VerticalConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            ports: 20,
            window_secs: 60,
        }
    }
}

/// `horizontal_sweep` and `ping_sweep`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SweepConfig {
    pub enabled: bool,
    /// Distinct hosts probed (on one port, or pinged) by one source within the window.
    pub hosts: usize,
    pub window_secs: u64,
}

impl Default for SweepConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            hosts: 10,
            window_secs: 60,
        }
    }
}

/// Recent distinct (protocol, port) a source probed on one host, each with its probe's tag.
type PortsProbed = Lru<(u8, u16), &'static str>;

pub(crate) struct Scan {
    /// Recent distinct (protocol, port) per (source, host), with how the first probe of each
    /// was made (`syn`, `udp`, `fragment`).
    ports: Lru<(IpAddr, IpAddr), PortsProbed>,
    /// Recent distinct hosts per (source, protocol, port).
    hosts: Lru<(IpAddr, u8, u16), Lru<IpAddr, ()>>,
    /// Recent distinct hosts pinged per source.
    pinged: Lru<IpAddr, Lru<IpAddr, ()>>,
    /// Shared with the evidence the book makes later: changed in place once the book let go
    /// of it (see `Out::retire`), copied otherwise. Keyed by source and whether the scan goes
    /// out of the home networks (`outbound_scan`).
    vertical: Lru<(IpAddr, bool), Arc<Acc>>,
    horizontal: Lru<(IpAddr, bool), Arc<Acc>>,
    ping: Lru<(IpAddr, bool), Arc<Acc>>,
}

/// Adds `item` (with `note`, kept from its first time) to the recent set under `key`; once the
/// set holds `threshold` items within the window, returns them with the time of the oldest.
/// `wanted` false only keeps the set: the finding is open already and the items would go
/// unused.
#[expect(
    clippy::too_many_arguments,
    reason = "one set's whole update, in one place"
)]
fn recent<K: Ord + Hash + Clone, T: Ord + Hash + Clone, N: Clone>(
    table: &mut Lru<K, Lru<T, N>>,
    key: &K,
    item: &T,
    note: N,
    now: u64,
    threshold: usize,
    window_ns: u64,
    wanted: bool,
) -> Option<(Vec<(T, N)>, u64)> {
    // Room for twice the threshold: an answer takes its probe out (see `Scan::answer`), and
    // a full set less one is still over the threshold, so a set that falls below it after an
    // answer really holds fewer unanswered probes.
    let set = table.touch(key, now, || Lru::new(threshold.saturating_mul(2)));
    set.touch(item, now, || note);
    set.expire(now.saturating_sub(window_ns));
    if !wanted || set.len() < threshold {
        return None;
    }
    let items = set.iter().map(|(t, n)| (t.clone(), n.clone())).collect();
    Some((items, set.oldest().unwrap_or(now)))
}

/// How a counted probe was made, as the scans tag it.
fn probe_tag(v: &View<'_>) -> &'static str {
    if v.c.proto == Proto::Udp {
        "udp"
    } else if v.cut_tcp {
        "fragment"
    } else {
        "syn"
    }
}

/// `src`'s accumulator in `table` (one of the open scans), advanced by contact `c`. When the
/// scan was just found, `fresh` holds the items that crossed the threshold and when the oldest
/// came: the accumulator starts from them (`seed` adds each), and `c` itself is one of them.
fn advance<'a, T>(
    table: &'a mut Lru<(IpAddr, bool), Arc<Acc>>,
    key: (IpAddr, bool),
    c: &crate::contact::Contact,
    list: usize,
    fresh: Option<&(Vec<T>, u64)>,
    mut seed: impl FnMut(&mut Acc, &T),
) -> &'a mut Arc<Acc> {
    let shared = table.touch(&key, c.ts_ns, || Arc::new(Acc::new(c.ts_ns, list)));
    let acc = Arc::make_mut(shared);
    if let Some((items, oldest)) = fresh {
        for item in items {
            seed(acc, item);
        }
        acc.contacts = items.len().saturating_sub(1) as u64;
        acc.first_ns = *oldest;
    }
    acc.see(c);
    shared
}

impl Scan {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            ports: Lru::new(cap),
            hosts: Lru::new(cap),
            pinged: Lru::new(cap),
            vertical: Lru::new(cap),
            horizontal: Lru::new(cap),
            ping: Lru::new(cap),
        }
    }

    /// `vertical_scan`: many ports of one host.
    fn vertical(&mut self, v: &View<'_>, ctx: &Ctx<'_>, o: &mut Out) {
        let c = v.c;
        let cfg = ctx.config;
        let list = cfg.limits.max_list;
        let threshold = cfg.vertical_scan.ports.max(2);
        let out = outbound(v, ctx);
        let (kind, subject) = if out {
            (OUTBOUND, outbound_ports(&v.src))
        } else {
            (VERTICAL, v.src.clone())
        };
        let open = self.vertical.get(&(c.src, out)).is_some();
        let found = recent(
            &mut self.ports,
            &(c.src, c.dst),
            &(c.protocol, c.dst_port),
            probe_tag(v),
            c.ts_ns,
            threshold,
            secs(cfg.vertical_scan.window_secs),
            !open,
        );
        if open || found.is_some() {
            o.retire(kind, &subject);
            let fresh = found.filter(|_| !open);
            // The probes that crossed the threshold tag the scan, this one included.
            let shared = advance(
                &mut self.vertical,
                (c.src, out),
                c,
                list,
                fresh.as_ref(),
                |acc, ((_, port), tag)| {
                    acc.ports.insert(*port);
                    acc.tag(tag);
                },
            );
            let acc = Arc::make_mut(shared);
            if fresh.is_none() {
                acc.tag(probe_tag(v));
            }
            let (dst, add, first_seen_ns) = (acc.dst(), acc.take(), acc.first_ns);
            let acc = Arc::clone(shared);
            let source = c.src;
            let runs = cfg.limits.max_port_runs;
            o.push(super::Draft {
                port: None,
                add,
                first_seen_ns,
                later: Some(Later::new(move || {
                    let (n, src) = (u64::from(acc.ports.len()), ip_text(source));
                    let (host_list, hosts) = addr_list_and_words(&acc.hosts, list);
                    let evidence = Evidence::Vertical(evidence::Vertical {
                        ports: acc.ports.render(runs),
                        distinct_ports: n,
                        probes: acc.tags.tally(),
                        hosts: host_list,
                        ttl_min: acc.ttls.min,
                        ttl_max: acc.ttls.max,
                        faq: "1".into(),
                    });
                    let (took, kinds) = (
                        span(acc.last_ns.saturating_sub(acc.first_ns)),
                        probe_kinds(&acc),
                    );
                    let explanation = if out {
                        format!(
                            "{src}, a host of the networks this probe protects, probed {n} \
                             different ports on {hosts} outside them within {took}, with \
                             {kinds}, and got no answer on them. A machine of yours working \
                             through the ports of a host elsewhere is scanning out: most often \
                             malware on it looking for its next victim, or someone using it to \
                             attack; the complaints will name your address. Find out what runs \
                             on {src} and who uses it."
                        )
                    } else {
                        format!(
                            "{src} probed {n} different ports on {hosts} within {took}, with \
                             {kinds}. One source working through the ports of a host is a port \
                             scan: someone is listing the services it offers, usually to find a \
                             weak one. Make sure only the services you mean to offer are \
                             reachable, and consider blocking {src}."
                        )
                    };
                    (evidence, explanation)
                })),
                subject,
                ..base_to(kind, Level::Suspicious, v, dst)
            });
        }
    }

    /// `horizontal_sweep`: one port on many hosts.
    fn horizontal(&mut self, v: &View<'_>, ctx: &Ctx<'_>, o: &mut Out) {
        let c = v.c;
        let cfg = ctx.config;
        let list = cfg.limits.max_list;
        let threshold = cfg.horizontal_sweep.hosts.max(2);
        let out = outbound(v, ctx);
        let (kind, subject) = if out {
            (OUTBOUND, outbound_hosts(&v.src))
        } else {
            (HORIZONTAL, v.src.clone())
        };
        let open = self.horizontal.get(&(c.src, out)).is_some();
        let found = recent(
            &mut self.hosts,
            &(c.src, c.protocol, c.dst_port),
            &c.dst,
            (),
            c.ts_ns,
            threshold,
            secs(cfg.horizontal_sweep.window_secs),
            !open,
        );
        if open || found.is_some() {
            o.retire(kind, &subject);
            let fresh = found.filter(|_| !open);
            let shared = advance(
                &mut self.horizontal,
                (c.src, out),
                c,
                list,
                fresh.as_ref(),
                |acc, (host, ())| {
                    acc.hosts.insert(*host);
                },
            );
            let acc = Arc::make_mut(shared);
            let (port, add, first_seen_ns) = (acc.port(), acc.take(), acc.first_ns);
            let acc = Arc::clone(shared);
            let source = c.src;
            let (proto, kproto) = (c.proto, v.kproto());
            let knowledge = Arc::clone(ctx.knowledge);
            let runs = cfg.limits.max_port_runs;
            o.push(super::Draft {
                port,
                add,
                first_seen_ns,
                later: Some(Later::new(move || {
                    let (count, src) = (acc.hosts.len() as u64, ip_text(source));
                    let name = port
                        .and_then(|number| {
                            kproto.and_then(|kp| {
                                knowledge.port_entry(
                                    number,
                                    kp,
                                    crate::knowledge::Direction::Destination,
                                )
                            })
                        })
                        .map(|e| format!(" ({})", e.info.name))
                        .unwrap_or_default();
                    let what = match port {
                        Some(number) => format!("port {number}/{}{name}", proto.as_str()),
                        None => format!("ports {}", acc.ports.render(runs)),
                    };
                    let evidence = Evidence::Sweep(evidence::Sweep {
                        ports: acc.ports.render(runs),
                        hosts: addr_list(&acc.hosts, list),
                        hosts_total: count,
                        ttl_min: acc.ttls.min,
                        ttl_max: acc.ttls.max,
                        faq: "1".into(),
                    });
                    let hosts = addr_words(&acc.hosts, list.min(8));
                    let explanation = if out {
                        format!(
                            "{src}, a host of the networks this probe protects, probed {what} \
                             on {count} different hosts outside them ({hosts}) that did not \
                             answer. A machine of yours sweeping one port across other \
                             networks is what a worm or a bot does to spread, or what someone \
                             does who uses it to attack. Find out what runs on {src} and who \
                             uses it."
                        )
                    } else {
                        format!(
                            "{src} probed {what} on {count} different hosts ({hosts}). Sweeping \
                             one port across many addresses is how worms and attackers look \
                             for every machine running one particular service. Check that the \
                             hosts that answer on it are meant to and are patched; block {src} \
                             if it is not one of yours."
                        )
                    };
                    (evidence, explanation)
                })),
                subject,
                ..base_to(kind, Level::Suspicious, v, Some("many".to_owned()))
            });
        }
    }

    /// `ping_sweep`: pings to many hosts.
    fn ping(&mut self, v: &View<'_>, ctx: &Ctx<'_>, o: &mut Out) {
        let c = v.c;
        let cfg = ctx.config;
        let list = cfg.limits.max_list;
        let threshold = cfg.ping_sweep.hosts.max(2);
        let open = self.ping.get(&(c.src, false)).is_some();
        let found = recent(
            &mut self.pinged,
            &c.src,
            &c.dst,
            (),
            c.ts_ns,
            threshold,
            secs(cfg.ping_sweep.window_secs),
            !open,
        );
        if open || found.is_some() {
            o.retire(PING_SWEEP, &v.src);
            let fresh = found.filter(|_| !open);
            let shared = advance(
                &mut self.ping,
                (c.src, false),
                c,
                list,
                fresh.as_ref(),
                |acc, (host, ())| {
                    acc.hosts.insert(*host);
                },
            );
            let acc = Arc::make_mut(shared);
            let (add, first_seen_ns) = (acc.take(), acc.first_ns);
            let acc = Arc::clone(shared);
            let source = c.src;
            o.push(super::Draft {
                port: None,
                add,
                first_seen_ns,
                later: Some(Later::new(move || {
                    let (n, src) = (acc.hosts.len() as u64, ip_text(source));
                    let evidence = Evidence::PingSweep(evidence::PingSweep {
                        hosts: addr_list(&acc.hosts, list),
                        hosts_total: n,
                        ttl_min: acc.ttls.min,
                        ttl_max: acc.ttls.max,
                        faq: "2".into(),
                    });
                    let explanation = format!(
                        "{src} pinged {n} different address{es} ({hosts}). A ping sweep finds \
                         out which addresses of a network are in use, often the first step \
                         before scanning them (nmap -sn, fping). It does no harm by itself \
                         but shows someone is taking an interest; drop incoming echo requests \
                         at the border if you would rather not be mapped.",
                        es = if n == 1 { "" } else { "es" },
                        hosts = addr_words(&acc.hosts, list.min(8)),
                    );
                    (evidence, explanation)
                })),
                ..base_to(PING_SWEEP, Level::Notable, v, Some("many".to_owned()))
            });
        }
    }
}

impl Detector for Scan {
    fn expire(&mut self, now: u64, case_ns: u64, config: &Config) {
        self.ports
            .expire(now.saturating_sub(secs(config.vertical_scan.window_secs)));
        self.hosts
            .expire(now.saturating_sub(secs(config.horizontal_sweep.window_secs)));
        self.pinged
            .expire(now.saturating_sub(secs(config.ping_sweep.window_secs)));
        let before = now.saturating_sub(case_ns);
        self.vertical.expire(before);
        self.horizontal.expire(before);
        self.ping.expire(before);
    }

    fn observe(&mut self, v: &View<'_>, ctx: &Ctx<'_>, claims: &mut Claims, o: &mut Out<'_>) {
        let c = v.c;
        let cfg = ctx.config;
        // A decoy-scan member's or an sscan source's probes are counted by those findings.
        let covered = claims.decoy_member || claims.sscan_reported;
        let counted = !covered
            && !claims.not_scan
            && (v.syn || v.cut_tcp || (c.proto == Proto::Udp && !v.udp_reply));
        if counted && cfg.vertical_scan.enabled {
            self.vertical(v, ctx, o);
        }
        if counted && cfg.horizontal_sweep.enabled && !v.broadcast {
            self.horizontal(v, ctx, o);
        }
        if cfg.ping_sweep.enabled && v.echo_request() && !v.broadcast && !claims.not_scan {
            self.ping(v, ctx, o);
        }
    }

    fn answer(&mut self, a: &Answer, ctx: &Ctx<'_>, o: &mut Out<'_>) {
        let cfg = ctx.config;
        let src = ip_text(a.client);
        // The answered probe no longer counts towards a scan of its host...
        if let Some(set) = self.ports.get_mut(&(a.client, a.server)) {
            set.remove(&(a.protocol, a.port));
            if set.len() < cfg.vertical_scan.ports.max(2) {
                for (out, subject) in [(false, src.clone()), (true, outbound_ports(&src))] {
                    let kind = if out { OUTBOUND } else { VERTICAL };
                    withdraw_if_single(&mut self.vertical, (a.client, out), kind, &subject, o);
                }
            }
        }
        // ... nor towards a sweep of its port.
        if let Some(set) = self.hosts.get_mut(&(a.client, a.protocol, a.port)) {
            set.remove(&a.server);
            if set.len() < cfg.horizontal_sweep.hosts.max(2) {
                for (out, subject) in [(false, src.clone()), (true, outbound_hosts(&src))] {
                    let kind = if out { OUTBOUND } else { HORIZONTAL };
                    withdraw_if_single(&mut self.horizontal, (a.client, out), kind, &subject, o);
                }
            }
        }
    }
}

/// Withdraws the `kind` finding about `subject` while it waits for answers, when what it
/// counts fell below its threshold and it is about one target (one host's ports, one port's
/// hosts): the answers showed a conversation. A scan of several targets stays.
fn withdraw_if_single(
    table: &mut Lru<(IpAddr, bool), Arc<Acc>>,
    key: (IpAddr, bool),
    kind: Kind,
    subject: &str,
    o: &mut Out<'_>,
) {
    let single = table
        .get(&key)
        .is_some_and(|acc| acc.hosts.len() <= 1 || acc.ports.len() <= 1);
    if single && o.is_held(kind, subject) && o.withdraw(kind, subject) {
        table.remove(&key);
    }
}

/// "SYN probes (half-open...)" and/or "UDP probes".
fn probe_kinds(acc: &Acc) -> String {
    let syn = acc.tags.get("syn");
    let fragment = acc.tags.get("fragment");
    let udp = acc.tags.get("udp");
    let mut parts = Vec::new();
    if syn > 0 {
        parts.push(format!(
            "{syn} TCP SYN probe{s} (connection attempts; a scanner like nmap -sS never \
             completes them)",
            s = plural(syn)
        ));
    }
    if fragment > 0 {
        parts.push(format!(
            "{fragment} TCP probe{s} split into tiny fragments so that the flags travel in a \
             later fragment (nmap -f does this to slip past filters that judge first fragments)",
            s = plural(fragment)
        ));
    }
    if udp > 0 {
        parts.push(format!("{udp} UDP probe{s}", s = plural(udp)));
    }
    parts.join(" and ")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{contact::Contact, detect::testkit::*, findings::Status};

    fn syn_scan(src: &str, dst: &str, ports: impl Iterator<Item = u16>) -> Vec<Contact> {
        ports
            .enumerate()
            .map(|(i, p)| at(syn(src, dst, p), i as u64 * 10))
            .collect()
    }

    #[test]
    fn a_syn_scan_of_many_ports_is_one_vertical_scan() {
        let lines = run(
            &mut engine(),
            &syn_scan("198.18.0.66", "198.18.0.1", 1000..2000),
        );
        let f = last_of(&lines, VERTICAL);
        assert_eq!(
            (f.level, f.src.as_deref(), f.dst.as_deref(), f.port, f.count),
            (
                Level::Suspicious,
                Some("198.18.0.66"),
                Some("198.18.0.1"),
                None,
                1000
            )
        );
        assert_eq!(f.evidence["ports"], json!("1000-1999"));
        assert_eq!(f.evidence["distinct_ports"], json!(1000));
        // Found at the 20th probe (190 ms), written once its wait for answers ended (2 s
        // later): by then 219 probes had come, none answered.
        let first = of(&lines, VERTICAL)[0];
        assert_eq!((first.status, first.count), (Status::New, 219));
        assert_eq!(first.evidence["ports"], json!("1000-1218"));
        assert_eq!(first.ts_ns, T0 + 2190 * MS);
        assert_eq!(first.first_seen_ns, T0);
        // 1000 probes over 10 s: a new line and the flushed final state, nothing between.
        assert_eq!(of(&lines, VERTICAL).len(), 2);
    }

    #[test]
    fn a_udp_scan_counts_too() {
        let contacts: Vec<_> = (1u16..=25)
            .map(|p| at(udp("198.18.0.66", 40_000, "198.18.0.1", p), u64::from(p)))
            .collect();
        let lines = run(&mut engine(), &contacts);
        let f = last_of(&lines, VERTICAL);
        assert_eq!(f.count, 25);
        assert_eq!(f.evidence["probes"], json!({"udp": 25}));
    }

    #[test]
    fn near_misses_are_not_vertical_scans() {
        // 19 ports; 20 ports spread over more than the window; 30 answers from servers.
        assert!(
            of(
                &run(&mut engine(), &syn_scan("198.18.0.66", "198.18.0.1", 1..20)),
                VERTICAL
            )
            .is_empty()
        );
        let slow: Vec<_> = (0..20u16)
            .map(|i| {
                at(
                    syn("198.18.0.66", "198.18.0.1", 1000 + i),
                    u64::from(i) * 4000,
                )
            })
            .collect();
        assert!(of(&run(&mut engine(), &slow), VERTICAL).is_empty());
        let answers: Vec<_> = (0..30u16)
            .flat_map(|i| {
                [
                    at(
                        syn_ack("198.18.0.9", 443, "198.18.0.1", 50_000 + i),
                        u64::from(i),
                    ),
                    at(
                        udp("198.18.0.53", 53, "198.18.0.1", 40_000 + i),
                        u64::from(i),
                    ),
                    at(
                        tcp(
                            "198.18.0.21",
                            20,
                            "198.18.0.1",
                            60_000 + i,
                            probe_common::packet::tcp_flags::SYN,
                        ),
                        u64::from(i),
                    ),
                ]
            })
            .collect();
        assert!(run(&mut engine(), &answers).is_empty());
    }

    #[test]
    fn one_port_on_many_hosts_is_a_horizontal_sweep() {
        let contacts: Vec<_> = (1u8..=12)
            .map(|h| {
                at(
                    syn("198.18.0.66", &format!("198.18.1.{h}"), 31_337),
                    u64::from(h),
                )
            })
            .collect();
        let lines = run(&mut engine(), &contacts);
        let f = last_of(&lines, HORIZONTAL);
        assert_eq!(
            (f.level, f.src.as_deref(), f.dst.as_deref(), f.port, f.count),
            (
                Level::Suspicious,
                Some("198.18.0.66"),
                Some("many"),
                Some(31_337),
                12
            )
        );
        assert_eq!(f.evidence["hosts_total"], json!(12));
        assert!(f.explanation.contains("port 31337/tcp (Back Orifice)"));
        // Found at the tenth host; the sweep took 12 ms, all of it within the wait for
        // answers, so its first line (at the flush) has all twelve.
        assert_eq!(of(&lines, HORIZONTAL)[0].count, 12);
        assert_eq!(of(&lines, HORIZONTAL).len(), 1);
        // Nine hosts: no.
        assert!(of(&run(&mut engine(), &contacts[..9]), HORIZONTAL).is_empty());
    }

    #[test]
    fn pinging_many_hosts_is_a_ping_sweep_and_a_few_pings_are_not() {
        let contacts: Vec<_> = (1u8..=10)
            .map(|h| {
                at(
                    icmp("198.18.0.66", &format!("198.18.1.{h}"), 8, 0),
                    u64::from(h),
                )
            })
            .collect();
        let lines = run(&mut engine(), &contacts);
        let f = last_of(&lines, PING_SWEEP);
        assert_eq!(
            (f.level, f.src.as_deref(), f.dst.as_deref(), f.port, f.count),
            (Level::Notable, Some("198.18.0.66"), Some("many"), None, 10)
        );
        assert_eq!(f.evidence["hosts_total"], json!(10));
        let few: Vec<_> = (1u8..=3)
            .map(|h| {
                at(
                    icmp("198.18.0.66", &format!("198.18.1.{h}"), 8, 0),
                    u64::from(h),
                )
            })
            .collect();
        assert!(run(&mut engine(), &few).is_empty());
    }

    #[test]
    fn a_refresh_after_many_probes_shows_the_evidence_of_the_last_one() {
        // One probe every 50 ms for 150 s: the evidence is made for the new line, the refresh
        // a minute later and the flush, never for the probes between.
        let contacts: Vec<_> = (0..3000u16)
            .map(|i| {
                at(
                    syn("198.18.0.66", "198.18.0.1", 1000 + i),
                    u64::from(i) * 50,
                )
            })
            .collect();
        let lines = of(&run(&mut engine(), &contacts), VERTICAL)
            .into_iter()
            .cloned()
            .collect::<Vec<_>>();
        assert_eq!(lines.len(), 4, "{lines:#?}");
        // Found at 950 ms, written 2 s later once no answer came (2.95 s); the refresh is due
        // 60 s after that line, and the probe at 62.95 s comes after it.
        let refresh = &lines[1];
        assert_eq!(
            (
                refresh.status,
                refresh.ts_ns,
                refresh.count,
                refresh.last_seen_ns
            ),
            (Status::Update, T0 + 62_950 * MS, 1259, T0 + 62_900 * MS)
        );
        assert_eq!(
            refresh.evidence,
            json!({
                "ports": "1000-2258",
                "distinct_ports": 1259,
                "probes": {"syn": 1259},
                "hosts": ["198.18.0.1"],
                "ttl_min": 64,
                "ttl_max": 64,
                "faq": "1",
            })
        );
        assert_eq!(
            refresh.explanation,
            "198.18.0.66 probed 1259 different ports on 198.18.0.1 within 1 min 2 s, with 1259 \
             TCP SYN probes (connection attempts; a scanner like nmap -sS never completes them). \
             One source working through the ports of a host is a port scan: someone is listing \
             the services it offers, usually to find a weak one. Make sure only the services you \
             mean to offer are reachable, and consider blocking 198.18.0.66."
        );
        let last = &lines[3];
        assert_eq!((last.count, last.last_seen_ns), (3000, T0 + 149_950 * MS));
        assert_eq!(last.evidence["ports"], json!("1000-3999"));
        assert_eq!(last.evidence["probes"], json!({"syn": 3000}));
    }
}
