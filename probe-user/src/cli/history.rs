//! `probe history`: the findings the daemon kept in its history database, read without a
//! daemon (and without root, for whoever may read the file).

use std::{
    io::{self, BufWriter, Write as _},
    net::IpAddr,
    path::PathBuf,
    process::ExitCode,
    time::Duration,
};

use anyhow::Context as _;

use crate::{
    findings::Kind,
    history::{self, Filter},
    source::clock::KernelClock,
};

/// Arguments of `probe history`.
#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// The history database (probe run --history).
    #[arg(long, value_name = "PATH", default_value = history::DEFAULT_PATH)]
    pub db: PathBuf,
    /// Only findings seen within this long (like 1h, 7d).
    #[arg(long, value_name = "DURATION", value_parser = crate::duration::parse)]
    pub since: Option<Duration>,
    /// Only findings of this kind (like vertical_scan; docs/findings.md lists them).
    #[arg(long, value_name = "KIND", value_parser = kind)]
    pub kind: Option<String>,
    /// Only findings about this source address.
    #[arg(long, value_name = "ADDRESS", value_parser = source)]
    pub src: Option<String>,
    /// Only findings of this interface.
    #[arg(long, value_name = "IF")]
    pub iface: Option<String>,
    /// Print JSON Lines: each finding's object (docs/findings.md) with the `run` that found it
    /// and its `iface`.
    #[arg(long)]
    pub json: bool,
}

/// A `--kind`: one of the documented kinds.
pub fn kind(text: &str) -> Result<String, String> {
    if Kind::ALL.iter().any(|k| k.as_str() == text) {
        return Ok(text.to_owned());
    }
    let mut names: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
    names.sort_unstable();
    Err(format!(
        "no kind {text:?}: the kinds are {}",
        names.join(", ")
    ))
}

/// A `--src`: an address, written as findings write it.
fn source(text: &str) -> Result<String, String> {
    text.parse::<IpAddr>()
        .map(|a| a.to_string())
        .map_err(|_| format!("{text:?} is not an IPv4 or IPv6 address"))
}

/// The start of a period of `since` ending now.
pub fn since_ns(since: Duration) -> u64 {
    KernelClock::now_wall().saturating_sub(u64::try_from(since.as_nanos()).unwrap_or(u64::MAX))
}

pub fn run(args: &HistoryArgs) -> anyhow::Result<ExitCode> {
    let read = history::read(
        &args.db,
        &Filter {
            since_ns: args.since.map(since_ns),
            kind: args.kind.clone(),
            src: args.src.clone(),
            iface: args.iface.clone(),
            limit: None,
        },
    )?;
    if read.damaged > 0 {
        eprintln!(
            "probe: {} findings in {} could not be read back (damaged rows); they are left out",
            read.damaged,
            args.db.display()
        );
    }
    let mut out = BufWriter::new(io::stdout().lock());
    let written = if args.json {
        read.findings.iter().try_for_each(|s| {
            let line = serde_json::to_string(s).map_err(io::Error::other)?;
            writeln!(out, "{line}")
        })
    } else if read.findings.is_empty() {
        writeln!(
            out,
            "no findings in the history{}",
            match args.since {
                Some(_) => " for that period",
                None => "",
            }
        )
    } else {
        out.write_all(crate::printable::lines(&history::summaries(&read.findings)).as_bytes())
    }
    .and_then(|()| out.flush());
    match written {
        // Read by `head`: it has what it wanted.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        other => {
            other.context("writing to standard output")?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
