//! Packets shaped to get past a filter: `tiny_fragment` (a first fragment too short for its
//! transport header) and `long_header_chain` (more IPv6 extension headers than a conforming
//! sender chains, or more than the parser walks).
//!
//! Neither is in the FAQ, which predates both attacks on filters being widely tooled; these
//! rest on the RFCs named in each explanation. The kernel counts both
//! (`tiny_fragments`, `long_header_chains` in `probe query stats`) and still hands on what the
//! packet held: the ports of a tiny fragment reach the scans, so a fragmented scan is also a
//! scan.

use std::net::IpAddr;

use probe_common::packet::IPV6_MAX_EXTENSIONS;
use serde::{Deserialize, Serialize};

use super::{Acc, Claims, Config, Ctx, Detector, Out, View, addr_list, addr_words, base, plural};
use crate::{
    findings::{Evidence, Kind, evidence},
    knowledge::Level,
};

pub(crate) const TINY: Kind = Kind::TinyFragment;
pub(crate) const CHAIN: Kind = Kind::LongHeaderChain;

/// Most extension headers of the kinds the parser walks that a conforming sender chains:
/// hop-by-hop, routing and fragment once each, destination options twice (RFC 8200 §4.1).
const CONFORMING_EXTENSIONS: u8 = 5;

/// `long_header_chain`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HeaderChainConfig {
    pub enabled: bool,
    /// Fewest IPv6 extension headers in one packet that is reported. A chain longer than the
    /// parser walks is always reported.
    pub headers: u8,
}

impl Default for HeaderChainConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            headers: CONFORMING_EXTENSIONS + 1,
        }
    }
}

pub(crate) struct Evasion {
    tiny: super::table::Lru<IpAddr, Acc>,
    chain: super::table::Lru<IpAddr, Acc>,
}

impl Evasion {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            tiny: super::table::Lru::new(cap),
            chain: super::table::Lru::new(cap),
        }
    }

    fn tiny(&mut self, v: &View<'_>, ctx: &Ctx<'_>, o: &mut Out<'_>) {
        let c = v.c;
        if !ctx.config.tiny_fragment.enabled || !c.tiny_fragment {
            return;
        }
        let list = ctx.config.limits.max_list;
        let acc = self.tiny.touch(&c.src, c.ts_ns, || Acc::new(c.ts_ns, list));
        acc.see(c);
        // What the first fragment left for a later one: that is what a filter missed.
        let in_chain = matches!(c.protocol, 0 | 43 | 44 | 60);
        let hidden = if in_chain {
            "ipv6_header_chain"
        } else if !c.proto.has_ports() && c.l4_held < 4 {
            "ports"
        } else if c.proto.has_ports() && !c.tcp_flags_known() {
            "tcp_flags"
        } else {
            "rest_of_header"
        };
        acc.tag(hidden);
        let n = acc.contacts;
        let what = match hidden {
            "ipv6_header_chain" => {
                "the rest of the IPv6 extension header chain, and the \
                                    transport header behind it,"
            }
            "ports" => "the whole transport header, ports included,",
            "tcp_flags" => "the TCP flags",
            _ => "the end of the transport header",
        };
        let ports = acc.ports.render(ctx.config.limits.max_port_runs);
        o.push(super::Draft {
            dst: acc.dst(),
            port: acc.port(),
            add: acc.take(),
            first_seen_ns: acc.first_ns,
            evidence: Some(Evidence::TinyFragment(evidence::TinyFragment {
                fragments: n,
                hidden: acc.tags.tally(),
                held_bytes: c.l4_held,
                ports: ports.clone(),
                hosts: addr_list(&acc.hosts, list),
                ttl_min: acc.ttls.min,
                ttl_max: acc.ttls.max,
                faq: "general".into(),
            })),
            explanation: format!(
                "{src} sent {n} first fragment{s} too short to hold the transport header \
                 (to {hosts}{on}); the latest held {held} byte{hs} of it and left {what} for a \
                 later fragment. No ordinary stack fragments that way: a link's smallest MTU \
                 leaves room for the whole header. It is the tiny-fragment attack of RFC 1858 \
                 and RFC 3128 (and, for IPv6, what RFC 7112 forbids): a filter that judges a \
                 packet by its first fragment never sees what it would have refused, while the \
                 host reassembles and answers. Scanners offer it as an option (nmap -f, \
                 --mtu). Drop first fragments that do not hold the whole transport header \
                 (RFC 1858 §3.1 shows how), or reassemble before filtering, and treat {src} as \
                 hostile.",
                src = v.src,
                s = plural(n),
                hosts = addr_words(&acc.hosts, list),
                on = if ports.is_empty() {
                    String::new()
                } else {
                    format!(", port{} {ports}", plural(u64::from(acc.ports.len())))
                },
                held = c.l4_held,
                hs = plural(u64::from(c.l4_held)),
            ),
            ..base(TINY, Level::Hostile, v)
        });
    }

    fn chain(&mut self, v: &View<'_>, ctx: &Ctx<'_>, o: &mut Out<'_>) {
        let c = v.c;
        let cfg = &ctx.config.long_header_chain;
        if !cfg.enabled || !(c.long_chain || c.extensions >= cfg.headers.max(1)) {
            return;
        }
        let list = ctx.config.limits.max_list;
        let acc = self
            .chain
            .touch(&c.src, c.ts_ns, || Acc::new(c.ts_ns, list));
        acc.see(c);
        acc.tag(if c.long_chain {
            "past_the_walk"
        } else {
            "walked"
        });
        let n = acc.contacts;
        let (count, behind) = if c.long_chain {
            (
                format!("more than {}", c.extensions),
                format!(
                    "The probe walks {IPV6_MAX_EXTENSIONS} headers, or 9,216 bytes, and stopped \
                     there, so what the chain carried is not known"
                ),
            )
        } else {
            (
                c.extensions.to_string(),
                format!("Behind them was {}", v.what()),
            )
        };
        o.push(super::Draft {
            dst: acc.dst(),
            port: acc.port(),
            add: acc.take(),
            first_seen_ns: acc.first_ns,
            evidence: Some(Evidence::HeaderChain(evidence::HeaderChain {
                packets: n,
                extensions: c.extensions,
                beyond_walk: c.long_chain,
                chains: acc.tags.tally(),
                ports: acc.ports.render(ctx.config.limits.max_port_runs),
                hosts: addr_list(&acc.hosts, list),
                faq: "general".into(),
            })),
            explanation: format!(
                "{src} sent an IPv6 packet to {dst} with {count} extension headers in a row. \
                 {behind}. A conforming sender chains at most {CONFORMING_EXTENSIONS} of them \
                 (RFC 8200 §4.1: each once, destination options twice). Long chains are a known \
                 way around filters and intrusion detection, which give up after a few headers \
                 and cannot find the transport header, while the host walks on and answers \
                 (RFC 7112 and RFC 9098 discuss the problem). Drop IPv6 packets whose chain is \
                 longer than your filters inspect, and watch {src}.",
                src = v.src,
                dst = v.dst,
            ),
            ..base(CHAIN, Level::Suspicious, v)
        });
    }
}

