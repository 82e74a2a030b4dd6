//! `cargo xtask setup`: installs what the build and the tests need, one progress line per step.
//! Every step checks first and does nothing when its piece is present, so a second run is fast.
use std::{
    io::Write as _,
    path::Path,
    process::{Command, Stdio},
    time::Instant,
};

use anyhow::{Context as _, Result, bail};

use crate::{cargo, command_line, is_root, output_if_installed, run_or};

pub const LONG_ABOUT: &str = "\
Install everything the build and the tests need. Idempotent: each step checks first and prints \
one line saying whether its piece is present or being installed; when all is present it takes \
well under a second.

Steps:
  0. rustfmt and clippy for the host toolchain (the tests check formatting and lints first)
  1. rustup toolchain nightly-2026-05-20 with rust-src (builds the XDP program with -Z build-std)
  2. bpf-linker 0.10.1 via `cargo install --locked` (links the XDP program)
  3. the Debian packages the integration tests use (iproute2, bpftool, nmap, hping3, tshark,
     prometheus, ...)
  4. bpffs mounted at /sys/fs/bpf (the daemon pins its maps there)

Steps 3 and 4 need root. Without root, setup says what is missing and continues, so a developer \
can still build; run `sudo -E env \"PATH=$PATH\" cargo xtask setup` to finish them.";

/// The nightly the XDP program is built with; keep in step with probe-user/ebpf_build.rs.
pub const EBPF_TOOLCHAIN: &str = "nightly-2026-05-20";

/// The bpf-linker that links against the pinned nightly's LLVM (see docs/toolchain notes).
const BPF_LINKER_VERSION: &str = "0.10.1";

/// Debian packages the integration tests and the lab rely on.
const DEBIAN_PACKAGES: &[&str] = &[
    // `ip netns`, `ip link`: the tests' namespaces and veth pairs.
    "iproute2",
    // Inspects loaded programs, maps and pins when a test fails.
    "bpftool",
    // Real SYN/FIN/NULL/XMAS/UDP scans, with decoys.
    "nmap",
    // Crafted TCP/UDP/ICMP packets with chosen flags and TTLs; bounded floods.
    "hping3",
    // UDP 33434+ and ICMP traceroutes.
    "traceroute",
    // Captures for replay tests.
    "tcpdump",
    // Decodes captures to check what the tools really sent.
    "tshark",
    // Everything no tool sends: IP options, VLAN tags, fragments, truncated frames, ICMP codes.
    "python3-scapy",
    // trafgen, for packet-rate benchmarks.
    "netsniff-ng",
    // Completed TCP connections and UDP exchanges between namespaces.
    "ncat",
    // dig: real DNS queries, from chosen source ports.
    "bind9-dnsutils",
    // /etc/services and /etc/protocols, which the tools look names up in.
    "netbase",
    // ICMP and ICMPv6 echo.
    "iputils-ping",
    // nsenter: runs the daemon in the sensor's network namespace, keeping the root bpffs.
    "util-linux",
    // pgrep/pkill/ps for finding and stopping the daemons a test started.
    "procps",
    // A real Prometheus server scrapes the daemon's /metrics in a test; promtool checks the
    // exposition and tests the shipped alerting rules.
    "prometheus",
    // curl: fetches /metrics and asks Prometheus's HTTP API.
    "curl",
    // systemd-analyze verifies the shipped units and rates their sandbox.
    "systemd",
    // A terminal for `probe top` in its lab test: a detached session, read with capture-pane.
    "tmux",
];

/// tshark's package asks whether non-root users may capture; answer it up front.
const DEBCONF_PRESEED: &str = "wireshark-common wireshark-common/install-setuid boolean false\n";

const BPFFS: &str = "/sys/fs/bpf";

/// How much of setup a command needs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The eBPF toolchain: what building needs.
    Toolchain,
    /// Everything, including the test packages and bpffs.
    All,
}

