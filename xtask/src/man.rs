//! `cargo xtask man`: the manual pages, made by probe-user's `man` example from the definitions
//! that parse `probe`'s command line, so they say what `--help` says.
use std::{
    env,
    path::{Path, PathBuf},
};

use anyhow::Result;

use crate::{cargo, command_line, run_or, setup, target_dir};

pub const LONG_ABOUT: &str = "\
Write the manual pages of `probe` with clap_mangen: probe.1 and one page per subcommand \
(probe-run.1, probe-query.1, probe-query-ports.1, ...), which probe.1 and probe-query.1 refer \
to. They are made from the same definitions that parse the command line, so they say what \
`--help` says.

Sets up the eBPF toolchain first (the pages come from probe-user, whose build script builds the \
XDP program), then runs `cargo run -p probe-user --example man -- DIR`. DIR is <target>/man \
unless --out names another. Read a page with `man -l DIR/probe.1`; install them by copying them \
to a man1 directory, such as /usr/local/share/man/man1.";

#[derive(clap::Args)]
pub struct Args {
    /// Where to write the pages (made if missing) [default: <target>/man]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

pub fn run(args: &Args) -> Result<()> {
    setup::run(setup::Scope::Toolchain)?;
    let cwd = env::current_dir().unwrap_or_default();
    let dir = out_dir(args.out.as_deref(), &cwd, &target_dir());
    let mut cmd = cargo();
    cmd.args([
        "run",
        "--quiet",
        "-p",
        "probe-user",
        "--example",
        "man",
        "--",
    ])
    .arg(&dir);
    println!("man: {}", command_line(&cmd));
    run_or(
        &mut cmd,
        "writing the manual pages failed; if the XDP program failed to build, run `cargo xtask setup`",
    )?;
    println!(
        "man: read them with `man -l {}`",
        dir.join("probe.1").display()
    );
    Ok(())
}

/// Where the pages go: `--out` as the user meant it (cargo runs the example in the workspace
/// root, so a relative path is taken from the current directory first), else `<target>/man`.
fn out_dir(out: Option<&Path>, cwd: &Path, target: &Path) -> PathBuf {
    match out {
        Some(dir) => cwd.join(dir),
        None => target.join("man"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_go_to_target_man_or_where_out_says_from_here() {
        let cwd = Path::new("/home/me/probe/docs");
        let target = Path::new("/home/me/probe/target");
        assert_eq!(
            out_dir(None, cwd, target),
            PathBuf::from("/home/me/probe/target/man")
        );
        assert_eq!(
            out_dir(Some(Path::new("pages")), cwd, target),
            PathBuf::from("/home/me/probe/docs/pages")
        );
        assert_eq!(
            out_dir(Some(Path::new("/usr/local/share/man/man1")), cwd, target),
            PathBuf::from("/usr/local/share/man/man1")
        );
    }
}
