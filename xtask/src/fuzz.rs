//! `cargo xtask fuzz`: installs cargo-fuzz if missing, then runs each libFuzzer target of the
//! fuzz/ crate for a fixed time with the pinned nightly, one summary line per target.
use std::{
    env,
    fs::{self, File},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Instant,
};

use anyhow::{Context as _, Result, bail};

use crate::{cargo, command_line, output_if_installed, run_or, setup, workspace_root};

pub const LONG_ABOUT: &str = "\
Fuzz everything the probe reads from outside, with cargo-fuzz (libFuzzer, AddressSanitizer):
  parse_frame     the packet parser, IPv4 options walk, payload prefix, contact key, event
  capture_reader  pcap/pcapng files as `probe replay` reads them
  query_request   the query socket: framing and request decoding
  knowledge_file  --knowledge files and services files

Sets up the eBPF toolchain first (the fuzz crate links probe-user, whose build script builds the \
XDP program), installs cargo-fuzz if missing, builds every target with the pinned nightly, then \
runs each for --seconds (default 10). Each run starts from the seed corpus in fuzz/corpus/<target> \
(written by fuzz/make_corpus.py), the inputs that once crashed it (fuzz/regressions/<target>, if \
any) and what earlier runs found (fuzz/target/corpus/<target>, not committed); libFuzzer's output \
goes to fuzz/target/logs/<target>.log.

Exits non-zero if any target crashed, naming the crashing input in fuzz/artifacts/<target>/. \
Reproduce one with: cd fuzz && cargo +nightly-2026-05-20 fuzz run <target> <input>";

/// The fuzz targets, in the order they run; each is a `[[bin]]` of fuzz/Cargo.toml.
const TARGETS: [&str; 4] = [
    "parse_frame",
    "capture_reader",
    "query_request",
    "knowledge_file",
];

/// Builds with rustc 1.95 stable (checked), so it installs with the cargo that runs xtask.
const CARGO_FUZZ_VERSION: &str = "0.13.2";

/// Longest one input may take before libFuzzer reports a hang as a failure: every target handles
/// an input in well under a millisecond, so this only catches loops that never end.
const INPUT_TIMEOUT_SECONDS: u32 = 10;

#[derive(clap::Args)]
pub struct Args {
    /// Seconds to fuzz each target
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub seconds: u32,
    /// Fuzz only this target
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(TARGETS))]
    pub target: Option<String>,
}

pub fn run(args: &Args) -> Result<()> {
    setup::run(setup::Scope::Toolchain)?;
    cargo_fuzz()?;
    let targets: Vec<&str> = match &args.target {
        Some(target) => vec![target.as_str()],
        None => TARGETS.to_vec(),
    };
    let fuzz_dir = workspace_root().join("fuzz");
    build(&fuzz_dir, args.target.as_deref())?;

    let mut crashed = Vec::new();
    for target in &targets {
        let outcome = fuzz(&fuzz_dir, target, args.seconds)?;
        let verdict = if outcome.failed() {
            crashed.push(*target);
            match outcome.artifacts.as_slice() {
                [] => format!("FAILED ({}) without a saved input", outcome.status),
                artifacts => format!("CRASHED: {}", artifacts.join(", ")),
            }
        } else {
            "0 crashes".to_owned()
        };
        println!(
            "fuzz: {target}: {} runs in {:.0} s, {verdict}",
            outcome
                .runs
                .map_or_else(|| "?".to_owned(), |n| n.to_string()),
            outcome.seconds
        );
        if outcome.failed() {
            print_cause(&outcome.log);
            for artifact in &outcome.artifacts {
                eprintln!(
                    "fuzz:   reproduce: cd {} && cargo +{} fuzz run {target} {artifact}",
                    fuzz_dir.display(),
                    setup::EBPF_TOOLCHAIN
                );
            }
        }
    }
    if !crashed.is_empty() {
        bail!(
            "{} of {} fuzz targets crashed: {}; the crashing inputs are named above, the logs \
             are in {}",
            crashed.len(),
            targets.len(),
            crashed.join(", "),
            fuzz_dir.join("target/logs").display()
        );
    }
    println!(
        "fuzz: all {} targets ran {} s each without a crash",
        targets.len(),
        args.seconds
    );
    Ok(())
}

