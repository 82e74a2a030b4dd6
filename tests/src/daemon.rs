//! The real daemon, started on a lab's sensor interface and queried through its socket.

use std::{
    fs::{self, File},
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Output, Stdio},
    thread,
    time::{Duration, Instant},
};

use probe_lab::{Lab, unique_id};
use serde_json::Value;

use crate::{
    counters::Stats,
    findings::{Finding, latest, parse_lines},
};

/// How often the daemon reads its maps (`--interval`).
const INTERVAL: Duration = Duration::from_millis(200);
/// Loading and attaching takes a second or two; on a busy machine much longer.
const START_LIMIT: Duration = Duration::from_secs(15);
/// SIGTERM to exit: detach, remove the socket.
const STOP_LIMIT: Duration = Duration::from_secs(10);
/// Counters count as settled when they have not moved for this long: several daemon intervals,
/// and far longer than a veth takes to deliver what a finished tool sent.
const QUIET_FOR: Duration = Duration::from_millis(700);
/// Longest wait for counters to settle.
const SETTLE_LIMIT: Duration = Duration::from_secs(10);

/// The `probe` binary under test: `PROBE_BIN`, else `<workspace>/target/debug/probe`.
pub fn probe_bin() -> PathBuf {
    let bin = std::env::var_os("PROBE_BIN").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug/probe"),
        PathBuf::from,
    );
    assert!(
        bin.is_file(),
        "no probe binary at {}: build it first: cargo xtask build (or set PROBE_BIN)",
        bin.display()
    );
    bin
}

/// `probe run` on a lab's sensor interface. Dropping it stops the daemon with SIGTERM and
/// asserts a clean exit (status 0, socket removed) unless the test is already failing.
pub struct Daemon {
    /// The daemon process (`None` once stopped).
    child: Option<Child>,
    /// The `probe` binary, for queries.
    bin: PathBuf,
    /// Private directory for the socket and logs; removed on drop.
    dir: PathBuf,
    /// The query socket.
    socket: PathBuf,
    /// The daemon's stderr (its log).
    log: PathBuf,
    /// Where the daemon appends its findings (`--findings`).
    findings: PathBuf,
    /// Its findings history (`--history`), unless the test turned it off.
    history: Option<PathBuf>,
}

impl Daemon {
    /// Starts the daemon on `lab`'s sensor interface and waits until it answers queries.
    pub fn start(lab: &Lab) -> Self {
        Self::start_with(lab, &[])
    }

    /// [`Daemon::start`] with more `probe run` arguments (`--event-rate 1`, `--detectors F`...).
    pub fn start_with(lab: &Lab, extra: &[&str]) -> Self {
        Self::start_writing(lab, None, extra)
    }

