//! `probe run`: the daemon's flags, turned into a `daemon::Config`; the daemon itself is
//! `daemon::run`.

use std::{path::PathBuf, process::ExitCode};

use anyhow::Context as _;
use probe_common::track;
use tokio::{
    signal::unix::{SignalKind, signal},
    sync::mpsc,
};

use super::DetectionArgs;
use crate::{
    daemon::{self, Control, DEFAULT_SOCKET},
    history,
    loader::{self, Mode},
    metrics,
    sink::Format,
};

/// Arguments of `probe run`.
#[derive(Debug, clap::Args)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "each is an independent command-line switch"
)]
pub struct RunArgs {
    /// The interface to watch (`ip link` lists them); required here or as `iface` in the
    /// settings file. Give it again (or IF,IF) to watch several in this one daemon: each is
    /// counted and its findings made on their own, the query socket and the metrics answer
    /// for all (`probe query --iface IF` for one).
    #[arg(long, value_name = "IF", value_delimiter = ',')]
    pub iface: Vec<String>,
    /// A settings file holding any of these flags as keys (docs/configuration.md); flags
    /// given here override it. Without it /etc/probe/probe.toml is read when it exists.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// How to attach: auto tries native (driver) XDP and falls back to generic (skb) mode;
    /// native fails where the driver has no XDP support; skb works everywhere, a little slower.
    #[arg(long, value_enum, default_value_t = Mode::Auto)]
    pub mode: Mode,
    /// The Unix socket `probe query` talks to (created with mode 0660).
    #[arg(long, value_name = "PATH", default_value = DEFAULT_SOCKET)]
    pub socket: PathBuf,
    /// Slots of each CPU's per-source table (rounded up to a power of two; 160 bytes each).
    /// A source takes the slot its address hashes to: a new source hashing there takes it over.
    #[arg(long, value_name = "N", default_value_t = track::DEFAULT_SOURCES,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(track::MAX_SOURCES)))]
    pub max_sources: u32,
    /// When the interface is deleted and comes back, attach to it again (keeps the capabilities
    /// attaching needs; without it the daemon drops them all once attached).
    #[arg(long)]
    pub follow: bool,
    /// Start counting from zero: remove what an earlier daemon left pinned for this interface.
    #[arg(long)]
    pub reset: bool,
    /// Do not pin the program and maps in bpffs: counters then end with this daemon.
    #[arg(long)]
    pub no_pin: bool,
    /// Print each finding as a JSON line on standard output (docs/findings.md), besides the log.
    #[arg(long)]
    pub json: bool,
    /// Append each finding as a JSON line to FILE, flushed as it is written.
    #[arg(long, value_name = "FILE")]
    pub findings: Option<PathBuf>,
    /// Field names of the findings written with --json and --findings: the probe's own
    /// (native, docs/findings.md) or Elastic Common Schema's (ecs: `@timestamp`, `event.*`,
    /// `rule.name`, `source.ip`, `destination.ip`/`port`, the rest under `probe.*`).
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = Format::Native)]
    pub findings_format: Format,
    /// Send each finding's summary line to syslog too (facility daemon, severity from its
    /// level), at the local syslog socket (/dev/log) or PATH.
    #[arg(long, value_name = "PATH", num_args = 0..=1, default_missing_value = "/dev/log")]
    pub syslog: Option<PathBuf>,
    /// Serve Prometheus metrics at http://ADDR/metrics (docs/metrics.md). The default is the
    /// loopback address only; give an address a Prometheus server can reach to open them.
    #[arg(long, value_name = "ADDR", default_value = metrics::DEFAULT_ADDRESS,
          conflicts_with = "no_metrics")]
    pub metrics: std::net::SocketAddr,
    /// Serve no metrics.
    #[arg(long)]
    pub no_metrics: bool,
    /// Ports with series of their own in the metrics besides the ones the knowledge tables
    /// describe, per protocol and direction: the busiest N; the rest are summed as
    /// port="other", which bounds the series however many ports are scanned.
    #[arg(long, value_name = "N", default_value_t = metrics::DEFAULT_TOP_PORTS,
          value_parser = clap::value_parser!(u16).range(0..=1024))]
    pub metrics_ports: u16,
    /// Keep every finding in this SQLite database too (docs/history.md): `probe history`,
    /// `probe report` and `probe query findings --since` read it across restarts. Its
    /// directory is made if missing; when that fails the daemon runs without a history.
    #[arg(long, value_name = "PATH", default_value = history::DEFAULT_PATH,
          conflicts_with = "no_history")]
    pub history: PathBuf,
    /// Keep no findings history.
    #[arg(long)]
    pub no_history: bool,
    /// Days the history keeps a finding after it was last seen; older ones are removed at
    /// start and every hour.
    #[arg(long, value_name = "DAYS", default_value_t = history::DEFAULT_DAYS,
          value_parser = clap::value_parser!(u32).range(1..=36_500))]
    pub history_days: u32,
    #[command(flatten)]
    pub detection: DetectionArgs,
}

