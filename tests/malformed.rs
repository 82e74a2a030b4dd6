//! Frames the parser cannot trust count as malformed, and as nothing else: no IPv4/IPv6, no
//! port, no flags; while a frame merely longer than its datagram (Ethernet padding) is fine.
//! Crafted with scapy, since no real tool sends broken headers on purpose.

use probe_integration::{Daemon, Lab, Stats, flag_list, port_list, require_root};

#[test]
fn an_ipv4_header_claiming_more_than_the_frame_holds_is_malformed() {
    require_root!();
    let lab = Lab::new();
    let probe = Daemon::start(&lab);

    // Total length 200 in a 60-byte frame: the datagram was cut short.
    let lengths = lab.send_frames(
        "[eth()/IP(src=ATTACKER_V4, dst=SENSOR_V4, len=200)/UDP(sport=33000, dport=4400)/Raw(b'\\0' * 18)]",
    );
    assert_eq!(lengths, [60]);

    assert_eq!(
        probe.settled_stats(),
        Stats {
            packets: 1,
            bytes: 60,
            malformed: 1,
            ..Stats::default()
        }
    );
    assert_eq!(
        port_list(&probe.query(&["ports"])),
        [],
        "a cut-off datagram's port is not trusted"
    );
}

#[test]
fn cut_off_and_inconsistent_headers_are_malformed() {
    require_root!();
    let lab = Lab::new();
    let probe = Daemon::start(&lab);

    let frames = [
        // An Ethernet header announcing IPv4, and nothing after it (the shortest frame a
        // packet socket sends on an Ethernet device).
        "eth(type=0x0800)",
        // A VLAN tag cut off after two bytes.
        "eth(type=0x8100)/Raw(b'\\x00\\x64')",
        // IHL 4: a header shorter than the 20-byte minimum.
        "eth()/IP(src=ATTACKER_V4, dst=SENSOR_V4, ihl=4)/UDP(dport=4401)",
        // Total length 10, shorter than the header itself.
        "eth()/IP(src=ATTACKER_V4, dst=SENSOR_V4, len=10)/UDP(dport=4402)",
        // TCP data offset 4 (16 bytes), below the 20-byte minimum.
        "eth()/IP(src=ATTACKER_V4, dst=SENSOR_V4)/TCP(dport=4403, flags='S', dataofs=4)",
        // UDP length 4, below its own 8-byte header.
        "eth()/IP(src=ATTACKER_V4, dst=SENSOR_V4)/UDP(dport=4404, len=4)",
        // An IPv6 header cut off after 20 of its 40 bytes.
        "eth(type=0x86dd)/Raw(bytes(IPv6(src=ATTACKER_V6, dst=SENSOR_V6))[:20])",
        // IPv6 payload length 100 with 8 bytes present.
        "eth()/IPv6(src=ATTACKER_V6, dst=SENSOR_V6, plen=100)/UDP(dport=4405)",
    ];
    let lengths = lab.send_frames(&format!("[{}]", frames.join(", ")));
    assert_eq!(lengths.len(), frames.len());
    let bytes: usize = lengths.iter().sum();

    let stats = probe.settled_stats();
    let ports = probe.query(&["ports"]);
    assert_eq!(
        stats,
        Stats {
            packets: frames.len() as u64,
            bytes: bytes as u64,
            malformed: frames.len() as u64,
            ..Stats::default()
        },
        "every frame should be malformed; ports counted: {ports}"
    );
    assert_eq!(port_list(&ports), []);
    assert_eq!(flag_list(&probe.query(&["flags"])), []);
}

#[test]
fn ethernet_padding_after_a_short_datagram_is_not_malformed() {
    require_root!();
    let lab = Lab::new();
    let probe = Daemon::start(&lab);

    // A 42-byte datagram padded to Ethernet's 60-byte minimum, as NICs send it: the frame holds
    // more than the IPv4 total length says, which is normal.
    let lengths = lab.send_frames(
        "[eth()/IP(src=ATTACKER_V4, dst=SENSOR_V4)/UDP(sport=33000, dport=4600)/Padding(b'\\0' * 18)]",
    );
    assert_eq!(lengths, [60]);

    assert_eq!(
        probe.settled_stats(),
        Stats {
            packets: 1,
            bytes: 60,
            ipv4: 1,
            udp: 1,
            ..Stats::default()
        }
    );
    assert_eq!(port_list(&probe.query(&["ports"])), [("udp", 4600, 1)]);
}
