//! Port scans made by nmap and hping3 become one finding each, of the right kind, naming the
//! scanner: `vertical_scan` (SYN and UDP scans of many ports), `horizontal_sweep` (one port
//! across many hosts), `ping_sweep`, `stealth_scan` (NULL, FIN, XMAS, SYN+FIN) and `port_zero`.
//!
//! Scanned ports are 40000 and up: registered ports the knowledge tables give no meaning, so no
//! `port_meaning` finding joins in and the whole set of findings can be asserted.

use probe_integration::{
    ATTACKER_V4, Daemon, Lab, SENSOR_V4, describe, expect, kinds, only, require_root,
};
use serde_json::json;

/// nmap options for targets that never answer (hosts behind the sensor): one probe each, and
/// no long wait for answers that cannot come.
const NO_ANSWER: [&str; 4] = ["--max-retries", "0", "--max-rtt-timeout", "200ms"];

#[test]
fn an_nmap_syn_scan_is_one_vertical_scan_naming_the_scanner() {
    require_root!();
    let lab = Lab::new();
    let mut probe = Daemon::start(&lab);

    lab.attacker(&["nmap", "-sS", "-Pn", "-n", "-p", "40000-40029", SENSOR_V4]);

    let findings = probe.finish();
    assert_eq!(findings.len(), 1, "{}", describe(&findings));
    let f = only(&findings, "vertical_scan");
    expect(f)
        .level("suspicious")
        .src(ATTACKER_V4)
        .dst(SENSOR_V4)
        .proto("tcp")
        .port(None)
        .count(30);
    assert_eq!(f.evidence["ports"], json!("40000-40029"));
    assert_eq!(f.evidence["distinct_ports"], json!(30));
    assert_eq!(f.evidence["probes"], json!({"syn": 30}));
    assert_eq!(f.evidence["hosts"], json!([SENSOR_V4]));
}

#[test]
fn an_nmap_udp_scan_is_a_vertical_scan_of_udp_probes() {
    require_root!();
    let lab = Lab::new();
    let mut probe = Daemon::start(&lab);

    // The sensor answers closed UDP ports with rate-limited port-unreachables; without
    // retries nmap does not wait for the ones held back.
    lab.attacker(&[
        "nmap",
        "-sU",
        "-Pn",
        "-n",
        "--max-retries",
        "0",
        "-p",
        "40000-40024",
        SENSOR_V4,
    ]);

    let findings = probe.finish();
    assert_eq!(findings.len(), 1, "{}", describe(&findings));
    let f = only(&findings, "vertical_scan");
    expect(f)
        .level("suspicious")
        .src(ATTACKER_V4)
        .dst(SENSOR_V4)
        .proto("udp")
        .port(None)
        .count(25);
    assert_eq!(f.evidence["ports"], json!("40000-40024"));
    assert_eq!(f.evidence["probes"], json!({"udp": 25}));
}

#[test]
fn nmap_null_fin_and_xmas_scans_and_a_syn_fin_are_one_stealth_scan_naming_each_flag_set() {
    require_root!();
    let lab = Lab::new();
    let mut probe = Daemon::start(&lab);

    // Different ports for each: the kernel reports only the first segment to each port.
    lab.attacker(&["nmap", "-sN", "-Pn", "-n", "-p", "40100-40104", SENSOR_V4]);
    lab.attacker(&["nmap", "-sF", "-Pn", "-n", "-p", "40200-40204", SENSOR_V4]);
    lab.attacker(&["nmap", "-sX", "-Pn", "-n", "-p", "40300-40304", SENSOR_V4]);
    lab.attacker(&["hping3", "-S", "-F", "-p", "40400", "-c", "1", SENSOR_V4]);

    let findings = probe.finish();
    // None of these is a connection attempt: no vertical_scan, only the stealth scan.
    assert_eq!(findings.len(), 1, "{}", describe(&findings));
    let f = only(&findings, "stealth_scan");
    expect(f)
        .level("suspicious")
        .src(ATTACKER_V4)
        .dst(SENSOR_V4)
        .proto("tcp")
        .port(None)
        .count(16);
    assert_eq!(
        f.evidence["flag_sets"],
        json!({"NULL": 5, "FIN": 5, "XMAS": 5, "SYN+FIN": 1})
    );
    assert_eq!(
        f.evidence["ports"],
        json!("40100-40104,40200-40204,40300-40304,40400")
    );
}

