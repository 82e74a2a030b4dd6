//! `probe replay`: a capture of the traffic the live daemon saw, replayed offline, gives the same
//! findings; a damaged capture gives a clear error with the byte offset, after the findings from
//! the frames before the damage.
//!
//! Two captures between them hold every kind but `probe_overload` (which reports the live
//! kernel's losses; a replay has its own rate option): the decoy scan of the issue with a few
//! others, and one of every other kind. tcpdump captures on the sensor's interface, inbound only,
//! which is what the XDP program sees; the capture fails the test if tcpdump dropped a frame.
//!
//! # What "the same findings" means here
//!
//! The live daemon and the replay are compared on the final state of every finding (the last
//! line of each `id`), as the set of (kind, src, dst, port, level): what was found, about whom,
//! on which port, and how worrying. Those follow from which first contacts there were and in
//! what order, which both runs share. Not compared: `ts`, `first_seen` and `last_seen` (the
//! kernel stamps a frame when XDP sees it, tcpdump when the capture socket gets it), nor the
//! wording of explanations that quote those times. The decoy verdict (`real_source`, `reasons`)
//! is compared on top, since it is what the issue asks the replay to reproduce.

use std::{collections::BTreeSet, fs, thread, time::Duration};

use probe_integration::{
    ATTACKER_V4, Daemon, Lab, PcapCapture, ROUTED_V4, SENSOR_V4, Scratch, bogon_sources, describe,
    expect, keys, kinds, only, replay, replay_with, require_root, write_captures,
};

