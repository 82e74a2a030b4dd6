//! `netbios_chatter`: NetBIOS name queries (UDP 137). Windows machines and Samba ask every host
//! they deal with for its name table, so these fill firewall logs and are normal (FAQ 1.1,
//! section 10 whose text is lost).

use std::net::IpAddr;

use super::{
    Acc, Claims, Config, Ctx, Detector, Out, Story, View, addr_list, addr_words, base, table::Lru,
};
use crate::{
    contact::Proto,
    findings::{Evidence, Kind, evidence},
    knowledge::Level,
};

pub(crate) const KIND: Kind = Kind::NetbiosChatter;

/// The finding's explanation.
pub(crate) const STORY: Story = Story {
    topic: "netbios",
    marks: &["src", "hosts"],
};

const NAME_SERVICE: u16 = 137;

pub(crate) struct Netbios {
    cases: Lru<IpAddr, Acc>,
}

impl Netbios {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            cases: Lru::new(cap),
        }
    }
}

impl Detector for Netbios {
    fn expire(&mut self, now: u64, case_ns: u64, _config: &Config) {
        self.cases.expire(now.saturating_sub(case_ns));
    }

    fn observe(&mut self, v: &View<'_>, ctx: &Ctx<'_>, claims: &mut Claims, o: &mut Out<'_>) {
        let c = v.c;
        if !ctx.config.netbios_chatter.enabled
            || c.proto != Proto::Udp
            || c.dst_port != NAME_SERVICE
        {
            return;
        }
        claims.port_explained = true;
        let list = ctx.config.limits.max_list;
        let acc = self
            .cases
            .touch(&c.src, c.ts_ns, || Acc::new(c.ts_ns, list));
        acc.see(c);
        // The evidence cites the FAQ sections in its own order: only the text is the topic's.
        let (explanation, _) = STORY.tell(ctx.knowledge, &[&v.src, &addr_words(&acc.hosts, list)]);
        o.push(super::Draft {
            dst: acc.dst(),
            add: acc.take(),
            first_seen_ns: acc.first_ns,
            evidence: Some(Evidence::Netbios(evidence::Netbios {
                hosts: addr_list(&acc.hosts, list),
                hosts_total: acc.hosts.len(),
                src_port: c.src_port,
                faq: "1.1, 10".into(),
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
    fn name_queries_are_benign_chatter() {
        let lines = run(
            &mut engine(),
            &[
                udp("198.18.0.5", 137, "198.18.0.1", 137),
                at(udp("198.18.0.5", 137, "198.18.0.1", 137), 10),
            ],
        );
        let f = last_of(&lines, KIND);
        assert_eq!(
            (f.level, f.src.as_deref(), f.port, f.count),
            (Level::Benign, Some("198.18.0.5"), Some(137), 2)
        );
        assert_eq!(f.evidence["hosts"], json!(["198.18.0.1"]));
        assert_eq!(opened(&lines), vec![KIND]);
    }

    #[test]
    fn other_netbios_ports_are_not_name_chatter() {
        let lines = run(
            &mut engine(),
            &[
                udp("198.18.0.5", 138, "198.18.0.1", 138),
                syn("198.18.0.5", "198.18.0.1", 139),
                udp("198.18.0.5", 137, "198.18.0.1", 40_000),
            ],
        );
        assert!(of(&lines, KIND).is_empty());
    }
}
