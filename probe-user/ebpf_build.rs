//! Builds an eBPF crate's binaries for bpfel-unknown-none with the pinned nightly, into the
//! calling build script's OUT_DIR. Shared by the build scripts of probe-user (the probe) and
//! probe-bench (the yardsticks) through `#[path]`, so both objects are built alike.
//! `cargo xtask setup` installs that toolchain and bpf-linker.
use std::{
    env,
    io::{BufRead as _, BufReader, Write as _},
    path::Path,
    process::{Command, Stdio},
};

use anyhow::{Context as _, anyhow, bail};
use aya_build::{Package, Toolchain};

#[path = "ebpf_quiet.rs"]
mod quiet;

/// The nightly the eBPF side is built with; keep in step with xtask's setup.
const EBPF_TOOLCHAIN: &str = "nightly-2026-05-20";

/// Set for the copy of the build script that runs the nested build.
const NESTED: &str = "PROBE_EBPF_BUILD_NESTED";

/// Builds the workspace crate `name` (a sibling of the calling crate's directory).
///
/// aya-build prints the nested build's output straight to cargo, so the build runs in a copy
/// of this build script whose output passes through [`quiet::Quiet`] first: that drops the
/// warning rustc repeats for every crate about the misaligned-access flag set below.
pub fn build(manifest_dir: &str, name: &str) -> anyhow::Result<()> {
    if env::var_os(NESTED).is_some() {
        return nested(manifest_dir, name);
    }
    let exe = env::current_exe().context("finding the build script's own path")?;
    let mut child = Command::new(&exe)
        .env(NESTED, "1")
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", exe.display()))?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow!("the nested build's output is not piped"))?;
    let mut quiet = quiet::Quiet::default();
    let mut reader = BufReader::new(stdout);
    let mut out = std::io::stdout().lock();
    let mut line = Vec::new();
    while reader.read_until(b'\n', &mut line)? > 0 {
        let text = String::from_utf8_lossy(&line);
        if quiet.keep(text.trim_end_matches(['\n', '\r'])) {
            out.write_all(&line)?;
        }
        line.clear();
    }
    out.flush()?;
    let status = child.wait()?;
    if !status.success() {
        // The copy's own error (on standard error, which cargo shows) says what went wrong.
        bail!("building {name} failed ({status})");
    }
    Ok(())
}

/// The build itself, in the copy of the build script.
fn nested(manifest_dir: &str, name: &str) -> anyhow::Result<()> {
    let root = Path::new(manifest_dir)
        .parent()
        .ok_or_else(|| anyhow!("{manifest_dir} has no parent directory"))?
        .join(name);
    let root_dir = root
        .to_str()
        .with_context(|| format!("the {name} path is not UTF-8"))?;
    // aya-build fixes the nested build's rustflags, so this flag rides in through the release
    // profile (a nightly cargo feature, enabled for that build alone): with misaligned access
    // allowed, a 16- or 32-bit header field is one load instead of one per byte. The verifier
    // accepts misaligned packet and map reads on hosts with efficient unaligned access
    // (x86-64, arm64): the machines an XDP probe runs on.
    // SAFETY: the build script is single-threaded; the variables are meant for the child cargo.
    unsafe {
        std::env::set_var("CARGO_UNSTABLE_PROFILE_RUSTFLAGS", "true");
        std::env::set_var(
            "CARGO_PROFILE_RELEASE_RUSTFLAGS",
            "-Ctarget-feature=+allows-misaligned-mem-access",
        );
        // Not for the nested build's host-side proc macros, which have no such feature.
        std::env::set_var("CARGO_PROFILE_RELEASE_BUILD_OVERRIDE_RUSTFLAGS", "");
    }
    aya_build::build_ebpf(
        [Package {
            name,
            root_dir,
            ..Package::default()
        }],
        Toolchain::Custom(EBPF_TOOLCHAIN),
    )
    .with_context(|| format!("building {name} failed; run `cargo xtask setup` to install the eBPF toolchain and bpf-linker"))
}
