//! Findings for log pipelines (issue #14 item 6): with `--findings-format ecs` the findings
//! file holds Elastic Common Schema documents, and with `--syslog PATH` each finding's summary
//! line reaches a syslog socket too, as a local syslog daemon receives it.

use std::{fs, os::unix::net::UnixDatagram, time::Duration};

use probe_integration::{ATTACKER_V4, Daemon, Lab, SENSOR_V4, Scratch, require_root};
use serde_json::{Value, json};

#[test]
fn findings_in_ecs_go_to_the_file_and_their_summaries_to_syslog() {
    require_root!();
    let lab = Lab::new();
    let files = Scratch::new();
    // A syslog daemon's socket: a datagram socket bound to a path (paths reach across network
    // namespaces, so the daemon in the sensor's finds it).
    let syslog_path = files.path("log");
    let syslog = UnixDatagram::bind(&syslog_path).expect("binding the syslog socket");
    syslog
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("a read timeout");
    let findings = files.path("findings.json");
    let mut probe = Daemon::start_writing(
        &lab,
        Some(&findings),
        &[
            "--findings-format",
            "ecs",
            "--syslog",
            syslog_path.to_str().expect("UTF-8"),
        ],
    );
    lab.attacker(&["hping3", "-S", "-p", "31337", "-c", "1", SENSOR_V4]);
    let mut message = [0u8; 1024];
    let n = syslog.recv(&mut message).expect("a syslog message");
    let message = String::from_utf8_lossy(&message[..n]).into_owned();
    probe.settled_stats();
    let status = probe.stop_with(libc::SIGTERM);
    assert!(status.is_some_and(|s| s.success()), "{}", probe.log());

    // <28>: facility daemon (3 × 8), severity warning (4) for a hostile finding.
    assert!(message.starts_with("<28>"), "{message}");
    assert!(
        message.contains(&format!(
            "]: hostile trojan_probe {ATTACKER_V4} -> {SENSOR_V4} port 31337/tcp (x1, new, #1): "
        )),
        "{message}"
    );

    let text = fs::read_to_string(&findings).expect("the findings file");
    let docs: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(!docs.is_empty(), "no findings written");
    let doc = &docs[0];
    assert_eq!(doc["event"]["kind"], json!("alert"));
    assert_eq!(
        doc["event"]["category"],
        json!(["network", "intrusion_detection"])
    );
    assert_eq!(doc["event"]["severity"], json!(4));
    assert_eq!(doc["rule"]["name"], json!("trojan_probe"));
    assert_eq!(doc["source"]["ip"], json!(ATTACKER_V4));
    assert_eq!(doc["destination"], json!({"ip": SENSOR_V4, "port": 31337}));
    assert_eq!(doc["network"]["transport"], json!("tcp"));
    assert_eq!(
        doc["observer"]["ingress"]["interface"]["name"],
        json!(lab.sensor_if())
    );
    assert_eq!(doc["probe"]["status"], json!("new"));
    assert_eq!(
        doc["probe"]["evidence"]["ports"][0]["name"],
        json!("Back Orifice")
    );
    assert!(doc["@timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
}
