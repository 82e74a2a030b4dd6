//! `probe top`: a live, full-screen view of the running daemon.

use std::{io::IsTerminal as _, path::PathBuf, process::ExitCode, time::Duration};

use crate::{daemon::DEFAULT_SOCKET, duration, top::screen};

/// The shortest `--interval`: each refresh asks the daemon one query per pane.
const MIN_REFRESH: Duration = Duration::from_millis(100);

/// Arguments of `probe top`. The header names the interfaces the daemon watches. `--iface`
/// chooses one: the daemon `probe@IFACE` runs for it when its socket is there, else that
/// interface of the daemon at `--socket` (one watching several).
#[derive(Debug, clap::Args)]
pub struct TopArgs {
    /// The daemon's socket [default: /run/probe/probe.sock].
    #[arg(long, value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Only interface IF: the daemon watching it at /run/probe/IF.sock (the socket of
    /// `probe@IF.service`, docs/operations.md) when that is there and --socket is not given,
    /// else IF of the daemon at --socket, which watches several.
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
    /// The socket to ask, and the interface to ask about when the daemon there watches
    /// several; `exists` says whether a socket is there.
    pub fn target(&self, exists: impl Fn(&std::path::Path) -> bool) -> (PathBuf, Option<String>) {
        match (&self.socket, &self.iface) {
            (Some(socket), iface) => (socket.clone(), iface.clone()),
            (None, Some(iface)) => {
                let own = PathBuf::from(format!("/run/probe/{iface}.sock"));
                if exists(&own) {
                    (own, None)
                } else {
                    (PathBuf::from(DEFAULT_SOCKET), Some(iface.clone()))
                }
            }
            (None, None) => (PathBuf::from(DEFAULT_SOCKET), None),
        }
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
    let (socket, iface) = args.target(std::path::Path::exists);
    screen::run(&screen::Options {
        socket,
        iface,
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
            (t.target(|_| false), t.interval, t.no_color),
            (
                (PathBuf::from(DEFAULT_SOCKET), None),
                Duration::from_secs(1),
                false
            )
        );
        let t = parse(&["--socket", "/tmp/p.sock", "--interval", "250ms", "--mono"]).unwrap();
        assert_eq!(
            (t.target(|_| false), t.interval, t.no_color),
            (
                (PathBuf::from("/tmp/p.sock"), None),
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
    fn iface_chooses_the_daemon_of_that_interface_or_that_interface_of_a_daemon_and_is_checked() {
        let eth1 = parse(&["--iface", "eth1"]).unwrap();
        // probe@eth1 runs: its socket.
        assert_eq!(
            eth1.target(|p| p == std::path::Path::new("/run/probe/eth1.sock")),
            (PathBuf::from("/run/probe/eth1.sock"), None)
        );
        // It does not: eth1 of the daemon at the default socket.
        assert_eq!(
            eth1.target(|_| false),
            (PathBuf::from(DEFAULT_SOCKET), Some("eth1".to_owned()))
        );
        // A socket named: eth1 of that daemon.
        assert_eq!(
            parse(&["--iface", "eth1", "--socket", "/tmp/x"])
                .unwrap()
                .target(|_| true),
            (PathBuf::from("/tmp/x"), Some("eth1".to_owned()))
        );
        assert!(
            parse(&["--iface", "../etc"])
                .unwrap_err()
                .contains("is not an interface name")
        );
    }
}
