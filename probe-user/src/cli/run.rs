//! `probe run`: the daemon.

use std::{
    path::PathBuf,
    process::ExitCode,
    sync::{Arc, Mutex},
    time::Duration,
};

use anyhow::Context as _;
use probe_common::{
    counters::{port_proto, total},
    track,
};
use tokio::{
    signal::unix::{SignalKind, signal},
    sync::watch,
};

use crate::{
    collector::{Became, Collector},
    counters::{CounterMaps, Snapshot},
    detect::{Config, Engine},
    duration,
    events::{Events, KernelClock},
    findings::Finding,
    iface,
    knowledge::{self, Direction, IcmpFamily, Knowledge, RangeClass},
    loader::{self, Mode},
    pins::{self, Bpffs, Pins},
    privilege,
    query::server,
    sink::{Sink, SinkOptions},
};

/// Activity lines logged per interval at most; the rest are summed up in one line. A scan or a
/// flood of spoofed sources would otherwise make the daemon write one line per port, as fast as
/// an attacker cares to send, on the thread that also answers queries.
pub const ACTIVITY_LINES: usize = 20;

/// Where the daemon serves queries unless told otherwise.
pub const DEFAULT_SOCKET: &str = "/run/probe/probe.sock";

/// Arguments of `probe run`.
#[derive(Debug, clap::Args)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "each is an independent command-line switch"
)]
pub struct RunArgs {
    /// The interface to watch (`ip link` lists them).
    #[arg(long, value_name = "IF")]
    pub iface: String,
    /// How to attach: auto tries native (driver) XDP and falls back to generic (skb) mode;
    /// native fails where the driver has no XDP support; skb works everywhere, a little slower.
    #[arg(long, value_enum, default_value_t = Mode::Auto)]
    pub mode: Mode,
    /// How often to read the counters and log what became active (like 500ms, 1s, 1m).
    #[arg(long, default_value = "1s", value_parser = duration::parse)]
    pub interval: Duration,
    /// The Unix socket `probe query` talks to (created with mode 0660).
    #[arg(long, value_name = "PATH", default_value = DEFAULT_SOCKET)]
    pub socket: PathBuf,
    /// Slots of each CPU's per-source table (rounded up to a power of two; 160 bytes each).
    /// A source takes the slot its address hashes to: a new source hashing there takes it over.
    #[arg(long, value_name = "N", default_value_t = track::DEFAULT_SOURCES,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(track::MAX_SOURCES)))]
    pub max_sources: u32,
    /// Slots of each CPU's table of reported contacts (rounded up to a power of two; 8 bytes
    /// each). A contact whose slot another takes over is reported again when it recurs.
    #[arg(long, value_name = "N", default_value_t = track::DEFAULT_CONTACTS,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(track::MAX_CONTACTS)))]
    pub max_contacts: u32,
    /// First-contact events per second per CPU. Beyond it the kernel counts what it did not
    /// report, and the daemon reports that as a probe_overload finding.
    #[arg(long, value_name = "N", default_value_t = track::DEFAULT_EVENT_RATE,
          value_parser = clap::value_parser!(u64).range(1..=loader::MAX_EVENT_RATE))]
    pub event_rate: u64,
    /// A TOML file of port and ICMP meanings that add to or override the built-in ones
    /// (docs/knowledge.md). A bad file stops the daemon before it attaches.
    #[arg(long, value_name = "FILE")]
    pub knowledge: Option<PathBuf>,
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
    /// A TOML file of detector thresholds and windows (docs/findings.md); defaults otherwise.
    #[arg(long, value_name = "FILE")]
    pub detectors: Option<PathBuf>,
    /// Events allowed in a burst above --event-rate.
    #[arg(long, value_name = "N", default_value_t = track::DEFAULT_EVENT_BURST,
          value_parser = clap::value_parser!(u64).range(1..=loader::MAX_EVENT_RATE * 10))]
    pub event_burst: u64,
}

impl RunArgs {
    fn limits(&self) -> loader::Limits {
        loader::Limits {
            sources: self.max_sources,
            contacts: self.max_contacts,
            event_rate: self.event_rate,
            event_burst: self.event_burst,
        }
    }
}

pub fn run(args: &RunArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(daemon(args))?;
    Ok(ExitCode::SUCCESS)
}

