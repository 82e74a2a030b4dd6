//! The daemon: its whole life in [`run`], driven by a [`Config`] and told to reload or stop
//! through a [`Control`] channel, so `probe run` is only flags (and signals) turned into a
//! config and messages, and a test can run the daemon in-process and stop it.
//!
//! Set up: refuse what would fail before touching an interface (socket in use, bad files, an
//! interface another daemon watches), load and attach on each interface, drop privileges.
//! Then, until shutdown, each watched interface ([`watched`]) reads its counters each interval
//! (logs what became active, follows the interface, ticks its pipeline with the kernel's loss
//! counters) and feeds its first-contact events and volume to its pipeline, while one socket
//! and one `/metrics` answer for all. Shut down: detach, drain the last events, and write what
//! the detectors still hold.

pub mod activity;
mod follow;
mod lock;
mod watched;

use std::{
    path::PathBuf,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use anyhow::Context as _;
use probe_common::counters::total;
use tokio::sync::{mpsc, watch};

use self::watched::{Prepared, Watched};
use crate::{
    counters::{CounterMaps, Snapshot},
    detect,
    error::Chain,
    iface,
    knowledge::{Cidr, Knowledge},
    loader::{self, Mode},
    metrics,
    pins::{self, Bpffs, Pins},
    pipeline::{Lost, Pipeline},
    privilege,
    query::server,
    sink::{Sink, SinkOptions},
    source::clock::KernelClock,
    sources::SourceMaps,
};

/// Where the daemon serves queries unless told otherwise.
pub const DEFAULT_SOCKET: &str = "/run/probe/probe.sock";

/// Everything the daemon is told at start.
#[derive(Clone, Debug)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "each is an independent switch an operator sets"
)]
pub struct Config {
    /// The interfaces to watch, each once: one or more.
    pub ifaces: Vec<String>,
    /// How to attach.
    pub mode: Mode,
    /// How often the counters are read and the pipeline ticks.
    pub interval: Duration,
    /// The query socket.
    pub socket: PathBuf,
    /// Kernel table sizes and the event rate limit.
    pub limits: loader::Limits,
    /// Port and ICMP meanings that add to or override the built-in ones.
    pub knowledge: Option<PathBuf>,
    /// Detector thresholds and windows.
    pub detectors: Option<PathBuf>,
    /// The networks the probe protects; `None`: the detector settings' `[home]`, else the
    /// interface's own networks.
    pub home_net: Option<Vec<Cidr>>,
    /// Attach again when the interface comes back (keeps the capabilities that needs).
    pub follow: bool,
    /// Remove what an earlier daemon left pinned before starting.
    pub reset: bool,
    /// Do not pin: counters end with this daemon.
    pub no_pin: bool,
    /// Findings as JSON Lines on standard output too.
    pub json: bool,
    /// Findings appended as JSON Lines to this file.
    pub findings: Option<PathBuf>,
    /// Field names of the findings written.
    pub findings_format: crate::sink::Format,
    /// Findings to the syslog socket at this path too.
    pub syslog: Option<PathBuf>,
    /// Where `/metrics` is served; `None`: nowhere.
    pub metrics: Option<std::net::SocketAddr>,
    /// Ports beyond the described ones with series of their own in `/metrics`.
    pub metrics_top_ports: usize,
    /// Every finding also kept in this SQLite database; `None`: no history.
    pub history: Option<PathBuf>,
    /// Days the history keeps a finding after it was last seen.
    pub history_days: u32,
}

impl Config {
    /// The defaults `probe run --iface IFACE` starts with.
    pub fn new(iface: &str) -> Self {
        Self {
            ifaces: vec![iface.to_owned()],
            mode: Mode::Auto,
            interval: Duration::from_secs(1),
            socket: PathBuf::from(DEFAULT_SOCKET),
            limits: loader::Limits::default(),
            knowledge: None,
            detectors: None,
            home_net: None,
            follow: false,
            reset: false,
            no_pin: false,
            json: false,
            findings: None,
            findings_format: crate::sink::Format::Native,
            syslog: None,
            metrics: crate::metrics::DEFAULT_ADDRESS.parse().ok(),
            metrics_top_ports: usize::from(crate::metrics::DEFAULT_TOP_PORTS),
            history: Some(PathBuf::from(crate::history::DEFAULT_PATH)),
            history_days: crate::history::DEFAULT_DAYS,
        }
    }
}

