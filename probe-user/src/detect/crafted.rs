//! Packets no ordinary stack sends: `stealth_scan` (TCP flag sets that cannot occur in a real
//! connection) and `port_zero` (port 0 at either end).

use std::net::IpAddr;

use probe_common::packet::tcp_flags::{ACK, FIN, PSH, RST, SYN, URG};

use super::{
    Acc, Claims, Config, Ctx, Detector, Out, View, addr_list, addr_words, base, flag_names, plural,
    table::Lru,
};
use crate::{
    contact::Proto,
    findings::{Evidence, Kind, evidence},
    knowledge::{Direction, Level},
};

pub(crate) const STEALTH: Kind = Kind::StealthScan;
pub(crate) const PORT_ZERO: Kind = Kind::PortZero;

/// The name of an impossible flag set, or `None` for flags a real stack sends.
///
/// After the handshake every segment carries ACK, and established segments never reach the
/// detectors; so a segment without ACK may only be a bare SYN (a connection attempt) or a bare
/// RST. SYN with FIN or RST is impossible with or without ACK.
pub(crate) fn odd_flags(flags: u8) -> Option<String> {
    if flags & SYN != 0 && flags & FIN != 0 {
        return Some("SYN+FIN".to_owned());
    }
    if flags & SYN != 0 && flags & RST != 0 {
        return Some("SYN+RST".to_owned());
    }
    if flags & ACK != 0 {
        return None;
    }
    let core = flags & (FIN | SYN | RST | PSH | URG);
    match core {
        0 => Some("NULL".to_owned()),
        FIN => Some("FIN".to_owned()),
        x if x == FIN | PSH | URG => Some("XMAS".to_owned()),
        x if x & SYN != 0 || x == RST => None,
        x => Some(flag_names(x)),
    }
}

/// What each named set is, for explanations.
fn describe(label: &str) -> &'static str {
    match label {
        "NULL" => "no flags at all (nmap -sN)",
        "FIN" => "a lone FIN (nmap -sF)",
        "XMAS" => "FIN, PSH and URG together (nmap -sX)",
        "SYN+FIN" => "SYN and FIN together",
        "SYN+RST" => "SYN and RST together",
        _ => "a flag combination without ACK",
    }
}

pub(crate) struct Crafted {
    stealth: Lru<IpAddr, Acc>,
    zero: Lru<IpAddr, Acc>,
}

