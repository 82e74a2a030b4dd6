//! Crashes and restarts lose nothing: the daemon pins its link and maps under
//! `/sys/fs/bpf/probe/<netns inode>-<iface>/`, so after a SIGKILL the program stays attached and
//! keeps counting, and the next daemon takes over the same maps: counters continue, nothing is
//! counted twice, and one program stays attached. `--reset` starts from zero on purpose;
//! `probe detach` removes what a dead daemon left; a graceful stop leaves nothing behind.

use std::{
    os::unix::process::ExitStatusExt as _,
    process::Command,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    thread,
    time::{Duration, Instant},
};

use probe_integration::{
    ATTACKER_V4, Daemon, Lab, ROUTED_V4, RawSocket, Stats, bpf,
    craft::{self, Ipv4, proto},
    port_list, probe_bin, require_root,
};

/// Destination ports the restart traffic cycles through (one UDP datagram to each in turn).
const PORTS: u16 = 50;
const FIRST_PORT: u16 = 6000;
/// The paced sender stops by itself after this many frames (or [`SENDER_LIMIT`]).
const SENDER_MAX: u64 = 30_000;
const SENDER_LIMIT: Duration = Duration::from_secs(40);
/// How long a killed daemon's program must be seen counting on its own.
const ORPHAN_LIMIT: Duration = Duration::from_secs(5);

/// The `i`-th frame of the restart traffic: UDP to the next of [`PORTS`] ports.
fn frame(i: u64) -> Vec<u8> {
    let port = FIRST_PORT + (i % u64::from(PORTS)) as u16;
    let mut f = craft::ethernet(&[], craft::ETHER_IPV4);
    let ip = Ipv4::new(
        ATTACKER_V4.parse().expect("an address"),
        ROUTED_V4.parse().expect("an address"),
        proto::UDP,
    );
    f.extend_from_slice(&ip.packet(&craft::udp(40_000, port, b"restart")));
    f
}

/// The restart traffic's per-port counts after `sent` frames, as `port_list` shows them.
fn expected_ports(sent: u64) -> Vec<(&'static str, u16, u64)> {
    (0..PORTS)
        .map(|p| {
            let n = sent / u64::from(PORTS) + u64::from(u64::from(p) < sent % u64::from(PORTS));
            ("udp", FIRST_PORT + p, n)
        })
        .filter(|&(_, _, n)| n > 0)
        .collect()
}

/// What `sent` frames of the restart traffic add up to.
fn expected_stats(sent: u64) -> Stats {
    let len = frame(0).len() as u64;
    Stats {
        packets: sent,
        bytes: sent * len,
        ipv4: sent,
        udp: sent,
        ..Stats::default()
    }
}

/// A sender running in the background, one frame about every millisecond, until stopped (or
/// until [`SENDER_MAX`] frames or [`SENDER_LIMIT`]); it counts what it has sent.
struct Paced {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Paced {
    fn start(raw: RawSocket) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let thread = {
            let (stop, sent) = (Arc::clone(&stop), Arc::clone(&sent));
            thread::spawn(move || {
                let start = Instant::now();
                for i in 0..SENDER_MAX {
                    if stop.load(Ordering::Relaxed) || start.elapsed() > SENDER_LIMIT {
                        return;
                    }
                    raw.send(&frame(i));
                    sent.store(i + 1, Ordering::Relaxed);
                    thread::sleep(Duration::from_millis(1));
                }
            })
        };
        Self {
            stop,
            sent,
            thread: Some(thread),
        }
    }

    fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Waits until more than `n` frames are out.
    fn wait_past(&self, n: u64) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.sent() <= n {
            assert!(
                Instant::now() < deadline,
                "the sender is stuck at {}",
                self.sent()
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Stops the sender and returns how many frames it sent; asserts it was still running.
    fn stop(mut self) -> u64 {
        let running = self.thread.as_ref().is_some_and(|t| !t.is_finished());
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().expect("the sender does not panic");
        }
        assert!(
            running,
            "the sender ran out before it was stopped: the traffic did not span the test"
        );
        self.sent()
    }
}

impl Drop for Paced {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The program the pinned link runs.
fn pinned_link_program(lab: &Lab) -> u64 {
    bpf::link_program(&lab.pins().join("link"))
}

/// The packets total in the pinned maps, read without a daemon.
fn pinned_packets(lab: &Lab) -> u64 {
    bpf::pinned_packets(&lab.pins().join(probe_common::counters::MAP))
}

/// `probe detach --iface <sensor interface>` in the sensor's namespace; returns stdout.
fn detach(lab: &Lab) -> String {
    let out = Command::new("nsenter")
        .arg(format!("--net=/run/netns/{}", lab.sensor_ns()))
        .arg("--")
        .arg(probe_bin())
        .args(["detach", "--iface", lab.sensor_if()])
        .output()
        .expect("running probe detach");
    assert!(
        out.status.success(),
        "probe detach failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// SIGKILLs the daemon and asserts it died of it.
fn kill(probe: &mut Daemon) {
    let status = probe
        .stop_with(libc::SIGKILL)
        .expect("the daemon was running");
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{status}");
}

#[test]
fn a_daemon_killed_mid_traffic_and_restarted_loses_nothing_and_counts_nothing_twice() {
    require_root!();
    let lab = Lab::new();
    let mut first = Daemon::start(&lab);
    let first_program = lab.xdp_program().expect("the daemon attached its program");
    let sender = Paced::start(lab.raw_socket());

    sender.wait_past(300);
    let seen_by_first = first.stats().packets;
    kill(&mut first);
    let sent_at_kill = sender.sent();
    assert!(
        seen_by_first > 0,
        "the first daemon saw none of the traffic"
    );

    // Dead daemon, live probe: the pins stay, the program stays attached and keeps counting.
    assert!(
        lab.pins().join("link").exists(),
        "SIGKILL must leave the link pinned"
    );
    assert_eq!(lab.xdp_program(), Some(first_program));
    let orphan_start = pinned_packets(&lab);
    let deadline = Instant::now() + ORPHAN_LIMIT;
    while pinned_packets(&lab) <= orphan_start {
        assert!(
            Instant::now() < deadline,
            "the orphaned program stopped counting"
        );
        thread::sleep(Duration::from_millis(50));
    }

    let second = Daemon::start(&lab);
    let sent_at_restart = sender.sent();
    second.wait_for_log(
        "took over the probe an earlier daemon left",
        Duration::from_secs(5),
    );
    // Counters continue from where they were, nothing restarted at zero.
    let seen_by_second = second.stats().packets;
    assert!(
        seen_by_second >= sent_at_kill.min(seen_by_first),
        "after the restart the count fell to {seen_by_second} (the first daemon had {seen_by_first})"
    );
    sender.wait_past(sent_at_restart + 300);
    let sent = sender.stop();
    eprintln!(
        "restart: killed after {sent_at_kill} frames, restarted after {sent_at_restart}, {sent} sent in all"
    );
    assert!(
        sent_at_kill < sent_at_restart && sent_at_restart < sent,
        "traffic must flow before the kill, between kill and restart, and after it"
    );

    // Every frame counted once: those before the kill, while no daemon ran, and after.
    assert_eq!(lab.attacker_tx_dropped(), 0, "the lab dropped frames");
    assert_eq!(second.settled_stats(), expected_stats(sent));
    assert_eq!(port_list(&second.query(&["ports"])), expected_ports(sent));

    // One program attached: the new daemon's, through the pinned link; the old one is gone.
    let program = lab.xdp_program().expect("a program is attached");
    assert_eq!(
        program,
        pinned_link_program(&lab),
        "the device runs the pinned link's program"
    );
    assert_ne!(
        program, first_program,
        "the new daemon swapped its own program in"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while bpf::program_loaded(first_program) {
        assert!(
            Instant::now() < deadline,
            "the killed daemon's program {first_program} is still loaded"
        );
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn reset_starts_from_zero_instead_of_taking_over() {
    require_root!();
    let lab = Lab::new();
    let raw = lab.raw_socket();
    let mut first = Daemon::start(&lab);
    for i in 0..10 {
        raw.send(&frame(i));
    }
    assert_eq!(first.settled_stats(), expected_stats(10));
    kill(&mut first);

    let second = Daemon::start_with(&lab, &["--reset"]);
    let log = second.log();
    assert!(
        log.contains("--reset: removing what an earlier daemon left pinned"),
        "--reset should say it removed the pins:\n{log}"
    );
    assert!(
        !log.contains("took over"),
        "--reset must not take over:\n{log}"
    );
    assert_eq!(second.settled_stats(), Stats::default());
    for i in 0..7 {
        raw.send(&frame(i));
    }
    assert_eq!(second.settled_stats(), expected_stats(7));
    assert_eq!(port_list(&second.query(&["ports"])), expected_ports(7));
    assert_eq!(lab.xdp_program(), Some(pinned_link_program(&lab)));
}

#[test]
fn detach_removes_the_pins_and_the_program_a_killed_daemon_left() {
    require_root!();
    let lab = Lab::new();
    let mut probe = Daemon::start(&lab);
    kill(&mut probe);
    assert!(
        lab.pins().join("link").exists(),
        "SIGKILL must leave the link pinned"
    );
    assert!(
        lab.xdp_program().is_some(),
        "SIGKILL must leave the program attached"
    );

    // Under `ip netns exec` (its own /sys, so its own bpffs) the pins are hidden: said, and
    // nothing is touched.
    let hidden = lab.sensor_unchecked(&[
        probe_bin().to_str().expect("a UTF-8 path"),
        "detach",
        "--iface",
        lab.sensor_if(),
    ]);
    let stderr = String::from_utf8_lossy(&hidden.stderr);
    assert_eq!(hidden.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the bpffs the daemons pin in is not in view"),
        "{stderr}"
    );
    assert!(
        stderr.contains("nsenter --net=/run/netns/NAME probe detach"),
        "{stderr}"
    );
    assert!(lab.pins().join("link").exists(), "nothing was removed");

    let said = detach(&lab);
    assert!(said.starts_with("detached the probe from"), "{said}");
    assert!(
        !lab.pin_dir().exists(),
        "detach must remove {}",
        lab.pin_dir().display()
    );
    assert!(
        lab.xdp_detached_within(Duration::from_secs(2)),
        "detach must detach the program"
    );
    // Nothing left: a second detach says so and succeeds.
    let again = detach(&lab);
    assert!(again.starts_with("nothing pinned for"), "{again}");
}

#[test]
fn a_graceful_stop_leaves_no_pins_and_no_program() {
    require_root!();
    let lab = Lab::new();
    let mut probe = Daemon::start(&lab);
    assert!(
        lab.pins().join("link").exists(),
        "a running daemon pins its link"
    );
    assert!(lab.xdp_program().is_some());
    let status = probe
        .stop_with(libc::SIGTERM)
        .expect("the daemon was running");
    assert!(
        status.success(),
        "SIGTERM must end the daemon with 0: {status}\n{}",
        probe.log()
    );
    assert!(
        !lab.pin_dir().exists(),
        "a graceful stop removes {}",
        lab.pin_dir().display()
    );
    assert_eq!(lab.xdp_program(), None, "a graceful stop detaches");
}

#[test]
fn detach_stale_removes_the_pins_of_a_deleted_namespace_and_keeps_the_others() {
    require_root!();
    let gone = Lab::new();
    let kept = Lab::new();
    for lab in [&gone, &kept] {
        let mut probe = Daemon::start(lab);
        kill(&mut probe);
        assert!(lab.pins().join("link").exists(), "SIGKILL leaves the pins");
    }
    // The namespace goes (as when a container ends); its pins stay behind.
    let out = Command::new("ip")
        .args(["netns", "del", gone.sensor_ns()])
        .output()
        .expect("running ip netns del");
    assert!(out.status.success(), "{out:?}");
    assert!(gone.pin_dir().exists());

    let out = Command::new(probe_bin())
        .args(["detach", "--stale"])
        .output()
        .expect("running probe detach --stale");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!(
            "removed {}: its network namespace no longer exists",
            gone.pin_dir().display()
        )),
        "{stdout}"
    );
    assert!(!gone.pin_dir().exists());
    assert!(kept.pin_dir().exists(), "a live namespace's pins stay");
    assert!(detach(&kept).starts_with("detached the probe from"));
}