/// The pipeline as the daemon shares it with the query server: both run on one thread, so the
/// lock is never contended.
type Shared = Arc<Mutex<Pipeline<Sink>>>;

fn lock(p: &Shared) -> MutexGuard<'_, Pipeline<Sink>> {
    p.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What the daemon can be told while it runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Control {
    /// Detach, write what is open, and return; the text (say `"SIGTERM"`) is logged as why.
    Stop(String),
    /// Open the findings file again (log rotation) and read the knowledge and detector
    /// settings files again, keeping counters and open findings (SIGHUP).
    Reload,
}

/// Runs the daemon until it is told to stop, every sender of `control` is gone, or the query
/// server stops. Returns once the probes are detached and every finding is written.
pub async fn run(config: Config, control: mpsc::Receiver<Control>) -> anyhow::Result<()> {
    let mut running = Running::start(&config)?;
    let reason = running.watch(&config, control).await;
    log::info!(
        "{reason}: detaching from {} and exiting",
        config.ifaces.join(", ")
    );
    running.stop();
    Ok(())
}

/// The daemon between start and stop: the interfaces it attached to, and what it serves.
struct Running {
    watched: Vec<Watched>,
    knowledge: Arc<Knowledge>,
    socket: server::Socket,
    /// Where `/metrics` is served, bound before anything else is touched.
    metrics: Option<std::net::TcpListener>,
}

impl Running {
    /// Checks what can be checked and binds the socket, then loads and attaches on each
    /// interface and drops privileges. When one interface fails, those already attached are
    /// detached again (unless a probe was a dead daemon's, taken over: that one keeps counting
    /// as it did).
    fn start(config: &Config) -> anyhow::Result<Self> {
        // Everything that can be refused is refused before touching an interface: no
        // privilege, another daemon on the socket or an interface, a path that cannot be a
        // socket, a bad file, an interface that does not exist.
        if !privilege::may_load() {
            return Err(loader::LoadError::NotPermitted.into());
        }
        let socket = server::bind(&config.socket)?;
        let locks = config
            .ifaces
            .iter()
            .map(|iface| lock::take(iface, &config.socket))
            .collect::<Result<Vec<_>, _>>()?;
        for iface in &config.ifaces {
            loader::interface_index(iface)?;
        }
        let metrics = config.metrics.map(bind_metrics).transpose()?;
        let knowledge = Arc::new(Knowledge::load(config.knowledge.as_deref())?);
        let detectors = detect::Config::load(config.detectors.as_deref())?;
        // This run's findings are numbered from 1 on each interface; the history tells runs
        // apart by their start and interface.
        let run = crate::history::run_id(KernelClock::now_wall());
        let several = config.ifaces.len() > 1;
        let mut prepared = Vec::with_capacity(config.ifaces.len());
        for (iface, lock) in config.ifaces.iter().zip(locks) {
            prepared.push(prepare(config, iface, lock, run, &detectors, several)?);
        }
        let mut watched: Vec<Watched> = Vec::with_capacity(prepared.len());
        for p in prepared {
            match Watched::start(config, p, &knowledge) {
                Ok(w) => watched.push(w),
                Err(e) => {
                    for w in watched {
                        w.abandon();
                    }
                    return Err(e);
                }
            }
        }
        match privilege::socket_group(&config.socket) {
            Ok(Some(gid)) => log::info!(
                "serving queries on {} (group probe, gid {gid})",
                config.socket.display()
            ),
            Ok(None) => log::info!("serving queries on {}", config.socket.display()),
            Err(e) => log::warn!(
                "serving queries on {}, but giving it to group probe failed: {e}",
                config.socket.display()
            ),
        }
        drop_privileges(config.follow);
        Ok(Self {
            watched,
            knowledge,
            socket,
            metrics,
        })
    }

