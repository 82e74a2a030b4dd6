//! The networks the probe protects: what is ordinary on them stays quiet.
//!
//! A capture of a namespace's `lo` holds loopback sent to itself, which is neither a land
//! attack nor a bogon once the replay infers loopback as home. A LAN capture of private hosts
//! (their DNS, connections, pings, discovery broadcasts), written offline with scapy since
//! private addresses may not cross the lab's wire, gives nothing suspicious once the replay
//! infers the LAN as home (or reads it from `[home]`), and its bogons and broadcast again with
//! an Internet-facing home. Live, the daemon logs the home networks it took, takes a
//! neighbour's broadcast to their own network for chatter, and applies new ones on SIGHUP.

use std::{fs, thread, time::Duration};

use probe_integration::{
    ATTACKER_V4, Daemon, Lab, PcapCapture, Scratch, bogon_sources, describe, expect, kinds,
    of_kind, only, replay, replay_with, require_root, write_captures,
};

/// The replay's line when it infers `networks`.
fn inferred(networks: &str) -> String {
    format!("home networks inferred from the capture: {networks} (use --home-net to set them)")
}

/// (kind, src) of every suspicious or hostile finding, sorted.
fn worrying(findings: &[probe_integration::Finding]) -> Vec<(String, String)> {
    let mut found: Vec<_> = findings
        .iter()
        .filter(|f| f.level == "suspicious" || f.level == "hostile")
        .map(|f| (f.kind.clone(), f.src.clone().unwrap_or_default()))
        .collect();
    found.sort();
    found
}

#[test]
fn a_loopback_capture_is_neither_land_nor_bogons() {
    require_root!();
    let lab = Lab::new();
    let files = Scratch::new();
    // The sensor namespace's own `lo`, never the machine's.
    let capture = PcapCapture::start_on(&lab, "lo", &files.path("lo.pcap"));
    let server = lab.spawn_in_sensor(&["ncat", "-l", "127.0.0.1", "40000", "--recv-only"]);
    thread::sleep(Duration::from_millis(300));
    lab.sensor(&["sh", "-c", "echo hello | ncat --send-only 127.0.0.1 40000"]);
    server.finish(Duration::from_secs(5));
    lab.sensor(&["ping", "-c", "3", "-i", "0.2", "127.0.0.1"]);
    lab.sensor(&["ping", "-6", "-c", "3", "-i", "0.2", "::1"]);
    let capture = capture.stop();

    let quiet = replay(&capture);
    assert_eq!(quiet.code, Some(0), "{quiet:?}");
    assert!(
        quiet
            .stderr
            .lines()
            .any(|l| l == inferred("127.0.0.0/8, ::1/128")),
        "{}",
        quiet.stderr
    );
    let found = quiet.findings();
    assert!(found.is_empty(), "{}", describe(&found));

    // With a home that is not loopback, its sources are bogons again; a land attack it still
    // is not, whatever the home.
    let elsewhere = replay_with(&capture, &["--home-net", "198.18.0.0/24"]);
    assert_eq!(elsewhere.code, Some(0), "{elsewhere:?}");
    assert!(
        !elsewhere.stderr.contains("inferred"),
        "{}",
        elsewhere.stderr
    );
    let found = elsewhere.findings();
    assert_eq!(
        worrying(&found),
        [
            ("bogon_source".to_owned(), "127.0.0.1".to_owned()),
            ("bogon_source".to_owned(), "::1".to_owned()),
        ],
        "{}",
        describe(&found)
    );
}

