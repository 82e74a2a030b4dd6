//! The probe's object, loaded as the daemon loads it but attached nowhere: the benchmarks run
//! its programs with `BPF_PROG_TEST_RUN`, attach them to a lab veth, or read its maps.

use anyhow::{Context as _, Result, bail};
use aya::{
    Ebpf, EbpfLoader,
    maps::{Map, MapData},
    programs::Xdp,
};
use probe_common::{counters, track};

/// The object build.rs made; the same bytes the daemon embeds.
static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/probe"));

/// The programs the benchmarks use: the probe and the yardsticks of probe-ebpf's bench.rs.
pub const PROGRAMS: [&str; 4] = ["probe", "bench_empty", "bench_minimal", "bench_vary"];

/// aya-log's level for `info`: what the daemon sets by default, so `debug!` on the malformed
/// path costs what it costs in production (a compare).
const KERNEL_LOG_INFO: u8 = 3;

/// Map sizes and event limits, as `probe run` takes them.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub sources: u32,
    pub contacts: u32,
    pub event_rate: u64,
    pub event_burst: u64,
}

impl Default for Limits {
    /// The daemon's defaults.
    fn default() -> Self {
        Self {
            sources: track::DEFAULT_SOURCES,
            contacts: track::DEFAULT_CONTACTS,
            event_rate: track::DEFAULT_EVENT_RATE,
            event_burst: track::DEFAULT_EVENT_BURST,
        }
    }
}

/// Loads the object with the daemon's sizing and every benchmark program loaded.
pub fn load(limits: Limits) -> Result<(Ebpf, usize)> {
    let cpus = aya::util::nr_cpus()
        .map_err(|(_, e)| e)
        .context("counting possible CPUs")?;
    let mut loader = EbpfLoader::new();
    loader.override_global(aya_log::LEVEL, &KERNEL_LOG_INFO, false);
    loader.map_max_entries(counters::MAP, cpus as u32);
    let (sources, contacts) = (
        track::slots_per_cpu(limits.sources, cpus as u32),
        track::slots_per_cpu(limits.contacts, cpus as u32),
    );
    let tables = probe_user::loader::Tables::new(sources, contacts);
    tables.apply(&mut loader, cpus as u32);
    loader.override_global(track::setting::EVENT_RATE, &limits.event_rate, true);
    loader.override_global(track::setting::EVENT_BURST, &limits.event_burst, true);
    let mut ebpf = loader
        .load(OBJECT)
        .context("the kernel refused the probe's object")?;
    for name in PROGRAMS {
        let program: &mut Xdp = ebpf
            .program_mut(name)
            .with_context(|| format!("program {name} is missing from the object"))?
            .try_into()
            .with_context(|| format!("program {name} is not XDP"))?;
        program
            .load()
            .with_context(|| format!("the verifier refused {name}"))?;
    }
    Ok((ebpf, cpus))
}

pub fn program<'a>(ebpf: &'a Ebpf, name: &str) -> Result<&'a Xdp> {
    ebpf.program(name)
        .with_context(|| format!("program {name} is missing"))?
        .try_into()
        .with_context(|| format!("program {name} is not XDP"))
}

pub fn program_mut<'a>(ebpf: &'a mut Ebpf, name: &str) -> Result<&'a mut Xdp> {
    ebpf.program_mut(name)
        .with_context(|| format!("program {name} is missing"))?
        .try_into()
        .with_context(|| format!("program {name} is not XDP"))
}

/// Takes an array-backed map (COUNTERS, SOURCES, ...) out of the object.
pub fn take(ebpf: &mut Ebpf, name: &str) -> Result<Map> {
    ebpf.take_map(name)
        .with_context(|| format!("map {name} is missing from the object"))
}

/// The counter map, for `CounterMaps::new`.
pub fn counter_map(ebpf: &mut Ebpf) -> Result<MapData> {
    match take(ebpf, counters::MAP)? {
        Map::Array(data) => Ok(data),
        _ => bail!("map {} is not an array", counters::MAP),
    }
}