/// `cargo +<pinned nightly> ...` through rustup's proxy, in fuzz/. cargo-fuzz needs a nightly
/// (sanitizer flags) and starts `cargo` from PATH itself, so the proxy must pick the toolchain;
/// a `RUSTC` inherited from elsewhere would override it.
fn nightly_cargo(fuzz_dir: &Path) -> Command {
    let mut cmd = Command::new("cargo");
    cmd.arg(format!("+{}", setup::EBPF_TOOLCHAIN))
        .current_dir(fuzz_dir)
        .env_remove("RUSTC");
    // Honour a chosen target directory, but keep the sanitizer builds apart from the host ones.
    if env::var_os("CARGO_TARGET_DIR").is_some_and(|dir| !dir.is_empty()) {
        cmd.env("CARGO_TARGET_DIR", crate::target_dir().join("fuzz"));
    }
    cmd
}

/// The version `cargo fuzz --version` reports ("cargo-fuzz 0.13.2"), `None` if not installed.
fn cargo_fuzz_version() -> Result<Option<String>> {
    let Some(output) = output_if_installed(Command::new("cargo-fuzz").arg("--version"))? else {
        return Ok(None);
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    Ok(Some(
        stdout
            .split_whitespace()
            .nth(1)
            .unwrap_or("of unknown version")
            .to_owned(),
    ))
}

fn cargo_fuzz() -> Result<()> {
    let what = format!("cargo-fuzz {CARGO_FUZZ_VERSION}");
    match cargo_fuzz_version()? {
        Some(version) if version == CARGO_FUZZ_VERSION => {
            println!("fuzz: {what} ... present");
            return Ok(());
        }
        Some(other) => println!("fuzz: {what} ... installing (found {other})"),
        None => println!("fuzz: {what} ... installing"),
    }
    let mut install = cargo();
    install.args([
        "install",
        &format!("cargo-fuzz@{CARGO_FUZZ_VERSION}"),
        "--locked",
    ]);
    println!("fuzz:   $ {}", command_line(&install));
    run_or(
        &mut install,
        "installing cargo-fuzz failed; check network access to crates.io",
    )?;
    match cargo_fuzz_version()? {
        Some(version) if version == CARGO_FUZZ_VERSION => Ok(()),
        found => bail!(
            "cargo-fuzz {CARGO_FUZZ_VERSION} was installed into cargo's bin directory \
             ($CARGO_HOME/bin, usually ~/.cargo/bin), but the `cargo-fuzz` on PATH is {}; put \
             that directory first in PATH",
            found.map_or_else(|| "missing".to_owned(), |v| format!("version {v}"))
        ),
    }
}

/// Builds the targets up front, with cargo's output shown: the first build takes minutes (the
/// sanitizer build of probe-user, and the XDP program its build script makes).
fn build(fuzz_dir: &Path, target: Option<&str>) -> Result<()> {
    let mut cmd = nightly_cargo(fuzz_dir);
    cmd.args(["fuzz", "build"]).args(target);
    println!("fuzz: building: {}", command_line(&cmd));
    run_or(
        &mut cmd,
        "building the fuzz targets failed; see cargo's output above",
    )
}

/// What one target's run came to.
struct Outcome {
    status: std::process::ExitStatus,
    runs: Option<u64>,
    /// Inputs libFuzzer saved because they crashed, hung or ran out of memory.
    artifacts: Vec<String>,
    seconds: f64,
    log: PathBuf,
}

impl Outcome {
    fn failed(&self) -> bool {
        !self.status.success() || !self.artifacts.is_empty()
    }
}

fn fuzz(fuzz_dir: &Path, target: &str, seconds: u32) -> Result<Outcome> {
    // New inputs go to the first corpus directory: keep them out of the committed seeds.
    let found = fuzz_dir.join("target/corpus").join(target);
    let seeds = fuzz_dir.join("corpus").join(target);
    let logs = fuzz_dir.join("target/logs");
    for dir in [&found, &logs] {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let log = logs.join(format!("{target}.log"));
    let out = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    let err = out
        .try_clone()
        .with_context(|| format!("opening {} twice", log.display()))?;

    let mut cmd = nightly_cargo(fuzz_dir);
    cmd.args(["fuzz", "run", target]).arg(&found).arg(&seeds);
    // Inputs that once crashed a target run first, every time, until the bug is fixed.
    let regressions = fuzz_dir.join("regressions").join(target);
    if regressions.is_dir() {
        cmd.arg(&regressions);
    }
    cmd.arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg(format!("-timeout={INPUT_TIMEOUT_SECONDS}"))
        .arg("-print_final_stats=1");
    println!(
        "fuzz: {target} for {seconds} s: {} (log: {})",
        command_line(&cmd),
        log.display()
    );
    let start = Instant::now();
    let status = cmd
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .status()
        .with_context(|| format!("could not start `{}`", command_line(&cmd)))?;
    let seconds = start.elapsed().as_secs_f64();
    let text = fs::read_to_string(&log).with_context(|| format!("reading {}", log.display()))?;
    Ok(Outcome {
        status,
        runs: runs(&text),
        artifacts: artifacts(&text),
        seconds,
        log,
    })
}

/// How many inputs libFuzzer ran: its final statistics when it finished, else the count of its
/// last status line (`#12345\tpulse ...`) before it stopped.
fn runs(log: &str) -> Option<u64> {
    let mut runs = None;
    for line in log.lines() {
        let count = if let Some(rest) = line.strip_prefix("stat::number_of_executed_units:") {
            rest.trim().parse().ok()
        } else if let Some(rest) = line.strip_prefix("Done ") {
            rest.split_whitespace().next().and_then(|n| n.parse().ok())
        } else if let Some(rest) = line.strip_prefix('#') {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        } else {
            None
        };
        if count.is_some() {
            runs = runs.max(count);
        }
    }
    runs
}

/// The inputs libFuzzer saved: "Test unit written to fuzz/artifacts/T/crash-...".
fn artifacts(log: &str) -> Vec<String> {
    const WRITTEN: &str = "Test unit written to ";
    log.lines()
        .filter_map(|line| {
            line.split_once(WRITTEN)
                .map(|(_, path)| path.trim().to_owned())
        })
        .collect()
}

/// What went wrong, picked out of a failed run's log: the panic and its message, or the
/// sanitizer's or libFuzzer's error and summary lines. The whole story stays in the log.
fn cause(log: &str) -> Vec<&str> {
    let lines: Vec<&str> = log.lines().collect();
    let mut picked = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.contains(" panicked at ") {
            // The message is on the next line.
            picked.extend(&lines[i..lines.len().min(i + 2)]);
        } else if line.contains("ERROR: ") || line.starts_with("SUMMARY: ") {
            picked.push(*line);
        }
    }
    picked
}

fn print_cause(log: &Path) {
    match fs::read_to_string(log) {
        Ok(text) => {
            for line in cause(&text) {
                eprintln!("fuzz:   | {line}");
            }
            eprintln!("fuzz:   full output: {}", log.display());
        }
        Err(err) => eprintln!("fuzz: could not read {}: {err}", log.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_come_from_the_final_stats_or_the_last_status_line() {
        let done = "#2\tINITED cov: 10\n#524288\tpulse cov: 300\nDone 600123 runs in 11 \
                    second(s)\nstat::number_of_executed_units: 600123\n";
        assert_eq!(runs(done), Some(600_123));
        let crashed = "#1024\tNEW cov: 12\n#2048\tpulse\nthread '<unnamed>' panicked\n";
        assert_eq!(runs(crashed), Some(2048));
        assert_eq!(runs("error: could not compile\n"), None);
    }

    #[test]
    fn artifacts_are_the_written_test_units() {
        let log = "==1== ERROR: libFuzzer: deadly signal\nMS: 1 ChangeBit-; base unit: 00\n\
                   artifact_prefix='/w/fuzz/artifacts/parse_frame/'; Test unit written to \
                   /w/fuzz/artifacts/parse_frame/crash-abc\nBase64: AAAA\n";
        assert_eq!(artifacts(log), ["/w/fuzz/artifacts/parse_frame/crash-abc"]);
        assert!(artifacts("Done 5 runs in 1 second(s)\n").is_empty());
    }

    #[test]
    fn the_cause_is_the_panic_and_the_error_lines() {
        let log = "#2\tINITED\nthread '<unnamed>' (7) panicked at fuzz_targets/x.rs:3:5:\n\
                   offsets run past the frame\nstack backtrace:\n   0: foo\n\
                   ==7== ERROR: libFuzzer: deadly signal\n    #0 0x1 in bar\n\
                   SUMMARY: libFuzzer: deadly signal\n";
        assert_eq!(
            cause(log),
            [
                "thread '<unnamed>' (7) panicked at fuzz_targets/x.rs:3:5:",
                "offsets run past the frame",
                "==7== ERROR: libFuzzer: deadly signal",
                "SUMMARY: libFuzzer: deadly signal",
            ]
        );
    }
}