    /// Serves queries and metrics, watches every interface, and reloads when told, until told
    /// to stop or the query server stops; returns why.
    async fn watch(&mut self, config: &Config, mut control: mpsc::Receiver<Control>) -> String {
        let (stop_tx, stop_rx) = watch::channel(false);
        let answers: Arc<dyn server::Source> = Arc::new(server::Interfaces::new(
            self.watched.iter().map(Watched::live).collect(),
        ));
        if let Some(listener) = self.metrics.take() {
            let scrape: Arc<dyn metrics::server::Source> = Arc::new(Scraper {
                interfaces: self
                    .watched
                    .iter()
                    .map(|w| Scraped {
                        iface: w.iface.clone(),
                        counters: Arc::clone(&w.counters),
                        sources: Arc::clone(&w.sources),
                        pipeline: Arc::clone(&w.pipeline),
                        collect_ns: Arc::clone(&w.collect_ns),
                    })
                    .collect(),
                top_ports: config.metrics_top_ports,
            });
            match tokio::net::TcpListener::from_std(listener) {
                Ok(listener) => {
                    tokio::spawn(metrics::server::serve(listener, scrape, stop_rx.clone()));
                }
                Err(e) => log::warn!("serving /metrics failed: {e}; queries go on"),
            }
        }
        let pipelines: Vec<(String, Shared)> = self
            .watched
            .iter()
            .map(|w| (w.iface.clone(), Arc::clone(&w.pipeline)))
            .collect();
        let mut server_task =
            std::pin::pin!(server::serve(&self.socket.listener, answers, stop_rx));
        let (knowledge_tx, knowledge_rx) = watch::channel(Arc::clone(&self.knowledge));
        let several = self.watched.len() > 1;
        // One loop per interface, polled together on this thread: each is woken by its own
        // timer and ring, and none ends by itself.
        let mut loops: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + '_>>> = self
            .watched
            .iter_mut()
            .map(|w| {
                Box::pin(w.watch(config, knowledge_rx.clone(), several))
                    as std::pin::Pin<Box<dyn std::future::Future<Output = ()> + '_>>
            })
            .collect();
        let mut interfaces = std::future::poll_fn(|cx| {
            for l in &mut loops {
                let _ = l.as_mut().poll(cx);
            }
            std::task::Poll::<()>::Pending
        });
        let mut knowledge = Arc::clone(&self.knowledge);
        let reason = loop {
            tokio::select! {
                () = &mut interfaces => {}
                message = control.recv() => match message {
                    Some(Control::Stop(reason)) => break reason,
                    Some(Control::Reload) => {
                        if reload(config, &pipelines, &mut knowledge) {
                            let _ = knowledge_tx.send(Arc::clone(&knowledge));
                        }
                    }
                    None => break "the daemon's controller going away".to_owned(),
                },
                () = &mut server_task => break "the query server stopping".to_owned(),
            }
        };
        drop(interfaces);
        drop(loops);
        self.knowledge = knowledge;
        let _ = stop_tx.send(true);
        reason
    }

    /// Detaches from every interface, then writes what the last events and the detectors
    /// still hold.
    fn stop(self) {
        for w in self.watched {
            w.stop();
        }
    }
}

