//! The daemon as a library: `probe_user::daemon::run` started in-process on the lab's sensor
//! interface, fed a real SYN, and stopped through its control channel rather than a signal. It
//! detaches, removes its socket and pins, and has written the finding before `run` returns.

use std::{
    fs::File,
    os::fd::AsRawFd as _,
    thread,
    time::{Duration, Instant},
};

use probe_integration::{
    ATTACKER_V4, Lab, SENSOR_V4, Scratch, expect, latest, parse_lines, probe_bin, require_root,
};
use probe_user::daemon;

#[test]
fn the_daemon_runs_in_process_and_stops_through_its_control_channel() {
    require_root!();
    let lab = Lab::new();
    let files = Scratch::new();
    let socket = files.path("probe.sock");
    let findings = files.path("findings.jsonl");
    let config = daemon::Config {
        interval: Duration::from_millis(200),
        socket: socket.clone(),
        findings: Some(findings.clone()),
        // The host's own history is no place for a test's findings.
        history: None,
        ..daemon::Config::new(lab.sensor_if())
    };
    let netns = format!("/run/netns/{}", lab.sensor_ns());
    let (control, controlled) = tokio::sync::mpsc::channel(1);
    // The daemon's own thread: it enters the sensor's network namespace (a thread's own
    // setting) and drops that thread's capabilities, leaving the test's thread as it was.
    let running = thread::spawn(move || {
        let ns = File::open(&netns).unwrap_or_else(|e| panic!("opening {netns}: {e}"));
        // SAFETY: a valid namespace descriptor; setns changes only this thread.
        let entered = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(entered, 0, "entering {netns}");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(daemon::run(config, controlled))
    });

    let deadline = Instant::now() + Duration::from_secs(15);
    while !(socket.exists()
        && std::process::Command::new(probe_bin())
            .args(["query", "stats", "--socket"])
            .arg(&socket)
            .output()
            .is_ok_and(|o| o.status.success()))
    {
        assert!(
            !running.is_finished(),
            "the daemon ended while starting: {:?}",
            running.join()
        );
        assert!(
            Instant::now() < deadline,
            "the daemon did not start serving"
        );
        thread::sleep(Duration::from_millis(100));
    }
    assert!(lab.xdp_program().is_some(), "attached while running");
    assert!(lab.pins().join("link").exists(), "pinned while running");

    lab.attacker(&["hping3", "-S", "-p", "31337", "-c", "1", SENSOR_V4]);
    // Two intervals, so the event is surely read before the stop.
    thread::sleep(Duration::from_millis(500));
    control
        .blocking_send(daemon::Control::Stop("stopped by the test".to_owned()))
        .expect("the daemon is still listening");
    let result = running.join().expect("the daemon's thread did not panic");
    assert!(result.is_ok(), "daemon::run returned {result:?}");

    assert!(
        lab.xdp_detached_within(Duration::from_secs(2)),
        "detached once run returned"
    );
    assert!(!socket.exists(), "the socket is removed");
    assert!(!lab.pin_dir().exists(), "the pins are removed");
    let text = std::fs::read_to_string(&findings).expect("the findings file");
    let found = latest(parse_lines(&text));
    assert_eq!(found.len(), 1, "{text}");
    expect(&found[0])
        .kind("trojan_probe")
        .src(ATTACKER_V4)
        .dst(SENSOR_V4)
        .port(Some(31337))
        .count(1);
}
