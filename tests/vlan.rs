//! VLAN-tagged frames: one 802.1Q tag, and 802.1ad + 802.1Q (Q-in-Q). Each counts once as
//! VLAN-tagged, and the UDP datagram inside is counted on its port as if untagged.
//!
//! No tool sends tagged frames without a VLAN interface, and this kernel has no 8021q module,
//! so scapy writes them raw onto the attacker's veth.

use probe_integration::{Daemon, Lab, Stats, port_list, require_root};

#[test]
fn single_and_double_tagged_frames_count_as_vlan_and_on_their_inner_port() {
    require_root!();
    let lab = Lab::new();
    let probe = Daemon::start(&lab);

    let lengths = lab.send_frames(
        "[eth()/Dot1Q(vlan=100)/IP(src=ATTACKER_V4, dst=SENSOR_V4)/UDP(sport=33001, dport=4100), \
          eth(type=0x88a8)/Dot1AD(vlan=200)/Dot1Q(vlan=100)/IP(src=ATTACKER_V4, dst=SENSOR_V4)/UDP(sport=33002, dport=4200)]",
    );
    // 42 bytes untagged, plus 4 per tag.
    assert_eq!(lengths, [46, 50]);

    assert_eq!(
        probe.settled_stats(),
        Stats {
            packets: 2,
            bytes: 96,
            ipv4: 2,
            vlan_tagged: 2,
            udp: 2,
            ..Stats::default()
        }
    );
    assert_eq!(
        port_list(&probe.query(&["ports"])),
        [("udp", 4100, 1), ("udp", 4200, 1)]
    );
    assert_eq!(
        port_list(&probe.query(&["ports", "--source"])),
        [("udp", 33001, 1), ("udp", 33002, 1)]
    );
}
