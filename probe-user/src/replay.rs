//! Offline replay: a capture file through the same parser, first-contact rules and detectors as
//! the live daemon, driven by the capture's timestamps.

use probe_common::{event::FirstContact, packet::parse};

use crate::{
    capture::{Capture, CaptureError},
    contact::Contact,
    detect::Engine,
    findings::Finding,
    tracker::{Tracker, Verdict},
};

/// How often, in capture time, the detectors' windows are checked (as the live daemon does
/// once per interval).
const TICK_NS: u64 = 1_000_000_000;

/// What a replay went through.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub frames: u64,
    pub malformed: u64,
    pub contacts: u64,
    pub rate_limited: u64,
    pub findings: u64,
    pub skipped_link_types: u64,
}

/// Replays `capture` through `tracker` and `engine`, handing each finding to `emit` as it is
/// made. On damage, the findings so far have been emitted and flushed; the error says where.
pub fn run(
    capture: &mut Capture,
    tracker: &mut Tracker,
    engine: &mut Engine,
    mut emit: impl FnMut(&Finding),
) -> (Totals, Result<(), CaptureError>) {
    let mut totals = Totals::default();
    let mut next_tick: Option<u64> = None;
    let mut last_ts = 0;
    let mut reported_rate_limited = 0;
    let mut out = |fs: Vec<Finding>, totals: &mut Totals| {
        for f in &fs {
            totals.findings += 1;
            emit(f);
        }
    };
    let result = loop {
        let frame = match capture.next_frame() {
            Ok(Some(f)) => f,
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        };
        totals.frames += 1;
        let ts = frame.ts_ns;
        last_ts = last_ts.max(ts);
        // Windows close on capture time, as the live daemon's interval closes them on wall time.
        let due = *next_tick.get_or_insert(ts + TICK_NS);
        if ts >= due {
            out(engine.tick(ts), &mut totals);
            if tracker.rate_limited != reported_rate_limited {
                out(engine.overload(ts, tracker.rate_limited, 0), &mut totals);
                reported_rate_limited = tracker.rate_limited;
            }
            next_tick = Some(ts + TICK_NS);
        }
        let Ok(p) = parse(&frame.data) else {
            totals.malformed += 1;
            continue;
        };
        match tracker.observe(&p, ts) {
            Verdict::New => {
                totals.contacts += 1;
                let event = FirstContact::from_frame(&frame.data, &p, ts);
                out(
                    engine.contact(&Contact::from_event(&event, ts)),
                    &mut totals,
                );
            }
            Verdict::RateLimited | Verdict::Known => {}
        }
    };
    if tracker.rate_limited != reported_rate_limited {
        out(
            engine.overload(last_ts, tracker.rate_limited, 0),
            &mut totals,
        );
    }
    out(engine.tick(last_ts), &mut totals);
    out(engine.flush(last_ts), &mut totals);
    totals.rate_limited = tracker.rate_limited;
    totals.skipped_link_types = capture.skipped_link_types();
    (totals, result)
}
