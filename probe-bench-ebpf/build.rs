//! Rebuild the eBPF object when bpf-linker changes (aya-build watches the sources).
fn main() {
    if let Ok(linker) = which::which("bpf-linker") {
        println!("cargo:rerun-if-changed={}", linker.display());
    }
}
