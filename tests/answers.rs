//! Answered contacts are conversations, not probes (issue #12, item 8).
//!
//! Live: a real client completes two connections to a service listening on 12345 (NetBus's
//! port in the FAQ): the kernel reports each connection's first established segment as the
//! answer, and the daemon writes a `service` finding naming the port's meanings instead of a
//! `trojan_probe`; a SYN to 31337, where nothing listens, stays a `trojan_probe`. The capture
//! replays to the same findings.
//!
//! Offline (scapy, private and documentation addresses): a LAN host's NTP pool of ten
//! servers, its HTTPS connections to twelve servers and an Internet client's completed
//! connection to its BitTorrent tracker on 6969 raise nothing worrying; the same requests
//! left unanswered are the home host scanning out (`outbound_scan`).

use std::{path::PathBuf, thread, time::Duration};

use probe_integration::{
    ATTACKER_V4, Daemon, Finding, Lab, PcapCapture, SENSOR_V4, Scratch, describe, expect, only,
    replay_agrees, replay_with, require_root, write_captures,
};
use serde_json::json;

/// (kind, level, src, port) of every finding, sorted.
fn summary(findings: &[Finding]) -> Vec<(String, String, String, Option<u16>)> {
    let mut all: Vec<_> = findings
        .iter()
        .map(|f| {
            (
                f.kind.clone(),
                f.level.clone(),
                f.src.clone().unwrap_or_default(),
                f.port,
            )
        })
        .collect();
    all.sort();
    all
}

#[test]
fn a_service_that_completes_its_connections_is_a_service_not_a_trojan_probe() {
    require_root!();
    let lab = Lab::new();
    let files = Scratch::new();
    let mut probe = Daemon::start(&lab);
    let capture = PcapCapture::start(&lab, &files.path("answers.pcap"));

    // A listener on 12345 that takes any number of connections.
    let server = lab.spawn_in_sensor(&["ncat", "-l", "-k", SENSOR_V4, "12345", "--recv-only"]);
    thread::sleep(Duration::from_millis(300));
    // Two connections from one client, pinned to one CPU: the answer is looked up in the
    // per-CPU table its SYN went to (a NIC's receive-side scaling does the same for a flow).
    for _ in 0..2 {
        lab.attacker(&[
            "taskset",
            "-c",
            "0",
            "sh",
            "-c",
            &format!("echo hello | ncat --send-only {SENSOR_V4} 12345"),
        ]);
    }
    // Back Orifice's port, where nothing listens: the host resets it.
    lab.attacker(&["hping3", "-S", "-p", "31337", "-c", "1", SENSOR_V4]);
    probe.settled_stats();
    let capture = capture.stop();
    server.interrupt();
    let live = probe.finish();

    let attacker = ATTACKER_V4.to_owned();
    assert_eq!(
        summary(&live),
        [
            (
                "service".into(),
                "benign".into(),
                attacker.clone(),
                Some(12_345)
            ),
            (
                "trojan_probe".into(),
                "hostile".into(),
                attacker,
                Some(31_337)
            ),
        ],
        "{}",
        describe(&live)
    );
    let service = only(&live, "service");
    expect(service).dst(SENSOR_V4).proto("tcp").count(1);
    assert_eq!(service.evidence["clients"], json!([ATTACKER_V4]));
    assert_eq!(service.evidence["meanings"][0]["name"], json!("NetBus"));
    assert_eq!(service.evidence["meanings"][0]["basis"], json!("faq"));
    assert!(
        service
            .explanation
            .starts_with(&format!("{SENSOR_V4} answered {ATTACKER_V4} on 12345/tcp")),
        "{}",
        service.explanation
    );

    replay_agrees(&capture, &live);
}

