//! `probe replay`: a capture file through the live daemon's parser and detectors.

use std::{
    io::{BufWriter, Write as _},
    path::PathBuf,
    process::ExitCode,
    sync::Arc,
};

use anyhow::Context as _;
use probe_common::track;

use crate::{
    capture::Capture,
    detect::{Config, Engine},
    knowledge::Knowledge,
    replay,
    tracker::Tracker,
};

/// Arguments of `probe replay`.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// A pcap or pcapng capture (tcpdump -w, tshark, dumpcap), Ethernet, raw IP or Linux cooked.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Print findings as JSON Lines (docs/findings.md) instead of one line each for people.
    #[arg(long)]
    pub json: bool,
    /// A TOML file of port and ICMP meanings that add to or override the built-in ones.
    #[arg(long, value_name = "FILE")]
    pub knowledge: Option<PathBuf>,
    /// Contacts remembered as reported (an exact LRU; the live daemon's --max-contacts sizes
    /// per-CPU tables where a colliding contact takes over a slot, so it may repeat a few more).
    #[arg(long, value_name = "N", default_value_t = track::DEFAULT_CONTACTS,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_contacts: u32,
    /// First contacts per second of capture time, as the live daemon's --event-rate (one CPU).
    #[arg(long, value_name = "N", default_value_t = track::DEFAULT_EVENT_RATE,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub event_rate: u64,
    /// Burst above --event-rate, as the live daemon's --event-burst.
    #[arg(long, value_name = "N", default_value_t = track::DEFAULT_EVENT_BURST,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub event_burst: u64,
}

pub fn run(args: &ReplayArgs) -> anyhow::Result<ExitCode> {
    let knowledge = Arc::new(Knowledge::load(args.knowledge.as_deref())?);
    let mut capture = Capture::open(&args.file)?;
    let mut tracker = Tracker::new(args.max_contacts, args.event_rate, args.event_burst);
    let mut engine = Engine::new(Config::default(), knowledge);
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut write_error = None;
    let (totals, result) = replay::run(&mut capture, &mut tracker, &mut engine, |f| {
        let line = if args.json {
            f.to_json_line()
        } else {
            f.summary()
        };
        if write_error.is_none()
            && let Err(e) = writeln!(out, "{line}")
        {
            write_error = Some(e);
        }
    });
    if let Some(e) = write_error {
        return Err(e).context("writing findings to standard output");
    }
    out.flush().context("writing findings to standard output")?;
    eprintln!(
        "replayed {} frames: {} first contacts, {} findings, {} malformed{}{}",
        totals.frames,
        totals.contacts,
        totals.findings,
        totals.malformed,
        if totals.rate_limited > 0 {
            format!(
                ", {} contacts over the event rate (raise --event-rate to see them)",
                totals.rate_limited
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
