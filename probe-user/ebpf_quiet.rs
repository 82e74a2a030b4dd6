//! Which lines of the nested eBPF build's output reach cargo. The build passes
//! `-Ctarget-feature=+allows-misaligned-mem-access` on purpose (ebpf_build.rs says why), and
//! rustc answers with the same five-line warning for the crates it compiles (three of them per
//! eBPF build, which cargo replays even when it rebuilds nothing), each line forwarded by
//! aya-build as a `cargo:warning=` line: 15 lines in every build of probe-user and of
//! probe-bench that touches the eBPF side. Those are dropped here; every other line, warnings
//! included, passes. Used by ebpf_build.rs and tested by tests/ebpf_quiet.rs, both through
//! `#[path]`.

/// The first line of rustc's warning about the flag, as aya-build forwards it.
const FLAG_WARNING: &str = "cargo:warning=warning: unstable feature specified for \
                            `-Ctarget-feature`: `allows-misaligned-mem-access`";

/// The lines of that warning after its first: `  |`, `  = note: ...` and two blank lines.
const FOLLOWING: u8 = 4;

/// Reads the build script's output one line at a time.
#[derive(Debug, Default)]
pub struct Quiet {
    /// Lines of the current warning still to drop.
    following: u8,
    /// How many of the warnings were dropped.
    pub dropped: usize,
}

impl Quiet {
    /// Whether `line` is to reach cargo.
    pub fn keep(&mut self, line: &str) -> bool {
        if line == FLAG_WARNING {
            self.following = FOLLOWING;
            self.dropped += 1;
            return false;
        }
        if self.following > 0
            && let Some(text) = line.strip_prefix("cargo:warning=")
        {
            let text = text.trim_start();
            if text.is_empty() || text.starts_with('|') || text.starts_with("= ") {
                self.following -= 1;
                return false;
            }
            // Another diagnostic ends the warning. Anything else is cargo's progress on its
            // standard error, which aya-build forwards from a thread of its own, so it can
            // fall between the warning's lines.
            if text.starts_with("warning") || text.starts_with("error") {
                self.following = 0;
            }
        }
        true
    }
}
