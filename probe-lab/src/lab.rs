//! The network-namespace lab: an attacker namespace and a sensor namespace joined by a veth pair.
//!
//! ```text
//! [attacker netns] pa<id> ── ps<id> [sensor netns: the probe attaches here]
//!   198.18.0.2/24, 2001:db8::2/64      198.18.0.1/24, 2001:db8::1/64
//!   route 198.18.1.0/24 via 198.18.0.1
//! ```
//!
//! Addresses come only from the benchmarking range 198.18.0.0/15 and the documentation prefix
//! 2001:db8::/32, and no namespace has a route out (../shared/docs/lab.md).
//!
//! The sensor must be quiet: the probe counts every frame arriving on `ps<id>` and the tests
//! assert exact totals, so the kernels on both sides must send nothing on their own. What would
//! otherwise arrive, and what stops it:
//! - ARP and neighbour discovery: permanent neighbour entries both ways.
//! - IPv6 duplicate address detection: `nodad` on every address, `accept_dad=0`.
//! - Router solicitations: `router_solicitations=0` (and `accept_ra=0`); no link-local address
//!   at all (`addrgenmode none`), so nothing starts autoconfiguration.
//! - MLDv2 reports: adding an IPv6 address joins its solicited-node group, and the kernel then
//!   sends two unsolicited reports, the second up to `mldv2_unsolicited_report_interval` (1 s)
//!   later. `arp off` (IFF_NOARP) makes the kernel skip that join altogether
//!   (`addrconf_join_solict` returns early for NOARP devices), so no report is ever sent and no
//!   settle wait is needed; the neighbour entries above replace what NOARP turns off.
//!
//! `tests/lab_is_quiet_and_cleans_up.rs` proves the result with tcpdump.

use std::{
    io::{BufRead as _, BufReader},
    os::unix::{fs::MetadataExt as _, process::CommandExt as _},
    path::PathBuf,
    process::{Child, ChildStdout, Command, Output, Stdio},
    sync::atomic::{AtomicU32, Ordering},
    thread,
    time::{Duration, Instant},
};

use crate::raw::RawSocket;

/// The attacker's IPv4 address.
pub const ATTACKER_V4: &str = "198.18.0.2";
/// The sensor's IPv4 address.
pub const SENSOR_V4: &str = "198.18.0.1";
/// The attacker's IPv6 address.
pub const ATTACKER_V6: &str = "2001:db8::2";
/// The sensor's IPv6 address.
pub const SENSOR_V6: &str = "2001:db8::1";
/// The attacker's MAC (locally administered; each end lives in its own namespace).
pub const ATTACKER_MAC: &str = "02:00:00:00:00:02";
/// The sensor's MAC.
pub const SENSOR_MAC: &str = "02:00:00:00:00:01";
/// An address behind the sensor: the attacker routes 198.18.1.0/24 via the sensor, so packets
/// to it cross the sensor's interface with no neighbour lookup, and die there (no forwarding).
pub const ROUTED_V4: &str = "198.18.1.7";

/// Upper bound on any one command the lab runs: every sender stops by itself well before.
const COMMAND_TIMEOUT_SECS: &str = "60";

/// Makes names unique within this process; the process id makes them unique between runs.
static NEXT_ID: AtomicU32 = AtomicU32::new(0);

/// A unique suffix for this process's next lab (or file): `<pid>n<counter>`.
pub fn unique_id() -> String {
    format!(
        "{}n{}",
        std::process::id(),
        NEXT_ID.fetch_add(1, Ordering::Relaxed)
    )
}

/// True when `ip netns list` shows a namespace called `name`.
pub fn namespace_exists(name: &str) -> bool {
    let out = ip("netns list");
    out.lines()
        .any(|l| l.split_whitespace().next() == Some(name))
}

/// A named network namespace, deleted on drop (which also destroys the interfaces inside).
struct Netns {
    name: String,
}

impl Netns {
    fn create(name: String) -> Self {
        // Same name as a live namespace means an earlier run with the same pid was killed before
        // its guards ran; nothing else can own this name, so reclaim it.
        if namespace_exists(&name) {
            ip(&format!("netns del {name}"));
        }
        ip(&format!("netns add {name}"));
        Self { name }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let out = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
        match out {
            Ok(o) if o.status.success() => {}
            Ok(o) => eprintln!(
                "warning: could not delete netns {}: {}",
                self.name,
                String::from_utf8_lossy(&o.stderr).trim()
            ),
            Err(e) => eprintln!("warning: could not run `ip netns del {}`: {e}", self.name),
        }
    }
}