#[expect(
    clippy::too_many_lines,
    reason = "the daemon's life in order: set up, serve and collect, shut down"
)]
async fn daemon(args: &RunArgs) -> anyhow::Result<()> {
    // Refuse early, before touching the interface: another daemon on the socket, a bad file.
    server::check_free(&args.socket)?;
    let knowledge = Arc::new(Knowledge::load(args.knowledge.as_deref())?);
    let config = detector_config(args.detectors.as_deref())?;
    let sink = Sink::new(&SinkOptions {
        log: true,
        json_stdout: args.json,
        file: args.findings.clone(),
        ..SinkOptions::default()
    })?;
    loader::interface_index(&args.iface)?;
    let pins = pins_for(args)?;
    let loader::Loaded {
        mut ebpf,
        mut pinned_link,
        resumed,
        counters,
        events,
        cpus,
        attached_mode,
    } = loader::load(&args.iface, args.mode, args.limits(), pins.as_ref())?;
    if resumed {
        log::info!(
            "took over the probe an earlier daemon left on {}: counters continue from where it stopped",
            args.iface
        );
    }
    log::info!(
        "watching {} ({} XDP, counters for {} CPUs)",
        args.iface,
        attached_mode,
        cpus
    );
    let counters = Arc::new(CounterMaps::new(counters, cpus)?);
    let mut events = Events::new(events).context("watching the first-contact ring buffer")?;
    let sink = Arc::new(Mutex::new(sink));
    let socket = server::bind(&args.socket)?;
    match privilege::socket_group(&args.socket) {
        Ok(Some(gid)) => log::info!(
            "serving queries on {} (group probe, gid {gid})",
            args.socket.display()
        ),
        Ok(None) => log::info!("serving queries on {}", args.socket.display()),
        Err(e) => log::warn!(
            "serving queries on {}, but giving it to group probe failed: {e}",
            args.socket.display()
        ),
    }
    // Everything that needs privilege is done (unless --follow must attach again).
    let keep = if args.follow {
        privilege::FOR_ATTACHING
    } else {
        &[]
    };
    match privilege::keep_only(keep) {
        Ok(()) if args.follow => {
            log::info!("dropped every capability but those attaching needs (--follow)");
        }
        Ok(()) => log::info!("dropped every capability: nothing left to do needs them"),
        Err(e) => log::warn!("could not drop capabilities: {e}"),
    }

    let (stop_tx, stop_rx) = watch::channel(false);
    // The engine is shared with the query server, which reads open findings' current state;
    // both run on this one thread, so the lock is never contended.
    let engine = Arc::new(Mutex::new(Engine::new(config, Arc::clone(&knowledge))));
    let source: Arc<dyn server::Source> = Arc::new(server::Live {
        counters: Arc::clone(&counters),
        findings: Arc::clone(&sink),
        engine: Arc::clone(&engine),
    });
    let server_task = {
        let stop = stop_rx.clone();
        let knowledge = Arc::clone(&knowledge);
        async move { server::serve(&socket.listener, source, knowledge, stop).await }
    };

    let engine = || {
        engine
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    let write = |findings: Vec<Finding>| {
        if findings.is_empty() {
            return;
        }
        let mut sink = sink
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Err(e) = sink.write_all(&findings) {
            log::error!("writing findings failed: {e}");
        }
    };
    let mut interrupt = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut terminate =
        signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let collect = async {
        let mut collector = Collector::new(counters.read());
        let mut snapshot = Snapshot::zeroed();
        let mut tick = tokio::time::interval(args.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut iface_state = iface::state(&args.iface);
        let mut attached_index = iface_state.index();
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    let now_state = iface::state(&args.iface);
                    if now_state != iface_state {
                        watch_iface(args, &mut ebpf, &mut pinned_link, pins.as_ref(), now_state, &mut attached_index);
                        iface_state = now_state;
                    }
                    counters.read_into(&mut snapshot);
                    let (rate_limited, ring_full) = (
                        snapshot.total(total::EVENTS_RATE_LIMITED),
                        snapshot.total(total::EVENTS_RING_FULL),
                    );
                    // Hands `snapshot` over; it comes back holding the previous read.
                    let became = collector.observe(&mut snapshot);
                    for b in became.iter().take(ACTIVITY_LINES) {
                        log_activity(b, &knowledge);
                    }
                    if became.len() > ACTIVITY_LINES {
                        log::info!(
                            "active: {} more ports and ICMP messages this interval (probe query ports and icmp list them)",
                            became.len() - ACTIVITY_LINES
                        );
                    }
                    let now = KernelClock::now_wall();
                    write(engine().overload(now, rate_limited, ring_full));
                    write(engine().tick(now));
                }
                batch = events.next_batch(|c| write(engine().contact(&c))) => {
                    match batch {
                        Ok(0) => {}
                        Ok(n) => log::warn!("skipped {n} first-contact records of an unexpected size"),
                        Err(e) => log::warn!("reading first-contact events failed: {e}"),
                    }
                }
                _ = interrupt.recv() => return "SIGINT",
                _ = terminate.recv() => return "SIGTERM",
            }
        }
    };
    let signal_name = tokio::select! {
        name = collect => name,
        () = server_task => "the query server stopping",
    };
    log::info!("{signal_name}: detaching from {} and exiting", args.iface);
    let _ = stop_tx.send(true);
    drop(stop_rx);
    // Unpinning and dropping the program detaches it; no event arrives after this.
    if let Some(p) = &pins
        && let Err(e) = p.remove()
    {
        log::warn!("removing the pins in {} failed: {e}", p.dir().display());
    }
    drop(pinned_link);
    drop(ebpf);
    // What the detectors still hold, written and flushed before exit.
    let _ = events.drain(|c| write(engine().contact(&c)));
    write(engine().flush(KernelClock::now_wall()));
    log::debug!(
        "{} first contacts reported by a second CPU were passed on once",
        events.repeats
    );
    Ok(())
}

