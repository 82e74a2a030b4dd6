//! The totals add up: after a mixed set of frames every counter holds exactly what was sent,
//! and packets = ipv4 + ipv6 + other_ether_type + malformed (checked by every settled read).

use probe_integration::{
    Daemon, Lab, SENSOR_V4, SENSOR_V6, Stats, flag_list, icmp_list, port_list, require_root,
};

#[test]
fn mixed_traffic_adds_up_to_exact_totals() {
    require_root!();
    let lab = Lab::new();
    let probe = Daemon::start(&lab);

    // IPv4: two UDP datagrams (42 bytes each), a SYN (54), an echo request (98).
    lab.attacker(&[
        "hping3", "--udp", "-p", "7000", "-c", "2", "-i", "u10000", SENSOR_V4,
    ]);
    lab.attacker(&["hping3", "-S", "-p", "22", "-c", "1", SENSOR_V4]);
    lab.attacker(&["ping", "-c", "1", "-W", "1", SENSOR_V4]);
    // IPv6: an echo request (118) and a UDP datagram with 6 bytes of data (14 + 40 + 8 + 6 = 68).
    lab.attacker(&["ping", "-6", "-c", "1", "-W", "1", SENSOR_V6]);
    lab.attacker(&[
        "sh",
        "-c",
        &format!("echo probe | ncat -6 --udp --send-only {SENSOR_V6} 5353"),
    ]);
    // Another EtherType (an ARP request, 42 bytes) and a malformed frame (14 bytes).
    let lengths = lab.send_frames(
        "[eth()/ARP(op=1, hwsrc='02:00:00:00:00:02', psrc=ATTACKER_V4, pdst=SENSOR_V4), \
          eth(type=0x0800)]",
    );
    assert_eq!(lengths, [42, 14]);

    let stats = probe.settled_stats();
    assert_eq!(
        stats,
        Stats {
            packets: 8,
            bytes: 2 * 42 + 54 + 98 + 118 + 68 + 42 + 14,
            ipv4: 4,
            ipv6: 2,
            other_ether_type: 1,
            vlan_tagged: 0,
            fragments: 0,
            tiny_fragments: 0,
            long_header_chains: 0,
            malformed: 1,
            tcp: 1,
            udp: 3,
            icmp: 1,
            icmpv6: 1,
        }
    );
    assert_eq!(
        port_list(&probe.query(&["ports"])),
        [("tcp", 22, 1), ("udp", 5353, 1), ("udp", 7000, 2)]
    );
    assert_eq!(
        icmp_list(&probe.query(&["icmp"])),
        [("icmp", 8, 0, 1), ("icmpv6", 128, 0, 1)]
    );
    assert_eq!(flag_list(&probe.query(&["flags"])), [(0x02, 1)]);
}

#[test]
fn a_fresh_daemon_counts_nothing() {
    require_root!();
    let lab = Lab::new();
    let probe = Daemon::start(&lab);
    assert_eq!(
        probe.settled_stats(),
        Stats::default(),
        "an idle lab delivers nothing"
    );
    assert_eq!(port_list(&probe.query(&["ports"])), []);
    assert_eq!(icmp_list(&probe.query(&["icmp"])), []);
    assert_eq!(flag_list(&probe.query(&["flags"])), []);
}
