//! The lab itself: an idle lab delivers nothing to the sensor (so exact counts are possible),
//! its namespaces disappear when it is dropped, also when the test using it panics, so do the
//! pins a killed daemon left, and a background process dies with its guard even if it ignores
//! SIGTERM.

use std::{
    panic, thread,
    time::{Duration, Instant},
};

use probe_integration::{Daemon, Lab, SENSOR_V4, SensorCapture, namespace_exists, require_root};

#[test]
fn an_idle_lab_delivers_nothing_to_the_sensor() {
    require_root!();
    let lab = Lab::new();
    let capture = SensorCapture::start(&lab);
    // Longer than the kernel's unsolicited MLD report interval (1 s) and its retransmission.
    thread::sleep(Duration::from_secs(3));
    // A positive control: the capture must see this one frame, proving it was listening.
    lab.attacker(&["ping", "-c", "1", "-W", "1", SENSOR_V4]);
    let frames = capture.stop();
    assert_eq!(
        frames.len(),
        1,
        "only the control ping may reach the sensor, got:\n{frames:#?}"
    );
    assert!(
        frames[0].contains("ICMP echo request"),
        "the one frame should be the control ping: {}",
        frames[0]
    );
}

#[test]
fn dropping_a_lab_removes_its_namespaces() {
    require_root!();
    let lab = Lab::new();
    let names = [lab.attacker_ns().to_owned(), lab.sensor_ns().to_owned()];
    for name in &names {
        assert!(
            namespace_exists(name),
            "{name} should exist while the lab lives"
        );
    }
    drop(lab);
    for name in &names {
        assert!(
            !namespace_exists(name),
            "{name} should be gone once the lab is dropped"
        );
    }
}

#[test]
fn dropping_a_lab_removes_the_pins_a_killed_daemon_left() {
    require_root!();
    let lab = Lab::new();
    let pins = lab.pin_dir();
    let link = lab.pins().join("link");
    let mut probe = Daemon::start(&lab);
    assert!(
        probe.stop_with(libc::SIGKILL).is_some(),
        "the daemon was running"
    );
    assert!(
        link.exists(),
        "a killed daemon leaves its pins in {}",
        pins.display()
    );
    drop(probe);
    drop(lab);
    assert!(
        !pins.exists(),
        "{} should be gone once the lab is dropped",
        pins.display()
    );
}

#[test]
fn a_panicking_test_still_removes_its_lab() {
    require_root!();
    let mut names = Vec::new();
    let result = panic::catch_unwind(panic::AssertUnwindSafe(|| {
        let lab = Lab::new();
        names.push(lab.attacker_ns().to_owned());
        names.push(lab.sensor_ns().to_owned());
        panic!("deliberate failure inside a lab");
    }));
    assert!(result.is_err(), "the closure was meant to panic");
    assert_eq!(names.len(), 2);
    for name in &names {
        assert!(
            !namespace_exists(name),
            "{name} should be gone after the panic unwound"
        );
    }
}

#[test]
fn a_background_process_that_ignores_sigterm_still_dies_with_its_guard() {
    require_root!();
    let lab = Lab::new();
    let mut stubborn = lab.spawn_in_sensor(&["sh", "-c", "trap '' TERM; echo ready; sleep 30"]);
    assert_eq!(stubborn.read_line(), "ready");
    let group = libc::pid_t::try_from(stubborn.pid()).expect("a pid fits pid_t");
    drop(stubborn);
    assert_group_dies(group);
}

#[test]
fn a_command_its_timeout_left_behind_still_dies_with_its_guard() {
    require_root!();
    let lab = Lab::new();
    let mut orphan = lab.spawn_in_sensor(&["sh", "-c", "echo ready; sleep 30"]);
    assert_eq!(orphan.read_line(), "ready");
    let group = libc::pid_t::try_from(orphan.pid()).expect("a pid fits pid_t");
    // `timeout` gone early (as once seen in CI) leaves its command running in the group.
    // SAFETY: kill has no memory preconditions; the pid is the guard's unreaped child.
    assert_eq!(unsafe { libc::kill(group, libc::SIGKILL) }, 0);
    drop(orphan);
    assert_group_dies(group);
}

/// Asserts that process group `group` has no live member, allowing SIGKILL up to 2 s to land.
fn assert_group_dies(group: libc::pid_t) {
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut survivors = live_members(group);
    while !survivors.is_empty() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
        survivors = live_members(group);
    }
    assert!(
        survivors.is_empty(),
        "the process group outlived its guard: {survivors:?}"
    );
}

/// `/proc/<pid>/stat` lines of the live processes in process group `group`. Killed ones may
/// linger as zombies (this machine's init reaps slowly); they hold no namespace, so they count
/// as gone.
fn live_members(group: libc::pid_t) -> Vec<String> {
    let mut live = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("reading /proc").flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // After the command name in parentheses: state, ppid, pgrp, ...
        let Some((_, rest)) = stat.rsplit_once(") ") else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.get(2) == Some(&group.to_string().as_str()) && fields.first() != Some(&"Z") {
            live.push(stat.trim().to_owned());
        }
    }
    live
}
