//! Floods that are one first contact per sender and thousands of packets: a smurf's echo
//! replies at the victim, and a reflection attack's answers. The kernel keeps counting a
//! sender's echo replies and reflected answers after its first contact; the daemon reads that
//! volume from the per-source table and the detectors weigh it. Ordinary answers (a host's own
//! resolvers) stay quiet. A capture of the same traffic replays to the same findings.

use probe_integration::{
    Daemon, Lab, PcapCapture, SENSOR_V4, Scratch, describe, expect, kinds, only, replay_agrees,
    require_root,
};
use serde_json::json;

#[test]
fn a_smurf_flood_of_echo_replies_from_a_dozen_amplifiers_is_found_by_its_volume() {
    require_root!();
    let lab = Lab::new();
    let files = Scratch::new();
    let mut probe = Daemon::start(&lab);
    let capture = PcapCapture::start(&lab, &files.path("smurf.pcap"));

    // 1,440 echo replies, 120 from each of 12 amplifiers: 12 first contacts, far below the 50
    // that alone make a victim.
    let sent = lab.send_frames(
        "[eth()/IP(src='198.18.3.%d' % (i % 12 + 1), dst=SENSOR_V4)\
             /ICMP(type=0, id=0x5151, seq=i)/Raw(b'x' * 56) for i in range(1440)]",
    );
    assert_eq!(sent.len(), 1440);
    let stats = probe.settled_stats();
    let capture = capture.stop();
    let live = probe.finish();

    assert_eq!(stats.icmp, 1440);
    assert_eq!(
        kinds(&live),
        ["smurf"].map(String::from).into(),
        "{}",
        describe(&live)
    );
    let f = only(&live, "smurf");
    expect(f)
        .level("hostile")
        .src("many")
        .dst(SENSOR_V4)
        .proto("icmp")
        .count(12);
    assert_eq!(f.evidence["role"], json!("victim"));
    assert_eq!(f.evidence["replies"], json!(1440));
    assert_eq!(f.evidence["sources_total"], json!(12));

    let again = replay_agrees(&capture, &live);
    assert_eq!(only(&again, "smurf").evidence["replies"], json!(1440));
}

#[test]
fn large_answers_from_three_memcached_servers_are_a_reflection_and_a_resolvers_are_not() {
    require_root!();
    let lab = Lab::new();
    let files = Scratch::new();
    let mut probe = Daemon::start(&lab);
    let capture = PcapCapture::start(&lab, &files.path("reflection.pcap"));

    // Three memcached servers answering the sensor's port 40000 with 1,400-byte values, 300
    // answers each: about 1.3 MB.
    lab.send_frames(
        "[eth()/IP(src='198.18.4.%d' % (i % 3 + 1), dst=SENSOR_V4)\
             /UDP(sport=11211, dport=40000)/Raw(b'V' * 1400) for i in range(900)]",
    );
    // The sensor's own three resolvers answering 40 queries each, small answers: ordinary.
    lab.send_frames(
        "[eth()/IP(src='198.18.4.%d' % (53 + i % 3), dst=SENSOR_V4)\
             /UDP(sport=53, dport=41000 + i)/Raw(b'a' * 90) for i in range(120)]",
    );
    probe.settled_stats();
    let capture = capture.stop();
    let live = probe.finish();

    assert_eq!(
        kinds(&live),
        ["reflection"].map(String::from).into(),
        "{}",
        describe(&live)
    );
    let f = only(&live, "reflection");
    expect(f)
        .level("hostile")
        .src("many")
        .dst(SENSOR_V4)
        .proto("udp")
        .port(Some(11211))
        .count(3);
    assert_eq!(f.evidence["reflectors_total"], json!(3));
    assert_eq!(f.evidence["packets"], json!(900));
    // 14 + 20 + 8 + 1,400 bytes a frame.
    assert_eq!(f.evidence["bytes"], json!(900 * 1442));
    assert_eq!(f.evidence["average_bytes"], json!(1442));

    let again = replay_agrees(&capture, &live);
    assert_eq!(only(&again, "reflection").evidence["packets"], json!(900));
}

#[test]
fn twelve_thousand_syns_from_one_source_are_a_syn_flood_though_one_first_contact() {
    require_root!();
    let lab = Lab::new();
    let files = Scratch::new();
    let mut probe = Daemon::start(&lab);
    let capture = PcapCapture::start(&lab, &files.path("synflood.pcap"));

    // One port, one source: a single first contact, and 12,000 SYNs in about a second.
    lab.attacker(&[
        "hping3", "-S", "-p", "80", "-i", "u50", "-c", "12000", "-q", SENSOR_V4,
    ]);
    let stats = probe.settled_stats();
    assert_eq!(stats.tcp, 12_000, "{stats:?}");
    let capture = capture.stop();
    let live = probe.finish();

    assert_eq!(
        kinds(&live),
        ["flood"].map(String::from).into(),
        "{}",
        describe(&live)
    );
    let flood = only(&live, "flood");
    expect(flood)
        .level("hostile")
        .src(probe_integration::ATTACKER_V4)
        .dst(None)
        .port(None)
        .count(12_000);
    assert_eq!(flood.evidence["packets"], json!(12_000));
    assert_eq!(flood.evidence["syns"], json!(12_000));
    // hping3's SYNs are bare 20-byte headers: 54-byte frames.
    assert_eq!(flood.evidence["bytes"], json!(12_000 * 54));
    replay_agrees(&capture, &live);
}
