//! `probe replay`: a capture file through the daemon's parser, first-contact rule and
//! pipeline, offline.
//!
//! Unless told the home networks (`--home-net`, or `[home]` in the detector settings), the
//! replay reads the capture's first [`HOME_LOOKAHEAD`] first contacts ahead, infers them from
//! where those contacts go (`detect::Guess`) and says what it inferred before the detectors
//! start on the same contacts. One pass: a capture may be larger than memory.

use std::{
    io::{self, BufWriter, Write as _},
    path::PathBuf,
    process::ExitCode,
    sync::Arc,
};

use anyhow::Context as _;
use probe_common::track::user::FirstContacts;

use super::DetectionArgs;
use crate::{
    capture::Capture,
    counters::Snapshot,
    detect::{self, Guess},
    findings::Finding,
    history::Stored,
    knowledge::Knowledge,
    pipeline::{Output, Pipeline},
    query::answer,
    report::{Counters, Report, TOP},
    source::capture::{CaptureSource, replay},
    sources::SourceFinding,
};

/// Arguments of `probe replay`.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// A pcap or pcapng capture (tcpdump -w, tshark, dumpcap) of Ethernet, raw IP, Linux cooked
    /// (v1 or v2, as `tcpdump -i any` writes), BSD loopback (NULL, LOOP) or PPP frames. Frames
    /// cut short by a snapshot length (tcpdump -s) are read as far as they go.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Print findings as JSON Lines (docs/findings.md) instead of one line each for people.
    #[arg(long, conflicts_with = "report")]
    pub json: bool,
    /// Instead of the findings' lines, write the report `probe report` makes of a day of the
    /// daemon's history, of this capture: its findings by kind, level and hour, the ports
    /// probed by the most sources, the sources with the worst findings, and the capture's own
    /// counters (ports, ICMP messages, TCP flags, busiest sources).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub report: Option<crate::report::Format>,
    /// Write the report to FILE instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE", requires = "report")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub detection: DetectionArgs,
}

/// First contacts read ahead to infer the home networks from: a capture's beginning shows
/// where its hosts are as well as its whole, and what is read ahead is held in memory.
pub const HOME_LOOKAHEAD: usize = 10_000;

/// The latest state of each finding, for a report.
#[derive(Default)]
struct Latest(std::collections::BTreeMap<u64, Finding>);

impl Output for Latest {
    fn write(&mut self, f: Finding) {
        self.0.insert(f.id, f);
    }
}

/// Findings to standard output, buffered; the first write error is kept for the end.
///
/// One thread does it all: handing lines to a writing thread (and contacts from a reading
/// one) made a replay of the benchmark's capture slower here, not faster: allocations freed on
/// another thread than the one that made them cost more than the work moved.
struct Stdout {
    out: BufWriter<io::StdoutLock<'static>>,
    json: bool,
    error: Option<io::Error>,
}

impl Output for Stdout {
    fn write(&mut self, f: Finding) {
        if self.error.is_some() {
            return;
        }
        let line = if self.json {
            f.to_json_line()
        } else {
            crate::printable::line(&f.summary()).into_owned()
        };
        if let Err(e) = writeln!(self.out, "{line}") {
            self.error = Some(e);
        }
    }
}

