//! Loading the XDP program, sizing its maps for this machine, and attaching it.

use std::{ffi::CString, io, path::PathBuf};

use aya::{
    Ebpf, EbpfError, EbpfLoader,
    maps::{Array, MapData, MapError, RingBuf},
    programs::{
        ProgramError, Xdp, XdpMode,
        links::{FdLink, PinnedLink},
        xdp::{XdpLink, XdpLinkId},
    },
};
use probe_common::{counters, track, track::user::SourcePortSet};

use crate::{kernel_log, pins::Pins};

/// The XDP program, built by build.rs for bpfel-unknown-none.
static PROGRAM: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/probe"));

/// How to attach: `auto` tries native (driver) mode, then falls back to generic (skb) mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    #[default]
    Auto,
    Native,
    Skb,
}

/// What went wrong while loading or attaching, in terms an operator can act on.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(
        "loading the XDP program needs root, or the capabilities CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON: run it with sudo"
    )]
    NotPermitted,
    #[error(
        "this kernel has no BPF support (bpf() is not implemented): use a kernel built with CONFIG_BPF_SYSCALL"
    )]
    NoBpf,
    #[error("no interface named {0:?}: `ip link` lists the interfaces of this network namespace")]
    NoSuchInterface(String),
    #[error(
        "interface {iface:?} does not support {mode} XDP: try --mode skb (generic mode works on every interface)"
    )]
    ModeNotSupported { iface: String, mode: &'static str },
    #[error(
        "interface {0:?} already has an XDP program attached (another probe, or another tool): `ip link show` names it; detach it first"
    )]
    Busy(String),
    #[error("counting how many CPUs this machine can have failed")]
    Cpus(#[source] io::Error),
    #[error("the kernel refused the XDP program")]
    Load(#[source] EbpfError),
    #[error("the kernel refused the program or one of its maps")]
    Program(#[source] ProgramError),
    #[error("the program {0} is missing: the embedded object does not match this daemon")]
    MissingProgram(&'static str),
    #[error("the program's map {0} is missing: the embedded object does not match this daemon")]
    MissingMap(&'static str),
    #[error("cannot pin in {path}")]
    Pin {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(
        "taking over the probe an earlier daemon left attached failed; `probe detach --iface IF` removes it, or start with --reset"
    )]
    Resume(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error(
        "the pinned map {map} holds {found} counters where this probe expects {expected} (another version or CPU count): start with --reset to begin again from zero"
    )]
    PinMismatch {
        map: &'static str,
        found: u32,
        expected: u32,
    },
    #[error("opening map {name}")]
    Map {
        name: &'static str,
        #[source]
        source: MapError,
    },
}

/// The loaded program, attached, with its counter map taken out for reading.
pub struct Loaded {
    /// Keeps the program alive; without pins, dropping it detaches.
    pub ebpf: Ebpf,
    /// The pinned link, when pinning: it keeps the program attached after the daemon exits.
    pub pinned_link: Option<PinnedLink>,
    /// True when an earlier daemon's pinned program and maps were taken over.
    pub resumed: bool,
    /// The counter map.
    pub counters: MapData,
    /// First-contact events.
    pub events: RingBuf<MapData>,
    /// The per-source table (every CPU's part), and its slots in all.
    pub sources: (MapData, u32),
    /// Possible CPUs: how many blocks the counter map holds.
    pub cpus: usize,
    /// The mode the program ended up attached in.
    pub attached_mode: &'static str,
}

/// Returns the interface index, or `NoSuchInterface`.
pub fn interface_index(iface: &str) -> Result<u32, LoadError> {
    let name = CString::new(iface).map_err(|_| LoadError::NoSuchInterface(iface.to_owned()))?;
    // SAFETY: `name` is a valid NUL-terminated string for the duration of the call.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if index == 0 {
        return Err(LoadError::NoSuchInterface(iface.to_owned()));
    }
    Ok(index)
}

/// Sizes and rates set at load time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Slots of each CPU's per-source table (rounded up to a power of two).
    pub sources: u32,
    /// Slots of each CPU's table of reported contacts (rounded up to a power of two).
    pub contacts: u32,
    /// First-contact events per second per CPU, and the burst above it.
    pub event_rate: u64,
    pub event_burst: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            sources: track::DEFAULT_SOURCES,
            contacts: track::DEFAULT_CONTACTS,
            event_rate: track::DEFAULT_EVENT_RATE,
            event_burst: track::DEFAULT_EVENT_BURST,
        }
    }
}

