//! `cargo xtask install`: the binary, its systemd units, an example settings file, the manual
//! pages and the README, where an operator's system expects them.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use std::os::unix::fs::PermissionsExt as _;

use anyhow::{Context as _, Result};

use crate::{cargo, is_root, run_checked, setup, target_dir, workspace_root};

pub const LONG_ABOUT: &str = "\
Builds the daemon in release and installs, under DESTDIR (default /) and PREFIX (default \
/usr/local):
  PREFIX/bin/probe
  /etc/systemd/system/probe.service and probe@.service (deploy/systemd; their paths follow PREFIX)
  /etc/probe/probe.toml, an example settings file, only when none is there
  PREFIX/share/man/man1/probe*.1 and PREFIX/share/doc/probe/README.md
and, installing to / as root, creates the system group `probe` (members may query the daemon)
and tells systemd to reload its units. Then: edit /etc/probe/probe.toml (`iface = \"eth0\"`), \
`probe config check`, `systemctl enable --now probe`.";

#[derive(clap::Args)]
pub struct Args {
    /// Where the binary, manual pages and documentation go.
    #[arg(long, default_value = "/usr/local")]
    pub prefix: PathBuf,
    /// A staging root to install under (packaging); nothing outside it is touched.
    #[arg(long, default_value = "/")]
    pub destdir: PathBuf,
}

/// The example settings file, for an operator to complete.
const EXAMPLE: &str = "\
# probe's settings: every flag of `probe run` is a key (docs/configuration.md).
# Check it with `probe config check`; start with `systemctl enable --now probe`.

# The interface to watch (`ip link` lists them).
# iface = \"eth0\"

# The networks the probe protects; without it, the interface's own networks.
# home_net = [\"192.168.1.0/24\"]

# Findings as JSON lines, in the probe's schema or Elastic Common Schema's.
# findings = \"/var/log/probe/findings.jsonl\"
# findings_format = \"ecs\"

# Prometheus metrics: open them to your Prometheus server.
# metrics = \"0.0.0.0:9464\"
";