#[test]
fn a_single_fin_probe_is_a_stealth_scan_of_that_port() {
    require_root!();
    let lab = Lab::new();
    let mut probe = Daemon::start(&lab);

    lab.attacker(&["nmap", "-sF", "-Pn", "-n", "-p", "40500", SENSOR_V4]);

    let findings = probe.finish();
    assert_eq!(findings.len(), 1, "{}", describe(&findings));
    let f = only(&findings, "stealth_scan");
    expect(f)
        .src(ATTACKER_V4)
        .dst(SENSOR_V4)
        .port(Some(40500))
        .count(1);
    assert_eq!(f.evidence["flag_sets"], json!({"FIN": 1}));
}

#[test]
fn an_nmap_sweep_of_one_port_across_hosts_is_a_horizontal_sweep() {
    require_root!();
    let lab = Lab::new();
    // The attacker shares the sensor's network: with only the sensor as home it is an
    // outsider sweeping, not a home host scanning out (tests/answers.rs has that).
    let mut probe = Daemon::start_with(&lab, &["--home-net", "198.18.0.1/32"]);

    // 198.18.1.0/24 is routed via the sensor: every SYN crosses its interface. A port no
    // knowledge table describes (4444 is the modern table's now, a trojan_probe of its own),
    // so the sweep is the only finding.
    let mut argv = vec!["nmap", "-sS", "-Pn", "-n", "-p", "4445"];
    argv.extend(NO_ANSWER);
    argv.push("198.18.1.21-32");
    lab.attacker(&argv);

    let findings = probe.finish();
    assert_eq!(findings.len(), 1, "{}", describe(&findings));
    let f = only(&findings, "horizontal_sweep");
    expect(f)
        .level("suspicious")
        .src(ATTACKER_V4)
        .dst("many")
        .proto("tcp")
        .port(Some(4445))
        .count(12);
    assert_eq!(f.evidence["hosts_total"], json!(12));
    let hosts: Vec<String> = (21..=32).map(|h| format!("198.18.1.{h}")).collect();
    assert_eq!(f.evidence["hosts"], json!(hosts));
}

#[test]
fn an_nmap_ping_sweep_is_a_ping_sweep() {
    require_root!();
    let lab = Lab::new();
    let mut probe = Daemon::start(&lab);

    // -sn -PE: host discovery by ICMP echo only (no TCP probes to 80 and 443).
    let mut argv = vec!["nmap", "-sn", "-PE", "-n"];
    argv.extend(NO_ANSWER);
    argv.push("198.18.1.1-12");
    lab.attacker(&argv);

    let findings = probe.finish();
    assert_eq!(findings.len(), 1, "{}", describe(&findings));
    let f = only(&findings, "ping_sweep");
    expect(f)
        .level("notable")
        .src(ATTACKER_V4)
        .dst("many")
        .proto("icmp")
        .port(None)
        .count(12);
    assert_eq!(f.evidence["hosts_total"], json!(12));
}

#[test]
fn nmap_probes_of_port_zero_are_port_zero() {
    require_root!();
    let lab = Lab::new();
    let mut probe = Daemon::start(&lab);

    lab.attacker(&["nmap", "-sS", "-Pn", "-n", "-p", "0", SENSOR_V4]);
    lab.attacker(&[
        "nmap",
        "-sU",
        "-Pn",
        "-n",
        "--max-retries",
        "0",
        "-p",
        "0",
        SENSOR_V4,
    ]);

    let findings = probe.finish();
    assert_eq!(
        kinds(&findings),
        ["port_zero".to_owned()].into(),
        "{}",
        describe(&findings)
    );
    let f = only(&findings, "port_zero");
    expect(f)
        .level("suspicious")
        .src(ATTACKER_V4)
        .dst(SENSOR_V4)
        .port(Some(0))
        .count(2);
    assert_eq!(f.evidence["dst_port"], json!(0));
    assert_eq!(f.evidence["packets"], json!({"to_port_0": 2}));
}
