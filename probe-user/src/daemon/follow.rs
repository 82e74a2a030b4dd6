//! Following the interface: say when it goes down, is deleted or comes back, and with
//! `--follow` attach again to a new interface of the same name.

use aya::{Ebpf, programs::links::PinnedLink};

use super::Config;
use crate::{error::Chain, iface, loader, pins::Pins};

/// The interface's last known state and the index the probe is attached to.
pub struct Follow {
    state: iface::State,
    attached_index: Option<u32>,
}

impl Follow {
    pub fn new(name: &str) -> Self {
        let state = iface::state(name);
        Self {
            state,
            attached_index: state.index(),
        }
    }

    /// Looks at the interface again and acts on a change.
    pub fn check(
        &mut self,
        name: &str,
        config: &Config,
        ebpf: &mut Ebpf,
        pinned_link: &mut Option<PinnedLink>,
        pins: Option<&Pins>,
    ) {
        let now = iface::state(name);
        if now != self.state {
            self.changed(name, config, ebpf, pinned_link, pins, now);
            self.state = now;
        }
    }

    fn changed(
        &mut self,
        name: &str,
        config: &Config,
        ebpf: &mut Ebpf,
        pinned_link: &mut Option<PinnedLink>,
        pins: Option<&Pins>,
        now: iface::State,
    ) {
        match now {
            iface::State::Gone => {
                let next = if config.follow {
                    "waiting for it to come back (--follow)"
                } else {
                    "nothing more will be counted; restart the probe or run it with --follow"
                };
                log::warn!(
                    "{name} was deleted: the probe is detached from it; still serving queries; {next}"
                );
            }
            iface::State::Down { .. } => {
                log::warn!(
                    "{name} is down: no traffic to count until it is up; still serving queries"
                );
            }
            iface::State::Up { index } if self.attached_index == Some(index) => {
                log::info!("{name} is up again");
            }
            iface::State::Up { index } => {
                if !config.follow {
                    log::warn!(
                        "{name} is back (a new interface with the same name); the probe is not attached to it without --follow"
                    );
                    return;
                }
                match loader::reattach(ebpf, pinned_link, name, config.mode, pins) {
                    Ok(mode) => {
                        self.attached_index = Some(index);
                        log::info!(
                            "{name} is back: attached again ({mode} XDP); counting continues in the same maps"
                        );
                    }
                    Err(e) => {
                        log::error!("{name} is back, but attaching again failed: {}", Chain(&e));
                    }
                }
            }
        }
    }
}
