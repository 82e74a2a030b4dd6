//! Builds the yardstick XDP programs (probe-bench-ebpf) as probe-user builds the probe, so the
//! benchmark can embed their object; the probe's own object comes with probe-user's loader.
#[path = "../probe-user/ebpf_build.rs"]
mod ebpf_build;

fn main() -> anyhow::Result<()> {
    ebpf_build::build(env!("CARGO_MANIFEST_DIR"), "probe-bench-ebpf")
}
