//! Today's Internet-wide scanners named by the marks in their probes: scans built with scapy
//! exactly as ZMap, masscan and Mirai build theirs, one made by nmap itself, and one whose
//! header fields match no tool. Each finding names the tool (or `null`), with how many probes
//! carried the mark, live and in a replay of the same traffic.

use probe_integration::{
    ATTACKER_V4, Daemon, Lab, PcapCapture, SENSOR_V4, Scratch, only, replay_agrees, require_root,
};
use serde_json::json;

/// Scapy frames: 30 SYNs from the attacker to ports 41000-41029, with `ip` and `tcp` fields
/// given as Python expressions of `p` (the port) and `d` (the sensor's address as an integer).
fn syns(ip: &str, tcp: &str) -> String {
    format!(
        "[eth()/IP(src=ATTACKER_V4, dst=SENSOR_V4, {ip})/TCP(sport=61000, dport=p, flags='S', \
          {tcp}) for d in [int.from_bytes(bytes(map(int, SENSOR_V4.split('.'))), 'big')] \
          for p in range(41000, 41030)]"
    )
}

fn tool_of_scan(frames: Option<&str>, nmap: bool) -> (Option<String>, serde_json::Value) {
    let lab = Lab::new();
    let files = Scratch::new();
    let mut probe = Daemon::start(&lab);
    let capture = PcapCapture::start(&lab, &files.path("scan.pcap"));
    if let Some(frames) = frames {
        assert_eq!(lab.send_frames(frames).len(), 30);
    }
    if nmap {
        lab.attacker(&[
            "nmap",
            "-sS",
            "-Pn",
            "-n",
            "-r",
            "-p",
            "41000-41029",
            SENSOR_V4,
        ]);
    }
    probe.settled_stats();
    let capture = capture.stop();
    let live = probe.finish();
    let scan = only(&live, "vertical_scan");
    assert_eq!(scan.src.as_deref(), Some(ATTACKER_V4));

    let again = replay_agrees(&capture, &live);
    let scan_again = only(&again, "vertical_scan");
    assert_eq!(scan_again.tool, scan.tool, "the replay names the same tool");
    (scan.tool.clone(), scan.evidence["tool_probes"].clone())
}

#[test]
fn zmap_masscan_and_mirai_style_scans_name_their_tool() {
    require_root!();
    // ZMap: identification 54321, TTL 255, window 65535.
    let zmap = syns("id=54321, ttl=255", "seq=(p * 7919) % 2**32, window=65535");
    // masscan: identification = (destination ^ port ^ sequence) & 0xffff, window 1024.
    let masscan = syns(
        "id=(d ^ p ^ ((p * 2654435761) % 2**32)) & 0xffff, ttl=255",
        "seq=(p * 2654435761) % 2**32, window=1024",
    );
    // Mirai: sequence number = the destination address.
    let mirai = syns("id=p, ttl=64", "seq=d, window=14600");
    for (tool, frames) in [("zmap", zmap), ("masscan", masscan), ("mirai", mirai)] {
        let (named, probes) = tool_of_scan(Some(&frames), false);
        assert_eq!(named.as_deref(), Some(tool));
        assert_eq!(probes, json!({"matched": 30, "probes": 30}), "{tool}");
    }
}

#[test]
fn a_scan_by_nmap_itself_names_nmap_and_an_ordinary_one_names_none() {
    require_root!();
    let (named, probes) = tool_of_scan(None, true);
    assert_eq!(named.as_deref(), Some("nmap"));
    assert_eq!(probes, json!({"matched": 30, "probes": 30}));
    // A Linux-like SYN: a large window, a random-looking identification and sequence.
    let plain = syns(
        "id=(p * 40503) % 65536",
        "seq=(p * 2246822519) % 2**32, window=64240",
    );
    let (named, probes) = tool_of_scan(Some(&plain), false);
    assert_eq!(named, None);
    assert_eq!(probes, serde_json::Value::Null);
}
