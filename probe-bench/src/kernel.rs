//! In-kernel cost per packet: `BPF_PROG_TEST_RUN` of the probe on one frame of each class,
//! beside an empty XDP program and a minimal counting one, in interleaved trials.
//!
//! A test run repeats the program on the same buffer, so a class that is only new once (a SYN to
//! a new port, a new source) is made new on every repeat by `bench_vary`, which bumps the field
//! in place and tail-calls the probe; the same wrapper tail-calling `bench_empty` is measured in
//! the same trial and its cost beyond the empty program subtracted.

use anyhow::{Context as _, Result, ensure};
use aya::{
    Ebpf, TestRun as _, TestRunOptions,
    maps::{Array, MapData, ProgramArray, RingBuf},
    programs::Xdp,
};
use probe_common::{counters::total, track};
use probe_user::{counters::CounterMaps, loader};

use crate::{
    Plan,
    frames::{self, ATTACKER, ATTACKER6, TARGET, TARGET6, flag, offset},
    object::{self, Limits},
    report::{Row, Summary, Verdict},
};

const SECTION: &str = "kernel";
const XDP_PASS: u32 = 2;
/// Slots of `BENCH_TARGETS`.
const SLOT_PROBE: u32 = 0;
const SLOT_EMPTY: u32 = 1;
/// The event ring holds 8192 events; a run that must deliver every event stays below that.
const EVENT_RUN_REPEAT: u32 = 4096;

/// What a row's ratio to the empty program must stay under.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    /// A yardstick: no target.
    Baseline,
    /// The busiest classes: ≤ 2× empty.
    Hot,
    /// Everything else: ≤ 6× empty.
    Any,
    /// A new source on every packet, the slot of the per-source table taken over each time:
    /// ≤ 10× empty (issue #12's target for it).
    NewSource,
}

