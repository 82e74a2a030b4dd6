//! `cargo xtask build`: the eBPF toolchain, then the daemon. probe-user's build.rs builds the XDP
//! program with the pinned nightly (through aya-build) and embeds it in the `probe` binary.
use anyhow::Result;

use crate::{cargo, run_or, setup, target_dir};

pub const LONG_ABOUT: &str = "\
Set up the eBPF toolchain (the pinned nightly with rust-src, bpf-linker), then build the daemon \
with `cargo build -p probe-user [--release]`. probe-user's build script builds the XDP program \
for bpfel-unknown-none with the pinned nightly and embeds it in the `probe` binary, which ends \
up in <target>/debug/probe or <target>/release/probe.

The host build runs with the environment as given: never export eBPF RUSTFLAGS in a shell that \
builds host code.";

#[derive(clap::Args)]
pub struct Args {
    /// Build with the release profile (optimised; what build-and-run uses)
    #[arg(long)]
    pub release: bool,
}

pub fn run(args: &Args) -> Result<()> {
    setup::run(setup::Scope::Toolchain)?;
    daemon(args.release)
}

/// Builds probe-user (and with it the XDP program) in the debug or release profile.
pub fn daemon(release: bool) -> Result<()> {
    packages(&["probe-user"], release)?;
    let profile = if release { "release" } else { "debug" };
    println!(
        "build: daemon at {}",
        target_dir().join(profile).join("probe").display()
    );
    Ok(())
}

/// Builds `names` (`cargo build -p NAME...`) in the debug or release profile.
pub fn packages(names: &[&str], release: bool) -> Result<()> {
    let mut cmd = cargo();
    cmd.arg("build");
    for name in names {
        cmd.args(["-p", name]);
    }
    if release {
        cmd.arg("--release");
    }
    println!("build: {}", crate::command_line(&cmd));
    run_or(
        &mut cmd,
        "the build failed; if an XDP program failed to build, run `cargo xtask setup`",
    )
}
