//! `probe`: a thin entry point over the library.

use std::{io::Write as _, process::ExitCode};

use probe_user::{
    cli::{
        Cli, Command, completions, config, detach, explain, history, query, replay, report, run,
        top,
    },
    printable,
};

fn main() -> ExitCode {
    let cli = Cli::parse_with_kernel();
    // aya::bpf warns, at length, that the kernel refused the object's BTF: the union inside
    // aya-log-ebpf is the cause, and the program loads and runs without BTF. RUST_LOG overrides.
    // Every log line is one line of text a terminal shows as it is: names and meanings from a
    // knowledge file, or anything else a line quotes, have their control characters escaped.
    env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or("info,aya::bpf=error"),
    )
    .format(|buf, record| {
        let style = buf.default_level_style(record.level());
        writeln!(
            buf,
            "[{} {style}{:<5}{style:#}] {}",
            buf.timestamp(),
            record.level(),
            printable::line(&record.args().to_string())
        )
    })
    .init();
    let result = match &cli.command {
        Command::Run(_) => run::run(&std::env::args_os().collect::<Vec<_>>()),
        Command::Query(args) => query::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Replay(args) => replay::run(args),
        Command::Detach(args) => detach::run(args),
        Command::Config(args) => config::run(args),
        Command::Completions(args) => completions::run(args),
        Command::History(args) => history::run(args),
        Command::Report(args) => report::run(args),
        Command::Top(args) => top::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("probe: {}", printable::line(&format!("{e:#}")));
            ExitCode::FAILURE
        }
    }
}