#[test]
fn a_capture_of_a_decoy_scan_and_more_replays_to_the_same_findings() {
    require_root!();
    let lab = Lab::new();
    let files = Scratch::new();
    let mut probe = Daemon::start(&lab);
    let capture = PcapCapture::start(&lab, &files.path("lab.pcap"));

    // The decoy scan of the issue: the scanner pings first, scans more than 5 s later.
    lab.attacker(&["ping", "-c", "1", "-W", "1", SENSOR_V4]);
    thread::sleep(Duration::from_secs(6));
    lab.attacker(&[
        "nmap",
        "-sS",
        "-Pn",
        "-n",
        "-D",
        "198.18.0.50,198.18.0.51,198.18.0.52",
        "-p",
        "40000-40019",
        SENSOR_V4,
    ]);
    // And a mix: a FIN scan, an ICMP traceroute, a trojan probe and a land packet (both to
    // other hosts than the decoy scan's target), a smurf launch, a DNS query from a low port.
    lab.attacker(&["nmap", "-sF", "-Pn", "-n", "-p", "40100-40104", SENSOR_V4]);
    lab.attacker(&["traceroute", "-I", "-n", "-w", "1", "-m", "4", "198.18.1.9"]);
    let out = lab.attacker_unchecked(&["hping3", "-S", "-p", "31337", "-c", "1", ROUTED_V4]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let out = lab.attacker_unchecked(&[
        "hping3", "-S", "-a", ROUTED_V4, "-p", "40000", "-c", "1", ROUTED_V4,
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let out = lab.attacker_unchecked(&[
        "hping3",
        "--icmp",
        "-a",
        "198.18.0.77",
        "-c",
        "1",
        "198.18.1.255",
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    lab.attacker(&[
        "sh",
        "-c",
        &format!("echo query | ncat --udp --send-only --source-port 1001 {SENSOR_V4} 53"),
    ]);

    probe.settled_stats();
    let capture = capture.stop();
    let live = probe.finish();
    assert_eq!(
        kinds(&live),
        [
            "decoy_scan",
            "dns_low_source_port",
            "land",
            "smurf",
            "stealth_scan",
            "traceroute",
            "trojan_probe"
        ]
        .iter()
        .map(|k| (*k).to_owned())
        .collect(),
        "{}",
        describe(&live)
    );
    let decoy = only(&live, "decoy_scan");
    assert_eq!(
        decoy.src.as_deref(),
        Some(ATTACKER_V4),
        "{}",
        describe(&live)
    );

    let replayed = replay(&capture);
    assert_eq!(replayed.code, Some(0), "{replayed:?}");
    assert!(
        replayed.stderr.lines().any(|l| l.starts_with("replayed ")),
        "a summary on stderr: {}",
        replayed.stderr
    );
    let offline = replayed.findings();
    assert_eq!(
        keys(&offline),
        keys(&live),
        "live:\n{}replayed:\n{}",
        describe(&live),
        describe(&offline)
    );
    assert_eq!(offline.len(), live.len(), "one finding per key in both");
    let offline_decoy = only(&offline, "decoy_scan");
    for field in [
        "real_source",
        "reasons",
        "confidence",
        "ports",
        "sources_total",
    ] {
        assert_eq!(
            offline_decoy.evidence[field], decoy.evidence[field],
            "decoy_scan evidence {field}"
        );
    }
}

/// nmap options for targets that never answer (hosts behind the sensor).
const NO_ANSWER: [&str; 4] = ["--max-retries", "0", "--max-rtt-timeout", "200ms"];

#[test]
fn a_capture_of_every_other_kind_replays_to_the_same_findings() {
    require_root!();
    let lab = Lab::new();
    let files = Scratch::new();
    let mut probe = Daemon::start(&lab);
    let capture = PcapCapture::start(&lab, &files.path("lab.pcap"));

    // Real tools from the attacker: a UDP scan, a sweep of one port, a ping sweep, a UDP
    // traceroute, a probe of port 0.
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
    let mut sweep = vec!["nmap", "-sS", "-Pn", "-n", "-p", "4444"];
    sweep.extend(NO_ANSWER);
    sweep.push("198.18.1.21-32");
    lab.attacker(&sweep);
    let mut pings = vec!["nmap", "-sn", "-PE", "-n"];
    pings.extend(NO_ANSWER);
    pings.push("198.18.1.1-12");
    lab.attacker(&pings);
    lab.attacker(&["traceroute", "-n", "-w", "1", "-m", "3", SENSOR_V4]);
    lab.attacker(&["nmap", "-sS", "-Pn", "-n", "-p", "0", SENSOR_V4]);
    // Everything else in one go, each signature from a source of its own (forged, in the lab
    // range) so that none covers another: scapy.
    let [bogon, ..] = bogon_sources();
    lab.send_frames(&format!(
        "[eth()/IP(src=ATTACKER_V4, dst=SENSOR_V4)/ICMP(type=t, code=c)/IP(src=SENSOR_V4, \
              dst=ATTACKER_V4)/UDP(sport=40000, dport=53) \
              for t, c in [(3, 4), (5, 1), (9, 0), (4, 0), (11, 0), (12, 0)]] + \
         [eth()/IPv6(src=ATTACKER_V6, dst=SENSOR_V6, hlim=255)/ICMPv6ND_RA()] + \
         [eth()/IP(src='198.18.0.78', dst='198.18.1.255')/UDP(sport=40000, dport=19), \
          eth()/IP(src='198.18.0.10', dst=SENSOR_V4)/UDP(sport=7, dport=7), \
          eth()/IP(src='198.18.0.11', dst='198.18.1.0')/TCP(sport=40000, dport=40000, flags='S'), \
          eth()/IP(src='198.18.0.12', dst=SENSOR_V4, options=[IPOption_LSRR(routers=['198.18.1.9'])])\
             /UDP(sport=40000, dport=40003), \
          eth()/IP(src='198.18.0.13', dst=SENSOR_V4)/TCP(sport=2, dport=21, flags='S'), \
          eth()/IP(src='198.18.0.14', dst=SENSOR_V4)/UDP(sport=27015, dport=50123), \
          eth()/IP(src='198.18.0.15', dst=SENSOR_V4)/TCP(sport=41000, dport=1080, flags='S'), \
          eth()/IP(src='198.18.0.15', dst=SENSOR_V4)/TCP(sport=41000, dport=3128, flags='S'), \
          eth()/IP(src='198.18.0.16', dst=SENSOR_V4)/TCP(sport=41000, dport=80, flags='S'), \
          eth()/IP(src='198.18.0.16', dst=SENSOR_V4)/TCP(sport=41000, dport=8080, flags='S'), \
          eth()/IP(src='198.18.0.17', dst=SENSOR_V4)/UDP(sport=137, dport=137), \
          eth()/IP(src='198.18.0.18', dst=SENSOR_V4)/TCP(sport=41000, dport=12345, flags='S'), \
          eth()/IP(src='198.18.0.19', dst=SENSOR_V4)/TCP(sport=41000, dport=23, flags='S'), \
          eth()/IP(src='198.18.0.20', dst=SENSOR_V4)/TCP(sport=41000, dport=1080, flags='S'), \
          eth()/IP(src='{bogon}', dst=SENSOR_V4)/TCP(sport=40000, dport=40001, flags='S')] + \
         [eth()/IP(src='198.18.2.%d' % i, dst=SENSOR_V4)/ICMP(type=0, id=7, seq=i) \
          for i in range(1, 61)] + \
         [eth()/IP(src='198.18.3.%d' % i, dst=SENSOR_V4)/UDP(sport=19, dport=40500) \
          for i in range(1, 13)]",
        bogon = bogon.addr
    ));

    probe.settled_stats();
    let capture = capture.stop();
    let live = probe.finish();
    let expected: BTreeSet<String> = [
        "bogon_source",
        "dialup_remnant",
        "directed_broadcast",
        "echo_chargen_loop",
        "fraggle",
        "icmp_frag_needed",
        "icmp_redirect",
        "netbios_chatter",
        // The attacker is in the sensor's own network (home, from its interface's address)
        // and the sweep's hosts are not: a home host scanning out.
        "outbound_scan",
        "parameter_problem",
        "ping_sweep",
        "port_meaning",
        "port_zero",
        "proxy_check",
        "remapped_service",
        "router_advertisement",
        "smurf",
        "source_quench",
        "source_routed",
        "sscan",
        "traceroute",
        "trojan_probe",
        "ttl_exceeded",
        "vertical_scan",
    ]
    .iter()
    .map(|k| (*k).to_owned())
    .collect();
    assert_eq!(kinds(&live), expected, "{}", describe(&live));

    let replayed = replay(&capture);
    assert_eq!(replayed.code, Some(0), "{replayed:?}");
    let offline = replayed.findings();
    assert_eq!(
        keys(&offline),
        keys(&live),
        "live:\n{}replayed:\n{}",
        describe(&live),
        describe(&offline)
    );
    assert_eq!(offline.len(), live.len(), "one finding per key in both");
}

/// Byte offsets of the records of a classic pcap file (24-byte file header, then 16-byte
/// record headers whose third field is the captured length), written little-endian.
fn record_offsets(pcap: &[u8]) -> Vec<usize> {
    assert_eq!(
        &pcap[..4],
        &[0xd4, 0xc3, 0xb2, 0xa1],
        "a little-endian pcap"
    );
    let mut offsets = Vec::new();
    let mut at = 24;
    while at < pcap.len() {
        offsets.push(at);
        let caplen = u32::from_le_bytes(pcap[at + 8..at + 12].try_into().expect("4 bytes"));
        at += 16 + usize::try_from(caplen).expect("a length fits usize");
    }
    assert_eq!(at, pcap.len(), "records fill the file exactly");
    offsets
}

#[test]
fn a_damaged_capture_names_the_byte_offset_after_printing_the_findings_before_it() {
    // Offline: scapy writes the capture (nothing is sent), probe replay reads it.
    let files = Scratch::new();
    let whole = files.path("whole.pcap");
    // A SYN scan of 25 ports, one a second apart from 198.18.0.66, then a FIN scan of 5 more.
    let program = format!(
        r#"
import logging
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import *
frames = []
for i in range(25):
    p = Ether(src="02:00:00:00:00:66", dst="02:00:00:00:00:01")/IP(src="198.18.0.66", dst="198.18.0.1", ttl=50)/TCP(sport=50000, dport=40000 + i, flags="S")
    p.time = 1700000000 + i * 0.1
    frames.append(p)
for i in range(5):
    p = Ether(src="02:00:00:00:00:66", dst="02:00:00:00:00:01")/IP(src="198.18.0.66", dst="198.18.0.1", ttl=50)/TCP(sport=50000, dport=41000 + i, flags="F")
    p.time = 1700000003 + i * 0.1
    frames.append(p)
wrpcap("{}", frames)
"#,
        whole.display()
    );
    write_captures(&program, &[]);
    let bytes = fs::read(&whole).expect("reading the capture");
    let offsets = record_offsets(&bytes);
    assert_eq!(offsets.len(), 30);

    // Cut inside the record of the first FIN, as a capture cut short by a full disk or a crash.
    let damage_at = offsets[25];
    let cut = files.path("cut.pcap");
    fs::write(&cut, &bytes[..damage_at + 10]).expect("writing the cut capture");
    // What the frames before the damage give, from an intact file that ends there.
    let intact = files.path("intact.pcap");
    fs::write(&intact, &bytes[..damage_at]).expect("writing the shortened capture");

    let damaged = replay(&cut);
    assert_eq!(damaged.code, Some(1), "{damaged:?}");
    assert!(
        damaged
            .stderr
            .contains(&format!("is damaged at byte {damage_at}")),
        "the error names the offset {damage_at}: {}",
        damaged.stderr
    );
    let before = replay(&intact);
    assert_eq!(before.code, Some(0), "{before:?}");
    // The findings up to the damage were printed, exactly as from the intact part.
    assert_eq!(damaged.stdout, before.stdout);
    let found = damaged.findings();
    assert_eq!(found.len(), 1, "{}", describe(&found));
    let scan = only(&found, "vertical_scan");
    expect(scan).src("198.18.0.66").dst("198.18.0.1").count(25);

    // The whole file replays cleanly, with the FIN scan after the damage point.
    let all = replay(&whole);
    assert_eq!(all.code, Some(0), "{all:?}");
    assert_eq!(
        kinds(&all.findings()),
        ["stealth_scan".to_owned(), "vertical_scan".to_owned()].into()
    );

    // Garbage instead of a record header: a captured length of 4 GiB.
    let garbled = files.path("garbled.pcap");
    let mut bad = bytes.clone();
    bad[damage_at + 8..damage_at + 12].copy_from_slice(&u32::MAX.to_le_bytes());
    fs::write(&garbled, &bad).expect("writing the garbled capture");
    let garbage = replay(&garbled);
    assert_eq!(garbage.code, Some(1), "{garbage:?}");
    assert!(
        garbage
            .stderr
            .contains(&format!("is damaged at byte {damage_at}")),
        "the error names the offset {damage_at}: {}",
        garbage.stderr
    );
    assert_eq!(garbage.stdout, before.stdout);
}

#[test]
fn detector_settings_change_a_replay_as_they_change_the_daemon() {
    require_root!();
    let lab = Lab::new();
    let files = Scratch::new();
    // A 30-port scan is a vertical scan at the default 20 ports, and none at 50.
    let settings = files.path("detectors.toml");
    fs::write(&settings, "[vertical_scan]\nports = 50\n").expect("writing the settings");
    let settings = settings.to_str().expect("a UTF-8 path");
    let mut probe = Daemon::start_with(&lab, &["--detectors", settings]);
    let capture = PcapCapture::start(&lab, &files.path("scan.pcap"));
    lab.attacker(&[
        "nmap",
        "-sS",
        "-Pn",
        "-n",
        "-r",
        "-p",
        "40000-40029",
        SENSOR_V4,
    ]);
    probe.settled_stats();
    let capture = capture.stop();
    let live = probe.finish();

    let default = replay(&capture);
    assert_eq!(default.code, Some(0), "{}", default.stderr);
    expect(only(&default.findings(), "vertical_scan"))
        .src(ATTACKER_V4)
        .dst(SENSOR_V4)
        .count(30);

    let tuned = replay_with(&capture, &["--detectors", settings]);
    assert_eq!(tuned.code, Some(0), "{}", tuned.stderr);
    assert!(
        !kinds(&tuned.findings()).contains("vertical_scan"),
        "--detectors raised the threshold above the scan:\n{}",
        describe(&tuned.findings())
    );
    assert!(
        !kinds(&live).contains("vertical_scan"),
        "{}",
        describe(&live)
    );
    assert_eq!(
        keys(&tuned.findings()),
        keys(&live),
        "the replay with the daemon's settings finds what the daemon found"
    );
}
