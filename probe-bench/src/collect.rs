//! Collector cost: one collection as the daemon makes it (the counter map read through its
//! mmap reader, deltas through `Collector::observe`, rows built as `query::answer` builds them),
//! at 1,000 and 65,536 active ports, beside per-key and batch lookups of the same map and of a
//! full SOURCES map. CPU time of this thread, so time spent waiting for a CPU does not count.

use std::{
    hint::black_box,
    io,
    os::fd::{AsFd as _, AsRawFd as _, RawFd},
    ptr::NonNull,
    time::Instant,
};

use anyhow::{Context as _, Result, bail, ensure};
use aya::maps::{Map, MapData};
use probe_common::{
    counters::{
        self, BLOCK, DST_PORTS, Family, ICMP, SRC_PORTS, SYN_PORTS, TCP_FLAGS, TOTALS, icmp_key,
        port_key, port_proto, total,
    },
    track::{self, SourceKey, SourceSlot, SourceState},
};
use probe_user::{
    collector::{Became, Collector},
    counters::{CounterMaps, Snapshot},
    daemon::activity::ACTIVITY_LINES,
    knowledge::{Direction, IcmpFamily, Knowledge},
    loader::Program,
    query::answer,
};

use crate::{
    Plan,
    object::{self, Limits},
    report::{Row, Summary, Verdict, format_value},
    sys,
};

const SECTION: &str = "collect";
/// 1% of one core at a 1 s interval.
const TARGET_MS: f64 = 10.0;

/// CPU time of this thread.
fn cpu_now() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &raw mut ts) };
    ts.tv_sec as f64 * 1e3 + ts.tv_nsec as f64 / 1e6
}

/// Milliseconds of CPU `f` takes.
fn cpu_ms(f: impl FnOnce()) -> f64 {
    let start = cpu_now();
    f();
    cpu_now() - start
}

/// A writable mapping of the counter map, to make ports active the way the program would.
struct Writer {
    base: NonNull<u64>,
    len: usize,
    cpus: usize,
}

impl Writer {
    fn new(fd: RawFd, cpus: usize) -> io::Result<Self> {
        // SAFETY: sysconf has no preconditions.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
        let len = (BLOCK as usize * cpus * 8).div_ceil(page) * page;
        // SAFETY: a shared mapping of a BPF_F_MMAPABLE array; the kernel checks the length.
        let addr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                0,
            )
        };
        if addr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let base = NonNull::new(addr.cast()).ok_or_else(|| io::Error::other("mmap gave null"))?;
        Ok(Self { base, len, cpus })
    }

    fn zero(&self) {
        // SAFETY: the mapping is `len` bytes long and writable.
        unsafe { self.base.as_ptr().cast::<u8>().write_bytes(0, self.len) };
    }

    /// Adds `n` to `key` of `family` in CPU `cpu`'s block (a key beyond the family is ignored).
    fn add(&self, family: Family, cpu: usize, key: u32, n: u64) {
        if key >= family.slice {
            return;
        }
        let i = (cpu % self.cpus) * BLOCK as usize + family.index(key) as usize;
        // SAFETY: `i < cpus * BLOCK`, inside the mapping; volatile because the kernel side
        // shares the memory.
        unsafe {
            let p = self.base.as_ptr().add(i);
            p.write_volatile(p.read_volatile() + n);
        }
    }

    /// Makes `ports` TCP ports active (spread over the port range) with SYNs, flags, ICMP and
    /// totals as a scan would leave them.
    fn activity(&self, ports: u32, round: u64) {
        let step = 65_536 / ports;
        for i in 0..ports {
            let port = (i * step) as u16;
            let cpu = i as usize;
            self.add(DST_PORTS, cpu, port_key(port_proto::TCP, port), round);
            self.add(SRC_PORTS, cpu, port_key(port_proto::TCP, port), round);
            self.add(SYN_PORTS, cpu, u32::from(port), round);
        }
        for bits in [0x02, 0x12, 0x10, 0x04, 0x18] {
            self.add(TCP_FLAGS, 0, bits, round);
        }
        for (t, c) in [(8, 0), (0, 0), (3, 3), (11, 0)] {
            self.add(ICMP, 0, icmp_key(t, c), round);
        }
        self.add(TOTALS, 0, total::PACKETS, u64::from(ports) * round);
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // SAFETY: exactly the mapping made in `new`.
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.len) };
    }
}

