//! ICMP and ICMPv6 messages count per type and code: echo requests from ping, a port
//! unreachable produced by a real kernel, and an ICMPv6 echo request. The headers an ICMP
//! error quotes are never counted as ports.

use probe_integration::{
    ATTACKER_V4, Daemon, Lab, SENSOR_V4, SENSOR_V6, Stats, icmp_list, port_list, require_root,
};

#[test]
fn echo_requests_count_as_type_8_code_0() {
    require_root!();
    let lab = Lab::new();
    let probe = Daemon::start(&lab);

    lab.attacker(&["ping", "-c", "2", "-i", "0.05", "-W", "1", SENSOR_V4]);

    // Ethernet 14 + IPv4 20 + ICMP 8 + ping's 56 bytes of data = 98.
    assert_eq!(
        probe.settled_stats(),
        Stats {
            packets: 2,
            bytes: 2 * 98,
            ipv4: 2,
            icmp: 2,
            ..Stats::default()
        }
    );
    assert_eq!(icmp_list(&probe.query(&["icmp"])), [("icmp", 8, 0, 2)]);
}

#[test]
fn a_port_unreachable_counts_as_type_3_code_3_and_not_as_its_quoted_ports() {
    require_root!();
    let lab = Lab::new();
    let probe = Daemon::start(&lab);

    // The sensor sends a datagram (outbound: not seen by XDP) to a closed port on the attacker,
    // whose kernel answers with ICMP port unreachable quoting the datagram's headers.
    lab.sensor(&[
        "sh",
        "-c",
        &format!("echo probe | ncat --udp --send-only --source-port 40404 {ATTACKER_V4} 9"),
    ]);

    // Ethernet 14 + IPv4 20 + ICMP 8 + the quoted datagram (IPv4 20 + UDP 8 + 6 bytes) = 76.
    assert_eq!(
        probe.settled_stats(),
        Stats {
            packets: 1,
            bytes: 76,
            ipv4: 1,
            icmp: 1,
            ..Stats::default()
        }
    );
    assert_eq!(icmp_list(&probe.query(&["icmp"])), [("icmp", 3, 3, 1)]);
    assert_eq!(
        port_list(&probe.query(&["ports"])),
        [],
        "quoted ports are not port hits"
    );
    assert_eq!(port_list(&probe.query(&["ports", "--source"])), []);
}

#[test]
fn an_icmpv6_echo_request_counts_as_type_128_code_0() {
    require_root!();
    let lab = Lab::new();
    let probe = Daemon::start(&lab);

    lab.attacker(&["ping", "-6", "-c", "1", "-W", "1", SENSOR_V6]);

    // Ethernet 14 + IPv6 40 + ICMPv6 8 + 56 bytes of data = 118.
    assert_eq!(
        probe.settled_stats(),
        Stats {
            packets: 1,
            bytes: 118,
            ipv6: 1,
            icmpv6: 1,
            ..Stats::default()
        }
    );
    assert_eq!(icmp_list(&probe.query(&["icmp"])), [("icmpv6", 128, 0, 1)]);
}
