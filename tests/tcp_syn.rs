//! TCP connection attempts (SYN without ACK) count as packets and as SYNs on the destination
//! port, once per distinct source port, and under flag bits 0x02; other flag combinations
//! (scan probes) count as packets and flags but never as connection attempts.

use probe_integration::{
    Daemon, Lab, PortRow, ROUTED_V4, SENSOR_V4, Stats, flag_list, port_list, port_row, require_root,
};

#[test]
fn syns_count_as_connection_attempts_on_their_destination_port() {
    require_root!();
    let lab = Lab::new();
    let probe = Daemon::start(&lab);

    // Four SYNs from four consecutive source ports; the sensor answers each with RST+ACK,
    // which the attacker's kernel drops silently (no socket): nothing else reaches the sensor.
    lab.attacker(&[
        "hping3", "-S", "-p", "1234", "-s", "40000", "-c", "4", "-i", "u10000", SENSOR_V4,
    ]);

    let stats = probe.settled_stats();
    // Ethernet 14 + IPv4 20 + TCP 20 = 54 bytes each.
    assert_eq!(
        stats,
        Stats {
            packets: 4,
            bytes: 4 * 54,
            ipv4: 4,
            tcp: 4,
            ..Stats::default()
        }
    );

    let dst = probe.query(&["ports", "--proto", "tcp"]);
    assert_eq!(port_list(&dst), [("tcp", 1234, 4)]);
    assert_eq!(
        port_row(&dst, 1234, "tcp"),
        PortRow {
            packets: 4,
            syn: 4,
            class: "registered".into()
        }
    );

    let src = probe.query(&["ports", "--source"]);
    assert_eq!(
        port_list(&src),
        [
            ("tcp", 40000, 1),
            ("tcp", 40001, 1),
            ("tcp", 40002, 1),
            ("tcp", 40003, 1)
        ]
    );
    assert_eq!(
        port_row(&src, 40000, "tcp").syn,
        0,
        "source rows never carry SYN counts"
    );

    assert_eq!(flag_list(&probe.query(&["flags"])), [(0x02, 4)]);
}

#[test]
fn syns_to_hosts_routed_behind_the_sensor_count_too() {
    require_root!();
    let lab = Lab::new();
    let probe = Daemon::start(&lab);

    // 198.18.1.0/24 is routed via the sensor, which does not forward: no answers, so hping3
    // reports 100% loss and exits 1.
    let out = lab.attacker_unchecked(&[
        "hping3", "-S", "-p", "8080", "-c", "3", "-i", "u10000", ROUTED_V4,
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "hping3 should see no answer: {out:?}"
    );

    assert_eq!(
        probe.settled_stats(),
        Stats {
            packets: 3,
            bytes: 3 * 54,
            ipv4: 3,
            tcp: 3,
            ..Stats::default()
        }
    );
    let dst = probe.query(&["ports"]);
    assert_eq!(port_list(&dst), [("tcp", 8080, 3)]);
    assert_eq!(port_row(&dst, 8080, "tcp").syn, 3);
}

#[test]
fn scan_probes_count_their_flags_but_not_as_connection_attempts() {
    require_root!();
    let lab = Lab::new();
    let probe = Daemon::start(&lab);

    // XMAS (FIN+PSH+URG), NULL (no flags) and a bare ACK, as nmap -sX, -sN and -sA send them.
    lab.attacker(&[
        "hping3", "-F", "-P", "-U", "-p", "2001", "-c", "2", "-i", "u10000", SENSOR_V4,
    ]);
    lab.attacker(&["hping3", "-p", "2002", "-c", "1", SENSOR_V4]);
    lab.attacker(&["hping3", "-A", "-p", "2003", "-c", "1", SENSOR_V4]);
    // A SYN with ECN negotiation bits (SYN+ECE+CWR), as a client with ECN on opens.
    lab.attacker(&[
        "hping3", "-S", "-X", "-Y", "-p", "2004", "-c", "1", SENSOR_V4,
    ]);

    assert_eq!(
        probe.settled_stats(),
        Stats {
            packets: 5,
            bytes: 5 * 54,
            ipv4: 5,
            tcp: 5,
            ..Stats::default()
        }
    );
    assert_eq!(
        flag_list(&probe.query(&["flags"])),
        [(0x00, 1), (0x10, 1), (0x29, 2), (0xc2, 1)]
    );
    let dst = probe.query(&["ports"]);
    assert_eq!(
        port_list(&dst),
        [
            ("tcp", 2001, 2),
            ("tcp", 2002, 1),
            ("tcp", 2003, 1),
            ("tcp", 2004, 1)
        ]
    );
    for port in [2001, 2002, 2003] {
        assert_eq!(
            port_row(&dst, port, "tcp").syn,
            0,
            "{port}: no SYN, no connection attempt"
        );
    }
    assert_eq!(
        port_row(&dst, 2004, "tcp").syn,
        1,
        "SYN+ECE+CWR still opens a connection"
    );
}
