//! `proxy_check`: one source trying SOCKS (1080) together with web proxy ports (3128, 8080,
//! 8000, 8001, 8888). IRC servers check joining users this way; attackers and spammers hunt
//! for open proxies the same way (FAQ 1.11, 1.1 ports 1080 and 3128).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::{
    Acc, Claims, Config, Ctx, Detector, Out, Story, View, addr_words, base, secs, table::Lru,
};
use crate::{
    contact::Proto,
    findings::{Evidence, Kind, evidence},
    knowledge::Level,
};

pub(crate) const KIND: Kind = Kind::ProxyCheck;

/// The finding's explanation.
pub(crate) const STORY: Story = Story {
    topic: "irc-proxy-checks",
    marks: &["src", "hosts", "socks", "ports"],
};

/// `proxy_check`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProxyConfig {
    pub enabled: bool,
    pub socks_port: u16,
    /// Web proxy ports; at least one of them with SOCKS makes a proxy check.
    pub proxy_ports: Vec<u16>,
    pub window_secs: u64,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            socks_port: 1080,
            proxy_ports: vec![3128, 8080, 8000, 8001, 8888],
            window_secs: 60,
        }
    }
}

struct Source {
    acc: Acc,
    found: bool,
}

pub(crate) struct Proxy {
    sources: Lru<IpAddr, Source>,
}

impl Proxy {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            sources: Lru::new(cap),
        }
    }
}

impl Detector for Proxy {
    fn expire(&mut self, now: u64, case_ns: u64, config: &Config) {
        let keep = case_ns.max(secs(config.proxy_check.window_secs));
        self.sources.expire(now.saturating_sub(keep));
    }

    fn observe(&mut self, v: &View<'_>, ctx: &Ctx<'_>, claims: &mut Claims, o: &mut Out<'_>) {
        let c = v.c;
        let cfg = &ctx.config.proxy_check;
        let socks = c.dst_port == cfg.socks_port;
        if !cfg.enabled
            || c.proto != Proto::Tcp
            || !v.syn
            || !(socks || cfg.proxy_ports.contains(&c.dst_port))
        {
            return;
        }
        let list = ctx.config.limits.max_list;
        let s = self.sources.touch(&c.src, c.ts_ns, || Source {
            acc: Acc::new(c.ts_ns, list),
            found: false,
        });
        if !s.found && c.ts_ns.saturating_sub(s.acc.first_ns) > secs(cfg.window_secs) {
            *s = Source {
                acc: Acc::new(c.ts_ns, list),
                found: false,
            };
        }
        s.acc.see(c);
        let has_socks = s.acc.ports.contains(cfg.socks_port);
        let others = cfg
            .proxy_ports
            .iter()
            .filter(|p| s.acc.ports.contains(**p))
            .count();
        if !(s.found || (has_socks && others > 0)) {
            return;
        }
        s.found = true;
        claims.port_explained = true;
        let ports = s.acc.ports.render(ctx.config.limits.max_port_runs);
        // The evidence cites FAQ 1.1 as well: only the text is the topic's.
        let (explanation, _) = STORY.tell(
            ctx.knowledge,
            &[
                &v.src,
                &addr_words(&s.acc.hosts, list),
                &cfg.socks_port.to_string(),
                &ports,
            ],
        );
        o.push(super::Draft {
            dst: s.acc.dst(),
            port: s.acc.port(),
            add: s.acc.take(),
            first_seen_ns: s.acc.first_ns,
            evidence: Some(Evidence::Proxy(evidence::Proxy {
                ports,
                hosts: super::addr_list(&s.acc.hosts, list),
                faq: "1.11, 1.1".into(),
            })),
            explanation,
            ..base(KIND, Level::Notable, v)
        });
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::detect::{meaning::PORT_MEANING, testkit::*};

    #[test]
    fn socks_with_a_web_proxy_port_is_a_proxy_check() {
        let lines = run(
            &mut engine(),
            &[
                syn("198.18.0.40", "198.18.0.1", 1080),
                at(syn("198.18.0.40", "198.18.0.1", 3128), 100),
                at(syn("198.18.0.40", "198.18.0.1", 8080), 200),
            ],
        );
        let f = last_of(&lines, KIND);
        assert_eq!(
            (f.level, f.src.as_deref(), f.dst.as_deref(), f.port, f.count),
            (
                Level::Notable,
                Some("198.18.0.40"),
                Some("198.18.0.1"),
                None,
                3
            )
        );
        assert_eq!(f.evidence["ports"], json!("1080,3128,8080"));
        assert_eq!(of(&lines, KIND)[0].count, 2);
        // 1080 alone was a port meaning first; 3128 and 8080 are the check's.
        let meanings = of(&lines, PORT_MEANING);
        assert_eq!(meanings.len(), 1);
        assert_eq!(meanings[0].port, Some(1080));
    }

    #[test]
    fn socks_alone_or_proxies_without_socks_are_not_a_proxy_check() {
        let lines = run(
            &mut engine(),
            &[
                syn("198.18.0.40", "198.18.0.1", 1080),
                syn("198.18.0.41", "198.18.0.1", 3128),
                at(syn("198.18.0.41", "198.18.0.1", 8080), 1),
                // Too far apart.
                syn("198.18.0.42", "198.18.0.1", 1080),
                at(syn("198.18.0.42", "198.18.0.1", 3128), 61_000),
            ],
        );
        assert!(of(&lines, KIND).is_empty(), "{lines:#?}");
    }
}
