//! `sscan`: the sscan scanning script, known by its TCP source ports 1 to 5 (FAQ 1.2) and by its
//! probe of port 1114, mSQL, which almost nothing else checks (FAQ 1.1).
//!
//! The FAQ names only 1114 of sscan's port list (its section 5 is lost). The default set adds
//! the services that scripts of sscan's era checked for known holes — FTP, telnet, SMTP, DNS,
//! finger, HTTP, POP3, portmapper, IMAP, mountd, X11 — from general knowledge; it is
//! configurable. The set only matters without the low source ports: then 1114 plus enough of
//! the set from one source within the window makes the verdict.

use std::{net::IpAddr, sync::Arc};

use probe_common::packet::tcp_flags::ACK;
use serde::{Deserialize, Serialize};

use super::{
    Acc, Claims, Config, Ctx, Detector, Out, Story, View, addr_list_and_words, base_to, ip_text,
    plural, secs, table::Lru,
};
use crate::{
    contact::Proto,
    findings::{Evidence, Kind, Later, evidence},
    knowledge::{Knowledge, Level},
};

pub(crate) const KIND: Kind = Kind::Sscan;

/// The finding's explanation.
pub(crate) const STORY: Story = Story {
    topic: "sscan",
    marks: &["src", "hosts", "reason", "n", "s"],
};

const MSQL: u16 = 1114;

/// `sscan`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SscanConfig {
    pub enabled: bool,
    /// TCP source ports that give sscan away.
    pub first_source_port: u16,
    pub last_source_port: u16,
    /// The ports sscan probes (1114 is the telling one).
    pub ports: Vec<u16>,
    /// Ports of the set, 1114 among them, from one source within the window.
    pub set_ports: usize,
    pub window_secs: u64,
}

impl Default for SscanConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            first_source_port: 1,
            last_source_port: 5,
            ports: vec![21, 23, 25, 53, 79, 80, 110, 111, 143, 635, 1114, 6000],
            set_ports: 4,
            window_secs: 60,
        }
    }
}

#[derive(Clone)]
struct Source {
    acc: Acc,
    low_ports: super::table::Capped<u16>,
    set_hit: super::table::Capped<u16>,
    found: bool,
}

pub(crate) struct Sscan {
    /// Shared with the evidence the book makes later (see `Out::retire`).
    sources: Lru<IpAddr, Arc<Source>>,
}

impl Sscan {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            sources: Lru::new(cap),
        }
    }
}

impl Detector for Sscan {
    fn expire(&mut self, now: u64, case_ns: u64, config: &Config) {
        // Unfound sources only need the window; found ones live as long as their finding.
        let keep = case_ns.max(secs(config.sscan.window_secs));
        self.sources.expire(now.saturating_sub(keep));
    }

    fn observe(&mut self, v: &View<'_>, ctx: &Ctx<'_>, claims: &mut Claims, o: &mut Out<'_>) {
        let c = v.c;
        let cfg = &ctx.config.sscan;
        if !cfg.enabled || c.proto != Proto::Tcp || c.tcp_flags & ACK != 0 {
            return;
        }
        let low = (cfg.first_source_port..=cfg.last_source_port).contains(&c.src_port);
        let in_set = cfg.ports.contains(&c.dst_port);
        let list = ctx.config.limits.max_list;
        let window = secs(cfg.window_secs);
        let known = self.sources.get(&c.src).is_some_and(|known| known.found);
        if !low && !in_set && !known {
            return;
        }
        if known {
            // A found source gets a draft for every probe it sends.
            o.retire(KIND, &v.src);
        }
        let shared = self.sources.touch(&c.src, c.ts_ns, || {
            Arc::new(Source {
                acc: Acc::new(c.ts_ns, list),
                low_ports: super::table::Capped::new(16),
                set_hit: super::table::Capped::new(64),
                found: false,
            })
        });
        let state = Arc::make_mut(shared);
        if !state.found && c.ts_ns.saturating_sub(state.acc.first_ns) > window {
            // Too slow to count together: start over from this probe.
            *state = Source {
                acc: Acc::new(c.ts_ns, list),
                low_ports: super::table::Capped::new(16),
                set_hit: super::table::Capped::new(64),
                found: false,
            };
        }
        state.acc.see(c);
        if low {
            state.low_ports.insert(c.src_port);
        }
        if in_set {
            state.set_hit.insert(c.dst_port);
        }
        let by_set = state.set_hit.contains(&MSQL) && state.set_hit.len() >= cfg.set_ports.max(2);
        if !(state.found || state.low_ports.len() > 0 || by_set) {
            return;
        }
        state.found = true;
        claims.port_explained = true;
        let (dst, port, add, first_seen_ns) = (
            state.acc.dst(),
            state.acc.port(),
            state.acc.take(),
            state.acc.first_ns,
        );
        let state = Arc::clone(shared);
        let source = c.src;
        let runs = ctx.config.limits.max_port_runs;
        let knowledge = Arc::clone(ctx.knowledge);
        o.push(super::Draft {
            port,
            add,
            first_seen_ns,
            later: Some(Later::new(move || {
                render(&state, &knowledge, source, list, runs)
            })),
            ..base_to(KIND, Level::Suspicious, v, dst)
        });
    }
}

