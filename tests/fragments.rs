//! IP fragments count as fragments; only a first fragment carries a transport header, so only
//! its port (or ICMP type) is counted. A non-first fragment whose bytes happen to look like a
//! UDP header must not be read as one.

use probe_integration::{
    Daemon, Lab, SENSOR_V4, SENSOR_V6, Stats, icmp_list, port_list, require_root,
};

#[test]
fn a_first_fragment_counts_its_port_and_a_later_one_does_not() {
    require_root!();
    let lab = Lab::new();
    let probe = Daemon::start(&lab);

    // One datagram of 8 + 32 bytes split at 24: the first fragment holds the UDP header and
    // 16 bytes (MF set), the second starts 24 bytes in (offset 3 × 8) and its first bytes are
    // shaped like a UDP header to port 4301, which a parser ignoring the offset would count.
    let lengths = lab.send_frames(
        "[eth()/IP(src=ATTACKER_V4, dst=SENSOR_V4, id=0x4242, flags='MF', frag=0)\
             /UDP(sport=33000, dport=4300, len=40)/Raw(b'A' * 16), \
          eth()/IP(src=ATTACKER_V4, dst=SENSOR_V4, id=0x4242, frag=3, proto=17)\
             /Raw(bytes(UDP(sport=33001, dport=4301, len=16)) + b'B' * 8)]",
    );
    // 14 + 20 + 8 + 16 = 58 and 14 + 20 + 16 = 50.
    assert_eq!(lengths, [58, 50]);

    assert_eq!(
        probe.settled_stats(),
        Stats {
            packets: 2,
            bytes: 108,
            ipv4: 2,
            fragments: 2,
            udp: 1,
            ..Stats::default()
        }
    );
    assert_eq!(port_list(&probe.query(&["ports"])), [("udp", 4300, 1)]);
    assert_eq!(
        port_list(&probe.query(&["ports", "--source"])),
        [("udp", 33000, 1)]
    );
}

#[test]
fn an_oversized_ping_counts_two_fragments_and_one_echo_request() {
    require_root!();
    let lab = Lab::new();
    let probe = Daemon::start(&lab);

    // 2000 bytes of data + 8 ICMP = 2008 bytes of IP payload; with a 1500 MTU the kernel sends
    // 1480 bytes, then the remaining 528.
    lab.attacker(&["ping", "-c", "1", "-s", "2000", "-W", "1", SENSOR_V4]);

    assert_eq!(
        probe.settled_stats(),
        Stats {
            packets: 2,
            bytes: (14 + 20 + 1480) + (14 + 20 + 528),
            ipv4: 2,
            fragments: 2,
            icmp: 1,
            ..Stats::default()
        }
    );
    assert_eq!(icmp_list(&probe.query(&["icmp"])), [("icmp", 8, 0, 1)]);
}

#[test]
fn an_oversized_ipv6_ping_counts_two_fragments_and_one_echo_request() {
    require_root!();
    let lab = Lab::new();
    let probe = Daemon::start(&lab);

    // 2008 bytes of ICMPv6; each fragment carries a fragment header (8 bytes) after the IPv6
    // header, and the first holds 1448 bytes (1500 - 40 - 8, rounded down to 8), the second 560.
    lab.attacker(&["ping", "-6", "-c", "1", "-s", "2000", "-W", "1", SENSOR_V6]);

    assert_eq!(
        probe.settled_stats(),
        Stats {
            packets: 2,
            bytes: (14 + 40 + 8 + 1448) + (14 + 40 + 8 + 560),
            ipv6: 2,
            fragments: 2,
            icmpv6: 1,
            ..Stats::default()
        }
    );
    assert_eq!(icmp_list(&probe.query(&["icmp"])), [("icmpv6", 128, 0, 1)]);
}
