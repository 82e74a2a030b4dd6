//! The two objects the benchmarks use: the probe, loaded by the daemon's own loader but attached
//! nowhere, and the yardsticks of probe-bench-ebpf. The benchmarks run their programs with
//! `BPF_PROG_TEST_RUN`, attach them to a lab veth, or read their maps.

use anyhow::{Context as _, Result, bail};
use aya::{
    Ebpf, EbpfLoader,
    maps::{Map, MapData},
    programs::Xdp,
};
use probe_common::counters;
pub use probe_user::loader::Limits;
use probe_user::loader::{self, Program};

/// The yardsticks' object, built by build.rs.
static YARDSTICKS: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/yardsticks"));

/// The yardstick programs (probe-bench-ebpf).
pub const YARDSTICK_PROGRAMS: [&str; 3] = ["bench_empty", "bench_minimal", "bench_vary"];

/// Loads the probe as the daemon does, with `limits` and the built-in knowledge's source
/// ports, attached nowhere and pinned nowhere. The program's log level is the daemon's
/// default (`info`), so `debug!` on the malformed path costs what it costs in production (a
/// compare).
pub fn load_probe(limits: Limits) -> Result<Program> {
    log::set_max_level(log::LevelFilter::Info);
    let sources = probe_user::knowledge::Knowledge::builtin().source_ports();
    loader::load_program(limits, &sources, None).context("loading the probe")
}

/// Loads the yardsticks' object with every program loaded.
pub fn load_yardsticks() -> Result<Ebpf> {
    let mut ebpf = EbpfLoader::new()
        .load(YARDSTICKS)
        .context("the kernel refused the yardsticks' object")?;
    for name in YARDSTICK_PROGRAMS {
        program_mut(&mut ebpf, name)?
            .load()
            .with_context(|| format!("the verifier refused {name}"))?;
    }
    Ok(ebpf)
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

/// Takes a map (COUNTERS, SOURCES, BENCH_VARY, ...) out of an object.
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