pub fn run(scope: Scope) -> Result<()> {
    let start = Instant::now();
    lint_tools()?;
    toolchain()?;
    bpf_linker()?;
    if scope == Scope::All {
        let root = is_root();
        debian_packages(root)?;
        bpffs(root)?;
    }
    println!("setup: done in {:.2} s", start.elapsed().as_secs_f64());
    Ok(())
}

/// Runs an installing command, showing it first: these are the slow steps worth seeing in a log.
fn install(cmd: &mut Command, advice: &str) -> Result<()> {
    println!("setup:   $ {}", command_line(cmd));
    run_or(cmd, advice)
}

fn step(what: &str, state: &str) {
    println!("setup: {what} ... {state}");
}

/// rustfmt and clippy for the host toolchain: `cargo xtask test` checks both first.
fn lint_tools() -> Result<()> {
    let present = |tool: &str| {
        let mut cmd = cargo();
        cmd.args([tool, "--version"]);
        output_if_installed(&mut cmd).map(|o| o.is_some_and(|o| o.status.success()))
    };
    if present("fmt")? && present("clippy")? {
        step("rustfmt and clippy", "present");
        return Ok(());
    }
    step("rustfmt and clippy", "installing");
    install(
        Command::new("rustup").args(["component", "add", "rustfmt", "clippy"]),
        "adding rustfmt and clippy failed; check network access to static.rust-lang.org",
    )
}

/// What of the pinned nightly is installed.
enum Nightly {
    Absent,
    WithoutRustSrc,
    Ready,
}

fn nightly_state() -> Result<Nightly> {
    let mut cmd = Command::new("rustup");
    cmd.args(["run", EBPF_TOOLCHAIN, "rustc", "--print", "sysroot"]);
    let Some(output) = output_if_installed(&mut cmd)? else {
        bail!(
            "rustup is not on PATH; the XDP program needs a pinned nightly that only rustup \
             installs: get rustup from https://rustup.rs, then run `cargo xtask setup` again"
        );
    };
    // RUSTUP_AUTO_INSTALL=0: an absent toolchain makes `rustup run` fail instead of installing.
    if !output.status.success() {
        return Ok(Nightly::Absent);
    }
    let sysroot = String::from_utf8_lossy(&output.stdout);
    let core = Path::new(sysroot.trim()).join("lib/rustlib/src/rust/library/core");
    Ok(if core.is_dir() {
        Nightly::Ready
    } else {
        Nightly::WithoutRustSrc
    })
}

fn toolchain() -> Result<()> {
    let what = format!("{EBPF_TOOLCHAIN} with rust-src");
    match nightly_state()? {
        Nightly::Ready => {
            step(&what, "present");
            return Ok(());
        }
        Nightly::Absent => {
            step(&what, "installing");
            install(
                Command::new("rustup").args([
                    "toolchain",
                    "install",
                    EBPF_TOOLCHAIN,
                    "--profile",
                    "minimal",
                    "--component",
                    "rust-src",
                ]),
                &format!(
                    "installing the {EBPF_TOOLCHAIN} toolchain failed; check network access to \
                     static.rust-lang.org"
                ),
            )?;
        }
        Nightly::WithoutRustSrc => {
            step(&what, "installing rust-src");
            install(
                Command::new("rustup").args([
                    "component",
                    "add",
                    "rust-src",
                    "--toolchain",
                    EBPF_TOOLCHAIN,
                ]),
                "adding rust-src failed; check network access to static.rust-lang.org",
            )?;
        }
    }
    match nightly_state()? {
        Nightly::Ready => Ok(()),
        Nightly::Absent => bail!(
            "rustup reported success but `rustup run {EBPF_TOOLCHAIN} rustc` still fails; try \
             `rustup toolchain uninstall {EBPF_TOOLCHAIN}` and run setup again"
        ),
        Nightly::WithoutRustSrc => bail!(
            "rust-src of {EBPF_TOOLCHAIN} is still missing after installing it; try `rustup \
             component add rust-src --toolchain {EBPF_TOOLCHAIN}`"
        ),
    }
}

