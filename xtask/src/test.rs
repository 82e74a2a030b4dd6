//! `cargo xtask test`: setup, the host tests, then the daemon build and the privileged
//! network-namespace integration tests (package probe-integration). Stops at the first failure.
use anyhow::{Context as _, Result};

use crate::{cargo, command_line, run_checked, setup, target_dir};

pub const LONG_ABOUT: &str = "\
Set up (all steps), then run in order, stopping at the first failure:
  1. lints:        cargo fmt --all --check, then cargo clippy --workspace --exclude probe-ebpf \
                     --exclude probe-bench-ebpf --all-targets -- -D warnings
  2. host tests:   cargo test --workspace --exclude probe-integration --exclude probe-ebpf \
                     --exclude probe-bench-ebpf
  3. daemon build: cargo build -p probe-user
  4. privileged integration tests (network namespaces, veth pairs, the real daemon):
                   PROBE_BIN=<target>/debug/probe cargo test -p probe-integration

The integration tests need root; without it they fail with a message, unless \
PROBE_SKIP_PRIVILEGED=1 is set (then they skip themselves). probe-ebpf and probe-bench-ebpf are \
excluded from the host tests because they only build for bpfel-unknown-none; the build scripts of \
probe-user and probe-bench build them.

Arguments after `--` go to the test binaries of each `cargo test`, e.g.
  cargo xtask test -- --nocapture
  cargo xtask test --host-only -- parser";

#[derive(clap::Args)]
pub struct Args {
    /// Run only the host tests (needs neither root nor the test packages)
    #[arg(long)]
    pub host_only: bool,
    /// Arguments for the test binaries, after `--` (e.g. `-- --nocapture`)
    #[arg(last = true, value_name = "TEST ARGS")]
    pub test_args: Vec<String>,
}

pub fn run(args: &Args) -> Result<()> {
    // The host tests build probe-user and so the XDP program: they need the toolchain only.
    setup::run(if args.host_only {
        setup::Scope::Toolchain
    } else {
        setup::Scope::All
    })?;
    let phases = if args.host_only { 2 } else { 4 };

    // Lints first: they are the cheapest failure, and CI holds them like any test.
    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--check"]);
    let mut clippy = cargo();
    clippy.args([
        "clippy",
        "--workspace",
        "--exclude",
        "probe-ebpf",
        "--exclude",
        "probe-bench-ebpf",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]);
    phase(1, phases, "lints (rustfmt)", &mut fmt)?;
    phase(1, phases, "lints (clippy, warnings denied)", &mut clippy)?;

    let mut host = cargo();
    host.args([
        "test",
        "--workspace",
        "--exclude",
        "probe-integration",
        "--exclude",
        "probe-ebpf",
        "--exclude",
        "probe-bench-ebpf",
    ]);
    with_test_args(&mut host, &args.test_args);
    phase(2, phases, "host tests", &mut host)?;
    if args.host_only {
        println!("test: host tests passed (--host-only: privileged tests not run)");
        return Ok(());
    }

    let mut build = cargo();
    build.args(["build", "-p", "probe-user"]);
    phase(3, phases, "daemon build", &mut build)?;

    let mut privileged = cargo();
    privileged
        .env("PROBE_BIN", target_dir().join("debug").join("probe"))
        .args(["test", "-p", "probe-integration"]);
    with_test_args(&mut privileged, &args.test_args);
    phase(4, phases, "privileged integration tests", &mut privileged)?;

    println!("test: all {phases} phases passed");
    Ok(())
}

fn with_test_args(cmd: &mut std::process::Command, test_args: &[String]) {
    if !test_args.is_empty() {
        cmd.arg("--").args(test_args);
    }
}

fn phase(n: u32, of: u32, name: &str, cmd: &mut std::process::Command) -> Result<()> {
    let line = command_line(cmd);
    println!("\n==== test [{n}/{of}] {name}: {line}");
    run_checked(cmd).with_context(|| {
        if n < of {
            format!("test phase {n}/{of} ({name}) failed; later phases were not run")
        } else {
            format!("test phase {n}/{of} ({name}) failed")
        }
    })
}
