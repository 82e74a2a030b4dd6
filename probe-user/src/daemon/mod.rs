//! The daemon: its whole life in [`run`], driven by a [`Config`] and told to reload or stop
//! through a [`Control`] channel, so `probe run` is only flags (and signals) turned into a
//! config and messages, and a test can run the daemon in-process and stop it.
//!
//! Set up: refuse what would fail before touching the interface (socket in use, bad files),
//! load and attach, bind the query socket, drop privileges. Then, until shutdown: read the
//! counters each interval (log what became active, follow the interface, tick the pipeline with
//! the kernel's loss counters) and feed each first-contact event to the pipeline. Shut down:
//! detach, drain the last events, and write what the detectors still hold.

pub mod activity;
mod follow;
mod lock;

use std::{
    path::PathBuf,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use anyhow::Context as _;
use probe_common::counters::total;
use tokio::sync::{mpsc, watch};

use crate::{
    collector::Collector,
    counters::{CounterMaps, Snapshot},
    detect,
    error::Chain,
    iface,
    knowledge::{Cidr, Knowledge},
    loader::{self, Mode},
    metrics,
    pins::{self, Bpffs, Pins},
    pipeline::{Input, Lost, Pipeline},
    privilege,
    query::server,
    sink::{Sink, SinkOptions},
    source::{clock::KernelClock, ring::Events},
    sources::SourceMaps,
    volume::{VOLUME_EVERY_NS, VolumeTracker},
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
    /// The interface to watch.
    pub iface: String,
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
            iface: iface.to_owned(),
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
/// server stops. Returns once the probe is detached and every finding is written.
pub async fn run(config: Config, control: mpsc::Receiver<Control>) -> anyhow::Result<()> {
    let mut running = Running::start(&config)?;
    let reason = running.watch(&config, control).await;
    log::info!("{reason}: detaching from {} and exiting", config.iface);
    running.stop();
    Ok(())
}

/// The daemon between start and stop: what it attached, reads and serves.
struct Running {
    ebpf: aya::Ebpf,
    pinned_link: Option<aya::programs::links::PinnedLink>,
    pins: Option<Pins>,
    counters: Arc<CounterMaps>,
    sources: Arc<SourceMaps>,
    /// What each source sent, taken from `sources` once a second for the volume detectors.
    volume: VolumeTracker,
    events: Events,
    knowledge: Arc<Knowledge>,
    pipeline: Shared,
    socket: server::Socket,
    /// Where `/metrics` is served, bound before anything else is touched.
    metrics: Option<std::net::TcpListener>,
    /// How the program is attached (`native`, `skb`), for the `stats` answer.
    attach: &'static str,
    /// How long the last counter collection took, in nanoseconds, for `/metrics`.
    collect_ns: Arc<std::sync::atomic::AtomicU64>,
    /// Keeps a second daemon off this interface until this one is gone.
    _lock: lock::Lock,
}

impl Running {
    /// Checks what can be checked and binds the socket, then loads, attaches and drops
    /// privileges. Whatever fails after attaching detaches again (unless the probe was an
    /// earlier daemon's, taken over: that one keeps counting as it did).
    fn start(config: &Config) -> anyhow::Result<Self> {
        // Everything that can be refused is refused before touching the interface: no
        // privilege, another daemon on the socket, a path that cannot be a socket, a bad file.
        if !privilege::may_load() {
            return Err(loader::LoadError::NotPermitted.into());
        }
        let socket = server::bind(&config.socket)?;
        let lock = lock::take(&config.iface, &config.socket)?;
        let metrics = config.metrics.map(bind_metrics).transpose()?;
        let knowledge = Arc::new(Knowledge::load(config.knowledge.as_deref())?);
        let mut detectors = detect::Config::load(config.detectors.as_deref())?;
        // This run's findings are numbered from 1; the history tells runs apart by their start.
        let run = crate::history::run_id(KernelClock::now_wall());
        let sink = Sink::new(&SinkOptions {
            log: true,
            json_stdout: config.json,
            file: config.findings.clone(),
            format: config.findings_format,
            iface: config.iface.clone(),
            syslog: config.syslog.clone(),
            run,
            history: config
                .history
                .clone()
                .map(|path| crate::history::writer::Options {
                    path,
                    run,
                    iface: config.iface.clone(),
                    keep: Duration::from_secs(u64::from(config.history_days) * 86_400),
                }),
            ..SinkOptions::default()
        })?;
        loader::interface_index(&config.iface)?;
        let origin = settle_home(config, &mut detectors);
        log::info!(
            "home networks: {} ({origin})",
            detect::describe_home(detectors.home.networks.as_deref().unwrap_or_default())
        );
        let pins = pins_for(config)?;
        let loaded = loader::load(
            &config.iface,
            config.mode,
            config.limits,
            &knowledge.source_ports(),
            pins.as_ref(),
        )?;
        let undo = (!loaded.resumed).then(|| pins.clone()).flatten();
        let started = Self::attached(
            config,
            loaded,
            pins,
            (socket, metrics, lock),
            knowledge,
            detectors,
            sink,
        );
        if let Err(e) = &started
            && let Some(p) = undo
        {
            log::warn!("{}: detaching again", Chain(e.as_ref()));
            if let Err(e) = p.remove() {
                log::warn!(
                    "removing the pins in {} failed: {}",
                    p.dir().display(),
                    Chain(&e)
                );
            }
        }
        started
    }

    /// The rest of the start, once the program is attached.
    fn attached(
        config: &Config,
        loaded: loader::Loaded,
        pins: Option<Pins>,
        (socket, metrics, lock): (server::Socket, Option<std::net::TcpListener>, lock::Lock),
        knowledge: Arc<Knowledge>,
        detectors: detect::Config,
        sink: Sink,
    ) -> anyhow::Result<Self> {
        if loaded.resumed {
            log::info!(
                "took over the probe an earlier daemon left on {}: counters continue from where it stopped",
                config.iface
            );
        }
        log::info!(
            "watching {} ({} XDP, counters for {} CPUs)",
            config.iface,
            loaded.attached_mode,
            loaded.cpus
        );
        let counters = Arc::new(CounterMaps::new(loaded.counters, loaded.cpus)?);
        let (source_map, slots) = loaded.sources;
        let sources = Arc::new(
            SourceMaps::new(source_map, slots, loaded.cpus)
                .context("mapping the per-source table SOURCES (mmap of a BPF array)")?,
        );
        let events = Events::new(loaded.events, knowledge.source_ports())
            .context("watching the first-contact ring buffer")?;
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
        let pipeline = Arc::new(Mutex::new(Pipeline::new(
            detectors,
            Arc::clone(&knowledge),
            sink,
        )));
        Ok(Self {
            ebpf: loaded.ebpf,
            pinned_link: loaded.pinned_link,
            pins,
            counters,
            sources,
            volume: VolumeTracker::default(),
            events,
            knowledge,
            pipeline,
            socket,
            metrics,
            attach: loaded.attached_mode,
            collect_ns: Arc::default(),
            _lock: lock,
        })
    }

    /// Serves queries, reads the counters each interval, feeds events to the pipeline and
    /// reloads when told, until told to stop or the query server stops; returns why.
    async fn watch(&mut self, config: &Config, mut control: mpsc::Receiver<Control>) -> String {
        let (stop_tx, stop_rx) = watch::channel(false);
        let answers: Arc<dyn server::Source> = Arc::new(server::Live {
            counters: Arc::clone(&self.counters),
            sources: Arc::clone(&self.sources),
            clock: KernelClock::new(),
            pipeline: Arc::clone(&self.pipeline),
            iface: config.iface.clone(),
            attach: self.attach.to_owned(),
        });
        if let Some(listener) = self.metrics.take() {
            let scrape: Arc<dyn metrics::server::Source> = Arc::new(Scraper {
                iface: config.iface.clone(),
                counters: Arc::clone(&self.counters),
                sources: Arc::clone(&self.sources),
                pipeline: Arc::clone(&self.pipeline),
                collect_ns: Arc::clone(&self.collect_ns),
                top_ports: config.metrics_top_ports,
            });
            match tokio::net::TcpListener::from_std(listener) {
                Ok(listener) => {
                    tokio::spawn(metrics::server::serve(listener, scrape, stop_rx.clone()));
                }
                Err(e) => log::warn!("serving /metrics failed: {e}; queries go on"),
            }
        }
        let mut server_task =
            std::pin::pin!(server::serve(&self.socket.listener, answers, stop_rx));
        let mut collector = Collector::new(self.counters.read());
        let mut snapshot = Snapshot::zeroed();
        let mut tick = tokio::time::interval(config.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut follow = follow::Follow::new(&config.iface);
        let pipeline = &self.pipeline;
        let mut last_volume = 0;
        let reason = loop {
            tokio::select! {
                _ = tick.tick() => {
                    follow.check(config, &mut self.ebpf, &mut self.pinned_link, self.pins.as_ref());
                    let started = std::time::Instant::now();
                    self.counters.read_into(&mut snapshot);
                    let lost = lost(&snapshot);
                    // Hands `snapshot` over; it comes back holding the previous read.
                    let became = collector.observe(&mut snapshot);
                    self.collect_ns.store(
                        u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX),
                        std::sync::atomic::Ordering::Relaxed,
                    );
                    activity::log(&became, &self.knowledge);
                    let now = KernelClock::now_wall();
                    lock(pipeline).push(Input::Tick { now_ns: now, lost });
                    if now.saturating_sub(last_volume) >= VOLUME_EVERY_NS {
                        last_volume = now;
                        let sources = self.volume.observe(self.sources.slots(), self.sources.part_len());
                        // The kernel counts a packet in its sender's slot before it puts the
                        // sender's first contact in the ring: the contacts of what was just
                        // read go first, or the detectors would not know whose volume it is.
                        let mut pipeline = lock(pipeline);
                        let _ = self.events.drain(|c| pipeline.push(Input::Contact(c)));
                        pipeline.push(Input::Volume { now_ns: now, sources });
                    }
                }
                batch = self.events.next_batch(|c| lock(pipeline).push(Input::Contact(c))) => {
                    match batch {
                        Ok(0) => {}
                        Ok(n) => log::warn!("skipped {n} first-contact records of an unexpected size"),
                        Err(e) => log::warn!("reading first-contact events failed: {}", Chain(&e)),
                    }
                }
                message = control.recv() => match message {
                    Some(Control::Stop(reason)) => break reason,
                    Some(Control::Reload) => {
                        if reload(config, &self.pipeline, &mut self.knowledge) {
                            sources_changed(&self.knowledge, &mut self.ebpf, &mut self.events);
                        }
                    }
                    None => break "the daemon's controller going away".to_owned(),
                },
                () = &mut server_task => break "the query server stopping".to_owned(),
            }
        };
        let _ = stop_tx.send(true);
        reason
    }

    /// Detaches, then writes what the last events and the detectors still hold.
    fn stop(mut self) {
        // Unpinning and dropping the program detaches it; no event arrives after this.
        if let Some(p) = &self.pins
            && let Err(e) = p.remove()
        {
            log::warn!(
                "removing the pins in {} failed: {}",
                p.dir().display(),
                Chain(&e)
            );
        }
        drop(self.pinned_link.take());
        drop(self.ebpf);
        let mut pipeline = lock(&self.pipeline);
        let _ = self.events.drain(|c| pipeline.push(Input::Contact(c)));
        // The volume since the last look, so a flood in the last second is weighed too.
        let sources = self
            .volume
            .observe(self.sources.slots(), self.sources.part_len());
        pipeline.push(Input::Volume {
            now_ns: KernelClock::now_wall(),
            sources,
        });
        pipeline.finish(KernelClock::now_wall(), lost(&self.counters.read()));
        log::debug!(
            "{} first contacts reported by a second CPU were passed on once",
            self.events.repeats()
        );
    }
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

/// What a scrape of `/metrics` reads: the daemon's counters, per-source table and pipeline.
struct Scraper {
    iface: String,
    counters: Arc<CounterMaps>,
    sources: Arc<SourceMaps>,
    pipeline: Shared,
    collect_ns: Arc<std::sync::atomic::AtomicU64>,
    top_ports: usize,
}

impl metrics::server::Source for Scraper {
    fn scrape(&self) -> String {
        let snapshot = self.counters.read();
        let (slots, used) = self.sources.occupancy();
        let (knowledge, opened, open) = {
            let p = lock(&self.pipeline);
            (
                Arc::clone(p.engine().knowledge()),
                p.output().opened().clone(),
                p.engine().open_state().len(),
            )
        };
        #[expect(
            clippy::cast_precision_loss,
            reason = "nanoseconds of one collection, far below 2^52"
        )]
        let collect_seconds =
            self.collect_ns.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1e9;
        metrics::render(&metrics::Scrape {
            iface: &self.iface,
            snapshot: &snapshot,
            knowledge: &knowledge,
            findings: &opened,
            open_findings: open,
            source_slots: slots,
            source_slots_used: used,
            collect_seconds,
            top_ports: self.top_ports,
        })
    }
}

/// After a reload brought new knowledge: its significant source ports go into the kernel's
/// map and to the ring's reader, which keys contacts as the kernel does.
fn sources_changed(knowledge: &Knowledge, ebpf: &mut aya::Ebpf, events: &mut Events) {
    let sources = knowledge.source_ports();
    if let Err(e) = loader::write_source_ports(ebpf, &sources) {
        log::error!("{}; the kernel keeps the source ports it had", Chain(&e));
        return;
    }
    events.set_sources(sources);
}

/// Opens the findings file again and takes the knowledge and detector settings files anew.
/// A file that cannot be used is said in the log and the one in use is kept. True when new
/// knowledge is in use.
fn reload(config: &Config, pipeline: &Shared, in_use: &mut Arc<Knowledge>) -> bool {
    log::info!("reloading: opening the findings file again, reading the settings files");
    let mut pipeline = lock(pipeline);
    if let Err(e) = pipeline.output_mut().reopen() {
        log::error!("{}; findings still go to the file open before", Chain(&e));
    }
    let knowledge = match Knowledge::load(config.knowledge.as_deref()) {
        Ok(k) => Arc::new(k),
        Err(e) => {
            log::error!("{}; keeping the knowledge in use", Chain(&e));
            return false;
        }
    };
    let mut detectors = match detect::Config::load(config.detectors.as_deref()) {
        Ok(d) => d,
        Err(e) => {
            log::error!("{}; keeping the detector settings in use", Chain(&e));
            return false;
        }
    };
    let origin = settle_home(config, &mut detectors);
    if detectors.home != pipeline.engine().config().home {
        log::info!(
            "home networks now: {} ({origin})",
            detect::describe_home(detectors.home.networks.as_deref().unwrap_or_default())
        );
    }
    let fixed = pipeline.reconfigure(detectors, Arc::clone(&knowledge));
    if !fixed.is_empty() {
        log::warn!(
            "the detector settings' [{}] size tables at start: their new values apply when the daemon starts again",
            fixed.join("], [")
        );
    }
    *in_use = knowledge;
    log::info!(
        "reloaded: the knowledge and detector settings now in use are the files' current ones"
    );
    true
}

/// Sets the home networks in `detectors`: `--home-net`'s, else the settings file's `[home]`,
/// else the networks of the interface's addresses as they are now (a reload reads them
/// again: DHCP may have changed them). Returns where they came from, for the log.
fn settle_home(config: &Config, detectors: &mut detect::Config) -> String {
    if let Some(networks) = &config.home_net {
        detectors.home.networks = Some(networks.clone());
        return "--home-net".to_owned();
    }
    if detectors.home.networks.is_some() {
        return "the detector settings' [home]; --home-net overrides them".to_owned();
    }
    let (networks, origin) = match iface::addresses(&config.iface) {
        Ok(found) if found.is_empty() => (
            Vec::new(),
            format!(
                "{} has no addresses, a mirror port perhaps; --home-net sets them",
                config.iface
            ),
        ),
        Ok(found) => (
            detect::networks_of(&found),
            format!("the addresses of {}; --home-net sets them", config.iface),
        ),
        Err(e) => (
            Vec::new(),
            format!(
                "reading the addresses of {} failed: {e}; --home-net sets them",
                config.iface
            ),
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
fn pins_for(config: &Config) -> anyhow::Result<Option<Pins>> {
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
    let p = Pins::for_iface(&config.iface).context("finding this network namespace")?;
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
