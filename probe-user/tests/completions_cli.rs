//! `probe completions` as a user runs it: a script on standard output, or one line of error.

use std::process::Command;

fn probe(shell: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_probe"))
        .args(["completions", shell])
        .output()
        .expect("run probe")
}

#[test]
fn bash_gets_a_script_that_completes_the_subcommands() {
    let out = probe("bash");
    assert!(out.status.success());
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let script = String::from_utf8(out.stdout).unwrap();
    assert!(script.starts_with("_probe() {\n"));
    for sub in ["run", "query", "explain", "replay", "detach", "completions"] {
        assert!(
            script.contains(&format!("probe,{sub})")),
            "no case for `probe {sub}` in\n{script}"
        );
    }
}

#[test]
fn an_unknown_shell_is_refused_in_one_line() {
    let out = probe("elvish-nonsense");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        stderr,
        "error: invalid value 'elvish-nonsense' for '<SHELL>': write bash, zsh or fish\n\n\
         For more information, try '--help'.\n"
    );
}