/// Writes the LAN capture: a PC (192.168.1.20), its router (.1) and a TV (.30), with an
/// Internet server at 198.51.100.7, and the PC's and router's unique local IPv6 addresses.
fn lan_capture(files: &Scratch) -> std::path::PathBuf {
    let path = files.path("lan.pcap");
    let program = format!(
        r#"
import logging
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import *
PC, ROUTER, TV, WEB = "192.168.1.20", "192.168.1.1", "192.168.1.30", "198.51.100.7"
frames = []
def add(p):
    p = Ether(src="02:00:00:00:01:02", dst="02:00:00:00:01:01")/p
    p.time = 1700000000 + len(frames) * 0.05
    frames.append(p)
# DNS to the router and its answer.
add(IP(src=PC, dst=ROUTER)/UDP(sport=51000, dport=53)/DNS(rd=1, qd=DNSQR(qname="example.com")))
add(IP(src=ROUTER, dst=PC)/UDP(sport=53, dport=51000)/DNS(qr=1, qd=DNSQR(qname="example.com")))
# HTTPS out to the Internet, and casting to the TV: handshakes.
for (a, b, sport, dport) in [(PC, WEB, 50000, 443), (PC, TV, 50001, 8009)]:
    add(IP(src=a, dst=b)/TCP(sport=sport, dport=dport, flags="S"))
    add(IP(src=b, dst=a)/TCP(sport=dport, dport=sport, flags="SA"))
    add(IP(src=a, dst=b)/TCP(sport=sport, dport=dport, flags="A"))
# Spotify's discovery broadcast to the LAN, three times.
for _ in range(3):
    add(IP(src=PC, dst="192.168.1.255")/UDP(sport=57621, dport=57621)/Raw(b"SpotUdp0"))
# mDNS and SSDP from the TV.
add(IP(src=TV, dst="224.0.0.251")/UDP(sport=5353, dport=5353))
add(IP(src=TV, dst="239.255.255.250")/UDP(sport=1900, dport=1900))
# A ping of the router.
add(IP(src=PC, dst=ROUTER)/ICMP(type=8, id=1, seq=1))
add(IP(src=ROUTER, dst=PC)/ICMP(type=0, id=1, seq=1))
# DNS over the LAN's unique local IPv6 addresses.
add(IPv6(src="fd00:1::20", dst="fd00:1::1")/UDP(sport=51001, dport=53))
add(IPv6(src="fd00:1::1", dst="fd00:1::20")/UDP(sport=53, dport=51001))
wrpcap("{}", frames)
"#,
        path.display()
    );
    write_captures(&program, &[]);
    path
}

#[test]
fn a_lan_capture_is_quiet_at_home_and_bogons_from_the_internet() {
    // Offline: nothing is sent, so no root and no lab.
    let files = Scratch::new();
    let capture = lan_capture(&files);

    let home = replay(&capture);
    assert_eq!(home.code, Some(0), "{home:?}");
    assert_eq!(
        home.stderr.lines().next(),
        Some(inferred("192.168.1.0/24, fd00:1::/64").as_str()),
        "{}",
        home.stderr
    );
    let found = home.findings();
    assert_eq!(worrying(&found), [], "{}", describe(&found));

    // The same home from the settings file: the same quiet, nothing inferred.
    let settings = files.path("detectors.toml");
    fs::write(&settings, "[home]\nnetworks = [\"192.168.1.0/24\"]\n").expect("writing");
    let from_file = replay_with(
        &capture,
        &["--detectors", settings.to_str().expect("UTF-8")],
    );
    assert_eq!(from_file.code, Some(0), "{from_file:?}");
    assert!(
        !from_file.stderr.contains("inferred"),
        "{}",
        from_file.stderr
    );
    assert_eq!(from_file.stdout, home.stdout);

    // An Internet-facing home: private sources cannot come from there, and the PC's broadcast
    // is to a network that is not home.
    let internet = replay_with(&capture, &["--home-net", "203.0.113.0/24"]);
    assert_eq!(internet.code, Some(0), "{internet:?}");
    let found = internet.findings();
    let bogon = |src: &str| ("bogon_source".to_owned(), src.to_owned());
    assert_eq!(
        worrying(&found),
        [
            bogon("192.168.1.1"),
            bogon("192.168.1.20"),
            bogon("192.168.1.30"),
            bogon("fd00:1::1"),
            bogon("fd00:1::20"),
            ("directed_broadcast".to_owned(), "192.168.1.20".to_owned()),
        ],
        "{}",
        describe(&found)
    );
    let broadcast = only(&found, "directed_broadcast");
    expect(broadcast)
        .dst("192.168.1.255")
        .proto("udp")
        .port(Some(57621));
    let pc = of_kind(&found, "bogon_source")
        .into_iter()
        .find(|f| f.src.as_deref() == Some("192.168.1.20"))
        .expect("the PC's bogon");
    assert_eq!(pc.evidence["block"], "192.168.0.0/16");
}