/// A LAN host (192.168.1.20) with its NTP pool and HTTPS servers on documentation networks,
/// and an Internet client of its tracker; `answered` false leaves out every answer.
fn lan_capture(files: &Scratch, answered: bool) -> PathBuf {
    let path = files.path(if answered { "lan.pcap" } else { "silent.pcap" });
    let program = format!(
        r#"
import logging
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import *
PC = "192.168.1.20"
ANSWERED = {answered}
nets = ["198.51.100.", "203.0.113.", "192.0.2."]
frames = []
def add(p, answer=False):
    if answer and not ANSWERED:
        return
    p = Ether(src="02:00:00:00:01:02", dst="02:00:00:00:01:01")/p
    p.time = 1700000000 + len(frames) * 0.01
    frames.append(p)
# NTP: one request to each of ten pool servers, and its reply.
for i in range(10):
    server = nets[i % 3] + str(10 + i)
    add(IP(src=PC, dst=server)/UDP(sport=40000 + i, dport=123)/NTP())
    add(IP(src=server, dst=PC)/UDP(sport=123, dport=40000 + i)/NTP(mode=4), answer=True)
# HTTPS: twelve servers, each handshake completed.
for i in range(12):
    server = nets[i % 3] + str(50 + i)
    add(IP(src=PC, dst=server)/TCP(sport=50000 + i, dport=443, flags="S"))
    add(IP(src=server, dst=PC)/TCP(sport=443, dport=50000 + i, flags="SA"), answer=True)
    add(IP(src=PC, dst=server)/TCP(sport=50000 + i, dport=443, flags="A"), answer=True)
# A peer on the Internet announcing to the PC's BitTorrent tracker on 6969.
if ANSWERED:
    peer = "203.0.113.200"
    add(IP(src=peer, dst=PC)/TCP(sport=51000, dport=6969, flags="S"))
    add(IP(src=PC, dst=peer)/TCP(sport=6969, dport=51000, flags="SA"))
    add(IP(src=peer, dst=PC)/TCP(sport=51000, dport=6969, flags="A"))
    add(IP(src=peer, dst=PC)/TCP(sport=51000, dport=6969, flags="PA")/Raw(b"GET /announce?info_hash=x HTTP/1.0\r\n\r\n"))
wrpcap("{path}", frames)
"#,
        answered = if answered { "True" } else { "False" },
        path = path.display()
    );
    write_captures(&program, &[]);
    path
}

#[test]
fn a_lan_hosts_ntp_pool_and_web_browsing_are_quiet_and_unanswered_they_are_scanning_out() {
    // Offline: nothing is sent, so no root and no lab.
    let files = Scratch::new();
    let home = ["--home-net", "192.168.1.0/24"];

    let quiet = replay_with(&lan_capture(&files, true), &home);
    assert_eq!(quiet.code, Some(0), "{quiet:?}");
    let found = quiet.findings();
    // The tracker's port answered its peer: a service (benign), both meanings named.
    assert_eq!(
        summary(&found),
        [(
            "service".into(),
            "benign".into(),
            "203.0.113.200".into(),
            Some(6969)
        )],
        "{}",
        describe(&found)
    );
    let tracker = only(&found, "service");
    expect(tracker).dst("192.168.1.20");
    assert_eq!(
        tracker.evidence["meanings"][0]["name"],
        json!("GateCrasher")
    );

    // The same requests with no answer: the PC sweeping 123/udp and 443/tcp out of its
    // network, one finding about the hosts it probed.
    let silent = replay_with(&lan_capture(&files, false), &home);
    assert_eq!(silent.code, Some(0), "{silent:?}");
    let found = silent.findings();
    assert_eq!(
        summary(&found),
        [(
            "outbound_scan".into(),
            "suspicious".into(),
            "192.168.1.20".into(),
            None
        )],
        "{}",
        describe(&found)
    );
    let out = only(&found, "outbound_scan");
    assert_eq!(out.evidence["hosts_total"], json!(22));
    assert_eq!(out.evidence["ports"], json!("123,443"));
    assert!(
        out.explanation.starts_with(
            "192.168.1.20, a host of the networks this probe protects, probed ports 123,443"
        ),
        "{}",
        out.explanation
    );
}