impl Crafted {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            stealth: Lru::new(cap),
            zero: Lru::new(cap),
        }
    }

    fn port_zero(&mut self, v: &View<'_>, ctx: &Ctx<'_>, claims: &mut Claims, o: &mut Out<'_>) {
        let c = v.c;
        let list = ctx.config.limits.max_list;
        if ctx.config.port_zero.enabled
            && c.proto.has_ports()
            && (c.src_port == 0 || c.dst_port == 0)
        {
            claims.port_explained = true;
            let acc = self.zero.touch(&c.src, c.ts_ns, || Acc::new(c.ts_ns, list));
            acc.see(c);
            acc.tag(if c.dst_port == 0 {
                "to_port_0"
            } else {
                "from_port_0"
            });
            let level = v.kproto().map_or(Level::Suspicious, |p| {
                let dir = if c.dst_port == 0 {
                    Direction::Destination
                } else {
                    Direction::Source
                };
                ctx.knowledge
                    .port_entry(0, p, dir)
                    .map_or(Level::Suspicious, |e| e.info.level)
            });
            let which = match (c.src_port, c.dst_port) {
                (0, 0) => "from port 0 to port 0".to_owned(),
                (0, d) => format!("from port 0 to port {d}"),
                (s, _) => format!("from port {s} to port 0"),
            };
            o.push(super::Draft {
                dst: acc.dst(),
                port: Some(c.dst_port),
                add: acc.take(),
                first_seen_ns: acc.first_ns,
                evidence: Some(Evidence::PortZero(evidence::PortZero {
                    src_port: c.src_port,
                    dst_port: c.dst_port,
                    flags: (c.proto == Proto::Tcp).then(|| flag_names(c.tcp_flags)),
                    packets: acc.tags.tally(),
                    hosts: addr_list(&acc.hosts, list),
                    faq: "1.1".into(),
                })),
                explanation: format!(
                    "{src} sent {what} {which} on {dst}. Port 0 is reserved: no program listens \
                     there and no stack picks it as a source, so the packet was built by hand. \
                     Tools send it to fingerprint operating systems, since systems answer port 0 \
                     in telling ways, and some attack scripts use it as a source (FAQ 1.1 notes \
                     port 0 to IMAP). It cannot reach a service; note the source and watch what \
                     else it sends.",
                    src = v.src,
                    what = v.what(),
                    dst = v.dst,
                ),
                ..base(PORT_ZERO, level, v)
            });
        }
    }

    fn stealth(&mut self, v: &View<'_>, ctx: &Ctx<'_>, o: &mut Out) {
        let c = v.c;
        let list = ctx.config.limits.max_list;
        let runs = ctx.config.limits.max_port_runs;
        let Some(label) = &v.odd_flags else {
            return;
        };
        if !ctx.config.stealth_scan.enabled {
            return;
        }
        let acc = self
            .stealth
            .touch(&c.src, c.ts_ns, || Acc::new(c.ts_ns, list));
        acc.see(c);
        acc.tag(label);
        let kinds: Vec<String> = acc
            .tags
            .names()
            .map(|k| format!("{k}: {}", describe(k)))
            .collect();
        let n = u64::from(acc.ports.len());
        o.push(super::Draft {
            dst: acc.dst(),
            port: acc.port(),
            add: acc.take(),
            first_seen_ns: acc.first_ns,
            evidence: Some(Evidence::Stealth(evidence::Stealth {
                flag_sets: acc.tags.tally(),
                ports: acc.ports.render(runs),
                distinct_ports: n,
                hosts: addr_list(&acc.hosts, list),
                hosts_total: acc.hosts.len(),
                ttl_min: acc.ttls.min,
                ttl_max: acc.ttls.max,
                faq: "general".into(),
            })),
            explanation: format!(
                "{src} sent TCP segments with flags no real connection uses ({kinds}) to {n} \
                 port{s} on {hosts}. This is a stealth scan. Many systems answer such a segment \
                 with a reset when the port is closed and say nothing when it is open, so the \
                 scanner maps open ports without ever starting a connection that a server would \
                 log. It is deliberate reconnaissance, not a fault. A stateful firewall drops \
                 these segments; block {src} if it is not one of yours.",
                src = v.src,
                kinds = kinds.join("; "),
                s = plural(n),
                hosts = addr_words(&acc.hosts, list),
            ),
            ..base(STEALTH, Level::Suspicious, v)
        });
    }
}

impl Detector for Crafted {
    fn expire(&mut self, now: u64, case_ns: u64, _config: &Config) {
        let before = now.saturating_sub(case_ns);
        self.stealth.expire(before);
        self.zero.expire(before);
    }

