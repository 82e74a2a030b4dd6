//! `/etc/probe/probe.toml`: `probe run`'s flags in a file. Every flag of `probe run` (but
//! `--config` itself) is a key, named as the flag without its dashes and with `_` for `-`
//! (`max_sources = 131072`, `home_net = ["192.168.1.0/24"]`, `follow = true`). A flag given on
//! the command line overrides the file's key; a `no_x` flag and its `x` are one setting, so
//! `--metrics ADDR` overrides `no_metrics = true` and the other way round.
//!
//! Each value goes through the very parser its flag does, so the file and the command line
//! accept exactly the same things; a mistake is one line naming the file, the line and the key.

use std::{
    ffi::OsString,
    fmt,
    path::{Path, PathBuf},
};

use clap::{ArgAction, CommandFactory as _, FromArgMatches as _, parser::ValueSource};
use toml::Value;

use super::{Cli, Command, run::RunArgs};

/// Where `probe run` looks for its settings when `--config` does not say.
pub const DEFAULT_PATH: &str = "/etc/probe/probe.toml";

/// A settings file that cannot be used, said in one line.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// One key of the file, checked, as the arguments its flag would take.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting {
    pub key: String,
    pub line: usize,
    pub args: Vec<String>,
}

/// A settings file, read and checked key by key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub path: PathBuf,
    pub settings: Vec<Setting>,
}

/// The `probe run` subcommand's definition.
fn run_command() -> clap::Command {
    Cli::command()
        .find_subcommand("run")
        .cloned()
        .unwrap_or_else(|| clap::Command::new("run"))
}

/// The keys a file may hold: every `probe run` argument's id but `config` and `help`.
pub fn keys() -> Vec<String> {
    run_command()
        .get_arguments()
        .map(|a| a.get_id().to_string())
        .filter(|id| id != "config" && id != "help")
        .collect()
}