pub fn run(args: &ReplayArgs) -> anyhow::Result<ExitCode> {
    let d = &args.detection;
    let knowledge = Arc::new(Knowledge::load(d.knowledge.as_deref())?);
    let mut detectors = detect::Config::load(d.detectors.as_deref())?;
    let capture = Capture::open(&args.file)?;
    let rule = FirstContacts::new(d.max_contacts, d.event_rate, d.event_burst)
        .with_sources(knowledge.source_ports());
    let tick_ns = u64::try_from(d.interval.as_nanos()).unwrap_or(u64::MAX);
    let mut source = CaptureSource::new(capture, rule, tick_ns);
    if args.report.is_some() {
        source = source.counting();
    }
    if let Some(networks) = &d.home_net {
        detectors.home.networks = Some(networks.clone());
    } else if detectors.home.networks.is_none() {
        let mut guess = Guess::default();
        for c in source.look_ahead(HOME_LOOKAHEAD) {
            guess.see(c.dst);
        }
        let networks = guess.networks();
        eprintln!(
            "home networks inferred from the capture: {} (use --home-net to set them)",
            detect::describe_home(&networks)
        );
        detectors.home.networks = Some(networks);
    }
    let (result, written) = if let Some(format) = args.report {
        let mut pipeline = Pipeline::new(detectors, Arc::clone(&knowledge), Latest::default());
        let result = replay(&mut source, &mut pipeline);
        let written = pipeline.written();
        let findings = pipeline.into_output().0.into_values().collect();
        let report = capture_report(&args.file, &source, findings, &knowledge);
        super::report::write(&report.render(format), args.output.as_deref())?;
        (result, written)
    } else {
        let stdout = Stdout {
            out: BufWriter::with_capacity(1 << 16, io::stdout().lock()),
            json: args.json,
            error: None,
        };
        let mut pipeline = Pipeline::new(detectors, knowledge, stdout);
        let result = replay(&mut source, &mut pipeline);
        let written = pipeline.written();
        let mut out = pipeline.into_output();
        if let Some(e) = out.error.take() {
            return Err(e).context("writing findings to standard output");
        }
        out.out
            .flush()
            .context("writing findings to standard output")?;
        (result, written)
    };
    let totals = source.totals();
    eprintln!(
        "replayed {} frames: {} first contacts, {} findings, {} malformed{}{}{}",
        totals.frames,
        totals.contacts,
        written,
        totals.malformed,
        if totals.rate_limited > 0 {
            format!(
                ", {} contacts over the event rate (raise --event-rate to see them)",
                totals.rate_limited
            )
        } else {
            String::new()
        },
        if totals.truncated > 0 {
            format!(
                ", {} frames cut short by the snapshot length (read as far as they go)",
                totals.truncated
            )
        } else {
            String::new()
        },
        if totals.skipped_link_types > 0 {
            format!(
                ", {} frames of a link type the replay does not read",
                totals.skipped_link_types
            )
        } else {
            String::new()
        },
    );
    result?;
    Ok(ExitCode::SUCCESS)
}

/// The report of a replayed capture: its findings as a day of the history would give them
/// (one run, starting with the capture, on an "interface" named after the file), and its own
/// counters.
fn capture_report(
    file: &std::path::Path,
    source: &CaptureSource,
    findings: Vec<Finding>,
    knowledge: &Knowledge,
) -> Report {
    let (from, to) = (source.start_ns(), source.end_ns());
    let run = crate::history::run_id(from);
    let iface = file.file_name().map_or_else(
        || file.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let stored: Vec<Stored> = findings
        .into_iter()
        .map(|finding| Stored {
            run,
            iface: iface.clone(),
            finding,
        })
        .collect();
    let empty = Snapshot::zeroed();
    let snapshot = source.counters().unwrap_or(&empty);
    let totals = source.totals();
    let mut stats = answer::stats(snapshot);
    stats.events = totals.contacts;
    stats.events_rate_limited = totals.rate_limited;
    let mut sources = source.sources();
    sources.sort_by(|a, b| {
        b.1.packets
            .cmp(&a.1.packets)
            .then_with(|| crate::sources::address(&a.0).cmp(&crate::sources::address(&b.0)))
    });
    sources.truncate(TOP);
    let sources = sources
        .iter()
        .map(|(k, s)| {
            let mut row = crate::sources::row(k, s, |t| t);
            row.findings = stored
                .iter()
                .map(|s| &s.finding)
                .filter(|f| f.src.as_deref() == Some(row.src.as_str()))
                .map(|f| SourceFinding {
                    id: f.id,
                    kind: f.kind.as_str().to_owned(),
                    level: f.level.to_string(),
                    port: f.port,
                })
                .collect();
            row
        })
        .collect();
    let counters = Counters {
        stats,
        ports: answer::ports(snapshot, knowledge, None, false, Some(TOP)),
        icmp: answer::icmp(snapshot, knowledge, Some(TOP)),
        flags: answer::flags(snapshot, Some(TOP)),
        sources,
    };
    Report::new(
        format!("the capture {}", file.display()),
        from,
        to,
        stored,
        knowledge,
    )
    .with_counters(counters)
}
