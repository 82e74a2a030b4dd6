//! `probe config`: check a settings file, and show the configuration `probe run` would start
//! with (docs/configuration.md).

use std::{ffi::OsString, fmt::Write as _, path::PathBuf, process::ExitCode};

use clap::{ArgAction, CommandFactory as _};

use super::{
    Cli,
    settings::{self, DEFAULT_PATH, Origin, Settings},
};

/// Arguments of `probe config`.
#[derive(Debug, clap::Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub what: What,
}

#[derive(Debug, clap::Subcommand)]
pub enum What {
    /// Check a settings file (default /etc/probe/probe.toml): every key one of probe run's
    /// flags, every value one its flag takes. Exits 1 with the file, line and key of the first
    /// mistake.
    Check {
        /// The file to check.
        #[arg(value_name = "FILE")]
        file: Option<PathBuf>,
    },
    /// The configuration `probe run` would start with: every setting, its value, and where it
    /// comes from (default, file); as TOML, so it can start a settings file.
    Show {
        /// The settings file (default /etc/probe/probe.toml, when it exists).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
}

pub fn run(args: &ConfigArgs) -> anyhow::Result<ExitCode> {
    match &args.what {
        What::Check { file } => {
            let path = file.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_PATH));
            let s = Settings::load(&path)?;
            let iface = s.settings.iter().any(|k| k.key == "iface");
            println!(
                "{}: {} key{}, every one valid{}",
                path.display(),
                s.settings.len(),
                if s.settings.len() == 1 { "" } else { "s" },
                if iface {
                    ""
                } else {
                    " (no iface: give --iface when starting)"
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        What::Show { config } => {
            print!("{}", show(config.as_ref())?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A TOML value for one setting's raw values.
fn toml_value(values: &[String], list: bool) -> String {
    let one = |v: &str| {
        if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
            v.to_owned()
        } else {
            // A JSON string's escapes are all TOML basic-string escapes too.
            serde_json::to_string(v).unwrap_or_default()
        }
    };
    if list {
        format!(
            "[{}]",
            values.iter().map(|v| one(v)).collect::<Vec<_>>().join(", ")
        )
    } else {
        values.first().map_or_else(String::new, |v| one(v))
    }
}

/// The text of `probe config show`.
pub fn show(config: Option<&PathBuf>) -> anyhow::Result<String> {
    let mut argv: Vec<OsString> = vec!["probe".into(), "run".into()];
    if let Some(path) = config {
        argv.extend(["--config".into(), path.clone().into_os_string()]);
    }
    let merged = settings::merged(&argv)?;
    let from = merged.file.as_ref().map_or_else(
        || "no settings file".to_owned(),
        |f| f.path.display().to_string(),
    );
    let mut out =
        format!("# The configuration probe run starts with: built-in defaults, then {from}.\n");
    let command = Cli::command();
    let run = command
        .find_subcommand("run")
        .ok_or_else(|| anyhow::anyhow!("no run subcommand"))?;
    for arg in run.get_arguments() {
        let key = arg.get_id().as_str();
        if key == "config" || key == "help" {
            continue;
        }
        let origin = merged.origin(key);
        let line = if matches!(arg.get_action(), ArgAction::SetTrue) {
            format!("{key} = {}", merged.matches.get_flag(key))
        } else {
            let values: Vec<String> = merged
                .matches
                .get_raw(key)
                .map(|v| v.map(|s| s.to_string_lossy().into_owned()).collect())
                .unwrap_or_default();
            if values.is_empty() {
                let _ = writeln!(out, "# {key}: not set");
                continue;
            }
            format!(
                "{key} = {}",
                toml_value(&values, arg.get_value_delimiter().is_some())
            )
        };
        let note = match origin {
            Origin::File => "# from the file",
            Origin::Default | Origin::CommandLine => "# default",
        };
        let _ = writeln!(out, "{line:<40} {note}");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_lists_every_setting_with_its_value_and_origin_as_toml() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("probe.toml");
        std::fs::write(
            &path,
            "iface = \"eth0\"\nhome_net = [\"192.168.1.0/24\"]\nmax_sources = 4096\n",
        )
        .unwrap();
        let text = show(Some(&path)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            format!(
                "# The configuration probe run starts with: built-in defaults, then {}.",
                path.display()
            )
        );
        let line = |key: &str| {
            lines
                .iter()
                .find(|l| l.starts_with(&format!("{key} ")) || l.starts_with(&format!("# {key}:")))
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                .unwrap_or_default()
        };
        assert_eq!(line("iface"), "iface = [\"eth0\"] # from the file");
        assert_eq!(line("max_sources"), "max_sources = 4096 # from the file");
        assert_eq!(
            line("home_net"),
            "home_net = [\"192.168.1.0/24\"] # from the file"
        );
        assert_eq!(line("interval"), "interval = \"1s\" # default");
        assert_eq!(line("follow"), "follow = false # default");
        assert_eq!(line("findings"), "# findings: not set");
        assert_eq!(line("metrics"), "metrics = \"127.0.0.1:9464\" # default");
        // What show prints is a settings file that reads back to the same values.
        let again = dir.path().join("again.toml");
        std::fs::write(&again, &text).unwrap();
        let back = Settings::load(&again).unwrap();
        assert!(
            back.settings
                .iter()
                .any(|s| s.key == "iface" && s.args == ["--iface", "eth0"])
        );
        assert_eq!(
            show(Some(&again))
                .unwrap()
                .lines()
                .skip(1)
                .filter(|l| l.contains("# default"))
                .count(),
            0
        );
    }
}