/// How much of a collection to do.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Work {
    /// Read every counter map and compute what became active.
    ReadObserve,
    /// Plus the knowledge of the ports that became active, as many as the daemon logs (at most
    /// `ACTIVITY_LINES`; the logging itself is not included): the daemon's tick.
    Tick,
    /// Plus the rows `probe query` builds from the same snapshot (stats, ports, icmp, flags).
    Rows,
}

fn collection(
    counters: &CounterMaps,
    collector: &mut Collector,
    snapshot: &mut Snapshot,
    k: &Knowledge,
    work: Work,
) {
    counters.read_into(snapshot);
    // The rows first: `observe` hands the snapshot back holding the previous read.
    if work == Work::Rows {
        black_box(answer::stats(snapshot));
        black_box(answer::ports(snapshot, k, None, false, None));
        black_box(answer::icmp(snapshot, k, None));
        black_box(answer::flags(snapshot, None));
    }
    let became = collector.observe(snapshot);
    if work == Work::ReadObserve {
        black_box(became);
        return;
    }
    // As the daemon: knowledge for the activity lines it logs, at most ACTIVITY_LINES.
    for became in became.into_iter().take(ACTIVITY_LINES) {
        match became {
            Became::Port { proto, port, .. } => {
                black_box(k.port(port, proto, Direction::Destination));
            }
            Became::Icmp {
                v6,
                icmp_type,
                code,
                ..
            } => {
                let family = if v6 { IcmpFamily::V6 } else { IcmpFamily::V4 };
                black_box(k.icmp(family, icmp_type, code));
            }
        }
    }
}

/// The counter map through the syscall: one `BPF_MAP_LOOKUP_ELEM` per element (one CPU's
/// block), summing the counters copied out.
fn read_per_key(fd: RawFd, cpus: usize) -> Result<u64> {
    let mut sum = 0u64;
    let mut value = vec![0u8; BLOCK as usize * 8];
    for key in 0..cpus as u32 {
        sys::lookup(fd, &key.to_ne_bytes(), &mut value)
            .with_context(|| format!("looking up {}[{key}]", counters::MAP))?;
        sum = value.chunks_exact(8).fold(sum, |s, v| {
            s.wrapping_add(u64::from_ne_bytes(v.try_into().unwrap_or_default()))
        });
    }
    Ok(sum)
}

/// The counter map with one `BPF_MAP_LOOKUP_BATCH` call.
fn read_batched(fd: RawFd, cpus: usize, keys: &mut [u8], values: &mut [u8]) -> Result<u64> {
    // One element per CPU, each a block of `BLOCK` counters.
    let n = cpus as u32;
    let width = BLOCK as usize * 8;
    let got = sys::lookup_all_batched(
        fd,
        4,
        width,
        n,
        &mut keys[..n as usize * 4],
        &mut values[..n as usize * width],
    )
    .with_context(|| format!("batch lookup of {}", counters::MAP))?;
    ensure!(
        got == n as usize,
        "batch lookup of {} read {got} of {n}",
        counters::MAP
    );
    Ok(values[..n as usize * width]
        .chunks_exact(8)
        .fold(0u64, |s, v| {
            s.wrapping_add(u64::from_ne_bytes(v.try_into().unwrap_or_default()))
        }))
}

fn bytes_of<T: Copy>(v: &T) -> &[u8] {
    // SAFETY: `T` is plain old data (SourceKey, SourceState: integers and byte arrays without
    // padding, sizes asserted in probe-common); reading its bytes is sound.
    unsafe { std::slice::from_raw_parts(std::ptr::from_ref(v).cast::<u8>(), size_of::<T>()) }
}

