//! One watched interface: its program and maps, its first-contact events and per-source
//! volume, its pipeline and findings. The daemon holds one for each `--iface`; each counts and
//! finds on its own, so an interface that goes away leaves the others watching.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicU64, Ordering},
};

use anyhow::Context as _;
use tokio::sync::watch;

use super::{Config, Shared, activity, follow, lock, lost, pins_for};
use crate::{
    collector::Collector,
    counters::{CounterMaps, Snapshot},
    detect,
    error::Chain,
    knowledge::Knowledge,
    loader,
    pins::Pins,
    pipeline::{Input, Pipeline},
    query::server,
    sink::Sink,
    source::{clock::KernelClock, ring::Events},
    sources::SourceMaps,
    volume::{VOLUME_EVERY_NS, VolumeTracker},
};

/// What an interface holds before anything is loaded on it: what can be refused is refused
/// then, for every interface, before any is touched.
pub(super) struct Prepared {
    pub iface: String,
    pub lock: lock::Lock,
    pub sink: Sink,
    pub detectors: detect::Config,
}

/// An interface the probe is attached to.
pub(super) struct Watched {
    pub iface: String,
    ebpf: aya::Ebpf,
    pinned_link: Option<aya::programs::links::PinnedLink>,
    pins: Option<Pins>,
    /// Taken over from a daemon that died: a failed start leaves it counting as it was.
    resumed: bool,
    pub counters: Arc<CounterMaps>,
    pub sources: Arc<SourceMaps>,
    /// What each source sent, taken from `sources` once a second for the volume detectors.
    volume: VolumeTracker,
    events: Events,
    knowledge: Arc<Knowledge>,
    pub pipeline: Shared,
    /// How the program is attached (`native`, `skb`), for the `stats` answer.
    pub attach: &'static str,
    /// How long the last counter collection took, in nanoseconds, for `/metrics`.
    pub collect_ns: Arc<AtomicU64>,
    /// Keeps a second daemon off this interface until this one is gone.
    _lock: lock::Lock,
}

impl Watched {
    /// Loads and attaches the probe on the prepared interface. Whatever fails after attaching
    /// detaches again (unless the probe was a dead daemon's, taken over).
    pub fn start(
        config: &Config,
        prepared: Prepared,
        knowledge: &Arc<Knowledge>,
    ) -> anyhow::Result<Self> {
        let iface = prepared.iface.clone();
        let pins = pins_for(config, &iface)?;
        let loaded = loader::load(
            &iface,
            config.mode,
            config.limits,
            &knowledge.source_ports(),
            pins.as_ref(),
        )?;
        let undo = (!loaded.resumed).then(|| pins.clone()).flatten();
        let started = Self::attached(loaded, pins, prepared, knowledge);
        if let Err(e) = &started
            && let Some(p) = undo
        {
            log::warn!("{}: detaching from {iface} again", Chain(e.as_ref()));
            remove_pins(&p);
        }
        started
    }