/// The 1-based line holding byte `offset` of `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The line where `key` is set at the top level of `text` (1 when it cannot be found).
fn key_line(text: &str, key: &str) -> usize {
    text.lines()
        .position(|l| {
            let l = l.trim_start();
            l.strip_prefix(key)
                .or_else(|| l.strip_prefix(&format!("\"{key}\"")))
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map_or(1, |i| i + 1)
}

impl Settings {
    /// Reads and checks the file at `path`.
    pub fn load(path: &Path) -> Result<Self, SettingsError> {
        let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Checks `text`, the contents of `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Self, SettingsError> {
        let invalid = |line: usize, message: String| SettingsError::Invalid {
            path: path.to_owned(),
            line,
            message,
        };
        let table: toml::Table = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(1, |s| line_of(text, s.start));
            invalid(line, e.message().trim().to_owned())
        })?;
        let command = run_command();
        let mut settings = Vec::new();
        for (key, value) in &table {
            let line = key_line(text, key);
            let Some(arg) = command
                .get_arguments()
                .find(|a| a.get_id() == key.as_str() && key != "config" && key != "help")
            else {
                return Err(invalid(
                    line,
                    format!(
                        "unknown key `{key}`: the keys are probe run's flags without their \
                         dashes and with _ for -: {}",
                        keys().join(", ")
                    ),
                ));
            };
            let flag = format!("--{}", arg.get_long().unwrap_or(key));
            let switch = matches!(arg.get_action(), ArgAction::SetTrue);
            let args = match (value, switch) {
                (Value::Boolean(true), true) => vec![flag],
                (Value::Boolean(false), true) => Vec::new(),
                (_, true) => {
                    return Err(invalid(line, format!("key `{key}`: write true or false")));
                }
                (Value::String(s), false) => vec![flag, s.clone()],
                (Value::Integer(n), false) => vec![flag, n.to_string()],
                (Value::Array(items), false) if arg.get_value_delimiter().is_some() => {
                    let words: Option<Vec<&str>> = items.iter().map(Value::as_str).collect();
                    let Some(words) = words else {
                        return Err(invalid(
                            line,
                            format!("key `{key}`: write a list of strings"),
                        ));
                    };
                    vec![flag, words.join(",")]
                }
                (other, false) => {
                    return Err(invalid(
                        line,
                        format!(
                            "key `{key}`: a {} is not a value it takes; write it as on the \
                             command line, in quotes",
                            other.type_str()
                        ),
                    ));
                }
            };
            // The flag's own parser, as if given on the command line.
            let mut trial = vec!["probe".to_owned(), "run".to_owned()];
            if key != "iface" {
                trial.extend(["--iface".to_owned(), "x".to_owned()]);
            }
            trial.extend(args.iter().cloned());
            if let Err(e) = Cli::command().try_get_matches_from(&trial) {
                return Err(invalid(line, format!("key `{key}`: {}", clap_message(&e))));
            }
            settings.push(Setting {
                key: key.clone(),
                line,
                args,
            });
        }
        Ok(Self {
            path: path.to_owned(),
            settings,
        })
    }
}

/// The first line of a clap error, without its `error: ` prefix.
fn clap_message(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let first = text.lines().next().unwrap_or_default();
    first.strip_prefix("error: ").unwrap_or(first).to_owned()
}

/// The settings file `probe run` reads: `--config`'s (which must exist), else the default
/// one when it exists.
fn chosen(explicit: Option<&Path>) -> Result<Option<Settings>, SettingsError> {
    match explicit {
        Some(path) => Settings::load(path).map(Some),
        None if Path::new(DEFAULT_PATH).exists() => {
            Settings::load(Path::new(DEFAULT_PATH)).map(Some)
        }
        None => Ok(None),
    }
}

/// Where a setting came from, for `probe config show`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    Default,
    File,
    CommandLine,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Default => "default",
            Self::File => "file",
            Self::CommandLine => "command line",
        })
    }
}

/// `probe run`'s arguments with the settings file's keys in.
pub struct Merged {
    pub args: RunArgs,
    /// The file read, if any.
    pub file: Option<Settings>,
    /// The keys taken from the file (the others were given on the command line, or not set).
    pub applied: Vec<String>,
    /// The final matches, for where each value came from.
    pub matches: clap::ArgMatches,
}

impl Merged {
    /// Where the value of `key` came from.
    pub fn origin(&self, key: &str) -> Origin {
        if self.applied.iter().any(|k| k == key) {
            Origin::File
        } else if self.matches.value_source(key) == Some(ValueSource::CommandLine) {
            Origin::CommandLine
        } else {
            Origin::Default
        }
    }
}

/// `probe run`'s arguments from `argv` (the whole command line, `probe run ...`) and the
/// settings file: each key of the file unless the command line gave its flag.
pub fn merged(argv: &[OsString]) -> Result<Merged, anyhow::Error> {
    let given = Cli::command().try_get_matches_from(argv)?;
    let Some(("run", run)) = given.subcommand() else {
        anyhow::bail!("not a `probe run` command line");
    };
    let file = chosen(run.get_one::<PathBuf>("config").map(PathBuf::as_path))?;
    let on_command_line = |key: &str| {
        let partner = key
            .strip_prefix("no_")
            .map_or_else(|| format!("no_{key}"), str::to_owned);
        [key, partner.as_str()].iter().any(|id| {
            run.try_get_raw(id).is_ok_and(|v| v.is_some())
                && run.value_source(id) == Some(ValueSource::CommandLine)
        })
    };
    let mut full: Vec<OsString> = vec!["probe".into(), "run".into()];
    let mut applied = Vec::new();
    if let Some(file) = &file {
        for s in &file.settings {
            if !on_command_line(&s.key) {
                full.extend(s.args.iter().map(OsString::from));
                applied.push(s.key.clone());
            }
        }
    }
    let rest = argv
        .iter()
        .skip_while(|a| a.as_os_str() != "run")
        .skip(1)
        .cloned();
    full.extend(rest);
    let matches = Cli::command().try_get_matches_from(&full).map_err(|e| {
        let where_ = file
            .as_ref()
            .map(|f| format!(" (with the settings of {})", f.path.display()))
            .unwrap_or_default();
        anyhow::anyhow!("{}{where_}", clap_message(&e))
    })?;
    let cli = Cli::from_arg_matches(&matches)?;
    let Command::Run(run_args) = cli.command else {
        anyhow::bail!("not a `probe run` command line");
    };
    let matches = matches
        .subcommand_matches("run")
        .cloned()
        .unwrap_or_default();
    Ok(Merged {
        args: run_args,
        file,
        applied,
        matches,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Settings, String> {
        Settings::parse(Path::new("/etc/probe/probe.toml"), text).map_err(|e| e.to_string())
    }

    #[test]
    fn every_flag_is_a_key_and_the_values_go_through_the_flags_parsers() {
        let s = parse(
            "iface = \"eth0\"\nmax_sources = 4096\nhome_net = [\"192.168.1.0/24\", \
             \"fd00:1::/64\"]\nfollow = true\nreset = false\ninterval = \"500ms\"\n",
        )
        .unwrap();
        let got: Vec<(&str, usize, Vec<&str>)> = s
            .settings
            .iter()
            .map(|s| {
                (
                    s.key.as_str(),
                    s.line,
                    s.args.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        // toml's table is ordered by key.
        assert_eq!(
            got,
            [
                ("follow", 4, vec!["--follow"]),
                (
                    "home_net",
                    3,
                    vec!["--home-net", "192.168.1.0/24,fd00:1::/64"]
                ),
                ("iface", 1, vec!["--iface", "eth0"]),
                ("interval", 6, vec!["--interval", "500ms"]),
                ("max_sources", 2, vec!["--max-sources", "4096"]),
                ("reset", 5, vec![]),
            ]
        );
        for key in [
            "iface",
            "max_sources",
            "home_net",
            "metrics",
            "no_metrics",
            "syslog",
        ] {
            assert!(keys().contains(&key.to_owned()), "{key}");
        }
        assert!(!keys().contains(&"config".to_owned()));
    }

    #[test]
    fn a_mistake_names_the_file_the_line_and_the_key() {
        assert_eq!(
            parse("iface = \"eth0\"\n\nifcae = \"eth1\"\n").unwrap_err(),
            format!(
                "/etc/probe/probe.toml:3: unknown key `ifcae`: the keys are probe run's flags \
                 without their dashes and with _ for -: {}",
                keys().join(", ")
            )
        );
        assert_eq!(
            parse("iface = \"eth0\"\nmax_sources = 0\n").unwrap_err(),
            "/etc/probe/probe.toml:2: key `max_sources`: invalid value '0' for '--max-sources \
             <N>': 0 is not in 1..=1048576"
        );
        assert_eq!(
            parse("follow = \"yes\"\n").unwrap_err(),
            "/etc/probe/probe.toml:1: key `follow`: write true or false"
        );
        assert_eq!(
            parse("interval = 5\n").unwrap_err(),
            "/etc/probe/probe.toml:1: key `interval`: invalid value '5' for '--interval \
             <INTERVAL>': \"5\" has no unit: add ms, s, m, h or d (like 5s)"
        );
        let syntax = parse("iface = \"eth0\"\nmode = \n").unwrap_err();
        assert!(syntax.starts_with("/etc/probe/probe.toml:2: "), "{syntax}");
        assert_eq!(
            parse("[run]\niface = \"eth0\"\n")
                .unwrap_err()
                .split(':')
                .take(3)
                .collect::<Vec<_>>(),
            ["/etc/probe/probe.toml", "1", " unknown key `run`"]
        );
    }

    fn argv(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    #[test]
    fn flags_on_the_command_line_override_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("probe.toml");
        std::fs::write(
            &path,
            "iface = \"eth0\"\nmax_sources = 4096\nno_metrics = true\njson = true\n",
        )
        .unwrap();
        let p = path.to_str().unwrap();
        let m = merged(&argv(&["probe", "run", "--config", p])).unwrap();
        assert_eq!(m.file.as_ref().map(|f| f.settings.len()), Some(4));
        assert_eq!(m.args.iface, ["eth0"]);
        assert_eq!(m.args.max_sources, 4096);
        assert!(m.args.no_metrics && m.args.json);
        assert_eq!(m.origin("interval"), Origin::Default);
        assert_eq!(m.origin("iface"), Origin::File);
        let m = merged(&argv(&[
            "probe",
            "run",
            "--config",
            p,
            "--iface",
            "eth1",
            "--metrics",
            "127.0.0.1:9999",
        ]))
        .unwrap();
        assert_eq!(m.args.iface, ["eth1"]);
        assert_eq!(m.args.max_sources, 4096, "kept from the file");
        assert!(!m.args.no_metrics, "--metrics overrides no_metrics");
        assert_eq!(m.args.metrics.port(), 9999);
        assert_eq!(m.origin("iface"), Origin::CommandLine);
        assert_eq!(m.origin("max_sources"), Origin::File);
        assert_eq!(m.origin("metrics"), Origin::CommandLine);
        // Several interfaces: a list in the file, the flag twice (or a comma) on the command
        // line, which replaces the file's list rather than adding to it.
        let several = dir.path().join("several.toml");
        std::fs::write(&several, "iface = [\"eth0\", \"eth1\"]\n").unwrap();
        let s = several.to_str().unwrap();
        let m = merged(&argv(&["probe", "run", "--config", s])).unwrap();
        assert_eq!(m.args.iface, ["eth0", "eth1"]);
        let m = merged(&argv(&[
            "probe",
            "run",
            "--config",
            s,
            "--iface",
            "eth2",
            "--iface",
            "eth3,eth4",
        ]))
        .unwrap();
        assert_eq!(m.args.iface, ["eth2", "eth3", "eth4"]);
        // An explicit file that is missing is an error; a bad one names its line.
        let missing = dir.path().join("none.toml");
        let e = merged(&argv(&[
            "probe",
            "run",
            "--config",
            missing.to_str().unwrap(),
        ]))
        .err()
        .unwrap()
        .to_string();
        assert!(
            e.starts_with(&format!("cannot read {}: ", missing.display())),
            "{e}"
        );
    }
}
