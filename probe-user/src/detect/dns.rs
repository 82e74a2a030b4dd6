//! `dns_low_source_port`: DNS queries from source ports below 1024. They come from machines
//! behind NAT, which hands out ports without regard for the reserved range (FAQ 1.9).

use std::net::IpAddr;

use super::{Acc, Claims, Config, Ctx, Detector, Out, Story, View, addr_list, base, table::Lru};
use crate::{
    contact::Proto,
    findings::{Evidence, Kind, evidence},
    knowledge::Level,
};

pub(crate) const KIND: Kind = Kind::DnsLowSourcePort;

/// The finding's explanation.
pub(crate) const STORY: Story = Story {
    topic: "nat-dns",
    marks: &["src", "dst", "sp"],
};

const DNS: u16 = 53;

pub(crate) struct Dns {
    cases: Lru<IpAddr, Acc>,
    /// The low source ports each source used.
    ports: Lru<IpAddr, super::table::PortSet>,
}

impl Dns {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            cases: Lru::new(cap),
            ports: Lru::new(cap),
        }
    }
}

impl Detector for Dns {
    fn expire(&mut self, now: u64, case_ns: u64, _config: &Config) {
        self.cases.expire(now.saturating_sub(case_ns));
        self.ports.expire(now.saturating_sub(case_ns));
    }

    fn observe(&mut self, v: &View<'_>, ctx: &Ctx<'_>, claims: &mut Claims, o: &mut Out<'_>) {
        let c = v.c;
        // Port 53 to 53 is a resolver talking to a server, as many do (FAQ 1.9); port 0 is
        // `port_zero`'s.
        if !ctx.config.dns_low_source_port.enabled
            || c.proto != Proto::Udp
            || c.dst_port != DNS
            || c.src_port == 0
            || c.src_port == DNS
            || c.src_port >= 1024
        {
            return;
        }
        claims.port_explained = true;
        let list = ctx.config.limits.max_list;
        let acc = self
            .cases
            .touch(&c.src, c.ts_ns, || Acc::new(c.ts_ns, list));
        acc.see(c);
        let used = self.ports.touch(&c.src, c.ts_ns, Default::default);
        used.insert(c.src_port);
        let (explanation, faq) =
            STORY.tell(ctx.knowledge, &[&v.src, &v.dst, &c.src_port.to_string()]);
        o.push(super::Draft {
            dst: acc.dst(),
            add: acc.take(),
            first_seen_ns: acc.first_ns,
            evidence: Some(Evidence::DnsLowPort(evidence::DnsLowPort {
                src_ports: used.render(ctx.config.limits.max_port_runs),
                servers: addr_list(&acc.hosts, list),
                faq,
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
    use crate::detect::testkit::*;

    #[test]
    fn a_query_from_a_low_port_is_nat() {
        let lines = run(&mut engine(), &[udp("198.18.0.5", 1001, "198.18.0.1", 53)]);
        let f = last_of(&lines, KIND);
        assert_eq!(
            (f.level, f.src.as_deref(), f.port, f.count),
            (Level::Benign, Some("198.18.0.5"), Some(53), 1)
        );
        assert_eq!(f.evidence["src_ports"], json!("1001"));
        assert_eq!(opened(&lines), vec![KIND]);
    }

    #[test]
    fn queries_from_high_ports_or_53_and_answers_are_quiet() {
        let lines = run(
            &mut engine(),
            &[
                udp("198.18.0.5", 40_000, "198.18.0.1", 53),
                udp("198.18.0.6", 53, "198.18.0.1", 53),
                udp("198.18.0.7", 1024, "198.18.0.1", 53),
                udp("198.18.0.53", 53, "198.18.0.1", 40_001),
            ],
        );
        assert!(lines.is_empty(), "{lines:#?}");
    }
}