/// What `iface`, whose `lock` is taken, needs before anything is loaded on it: its findings
/// outputs, its home networks.
fn prepare(
    config: &Config,
    iface: &str,
    lock: lock::Lock,
    run: u64,
    detectors: &detect::Config,
    several: bool,
) -> anyhow::Result<Prepared> {
    let sink = Sink::new(&SinkOptions {
        log: true,
        log_iface: several,
        json_stdout: config.json,
        file: config.findings.clone(),
        format: config.findings_format,
        iface: iface.to_owned(),
        syslog: config.syslog.clone(),
        run,
        history: config
            .history
            .clone()
            .map(|path| crate::history::writer::Options {
                path,
                run,
                iface: iface.to_owned(),
                keep: Duration::from_secs(u64::from(config.history_days) * 86_400),
            }),
        ..SinkOptions::default()
    })?;
    let mut detectors = detectors.clone();
    let origin = settle_home(config, iface, &mut detectors);
    log::info!(
        "home networks{}: {} ({origin})",
        if several {
            format!(" of {iface}")
        } else {
            String::new()
        },
        detect::describe_home(detectors.home.networks.as_deref().unwrap_or_default())
    );
    Ok(Prepared {
        iface: iface.to_owned(),
        lock,
        sink,
        detectors,
    })
}

/// Binds the `/metrics` address, before the interface is touched: an address in use is
/// refused at once, naming the flag that changes it.
fn bind_metrics(addr: std::net::SocketAddr) -> anyhow::Result<std::net::TcpListener> {
    let listener = std::net::TcpListener::bind(addr).with_context(|| {
        format!(
            "cannot serve /metrics on {addr}: choose another address with --metrics ADDR, or \
             turn them off with --no-metrics"
        )
    })?;
    listener
        .set_nonblocking(true)
        .context("making the /metrics listener non-blocking")?;
    log::info!("serving Prometheus metrics on http://{addr}/metrics");
    Ok(listener)
}

/// What a scrape of `/metrics` reads: each interface's counters, per-source table and
/// pipeline.
struct Scraper {
    interfaces: Vec<Scraped>,
    top_ports: usize,
}

struct Scraped {
    iface: String,
    counters: Arc<CounterMaps>,
    sources: Arc<SourceMaps>,
    pipeline: Shared,
    collect_ns: Arc<std::sync::atomic::AtomicU64>,
}

impl metrics::server::Source for Scraper {
    fn scrape(&self) -> String {
        let read: Vec<_> = self
            .interfaces
            .iter()
            .map(|i| {
                let snapshot = i.counters.read();
                let (slots, used) = i.sources.occupancy();
                let (knowledge, opened, open) = {
                    let p = lock(&i.pipeline);
                    (
                        Arc::clone(p.engine().knowledge()),
                        p.output().opened().clone(),
                        usize::try_from(p.engine().open_by_level().iter().sum::<u64>())
                            .unwrap_or(usize::MAX),
                    )
                };
                #[expect(
                    clippy::cast_precision_loss,
                    reason = "nanoseconds of one collection, far below 2^52"
                )]
                let collect_seconds =
                    i.collect_ns.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1e9;
                (
                    snapshot,
                    slots,
                    used,
                    knowledge,
                    opened,
                    open,
                    collect_seconds,
                )
            })
            .collect();
        let scrapes: Vec<metrics::Scrape<'_>> = self
            .interfaces
            .iter()
            .zip(&read)
            .map(
                |(i, (snapshot, slots, used, knowledge, opened, open, collect_seconds))| {
                    metrics::Scrape {
                        iface: &i.iface,
                        snapshot,
                        knowledge,
                        findings: opened,
                        open_findings: *open,
                        source_slots: *slots,
                        source_slots_used: *used,
                        collect_seconds: *collect_seconds,
                        top_ports: self.top_ports,
                    }
                },
            )
            .collect();
        metrics::render(&scrapes)
    }
}