/// One file to install: from where (or what text), to where, with what mode.
#[derive(Debug, PartialEq, Eq)]
pub struct Copy {
    pub to: PathBuf,
    pub from: Source,
    pub mode: u32,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Source {
    File(PathBuf),
    Text(String),
}

/// `path` (absolute) under `destdir`.
fn under(destdir: &Path, path: &Path) -> PathBuf {
    destdir.join(path.strip_prefix("/").unwrap_or(path))
}

/// What installing the built `binary` and the pages in `man` under `destdir`/`prefix` puts
/// where. The units' paths are the prefix's; the example settings only where there are none.
pub fn plan(
    root: &Path,
    binary: &Path,
    man: &[PathBuf],
    prefix: &Path,
    destdir: &Path,
) -> Result<Vec<Copy>> {
    let bin = prefix.join("bin").join("probe");
    let mut out = vec![Copy {
        to: under(destdir, &bin),
        from: Source::File(binary.to_owned()),
        mode: 0o755,
    }];
    for unit in ["probe.service", "probe@.service"] {
        let text = fs::read_to_string(root.join("deploy/systemd").join(unit))
            .with_context(|| format!("reading deploy/systemd/{unit}"))?;
        let text = text
            .replace("/usr/local/bin/probe", &bin.display().to_string())
            .replace(
                "/usr/local/share/doc/probe",
                &prefix.join("share/doc/probe").display().to_string(),
            );
        out.push(Copy {
            to: under(destdir, &Path::new("/etc/systemd/system").join(unit)),
            from: Source::Text(text),
            mode: 0o644,
        });
    }
    let settings = under(destdir, Path::new("/etc/probe/probe.toml"));
    if !settings.exists() {
        out.push(Copy {
            to: settings,
            from: Source::Text(EXAMPLE.to_owned()),
            mode: 0o640,
        });
    }
    for page in man {
        if let Some(name) = page.file_name() {
            out.push(Copy {
                to: under(destdir, &prefix.join("share/man/man1").join(name)),
                from: Source::File(page.clone()),
                mode: 0o644,
            });
        }
    }
    out.push(Copy {
        to: under(destdir, &prefix.join("share/doc/probe/README.md")),
        from: Source::File(root.join("README.md")),
        mode: 0o644,
    });
    Ok(out)
}

pub fn run(args: &Args) -> Result<()> {
    setup::run(setup::Scope::Toolchain)?;
    run_checked(cargo().args(["build", "--release", "-p", "probe-user"]))?;
    let man_dir = target_dir().join("man");
    run_checked(
        cargo()
            .args([
                "run",
                "--quiet",
                "-p",
                "probe-user",
                "--example",
                "man",
                "--",
            ])
            .arg(&man_dir),
    )?;
    let mut pages: Vec<PathBuf> = fs::read_dir(&man_dir)
        .with_context(|| format!("reading {}", man_dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "1"))
        .collect();
    pages.sort();
    let binary = target_dir().join("release").join("probe");
    let copies = plan(
        &workspace_root(),
        &binary,
        &pages,
        &args.prefix,
        &args.destdir,
    )?;
    for c in &copies {
        if let Some(dir) = c.to.parent() {
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        match &c.from {
            Source::File(from) => {
                fs::copy(from, &c.to)
                    .with_context(|| format!("copying {} to {}", from.display(), c.to.display()))?;
            }
            Source::Text(text) => {
                fs::write(&c.to, text).with_context(|| format!("writing {}", c.to.display()))?;
            }
        }
        fs::set_permissions(&c.to, fs::Permissions::from_mode(c.mode))
            .with_context(|| format!("setting the mode of {}", c.to.display()))?;
        println!("install: {}", c.to.display());
    }
    if args.destdir == Path::new("/") && is_root() {
        let group = Command::new("getent").args(["group", "probe"]).output();
        if !group.is_ok_and(|o| o.status.success()) {
            run_checked(Command::new("groupadd").args(["--system", "probe"]))?;
            println!("install: created the system group probe");
        }
        // Only where systemd runs the machine (not in a container without it).
        if Path::new("/run/systemd/system").exists() {
            run_checked(Command::new("systemctl").arg("daemon-reload"))?;
        }
    }
    println!(
        "install: done. Next: set iface in /etc/probe/probe.toml, `probe config check`, \
         `systemctl enable --now probe` (or probe@IFACE for one daemon per interface)"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_puts_each_file_under_destdir_and_prefix_and_the_units_follow_the_prefix() {
        let root = workspace_root();
        let stage = std::env::temp_dir().join(format!("xtask-install-{}", std::process::id()));
        let copies = plan(
            &root,
            Path::new("/build/probe"),
            &[PathBuf::from("/build/man/probe.1")],
            Path::new("/opt/probe"),
            &stage,
        )
        .unwrap();
        let places: Vec<(String, u32)> = copies
            .iter()
            .map(|c| {
                (
                    c.to.strip_prefix(&stage).unwrap().display().to_string(),
                    c.mode,
                )
            })
            .collect();
        assert_eq!(
            places,
            [
                ("opt/probe/bin/probe".to_owned(), 0o755),
                ("etc/systemd/system/probe.service".to_owned(), 0o644),
                ("etc/systemd/system/probe@.service".to_owned(), 0o644),
                ("etc/probe/probe.toml".to_owned(), 0o640),
                ("opt/probe/share/man/man1/probe.1".to_owned(), 0o644),
                ("opt/probe/share/doc/probe/README.md".to_owned(), 0o644),
            ]
        );
        let Source::Text(unit) = &copies[1].from else {
            panic!("the unit is rewritten text");
        };
        assert!(unit.contains("ExecStart=/opt/probe/bin/probe run --config /etc/probe/probe.toml"));
        assert!(!unit.contains("/usr/local"));
    }
}