/// One end of the veth pair and how it is addressed.
struct End<'a> {
    ns: &'a str,
    iface: &'a str,
    mac: &'a str,
    v4: &'a str,
    v6: &'a str,
    peer_mac: &'a str,
    peer_v4: &'a str,
    peer_v6: &'a str,
}

/// Two namespaces joined by a veth pair; see the module documentation. Dropping it removes both
/// namespaces and the pair.
pub struct Lab {
    /// Attacker namespace (the senders run here).
    attacker: Netns,
    /// Sensor namespace (the probe runs here).
    sensor: Netns,
    /// The attacker's end of the veth pair.
    attacker_if: String,
    /// The sensor's end of the veth pair: the probe attaches to it.
    sensor_if: String,
    /// The inode of the sensor's network namespace, which names the daemon's pin directory.
    sensor_netns_inode: u64,
}

impl Lab {
    /// Builds a quiet lab for a test (namespaces `probe-it-<id>-a` and `-s`), ready for
    /// traffic as soon as it returns.
    pub fn new() -> Self {
        Self::named("probe-it")
    }

    /// As [`Lab::new`], with namespaces named `<prefix>-<id>-a` and `<prefix>-<id>-s`, so that
    /// `ip netns` tells who made them.
    pub fn named(prefix: &str) -> Self {
        let id = unique_id();
        let attacker = Netns::create(format!("{prefix}-{id}-a"));
        let sensor = Netns::create(format!("{prefix}-{id}-s"));
        let attacker_if = format!("pa{id}");
        let sensor_if = format!("ps{id}");
        assert!(
            sensor_if.len() <= 15,
            "interface name {sensor_if} is longer than IFNAMSIZ allows"
        );
        let sensor_netns_inode = std::fs::metadata(format!("/run/netns/{}", sensor.name))
            .unwrap_or_else(|e| panic!("stat /run/netns/{}: {e}", sensor.name))
            .ino();
        let lab = Self {
            attacker,
            sensor,
            attacker_if,
            sensor_if,
            sensor_netns_inode,
        };
        lab.join();
        lab
    }

    /// Creates the veth pair between the namespaces and configures both ends (again, after
    /// [`Lab::delete_link`]: same names, same addresses, a new interface index).
    fn join(&self) {
        // Created straight inside the namespaces: the root namespace never sees these links.
        ip(&format!(
            "-n {} link add {} type veth peer name {} netns {}",
            self.attacker.name, self.attacker_if, self.sensor_if, self.sensor.name
        ));
        let attacker_end = End {
            ns: &self.attacker.name,
            iface: &self.attacker_if,
            mac: ATTACKER_MAC,
            v4: ATTACKER_V4,
            v6: ATTACKER_V6,
            peer_mac: SENSOR_MAC,
            peer_v4: SENSOR_V4,
            peer_v6: SENSOR_V6,
        };
        let sensor_end = End {
            ns: &self.sensor.name,
            iface: &self.sensor_if,
            mac: SENSOR_MAC,
            v4: SENSOR_V4,
            v6: SENSOR_V6,
            peer_mac: ATTACKER_MAC,
            peer_v4: ATTACKER_V4,
            peer_v6: ATTACKER_V6,
        };
        configure_quietly(&sensor_end);
        configure_quietly(&attacker_end);
        ip(&format!(
            "-n {} route add 198.18.1.0/24 via {SENSOR_V4} dev {}",
            self.attacker.name, self.attacker_if
        ));
    }

    /// Deletes the veth pair (both ends: deleting one end of a veth pair deletes the other).
    pub fn delete_link(&self) {
        ip(&format!(
            "-n {} link del {}",
            self.sensor.name, self.sensor_if
        ));
    }

    /// Re-creates the veth pair [`Lab::delete_link`] deleted, configured as before.
    pub fn recreate_link(&self) {
        self.join();
    }

    /// Sets the sensor's end administratively up or down.
    pub fn set_sensor_up(&self, up: bool) {
        let state = if up { "up" } else { "down" };
        ip(&format!(
            "-n {} link set {} {state}",
            self.sensor.name, self.sensor_if
        ));
    }

    /// The inode of the sensor's network namespace (what `/proc/<pid>/ns/net` of the daemon
    /// shows).
    pub fn sensor_netns_inode(&self) -> u64 {
        self.sensor_netns_inode
    }

