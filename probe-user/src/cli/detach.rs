//! `probe detach`: removes the probe a dead daemon left attached (its pinned link and maps).

use std::{os::unix::fs::MetadataExt as _, process::ExitCode};

use anyhow::Context as _;

use crate::pins::{self, Pins};

/// Arguments of `probe detach`.
#[derive(Debug, clap::Args)]
pub struct DetachArgs {
    /// The interface the probe was attached to.
    #[arg(long, value_name = "IF")]
    pub iface: String,
}

/// True when the bpffs at /sys/fs/bpf here is known to be another instance than init's (when
/// init's mounts can be read through `/proc/1/root`).
fn another_bpffs() -> bool {
    let dev = |path: &str| std::fs::metadata(path).map(|m| m.dev()).ok();
    matches!(
        (dev(pins::BPFFS), dev("/proc/1/root/sys/fs/bpf")),
        (Some(here), Some(init)) if here != init
    )
}

pub fn run(args: &DetachArgs) -> anyhow::Result<ExitCode> {
    // Where the daemons' bpffs is not in view (`ip netns exec` mounts its own /sys, without
    // it or with a fresh empty one), looking would only find nothing, and say so wrongly.
    if !pins::bpffs_mounted() || another_bpffs() {
        anyhow::bail!(
            "the bpffs the daemons pin in is not in view at {}: this process has mounts of its \
             own (as under `ip netns exec`, which mounts its own /sys), so what a daemon pinned \
             is hidden here; run `nsenter --net=/run/netns/NAME probe detach --iface {}` \
             instead (as root, in the root mount namespace)",
            pins::BPFFS,
            args.iface
        );
    }
    let p = Pins::for_iface(&args.iface).context("finding this network namespace")?;
    if !p.dir().exists() {
        println!(
            "nothing pinned for {} in this network namespace",
            args.iface
        );
        return Ok(ExitCode::SUCCESS);
    }
    let had_link = p.has_link();
    p.remove()
        .with_context(|| format!("removing {} (are you root?)", p.dir().display()))?;
    if had_link {
        println!(
            "detached the probe from {} and removed its counters (a daemon still running on it keeps it until it exits)",
            args.iface
        );
    } else {
        println!(
            "removed leftover counters of {} (no program was attached)",
            args.iface
        );
    }
    Ok(ExitCode::SUCCESS)
}