    fn observe(&mut self, v: &View<'_>, ctx: &Ctx<'_>, claims: &mut Claims, o: &mut Out<'_>) {
        self.port_zero(v, ctx, claims, o);
        self.stealth(v, ctx, o);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::detect::testkit::*;

    #[test]
    fn flag_sets_are_named() {
        assert_eq!(odd_flags(0).as_deref(), Some("NULL"));
        assert_eq!(odd_flags(FIN).as_deref(), Some("FIN"));
        assert_eq!(odd_flags(FIN | PSH | URG).as_deref(), Some("XMAS"));
        assert_eq!(odd_flags(SYN | FIN).as_deref(), Some("SYN+FIN"));
        assert_eq!(odd_flags(SYN | FIN | ACK).as_deref(), Some("SYN+FIN"));
        assert_eq!(odd_flags(SYN | RST).as_deref(), Some("SYN+RST"));
        assert_eq!(odd_flags(PSH | URG).as_deref(), Some("PSH+URG"));
        assert_eq!(odd_flags(FIN | RST).as_deref(), Some("FIN+RST"));
        // What real stacks send.
        for ok in [
            SYN,
            SYN | ACK,
            RST,
            RST | ACK,
            FIN | ACK,
            ACK,
            SYN | 0x40 | 0x80,
        ] {
            assert_eq!(odd_flags(ok), None, "{ok:#x}");
        }
    }

    #[test]
    fn a_fin_scan_is_one_stealth_finding_naming_the_flags() {
        let contacts: Vec<_> = (0..30u16)
            .map(|i| {
                at(
                    tcp("198.18.0.66", 51_000, "198.18.0.1", 20 + i, FIN),
                    u64::from(i),
                )
            })
            .collect();
        let lines = run(&mut engine(), &contacts);
        let f = last_of(&lines, STEALTH);
        assert_eq!(
            (f.level, f.src.as_deref(), f.dst.as_deref(), f.port, f.count),
            (
                Level::Suspicious,
                Some("198.18.0.66"),
                Some("198.18.0.1"),
                None,
                30
            )
        );
        assert_eq!(f.evidence["flag_sets"], json!({"FIN": 30}));
        assert_eq!(f.evidence["ports"], json!("20-49"));
        assert_eq!(f.evidence["distinct_ports"], json!(30));
        assert!(f.explanation.contains("nmap -sF"));
        // The stealth finding covers it: no vertical scan, no per-port meanings.
        assert_eq!(opened(&lines), vec![STEALTH]);
    }

    #[test]
    fn null_xmas_and_syn_fin_probes_are_each_named() {
        let lines = run(
            &mut engine(),
            &[
                tcp("198.18.0.66", 40_000, "198.18.0.1", 80, 0),
                at(
                    tcp("198.18.0.66", 40_000, "198.18.0.1", 81, FIN | PSH | URG),
                    1,
                ),
                at(tcp("198.18.0.66", 40_000, "198.18.0.1", 82, SYN | FIN), 2),
            ],
        );
        let f = last_of(&lines, STEALTH);
        assert_eq!(f.count, 3);
        assert_eq!(
            f.evidence["flag_sets"],
            json!({"NULL": 1, "XMAS": 1, "SYN+FIN": 1})
        );
        let first = of(&lines, STEALTH)[0];
        assert_eq!((first.port, first.count), (Some(80), 1));
    }

    #[test]
    fn ordinary_segments_are_not_stealth() {
        let lines = run(
            &mut engine(),
            &[
                syn("198.18.0.66", "198.18.0.1", 22),
                syn_ack("198.18.0.9", 443, "198.18.0.1", 50_000),
                tcp("198.18.0.66", 40_000, "198.18.0.1", 22, RST),
            ],
        );
        assert!(of(&lines, STEALTH).is_empty(), "{lines:#?}");
    }

    #[test]
    fn port_zero_either_end() {
        let lines = run(&mut engine(), &[udp("198.18.0.66", 5000, "198.18.0.1", 0)]);
        let f = last_of(&lines, PORT_ZERO);
        assert_eq!(
            (f.level, f.src.as_deref(), f.port, f.count),
            (Level::Suspicious, Some("198.18.0.66"), Some(0), 1)
        );
        assert_eq!(f.evidence["dst_port"], json!(0));
        let lines = run(
            &mut engine(),
            &[tcp("198.18.0.66", 0, "198.18.0.1", 143, SYN)],
        );
        let f = last_of(&lines, PORT_ZERO);
        assert_eq!(
            (f.port, f.evidence["src_port"].clone()),
            (Some(143), json!(0))
        );
        assert_eq!(f.evidence["flags"], json!("SYN"));
        // Claimed: no port_meaning for IMAP on top.
        assert_eq!(opened(&lines), vec![PORT_ZERO]);
        let lines = run(&mut engine(), &[udp("198.18.0.66", 1, "198.18.0.1", 9)]);
        assert!(of(&lines, PORT_ZERO).is_empty());
    }
}
