//! `probe detach`: removes the probe a dead daemon left attached (its pinned link and maps).

use std::{os::unix::fs::MetadataExt as _, process::ExitCode};

use anyhow::Context as _;

use crate::pins::{self, Pins};

/// Arguments of `probe detach`.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub struct DetachArgs {
    /// The interface the probe was attached to (in this network namespace).
    #[arg(long, value_name = "IF")]
    pub iface: Option<String>,
    /// Instead: remove what daemons left pinned for network namespaces that no longer exist
    /// (their interfaces went with them). A namespace counts as existing while a process is
    /// in it or a mount in view keeps it.
    #[arg(long)]
    pub stale: bool,
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
             is hidden here; run `nsenter --net=/run/netns/NAME probe detach --iface IF` \
             instead (as root, in the root mount namespace)",
            pins::BPFFS,
        );
    }
    let Some(iface) = &args.iface else {
        return stale();
    };
    let p = Pins::for_iface(iface).context("finding this network namespace")?;
    if !p.dir().exists() {
        println!("nothing pinned for {iface} in this network namespace");
        return Ok(ExitCode::SUCCESS);
    }
    let had_link = p.has_link();
    p.remove()
        .with_context(|| format!("removing {} (are you root?)", p.dir().display()))?;
    if had_link {
        println!(
            "detached the probe from {iface} and removed its counters (a daemon still running on it keeps it until it exits)"
        );
    } else {
        println!("removed leftover counters of {iface} (no program was attached)");
    }
    Ok(ExitCode::SUCCESS)
}

/// `probe detach --stale`: removes the pins of namespaces that are gone, naming each.
fn stale() -> anyhow::Result<ExitCode> {
    let dirs = pins::stale().with_context(|| format!("reading {}/probe", pins::BPFFS))?;
    if dirs.is_empty() {
        println!("nothing pinned for a network namespace that no longer exists");
    }
    for dir in &dirs {
        std::fs::remove_dir_all(dir)
            .with_context(|| format!("removing {} (are you root?)", dir.display()))?;
        println!(
            "removed {}: its network namespace no longer exists",
            dir.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
