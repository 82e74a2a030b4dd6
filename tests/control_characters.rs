//! Control characters reach no terminal and no log raw: a knowledge file whose name and
//! meaning carry an escape sequence and a carriage return is shown escaped in the daemon's
//! log and in `probe query`'s table; JSON stays JSON.

use probe_integration::{Daemon, Lab, SENSOR_V4, Scratch, probe_bin, require_root};

#[test]
fn a_knowledge_files_control_characters_are_escaped_in_the_log_and_the_table() {
    require_root!();
    let lab = Lab::new();
    let files = Scratch::new();
    let knowledge = files.path("knowledge.toml");
    std::fs::write(
        &knowledge,
        "[[port]]\nport = 4444\nproto = \"udp\"\ndirection = \"destination\"\n\
         name = \"Lab\\u001b[2Jshell\"\ncategory = \"backdoor\"\nlevel = \"hostile\"\n\
         meaning = \"Fake\\r[INFO ] all is well\"\n",
    )
    .expect("writing the knowledge file");
    let knowledge = knowledge.to_str().expect("a UTF-8 path");
    let mut probe = Daemon::start_with(&lab, &["--knowledge", knowledge]);
    lab.attacker(&["hping3", "--udp", "-p", "4444", "-c", "1", SENSOR_V4]);
    probe.settled_stats();

    let table = std::process::Command::new(probe_bin())
        .args(["query", "ports", "--socket"])
        .arg(probe.socket())
        .output()
        .expect("running probe query");
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.contains("Lab\\u{1b}[2Jshell") && table.contains("Fake\\u{d}[INFO ] all is well"),
        "{table}"
    );
    assert!(!table.contains(['\u{1b}', '\r']), "{table:?}");
    let json = probe.query(&["ports"]);
    let row = json
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["port"] == 4444))
        .unwrap_or_else(|| panic!("no row for 4444: {json}"));
    assert_eq!(
        row["name"], "Lab\u{1b}[2Jshell",
        "JSON keeps the text as it is"
    );

    probe.finish();
    let log = probe.log();
    assert!(
        log.contains("active: 4444/udp 1 packet (registered port) [hostile] Lab\\u{1b}[2Jshell: Fake\\u{d}[INFO ] all is well"),
        "{log}"
    );
    assert!(!log.contains(['\u{1b}', '\r']), "{log:?}");
}
