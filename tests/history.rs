//! The findings history (docs/history.md): what a daemon found survives it. Two daemons one
//! after the other on one database: `probe history` and the second daemon's
//! `probe query findings --since 1h` show both runs' findings, each run's ids from 1 and told
//! apart by the run. A SIGKILLed daemon's findings are in the database within the half
//! second the writer commits in. `probe replay --report json` of a capture gives the capture's
//! ports and findings, in the shape `probe report` gives the live daemon's history.

use std::{
    os::unix::process::ExitStatusExt as _,
    path::Path,
    process::{Command, Output},
    thread,
    time::{Duration, Instant},
};

use probe_integration::{
    ATTACKER_V4, Daemon, Lab, PcapCapture, SENSOR_V4, Scratch, probe_bin, require_root,
};
use serde_json::Value;

/// Findings about probes are written after their wait for answers (2 s).
const FINDING_LIMIT: Duration = Duration::from_secs(10);

/// `probe ARGS`, checked to succeed.
fn run(args: &[&str]) -> Output {
    let out = Command::new(probe_bin())
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run probe {args:?}: {e}"));
    assert!(
        out.status.success(),
        "probe {args:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `probe history --db DB --json ARGS`: one JSON object per line.
fn history(db: &Path, args: &[&str]) -> Vec<Value> {
    let mut command = vec!["history", "--db", db.to_str().expect("UTF-8"), "--json"];
    command.extend_from_slice(args);
    String::from_utf8_lossy(&run(&command).stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// (run, id, kind, port) of each finding.
fn ids(found: &[Value]) -> Vec<(String, u64, String, u64)> {
    found
        .iter()
        .map(|f| {
            (
                f["run"].as_str().expect("a run").to_owned(),
                f["id"].as_u64().expect("an id"),
                f["kind"].as_str().expect("a kind").to_owned(),
                f["port"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

/// One SYN from the attacker to `port` of the sensor (the sensor answers with a RST).
fn syn(lab: &Lab, port: u16) {
    lab.attacker(&[
        "hping3",
        "-S",
        "-p",
        &port.to_string(),
        "-c",
        "1",
        SENSOR_V4,
    ]);
}

#[test]
fn findings_survive_a_restart_in_probe_history_and_in_query_findings() {
    require_root!();
    let lab = Lab::new();
    let files = Scratch::new();
    let db = files.path("findings.db");
    let db_arg = db.to_str().expect("UTF-8");

    let mut first = Daemon::start_with(&lab, &["--history", db_arg]);
    syn(&lab, 31_337);
    first.wait_for_log("trojan_probe", FINDING_LIMIT);
    let before = first.finish();
    assert_eq!(before.len(), 1, "{before:?}");

    let mut second = Daemon::start_with(&lab, &["--history", db_arg]);
    syn(&lab, 12_345);
    second.wait_for_log("trojan_probe", FINDING_LIMIT);

    // The second daemon answers for both runs: its own finding 1 and the first one's.
    let answer = second.query(&["findings", "--since", "1h"]);
    let found = ids(answer.as_array().expect("a list of findings"));
    assert_eq!(found.len(), 2, "{answer}");
    let (first_run, second_run) = (found[0].0.clone(), found[1].0.clone());
    assert!(first_run < second_run, "{answer}");
    assert_eq!(
        found,
        [
            (first_run.clone(), 1, "trojan_probe".to_owned(), 31_337),
            (second_run.clone(), 1, "trojan_probe".to_owned(), 12_345),
        ]
    );
    for f in answer.as_array().expect("a list") {
        assert_eq!(f["src"], ATTACKER_V4);
        assert_eq!(f["iface"], lab.sensor_if());
    }
    // For people, each run's findings follow the line naming it.
    let text = second.query_text(&["findings", "--since", "1h"]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert_eq!(
        lines[0],
        format!("run started {first_run} on {}:", lab.sensor_if())
    );
    assert!(
        lines[1].starts_with(&format!(
            "hostile trojan_probe {ATTACKER_V4} -> {SENSOR_V4} port 31337/tcp (x1, new, #1): "
        )),
        "{text}"
    );
    assert_eq!(
        lines[2],
        format!("run started {second_run} on {}:", lab.sensor_if())
    );
    assert!(
        lines[3].starts_with(&format!(
            "hostile trojan_probe {ATTACKER_V4} -> {SENSOR_V4} port 12345/tcp (x1, new, #1): "
        )),
        "{text}"
    );
    let after = second.finish();
    assert_eq!(after.len(), 1, "{after:?}");

    // Without a daemon: the same findings, as the daemons last wrote them.
    let kept = history(&db, &[]);
    assert_eq!(ids(&kept), found);
    assert_eq!(
        kept[0]["explanation"].as_str(),
        Some(before[0].explanation.as_str())
    );
    assert_eq!(kept[1]["count"].as_u64(), Some(after[0].count));
    let text = String::from_utf8_lossy(&run(&["history", "--db", db_arg]).stdout).into_owned();
    assert_eq!(text.lines().count(), 4, "{text}");
    assert_eq!(
        text.lines().nth(2),
        Some(format!("run started {second_run} on {}:", lab.sensor_if()).as_str())
    );
    assert_eq!(
        history(&db, &["--src", ATTACKER_V4, "--kind", "trojan_probe"]).len(),
        2
    );
    assert!(history(&db, &["--src", "198.18.0.99"]).is_empty());
    assert_eq!(
        String::from_utf8_lossy(&run(&["history", "--db", db_arg, "--src", "198.18.0.99"]).stdout),
        "no findings in the history\n"
    );
}

#[test]
fn a_killed_daemons_findings_are_in_the_database_within_a_second() {
    require_root!();
    let lab = Lab::new();
    let files = Scratch::new();
    let db = files.path("findings.db");
    let db_arg = db.to_str().expect("UTF-8");
    let mut probe = Daemon::start_with(&lab, &["--history", db_arg]);

    // Each finding reaches the database within a second of its line in the log.
    let mut slowest = Duration::ZERO;
    for (n, port) in [31_337u16, 12_345, 27_374].into_iter().enumerate() {
        syn(&lab, port);
        let needle = format!("port {port}/tcp");
        probe.wait_for_log(&needle, FINDING_LIMIT);
        let logged = Instant::now();
        while history(&db, &[]).len() <= n {
            assert!(
                logged.elapsed() < Duration::from_secs(1),
                "the finding about {port} was not in the database a second after it was logged"
            );
            thread::sleep(Duration::from_millis(20));
        }
        slowest = slowest.max(logged.elapsed());
    }
    eprintln!("slowest finding from the log to the database: {slowest:?}");

    let status = probe
        .stop_with(libc::SIGKILL)
        .expect("the daemon was running");
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{status}");
    // Everything it wrote to its findings file, it had committed to the database.
    let written = probe_integration::latest(probe.findings_lines());
    let kept = history(&db, &[]);
    assert_eq!(written.len(), 3);
    assert_eq!(kept.len(), 3);
    for (w, k) in written.iter().zip(&kept) {
        assert_eq!(
            (k["id"].as_u64(), k["port"].as_u64(), k["count"].as_u64()),
            (Some(w.id), w.port.map(u64::from), Some(w.count))
        );
    }
    // The next daemon takes over the probe the killed one left, and answers for its findings.
    let next = Daemon::start_with(&lab, &["--history", db_arg]);
    let answer = next.query(&["findings", "--since", "1h"]);
    assert_eq!(answer.as_array().map(Vec::len), Some(3), "{answer}");
}

/// A source of a report without its times: address, findings, level, kinds.
type SourceShape = (Value, Value, Value, Value);

/// The parts of a report that a live day and its capture share, whatever the clocks: each
/// kind's counts, the ports with their sources and meanings, the sources with their findings.
fn shape(report: &Value) -> (Value, Value, Vec<SourceShape>) {
    let sources = report["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .map(|s| {
            (
                s["src"].clone(),
                s["findings"].clone(),
                s["level"].clone(),
                s["kinds"].clone(),
            )
        })
        .collect();
    (report["kinds"].clone(), report["ports"].clone(), sources)
}

#[test]
fn a_replayed_capture_reports_its_ports_and_findings_as_the_live_history_does() {
    require_root!();
    let lab = Lab::new();
    let files = Scratch::new();
    let mut probe = Daemon::start(&lab);
    let db = probe.history_path().expect("a history").to_owned();
    let capture = PcapCapture::start(&lab, &files.path("lab.pcap"));
    syn(&lab, 31_337);
    lab.attacker(&["ping", "-c", "2", "-i", "0.2", "-W", "1", SENSOR_V4]);
    probe.wait_for_log("trojan_probe", FINDING_LIMIT);
    probe.settled_stats();
    let capture = capture.stop();
    // The report of the live daemon's hour, read before the daemon's directory goes.
    let live: Value = serde_json::from_slice(
        &run(&[
            "report",
            "--db",
            db.to_str().expect("UTF-8"),
            "--since",
            "1h",
            "--format",
            "json",
        ])
        .stdout,
    )
    .expect("a JSON report");
    probe.finish();

    let path = capture.to_str().expect("UTF-8");
    let out = run(&["replay", path, "--report", "json"]);
    let replayed: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    // The capture's counters: the SYN on its port, the two echo requests.
    let counters = &replayed["counters"];
    let port = counters["ports"]
        .as_array()
        .expect("ports")
        .iter()
        .find(|p| p["port"] == 31_337 && p["proto"] == "tcp")
        .unwrap_or_else(|| panic!("no 31337/tcp in {counters}"));
    assert_eq!(
        (port["packets"].as_u64(), port["syn"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(port["name"], "Back Orifice");
    let echo = counters["icmp"]
        .as_array()
        .expect("icmp")
        .iter()
        .find(|m| m["family"] == "icmp" && m["type"] == 8 && m["code"] == 0)
        .unwrap_or_else(|| panic!("no echo request in {counters}"));
    assert_eq!(echo["packets"].as_u64(), Some(2));
    let stats = &counters["stats"];
    assert_eq!(stats["tcp"].as_u64(), Some(1), "{stats}");
    assert_eq!(stats["icmp"].as_u64(), Some(2), "{stats}");
    let attacker = counters["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .find(|s| s["src"] == ATTACKER_V4)
        .unwrap_or_else(|| panic!("no {ATTACKER_V4} in {counters}"));
    assert_eq!(attacker["findings"][0]["kind"], "trojan_probe");
    assert_eq!(attacker["findings"][0]["port"], 31_337);
    // Its findings, in the shape of the live history's.
    let findings = replayed["findings"].as_array().expect("findings");
    assert_eq!(findings.len(), 1, "{replayed}");
    assert_eq!(findings[0]["kind"], "trojan_probe");
    assert_eq!(findings[0]["src"], ATTACKER_V4);
    assert_eq!(findings[0]["iface"], "lab.pcap");
    assert_eq!(replayed["ports"][0]["port"], 31_337);
    assert_eq!(replayed["ports"][0]["sources"], 1);
    assert_eq!(shape(&replayed), shape(&live));
    assert!(
        live.get("counters").is_none(),
        "the history keeps no counters"
    );

    // The same as one HTML file: its charts inline, nothing fetched.
    let html = files.path("report.html");
    run(&[
        "replay",
        path,
        "--report",
        "html",
        "-o",
        html.to_str().expect("UTF-8"),
    ]);
    let page = std::fs::read_to_string(&html).expect("the HTML report");
    assert!(page.contains("<svg "), "{page}");
    assert!(page.contains("Back Orifice"));
    assert!(!page.contains("<script") && !page.contains("src="));
}
