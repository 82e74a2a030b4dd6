//! `flood`: one source sending far more than a visitor does. A first contact is made once per
//! (source, destination, port); a flood is the same few contacts sent thousands of times, so
//! only the per-source counts show it (see [`crate::volume`]): the SYNs, FINs and RSTs of a
//! TCP flood, echo replies, and answers from reflector ports all update the sender's slot on
//! every packet. A SYN flood fills a server's queue of half-open connections (RFC 4987); the
//! source may be forged, and then it is the address someone wants blamed or answered.
//!
//! Repeats of a UDP or ICMP contact that is neither an echo reply nor a reflector's answer stop
//! at the first-contact check in the kernel, so a flood of them is in the port counters
//! (`probe query ports`) and not here.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::{Claims, Config, Ctx, Detector, Out, View, ip_text, secs, table::Lru};
use crate::{
    findings::{Evidence, Kind, Later, evidence},
    knowledge::Level,
    volume::Volume,
};

pub(crate) const KIND: Kind = Kind::Flood;

/// `flood`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FloodConfig {
    pub enabled: bool,
    /// Tracked packets from one source within the window.
    pub packets: u64,
    pub window_secs: u64,
}

impl Default for FloodConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            packets: 10_000,
            window_secs: 10,
        }
    }
}

/// One source's counts in its current window.
#[derive(Clone, Copy, Debug, Default)]
struct Window {
    start_ns: u64,
    packets: u64,
    syns: u64,
    bytes: u64,
    /// Packets since the last draft, for the finding's count.
    added: u64,
}

pub(crate) struct Flood {
    sources: Lru<IpAddr, Window>,
}

impl Flood {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            sources: Lru::new(cap),
        }
    }
}

impl Detector for Flood {
    fn expire(&mut self, now: u64, case_ns: u64, _config: &Config) {
        self.sources.expire(now.saturating_sub(case_ns));
    }

    fn observe(&mut self, _v: &View<'_>, _ctx: &Ctx<'_>, _claims: &mut Claims, _o: &mut Out<'_>) {}

    fn volume(&mut self, now: u64, sources: &[Volume], ctx: &Ctx<'_>, o: &mut Out<'_>) {
        let cfg = &ctx.config.flood;
        if !cfg.enabled {
            return;
        }
        let window_ns = secs(cfg.window_secs.max(1));
        for s in sources {
            let w = self.sources.touch(&s.src, now, Window::default);
            if now.saturating_sub(w.start_ns) >= window_ns {
                // A new window; a finding already open keeps counting in it.
                *w = Window {
                    start_ns: now,
                    added: w.added,
                    ..Window::default()
                };
            }
            w.packets += s.packets;
            w.syns += s.syns;
            w.bytes += s.bytes;
            w.added += s.packets;
            let subject = ip_text(s.src);
            let open = o.is_open(KIND, &subject);
            if w.packets < cfg.packets.max(1) && !open {
                continue;
            }
            let (packets, syns, bytes, window) = (w.packets, w.syns, w.bytes, cfg.window_secs);
            let syn_flood = syns.saturating_mul(10) >= packets.saturating_mul(9);
            let src = subject.clone();
            o.push(super::Draft {
                kind: KIND,
                subject,
                level: if syn_flood {
                    Level::Hostile
                } else {
                    Level::Suspicious
                },
                src: Some(src.clone()),
                dst: None,
                proto: None,
                port: None,
                tool: None,
                add: std::mem::take(&mut w.added),
                first_seen_ns: w.start_ns,
                last_seen_ns: now,
                evidence: None,
                explanation: String::new(),
                later: Some(Later::new(move || {
                    let evidence = Evidence::Flood(evidence::Flood {
                        packets,
                        syns,
                        bytes,
                        window_secs: window,
                        per_second: packets / window.max(1),
                    });
                    let what = if syn_flood {
                        " Nearly all are SYNs: a SYN flood, which fills a server's queue of \
                         half-open connections until real clients are turned away (RFC 4987); \
                         SYN cookies (net.ipv4.tcp_syncookies) keep a Linux server answering \
                         through one."
                    } else {
                        ""
                    };
                    let explanation = format!(
                        "{src} sent {packets} packets outside any connection ({syns} of them \
                         connection attempts) within {window} s. One source sending this much \
                         is a flood, not a visit.{what} The address may be forged: if it is \
                         real, block it; if not, ask your provider to filter the flood \
                         upstream."
                    );
                    (evidence, explanation)
                })),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::detect::testkit::*;

    fn from(src: &str, packets: u64, syns: u64) -> Volume {
        Volume {
            src: ip(src),
            packets,
            bytes: packets * 60,
            syns,
            echo_replies: 0,
            reflected: 0,
        }
    }

    #[test]
    fn two_thousand_syns_a_second_from_one_source_are_a_syn_flood() {
        let mut e = engine();
        let mut lines = Vec::new();
        for s in 1..=6 {
            lines.extend(e.volume(
                T0 + s * SEC,
                &[
                    from("198.18.0.66", 2000, 2000),
                    // 900 a second: 9,000 in the window, under the threshold.
                    from("198.18.0.67", 900, 900),
                ],
            ));
        }
        // Found at the fifth second, with the 10,000 packets that crossed the threshold.
        let first = lines.first().expect("a flood finding");
        assert_eq!(
            (first.kind, first.ts_ns, first.count, first.level),
            (KIND, T0 + 5 * SEC, 10_000, Level::Hostile)
        );
        lines.extend(e.flush(T0 + 7 * SEC));
        let f = last_of(&lines, KIND);
        assert_eq!(
            (f.src.as_deref(), f.dst.as_deref(), f.port, f.count),
            (Some("198.18.0.66"), None, None, 12_000)
        );
        assert_eq!(
            f.evidence,
            json!({
                "packets": 12_000,
                "syns": 12_000,
                "bytes": 720_000,
                "window_secs": 10,
                "per_second": 1200,
            })
        );
        assert!(
            f.explanation.starts_with(
                "198.18.0.66 sent 12000 packets outside any connection (12000 of them \
                 connection attempts) within 10 s."
            ),
            "{}",
            f.explanation
        );
        assert!(f.explanation.contains("SYN flood"));
    }

    #[test]
    fn a_flood_of_other_packets_is_suspicious_and_a_slow_sender_is_none() {
        let mut e = engine();
        let lines = e.volume(T0 + SEC, &[from("198.18.0.68", 10_000, 100)]);
        assert_eq!(
            lines.iter().map(|f| (f.kind, f.level)).collect::<Vec<_>>(),
            [(KIND, Level::Suspicious)]
        );
        assert!(!lines[0].explanation.contains("SYN flood"));
        // 9,999 over one window, then the window starts again.
        let mut e = engine();
        assert!(
            e.volume(T0 + SEC, &[from("198.18.0.69", 9_999, 0)])
                .is_empty()
        );
        assert!(
            e.volume(T0 + 12 * SEC, &[from("198.18.0.69", 9_999, 0)])
                .is_empty()
        );
    }
}