/// The kernel multiplies the rate by up to ten seconds of nanoseconds in 64 bits.
pub const MAX_EVENT_RATE: u64 = 1_000_000;

/// How SOURCES and CONTACTS are laid out: `sources` and `contacts` slots per CPU (powers of
/// two from `track::slots_per_cpu`, which keeps every CPU's part together in range). The
/// program finds a CPU's part at `cpu << shift` and a hash's slot in it with `mask`.
pub struct Tables {
    sources: u32,
    contacts: u32,
    source_mask: u32,
    contact_mask: u32,
    source_shift: u32,
    contact_shift: u32,
}

impl Tables {
    pub fn new(sources: u32, contacts: u32) -> Self {
        Self {
            sources,
            contacts,
            source_mask: sources - 1,
            contact_mask: contacts - 1,
            source_shift: sources.trailing_zeros(),
            contact_shift: contacts.trailing_zeros(),
        }
    }

    /// Sizes both maps for `cpus` CPUs (every CPU's part in one array) and sets the program's
    /// globals to match.
    pub fn apply<'a>(&'a self, loader: &mut EbpfLoader<'a>, cpus: u32) {
        loader.map_max_entries(track::map::SOURCES, self.sources * cpus);
        loader.map_max_entries(track::map::CONTACTS, self.contacts * cpus);
        loader.override_global(track::setting::SOURCE_MASK, &self.source_mask, true);
        loader.override_global(track::setting::CONTACT_MASK, &self.contact_mask, true);
        loader.override_global(track::setting::SOURCE_SHIFT, &self.source_shift, true);
        loader.override_global(track::setting::CONTACT_SHIFT, &self.contact_shift, true);
    }
}

/// The probe's program loaded into the kernel with its maps, attached nowhere: what the daemon
/// attaches, and what a benchmark or a `BPF_PROG_TEST_RUN` test runs as it is.
pub struct Program {
    /// The object: the `probe` program (loaded, `program_mut("probe")`) and its maps.
    pub ebpf: Ebpf,
    /// Possible CPUs: how many blocks the counter map holds.
    pub cpus: usize,
}

impl Program {
    /// The XDP program `probe`.
    pub fn xdp(&mut self) -> Result<&mut Xdp, LoadError> {
        probe_program(&mut self.ebpf)
    }
}

/// Loads the program with the counter map and tables sized for this machine's CPUs, without
/// attaching it. With `pins`, the maps that hold state are pinned there, and reused if an
/// earlier daemon left them.
pub fn load_program(
    limits: Limits,
    source_ports: &SourcePortSet,
    pins: Option<&Pins>,
) -> Result<Program, LoadError> {
    let cpus = aya::util::nr_cpus().map_err(|(_, e)| LoadError::Cpus(e))?;
    let mut loader = EbpfLoader::new();
    // The program's log statements compare against this level: tell it ours, so that messages
    // nobody would see cost nothing in the kernel.
    let kernel_log_level = kernel_log::level(log::max_level());
    loader.override_global(aya_log::LEVEL, &kernel_log_level, false);
    loader.map_max_entries(counters::MAP, cpus as u32);
    let (sources, contacts) = table_sizes(limits, pins, cpus as u32);
    let tables = Tables::new(sources, contacts);
    tables.apply(&mut loader, cpus as u32);
    let rate = limits.event_rate.min(MAX_EVENT_RATE);
    let burst = limits.event_burst.min(MAX_EVENT_RATE * 10);
    loader.override_global(track::setting::EVENT_RATE, &rate, true);
    loader.override_global(track::setting::EVENT_BURST, &burst, true);
    let pin_paths: Vec<(&'static str, PathBuf)> = match pins {
        Some(p) => {
            p.create().map_err(|e| LoadError::Pin {
                path: p.dir().to_owned(),
                source: e.into(),
            })?;
            std::iter::once(counters::MAP)
                .chain(track::map::PERSISTENT)
                .map(|name| (name, p.map(name)))
                .collect()
        }
        None => Vec::new(),
    };
    for (name, path) in &pin_paths {
        loader.map_pin_path(name, path.as_path());
    }
    let mut ebpf = loader.load(PROGRAM).map_err(classify_load)?;
    write_source_ports(&mut ebpf, source_ports)?;
    probe_program(&mut ebpf)?.load().map_err(classify_program)?;
    Ok(Program { ebpf, cpus })
}

