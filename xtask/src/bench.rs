//! `cargo xtask bench`: builds in release, runs `probe-bench` (as root), prints its table and
//! writes docs/benchmarks.md with the method, the machine and the table.
use std::{
    fmt::Write as _,
    io::{BufRead as _, BufReader},
    process::{Command, Stdio},
    time::Instant,
};

use anyhow::{Context as _, Result, bail};

use crate::{build, command_line, is_root, setup, target_dir, workspace_root};

pub const LONG_ABOUT: &str = "\
Set up (all steps), build in release the daemon `probe` (probe-user) and the measuring binary \
`probe-bench` (probe-bench, with the yardstick XDP programs of probe-bench-ebpf), then run every \
benchmark and write docs/benchmarks.md:

  1. in-kernel ns per packet of each packet class (BPF_PROG_TEST_RUN, the kernel's own timing),
     beside an empty XDP program and a minimal counting one;
  2. packets per second received on a lab veth pair (trafgen) with no program, the empty one
     and the probe;
  3. CPU time of one collection at 1,000 and 65,536 active ports, beside per-key and batch
     lookups of the same maps and of a full SOURCES map;
  4. `probe replay` throughput on a generated 1,000,000-packet capture beside `tcpdump -nn -r`.

Every figure is the median of interleaved trials with min and max; ratios come from the same \
run. A missed target is reported as MISSED, with the reason in the document; it does not make \
the command fail. --quick does fewer trials, repeats and packets and takes a few minutes.

Must run as root: sudo -E env \"PATH=$PATH\" cargo xtask bench";

#[derive(clap::Args)]
pub struct Args {
    /// Fewer trials, repeats and packets: a few minutes instead of about ten
    #[arg(long)]
    pub quick: bool,
}

/// One result row, as probe-bench prints it (tab-separated, after `ROW`).
struct Row {
    section: String,
    name: String,
    median: String,
    min: String,
    max: String,
    unit: String,
    ratio: String,
    target: String,
    verdict: String,
    note: String,
}

impl Row {
    fn parse(line: &str) -> Option<Self> {
        let mut f = line.strip_prefix("ROW\t")?.split('\t').map(str::to_owned);
        let mut next = || f.next().unwrap_or_default();
        Some(Self {
            section: next(),
            name: next(),
            median: next(),
            min: next(),
            max: next(),
            unit: next(),
            ratio: next(),
            target: next(),
            verdict: next(),
            note: next(),
        })
    }
}

pub fn run(args: &Args) -> Result<()> {
    if !is_root() {
        bail!(
            "bench must run as root (it loads XDP programs and creates network namespaces): \
             sudo -E env \"PATH=$PATH\" cargo xtask bench"
        );
    }
    setup::run(setup::Scope::All)?;
    build::packages(&["probe-user", "probe-bench"], true)?;
    let release = target_dir().join("release");
    let work_dir = target_dir().join("bench");
    std::fs::create_dir_all(&work_dir)
        .with_context(|| format!("creating {}", work_dir.display()))?;

    let mut cmd = Command::new(release.join("probe-bench"));
    cmd.arg("--probe")
        .arg(release.join("probe"))
        .arg("--work-dir")
        .arg(&work_dir);
    if args.quick {
        cmd.arg("--quick");
    }
    let line = command_line(&cmd);
    println!("bench: {line}");
    let started = Instant::now();
    // Rows arrive on stdout; progress (and a readable copy of each row) on stderr, shown live.
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("could not start `{line}`"))?;
    let mut rows = Vec::new();
    if let Some(out) = child.stdout.take() {
        for l in BufReader::new(out).lines() {
            let l = l.context("reading probe-bench's output")?;
            match Row::parse(&l) {
                Some(row) => rows.push(row),
                None => println!("{l}"),
            }
        }
    }
    let status = child.wait().context("waiting for probe-bench")?;
    let minutes = started.elapsed().as_secs_f64() / 60.0;

    let table = table(&rows);
    let doc = document(args.quick, &table, &rows, minutes);
    let path = workspace_root().join("docs").join("benchmarks.md");
    std::fs::write(&path, doc).with_context(|| format!("writing {}", path.display()))?;
    println!("\n{table}");
    let missed = rows.iter().filter(|r| r.verdict == "MISSED").count();
    let judged = rows
        .iter()
        .filter(|r| r.verdict == "met" || r.verdict == "MISSED")
        .count();
    println!(
        "bench: {} of {judged} targets met, {missed} missed; {} written ({minutes:.1} min)",
        judged - missed,
        path.display()
    );
    if !status.success() {
        bail!(
            "`{line}` failed ({status}); the rows it produced are in {}",
            path.display()
        );
    }
    Ok(())
}

