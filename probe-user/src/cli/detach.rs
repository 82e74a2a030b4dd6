//! `probe detach`: removes the probe a dead daemon left attached (its pinned link and maps).

use std::process::ExitCode;

use anyhow::Context as _;

use crate::pins::{self, Bpffs, Pins};

/// Arguments of `probe detach`.
#[derive(Debug, clap::Args)]
pub struct DetachArgs {
    /// The interface the probe was attached to.
    #[arg(long, value_name = "IF")]
    pub iface: String,
}

pub fn run(args: &DetachArgs) -> anyhow::Result<ExitCode> {
    if pins::ensure_bpffs() == Bpffs::Unavailable {
        anyhow::bail!(
            "no bpffs at {}: nothing can be pinned there, so there is nothing to detach",
            pins::BPFFS
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
