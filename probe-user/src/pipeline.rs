//! One pipeline from observations to findings, for the daemon and the replay alike.
//!
//! A source (the kernel's ring buffer and counters live, a capture file offline) turns what it
//! sees into [`Input`]s; [`Pipeline::push`] drives the detection engine with each one (a
//! contact, or time passing with the kernel's loss counters) and hands the findings that causes
//! to an [`Output`]; [`Pipeline::finish`] writes what is still open at the end. Nothing else
//! calls the engine, so a replay and the daemon reach the same findings the same way.

use std::sync::Arc;

use crate::{
    contact::Contact,
    detect::{Config, Engine},
    findings::Finding,
    knowledge::Knowledge,
};

/// First-contact events the kernel (or the replay's rule) counted but did not deliver: running
/// totals, as the kernel keeps them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lost {
    /// Held back by the event rate limit.
    pub rate_limited: u64,
    /// Dropped because the ring buffer was full (never in a replay).
    pub ring_full: u64,
}

/// What a source hands the pipeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// A first contact.
    Contact(Contact),
    /// Time passed to `now_ns` (wall clock live, capture time offline): windows close, due
    /// refreshes are written, and events lost since the last tick are reported.
    Tick { now_ns: u64, lost: Lost },
    /// What each source sent since the last volume, at `now_ns` (see [`crate::volume`]).
    Volume {
        now_ns: u64,
        sources: Vec<crate::volume::Volume>,
    },
}

/// Where findings go: the daemon's sink (log, files, query memory) or a replay's stdout.
/// Each line is handed over, so an output may keep it or pass it to another thread.
pub trait Output {
    fn write(&mut self, finding: Finding);

    /// Time passed (each tick): an output may try again what it could not write.
    fn tick(&mut self) {}

    /// The input ended and its last findings were written: an output may commit them.
    fn finish(&mut self) {}
}

impl<F: FnMut(Finding)> Output for F {
    fn write(&mut self, finding: Finding) {
        self(finding);
    }
}

/// The detection engine and where its findings go.
pub struct Pipeline<O> {
    engine: Engine,
    output: O,
    /// Findings lines written so far.
    written: u64,
}

impl<O: Output> Pipeline<O> {
    pub fn new(config: Config, knowledge: Arc<Knowledge>, output: O) -> Self {
        Self {
            engine: Engine::new(config, knowledge),
            output,
            written: 0,
        }
    }

    /// Drives the engine with one input and writes the findings it causes.
    pub fn push(&mut self, input: Input) {
        let lines = match input {
            Input::Contact(c) => self.engine.contact(&c),
            Input::Volume { now_ns, sources } => self.engine.volume(now_ns, &sources),
            Input::Tick { now_ns, lost } => {
                self.output.tick();
                let mut lines = self
                    .engine
                    .overload(now_ns, lost.rate_limited, lost.ring_full);
                lines.extend(self.engine.tick(now_ns));
                lines
            }
        };
        self.write(lines);
    }

    /// The end of the input at `now_ns`: a last tick, then the last state of every finding that
    /// changed since its last line. The engine starts afresh afterwards.
    pub fn finish(&mut self, now_ns: u64, lost: Lost) {
        self.push(Input::Tick { now_ns, lost });
        let lines = self.engine.flush(now_ns);
        self.write(lines);
        self.output.finish();
    }

    fn write(&mut self, lines: Vec<Finding>) {
        self.written += lines.len() as u64;
        for f in lines {
            self.output.write(f);
        }
    }

    /// Findings lines written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// The engine, for reading open findings' current state.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// New detector settings and knowledge, keeping what the engine learned
    /// ([`Engine::reconfigure`]); returns the sections that apply only at the next start.
    pub fn reconfigure(&mut self, config: Config, knowledge: Arc<Knowledge>) -> Vec<&'static str> {
        self.engine.reconfigure(config, knowledge)
    }

    /// Where findings go, for reading what it kept.
    pub fn output(&self) -> &O {
        &self.output
    }

    pub fn output_mut(&mut self) -> &mut O {
        &mut self.output
    }

    /// Where findings went, once the pipeline is done.
    pub fn into_output(self) -> O {
        self.output
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        detect::testkit::{SEC, T0, at, knowledge, syn},
        findings::{Kind, Status},
    };

    #[test]
    fn ticks_report_what_was_lost_since_the_last_and_finish_writes_what_is_open() {
        let mut lines = Vec::new();
        {
            let mut p = Pipeline::new(Config::default(), knowledge(), |f: Finding| {
                lines.push((f.kind, f.status, f.count, f.id));
            });
            let lost = |rate_limited, ring_full| Lost {
                rate_limited,
                ring_full,
            };
            p.push(Input::Tick {
                now_ns: T0,
                lost: lost(5, 0),
            });
            // Nothing more lost: nothing to say.
            p.push(Input::Tick {
                now_ns: T0 + SEC,
                lost: lost(5, 0),
            });
            p.push(Input::Contact(at(
                syn("198.18.0.66", "198.18.0.1", 31_337),
                1500,
            )));
            p.finish(T0 + 2 * SEC, lost(7, 1));
            assert_eq!(p.written(), 3);
        }
        assert_eq!(
            lines,
            [
                (Kind::ProbeOverload, Status::New, 5, 1),
                (Kind::TrojanProbe, Status::New, 1, 2),
                // The last tick's 3 more lost events, written by the flush; the trojan probe
                // did not change since its line, so the flush has nothing more to say of it.
                (Kind::ProbeOverload, Status::Update, 8, 1),
            ]
        );
    }

    #[test]
    fn a_reconfigured_pipeline_keeps_its_open_findings() {
        let mut ids = Vec::new();
        {
            let mut p = Pipeline::new(Config::default(), knowledge(), |f: Finding| {
                ids.push((f.kind, f.id, f.count));
            });
            p.push(Input::Contact(at(
                syn("198.18.0.66", "198.18.0.1", 31_337),
                0,
            )));
            let fixed = p.reconfigure(Config::default(), knowledge());
            assert!(fixed.is_empty());
            // The same port on another host: the same finding.
            p.push(Input::Contact(at(
                syn("198.18.0.66", "198.18.0.2", 31_337),
                10,
            )));
            p.finish(T0 + SEC, Lost::default());
        }
        // One finding, opened before the reload and counted on after it (its first line waits
        // for answers, so it is written at the end with both contacts).
        assert_eq!(ids, [(Kind::TrojanProbe, 1, 2)]);
    }
}