/// The evidence and explanation of an sscan finding, from its source's state.
fn render(
    state: &Source,
    knowledge: &Knowledge,
    source: IpAddr,
    list: usize,
    runs: usize,
) -> (Evidence, String) {
    let lows: Vec<u16> = state.low_ports.iter().copied().collect();
    let set: Vec<u16> = state.set_hit.iter().copied().collect();
    let reason = if lows.is_empty() {
        format!(
            "it probed {n} of sscan's ports including 1114 (mSQL), a port hardly \
             anything but sscan checks (FAQ 1.1)",
            n = set.len()
        )
    } else {
        format!(
            "its probes come from TCP source port{s} {ports}, which no real stack \
             uses as a client port and which is sscan's signature (FAQ 1.2)",
            s = plural(lows.len() as u64),
            ports = lows
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        )
    };
    let (n, src) = (u64::from(state.acc.ports.len()), ip_text(source));
    let (host_list, hosts) = addr_list_and_words(&state.acc.hosts, list);
    // The evidence cites the FAQ sections in its own order: only the text is the topic's.
    let (explanation, _) = STORY.tell(
        knowledge,
        &[&src, &hosts, &reason, &n.to_string(), plural(n)],
    );
    let evidence = Evidence::Sscan(evidence::Sscan {
        low_source_ports: lows,
        sscan_ports_hit: set,
        distinct_ports: n,
        hosts: host_list,
        ports: state.acc.ports.render(runs),
        faq: "1.2, 1.1, 5".into(),
    });
    (evidence, explanation)
}

#[cfg(test)]
mod tests {
    use probe_common::packet::tcp_flags::SYN;
    use serde_json::json;

    use super::*;
    use crate::detect::{scan::VERTICAL, testkit::*};

    #[test]
    fn probes_from_source_ports_one_to_five_are_sscan() {
        let contacts: Vec<_> = [21u16, 23, 25, 79, 80, 110, 111, 143, 1114, 6000]
            .iter()
            .enumerate()
            .map(|(i, p)| {
                at(
                    tcp("198.18.0.66", 1 + (i % 5) as u16, "198.18.0.1", *p, SYN),
                    i as u64,
                )
            })
            .collect();
        let lines = run(&mut engine(), &contacts);
        let f = last_of(&lines, KIND);
        assert_eq!(
            (f.level, f.src.as_deref(), f.dst.as_deref(), f.port, f.count),
            (
                Level::Suspicious,
                Some("198.18.0.66"),
                Some("198.18.0.1"),
                None,
                10
            )
        );
        assert_eq!(f.evidence["low_source_ports"], json!([1, 2, 3, 4, 5]));
        assert_eq!(f.evidence["distinct_ports"], json!(10));
        // The sscan finding explains every port: nothing else opens.
        assert_eq!(opened(&lines), vec![KIND]);
        let first = of(&lines, KIND)[0];
        assert_eq!((first.port, first.count), (Some(21), 1));
    }

    #[test]
    fn port_1114_with_enough_of_the_set_is_sscan() {
        let contacts: Vec<_> = [21u16, 23, 1114, 143]
            .iter()
            .enumerate()
            .map(|(i, p)| at(syn("198.18.0.67", "198.18.0.1", *p), i as u64))
            .collect();
        let lines = run(&mut engine(), &contacts);
        let f = last_of(&lines, KIND);
        assert_eq!((f.count, f.src.as_deref()), (4, Some("198.18.0.67")));
        assert_eq!(f.evidence["sscan_ports_hit"], json!([21, 23, 143, 1114]));
        assert_eq!(f.evidence["low_source_ports"], json!([]));
    }

    #[test]
    fn near_misses_are_not_sscan() {
        // 1114 alone, the set without 1114, source port 6, and a reply from tcpmux.
        let lines = run(
            &mut engine(),
            &[
                syn("198.18.0.67", "198.18.0.1", 1114),
                at(syn("198.18.0.68", "198.18.0.1", 21), 1),
                at(syn("198.18.0.68", "198.18.0.1", 23), 2),
                at(syn("198.18.0.68", "198.18.0.1", 25), 3),
                at(syn("198.18.0.68", "198.18.0.1", 80), 4),
                at(tcp("198.18.0.69", 6, "198.18.0.1", 80, SYN), 5),
                at(syn_ack("198.18.0.70", 1, "198.18.0.1", 40_000), 6),
            ],
        );
        assert!(of(&lines, KIND).is_empty(), "{lines:#?}");
        // 1114 and three of the set, but spread over more than the window.
        let slow: Vec<_> = [21u16, 23, 143, 1114]
            .iter()
            .enumerate()
            .map(|(i, p)| at(syn("198.18.0.67", "198.18.0.1", *p), i as u64 * 40_000))
            .collect();
        assert!(of(&run(&mut engine(), &slow), KIND).is_empty());
    }

    #[test]
    fn an_sscan_source_is_not_also_a_vertical_scan() {
        let contacts: Vec<_> = (0..30u16)
            .map(|i| {
                at(
                    tcp("198.18.0.66", 1, "198.18.0.1", 1000 + i, SYN),
                    u64::from(i),
                )
            })
            .collect();
        let lines = run(&mut engine(), &contacts);
        assert_eq!(last_of(&lines, KIND).count, 30);
        assert!(of(&lines, VERTICAL).is_empty());
    }
}