/// The version `bpf-linker --version` reports, `None` if it is not on PATH.
fn bpf_linker_version() -> Result<Option<String>> {
    let Some(output) = output_if_installed(Command::new("bpf-linker").arg("--version"))? else {
        return Ok(None);
    };
    // "bpf-linker 0.10.1"
    let stdout = String::from_utf8_lossy(&output.stdout);
    Ok(Some(
        stdout
            .split_whitespace()
            .nth(1)
            .unwrap_or("of unknown version")
            .to_owned(),
    ))
}

fn bpf_linker() -> Result<()> {
    let what = format!("bpf-linker {BPF_LINKER_VERSION}");
    match bpf_linker_version()? {
        Some(version) if version == BPF_LINKER_VERSION => {
            step(&what, "present");
            return Ok(());
        }
        Some(other) => step(&what, &format!("installing (found {other})")),
        None => step(&what, "installing"),
    }
    install(
        cargo().args([
            "install",
            &format!("bpf-linker@{BPF_LINKER_VERSION}"),
            "--locked",
        ]),
        "installing bpf-linker failed; check network access to crates.io",
    )?;
    match bpf_linker_version()? {
        Some(version) if version == BPF_LINKER_VERSION => Ok(()),
        found => bail!(
            "bpf-linker {BPF_LINKER_VERSION} was installed into cargo's bin directory \
             ($CARGO_HOME/bin, usually ~/.cargo/bin), but the `bpf-linker` on PATH is {}; put \
             that directory first in PATH",
            found.map_or_else(|| "missing".to_owned(), |v| format!("version {v}"))
        ),
    }
}

/// The packages of `wanted` that dpkg does not report as installed; `None` without dpkg-query.
fn missing_packages(wanted: &[&str]) -> Result<Option<Vec<String>>> {
    let mut cmd = Command::new("dpkg-query");
    cmd.args(["-W", "--showformat=${Package}\t${Status}\n"])
        .args(wanted);
    // dpkg-query exits 1 when some package is unknown but still prints the known ones.
    let Some(output) = output_if_installed(&mut cmd)? else {
        return Ok(None);
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    Ok(Some(not_installed(wanted, &stdout)))
}

/// The packages of `wanted` without an "install ok installed" line in dpkg-query's output.
fn not_installed(wanted: &[&str], dpkg_output: &str) -> Vec<String> {
    let installed: Vec<&str> = dpkg_output
        .lines()
        .filter_map(|line| line.split_once('\t'))
        .filter(|(_, status)| status.trim() == "install ok installed")
        // Multi-arch packages may be listed as name:arch.
        .map(|(name, _)| name.split(':').next().unwrap_or(name))
        .collect();
    wanted
        .iter()
        .filter(|package| !installed.contains(package))
        .map(|package| (*package).to_owned())
        .collect()
}

fn debian_packages(root: bool) -> Result<()> {
    let what = format!("{} Debian packages for the tests", DEBIAN_PACKAGES.len());
    let Some(missing) = missing_packages(DEBIAN_PACKAGES)? else {
        step(
            &what,
            &format!(
                "unchecked: dpkg-query not found (not Debian?); install these yourself: {}",
                DEBIAN_PACKAGES.join(" ")
            ),
        );
        return Ok(());
    };
    if missing.is_empty() {
        step(&what, "present");
        return Ok(());
    }
    let list = missing.join(" ");
    if !root {
        step(
            &what,
            &format!(
                "missing: {list}; installing them needs root (sudo -E env \"PATH=$PATH\" cargo \
                 xtask setup); continuing without them"
            ),
        );
        return Ok(());
    }
    step(&what, &format!("installing {list}"));
    if missing.iter().any(|package| package == "tshark") {
        preseed_debconf();
    }
    install(
        apt_get().arg("update"),
        "`apt-get update` failed; check network access to the Debian mirrors",
    )?;
    install(
        apt_get()
            .args(["install", "-y", "--no-install-recommends"])
            .args(&missing),
        &format!("installing the Debian packages {list} failed; see apt-get's output above"),
    )?;
    let still = missing_packages(DEBIAN_PACKAGES)?.unwrap_or_default();
    if !still.is_empty() {
        bail!(
            "apt-get succeeded but these packages are still not installed: {}",
            still.join(" ")
        );
    }
    Ok(())
}

/// apt-get that never asks: no terminal, no debconf questions, keeps changed config files, waits
/// for a running apt instead of failing at once.
fn apt_get() -> Command {
    let mut cmd = Command::new("apt-get");
    cmd.env("DEBIAN_FRONTEND", "noninteractive")
        .args([
            "-q",
            "-o",
            "DPkg::Lock::Timeout=300",
            "-o",
            "Dpkg::Options::=--force-confdef",
            "-o",
            "Dpkg::Options::=--force-confold",
        ])
        .stdin(Stdio::null());
    cmd
}

/// Answers tshark's debconf question before installing. Best effort: with
/// `DEBIAN_FRONTEND=noninteractive` the question is skipped anyway.
fn preseed_debconf() {
    let mut cmd = Command::new("debconf-set-selections");
    cmd.stdin(Stdio::piped());
    let result = cmd.spawn().and_then(|mut child| {
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(DEBCONF_PRESEED.as_bytes())?;
        }
        child.wait()
    });
    match result {
        Ok(status) if status.success() => {}
        Ok(status) => println!("setup: note: `{}` failed ({status})", command_line(&cmd)),
        Err(err) => println!("setup: note: could not run `{}`: {err}", command_line(&cmd)),
    }
}

