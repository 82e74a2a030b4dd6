//! Normal traffic stays quiet: a completed TCP connection, a DNS query from a high source port,
//! a few pings, and the answers to the sensor's own pings, connections and queries give no scan
//! finding. The one finding is informational: a completed connection to a port the knowledge
//! tables describe at `notable` or above (SSH on 22, `suspicious` in the modern table) was
//! answered, so it is a `service` (benign) naming the port's meanings, not a `port_meaning`
//! (docs/findings.md, "Answered contacts").

use std::{thread, time::Duration};

use probe_integration::{
    ATTACKER_V4, ATTACKER_V6, Daemon, Lab, SENSOR_V4, SENSOR_V6, describe, expect, only,
    require_root,
};
use serde_json::json;

#[test]
fn connections_dns_pings_and_replies_give_no_scan_finding() {
    require_root!();
    let lab = Lab::new();
    let mut probe = Daemon::start(&lab);

    // Servers: web and SSH on the sensor; a TCP echo and a UDP "DNS server" (answering with
    // what it got) on the attacker, for the sensor's own requests.
    let web = lab.spawn_in_sensor(&["ncat", "-l", "80", "--recv-only"]);
    let ssh = lab.spawn_in_sensor(&["ncat", "-l", "22", "--recv-only"]);
    let echo = lab.spawn_in_attacker(&["ncat", "-l", "5555", "-e", "/bin/cat"]);
    let dns = lab.spawn_in_attacker(&["ncat", "--udp", "-l", "53", "-e", "/bin/cat"]);
    thread::sleep(Duration::from_millis(300));

    // Completed connections to the sensor, closed by the client.
    lab.attacker(&[
        "sh",
        "-c",
        &format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | ncat --send-only {SENSOR_V4} 80"),
    ]);
    lab.attacker(&[
        "sh",
        "-c",
        &format!("echo SSH-2.0-lab | ncat --send-only {SENSOR_V4} 22"),
    ]);
    web.finish(Duration::from_secs(5));
    ssh.finish(Duration::from_secs(5));
    // A DNS query from whatever high port the kernel picks.
    lab.attacker(&[
        "sh",
        "-c",
        &format!("echo query | ncat --udp --send-only {SENSOR_V4} 53"),
    ]);
    // A few pings, both families.
    lab.attacker(&["ping", "-c", "3", "-i", "0.2", SENSOR_V4]);
    lab.attacker(&["ping", "-6", "-c", "3", "-i", "0.2", SENSOR_V6]);
    // The sensor's own requests, whose answers arrive on the watched interface: echo replies,
    // a SYN+ACK and the connection's data, a DNS answer from port 53 to a high port.
    lab.sensor(&["ping", "-c", "3", "-i", "0.2", ATTACKER_V4]);
    lab.sensor(&["ping", "-6", "-c", "3", "-i", "0.2", ATTACKER_V6]);
    // (stdin stays open a little: ncat stops reading the answer once its input ends.)
    let answer = lab.sensor(&[
        "sh",
        "-c",
        &format!("(echo hello; sleep 0.5) | ncat {ATTACKER_V4} 5555"),
    ]);
    assert_eq!(answer.trim(), "hello");
    let answer = lab.sensor(&[
        "sh",
        "-c",
        &format!("(echo lookup; sleep 0.5) | ncat --udp {ATTACKER_V4} 53"),
    ]);
    assert_eq!(answer.trim(), "lookup");
    drop((echo, dns));

    let findings = probe.finish();
    assert_eq!(findings.len(), 1, "{}", describe(&findings));
    let f = only(&findings, "service");
    expect(f)
        .level("benign")
        .src(ATTACKER_V4)
        .dst(SENSOR_V4)
        .proto("tcp")
        .port(Some(22))
        .count(1);
    assert_eq!(f.evidence["meanings"][0]["name"], json!("SSH"));
    assert_eq!(f.evidence["meanings"][0]["basis"], json!("modern"));
    assert_eq!(f.evidence["meanings"][1]["basis"], json!("faq"));
}
