//! Which scanner a source runs, from the marks its probes carry (`knowledge::tools`). One probe
//! may match a mark by chance (an IP identification of 54321 is one in 65,536); a tool is named
//! only once at least `MIN_PROBES` of a source's SYNs were seen and four in five carry its mark.
//! Every finding about the source then names it.

use std::net::IpAddr;

use super::{View, table::Lru};
use crate::knowledge::tools::{Tool, mark};

/// Probes a source must have sent before its tool is named.
pub const MIN_PROBES: u32 = 5;

/// A source's SYNs, and how many carried each tool's mark.
#[derive(Clone, Copy, Debug, Default)]
struct Tally {
    probes: u32,
    marked: [u32; Tool::ALL.len()],
}

pub(crate) struct Tools {
    sources: Lru<IpAddr, Tally>,
}

impl Tools {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            sources: Lru::new(cap),
        }
    }

    /// Counts `v`'s contact, if it is a SYN over IPv4; returns the tool its source is
    /// recognised as now, with how many of its probes matched and out of how many.
    pub(crate) fn observe(&mut self, v: &View<'_>) -> Option<(Tool, u32, u32)> {
        let c = v.c;
        let marked = mark(c, v.syn);
        if !(v.syn && c.src.is_ipv4()) {
            return self.verdict(&c.src);
        }
        let t = self.sources.touch(&c.src, c.ts_ns, Tally::default);
        t.probes = t.probes.saturating_add(1);
        if let Some(tool) = marked {
            let i = Tool::ALL.iter().position(|x| *x == tool).unwrap_or(0);
            t.marked[i] = t.marked[i].saturating_add(1);
        }
        self.verdict(&c.src)
    }

    fn verdict(&self, src: &IpAddr) -> Option<(Tool, u32, u32)> {
        let t = self.sources.get(src)?;
        if t.probes < MIN_PROBES {
            return None;
        }
        Tool::ALL
            .iter()
            .zip(t.marked)
            .filter(|(_, n)| u64::from(*n) * 5 >= u64::from(t.probes) * 4)
            .map(|(tool, n)| (*tool, n, t.probes))
            .next()
    }

    pub(crate) fn expire(&mut self, before: u64) {
        self.sources.expire(before);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::{
        contact::Contact,
        detect::{scan::VERTICAL, testkit::*},
    };

    /// A SYN from 198.18.0.66 to 198.18.0.1:`port`, with these header fields.
    fn probe(port: u16, ip_id: u32, seq: u32, window: u16, ms: u64) -> Contact {
        let mut c = at(syn("198.18.0.66", "198.18.0.1", port), ms);
        (c.ip_id, c.tcp_seq, c.tcp_window) = (ip_id, seq, window);
        c
    }

    const SENSOR: u32 = u32::from_be_bytes([198, 18, 0, 1]);

    fn scan(make: impl Fn(u16) -> Contact) -> Vec<crate::findings::Finding> {
        let contacts: Vec<_> = (0..30u16).map(|i| make(40_000 + i)).collect();
        run(&mut engine(), &contacts)
    }

    #[test]
    fn a_zmap_masscan_or_mirai_scan_names_its_tool_in_its_findings() {
        type Probe = Box<dyn Fn(u16) -> Contact>;
        let cases: [(&str, Probe); 4] = [
            (
                "zmap",
                Box::new(|p| probe(p, 54_321, 7, 65_535, u64::from(p))),
            ),
            (
                "masscan",
                Box::new(|p| {
                    let seq = 0x1234_5678 ^ u32::from(p);
                    probe(
                        p,
                        (SENSOR ^ u32::from(p) ^ seq) & 0xffff,
                        seq,
                        1024,
                        u64::from(p),
                    )
                }),
            ),
            (
                "mirai",
                Box::new(|p| probe(p, 99, SENSOR, 14_600, u64::from(p))),
            ),
            (
                "nmap",
                Box::new(|p| probe(p, 31_000 + u32::from(p), 9, 1024, u64::from(p))),
            ),
        ];
        for (tool, make) in cases {
            let lines = scan(make);
            let f = last_of(&lines, VERTICAL);
            assert_eq!(f.tool.as_deref(), Some(tool), "{tool}: {f:#?}");
            assert_eq!(
                f.evidence["tool_probes"],
                json!({"matched": 30, "probes": 30}),
                "{tool}"
            );
            let name = crate::knowledge::tools::Tool::from_name(tool).unwrap();
            assert!(f.explanation.ends_with(name.sentence()), "{tool}");
        }
    }

    #[test]
    fn an_ordinary_scan_and_a_few_coincidences_name_no_tool() {
        // A Linux-like SYN (window 64240), one probe in ten with ZMap's identification.
        let lines = scan(|p| {
            let id = if p % 10 == 0 {
                54_321
            } else {
                u32::from(p) * 7
            };
            probe(p, id, 0xdead_0000 | u32::from(p), 64_240, u64::from(p))
        });
        let f = last_of(&lines, VERTICAL);
        assert_eq!(f.tool, None);
        assert!(f.evidence.get("tool_probes").is_none());
        // Four probes with the mark are not yet enough to name ZMap.
        let few: Vec<_> = [22u16, 23, 143, 3389]
            .iter()
            .enumerate()
            .map(|(i, p)| probe(*p, 54_321, 1, 65_535, i as u64))
            .collect();
        let lines = run(&mut engine(), &few);
        assert!(lines.iter().all(|f| f.tool.is_none()), "{lines:#?}");
        assert!(!lines.is_empty());
    }
}