    /// Where a daemon on the sensor's interface pins its link and maps:
    /// `/sys/fs/bpf/probe/<sensor netns inode>-<interface>` (probe-user/src/pins.rs).
    pub fn pin_dir(&self) -> PathBuf {
        PathBuf::from(format!(
            "/sys/fs/bpf/probe/{}-{}",
            self.sensor_netns_inode, self.sensor_if
        ))
    }

    /// The pins of the current map layout: [`Lab::pin_dir`]`/v<PIN_LAYOUT>`.
    pub fn pins(&self) -> PathBuf {
        self.pin_dir()
            .join(format!("v{}", probe_common::PIN_LAYOUT))
    }

    /// A raw socket on the attacker's interface, for exact frames ([`RawSocket`]). Gives the
    /// interface a packet queue first: a veth with no queue (its default) has nowhere to keep a
    /// frame its peer cannot take yet and may drop it; with one, the queue holds it instead,
    /// and when even the queue is full the sender is told and sends again. (In the lab's runs
    /// no frame was dropped either way; [`Lab::attacker_tx_dropped`] would show it.)
    pub fn raw_socket(&self) -> RawSocket {
        ip(&format!(
            "netns exec {} tc qdisc replace dev {} root pfifo limit 4096",
            self.attacker.name, self.attacker_if
        ));
        RawSocket::open(&self.attacker.name, &self.attacker_if)
    }

