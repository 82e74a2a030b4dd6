//! End to end on a veth pair: packets per second the sensor's interface receives with no XDP
//! program, with the empty one and with the probe, from trafgen in a lab namespace.
//!
//! The lab is the integration tests' (`probe_lab::Lab`, namespaces `pbench-<id>-a` and `-s`):
//! ```text
//! [attacker netns] pa<id> ── ps<id> [sensor netns: the program under test]
//!   198.18.0.2/24                198.18.0.1/24
//! ```
//! Frames carry a destination MAC that is not the sensor's, so its stack drops them at once and
//! nothing answers (a sensor on a mirror port sees traffic like this). Every trafgen run sends
//! a fixed number of packets; both namespaces go when the lab is dropped, also on error.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, bail, ensure};
use aya::programs::{Xdp, XdpMode, xdp::XdpLinkId};
use probe_lab::{InNetns, Lab};

use crate::{
    Plan,
    frames::{self, ATTACKER, TARGET, flag},
    object::{self, Limits},
    report::{Row, Summary, Verdict},
};

const SECTION: &str = "veth";
/// No trafgen run may take longer than this, whatever happens.
const RUN_TIMEOUT: Duration = Duration::from_mins(1);

/// (received packets, receive drops) of `iface` in this thread's namespace.
fn rx(iface: &str) -> Result<(u64, u64)> {
    // /proc/self/net follows the namespace of the main thread, which is where we are.
    let dev = fs::read_to_string("/proc/self/net/dev").context("reading /proc/self/net/dev")?;
    for line in dev.lines() {
        let Some((name, stats)) = line.split_once(':') else {
            continue;
        };
        if name.trim() == iface {
            let f: Vec<u64> = stats
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            ensure!(f.len() >= 4, "short line in /proc/net/dev: {line}");
            return Ok((f[1], f[3]));
        }
    }
    bail!("{iface} is not in /proc/self/net/dev")
}

/// A trafgen packet: the frame's bytes, with the `random` (offset, length) spans left to
/// trafgen's `drnd`, which draws new bytes for every packet sent.
fn trafgen_packet(frame: &[u8], random: &[(usize, usize)]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < frame.len() {
        if let Some(&(_, len)) = random.iter().find(|(at, _)| *at == i) {
            parts.push(format!("drnd({len})"));
            i += len;
            continue;
        }
        parts.push(format!("{:#04x}", frame[i]));
        i += 1;
    }
    format!("{{ {} }}\n", parts.join(", "))
}

/// The traffic mixes: what each sends, in trafgen's syntax (packets go round robin).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mix {
    /// Established TCP, UDP to a seen port, ICMP echo: flows the probe already knows.
    Steady,
    /// SYNs from random sources in 198.18.0.0/16 to random ports: every packet a first contact
    /// and most a new source, the probe's most expensive path.
    Scan,
}

impl Mix {
    const ALL: [Self; 2] = [Self::Steady, Self::Scan];

    const fn name(self) -> &'static str {
        match self {
            Self::Steady => "steady traffic",
            Self::Scan => "random-source SYN scan",
        }
    }

    const fn what(self) -> &'static str {
        match self {
            Self::Steady => "established TCP, UDP/53 and ICMP echo in turn",
            Self::Scan => "TCP SYNs, random source 198.18.x.x and random destination port",
        }
    }

    fn trafgen_config(self) -> String {
        match self {
            Self::Steady => [
                trafgen_packet(
                    &frames::tcp4(
                        ATTACKER,
                        TARGET,
                        40_001,
                        443,
                        flag::ACK | flag::PSH,
                        &[0x41; 32],
                    ),
                    &[],
                ),
                trafgen_packet(&frames::udp4(ATTACKER, TARGET, 5353, 53, &[0x42; 32]), &[]),
                trafgen_packet(&frames::echo4(ATTACKER, TARGET, 64, 1), &[]),
            ]
            .concat(),
            Self::Scan => {
                let syn = frames::tcp4(ATTACKER, TARGET, 40_000, 1, flag::SYN, &[]);
                let src_low = frames::offset::IPV4_SRC as usize + 2;
                let dport = frames::offset::IPV4_TCP_PORTS as usize + 2;
                trafgen_packet(&syn, &[(src_low, 2), (dport, 2)])
            }
        }
    }
}

/// Nanoseconds of CPU used by the children of this process that have been reaped. The sum of
/// user and system time is the scheduler's exact runtime, not a tick sample.
fn children_cpu_ns() -> u64 {
    // SAFETY: an all-zero rusage is valid; getrusage fills it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable rusage.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &raw mut usage) };
    let ns = |t: libc::timeval| {
        u64::try_from(t.tv_sec).unwrap_or(0) * 1_000_000_000
            + u64::try_from(t.tv_usec).unwrap_or(0) * 1000
    };
    ns(usage.ru_utime) + ns(usage.ru_stime)
}

