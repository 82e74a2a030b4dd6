//! A capture file as the pipeline's source: each frame through the parser the XDP program runs
//! and the kernel's own first-contact rule (probe-common's `track`, as one CPU), in capture
//! time. Windows close on capture time as the daemon's interval closes them on wall time.

use probe_common::{
    event::FirstContact,
    packet::parse,
    track::user::{FirstContacts, Verdict},
};

use crate::{
    capture::{Capture, CaptureError},
    contact::Contact,
    pipeline::{Input, Lost, Output, Pipeline},
};

/// What a replay went through.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub frames: u64,
    pub malformed: u64,
    pub contacts: u64,
    pub rate_limited: u64,
    pub skipped_link_types: u64,
}

/// Frames in, inputs out.
pub struct CaptureSource {
    capture: Capture,
    rule: FirstContacts,
    /// How often, in capture time, a tick is due (the daemon's `--interval`).
    tick_ns: u64,
    next_tick: Option<u64>,
    /// The latest capture time seen.
    last_ns: u64,
    totals: Totals,
}

impl CaptureSource {
    /// Reads `capture` through `rule`, ticking every `tick_ns` of capture time.
    pub fn new(capture: Capture, rule: FirstContacts, tick_ns: u64) -> Self {
        Self {
            capture,
            rule,
            tick_ns: tick_ns.max(1),
            next_tick: None,
            last_ns: 0,
            totals: Totals::default(),
        }
    }

    /// Reads one frame and hands `emit` what it makes: a tick when one fell due before it, and
    /// its first contact when it is one the rule reports. False at the end of the capture.
    pub fn next(&mut self, emit: &mut impl FnMut(Input)) -> Result<bool, CaptureError> {
        let Some(frame) = self.capture.next_frame()? else {
            return Ok(false);
        };
        self.totals.frames += 1;
        let ts = frame.ts_ns;
        self.last_ns = self.last_ns.max(ts);
        let due = *self
            .next_tick
            .get_or_insert(ts.saturating_add(self.tick_ns));
        if ts >= due {
            emit(Input::Tick {
                now_ns: ts,
                lost: self.lost(),
            });
            self.next_tick = Some(ts.saturating_add(self.tick_ns));
        }
        let Ok(p) = parse(&frame.data) else {
            self.totals.malformed += 1;
            return Ok(true);
        };
        if self.rule.observe(&p, ts) == Verdict::New {
            self.totals.contacts += 1;
            let event = FirstContact::from_frame(&frame.data, &p, ts);
            emit(Input::Contact(Contact::from_event(&event, ts)));
        }
        Ok(true)
    }

    /// Events the rule held back so far, as the kernel's loss counters would show them.
    pub fn lost(&self) -> Lost {
        Lost {
            rate_limited: self.rule.rate_limited,
            ring_full: 0,
        }
    }

    /// The latest capture time read: where the replay ends.
    pub fn end_ns(&self) -> u64 {
        self.last_ns
    }

    pub fn totals(&self) -> Totals {
        Totals {
            rate_limited: self.rule.rate_limited,
            skipped_link_types: self.capture.skipped_link_types(),
            ..self.totals
        }
    }
}

/// Runs every frame of `source` through `pipeline`, then finishes it at the capture's last
/// time. On damage the findings so far are still written and flushed; the error says where.
pub fn replay<O: Output>(
    source: &mut CaptureSource,
    pipeline: &mut Pipeline<O>,
) -> Result<(), CaptureError> {
    let result = loop {
        match source.next(&mut |input| pipeline.push(input)) {
            Ok(true) => {}
            Ok(false) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    pipeline.finish(source.end_ns(), source.lost());
    result
}