#[test]
fn the_daemon_logs_its_home_networks_the_interfaces_unless_told() {
    require_root!();
    let lab = Lab::new();
    let probe = Daemon::start(&lab);
    probe.wait_for_log(
        &format!(
            "home networks: 198.18.0.0/24, 2001:db8::/64 (the addresses of {}; --home-net sets \
             them)",
            lab.sensor_if()
        ),
        Duration::from_secs(5),
    );
    drop(probe);
    let probe = Daemon::start_with(&lab, &["--home-net", "203.0.113.0/24,2001:db8:ffff::/48"]);
    probe.wait_for_log(
        "home networks: 203.0.113.0/24, 2001:db8:ffff::/48 (--home-net)",
        Duration::from_secs(5),
    );
}

#[test]
fn live_a_broadcast_to_a_home_network_is_chatter_and_private_neighbours_are_no_bogons() {
    require_root!();
    let lab = Lab::new();
    let [private, _, link_local] = bogon_sources();
    // Home: the sensor's own network and a private one, as on a LAN.
    let mut probe = Daemon::start_with(
        &lab,
        &["--home-net", &format!("198.18.0.0/24,{}", private.block)],
    );

    lab.send_frames(&format!(
        // To the sensor's own network's broadcast address: chatter. To another network's:
        // still a directed broadcast.
        "[eth()/IP(src=ATTACKER_V4, dst='198.18.0.255')/UDP(sport=57621, dport=57621), \
          eth()/IP(src=ATTACKER_V4, dst='198.18.1.255')/UDP(sport=57621, dport=57621), \
          eth()/IP(src='{}', dst=SENSOR_V4)/TCP(sport=40000, dport=40001, flags='S'), \
          eth()/IP(src='{}', dst=SENSOR_V4)/TCP(sport=40000, dport=40001, flags='S')]",
        private.addr, link_local.addr
    ));

    let findings = probe.finish();
    assert_eq!(
        worrying(&findings),
        [
            ("bogon_source".to_owned(), link_local.addr.to_string()),
            ("directed_broadcast".to_owned(), ATTACKER_V4.to_owned()),
        ],
        "{}",
        describe(&findings)
    );
    expect(only(&findings, "directed_broadcast"))
        .dst("198.18.1.255")
        .count(1);
    assert_eq!(
        only(&findings, "bogon_source").evidence["block"],
        link_local.block
    );
}

#[test]
fn sighup_takes_new_home_networks_from_the_settings_file() {
    require_root!();
    let lab = Lab::new();
    let files = Scratch::new();
    let settings = files.path("detectors.toml");
    let home = |net: &str| {
        fs::write(&settings, format!("[home]\nnetworks = [\"{net}\"]\n")).expect("writing");
    };
    home("198.18.0.0/24");
    let mut probe = Daemon::start_with(&lab, &["--detectors", settings.to_str().expect("UTF-8")]);
    let origin = "the detector settings' [home]; --home-net overrides them";
    probe.wait_for_log(
        &format!("home networks: 198.18.0.0/24 ({origin})"),
        Duration::from_secs(5),
    );
    let to_routed = |port: u16| {
        format!("[eth()/IP(src=ATTACKER_V4, dst='198.18.1.255')/UDP(sport=57621, dport={port})]")
    };
    lab.send_frames(&to_routed(57621));
    probe.settled_stats();

    // 198.18.1.0/24 is home now too: the same broadcast on another port is chatter.
    home("198.18.0.0/16");
    probe.signal(libc::SIGHUP);
    probe.wait_for_log(
        &format!("home networks now: 198.18.0.0/16 ({origin})"),
        Duration::from_secs(5),
    );
    lab.send_frames(&to_routed(57622));

    let findings = probe.finish();
    assert_eq!(
        kinds(&findings),
        ["directed_broadcast".to_owned()].into(),
        "{}",
        describe(&findings)
    );
    expect(only(&findings, "directed_broadcast"))
        .src(ATTACKER_V4)
        .dst("198.18.1.255")
        .port(Some(57621))
        .count(1);
}
