//! `probe completions SHELL`: a completion script for bash, zsh or fish on standard output,
//! made from the same definitions that parse the command line, so it never lags behind them.

use std::{
    ffi::OsStr,
    io::{self, Write as _},
    process::ExitCode,
};

use anyhow::Context as _;
use clap::{
    CommandFactory as _,
    builder::{PossibleValue, TypedValueParser},
};
use clap_complete::Shell;

use super::Cli;

const EXAMPLES: &str = "\
Examples:
  probe completions bash > /etc/bash_completion.d/probe
  probe completions zsh > \"${fpath[1]}/_probe\"
  probe completions fish > ~/.config/fish/completions/probe.fish";

/// Arguments of `probe completions`.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_name = "SHELL", value_parser = ShellWord)]
    pub shell: Shell,
}

/// The shells a script is made for, with the word that names each.
const SHELLS: [(&str, Shell); 3] = [
    ("bash", Shell::Bash),
    ("zsh", Shell::Zsh),
    ("fish", Shell::Fish),
];

/// One SHELL argument; anything else says which words there are, in one line.
fn shell(text: &str) -> Result<Shell, String> {
    SHELLS
        .iter()
        .find(|(word, _)| word.eq_ignore_ascii_case(text))
        .map(|&(_, shell)| shell)
        .ok_or_else(|| "write bash, zsh or fish".to_owned())
}

/// Reads SHELL with [`shell`], and lists the words for help and for the scripts themselves.
#[derive(Clone, Copy)]
struct ShellWord;

impl TypedValueParser for ShellWord {
    type Value = Shell;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<Shell, clap::Error> {
        shell.parse_ref(cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(
            SHELLS.iter().map(|&(word, _)| PossibleValue::new(word)),
        ))
    }
}

/// The completion script for `shell`.
pub fn script(shell: Shell) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "probe", &mut out);
    out
}

pub fn run(args: &CompletionsArgs) -> anyhow::Result<ExitCode> {
    let mut stdout = io::stdout().lock();
    stdout
        .write_all(&script(args.shell))
        .and_then(|()| stdout.flush())
        .context("writing the completion script to standard output")?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;
    use crate::cli::Command;

    #[test]
    fn the_bash_script_completes_every_subcommand_and_its_options() {
        let bash = String::from_utf8(script(Shell::Bash)).unwrap();
        assert!(bash.starts_with("_probe() {\n"), "{bash}");
        assert!(bash.contains("complete -F _probe -o nosort -o bashdefault -o default probe"));
        // The words bash offers after `probe`, as clap_complete lists them.
        let top = bash
            .lines()
            .skip_while(|l| l.trim() != "probe)")
            .find_map(|l| l.trim().strip_prefix("opts=\""))
            .unwrap();
        assert_eq!(
            top,
            "-h -V --help --version run query explain replay detach config completions history report top help\""
        );
        assert!(bash.contains("--iface"), "run's options are completed");
        // And `probe completions <TAB>` offers the shells.
        let shells = bash
            .lines()
            .skip_while(|l| l.trim() != "probe__subcmd__completions)")
            .find_map(|l| l.trim().strip_prefix("opts=\""))
            .unwrap();
        assert_eq!(shells, "-h --help bash zsh fish\"");
    }

    #[test]
    fn zsh_and_fish_scripts_name_the_subcommands_too() {
        let zsh = String::from_utf8(script(Shell::Zsh)).unwrap();
        assert!(zsh.starts_with("#compdef probe\n"));
        assert!(zsh.contains("'replay:Run a capture file through the same parser"));
        let fish = String::from_utf8(script(Shell::Fish)).unwrap();
        assert!(
            fish.contains("-f -a \"explain\" -d 'Explain a port or ICMP message, offline"),
            "{fish}"
        );
    }

    #[test]
    fn a_shell_is_named_by_its_word_and_nothing_else() {
        let parse = |word: &str| {
            crate::cli::Cli::try_parse_from(["probe", "completions", word]).map(|c| c.command)
        };
        assert!(matches!(
            parse("fish"),
            Ok(Command::Completions(CompletionsArgs { shell: Shell::Fish }))
        ));
        let error = parse("elvish-nonsense").unwrap_err().to_string();
        let lines: Vec<&str> = error.lines().filter(|l| !l.trim().is_empty()).collect();
        // Clap adds only its pointer to --help after the one line.
        assert_eq!(
            lines,
            [
                "error: invalid value 'elvish-nonsense' for '<SHELL>': write bash, zsh or fish",
                "For more information, try '--help'."
            ]
        );
    }
}
