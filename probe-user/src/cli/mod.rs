//! The `probe` command line: one file per subcommand.

pub mod detach;
pub mod explain;
pub mod query;
pub mod replay;
pub mod run;

use std::{path::PathBuf, time::Duration};

use clap::{Parser, Subcommand};
use probe_common::track;

use crate::{duration, loader};

/// probe: watch an interface with XDP and say what the traffic on it is.
#[derive(Debug, Parser)]
#[command(name = "probe", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Attach the probe to an interface and log what it sees (needs root).
    Run(run::RunArgs),
    /// Ask the running daemon for its counters.
    Query(query::QueryArgs),
    /// Explain a port or ICMP message, offline (no root, no daemon).
    Explain(explain::ExplainArgs),
    /// Run a capture file through the same parser and detectors, offline (no root).
    Replay(replay::ReplayArgs),
    /// Remove the probe a dead daemon left attached to an interface (needs root).
    Detach(detach::DetachArgs),
}

/// The settings that change what the probe finds, taken alike by `probe run` and
/// `probe replay`: a replay with the daemon's settings reaches the daemon's findings.
#[derive(Debug, Clone, clap::Args)]
pub struct DetectionArgs {
    /// A TOML file of port and ICMP meanings that add to or override the built-in ones
    /// (docs/knowledge.md). A bad file is refused before anything starts.
    #[arg(long, value_name = "FILE")]
    pub knowledge: Option<PathBuf>,
    /// A TOML file of detector thresholds and windows (docs/findings.md); defaults otherwise.
    #[arg(long, value_name = "FILE")]
    pub detectors: Option<PathBuf>,
    /// How often to read the counters, log what became active and close the detectors'
    /// windows (like 500ms, 1s, 1m; from 10ms to 1h); a replay ticks on capture time.
    #[arg(long, default_value = "1s", value_parser = duration::interval)]
    pub interval: Duration,
    /// Slots of each CPU's table of reported contacts (rounded up to a power of two; 8 bytes
    /// each). A contact whose slot another takes over is reported again when it recurs. A
    /// replay runs the kernel's rule as one CPU.
    #[arg(long, value_name = "N", default_value_t = track::DEFAULT_CONTACTS,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(track::MAX_CONTACTS)))]
    pub max_contacts: u32,
    /// First-contact events per second per CPU (capture time in a replay). Beyond it the
    /// kernel counts what it did not report, and the probe reports that as a probe_overload
    /// finding.
    #[arg(long, value_name = "N", default_value_t = track::DEFAULT_EVENT_RATE,
          value_parser = clap::value_parser!(u64).range(1..=loader::MAX_EVENT_RATE))]
    pub event_rate: u64,
    /// Events allowed in a burst above --event-rate.
    #[arg(long, value_name = "N", default_value_t = track::DEFAULT_EVENT_BURST,
          value_parser = clap::value_parser!(u64).range(1..=loader::MAX_EVENT_RATE * 10))]
    pub event_burst: u64,
}
