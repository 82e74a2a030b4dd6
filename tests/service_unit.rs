//! The systemd units in deploy/systemd: `systemd-analyze verify` accepts them as they are
//! installed (with the binary's real path), and `systemd-analyze security` rates the daemon's
//! sandbox at the exposure docs/operations.md states.

use std::{fs, process::Command};

use probe_integration::{Scratch, probe_bin};

/// The units as `cargo xtask install` writes them, with this build's binary in ExecStart.
fn installed_units(files: &Scratch) -> Vec<std::path::PathBuf> {
    let deploy = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/systemd");
    let bin = probe_bin();
    ["probe.service", "probe@.service"]
        .iter()
        .map(|unit| {
            let text = fs::read_to_string(deploy.join(unit)).expect("reading the unit");
            let path = files.path(unit);
            fs::write(
                &path,
                text.replace("/usr/local/bin/probe", &bin.display().to_string()),
            )
            .expect("writing the unit");
            path
        })
        .collect()
}

fn analyze(args: &[&str]) -> std::process::Output {
    let out = Command::new("systemd-analyze").args(args).output();
    out.unwrap_or_else(|e| {
        panic!("systemd-analyze not found ({e}): `cargo xtask setup` installs systemd")
    })
}

#[test]
fn the_units_verify_and_their_sandbox_rates_as_documented() {
    let files = Scratch::new();
    let units = installed_units(&files);
    let service = units[0].to_str().expect("UTF-8");
    // A template verifies as one of its instances.
    let instance = files.path("probe@eth0.service");
    fs::copy(&units[1], &instance).expect("copying the template");
    let instance = instance.to_str().expect("UTF-8");
    let verify = analyze(&["verify", service, instance]);
    assert!(
        verify.status.success() && verify.stdout.is_empty() && verify.stderr.is_empty(),
        "systemd-analyze verify: {verify:?}"
    );
    let security = analyze(&["security", "--offline=true", service]);
    let text = String::from_utf8_lossy(&security.stdout);
    let overall = text
        .lines()
        .find_map(|l| l.split("Overall exposure level for probe.service: ").nth(1))
        .unwrap_or_else(|| panic!("no overall exposure level: {security:?}"));
    assert!(overall.starts_with("2.5 OK"), "{overall}");
}
