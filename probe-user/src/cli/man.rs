//! The manual pages, made from the definitions that parse the command line, so they say what
//! `--help` says: `probe.1`, and one page per subcommand (`probe-run.1`, `probe-query-ports.1`,
//! ...), the pages `probe.1` and `probe-query.1` refer to. `cargo xtask man` writes them.

use std::{io, path::Path};

use clap::CommandFactory as _;
use clap_mangen::{
    Man,
    roff::{Roff, roman},
};

use super::Cli;

/// One manual page: its file name and its roff source.
#[derive(Debug)]
pub struct Page {
    /// `probe.1`, `probe-run.1`, ...
    pub file: String,
    pub roff: String,
}

/// Every page, `probe.1` first, then each subcommand's in the order `--help` lists them.
pub fn pages() -> io::Result<Vec<Page>> {
    // `probe help` is clap's, not ours: a page for it would only repeat this one.
    let mut cmd = Cli::command().disable_help_subcommand(true);
    // Building names each subcommand after its parents (`probe-query-ports`).
    cmd.build();
    let source = format!("probe {}", env!("CARGO_PKG_VERSION"));
    let mut pages = Vec::new();
    add(&cmd, &source, &mut pages)?;
    Ok(pages)
}

fn add(cmd: &clap::Command, source: &str, pages: &mut Vec<Page>) -> io::Result<()> {
    let name = cmd.get_display_name().unwrap_or_else(|| cmd.get_name());
    // A page's title is its name in capitals, as man(7) has it; every page carries the
    // program's version, which clap only gives the top command.
    // The text after --help's options is examples, one command a line with its comment in a
    // column: clap_mangen would fill those lines into a paragraph, so it is left out of its
    // rendering and added after it, unfilled.
    let after = cmd.get_after_help().map(ToString::to_string);
    let man = Man::new(cmd.clone().after_help(None::<&str>))
        .title(name.to_uppercase())
        .source(source)
        .manual("probe manual");
    let mut bytes = Vec::new();
    man.render(&mut bytes)?;
    let mut roff = String::from_utf8(bytes).map_err(io::Error::other)?;
    if let Some(after) = after {
        // Without the definitions every rendering starts with, which the page already has.
        let preamble = &roff[..roff.find(".TH ").unwrap_or(0)];
        let section = unfilled(&after).render();
        let section = section
            .strip_prefix(preamble)
            .unwrap_or(&section)
            .to_owned();
        roff.push_str(&section);
    }
    pages.push(Page {
        file: man.get_filename(),
        roff,
    });
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        add(sub, source, pages)?;
    }
    Ok(())
}

/// A section that keeps `text`'s lines as they are; `Examples:` on the first line names it.
fn unfilled(text: &str) -> Roff {
    let (heading, body) = match text.split_once('\n') {
        Some(("Examples:", body)) => ("EXAMPLES", body),
        _ => ("NOTES", text),
    };
    let mut roff = Roff::new();
    roff.control("SH", [heading]).control("nf", []);
    for line in body.lines() {
        roff.text([roman(line)]);
    }
    roff.control("fi", []);
    roff
}

/// Writes every page into `dir` (made if missing); returns the files written.
pub fn write_to(dir: &Path) -> anyhow::Result<Vec<std::path::PathBuf>> {
    use anyhow::Context as _;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut written = Vec::new();
    for page in pages().context("rendering the manual pages")? {
        let path = dir.join(&page.file);
        std::fs::write(&path, page.roff).with_context(|| format!("writing {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_page_for_probe_and_each_subcommand() {
        let files: Vec<String> = pages().unwrap().into_iter().map(|p| p.file).collect();
        assert_eq!(
            files,
            [
                "probe.1",
                "probe-run.1",
                "probe-query.1",
                "probe-query-ports.1",
                "probe-query-icmp.1",
                "probe-query-flags.1",
                "probe-query-stats.1",
                "probe-query-sources.1",
                "probe-query-port.1",
                "probe-query-findings.1",
                "probe-explain.1",
                "probe-replay.1",
                "probe-detach.1",
                "probe-config.1",
                "probe-config-check.1",
                "probe-config-show.1",
                "probe-completions.1",
                "probe-history.1",
                "probe-report.1",
                "probe-top.1",
            ]
        );
    }

    #[test]
    fn the_main_page_names_the_program_and_lists_the_subcommands() {
        let pages = pages().unwrap();
        let main = &pages[0].roff;
        let version = env!("CARGO_PKG_VERSION");
        // After the two lines that define the apostrophe for groff and other roffs.
        assert_eq!(
            main.lines().nth(2),
            Some(format!(".TH PROBE 1  \"probe {version}\" \"probe manual\"").as_str())
        );
        assert!(
            main.contains(".SH NAME\nprobe \\- The probe\\*(Aqs daemon and command line: "),
            "{main}"
        );
        let listed: Vec<&str> = main
            .lines()
            .filter_map(|l| l.strip_prefix("probe\\-"))
            .collect();
        assert_eq!(
            listed,
            [
                "run(1)",
                "query(1)",
                "explain(1)",
                "replay(1)",
                "detach(1)",
                "config(1)",
                "completions(1)",
                "history(1)",
                "report(1)",
                "top(1)"
            ]
        );
    }

    #[test]
    fn a_subcommand_page_holds_its_options() {
        let pages = pages().unwrap();
        let run = pages.iter().find(|p| p.file == "probe-run.1").unwrap();
        assert_eq!(
            run.roff.lines().nth(2),
            Some(
                format!(
                    ".TH PROBE-RUN 1  \"probe {}\" \"probe manual\"",
                    env!("CARGO_PKG_VERSION")
                )
                .as_str()
            )
        );
        assert!(run.roff.contains("\\-\\-iface"), "{}", run.roff);
        assert!(run.roff.contains("\\-\\-home\\-net"), "{}", run.roff);
    }

    #[test]
    fn examples_keep_their_lines() {
        let pages = pages().unwrap();
        let explain = pages.iter().find(|p| p.file == "probe-explain.1").unwrap();
        let examples = explain.roff.split_once(".SH EXAMPLES\n").unwrap().1;
        let lines: Vec<&str> = examples.lines().collect();
        assert_eq!(lines.len(), 11, "{examples}");
        assert_eq!(
            lines[..3],
            [
                ".nf",
                "  probe explain 31337               what a probe of port 31337 means (TCP and UDP)",
                "  probe explain 27015/udp \\-\\-source  what traffic *from* UDP port 27015 means",
            ]
        );
        assert_eq!(lines[10], ".fi");
        assert!(!explain.roff.contains("Examples:"));
        assert_eq!(explain.roff.matches(".ds Aq").count(), 2, "one preamble");
    }
}