    /// [`Daemon::start_with`], its findings written to `findings` (else a file of its own).
    pub fn start_writing(lab: &Lab, findings: Option<&Path>, extra: &[&str]) -> Self {
        let bin = probe_bin();
        let dir = std::env::temp_dir().join(format!("probe-it-{}", unique_id()));
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        let socket = dir.join("probe.sock");
        let log = dir.join("daemon.log");
        let findings = findings.map_or_else(|| dir.join("findings.jsonl"), Path::to_path_buf);
        // A history of its own in the private directory, unless the test names one (to share
        // it between daemons) or turns it off: never the host's.
        let named = |flag: &str| extra.iter().position(|a| *a == flag);
        let (history, own_history) = match (named("--history"), named("--no-history")) {
            (Some(i), _) => (extra.get(i + 1).map(PathBuf::from), None),
            (None, Some(_)) => (None, None),
            (None, None) => {
                let path = dir.join("findings.db");
                (Some(path.clone()), Some(path))
            }
        };
        let log_file =
            File::create(&log).unwrap_or_else(|e| panic!("creating {}: {e}", log.display()));
        // nsenter --net, not `ip netns exec`: the latter remounts /sys and hides bpffs.
        let child = Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}", lab.sensor_ns()))
            .arg("--")
            .arg(&bin)
            .args([
                "run",
                "--iface",
                lab.sensor_if(),
                "--interval",
                "200ms",
                "--socket",
            ])
            .arg(&socket)
            .arg("--findings")
            .arg(&findings)
            .args(
                own_history
                    .iter()
                    .flat_map(|p| [Path::new("--history"), p.as_path()]),
            )
            .args(extra)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("duplicating a file handle"))
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let mut daemon = Self {
            child: Some(child),
            bin,
            dir,
            socket,
            log,
            findings,
            history,
        };
        daemon.wait_until_serving();
        daemon
    }

    fn wait_until_serving(&mut self) {
        let deadline = Instant::now() + START_LIMIT;
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "the daemon exited while starting ({status}); its log:\n{}",
                    self.log()
                );
            }
            if self.socket.exists() && self.run_query(&["stats"]).status.success() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the daemon did not answer on {} within {START_LIMIT:?}; its log:\n{}",
                self.socket.display(),
                self.log()
            );
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// The query socket.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The daemon's process id (`nsenter` without `--fork` execs the daemon in its place).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("the daemon is running").id()
    }

    /// True while the daemon process has not exited.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// The value of line `key` of `/proc/<pid>/status` (`VmRSS`, `CapEff`, ...), trimmed.
    pub fn proc_status(&self, key: &str) -> String {
        let path = format!("/proc/{}/status", self.pid());
        let status = fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
        status
            .lines()
            .find_map(|l| l.strip_prefix(key).and_then(|rest| rest.strip_prefix(':')))
            .map_or_else(
                || panic!("no {key} line in {path}:\n{status}"),
                |v| v.trim().to_owned(),
            )
    }

    /// The daemon's resident memory (`VmRSS`), in KiB.
    pub fn rss_kib(&self) -> u64 {
        let value = self.proc_status("VmRSS");
        value
            .strip_suffix(" kB")
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("VmRSS is not \"<n> kB\": {value:?}"))
    }

    /// Waits (at most `limit`) until the daemon's log contains `needle`; returns the log.
    pub fn wait_for_log(&self, needle: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let log = self.log();
            if log.contains(needle) {
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "the daemon did not log {needle:?} within {limit:?}; its log:\n{log}"
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Everything the daemon has logged so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_else(|e| format!("(log unreadable: {e})"))
    }

    /// `probe query <args> --json --socket <ours>` as it ran, successful or not.
    pub fn run_query(&self, args: &[&str]) -> Output {
        Command::new("timeout")
            .arg("10")
            .arg(&self.bin)
            .arg("query")
            .args(args)
            .arg("--json")
            .arg("--socket")
            .arg(&self.socket)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {} query: {e}", self.bin.display()))
    }

    /// `probe query <args> --json --socket <ours>`, parsed; panics unless it succeeds.
    pub fn query(&self, args: &[&str]) -> Value {
        let out = self.run_query(args);
        assert!(
            out.status.success(),
            "`probe query {}` failed ({}): {}\ndaemon log:\n{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "`probe query {}` printed invalid JSON ({e}):\n{}",
                args.join(" "),
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    /// `probe query <args> --socket <ours>` as a human reads it (no `--json`); panics unless
    /// it succeeds.
    pub fn query_text(&self, args: &[&str]) -> String {
        let out = Command::new("timeout")
            .arg("10")
            .arg(&self.bin)
            .arg("query")
            .args(args)
            .arg("--socket")
            .arg(&self.socket)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {} query: {e}", self.bin.display()));
        assert!(
            out.status.success(),
            "`probe query {}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The totals right now.
    pub fn stats(&self) -> Stats {
        Stats::from_json(&self.query(&["stats"]))
    }

    /// The totals once they stop changing, checked for consistency.
    ///
    /// Tools return before the last frame is through the veth, the kernels may still finish a
    /// TCP close, and the daemon may answer from its last interval's read; waiting until nothing
    /// moves for [`QUIET_FOR`] covers all three, so counts that follow are final.
    pub fn settled_stats(&self) -> Stats {
        let deadline = Instant::now() + SETTLE_LIMIT;
        let mut last = self.stats();
        let mut unchanged_since = Instant::now();
        loop {
            thread::sleep(INTERVAL / 2);
            let now = self.stats();
            if now != last {
                last = now;
                unchanged_since = Instant::now();
            } else if unchanged_since.elapsed() >= QUIET_FOR {
                now.assert_consistent();
                return now;
            }
            assert!(
                Instant::now() < deadline,
                "counters still changing after {SETTLE_LIMIT:?}: {now:?}"
            );
        }
    }

    /// `probe query findings --json [args]`: the latest line the daemon wrote of each recent
    /// finding (an update it has not written yet, within the refresh interval, is not there).
    pub fn query_findings(&self, args: &[&str]) -> Vec<Finding> {
        let mut what = vec!["findings"];
        what.extend_from_slice(args);
        let answer = self.query(&what);
        answer
            .as_array()
            .unwrap_or_else(|| panic!("`query findings` did not answer a list: {answer}"))
            .iter()
            .map(Finding::from_json)
            .collect()
    }

    /// The file the daemon appends its findings to (`--findings`).
    pub fn findings_path(&self) -> &Path {
        &self.findings
    }

    /// The daemon's findings history (`--history`; its own unless the test named one), or
    /// `None` with `--no-history`.
    pub fn history_path(&self) -> Option<&Path> {
        self.history.as_deref()
    }

    /// Sends `signal` to the running daemon, without waiting for anything.
    pub fn signal(&self, signal: libc::c_int) {
        let pid = libc::pid_t::try_from(self.pid()).expect("a pid fits pid_t");
        // SAFETY: kill has no memory preconditions; the pid is our own unreaped child.
        assert_eq!(
            unsafe { libc::kill(pid, signal) },
            0,
            "signalling the daemon"
        );
    }

    /// Every line the daemon wrote to its findings file so far, in order.
    pub fn findings_lines(&self) -> Vec<Finding> {
        let text = fs::read_to_string(&self.findings).unwrap_or_default();
        parse_lines(&text)
    }

    /// Waits until the traffic has been seen ([`Daemon::settled_stats`]), stops the daemon with
    /// SIGTERM (asserting a clean exit), and returns the final state of every finding: the
    /// daemon drains its events and writes every finding that changed since its last line
    /// before it exits, so the last line of each is complete.
    pub fn finish(&mut self) -> Vec<Finding> {
        self.settled_stats();
        let status = self.stop_with(libc::SIGTERM);
        assert!(
            status.is_some_and(|s| s.success()),
            "SIGTERM must make the daemon exit 0, it ended with {status:?}; its log:\n{}",
            self.log()
        );
        assert!(
            !self.socket.exists(),
            "the daemon exited but left its socket behind; its log:\n{}",
            self.log()
        );
        latest(self.findings_lines())
    }

    /// Stops the daemon with `signal` and returns how it exited (killed after [`STOP_LIMIT`]).
    pub fn stop_with(&mut self, signal: libc::c_int) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let pid = libc::pid_t::try_from(child.id()).expect("a pid fits pid_t");
        // SAFETY: kill has no memory preconditions; the pid is our own unreaped child.
        unsafe { libc::kill(pid, signal) };
        let deadline = Instant::now() + STOP_LIMIT;
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(50)),
                _ => {
                    eprintln!("the daemon ignored the signal for {STOP_LIMIT:?}; killing it");
                    let _ = child.kill();
                    let _ = child.wait();
                    return None;
                }
            }
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.child.is_none() {
            // The test stopped it and checked the exit itself.
            let _ = fs::remove_dir_all(&self.dir);
            return;
        }
        let status = self.stop_with(libc::SIGTERM);
        let log = self.log();
        let socket_left = self.socket.exists();
        let _ = fs::remove_dir_all(&self.dir);
        let clean = status.is_some_and(|s| s.success()) && !socket_left;
        if clean {
            return;
        }
        if thread::panicking() {
            eprintln!("the daemon did not exit cleanly ({status:?}); its log:\n{log}");
        } else {
            assert!(
                status.is_some_and(|s| s.success()),
                "SIGTERM must make the daemon exit 0, it ended with {status:?}; its log:\n{log}"
            );
            panic!("the daemon exited but left its socket behind; its log:\n{log}");
        }
    }
}

/// `probe run ARGS` in `lab`'s sensor namespace, which must refuse to start (exit status 1):
/// its standard error.
pub fn refused_start(lab: &Lab, args: &[&str]) -> String {
    let out = Command::new("nsenter")
        .arg(format!("--net=/run/netns/{}", lab.sensor_ns()))
        .arg("--")
        .args(["timeout", "20"])
        .arg(probe_bin())
        .arg("run")
        .args(args)
        .output()
        .expect("running the daemon");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "the start must fail: {stderr}");
    stderr
}

/// The daemon's `/metrics` at its default address, read with curl in `lab`'s sensor
/// namespace.
pub fn scrape_metrics(lab: &Lab) -> String {
    lab.sensor(&[
        "curl",
        "-s",
        "--max-time",
        "5",
        "http://127.0.0.1:9464/metrics",
    ])
}
