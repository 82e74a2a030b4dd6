//! The `probe` command line: one file per subcommand.

pub mod completions;
pub mod config;
pub mod detach;
pub mod explain;
pub mod history;
pub mod man;
pub mod query;
pub mod replay;
pub mod report;
pub mod run;
pub mod settings;
pub mod top;

use std::{path::PathBuf, time::Duration};

use clap::{Parser, Subcommand};
use probe_common::track;

use crate::{
    duration, kernel,
    knowledge::{Cidr, CidrError},
    loader,
};

/// probe: watch an interface with XDP and say what the traffic on it is.
#[derive(Debug, Parser)]
#[command(name = "probe", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Parses the command line as [`clap::Parser::parse`] does; `--version` (not `-V`) also
    /// says what the running kernel offers the probe.
    pub fn parse_with_kernel() -> Self {
        use clap::{CommandFactory as _, FromArgMatches as _};
        // Made once per run; clap keeps it for as long as the process lives.
        let version: &'static str = kernel::version_text(&kernel::Found::here()).leak();
        let matches = Self::command().long_version(version).get_matches();
        Self::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Attach the probe to one or more interfaces and log what it sees (needs root).
    Run(run::RunArgs),
    /// Ask the running daemon for its counters.
    Query(query::QueryArgs),
    /// Explain a port or ICMP message, offline (no root, no daemon).
    Explain(explain::ExplainArgs),
    /// Run a capture file through the same parser and detectors, offline (no root).
    Replay(replay::ReplayArgs),
    /// Remove the probe a dead daemon left attached to an interface (needs root).
    Detach(detach::DetachArgs),
    /// Check a settings file, or show the configuration probe run would start with.
    Config(config::ConfigArgs),
    /// Print a completion script for bash, zsh or fish.
    Completions(completions::CompletionsArgs),
    /// List the findings kept in the history database, without a daemon.
    History(history::HistoryArgs),
    /// What the findings history says about a period: top ports, sources, findings over time.
    Report(report::ReportArgs),
    /// A live, full-screen view of the running daemon: ports, sources, findings, ICMP.
    Top(top::TopArgs),
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
    /// The networks the probe protects, comma-separated (192.168.1.0/24,fd00:1::/64). On
    /// them a private source is a neighbour, not a bogon, and a host's broadcast to its own
    /// network is LAN chatter. Without it: the [home] networks of --detectors, else `probe
    /// run` takes the interface's own networks and `probe replay` infers them from the capture
    /// and says which.
    #[arg(long, value_name = "CIDR,...", value_delimiter = ',', value_parser = home_net)]
    pub home_net: Option<Vec<Cidr>>,
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

/// One `--home-net` network; a mistake says what to write instead.
fn home_net(text: &str) -> Result<Cidr, String> {
    text.parse().map_err(|e: CidrError| match e {
        CidrError::HostBits { network, .. } => {
            format!("{text:?} is an address inside a network, not a network: write {network}")
        }
        e => format!("{e}: write each network as ADDRESS/PREFIX, like 192.168.1.0/24"),
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;

    fn replay(extra: &[&str]) -> Result<DetectionArgs, String> {
        let mut argv = vec!["probe", "replay", "x.pcap"];
        argv.extend_from_slice(extra);
        match Cli::try_parse_from(argv)
            .map_err(|e| e.to_string())?
            .command
        {
            Command::Replay(r) => Ok(r.detection),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn home_net_takes_a_comma_separated_list_or_repeats() {
        let d = replay(&["--home-net", "192.168.1.0/24,fd00:1::/64"]).unwrap();
        let shown: Vec<String> = d
            .home_net
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(shown, ["192.168.1.0/24", "fd00:1::/64"]);
        let d = replay(&["--home-net", "10.0.0.0/8", "--home-net", "203.0.113.0/24"]).unwrap();
        assert_eq!(d.home_net.map(|n| n.len()), Some(2));
        assert_eq!(replay(&[]).unwrap().home_net, None);
        let Command::Run(run) = Cli::try_parse_from([
            "probe",
            "run",
            "--iface",
            "eth0",
            "--home-net",
            "198.18.0.0/24",
        ])
        .unwrap()
        .command
        else {
            panic!("not run");
        };
        assert_eq!(
            run.config().unwrap().home_net.map(|n| n[0].to_string()),
            Some("198.18.0.0/24".to_owned())
        );
    }

    #[test]
    fn a_bad_home_net_is_one_line_saying_what_to_write() {
        for (bad, says) in [
            (
                "192.168.1.20/24",
                "\"192.168.1.20/24\" is an address inside a network, not a network: write 192.168.1.0/24",
            ),
            (
                "192.168.1.0",
                "\"192.168.1.0\" is not ADDRESS/PREFIX (for example 10.0.0.0/8): write each network as ADDRESS/PREFIX, like 192.168.1.0/24",
            ),
            (
                "lan/24",
                "\"lan\" is not an IPv4 or IPv6 address: write each network as ADDRESS/PREFIX, like 192.168.1.0/24",
            ),
            (
                "10.0.0.0/33",
                "prefix /33 is longer than the 32 bits of the address: write each network as ADDRESS/PREFIX, like 192.168.1.0/24",
            ),
        ] {
            let error = replay(&["--home-net", &format!("203.0.113.0/24,{bad}")]).unwrap_err();
            let first = error.lines().next().unwrap();
            assert_eq!(
                first,
                format!("error: invalid value '{bad}' for '--home-net <CIDR,...>': {says}")
            );
            // Clap adds only its pointer to --help after the one line.
            assert_eq!(
                error.lines().filter(|l| !l.trim().is_empty()).count(),
                2,
                "{error}"
            );
        }
    }
}
