//! `cargo xtask build-and-run`: set up, build in release, then replace this process with the
//! daemon, so Ctrl-C and SIGTERM reach it directly and its exit code is the command's.
use std::{os::unix::process::CommandExt as _, process::Command};

use anyhow::{Context as _, Result, bail};

use crate::{build, setup, target_dir};

pub const LONG_ABOUT: &str = "\
Set up (all steps), build the daemon in release and run it as
  <target>/release/probe run --iface IF [DAEMON ARGS...]

Must run as root (the daemon loads and attaches an XDP program):
  sudo -E env \"PATH=$PATH\" cargo xtask build-and-run --iface eth0

Without --iface the interface of the default route is used (IPv4, else IPv6), and the command \
says which. Anything after `--` goes to `probe run`, e.g.
  cargo xtask build-and-run --iface veth0 -- --mode skb --interval 5s

xtask is replaced by the daemon, so Ctrl-C stops the daemon and its exit code is returned.";

#[derive(clap::Args)]
pub struct Args {
    /// Interface to attach the probe to [default: the default route's interface]
    #[arg(long, value_name = "IF")]
    pub iface: Option<String>,
    /// Arguments for `probe run`, after `--` (e.g. `-- --mode skb --interval 5s`)
    #[arg(last = true, value_name = "DAEMON ARGS")]
    pub daemon_args: Vec<String>,
}

pub fn run(args: &Args) -> Result<()> {
    if !crate::is_root() {
        bail!(
            "build-and-run must run as root, since the daemon loads and attaches an XDP program: \
             sudo -E env \"PATH=$PATH\" cargo xtask build-and-run ..."
        );
    }
    let iface = if let Some(iface) = &args.iface {
        iface.clone()
    } else {
        let iface = default_route_iface().context(
            "no --iface given and no default route to take the interface from; pass --iface IF",
        )?;
        println!("build-and-run: no --iface given, using {iface} (the default route's interface)");
        iface
    };
    setup::run(setup::Scope::All)?;
    build::daemon(true)?;

    let bin = target_dir().join("release").join("probe");
    let mut cmd = Command::new(&bin);
    cmd.args(["run", "--iface", &iface]).args(&args.daemon_args);
    println!("build-and-run: {}", crate::command_line(&cmd));
    // exec only returns on failure.
    let err = cmd.exec();
    Err(err).with_context(|| format!("starting the daemon {} failed", bin.display()))
}

/// The interface of the default route: IPv4 from `/proc/net/route`, else IPv6.
fn default_route_iface() -> Option<String> {
    let v4 = std::fs::read_to_string("/proc/net/route").ok();
    v4.as_deref().and_then(default_iface_v4).or_else(|| {
        let v6 = std::fs::read_to_string("/proc/net/ipv6_route").ok()?;
        default_iface_v6(&v6)
    })
}

const RTF_UP: u32 = 0x0001;
const RTF_REJECT: u32 = 0x0200;

/// From `/proc/net/route` (`Iface Destination Gateway Flags RefCnt Use Metric Mask ...`, hex):
/// the up route to 00000000/00000000 with the lowest metric.
fn default_iface_v4(table: &str) -> Option<String> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let &[
                iface,
                dest,
                _gateway,
                flags,
                _refcnt,
                _use,
                metric,
                mask,
                ..,
            ] = fields.as_slice()
            else {
                return None;
            };
            let flags = u32::from_str_radix(flags, 16).ok()?;
            let usable = dest == "00000000"
                && mask == "00000000"
                && flags & RTF_UP != 0
                && flags & RTF_REJECT == 0;
            usable.then(|| (metric.parse::<u32>().unwrap_or(u32::MAX), iface))
        })
        .min_by_key(|(metric, _)| *metric)
        .map(|(_, iface)| iface.to_owned())
}

/// From `/proc/net/ipv6_route` (`dest plen src plen nexthop metric refcnt use flags iface`, hex):
/// the up route to `::/0` with the lowest metric, skipping the kernel's unreachable entries on lo.
fn default_iface_v6(table: &str) -> Option<String> {
    table
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let &[
                dest,
                plen,
                _src,
                _src_plen,
                _nexthop,
                metric,
                _refcnt,
                _use,
                flags,
                iface,
            ] = fields.as_slice()
            else {
                return None;
            };
            let flags = u32::from_str_radix(flags, 16).ok()?;
            let usable = dest.bytes().all(|b| b == b'0')
                && plen == "00"
                && flags & RTF_UP != 0
                && flags & RTF_REJECT == 0
                && iface != "lo";
            usable.then(|| (u32::from_str_radix(metric, 16).unwrap_or(u32::MAX), iface))
        })
        .min_by_key(|(metric, _)| *metric)
        .map(|(_, iface)| iface.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTE: &str = "\
Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t0011A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
wlan0\t00000000\t0111A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0
eth0\t00000000\t0111A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0
";

    #[test]
    fn v4_default_route_with_lowest_metric_wins() {
        assert_eq!(default_iface_v4(ROUTE).as_deref(), Some("eth0"));
    }

    #[test]
    fn v4_without_default_route_is_none() {
        let table = ROUTE.lines().take(2).collect::<Vec<_>>().join("\n");
        assert_eq!(default_iface_v4(&table), None);
    }

    #[test]
    fn v6_default_route_skips_unreachable_on_lo() {
        let zeros = "00000000000000000000000000000000";
        let table = format!(
            "{zeros} 00 {zeros} 00 {zeros} ffffffff 00000001 00000000 00200200       lo\n\
             {zeros} 00 {zeros} 00 fe800000000000000000000000000001 00000400 00000001 \
             00000000 00450003     ens3\n"
        );
        assert_eq!(default_iface_v6(&table).as_deref(), Some("ens3"));
    }
}
