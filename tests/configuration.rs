//! The settings file (`--config`, /etc/probe/probe.toml): a daemon started from it, its keys
//! overridden by flags, a mistake refused with the file, the line and the key, and
//! `probe config check` / `probe config show` on the same files.

use std::{fs, process::Command};

use probe_integration::{Daemon, Lab, SENSOR_V4, Scratch, probe_bin, require_root};

fn probe(args: &[&str]) -> std::process::Output {
    Command::new(probe_bin())
        .args(args)
        .output()
        .expect("running probe")
}

#[test]
fn a_bad_settings_file_is_refused_with_its_line_and_key_before_anything_starts() {
    let files = Scratch::new();
    let bad = files.path("probe.toml");
    fs::write(
        &bad,
        "iface = \"eth0\"\ninterval = \"1s\"\nifcae = \"eth1\"\n",
    )
    .expect("writing");
    let bad = bad.to_str().expect("UTF-8");
    for argv in [vec!["run", "--config", bad], vec!["config", "check", bad]] {
        let out = probe(&argv);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{argv:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with(&format!(
                "probe: {bad}:3: unknown key `ifcae`: the keys are "
            )),
            "{stderr}"
        );
    }
    let good = files.path("good.toml");
    fs::write(&good, "iface = \"eth0\"\nmax_sources = 4096\n").expect("writing");
    let good = good.to_str().expect("UTF-8");
    let out = probe(&["config", "check", good]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{good}: 2 keys, every one valid\n")
    );
    let shown = probe(&["config", "show", "--config", good]);
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(
        text.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()
                == ["max_sources", "=", "4096", "#", "from", "the", "file"]),
        "{text}"
    );
}

#[test]
fn a_daemon_takes_its_settings_from_the_file_and_flags_override_them() {
    require_root!();
    let lab = Lab::new();
    let files = Scratch::new();
    let settings = files.path("probe.toml");
    // An interface the command line overrides, and settings it does not touch.
    fs::write(
        &settings,
        "iface = \"not-here0\"\nno_metrics = true\nevent_rate = 1\nevent_burst = 1\n",
    )
    .expect("writing the settings");
    let settings = settings.to_str().expect("UTF-8");
    let mut probe = Daemon::start_with(&lab, &["--config", settings]);
    probe.wait_for_log(
        &format!("settings from {settings} (3 keys; flags given override them)"),
        std::time::Duration::from_secs(5),
    );
    let log = probe.log();
    assert!(!log.contains("serving Prometheus metrics"), "{log}");
    // event_rate 1, burst 1 from the file: of five new ports a millisecond apart (from one
    // CPU, whose bucket they share), the first is reported and four are held back.
    lab.attacker(&[
        "taskset", "-c", "0", "hping3", "-S", "-p", "++1001", "-c", "5", "-i", "u1000", SENSOR_V4,
    ]);
    probe.settled_stats();
    let stats = probe.query(&["stats"]);
    assert_eq!(
        (
            stats["events"].as_u64(),
            stats["events_rate_limited"].as_u64()
        ),
        (Some(1), Some(4)),
        "{stats}"
    );
    probe.finish();
}