/// Writes `sources` into the program's `SOURCE_PORTS` map, every word (a word cleared since
/// the last write is cleared in the map too): at load, before the program sees a packet, and
/// again when a reload brings new knowledge.
pub fn write_source_ports(ebpf: &mut Ebpf, sources: &SourcePortSet) -> Result<(), LoadError> {
    let name = track::map::SOURCE_PORTS;
    let map = ebpf.map_mut(name).ok_or(LoadError::MissingMap(name))?;
    let mut words: Array<_, u64> =
        Array::try_from(map).map_err(|source| LoadError::Map { name, source })?;
    for (i, word) in sources.words().iter().enumerate() {
        // The bitmap has `SOURCE_PORT_WORDS` (2,048) words, the map as many entries.
        words
            .set(i as u32, *word, 0)
            .map_err(|source| LoadError::Map { name, source })?;
    }
    Ok(())
}

/// Loads the program as [`load_program`] does and attaches it, with the link pinned under
/// `pins` (when given): if an earlier daemon left it, its maps are reused and the new program
/// is swapped into its link, so counting continues without a gap or a second attachment.
pub fn load(
    iface: &str,
    mode: Mode,
    limits: Limits,
    sources: &SourcePortSet,
    pins: Option<&Pins>,
) -> Result<Loaded, LoadError> {
    interface_index(iface)?;
    let Program { mut ebpf, cpus } = load_program(limits, sources, pins)?;

    match aya_log::EbpfLogger::init(&mut ebpf) {
        Ok(logger) => kernel_log::forward(logger),
        Err(e) => log::debug!("the XDP program logs nothing to forward: {e}"),
    }

    let program = probe_program(&mut ebpf)?;
    let (attached_mode, pinned_link, resumed) = match pins {
        Some(p) if p.has_link() => {
            let pinned = PinnedLink::from_pin(p.link()).map_err(|e| LoadError::Resume(e.into()))?;
            let link =
                XdpLink::try_from(FdLink::from(pinned)).map_err(|e| LoadError::Resume(e.into()))?;
            program
                .attach_to_link(link)
                .map_err(|e| LoadError::Resume(e.into()))?;
            ("pinned", None, true)
        }
        Some(p) => {
            let (mode, id) = attach(program, iface, mode)?;
            (mode, Some(pin_link(program, id, p)?), false)
        }
        None => (attach(program, iface, mode)?.0, None, false),
    };

    let map = ebpf
        .take_map(counters::MAP)
        .ok_or(LoadError::MissingMap(counters::MAP))?;
    let aya::maps::Map::Array(counter_map) = map else {
        return Err(LoadError::MissingMap(counters::MAP));
    };
    // A reused pin must have the size this program and machine expect.
    let expected = cpus as u32;
    let found = counter_map
        .info()
        .map_err(|source| LoadError::Map {
            name: counters::MAP,
            source,
        })?
        .max_entries();
    if found != expected {
        return Err(LoadError::PinMismatch {
            map: counters::MAP,
            found,
            expected,
        });
    }
    let events = ebpf
        .take_map(track::map::EVENTS)
        .ok_or(LoadError::MissingMap(track::map::EVENTS))?;
    let events = RingBuf::try_from(events).map_err(|source| LoadError::Map {
        name: track::map::EVENTS,
        source,
    })?;
    let name = track::map::SOURCES;
    let Some(aya::maps::Map::Array(sources)) = ebpf.take_map(name) else {
        return Err(LoadError::MissingMap(name));
    };
    let slots = sources
        .info()
        .map_err(|source| LoadError::Map { name, source })?
        .max_entries();
    Ok(Loaded {
        ebpf,
        pinned_link,
        resumed,
        counters: counter_map,
        events,
        sources: (sources, slots),
        cpus,
        attached_mode,
    })
}