/// Fills every slot of SOURCES with an IPv4 source from 198.18.0.0/15, in every CPU's part.
fn fill_sources(fd: RawFd, n: u32, cpus: usize) -> Result<()> {
    let state = SourceState {
        first_seen_ns: 1,
        last_seen_ns: 2,
        packets: 3,
        syns: 1,
        bytes: 180,
        ports: [1; 8],
        hosts: [1; 4],
        ttl_min: 64,
        ttl_max: 64,
        ..SourceSlot::EMPTY.state
    };
    for cpu in 0..cpus as u32 {
        for i in 0..n {
            let mut addr = [0u8; 16];
            addr[..4].copy_from_slice(&[198, 18 + (i >> 16) as u8, (i >> 8) as u8, i as u8]);
            let slot = SourceSlot {
                key: SourceKey {
                    addr,
                    ip_version: 4,
                    pad: [0; 3],
                },
                pad: [0; 4],
                state,
            };
            sys::update(fd, &(cpu * n + i).to_ne_bytes(), bytes_of(&slot))
                .context("writing SOURCES")?;
        }
    }
    Ok(())
}

/// CPU milliseconds of the daemon's once-a-second volume read (`VolumeTracker::observe` over
/// the mapped SOURCES), `trials` times, each after every slot of every CPU's part was given
/// more packets and a later last sighting: every source active.
fn volume_cpu(sources: MapData, entries: usize, trials: usize) -> Result<Vec<f64>> {
    let fd = sources.fd().as_fd().as_raw_fd();
    let cpus = entries / track::DEFAULT_SOURCES as usize;
    let maps = probe_user::sources::SourceMaps::new(sources, entries as u32, cpus)
        .context("mapping SOURCES")?;
    let mut tracker = probe_user::volume::VolumeTracker::default();
    let mut out = Vec::new();
    for trial in 0..=trials as u64 {
        crate::check_interrupted()?;
        for (index, slot) in maps.slots().enumerate() {
            let mut slot = slot;
            slot.state.packets += 100;
            slot.state.syns += 100;
            slot.state.last_seen_ns = 10 + trial;
            sys::update(fd, &(index as u32).to_ne_bytes(), bytes_of(&slot))
                .context("writing SOURCES")?;
        }
        let mut passed = 0;
        let ms = cpu_ms(|| passed = tracker.observe(maps.slots(), maps.part_len()).len());
        // The first look has no earlier one to compare with: not measured.
        if trial > 0 {
            ensure!(
                passed == track::DEFAULT_SOURCES as usize,
                "the volume read passed on {passed} sources"
            );
            out.push(ms);
        }
    }
    Ok(out)
}

/// SOURCES slot by slot: GET_NEXT_KEY then LOOKUP per slot. Returns how many were read.
fn sources_per_key(fd: RawFd) -> Result<usize> {
    let mut key = [0u8; 4];
    let mut next = [0u8; 4];
    let mut value = vec![0u8; size_of::<SourceSlot>()];
    let mut n = 0;
    let mut first = true;
    while sys::next_key(fd, (!first).then_some(&key[..]), &mut next)? {
        first = false;
        sys::lookup(fd, &next, &mut value)?;
        n += 1;
        key = next;
    }
    black_box(&value);
    Ok(n)
}

fn sources_batched(fd: RawFd, entries: usize, keys: &mut [u8], values: &mut [u8]) -> Result<usize> {
    let got = sys::lookup_all_batched(
        fd,
        4,
        size_of::<SourceSlot>(),
        4096,
        &mut keys[..entries * 4],
        &mut values[..entries * size_of::<SourceSlot>()],
    )?;
    Ok(got)
}