/// Titles of the sections, in the order probe-bench runs them.
const SECTIONS: [(&str, &str); 5] = [
    ("kernel", "In-kernel cost per packet (BPF_PROG_TEST_RUN)"),
    ("veth", "End to end on a veth pair (trafgen)"),
    ("collect", "Collector (CPU time of one collection)"),
    ("replay", "Replay throughput"),
    ("error", "Benchmarks that failed"),
];

fn cell(s: &str) -> String {
    if s.is_empty() {
        "–".to_owned()
    } else {
        s.replace('|', "\\|")
    }
}

/// The results as Markdown tables, one per section, rows numbered for the notes.
fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    let mut n = 0;
    for (key, title) in SECTIONS {
        let in_section: Vec<&Row> = rows.iter().filter(|r| r.section == key).collect();
        if in_section.is_empty() {
            continue;
        }
        let _ = writeln!(out, "### {title}\n");
        out.push_str("| # | benchmark | median | min | max | unit | ratio | target | result |\n");
        out.push_str("|---|---|---:|---:|---:|---|---|---|---|\n");
        for r in in_section {
            n += 1;
            let result = match r.verdict.as_str() {
                "MISSED" => "**MISSED**".to_owned(),
                "n/a" => "not measured".to_owned(),
                v => v.to_owned(),
            };
            let _ = writeln!(
                out,
                "| {n} | {} | {} | {} | {} | {} | {} | {} | {result} |",
                cell(&r.name),
                cell(&r.median),
                cell(&r.min),
                cell(&r.max),
                cell(&r.unit),
                cell(&r.ratio),
                cell(&r.target),
            );
        }
        out.push('\n');
    }
    out
}