impl Target {
    const fn limit(self) -> Option<f64> {
        match self {
            Self::Baseline => None,
            Self::Hot => Some(2.0),
            Self::Any => Some(6.0),
            Self::NewSource => Some(10.0),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Program {
    Empty,
    Minimal,
    Probe,
    /// The probe as loaded with rate limits high enough that every new contact is an event.
    ProbeEvents,
}

struct Class {
    name: &'static str,
    program: Program,
    frame: Vec<u8>,
    /// The 32-bit word `bench_vary` bumps before each repeat: (offset, mask).
    vary: Option<(u32, u32)>,
    target: Target,
    /// What each repeat exercises, for the table's note.
    what: &'static str,
}

#[allow(clippy::too_many_lines)] // one table of classes reads best in one place
fn classes() -> Vec<Class> {
    let ack = frames::tcp4(
        ATTACKER,
        TARGET,
        40_000,
        443,
        flag::ACK | flag::PSH,
        &[0x41; 32],
    );
    let syn = frames::tcp4(ATTACKER, TARGET, 40_000, 1, flag::SYN, &[]);
    let class = |name, program, frame: &Vec<u8>, vary, target, what| Class {
        name,
        program,
        frame: frame.clone(),
        vary,
        target,
        what,
    };
    vec![
        class(
            "empty XDP program (baseline)",
            Program::Empty,
            &ack,
            None,
            Target::Baseline,
            "returns XDP_PASS: the harness's own cost per run",
        ),
        class(
            "minimal: parse Eth/IPv4/TCP + 1 per-CPU counter (baseline)",
            Program::Minimal,
            &ack,
            None,
            Target::Baseline,
            "constant-offset parse, one per-CPU add",
        ),
        class(
            "TCP segment of an established flow (ACK)",
            Program::Probe,
            &ack,
            None,
            Target::Hot,
            "counters only: ACK set, SYN clear never reaches the tracking maps",
        ),
        class(
            "UDP to a seen port",
            Program::Probe,
            &frames::udp4(ATTACKER, TARGET, 5353, 53, &[0x42; 32]),
            None,
            Target::Hot,
            "counters + contacts-table hit (the contact was reported on the first repeat)",
        ),
        class(
            "TCP SYN to a new port each packet",
            Program::Probe,
            &syn,
            Some((offset::IPV4_TCP_PORTS, 0xffff)),
            Target::Any,
            "destination port bumped per repeat: contacts-table miss, source slot update, \
             token bucket (default limits: beyond the burst, rate-limited)",
        ),
        class(
            "TCP SYN to a new port, event delivered",
            Program::ProbeEvents,
            &syn,
            Some((offset::IPV4_TCP_PORTS, 0xffff)),
            Target::Any,
            "as above with limits raised so every repeat reserves, fills and submits a \
             ring-buffer event and records its contact (4096 repeats per run: the ring's room)",
        ),
        class(
            "ICMP echo request",
            Program::Probe,
            &frames::echo4(ATTACKER, TARGET, 64, 1),
            None,
            Target::Any,
            "counters + contacts-table hit",
        ),
        class(
            "IPv6 TCP SYN to a new port each packet",
            Program::Probe,
            &frames::tcp6(ATTACKER6, TARGET6, 40_000, 1, flag::SYN),
            Some((offset::IPV6_TCP_PORTS, 0xffff)),
            Target::Any,
            "as the IPv4 SYN, over IPv6",
        ),
        class(
            "IPv4 with options (ICMP echo + record route, 40 B)",
            Program::Probe,
            &frames::echo4_record_route(ATTACKER, TARGET),
            None,
            Target::Any,
            "options span recorded, contacts-table hit",
        ),
        class(
            "two-tag VLAN frame (802.1ad + 802.1Q, UDP/53)",
            Program::Probe,
            &frames::udp4_qinq(ATTACKER, TARGET),
            None,
            Target::Any,
            "two tags parsed, contacts-table hit",
        ),
        class(
            "non-first IPv4 fragment",
            Program::Probe,
            &frames::fragment4(ATTACKER, TARGET, 7),
            None,
            Target::Any,
            "counted as a fragment, no ports, not tracked",
        ),
        class(
            "malformed frame (IPv4 length beyond the frame)",
            Program::Probe,
            &frames::malformed4(ATTACKER, TARGET),
            None,
            Target::Any,
            "refused by the parser, counted; debug log off as in the daemon at info",
        ),
        class(
            "tiny first IPv4 fragment (8 bytes of TCP, nmap -f)",
            Program::Probe,
            &frames::tiny4(ATTACKER, TARGET),
            None,
            Target::Any,
            "full parse, tiny-fragment counter, ports counted; a TCP contact seen before, so \
             its source slot is updated",
        ),
        class(
            "IPv6 UDP behind 12 destination options headers",
            Program::Probe,
            &frames::udp6_behind_options(ATTACKER6, TARGET6, 12),
            None,
            Target::Any,
            "twelve extension headers walked to the port, contacts-table hit",
        ),
        class(
            "TCP SYN from a new source each packet (LRU churn)",
            Program::Probe,
            &frames::tcp4(ATTACKER, TARGET, 40_000, 80, flag::SYN, &[]),
            Some((offset::IPV4_SRC, 0x0001_ffff)),
            Target::NewSource,
            "source bumped through 198.18.0.0/15 (131,072 addresses, 2× the SOURCES slots): \
             every repeat takes over a source slot, plus the new-contact path",
        ),
    ]
}

/// One loaded copy of the probe, and of the yardsticks that tail-call it, with what the kernel
/// benchmark needs from them.
struct Instance {
    /// The probe, loaded by the daemon's loader.
    probe: loader::Program,
    /// The yardsticks' object: `bench_empty`, `bench_minimal`, `bench_vary`.
    yardsticks: Ebpf,
    vary: Array<MapData, [u32; 3]>,
    /// Held open: the kernel empties a program array when its last descriptor closes.
    _targets: ProgramArray<MapData>,
    events: RingBuf<MapData>,
    counters: CounterMaps,
}

impl Instance {
    fn new(limits: Limits) -> Result<Self> {
        let mut probe = object::load_probe(limits)?;
        let counters = CounterMaps::new(object::counter_map(&mut probe.ebpf)?, probe.cpus)?;
        let events = RingBuf::try_from(object::take(&mut probe.ebpf, track::map::EVENTS)?)?;
        let mut yardsticks = object::load_yardsticks()?;
        let vary = Array::try_from(object::take(&mut yardsticks, "BENCH_VARY")?)?;
        let mut targets: ProgramArray<MapData> =
            ProgramArray::try_from(object::take(&mut yardsticks, "BENCH_TARGETS")?)?;
        // The probe comes from the other object: a tail call crosses objects, not programs'
        // types, so `bench_vary` reaches it as it reaches `bench_empty`.
        targets.set(SLOT_PROBE, object::program(&probe.ebpf, "probe")?.fd()?, 0)?;
        targets.set(
            SLOT_EMPTY,
            object::program(&yardsticks, "bench_empty")?.fd()?,
            0,
        )?;
        Ok(Self {
            probe,
            yardsticks,
            vary,
            _targets: targets,
            events,
            counters,
        })
    }

    fn drain(&mut self) -> u64 {
        let mut n = 0;
        while self.events.next().is_some() {
            n += 1;
        }
        n
    }

    /// Kernel ns per run of `name` (the probe or a yardstick) on `frame`.
    fn run(&self, name: &str, frame: &[u8], repeat: u32) -> Result<f64> {
        let ebpf = if name == "probe" {
            &self.probe.ebpf
        } else {
            &self.yardsticks
        };
        test_run(object::program(ebpf, name)?, frame, repeat)
            .with_context(|| format!("test run of {name}"))
    }

    /// Kernel ns per run of `bench_vary` bumping `(offset, mask)`, then jumping to `slot`.
    fn run_varied(
        &mut self,
        (off, mask): (u32, u32),
        slot: u32,
        frame: &[u8],
        repeat: u32,
    ) -> Result<f64> {
        self.vary.set(0, [off, mask, slot], 0)?;
        self.run("bench_vary", frame, repeat)
    }
}

/// Bumps the word `bench_vary` bumps by `by`, as `by` repeats of it would have.
fn advance(frame: &mut [u8], (offset, mask): (u32, u32), by: u32) {
    let at = offset as usize;
    let Some(word) = frame.get_mut(at..at + 4) else {
        return;
    };
    let v = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
    let bumped = (v & !mask) | (v.wrapping_add(by) & mask);
    word.copy_from_slice(&bumped.to_be_bytes());
}

fn test_run(program: &Xdp, frame: &[u8], repeat: u32) -> Result<f64> {
    let result = program.test_run(TestRunOptions {
        data_in: Some(frame),
        repeat,
        ..TestRunOptions::default()
    })?;
    ensure!(
        result.return_value == XDP_PASS,
        "returned {} instead of XDP_PASS (a bench_vary slot is empty?)",
        result.return_value
    );
    Ok(result.duration.as_nanos() as f64)
}

/// What the probe did with the contacts of one class, summed over its runs.
#[derive(Default)]
struct Outcome {
    runs: u64,
    events: u64,
    rate_limited: u64,
    ring_full: u64,
}

impl Outcome {
    fn note(&self) -> String {
        if self.events + self.rate_limited + self.ring_full == 0 {
            return String::new();
        }
        let pct = |n: u64| 100.0 * n as f64 / self.runs.max(1) as f64;
        format!(
            "; of the runs {:.1}% became events, {:.1}% rate-limited, {:.1}% ring full",
            pct(self.events),
            pct(self.rate_limited),
            pct(self.ring_full)
        )
    }
}

/// Kernel ns per run of one class (for a varied class, without `bench_vary`'s own cost and
/// without the empty program's, which the caller adds back), counting what became of it.
fn measure(instance: &mut Instance, c: &mut Class, repeat: u32, o: &mut Outcome) -> Result<f64> {
    instance.drain();
    let before = instance.counters.read();
    let cost = match (c.program, c.vary) {
        (Program::Empty, _) => instance.run("bench_empty", &c.frame, repeat)?,
        (Program::Minimal, _) => instance.run("bench_minimal", &c.frame, repeat)?,
        (_, None) => instance.run("probe", &c.frame, repeat)?,
        (_, Some(vary)) => {
            let with_probe = instance.run_varied(vary, SLOT_PROBE, &c.frame, repeat)?;
            let wrapper = instance.run_varied(vary, SLOT_EMPTY, &c.frame, repeat)?;
            // Each test run starts again from the bytes given, so start the next one where
            // this one stopped: its ports or sources are not the ones just seen.
            advance(&mut c.frame, vary, repeat);
            with_probe - wrapper
        }
    };
    instance.drain();
    let after = instance.counters.read();
    o.runs += u64::from(repeat);
    let delta = |key| after.total(key) - before.total(key);
    o.events += delta(total::EVENTS);
    o.rate_limited += delta(total::EVENTS_RATE_LIMITED);
    o.ring_full += delta(total::EVENTS_RING_FULL);
    Ok(cost)
}

pub fn run(plan: &Plan) -> Result<Vec<Row>> {
    eprintln!(
        "kernel: BPF_PROG_TEST_RUN, {} trials of {} repeats per class",
        plan.kernel_trials, plan.kernel_repeat
    );
    let mut daemon = Instance::new(Limits::default())?;
    // Every new contact an event: rate and burst at the daemon's caps; CONTACTS smaller than
    // the 65,536 ports cycled, so a port's slot is taken over before it comes round again.
    let mut eventful = Instance::new(Limits {
        contacts: 16_384,
        event_rate: 1_000_000,
        event_burst: 10_000_000,
        ..Limits::default()
    })?;
    let mut classes = classes();
    let mut ns: Vec<Vec<f64>> = vec![Vec::new(); classes.len()];
    let mut outcomes: Vec<Outcome> = classes.iter().map(|_| Outcome::default()).collect();
    let mut empty_ns = Vec::new();
    for trial in 0..plan.kernel_trials {
        crate::check_interrupted()?;
        let mut this = vec![0.0; classes.len()];
        // Rotate the order so no class always runs first (cold) or last.
        for k in 0..classes.len() {
            let i = (k + trial) % classes.len();
            let c = &mut classes[i];
            let instance = if c.program == Program::ProbeEvents {
                &mut eventful
            } else {
                &mut daemon
            };
            let repeat = if c.program == Program::ProbeEvents {
                EVENT_RUN_REPEAT
            } else {
                plan.kernel_repeat
            };
            this[i] = measure(instance, c, repeat, &mut outcomes[i])?;
        }
        let empty = this[0];
        empty_ns.push(empty);
        for (i, c) in classes.iter().enumerate() {
            let cost = if c.vary.is_some() {
                this[i] + empty
            } else {
                this[i]
            };
            ns[i].push(cost);
        }
    }

    let mut rows = Vec::new();
    for (i, c) in classes.iter().enumerate() {
        let ratios: Vec<f64> = ns[i]
            .iter()
            .zip(&empty_ns)
            .map(|(n, e)| n / e.max(1.0))
            .collect();
        let ratio = Summary::of(&ratios).map_or(f64::NAN, |s| s.median);
        let (target, verdict) = match c.target.limit() {
            Some(limit) => (
                format!("≤ {limit:.0}× empty"),
                Verdict::judge(ratio <= limit),
            ),
            None => (String::new(), Verdict::Info),
        };
        let repeats = if c.program == Program::ProbeEvents {
            EVENT_RUN_REPEAT
        } else {
            plan.kernel_repeat
        };
        let mut note = format!("{}; {repeats} repeats", c.what);
        if c.vary.is_some() {
            note.push_str("; bench_vary's own cost subtracted");
        }
        note.push_str(&outcomes[i].note());
        rows.push(Row {
            section: SECTION,
            name: c.name.to_owned(),
            summary: Summary::of(&ns[i]),
            unit: "ns/pkt",
            ratio: format!("{ratio:.2}× empty"),
            target,
            verdict,
            note,
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_wraps_inside_the_mask_and_keeps_the_rest() {
        let mut f = [9, 0x12, 0x34, 0xff, 0xfe, 9];
        advance(&mut f, (1, 0xffff), 3);
        assert_eq!(f, [9, 0x12, 0x34, 0x00, 0x01, 9]);
        let mut src = [198, 18, 0xff, 0xff];
        advance(&mut src, (0, 0x0001_ffff), 1);
        assert_eq!(src, [198, 19, 0, 0]);
        advance(&mut src, (0, 0x0001_ffff), 0x1_0000);
        assert_eq!(src, [198, 18, 0, 0]);
    }
}
