//! Builds the XDP program (probe-ebpf), so the daemon can embed the object.
mod ebpf_build;

fn main() -> anyhow::Result<()> {
    ebpf_build::build(env!("CARGO_MANIFEST_DIR"), "probe-ebpf")
}
