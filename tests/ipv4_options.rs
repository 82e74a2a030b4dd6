//! IPv4 headers with options (IHL > 5) are parsed past the options: the transport behind them
//! counts normally.

use probe_integration::{Daemon, Lab, SENSOR_V4, Stats, icmp_list, port_list, require_root};

#[test]
fn a_ping_with_record_route_counts_as_an_echo_request() {
    require_root!();
    let lab = Lab::new();
    let probe = Daemon::start(&lab);

    // ping -R adds a record-route option with room for nine addresses: 39 bytes + 1 byte of
    // padding, so a 60-byte IPv4 header.
    lab.attacker(&["ping", "-R", "-c", "1", "-W", "1", SENSOR_V4]);

    assert_eq!(
        probe.settled_stats(),
        Stats {
            packets: 1,
            bytes: 14 + 60 + 8 + 56,
            ipv4: 1,
            icmp: 1,
            ..Stats::default()
        }
    );
    assert_eq!(icmp_list(&probe.query(&["icmp"])), [("icmp", 8, 0, 1)]);
}

#[test]
fn udp_behind_source_route_and_router_alert_options_counts_on_its_port() {
    require_root!();
    let lab = Lab::new();
    let probe = Daemon::start(&lab);

    let lengths = lab.send_frames(
        "[eth()/IP(src=ATTACKER_V4, dst=SENSOR_V4, options=[IPOption_LSRR(routers=['198.18.0.1'])])\
             /UDP(sport=33000, dport=4500), \
          eth()/IP(src=ATTACKER_V4, dst=SENSOR_V4, options=[IPOption_NOP(), IPOption_RR(routers=['198.18.0.2'])])\
             /UDP(sport=33000, dport=4501), \
          eth()/IP(src=ATTACKER_V4, dst=SENSOR_V4, options=[IPOption_Router_Alert()])\
             /UDP(sport=33000, dport=4502)]",
    );
    // Options padded to 4-byte multiples: LSRR 7 -> 8, NOP + RR 1 + 7 -> 8, router alert 4.
    assert_eq!(lengths, [50, 50, 46]);

    assert_eq!(
        probe.settled_stats(),
        Stats {
            packets: 3,
            bytes: 146,
            ipv4: 3,
            udp: 3,
            ..Stats::default()
        }
    );
    assert_eq!(
        port_list(&probe.query(&["ports"])),
        [("udp", 4500, 1), ("udp", 4501, 1), ("udp", 4502, 1)]
    );
}