    /// The id of the XDP program attached to the sensor's interface, or `None`; panics if
    /// `ip -d link` shows more than one.
    ///
    /// Both of ip's views are read and must agree. A link whose last reference just went (its
    /// pin removed, its daemon gone) is released by the kernel a moment later, from a work
    /// queue, so the two reads may straddle that moment: they are taken again until they agree.
    pub fn xdp_program(&self) -> Option<u64> {
        let mut attempts = 0;
        loop {
            let text = self.sensor(&["ip", "-d", "link", "show", "dev", &self.sensor_if]);
            let shown = text.matches("prog/xdp id").count();
            assert!(shown <= 1, "more than one XDP program attached:\n{text}");
            let json = self.sensor(&["ip", "-j", "-d", "link", "show", "dev", &self.sensor_if]);
            let v: serde_json::Value = serde_json::from_str(&json)
                .unwrap_or_else(|e| panic!("`ip -j link` printed invalid JSON ({e}): {json}"));
            let id = v[0]["xdp"]["prog"]["id"].as_u64();
            if id.is_some() == (shown == 1) {
                return id;
            }
            attempts += 1;
            assert!(attempts < 10, "ip -j and ip disagree:\n{text}\n{json}");
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits up to `limit` for the sensor's interface to have no XDP program: the kernel
    /// detaches a link a moment after its last reference goes.
    pub fn xdp_detached_within(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            if self.xdp_program().is_none() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Frames the attacker's interface dropped on the way out (its `tx_dropped` counter): a
    /// test that counts what it sent checks this is 0, so a lossy lab cannot pass for a
    /// miscounting probe.
    pub fn attacker_tx_dropped(&self) -> u64 {
        let out = ip(&format!(
            "-n {} -s -j link show dev {}",
            self.attacker.name, self.attacker_if
        ));
        let v: serde_json::Value = serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("`ip -s -j link` printed invalid JSON ({e}): {out}"));
        v[0]["stats64"]["tx"]["dropped"]
            .as_u64()
            .unwrap_or_else(|| panic!("no stats64.tx.dropped in {v}"))
    }

    /// Name of the attacker namespace.
    pub fn attacker_ns(&self) -> &str {
        &self.attacker.name
    }

    /// Name of the sensor namespace.
    pub fn sensor_ns(&self) -> &str {
        &self.sensor.name
    }

    /// The attacker's end of the veth pair.
    pub fn attacker_if(&self) -> &str {
        &self.attacker_if
    }

    /// The sensor's end of the veth pair, where the probe attaches.
    pub fn sensor_if(&self) -> &str {
        &self.sensor_if
    }

    /// Runs `argv` in the attacker namespace; panics (with its output) unless it succeeds.
    /// Returns its stdout.
    pub fn attacker(&self, argv: &[&str]) -> String {
        checked(argv, &self.attacker_unchecked(argv))
    }

    /// Runs `argv` in the sensor namespace; panics (with its output) unless it succeeds.
    /// Returns its stdout.
    pub fn sensor(&self, argv: &[&str]) -> String {
        checked(argv, &self.sensor_unchecked(argv))
    }

    /// Runs `argv` in the attacker namespace and returns whatever happened.
    pub fn attacker_unchecked(&self, argv: &[&str]) -> Output {
        in_netns(&self.attacker.name, argv)
    }

    /// Runs `argv` in the sensor namespace and returns whatever happened.
    pub fn sensor_unchecked(&self, argv: &[&str]) -> Output {
        in_netns(&self.sensor.name, argv)
    }

    /// Starts `argv` in the sensor namespace in the background (stdout piped).
    pub fn spawn_in_sensor(&self, argv: &[&str]) -> Background {
        Background::spawn(&self.sensor.name, argv)
    }

    /// Starts `argv` in the attacker namespace in the background (stdout piped).
    pub fn spawn_in_attacker(&self, argv: &[&str]) -> Background {
        Background::spawn(&self.attacker.name, argv)
    }

    /// Runs a Python program in the attacker namespace; panics unless it succeeds.
    pub fn python(&self, program: &str) -> String {
        self.attacker(&[&python(), "-c", program])
    }

    /// Sends raw frames from the attacker's interface with scapy and returns their lengths.
    ///
    /// `frames` is a Python expression for a list of packets. In scope: everything from
    /// `scapy.all`, `eth(**fields)` (an `Ether` from the attacker's MAC to the sensor's), and
    /// `ATTACKER_V4`, `SENSOR_V4`, `ATTACKER_V6`, `SENSOR_V6`.
    pub fn send_frames(&self, frames: &str) -> Vec<usize> {
        send_frames_from(
            &self.attacker.name,
            &self.attacker_if,
            ATTACKER_MAC,
            SENSOR_MAC,
            frames,
        )
    }
}

impl Default for Lab {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Lab {
    /// Removes what a daemon left pinned for the sensor's interface (a graceful stop removes it
    /// itself; a SIGKILL leaves it, and the program attached), before the namespaces go.
    fn drop(&mut self) {
        let dir = self.pin_dir();
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                eprintln!(
                    "warning: could not remove the pins in {}: {e}",
                    dir.display()
                );
            }
            _ => {}
        }
    }
}

/// Configures one end so that it never speaks unless spoken to (see the module documentation).
fn configure_quietly(end: &End<'_>) {
    let End {
        ns,
        iface,
        mac,
        v4,
        v6,
        peer_mac,
        peer_v4,
        peer_v6,
    } = *end;
    ip(&format!("-n {ns} link set lo up"));
    // Before any address and before `up`: what NOARP and addrgenmode prevent happens then.
    ip(&format!(
        "-n {ns} link set {iface} address {mac} arp off addrgenmode none"
    ));
    ip(&format!(
        "netns exec {ns} sysctl -q -w net.ipv6.conf.{iface}.accept_dad=0 \
         net.ipv6.conf.{iface}.accept_ra=0 net.ipv6.conf.{iface}.router_solicitations=0"
    ));
    ip(&format!("-n {ns} addr add {v4}/24 dev {iface}"));
    ip(&format!("-n {ns} addr add {v6}/64 dev {iface} nodad"));
    for peer in [peer_v4, peer_v6] {
        ip(&format!(
            "-n {ns} neigh replace {peer} lladdr {peer_mac} dev {iface} nud permanent"
        ));
    }
    ip(&format!("-n {ns} link set {iface} up"));
}

/// The Python that has scapy: `PROBE_PYTHON`, else Debian's (a pyenv `python3` first on PATH
/// usually lacks python3-scapy), else whatever `python3` is.
pub fn python() -> String {
    if let Some(p) = std::env::var_os("PROBE_PYTHON") {
        return p.to_string_lossy().into_owned();
    }
    if PathBuf::from("/usr/bin/python3").exists() {
        return "/usr/bin/python3".to_owned();
    }
    "python3".to_owned()
}

/// Runs `argv` in namespace `ns`, bounded in time.
fn in_netns(ns: &str, argv: &[&str]) -> Output {
    let output = Command::new("ip")
        .args(["netns", "exec", ns, "timeout", COMMAND_TIMEOUT_SECS])
        .args(argv)
        .stdin(Stdio::null())
        .output();
    output.unwrap_or_else(|e| panic!("cannot run `ip netns exec {ns} {}`: {e}", argv.join(" ")))
}

/// Runs `ip` with the whitespace-separated `args` (names here never hold spaces) from the root
/// namespace, asserting success. Only configuration: no traffic starts here.
fn ip(args: &str) -> String {
    let command: Vec<&str> = std::iter::once("ip")
        .chain(args.split_whitespace())
        .collect();
    let out = Command::new("ip")
        .args(&command[1..])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run `ip {args}`: {e}"));
    checked(&command, &out)
}

/// Stdout of a finished command, or a panic that shows what went wrong.
fn checked(argv: &[&str], out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let hint = if stderr.contains("No such file") || stderr.contains("failed to run command") {
            "\n(a lab tool is missing? `cargo xtask setup` installs them)"
        } else {
            ""
        };
        panic!(
            "`{}` failed ({}){hint}\nstdout:\n{stdout}\nstderr:\n{stderr}",
            argv.join(" "),
            out.status
        );
    }
    stdout
}

