//! `probe top`: a live, full-screen view of the running daemon.

use std::{io::IsTerminal as _, path::PathBuf, process::ExitCode, time::Duration};

use crate::{daemon::DEFAULT_SOCKET, duration, top::screen};

/// The shortest `--interval`: each refresh asks the daemon one query per pane.
const MIN_REFRESH: Duration = Duration::from_millis(100);

/// Arguments of `probe top`. The daemon watches one interface, and its answers do not name
/// it: there is no `--iface`; `--socket` chooses the daemon.
#[derive(Debug, clap::Args)]
pub struct TopArgs {
    /// The daemon's socket.
    #[arg(long, value_name = "PATH", default_value = DEFAULT_SOCKET)]
    pub socket: PathBuf,
    /// Time between refreshes (like 500ms, 1s, 5s; from 100ms to 1h). Each refresh asks the
    /// daemon one query per pane; rates are per second whatever the interval.
    #[arg(long, default_value = "1s", value_parser = refresh)]
    pub interval: Duration,
    /// No colour: levels show only as marks (!!! hostile, !! suspicious, ! notable). Also
    /// when the NO_COLOR environment variable is set.
    #[arg(long, visible_alias = "mono")]
    pub no_color: bool,
}

fn refresh(text: &str) -> Result<Duration, String> {
    let d = duration::parse(text)?;
    if d < MIN_REFRESH || d > duration::MAX_INTERVAL {
        return Err(format!(
            "{text:?} is outside the refresh intervals probe top takes: give 100ms to 1h"
        ));
    }
    Ok(d)
}

/// True when colour is wanted: not `--no-color`, and NO_COLOR unset or empty
/// (<https://no-color.org>).
pub fn wants_color(no_color: bool, no_color_env: Option<&std::ffi::OsStr>) -> bool {
    !no_color && no_color_env.is_none_or(std::ffi::OsStr::is_empty)
}

pub fn run(args: &TopArgs) -> anyhow::Result<ExitCode> {
    if !std::io::stdout().is_terminal() {
        anyhow::bail!(
            "probe top draws on a terminal and standard output is not one: for a script or a pipe, use `probe query` (stats, ports, sources, findings, icmp; --json)"
        );
    }
    screen::run(&screen::Options {
        socket: args.socket.clone(),
        interval: args.interval,
        color: wants_color(args.no_color, std::env::var_os("NO_COLOR").as_deref()),
    })?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;

    use clap::Parser as _;

    use super::*;
    use crate::cli::{Cli, Command};

    fn parse(extra: &[&str]) -> Result<TopArgs, String> {
        let mut argv = vec!["probe", "top"];
        argv.extend_from_slice(extra);
        match Cli::try_parse_from(argv)
            .map_err(|e| e.to_string())?
            .command
        {
            Command::Top(t) => Ok(t),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn top_takes_a_socket_an_interval_and_a_monochrome_switch() {
        let t = parse(&[]).unwrap();
        assert_eq!(
            (t.socket, t.interval, t.no_color),
            (PathBuf::from(DEFAULT_SOCKET), Duration::from_secs(1), false)
        );
        let t = parse(&["--socket", "/tmp/p.sock", "--interval", "250ms", "--mono"]).unwrap();
        assert_eq!(
            (t.socket, t.interval, t.no_color),
            (
                PathBuf::from("/tmp/p.sock"),
                Duration::from_millis(250),
                true
            )
        );
        assert!(parse(&["--no-color"]).unwrap().no_color);
        let error = parse(&["--interval", "10ms"]).unwrap_err();
        assert!(
            error.starts_with(
                "error: invalid value '10ms' for '--interval <INTERVAL>': \"10ms\" is outside the refresh intervals probe top takes: give 100ms to 1h"
            ),
            "{error}"
        );
        // The daemon's answers name no interface: there is nothing for --iface to choose.
        assert!(parse(&["--iface", "eth0"]).is_err());
    }

    #[test]
    fn no_color_in_the_environment_turns_colour_off_unless_empty() {
        assert!(wants_color(false, None));
        assert!(wants_color(false, Some(OsStr::new(""))));
        assert!(!wants_color(false, Some(OsStr::new("1"))));
        assert!(!wants_color(true, None));
    }
}