/// Slots per CPU of the per-source and reported-contacts tables: the limits rounded up to
/// powers of two (and down to what fits a 32-bit index over every CPU), or the sizes of the
/// pinned tables this load will reuse (the program's slot masks must match the tables it gets).
fn table_sizes(limits: Limits, pins: Option<&Pins>, cpus: u32) -> (u32, u32) {
    let mut sizes = [
        (track::map::SOURCES, "--max-sources", limits.sources),
        (track::map::CONTACTS, "--max-contacts", limits.contacts),
    ]
    .map(|(name, flag, asked)| {
        let slots = track::slots_per_cpu(asked, cpus);
        if slots < track::table_slots(asked) {
            log::warn!(
                "{flag} {asked} on {cpus} CPUs needs more slots than one table can index; using {slots} per CPU (pass {flag} {slots} or less to choose the size yourself)"
            );
        }
        (name, slots)
    });
    if let Some(p) = pins {
        for (name, slots) in &mut sizes {
            let found = MapData::from_pin(p.map(name))
                .and_then(|m| m.info())
                .map(|info| info.max_entries());
            if let Ok(found) = found
                && found % cpus.max(1) == 0
                && (found / cpus.max(1)).is_power_of_two()
                && found / cpus.max(1) != *slots
            {
                let kept = found / cpus.max(1);
                log::info!(
                    "keeping the pinned {name} table's {kept} slots per CPU (asked for {slots}); start with --reset to resize it"
                );
                *slots = kept;
            }
        }
    }
    (sizes[0].1, sizes[1].1)
}

/// The object's XDP program `probe`.
fn probe_program(ebpf: &mut Ebpf) -> Result<&mut Xdp, LoadError> {
    ebpf.program_mut("probe")
        .ok_or(LoadError::MissingProgram("probe"))?
        .try_into()
        .map_err(LoadError::Program)
}

fn attach(
    program: &mut Xdp,
    iface: &str,
    mode: Mode,
) -> Result<(&'static str, XdpLinkId), LoadError> {
    let try_mode = |program: &mut Xdp, xdp: XdpMode, name: &'static str| {
        program
            .attach(iface, xdp)
            .map(|id| (name, id))
            .map_err(|e| classify_attach(e, iface, name))
    };
    match mode {
        Mode::Native => try_mode(program, XdpMode::Driver, "native"),
        Mode::Skb => try_mode(program, XdpMode::Skb, "generic"),
        Mode::Auto => match try_mode(program, XdpMode::Driver, "native") {
            Ok(attached) => Ok(attached),
            Err(LoadError::ModeNotSupported { .. }) => {
                log::info!(
                    "{iface} has no native XDP support; attaching in generic (skb) mode, which sees the same packets a little later in the stack"
                );
                try_mode(program, XdpMode::Skb, "generic")
            }
            Err(e) => Err(e),
        },
    }
}

/// Attaches the loaded program again, after its interface was deleted and came back, and pins
/// the new link in place of the old one.
pub fn reattach(
    ebpf: &mut Ebpf,
    pinned_link: &mut Option<PinnedLink>,
    iface: &str,
    mode: Mode,
    pins: Option<&Pins>,
) -> Result<&'static str, LoadError> {
    let program = probe_program(ebpf)?;
    let (name, id) = attach(program, iface, mode)?;
    if let Some(p) = pins {
        // The old link died with the old interface; its pin must go before the new one.
        drop(pinned_link.take());
        let _ = std::fs::remove_file(p.link());
        *pinned_link = Some(pin_link(program, id, p)?);
    }
    Ok(name)
}

/// Moves the attachment out of the program into a pin, so it outlives this process.
fn pin_link(program: &mut Xdp, id: XdpLinkId, pins: &Pins) -> Result<PinnedLink, LoadError> {
    let fail = |source: Box<dyn std::error::Error + Send + Sync>| LoadError::Pin {
        path: pins.link(),
        source,
    };
    let link = program.take_link(id).map_err(|e| fail(e.into()))?;
    let fd_link = FdLink::try_from(link).map_err(|e| fail(e.into()))?;
    fd_link.pin(pins.link()).map_err(|e| fail(e.into()))
}

