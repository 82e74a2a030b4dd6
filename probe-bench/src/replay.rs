//! Replay throughput: packets per second of `probe replay` on a generated, scan-heavy capture,
//! beside `tcpdump -nn -r` of the same file, interleaved.

use std::{
    fs,
    io::{BufWriter, Write as _},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Instant,
};

use anyhow::{Context as _, Result, ensure};
use probe_lab::craft::Rng;

use crate::{
    Plan,
    frames::{self, ATTACKER, ATTACKER6, TARGET, TARGET6, flag},
    report::{Row, Summary, Verdict},
};

const SECTION: &str = "replay";
/// Capture time between packets: 100,000 packets per second of capture.
const GAP_NS: u64 = 10_000;

/// Frame number `i` of the mix (per 100): 35 SYN scan of 16 scanners over 256 hosts and all
/// ports, 10 RST answers, 20 established TCP, 10 UDP scan, 5 DNS, 5 ICMP echo sweep, 5 IPv6
/// SYN scan, 5 random-source SYN flood, 2 Q-in-Q UDP, 2 fragments, 1 malformed.
fn frame(rng: &mut Rng, i: u64) -> Vec<u8> {
    let host = |rng: &mut Rng| [198, 18, 1, rng.below(256) as u8];
    let scanner = |rng: &mut Rng| [198, 18, 2, 1 + rng.below(16) as u8];
    let port = |rng: &mut Rng| rng.below(65_536) as u16;
    match rng.below(100) {
        0..35 => {
            let (s, h, p) = (scanner(rng), host(rng), port(rng));
            frames::tcp4(s, h, 40_000 + (i % 1000) as u16, p, flag::SYN, &[])
        }
        35..45 => {
            let (h, s, p) = (host(rng), scanner(rng), port(rng));
            frames::tcp4(h, s, p, 40_000, flag::RST | flag::ACK, &[])
        }
        45..65 => frames::tcp4(
            ATTACKER,
            TARGET,
            40_001,
            443,
            flag::ACK | flag::PSH,
            &[0x41; 64],
        ),
        65..75 => {
            let (s, h, p) = (scanner(rng), host(rng), port(rng));
            frames::udp4(s, h, 50_000, p, &[])
        }
        75..80 => frames::udp4(ATTACKER, TARGET, 5353, 53, &[0x42; 32]),
        80..85 => {
            let h = host(rng);
            frames::echo4(ATTACKER, h, 64, i as u16)
        }
        85..90 => {
            let mut dst = TARGET6;
            dst[15] = rng.below(256) as u8;
            let p = port(rng);
            frames::tcp6(ATTACKER6, dst, 40_000, p, flag::SYN)
        }
        90..95 => {
            // Spoofed sources drawn from all of IPv4, as a real flood's are (the capture is
            // only ever read, never sent). Confined to one /15 they would also land in one
            // chain of tcpdump's address cache, which hashes on the first octets, and make the
            // baseline quadratic.
            let r = rng.next_u64();
            let src = [
                (r >> 32) as u8,
                (r >> 40) as u8,
                (r >> 8) as u8,
                (r >> 16) as u8,
            ];
            frames::tcp4(src, TARGET, (r >> 24) as u16, 80, flag::SYN, &[])
        }
        95..97 => frames::udp4_qinq(ATTACKER, TARGET),
        97..99 => frames::fragment4(ATTACKER, TARGET, i as u16),
        _ => frames::malformed4(ATTACKER, TARGET),
    }
}

/// Writes a legacy pcap (microsecond timestamps, Ethernet) of `packets` frames.
pub fn write_capture(path: &Path, packets: u64) -> Result<()> {
    let file = fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut header = Vec::with_capacity(24);
    header.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    header.extend_from_slice(&2u16.to_le_bytes());
    header.extend_from_slice(&4u16.to_le_bytes());
    header.extend_from_slice(&0i32.to_le_bytes());
    header.extend_from_slice(&0u32.to_le_bytes());
    header.extend_from_slice(&65_535u32.to_le_bytes());
    header.extend_from_slice(&1u32.to_le_bytes());
    out.write_all(&header)?;
    // The lab's deterministic generator: the same capture on every run.
    let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15);
    let start_ns: u64 = 1_767_225_600 * 1_000_000_000; // 2026-01-01
    for i in 0..packets {
        let f = frame(&mut rng, i);
        let ts = start_ns + i * GAP_NS;
        let mut record = Vec::with_capacity(16);
        record.extend_from_slice(&((ts / 1_000_000_000) as u32).to_le_bytes());
        record.extend_from_slice(&((ts % 1_000_000_000 / 1000) as u32).to_le_bytes());
        record.extend_from_slice(&(f.len() as u32).to_le_bytes());
        record.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.write_all(&record)?;
        out.write_all(&f)?;
    }
    out.flush()?;
    Ok(())
}

