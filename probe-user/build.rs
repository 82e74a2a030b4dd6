//! Builds the XDP program (probe-ebpf) for bpfel-unknown-none with the pinned nightly, so the
//! daemon can embed the object. `cargo xtask setup` installs that toolchain and bpf-linker.
use anyhow::{Context as _, anyhow};
use aya_build::{Package, Toolchain};

/// The nightly the eBPF side is built with; keep in step with xtask's setup.
const EBPF_TOOLCHAIN: &str = "nightly-2026-05-20";

fn main() -> anyhow::Result<()> {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest
        .parent()
        .ok_or_else(|| anyhow!("probe-user has no parent directory"))?
        .join("probe-ebpf");
    let root_dir = root.to_str().context("the probe-ebpf path is not UTF-8")?;
    aya_build::build_ebpf(
        [Package {
            name: "probe-ebpf",
            root_dir,
            ..Package::default()
        }],
        Toolchain::Custom(EBPF_TOOLCHAIN),
    )
    .context("building the XDP program failed; run `cargo xtask setup` to install the eBPF toolchain and bpf-linker")
}
