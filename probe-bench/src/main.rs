//! `probe-bench`: the measuring side of `cargo xtask bench` (which builds it, runs it as root and
//! writes docs/benchmarks.md from its output).
//!
//! Prints one tab-separated `ROW` line per result on stdout; progress and a readable copy of each
//! row go to stderr. Every figure is the median of interleaved trials, with min and max, and
//! every comparison is taken within this one run.

mod collect;
mod e2e;
mod frames;
mod kernel;
mod object;
mod replay;
mod report;
mod sys;

use std::{
    path::PathBuf,
    process::ExitCode,
    sync::atomic::{AtomicBool, Ordering},
};

use clap::Parser;

/// Set by SIGINT or SIGTERM: the benchmark stops at the next check and its guards clean up
/// (namespaces, the capture file) instead of the process dying with them in place.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

/// Fails once the run has been interrupted.
pub fn check_interrupted() -> anyhow::Result<()> {
    if STOP.load(Ordering::Relaxed) {
        anyhow::bail!("interrupted");
    }
    Ok(())
}

/// What a caught panic said.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned())
}

/// How much of each benchmark to do.
#[derive(Clone, Debug)]
pub struct Plan {
    pub kernel_trials: usize,
    pub kernel_repeat: u32,
    pub collect_trials: usize,
    /// Trials of the slow read strategies (per-key lookups take ~1 s each).
    pub slow_read_trials: usize,
    pub e2e_trials: usize,
    pub e2e_packets: u64,
    pub replay_trials: usize,
    pub replay_packets: u64,
}

impl Plan {
    const fn new(quick: bool) -> Self {
        if quick {
            Self {
                kernel_trials: 5,
                kernel_repeat: 1_000_000,
                collect_trials: 7,
                slow_read_trials: 2,
                e2e_trials: 5,
                e2e_packets: 300_000,
                replay_trials: 2,
                replay_packets: 1_000_000,
            }
        } else {
            Self {
                kernel_trials: 15,
                kernel_repeat: 2_000_000,
                collect_trials: 21,
                slow_read_trials: 5,
                e2e_trials: 15,
                e2e_packets: 500_000,
                replay_trials: 3,
                replay_packets: 1_000_000,
            }
        }
    }
}

/// Benchmarks of the probe: in-kernel cost per packet, veth throughput, collector cost, replay.
#[derive(Parser)]
#[command(name = "probe-bench")]
struct Args {
    /// Fewer trials, repeats and packets: finishes in a few minutes
    #[arg(long)]
    quick: bool,
    /// The `probe` binary whose `replay` is measured
    #[arg(long, value_name = "PATH", default_value = "probe")]
    probe: PathBuf,
    /// Where to write the generated capture
    #[arg(long, value_name = "DIR", default_value = "/tmp")]
    work_dir: PathBuf,
    /// Run only these sections (kernel, e2e, collect, replay); all by default
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Only write the replay benchmark's capture (N packets) to this file, and exit
    #[arg(long, value_name = "FILE")]
    write_capture: Option<PathBuf>,
    /// Packets in the capture --write-capture writes
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    packets: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(path) = &args.write_capture {
        return match replay::write_capture(path, args.packets) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("probe-bench: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!(
            "probe-bench: must run as root (it loads XDP programs and creates network namespaces)"
        );
        return ExitCode::FAILURE;
    }
    let handler: extern "C" fn(libc::c_int) = on_signal;
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe { libc::signal(signal, handler as libc::sighandler_t) };
    }
    let plan = Plan::new(args.quick);
    let wanted = |s: &str| args.only.is_empty() || args.only.iter().any(|o| o == s);
    let mut failed = false;
    let mut section = |name: &str, f: &dyn Fn() -> anyhow::Result<Vec<report::Row>>| {
        if !wanted(name) || STOP.load(Ordering::Relaxed) {
            return;
        }
        // The lab panics when it cannot be built (as a test fails); that fails the section
        // like an error, and its guards have cleaned up by the time the panic is caught.
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
            .unwrap_or_else(|panic| Err(anyhow::anyhow!("panicked: {}", panic_message(&*panic))));
        match outcome {
            Ok(rows) => rows.iter().for_each(report::Row::emit),
            Err(e) => {
                eprintln!("probe-bench: {name} benchmark failed: {e:#}");
                report::Row::unavailable(
                    "error",
                    format!("{name} benchmark"),
                    format!("failed: {e:#}"),
                )
                .emit();
                failed = true;
            }
        }
    };
    section("kernel", &|| kernel::run(&plan));
    section("e2e", &|| e2e::run(&plan));
    section("collect", &|| collect::run(&plan));
    section("replay", &|| {
        replay::run(&plan, &args.probe, &args.work_dir)
    });
    if failed || STOP.load(Ordering::Relaxed) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