/// The `schedstat` files of the ksoftirqd threads: receive processing the kernel defers to
/// them is not charged to trafgen.
fn ksoftirqd_stats() -> Vec<PathBuf> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| fs::read_to_string(p.join("comm")).is_ok_and(|c| c.starts_with("ksoftirqd/")))
        .map(|p| p.join("schedstat"))
        .collect()
}

/// Nanoseconds on CPU of the threads whose `schedstat` files are given.
fn runtime_ns(stats: &[PathBuf]) -> u64 {
    stats
        .iter()
        .filter_map(|p| fs::read_to_string(p).ok())
        .filter_map(|s| {
            s.split_whitespace()
                .next()
                .and_then(|n| n.parse::<u64>().ok())
        })
        .sum()
}

/// What one trafgen run measured.
struct Measured {
    /// Packets per second the sensor received, between the first and the last it saw.
    wall_pps: f64,
    /// Packets received per second of CPU spent sending and receiving them.
    cpu_pps: f64,
    drops: u64,
}

/// Sends `packets` with trafgen and measures how fast the sensor received them.
fn measure(lab: &Lab, config: &Path, packets: u64, softirqd: &[PathBuf]) -> Result<Measured> {
    let (rx0, drop0) = rx(lab.sensor_if())?;
    let cpu0 = children_cpu_ns() + runtime_ns(softirqd);
    let started = Instant::now();
    let mut child = Command::new("ip")
        .args(["netns", "exec", lab.attacker_ns(), "trafgen", "--in"])
        .arg(config)
        .args([
            "--out",
            lab.attacker_if(),
            "--num",
            &packets.to_string(),
            "--cpus",
            "1",
        ])
        // Leave the machine's socket memory sysctls and IRQ affinities alone.
        .args(["--no-sock-mem", "--notouch-irq", "--no-cpu-stats"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting trafgen (package netsniff-ng; `cargo xtask setup` installs it)")?;
    let mut first: Option<(Instant, u64)> = None;
    let mut last = (Instant::now(), rx0);
    let mut exited = None;
    loop {
        let (now_rx, _) = rx(lab.sensor_if())?;
        let now = Instant::now();
        if now_rx != last.1 {
            if first.is_none() {
                first = Some((now, now_rx));
            }
            last = (now, now_rx);
        }
        if exited.is_none() {
            exited = child.try_wait()?;
        }
        if let Err(e) = crate::check_interrupted() {
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }
        // Done once trafgen has exited and the counter has been still for a while.
        if exited.is_some() && now - last.0 > Duration::from_millis(50) {
            break;
        }
        if started.elapsed() > RUN_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            bail!("trafgen did not finish within {} s", RUN_TIMEOUT.as_secs());
        }
        thread::sleep(Duration::from_micros(500));
    }
    if let Some(status) = exited.filter(|s| !s.success()) {
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut err);
        }
        bail!("trafgen failed ({status}): {}", err.trim());
    }
    let cpu = children_cpu_ns() + runtime_ns(softirqd) - cpu0;
    let (rx1, drop1) = rx(lab.sensor_if())?;
    let Some((t0, rx_first)) = first else {
        bail!("the sensor received nothing");
    };
    let received = last.1 - rx_first;
    let secs = (last.0 - t0).as_secs_f64();
    ensure!(
        secs > 0.0 && received > 0 && cpu > 0,
        "the run was too short to time"
    );
    Ok(Measured {
        wall_pps: received as f64 / secs,
        cpu_pps: (rx1 - rx0) as f64 / (cpu as f64 / 1e9),
        drops: drop1 - drop0,
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Setup {
    NoProgram,
    Empty,
    Probe,
}

/// Per (mix, setup) run: the rates of each trial, in Mpps, and the drops of all.
#[derive(Clone, Default)]
struct Series {
    wall: Vec<f64>,
    cpu: Vec<f64>,
    drops: u64,
}

pub fn run(plan: &Plan) -> Result<Vec<Row>> {
    eprintln!(
        "veth: trafgen, {} trials of {} packets per setup and mix",
        plan.e2e_trials, plan.e2e_packets
    );
    let mut probe = object::load_probe(Limits::default())?;
    let mut yardsticks = object::load_yardsticks()?;
    let softirqd = ksoftirqd_stats();
    let dir = std::env::temp_dir();
    let configs: Vec<(PathBuf, Mix)> = Mix::ALL
        .iter()
        .enumerate()
        .map(|(i, &m)| {
            let name = format!("probe-bench-{}-{i}.trafgen", std::process::id());
            (dir.join(name), m)
        })
        .collect();
    // (mix, setup) pairs. Each trial runs one mix's three setups back to back, the empty
    // program always next to the probe and the order reversed every other trial, so the
    // compared pair shares the machine's load of that moment.
    let runs: Vec<(Mix, Setup)> = configs
        .iter()
        .flat_map(|&(_, m)| [Setup::NoProgram, Setup::Empty, Setup::Probe].map(|s| (m, s)))
        .collect();
    let result = (|| {
        for (path, mix) in &configs {
            fs::write(path, mix.trafgen_config()).context("writing a trafgen configuration")?;
        }
        let lab = Lab::named("pbench");
        let _inside = InNetns::enter(lab.sensor_ns())
            .with_context(|| format!("entering namespace {}", lab.sensor_ns()))?;
        let mut series = vec![Series::default(); runs.len()];
        // One unrecorded run first: page cache, trafgen's binary, the veth's first use.
        measure(&lab, &configs[0].0, plan.e2e_packets / 4, &softirqd)?;
        for trial in 0..plan.e2e_trials {
            crate::check_interrupted()?;
            let mut order: Vec<usize> = (0..runs.len()).collect();
            if trial % 2 == 1 {
                order.reverse();
            }
            for i in order {
                let (mix, setup) = runs[i];
                let config = &configs[i / 3].0;
                debug_assert!(configs[i / 3].1 == mix);
                let program = match setup {
                    Setup::NoProgram => None,
                    Setup::Empty => Some((&mut yardsticks, "bench_empty")),
                    Setup::Probe => Some((&mut probe.ebpf, "probe")),
                };
                let attached: Option<(&mut Xdp, XdpLinkId)> = match program {
                    Some((ebpf, n)) => {
                        let xdp = object::program_mut(ebpf, n)?;
                        let link = xdp
                            .attach(lab.sensor_if(), XdpMode::Driver)
                            .with_context(|| format!("attaching {n} to {}", lab.sensor_if()))?;
                        Some((xdp, link))
                    }
                    None => None,
                };
                let measured = measure(&lab, config, plan.e2e_packets, &softirqd);
                if let Some((xdp, link)) = attached {
                    xdp.detach(link)?;
                }
                let m = measured?;
                series[i].wall.push(m.wall_pps / 1e6);
                series[i].cpu.push(m.cpu_pps / 1e6);
                series[i].drops += m.drops;
            }
        }
        Ok::<_, anyhow::Error>(series)
    })();
    for (path, _) in &configs {
        let _ = fs::remove_file(path);
    }
    let series = result?;
    Ok(runs
        .iter()
        .enumerate()
        .map(|(i, &(mix, setup))| {
            // The empty program's series of the same mix.
            let empty = &series[i / 3 * 3 + 1];
            row(plan, mix, setup, &series[i], empty)
        })
        .collect())
}

fn row(plan: &Plan, mix: Mix, setup: Setup, s: &Series, empty: &Series) -> Row {
    let median = |v: &[f64]| Summary::of(v).map_or(f64::NAN, |s| s.median);
    let ratios =
        |a: &[f64], b: &[f64]| -> Vec<f64> { a.iter().zip(b).map(|(x, e)| x / e).collect() };
    let cpu_ratios = ratios(&s.cpu, &empty.cpu);
    let ratio = median(&cpu_ratios);
    let wall_ratio = median(&ratios(&s.wall, &empty.wall));
    let (what, judged) = match setup {
        Setup::NoProgram => ("no XDP program", false),
        Setup::Empty => ("empty XDP program (native)", false),
        Setup::Probe => ("the probe (native)", true),
    };
    let spread = Summary::of(&cpu_ratios)
        .map_or_else(|| "-".into(), |r| format!("{:.3}–{:.3}", r.min, r.max));
    Row {
        section: SECTION,
        name: format!("veth receive, {}: {what}", mix.name()),
        summary: Summary::of(&s.cpu),
        unit: "Mpps/core",
        ratio: format!("{ratio:.3}× empty"),
        target: if judged {
            "≥ 0.95× empty".into()
        } else {
            String::new()
        },
        verdict: if judged {
            Verdict::judge(ratio >= 0.95)
        } else {
            Verdict::Info
        },
        note: format!(
            "{} packets per trial from trafgen on 1 CPU: {}; per-trial ratios {spread}; wall \
             clock: median {:.3} Mpps, {wall_ratio:.3}× empty; {} receive drops in all",
            plan.e2e_packets,
            mix.what(),
            median(&s.wall),
            s.drops
        ),
    }
}