/// A process running in a namespace in the background; killed on drop if still running.
pub struct Background {
    /// The running process (`None` once waited for).
    child: Option<Child>,
    /// Its stdout, read line by line.
    stdout: Option<BufReader<ChildStdout>>,
    /// The command, for messages.
    what: String,
}

impl Background {
    fn spawn(ns: &str, argv: &[&str]) -> Self {
        let mut child = Command::new("nsenter")
            .arg(format!("--net=/run/netns/{ns}"))
            .args(["timeout", COMMAND_TIMEOUT_SECS])
            .args(argv)
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `{}` in {ns}: {e}", argv.join(" ")));
        let stdout = child.stdout.take().map(BufReader::new);
        Self {
            child: Some(child),
            stdout,
            what: argv.join(" "),
        }
    }

    /// The process id of `timeout`, which leads the process group of the command.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("not yet waited for").id()
    }

    /// The next line the process prints (without the newline); panics at end of output.
    pub fn read_line(&mut self) -> String {
        let mut line = String::new();
        let reader = self.stdout.as_mut().expect("stdout is piped");
        match reader.read_line(&mut line) {
            Ok(0) => panic!("`{}` ended before printing a line", self.what),
            Ok(_) => line.trim_end().to_owned(),
            Err(e) => panic!("reading the output of `{}`: {e}", self.what),
        }
    }

    /// Waits (at most `limit`) for the process to end and asserts it succeeded.
    pub fn finish(mut self, limit: Duration) -> String {
        let mut child = self.child.take().expect("not yet waited for");
        let deadline = Instant::now() + limit;
        while child.try_wait().expect("polling a child").is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("`{}` still ran after {limit:?}", self.what);
            }
            thread::sleep(Duration::from_millis(20));
        }
        let mut rest = String::new();
        if let Some(mut r) = self.stdout.take() {
            let _ = std::io::Read::read_to_string(&mut r, &mut rest);
        }
        let out = child
            .wait_with_output()
            .expect("collecting a child's output");
        let stdout_rest = Output {
            stdout: rest.into_bytes(),
            ..out
        };
        checked(&[&self.what], &stdout_rest)
    }

    /// Sends SIGINT (as Ctrl-C would) and returns everything the process printed.
    pub fn interrupt(mut self) -> (String, String) {
        let mut child = self.child.take().expect("not yet waited for");
        end(&mut child, libc::SIGINT);
        let mut stdout = String::new();
        if let Some(mut r) = self.stdout.take() {
            let _ = std::io::Read::read_to_string(&mut r, &mut stdout);
        }
        let out = child
            .wait_with_output()
            .expect("collecting a child's output");
        (stdout, String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            end(&mut child, libc::SIGTERM);
        }
    }
}

