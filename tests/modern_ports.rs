//! Today's most probed ports (the modern knowledge table, issue #13), probed by a real tool: a
//! probe of a known modern port is a finding like a probe of one the FAQ knows, one per port at
//! the entry's level, naming the reports its entry rests on. A capture of the same traffic
//! replays to the same findings.

use probe_integration::{
    ATTACKER_V4, Daemon, Finding, Lab, PcapCapture, SENSOR_V4, Scratch, describe, expect, keys,
    kinds, of_kind, replay, require_root,
};
use serde_json::json;

/// (port, proto, kind, level, name) of each finding about one port, sorted by port.
fn per_port(findings: &[Finding]) -> Vec<(u16, String, String, String, String)> {
    let mut all: Vec<_> = findings
        .iter()
        .map(|f| {
            let note = &f.evidence["ports"][0];
            (
                f.port.unwrap_or_else(|| panic!("no port: {f:?}")),
                f.proto.clone().unwrap_or_default(),
                f.kind.clone(),
                f.level.clone(),
                note["name"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    all.sort();
    all
}

fn row(
    port: u16,
    proto: &str,
    kind: &str,
    level: &str,
    name: &str,
) -> (u16, String, String, String, String) {
    (
        port,
        proto.to_owned(),
        kind.to_owned(),
        level.to_owned(),
        name.to_owned(),
    )
}

#[test]
fn probes_of_modern_ports_are_one_finding_per_port_live_and_replayed() {
    require_root!();
    let lab = Lab::new();
    let files = Scratch::new();
    let mut probe = Daemon::start(&lab);
    let capture = PcapCapture::start(&lab, &files.path("modern.pcap"));

    // One SYN each to Remote Desktop, Redis, the Android Debug Bridge and Metasploit's port,
    // and one UDP datagram to CoAP: five ports, far below a vertical scan's twenty.
    for port in ["3389", "6379", "5555", "4444"] {
        lab.attacker(&["hping3", "-S", "-p", port, "-c", "1", SENSOR_V4]);
    }
    lab.attacker(&["hping3", "--udp", "-p", "5683", "-c", "1", SENSOR_V4]);

    probe.settled_stats();
    let capture = capture.stop();
    let live = probe.finish();

    assert_eq!(
        kinds(&live),
        ["port_meaning", "trojan_probe"].map(String::from).into(),
        "{}",
        describe(&live)
    );
    assert_eq!(
        per_port(&live),
        [
            row(
                3389,
                "tcp",
                "port_meaning",
                "suspicious",
                "Remote Desktop (RDP)"
            ),
            row(
                4444,
                "tcp",
                "trojan_probe",
                "hostile",
                "Metasploit / Blaster shell"
            ),
            row(
                5555,
                "tcp",
                "port_meaning",
                "hostile",
                "Android Debug Bridge"
            ),
            row(5683, "udp", "port_meaning", "suspicious", "CoAP"),
            row(6379, "tcp", "port_meaning", "suspicious", "Redis"),
        ],
        "{}",
        describe(&live)
    );
    for f in &live {
        expect(f).src(ATTACKER_V4).dst(SENSOR_V4).count(1);
        // The verdict rests on the modern table, whose entry names its reports.
        assert_eq!(f.evidence["faq"], json!("modern"), "{f:?}");
        assert_eq!(f.evidence["ports"][0]["basis"], json!("modern"), "{f:?}");
        assert!(
            f.evidence["ports"][0]["source"]
                .as_str()
                .is_some_and(|s| !s.is_empty()),
            "{f:?}"
        );
        assert_eq!(f.evidence["hosts"], json!([SENSOR_V4]), "{f:?}");
    }
    let redis = of_kind(&live, "port_meaning")
        .into_iter()
        .find(|f| f.port == Some(6379))
        .expect("a finding for 6379");
    assert!(
        redis.explanation.starts_with(&format!(
            "{ATTACKER_V4} tried 6379/tcp (Redis: built for trusted networks only; \
             scanned for servers that answer anyone.) on {SENSOR_V4}. Redis is an in-memory \
             database"
        )),
        "{}",
        redis.explanation
    );
    let shell = of_kind(&live, "trojan_probe")[0];
    assert!(
        shell
            .explanation
            .contains("4444 is the port Metasploit's payload handlers use"),
        "{}",
        shell.explanation
    );

    // The capture replays to the same findings, with the same port notes.
    let replayed = replay(&capture);
    assert_eq!(replayed.code, Some(0), "{}", replayed.stderr);
    let offline = replayed.findings();
    assert_eq!(
        keys(&offline),
        keys(&live),
        "live:\n{}replayed:\n{}",
        describe(&live),
        describe(&offline)
    );
    assert_eq!(per_port(&offline), per_port(&live));
    assert_eq!(offline.len(), live.len(), "one finding per key in both");
}