/// Says what happened to the interface and, with --follow, attaches again when it is back.
fn watch_iface(
    args: &RunArgs,
    ebpf: &mut aya::Ebpf,
    pinned_link: &mut Option<aya::programs::links::PinnedLink>,
    pins: Option<&Pins>,
    now: iface::State,
    attached_index: &mut Option<u32>,
) {
    let name = &args.iface;
    match now {
        iface::State::Gone => {
            let next = if args.follow {
                "waiting for it to come back (--follow)"
            } else {
                "nothing more will be counted; restart the probe or run it with --follow"
            };
            log::warn!(
                "{name} was deleted: the probe is detached from it; still serving queries; {next}"
            );
        }
        iface::State::Down { .. } => {
            log::warn!("{name} is down: no traffic to count until it is up; still serving queries");
        }
        iface::State::Up { index } if *attached_index == Some(index) => {
            log::info!("{name} is up again");
        }
        iface::State::Up { index } => {
            if !args.follow {
                log::warn!(
                    "{name} is back (a new interface with the same name); the probe is not attached to it without --follow"
                );
                return;
            }
            match loader::reattach(ebpf, pinned_link, name, args.mode, pins) {
                Ok(mode) => {
                    *attached_index = Some(index);
                    log::info!(
                        "{name} is back: attached again ({mode} XDP); counting continues in the same maps"
                    );
                }
                Err(e) => log::error!("{name} is back, but attaching again failed: {e}"),
            }
        }
    }
}

/// Where to pin, or `None` to run unpinned (asked to, or no bpffs to pin in: said either way).
fn pins_for(args: &RunArgs) -> anyhow::Result<Option<Pins>> {
    if args.no_pin {
        log::info!("not pinning (--no-pin): counters end with this daemon");
        return Ok(None);
    }
    match pins::ensure_bpffs() {
        Bpffs::Mounted => {}
        Bpffs::MountedNow => log::info!("mounted bpffs at {}", pins::BPFFS),
        Bpffs::Unavailable => {
            log::warn!(
                "no bpffs at {} and mounting one failed: running without pins, so counters end with this daemon (run it with nsenter --net rather than ip netns exec, which hides /sys/fs/bpf)",
                pins::BPFFS
            );
            return Ok(None);
        }
    }
    let p = Pins::for_iface(&args.iface).context("finding this network namespace")?;
    if args.reset && p.has_link() {
        log::info!(
            "--reset: removing what an earlier daemon left pinned in {}",
            p.dir().display()
        );
    }
    if args.reset {
        p.remove()
            .with_context(|| format!("removing {}", p.dir().display()))?;
    }
    Ok(Some(p))
}

/// The detectors' settings: defaults, or a TOML file (docs/findings.md lists the keys).
fn detector_config(path: Option<&std::path::Path>) -> anyhow::Result<Config> {
    let Some(path) = path else {
        return Ok(Config::default());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the detector settings {}", path.display()))?;
    toml::from_str::<Config>(&text).map_err(|e| {
        let place = e
            .span()
            .map(|span| {
                format!(
                    ":{}",
                    text[..span.start.min(text.len())].lines().count().max(1)
                )
            })
            .unwrap_or_default();
        anyhow::anyhow!("{}{place}: {}", path.display(), e.message())
    })
}

fn log_activity(became: &Became, k: &Knowledge) {
    match *became {
        Became::Port {
            proto,
            port,
            packets,
            syn,
        } => {
            let kp = if proto == port_proto::TCP {
                knowledge::Proto::Tcp
            } else {
                knowledge::Proto::Udp
            };
            let m = k.port(port, kp, Direction::Destination);
            let proto = Snapshot::proto_name(proto);
            let class = RangeClass::of(port);
            let packets = plural(packets, "packet");
            let attempts = if syn > 0 {
                format!(", {}", plural(syn, "connection attempt"))
            } else {
                String::new()
            };
            log::info!(
                "active: {port}/{proto} {packets}{attempts} ({class} port) [{}] {}: {}",
                m.level,
                m.name,
                m.meaning
            );
        }
        Became::Icmp {
            v6,
            icmp_type,
            code,
            packets,
        } => {
            let family = if v6 { IcmpFamily::V6 } else { IcmpFamily::V4 };
            let m = k.icmp(family, icmp_type, code);
            let name = if v6 { "icmpv6" } else { "icmp" };
            let packets = plural(packets, "message");
            log::info!(
                "active: {name} type {icmp_type} code {code}, {packets} [{}] {}: {}",
                m.level,
                m.name,
                m.meaning
            );
        }
    }
}

/// `1 packet`, `2 packets`.
fn plural(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