/// Whether /proc/mounts lists a bpf filesystem at [`BPFFS`].
fn bpffs_mounted(mounts: &str) -> bool {
    mounts.lines().any(|line| {
        let mut fields = line.split_whitespace().skip(1);
        fields.next() == Some(BPFFS) && fields.next() == Some("bpf")
    })
}

fn bpffs(root: bool) -> Result<()> {
    let what = format!("bpffs at {BPFFS}");
    let mounts = std::fs::read_to_string("/proc/mounts").context("reading /proc/mounts failed")?;
    if bpffs_mounted(&mounts) {
        step(&what, "present");
        return Ok(());
    }
    if !root {
        step(
            &what,
            &format!(
                "not mounted; mounting it needs root (sudo mount -t bpf bpf {BPFFS}); continuing \
                 without it"
            ),
        );
        return Ok(());
    }
    step(&what, "mounting");
    install(
        Command::new("mount").args(["-t", "bpf", "bpf", BPFFS]),
        "mounting bpffs failed; the kernel needs CONFIG_BPF_SYSCALL, and a container needs a \
         writable /sys",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages_not_installed_are_missing() {
        let out = "iproute2\tinstall ok installed\nnmap\tdeinstall ok config-files\n\
                   util-linux:amd64\tinstall ok installed\n";
        assert_eq!(
            not_installed(&["iproute2", "nmap", "tshark", "util-linux"], out),
            ["nmap", "tshark"]
        );
    }

    #[test]
    fn bpffs_is_found_only_as_bpf_at_its_path() {
        assert!(bpffs_mounted(
            "sysfs /sys sysfs rw 0 0\nbpf /sys/fs/bpf bpf rw,relatime 0 0\n"
        ));
        assert!(!bpffs_mounted("sysfs /sys sysfs rw 0 0\n"));
        assert!(!bpffs_mounted("tmpfs /sys/fs/bpf tmpfs rw 0 0\n"));
    }

    #[test]
    fn the_package_list_has_no_duplicates() {
        let mut sorted = DEBIAN_PACKAGES.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), DEBIAN_PACKAGES.len());
    }
}