/// The OS error somewhere in an error's source chain, if any.
fn os_error(mut e: &(dyn std::error::Error + 'static)) -> Option<i32> {
    loop {
        if let Some(io) = e.downcast_ref::<io::Error>()
            && let Some(code) = io.raw_os_error()
        {
            return Some(code);
        }
        e = e.source()?;
    }
}

// EPERM means missing privilege; EACCES from a program load is the verifier refusing it, and the
// error then carries the verifier's log.
fn classify_load(e: EbpfError) -> LoadError {
    match os_error(&e) {
        Some(libc::EPERM) => LoadError::NotPermitted,
        Some(libc::ENOSYS) => LoadError::NoBpf,
        _ => LoadError::Load(e),
    }
}

fn classify_program(e: ProgramError) -> LoadError {
    match os_error(&e) {
        Some(libc::EPERM) => LoadError::NotPermitted,
        Some(libc::ENOSYS) => LoadError::NoBpf,
        _ => LoadError::Program(e),
    }
}

fn classify_attach(e: ProgramError, iface: &str, mode: &'static str) -> LoadError {
    match os_error(&e) {
        Some(libc::EPERM) => LoadError::NotPermitted,
        Some(libc::ENODEV) => LoadError::NoSuchInterface(iface.to_owned()),
        Some(libc::EOPNOTSUPP | libc::EINVAL) => LoadError::ModeNotSupported {
            iface: iface.to_owned(),
            mode,
        },
        Some(libc::EBUSY | libc::EEXIST) => LoadError::Busy(iface.to_owned()),
        _ => LoadError::Program(e),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::{PROGRAM, Tables, counters, track};

    /// The daemon loads every program and map of the object it embeds: nothing but the probe
    /// may be in it (the benchmark's yardsticks live in an object of their own, probe-bench's).
    #[test]
    fn the_object_holds_the_probe_and_its_maps_only() {
        let object = aya_obj::Object::parse(PROGRAM).expect("the embedded object parses");
        let programs: BTreeSet<&str> = object.programs.keys().map(String::as_str).collect();
        assert_eq!(
            programs,
            BTreeSet::from(["probe"]),
            "programs of the object"
        );
        let (sections, maps): (BTreeSet<&str>, BTreeSet<&str>) = object
            .maps
            .keys()
            .map(String::as_str)
            .partition(|name| name.starts_with('.'));
        let expected = BTreeSet::from([
            counters::MAP,            // the counters, one block per CPU, read through mmap
            "PACKET",                 // per-CPU scratch room for the packet being parsed
            track::map::SOURCES,      // per-source state of the first-contact rule
            track::map::CONTACTS,     // contacts already reported
            track::map::EVENTS,       // the first-contact ring the daemon reads
            track::map::BUCKET,       // each CPU's token bucket limiting the events
            track::map::SOURCE_PORTS, // significant source ports, from the knowledge
            "AYA_LOGS",               // aya-log's ring: the program's `debug!` on refused frames
        ]);
        assert_eq!(maps, expected, "maps of the object");
        // aya names a data section after itself and loads it as a map: `.rodata` holds the
        // load-time settings (`override_global`) and aya-log's strings, `.rodata.cst4`/`.cst8`
        // the compiler's pools of constants. Which pools there are follows the code; what must
        // never appear is writable data (`.data`, `.bss`), which the probe does not have.
        for section in sections {
            assert!(
                section == ".rodata" || section.starts_with(".rodata.cst"),
                "unexpected section {section} in the object"
            );
        }
    }

    #[test]
    fn a_cpu_part_starts_where_the_one_before_ends() {
        for slots in [2u32, 65_536, 262_144, 1 << 30] {
            let t = Tables::new(slots, slots * 2);
            // The program computes `cpu << shift | hash & mask`: CPU 1's part starts right after
            // CPU 0's last slot, and the mask keeps a hash inside its CPU's part.
            assert_eq!(1u64 << t.source_shift, u64::from(slots));
            assert_eq!(1u64 << t.contact_shift, u64::from(slots) * 2);
            assert_eq!(t.source_mask, slots - 1);
            assert_eq!(t.contact_mask, slots * 2 - 1);
            let any_hash = u32::MAX;
            assert_eq!(
                (1 << t.source_shift) | (any_hash & t.source_mask),
                2 * slots - 1
            );
        }
    }
}