/// Deletes the capture when the benchmark ends, also on error.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// Why `probe replay` cannot be measured, or `None` when it can.
fn replay_missing(probe: &Path) -> Option<String> {
    match Command::new(probe).args(["replay", "--help"]).output() {
        Ok(o) if o.status.success() => None,
        Ok(_) => Some(format!("{} has no `replay` subcommand", probe.display())),
        Err(e) => Some(format!("cannot run {}: {e}", probe.display())),
    }
}

/// Builds one of the commands compared.
type MakeCommand<'a> = Box<dyn Fn() -> Command + 'a>;

/// Wall seconds `cmd` takes with its output discarded; fails unless it succeeds.
fn timed(cmd: &mut Command) -> Result<f64> {
    let start = Instant::now();
    let out = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("running {}", cmd.get_program().display()))?;
    let secs = start.elapsed().as_secs_f64();
    ensure!(
        out.status.success(),
        "{} failed ({}): {}",
        cmd.get_program().display(),
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(secs)
}

pub fn run(plan: &Plan, probe: &Path, work_dir: &Path) -> Result<Vec<Row>> {
    if let Some(why) = replay_missing(probe) {
        eprintln!("replay: not available: probe replay missing ({why})");
        return Ok(vec![Row::unavailable(
            SECTION,
            "probe replay vs tcpdump -nn -r",
            format!("not available: probe replay missing ({why})"),
        )]);
    }
    let path = work_dir.join(format!("probe-bench-{}.pcap", std::process::id()));
    let _cleanup = TempFile(path.clone());
    let started = Instant::now();
    write_capture(&path, plan.replay_packets)?;
    let size = fs::metadata(&path)?.len();
    eprintln!(
        "replay: wrote {} packets ({:.0} MB) in {:.1} s; {} trials",
        plan.replay_packets,
        size as f64 / 1e6,
        started.elapsed().as_secs_f64(),
        plan.replay_trials
    );
    let packets = plan.replay_packets as f64;
    let commands: [(&str, MakeCommand); 3] = [
        (
            "tcpdump -nn -r FILE > /dev/null",
            Box::new(|| {
                let mut c = Command::new("tcpdump");
                c.args(["-nn", "-r"]).arg(&path);
                c
            }),
        ),
        (
            "probe replay FILE (the daemon's event limits)",
            Box::new(|| {
                let mut c = Command::new(probe);
                c.arg("replay").arg(&path);
                c
            }),
        ),
        (
            "probe replay FILE, every first contact to the detectors",
            Box::new(|| {
                let mut c = Command::new(probe);
                // The largest rate and burst the probe takes: far above the capture's 55,000
                // first contacts a second of capture time, so none is held back.
                c.arg("replay").arg(&path).args([
                    "--event-rate",
                    "1000000",
                    "--event-burst",
                    "10000000",
                ]);
                c
            }),
        ),
    ];
    // No warm-up pass: the capture was just written and is in the page cache, and the rotating
    // order gives no command the first slot twice in a row.
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); commands.len()];
    for trial in 0..plan.replay_trials {
        crate::check_interrupted()?;
        for k in 0..commands.len() {
            let i = (k + trial) % commands.len();
            rates[i].push(packets / timed(&mut (commands[i].1)())? / 1e6);
        }
    }
    let median = |v: &[f64]| Summary::of(v).map_or(f64::NAN, |s| s.median);
    Ok(commands
        .iter()
        .enumerate()
        .map(|(i, (name, _))| {
            let ratios: Vec<f64> = rates[i].iter().zip(&rates[0]).map(|(r, t)| r / t).collect();
            let ratio = median(&ratios);
            Row {
                section: SECTION,
                name: (*name).to_owned(),
                summary: Summary::of(&rates[i]),
                unit: "Mpps",
                ratio: format!("{ratio:.2}× tcpdump"),
                target: if i == 0 {
                    String::new()
                } else {
                    "≥ 1× tcpdump".into()
                },
                verdict: if i == 0 {
                    Verdict::Info
                } else {
                    Verdict::judge(ratio >= 1.0)
                },
                note: format!(
                    "{} packets, {:.0} MB, scan-heavy mix (SYN/UDP/ICMP/IPv6 scans, floods, \
                     established TCP, VLAN, fragments, malformed); wall time, output to /dev/null",
                    plan.replay_packets,
                    size as f64 / 1e6
                ),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use probe_common::packet::parse;

    use super::*;

    #[test]
    fn the_mix_is_mostly_parseable_and_deterministic() {
        let mut a = Rng::new(1);
        let mut b = Rng::new(1);
        let frames: Vec<_> = (0..1000).map(|i| frame(&mut a, i)).collect();
        assert!((0..1000).all(|i| frame(&mut b, i) == frames[i as usize]));
        let bad = frames.iter().filter(|f| parse(f).is_err()).count();
        assert!(bad > 0 && bad < 30, "{bad} malformed of 1000");
    }
}
