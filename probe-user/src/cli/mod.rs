//! The `probe` command line: one file per subcommand.

pub mod detach;
pub mod explain;
pub mod query;
pub mod replay;
pub mod run;

use clap::{Parser, Subcommand};

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
