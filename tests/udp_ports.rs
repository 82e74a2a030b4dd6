//! UDP datagrams count once on their destination port and once on their source port, each
//! with its range class, and only under UDP.

use probe_integration::{
    Daemon, Lab, PortRow, SENSOR_V4, Stats, port_list, port_row, require_root,
};

#[test]
fn udp_datagrams_count_on_destination_and_source_ports() {
    require_root!();
    let lab = Lab::new();
    let probe = Daemon::start(&lab);

    // Three empty datagrams 5555 -> 7777 (-k keeps the source port fixed).
    lab.attacker(&[
        "hping3", "--udp", "-p", "7777", "-s", "5555", "-k", "-c", "3", "-i", "u10000", SENSOR_V4,
    ]);
    // One datagram 50001 -> 53 carrying "probe\n".
    lab.attacker(&[
        "sh",
        "-c",
        &format!("echo probe | ncat --udp --send-only --source-port 50001 {SENSOR_V4} 53"),
    ]);

    let stats = probe.settled_stats();
    // Ethernet 14 + IPv4 20 + UDP 8 = 42 bytes, plus 6 bytes of payload for ncat's.
    assert_eq!(
        stats,
        Stats {
            packets: 4,
            bytes: 3 * 42 + 48,
            ipv4: 4,
            udp: 4,
            ..Stats::default()
        }
    );

    let dst = probe.query(&["ports"]);
    assert_eq!(port_list(&dst), [("udp", 53, 1), ("udp", 7777, 3)]);
    assert_eq!(
        port_row(&dst, 7777, "udp"),
        PortRow {
            packets: 3,
            syn: 0,
            class: "registered".into()
        }
    );
    assert_eq!(port_row(&dst, 53, "udp").class, "well-known");

    let src = probe.query(&["ports", "--source"]);
    assert_eq!(port_list(&src), [("udp", 5555, 3), ("udp", 50001, 1)]);
    assert_eq!(
        port_row(&src, 50001, "udp"),
        PortRow {
            packets: 1,
            syn: 0,
            class: "dynamic".into()
        }
    );
}

#[test]
fn port_queries_filter_by_protocol_and_keep_the_busiest() {
    require_root!();
    let lab = Lab::new();
    let probe = Daemon::start(&lab);

    lab.attacker(&[
        "hping3", "--udp", "-p", "6001", "-c", "2", "-i", "u10000", SENSOR_V4,
    ]);
    lab.attacker(&["hping3", "--udp", "-p", "6002", "-c", "1", SENSOR_V4]);
    probe.settled_stats();

    assert_eq!(
        port_list(&probe.query(&["ports", "--proto", "udp"])),
        [("udp", 6001, 2), ("udp", 6002, 1)]
    );
    assert_eq!(port_list(&probe.query(&["ports", "--proto", "tcp"])), []);
    assert_eq!(
        port_list(&probe.query(&["ports", "--top", "1"])),
        [("udp", 6001, 2)]
    );
}