    /// The rest of the start, once the program is attached.
    fn attached(
        loaded: loader::Loaded,
        pins: Option<Pins>,
        prepared: Prepared,
        knowledge: &Arc<Knowledge>,
    ) -> anyhow::Result<Self> {
        let iface = prepared.iface;
        if loaded.resumed {
            log::info!(
                "took over the probe an earlier daemon left on {iface}: counters continue from where it stopped"
            );
        }
        log::info!(
            "watching {iface} ({} XDP, counters for {} CPUs)",
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
        let pipeline = Arc::new(Mutex::new(Pipeline::new(
            prepared.detectors,
            Arc::clone(knowledge),
            prepared.sink,
        )));
        Ok(Self {
            iface,
            ebpf: loaded.ebpf,
            pinned_link: loaded.pinned_link,
            pins,
            resumed: loaded.resumed,
            counters,
            sources,
            volume: VolumeTracker::default(),
            events,
            knowledge: Arc::clone(knowledge),
            pipeline,
            attach: loaded.attached_mode,
            collect_ns: Arc::default(),
            _lock: prepared.lock,
        })
    }

    /// What the query server answers about this interface.
    pub fn live(&self) -> server::Live {
        server::Live {
            counters: Arc::clone(&self.counters),
            sources: Arc::clone(&self.sources),
            clock: KernelClock::new(),
            pipeline: Arc::clone(&self.pipeline),
            iface: self.iface.clone(),
            attach: self.attach.to_owned(),
        }
    }

    /// Reads the counters each interval (logging what became active, following the
    /// interface, ticking the pipeline), feeds events and, once a second, volume to the
    /// pipeline, and hands new knowledge's source ports to the kernel. Runs until dropped.
    /// `name_iface`: activity lines say which interface (the daemon watches several).
    pub async fn watch(
        &mut self,
        config: &Config,
        mut knowledge: watch::Receiver<Arc<Knowledge>>,
        name_iface: bool,
    ) {
        let mut collector = Collector::new(self.counters.read());
        let mut snapshot = Snapshot::zeroed();
        let mut tick = tokio::time::interval(config.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut follow = follow::Follow::new(&self.iface);
        let mut last_volume = 0;
        let mut reloads = true;
        let pipeline = Arc::clone(&self.pipeline);
        let on = name_iface.then(|| self.iface.clone());
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    follow.check(
                        &self.iface,
                        config,
                        &mut self.ebpf,
                        &mut self.pinned_link,
                        self.pins.as_ref(),
                    );
                    let started = std::time::Instant::now();
                    self.counters.read_into(&mut snapshot);
                    let lost = lost(&snapshot);
                    // Hands `snapshot` over; it comes back holding the previous read.
                    let became = collector.observe(&mut snapshot);
                    self.collect_ns.store(
                        u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX),
                        Ordering::Relaxed,
                    );
                    activity::log(&became, &self.knowledge, on.as_deref());
                    let now = KernelClock::now_wall();
                    super::lock(&pipeline).push(Input::Tick { now_ns: now, lost });
                    if now.saturating_sub(last_volume) >= VOLUME_EVERY_NS {
                        last_volume = now;
                        let sources = self.volume.observe(self.sources.slots(), self.sources.part_len());
                        // The kernel counts a packet in its sender's slot before it puts the
                        // sender's first contact in the ring: the contacts of what was just
                        // read go first, or the detectors would not know whose volume it is.
                        let mut pipeline = super::lock(&pipeline);
                        let _ = self.events.drain(|c| pipeline.push(Input::Contact(c)));
                        pipeline.push(Input::Volume { now_ns: now, sources });
                    }
                }
                batch = self.events.next_batch(|c| super::lock(&pipeline).push(Input::Contact(c))) => {
                    match batch {
                        Ok(0) => {}
                        Ok(n) => log::warn!("{}: skipped {n} first-contact records of an unexpected size", self.iface),
                        Err(e) => log::warn!("reading first-contact events of {} failed: {}", self.iface, Chain(&e)),
                    }
                }
                changed = knowledge.changed(), if reloads => match changed {
                    Ok(()) => {
                        let new = Arc::clone(&knowledge.borrow_and_update());
                        self.sources_changed(&new);
                        self.knowledge = new;
                    }
                    // The daemon is stopping: no more reloads.
                    Err(_) => reloads = false,
                },
            }
        }
    }

    /// After a reload brought new knowledge: its significant source ports go into the
    /// kernel's map and to the ring's reader, which keys contacts as the kernel does.
    fn sources_changed(&mut self, knowledge: &Knowledge) {
        let sources = knowledge.source_ports();
        if let Err(e) = loader::write_source_ports(&mut self.ebpf, &sources) {
            log::error!(
                "{}; the kernel on {} keeps the source ports it had",
                Chain(&e),
                self.iface
            );
            return;
        }
        self.events.set_sources(sources);
    }

    /// Detaches, then writes what the last events and the detectors still hold.
    pub fn stop(mut self) {
        // Unpinning and dropping the program detaches it; no event arrives after this.
        if let Some(p) = &self.pins {
            remove_pins(p);
        }
        drop(self.pinned_link.take());
        drop(self.ebpf);
        let mut pipeline = super::lock(&self.pipeline);
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
            "{}: {} first contacts reported by a second CPU were passed on once",
            self.iface,
            self.events.repeats()
        );
    }

    /// Undoes a start that another interface's failure cut short: detaches, unless the probe
    /// was a dead daemon's, taken over (that one keeps counting as it was). Writes nothing.
    pub fn abandon(mut self) {
        if !self.resumed
            && let Some(p) = &self.pins
        {
            log::warn!("detaching from {} again", self.iface);
            remove_pins(p);
        }
        drop(self.pinned_link.take());
    }
}

fn remove_pins(p: &Pins) {
    if let Err(e) = p.remove() {
        log::warn!(
            "removing the pins in {} failed: {}",
            p.dir().display(),
            Chain(&e)
        );
    }
}