/// `command args...`'s first line of output, or `unknown`.
fn first_line_of(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown", |(_, m)| m.trim())
        .to_owned();
    let cpus = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or_else(|_| "unknown".to_owned(), |k| k.trim().to_owned());
    let date = first_line_of("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    let root = workspace_root();
    let root = root.to_string_lossy();
    let commit = first_line_of("git", &["-C", &root, "rev-parse", "--short", "HEAD"]);
    let dirty = Command::new("git")
        .args(["-C", &root, "status", "--porcelain", "--untracked-files=no"])
        .output()
        .is_ok_and(|o| !o.stdout.is_empty());
    let load = std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    format!(
        "- CPU: {cpus} × {model} (`nproc` {cpus})\n\
         - kernel: {kernel}\n\
         - date: {date}\n\
         - commit: {commit}{}\n\
         - load average when the run ended: {load} (the machine is shared; the kernel's own \
         timing excludes time the benchmark thread was not running, wall-clock rows do not)\n",
        if dirty {
            " with uncommitted changes"
        } else {
            ""
        }
    )
}

const METHOD: &str = "\
## Method

Each figure is the **median of interleaved trials**, with the minimum and maximum: every trial \
runs every case of its section once, in an order rotated by one per trial, so drift and noise \
on this shared machine fall on all cases alike. Ratios are taken within each trial (a case \
against the baseline measured in the same trial) and their median is shown.

**In-kernel cost.** The probe's object is loaded by the daemon's own loader (maps sized for the \
machine's CPUs, the daemon's default limits, aya-log at `info`, so the `debug!` on the malformed \
path is one compare) and attached nowhere. Each class is one frame run with `BPF_PROG_TEST_RUN` \
(`Xdp::test_run`), `repeat` ≥ 1,000,000; the figure is the kernel's own `duration`, nanoseconds \
per run (whole nanoseconds: the kernel rounds down). Two baselines from the benchmark's own \
object (probe-bench-ebpf) run in the same trials: `bench_empty` (returns `XDP_PASS`: the cost \
of the test harness itself) and `bench_minimal` (parses Ethernet/IPv4/TCP at constant offsets \
and increments one per-CPU counter).

A test run replays the *same bytes* `repeat` times on the same buffer, so a frame is new only on \
its first run: a repeated UDP datagram or ICMP echo measures the contacts-table hit that every later \
packet of a known flow takes, which is what those rows claim. Classes that must be new on every \
packet (SYN to a new port, IPv6 SYN to a new port, a new source each packet) run through \
`bench_vary`: it increments a field of the frame in place (the kernel does not copy the input \
again between repeats), then tail-calls the probe (in the other object: the benchmark puts the \
probe's descriptor in its program array). The destination port cycles through 65,536 values; \
the source cycles through 131,072 addresses of 198.18.0.0/15, twice the SOURCES slots, so \
every packet takes over a source slot. The same wrapper tail-calling `bench_empty` is measured \
in the same trial and its cost beyond the empty program subtracted: \
row = T(vary→probe) − T(vary→empty) + T(empty). Under the daemon's default limits (5,000 \
events/s per CPU, burst 20,000) a million new contacts in a fraction of a second are almost all \
rate-limited, which is what a scan flood costs; the note says what share became events. The \
row \"event delivered\" is loaded a second time with the limits raised and CONTACTS smaller \
than the port cycle, so every repeat reserves, writes and submits a ring-buffer event and \
records its contact; it runs 4,096 repeats (the ring holds 8,192 events and is drained between \
runs). Targets: established TCP and UDP to a seen port ≤ 2× empty; a new source on every packet ≤ 10× empty; every other class ≤ 6× empty.

**veth.** The integration tests' lab (probe-lab): two namespaces (`pbench-<id>-a`, \
`pbench-<id>-s`, 198.18.0.0/24) joined by a veth pair; the program under test is attached \
natively to the sensor's end, and trafgen (netsniff-ng, one CPU) sends a fixed number of frames \
from the attacker's end. Frames are addressed to a MAC that is not the sensor's, so the sensor's \
stack drops them at once and nothing answers. On veth the whole path (trafgen's send, the veth, \
the XDP program, the stack's drop) runs on the sending CPU, in trafgen's context or in that \
CPU's ksoftirqd. The figure is packets received (the sensor's counter in /proc/net/dev) per \
second of that CPU time (trafgen's runtime from `getrusage`, exact on this kernel, plus the \
ksoftirqd threads' from `schedstat`): the rate one core sustains, which the other tenants of \
this shared 2-CPU machine cannot lower by taking the core away. The wall-clock rate (between the \
first and the last packet the sensor saw, polled every 0.5 ms) is in each row's note. Each trial \
runs one mix's three setups back to back with the empty program next to the probe, the order \
reversed every other trial. Two mixes: steady traffic (established TCP, UDP/53, ICMP echo: flows \
the probe knows) and a SYN scan from random sources to random ports (every packet a first \
contact). Both namespaces are deleted when the run ends, also on error or Ctrl-C. Target: the \
probe ≥ 0.95× the empty program's rate.

**Collector.** The object is loaded (not attached); the counters are made active through a \
writable mmap of the same `BPF_F_MMAPABLE` array (as the program's per-CPU blocks would be). \
One collection is what `probe run` does every interval (`CounterMaps::read_into` through its \
read-only mmap, `Collector::observe`, the knowledge lookup of each port that became active, as \
its activity log does; logging itself excluded) plus the rows `probe query` builds \
(`query::answer` stats, ports, icmp and flags with their knowledge). Timed with \
`CLOCK_THREAD_CPUTIME_ID`. \"Newly active\": every port becomes active in the measured \
interval (the worst one); \"staying active\": the ports were active in the previous interval \
too. Beside it, the same counter map read through the syscall (`BPF_MAP_LOOKUP_ELEM`, one \
syscall per element, which is one CPU's block) and with `BPF_MAP_LOOKUP_BATCH` (raw `bpf()` \
syscall, one call), and SOURCES (each CPU's 65,536 slots) filled from user space and \
read both ways (per key: `GET_NEXT_KEY` + `LOOKUP`; batch: 4,096 per call). Target: ≤ 10 ms per collection with 65,536 \
ports active (1% of one core at a 1 s interval).

**Replay.** A legacy pcap of 1,000,000 frames is generated (deterministic; 100,000 packets per \
second of capture time): 35% SYN scan from 16 scanners over 256 hosts and all ports, 10% RST \
answers, 20% established TCP, 10% UDP scan, 5% DNS, 5% ICMP echo sweep, 5% IPv6 SYN scan, 5% \
SYN flood from random sources (drawn from all of IPv4: the file is only read, never sent), 2% \
Q-in-Q, 2% non-first fragments, 1% malformed; every other address is in 198.18.0.0/15. \
`tcpdump -nn -r FILE` and `probe replay FILE` (findings to /dev/null) are timed wall-clock, \
interleaved; `probe replay` runs every detector, once with the daemon's event limits and once \
with them raised so every first contact reaches the detectors. tcpdump keeps every address it \
prints in a cache of 4,096 chains hashed on the address's first bytes, even with `-n`: a \
flood confined to one /15 would put all its sources in one chain and make the baseline itself \
quadratic, hence the spread sources. Target: ≥ 1× tcpdump's rate.
";

/// Why a missed target is missed and what would reach it, per section: written from an analysis
/// of the code when these benchmarks were introduced, shown only for a section that misses.
const ANALYSIS: [(&str, &str); 4] = [
    (
        "kernel",
        "**In-kernel.** What reached the hot targets: established TCP and UDP take a shortcut \
         through the parser (`packet::shortcut`: constant offsets, the parser's own checks, held \
         to agree with it by the unit tests, the proptests and the fuzz target) and never build \
         a `Packet`; an established segment asks one slot of the contacts table whether it is \
         the first of a reported SYN's connection (its answer, reported once), a few ns on the \
         established row; a datagram's contact is hashed straight from the frame by the function the \
         full path uses, so a repeat stops at one slot of the contacts table; every counter a \
         packet bumps lies in one per-CPU block, found with one lookup; header fields are read \
         with 16-, 32- and 64-bit loads (the eBPF build allows misaligned access); no hash map \
         is on the packet path: sources and reported contacts live in direct-mapped tables, \
         each one plain array of per-CPU parts (a per-CPU array would add a miss in its table \
         of pointers to every lookup). How far a ratio is from its target depends on the \
         machine: on one where the empty program's run costs 7 ns, UDP to a seen port sat on \
         its 2× edge (14 or 15 ns) and a SYN to a new port at 7.7×; on one where the run \
         itself costs 27 ns (a different CPU and kernel build), the same code is at 1.2× and \
         4.8×, and the absolute nanoseconds beyond the empty program are what to compare \
         across machines. A TCP segment outside a connection (a SYN, FIN, RST) \
         takes the shortcut too: counted, its contact hashed from the frame, its source slot \
         updated, all without a `Packet`; only one the rate limit lets through as an event is \
         parsed in full. What still misses is a first contact. Taking its steps out one at a \
         time (quick runs, IPv4 SYN to a new port): the shortcut, counters and contacts check \
         come to about 37 ns, most of it cache misses a scan cannot avoid (each packet's port \
         has its own counters in two 512 KiB port families and its own slot in the 2 MiB \
         contacts table); the source slot update about 18 ns, spread over its hash, lookup, \
         sketch bits and writes (no step above 5 ns); the coarse clock and the token bucket a \
         few ns each. From a new source, its slot in the 10 MiB source table is one more miss. \
         A delivered event adds the full parse, the ring buffer's reserve and submit (a \
         spinlock and barriers), the precise clock and the 120-byte event. Reaching 6× would \
         take fewer cache lines per first contact: narrower per-port counters (32-bit, with \
         the daemon reading them often enough to unwrap them), a contacts table small enough \
         to stay in cache (trading more repeats of forgotten contacts), and a source slot with \
         its hot fields in one cache line and its sketches written less often. The first \
         contact without its event (the SYN to a new port row) and a new source on every \
         packet are within their targets; the delivered event is the row that misses. An event \
         within 6× of the empty program is beyond any BPF ring or perf buffer: events are \
         rate-limited instead \
         (5,000 per second per CPU by default, under 0.1% of a core at the measured cost).",
    ),
    (
        "veth",
        "**veth.** The veth rate is the in-kernel cost seen end to end: a frame costs the \
         empty program's path about 0.8–1 µs of CPU here, so the probe's extra nanoseconds per \
         frame are a few percent with steady traffic. With every packet a first contact from a \
         new source, the first-contact path (see the in-kernel note: two cache-missing table \
         slots per packet) is what separates the probe from the empty program.",
    ),
    (
        "collect",
        "**Collector.** Reading the counters is not the cost: the mmap read and \
         `Collector::observe` of all 65,536 ports take about 1–2 ms. The rest is per-port work \
         in user space: a knowledge lookup for every port that became active (about 0.25 µs \
         each, 65,536 in the worst interval) and, for the query rows, four `String`s and a \
         knowledge lookup per active port plus a sort. What would reach 10 ms: a table of \
         knowledge answers built once at load (index by protocol and port, so a lookup is an \
         array read), rows that borrow `&'static str` instead of allocating, sorting only the \
         top N when a query asks for it, and one summary line for a sweep rather than one \
         lookup per port that became active.",
    ),
    (
        "replay",
        "**Replay.** With the daemon's event limits most first contacts of this capture are \
         rate-limited before the detectors and the replay outruns tcpdump several times. With \
         every first contact reaching the detectors (about 550,000 contacts and 146,000 \
         finding lines from the million packets) it reached 0.20× tcpdump before the detectors \
         were reworked: a draft now carries its evidence and explanation unbuilt, made only \
         when a line is written; the detectors' tables are hash maps with an age heap instead \
         of ordered trees; addresses and port runs are written digit by digit; the replay \
         runs the kernel's own direct-mapped table of reported contacts; evidence becomes JSON \
         by moving its strings. Nine tenths of the time is the detectors and their output, \
         spread thin: hashing and eviction in the detectors' tables, which a spoofed flood \
         keeps full, writing the finding lines, and allocation. A second thread was measured \
         and left out: reading and parsing are a tenth of the work, and lines or contacts \
         handed between threads made the whole slower on a 2-CPU machine (allocations freed \
         away from their thread). What would go further: drafts allocated from an arena, and \
         a faster hash for the detectors' tables.",
    ),
];

fn document(quick: bool, table: &str, rows: &[Row], minutes: f64) -> String {
    let mut doc = String::new();
    doc.push_str("# Benchmarks\n\n");
    let _ = writeln!(
        doc,
        "Written by `cargo xtask bench{}` ({minutes:.1} min); run it again to reproduce (as \
         root). {}\n",
        if quick { " --quick" } else { "" },
        if quick {
            "**This is a quick run** (fewer trials, repeats and packets); the committed file comes \
             from a full run."
        } else {
            "A full run."
        }
    );
    doc.push_str("## Machine\n\n");
    doc.push_str(&machine());
    doc.push_str("\n## Results\n\n");
    doc.push_str(table);

    let missed: Vec<&Row> = rows.iter().filter(|r| r.verdict == "MISSED").collect();
    let judged = rows
        .iter()
        .filter(|r| r.verdict == "met" || r.verdict == "MISSED")
        .count();
    doc.push_str("## Targets\n\n");
    let _ = writeln!(
        doc,
        "{} of {judged} targets met, {} missed.\n",
        judged - missed.len(),
        missed.len()
    );
    for r in rows
        .iter()
        .filter(|r| r.verdict == "met" || r.verdict == "MISSED")
    {
        let _ = writeln!(
            doc,
            "- {}: {} ({}, target {})",
            r.name,
            if r.verdict == "met" {
                "met"
            } else {
                "**missed**"
            },
            r.ratio,
            r.target
        );
    }
    for r in rows.iter().filter(|r| r.verdict == "n/a") {
        let _ = writeln!(doc, "- {}: not measured: {}", r.name, r.note);
    }
    doc.push('\n');
    let sections_missed: Vec<&str> = ANALYSIS
        .iter()
        .filter(|(key, _)| missed.iter().any(|r| r.section == *key))
        .map(|(_, text)| *text)
        .collect();
    if !sections_missed.is_empty() {
        doc.push_str("### Why the missed targets are missed, and what would reach them\n\n");
        for text in sections_missed {
            doc.push_str(&text.split_whitespace().collect::<Vec<_>>().join(" "));
            doc.push_str("\n\n");
        }
    }

    doc.push_str("## Notes per row\n\n");
    for (n, r) in ordered(rows).iter().enumerate() {
        if !r.note.is_empty() {
            let _ = writeln!(doc, "{}. {}: {}", n + 1, r.name, r.note);
        }
    }
    doc.push('\n');
    doc.push_str(METHOD);
    doc
}

/// Rows in the order the tables number them.
fn ordered(rows: &[Row]) -> Vec<&Row> {
    SECTIONS
        .iter()
        .flat_map(|(key, _)| rows.iter().filter(move |r| r.section == *key))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str =
        "ROW\tkernel\tempty\t7.00\t7.00\t8.00\tns/pkt\t1.00× empty\t\tinfo\treturns XDP_PASS";

    #[test]
    fn rows_parse_from_probe_bench_lines() {
        let r = Row::parse(LINE).unwrap();
        assert_eq!((r.section.as_str(), r.median.as_str()), ("kernel", "7.00"));
        assert_eq!((r.target.as_str(), r.verdict.as_str()), ("", "info"));
        assert!(Row::parse("kernel: progress").is_none());
    }

    #[test]
    fn the_table_numbers_rows_and_marks_missed_targets() {
        let mut missed = Row::parse(LINE).unwrap();
        missed.verdict = "MISSED".into();
        missed.name = "a|b".into();
        let t = table(&[Row::parse(LINE).unwrap(), missed]);
        assert!(t.contains("| 1 | empty | 7.00 |"));
        assert!(t.contains("| 2 | a\\|b |"));
        assert!(t.contains("**MISSED**"));
    }
}
