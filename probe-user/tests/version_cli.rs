//! `probe --version` as a user runs it: the version, then what the running kernel offers.

use std::process::Command;

use probe_user::kernel::{self, Found};

fn probe(flag: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_probe"))
        .arg(flag)
        .output()
        .expect("run probe");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn long_version_names_the_kernel_features_found_here() {
    let version = env!("CARGO_PKG_VERSION");
    // Whatever this machine has, the binary says what the library finds here, as it words it.
    assert_eq!(
        probe("--version"),
        format!("probe {version}\n{}\n", kernel::describe(&Found::here()))
    );
}

#[test]
fn short_version_is_the_version_alone() {
    assert_eq!(
        probe("-V"),
        format!("probe {}\n", env!("CARGO_PKG_VERSION"))
    );
}
