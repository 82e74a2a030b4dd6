//! Least privilege: once attached, the daemon keeps no capability it no longer needs (none at
//! all, or with `--follow` only the three that attaching again needs), cannot regain any
//! (no_new_privs), and serves a socket of mode 0660 given to the `probe` group when that group
//! exists.

use std::{
    fs::{self, File},
    os::unix::fs::{FileTypeExt as _, MetadataExt as _, PermissionsExt as _},
    process::Command,
};

use probe_integration::{Daemon, Lab, require_root};

/// CAP_NET_ADMIN (12), CAP_PERFMON (38), CAP_BPF (39): what the README promises, no more.
const ATTACHING: &str = "000000c000001000";
const NONE: &str = "0000000000000000";

/// Asserts the daemon's capability sets and no_new_privs, and that it is the daemon itself
/// (not a wrapper) whose status is read.
fn assert_privilege(probe: &Daemon, kept: &str) {
    let comm = fs::read_to_string(format!("/proc/{}/comm", probe.pid())).expect("reading comm");
    assert_eq!(comm.trim(), "probe", "the pid must be the daemon's");
    for (set, want) in [
        ("CapEff", kept),
        ("CapPrm", kept),
        ("CapInh", NONE),
        ("CapAmb", NONE),
    ] {
        assert_eq!(probe.proc_status(set), want, "{set}; log:\n{}", probe.log());
    }
    assert_eq!(probe.proc_status("NoNewPrivs"), "1");
}

#[test]
fn without_follow_the_daemon_drops_every_capability_once_attached() {
    require_root!();
    let lab = Lab::new();
    let probe = Daemon::start(&lab);
    assert_privilege(&probe, NONE);
    assert!(
        probe
            .log()
            .contains("dropped every capability: nothing left to do needs them"),
        "{}",
        probe.log()
    );
    // Unprivileged, it still counts and answers.
    assert_eq!(probe.stats().packets, 0);
}

#[test]
fn with_follow_the_daemon_keeps_only_what_attaching_again_needs() {
    require_root!();
    let lab = Lab::new();
    let probe = Daemon::start_with(&lab, &["--follow"]);
    assert_privilege(&probe, ATTACHING);
    assert!(
        probe
            .log()
            .contains("dropped every capability but those attaching needs (--follow)"),
        "{}",
        probe.log()
    );
}

/// The gid of group `name`, if it exists.
fn group_gid(name: &str) -> Option<u32> {
    let out = Command::new("getent")
        .args(["group", name])
        .output()
        .expect("running getent");
    if !out.status.success() {
        return None;
    }
    let line = String::from_utf8_lossy(&out.stdout);
    let gid = line.trim().split(':').nth(2)?;
    Some(
        gid.parse()
            .unwrap_or_else(|_| panic!("a bad group line: {line}")),
    )
}

/// A `probe` group this test created; deleted on drop.
struct TemporaryGroup;

impl TemporaryGroup {
    fn create() -> Self {
        let out = Command::new("groupadd")
            .args(["--system", "probe"])
            .output()
            .expect("running groupadd");
        assert!(
            out.status.success(),
            "groupadd probe failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self
    }
}

impl Drop for TemporaryGroup {
    fn drop(&mut self) {
        match Command::new("groupdel").arg("probe").output() {
            Ok(o) if o.status.success() => {}
            Ok(o) => eprintln!(
                "warning: could not delete the group probe: {}",
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(e) => eprintln!("warning: could not run groupdel probe: {e}"),
        }
    }
}

/// Serialises the group check between test runs on this machine (the group is machine-wide):
/// an exclusive lock on a file in /run/lock, released when dropped. The empty lock file stays,
/// as lock files there do: removing it could let two runs lock two different files.
struct MachineLock {
    _file: File,
}

impl MachineLock {
    fn take() -> Self {
        let dir = std::path::Path::new("/run/lock");
        let dir = if dir.is_dir() {
            dir.to_owned()
        } else {
            std::env::temp_dir()
        };
        let file =
            File::create(dir.join("probe-it-probe-group.lock")).expect("creating the lock file");
        loop {
            // SAFETY: flock on a descriptor we own.
            let rc = unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&file), libc::LOCK_EX) };
            let e = std::io::Error::last_os_error();
            if rc == 0 {
                break;
            }
            // A signal can end the wait for the lock early; wait again.
            assert_eq!(e.kind(), std::io::ErrorKind::Interrupted, "flock: {e}");
        }
        Self { _file: file }
    }
}

#[test]
fn the_socket_is_0660_and_belongs_to_the_probe_group_when_it_exists() {
    require_root!();
    let _lock = MachineLock::take();
    let lab = Lab::new();

    let existing = group_gid("probe");
    if existing.is_none() {
        // No group: the socket keeps the daemon's own group (root's here).
        let probe = Daemon::start(&lab);
        let meta = fs::metadata(probe.socket()).expect("the socket exists");
        assert!(meta.file_type().is_socket());
        assert_eq!(meta.permissions().mode() & 0o7777, 0o660);
        assert_eq!(
            meta.gid(),
            0,
            "without a probe group the socket stays root's"
        );
        assert!(!probe.log().contains("group probe"), "{}", probe.log());
    } else {
        eprintln!("the group probe exists already: using it, neither creating nor deleting it");
    }

    let _created = existing.is_none().then(TemporaryGroup::create);
    let gid = group_gid("probe").expect("the group probe exists now");
    let probe = Daemon::start(&lab);
    let meta = fs::metadata(probe.socket()).expect("the socket exists");
    assert!(meta.file_type().is_socket());
    assert_eq!(
        meta.permissions().mode() & 0o7777,
        0o660,
        "owner and group may connect, no one else"
    );
    assert_eq!(meta.uid(), 0);
    assert_eq!(meta.gid(), gid, "the socket belongs to the group probe");
    assert!(
        probe.log().contains(&format!("(group probe, gid {gid})")),
        "{}",
        probe.log()
    );
}

#[test]
fn without_the_capabilities_loading_needs_the_daemon_says_so_before_anything_else() {
    require_root!();
    let lab = Lab::new();
    let socket = std::env::temp_dir().join(format!("probe-unprivileged-{}", std::process::id()));
    // Root's uid, but no capability at all: nothing the daemon tries could succeed.
    let out = Command::new("nsenter")
        .arg(format!("--net=/run/netns/{}", lab.sensor_ns()))
        .args([
            "--",
            "setpriv",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--",
        ])
        .arg(probe_integration::probe_bin())
        .args(["run", "--iface", lab.sensor_if(), "--socket"])
        .arg(&socket)
        .output()
        .expect("running the daemon without capabilities");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr.trim(),
        "probe: loading the XDP program needs root, or the capabilities CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON: run it with sudo"
    );
    assert!(!socket.exists(), "nothing was made");
    assert_eq!(lab.xdp_program(), None);
}
