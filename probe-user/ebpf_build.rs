//! Builds an eBPF crate's binaries for bpfel-unknown-none with the pinned nightly, into the
//! calling build script's OUT_DIR. Shared by the build scripts of probe-user (the probe) and
//! probe-bench (the yardsticks) through `#[path]`, so both objects are built alike.
//! `cargo xtask setup` installs that toolchain and bpf-linker.
use std::path::Path;

use anyhow::{Context as _, anyhow};
use aya_build::{Package, Toolchain};

/// The nightly the eBPF side is built with; keep in step with xtask's setup.
const EBPF_TOOLCHAIN: &str = "nightly-2026-05-20";

/// Builds the workspace crate `name` (a sibling of the calling crate's directory).
pub fn build(manifest_dir: &str, name: &str) -> anyhow::Result<()> {
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
