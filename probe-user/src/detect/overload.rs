//! `probe_overload`: first-contact events the kernel counted but could not deliver, because
//! its rate limit held them back or the ring buffer was full. Findings for that time may be
//! missing or undercounted, and the probe says so rather than losing them silently.

use crate::{
    findings::{Draft, Evidence, Kind, evidence},
    knowledge::Level,
};

pub(crate) const KIND: Kind = Kind::ProbeOverload;

/// The kernel's totals at the last call, and what the open finding has summed.
#[derive(Default)]
pub(crate) struct Overload {
    last_rate: u64,
    last_ring: u64,
    /// Since the finding opened: first loss, last loss, lost to the rate limit, to the ring.
    open: Option<(u64, u64, u64, u64)>,
}

impl Overload {
    /// Takes the kernel's running totals; returns a draft when events were lost since the
    /// last call.
    pub(crate) fn update(
        &mut self,
        now: u64,
        rate_limited: u64,
        ring_full: u64,
        case_ns: u64,
        enabled: bool,
    ) -> Option<Draft> {
        // A total that went down was reset: all of it is new.
        let d_rate = if rate_limited >= self.last_rate {
            rate_limited - self.last_rate
        } else {
            rate_limited
        };
        let d_ring = if ring_full >= self.last_ring {
            ring_full - self.last_ring
        } else {
            ring_full
        };
        self.last_rate = rate_limited;
        self.last_ring = ring_full;
        if !enabled || d_rate.saturating_add(d_ring) == 0 {
            return None;
        }
        let (first, _, rate, ring) = match self.open {
            Some((first, last, rate, ring)) if now.saturating_sub(last) < case_ns => (
                first,
                now,
                rate.saturating_add(d_rate),
                ring.saturating_add(d_ring),
            ),
            _ => (now, now, d_rate, d_ring),
        };
        self.open = Some((first, now, rate, ring));
        let lost = d_rate.saturating_add(d_ring);
        let total = rate.saturating_add(ring);
        Some(Draft {
            kind: KIND,
            subject: String::new(),
            level: Level::Notable,
            src: None,
            dst: None,
            proto: None,
            port: None,
            tool: None,
            add: lost,
            first_seen_ns: first,
            last_seen_ns: now,
            evidence: Some(Evidence::Overload(evidence::Overload {
                rate_limited: rate,
                ring_full: ring,
                rate_limited_total: rate_limited,
                ring_full_total: ring_full,
            })),
            explanation: format!(
                "The kernel could not hand over {total} first-contact events ({rate} held back \
                 by the event rate limit, {ring} because the ring buffer was full). Findings for \
                 this time may be missing or undercounted. A burst of new contacts — a fast scan \
                 or a flood, possibly meant to blind the probe — causes this; if it keeps \
                 happening, raise the event rate or the ring size."
            ),
            later: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{detect::testkit::*, findings::Status};

    #[test]
    fn lost_events_are_reported_as_deltas_and_folded() {
        let mut e = engine();
        assert!(e.overload(T0, 0, 0).is_empty());
        let lines = e.overload(T0 + SEC, 100, 5);
        assert_eq!(lines.len(), 1);
        let f = &lines[0];
        assert_eq!(
            (
                f.kind,
                f.level,
                f.src.clone(),
                f.dst.clone(),
                f.count,
                f.status
            ),
            (KIND, Level::Notable, None, None, 105, Status::New)
        );
        assert_eq!(f.evidence["rate_limited"], json!(100));
        assert_eq!(f.evidence["ring_full"], json!(5));
        // Nothing new: nothing said. More lost: folded into the same finding.
        assert!(e.overload(T0 + 2 * SEC, 100, 5).is_empty());
        assert!(e.overload(T0 + 3 * SEC, 150, 5).is_empty());
        let last = e.flush(T0 + 4 * SEC);
        assert_eq!(last.len(), 1);
        assert_eq!((last[0].count, last[0].id), (155, f.id));
        assert_eq!(last[0].evidence["rate_limited"], json!(150));
        assert_eq!(last[0].evidence["rate_limited_total"], json!(150));
    }

    #[test]
    fn a_reset_counter_counts_in_full() {
        let mut e = engine();
        e.overload(T0, 1000, 0);
        let lines = e.overload(T0 + 400 * SEC, 7, 0);
        let f = lines.iter().find(|f| f.status == Status::New).unwrap();
        assert_eq!((f.count, f.evidence["rate_limited"].clone()), (7, json!(7)));
    }

    #[test]
    fn overload_can_be_turned_off() {
        let mut cfg = crate::detect::Config::default();
        cfg.probe_overload.enabled = false;
        let mut e = engine_with(cfg);
        assert!(e.overload(T0, 10, 10).is_empty());
    }
}
