//! Scans that try to slip past a sensor: in tiny IP fragments (`nmap -f`, `nmap --mtu 16`) and
//! behind long IPv6 extension header chains. The host reassembles and answers them; the probe
//! must count them as what they are (not malformed), report the technique with its source, and
//! still see the scan behind it. A capture of the same traffic replays to the same findings.

use probe_integration::{
    ATTACKER_V4, ATTACKER_V6, Daemon, Lab, PcapCapture, SENSOR_V4, SENSOR_V6, Scratch, expect,
    kinds, only, port_list, replay_agrees, require_root,
};
use serde_json::json;

/// A SYN scan of 30 registered ports no knowledge table describes, so the findings can be
/// asserted whole, with `extra` nmap options.
fn nmap_scan(lab: &Lab, extra: &[&str]) {
    let mut argv = vec!["nmap", "-sS", "-Pn", "-n", "-r", "-p", "40000-40029"];
    argv.extend_from_slice(extra);
    argv.push(SENSOR_V4);
    lab.attacker(&argv);
}

#[test]
fn an_nmap_scan_in_eight_byte_fragments_is_a_tiny_fragment_finding_and_a_vertical_scan() {
    require_root!();
    let lab = Lab::new();
    let files = Scratch::new();
    let mut probe = Daemon::start(&lab);
    let capture = PcapCapture::start(&lab, &files.path("fragments.pcap"));

    // 8 bytes of the 24-byte TCP header per fragment: ports and sequence number first, the
    // flags in the second fragment.
    nmap_scan(&lab, &["-f"]);
    let stats = probe.settled_stats();
    let capture = capture.stop();
    let live = probe.finish();

    assert_eq!(stats.malformed, 0, "{stats:?}");
    assert_eq!(stats.tiny_fragments, 30, "{stats:?}");
    // Three fragments per SYN.
    assert_eq!(stats.fragments, 90, "{stats:?}");
    assert_eq!(
        kinds(&live),
        ["tiny_fragment", "vertical_scan"].map(String::from).into()
    );
    let tiny = only(&live, "tiny_fragment");
    expect(tiny)
        .level("hostile")
        .src(ATTACKER_V4)
        .dst(SENSOR_V4)
        .proto("tcp")
        .count(30);
    assert_eq!(tiny.evidence["hidden"], json!({"tcp_flags": 30}));
    assert_eq!(tiny.evidence["held_bytes"], json!(8));
    assert_eq!(tiny.evidence["ports"], json!("40000-40029"));
    let scan = only(&live, "vertical_scan");
    expect(scan).src(ATTACKER_V4).dst(SENSOR_V4).count(30);
    assert_eq!(scan.evidence["probes"], json!({"fragment": 30}));
    assert_eq!(scan.evidence["distinct_ports"], json!(30));

    replay_agrees(&capture, &live);
}

#[test]
fn an_nmap_scan_with_a_16_byte_mtu_carries_its_flags_and_is_still_reported() {
    require_root!();
    let lab = Lab::new();
    let mut probe = Daemon::start(&lab);

    // 16 bytes: the flags (byte 13) are in the first fragment, the checksum and MSS are not.
    nmap_scan(&lab, &["--mtu", "16"]);
    let stats = probe.settled_stats();
    let flags = probe_integration::flag_list(&probe.query(&["flags"]));
    let live = probe.finish();

    assert_eq!(
        (stats.malformed, stats.tiny_fragments),
        (0, 30),
        "{stats:?}"
    );
    assert_eq!(
        kinds(&live),
        ["tiny_fragment", "vertical_scan"].map(String::from).into()
    );
    let tiny = only(&live, "tiny_fragment");
    expect(tiny).level("hostile").src(ATTACKER_V4).count(30);
    assert_eq!(tiny.evidence["hidden"], json!({"rest_of_header": 30}));
    assert_eq!(tiny.evidence["held_bytes"], json!(16));
    // The flags were there to read: these were SYNs.
    assert_eq!(
        only(&live, "vertical_scan").evidence["probes"],
        json!({"syn": 30})
    );
    assert_eq!(flags, [(0x02, 30)]);
}

#[test]
fn udp_behind_twelve_destination_options_headers_is_counted_and_reported_with_its_source() {
    require_root!();
    let lab = Lab::new();
    let mut probe = Daemon::start(&lab);

    let lengths = lab.send_frames(
        "[eth()/IPv6(src=ATTACKER_V6, dst=SENSOR_V6)\
             /(IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() \
               / IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() \
               / IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() \
               / IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt())\
             /UDP(sport=33000, dport=4712), \
          eth()/IPv6(src=ATTACKER_V6, dst=SENSOR_V6)\
             /IPv6ExtHdrDestOpt(options=[PadN(optdata=b'\\x00' * 255), \
                 PadN(optdata=b'\\x00' * 255), PadN(optdata=b'\\x00' * 90)])\
             /UDP(sport=33000, dport=4713)]",
    );
    // 14 + 40 + 12 × 8 + 8, and 14 + 40 + 608 + 8 (three PadN options: 257 + 257 + 92).
    assert_eq!(lengths, [158, 670]);
    let stats = probe.settled_stats();
    let ports = port_list(&probe.query(&["ports"]));
    let live = probe.finish();

    assert_eq!(
        (stats.ipv6, stats.malformed, stats.long_header_chains),
        (2, 0, 0),
        "{stats:?}"
    );
    assert_eq!(ports, [("udp", 4712, 1), ("udp", 4713, 1)]);
    // Twelve headers are more than a conforming sender chains; one long header is not.
    let chain = only(&live, "long_header_chain");
    expect(chain)
        .level("suspicious")
        .src(ATTACKER_V6)
        .dst(SENSOR_V6)
        .proto("udp")
        .port(Some(4712))
        .count(1);
    assert_eq!(chain.evidence["extensions"], json!(12));
    assert_eq!(chain.evidence["beyond_walk"], json!(false));
}

#[test]
fn a_chain_longer_than_the_parser_walks_is_counted_and_reported_not_malformed() {
    require_root!();
    let lab = Lab::new();
    let mut probe = Daemon::start(&lab);

    lab.send_frames(
        "[eth()/IPv6(src=ATTACKER_V6, dst=SENSOR_V6)\
             /(IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() \
               / IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt())\
             /(IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() \
               / IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt())\
             /(IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() \
               / IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt())\
             /(IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() \
               / IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt())\
             /(IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() \
               / IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt())\
             /UDP(sport=33000, dport=4714)]",
    );
    let stats = probe.settled_stats();
    let ports = port_list(&probe.query(&["ports"]));
    let live = probe.finish();

    assert_eq!(
        (stats.ipv6, stats.malformed, stats.long_header_chains),
        (1, 0, 1),
        "{stats:?}"
    );
    // The port behind 25 headers is past the walk: not counted, not guessed.
    assert_eq!(ports, []);
    let chain = only(&live, "long_header_chain");
    expect(chain).src(ATTACKER_V6).dst(SENSOR_V6).count(1);
    assert_eq!(chain.evidence["beyond_walk"], json!(true));
    assert_eq!(chain.evidence["extensions"], json!(24));
}
