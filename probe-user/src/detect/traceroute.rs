//! `traceroute`: someone mapping the path to a host. Unix traceroute sends UDP to ports from
//! 33434 up, with TTLs 1, 2, 3...; `traceroute -I` and Windows `tracert` send ICMP echo
//! requests with rising TTLs. Probes that reach the target arrive with TTLs near 1, because
//! each was set to expire about there.
//!
//! The kernel reports every new TTL of an echo request towards a host as a new contact, which
//! is what makes the ICMP mode visible. FAQ 1.1 (ports 33434–33600) and section 5, whose text
//! is lost.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::{
    Claims, Config, Ctx, Detector, Out, Story, View, base, plural, secs,
    table::{Lru, PortSet, Ttls},
};
use crate::{
    contact::Proto,
    findings::{Evidence, Kind, evidence},
    knowledge::Level,
};

pub(crate) const KIND: Kind = Kind::Traceroute;

/// The finding's explanation.
pub(crate) const STORY: Story = Story {
    topic: "traceroute",
    marks: &["src", "dst", "how"],
};

/// `traceroute`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TracerouteConfig {
    pub enabled: bool,
    /// The UDP destination ports traceroute uses, lowest and highest.
    pub first_port: u16,
    pub last_port: u16,
    /// An arriving TTL at or below this is "low": set to expire about here.
    pub low_ttl: u8,
    /// UDP probes (to ports in the range, from one source to one host) needed, with a low TTL
    /// or three different TTLs among them.
    pub udp_probes: u64,
    /// Different TTLs of echo requests from one source to one host needed, one of them low.
    pub icmp_ttls: usize,
    /// Probes further apart than this are not counted together.
    pub window_secs: u64,
}

impl Default for TracerouteConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            first_port: 33_434,
            last_port: 33_600,
            low_ttl: 5,
            udp_probes: 2,
            icmp_ttls: 3,
            window_secs: 30,
        }
    }
}

#[derive(Default)]
struct Trace {
    first_ns: u64,
    udp_probes: u64,
    udp_ttls: Ttls,
    ports: PortSet,
    echo_probes: u64,
    echo_ttls: Ttls,
    /// Probes already handed to the book.
    reported: u64,
    /// Reported as a traceroute.
    found: bool,
}

pub(crate) struct Traceroute {
    traces: Lru<(IpAddr, IpAddr), Trace>,
}

impl Traceroute {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            traces: Lru::new(cap),
        }
    }
}

impl Detector for Traceroute {
    fn expire(&mut self, now: u64, case_ns: u64, config: &Config) {
        // A found trace lives as long as its finding; an unfound one only for the window.
        let window = secs(config.traceroute.window_secs).min(case_ns);
        self.traces.expire(now.saturating_sub(window));
    }

