//! `remapped_service`: one source looking for a service both where it belongs and where it is
//! commonly moved to — HTTP on 81, 88, 8000, 8080, 8888; POP3 on 1100 (FAQ 1.12). A scanner
//! that tries the usual variations defeats the idea of hiding a service on another port.

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

pub(crate) const KIND: Kind = Kind::RemappedService;

/// The finding's explanation.
pub(crate) const STORY: Story = Story {
    topic: "remapped-ports",
    marks: &["src", "service", "hosts", "where", "ports"],
};

/// A service and the ports it is commonly moved to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemapFamily {
    pub service: String,
    pub port: u16,
    pub alternates: Vec<u16>,
}

/// `remapped_service`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RemapConfig {
    pub enabled: bool,
    pub families: Vec<RemapFamily>,
    /// Ports of one family, at least one an alternate, from one source within the window.
    pub min_ports: usize,
    pub window_secs: u64,
}

impl Default for RemapConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            families: vec![
                RemapFamily {
                    service: "HTTP".to_owned(),
                    port: 80,
                    alternates: vec![81, 88, 8000, 8080, 8888],
                },
                RemapFamily {
                    service: "POP3".to_owned(),
                    port: 110,
                    alternates: vec![1100],
                },
            ],
            min_ports: 2,
            window_secs: 60,
        }
    }
}

struct Hunt {
    acc: Acc,
    found: bool,
}

pub(crate) struct Remap {
    hunts: Lru<(IpAddr, usize), Hunt>,
}

impl Remap {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            hunts: Lru::new(cap),
        }
    }
}

impl Detector for Remap {
    fn expire(&mut self, now: u64, case_ns: u64, config: &Config) {
        let keep = case_ns.max(secs(config.remapped_service.window_secs));
        self.hunts.expire(now.saturating_sub(keep));
    }

    fn observe(&mut self, v: &View<'_>, ctx: &Ctx<'_>, claims: &mut Claims, o: &mut Out<'_>) {
        let c = v.c;
        let cfg = &ctx.config.remapped_service;
        if !cfg.enabled || c.proto != Proto::Tcp || !v.syn {
            return;
        }
        let list = ctx.config.limits.max_list;
        for (i, fam) in cfg.families.iter().enumerate() {
            if c.dst_port != fam.port && !fam.alternates.contains(&c.dst_port) {
                continue;
            }
            let h = self.hunts.touch(&(c.src, i), c.ts_ns, || Hunt {
                acc: Acc::new(c.ts_ns, list),
                found: false,
            });
            if !h.found && c.ts_ns.saturating_sub(h.acc.first_ns) > secs(cfg.window_secs) {
                *h = Hunt {
                    acc: Acc::new(c.ts_ns, list),
                    found: false,
                };
            }
            h.acc.see(c);
            let tried: Vec<u16> = std::iter::once(fam.port)
                .chain(fam.alternates.iter().copied())
                .filter(|p| h.acc.ports.contains(*p))
                .collect();
            let alternates = tried.iter().filter(|p| **p != fam.port).count();
            if !(h.found || (tried.len() >= cfg.min_ports.max(2) && alternates > 0)) {
                continue;
            }
            h.found = true;
            claims.port_explained = true;
            let where_ = if tried.contains(&fam.port) {
                format!("both on its usual port {} and on", fam.port)
            } else {
                "on".to_owned()
            };
            let ports = tried
                .iter()
                .filter(|p| **p != fam.port)
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            let (explanation, faq) = STORY.tell(
                ctx.knowledge,
                &[
                    &v.src,
                    &fam.service,
                    &addr_words(&h.acc.hosts, list),
                    &where_,
                    &ports,
                ],
            );
            o.push(super::Draft {
                subject: format!("{} {}", v.src, fam.service),
                dst: h.acc.dst(),
                // The service's own port: the finding is about the service, the alternates
                // tried are in the evidence.
                port: Some(fam.port),
                add: h.acc.take(),
                first_seen_ns: h.acc.first_ns,
                evidence: Some(Evidence::Remap(evidence::Remap {
                    service: fam.service.clone(),
                    usual_port: fam.port,
                    ports_tried: tried.clone(),
                    hosts: super::addr_list(&h.acc.hosts, list),
                    faq,
                })),
                explanation,
                ..base(KIND, Level::Notable, v)
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::detect::testkit::*;

    #[test]
    fn http_on_its_port_and_a_remapped_one_is_a_remap_hunt() {
        let lines = run(
            &mut engine(),
            &[
                syn("198.18.0.50", "198.18.0.1", 80),
                at(syn("198.18.0.50", "198.18.0.1", 8080), 10),
                at(syn("198.18.0.50", "198.18.0.1", 81), 20),
            ],
        );
        let f = last_of(&lines, KIND);
        assert_eq!(
            (f.level, f.src.as_deref(), f.port, f.count),
            (Level::Notable, Some("198.18.0.50"), Some(80), 3)
        );
        assert_eq!(f.evidence["ports_tried"], json!([80, 81, 8080]));
        assert_eq!(f.evidence["service"], json!("HTTP"));
        assert_eq!(of(&lines, KIND)[0].count, 2);
    }

    #[test]
    fn pop3_on_1100_and_two_alternates_without_the_original() {
        let lines = run(
            &mut engine(),
            &[
                syn("198.18.0.51", "198.18.0.1", 110),
                at(syn("198.18.0.51", "198.18.0.1", 1100), 10),
            ],
        );
        assert_eq!(last_of(&lines, KIND).evidence["service"], json!("POP3"));
        let lines = run(
            &mut engine(),
            &[
                syn("198.18.0.52", "198.18.0.1", 8000),
                at(syn("198.18.0.52", "198.18.0.1", 8888), 10),
            ],
        );
        assert_eq!(
            last_of(&lines, KIND).evidence["ports_tried"],
            json!([8000, 8888])
        );
    }

    #[test]
    fn one_web_port_or_unrelated_ports_are_not_a_remap_hunt() {
        let lines = run(
            &mut engine(),
            &[
                syn("198.18.0.53", "198.18.0.1", 80),
                syn("198.18.0.54", "198.18.0.1", 8080),
                syn("198.18.0.55", "198.18.0.1", 80),
                at(syn("198.18.0.55", "198.18.0.1", 443), 1),
                at(syn("198.18.0.55", "198.18.0.1", 110), 2),
            ],
        );
        assert!(of(&lines, KIND).is_empty(), "{lines:#?}");
    }
}
