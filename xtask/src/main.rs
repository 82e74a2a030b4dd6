//! `cargo xtask`: the project's own commands for setting up a machine, building the probe,
//! running it and testing it. One module per subcommand; helpers shared by them live here.
mod bench;
mod build;
mod fuzz;
mod install;
mod man;
mod run;
mod setup;
mod test;

use std::{
    env,
    ffi::OsString,
    fmt::Write as _,
    io,
    path::{Path, PathBuf},
    process::{Command, ExitCode},
};

use anyhow::{Context as _, Result, bail};
use clap::{Parser, Subcommand};

/// The project's build, run and test commands.
///
/// Every command first runs (the needed part of) `setup`, which installs what is missing, so a
/// fresh clone needs nothing but stable Rust with rustup.
#[derive(Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask", after_help = AFTER_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

const AFTER_HELP: &str = "\
On a fresh clone, as root:
  cargo xtask test           # installs what is missing, runs every test
  cargo xtask build-and-run  # runs the probe on the default route's interface
Not root: sudo -E env \"PATH=$PATH\" cargo xtask <COMMAND>

`cargo xtask help <COMMAND>` explains each command.";

#[derive(Subcommand)]
enum Cmd {
    /// Install everything the build and the tests need; idempotent, fast when all is present
    #[command(long_about = setup::LONG_ABOUT)]
    Setup,
    /// Set up the eBPF toolchain, then build the daemon `probe` (and its embedded XDP program)
    #[command(long_about = build::LONG_ABOUT)]
    Build(build::Args),
    /// Set up, build in release and run the daemon on an interface (as root)
    #[command(long_about = run::LONG_ABOUT)]
    BuildAndRun(run::Args),
    /// Set up, then run the host tests and the privileged integration tests
    #[command(long_about = test::LONG_ABOUT)]
    Test(test::Args),
    /// Set up, then run every fuzz target (cargo-fuzz, pinned nightly) for a while each
    #[command(long_about = fuzz::LONG_ABOUT)]
    Fuzz(fuzz::Args),
    /// Build in release, measure the probe against its yardsticks, write docs/benchmarks.md (as root)
    #[command(long_about = bench::LONG_ABOUT)]
    Bench(bench::Args),
    /// Set up the eBPF toolchain, then write probe's manual pages (into <target>/man)
    #[command(long_about = man::LONG_ABOUT)]
    Man(man::Args),
    /// Build in release and install the binary, the systemd units and an example configuration
    #[command(long_about = install::LONG_ABOUT)]
    Install(install::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Setup => setup::run(setup::Scope::All),
        Cmd::Build(args) => build::run(&args),
        Cmd::BuildAndRun(args) => run::run(&args),
        Cmd::Test(args) => test::run(&args),
        Cmd::Fuzz(args) => fuzz::run(&args),
        Cmd::Bench(args) => bench::run(&args),
        Cmd::Man(args) => man::run(&args),
        Cmd::Install(args) => install::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root: the parent of xtask's manifest directory.
fn workspace_root() -> PathBuf {
    // `cargo run` sets CARGO_MANIFEST_DIR at run time too; the compile-time value is the fallback
    // for a binary started directly.
    let manifest = env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    manifest
        .parent()
        .map_or_else(|| manifest.clone(), Path::to_path_buf)
}

/// Cargo's target directory: `CARGO_TARGET_DIR` if set (relative to the current directory, as
/// cargo reads it), else `<workspace>/target`.
fn target_dir() -> PathBuf {
    match env::var_os("CARGO_TARGET_DIR").filter(|dir| !dir.is_empty()) {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                env::current_dir().map_or(dir.clone(), |cwd| cwd.join(dir))
            }
        }
        None => workspace_root().join("target"),
    }
}

/// A cargo command run in the workspace root with the cargo that runs xtask. A relative
/// `CARGO_TARGET_DIR` is made absolute so the child builds where [`target_dir`] looks.
fn cargo() -> Command {
    let program = env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut cmd = Command::new(program);
    cmd.current_dir(workspace_root());
    if env::var_os("CARGO_TARGET_DIR").is_some_and(|dir| !dir.is_empty()) {
        cmd.env("CARGO_TARGET_DIR", target_dir());
    }
    cmd
}

/// The command line as a shell would show it: added environment, program, arguments.
fn command_line(cmd: &Command) -> String {
    fn quoted(word: &str) -> String {
        let plain = !word.is_empty()
            && word
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
        if plain {
            word.to_owned()
        } else {
            format!("'{}'", word.replace('\'', r"'\''"))
        }
    }
    let mut line = String::new();
    for (key, value) in cmd.get_envs() {
        if let Some(value) = value {
            let _ = write!(
                line,
                "{}={} ",
                key.to_string_lossy(),
                quoted(&value.to_string_lossy())
            );
        }
    }
    // Show `cargo` rather than the full path of the toolchain's cargo binary.
    let program = Path::new(cmd.get_program());
    let shown = if env::var_os("CARGO").is_some_and(|cargo| program == Path::new(&cargo)) {
        "cargo".to_owned()
    } else {
        program.to_string_lossy().into_owned()
    };
    line.push_str(&quoted(&shown));
    for arg in cmd.get_args() {
        line.push(' ');
        line.push_str(&quoted(&arg.to_string_lossy()));
    }
    line
}

/// Runs `cmd` with inherited stdio; fails, naming the command line, unless it exits with 0.
fn run_checked(cmd: &mut Command) -> Result<()> {
    let line = command_line(cmd);
    let status = cmd.status().map_err(|err| spawn_error(&err, &line))?;
    if !status.success() {
        bail!("`{line}` failed ({status})");
    }
    Ok(())
}

/// Runs `cmd` capturing its output; `Ok(None)` if the program is not installed.
fn output_if_installed(cmd: &mut Command) -> Result<Option<std::process::Output>> {
    match cmd.output() {
        Ok(output) => Ok(Some(output)),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(spawn_error(&err, &command_line(cmd))),
    }
}

fn spawn_error(err: &io::Error, line: &str) -> anyhow::Error {
    anyhow::anyhow!("could not start `{line}`: {err}")
}

/// Whether this process runs with effective user id 0 (read from /proc, no libc needed).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| effective_uid(&status))
        == Some(0)
}

/// The effective uid from the `Uid:` line of /proc/self/status (real, effective, saved, fs).
fn effective_uid(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .and_then(|id| id.parse().ok())
}

/// Fails with `advice` when `cmd` fails; the command line is part of the message.
fn run_or(cmd: &mut Command, advice: &str) -> Result<()> {
    run_checked(cmd).with_context(|| advice.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effective_uid_is_the_second_field() {
        let status = "Name:\txtask\nUid:\t1000\t0\t0\t0\nGid:\t1000\t1000\t1000\t1000\n";
        assert_eq!(effective_uid(status), Some(0));
        assert_eq!(effective_uid("Name:\tx\n"), None);
    }

    #[test]
    fn command_lines_quote_what_a_shell_would_split() {
        let mut cmd = Command::new("probe");
        cmd.env("PROBE_BIN", "/t/debug/probe")
            .args(["run", "--iface", "veth s", "it's"]);
        assert_eq!(
            command_line(&cmd),
            r"PROBE_BIN=/t/debug/probe probe run --iface 'veth s' 'it'\''s'"
        );
    }

    #[test]
    fn the_cli_is_consistent() {
        use clap::CommandFactory as _;
        Cli::command().debug_assert();
    }
}