/// Stops a [`Background`] process: `signal` to `timeout`, which passes it on to the command;
/// then SIGKILL to whatever is left of the process group (after a grace period if `timeout` is
/// still running), since a command that ignores `signal`, or that `timeout` left behind, would
/// keep running and hold its namespace alive.
fn end(child: &mut Child, signal: libc::c_int) {
    let pid = libc::pid_t::try_from(child.id()).expect("a pid fits pid_t");
    // SAFETY: kill has no memory preconditions; the pid is our own child, not yet reaped.
    unsafe { libc::kill(pid, signal) };
    let deadline = Instant::now() + Duration::from_secs(5);
    while !has_exited(child.id()) && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: as above; -pid is the process group the child leads (spawned with
    // `process_group(0)`). The child is not reaped yet, so the group id cannot have been reused.
    unsafe { libc::kill(-pid, libc::SIGKILL) };
    let _ = child.wait();
}

/// True once our child `pid` has ended; it is left unreaped, so its pid stays ours.
fn has_exited(pid: u32) -> bool {
    // SAFETY: siginfo_t is plain data, valid when zeroed.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: `info` outlives the call; WNOWAIT leaves the child to `Child::wait`.
    let rc = unsafe {
        libc::waitid(
            libc::P_PID,
            pid,
            &raw mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    // With WNOHANG a running child leaves si_pid at zero; an error means nothing to wait for.
    // SAFETY: si_pid reads the field waitid filled (or the zero we put there).
    rc != 0 || unsafe { info.si_pid() } != 0
}

/// tcpdump on the sensor's interface, inbound only: exactly what the XDP program sees.
pub struct SensorCapture {
    /// tcpdump, printing one line per frame.
    process: Background,
}

impl SensorCapture {
    /// Starts capturing and returns once tcpdump listens.
    pub fn start(lab: &Lab) -> Self {
        let mut process = Background::spawn(
            lab.sensor_ns(),
            &[
                "tcpdump",
                "-Q",
                "in",
                "-nn",
                "-e",
                "-l",
                "-i",
                lab.sensor_if(),
                "--immediate-mode",
            ],
        );
        // Its statistics are of no interest here; the thread ends with tcpdump.
        drop(wait_until_listening(&mut process));
        Self { process }
    }

    /// Stops the capture and returns one line per frame seen.
    pub fn stop(self) -> Vec<String> {
        // Frames already handed to the capture socket are printed before tcpdump exits on SIGINT.
        thread::sleep(Duration::from_millis(200));
        let (stdout, _) = self.process.interrupt();
        // tcpdump ends its output with an empty line when interrupted.
        stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// Waits until tcpdump says "listening on ..." on stderr, which it does once its socket is
/// bound: a frame sent before then would be missed. Then keeps draining stderr so tcpdump never
/// blocks on a full pipe; the thread returns the rest of it (tcpdump's closing statistics).
fn wait_until_listening(process: &mut Background) -> thread::JoinHandle<String> {
    let stderr = process
        .child
        .as_mut()
        .and_then(|c| c.stderr.take())
        .expect("stderr piped");
    let mut stderr = BufReader::new(stderr);
    let mut line = String::new();
    loop {
        line.clear();
        match stderr.read_line(&mut line) {
            Ok(0) | Err(_) => panic!("tcpdump ended before listening: {line}"),
            Ok(_) if line.contains("listening on") => break,
            Ok(_) => {}
        }
    }
    thread::spawn(move || {
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut rest);
        rest
    })
}

/// tcpdump writing what arrives on the sensor's interface (inbound only, as the XDP program
/// sees it) to a pcap file, for `probe replay`.
pub struct PcapCapture {
    /// tcpdump -w.
    process: Background,
    /// The rest of tcpdump's stderr, ending with how many packets it captured and dropped.
    stderr: thread::JoinHandle<String>,
    /// The capture file.
    path: PathBuf,
}

impl PcapCapture {
    /// Starts writing to `path` and returns once tcpdump listens.
    pub fn start(lab: &Lab, path: &std::path::Path) -> Self {
        Self::start_with(lab, path, &[])
    }

    /// [`PcapCapture::start`] on another interface of the sensor's namespace (its `lo`).
    pub fn start_on(lab: &Lab, iface: &str, path: &std::path::Path) -> Self {
        Self::start_with(lab, path, &["-i", iface])
    }

    /// As [`PcapCapture::start`], with `options` for tcpdump after the usual ones. tcpdump
    /// keeps the last `-i`, `-s` and `-y` it is given, so `["-s", "64"]` cuts every frame to 64
    /// bytes, and `["-i", "any", "-y", "LINUX_SLL2"]` records every interface of the sensor's
    /// namespace as Linux cooked v2.
    pub fn start_with(lab: &Lab, path: &std::path::Path, options: &[&str]) -> Self {
        let file = path.to_str().expect("a UTF-8 capture path");
        let mut argv = vec![
            "tcpdump",
            "-Q",
            "in",
            "-i",
            lab.sensor_if(),
            // Every frame handed over at once: without it, frames still in a partly filled
            // ring block when tcpdump is interrupted are never written.
            "--immediate-mode",
            // In immediate mode the ring has one slot per snapshot length: the default
            // (256 KiB) leaves 8 slots in the default 2 MiB buffer, and a scan's burst
            // overflows them. Lab frames are at most 1514 bytes.
            "-s",
            "2048",
            "-B",
            "8192",
            // Each packet is written as it arrives, not when a buffer fills.
            "-U",
            "-w",
            file,
        ];
        argv.extend_from_slice(options);
        let mut process = Background::spawn(lab.sensor_ns(), &argv);
        let stderr = wait_until_listening(&mut process);
        Self {
            process,
            stderr,
            path: path.to_owned(),
        }
    }

    /// Stops the capture (tcpdump writes what it holds on SIGINT) and returns the file; panics
    /// if tcpdump says the kernel dropped packets, since then the capture is not what the probe
    /// saw.
    pub fn stop(self) -> PathBuf {
        // Frames already handed to the capture socket are written before tcpdump exits.
        thread::sleep(Duration::from_millis(200));
        let _ = self.process.interrupt();
        let stats = self.stderr.join().unwrap_or_default();
        assert!(
            stats
                .lines()
                .any(|l| l.trim() == "0 packets dropped by kernel"),
            "the capture lost packets:\n{stats}"
        );
        self.path
    }
}

/// The far attacker's address: a third namespace behind the attacker namespace, which routes
/// for it, so its packets reach the sensor one hop later (TTL one lower) than the attacker's.
///
/// ```text
/// [far netns] pf<id> ── pr<id> [attacker netns, forwarding] pa<id> ── ps<id> [sensor]
///  198.18.2.2/24          198.18.2.1/24
///  routes 198.18.0.0/24 and 198.18.1.0/24 via 198.18.2.1
/// ```
pub const FAR_V4: &str = "198.18.2.2";
/// The attacker's address on the far link (the far namespace's gateway).
pub const FAR_GATEWAY_V4: &str = "198.18.2.1";
/// The far namespace's MAC.
pub const FAR_MAC: &str = "02:00:00:00:00:04";
/// The attacker's MAC on the far link.
pub const FAR_GATEWAY_MAC: &str = "02:00:00:00:00:03";

/// A namespace one router (the attacker namespace) further from the sensor: a second sender
/// with a different hop count. Dropping it removes the namespace and its link (in either order
/// with the [`Lab`]: deleting either namespace destroys the veth pair).
pub struct FarAttacker {
    ns: Netns,
    iface: String,
}

impl FarAttacker {
    /// Adds the far namespace to `lab` and makes the attacker namespace route for it.
    pub fn new(lab: &Lab) -> Self {
        let id = unique_id();
        let ns = Netns::create(format!("probe-it-{id}-f"));
        let iface = format!("pf{id}");
        let router_if = format!("pr{id}");
        assert!(
            router_if.len() <= 15,
            "interface name {router_if} is longer than IFNAMSIZ allows"
        );
        ip(&format!(
            "-n {} link add {router_if} type veth peer name {iface} netns {}",
            lab.attacker_ns(),
            ns.name
        ));
        configure_quietly(&End {
            ns: &ns.name,
            iface: &iface,
            mac: FAR_MAC,
            v4: FAR_V4,
            v6: "2001:db8:2::2",
            peer_mac: FAR_GATEWAY_MAC,
            peer_v4: FAR_GATEWAY_V4,
            peer_v6: "2001:db8:2::1",
        });
        configure_quietly(&End {
            ns: lab.attacker_ns(),
            iface: &router_if,
            mac: FAR_GATEWAY_MAC,
            v4: FAR_GATEWAY_V4,
            v6: "2001:db8:2::1",
            peer_mac: FAR_MAC,
            peer_v4: FAR_V4,
            peer_v6: "2001:db8:2::2",
        });
        for net in ["198.18.0.0/24", "198.18.1.0/24"] {
            ip(&format!(
                "-n {} route add {net} via {FAR_GATEWAY_V4} dev {iface}",
                ns.name
            ));
        }
        // Forward, and do not drop forged sources (decoys) for arriving on the "wrong" link.
        ip(&format!(
            "netns exec {} sysctl -q -w net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 \
             net.ipv4.conf.{router_if}.rp_filter=0",
            lab.attacker_ns()
        ));
        Self { ns, iface }
    }

    /// Sends raw frames from the far namespace with scapy, as [`Lab::send_frames`] does from
    /// the attacker's; `eth(**fields)` here addresses the attacker (the far side's router).
    pub fn send_frames(&self, frames: &str) -> Vec<usize> {
        send_frames_from(&self.ns.name, &self.iface, FAR_MAC, FAR_GATEWAY_MAC, frames)
    }
}

/// Sends the frames of the Python expression `frames` with scapy from `iface` in namespace
/// `ns`; `eth(**fields)` is an `Ether` from `mac` to `peer_mac`. Returns the frames' lengths.
fn send_frames_from(ns: &str, iface: &str, mac: &str, peer_mac: &str, frames: &str) -> Vec<usize> {
    let program = format!(
        r#"
import json, logging
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import *
conf.verb = 0
ATTACKER_V4, SENSOR_V4 = "{ATTACKER_V4}", "{SENSOR_V4}"
ATTACKER_V6, SENSOR_V6 = "{ATTACKER_V6}", "{SENSOR_V6}"
def eth(**fields):
    return Ether(src="{mac}", dst="{peer_mac}", **fields)
frames = [bytes(f) for f in ({frames})]
sendp([Raw(f) for f in frames], iface="{iface}", verbose=False)
print(json.dumps([len(f) for f in frames]))
"#
    );
    let argv = [python(), "-c".to_owned(), program];
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let out = checked(&argv, &in_netns(ns, &argv));
    let last = out.lines().last().unwrap_or_default();
    serde_json::from_str(last)
        .unwrap_or_else(|e| panic!("scapy printed no frame lengths ({e}); stdout:\n{out}"))
}

/// The sensor's address on the [`SecondLink`].
///
/// ```text
/// [attacker netns] pa<id> ── ps<id> [sensor netns]   (the lab's link)
///                  pb<id> ── pt<id>                   (the second link)
///               198.18.6.2/24   198.18.6.1/24
/// ```
pub const SECOND_SENSOR_V4: &str = "198.18.6.1";
/// The attacker's address on the second link.
pub const SECOND_ATTACKER_V4: &str = "198.18.6.2";
const SECOND_SENSOR_MAC: &str = "02:00:00:00:00:05";
const SECOND_ATTACKER_MAC: &str = "02:00:00:00:00:06";

/// A second veth pair between the lab's attacker and sensor namespaces: a sensor with two
/// interfaces, for a daemon that watches both. Dropping it deletes the pair (deleting either
/// namespace does too).
pub struct SecondLink {
    sensor_ns: String,
    sensor_if: String,
    attacker_ns: String,
    attacker_if: String,
    deleted: std::cell::Cell<bool>,
}

impl SecondLink {
    /// Adds the pair to `lab`, configured like the lab's own (quiet: no ARP, no router
    /// solicitations, static neighbours).
    pub fn new(lab: &Lab) -> Self {
        let id = unique_id();
        let link = Self {
            sensor_ns: lab.sensor_ns().to_owned(),
            sensor_if: format!("pt{id}"),
            attacker_ns: lab.attacker_ns().to_owned(),
            attacker_if: format!("pb{id}"),
            deleted: std::cell::Cell::new(false),
        };
        assert!(
            link.sensor_if.len() <= 15,
            "interface name {} is longer than IFNAMSIZ allows",
            link.sensor_if
        );
        ip(&format!(
            "-n {} link add {} type veth peer name {} netns {}",
            link.attacker_ns, link.attacker_if, link.sensor_if, link.sensor_ns
        ));
        configure_quietly(&End {
            ns: &link.sensor_ns,
            iface: &link.sensor_if,
            mac: SECOND_SENSOR_MAC,
            v4: SECOND_SENSOR_V4,
            v6: "2001:db8:6::1",
            peer_mac: SECOND_ATTACKER_MAC,
            peer_v4: SECOND_ATTACKER_V4,
            peer_v6: "2001:db8:6::2",
        });
        configure_quietly(&End {
            ns: &link.attacker_ns,
            iface: &link.attacker_if,
            mac: SECOND_ATTACKER_MAC,
            v4: SECOND_ATTACKER_V4,
            v6: "2001:db8:6::2",
            peer_mac: SECOND_SENSOR_MAC,
            peer_v4: SECOND_SENSOR_V4,
            peer_v6: "2001:db8:6::1",
        });
        link
    }

    /// The sensor's end, for the probe to watch.
    pub fn sensor_if(&self) -> &str {
        &self.sensor_if
    }

    /// Sends raw frames from the attacker's end with scapy, as [`Lab::send_frames`] does;
    /// `eth(**fields)` here addresses the sensor's second interface.
    pub fn send_frames(&self, frames: &str) -> Vec<usize> {
        send_frames_from(
            &self.attacker_ns,
            &self.attacker_if,
            SECOND_ATTACKER_MAC,
            SECOND_SENSOR_MAC,
            frames,
        )
    }

    /// Deletes the pair now (an interface that goes away under the probe).
    pub fn delete(&self) {
        ip(&format!(
            "-n {} link del {}",
            self.sensor_ns, self.sensor_if
        ));
        self.deleted.set(true);
    }
}

impl Drop for SecondLink {
    fn drop(&mut self) {
        if !self.deleted.get() && namespace_exists(&self.sensor_ns) {
            let _ = Command::new("ip")
                .args(["-n", &self.sensor_ns, "link", "del", &self.sensor_if])
                .output();
        }
    }
}