/// Opens the findings file again and takes the knowledge and detector settings files anew,
/// for every interface's pipeline. A file that cannot be used is said in the log and the one
/// in use is kept. True when new knowledge is in use.
fn reload(config: &Config, pipelines: &[(String, Shared)], in_use: &mut Arc<Knowledge>) -> bool {
    log::info!("reloading: opening the findings file again, reading the settings files");
    for (_, pipeline) in pipelines {
        if let Err(e) = lock(pipeline).output_mut().reopen() {
            log::error!("{}; findings still go to the file open before", Chain(&e));
        }
    }
    let knowledge = match Knowledge::load(config.knowledge.as_deref()) {
        Ok(k) => Arc::new(k),
        Err(e) => {
            log::error!("{}; keeping the knowledge in use", Chain(&e));
            return false;
        }
    };
    let detectors = match detect::Config::load(config.detectors.as_deref()) {
        Ok(d) => d,
        Err(e) => {
            log::error!("{}; keeping the detector settings in use", Chain(&e));
            return false;
        }
    };
    let several = pipelines.len() > 1;
    for (iface, pipeline) in pipelines {
        let mut detectors = detectors.clone();
        let origin = settle_home(config, iface, &mut detectors);
        let mut pipeline = lock(pipeline);
        if detectors.home != pipeline.engine().config().home {
            log::info!(
                "home networks{} now: {} ({origin})",
                if several {
                    format!(" of {iface}")
                } else {
                    String::new()
                },
                detect::describe_home(detectors.home.networks.as_deref().unwrap_or_default())
            );
        }
        let fixed = pipeline.reconfigure(detectors, Arc::clone(&knowledge));
        // Said once: every interface has the same settings.
        if !fixed.is_empty() && iface == &pipelines[0].0 {
            log::warn!(
                "the detector settings' [{}] size tables at start: their new values apply when the daemon starts again",
                fixed.join("], [")
            );
        }
    }
    *in_use = knowledge;
    log::info!(
        "reloaded: the knowledge and detector settings now in use are the files' current ones"
    );
    true
}

/// Sets the home networks in `detectors`: `--home-net`'s, else the settings file's `[home]`,
/// else the networks of `iface`'s addresses as they are now (a reload reads them again: DHCP
/// may have changed them). Returns where they came from, for the log.
fn settle_home(config: &Config, iface: &str, detectors: &mut detect::Config) -> String {
    if let Some(networks) = &config.home_net {
        detectors.home.networks = Some(networks.clone());
        return "--home-net".to_owned();
    }
    if detectors.home.networks.is_some() {
        return "the detector settings' [home]; --home-net overrides them".to_owned();
    }
    let (networks, origin) = match iface::addresses(iface) {
        Ok(found) if found.is_empty() => (
            Vec::new(),
            format!("{iface} has no addresses, a mirror port perhaps; --home-net sets them"),
        ),
        Ok(found) => (
            detect::networks_of(&found),
            format!("the addresses of {iface}; --home-net sets them"),
        ),
        Err(e) => (
            Vec::new(),
            format!("reading the addresses of {iface} failed: {e}; --home-net sets them"),
        ),
    };
    detectors.home.networks = Some(networks);
    origin
}

/// The kernel's running totals of events it could not deliver.
fn lost(snapshot: &Snapshot) -> Lost {
    Lost {
        rate_limited: snapshot.total(total::EVENTS_RATE_LIMITED),
        ring_full: snapshot.total(total::EVENTS_RING_FULL),
    }
}

/// Everything that needs privilege is done, unless `follow` must attach again.
fn drop_privileges(follow: bool) {
    let keep = if follow {
        privilege::FOR_ATTACHING
    } else {
        &[]
    };
    match privilege::keep_only(keep) {
        Ok(()) if follow => {
            log::info!("dropped every capability but those attaching needs (--follow)");
        }
        Ok(()) => log::info!("dropped every capability: nothing left to do needs them"),
        Err(e) => log::warn!("could not drop capabilities: {}", Chain(&e)),
    }
}

/// Where to pin, or `None` to run unpinned (asked to, or no bpffs to pin in: said either way).
fn pins_for(config: &Config, iface: &str) -> anyhow::Result<Option<Pins>> {
    if config.no_pin {
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
    let p = Pins::for_iface(iface).context("finding this network namespace")?;
    if config.reset {
        if p.has_link() {
            log::info!(
                "--reset: removing what an earlier daemon left pinned in {}",
                p.dir().display()
            );
        }
        p.remove()
            .with_context(|| format!("removing {}", p.dir().display()))?;
    }
    Ok(Some(p))
}