impl Detector for Evasion {
    fn expire(&mut self, now: u64, case_ns: u64, _config: &Config) {
        let before = now.saturating_sub(case_ns);
        self.tiny.expire(before);
        self.chain.expire(before);
    }

    fn observe(&mut self, v: &View<'_>, ctx: &Ctx<'_>, _claims: &mut Claims, o: &mut Out<'_>) {
        self.tiny(v, ctx, o);
        self.chain(v, ctx, o);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{
        contact::{Contact, Proto},
        detect::{scan::VERTICAL, testkit::*},
    };

    /// TCP to `port` in a first fragment holding `held` bytes of its header, as the kernel
    /// reports it: ports from 4 bytes on, flags (a SYN) from 14.
    fn tiny(src: &str, port: u16, held: u8) -> Contact {
        let mut c = tcp(src, 40_000, "198.18.0.1", port, 0);
        c.more_fragments = true;
        c.dont_fragment = false;
        c.tiny_fragment = true;
        c.l4_held = held;
        if held < 4 {
            (c.proto, c.src_port, c.dst_port) = (Proto::Other, 0, 0);
        }
        if held >= 14 {
            c.tcp_flags = probe_common::packet::tcp_flags::SYN;
        }
        c
    }

    #[test]
    fn a_scan_in_eight_byte_fragments_is_a_tiny_fragment_and_a_vertical_scan() {
        // nmap -f: 30 ports, flags unknown. Neither a NULL scan nor invisible.
        let contacts: Vec<_> = (0..30u16)
            .map(|i| at(tiny("198.18.0.66", 1000 + i, 8), u64::from(i)))
            .collect();
        let lines = run(&mut engine(), &contacts);
        let f = last_of(&lines, TINY);
        assert_eq!(
            (f.level, f.src.as_deref(), f.dst.as_deref(), f.count),
            (Level::Hostile, Some("198.18.0.66"), Some("198.18.0.1"), 30)
        );
        assert_eq!(f.evidence["fragments"], json!(30));
        assert_eq!(f.evidence["hidden"], json!({"tcp_flags": 30}));
        assert_eq!(f.evidence["held_bytes"], json!(8));
        assert_eq!(f.evidence["ports"], json!("1000-1029"));
        assert!(f.explanation.contains("RFC 1858"), "{}", f.explanation);
        assert!(f.explanation.contains("held 8 bytes"), "{}", f.explanation);
        let scan = last_of(&lines, VERTICAL);
        assert_eq!(scan.evidence["distinct_ports"], json!(30));
        assert_eq!(scan.evidence["probes"], json!({"fragment": 30}));
        assert!(
            scan.explanation
                .contains("30 TCP probes split into tiny fragments")
        );
        // Flags unknown are not a NULL scan.
        assert!(of(&lines, crate::detect::crafted::STEALTH).is_empty());
        assert_eq!(opened(&lines), vec![TINY, VERTICAL]);
    }

    #[test]
    fn sixteen_byte_fragments_carry_a_syn_and_name_the_rest_of_the_header() {
        let contacts: Vec<_> = (0..20u16)
            .map(|i| at(tiny("198.18.0.67", 2000 + i, 16), u64::from(i)))
            .collect();
        let lines = run(&mut engine(), &contacts);
        let f = last_of(&lines, TINY);
        assert_eq!(f.evidence["hidden"], json!({"rest_of_header": 20}));
        assert_eq!(
            last_of(&lines, VERTICAL).evidence["probes"],
            json!({"syn": 20})
        );
    }

    #[test]
    fn a_fragment_without_ports_is_still_named_with_its_source() {
        let lines = run(&mut engine(), &[tiny("198.18.0.68", 0, 2)]);
        let f = last_of(&lines, TINY);
        assert_eq!(
            (f.src.as_deref(), f.port, f.count),
            (Some("198.18.0.68"), None, 1)
        );
        assert_eq!(f.evidence["hidden"], json!({"ports": 1}));
        assert_eq!(f.evidence["ports"], json!(""));
    }

    #[test]
    fn an_ipv6_chain_split_across_fragments_is_a_tiny_fragment() {
        let mut c = icmp6("2001:db8::66", "2001:db8::1", 0, 0);
        (c.proto, c.protocol, c.icmp_type) = (Proto::Other, 60, 0);
        (c.tiny_fragment, c.more_fragments, c.extensions) = (true, true, 1);
        let lines = run(&mut engine(), &[c]);
        let f = last_of(&lines, TINY);
        assert_eq!(f.evidence["hidden"], json!({"ipv6_header_chain": 1}));
        assert!(f.explanation.contains("RFC 7112"));
    }

    fn behind_options(extensions: u8, long_chain: bool) -> Contact {
        let mut c = udp("2001:db8::66", 33_000, "2001:db8::1", 4711);
        (c.extensions, c.long_chain) = (extensions, long_chain);
        if long_chain {
            (c.proto, c.protocol, c.src_port, c.dst_port) = (Proto::Other, 60, 0, 0);
        }
        c
    }

    #[test]
    fn twelve_destination_options_headers_are_a_long_chain_and_the_port_is_still_seen() {
        let lines = run(&mut engine(), &[behind_options(12, false)]);
        let f = last_of(&lines, CHAIN);
        assert_eq!(
            (f.level, f.src.as_deref(), f.port),
            (Level::Suspicious, Some("2001:db8::66"), Some(4711))
        );
        assert_eq!(f.evidence["extensions"], json!(12));
        assert_eq!(f.evidence["beyond_walk"], json!(false));
        assert_eq!(f.evidence["chains"], json!({"walked": 1}));
        assert!(f.explanation.contains("with 12 extension headers"));
        assert!(f.explanation.contains("a UDP datagram"));
    }

    #[test]
    fn a_chain_past_the_walk_is_reported_as_more_than_it_walked() {
        let lines = run(&mut engine(), &[behind_options(24, true)]);
        let f = last_of(&lines, CHAIN);
        assert_eq!(f.evidence["beyond_walk"], json!(true));
        assert!(
            f.explanation
                .contains("with more than 24 extension headers")
        );
        assert!(f.explanation.contains("walks 24 headers"));
    }

    #[test]
    fn chains_a_conforming_sender_uses_are_quiet_and_the_threshold_is_a_setting() {
        let lines = run(&mut engine(), &[behind_options(5, false)]);
        assert!(of(&lines, CHAIN).is_empty(), "{lines:#?}");
        let cfg = config(r#"{"long_header_chain": {"headers": 3}}"#).unwrap();
        let lines = run(&mut engine_with(cfg), &[behind_options(3, false)]);
        assert_eq!(of(&lines, CHAIN).len(), 1);
        let cfg = config(r#"{"tiny_fragment": {"enabled": false}}"#).unwrap();
        let lines = run(&mut engine_with(cfg), &[tiny("198.18.0.66", 80, 8)]);
        assert!(of(&lines, TINY).is_empty());
    }
}
