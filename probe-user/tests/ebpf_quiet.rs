//! The filter on the nested eBPF build's output (probe-user/ebpf_quiet.rs), on output as
//! aya-build forwards it: the misaligned-access flag's warnings go, everything else stays.

#[path = "../ebpf_quiet.rs"]
mod quiet;

use quiet::Quiet;

const FLAG: [&str; 5] = [
    "cargo:warning=warning: unstable feature specified for `-Ctarget-feature`: `allows-misaligned-mem-access`",
    "cargo:warning=  |",
    "cargo:warning=  = note: this feature is not stably supported; its behavior can change in the future",
    "cargo:warning=",
    "cargo:warning=",
];

fn kept(lines: &[&str]) -> (Vec<String>, usize) {
    let mut quiet = Quiet::default();
    let kept = lines
        .iter()
        .filter(|l| quiet.keep(l))
        .map(|l| (*l).to_owned())
        .collect();
    (kept, quiet.dropped)
}

#[test]
fn the_flag_warnings_go_and_the_rest_stays() {
    let mut lines = vec![
        "cargo:rerun-if-env-changed=AYA_BUILD_SKIP",
        "cargo:rerun-if-changed=/src/probe-ebpf",
        "cargo:warning=   Compiling core v0.0.0",
    ];
    lines.extend(FLAG);
    lines.push("cargo:warning=   Compiling probe-ebpf v0.1.0");
    lines.extend(FLAG);
    lines.extend([
        "cargo:warning=warning: unused variable: `x`",
        "cargo:warning=  --> src/main.rs:3:9",
        "cargo:warning=  |",
        "cargo:warning=",
        "cargo:warning=    Finished `release` profile [optimized] target(s) in 1.62s",
    ]);
    let (kept, dropped) = kept(&lines);
    assert_eq!(dropped, 2);
    assert_eq!(
        kept,
        [
            "cargo:rerun-if-env-changed=AYA_BUILD_SKIP",
            "cargo:rerun-if-changed=/src/probe-ebpf",
            "cargo:warning=   Compiling core v0.0.0",
            "cargo:warning=   Compiling probe-ebpf v0.1.0",
            "cargo:warning=warning: unused variable: `x`",
            "cargo:warning=  --> src/main.rs:3:9",
            "cargo:warning=  |",
            "cargo:warning=",
            "cargo:warning=    Finished `release` profile [optimized] target(s) in 1.62s",
        ]
    );
}

#[test]
fn progress_that_falls_inside_a_flag_warning_stays_and_the_warning_still_goes() {
    let lines = [
        FLAG[0],
        FLAG[1],
        FLAG[2],
        "cargo:warning=   Compiling probe-common v0.1.0",
        FLAG[3],
        FLAG[4],
        "cargo:warning=",
    ];
    let (kept, dropped) = kept(&lines);
    assert_eq!(dropped, 1);
    // The last blank line is not the warning's: its four following lines are gone already.
    assert_eq!(
        kept,
        [
            "cargo:warning=   Compiling probe-common v0.1.0",
            "cargo:warning="
        ]
    );
}

#[test]
fn a_warning_right_after_a_flag_warning_is_kept_whole() {
    let lines = [
        FLAG[0],
        FLAG[1],
        "cargo:warning=error: linking failed",
        "cargo:warning=  = note: bpf-linker exited with 1",
        "cargo:warning=",
    ];
    let (kept, _) = kept(&lines);
    assert_eq!(
        kept,
        [
            "cargo:warning=error: linking failed",
            "cargo:warning=  = note: bpf-linker exited with 1",
            "cargo:warning=",
        ]
    );
}
