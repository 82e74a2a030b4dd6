//! Writes the manual pages into the directory named by the one argument. `cargo xtask man`
//! runs it; the pages come from `probe_user::cli::man`.

use std::{path::PathBuf, process::ExitCode};

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let (Some(dir), None) = (args.next(), args.next()) else {
        eprintln!("usage: man DIR");
        return ExitCode::from(2);
    };
    match probe_user::cli::man::write_to(&PathBuf::from(dir)) {
        Ok(written) => {
            for path in written {
                println!("{}", path.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("man: {e:#}");
            ExitCode::FAILURE
        }
    }
}