#[allow(clippy::too_many_lines)] // one straight sequence of trials reads best in one place
pub fn run(plan: &Plan) -> Result<Vec<Row>> {
    eprintln!(
        "collect: {} trials (slow read strategies: {})",
        plan.collect_trials, plan.slow_read_trials
    );
    let Program { mut ebpf, cpus } = object::load_probe(Limits::default())?;
    let counter_map = object::counter_map(&mut ebpf)?;
    let fd = counter_map.fd().as_fd().as_raw_fd();
    let writer = Writer::new(fd, cpus).context("mapping the counter map writable")?;
    // The map (and with it the descriptor `fd`) lives in `counters` until the end.
    let counters = CounterMaps::new(counter_map, cpus)?;
    let sources: MapData = match object::take(&mut ebpf, track::map::SOURCES)? {
        Map::Array(m) => m,
        _ => bail!("SOURCES is not an array"),
    };
    let sources_fd = sources.fd().as_fd().as_raw_fd();
    let started = Instant::now();
    fill_sources(sources_fd, track::DEFAULT_SOURCES, cpus)?;
    // Every CPU's part: the slots a collection reading SOURCES would read.
    let entries = track::DEFAULT_SOURCES as usize * cpus;
    let mut src_keys = vec![0u8; entries * 4];
    let mut src_values = vec![0u8; entries * size_of::<SourceSlot>()];
    let tracked = sources_batched(sources_fd, entries, &mut src_keys, &mut src_values)?;
    eprintln!(
        "collect: SOURCES filled: {tracked} slots over every CPU in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let mut keys = vec![0u8; cpus * 4];
    let mut values = vec![0u8; BLOCK as usize * cpus * 8];
    let k = Knowledge::builtin();
    let mut snapshot = Snapshot::zeroed();
    // (ports, work, steady: measure the second interval, when no port is newly active,
    // sources: also read SOURCES by batch)
    let cases = [
        (1_000, Work::Rows, false, false),
        (65_536, Work::Rows, false, false),
        (65_536, Work::Rows, true, false),
        (65_536, Work::Tick, false, false),
        (65_536, Work::ReadObserve, false, false),
        (65_536, Work::Rows, false, true),
    ];
    let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
    let mut mmap = vec![];
    let (mut per_key, mut batch, mut src_per_key, mut src_batch) = (vec![], vec![], vec![], vec![]);
    for trial in 0..plan.collect_trials {
        crate::check_interrupted()?;
        for (i, &(ports, work, steady, with_sources)) in cases.iter().enumerate() {
            writer.zero();
            let mut collector = Collector::new(counters.read());
            writer.activity(ports, 1);
            if steady {
                collection(&counters, &mut collector, &mut snapshot, &k, work);
                writer.activity(ports, 1);
            }
            let mut read = Ok(0);
            cpu[i].push(cpu_ms(|| {
                collection(&counters, &mut collector, &mut snapshot, &k, work);
                if with_sources {
                    read = sources_batched(sources_fd, entries, &mut src_keys, &mut src_values);
                }
            }));
            read.context("reading SOURCES by batch")?;
        }
        mmap.push(cpu_ms(|| counters.read_into(&mut snapshot)));
        if trial < plan.slow_read_trials {
            let mut r = Ok(0);
            per_key.push(cpu_ms(|| r = read_per_key(fd, cpus)));
            r?;
            let mut r = Ok(0);
            batch.push(cpu_ms(|| {
                r = read_batched(fd, cpus, &mut keys, &mut values);
            }));
            r?;
            let mut n = Ok(0);
            src_per_key.push(cpu_ms(|| n = sources_per_key(sources_fd)));
            n?;
            let mut n = Ok(0);
            src_batch.push(cpu_ms(|| {
                n = sources_batched(sources_fd, entries, &mut src_keys, &mut src_values);
            }));
            n?;
        }
    }
    drop(writer);
    let volume = volume_cpu(sources, entries, plan.collect_trials)?;

    let counter_keys: u32 = BLOCK * cpus as u32;
    let median = |v: &[f64]| Summary::of(v).map_or(f64::NAN, |s| s.median);
    let core = |v: &[f64]| format!("{:.2}% of a core at 1 s", median(v) / 10.0);
    let vs = |v: &[f64], base: &[f64], what: &str| {
        format!("{}× {what}", format_value(median(v) / median(base)))
    };
    let collection_row = |name: String, v: &[f64], judged: bool, note: String| Row {
        section: SECTION,
        name,
        summary: Summary::of(v),
        unit: "ms CPU",
        ratio: core(v),
        target: if judged {
            format!("≤ {TARGET_MS:.0} ms (1% of a core)")
        } else {
            String::new()
        },
        verdict: if judged {
            Verdict::judge(median(v) <= TARGET_MS)
        } else {
            Verdict::Info
        },
        note,
    };
    let read_row = |name: &str, v: &[f64], ratio: String, note: String| Row {
        section: SECTION,
        name: name.to_owned(),
        summary: Summary::of(v),
        unit: "ms CPU",
        ratio,
        target: String::new(),
        verdict: Verdict::Info,
        note,
    };
    let newly = "every port becomes active in the interval: the worst one";
    let steady = "the ports were already active in the previous interval: none is news";
    Ok(vec![
        collection_row(
            "tick + a full query of every row, 1,000 ports newly active".into(),
            &cpu[0],
            false,
            format!("{newly}; the query rows are built on demand, not each interval"),
        ),
        collection_row(
            "tick + a full query of every row, 65,536 ports newly active".into(),
            &cpu[1],
            false,
            format!("{newly}; the query rows are built on demand, not each interval"),
        ),
        collection_row(
            "tick + a full query of every row, 65,536 ports staying active".into(),
            &cpu[2],
            false,
            format!("{steady}; the query rows are built on demand, not each interval"),
        ),
        collection_row(
            "collection (the daemon's tick), 65,536 ports newly active".into(),
            &cpu[3],
            true,
            "what `probe run` does each interval: mmap read of every counter, \
             Collector::observe, knowledge for the activity lines it logs (logging not included)"
                .into(),
        ),
        collection_row(
            "mmap read + Collector::observe, 65,536 ports".into(),
            &cpu[4],
            false,
            "no knowledge, no rows".into(),
        ),
        collection_row(
            format!("collection, 65,536 ports newly active + {tracked} source slots (batch)"),
            &cpu[5],
            false,
            "tick + rows, plus SOURCES read with BPF_MAP_LOOKUP_BATCH: what reading the table \
             by system calls would add (the daemon maps it instead: next row)"
                .into(),
        ),
        collection_row(
            format!(
                "volume (once a second): SOURCES read through its mapping + VolumeTracker, \
                 {} active sources",
                track::DEFAULT_SOURCES
            ),
            &volume,
            true,
            format!(
                "every one of the {tracked} slots ({cpus} CPUs' parts) changed since the last \
                 look, each source in every CPU's part: the worst case of what the daemon \
                 does each second (sources.rs, volume.rs)"
            ),
        ),
        read_row(
            "counter map read: mmap of per-CPU blocks (the daemon's)",
            &mmap,
            "1.0× mmap".into(),
            format!("{counter_keys} u64 counters ({cpus} CPU blocks)"),
        ),
        read_row(
            "counter map read: BPF_MAP_LOOKUP_ELEM per CPU block",
            &per_key,
            vs(&per_key, &mmap, "mmap"),
            format!("{cpus} syscalls, one per CPU block"),
        ),
        read_row(
            "counter map read: BPF_MAP_LOOKUP_BATCH",
            &batch,
            vs(&batch, &mmap, "mmap"),
            "one batch call".into(),
        ),
        read_row(
            &format!("SOURCES ({tracked} slots) read: per-key GET_NEXT_KEY + LOOKUP"),
            &src_per_key,
            "1.0× per-key".into(),
            format!(
                "{} slots per CPU, each CPU's part of one direct-mapped array, {} B per slot",
                track::DEFAULT_SOURCES,
                size_of::<SourceSlot>()
            ),
        ),
        read_row(
            &format!("SOURCES ({tracked} slots) read: BPF_MAP_LOOKUP_BATCH"),
            &src_batch,
            vs(&src_batch, &src_per_key, "per-key"),
            "4096 sources per call".into(),
        ),
    ])
}