impl RunArgs {
    /// The daemon's settings these flags describe; an error without an interface.
    pub fn config(&self) -> anyhow::Result<daemon::Config> {
        if self.iface.is_empty() {
            anyhow::bail!(
                "no interface to watch: give --iface IF, or write iface = \"IF\" in the \
                 settings file ({})",
                self.config.as_ref().map_or_else(
                    || super::settings::DEFAULT_PATH.to_owned(),
                    |p| p.display().to_string()
                )
            );
        }
        let mut seen = std::collections::BTreeSet::new();
        for iface in &self.iface {
            if !seen.insert(iface) {
                anyhow::bail!(
                    "--iface {} is given twice: name each interface once",
                    crate::printable::line(iface)
                );
            }
        }
        Ok(daemon::Config {
            ifaces: self.iface.clone(),
            mode: self.mode,
            interval: self.detection.interval,
            socket: self.socket.clone(),
            limits: loader::Limits {
                sources: self.max_sources,
                contacts: self.detection.max_contacts,
                event_rate: self.detection.event_rate,
                event_burst: self.detection.event_burst,
            },
            knowledge: self.detection.knowledge.clone(),
            detectors: self.detection.detectors.clone(),
            home_net: self.detection.home_net.clone(),
            follow: self.follow,
            reset: self.reset,
            no_pin: self.no_pin,
            json: self.json,
            findings: self.findings.clone(),
            findings_format: self.findings_format,
            syslog: self.syslog.clone(),
            metrics: (!self.no_metrics).then_some(self.metrics),
            metrics_top_ports: usize::from(self.metrics_ports),
            history: (!self.no_history).then(|| self.history.clone()),
            history_days: self.history_days,
        })
    }
}

/// The signals an operator sends a daemon, as its control messages: SIGINT and SIGTERM stop
/// it, SIGHUP reloads it (what a daemon that writes a log file is expected to do on rotation).
fn signals() -> anyhow::Result<mpsc::Receiver<Control>> {
    let mut interrupt = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut terminate =
        signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut hangup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
    let (to_daemon, control) = mpsc::channel(4);
    tokio::spawn(async move {
        loop {
            let message = tokio::select! {
                _ = interrupt.recv() => Control::Stop("SIGINT".to_owned()),
                _ = terminate.recv() => Control::Stop("SIGTERM".to_owned()),
                _ = hangup.recv() => Control::Reload,
            };
            if to_daemon.send(message).await.is_err() {
                return;
            }
        }
    });
    Ok(control)
}

/// Runs the daemon with the command line `argv` (`probe run ...`) completed by the settings
/// file (`--config`, else /etc/probe/probe.toml when it exists): the command line is read
/// again with the file's keys in, so every value goes through the same parser.
pub fn run(argv: &[std::ffi::OsString]) -> anyhow::Result<ExitCode> {
    let merged = super::settings::merged(argv)?;
    if let Some(file) = &merged.file {
        log::info!(
            "settings from {} ({} keys; flags given override them)",
            file.path.display(),
            merged.applied.len()
        );
    }
    let config = merged.args.config()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let control = signals()?;
        daemon::run(config, control).await
    })?;
    Ok(ExitCode::SUCCESS)
}
