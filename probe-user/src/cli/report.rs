//! `probe report`: what the findings history says about a period, as text, Markdown, JSON or
//! one self-contained HTML file.

use std::{
    io::{self, Write as _},
    path::{Path, PathBuf},
    process::ExitCode,
    time::Duration,
};

use anyhow::Context as _;

use crate::{
    history::{self, Filter},
    knowledge::Knowledge,
    report::{Format, Report},
    source::clock::KernelClock,
};

/// Arguments of `probe report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The history database (probe run --history).
    #[arg(long, value_name = "PATH", default_value = history::DEFAULT_PATH)]
    pub db: PathBuf,
    /// The period: the findings seen within this long before now (like 24h, 7d).
    #[arg(long, value_name = "DURATION", default_value = "24h",
          value_parser = crate::duration::parse)]
    pub since: Duration,
    /// Only findings of this interface.
    #[arg(long, value_name = "IF")]
    pub iface: Option<String>,
    /// How to write it: text for a terminal, markdown, json, or html (one file, charts inline,
    /// readable offline).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Write the report to FILE instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// A TOML file of port meanings that add to or override the built-in ones, as the daemon's
    /// --knowledge.
    #[arg(long, value_name = "FILE")]
    pub knowledge: Option<PathBuf>,
}

pub fn run(args: &ReportArgs) -> anyhow::Result<ExitCode> {
    let knowledge = Knowledge::load(args.knowledge.as_deref())?;
    let to = KernelClock::now_wall();
    let from = super::history::since_ns(args.since);
    let read = history::read(
        &args.db,
        &Filter {
            since_ns: Some(from),
            iface: args.iface.clone(),
            ..Filter::default()
        },
    )?;
    if read.damaged > 0 {
        eprintln!(
            "probe: {} findings in {} could not be read back (damaged rows); they are left out",
            read.damaged,
            args.db.display()
        );
    }
    let source = format!("the findings history {}", args.db.display());
    let report = Report::new(source, from, to, read.findings, &knowledge);
    write(&report.render(args.format), args.output.as_deref())?;
    Ok(ExitCode::SUCCESS)
}

/// Writes a report to `output`, or to standard output.
pub fn write(text: &str, output: Option<&Path>) -> anyhow::Result<()> {
    if let Some(path) = output {
        return std::fs::write(path, text)
            .with_context(|| format!("cannot write the report to {}", path.display()));
    }
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        // Read by `head`: it has what it wanted.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("writing the report to standard output"),
    }
}
