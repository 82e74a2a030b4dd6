//! `probe top`: a live, full-screen view of the running daemon.

use std::{io::IsTerminal as _, path::PathBuf, process::ExitCode, time::Duration};

use crate::{daemon::DEFAULT_SOCKET, duration, top::screen};

/// The shortest `--interval`: each refresh asks the daemon one query per pane.
const MIN_REFRESH: Duration = Duration::from_millis(100);

/// Arguments of `probe top`. A daemon watches one interface (its `stats` answer names it, and
/// the header shows it): `--iface` chooses the daemon of that interface by the socket
/// `probe@IFACE` gives it, `--socket` any daemon.
#[derive(Debug, clap::Args)]
pub struct TopArgs {
    /// The daemon's socket.
    #[arg(long, value_name = "PATH", default_value = DEFAULT_SOCKET, conflicts_with = "iface")]
    pub socket: PathBuf,
    /// The daemon watching IF, at /run/probe/IF.sock (the socket of `probe@IF.service`,
    /// docs/operations.md); instead of --socket.
    #[arg(long, value_name = "IF", value_parser = iface_name)]
    pub iface: Option<String>,
    /// Time between refreshes (like 500ms, 1s, 5s; from 100ms to 1h). Each refresh asks the
    /// daemon one query per pane; rates are per second whatever the interval.
    #[arg(long, default_value = "1s", value_parser = refresh)]
    pub interval: Duration,
    /// No colour: levels show only as marks (!!! hostile, !! suspicious, ! notable). Also
    /// when the NO_COLOR environment variable is set.
    #[arg(long, visible_alias = "mono")]
    pub no_color: bool,
}

/// An interface name as a socket's file name may hold it: no `/`, no `..`, 1 to 15 bytes (the
/// kernel's limit).
pub(crate) fn iface_name(text: &str) -> Result<String, String> {
    if text.is_empty() || text.len() > 15 || text.contains('/') || text == "." || text == ".." {
        return Err(format!(
            "{text:?} is not an interface name (`ip link` lists them)"
        ));
    }
    Ok(text.to_owned())
}

impl TopArgs {
    /// The socket to ask: `--iface`'s daemon's, else `--socket`.
    pub fn socket(&self) -> PathBuf {
        self.iface.as_ref().map_or_else(
            || self.socket.clone(),
            |i| PathBuf::from(format!("/run/probe/{i}.sock")),
        )
    }
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
        socket: args.socket(),
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
    }

    #[test]
    fn no_color_in_the_environment_turns_colour_off_unless_empty() {
        assert!(wants_color(false, None));
        assert!(wants_color(false, Some(OsStr::new(""))));
        assert!(!wants_color(false, Some(OsStr::new("1"))));
        assert!(!wants_color(true, None));
    }

    #[test]
    fn iface_chooses_the_daemon_of_that_interface_and_is_checked() {
        assert_eq!(
            parse(&["--iface", "eth1"]).unwrap().socket(),
            PathBuf::from("/run/probe/eth1.sock")
        );
        assert_eq!(parse(&[]).unwrap().socket(), PathBuf::from(DEFAULT_SOCKET));
        assert!(
            parse(&["--iface", "../etc"])
                .unwrap_err()
                .contains("is not an interface name")
        );
        assert!(parse(&["--iface", "eth1", "--socket", "/tmp/x"]).is_err());
    }
}