    fn observe(&mut self, v: &View<'_>, ctx: &Ctx<'_>, claims: &mut Claims, o: &mut Out<'_>) {
        let c = v.c;
        let cfg = &ctx.config.traceroute;
        if !cfg.enabled {
            return;
        }
        let udp = c.proto == Proto::Udp && (cfg.first_port..=cfg.last_port).contains(&c.dst_port);
        let echo = v.echo_request() && !v.broadcast;
        if !udp && !echo {
            return;
        }
        let trace = self.traces.touch(&(c.src, c.dst), c.ts_ns, || Trace {
            first_ns: c.ts_ns,
            ..Trace::default()
        });
        if udp {
            trace.udp_probes += 1;
            trace.udp_ttls.add(c.ttl);
            trace.ports.insert(c.dst_port);
        } else {
            trace.echo_probes += 1;
            trace.echo_ttls.add(c.ttl);
        }
        let udp_trace = trace.udp_probes >= cfg.udp_probes.max(1)
            && (trace.udp_ttls.min <= cfg.low_ttl || trace.udp_ttls.values.len() >= 3);
        let echo_trace = trace.echo_ttls.values.len() >= cfg.icmp_ttls.max(2)
            && trace.echo_ttls.min <= cfg.low_ttl;
        if udp && (c.ttl <= cfg.low_ttl || udp_trace || trace.found) {
            // Not a port scan's probe, and its port needs no reading of its own.
            claims.port_explained = true;
            claims.not_scan = true;
        }
        if !(udp_trace || echo_trace) {
            return;
        }
        trace.found = true;
        if echo {
            claims.not_scan = true;
        }
        let probes = trace.udp_probes + trace.echo_probes;
        let add = probes.saturating_sub(trace.reported);
        trace.reported = probes;
        let (mode, ttls, n) = if udp_trace {
            ("udp", &trace.udp_ttls, trace.udp_probes)
        } else {
            ("icmp", &trace.echo_ttls, trace.echo_probes)
        };
        let ttl_list = ttls.list();
        let ttl_words = ttl_list
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let how = if udp_trace {
            format!(
                "{n} UDP probe{s} to ports {ports}, the range Unix traceroute uses, arrived with \
                 TTL {ttl_words}",
                s = plural(n),
                ports = trace.ports.render(ctx.config.limits.max_port_runs),
            )
        } else {
            format!(
                "{n} ping{s} arrived with TTL {ttl_words}: the sender raises the TTL probe by \
                 probe, as traceroute -I, mtr and Windows tracert do",
                s = plural(n),
            )
        };
        // The evidence cites the FAQ sections in its own order: only the text is the topic's.
        let (explanation, _) = STORY.tell(ctx.knowledge, &[&v.src, &v.dst, &how]);
        o.push(super::Draft {
            proto: Some(if udp_trace { Proto::Udp } else { c.proto }),
            port: None,
            add,
            first_seen_ns: trace.first_ns,
            evidence: Some(Evidence::Traceroute(evidence::Traceroute {
                mode,
                probes: n,
                ttls: ttl_list,
                ports: trace.ports.render(ctx.config.limits.max_port_runs),
                faq: "1.1, 5".into(),
            })),
            explanation,
            ..base(KIND, Level::Benign, v)
        });
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{contact::Contact, detect::testkit::*};

    /// Linux traceroute from a neighbour: three probes per TTL, 16 in flight at once.
    fn udp_trace(ttls: &[u8]) -> Vec<Contact> {
        ttls.iter()
            .enumerate()
            .map(|(i, t)| {
                let port = 33_434 + i as u16;
                at(
                    ttl(udp("198.18.0.2", 44_000, "198.18.0.1", port), *t),
                    i as u64,
                )
            })
            .collect()
    }

    #[test]
    fn udp_probes_with_low_rising_ttls_are_a_traceroute() {
        let lines = run(&mut engine(), &udp_trace(&[1, 1, 1, 2, 2, 2, 3, 3, 3]));
        let f = last_of(&lines, KIND);
        assert_eq!(
            (f.level, f.src.as_deref(), f.dst.as_deref(), f.count, f.port),
            (
                Level::Benign,
                Some("198.18.0.2"),
                Some("198.18.0.1"),
                9,
                None
            )
        );
        assert_eq!(f.proto, Some(Proto::Udp));
        assert_eq!(f.evidence["mode"], json!("udp"));
        assert_eq!(f.evidence["ttls"], json!([1, 2, 3]));
        assert_eq!(f.evidence["ports"], json!("33434-33442"));
        assert_eq!(opened(&lines), vec![KIND], "no scan, no port meaning");
    }

    #[test]
    fn one_probe_or_normal_ttls_are_not_a_traceroute() {
        assert!(run(&mut engine(), &udp_trace(&[1])).is_empty());
        assert!(of(&run(&mut engine(), &udp_trace(&[64, 64, 64])), KIND).is_empty());
    }

    #[test]
    fn pings_with_rising_ttls_are_an_icmp_traceroute() {
        let contacts: Vec<_> = (1..=6u8)
            .map(|t| at(ttl(icmp("198.18.0.2", "198.18.0.1", 8, 0), t), u64::from(t)))
            .collect();
        let lines = run(&mut engine(), &contacts);
        let f = last_of(&lines, KIND);
        assert_eq!(
            (f.src.as_deref(), f.count, f.proto),
            (Some("198.18.0.2"), 6, Some(Proto::Icmp))
        );
        assert_eq!(f.evidence["mode"], json!("icmp"));
        assert_eq!(f.evidence["ttls"], json!([1, 2, 3, 4, 5, 6]));
        let first = of(&lines, KIND)[0];
        assert_eq!(first.count, 3);
    }

    #[test]
    fn ordinary_pings_are_not_a_traceroute() {
        // Two TTLs (a route change), or a ping at one TTL: no.
        let lines = run(
            &mut engine(),
            &[
                ttl(icmp("198.18.0.2", "198.18.0.1", 8, 0), 64),
                at(ttl(icmp("198.18.0.2", "198.18.0.1", 8, 0), 63), 1000),
                at(ttl(icmp("198.18.0.3", "198.18.0.1", 8, 0), 1), 1000),
            ],
        );
        assert!(lines.is_empty(), "{lines:#?}");
        // Three TTLs, none low: no.
        let lines = run(
            &mut engine(),
            &[
                ttl(icmp("198.18.0.2", "198.18.0.1", 8, 0), 64),
                ttl(icmp("198.18.0.2", "198.18.0.1", 8, 0), 63),
                ttl(icmp("198.18.0.2", "198.18.0.1", 8, 0), 62),
            ],
        );
        assert!(lines.is_empty(), "{lines:#?}");
    }

    #[test]
    fn icmpv6_traceroutes_count_too() {
        let contacts: Vec<_> = (1..=3u8)
            .map(|t| ttl(icmp6("2001:db8::2", "2001:db8::1", 128, 0), t))
            .collect();
        let f = last_of(&run(&mut engine(), &contacts), KIND).clone();
        assert_eq!((f.count, f.proto), (3, Some(Proto::Icmpv6)));
    }
}
