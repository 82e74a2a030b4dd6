//! The daemon's life: it attaches XDP and serves queries once started, refuses a second daemon
//! on the same socket, and on SIGINT or SIGTERM detaches, removes its socket and exits 0.

use std::process::Command;

use probe_integration::{Daemon, Lab, SENSOR_V4, Scratch, probe_bin, require_root};

/// True when `ip link` shows an XDP program on the sensor interface.
fn xdp_attached(lab: &Lab) -> bool {
    let out = lab.sensor(&["ip", "link", "show", "dev", lab.sensor_if()]);
    out.contains("xdp")
}

#[test]
fn sigint_detaches_removes_the_socket_and_exits_zero() {
    require_root!();
    let lab = Lab::new();
    let mut probe = Daemon::start(&lab);
    assert!(
        xdp_attached(&lab),
        "a running daemon has XDP attached to {}",
        lab.sensor_if()
    );
    assert!(probe.socket().exists());
    let status = probe
        .stop_with(libc::SIGINT)
        .expect("the daemon exits on SIGINT");
    assert!(
        status.success(),
        "SIGINT must end the daemon with 0, got {status}:\n{}",
        probe.log()
    );
    assert!(
        !probe.socket().exists(),
        "the daemon must remove its socket on exit"
    );
    assert!(!xdp_attached(&lab), "the daemon must detach on exit");
}

#[test]
fn sigterm_detaches_removes_the_socket_and_exits_zero() {
    require_root!();
    let lab = Lab::new();
    let mut probe = Daemon::start(&lab);
    let status = probe
        .stop_with(libc::SIGTERM)
        .expect("the daemon exits on SIGTERM");
    assert!(
        status.success(),
        "SIGTERM must end the daemon with 0, got {status}:\n{}",
        probe.log()
    );
    assert!(
        !probe.socket().exists(),
        "the daemon must remove its socket on exit"
    );
    assert!(!xdp_attached(&lab), "the daemon must detach on exit");
}

#[test]
fn a_second_daemon_on_the_same_socket_is_refused() {
    require_root!();
    let lab = Lab::new();
    let probe = Daemon::start(&lab);
    let second = Command::new("nsenter")
        .arg(format!("--net=/run/netns/{}", lab.sensor_ns()))
        .arg("--")
        .args(["timeout", "20"])
        .arg(probe_bin())
        .args(["run", "--iface", lab.sensor_if(), "--socket"])
        .arg(probe.socket())
        .output()
        .expect("running a second daemon");
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        !second.status.success(),
        "a second daemon must refuse to start: {stderr}"
    );
    assert!(
        stderr.contains("already serving"),
        "the refusal should say the socket is already served: {stderr}"
    );
    // The first one is unharmed.
    probe.stats();
}

/// `probe run` on the lab's sensor interface with `--socket SOCKET`, expected to fail.
fn refused_start(lab: &Lab, socket: &std::path::Path) -> String {
    let socket = socket.to_str().expect("a UTF-8 path");
    probe_integration::refused_start(lab, &["--iface", lab.sensor_if(), "--socket", socket])
}

#[test]
fn a_socket_path_holding_a_file_is_refused_and_the_file_kept() {
    require_root!();
    let lab = Lab::new();
    let files = Scratch::new();
    let path = files.path("findings-not-a-socket");
    std::fs::write(&path, "keep me\n").expect("writing the file");
    let stderr = refused_start(&lab, &path);
    assert!(
        stderr.contains(&format!("{} exists and is not a socket", path.display())),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&path).expect("the file is still there"),
        "keep me\n"
    );
    assert_eq!(lab.xdp_program(), None, "refused before attaching");
    assert!(!lab.pin_dir().exists(), "nothing pinned");
}

#[test]
fn a_socket_path_too_long_to_bind_fails_before_anything_is_attached() {
    require_root!();
    let lab = Lab::new();
    let files = Scratch::new();
    // A Unix socket's path holds at most 107 bytes.
    let path = files.path(&"s".repeat(120));
    assert!(path.as_os_str().len() > 120);
    let stderr = refused_start(&lab, &path);
    assert!(
        stderr.contains(&format!("cannot listen on {}", path.display())),
        "{stderr}"
    );
    assert_eq!(lab.xdp_program(), None, "nothing left attached");
    assert!(!lab.pin_dir().exists(), "nothing left pinned");
    assert!(!path.exists());
}

#[test]
fn a_second_daemon_on_a_watched_interface_is_refused_and_the_first_unharmed() {
    require_root!();
    let lab = Lab::new();
    let mut first = Daemon::start(&lab);
    let files = Scratch::new();
    let stderr = refused_start(&lab, &files.path("second.sock"));
    assert!(
        stderr.contains(&format!(
            "another probe daemon (pid {}, queries on {}) is watching {}",
            first.pid(),
            first.socket().display(),
            lab.sensor_if()
        )),
        "{stderr}"
    );
    assert!(!files.path("second.sock").exists(), "its socket is gone");
    // The first still watches, its pins in place, and nobody took it over.
    first.stats();
    assert!(lab.pins().join("link").exists());
    assert!(lab.xdp_program().is_some());
    let status = first.stop_with(libc::SIGTERM).expect("the first exits");
    assert!(status.success(), "{}", first.log());
    assert!(!first.log().contains("took over"), "{}", first.log());
}

#[test]
fn a_closed_json_reader_ends_the_json_output_once_and_the_daemon_goes_on() {
    use std::io::{BufRead as _, BufReader};
    require_root!();
    let lab = Lab::new();
    let files = Scratch::new();
    let socket = files.path("probe.sock");
    let log = files.path("daemon.log");
    // `probe run --json | head -1`: the reader takes one line and goes.
    let mut daemon = Command::new("nsenter")
        .arg(format!("--net=/run/netns/{}", lab.sensor_ns()))
        .arg("--")
        .args(["timeout", "60"])
        .arg(probe_bin())
        .args([
            "run",
            "--iface",
            lab.sensor_if(),
            "--interval",
            "200ms",
            "--json",
        ])
        .arg("--socket")
        .arg(&socket)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(&log).expect("creating the log"))
        .spawn()
        .expect("starting the daemon");
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    // Attached and serving: the socket is bound before attaching, so its file says nothing.
    while !read_log().contains("serving queries on") {
        assert!(
            std::time::Instant::now() < deadline,
            "the daemon did not start: {}",
            read_log()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    lab.attacker(&["hping3", "-S", "-p", "31337", "-c", "1", SENSOR_V4]);
    let mut first = String::new();
    let mut reader = BufReader::new(daemon.stdout.take().expect("the daemon's stdout"));
    reader.read_line(&mut first).expect("one JSON line");
    assert!(first.contains(r#""kind":"trojan_probe""#), "{first}");
    drop(reader);
    for port in ["12345", "6776"] {
        lab.attacker(&["hping3", "-S", "-p", port, "-c", "1", SENSOR_V4]);
    }
    while !read_log().contains("port 6776/tcp") {
        assert!(std::time::Instant::now() < deadline, "{}", read_log());
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // SAFETY: kill has no memory preconditions; the pid is our own child (timeout, which
    // passes SIGTERM on to the daemon).
    unsafe {
        libc::kill(
            libc::pid_t::try_from(daemon.id()).expect("a pid"),
            libc::SIGTERM,
        )
    };
    let status = daemon.wait().expect("the daemon exits");
    let log = read_log();
    assert!(status.success(), "{log}");
    assert_eq!(
        log.matches("stdout was closed by its reader: no more findings are written there")
            .count(),
        1,
        "{log}"
    );
    assert!(!log.contains("writing findings failed"), "{log}");
}
