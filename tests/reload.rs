//! SIGHUP, as an operator sends it after rotating the findings file or editing a settings
//! file: the daemon opens the findings file again and reads the knowledge and detector files
//! anew, keeps its counters and open findings, and keeps the files in use when a new one is
//! bad. It goes on running.

use std::{fs, time::Duration};

use probe_integration::{Daemon, Lab, ROUTED_V4, SENSOR_V4, Scratch, parse_lines, require_root};

const RELOADED: &str =
    "reloaded: the knowledge and detector settings now in use are the files' current ones";

#[test]
fn sighup_reopens_a_rotated_findings_file_and_keeps_counters_and_findings() {
    require_root!();
    let lab = Lab::new();
    let mut probe = Daemon::start(&lab);
    lab.attacker(&["hping3", "-S", "-p", "31337", "-c", "1", SENSOR_V4]);
    let before = probe.settled_stats();
    // Its first line, once its wait for answers is over (docs/findings.md).
    probe.wait_for_log("trojan_probe", Duration::from_secs(5));
    let findings = probe.findings_path().to_owned();
    let rotated = findings.with_extension("jsonl.1");
    fs::rename(&findings, &rotated).expect("rotating the findings file");

    probe.signal(libc::SIGHUP);
    probe.wait_for_log(RELOADED, Duration::from_secs(5));
    assert!(probe.is_running(), "SIGHUP must not stop the daemon");
    // The same port on a host behind the sensor: the same finding (one per source and port).
    // Nothing answers there: hping3 says so with status 1.
    let out = lab.attacker_unchecked(&["hping3", "-S", "-p", "31337", "-c", "1", ROUTED_V4]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let after = probe.settled_stats();
    assert_eq!(
        (after.packets, after.tcp),
        (before.packets + 1, before.tcp + 1),
        "counters go on from where they were"
    );
    let finals = probe.finish();

    // The rotated file holds the line written before the rotation; the new one the lines
    // after it. The trojan probes of one source and port fold into one finding, which stayed
    // open across the reload: the second probe counted into it, under the same id.
    let old = parse_lines(&fs::read_to_string(&rotated).expect("the rotated file"));
    assert_eq!(
        old.iter()
            .map(|f| (f.id, f.status.as_str(), f.kind.as_str(), f.port, f.count))
            .collect::<Vec<_>>(),
        [(1, "new", "trojan_probe", Some(31337), 1)]
    );
    let new = parse_lines(&fs::read_to_string(&findings).expect("a new findings file"));
    assert!(!new.is_empty() && new.iter().all(|f| f.id == 1), "{new:?}");
    assert_eq!(
        finals
            .iter()
            .map(|f| (f.id, f.kind.as_str(), f.count))
            .collect::<Vec<_>>(),
        [(1, "trojan_probe", 2)]
    );
    assert_eq!(
        (finals[0].port, finals[0].dst.as_deref()),
        (Some(31337), Some("many"))
    );
    assert_eq!(
        finals[0].evidence["hosts"],
        serde_json::json!([SENSOR_V4, ROUTED_V4])
    );
}

#[test]
fn sighup_takes_a_changed_knowledge_file_and_keeps_the_old_one_when_the_new_is_bad() {
    require_root!();
    let lab = Lab::new();
    let files = Scratch::new();
    let knowledge = files.path("knowledge.toml");
    let entry = |name: &str| {
        format!(
            "[[port]]\nport = 4444\nproto = \"udp\"\ndirection = \"destination\"\nname = \"{name}\"\n\
             category = \"backdoor\"\nlevel = \"hostile\"\nmeaning = \"A lab listener.\"\n"
        )
    };
    fs::write(&knowledge, entry("First name")).expect("writing the knowledge file");
    let path = knowledge.to_str().expect("a UTF-8 path");
    let probe = Daemon::start_with(&lab, &["--knowledge", path]);
    lab.attacker(&["hping3", "--udp", "-p", "4444", "-c", "1", SENSOR_V4]);
    probe.settled_stats();
    let name = |probe: &Daemon| {
        let rows = probe.query(&["ports"]);
        rows.as_array()
            .and_then(|rows| rows.iter().find(|r| r["port"] == 4444))
            .map_or_else(|| panic!("no row for 4444: {rows}"), |r| r["name"].clone())
    };
    assert_eq!(name(&probe), "First name");

    fs::write(&knowledge, entry("Second name")).expect("changing the knowledge file");
    probe.signal(libc::SIGHUP);
    probe.wait_for_log(RELOADED, Duration::from_secs(5));
    assert_eq!(name(&probe), "Second name");

    fs::write(&knowledge, "this is not TOML").expect("breaking the knowledge file");
    probe.signal(libc::SIGHUP);
    let log = probe.wait_for_log("keeping the knowledge in use", Duration::from_secs(5));
    assert!(log.contains(&format!("{path}:1: not valid TOML")), "{log}");
    assert_eq!(name(&probe), "Second name", "the one in use is kept");
}
